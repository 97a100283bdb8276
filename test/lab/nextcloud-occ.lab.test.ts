// Lab: the Nextcloud scripts against a fake occ that behaves as Nextcloud 31's source says
// (test/support/fake-nextcloud/console.php, with the citations), a real PostgreSQL for the tenants'
// databases, real uid switches to www-data and install trees that www-data cannot write (the read-only
// install volume):
//  - the fake itself: no app commands in maintenance mode or while an upgrade is due, `occ upgrade` exits 2
//    in maintenance mode with nothing to upgrade, no command at all over a read-only apps folder while the
//    app store is on, occ only as the owner of config.php;
//  - init over a read-only install tree, once; an init killed half-way retried by running it again (what
//    `pulumi up --replace` of the init command does); an init refusing a database that holds another
//    instance's tables;
//  - whole rollouts in the plan's order (src/nextcloud/rollout.ts), in two orders the engine may pick: a
//    version and app-list change for two installed tenants plus a new tenant on the same host, then an
//    app-list-only change (maintenance on, nothing for `occ upgrade` to do).
import assert from "node:assert/strict";
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Client } from "pg";
import { renderTenantEnv } from "../../src/nextcloud/env";
import { planRollout, RolloutStep } from "../../src/nextcloud/rollout";
import {
  FACTORY_CONFIG_SNIPPET, INSTALL_STARTED_MARKER, renderConfigureScript, renderInitScript, renderMaintenanceScript,
  renderUpgradeScript, withSecretFiles,
} from "../../src/nextcloud/scripts";
import { renderTenantDatabaseSql, tenantDatabaseSpec } from "../../src/postgres/tenantDatabase";
import { tenantDatabaseName } from "../../src/postgres/names";
import { postgresUnavailable, PostgresServer, startPostgres } from "../../scripts/lab/postgres";
import { FakeNextcloudWorld, WWW_DATA } from "../support/fakeNextcloud";

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const pdo = spawnSync("php", ["-m"], { encoding: "utf8" }).stdout?.split("\n").includes("pdo_pgsql") ?? false;
const problems = [
  ...(has("php") ? [] : ["php (php-cli)"]),
  ...(pdo ? [] : ["php's pdo_pgsql (php-pgsql)"]),
  ...(has("dash") ? [] : ["dash"]),
  ...(has("setpriv") ? [] : ["setpriv"]),
  ...(process.getuid?.() === 0 ? [] : ["root (the scripts switch to uid 33)"]),
  ...(postgresUnavailable() ? [postgresUnavailable()!] : []),
];
if (problems.length > 0 && process.env.CI) throw new Error(`Nextcloud occ lab: ${problems.join(", ")} (scripts/lab/install-test-tools.sh)`);
const skip = problems.length > 0 ? `missing: ${problems.join(", ")}` : false;

const V1: [number, number, number, number] = [31, 0, 8, 1];
const V2: [number, number, number, number] = [31, 0, 9, 2];
const SHIPPED = { files: "2.3.0", dav: "1.33.0", settings: "1.14.0" };

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "nc-occ-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

interface Tenant { slug: string; db: string; password: string; configDir: string; dataDir: string }

