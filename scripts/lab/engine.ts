// The real Pulumi engine for the tests: finds the CLI (this workplace's kit, or a `pulumi` already on PATH
// with the plugins the SDKs ask for), makes a throwaway copy of the project whose stack files the test
// may change, and runs the CLI against a file backend. Test tooling only: operators install Pulumi as usual.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { OPERATOR_SECRET_KEYS, OperatorSecret } from "../../src/settings";

export const ROOT = path.resolve(__dirname, "..", "..");
const CACHE = process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory");

/** Where the engine kit may be: PULUMI_ENGINE_KIT, else `shared/pulumi-engine` beside the clone's parent. */
function kitCandidates(): string[] {
  const fromEnv = process.env.PULUMI_ENGINE_KIT;
  return [
    ...(fromEnv ? [fromEnv] : []),
    path.resolve(ROOT, "..", "shared", "pulumi-engine"),
    path.resolve(ROOT, "..", "..", "shared", "pulumi-engine"),
    "/work/shared/pulumi-engine",
  ];
}

export interface Engine {
  /** Environment that selects the CLI and its plugins (PATH, PULUMI_HOME, …), merged over process.env. */
  env: NodeJS.ProcessEnv;
  /** What was found, for test names and skip reasons. */
  source: string;
}

let cached: Engine | string | undefined;

/** The engine, or a sentence saying why there is none (the tests then skip with it). */
export function findEngine(): Engine | string {
  if (cached !== undefined) return cached;
  const kit = kitCandidates().find((d) => fs.existsSync(path.join(d, "install.sh")));
  if (kit) {
    // Test files run in parallel processes: without the lock two of them unpack the kit into the same
    // folder at once on a fresh machine, and a provider plugin ends up truncated ("exited prematurely").
    fs.mkdirSync(CACHE, { recursive: true });
    const r = spawnSync("flock", [path.join(CACHE, "pulumi-engine.lock"), "bash", path.join(kit, "install.sh"), path.join(CACHE, "pulumi-engine")], { encoding: "utf8" });
    if (r.status !== 0) return (cached = `the engine kit in ${kit} did not install: ${r.stderr.trim()}`);
    const env: NodeJS.ProcessEnv = {};
    for (const m of r.stdout.matchAll(/^export ([A-Z_]+)="?(.*?)"?$/gm)) {
      env[m[1]] = m[2].replace("$PATH", process.env.PATH ?? "");
    }
    return (cached = { env, source: `kit ${kit}` });
  }
  const which = spawnSync("pulumi", ["version"], { encoding: "utf8" });
  if (which.status === 0) return (cached = { env: {}, source: `pulumi ${which.stdout.trim()} on PATH` });
  return (cached = "no Pulumi CLI: neither the engine kit (PULUMI_ENGINE_KIT) nor `pulumi` on PATH");
}

/** Files and folders of the program the CLI reads; the copy links them, so it always runs the working tree. */
const PROGRAM_ENTRIES = ["index.ts", "package.json", "tsconfig.json", "tsconfig.pulumi.json", "node_modules", "src", "program", "components", "policy", "tenants", "scripts", "images"];

export interface Project {
  dir: string;
  engine: Engine;
  /** The file backend (one per project copy). */
  backend: string;
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** `pulumi stack init` + every operator secret (given values, else throwaway ones) + plain config. */
  initStack(stack: string, o?: { secrets?: Record<string, string>; config?: Record<string, string> }): Promise<void>;
  remove(): void;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill the CLI after this many ms (default 30 minutes). */
  timeoutMs?: number;
  /** Called with each chunk of output as it comes (progress in long runs). */
  onOutput?: (chunk: string) => void;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * A throwaway project: the program's files linked, the stack files copied (the CLI writes secrets and
 * salts into them) and any extra files written, with its own file backend and passphrase.
 */
export function makeProject(engine: Engine, o: { stackFiles?: Record<string, string>; files?: Record<string, string>; name?: string } = {}): Project {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sf-${o.name ?? "engine"}-`));
  for (const entry of PROGRAM_ENTRIES) {
    if (fs.existsSync(path.join(ROOT, entry))) fs.symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  }
  fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  for (const f of fs.readdirSync(ROOT).filter((x) => /^Pulumi\.[^.]+\.yaml$/.test(x))) {
    fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  }
  for (const [name, text] of Object.entries({ ...o.stackFiles, ...o.files })) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const backend = path.join(dir, ".state");
  fs.mkdirSync(backend);
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...engine.env,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: "throwaway-test-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "1",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // The tests' own tsx loader must not leak into the language host (it would hide CommonJS bugs).
    NODE_OPTIONS: "",
  };
  const run = (args: string[], ro: RunOptions = {}): Promise<RunResult> => new Promise((resolve) => {
    const started = Date.now();
    const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: dir, env: { ...baseEnv, ...ro.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => { stdout += String(d); ro.onOutput?.(String(d)); });
    child.stderr.on("data", (d) => { stderr += String(d); ro.onOutput?.(String(d)); });
    const timer = setTimeout(() => child.kill("SIGTERM"), ro.timeoutMs ?? 30 * 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
  return {
    dir,
    engine,
    backend,
    run,
    async initStack(stack, so = {}) {
      await must(run(["stack", "init", stack]));
      for (const key of OPERATOR_SECRET_KEYS) {
        const value = so.secrets?.[key] ?? throwawaySecret(key);
        // The value goes on stdin, never on a command line.
        await must(runWithStdin(dir, { ...baseEnv }, ["config", "set", "--secret", "--stack", stack, key], value));
      }
      for (const [key, value] of Object.entries(so.config ?? {})) {
        await must(run(["config", "set", "--stack", stack, key, value]));
      }
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh random value of the shape each operator secret must have (base64 TSIG, 32-byte hex RPC secret…). */
export function throwawaySecret(key: OperatorSecret): string {
  if (key === "dnsTsigSecret") return randomBytes(32).toString("base64");
  if (key === "garageRpcSecret") return randomBytes(32).toString("hex");
  if (key === "garageS3AccessKeyId") return `GK${randomBytes(12).toString("hex")}`;
  return randomBytes(32).toString("hex");
}

function runWithStdin(cwd: string, env: NodeJS.ProcessEnv, args: string[], input: string): Promise<RunResult> {
  const started = Date.now();
  const r = spawnSync("pulumi", [...args, "--non-interactive"], { cwd, env, input, encoding: "utf8" });
  return Promise.resolve({ code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started });
}

/** Resolves to the result when the CLI exited 0, else rejects with its output. */
export async function must(p: Promise<RunResult>): Promise<RunResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`pulumi exited with ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The `Diagnostics:` part of a CLI run (what failed, and why), for assertion messages. */
export function diagnostics(r: RunResult): string {
  try {
    const json = JSON.parse(r.stdout) as { diagnostics?: { message: string; severity: string }[] };
    const errors = (json.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message);
    if (errors.length > 0) return [...new Set(errors)].join("\n").slice(0, 6000);
  } catch { /* not --json output */ }
  const all = `${r.stdout}\n${r.stderr}`;
  const i = all.indexOf("Diagnostics:");
  return i >= 0 ? all.slice(i, i + 6000) : all.slice(-6000);
}
