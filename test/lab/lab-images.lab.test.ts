// Lab: the lab images (scripts/lab/lab-images.sh) do for the program what the published images do. Each
// runs in a private dockerd, created through the Engine API the way the program's docker provider creates
// it (components/sharedServices.ts, components/edge.ts, components/wordpress.ts): same entrypoint/command,
// env, uploads (owner, mode), volume, limits, no-new-privileges and health check, from the same renderers
// (src/platform/render.ts, src/caddy/reload.ts, src/garage/config.ts). Then:
//  - postgres: the start script makes TLS and its pg_hba, initdb from POSTGRES_PASSWORD_FILE; healthy; psql from
//    the host over a published loopback port logs in (TLS on, checksums on), a wrong password and a plain-text
//    connection are refused; a restart keeps the cluster;
//  - redis: healthy, PING answers, runs as uid 999 with the program's arguments;
//  - garage: healthy (`/garage status`), the program's layout script applies once then finds it applied, admin /health 200;
//  - caddy: `caddy version`, caddy-security listed; the start script serves the bootstrap 503 and the apply
//    script (stdin via docker exec -i) loads a new config;
//  - keycloak: `start` with the uploaded keycloak.conf against a lab postgres becomes healthy (management
//    /health/ready, probed by bash), the bootstrap admin gets a token, and no rebuild happened at start;
//  - mariadb: the WordPress database and user from the *_FILE secrets; wrong password refused;
//  - toolbox: busybox sh and applets.
// Skips only when no dockerd can start here (and fails instead when CI is set). Missing images fail.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it, TestContext } from "node:test";
import { renderApplyScript, renderBootstrapCaddyfile, renderStartScript } from "../../src/caddy/reload";
import { CADDY_PORTS, EDGE_STATE_DIR } from "../../src/caddy/edge";
import { PORTS } from "../../src/endpoints";
import { renderGarageToml } from "../../src/garage/config";
import { redisMaxMemoryMb, SERVICE_LIMITS } from "../../src/platform/layout";
import {
  garageHealthTest, KEYCLOAK_CONF, keycloakHealthTest, keycloakJdbcUrl, POSTGRES_PATHS, postgresHealthTest, redisCommand,
  renderGarageLayoutScript, renderKeycloakConf, renderPostgresStart,
} from "../../src/platform/render";
import { GARAGE_PATHS, KEYCLOAK_ADMIN_USER, KEYCLOAK_DATABASE } from "../../src/platform/services";
import { LAB_IMAGES, loadLabImages, VERSIONS } from "../../scripts/lab/lab-images";
import { freePort } from "../../scripts/lab/net";
import { Dockerd, dockerdUnavailable, startDockerd } from "../../scripts/lab/dockerd";
import { EngineApi, engineApi, ns, Upload } from "./support/engine-api";
import { REDIS_PATHS, REDIS_START_SCRIPT, redisHealthTest, renderRedisBootstrapAcl, renderRedisUserScript, sha256Hex } from "../../src/platform/redis";
import { withSecretFiles } from "../../src/nextcloud/scripts";

const NET = "factory-lab";

let dockerd: Dockerd | undefined;
let api: EngineApi;
let skipWhy: string | undefined;

/** What the program gives a container (the subset of docker.Container inputs the shared services use). */
interface Shape {
  image: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  uploads?: Upload[];
  volume?: string;
  /** Container ports published on 127.0.0.1 (free host ports, the program publishes on the private address). */
  ports?: number[];
  healthcheck?: { tests: string[]; interval: string; timeout: string; retries: number; startPeriod: string };
  memoryMb?: number;
  pids?: number;
  shmMb?: number;
  stopTimeout?: number;
  readOnly?: boolean;
  tmpfs?: Record<string, string>;
  capDrop?: string[];
  capAdd?: string[];
  alias?: string;
  volumes?: { name: string; target: string }[];
}

interface Running {
  name: string;
  id: string;
  /** container port → host port on 127.0.0.1 */
  port: Record<number, number>;
}

