import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as postgresql from "@pulumi/postgresql";
import { TenantDatabase } from "../components/tenantDatabase";
import { TenantPostgresProvider } from "../components/postgresProvisioner";
import { RecordedResource, runUnderMocks, SECRET_MARK } from "../program/harness";
import { checkTenantDatabaseName, tenantDatabaseName } from "../src/postgres/names";
import { quoteIdent, quoteLiteral } from "../src/quote";
import { renderTenantDatabaseSql, tenantDatabaseSpec } from "../src/postgres/tenantDatabase";

/** What Platform.postgres is: the provisioning role's provider, carrying the server's address. */
const tenantsProvider = () => new TenantPostgresProvider("pg", {
  server: { host: "10.0.0.5", port: 5432, sslmode: "require", connectTimeout: 15 },
  login: { username: "factory_provisioner", password: "provisioner-pw" },
});

async function run(connectionLimit?: number): Promise<RecordedResource[]> {
  const { resources } = await runUnderMocks({
    stack: "staging",
    program: () => {
      const provider = tenantsProvider();
      const db = new TenantDatabase("asso-exemple-nextcloud-db", { tenant: "asso-exemple", name: "nextcloud_asso_exemple", provider, connectionLimit });
      return { role: db.roleName, database: db.databaseName, password: db.password };
    },
  });
  return resources;
}

describe("TenantDatabase component", () => {
  it("registers exactly a password, a role, a database, the owner's provider and two grants, all under the component", async () => {
    const rs = await run();
    const comp = rs.filter((r) => r.type === "factory:postgres:TenantDatabase");
    assert.equal(comp.length, 1);
    assert.deepEqual(comp[0].inputs, { tenant: "asso-exemple" });
    const children = rs.filter((r) => r.parent === comp[0].urn);
    assert.deepEqual(children.map((r) => `${r.type} ${r.name}`).sort(), [
      "postgresql:index/database:Database asso-exemple-nextcloud-db-db",
      "postgresql:index/grant:Grant asso-exemple-nextcloud-db-owner-connect",
      "postgresql:index/grant:Grant asso-exemple-nextcloud-db-revoke-public",
      "postgresql:index/role:Role asso-exemple-nextcloud-db-role",
      "pulumi:providers:postgresql asso-exemple-nextcloud-db-owner",
      "random:index/randomPassword:RandomPassword asso-exemple-nextcloud-db-password",
    ]);
    for (const c of children) assert.equal(c.tenant, "asso-exemple");
    // Nothing else than the provider and the component tree.
    assert.equal(rs.length, 1 + 1 + 6);
  });

  it("hardens the role, protects and retains the stateful resources, keeps the password secret", async () => {
    const rs = await run();
    const by = (suffix: string) => rs.find((r) => r.name === `asso-exemple-nextcloud-db-${suffix}`)!;
    const provider = rs.find((r) => r.type === "pulumi:providers:postgresql")!;
    const role = by("role");
    assert.deepEqual(role.inputs, {
      name: "nextcloud_asso_exemple",
      login: true,
      password: { [SECRET_MARK]: "mock-asso-exemple-nextcloud-db-password-" + "x".repeat(32) },
      superuser: false,
      createDatabase: false,
      createRole: false,
      replication: false,
      bypassRowLevelSecurity: false,
      inherit: true,
      connectionLimit: 20,
    });
    assert.deepEqual(by("db").inputs, {
      name: "nextcloud_asso_exemple", owner: "nextcloud_asso_exemple", template: "template0", encoding: "UTF8",
      allowConnections: true, isTemplate: false,
    });
    assert.deepEqual(by("revoke-public").inputs, { database: "nextcloud_asso_exemple", objectType: "database", role: "public", privileges: [] });
    assert.deepEqual(by("owner-connect").inputs, {
      database: "nextcloud_asso_exemple", objectType: "database", role: "nextcloud_asso_exemple", privileges: ["CONNECT", "CREATE", "TEMPORARY"],
    });
    assert.deepEqual(by("password").inputs, { length: 32, special: false });
    for (const s of ["password", "role", "db"]) {
      assert.equal(by(s).protect, true, `${s} protected`);
      assert.equal(by(s).retainOnDelete, true, `${s} retained`);
    }
    // The provisioning role creates the role and the database; the owner itself sets its database's ACL
    // (a non-owner's GRANT/REVOKE ON DATABASE changes nothing: test/lab/postgres-provisioner.lab.test.ts).
    for (const s of ["role", "db"]) assert.ok(by(s).provider?.startsWith(provider.urn + "::"), `${s} uses the provisioning role's provider`);
    const owner = by("owner");
    for (const s of ["revoke-public", "owner-connect"]) assert.ok(by(s).provider?.startsWith(owner.urn + "::"), `${s} uses the owner's provider`);
    assert.deepEqual(owner.inputs, {
      host: "10.0.0.5", port: "5432", username: "nextcloud_asso_exemple",
      password: { [SECRET_MARK]: "mock-asso-exemple-nextcloud-db-password-" + "x".repeat(32) },
      database: "nextcloud_asso_exemple", sslmode: "require", connectTimeout: "15", superuser: "false", maxConnections: "4",
    });
    assert.equal(owner.protect, false);
    assert.ok(by("db").dependsOn.includes(role.urn));
    assert.ok(by("revoke-public").dependsOn.includes(by("db").urn));
    assert.ok(by("owner-connect").dependsOn.includes(by("revoke-public").urn));
  });

  it("exposes the password only as a secret output", async () => {
    const { outputs } = await runUnderMocks({
      stack: "staging",
      program: () => {
        const db = new TenantDatabase("t-db", { tenant: "t", name: "nextcloud_t", provider: tenantsProvider() });
        return { isSecret: (db.password as unknown as { isSecret: Promise<boolean> }).isSecret };
      },
    });
    assert.deepEqual(outputs, { isSecret: true });
  });

  it("refuses a provider that is not the provisioning role's (a superuser provider, say)", async () => {
    await assert.rejects(runUnderMocks({
      stack: "staging",
      program: () => {
        const provider = new postgresql.Provider("pg", { host: "h", username: "postgres", password: "p", superuser: true });
        new TenantDatabase("t-db", { tenant: "t", name: "nextcloud_t", provider });
      },
    }), /provider must be Platform\.postgres/);
  });

  it("takes the connection limit from its args", async () => {
    const rs = await run(5);
    assert.equal(rs.find((r) => r.type === "postgresql:index/role:Role")!.inputs.connectionLimit, 5);
  });

  it("refuses names that are not plain identifiers, and bad limits", () => {
    assert.throws(() => tenantDatabaseSpec("Asso-Exemple"), /not a plain PostgreSQL identifier/);
    assert.throws(() => tenantDatabaseSpec("postgres"), /reserved/);
    assert.throws(() => tenantDatabaseSpec("pg_x"), /reserved/);
    assert.throws(() => tenantDatabaseSpec("ok_name", 0), /connectionLimit/);
    assert.throws(() => tenantDatabaseSpec("ok_name", -1), /connectionLimit/);
  });
});

