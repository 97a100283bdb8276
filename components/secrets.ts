// The operator secrets as the components receive them. Its own module so that Platform, SharedServices
// and the program share one type without importing each other (no component cycle).
import * as pulumi from "@pulumi/pulumi";
import { OperatorSecret } from "../src/settings";

/** Operator secrets, read with requireSecret (or a platform stack's secret outputs): always Pulumi secrets. */
export type PlatformSecrets = Record<OperatorSecret, pulumi.Output<string>>;
