// The pure renderers behind the shared services: exact output, shellcheck on every script, and the
// one-shot scripts run for real against fake `docker`/`curl` commands that record what they receive.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { privatePorts, redisHosts, redisMaxMemoryMb, serviceAddressFrom } from "../src/platform/layout";
import {
  COLLABORA_CONFIG_PATH, collaboraEnv, keycloakHealthTest, keycloakJdbcUrl, redisCommand, renderGarageKeyImportScript, renderGarageLayoutScript,
  renderCollaboraRemoteConfig, renderHttpProbe, renderKeycloakConf, renderPostgresStart,
} from "../src/platform/render";
import { loadStackFile } from "../src/settings";
import { StackSettings } from "../src/types";

const ROOT = path.join(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "platform-render-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function haveTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

/** shellcheck the script as the given shell; fails (not skips) without shellcheck when CI is set. */
function shellcheck(t: { skip(msg: string): void }, script: string, shell: "sh" | "bash"): void {
  if (!haveTool("shellcheck")) {
    if (process.env.CI) assert.fail("shellcheck is required (apt-get install shellcheck)");
    t.skip("shellcheck not installed");
    return;
  }
  const r = spawnSync("shellcheck", ["-s", shell, "-S", "style", "-"], { input: script, encoding: "utf8" });
  assert.equal(r.status, 0, `shellcheck:\n${r.stdout}${r.stderr}\n--- script ---\n${script}`);
}

function staging(): StackSettings {
  return loadStackFile("staging", path.join(ROOT, "Pulumi.staging.yaml")).settings!;
}

describe("shell scripts pass shellcheck", () => {
  it("PostgreSQL start script (bash)", (t) => shellcheck(t, renderPostgresStart({ maxConnections: 300, sharedBuffersMb: 512 }), "bash"));
  it("HTTP health probe (bash)", (t) => shellcheck(t, renderHttpProbe(9000, "/health/ready"), "bash"));
  it("Garage layout script (sh)", (t) => shellcheck(t, renderGarageLayoutScript({ container: "staging-garage", zone: "stg-storage1", capacity: "1T" }), "sh"));
  it("Garage platform key import script (sh)", (t) => shellcheck(t, renderGarageKeyImportScript({ adminUrl: "http://10.20.0.20:3903", keyName: "platform" }), "sh"));
});

/** A directory with a fake command that logs its argv (one line per call, NUL-separated args) and stdin. */
function fakeBin(name: string, body: string): { dir: string; log: string; stdin: string } {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const log = path.join(dir, "argv.log");
  const stdin = path.join(dir, "stdin.log");
  fs.writeFileSync(path.join(dir, name), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${log}\n${body}\n`, { mode: 0o755 });
  return { dir, log, stdin };
}

describe("Garage layout script against a fake docker", () => {
  const script = renderGarageLayoutScript({ container: "staging-garage", zone: "stg-storage1", capacity: "1T" });
  const dockerBody = (version: number) => [
    'case "$*" in',
    `  "exec staging-garage /garage layout show") printf '==== CURRENT CLUSTER LAYOUT ====\\nCurrent cluster layout version: ${version}\\n' ;;`,
    '  "exec staging-garage /garage node id -q") echo "563e1ac825ee3323aa441e72c26d1030d2fa2cc9d2148d0e5c5f2c0d1b2c3d4e@10.20.0.20:3901" ;;',
    '  "exec staging-garage /garage layout assign"*|"exec staging-garage /garage layout apply --version 1") echo ok ;;',
    "  *) echo \"unexpected: $*\" >&2; exit 3 ;;",
    "esac",
  ].join("\n");
  const runWith = (version: number) => {
    const fake = fakeBin("docker", dockerBody(version));
    const r = spawnSync("sh", ["-c", script], { env: { PATH: `${fake.dir}:/usr/bin:/bin` }, encoding: "utf8" });
    return { r, calls: fs.existsSync(fake.log) ? fs.readFileSync(fake.log, "utf8").trim().split("\n") : [] };
  };

  it("assigns the node and applies version 1 on a fresh cluster", () => {
    const { r, calls } = runWith(0);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(calls, [
      "exec staging-garage /garage layout show",
      "exec staging-garage /garage node id -q",
      "exec staging-garage /garage layout assign -z stg-storage1 -c 1T 563e1ac825ee3323aa441e72c26d1030d2fa2cc9d2148d0e5c5f2c0d1b2c3d4e",
      "exec staging-garage /garage layout apply --version 1",
    ]);
  });

  it("does nothing once a layout is applied (idempotent)", () => {
    for (const v of [1, 7, 12]) {
      const { r, calls } = runWith(v);
      assert.equal(r.status, 0);
      assert.deepEqual(calls, ["exec staging-garage /garage layout show"]);
      assert.match(r.stdout, /already applied/);
    }
  });

  it("fails when Garage cannot be reached", () => {
    const fake = fakeBin("docker", "exit 1");
    const r = spawnSync("sh", ["-c", script], { env: { PATH: `${fake.dir}:/usr/bin:/bin` }, encoding: "utf8" });
    assert.notEqual(r.status, 0);
  });

  it("refuses names that would need quoting", () => {
    assert.throws(() => renderGarageLayoutScript({ container: "x; rm -rf /", zone: "z", capacity: "1T" }));
  });
});

describe("Garage platform key import against a fake curl", () => {
  const script = renderGarageKeyImportScript({ adminUrl: "http://10.20.0.20:3903", keyName: "platform" });
  const env = { GARAGE_ADMIN_TOKEN: "tokenSECRET123", GARAGE_KEY_ID: "GK0123456789abcdef01234567", GARAGE_KEY_SECRET: "f00dSECRET0123456789abcdef" };
  /** Fake curl: records its stdin config per call; `-w` calls print the status code from $FAKE_CODE. */
  const curlBody = (code: string) => [
    `n=$(wc -l < "$(dirname "$0")/argv.log")`,
    `cat > "$(dirname "$0")/stdin.$n"`,
    'case "$*" in *"-w"*) printf "%s" "' + code + '" ;; esac',
  ].join("\n");
  const runWith = (code: string) => {
    const fake = fakeBin("curl", curlBody(code));
    const r = spawnSync("sh", ["-c", script], { env: { PATH: `${fake.dir}:/usr/bin:/bin`, ...env }, encoding: "utf8" });
    const calls = fs.existsSync(fake.log) ? fs.readFileSync(fake.log, "utf8").trim().split("\n") : [];
    const stdins = calls.map((_, i) => fs.readFileSync(path.join(fake.dir, `stdin.${i + 1}`), "utf8"));
    return { r, calls, stdins };
  };

  it("imports the key when Garage does not know it, with every secret on stdin only", () => {
    const { r, calls, stdins } = runWith("404");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(calls.length, 2);
    for (const argv of calls) for (const v of Object.values(env)) assert.ok(!argv.includes(v), `secret in curl argv: ${argv}`);
    assert.equal(stdins[0], `header = "Authorization: Bearer ${env.GARAGE_ADMIN_TOKEN}"\nurl = "http://10.20.0.20:3903/v1/key?id=${env.GARAGE_KEY_ID}"\n`);
    const lines = stdins[1].trim().split("\n");
    assert.equal(lines[0], `header = "Authorization: Bearer ${env.GARAGE_ADMIN_TOKEN}"`);
    assert.equal(lines[1], 'url = "http://10.20.0.20:3903/v1/key/import"');
    assert.equal(lines[2], 'header = "Content-Type: application/json"');
    const data = /^data = "(.*)"$/.exec(lines[3])![1].replace(/\\"/g, '"');
    assert.deepEqual(JSON.parse(data), { accessKeyId: env.GARAGE_KEY_ID, secretAccessKey: env.GARAGE_KEY_SECRET, name: "platform" });
    assert.doesNotMatch(r.stdout + r.stderr, /SECRET/);
  });

  it("does nothing when the key exists (idempotent)", () => {
    const { r, calls } = runWith("200");
    assert.equal(r.status, 0);
    assert.equal(calls.length, 1);
  });

  it("fails on any other answer", () => {
    const { r, calls } = runWith("500");
    assert.notEqual(r.status, 0);
    assert.equal(calls.length, 1);
  });

  it("refuses a key id that would break the JSON", () => {
    const fake = fakeBin("curl", curlBody("404"));
    const r = spawnSync("sh", ["-c", script], { env: { PATH: `${fake.dir}:/usr/bin:/bin`, ...env, GARAGE_KEY_ID: 'GK"x' }, encoding: "utf8" });
    assert.notEqual(r.status, 0);
    assert.equal(fs.existsSync(fake.log), false);
  });
});

describe("HTTP probe (Keycloak and Collabora health checks) against a loopback server", () => {
  let server: http.Server;
  let port = 0;
  before(async () => {
    server = http.createServer((req, res) => {
      res.statusCode = req.url === "/health/ready" ? 200 : 503;
      res.end(JSON.stringify({ status: res.statusCode === 200 ? "UP" : "DOWN" }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("succeeds on 200 and fails otherwise or when nothing listens", async () => {
    // Asynchronous spawn: the server answers from this same event loop.
    const probe = (p: number, pathName: string) => new Promise<number | null>((resolve) => {
      spawn("bash", ["-c", renderHttpProbe(p, pathName)], { stdio: "ignore" }).on("close", (code) => resolve(code));
    });
    assert.equal(await probe(port, "/health/ready"), 0);
    assert.equal(await probe(port, "/health/live"), 1);
    // A port that was just free: nothing listens there once its probe server is closed.
    const spare = http.createServer();
    await new Promise<void>((r) => spare.listen(0, "127.0.0.1", r));
    const free = (spare.address() as AddressInfo).port;
    await new Promise<void>((r) => spare.close(() => r()));
    assert.notEqual(await probe(free, "/health/ready"), 0);
  });

  it("is wired as Keycloak's health check on the management port", () => {
    assert.deepEqual(keycloakHealthTest().slice(0, 3), ["CMD", "bash", "-c"]);
    assert.match(keycloakHealthTest()[3], /\/dev\/tcp\/127\.0\.0\.1\/9000/);
    assert.throws(() => renderHttpProbe(80, "/x'; reboot"));
  });
});

describe("configuration renderers", () => {
  it("renders keycloak.conf whole, escaping backslashes and refusing line breaks", () => {
    const conf = renderKeycloakConf({
      dbUrl: keycloakJdbcUrl("postgres", 5432, "keycloak"), dbUsername: "keycloak", dbPassword: "p\\w", hostname: "https://auth.example.org",
      adminUsername: "admin", adminPassword: "admin-pw",
    });
    assert.equal(conf, [
      "# Rendered by the service factory (src/platform/render.ts); replaced whole on every change.",
      "db=postgres",
      "db-url=jdbc:postgresql://postgres:5432/keycloak?sslmode=require",
      "db-username=keycloak",
      "db-password=p\\\\w",
      "hostname=https://auth.example.org",
      "hostname-backchannel-dynamic=true",
      "http-enabled=true",
      "http-port=8080",
      "proxy-headers=xforwarded",
      "health-enabled=true",
      "metrics-enabled=false",
      "cache=local",
      "bootstrap-admin-username=admin",
      "bootstrap-admin-password=admin-pw",
      "",
    ].join("\n"));
    assert.throws(() => renderKeycloakConf({ dbUrl: "x", dbUsername: "k", dbPassword: "a\nhostname=evil", hostname: "h", adminUsername: "a", adminPassword: "b" }));
  });

  it("runs Redis with persistence, a memory ceiling under the container limit and no eviction of TTL-less keys", () => {
    assert.equal(redisMaxMemoryMb({ memoryMb: 512, pids: 2048 }), 384);
    assert.deepEqual(redisCommand(384), [
      "redis-server", "--appendonly", "yes", "--dir", "/data", "--maxmemory", "384mb", "--maxmemory-policy", "volatile-lru",
      "--save", "--protected-mode", "no", "--aclfile", "/data/users.acl",
    ]);
  });

  /**
   * What coolwsd makes of its environment and of the remote configuration, as its sources say
   * (CollaboraOnline/online). Environment: COOLWSD.cpp initializeEnvOptions turns each `aliasgroupN`
   * (N = 1, 2, … until one is missing) into group N-1, first value the host, the rest aliases, and sets
   * mode "groups" when there is one; without any, mode "first" admits only the first host to connect.
   * Remote configuration (RemoteConfig.cpp fetchAliasGroups): ignored unless `kind` is "configuration"
   * (RemoteJSONPoll); a missing or empty `groups` array changes nothing; otherwise its mode and groups
   * replace the configured ones (a configured group beyond them gets an empty host). HostUtil.cpp
   * parseAliases allows each group's host and aliases and maps each alias to its group's host (getNewUri
   * serves an alias as that host). Authorities drop the default port, as Poco::URI does.
   */
  type CoolGroup = { host: string; aliases: string[] };
  function coolwsd(env: string[], remote?: string[]): { mode: string; allowed: Set<string>; sameServerAs: Map<string, string>; url?: string } {
    const vars = new Map(env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)] as [string, string]));
    let groups: CoolGroup[] = [];
    for (let n = 1; vars.has(`aliasgroup${n}`); n++) {
      const [host, ...aliases] = vars.get(`aliasgroup${n}`)!.split(",");
      groups.push({ host: host!, aliases });
    }
    let mode = groups.length > 0 ? "groups" : "first";
    for (const body of remote ?? []) {
      const json = JSON.parse(body) as { kind?: string; storage?: { wopi?: { alias_groups?: { mode?: string; groups?: { host: string; allow: boolean; aliases?: string[] }[] } } } };
      if (json.kind !== "configuration") continue;
      const ag = json.storage?.wopi?.alias_groups;
      if (!ag?.groups || ag.groups.length === 0) continue;
      mode = ag.mode ?? "first";
      const fetched = ag.groups.filter((g) => g.allow).map((g) => ({ host: g.host, aliases: g.aliases ?? [] }));
      groups = [...fetched, ...groups.slice(ag.groups.length).map(() => ({ host: "", aliases: [] }))];
    }
    const allowed = new Set<string>();
    const sameServerAs = new Map<string, string>();
    const authority = (u: string) => new URL(u).host;
    for (const g of groups.filter((x) => x.host !== "")) {
      allowed.add(authority(g.host));
      for (const a of g.aliases) {
        allowed.add(authority(a));
        sameServerAs.set(authority(a), authority(g.host));
      }
    }
    return { mode, allowed, sameServerAs, url: vars.get("remoteconfigurl") };
  }

  it("configures Collabora behind the TLS-terminating edge, the same for any tenant list, admitting nobody before its first fetch", () => {
    const env = collaboraEnv({ serverName: "office.example.org" });
    assert.deepEqual(env.slice(0, 2), ["server_name=office.example.org", "extra_params=--o:ssl.enable=false --o:ssl.termination=true --o:security.capabilities=false --o:mount_jail_tree=false"]);
    const start = coolwsd(env);
    assert.equal(start.mode, "groups", "not \"first\": no host that happens to connect first is let in");
    assert.deepEqual([...start.allowed], ["wopi-hosts-pending.invalid"]);
    // A release build polls only an https URL (RemoteJSONPoll::start).
    assert.equal(start.url, `https://office.example.org${COLLABORA_CONFIG_PATH}`);
    assert.equal(new URL(start.url!).protocol, "https:");
  });

  it("admits exactly the Nextcloud hostnames of the remote configuration, each its own alias group", () => {
    const env = collaboraEnv({ serverName: "office.example.org" });
    const seen = coolwsd(env, [renderCollaboraRemoteConfig(["b.org", "a.org", "B.org", "c.a.org"])]);
    assert.equal(seen.mode, "groups");
    assert.deepEqual([...seen.allowed].sort(), ["a.org", "b.org", "c.a.org"]);
    assert.equal(seen.sameServerAs.size, 0, "no tenant's Nextcloud is an alias of another's");
    // The last Nextcloud gone: nobody, not the hosts of the previous fetch (an empty list would keep them).
    assert.deepEqual([...coolwsd(env, [renderCollaboraRemoteConfig(["a.org"]), renderCollaboraRemoteConfig([])]).allowed], ["wopi-hosts-pending.invalid"]);
    assert.deepEqual([...coolwsd(env, [renderCollaboraRemoteConfig(["a.org"]), JSON.stringify({ kind: "configuration", storage: { wopi: { alias_groups: { mode: "groups", groups: [] } } } })]).allowed], ["a.org"]);
    // The fake tells the alias form apart: one group made b.org an alias of a.org (the same server).
    assert.equal(coolwsd(["aliasgroup1=https://a.org:443,https://b.org:443"]).sameServerAs.get("b.org"), "a.org");
    assert.throws(() => renderCollaboraRemoteConfig(["a.org,https://evil.org:443"]), /not a hostname/);
    assert.throws(() => renderCollaboraRemoteConfig(["a.org\"}]}"]), /not a hostname/);
  });

  it("starts PostgreSQL with TLS from the data volume and the official entrypoint", () => {
    const s = renderPostgresStart({ maxConnections: 300, sharedBuffersMb: 512 });
    assert.match(s, /^exec docker-entrypoint\.sh postgres \\$/m);
    assert.match(s, /-c ssl=on/);
    assert.match(s, /-c max_connections=300/);
    assert.throws(() => renderPostgresStart({ maxConnections: 1.5, sharedBuffersMb: 512 }));
  });
});