describe("tenant database names and SQL", () => {
  it("derives one-to-one names from slug and service", () => {
    assert.equal(tenantDatabaseName("asso-exemple", "nextcloud"), "nextcloud_asso_exemple");
    assert.equal(tenantDatabaseName("a-b-c", "paheko"), "paheko_a_b_c");
    assert.equal(checkTenantDatabaseName("x".repeat(64)), `"${"x".repeat(64)}" is not a plain PostgreSQL identifier (^[a-z_][a-z0-9_]{0,62}$)`);
    assert.throws(() => tenantDatabaseName("a", "Bad-Service"));
  });

  it("quotes identifiers and literals", () => {
    assert.equal(quoteIdent('a"b'), '"a""b"');
    assert.equal(quoteLiteral("it's\\"), "'it''s\\'");
    assert.throws(() => quoteLiteral("a\u0000"));
  });

  it("renders the statements the resources execute", () => {
    assert.deepEqual(renderTenantDatabaseSql(tenantDatabaseSpec("nextcloud_t", 7), "pw'1"), [
      `CREATE ROLE "nextcloud_t" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT 7 PASSWORD 'pw''1'`,
      `CREATE DATABASE "nextcloud_t" WITH OWNER "nextcloud_t" TEMPLATE template0 ENCODING 'UTF8' ALLOW_CONNECTIONS true IS_TEMPLATE false`,
      `REVOKE ALL PRIVILEGES ON DATABASE "nextcloud_t" FROM PUBLIC`,
      `REVOKE ALL PRIVILEGES ON DATABASE "nextcloud_t" FROM "nextcloud_t"`,
      `GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "nextcloud_t" TO "nextcloud_t"`,
    ]);
  });
});

