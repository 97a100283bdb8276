// Lab, real engine: `pulumi up` with the real postgresql provider plugin of the provisioning role and two
// tenant databases (scripts/lab/provisioner-program: the components Platform and NextcloudInstance use)
// against a real PostgreSQL over TLS, once on Debian's 15 and once on 16.4 (the stacks' pin), then checked
// from outside with psql and pg: the role's attributes, who owns what, who reaches what, what CREATEROLE
// allows on each major, that the audit catches the role acting as a tenant, and that a second `up` and a
// refresh change nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { diagnostics, findEngine, must, Project, makeProject, RunResult } from "../../scripts/lab/engine";
import { PG_BIN, PG16_BIN, postgresUnavailable, PostgresServer, startPostgres } from "../../scripts/lab/postgres";
import { Finding } from "../../src/postgres/audit";
import { tenantDatabaseName } from "../../src/postgres/names";
import { PROVISIONER_ADOPTION_SQL, PROVISIONER_ROLE } from "../../src/postgres/provisioner";

const ROOT = path.resolve(__dirname, "../..");
const STACK = "lab";
const A = tenantDatabaseName("alpha", "nextcloud");
const B = tenantDatabaseName("bravo", "nextcloud");
const C = tenantDatabaseName("charlie", "nextcloud");
const PULUMI_YAML = [
  "name: service-factory",
  "main: scripts/lab/provisioner-program/",
  "runtime:",
  "  name: nodejs",
  "  options:",
  "    typescript: true",
  // Relative to the program's folder; transpile only, as for the factory (tsc --strict checks it).
  "    tsconfig: ../../../tsconfig.pulumi.json",
  "",
].join("\n");
/** Resources of the program for n tenants: stack, lab component, superuser provider, provisioner (component, password, role), tenants' provider, and 7 per tenant database. */
const resourcesFor = (n: number) => 7 + 7 * n;

const engine = findEngine();
if (postgresUnavailable(PG_BIN) && process.env.CI) throw new Error(postgresUnavailable(PG_BIN));

