// Lab: the real Caddy (the pinned build of images/versions.json with caddy-security, ~/.cache/service-factory/bin/caddy) reads what the
// renderers generate, and the fail-safe delivery scripts run against a live Caddy:
//  - `caddy adapt` + `caddy validate` on the edge config of the staging tenants and of a fixture roster
//    (every status and service), with secret files in a temp dir, and on compute-host configs built with
//    the Nextcloud helper's renderNextcloudSite;
//  - the fixture's edge served live: Collabora's remote configuration (JSON with braces and quotes in a
//    Caddyfile `respond`) arrives byte for byte over HTTPS, with its content type;
//  - shellcheck on the apply/secrets/start scripts;
//  - a Caddy started by the start script (bootstrap config: 503), then the apply script with a good
//    config (served), a config caddy validate rejects (exit 1, old config keeps serving, live file
//    unchanged) and a config that validates but cannot be loaded (port taken: exit 1, old config keeps
//    serving, live file restored), then a restart that serves the last good config.
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { renderComputeCaddyfile } from "../../src/caddy/compute";
import { EdgeConfigInput, edgeWalls, renderEdgeCaddyfile } from "../../src/caddy/edge";
import { renderApplyScript, renderBootstrapCaddyfile, renderSecretsScript, renderStartScript, secretsBundle } from "../../src/caddy/reload";
import { edgeUpstreams } from "../../src/caddy/upstreams";
import { WALL_TOKEN_KEY_FILE } from "../../src/caddy/wall";
import { computeEndpoints } from "../../src/endpoints";
import { requireFactoryInputs } from "../../src/inputs";
import { renderNextcloudSite } from "../../src/nextcloud/caddy";
import { COLLABORA_CONFIG_PATH, renderCollaboraRemoteConfig } from "../../src/platform/render";
import { Tenant } from "../../src/types";
import { freePort } from "../../scripts/lab/net";

const CACHE = process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory");
const CADDY = process.env.SF_CADDY ?? path.join(CACHE, "bin", "caddy");
const hasShellcheck = spawnSync("sh", ["-c", "command -v shellcheck"]).status === 0;
const caddyModules = fs.existsSync(CADDY) ? spawnSync(CADDY, ["list-modules"], { encoding: "utf8" }).stdout : "";
const problems = [
  ...(fs.existsSync(CADDY) ? [] : [`${CADDY} (run scripts/lab/install-test-tools.sh)`]),
  ...(fs.existsSync(CADDY) && !/^security$/m.test(caddyModules) ? [`caddy-security in ${CADDY}`] : []),
  ...(hasShellcheck ? [] : ["shellcheck"]),
];
if (problems.length > 0 && process.env.CI) throw new Error(`Caddy lab tools missing: ${problems.join(", ")}`);
const skip = problems.length > 0 ? `Caddy lab tools missing: ${problems.join(", ")}` : false;

const ROOT = path.resolve(__dirname, "..", "..");