describe("isolation audit evaluation (pure)", () => {
  // Imported lazily so the component tests above do not depend on the audit module.
  const load = () => import("../src/postgres/audit");
  const role = (name: string, over: Record<string, unknown> = {}) => ({
    name, superuser: false, createdb: false, createrole: false, replication: false, bypassrls: false, login: true, connlimit: 20, ...over,
  });
  const clean = () => ({
    databases: [
      { name: "postgres", owner: "postgres", public_connect: true, public_temp: true },
      { name: "nextcloud_a", owner: "nextcloud_a", public_connect: false, public_temp: false },
      { name: "nextcloud_b", owner: "nextcloud_b", public_connect: false, public_temp: false },
    ],
    roles: [
      role("postgres", { superuser: true, connlimit: -1, bootstrap: true }), role("nextcloud_a"), role("nextcloud_b"),
      role("factory_provisioner", { createdb: true, createrole: true, inherit: false, connlimit: 40 }),
      role("pg_read_all_data", { login: false, connlimit: -1 }),
    ],
    connect: [
      { role: "nextcloud_a", database: "nextcloud_a" }, { role: "nextcloud_a", database: "postgres" },
      { role: "nextcloud_b", database: "nextcloud_b" },
    ],
    memberships: [] as { role: string; member_of: string }[],
    // PostgreSQL 16: ADMIN OPTION only on the tenant roles it created.
    provisionerMemberships: [
      { member_of: "nextcloud_a", admin: true, inherit: false, set: false },
      { member_of: "nextcloud_b", admin: true, inherit: false, set: false },
    ],
  });

  it("finds nothing in a clean snapshot (the maintenance database and superuser are out of scope)", async () => {
    const { evaluateAudit, tenantRoleNames } = await load();
    assert.deepEqual(evaluateAudit(clean()), []);
    assert.deepEqual(tenantRoleNames(clean()), ["nextcloud_a", "nextcloud_b"]);
  });

  it("reports each breach with its kind", async () => {
    const { evaluateAudit } = await load();
    const s = clean();
    s.databases[1].owner = "postgres";
    s.databases[2].public_connect = true;
    s.databases[2].public_temp = true;
    s.connect.push({ role: "nextcloud_a", database: "nextcloud_b" });
    Object.assign(s.roles[2], { createrole: true, bypassrls: true, connlimit: -1 });
    s.memberships.push({ role: "nextcloud_b", member_of: "pg_read_all_data" });
    assert.deepEqual(evaluateAudit(s).map((f) => `${f.kind}|${f.role ?? ""}|${f.database ?? ""}`), [
      "owner|nextcloud_a|nextcloud_a",
      "public-connect||nextcloud_b",
      "public-temp||nextcloud_b",
      "cross-connect|nextcloud_a|nextcloud_b",
      "role-attribute|nextcloud_b|",
      "role-attribute|nextcloud_b|",
      "connection-limit|nextcloud_b|",
      "membership|nextcloud_b|",
    ]);
  });

  it("reports any privileged role but the bootstrap superuser, the provisioning role and the tenants", async () => {
    const { evaluateAudit } = await load();
    const s = clean();
    s.roles.push(role("ops", { superuser: true }), role("backup", { replication: true, login: true }), role("keycloak2", { createdb: true, createrole: true }));
    // The first superuser is expected only as the bootstrap role, not by its name.
    Object.assign(s.roles[0], { bootstrap: false });
    assert.deepEqual(evaluateAudit(s).map((f) => `${f.kind}|${f.role}|${f.message}`), [
      "privileged-role|postgres|role postgres has SUPERUSER (neither the bootstrap superuser, the provisioning role factory_provisioner nor a tenant role)",
      "privileged-role|ops|role ops has SUPERUSER (neither the bootstrap superuser, the provisioning role factory_provisioner nor a tenant role)",
      "privileged-role|backup|role backup has REPLICATION (neither the bootstrap superuser, the provisioning role factory_provisioner nor a tenant role)",
      "privileged-role|keycloak2|role keycloak2 has CREATEDB, CREATEROLE (neither the bootstrap superuser, the provisioning role factory_provisioner nor a tenant role)",
    ]);
    // Another name for the provisioning role: the default one is then just a privileged role.
    assert.deepEqual(evaluateAudit(clean(), { provisionerRole: "other" }).map((f) => `${f.kind}|${f.role}`), ["privileged-role|factory_provisioner"]);
  });

  it("reports a provisioning role that is more than CREATEDB CREATEROLE, or can act as a tenant or reach a database", async () => {
    const { evaluateAudit } = await load();
    const s = clean();
    Object.assign(s.roles.find((r) => r.name === "factory_provisioner")!, { superuser: true, bypassrls: true, inherit: true });
    s.provisionerMemberships[0] = { member_of: "nextcloud_a", admin: true, inherit: false, set: true }; // left by a GRANT
    s.provisionerMemberships.push({ member_of: "pg_read_all_data", admin: false, inherit: false, set: true }, { member_of: "keycloak", admin: true, inherit: false, set: false });
    s.connect.push({ role: "factory_provisioner", database: "postgres" }, { role: "factory_provisioner", database: "nextcloud_b" });
    assert.deepEqual(evaluateAudit(s).map((f) => f.message), [
      "the provisioning role factory_provisioner has SUPERUSER",
      "the provisioning role factory_provisioner has BYPASSRLS",
      "the provisioning role factory_provisioner has INHERIT (a membership would lend it a tenant's privileges)",
      "the provisioning role factory_provisioner can act as tenant role nextcloud_a (SET)",
      "the provisioning role factory_provisioner is a member of role pg_read_all_data, which is no tenant role",
      "the provisioning role factory_provisioner is a member of role keycloak, which is no tenant role",
      "the provisioning role factory_provisioner can connect to database nextcloud_b",
    ]);
  });

  it("treats a database without a role of its name as a breach, and exempts declared platform databases from ownership only", async () => {
    const { evaluateAudit } = await load();
    const s = clean();
    s.databases.push({ name: "keycloak", owner: "postgres", public_connect: false, public_temp: false });
    assert.deepEqual(evaluateAudit(s).map((f) => f.message), ["database keycloak has no tenant role of the same name (owner: postgres)"]);
    assert.deepEqual(evaluateAudit(s, { platformDatabases: ["keycloak"] }), []);
    s.databases[3].public_connect = true;
    assert.deepEqual(evaluateAudit(s, { platformDatabases: ["keycloak"] }).map((f) => f.kind), ["public-connect"]);
  });
});