for (const server of [{ label: "15 (Debian)", bin: PG_BIN }, { label: "16.4", bin: PG16_BIN }]) {
  const skip = (typeof engine === "string" ? engine : postgresUnavailable(server.bin)) ?? false;

  describe(`the provisioning role on PostgreSQL ${server.label}, deployed by the real engine`, { skip }, () => {
    let pg: PostgresServer;
    let project: Project;
    let admin: Client;
    let major = 0;
    let firstUp: RunResult;
    let provisioner: { username: string; password: string };
    let tenants: Record<string, string>;
    const env = (slugs: string[]) => ({ SF_PGLAB_PORT: String(pg.port), SF_PGLAB_ADMIN_PASSWORD: pg.adminPassword, SF_PGLAB_TENANTS: slugs.join(",") });

    const up = async (slugs: string[]) => {
      const r = await project.run(["up", "--yes", "--skip-preview", "--stack", STACK], { env: env(slugs) });
      assert.equal(r.code, 0, `pulumi up failed:\n${diagnostics(r)}`);
      return r;
    };
    const output = async <T>(name: string): Promise<T> =>
      JSON.parse((await must(project.run(["stack", "output", name, "--stack", STACK, "--show-secrets", "--json"]))).stdout) as T;
    const client = async (user: string, password: string, database: string) => {
      const c = new Client({ host: "127.0.0.1", port: pg.port, user, password, database, ssl: { rejectUnauthorized: false } });
      await c.connect();
      return c;
    };
    /** Runs f connected as `user`; the connection is always closed. */
    const as = async <T>(user: string, password: string, database: string, f: (c: Client) => Promise<T>): Promise<T> => {
      const c = await client(user, password, database);
      try { return await f(c); } finally { await c.end().catch(() => undefined); }
    };
    const refused = (e: Error & { code?: string }) => e.code === "42501";
    const psql = (user: string, password: string, database: string, sql: string) => spawnSync("psql", [
      "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, `host=127.0.0.1 port=${pg.port} user=${user} dbname=${database} sslmode=require`,
    ], { encoding: "utf8", env: { ...process.env, PGPASSWORD: password } });
    const audit = () => {
      const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/audit-postgres.ts"), "--json", "--platform-db", "keycloak"], {
        cwd: ROOT, encoding: "utf8",
        env: { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "postgres", PGPASSWORD: pg.adminPassword, PGSSLMODE: "no-verify" },
      });
      return { status: r.status, json: JSON.parse(r.stdout || "{}") as { ok?: boolean; findings?: Finding[] }, stderr: r.stderr };
    };

    before(async () => {
      if (typeof engine === "string") throw new Error(engine);
      pg = await startPostgres({ ssl: true, bin: server.bin });
      admin = new Client({ host: "127.0.0.1", port: pg.port, user: "postgres", password: pg.adminPassword, database: "postgres", ssl: { rejectUnauthorized: false } });
      await admin.connect();
      major = Math.floor(Number((await admin.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0].v) / 10000);
      // A platform database as SharedServices makes Keycloak's: its own role, PUBLIC stripped, some data.
      await admin.query("CREATE ROLE keycloak LOGIN PASSWORD 'kc-lab-pw' CONNECTION LIMIT 100");
      await admin.query("CREATE DATABASE keycloak OWNER keycloak TEMPLATE template0");
      await admin.query("REVOKE ALL ON DATABASE keycloak FROM PUBLIC");
      await as("keycloak", "kc-lab-pw", "keycloak", (c) => c.query("CREATE TABLE realm_secret (v text); INSERT INTO realm_secret VALUES ('kc-data')"));
      project = makeProject(engine, { name: `pg${major}-provisioner`, files: { "Pulumi.yaml": PULUMI_YAML } });
      await must(project.run(["stack", "init", STACK]));
      firstUp = await up(["alpha", "bravo"]);
      provisioner = await output("provisionerLogin");
      tenants = await output("tenantLogins");
    });

    after(async () => {
      await admin?.end().catch(() => undefined);
      pg?.stop();
      project?.remove();
    });

    it(`the server is the major it says (${server.label})`, () => {
      assert.equal(major, server.bin === PG16_BIN ? 16 : 15);
    });

    it("the first pulumi up creates the role, its provider and two tenant databases, nothing else", () => {
      assert.match(firstUp.stdout, new RegExp(`\\+ ${resourcesFor(2)} created`), firstUp.stdout.slice(-1500));
      assert.deepEqual(Object.keys(tenants).sort(), [A, B]);
      assert.equal(provisioner.username, PROVISIONER_ROLE);
    });

    it("the provisioning role is LOGIN CREATEDB CREATEROLE NOINHERIT, no superuser, replication or RLS bypass, and protected", async () => {
      const r = (await admin.query("SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit, rolconnlimit FROM pg_roles WHERE rolname = $1", [PROVISIONER_ROLE])).rows;
      assert.deepEqual(r, [{ rolcanlogin: true, rolsuper: false, rolcreatedb: true, rolcreaterole: true, rolreplication: false, rolbypassrls: false, rolinherit: false, rolconnlimit: 40 }]);
      const state = JSON.parse((await must(project.run(["stack", "export", "--stack", STACK]))).stdout) as { deployment: { resources: { urn: string; protect?: boolean }[] } };
      const protectedNames = state.deployment.resources.filter((x) => x.protect).map((x) => x.urn.split("::").pop()).sort();
      assert.deepEqual(protectedNames, [
        "alpha-nextcloud-db-db", "alpha-nextcloud-db-password", "alpha-nextcloud-db-role",
        "bravo-nextcloud-db-db", "bravo-nextcloud-db-password", "bravo-nextcloud-db-role",
        "lab-postgres-provisioner-password", "lab-postgres-provisioner-role",
      ]);
    });

    it("each tenant database is owned by its tenant role, PUBLIC holds nothing on it, and the audit is clean", async () => {
      const dbs = (await admin.query("SELECT datname, pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database WHERE datname = ANY($1) ORDER BY 1", [[A, B]])).rows;
      assert.deepEqual(dbs, [
        { datname: A, owner: A, acl: `{${A}=CTc/${A}}` },
        { datname: B, owner: B, acl: `{${B}=CTc/${B}}` },
      ]);
      const r = audit();
      assert.equal(r.status, 0, `${JSON.stringify(r.json)} ${r.stderr}`);
    });

    it("a tenant reaches its own database with psql and works in it; the other tenant is refused", () => {
      const own = psql(A, tenants[A], A, "CREATE TABLE notes (v text); INSERT INTO notes VALUES ('alpha-private'); SELECT current_user || '@' || current_database() || ' ' || v FROM notes");
      assert.equal(own.status, 0, own.stderr);
      assert.equal(own.stdout.trim().split("\n").pop(), `${A}@${A} alpha-private`);
      const other = psql(B, tenants[B], A, "SELECT 1");
      assert.notEqual(other.status, 0);
      assert.match(other.stderr, /permission denied for database "nextcloud_alpha"/);
    });

    it("the provisioning role is no superuser and reaches no tenant's data nor the platform's", async () => {
      await as(provisioner.username, provisioner.password, "postgres", async (c) => {
        assert.deepEqual((await c.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).rows, [{ rolsuper: false }]);
        await assert.rejects(c.query(`SET ROLE ${A}`), refused, "it cannot act as a tenant");
        await assert.rejects(c.query("SELECT pg_read_file('PG_VERSION')"), refused, "no server file access");
      });
      for (const db of [A, B, "keycloak"]) {
        await assert.rejects(client(provisioner.username, provisioner.password, db), refused, `no CONNECT on ${db}`);
      }
      // What PostgreSQL records of the role's memberships: on 16, ADMIN OPTION only on the roles it created
      // (so it can alter them later, and nothing else); on 15, none (the provider revoked its temporary one).
      const rows = (await admin.query(`SELECT g.rolname AS role, a.admin_option AS admin, to_jsonb(a) ->> 'inherit_option' AS inherit, to_jsonb(a) ->> 'set_option' AS set
          FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid WHERE a.member = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY 1`, [PROVISIONER_ROLE])).rows;
      assert.deepEqual(rows, major >= 16
        ? [{ role: A, admin: true, inherit: "false", set: "false" }, { role: B, admin: true, inherit: "false", set: "false" }]
        : []);
    });

    it(server.bin === PG16_BIN
      ? "CREATEROLE on 16: no predefined role, no platform role, no other role's password"
      : "CREATEROLE on 15 is almost superuser: it can grant itself pg_execute_server_program or the platform's role (each rolled back)", async () => {
      const attempts = [
        `GRANT pg_execute_server_program TO ${PROVISIONER_ROLE}`,
        `GRANT pg_read_all_data TO ${PROVISIONER_ROLE}`,
        `GRANT keycloak TO ${PROVISIONER_ROLE}`,
        "ALTER ROLE keycloak PASSWORD 'taken-over'",
      ];
      await as(provisioner.username, provisioner.password, "postgres", async (c) => {
        for (const sql of attempts) {
          await c.query("BEGIN");
          try {
            if (major >= 16) await assert.rejects(c.query(sql), refused, sql);
            else await c.query(sql); // succeeds: the reason the docs ask for 16
          } finally {
            await c.query("ROLLBACK");
          }
        }
      });
      assert.equal(audit().status, 0, "nothing was left behind");
    });

    it("the audit catches the provisioning role made a member of a tenant role, and is clean once it is revoked", async () => {
      await as(provisioner.username, provisioner.password, "postgres", (c) => c.query(`GRANT ${A} TO ${PROVISIONER_ROLE}`));
      try {
        const r = audit();
        assert.equal(r.status, 1);
        assert.deepEqual(r.json.findings?.map((f) => `${f.kind}: ${f.message}`), [`provisioner: the provisioning role ${PROVISIONER_ROLE} can act as tenant role ${A} (SET)`]);
      } finally {
        await as(provisioner.username, provisioner.password, "postgres", (c) => c.query(`REVOKE ${A} FROM ${PROVISIONER_ROLE}`));
      }
      assert.equal(audit().status, 0);
    });

    it("a second pulumi up changes nothing, nor does a refresh (16's ADMIN memberships are not revoked)", async () => {
      const again = await up(["alpha", "bravo"]);
      assert.match(again.stdout, new RegExp(`${resourcesFor(2)} unchanged`));
      assert.doesNotMatch(again.stdout, /\d+ (created|updated|replaced|deleted)/);
      await must(project.run(["refresh", "--yes", "--skip-preview", "--stack", STACK], { env: env(["alpha", "bravo"]) }));
      const preview = await project.run(["preview", "--stack", STACK, "--expect-no-changes", "--diff"], { env: env(["alpha", "bravo"]) });
      assert.equal(preview.code, 0, `changes after a refresh:\n${preview.stdout.slice(-3000)}`);
    });

    it("a new tenant gets only its own resources, created as the provisioning role", async () => {
      const r = await up(["alpha", "bravo", "charlie"]);
      assert.match(r.stdout, /\+ 7 created/);
      assert.match(r.stdout, new RegExp(`${resourcesFor(2)} unchanged`));
      const owner = (await admin.query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1", [C])).rows;
      assert.deepEqual(owner, [{ owner: C }]);
      assert.equal(audit().status, 0);
    });

    it("a tenant role made by the superuser (a stack older than the role) is adopted by the documented script", async () => {
      const legacy = "nextcloud_legacy";
      await admin.query(`CREATE ROLE ${legacy} LOGIN PASSWORD 'legacy-pw' CONNECTION LIMIT 20`);
      await admin.query(`CREATE DATABASE ${legacy} OWNER ${legacy} TEMPLATE template0`);
      await admin.query(`REVOKE ALL ON DATABASE ${legacy} FROM PUBLIC`);
      const alter = () => as(provisioner.username, provisioner.password, "postgres", (c) => c.query(`ALTER ROLE ${legacy} CONNECTION LIMIT 21`));
      if (major >= 16) {
        await assert.rejects(alter(), refused, "16: not the provisioning role's to alter");
        const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", `host=127.0.0.1 port=${pg.port} user=postgres dbname=postgres sslmode=require`], {
          input: PROVISIONER_ADOPTION_SQL, encoding: "utf8", env: { ...process.env, PGPASSWORD: pg.adminPassword },
        });
        assert.equal(r.status, 0, r.stderr);
      }
      // 15: CREATEROLE alters any non-superuser role, no adoption needed (nor possible: no INHERIT/SET options).
      await alter();
      await as(provisioner.username, provisioner.password, "postgres", (c) => assert.rejects(c.query(`SET ROLE ${legacy}`), refused));
      assert.equal(audit().status, 0, JSON.stringify(audit().json));
    });

    it("no password in plain text in the state or the CLI's output", async () => {
      const state = (await must(project.run(["stack", "export", "--stack", STACK]))).stdout;
      assert.ok(state.includes("ciphertext"));
      tenants = await output("tenantLogins");
      for (const [what, value] of [["superuser", pg.adminPassword], ["provisioning role", provisioner.password], ...Object.entries(tenants)]) {
        assert.ok(!state.includes(value), `${what}'s password in plain text in the state`);
        assert.ok(!firstUp.stdout.includes(value) && !firstUp.stderr.includes(value), `${what}'s password in the CLI's output`);
      }
    });
  });
}
