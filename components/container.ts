// The hardening every long-running factory container gets, in one place: restart unless stopped, no
// process may gain privileges (entrypoints only ever drop them), and json-file logs bounded so a chatty
// container cannot fill a host's disk. Each component adds its own limits, capabilities and mounts.
import * as docker from "@pulumi/docker";

/** Size of one log file and how many are kept; default 10 MiB × 3 (shared services: 20 MiB × 5). */
export interface LogLimits {
  maxSize: string;
  maxFiles: number;
}

/** `args` with the factory's hardening; a key `args` sets itself (e.g. more securityOpts) wins. */
export function hardenedContainer(args: docker.ContainerArgs, log: LogLimits = { maxSize: "10m", maxFiles: 3 }): docker.ContainerArgs {
  return {
    restart: "unless-stopped",
    securityOpts: ["no-new-privileges:true"],
    logDriver: "json-file",
    logOpts: { "max-size": log.maxSize, "max-file": String(log.maxFiles) },
    ...args,
  };
}
