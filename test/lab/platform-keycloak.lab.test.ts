// Lab: Keycloak started the way the platform starts it — `kc.sh start` reading the keycloak.conf that
// renderKeycloakConf writes (PostgreSQL database, bootstrap admin, health on the management port, dynamic
// back-channel) — against a real PostgreSQL holding the role and database SharedServices creates (PUBLIC
// stripped of CONNECT/TEMP). Then what the platform relies on: the bash health probe turns green, and the
// keycloak provider's login (admin-cli, password grant on the private address) reaches the admin API.
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { KEYCLOAK_CONF, keycloakJdbcUrl, renderHttpProbe, renderKeycloakConf } from "../../src/platform/render";
import { KEYCLOAK_ADMIN_USER, KEYCLOAK_DATABASE } from "../../src/platform/services";
import { freePort, KEYCLOAK_HOME, keycloakSkipReason } from "./support/keycloak";
import { postgresUnavailable, PostgresServer, startPostgres } from "../../scripts/lab/postgres";
import { quoteLiteral } from "../../src/quote";

const pgUnavailable = postgresUnavailable();
if (pgUnavailable && process.env.CI) throw new Error(pgUnavailable);
const skip = keycloakSkipReason() ?? pgUnavailable ?? false;

function probe(port: number, p: string): Promise<number | null> {
  return new Promise((resolve) => spawn("bash", ["-c", renderHttpProbe(port, p)], { stdio: "ignore" }).on("close", resolve));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Keycloak from the rendered keycloak.conf on a real PostgreSQL", { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-platform-kc-"));
  let pg: PostgresServer | undefined;
  const dbPassword = `db\\${randomBytes(12).toString("base64url")}`; // a backslash: the conf escapes it
  const adminPassword = randomBytes(15).toString("base64url");
  let pgPort = 0;
  let port = 0;
  let mgmtPort = 0;
  let child: ChildProcess | undefined;
  let exited: number | null | undefined;
  const logFile = path.join(dir, "keycloak.log");
  const tail = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-4000) : "");

  before(async () => {
    // PostgreSQL with Keycloak's role and database as the program creates them.
    // TLS on, as the deployed server has it: Keycloak's JDBC URL requires it (sslmode=require).
    pg = await startPostgres({ ssl: true });
    pgPort = pg.port;
    const admin = new Client({ host: "127.0.0.1", port: pgPort, user: "postgres", password: pg.adminPassword, database: "postgres" });
    await admin.connect();
    await admin.query(`CREATE ROLE ${KEYCLOAK_DATABASE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT 100 PASSWORD ${quoteLiteral(dbPassword)}`);
    await admin.query(`CREATE DATABASE ${KEYCLOAK_DATABASE} OWNER ${KEYCLOAK_DATABASE} TEMPLATE template0 ENCODING 'UTF8'`);
    await admin.query(`REVOKE ALL ON DATABASE ${KEYCLOAK_DATABASE} FROM PUBLIC`);
    await admin.end();

    // A private copy of the distribution with the rendered configuration file in place.
    const home = path.join(dir, "dist");
    fs.cpSync(KEYCLOAK_HOME, home, { recursive: true });
    fs.rmSync(path.join(home, "data"), { recursive: true, force: true });
    const conf = renderKeycloakConf({
      dbUrl: keycloakJdbcUrl("127.0.0.1", pgPort, KEYCLOAK_DATABASE),
      dbUsername: KEYCLOAK_DATABASE,
      dbPassword,
      hostname: "https://auth.lab.test",
      adminUsername: KEYCLOAK_ADMIN_USER,
      adminPassword,
    });
    fs.writeFileSync(path.join(home, "conf", path.basename(KEYCLOAK_CONF)), conf, { mode: 0o600 });
    port = await freePort();
    mgmtPort = await freePort();
    // Only the listeners move (free loopback ports); everything else comes from keycloak.conf.
    const watchdog = [
      '"$KC_SH" start --http-host=127.0.0.1 --http-port="$SF_PORT" --http-management-port="$SF_MGMT" &',
      "kc=$!",
      'while kill -0 "$SF_PARENT" 2>/dev/null && kill -0 "$kc" 2>/dev/null; do sleep 1; done',
      'kill "$kc" 2>/dev/null; wait "$kc"',
    ].join("\n");
    const log = fs.openSync(logFile, "a");
    const env: NodeJS.ProcessEnv = { ...process.env, KC_SH: path.join(home, "bin", "kc.sh"), SF_PORT: String(port), SF_MGMT: String(mgmtPort), SF_PARENT: String(process.pid), JAVA_OPTS_APPEND: `-Djava.io.tmpdir=${dir}` };
    for (const k of Object.keys(env)) if (k.startsWith("KC_") && k !== "KC_SH") delete env[k];
    child = spawn("bash", ["-c", watchdog], { cwd: dir, detached: true, stdio: ["ignore", log, log], env });
    fs.closeSync(log);
    child.once("exit", (code) => (exited = code));
  });

  after(async () => {
    if (child?.pid && exited === undefined) {
      try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ }
      for (let i = 0; i < 150 && exited === undefined; i++) await sleep(100);
      try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
    }
    pg?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("becomes ready by the container's health probe (the server builds for PostgreSQL on first start)", async () => {
    // Docker's health check loop, bounded as a safety net, not a measured threshold.
    for (let i = 0; ; i++) {
      if (exited !== undefined) assert.fail(`Keycloak exited (${exited}):\n${tail()}`);
      if ((await probe(mgmtPort, "/health/ready")) === 0) break;
      if (i > 600) assert.fail(`Keycloak never became ready:\n${tail()}`);
      await sleep(1000);
    }
    assert.notEqual(await probe(mgmtPort, "/health/nonexistent"), 0);
  });

  it("stores its schema in the keycloak database, owned by the keycloak role", async () => {
    const c = new Client({ host: "127.0.0.1", port: pgPort, user: "postgres", password: pg!.adminPassword, database: KEYCLOAK_DATABASE });
    await c.connect();
    try {
      const r = await c.query<{ owner: string; n: string }>(
        "SELECT tableowner AS owner, count(*)::text AS n FROM pg_tables WHERE schemaname = 'public' GROUP BY tableowner");
      assert.deepEqual(r.rows.map((x) => x.owner), [KEYCLOAK_DATABASE]);
      assert.ok(Number(r.rows[0].n) > 50, "Keycloak created its tables");
    } finally {
      await c.end();
    }
  });

  it("lets the provider log in as the bootstrap admin on the private address and use the admin API", async () => {
    const base = `http://127.0.0.1:${port}`;
    const tok = await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: KEYCLOAK_ADMIN_USER, password: adminPassword }),
    });
    assert.equal(tok.status, 200, await tok.clone().text());
    const { access_token } = (await tok.json()) as { access_token: string };
    const realm = await fetch(`${base}/admin/realms/master`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(realm.status, 200);
    // Browsers are sent to the public hostname, not the private address.
    const disc = (await (await fetch(`${base}/realms/master/.well-known/openid-configuration`, { headers: { host: "auth.lab.test" } })).json()) as { authorization_endpoint: string };
    assert.match(disc.authorization_endpoint, /^https:\/\/auth\.lab\.test\/realms\/master\//);
    const wrong = await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: KEYCLOAK_ADMIN_USER, password: "wrong" }),
    });
    assert.equal(wrong.status, 401);
  });

  it("accepts every key of keycloak.conf (no unknown option, no error) and runs a local cache (no JGroups)", () => {
    const log = fs.readFileSync(logFile, "utf8");
    assert.doesNotMatch(log, /unknown option|unrecognized|UNAVAILABLE|not recognized|\sERROR\s+\[|JGroups/i, log.slice(-4000));
    if (process.env.SF_KEEP_KC_LOG) fs.copyFileSync(logFile, process.env.SF_KEEP_KC_LOG);
  });
});