describe("placement and addressing", () => {
  it("publishes on the private address only and refuses the unspecified address", () => {
    assert.deepEqual(privatePorts("postgres", "10.0.0.5"), [{ internal: 5432, external: 5432, ip: "10.0.0.5", protocol: "tcp" }]);
    assert.deepEqual(privatePorts("redis", "10.0.0.5"), []);
    for (const bad of ["0.0.0.0", "::", ""]) assert.throws(() => privatePorts("keycloak", bad));
  });

  it("runs Redis on every compute host, drained ones included", () => {
    const s = staging();
    const hosts = [...s.hosts, { ...s.hosts[1], name: "stg-drained", drain: true }];
    assert.deepEqual(redisHosts(hosts).map((h) => h.name), ["stg-compute1", "stg-compute2", "stg-drained"]);
  });

  it("reaches a service by alias on its own host, by private address from another, by endpoint when external", () => {
    const s = staging();
    assert.deepEqual(serviceAddressFrom(s, "postgres", "stg-storage1", 5432), { host: "postgres", port: 5432 });
    assert.deepEqual(serviceAddressFrom(s, "postgres", "stg-compute1", 5432), { host: "10.20.0.20", port: 5432 });
    const ext: StackSettings = { ...s, services: { ...s.services, postgres: { mode: "external", endpoint: "pg.example.net:6432" } } };
    assert.deepEqual(serviceAddressFrom(ext, "postgres", "stg-compute1", 5432), { host: "pg.example.net", port: 6432 });
    const v6: StackSettings = { ...s, hosts: s.hosts.map((h) => (h.name === "stg-storage1" ? { ...h, privateAddress: "fd00::20" } : h)) };
    assert.deepEqual(serviceAddressFrom(v6, "postgres", "stg-compute1", 5432), { host: "[fd00::20]", port: 5432 });
  });
});