function caddy(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const r = spawnSync(CADDY, args, { encoding: "utf8", env: { ...process.env, ...env } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function tenant(slug: string, status: Tenant["status"], services: (keyof Tenant["services"])[]): Tenant {
  const all: Tenant["services"] = {
    nextcloud: { hostname: `cloud.${slug}.test`, quotaGb: 10 },
    paheko: { hostname: `compta.${slug}.test` },
    wordpress: { hostname: `www.${slug}.test`, editHostname: `${slug}.wp.factory.test`, title: slug },
    staticSite: { hostname: `static.${slug}.test` },
  };
  const picked: Tenant["services"] = {};
  for (const s of services) (picked as Record<string, unknown>)[s] = all[s];
  return { slug, name: slug, contact: `x@${slug}.test`, status, dns: "external", services: picked, admins: [], file: `${slug}.yaml` };
}

const ALL = ["nextcloud", "paheko", "wordpress", "staticSite"] as const;
const FIXTURE: Tenant[] = [
  tenant("alpha", "active", [...ALL]),
  tenant("beta", "active", ["paheko"]),
  tenant("gamma", "suspended", [...ALL]),
  tenant("delta", "archived", [...ALL]),
  tenant("epsilon", "active", ["wordpress", "staticSite"]),
];

/** Writes the secret files the config names, as the secrets script would, and returns the directory. */
function writeSecrets(dir: string, tenants: readonly Tenant[]): string {
  const secrets = path.join(dir, "secrets");
  fs.mkdirSync(secrets, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(secrets, WALL_TOKEN_KEY_FILE), "lab-token-key-0123456789abcdefghijklmnop");
  for (const w of edgeWalls(tenants)) fs.writeFileSync(path.join(secrets, w.secretFile), `lab-secret-${w.clientId}`);
  return secrets;
}

function get(port: number, host = "127.0.0.1"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, headers: { host }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
  });
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    try {
      const v = await f();
      if (ok(v)) return v;
      last = v;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: last ${JSON.stringify(last)}`);
}

describe("generated Caddy configs against the real caddy (with caddy-security)", { skip }, () => {
  let dir = "";
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-caddy-")); });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  function check(name: string, config: string, env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
    const file = path.join(dir, `${name}.Caddyfile`);
    fs.writeFileSync(file, config);
    const fmt = caddy(["fmt", file]);
    assert.equal(fmt.status, 0, fmt.out);
    const adapted = caddy(["adapt", "--config", file, "--adapter", "caddyfile"], env);
    assert.equal(adapted.status, 0, adapted.out);
    const validated = caddy(["validate", "--config", file, "--adapter", "caddyfile"], env);
    assert.equal(validated.status, 0, validated.out);
    assert.match(validated.out, /Valid configuration/);
    return JSON.parse(adapted.out.slice(adapted.out.indexOf("{"))) as Record<string, unknown>;
  }

  it("validates the edge config of the staging tenants", () => {
    const staging = requireFactoryInputs({ stack: "staging", projectDir: ROOT });
    const s = staging.settings;
    const config = renderEdgeCaddyfile({
      domain: s.domain, acmeEmail: s.acmeEmail, realm: s.realm, garageAdminUrl: computeEndpoints(s).garage.adminUrl,
      upstreams: edgeUpstreams({ settings: s, endpoints: computeEndpoints(s), tenants: staging.tenants, placement: staging.placement,
        paheko: "10.20.0.11:8480", wordpressHost: "stg-compute1" }),
      tenants: staging.tenants, secretsDir: writeSecrets(path.join(dir, "staging"), staging.tenants),
    });
    const json = JSON.stringify(check("staging-edge", config));
    // caddy-security v1.1.64 keeps the {file.*} placeholders of the wall secrets in the adapted JSON and reads
    // the files when it provisions (v1.1.31 put the values in the JSON): no secret in the adapted config,
    // and test/lab/wall.lab.test.ts proves with this build that the files are read (logins succeed).
    assert.doesNotMatch(json, /lab-secret-|lab-token-key-/);
    const secretsDir = path.join(dir, "staging", "secrets");
    assert.ok(json.includes(`"client_secret":"{file.${secretsDir}/wall-paheko-asso-exemple.secret}"`), "client secret placeholder");
    assert.ok(json.includes(`{file.${secretsDir}/${WALL_TOKEN_KEY_FILE}}`), "token key placeholder");
    // Every wall's identity provider keeps caddy-security's default, PKCE on (no `disable pkce` rendered).
    assert.doesNotMatch(config, /disable\s+pkce/);
    assert.doesNotMatch(json, /pkce_disabled/);
    assert.match(json, /"endpoint":"http:\/\/10\.20\.0\.20:3903\/check"/);
  });

  it("validates the edge config of a fixture with every status and service, and refuses a broken one", () => {
    const input: EdgeConfigInput = {
      domain: "factory.test", acmeEmail: "ops@factory.test", realm: "factory", garageAdminUrl: "http://10.0.0.7:3903",
      upstreams: { keycloak: "http://10.0.0.5:8080", collabora: "http://10.0.0.6:9980", garageS3: "http://10.0.0.7:3900",
        garageWeb: "10.0.0.7:3902", services: { paheko: "10.0.0.5:8480", wordpress: "10.0.0.5:8081", nextcloud: { alpha: "10.0.0.8:8081", gamma: "10.0.0.8:8081" } } },
      tenants: FIXTURE, secretsDir: writeSecrets(path.join(dir, "fixture"), FIXTURE),
    };
    const config = renderEdgeCaddyfile(input);
    const json = check("fixture-edge", config) as { apps: { http: { servers: Record<string, { routes: { match: { host: string[] }[] }[] }> } } };
    const hosts = Object.values(json.apps.http.servers).flatMap((srv) => srv.routes.flatMap((r) => r.match?.flatMap((m) => m.host) ?? []));
    assert.ok(hosts.includes("compta.alpha.test") && hosts.includes("compta.gamma.test"));
    assert.ok(!hosts.some((h) => h.includes("delta")), "archived tenant has routes");
    // A typo in a directive is caught by validate (what the apply script relies on).
    const broken = config.replace("allow roles paheko:alpha", "allow rolez paheko:alpha");
    const file = path.join(dir, "broken.Caddyfile");
    fs.writeFileSync(file, broken);
    assert.notEqual(caddy(["validate", "--config", file, "--adapter", "caddyfile"]).status, 0);
  });

  it("serves Collabora's remote configuration byte for byte, as JSON, over HTTPS on Collabora's hostname", async () => {
    const [httpPort, httpsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const config = renderEdgeCaddyfile({
      domain: "factory.test", acmeEmail: "ops@factory.test", realm: "factory", garageAdminUrl: "http://127.0.0.1:9",
      upstreams: { keycloak: "http://127.0.0.1:9", collabora: "http://127.0.0.1:9", garageS3: "http://127.0.0.1:9",
        garageWeb: "127.0.0.1:9", services: { paheko: "127.0.0.1:9", wordpress: "127.0.0.1:9", nextcloud: { alpha: "127.0.0.1:9", gamma: "127.0.0.1:9" } } },
      tenants: FIXTURE, secretsDir: writeSecrets(path.join(dir, "live"), FIXTURE),
      lab: { httpPort, httpsPort }, adminAddress: `127.0.0.1:${adminPort}`,
    });
    const file = path.join(dir, "live.Caddyfile");
    fs.writeFileSync(file, config);
    const child = spawn(CADDY, ["run", "--config", file, "--adapter", "caddyfile"], {
      stdio: "ignore", env: { ...process.env, XDG_DATA_HOME: path.join(dir, "live-data"), XDG_CONFIG_HOME: path.join(dir, "live-config") },
    });
    try {
      const fetchConfig = () => new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        const req = https.get({
          host: "127.0.0.1", port: httpsPort, path: COLLABORA_CONFIG_PATH, servername: "office.factory.test",
          headers: { host: "office.factory.test" }, rejectUnauthorized: false, agent: false,
        }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
        });
        req.on("error", reject);
      });
      const got = await until(fetchConfig, (r) => r.status === 200, "collabora config");
      // alpha (active) and gamma (suspended) have a Nextcloud; delta is archived.
      assert.equal(got.body, renderCollaboraRemoteConfig(["cloud.alpha.test", "cloud.gamma.test"]));
      assert.deepEqual(JSON.parse(got.body).storage.wopi.alias_groups.groups.map((g: { host: string }) => g.host), ["https://cloud.alpha.test:443", "https://cloud.gamma.test:443"]);
      assert.equal(got.type, "application/json");
    } finally {
      child.kill();
    }
  });

  it("validates compute-host configs built with renderNextcloudSite and the WordPress site", () => {
    const config = renderComputeCaddyfile({
      trustedProxies: ["10.0.0.10", "10.0.0.11"],
      sites: ["alpha", "gamma"].map((slug) => ({
        tenant: slug, hostname: `cloud.${slug}.test`,
        block: renderNextcloudSite({ hostname: `cloud.${slug}.test`, fpmUpstream: `nextcloud-${slug}:9000`, installRoot: "/srv/nextcloud/nc-install-31", maxUploadMb: 2048 }),
      })),
      wordpress: { hostnames: ["alpha.wp.factory.test", "epsilon.wp.factory.test"], fpmUpstream: "10.0.0.5:9480", root: "/var/www/html" },
    });
    const json = JSON.stringify(check("compute", config));
    assert.match(json, /"listen":\[":8081"\]/);
    assert.doesNotMatch(json, /":443"/);
    assert.equal(renderComputeCaddyfile({ trustedProxies: [], sites: [] }).includes("http://:8081"), true);
    check("compute-empty", renderComputeCaddyfile({ trustedProxies: [], sites: [] }));
  });
});

describe("fail-safe delivery scripts against a running caddy", { skip }, () => {
  let dir = "";
  let state = "";
  let bin = "";
  let port = 0;
  let admin = "";
  let child: ChildProcess | undefined;
  let blocker: net.Server | undefined;
  let blockedPort = 0;
  let log = "";

  const env = () => ({ ...process.env, PATH: `${bin}:${process.env.PATH}`, FACTORY_DIR: state, CADDY_ADMIN: admin });
  const script = (name: string) => path.join(dir, name);
  function run(file: string, stdin: string): { status: number | null; stdout: string; stderr: string } {
    // As the delivery command does: `sh -c "$FACTORY_SCRIPT"` with the payload on stdin.
    const r = spawnSync("/bin/sh", ["-c", fs.readFileSync(file, "utf8")], { input: stdin, encoding: "utf8", env: env() });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const site = (text: string) => `{\n\tadmin ${admin}\n\tpersist_config off\n\tauto_https off\n}\n\n:${port} {\n\trespond "${text}" 200\n}\n`;
  async function start(): Promise<void> {
    const out = fs.openSync(log, "a");
    child = spawn("/bin/sh", ["-c", fs.readFileSync(script("start.sh"), "utf8")], { env: env(), stdio: ["ignore", out, out] });
    fs.closeSync(out);
  }
  async function stop(): Promise<void> {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-caddy-reload-"));
    state = path.join(dir, "state");
    bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.symlinkSync(CADDY, path.join(bin, "caddy"));
    log = path.join(dir, "caddy.log");
    port = await freePort();
    admin = `127.0.0.1:${await freePort()}`;
    // A port held by this process: a config listening there validates but cannot be loaded.
    blocker = net.createServer();
    await new Promise<void>((r) => blocker!.listen(0, "127.0.0.1", () => r()));
    blockedPort = (blocker.address() as net.AddressInfo).port;
    fs.writeFileSync(script("apply.sh"), renderApplyScript({ dir: "/etc/caddy/factory", admin: "localhost:2019" }));
    fs.writeFileSync(script("secrets.sh"), renderSecretsScript({ dir: "/etc/caddy/factory" }));
    fs.writeFileSync(script("start.sh"), renderStartScript({ dir: state, bootstrapConfig: renderBootstrapCaddyfile({ port, admin }) }));
  });
  after(async () => {
    await stop();
    await new Promise((r) => blocker?.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("passes shellcheck (POSIX sh)", () => {
    for (const f of ["apply.sh", "secrets.sh", "start.sh"]) {
      const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", script(f)], { encoding: "utf8" });
      assert.equal(r.status, 0, `${f}:\n${r.stdout}${r.stderr}`);
    }
  });

  it("starts on the bootstrap config, then applies a good config", async () => {
    await start();
    await until(() => get(port), (r) => r.status === 503, "bootstrap answers 503");
    const r = run(script("apply.sh"), site("config v1"));
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n${fs.readFileSync(log, "utf8")}`);
    assert.match(r.stdout, /config validated and loaded/);
    assert.deepEqual(await get(port), { status: 200, body: "config v1" });
    assert.equal(fs.readFileSync(path.join(state, "Caddyfile"), "utf8"), site("config v1"));
  });

  it("refuses a config caddy validate rejects: exit 1, the old config keeps serving, live file unchanged", async () => {
    const bad = site("config v2").replace("respond", "respnod");
    const r = run(script("apply.sh"), bad);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /caddy validate rejected the new config; the running config is unchanged/);
    assert.equal(r.stdout, "");
    assert.deepEqual(await get(port), { status: 200, body: "config v1" });
    assert.equal(fs.readFileSync(path.join(state, "Caddyfile"), "utf8"), site("config v1"));
    const rejected = fs.readdirSync(path.join(state, "rejected"));
    assert.equal(rejected.filter((f) => f.endsWith(".Caddyfile")).length, 1);
    assert.equal(rejected.filter((f) => f.endsWith(".log")).length, 1);
    assert.ok(!fs.existsSync(path.join(state, "Caddyfile.candidate")));
  });

  it("refuses an empty config", () => {
    const r = run(script("apply.sh"), "");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /empty config on stdin; nothing changed/);
    assert.equal(fs.readFileSync(path.join(state, "Caddyfile"), "utf8"), site("config v1"));
  });

  it("survives a config that validates but cannot load: exit 1, old config serving, live file restored", async () => {
    const unloadable = site("config v3") + `\n:${blockedPort} {\n\trespond "never" 200\n}\n`;
    const file = path.join(dir, "unloadable.Caddyfile");
    fs.writeFileSync(file, unloadable);
    assert.equal(caddy(["validate", "--config", file, "--adapter", "caddyfile"]).status, 0, "precondition: it validates");
    const r = run(script("apply.sh"), unloadable);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /caddy refused to load the new config and keeps serving the previous one/);
    assert.deepEqual(await get(port), { status: 200, body: "config v1" });
    assert.equal(fs.readFileSync(path.join(state, "Caddyfile"), "utf8"), site("config v1"));
  });

  it("serves the last good config after a restart", async () => {
    await stop();
    await start();
    await until(() => get(port), (r) => r.status === 200, "restarted caddy serves");
    assert.deepEqual(await get(port), { status: 200, body: "config v1" });
  });

  it("writes secret files with mode 0600 and refuses path-like names", () => {
    const r = run(script("secrets.sh"), secretsBundle({ "wall-paheko-a.secret": "s3cret\nwith newline", [WALL_TOKEN_KEY_FILE]: "k" }));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /2 file\(s\) written/);
    const f = path.join(state, "secrets", "wall-paheko-a.secret");
    assert.equal(fs.readFileSync(f, "utf8"), "s3cret\nwith newline");
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.ok(!r.stdout.includes("s3cret") && !r.stderr.includes("s3cret"));
    const bad = run(script("secrets.sh"), `../evil ${Buffer.from("x").toString("base64")}\n`);
    assert.equal(bad.status, 1);
    assert.ok(!fs.existsSync(path.join(state, "evil")));
  });
});
