// Entry point for the Pulumi CLI (`pulumi preview` / `pulumi up`). All logic lives in src/ and components/.
import { guardPreviousDeployment, runFactory } from "./program/factory";

// The guard runs first: a refused change (a new database major, a website moving owner) registers nothing.
export = guardPreviousDeployment().then((validated) => runFactory({}, validated));