async function run(name: string, s: Shape): Promise<Running> {
  const port: Record<number, number> = {};
  for (const p of s.ports ?? []) port[p] = await freePort();
  const mounts = [
    ...(s.volume ? [{ Type: "volume", Source: `${name}-data`, Target: s.volume }] : []),
    ...(s.volumes ?? []).map((v) => ({ Type: "volume", Source: v.name, Target: v.target })),
  ];
  const hc = s.healthcheck;
  const spec = {
    Image: s.image,
    Entrypoint: s.entrypoint,
    Cmd: s.cmd,
    Env: s.env,
    ExposedPorts: Object.fromEntries((s.ports ?? []).map((p) => [`${p}/tcp`, {}])),
    Healthcheck: hc && { Test: hc.tests, Interval: ns(hc.interval), Timeout: ns(hc.timeout), Retries: hc.retries, StartPeriod: ns(hc.startPeriod) },
    StopTimeout: s.stopTimeout,
    Labels: { "service-factory.lab": "lab-images" },
    HostConfig: {
      Mounts: mounts,
      PortBindings: Object.fromEntries((s.ports ?? []).map((p) => [`${p}/tcp`, [{ HostIp: "127.0.0.1", HostPort: String(port[p]) }]])),
      Memory: s.memoryMb ? s.memoryMb * 1024 * 1024 : undefined,
      MemorySwap: s.memoryMb ? s.memoryMb * 1024 * 1024 : undefined,
      // The pids cgroup limit the program sets on each container (components/pidsLimits.ts), here at creation.
      PidsLimit: s.pids,
      SecurityOpt: ["no-new-privileges:true"],
      ShmSize: s.shmMb ? s.shmMb * 1024 * 1024 : undefined,
      ReadonlyRootfs: s.readOnly ?? false,
      Tmpfs: s.tmpfs,
      CapDrop: s.capDrop,
      CapAdd: s.capAdd,
      NetworkMode: NET,
      LogConfig: { Type: "json-file", Config: { "max-size": "20m", "max-file": "5" } },
    },
    NetworkingConfig: { EndpointsConfig: { [NET]: { Aliases: s.alias ? [s.alias] : [] } } },
  };
  const c = await api.call("POST", `/containers/create?name=${encodeURIComponent(name)}`, spec);
  assert.equal(c.status, 201, `create ${name}: ${c.raw}`);
  const id = (c.body as { Id: string }).Id;
  await api.upload(id, s.uploads ?? []);
  const st = await api.call("POST", `/containers/${id}/start`);
  assert.equal(st.status, 204, `start ${name}: ${st.raw}`);
  return { name, id, port };
}

/** The docker CLI against the test's dockerd. */
function cli(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  return dockerd!.docker(args, input);
}

async function logs(c: Running): Promise<string> {
  const r = cli(["logs", "--tail", "60", c.id]);
  return `${r.stdout}${r.stderr}`;
}

/** Waits for the health check (as `wait: true` does); fails early, with the logs, if the container exits. */
async function healthy(c: Running, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last = "";
  while (Date.now() - t0 < timeoutMs) {
    const r = await api.call("GET", `/containers/${c.id}/json`);
    const state = (r.body as { State: { Running: boolean; ExitCode: number; Health?: { Status: string; Log?: { Output: string }[] } } }).State;
    if (!state.Running) assert.fail(`${c.name} exited with ${state.ExitCode}:\n${await logs(c)}`);
    last = state.Health?.Status ?? "no health check";
    if (last === "healthy") return Date.now() - t0;
    await new Promise((res) => setTimeout(res, 1000));
  }
  const r = await api.call("GET", `/containers/${c.id}/json`);
  const probes = (r.body as { State: { Health?: { Log?: { Output: string }[] } } }).State.Health?.Log?.map((l) => l.Output).join("\n---\n");
  return assert.fail(`${c.name} not healthy after ${timeoutMs / 1000} s (${last}); last probes:\n${probes}\nlogs:\n${await logs(c)}`);
}

