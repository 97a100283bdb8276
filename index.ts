// Entry point for the Pulumi CLI (`pulumi preview` / `pulumi up`). All logic lives in src/ and components/.
import { guardImageMajors, runFactory } from "./src/program";

// The guard runs first: a refused major change registers nothing.
export = guardImageMajors().then(() => runFactory());
