// Lab: a real PostgreSQL 15 (Debian) on 127.0.0.1, a free port and a temp dir. Applies the SQL the
// TenantDatabase component amounts to for two tenants, proves the audit is clean and that a tenant role
// really cannot connect to the other tenant's database, then introduces each isolation breach one at a
// time and proves `npm run audit:postgres` (scripts/audit-postgres.ts) catches it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { Finding } from "../../src/postgres/audit";
import { renderTenantDatabaseSql, tenantDatabaseSpec } from "../../src/postgres/tenantDatabase";
import { tenantDatabaseName } from "../../src/postgres/names";
import { freePort } from "../../scripts/lab/net";
import { postgresUnavailable, PostgresServer, startPostgres } from "../../scripts/lab/postgres";

const ROOT = path.resolve(__dirname, "../..");
const A = tenantDatabaseName("alpha", "nextcloud");
const B = tenantDatabaseName("beta-asso", "nextcloud");
const PW: Record<string, string> = { [A]: "alpha-pw-1", [B]: "beta-pw-2" };

const unavailable = postgresUnavailable();
if (unavailable && process.env.CI) throw new Error(unavailable);
const skip = unavailable ?? false;

describe("audit:postgres against a real PostgreSQL", { skip }, () => {
  let pg: PostgresServer | undefined;
  let port = 0;
  let admin: Client;

  const audit = (extra: string[] = [], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/audit-postgres.ts"), "--json", ...extra], {
      cwd: ROOT, encoding: "utf8",
      env: { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: "postgres", PGPASSWORD: pg!.adminPassword, PGSSLMODE: "disable", ...env },
    });
    const json = r.stdout ? JSON.parse(r.stdout) as { ok: boolean; findings?: Finding[]; error?: string } : undefined;
    return { status: r.status, json, stderr: r.stderr };
  };
  /** Runs the audit and returns the sorted "kind role database" of each finding. */
  const findings = (extra: string[] = []) => {
    const r = audit(extra);
    assert.ok(r.json, `audit printed JSON (stderr: ${r.stderr})`);
    const list = (r.json.findings ?? []).map((f) => `${f.kind} ${f.role ?? "-"} ${f.database ?? "-"}`).sort();
    assert.equal(r.status, list.length === 0 ? 0 : 1, `exit status matches findings: ${list.join("; ")} ${r.stderr}`);
    return list;
  };
  const sql = async (...stmts: string[]) => { for (const s of stmts) await admin.query(s); };
  const connectAs = async (role: string, database: string) => {
    const c = new Client({ host: "127.0.0.1", port, user: role, password: PW[role], database, ssl: false });
    try {
      await c.connect();
      const r = await c.query<{ u: string; d: string }>("SELECT current_user AS u, current_database() AS d");
      return `${r.rows[0].u}@${r.rows[0].d}`;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  before(async () => {
    pg = await startPostgres();
    port = pg.port;
    admin = new Client({ host: "127.0.0.1", port, user: "postgres", password: pg.adminPassword, database: "postgres", ssl: false });
    await admin.connect();
    for (const name of [A, B]) await sql(...renderTenantDatabaseSql(tenantDatabaseSpec(name), PW[name]));
  });

  after(async () => {
    await admin?.end().catch(() => undefined);
    pg?.stop();
  });

  it("a setup made of the component's SQL is clean (exit 0)", () => {
    const r = audit();
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json, { ok: true, checked: { databases: 2, roles: 2 }, findings: [] });
  });

  it("a tenant role connects to its own database and is refused on the other tenant's", async () => {
    assert.equal(await connectAs(A, A), `${A}@${A}`);
    assert.equal(await connectAs(B, B), `${B}@${B}`);
    await assert.rejects(connectAs(A, B), (e: Error & { code?: string }) => e.code === "42501" && /permission denied for database/.test(e.message));
    await assert.rejects(connectAs(B, A), (e: Error & { code?: string }) => e.code === "42501");
  });

  it("catches a database not owned by its tenant role", async () => {
    await sql(`ALTER DATABASE "${B}" OWNER TO postgres`);
    try {
      assert.deepEqual(findings(), [`owner ${B} ${B}`]);
    } finally {
      await sql(`ALTER DATABASE "${B}" OWNER TO "${B}"`);
    }
    assert.deepEqual(findings(), []);
  });

  it("catches PUBLIC holding CONNECT (and the cross-tenant connection it opens, really)", async () => {
    await sql(`GRANT CONNECT ON DATABASE "${B}" TO PUBLIC`);
    try {
      assert.deepEqual(findings(), [`cross-connect ${A} ${B}`, `public-connect - ${B}`]);
      assert.equal(await connectAs(A, B), `${A}@${B}`); // the breach is real, not a catalog artefact
    } finally {
      await sql(`REVOKE CONNECT ON DATABASE "${B}" FROM PUBLIC`);
    }
    assert.deepEqual(findings(), []);
  });

  it("catches PUBLIC holding TEMPORARY", async () => {
    await sql(`GRANT TEMPORARY ON DATABASE "${A}" TO PUBLIC`);
    try {
      assert.deepEqual(findings(), [`public-temp - ${A}`]);
    } finally {
      await sql(`REVOKE TEMPORARY ON DATABASE "${A}" FROM PUBLIC`);
    }
  });

  it("catches a tenant role granted CONNECT on another tenant's database", async () => {
    await sql(`GRANT CONNECT ON DATABASE "${A}" TO "${B}"`);
    try {
      assert.deepEqual(findings(), [`cross-connect ${B} ${A}`]);
    } finally {
      await sql(`REVOKE CONNECT ON DATABASE "${A}" FROM "${B}"`);
    }
  });

  it("catches a tenant role made a member of another tenant's role", async () => {
    await sql(`GRANT "${B}" TO "${A}"`);
    try {
      assert.deepEqual(findings(), [`cross-connect ${A} ${B}`, `membership ${A} -`]);
    } finally {
      await sql(`REVOKE "${B}" FROM "${A}"`);
    }
  });

  for (const [attr, undo, extra] of [
    ["SUPERUSER", "NOSUPERUSER", [`cross-connect ${A} ${B}`]],
    ["CREATEDB", "NOCREATEDB", []],
    ["CREATEROLE", "NOCREATEROLE", []],
    ["REPLICATION", "NOREPLICATION", []],
    ["BYPASSRLS", "NOBYPASSRLS", []],
  ] as const) {
    it(`catches a tenant role with ${attr}`, async () => {
      await sql(`ALTER ROLE "${A}" ${attr}`);
      try {
        assert.deepEqual(findings(), [...extra, `role-attribute ${A} -`].sort());
      } finally {
        await sql(`ALTER ROLE "${A}" ${undo}`);
      }
    });
  }

  it("catches a privileged role that is neither the bootstrap superuser, the provisioning role nor a tenant's", async () => {
    await sql("CREATE ROLE ops LOGIN SUPERUSER", "CREATE ROLE etl NOLOGIN BYPASSRLS CREATEDB");
    try {
      assert.deepEqual(findings(), ["privileged-role etl -", "privileged-role ops -"]);
    } finally {
      await sql("DROP ROLE ops", "DROP ROLE etl");
    }
    assert.deepEqual(findings(), []);
  });

  it("catches a tenant role without a connection limit", async () => {
    await sql(`ALTER ROLE "${B}" CONNECTION LIMIT -1`);
    try {
      assert.deepEqual(findings(), [`connection-limit ${B} -`]);
    } finally {
      await sql(`ALTER ROLE "${B}" CONNECTION LIMIT 20`);
    }
  });

  it("catches a database created outside the convention; --platform-db exempts only its ownership", async () => {
    await sql(`CREATE DATABASE rogue`);
    try {
      assert.deepEqual(findings(), [
        `cross-connect ${A} rogue`, `cross-connect ${B} rogue`, "owner - rogue", "public-connect - rogue", "public-temp - rogue",
      ]);
      assert.deepEqual(findings(["--platform-db", "rogue"]), [
        `cross-connect ${A} rogue`, `cross-connect ${B} rogue`, "public-connect - rogue", "public-temp - rogue",
      ]);
      await sql(`REVOKE ALL ON DATABASE rogue FROM PUBLIC`);
      assert.deepEqual(findings(["--platform-db", "rogue"]), []);
      assert.deepEqual(findings(), ["owner - rogue"]);
    } finally {
      await sql(`DROP DATABASE rogue`);
    }
    assert.deepEqual(findings(), []);
  });

  it("exits 2 when it cannot connect or authenticate", async () => {
    const closed = await freePort();
    const r1 = audit([], { PGPORT: String(closed) });
    assert.equal(r1.status, 2);
    assert.equal(r1.json?.ok, false);
    const r2 = audit([], { PGPASSWORD: "wrong" });
    assert.equal(r2.status, 2);
    assert.match(r2.json?.error ?? "", /password authentication failed/);
    assert.ok(!(r2.stderr + JSON.stringify(r2.json)).includes(pg!.adminPassword), "the admin password is never printed");
    const r3 = audit(["--password", "x"]);
    assert.equal(r3.status, 2);
  });
});