async function exec(c: Running, args: string[], input?: string): Promise<{ code: number | null; out: string }> {
  const r = cli(["exec", ...(input !== undefined ? ["-i"] : []), c.id, ...args], input);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

/** psql from the host as the superuser over TLS; each statement of `sql` its own -c (its own transaction). */
function psql(port: number, password: string, sql: string | string[], sslmode = "require"): { status: number | null; out: string } {
  const cs = (Array.isArray(sql) ? sql : [sql]).flatMap((q) => ["-c", q]);
  const r = spawnSync("psql", [`host=127.0.0.1 port=${port} user=postgres dbname=postgres sslmode=${sslmode} connect_timeout=10`, "-v", "ON_ERROR_STOP=1", "-At", ...cs], {
    encoding: "utf8", env: { ...process.env, PGPASSWORD: password },
  });
  if (r.error) assert.fail(`psql could not run (${r.error.message}): install PostgreSQL's client (npm run setup:test)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** PostgreSQL exactly as SharedServices runs it (components/sharedServices.ts). */
function postgresShape(password: string): Shape {
  return {
    image: LAB_IMAGES.postgres,
    volume: POSTGRES_PATHS.dataRoot,
    entrypoint: ["/bin/bash", "-c", renderPostgresStart({ maxConnections: 300, sharedBuffersMb: 512 })],
    env: [`POSTGRES_PASSWORD_FILE=${POSTGRES_PATHS.passwordFile}`, `PGDATA=${POSTGRES_PATHS.pgdata}`, "POSTGRES_INITDB_ARGS=--data-checksums"],
    uploads: [{ file: POSTGRES_PATHS.passwordFile, content: password, owner: "999", group: "999", permissions: "0400" }],
    healthcheck: { tests: postgresHealthTest(), interval: "2s", timeout: "5s", retries: 5, startPeriod: "60s" },
    shmMb: 256,
    stopTimeout: 60,
    memoryMb: SERVICE_LIMITS.postgres.memoryMb,
    pids: SERVICE_LIMITS.postgres.pids,
    ports: [PORTS.postgres],
    alias: "postgres",
  };
}

function ready(t: TestContext): boolean {
  if (skipWhy) {
    t.skip(skipWhy);
    return false;
  }
  return true;
}

describe("scripts/lab/lab-images.sh", () => {
  it("and the entrypoints it writes into the images pass shellcheck", (t) => {
    if (spawnSync("sh", ["-c", "command -v shellcheck"]).status !== 0) {
      if (process.env.CI) assert.fail("shellcheck is required (run scripts/lab/install-test-tools.sh)");
      t.skip("shellcheck not installed (run scripts/lab/install-test-tools.sh)");
      return;
    }
    const script = path.join(__dirname, "..", "..", "scripts", "lab", "lab-images.sh");
    const own = spawnSync("shellcheck", [script], { encoding: "utf8" });
    assert.equal(own.status, 0, own.stdout);
    const text = fs.readFileSync(script, "utf8");
    const bodies = [...text.matchAll(/> "\$r\/usr\/local\/bin\/docker-entrypoint\.sh" <<'EOF'\n([\s\S]*?)\nEOF\n/g)].map((m) => m[1]);
    assert.equal(bodies.length, 3, "postgres, redis and mariadb entrypoints");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-entrypoints-"));
    try {
      bodies.forEach((b, i) => {
        const f = path.join(dir, `entrypoint-${i}.sh`);
        fs.writeFileSync(f, `${b}\n`);
        const r = spawnSync("shellcheck", [f], { encoding: "utf8" });
        assert.equal(r.status, 0, `${b.split("\n")[1]}\n${r.stdout}`);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("lab images behave as the program expects of the published ones", () => {
  before(async () => {
    const pre = dockerdUnavailable();
    try {
      if (pre) throw new Error(pre);
      dockerd = await startDockerd({ name: "labimg", addressPool: "10.212.0.0/16" });
    } catch (e) {
      skipWhy = `no dockerd can start here: ${(e as Error).message.split("\n")[0]}`;
      if (process.env.CI) throw new Error(skipWhy);
      return;
    }
    api = engineApi(dockerd.host);
    await loadLabImages(dockerd.host);
    const n = await api.call("POST", "/networks/create", { Name: NET, Driver: "bridge", CheckDuplicate: true });
    assert.equal(n.status, 201, `network: ${n.raw}`);
  });

  after(async () => {
    await dockerd?.stop();
  });

  it("loads every image with the entrypoint, user and environment of the published one; a second load is a no-op", async (t) => {
    if (!ready(t)) return;
    const t0 = Date.now();
    await loadLabImages(dockerd!.host);
    assert.ok(Date.now() - t0 < 20_000, `second loadLabImages took ${Date.now() - t0} ms`);
    const cfg = async (ref: string) => {
      const r = await api.call("GET", `/images/${encodeURIComponent(ref)}/json`);
      assert.equal(r.status, 200, `${ref}: ${r.raw}`);
      return (r.body as { Config: { Entrypoint: string[] | null; Cmd: string[] | null; User: string; Env: string[]; StopSignal?: string; WorkingDir: string } }).Config;
    };
    const pg = await cfg(LAB_IMAGES.postgres);
    assert.deepEqual(pg.Entrypoint, ["docker-entrypoint.sh"]);
    assert.deepEqual(pg.Cmd, ["postgres"]);
    assert.equal(pg.StopSignal, "SIGINT");
    assert.ok(pg.Env.includes("PGDATA=/var/lib/postgresql/data"), pg.Env.join(" "));
    const redis = await cfg(LAB_IMAGES.redis);
    assert.deepEqual(redis.Entrypoint, ["docker-entrypoint.sh"]);
    assert.equal(redis.WorkingDir, "/data");
    assert.deepEqual((await cfg(LAB_IMAGES.garage)).Cmd, ["/garage", "server"]);
    const kc = await cfg(LAB_IMAGES.keycloak);
    assert.deepEqual(kc.Entrypoint, ["/opt/keycloak/bin/kc.sh"]);
    assert.equal(kc.User, "1000");
    const caddy = await cfg(LAB_IMAGES.caddy);
    assert.ok(caddy.Env.includes("XDG_CONFIG_HOME=/config") && caddy.Env.includes("XDG_DATA_HOME=/data"), caddy.Env.join(" "));
    assert.deepEqual(caddy.Cmd, ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]);
    assert.deepEqual((await cfg(LAB_IMAGES.toolbox)).Cmd, ["sh"]);
    assert.deepEqual((await cfg(LAB_IMAGES.mariadb)).Entrypoint, ["docker-entrypoint.sh"]);
  });

  it("postgres: initialised from the password file, TLS and checksums on, password checked over a published port, survives a restart", async (t) => {
    if (!ready(t)) return;
    const password = "lab-Postgres-pw-1";
    const pg = await run("lab-postgres", postgresShape(password));
    await healthy(pg, 120_000);
    const port = pg.port[PORTS.postgres];
    const ok = psql(port, password, "select ssl from pg_stat_ssl where pid = pg_backend_pid(); show data_checksums; show max_connections; select current_user");
    assert.equal(ok.status, 0, ok.out);
    assert.deepEqual(ok.out.split("\n"), ["t", "on", "300", "postgres"]);
    const bad = psql(port, "not-the-password", "select 1");
    assert.notEqual(bad.status, 0, bad.out);
    assert.match(bad.out, /password authentication failed for user "postgres"/);
    const plain = psql(port, password, "select 1", "disable");
    assert.notEqual(plain.status, 0, plain.out);
    assert.match(plain.out, /pg_hba\.conf rejects connection .*no encryption/);
    // The cluster and its TLS pair live in the volume: a restart initialises nothing and serves the same data.
    assert.equal(psql(port, password, "create table lab_kept (x int); insert into lab_kept values (42)").status, 0);
    const restart = cli(["restart", "-t", "60", pg.id]);
    assert.equal(restart.code, 0, restart.stderr);
    await healthy(pg, 120_000);
    const kept = psql(port, password, "select x from lab_kept");
    assert.equal(kept.out, "42");
    const id = await exec(pg, ["sh", "-c", "stat -c '%u:%g %a' /var/lib/postgresql/data/pgdata /var/lib/postgresql/data/tls/server.key; cat /proc/1/status | grep ^Uid"]);
    assert.match(id.out, /^999:999 700\n999:999 600\nUid:\s+999\s/, id.out);
  });

  it("redis: the program's entrypoint, ACL and arguments: healthy, the admin and tenant users as the program makes them, kept across a restart", async (t) => {
    if (!ready(t)) return;
    const adminPw = "lab-redis-admin-pw";
    const redis = await run("lab-redis", {
      image: LAB_IMAGES.redis,
      volume: "/data",
      entrypoint: [REDIS_PATHS.start],
      cmd: redisCommand(redisMaxMemoryMb()),
      uploads: [
        { file: REDIS_PATHS.start, content: REDIS_START_SCRIPT, permissions: "0555" },
        { file: REDIS_PATHS.bootstrap, content: renderRedisBootstrapAcl(sha256Hex(adminPw)), permissions: "0400" },
      ],
      healthcheck: { tests: redisHealthTest(), interval: "2s", timeout: "3s", retries: 5, startPeriod: "10s" },
      memoryMb: SERVICE_LIMITS.redis.memoryMb,
      pids: SERVICE_LIMITS.redis.pids,
      alias: "redis",
    });
    await healthy(redis, 60_000);
    const redisCli = async (args: string[], env: string[] = []) => (await exec(redis, ["env", ...env, "redis-cli", "--no-auth-warning", ...args])).out.trim();
    const admin = [`REDISCLI_AUTH=${adminPw}`];
    assert.match(await redisCli(["PING"]), /NOAUTH/, "nothing without a password");
    assert.match(await redisCli(["--user", "healthcheck", "--pass", "x", "GET", "k"]), /NOPERM/, "healthcheck may only PING");
    assert.equal(await redisCli(["PING"], admin), "PONG");
    assert.equal(await redisCli(["CONFIG", "GET", "maxmemory-policy"], admin), "maxmemory-policy\nvolatile-lru");
    assert.equal(await redisCli(["CONFIG", "GET", "appendonly"], admin), "appendonly\nyes");
    assert.match((await exec(redis, ["grep", "^Uid", "/proc/1/status"])).out, /Uid:\s+999\s/);

    // The tenant users, made the way NextcloudInstance makes them (script on stdin, admin password in a file).
    const userScript = (user: string, pw: string) => withSecretFiles(
      renderRedisUserScript({ user, passwordSha256: sha256Hex(pw), adminPasswordFile: "/tmp/factory-redis-secrets/admin-password" }),
      { "admin-password": adminPw }, "/tmp/factory-redis-secrets");
    for (const [user, pw] of [["nc-alpha", "alpha-pw"], ["nc-beta", "beta-pw"]]) {
      const made = cli(["exec", "-i", redis.id, "sh", "-s"], userScript(user, pw));
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout, new RegExp(`redis user ${user} ready`));
    }
    const alpha = ["--user", "nc-alpha", "--pass", "alpha-pw"];
    assert.equal(await redisCli([...alpha, "SET", "nc-alpha:s1", "v", "EX", "60"]), "OK");
    assert.equal(await redisCli([...alpha, "GET", "nc-alpha:s1"]), "v");
    assert.equal(await redisCli([...alpha, "EVAL", "return redis.call('get', KEYS[1])", "1", "nc-alpha:s1"]), "v", "locks use EVAL");
    assert.equal(await redisCli([...alpha, "KEYS", "nc-alpha:*"]), "nc-alpha:s1", "cache clears use KEYS");
    for (const forbidden of [["FLUSHALL"], ["CONFIG", "GET", "*"], ["ACL", "LIST"], ["SHUTDOWN"]]) {
      assert.match(await redisCli([...alpha, ...forbidden]), /NOPERM/, `a tenant may not ${forbidden.join(" ")}`);
    }
    assert.match(await redisCli(["--user", "nc-alpha", "--pass", "beta-pw", "PING"]), /WRONGPASS/, "one tenant's password is not another's");
    // Re-running with a new password (a rotation) updates the user in place.
    assert.equal(cli(["exec", "-i", redis.id, "sh", "-s"], userScript("nc-beta", "beta-pw-2")).code, 0);
    assert.match(await redisCli(["--user", "nc-beta", "--pass", "beta-pw", "PING"]), /WRONGPASS/);
    // A restart (host reboot, container replaced on the same volume) keeps the users and the data.
    const restart = cli(["restart", "-t", "10", redis.id]);
    assert.equal(restart.code, 0, restart.stderr);
    await healthy(redis, 60_000);
    assert.equal(await redisCli([...alpha, "GET", "nc-alpha:s1"]), "v");
    assert.equal(await redisCli(["--user", "nc-beta", "--pass", "beta-pw-2", "PING"]), "PONG");
    assert.match(await redisCli(["PING"]), /NOAUTH/);
    // delete mode: the user goes, the others stay.
    const gone = cli(["exec", "-i", "-e", "FACTORY_REDIS_MODE=delete", redis.id, "sh", "-s"], userScript("nc-beta", "beta-pw-2"));
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(await redisCli(["--user", "nc-beta", "--pass", "beta-pw-2", "PING"]), /WRONGPASS/);
    assert.equal(await redisCli([...alpha, "PING"]), "PONG");
    const acl = (await exec(redis, ["cat", REDIS_PATHS.acl])).out;
    assert.ok(!acl.includes(adminPw) && !acl.includes("alpha-pw"), "the ACL file holds hashes only");
  });

  it("garage: /garage status answers (health check), the layout script applies once, the admin API reports healthy", async (t) => {
    if (!ready(t)) return;
    const toml = renderGarageToml({
      metadataDir: GARAGE_PATHS.meta, dataDir: GARAGE_PATHS.data, replicationFactor: 1,
      rpcBindAddr: `[::]:${PORTS.garageRpc}`, rpcPublicAddr: `127.0.0.1:${PORTS.garageRpc}`,
      s3ApiBindAddr: `[::]:${PORTS.garageS3}`, s3Region: "garage", webBindAddr: `[::]:${PORTS.garageWeb}`,
      webRootDomain: ".web.lab.test", adminApiBindAddr: `[::]:${PORTS.garageAdmin}`,
      rpcSecretFile: GARAGE_PATHS.rpcSecretFile, adminTokenFile: GARAGE_PATHS.adminTokenFile,
    });
    const garage = await run("lab-garage", {
      image: LAB_IMAGES.garage,
      volume: GARAGE_PATHS.root,
      uploads: [
        { file: GARAGE_PATHS.config, content: toml, permissions: "0644" },
        { file: GARAGE_PATHS.rpcSecretFile, content: "5d".repeat(32), permissions: "0600" },
        { file: GARAGE_PATHS.adminTokenFile, content: "lab-admin-token", permissions: "0600" },
      ],
      healthcheck: { tests: garageHealthTest(), interval: "2s", timeout: "5s", retries: 10, startPeriod: "10s" },
      memoryMb: SERVICE_LIMITS.garage.memoryMb,
      pids: SERVICE_LIMITS.garage.pids,
      ports: [PORTS.garageAdmin],
      alias: "garage",
    });
    await healthy(garage, 60_000);
    const script = renderGarageLayoutScript({ container: garage.name, zone: "lab", capacity: "1G" });
    const sh = (s: string) => spawnSync("sh", ["-c", s], { encoding: "utf8", env: { ...process.env, DOCKER_HOST: dockerd!.host } });
    const first = sh(script);
    assert.equal(first.status, 0, `${first.stdout}${first.stderr}`);
    assert.match(first.stdout, /layout .*has been applied/);
    const again = sh(script);
    assert.equal(again.status, 0, `${again.stdout}${again.stderr}`);
    assert.match(again.stdout, /garage layout already applied/);
    const res = await fetch(`http://127.0.0.1:${garage.port[PORTS.garageAdmin]}/health`);
    assert.equal(res.status, 200, await res.text());
  });

  it("caddy: caddy-security is built in; the program's start script serves the bootstrap 503 and the apply script loads a config", async (t) => {
    if (!ready(t)) return;
    const version = cli(["run", "--rm", LAB_IMAGES.caddy, "caddy", "version"]);
    assert.equal(version.code, 0, version.stderr);
    // The release images/versions.json pins (the lab image is the cached build of that release).
    assert.ok(version.stdout.startsWith(`v${VERSIONS.caddy} `), version.stdout);
    const security = cli(["run", "--rm", "--entrypoint", "/bin/sh", LAB_IMAGES.caddy, "-c", "caddy list-modules --versions | grep '^security '"]);
    assert.equal(security.stdout.trim(), `security v${VERSIONS.caddySecurity}`);
    const modules = cli(["run", "--rm", "--entrypoint", "/bin/sh", LAB_IMAGES.caddy, "-c", "caddy list-modules | grep security"]);
    assert.equal(modules.code, 0, modules.stderr);
    assert.match(modules.stdout, /^security$/m);

    // As CaddyEdge.caddyContainer (components/edge.ts): read-only root, tmpfs, every capability dropped but one.
    const caddy = await run("lab-caddy", {
      image: LAB_IMAGES.caddy,
      entrypoint: ["/bin/sh", "-c"],
      cmd: [renderStartScript({
        dir: EDGE_STATE_DIR,
        bootstrapConfig: renderBootstrapCaddyfile({ port: CADDY_PORTS.http, admin: `localhost:${CADDY_PORTS.admin}` }),
      })],
      readOnly: true,
      volumes: [{ name: "lab-caddy-data", target: "/data" }, { name: "lab-caddy-state", target: EDGE_STATE_DIR }],
      tmpfs: { "/tmp": "rw,size=16m", "/config": "rw,size=16m" },
      capDrop: ["ALL"],
      capAdd: ["NET_BIND_SERVICE"],
      ports: [CADDY_PORTS.http],
    });
    const url = `http://127.0.0.1:${caddy.port[CADDY_PORTS.http]}/`;
    let status = 0;
    for (let i = 0; i < 30 && status !== 503; i++) {
      // Bounded: a request docker-proxy accepts before Caddy listens in the container can stay unanswered
      // (seen with caddy 2.11.4, which starts a little later than 2.10.2).
      status = await fetch(url, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => 0);
      if (status !== 503) await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(status, 503, await logs(caddy));
    const config = `{\n\tadmin localhost:${CADDY_PORTS.admin}\n\tpersist_config off\n\tauto_https off\n}\n\n:${CADDY_PORTS.http} {\n\trespond "lab config" 200\n}\n`;
    const apply = await exec(caddy, ["/bin/sh", "-c", renderApplyScript({ dir: EDGE_STATE_DIR, admin: `localhost:${CADDY_PORTS.admin}` })], config);
    assert.equal(apply.code, 0, apply.out);
    assert.match(apply.out, /config validated and loaded/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "lab config");
  });

  it("keycloak: `start` with the uploaded keycloak.conf on a lab postgres gets healthy without rebuilding, and the bootstrap admin logs in", { timeout: 420_000 }, async (t) => {
    if (!ready(t)) return;
    const pgPassword = "lab-Postgres-pw-2";
    const pg = await run("lab-kc-postgres", { ...postgresShape(pgPassword), alias: "kc-postgres" });
    await healthy(pg, 120_000);
    const dbPassword = "lab-keycloak-db-pw";
    // What the program's postgresql provider does: role, database owned by it, public revoked.
    const db = psql(pg.port[PORTS.postgres], pgPassword, [
      `create role ${KEYCLOAK_DATABASE} login password '${dbPassword}' connection limit 100`,
      `create database ${KEYCLOAK_DATABASE} owner ${KEYCLOAK_DATABASE} template template0 encoding 'UTF8'`,
      `revoke all on database ${KEYCLOAK_DATABASE} from public`,
    ]);
    assert.equal(db.status, 0, db.out);
    const adminPassword = "lab-keycloak-admin-pw";
    const conf = renderKeycloakConf({
      dbUrl: keycloakJdbcUrl("kc-postgres", PORTS.postgres, KEYCLOAK_DATABASE),
      dbUsername: KEYCLOAK_DATABASE, dbPassword, hostname: "http://127.0.0.1:8080",
      adminUsername: KEYCLOAK_ADMIN_USER, adminPassword,
    });
    const kc = await run("lab-keycloak", {
      image: LAB_IMAGES.keycloak,
      volume: "/opt/keycloak/data",
      cmd: ["start"],
      uploads: [{ file: KEYCLOAK_CONF, content: conf, owner: "1000", group: "0", permissions: "0400" }],
      healthcheck: { tests: keycloakHealthTest(), interval: "5s", timeout: "5s", retries: 6, startPeriod: "120s" },
      memoryMb: SERVICE_LIMITS.keycloak.memoryMb,
      pids: SERVICE_LIMITS.keycloak.pids,
      ports: [PORTS.keycloak],
      alias: "keycloak",
    });
    const ms = await healthy(kc, 360_000);
    t.diagnostic(`keycloak healthy after ${Math.round(ms / 1000)} s`);
    const log = cli(["logs", kc.id]).stdout;
    assert.doesNotMatch(log, /Changes detected in configuration|Updating the server image|Quarkus augmentation/,
      "kc.sh start rebuilt the server: the build options in scripts/lab/lab-images.sh (KEYCLOAK_BUILD_OPTS) no longer match renderKeycloakConf");
    const token = await fetch(`http://127.0.0.1:${kc.port[PORTS.keycloak]}/realms/master/protocol/openid-connect/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: KEYCLOAK_ADMIN_USER, password: adminPassword }),
    });
    const body = await token.text();
    assert.equal(token.status, 200, body);
    assert.ok((JSON.parse(body) as { access_token?: string }).access_token, body);
  });

  it("mariadb: the WordPress database and user from the *_FILE secrets, root password set, wrong password refused", async (t) => {
    if (!ready(t)) return;
    const dir = "/run/secrets/mariadb";
    const db = await run("lab-mariadb", {
      image: LAB_IMAGES.mariadb,
      env: [
        "MARIADB_DATABASE=wordpress", "MARIADB_USER=wordpress", `MARIADB_PASSWORD_FILE=${dir}/password`,
        `MARIADB_ROOT_PASSWORD_FILE=${dir}/root_password`, "MARIADB_AUTO_UPGRADE=1",
      ],
      uploads: [
        { file: `${dir}/password`, content: "labWordpressDb1", permissions: "0444" },
        { file: `${dir}/root_password`, content: "labMariadbRoot1", permissions: "0444" },
      ],
      volumes: [{ name: "lab-mariadb-data", target: "/var/lib/mysql" }],
      alias: "mariadb",
    });
    const sql = (user: string, pw: string, q: string) => exec(db, ["mariadb", "-h", "127.0.0.1", `-u${user}`, `-p${pw}`, "-N", "-e", q]);
    let ok: { code: number | null; out: string } = { code: 1, out: "" };
    for (let i = 0; i < 60 && ok.code !== 0; i++) {
      ok = await sql("wordpress", "labWordpressDb1", "select database() from dual; use wordpress; select current_user()");
      if (ok.code !== 0) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(ok.code, 0, `${ok.out}\n${await logs(db)}`);
    assert.match(ok.out, /wordpress@%/);
    const root = await sql("root", "labMariadbRoot1", "show databases");
    assert.equal(root.code, 0, root.out);
    assert.match(root.out, /^wordpress$/m);
    const bad = await sql("wordpress", "wrong-password", "select 1");
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /Access denied/);
  });

  it("toolbox: busybox sh and the applets maintenance commands use", async (t) => {
    if (!ready(t)) return;
    const r = cli(["run", "--rm", LAB_IMAGES.toolbox, "sh", "-c",
      "set -e; echo x > /tmp/f; cat /tmp/f; sha256sum /tmp/f | cut -c1-8; tar -cf /tmp/a.tar -C /tmp f; wget --help 2>&1 | head -1"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines[0], "x");
    assert.equal(lines[1], "73cb3858"); // sha256 of "x\n"
    assert.match(lines[2], /^BusyBox v1\.35/);
  });
});
