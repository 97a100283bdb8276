// Lab: the process ceilings are per container. In a private dockerd (the project's 20.10), containers
// running as uid 33 like the Nextcloud FPMs and cron get their limits from the program's own script
// (renderPidsLimitScript, run with /bin/sh -c and DOCKER_HOST as the command provider runs it). Then:
//  - Docker reports each limit and the container's pids cgroup (pids.max) holds it;
//  - a fork bomb in one FPM stops at its limit while another FPM of the same uid still forks, and the
//    uid holds more processes on the host than any one limit;
//  - the old RLIMIT_NPROC (`--ulimit nproc=256`) of a new uid-33 container counts those processes too:
//    the container cannot even start its command (why the program no longer sets it);
//  - the limit survives a container restart; the script is idempotent; a re-created container has no
//    limit until the script runs again (why the command's triggers are the containers' ids); a missing
//    container makes the script fail.
// Skips only when no dockerd can start here (and fails instead when CI is set).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it, TestContext } from "node:test";
import { NC_LIMITS } from "../../src/nextcloud/layout";
import { renderPidsLimitScript } from "../../src/platform/pids";
import { LAB_IMAGES, loadLabImages } from "../../scripts/lab/lab-images";
import { Dockerd, dockerdUnavailable, startDockerd } from "../../scripts/lab/dockerd";

let dockerd: Dockerd | undefined;
let skipWhy: string | undefined;
const IMAGE = LAB_IMAGES.redis;
const FPMS = ["lab-nc-alpha", "lab-nc-bravo"];
const CRON = "lab-nc-alpha-cron";
const LIMITS = [...FPMS.map((container) => ({ container, pids: NC_LIMITS.fpm.pids })), { container: CRON, pids: NC_LIMITS.cron.pids }];

