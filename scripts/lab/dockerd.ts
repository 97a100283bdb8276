// Docker engines for the tests: each `dockerd` a "host" of its own (socket, data root, exec root, pid
// file and address pool), started and stopped by the test that needs it. vfs storage (works anywhere),
// no iptables rules (the tests' traffic stays on loopback and on the daemons' own bridges).
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Dockerd {
  /** DOCKER_HOST of this engine (unix socket). */
  host: string;
  dir: string;
  /** Runs the docker CLI against this engine. */
  docker(args: string[], input?: string): { code: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

/** Why no engine can start here (no dockerd binary, not root), or undefined when one can. */
export function dockerdUnavailable(): string | undefined {
  if (spawnSync("dockerd", ["--version"]).status !== 0) return "no dockerd (apt-get install docker.io)";
  if (spawnSync("docker", ["--version"]).status !== 0) return "no docker CLI";
  if (process.getuid?.() !== 0) return "dockerd needs root";
  return undefined;
}

export interface DockerdOptions {
  /** Short name, used in paths and the bridge name. */
  name: string;
  /** Address pool the engine carves its networks from; distinct per engine (e.g. 10.211.0.0/16). */
  addressPool: string;
  /** Seconds to wait for the API (default 60). */
  timeoutS?: number;
}

export async function startDockerd(o: DockerdOptions): Promise<Dockerd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sf-dockerd-${o.name}-`));
  const sock = path.join(dir, "docker.sock");
  const host = `unix://${sock}`;
  const log = fs.openSync(path.join(dir, "dockerd.log"), "a");
  const child: ChildProcess = spawn("dockerd", [
    "--host", host,
    "--data-root", path.join(dir, "data"),
    "--exec-root", path.join(dir, "exec"),
    "--pidfile", path.join(dir, "dockerd.pid"),
    "--storage-driver", "vfs",
    "--iptables=false",
    "--ip-masq=false",
    "--bridge", "none",
    "--default-address-pool", `base=${o.addressPool},size=24`,
    "--log-level", "warn",
  ], { stdio: ["ignore", log, log], detached: false });
  const docker = (args: string[], input?: string) => {
    const r = spawnSync("docker", args, { env: { ...process.env, DOCKER_HOST: host }, input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const deadline = Date.now() + (o.timeoutS ?? 60) * 1000;
  while (docker(["version", "--format", "{{.Server.Version}}"]).code !== 0) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const text = fs.readFileSync(path.join(dir, "dockerd.log"), "utf8").slice(-3000);
      child.kill("SIGKILL");
      throw new Error(`dockerd ${o.name} did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    host,
    dir,
    docker,
    async stop() {
      // Containers first (they hold mounts under the data root), then the daemon.
      const ids = docker(["ps", "-aq"]).stdout.split(/\s+/).filter(Boolean);
      if (ids.length > 0) docker(["rm", "-f", "-v", ...ids]);
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => { child.kill("SIGKILL"); resolve(); }, 20_000);
          child.once("exit", () => { clearTimeout(t); resolve(); });
        });
      }
      // Whatever the daemon left mounted below its directories (network namespaces, vfs layers), deepest first.
      const mounts = fs.readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(dir));
      for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
