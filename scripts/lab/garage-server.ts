// A throw-away single-node Garage for lab tests: temp dir, free loopback ports, garage.toml rendered by the
// factory's own renderGarageToml, layout assigned and applied with the garage CLI. Reusable by any lab test:
//
//   const g = await startGarage();            // throws GarageMissing when no binary is found
//   ... g.adminUrl, g.adminToken, g.s3Url, g.webPort, g.region, g.webRootDomain ...
//   await g.stop();
//
// Also runnable by hand: `npx tsx scripts/lab/garage-server.ts` prints the endpoints and waits for Ctrl-C.
import { ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderGarageToml } from "../../src/garage/config";
import { freePort } from "./net";
export { freePort };

const run = promisify(execFile);

export class GarageMissing extends Error {}

export interface GarageServer {
  dir: string;
  configFile: string;
  adminUrl: string;
  adminToken: string;
  s3Url: string;
  webPort: number;
  region: string;
  /** Root domain of the web endpoint, without the leading dot. */
  webRootDomain: string;
  /** Runs the garage CLI against this node. */
  cli(args: string[]): Promise<string>;
  /** The node's log so far (stdout+stderr), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** The garage binary: $GARAGE_BIN, then PATH, then the test-tool cache. */
export function findGarage(): string | undefined {
  const candidates = [
    process.env.GARAGE_BIN,
    ...(process.env.PATH ?? "").split(path.delimiter).map((d) => d && path.join(d, "garage")),
    path.join(process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory"), "bin", "garage"),
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}


async function until<T>(what: string, fn: () => Promise<T | undefined>, log: () => string, attempts = 300): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`garage: gave up waiting for ${what} (${last ? (last as Error).message : "no answer"})\n${log().slice(-3000)}`);
}

export async function startGarage(opts: { binary?: string; region?: string; webRootDomain?: string } = {}): Promise<GarageServer> {
  const bin = opts.binary ?? findGarage();
  if (!bin) throw new GarageMissing("garage binary not found (set GARAGE_BIN or run scripts/lab/install-test-tools.sh)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "garage-lab-"));
  const [rpc, s3, web, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const region = opts.region ?? "garage";
  const webRootDomain = opts.webRootDomain ?? "web.lab.test";
  const adminToken = randomBytes(24).toString("base64url");
  const rpcSecretFile = path.join(dir, "rpc_secret");
  const adminTokenFile = path.join(dir, "admin_token");
  // Garage refuses secret files readable by others.
  fs.writeFileSync(rpcSecretFile, randomBytes(32).toString("hex"), { mode: 0o600 });
  fs.writeFileSync(adminTokenFile, adminToken, { mode: 0o600 });
  const configFile = path.join(dir, "garage.toml");
  fs.writeFileSync(configFile, renderGarageToml({
    metadataDir: path.join(dir, "meta"),
    dataDir: path.join(dir, "data"),
    replicationFactor: 1,
    rpcBindAddr: `127.0.0.1:${rpc}`,
    rpcPublicAddr: `127.0.0.1:${rpc}`,
    s3ApiBindAddr: `127.0.0.1:${s3}`,
    s3Region: region,
    webBindAddr: `127.0.0.1:${web}`,
    webRootDomain,
    adminApiBindAddr: `127.0.0.1:${admin}`,
    rpcSecretFile,
    adminTokenFile,
  }));

  let output = "";
  const child: ChildProcess = spawn(bin, ["-c", configFile, "server"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.GARAGE_LOG ?? "garage=info" },
  });
  child.stdout!.on("data", (d) => (output = (output + d).slice(-200_000)));
  child.stderr!.on("data", (d) => (output = (output + d).slice(-200_000)));
  let exited = false;
  child.on("exit", () => (exited = true));
  const log = () => output;

  const cli = async (args: string[]): Promise<string> => {
    if (exited) throw new Error(`garage server exited:\n${output.slice(-3000)}`);
    const { stdout } = await run(bin, ["-c", configFile, ...args], { env: { ...process.env, RUST_LOG: "warn" } });
    return stdout;
  };
  const stop = async () => {
    if (!exited) {
      const done = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await done;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const nodeId = await until("the node id", async () => {
      const out = (await cli(["node", "id", "-q"])).trim();
      return out ? out.split("@")[0] : undefined;
    }, log);
    // `node id` reads the key from the metadata dir before the server listens: retry until RPC answers.
    await until("the RPC listener", async () => (await cli(["layout", "assign", "-z", "dc1", "-c", "1G", nodeId]), true), log);
    await cli(["layout", "apply", "--version", "1"]);
    const adminUrl = `http://127.0.0.1:${admin}`;
    // /health answers 200 once the node holds a layout and every partition has a quorum.
    await until("a healthy cluster", async () => ((await fetch(`${adminUrl}/health`)).status === 200 ? true : undefined), log);
    return {
      dir, configFile, adminUrl, adminToken, region, webRootDomain, cli, log, stop,
      s3Url: `http://127.0.0.1:${s3}`,
      webPort: web,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

if (require.main === module) {
  startGarage().then((g) => {
    console.log(JSON.stringify({ adminUrl: g.adminUrl, s3Url: g.s3Url, webPort: g.webPort, region: g.region, configFile: g.configFile }, null, 2));
    console.log("admin token in", path.join(g.dir, "admin_token"), "- Ctrl-C to stop");
    process.on("SIGINT", () => void g.stop().then(() => process.exit(0)));
  }, (err) => {
    console.error(err.message);
    process.exit(1);
  });
}