function d(args: string[], input?: string) {
  const r = dockerd!.docker(args, input);
  return { ...r, out: r.stdout.trim() };
}
function ok(args: string[]): string {
  const r = d(args);
  assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
  return r.out;
}
/** The program's script, run the way @pulumi/command runs `create`. */
function applyLimits(limits = LIMITS) {
  const r = spawnSync("/bin/sh", ["-c", renderPidsLimitScript(limits)], { env: { ...process.env, DOCKER_HOST: dockerd!.host }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function run(name: string): void {
  ok(["run", "-d", "--name", name, "--user", "33:33", "--network", "none", "--restart", "unless-stopped",
    "--security-opt", "no-new-privileges:true", "--entrypoint", "sleep", IMAGE, "infinity"]);
}
/**
 * A pids cgroup file of a container, read inside it. A container at its limit has no free slot for the
 * exec'd `cat` (docker exec then exits 126) until one of its processes ends: retry a few times.
 */
function cgroup(name: string, file: string): string {
  for (let attempt = 0; ; attempt++) {
    const r = d(["exec", name, "cat", `/sys/fs/cgroup/pids/${file}`]);
    if (r.code === 0) return r.out;
    if (r.code !== 126 || attempt >= 20) assert.fail(`docker exec ${name} cat ${file}: exit ${r.code} ${r.stderr}`);
    spawnSync("sleep", ["0.25"]);
  }
}
/** Starts `n` background sleeps in the container; what sh said about failed forks. */
const spawn = (name: string, n: number) => d(["exec", name, "sh", "-c", `i=0; while [ $i -lt ${n} ]; do sleep 120 & i=$((i+1)); done`]);
const skip = (t: TestContext) => { if (skipWhy) { t.skip(skipWhy); return true; } return false; };

describe("pids limits are per container (private dockerd)", () => {
  before(async () => {
    const pre = dockerdUnavailable();
    try {
      if (pre) throw new Error(pre);
      dockerd = await startDockerd({ name: "pids", addressPool: "10.231.0.0/16" });
    } catch (e) {
      skipWhy = `no dockerd can start here: ${(e as Error).message.split("\n")[0]}`;
      if (process.env.CI) throw new Error(skipWhy);
      return;
    }
    await loadLabImages(dockerd.host, ["redis"]);
    for (const n of [...FPMS, CRON]) run(n);
  });
  after(async () => { await dockerd?.stop(); });

  it("sets every limit from the program's script, as Docker and the cgroup report it", (t) => {
    if (skip(t)) return;
    assert.equal(ok(["inspect", "-f", "{{.HostConfig.PidsLimit}}", FPMS[0]]), "<nil>", "no limit before the script");
    const r = applyLimits();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `pids limits set: lab-nc-alpha=${NC_LIMITS.fpm.pids} lab-nc-alpha-cron=${NC_LIMITS.cron.pids} lab-nc-bravo=${NC_LIMITS.fpm.pids}\n`);
    for (const l of LIMITS) {
      assert.equal(ok(["inspect", "-f", "{{.HostConfig.PidsLimit}}", l.container]), String(l.pids));
      assert.equal(cgroup(l.container, "pids.max"), String(l.pids), `${l.container} pids.max`);
    }
    assert.equal(applyLimits().code, 0, "idempotent");
  });

  it("stops a fork bomb at one FPM's limit while another FPM of the same uid still forks", (t) => {
    if (skip(t)) return;
    const bomb = spawn(FPMS[0], NC_LIMITS.fpm.pids + 100);
    assert.notEqual(bomb.code, 0);
    assert.match(bomb.stderr + bomb.stdout, /Cannot fork/);
    assert.equal(Number(cgroup(FPMS[0], "pids.current")) <= NC_LIMITS.fpm.pids, true);
    assert.match(cgroup(FPMS[0], "pids.events"), /^max [1-9]/, "the cgroup counted refused forks");
    // Same uid, other container: unaffected by the first one's processes.
    const other = spawn(FPMS[1], 50);
    assert.equal(other.code, 0, other.stderr);
    assert.ok(Number(cgroup(FPMS[1], "pids.current")) >= 51);
    const uid33 = spawnSync("ps", ["-u", "33", "-o", "pid="], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).length;
    assert.ok(uid33 > NC_LIMITS.fpm.pids, `uid 33 holds ${uid33} processes on the host, more than one FPM's limit`);
  });

  it("shows why RLIMIT_NPROC was dropped: it counts the uid's processes of the whole host", (t) => {
    if (skip(t)) return;
    const r = d(["run", "--rm", "--user", "33:33", "--network", "none", "--ulimit", `nproc=${NC_LIMITS.fpm.pids}:${NC_LIMITS.fpm.pids}`,
      "--entrypoint", "sh", IMAGE, "-c", "sleep 0 & wait; echo forked"]);
    assert.notEqual(r.code, 0, "a fresh container with nproc 256 cannot start while uid 33 is busy elsewhere");
    assert.doesNotMatch(r.stdout, /forked/);
    assert.match(r.stderr, /resource temporarily unavailable/i);
  });

  it("keeps the limit across a restart; a re-created container needs the script again; a missing one fails it", (t) => {
    if (skip(t)) return;
    ok(["restart", "-t", "1", FPMS[0]]);
    assert.equal(cgroup(FPMS[0], "pids.max"), String(NC_LIMITS.fpm.pids), "after restart");
    assert.equal(cgroup(FPMS[0], "pids.current"), "2", "the bomb is gone with the restart (sleep and this cat remain)");
    ok(["rm", "-f", FPMS[1]]);
    run(FPMS[1]);
    assert.equal(cgroup(FPMS[1], "pids.max"), "max", "a new container starts unlimited");
    assert.equal(applyLimits().code, 0);
    assert.equal(cgroup(FPMS[1], "pids.max"), String(NC_LIMITS.fpm.pids));
    const missing = applyLimits([...LIMITS, { container: "lab-nc-gone", pids: NC_LIMITS.fpm.pids }]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /lab-nc-gone/);
  });
});
