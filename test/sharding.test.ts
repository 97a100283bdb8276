// Sharded stacks (issue 7): a platform stack plus tenant stacks `<stack>-<k>` register, together, exactly
// the per-tenant resources one unsharded stack registers, and every tenant lands in exactly one shard.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { generateRoster, writeRoster } from "../bench/roster";
import { HarnessResult, maskSecrets, RecordedResource, revealSecrets, runUnderMocks } from "../program/harness";
import { notForShards } from "../program/factory";
import { OPERATOR_SECRET_KEYS, OperatorSecret, SHARD_SECRET_KEYS } from "../src/settings";
import { PROVISIONER_ROLE } from "../src/postgres/provisioner";
import { shardOf } from "../src/shards";

const root = path.join(__dirname, "..");
const SHARDS = 3;
const STACK = "fab";
/** Known operator secrets (the harness's placeholders otherwise): a shard input holding one is a leak. */
const SECRETS = Object.fromEntries(OPERATOR_SECRET_KEYS.map((k) => [k, `${k}-value-${k.length}`])) as Record<OperatorSecret, string>;
SECRETS.dnsTsigSecret = Buffer.from("tsig-Secret-value-for-tests-only!").toString("base64");

/** A project dir holding Pulumi.fab.yaml (staging's settings with a shard count) and tenants/fab/. */
function project(shards: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sf-shard${shards}-`));
  const settings = fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8")
    .replace("  service-factory:realm: factory", `  service-factory:realm: factory\n  service-factory:shards: ${shards}`);
  fs.writeFileSync(path.join(dir, `Pulumi.${STACK}.yaml`), settings);
  const tenants = path.join(dir, "tenants", STACK);
  fs.mkdirSync(tenants, { recursive: true });
  for (const f of fs.readdirSync(path.join(root, "tenants/staging"))) fs.copyFileSync(path.join(root, "tenants/staging", f), path.join(tenants, f));
  writeRoster(tenants, generateRoster(12));
  return dir;
}

/** A resource as a reviewer compares it across stacks: what it is, whose, and its inputs. */
const key = (r: RecordedResource) => `${r.tenant} ${r.type} ${r.name} ${JSON.stringify(maskSecrets(r.inputs))}`;
const tenantKeys = (rs: RecordedResource[]) => rs.filter((r) => r.tenant !== null).map(key).sort();

describe("sharded stacks", () => {
  let whole: HarnessResult;
  let platform: HarnessResult;
  const shards: HarnessResult[] = [];
  let slugs: string[];

  before(async () => {
    const wholeDir = project(0);
    slugs = fs.readdirSync(path.join(wholeDir, "tenants", STACK)).map((f) => f.replace(/\.yaml$/, "")).sort();
    whole = await runUnderMocks({ stack: STACK, projectDir: wholeDir });
    const shardedDir = project(SHARDS);
    platform = await runUnderMocks({ stack: STACK, projectDir: shardedDir, secrets: SECRETS });
    for (let k = 0; k < SHARDS; k++) {
      // A shard's own config holds no operator secret (its stack file only names the secrets provider).
      shards.push(await runUnderMocks({ stack: `${STACK}-${k}`, projectDir: shardedDir, stackOutputs: { [STACK]: platform.outputs as Record<string, unknown> } }));
    }
  });

  it("the platform hands the shards only the secrets their resources use (no garageRpcSecret, no PostgreSQL superuser)", () => {
    const exported = (platform.outputs as { platformSecrets: unknown }).platformSecrets;
    const keys = Object.keys(revealSecrets(exported) as Record<string, string>).sort();
    assert.deepEqual(keys, [...SHARD_SECRET_KEYS].sort());
    assert.ok(!keys.includes("garageRpcSecret"));
    assert.ok(!keys.includes("postgresAdminPassword"));
    // The withheld values themselves are in no shard input either, under any name.
    for (const r of shards.flatMap((s) => s.resources)) {
      const text = JSON.stringify(revealSecrets(r.inputs));
      for (const k of ["garageRpcSecret", "postgresAdminPassword"] as const) assert.ok(!text.includes(SECRETS[k]), `${r.urn} received ${k}`);
    }
    // No shard resource received a secret the platform keeps (its marker would be in the inputs).
    const markers = OPERATOR_SECRET_KEYS.filter((k) => !SHARD_SECRET_KEYS.includes(k)).map(notForShards);
    for (const r of shards.flatMap((s) => s.resources)) {
      const text = JSON.stringify(revealSecrets(r.inputs));
      for (const m of markers) assert.ok(!text.includes(m), `${r.urn} received ${m}`);
    }
  });

  it("a shard creates its tenant databases as the platform's provisioning role, never as the superuser", () => {
    const login = (platform.outputs as { postgresProvisioner: { username: string; password: string } }).postgresProvisioner;
    assert.equal(login.username, PROVISIONER_ROLE);
    let databases = 0;
    for (const s of shards) {
      const providers = s.resources.filter((r) => r.type === "pulumi:providers:postgresql");
      const tenants = providers.filter((p) => p.tenant === null);
      // One shared provider: the tenants' (the superuser's `platform-shared-postgres-admin` is not registered at all).
      assert.deepEqual(tenants.map((p) => p.name), ["platform-postgres-tenants"]);
      assert.deepEqual([tenants[0].inputs.username, revealSecrets(tenants[0].inputs.password), tenants[0].inputs.superuser],
        [PROVISIONER_ROLE, login.password, "false"]);
      // The others are each tenant database's owner login, on its own database.
      for (const p of providers.filter((x) => x.tenant !== null)) {
        assert.equal(p.inputs.username, p.inputs.database, p.name);
        assert.notEqual(p.inputs.username, "postgres");
      }
      for (const r of s.resources.filter((x) => x.type === "postgresql:index/role:Role" || x.type === "postgresql:index/database:Database")) {
        assert.ok(r.provider?.startsWith(`${tenants[0].urn}::`), `${r.name} is created as the provisioning role`);
        databases++;
      }
    }
    assert.ok(databases > 0, "the shards do create tenant roles and databases");
  });

  it("every tenant is owned by exactly one shard, the one its slug hashes to", () => {
    const owners = new Map<string, number[]>();
    shards.forEach((r, k) => {
      for (const slug of (r.outputs as { tenants: string[] }).tenants) owners.set(slug, [...(owners.get(slug) ?? []), k]);
    });
    assert.deepEqual([...owners.keys()].sort(), slugs);
    for (const [slug, ks] of owners) assert.deepEqual(ks, [shardOf(slug, SHARDS)], slug);
    assert.deepEqual((platform.outputs as { role: string }).role, "platform");
    assert.ok(shards.every((r) => (r.outputs as { role: string }).role === "shard"));
  });

  it("platform + shards register the same per-tenant resources, with the same inputs, as one stack", () => {
    // The Tenant component itself is in both stacks of a tenant (identity and walls in the platform, the
    // rest in its shard); everything under it is in exactly one.
    const TENANT = "factory:tenant:Tenant";
    const under = (rs: RecordedResource[]) => tenantKeys(rs.filter((r) => r.type !== TENANT));
    const sharded = [platform, ...shards].flatMap((r) => under(r.resources)).sort();
    const expected = under(whole.resources);
    assert.ok(expected.length > 100, `${expected.length} per-tenant resources`);
    assert.deepEqual(sharded, expected);
    const tenantsIn = (r: HarnessResult) => r.resources.filter((x) => x.type === TENANT).map((x) => x.name).sort();
    assert.deepEqual(tenantsIn(platform), slugs, "the platform holds every tenant's identity side");
    assert.deepEqual(shards.flatMap(tenantsIn).sort(), slugs, "each tenant's services side is in its one shard");
  });

  it("a shard deploys no shared service and owns no fleet resource", () => {
    for (const r of shards) {
      // Every container of a shard is one of its tenants' (FPM and cron): none is shared.
      const containers = r.resources.filter((x) => x.type === "docker:index/container:Container" && x.tenant === null);
      assert.deepEqual(containers.map((c) => c.name), []);
      for (const t of ["keycloak:index/realm:Realm", "postgresql:index/database:Database"]) {
        assert.ok(r.resources.filter((x) => x.type === t).every((x) => x.tenant !== null), t);
      }
      assert.equal(r.resources.filter((x) => x.name.startsWith("platform-shared")).length, 0);
    }
  });

  it("the platform stack owns the shared services and the fleet, and no tenant data", () => {
    assert.ok(platform.resources.some((x) => x.name === "platform-shared-postgres"));
    assert.equal(platform.resources.filter((x) => x.type === "postgresql:index/database:Database" && x.tenant !== null).length, 0);
    assert.equal(platform.resources.filter((x) => x.type === "factory:nextcloud:NextcloudInstance").length, 0);
    assert.equal(platform.resources.filter((x) => x.type === "docker:index/volume:Volume" && /-install-/.test(x.name)).length,
      whole.resources.filter((x) => x.type === "docker:index/volume:Volume" && /-install-/.test(x.name)).length);
  });

  it("npm run plan plans a shard stack (the platform is planned first, under mocks, for its outputs)", () => {
    const dir = project(SHARDS);
    const r = spawnSync(path.join(root, "node_modules", ".bin", "tsx"), [path.join(root, "scripts", "plan.ts"), "--stack", `${STACK}-1`, "--json"], { cwd: dir, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { stack: string; resources: { tenant: string | null }[] };
    assert.equal(plan.stack, `${STACK}-1`);
    const tenants = new Set(plan.resources.map((x) => x.tenant).filter((t): t is string => t !== null));
    assert.ok(tenants.size > 0);
    for (const t of tenants) assert.equal(shardOf(t, SHARDS), 1, t);
  });
});