describe("nextcloud lab: the scripts against a fake occ that behaves as Nextcloud's", { skip }, () => {
  let pg: PostgresServer;
  let admin: Client;
  let world: FakeNextcloudWorld;
  let treeV1 = "";
  let treeV2 = "";
  let treeV2Apps = "";
  const tenants = new Map<string, Tenant>();

  const tenant = async (slug: string): Promise<Tenant> => {
    const db = tenantDatabaseName(slug, "nextcloud");
    const password = `pw-${slug}-'"$(x)`;
    for (const stmt of renderTenantDatabaseSql(tenantDatabaseSpec(db), password)) await admin.query(stmt);
    const t = { slug, db, password, ...world.tenantDirs(slug) };
    tenants.set(slug, t);
    return t;
  };

  const occ = (tree: string, t: Tenant, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> =>
    spawnSync("setpriv", [`--reuid=${WWW_DATA}`, `--regid=${WWW_DATA}`, "--clear-groups", "php", path.join(tree, "occ"), ...args], {
      encoding: "utf8", env: { PATH: "/usr/bin:/bin", NEXTCLOUD_CONFIG_DIR: t.configDir, NEXTCLOUD_DATA_DIR: t.dataDir, ...env },
    });
  const status = (tree: string, t: Tenant) => {
    const r = occ(tree, t, ["status", "--output=json"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as { installed: boolean; versionstring: string; maintenance: boolean; needsDbUpgrade: boolean };
  };
  const state = async (t: Tenant) => {
    const c = new Client({ host: "127.0.0.1", port: pg.port, user: t.db, password: t.password, database: t.db });
    await c.connect();
    try {
      const r = await c.query<{ doc: string }>("SELECT doc FROM oc_fake_state WHERE id = 1");
      return JSON.parse(r.rows[0].doc) as { appconfig: Record<string, Record<string, string>>; users: string[]; oidc: Record<string, Record<string, string>> };
    } finally {
      await c.end();
    }
  };

  const initScript = (t: Tenant, adminEmail = `admin@${t.slug}.example.net`) => {
    const secrets = path.join(world.dir, `secrets-${t.slug}`);
    const env = renderTenantEnv({
      slug: t.slug, s3: { host: "garage", port: 3900, region: "garage", bucket: `${t.slug}-nextcloud`, ssl: false },
      redis: { host: "redis", port: 6379, user: "nc-alpha" }, mail: { host: "smtp.x", port: 587, from: "n@x.org" },
      secretsDir: secrets, configDir: t.configDir, dataDir: t.dataDir,
    });
    return withSecretFiles(renderInitScript({
      slug: t.slug, env, db: { host: "127.0.0.1", port: pg.port, name: t.db, user: t.db }, adminUser: "factory-admin", adminEmail, secretsDir: secrets,
    }), { "db-password": t.password, "admin-password": `admin-S3CRET-${t.slug}`, "s3-access-key-id": "GK1", "s3-secret-access-key": "s3-S3CRET", "smtp-password": "smtp-S3CRET" }, secrets);
  };
  const runInit = (t: Tenant, tree: string, env: Record<string, string> = {}, adminEmail?: string) =>
    spawnSync("dash", ["-s"], { input: initScript(t, adminEmail), env: world.ephemeralEnv(tree, env), encoding: "utf8" });
  const configureScript = (t: Tenant, apps: string[]) => {
    const secrets = `/tmp/factory-secrets-${t.slug}`;
    return withSecretFiles(renderConfigureScript({
      slug: t.slug, hostname: `cloud.${t.slug}.org`, trustedProxies: ["10.0.0.10"], apps, defaultUserQuota: "50 GB",
      oidc: { clientId: `nextcloud-${t.slug}`, discoveryUri: "https://auth.x/realms/f/.well-known/openid-configuration", role: `nextcloud:${t.slug}` },
      collaboraUrl: "https://office.x", secretsDir: secrets,
    }), { "oidc-client-secret": `oidc-S3CRET-${t.slug}` }, secrets);
  };
  const exec = (container: string, script: string) =>
    spawnSync("docker", ["exec", "-i", "-u", "www-data", container, "sh", "-s"], { input: script, env: world.hostEnv(), encoding: "utf8" });
  const maintenance = (mode: "on" | "off", version: string) =>
    spawnSync("dash", ["-s"], { input: renderMaintenanceScript({ stack: "lab", host: "nc1", mode, version }), env: world.hostEnv(), encoding: "utf8" });

  before(async () => {
    pg = await startPostgres();
    admin = new Client({ host: "127.0.0.1", port: pg.port, user: "postgres", password: pg.adminPassword, database: "postgres" });
    await admin.connect();
    world = new FakeNextcloudWorld(path.join(tmpRoot, "host"));
    treeV1 = world.tree("v1", V1, { shipped: SHIPPED, custom: { user_oidc: "7.1.0" } });
    treeV2 = world.tree("v2", V2, { shipped: { ...SHIPPED, files: "2.3.1" }, custom: { user_oidc: "7.2.0", richdocuments: "8.7.0" } });
    treeV2Apps = world.tree("v2-apps", V2, { shipped: { ...SHIPPED, files: "2.3.1" }, custom: { user_oidc: "7.2.0", richdocuments: "8.7.0", calendar: "5.2.0" } });
  });
  after(async () => {
    await admin?.end().catch(() => undefined);
    pg?.stop();
  });

  it("the fake refuses what occ refuses: app commands in maintenance, upgrade with nothing to do in maintenance, a read-only apps folder", async () => {
    const t = await tenant("probe");
    fs.chownSync(t.configDir, WWW_DATA, WWW_DATA);
    fs.chownSync(t.dataDir, WWW_DATA, WWW_DATA);
    // Without the factory's snippet, occ does not start at all over a read-only custom_apps.
    fs.copyFileSync(path.join(world.imageSource, "config", "apps.config.php"), path.join(t.configDir, "apps.config.php"));
    fs.chownSync(path.join(t.configDir, "apps.config.php"), WWW_DATA, WWW_DATA);
    const refused = occ(treeV1, t, ["status"]);
    assert.equal(refused.status, 1);
    assert.match(refused.stdout, /Cannot write into "apps" directory\.[\s\S]*Environment not properly prepared\./);
    // As root (not the owner of config.php): refused too.
    const asRoot = spawnSync("php", [path.join(treeV1, "occ"), "status"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", NEXTCLOUD_CONFIG_DIR: t.configDir } });
    assert.equal(asRoot.status, 1);
    assert.match(asRoot.stdout, /Console has to be executed with the user that owns the file config\/config.php/);

    const r = runInit(t, treeV1);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const enable = occ(treeV1, t, ["app:enable", "user_oidc"]);
    assert.equal(enable.status, 0, enable.stdout + enable.stderr);
    assert.equal(occ(treeV1, t, ["maintenance:mode", "--on"]).status, 0);
    const provider = occ(treeV1, t, ["user_oidc:provider", "keycloak", "--clientid=x"]);
    assert.equal(provider.status, 1);
    assert.match(provider.stderr, /Nextcloud is in maintenance mode, no apps are loaded\.[\s\S]*Command "user_oidc:provider" is not defined\./);
    const upgrade = occ(treeV1, t, ["upgrade", "--no-interaction"]);
    assert.equal(upgrade.status, 2, "ERROR_MAINTENANCE_MODE");
    assert.match(upgrade.stdout, /Nextcloud is in maintenance mode/);
    assert.equal(occ(treeV1, t, ["config:system:set", "loglevel", "--value=2", "--type=integer"]).status, 0, "core commands still run");
    // Newer code than the database: only core commands, and upgrade keeps maintenance on.
    const pending = occ(treeV2, t, ["user_oidc:provider", "keycloak"]);
    assert.equal(pending.status, 1);
    assert.match(pending.stderr, /require upgrade/);
    const up = occ(treeV2, t, ["upgrade"]);
    assert.equal(up.status, 0, up.stdout);
    assert.deepEqual([status(treeV2, t).maintenance, status(treeV2, t).needsDbUpgrade], [true, false]);
    assert.equal(occ(treeV2, t, ["maintenance:mode", "--off"]).status, 0);
    assert.equal(occ(treeV2, t, ["user_oidc:provider", "keycloak", "--clientid=x"]).status, 0);
  });

  it("init installs over a read-only install tree, as www-data, secrets never on a command line, once", async () => {
    const t = await tenant("alpha");
    const log = path.join(world.dir, "occ-alpha.jsonl");
    fs.writeFileSync(log, "");
    fs.chmodSync(log, 0o666);
    const first = runInit(t, treeV1, { FAKE_NEXTCLOUD_LOG: log });
    assert.equal(first.status, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /tenant alpha: installed/);
    assert.deepEqual({ ...status(treeV1, t) }, { ...status(treeV1, t), installed: true, versionstring: "31.0.8", maintenance: false });
    assert.equal(fs.statSync(path.join(t.configDir, "config.php")).uid, WWW_DATA);
    assert.ok(fs.existsSync(path.join(t.configDir, FACTORY_CONFIG_SNIPPET)));
    assert.ok(!fs.existsSync(path.join(t.configDir, INSTALL_STARTED_MARKER)));
    assert.ok(fs.existsSync(path.join(t.dataDir, ".ocdata")));
    assert.deepEqual((await state(t)).users, ["factory-admin"]);
    const calls = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { argv: string[]; cmdline: string; uid: number });
    const install = calls.filter((c) => c.argv[1] === "maintenance:install");
    assert.equal(install.length, 1);
    assert.ok(install[0].argv.includes(`--database-pass=${t.password}`), "occ got the password inside PHP");
    for (const c of calls) {
      assert.equal(c.uid, WWW_DATA);
      for (const secret of [t.password, "admin-S3CRET-alpha", "s3-S3CRET", "smtp-S3CRET"]) assert.ok(!c.cmdline.includes(secret), `no secret in ${c.cmdline}`);
    }
    const again = runInit(t, treeV1, { FAKE_NEXTCLOUD_LOG: log });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /already installed, nothing to do/);
    assert.equal(fs.readFileSync(log, "utf8").trim().split("\n").filter((l) => l.includes("maintenance:install")).length, 1);
  });

  it("a hostile contact address reaches occ as one argument, intact, and runs nothing (root and www-data alike)", async () => {
    const canary = path.join(world.dir, "pwned");
    const hostile = fc.string({ unit: fc.constantFrom("'", '"', "`", "$", "(", ")", ";", "\\", " ", "&", "|", "<", ">", "*", "{", "}", "a", "\n"), minLength: 1, maxLength: 12 });
    const samples = fc.sample(fc.tuple(hostile, hostile), { numRuns: 6, seed: 42 }).map(([a, b]) => `${a}$(touch ${canary})\`touch ${canary}\`${b}@x.org`);
    let n = 0;
    for (const email of samples) {
      const t = await tenant(`hostile${n++}`);
      const log = path.join(world.dir, `occ-${t.slug}.jsonl`);
      fs.writeFileSync(log, "");
      fs.chmodSync(log, 0o666);
      const r = runInit(t, treeV1, { FAKE_NEXTCLOUD_LOG: log }, email);
      assert.equal(r.status, 0, `${JSON.stringify(email)}: ${r.stdout}${r.stderr}`);
      assert.ok(!fs.existsSync(canary), `${JSON.stringify(email)} ran a command`);
      const install = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { argv: string[] }).find((c) => c.argv[1] === "maintenance:install")!;
      assert.equal(install.argv.filter((a) => a.startsWith("--admin-email=")).length, 1);
      assert.equal(install.argv.find((a) => a.startsWith("--admin-email=")), `--admin-email=${email}`, "the address arrives intact");
    }
  });

  it("an init killed half-way is retried by running it again; another instance's tables are never dropped", async () => {
    const t = await tenant("bravo");
    const broken = runInit(t, treeV1, { FAKE_NEXTCLOUD_FAIL_INSTALL: "after-tables" });
    assert.notEqual(broken.status, 0);
    assert.match(broken.stdout, /stopped half-way/);
    assert.ok(fs.existsSync(path.join(t.configDir, INSTALL_STARTED_MARKER)), "the marker says the install was ours");
    assert.equal(status(treeV1, t).installed, false);
    // What the real installer does on these leftovers (it runs its migrations again): it fails.
    const naive = occ(treeV1, t, ["maintenance:install", "--database=pgsql", `--database-host=127.0.0.1:${pg.port}`, `--database-name=${t.db}`, `--database-user=${t.db}`, `--database-pass=${t.password}`, "--admin-user=x", "--admin-pass=y", `--data-dir=${t.dataDir}`]);
    assert.equal(naive.status, 1);
    assert.match(naive.stdout, /already exists/);
    // The retry: the same script again.
    const retry = runInit(t, treeV1);
    assert.equal(retry.status, 0, retry.stdout + retry.stderr);
    assert.match(retry.stdout, /an earlier install stopped half-way: dropping its 4 tables and its config.php, installing again/);
    assert.match(retry.stdout, /tenant bravo: installed/);
    assert.equal(status(treeV1, t).installed, true);
    assert.deepEqual((await state(t)).users, ["factory-admin"]);

    // A config volume that lost its instance (new volume) over a database that has one: nothing changes.
    const lost = { ...t, ...world.tenantDirs("bravo-new-volume") };
    const before = (await state(t)).users;
    const refused = runInit(lost, treeV1);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /database nextcloud_bravo holds 4 Nextcloud tables but this config volume holds no installed instance; nothing changed/);
    assert.deepEqual((await state(t)).users, before, "the instance's data is intact");
    assert.ok(!fs.existsSync(path.join(lost.configDir, "config.php")) || fs.statSync(path.join(lost.configDir, "config.php")).size === 0);
  });

  /** Runs the plan's steps in the order `choose` picks among the ready ones; returns the log of each. */
  const rollout = (plan: RolloutStep[], choose: (ready: RolloutStep[]) => RolloutStep, apps: string[], tree: string) => {
    const done = new Set<string>();
    const log: string[] = [];
    while (done.size < plan.length) {
      const step = choose(plan.filter((s) => !done.has(s.id) && s.after.every((a) => done.has(a))));
      const t = step.tenant ? tenants.get(step.tenant)! : undefined;
      let r: SpawnSyncReturns<string> | undefined;
      switch (step.kind) {
        case "maint-on": r = maintenance("on", "31.0.9"); break;
        case "maint-off": r = maintenance("off", "31.0.9"); break;
        case "populate": case "cron": break; // the new tree exists already; the scheduler runs no occ here
        case "init": r = runInit(t!, tree); break;
        case "fpm": world.container(`lab-nc-${t!.slug}`, { tree, configDir: t!.configDir, dataDir: t!.dataDir }); break;
        case "upgrade": r = exec(`lab-nc-${t!.slug}`, renderUpgradeScript(t!.slug, "31.0.9")); break;
        case "configure": r = exec(`lab-nc-${t!.slug}`, configureScript(t!, apps)); break;
      }
      if (r) assert.equal(r.status, 0, `${step.id} failed:\n${r.stdout}${r.stderr}\nafter: ${log.join(" ")}`);
      log.push(step.id);
      done.add(step.id);
    }
    return log;
  };

  for (const [label, choose] of [
    ["first ready step first", (ready: RolloutStep[]) => ready[0]],
    ["last ready step first", (ready: RolloutStep[]) => ready[ready.length - 1]],
  ] as const) {
    it(`a version + app-list rollout, then an app-list-only rollout, in the plan's order (${label}): every step passes`, async () => {
      const suffix = label.startsWith("first") ? "1" : "2";
      const installed = [await tenant(`charlie${suffix}`), await tenant(`delta${suffix}`)];
      for (const t of installed) {
        assert.equal(runInit(t, treeV1).status, 0);
        world.container(`lab-nc-${t.slug}`, { tree: treeV1, configDir: t.configDir, dataDir: t.dataDir });
        const c = exec(`lab-nc-${t.slug}`, configureScript(t, ["user_oidc"]));
        assert.equal(c.status, 0, c.stdout + c.stderr);
      }
      const fresh = await tenant(`echo${suffix}`);
      const all = [...installed, fresh];
      const plan = planRollout(all.map((t) => ({ slug: t.slug, host: "nc1" })));
      const check = async (tree: string, apps: string[]) => {
        for (const t of all) {
          const s = status(tree, t);
          assert.deepEqual([s.installed, s.versionstring, s.maintenance, s.needsDbUpgrade], [true, "31.0.9", false, false], t.slug);
          const db = await state(t);
          for (const app of apps) assert.equal(db.appconfig[app]?.enabled, "yes", `${t.slug}: ${app} enabled`);
          assert.equal(db.appconfig.user_oidc?.installed_version, "7.2.0");
          assert.equal(db.oidc.keycloak?.clientid, `nextcloud-${t.slug}`);
          assert.equal(db.oidc.keycloak?.["clientsecret-sha256"], createHash("sha256").update(`oidc-S3CRET-${t.slug}`).digest("hex"), "the secret reached user_oidc");
        }
      };
      // 31.0.8 -> 31.0.9 with richdocuments added; the new tenant is installed on the way.
      const first = rollout(plan, choose, ["richdocuments", "user_oidc"], treeV2);
      assert.ok(first.indexOf("maint-off:nc1") < first.findIndex((id) => id.startsWith("configure:")));
      await check(treeV2, ["richdocuments", "user_oidc"]);
      assert.equal((await state(all[0])).appconfig.richdocuments?.wopi_url, "https://office.x");
      // Same version, one more app: a new install volume, maintenance on, and nothing for occ upgrade to do.
      rollout(plan, choose, ["calendar", "richdocuments", "user_oidc"], treeV2Apps);
      await check(treeV2Apps, ["calendar", "richdocuments", "user_oidc"]);
      for (const t of all) fs.rmSync(path.join(world.dir, "containers", `lab-nc-${t.slug}.env`));
    });
  }
});
