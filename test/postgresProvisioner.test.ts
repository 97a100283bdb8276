// The provisioning role under Pulumi's mocks, over the whole program of the staging stack: the platform
// creates one least-privileged role with the superuser's provider, and every tenant database is created
// through a provider logged in as that role (its grants through the tenant's own login); the superuser's
// provider keeps platform-level work only. Sharded stacks: test/sharding.test.ts. The real engine and a
// real PostgreSQL (15 and 16): test/lab/postgres-provisioner.lab.test.ts.
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { HarnessResult, RecordedResource, revealSecrets, runUnderMocks, SECRET_MARK } from "../program/harness";
import { PROVISIONER_ROLE } from "../src/postgres/provisioner";
import { runFactory } from "../program/factory";
import { OPERATOR_SECRET_KEYS, OperatorSecret } from "../src/settings";

const ROOT = path.join(__dirname, "..");
const ADMIN_PASSWORD = "pg-admin-Secret-0d9e7c";
const SECRETS = Object.fromEntries(OPERATOR_SECRET_KEYS.map((k) => [k, `${k}-value-for-this-test`])) as Record<OperatorSecret, string>;
SECRETS.postgresAdminPassword = ADMIN_PASSWORD;
SECRETS.dnsTsigSecret = Buffer.from("tsig-Secret-value-for-tests-only!").toString("base64");

const PROVIDER = "pulumi:providers:postgresql";
const MOCK_PASSWORD = { [SECRET_MARK]: `mock-platform-postgres-provisioner-password-${"x".repeat(32)}` };

describe("the provisioning role (staging, whole stack)", () => {
  let run: HarnessResult;
  let rs: RecordedResource[];
  const one = (name: string) => {
    const found = rs.filter((r) => r.name === name);
    assert.equal(found.length, 1, `exactly one ${name}`);
    return found[0];
  };
  const providerOf = (r: RecordedResource) => rs.find((p) => p.type === PROVIDER && r.provider?.startsWith(`${p.urn}::`));

  before(async () => {
    run = await runUnderMocks({
      stack: "staging", projectDir: ROOT, secrets: SECRETS,
      program: () => {
        const out = runFactory({ stack: "staging", projectDir: ROOT });
        return { ...out, provisionerIsSecret: pulumi.isSecret(out.postgresProvisioner!) };
      },
    });
    rs = run.resources;
  });

  it("is created once, by the superuser's provider, as a protected role and password under its component", () => {
    const comp = rs.filter((r) => r.type === "factory:postgres:Provisioner");
    assert.deepEqual(comp.map((c) => [c.name, c.parent?.endsWith("::platform")]), [["platform-postgres-provisioner", true]]);
    assert.deepEqual(rs.filter((r) => r.parent === comp[0].urn).map((r) => `${r.type} ${r.name}`).sort(), [
      "postgresql:index/role:Role platform-postgres-provisioner-role",
      "random:index/randomPassword:RandomPassword platform-postgres-provisioner-password",
    ]);
    const role = one("platform-postgres-provisioner-role");
    assert.deepEqual(role.inputs, {
      name: PROVISIONER_ROLE,
      login: true,
      password: MOCK_PASSWORD,
      superuser: false,
      createDatabase: true,
      createRole: true,
      replication: false,
      bypassRowLevelSecurity: false,
      inherit: false,
      connectionLimit: 40,
    });
    assert.deepEqual(role.ignoreChanges, ["roles"], "PostgreSQL 16's ADMIN memberships in the tenant roles are not revoked on the next update");
    assert.deepEqual(one("platform-postgres-provisioner-password").inputs, { length: 32, special: false });
    for (const r of [role, one("platform-postgres-provisioner-password")]) {
      assert.ok(r.protect && r.retainOnDelete, `${r.name} protected and retained`);
    }
    const admin = providerOf(role)!;
    assert.equal(admin.name, "platform-shared-postgres-admin");
    assert.deepEqual([admin.inputs.username, admin.inputs.superuser, admin.inputs.password], ["postgres", "true", { [SECRET_MARK]: ADMIN_PASSWORD }]);
  });

  it("logs the tenants' provider in as that role, superuser false, once the role exists", () => {
    const tenants = one("platform-postgres-tenants");
    assert.equal(tenants.type, PROVIDER);
    assert.deepEqual(tenants.inputs, {
      host: "10.20.0.20", port: "5432", username: PROVISIONER_ROLE, password: MOCK_PASSWORD,
      sslmode: "require", connectTimeout: "15", superuser: "false",
    });
    assert.ok(tenants.dependsOn.includes(one("platform-postgres-provisioner-role").urn), "waits for the role");
  });

  it("creates every tenant role and database as the provisioning role, and every database ACL as its owner", () => {
    const dbs = rs.filter((r) => r.type === "factory:postgres:TenantDatabase");
    assert.equal(dbs.length, 3, "the three staging Nextcloud tenants");
    for (const db of dbs) {
      const children = rs.filter((r) => r.parent === db.urn);
      const owner = children.find((r) => r.type === PROVIDER)!;
      const role = children.find((r) => r.type === "postgresql:index/role:Role")!;
      for (const c of children.filter((r) => r.custom && r.type !== PROVIDER && r.type.startsWith("postgresql:"))) {
        const expected = c.type === "postgresql:index/grant:Grant" ? owner.name : "platform-postgres-tenants";
        assert.equal(providerOf(c)?.name, expected, `${c.name} runs as ${expected}`);
      }
      assert.deepEqual([owner.inputs.username, owner.inputs.database, owner.inputs.superuser], [role.inputs.name, role.inputs.name, "false"]);
      assert.deepEqual(owner.inputs.password, role.inputs.password, "the owner logs in with its own password");
    }
  });

  it("leaves the superuser's provider platform-level work only: Keycloak's database and the provisioning role", () => {
    const admin = one("platform-shared-postgres-admin");
    const used = rs.filter((r) => r.provider?.startsWith(`${admin.urn}::`)).map((r) => r.name).sort();
    assert.deepEqual(used, [
      "platform-postgres-provisioner-role",
      "platform-shared-keycloak-db", "platform-shared-keycloak-db-revoke-public", "platform-shared-keycloak-db-role",
    ]);
    // Exactly: the superuser's, the tenants', one owner's per tenant database.
    assert.equal(rs.filter((r) => r.type === PROVIDER).length, 2 + 3);
    const withAdminPassword = rs.filter((r) => JSON.stringify(revealSecrets(r.inputs)).includes(ADMIN_PASSWORD)).map((r) => r.name).sort();
    assert.deepEqual(withAdminPassword, ["platform-shared-postgres", "platform-shared-postgres-admin"], "the superuser password reaches its provider and the server's password file only");
  });

  it("exports the role's login for the shards as a secret, and platformSecrets without the superuser's password", () => {
    const out = run.outputs as Record<string, unknown>;
    assert.deepEqual(out.postgresProvisioner, { username: PROVISIONER_ROLE, password: MOCK_PASSWORD[SECRET_MARK] });
    assert.equal(out.provisionerIsSecret, true);
    const exported = revealSecrets(out.platformSecrets) as Record<string, string>;
    assert.ok(!("postgresAdminPassword" in exported));
    assert.ok(!JSON.stringify(exported).includes(ADMIN_PASSWORD));
  });
});
