// Entry point for the Pulumi CLI (`pulumi preview` / `pulumi up`). All logic lives in src/ and components/.
import { runFactory } from "./src/program";

export = runFactory();
