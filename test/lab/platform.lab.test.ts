// Lab: the platform's Garage bootstrap against a real, freshly started Garage node (no layout yet), as the
// first deployment of an empty stack meets it. The container's health check command (`garage status`), the
// layout script (through a `docker` shim that turns `docker exec <c> /garage …` into the local binary with
// the node's garage.toml) and the platform-key import (real curl against the admin API) run for real, twice
// each, to prove they are idempotent; then the imported key signs an S3 request.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { findGarage, freePort } from "../../scripts/lab/garage-server";
import { renderGarageToml } from "../../src/garage/config";
import { garageHealthTest, renderGarageKeyImportScript, renderGarageLayoutScript } from "../../src/platform/render";

const binary = findGarage();
const curl = ["/usr/bin/curl", "/usr/local/bin/curl"].find((p) => fs.existsSync(p));
if ((!binary || !curl) && process.env.CI) throw new Error("garage and curl are required: run scripts/lab/install-test-tools.sh");
const skip = !binary ? "garage binary missing (scripts/lab/install-test-tools.sh builds it)" : !curl ? "curl missing" : false;

function execp(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code, out }));
  });
}
const sh = (script: string, env: Record<string, string>) => execp("sh", ["-c", script], env);

describe("Garage bootstrap on a fresh node", { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "platform-garage-"));
  const shimDir = path.join(dir, "bin");
  const configFile = path.join(dir, "garage.toml");
  const adminToken = randomBytes(24).toString("base64url");
  const keyId = `GK${randomBytes(12).toString("hex")}`;
  const keySecret = randomBytes(32).toString("hex");
  let adminUrl = "";
  let s3Url = "";
  let server: ReturnType<typeof spawn> | undefined;
  let serverLog = "";
  const basePath = `${shimDir}:/usr/local/bin:/usr/bin:/bin`;
  const garage = (args: string[]) => execp(binary!, ["-c", configFile, ...args], { PATH: basePath, RUST_LOG: "warn" });

  before(async () => {
    const [rpc, s3, web, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
    adminUrl = `http://127.0.0.1:${admin}`;
    s3Url = `http://127.0.0.1:${s3}`;
    fs.writeFileSync(path.join(dir, "rpc_secret"), randomBytes(32).toString("hex"), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "admin_token"), adminToken, { mode: 0o600 });
    fs.writeFileSync(configFile, renderGarageToml({
      metadataDir: path.join(dir, "meta"), dataDir: path.join(dir, "data"), replicationFactor: 1,
      rpcBindAddr: `127.0.0.1:${rpc}`, rpcPublicAddr: `127.0.0.1:${rpc}`, s3ApiBindAddr: `127.0.0.1:${s3}`, s3Region: "garage",
      webBindAddr: `127.0.0.1:${web}`, webRootDomain: "web.lab.test", adminApiBindAddr: `127.0.0.1:${admin}`,
      rpcSecretFile: path.join(dir, "rpc_secret"), adminTokenFile: path.join(dir, "admin_token"),
    }));
    // `docker exec <container> /garage ARGS` → the local binary with this node's configuration.
    fs.mkdirSync(shimDir);
    fs.writeFileSync(path.join(shimDir, "docker"), [
      "#!/bin/sh",
      '[ "$1" = exec ] && [ "$2" = lab-garage ] && [ "$3" = /garage ] || { echo "unexpected docker call: $*" >&2; exit 2; }',
      "shift 3",
      `exec "${binary}" -c "${configFile}" "$@"`,
      "",
    ].join("\n"), { mode: 0o755 });
    server = spawn(binary!, ["-c", configFile, "server"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "garage=info" } });
    server.stdout!.on("data", (d) => (serverLog = (serverLog + d).slice(-100_000)));
    server.stderr!.on("data", (d) => (serverLog = (serverLog + d).slice(-100_000)));
    // What Docker's health check does: run the container's test command until it succeeds.
    const test = garageHealthTest();
    assert.deepEqual(test.slice(0, 2), ["CMD", "/garage"]);
    for (let i = 0; ; i++) {
      if ((await garage(test.slice(2))).code === 0) break;
      if (i > 300) throw new Error(`garage never became healthy:\n${serverLog.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const done = new Promise((r) => server!.once("exit", r));
      server.kill("SIGTERM");
      await done;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const layoutScript = renderGarageLayoutScript({ container: "lab-garage", zone: "lab", capacity: "1G" });

  it("applies the single-node layout on a fresh node, then leaves it alone", async () => {
    assert.match((await garage(["layout", "show"])).out, /Current cluster layout version: 0/);
    const first = await sh(layoutScript, { PATH: basePath, RUST_LOG: "warn" });
    assert.equal(first.code, 0, first.out);
    assert.match((await garage(["layout", "show"])).out, /Current cluster layout version: 1/);
    const second = await sh(layoutScript, { PATH: basePath, RUST_LOG: "warn" });
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /garage layout already applied/);
    assert.match((await garage(["layout", "show"])).out, /Current cluster layout version: 1\b/);
  });

  it("imports the platform key once through the admin API and S3 accepts it", async () => {
    const script = renderGarageKeyImportScript({ adminUrl, keyName: "platform" });
    const env = { PATH: "/usr/local/bin:/usr/bin:/bin", GARAGE_ADMIN_TOKEN: adminToken, GARAGE_KEY_ID: keyId, GARAGE_KEY_SECRET: keySecret };
    const first = await sh(script, env);
    assert.equal(first.code, 0, first.out + serverLog.slice(-2000));
    assert.match(first.out, /platform key imported/);
    for (const secret of [adminToken, keySecret]) assert.ok(!first.out.includes(secret), "the script prints no secret");
    const info = await fetch(`${adminUrl}/v1/key?id=${keyId}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    assert.equal(info.status, 200);
    assert.equal(((await info.json()) as { name: string }).name, "platform");
    const second = await sh(script, env);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /platform key present/);

    // The layout is applied, so S3 answers; the imported key authenticates (it owns no bucket yet).
    for (let i = 0; ; i++) {
      if ((await fetch(`${adminUrl}/health`)).status === 200) break;
      if (i > 300) throw new Error(`garage never became healthy after the layout:\n${serverLog.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const s3 = new S3Client({ endpoint: s3Url, region: "garage", forcePathStyle: true, credentials: { accessKeyId: keyId, secretAccessKey: keySecret } });
    const listed = await s3.send(new ListBucketsCommand({}));
    assert.deepEqual(listed.Buckets ?? [], []);
    const wrong = new S3Client({ endpoint: s3Url, region: "garage", forcePathStyle: true, credentials: { accessKeyId: keyId, secretAccessKey: "0".repeat(64) } });
    await assert.rejects(wrong.send(new ListBucketsCommand({})));
  });

  it("fails with a wrong admin token and imports nothing", async () => {
    const script = renderGarageKeyImportScript({ adminUrl, keyName: "platform" });
    const otherId = `GK${randomBytes(12).toString("hex")}`;
    const r = await sh(script, { PATH: "/usr/local/bin:/usr/bin:/bin", GARAGE_ADMIN_TOKEN: "wrong-token", GARAGE_KEY_ID: otherId, GARAGE_KEY_SECRET: keySecret });
    assert.notEqual(r.code, 0);
    const info = await fetch(`${adminUrl}/v1/key?id=${otherId}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    assert.notEqual(info.status, 200);
  });
});
