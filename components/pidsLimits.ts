// The per-container process ceilings of one host, set after its containers exist (see src/platform/pids.ts
// for why a command and not a Container input, and why not RLIMIT_NPROC).
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { renderPidsLimitScript } from "../src/platform/pids";

export interface LimitedContainer {
  /** The container resource (the command depends on it and re-runs when its id changes). */
  resource: docker.Container;
  /** Its Docker name, as given to the resource (known at preview time). */
  name: string;
  pids: number;
}

/**
 * One command per host and component: `docker update --pids-limit` for every listed container, re-run
 * whenever one of them is created or replaced (a new container starts with no limit) or a limit changes.
 * Its inputs hold container names, numbers and ids only; its output is one line of names, so it is logged.
 */
export function hostPidsLimits(name: string, o: { dockerHost: string; containers: readonly LimitedContainer[] }, opts: { parent: pulumi.Resource }): command.local.Command {
  const sorted = [...o.containers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return new command.local.Command(name, {
    create: renderPidsLimitScript(sorted.map((c) => ({ container: c.name, pids: c.pids }))),
    environment: { DOCKER_HOST: o.dockerHost },
    triggers: sorted.map((c) => c.resource.id),
    logging: "stdoutAndStderr",
  }, { parent: opts.parent, dependsOn: sorted.map((c) => c.resource) });
}
