// Per-container process ceilings: the pids cgroup limit (`pids.max`, Docker's HostConfig.PidsLimit).
// Pure (no Pulumi). Why a command: @pulumi/docker 5.2.0's Container has no `pidsLimit` (its schema's
// only pid field is `pidMode`), so the limit is set with `docker update --pids-limit` right after the
// containers are created; Docker stores it in the container's hostconfig.json, so it survives container
// restarts, daemon restarts and the provider's own in-place updates (which send no PidsLimit).
// Not RLIMIT_NPROC (`ulimits: nproc`): that one counts every process of the UID on the whole host (all
// the tenants' FPMs run as uid 33), so it made forks fail once a host held a few dozen tenants.

/** One container and its ceiling (processes and threads: the pids cgroup counts tasks). */
export interface PidsLimit {
  /** Docker container name. */
  container: string;
  pids: number;
}

/** Docker's own rule for container names ([a-zA-Z0-9][a-zA-Z0-9_.-]+): nothing here needs quoting. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * The script that sets every limit of one host: one `docker update --pids-limit N c…` per distinct N
 * (containers sorted, so the text depends only on the set), then a read-back that fails unless Docker
 * reports each container's limit. Runs with DOCKER_HOST set to the host's engine; idempotent. Needs a
 * docker CLI and engine of API 1.40 or later (Docker 19.03+).
 */
export function renderPidsLimitScript(limits: readonly PidsLimit[]): string {
  if (limits.length === 0) throw new Error("no container to limit");
  const seen = new Set<string>();
  for (const l of limits) {
    if (!CONTAINER_NAME.test(l.container)) throw new Error(`not a Docker container name: ${JSON.stringify(l.container)}`);
    if (!Number.isInteger(l.pids) || l.pids < 16) throw new Error(`${l.container}: pids limit ${l.pids} is not an integer >= 16`);
    if (seen.has(l.container)) throw new Error(`${l.container} listed twice`);
    seen.add(l.container);
  }
  const sorted = [...limits].sort((a, b) => (a.container < b.container ? -1 : a.container > b.container ? 1 : 0));
  const byLimit = new Map<number, string[]>();
  for (const l of sorted) byLimit.set(l.pids, [...(byLimit.get(l.pids) ?? []), l.container]);
  const lines = ["set -eu"];
  for (const [pids, names] of [...byLimit].sort((a, b) => a[0] - b[0])) {
    lines.push(`docker update --pids-limit ${pids} ${names.join(" ")} >/dev/null`);
  }
  const expected = sorted.map((l) => `/${l.container} ${l.pids}`).join("\n");
  lines.push(
    `got=$(docker inspect -f '{{.Name}} {{.HostConfig.PidsLimit}}' ${sorted.map((l) => l.container).join(" ")})`,
    `want='${expected}'`,
    `[ "$got" = "$want" ] || { printf 'pids limits not applied:\\n%s\\n' "$got" >&2; exit 1; }`,
    `echo "pids limits set: ${sorted.map((l) => `${l.container}=${l.pids}`).join(" ")}"`,
  );
  return lines.join("\n") + "\n";
}
