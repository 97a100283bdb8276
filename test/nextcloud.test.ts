// The Nextcloud factory: pure renderers, and the whole program under Pulumi's mocks on a fixture of
// several tenants over two compute hosts (test/fixtures/nextcloud), run at two Nextcloud versions.
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ENTRYPOINT_SOURCE, NextcloudContext, NextcloudFactory, NextcloudInstance, nextcloudInstanceArgs } from "../components/nextcloud";
import { TenantIdentity } from "../components/identity";
import { Platform } from "../components/platform";
import { HarnessResult, maskSecrets, RecordedResource, revealSecrets, runUnderMocks, SECRET_MARK } from "../program/harness";
import { requireFactoryInputs } from "../src/inputs";
import { renderNextcloudSite } from "../src/nextcloud/caddy";
import { cronOffsetSeconds, renderCronLoop } from "../src/nextcloud/cron";
import { renderTenantEnv, splitMailFrom } from "../src/nextcloud/env";
import { caddyInstallRoot, fleetImageProblem, fpmUpstream, imageVersionProblem, installVolumeName, quotaPolicy } from "../src/nextcloud/layout";
import { planRollout } from "../src/nextcloud/rollout";
import { renderPidsLimitScript } from "../src/platform/pids";
import {
  renderConfigureScript, renderFactoryConfigSnippet, renderInitScript, renderMaintenanceScript, renderUpgradeScript, SCRIPT_SECRETS_DIR, withSecretFiles,
} from "../src/nextcloud/scripts";
import { ServiceName } from "../src/types";
import { readSecrets } from "../program/factory";
import { PROJECT } from "../src/settings";
import { sha256Hex } from "../src/platform/redis";

const ROOT = path.join(__dirname, "..");
const FIXTURE = path.join(ROOT, "test", "fixtures", "nextcloud");
const STACK_FILE = path.join(FIXTURE, "Pulumi.ncfix.yaml");
const TENANTS_DIR = path.join(FIXTURE, "tenants");
const APPS = ["user_oidc", "richdocuments"];
const V1 = "31.0.9";
const V2 = "32.0.1";

/** Known operator secrets: none of them may appear unmasked in any registered input. */
const SECRETS = {
  postgresAdminPassword: "pgadmin-S3CRET-value-0001",
  keycloakAdminPassword: "kcadmin-S3CRET-value-0002",
  garageAdminToken: "garage-admin-S3CRET-0003",
  garageRpcSecret: "a".repeat(64),
  garageS3AccessKeyId: "GKplatformS3CRET0004",
  garageS3SecretAccessKey: "platform-s3-S3CRET-0005",
  dnsTsigSecret: Buffer.from("tsig-S3CRET-value-0006-32-bytes!").toString("base64"),
  smtpPassword: "smtp-S3CRET-value-0007",
  redisAdminPassword: "redis-admin-S3CRET-0008",
};

/** The fixture's stack file with another Nextcloud version (and matching image). */
function stackFileAt(version: string): string {
  if (version === V1) return STACK_FILE;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nc-stack-"));
  const file = path.join(dir, "Pulumi.ncfix.yaml");
  fs.writeFileSync(file, fs.readFileSync(STACK_FILE, "utf8")
    .replace(`version: ${V1}`, `version: ${version}`)
    .replace(`nextcloud:${V1}-fpm`, `nextcloud:${version}-fpm`));
  return file;
}

async function runAt(version: string): Promise<HarnessResult> {
  return runUnderMocks({ stack: "ncfix", projectDir: ROOT, stackFile: stackFileAt(version), tenantsDir: TENANTS_DIR, secrets: SECRETS });
}

const byName = (r: HarnessResult, name: string): RecordedResource => {
  const found = r.resources.filter((x) => x.name === name);
  assert.equal(found.length, 1, `exactly one resource named ${name}`);
  return found[0];
};

/** Resources registered under the NextcloudFactory (any depth). */
function nextcloudResources(r: HarnessResult): RecordedResource[] {
  const factory = r.resources.find((x) => x.type === "factory:nextcloud:NextcloudFactory");
  assert.ok(factory, "the program registers the NextcloudFactory");
  // The fleet's resources, and each tenant's instance (a child of its Tenant) with everything under it.
  const inside = new Set([factory.urn]);
  const out: RecordedResource[] = [];
  for (const x of r.resources) {
    if ((x.parent && inside.has(x.parent)) || x.type === "factory:nextcloud:NextcloudInstance") {
      inside.add(x.urn);
      out.push(x);
    }
  }
  return out;
}

function providerHost(x: RecordedResource): string | undefined {
  return /platform-docker-([a-z0-9-]+)::/.exec(x.provider ?? "")?.[1];
}

interface Mount { type: string; source: string; target: string; readOnly?: boolean }
interface Upload { file: string; content: unknown; permissions?: string; owner?: string; group?: string }

describe("nextcloud: pure pieces", () => {
  it("names one install volume per stack, version and app list", () => {
    assert.equal(installVolumeName("prod", "31.0.9", ["user_oidc", "richdocuments"]), installVolumeName("prod", "31.0.9", ["richdocuments", "user_oidc"]));
    assert.notEqual(installVolumeName("prod", "31.0.9", APPS), installVolumeName("prod", "32.0.1", APPS));
    assert.notEqual(installVolumeName("prod", "31.0.9", APPS), installVolumeName("prod", "31.0.9", [...APPS, "groupfolders"]));
    assert.match(installVolumeName("prod", "31.0.9", APPS), /^prod-nextcloud-31\.0\.9-[0-9a-f]{8}$/);
    assert.equal(caddyInstallRoot("v"), "/srv/nextcloud/v");
  });

  it("checks that the image carries the fleet's version and is an FPM variant", () => {
    assert.equal(imageVersionProblem("nextcloud:31.0.9-fpm", "31.0.9"), undefined);
    assert.equal(imageVersionProblem("registry.example.org:5000/nextcloud:31.0.9-fpm-alpine", "31.0.9"), undefined);
    assert.match(imageVersionProblem("nextcloud:31.0.8-fpm", "31.0.9")!, /does not match nextcloud.version 31.0.9/);
    assert.match(imageVersionProblem("nextcloud:31.0.9-apache", "31.0.9")!, /must be an -fpm variant/);
    const nc = { services: { nextcloud: {} } };
    assert.match(fleetImageProblem({ image: "nextcloud:31.0.8-fpm", version: "31.0.9", tenants: [{ ...nc, status: "archived" }, { ...nc, status: "suspended" }] })!, /does not match/);
    // Only archived Nextclouds (data, no PHP) or none at all: nothing to match.
    assert.equal(fleetImageProblem({ image: "nextcloud:31.0.8-fpm", version: "31.0.9", tenants: [{ ...nc, status: "archived" }, { status: "active", services: {} }] }), undefined);
  });

  it("turns quotaGb into the bucket quota and the default user quota", () => {
    assert.deepEqual(quotaPolicy(50), { bucketBytes: 50 * 1024 ** 3, defaultUserQuota: "50 GB" });
    assert.throws(() => quotaPolicy(0), /positive integer/);
  });

  it("gives each tenant a cron offset of its own slug alone, inside the interval and spread over it", () => {
    const slugs = Array.from({ length: 600 }, (_, i) => `tenant-${i}`);
    const offsets = slugs.map((slug) => cronOffsetSeconds(slug, 5));
    for (const o of offsets) assert.ok(Number.isInteger(o) && o >= 0 && o < 300, `offset ${o}`);
    // The same slug, the same second, whoever else exists: adding a tenant moves no other schedule.
    assert.deepEqual(slugs.map((slug) => cronOffsetSeconds(slug, 5)), offsets);
    assert.equal(cronOffsetSeconds("alpha", 5), createHash("sha256").update("alpha").digest().readUIntBE(0, 6) % 300);
    // Spread: every minute of the interval gets between 10% and 30% of 600 tenants (uniform: 20%).
    const perMinute = [0, 1, 2, 3, 4].map((m) => offsets.filter((o) => Math.floor(o / 60) === m).length);
    for (const n of perMinute) assert.ok(n > 60 && n < 180, `per minute ${perMinute.join(",")}`);
    assert.throws(() => cronOffsetSeconds("alpha", 0), /positive number of minutes/);
    const script = renderCronLoop({ slug: "alpha", intervalMinutes: 5 });
    assert.match(script, /^interval=300$/m);
    assert.match(script, new RegExp(`^offset=${cronOffsetSeconds("alpha", 5)}$`, "m"));
    assert.match(script, /flock -w "\$wait_max" -E 75 "\$lock" php -f "\$install\/cron.php"/);
    assert.throws(() => renderCronLoop({ slug: "a;b", intervalMinutes: 5 }), /bad slug/);
  });

  it("renders the tenant environment with secrets only as *_FILE paths", () => {
    const env = renderTenantEnv({
      slug: "alpha", s3: { host: "10.0.0.20", port: 3900, region: "garage", bucket: "alpha-nextcloud", ssl: false },
      redis: { host: "redis", port: 6379, user: "nc-alpha" }, mail: { host: "smtp.x.org", port: 587, from: "noreply@x.org" },
      secretsDir: "/run/secrets/nextcloud",
    });
    assert.deepEqual(env, [
      "FACTORY_REDIS_SESSION_PREFIX=nc-alpha:",
      "MAIL_DOMAIN=x.org",
      "MAIL_FROM_ADDRESS=noreply",
      "NEXTCLOUD_CONFIG_DIR=/config",
      "NEXTCLOUD_DATA_DIR=/data",
      "NEXTCLOUD_UPDATE=0",
      "OBJECTSTORE_S3_AUTOCREATE=false",
      "OBJECTSTORE_S3_BUCKET=alpha-nextcloud",
      "OBJECTSTORE_S3_HOST=10.0.0.20",
      "OBJECTSTORE_S3_KEY_FILE=/run/secrets/nextcloud/s3-access-key-id",
      "OBJECTSTORE_S3_PORT=3900",
      "OBJECTSTORE_S3_REGION=garage",
      "OBJECTSTORE_S3_SECRET_FILE=/run/secrets/nextcloud/s3-secret-access-key",
      "OBJECTSTORE_S3_SSL=false",
      "OBJECTSTORE_S3_USEPATH_STYLE=true",
      "PHP_MEMORY_LIMIT=512M",
      "PHP_UPLOAD_LIMIT=2048M",
      "REDIS_HOST=redis",
      "REDIS_HOST_PASSWORD_FILE=/run/secrets/nextcloud/redis-password",
      "REDIS_HOST_PORT=6379",
      "REDIS_HOST_USER=nc-alpha",
      "SMTP_HOST=smtp.x.org",
      "SMTP_NAME=noreply@x.org",
      "SMTP_PASSWORD_FILE=/run/secrets/nextcloud/smtp-password",
      "SMTP_PORT=587",
      "SMTP_SECURE=",
    ]);
    assert.deepEqual(splitMailFrom("a.b@c.d"), { address: "a.b", domain: "c.d" });
  });

  it("passes secrets to scripts as base64 files written by a preamble, never in the body", () => {
    const secret = "it's a \"secret\"\n$(rm -rf /)";
    const out = withSecretFiles("#!/bin/sh\necho body\n", { "oidc-client-secret": secret });
    assert.ok(!out.includes(secret));
    const b64 = /printf '%s' '([A-Za-z0-9+/=]+)' \| base64 -d > \/tmp\/factory-secrets\/oidc-client-secret/.exec(out);
    assert.ok(b64, out);
    assert.equal(Buffer.from(b64[1], "base64").toString("utf8"), secret);
    assert.equal(out.match(/^#!/gm)?.length, 1, "one shebang");
    assert.match(out, /trap 'rm -rf \/tmp\/factory-secrets' EXIT/);
  });

  it("keeps the app store off in a config snippet that init writes before the install and upgrade rewrites", () => {
    const snippet = renderFactoryConfigSnippet();
    assert.match(snippet, /^<\?php\n/);
    assert.match(snippet, /'appstoreenabled' => false,/);
    assert.match(snippet, /'updatechecker' => false,/);
    const init = renderInitScript({ slug: "alpha", env: [], db: { host: "10.0.0.20", port: 5432, name: "nextcloud_alpha", user: "nextcloud_alpha" }, adminUser: "a", adminEmail: "a@x.org" });
    assert.ok(init.indexOf(snippet.trimEnd()) > 0 && init.indexOf(snippet.trimEnd()) < init.indexOf("maintenance:install"), "written before the install");
    const up = renderUpgradeScript("alpha", "31.0.9");
    assert.ok(up.includes(snippet.trimEnd()));
    assert.ok(up.indexOf('"needsDbUpgrade":true') < up.indexOf("occ upgrade"), "occ upgrade only when one is due");
  });

  it("configures user_oidc with the secret by environment variable name and the tenant's role only", () => {
    const s = renderConfigureScript({
      slug: "alpha", hostname: "cloud.alpha.org", trustedProxies: ["10.0.0.10"], apps: APPS, defaultUserQuota: "50 GB",
      oidc: { clientId: "nextcloud-alpha", discoveryUri: "https://auth.x/realms/f/.well-known/openid-configuration", role: "nextcloud:alpha" },
      collaboraUrl: "https://office.x",
    });
    assert.match(s, /FACTORY_OIDC_CLIENT_SECRET="\$\(cat \/tmp\/factory-secrets\/oidc-client-secret\)" php \/var\/www\/html\/occ user_oidc:provider keycloak/);
    assert.match(s, /--clientsecret-env=FACTORY_OIDC_CLIENT_SECRET/);
    assert.match(s, /--group-whitelist-regex='\^nextcloud:alpha\$' --group-restrict-login-to-whitelist=1 >\/dev\/null/);
    assert.match(s, /config:app:set --type=string --value=0 user_oidc allow_multiple_user_backends/);
    assert.ok(!s.includes("config:system:set appstoreenabled"), "the app store setting lives in the factory's config snippet, set before any occ call");
    assert.match(s, /config:system:set trusted_domains 0 --value='cloud.alpha.org'/);
    assert.match(s, /config:system:set overwrite.cli.url --value='https:\/\/cloud.alpha.org'/);
    assert.match(s, /config:app:set files default_quota --value='50 GB'/);
    assert.match(s, /config:app:set richdocuments wopi_url --value='https:\/\/office.x'/);
    assert.match(s, /occ app:enable richdocuments user_oidc/);
    assert.ok(!s.includes("--clientsecret="), "never the secret's value on a command line");
  });

  it("refuses unsupported jumps before turning maintenance on", () => {
    const on = renderMaintenanceScript({ stack: "prod", host: "nc1", mode: "on", version: "32.0.1" });
    assert.match(on, /\[ "\$major" -gt 32 \] \|\| \[ "\$\(\(major \+ 1\)\)" -lt 32 \]/);
    assert.match(on, /label=service-factory.stack=prod --filter label=service-factory.nextcloud=fpm/);
    const off = renderMaintenanceScript({ stack: "prod", host: "nc1", mode: "off", version: "32.0.1" });
    assert.ok(!off.includes("versionstring"));
    assert.match(off, /maintenance:mode --off/);
  });

  it("plans the rollout host after host, tenant after tenant, settings after maintenance is off", () => {
    const plan = planRollout([{ slug: "b", host: "h2" }, { slug: "a", host: "h1" }, { slug: "c", host: "h2" }]);
    assert.deepEqual(plan.map((s) => `${s.id} <- ${s.after.join(",")}`), [
      "maint-on:h1 <- ",
      "populate:h1 <- maint-on:h1",
      "init:h1:a <- populate:h1",
      "fpm:h1:a <- maint-on:h1,populate:h1,init:h1:a",
      "upgrade:h1:a <- fpm:h1:a",
      "cron:h1:a <- upgrade:h1:a",
      "maint-off:h1 <- cron:h1:a",
      "configure:h1:a <- maint-off:h1",
      "maint-on:h2 <- configure:h1:a",
      "populate:h2 <- maint-on:h2",
      "init:h2:b <- populate:h2",
      "fpm:h2:b <- maint-on:h2,populate:h2,init:h2:b",
      "upgrade:h2:b <- fpm:h2:b",
      "cron:h2:b <- upgrade:h2:b",
      "init:h2:c <- populate:h2",
      "fpm:h2:c <- maint-on:h2,populate:h2,init:h2:c,cron:h2:b",
      "upgrade:h2:c <- fpm:h2:c",
      "cron:h2:c <- upgrade:h2:c",
      "maint-off:h2 <- cron:h2:c",
      "configure:h2:b <- maint-off:h2",
      "configure:h2:c <- maint-off:h2,configure:h2:b",
    ]);
    assert.deepEqual(planRollout([]), []);
  });

  it("in every order the engine may run the plan, no configure runs while its host is in maintenance", () => {
    // occ has no app commands in maintenance mode (user_oidc:provider would be "not defined"), so
    // configure must see its host out of maintenance, whatever the engine runs in parallel.
    fc.assert(fc.property(
      fc.array(fc.record({ slug: fc.constantFrom("a", "b", "c", "d"), host: fc.constantFrom("h1", "h2", "h3") }), { minLength: 1, maxLength: 6 }),
      fc.infiniteStream(fc.nat()),
      (tenants, picks) => {
        const unique = [...new Map(tenants.map((t) => [t.slug, t])).values()];
        const steps = planRollout(unique);
        const done = new Set<string>();
        const inMaintenance = new Set<string>();
        const pick = picks[Symbol.iterator]();
        while (done.size < steps.length) {
          const ready = steps.filter((s) => !done.has(s.id) && s.after.every((a) => done.has(a)));
          assert.ok(ready.length > 0, "the plan has no cycle");
          const step = ready[pick.next().value % ready.length];
          if (step.kind === "maint-on") inMaintenance.add(step.host);
          if (step.kind === "maint-off") inMaintenance.delete(step.host);
          if (step.kind === "configure") assert.ok(!inMaintenance.has(step.host), `${step.id} ran with ${step.host} in maintenance`);
          if (step.kind === "maint-on") assert.equal(inMaintenance.size, 1, "one host in maintenance at a time");
          done.add(step.id);
        }
        assert.equal(inMaintenance.size, 0);
      },
    ), { numRuns: 300 });
  });

  it("renders a Caddy site that sends PHP to FPM's own path and static files from the volume", () => {
    const site = renderNextcloudSite({ hostname: "cloud.alpha.org", fpmUpstream: "prod-nc-alpha:9000", installRoot: "/srv/nextcloud/v", maxUploadMb: 512 });
    assert.ok(site.startsWith("cloud.alpha.org {\n"));
    assert.match(site, /^\troot \* \/srv\/nextcloud\/v$/m);
    assert.match(site, /^\tphp_fastcgi prod-nc-alpha:9000 \{\n\t\troot \/var\/www\/html$/m);
    assert.match(site, /redir \/\.well-known\/carddav \/remote\.php\/dav\/ 301/);
    assert.match(site, /redir \/\.well-known\/caldav \/remote\.php\/dav\/ 301/);
    assert.match(site, /max_size 512MB/);
    assert.throws(() => renderNextcloudSite({ hostname: "Bad Host", fpmUpstream: "x:9000", installRoot: "/x", maxUploadMb: 1 }), /not a lowercase hostname/);
  });
});

describe("nextcloud: the program under mocks (fixture: 5 Nextcloud tenants over nc1 and nc2)", () => {
  let r1: HarnessResult;
  let r2: HarnessResult;
  const vol1 = installVolumeName("ncfix", V1, APPS);
  const vol2 = installVolumeName("ncfix", V2, APPS);
  before(async () => {
    r1 = await runAt(V1);
    r2 = await runAt(V2);
  });

  it("registers exactly one FPM container per running tenant and one cron container per active tenant", () => {
    const containers = nextcloudResources(r1).filter((x) => x.type === "docker:index/container:Container");
    const perTenant: Record<string, number> = {};
    for (const c of containers) if (c.tenant) perTenant[c.tenant] = (perTenant[c.tenant] ?? 0) + 1;
    // bravo is suspended (its FPM stays, no cron), echo-org archived (no container), foxtrot has no Nextcloud.
    assert.deepEqual(perTenant, { alpha: 2, bravo: 1, charlie: 2, delta: 2 });
    const perHost: Record<string, string[]> = {};
    for (const c of containers) (perHost[providerHost(c)!] ??= []).push(c.name);
    assert.deepEqual(Object.fromEntries(Object.entries(perHost).map(([h, n]) => [h, n.sort()])), {
      nc1: ["alpha-nextcloud-cron", "alpha-nextcloud-fpm", "bravo-nextcloud-fpm"],
      nc2: ["charlie-nextcloud-cron", "charlie-nextcloud-fpm", "delta-nextcloud-cron", "delta-nextcloud-fpm"],
    });
    assert.equal(r1.resources.filter((x) => x.tenant === "foxtrot" && x.urn.includes("nextcloud")).length, 0);
  });

  it("keeps only data for the archived tenant: database, bucket, volumes, admin and Redis passwords, all protected", () => {
    const mine = r1.resources.filter((x) => x.tenant === "echo-org" && x.custom && x.urn.includes("NextcloudInstance"));
    assert.deepEqual(mine.map((x) => x.name).sort(), ["echo-org-nextcloud-admin-password", "echo-org-nextcloud-config", "echo-org-nextcloud-data", "echo-org-nextcloud-redis-password"]);
    for (const x of mine) assert.ok(x.protect && x.retainOnDelete, `${x.name} protected and retained`);
    const all = r1.resources.filter((x) => x.tenant === "echo-org");
    assert.equal(all.filter((x) => x.type === "command:local:Command" || x.type === "docker:index/container:Container").length, 0);
    assert.equal(all.filter((x) => x.type === "factory:identity:KeycloakClient").length, 0);
    assert.equal(all.filter((x) => x.type === "factory:postgres:TenantDatabase").length, 1);
    assert.equal(all.filter((x) => x.type === "factory:garage:GarageBucket").length, 1);
  });

  it("has exactly one install volume per host and version, unprotected (regenerable), named with the version", () => {
    for (const [r, vol] of [[r1, vol1], [r2, vol2]] as const) {
      const factoryUrn = r.resources.find((x) => x.type === "factory:nextcloud:NextcloudFactory")!.urn;
      const volumes = r.resources.filter((x) => x.type === "docker:index/volume:Volume" && x.parent === factoryUrn);
      assert.equal(r.resources.filter((x) => x.type === "docker:index/volume:Volume" && String(x.inputs.name).includes("-nextcloud-")).length, 2);
      assert.deepEqual(volumes.map((v) => `${providerHost(v)}:${v.inputs.name}`).sort(), [`nc1:${vol}`, `nc2:${vol}`]);
      for (const v of volumes) assert.equal(v.protect, false);
    }
    const configVolumes = r1.resources.filter((x) => x.type === "docker:index/volume:Volume" && x.name.endsWith("-nextcloud-config"));
    assert.equal(configVolumes.length, 5);
    for (const v of configVolumes) assert.ok(v.protect && v.retainOnDelete);
  });

  it("mounts the install volume read-only everywhere; only the populate run writes to it", () => {
    let readOnlyMounts = 0;
    for (const x of r1.resources.filter((c) => c.type === "docker:index/container:Container")) {
      for (const m of (x.inputs.mounts as Mount[] | undefined) ?? []) {
        if (m.source === vol1) {
          assert.equal(m.readOnly, true, `${x.name} mounts ${vol1} read-only`);
          assert.equal(m.target, x.name.includes("caddy") ? m.target : "/var/www/html");
          readOnlyMounts++;
        }
      }
    }
    assert.ok(readOnlyMounts >= 7, "4 FPM + 3 cron containers mount it");
    const writers: string[] = [];
    for (const c of r1.resources.filter((x) => x.type === "command:local:Command")) {
      const create = String(revealSecrets(c.inputs.create));
      for (const m of create.matchAll(new RegExp(`-v ${vol1.replace(/\./g, "\\.")}:(\\S+)`, "g"))) {
        if (!m[1].endsWith(":ro")) writers.push(c.name);
      }
    }
    assert.deepEqual(writers.sort(), ["nextcloud-nc1-updater-31.0.9", "nextcloud-nc2-updater-31.0.9"]);
  });

  it("wires the FPM container: patched entrypoint, env, secrets as files, www-data, limits", () => {
    const fpm = byName(r1, "alpha-nextcloud-fpm");
    const i = fpm.inputs;
    assert.equal(i.name, "ncfix-nc-alpha");
    assert.equal(i.image, `nextcloud:${V1}-fpm`);
    assert.equal(i.user, "www-data");
    assert.deepEqual(i.entrypoints, ["/usr/local/bin/factory-entrypoint.sh"]);
    assert.deepEqual(i.command, ["php-fpm"]);
    assert.deepEqual(i.securityOpts, ["no-new-privileges:true"]);
    assert.equal(i.memory, 1024);
    // No RLIMIT_NPROC (it counts every uid-33 process of the host): the pids cgroup limit, set by the host's command.
    assert.equal(i.ulimits, undefined);
    assert.deepEqual(i.envs, renderTenantEnv({
      slug: "alpha", s3: { host: "10.9.0.20", port: 3900, region: "garage", bucket: "alpha-nextcloud", ssl: false },
      redis: { host: "redis", port: 6379, user: "nc-alpha" }, mail: { host: "smtp.ncfix.example.org", port: 587, from: "noreply@ncfix.example.org" },
      secretsDir: "/run/secrets/nextcloud",
    }));
    assert.ok((i.envs as string[]).includes("NEXTCLOUD_UPDATE=0"));
    assert.ok((i.envs as string[]).includes("NEXTCLOUD_DATA_DIR=/data"));
    assert.deepEqual((i.mounts as Mount[]).map((m) => `${m.source}:${m.target}:${m.readOnly ? "ro" : "rw"}`), [
      `${vol1}:/var/www/html:ro`, "ncfix-nc-alpha-config:/config:rw", "ncfix-nc-alpha-data:/data:rw",
    ]);
    // One secret element makes the whole uploads list secret in state and previews.
    assert.ok(i.uploads && typeof i.uploads === "object" && SECRET_MARK in (i.uploads as object), "uploads are a secret");
    const uploads = revealSecrets(i.uploads) as Upload[];
    assert.deepEqual(uploads.map((u) => u.file), [
      "/usr/local/bin/factory-entrypoint.sh",
      "/run/secrets/nextcloud/s3-access-key-id",
      "/run/secrets/nextcloud/s3-secret-access-key",
      "/run/secrets/nextcloud/smtp-password",
      "/run/secrets/nextcloud/redis-password",
    ]);
    assert.equal(uploads[0].content, fs.readFileSync(ENTRYPOINT_SOURCE, "utf8"));
    for (const u of uploads.slice(1)) assert.deepEqual([u.owner, u.group, u.permissions], ["0", "33", "0440"]);
    assert.equal(uploads[3].content, SECRETS.smtpPassword);
    assert.equal(uploads[4].content, `mock-alpha-nextcloud-redis-password-${"x".repeat(32)}`, "the tenant's own Redis password");
    assert.deepEqual(i.networksAdvanced, [{ name: "factory-ncfix", aliases: ["ncfix-nc-alpha"] }]);
    assert.equal(fpmUpstream("ncfix", "alpha"), "ncfix-nc-alpha:9000");
  });

  it("gives each running tenant its own Redis user on its host's Redis, made at run time with the admin password on stdin only", () => {
    const users = r1.resources.filter((x) => x.type === "command:local:Command" && x.name.endsWith("-nextcloud-redis-user"));
    // echo-org is archived: no user (its password is kept, protected, for a reactivation).
    assert.deepEqual(users.map((u) => u.name).sort(), ["alpha", "bravo", "charlie", "delta"].map((t) => `${t}-nextcloud-redis-user`));
    assert.ok(byName(r1, "echo-org-nextcloud-redis-password").protect);
    for (const u of users) {
      const tenant = u.name.replace("-nextcloud-redis-user", "");
      assert.equal(u.inputs.create, "docker exec -i ncfix-redis sh -s");
      assert.equal(u.inputs.delete, "docker exec -i -e FACTORY_REDIS_MODE=delete ncfix-redis sh -s");
      assert.equal(u.inputs.logging, "none");
      assert.ok(SECRET_MARK in (u.inputs.stdin as object), "stdin is a secret");
      const stdin = String(revealSecrets(u.inputs.stdin));
      assert.ok(stdin.includes(Buffer.from(SECRETS.redisAdminPassword).toString("base64")), "the admin password, in the secrets preamble");
      assert.ok(stdin.includes(`cli ACL SETUSER nc-${tenant} reset on '#${sha256Hex(`mock-${tenant}-nextcloud-redis-password-${"x".repeat(32)}`)}'`));
      assert.ok(!stdin.includes(`mock-${tenant}-nextcloud-redis-password`), "the tenant's password as a hash only");
      assert.equal(u.deleteBeforeReplace, true, "a move deletes the user on the old host before making it on the new one");
      // init and FPM wait for the user (the install already talks to Redis).
      assert.ok(byName(r1, `${tenant}-nextcloud-fpm`).dependsOn.includes(u.urn));
      assert.ok(byName(r1, `${tenant}-nextcloud-init`).dependsOn.includes(u.urn));
    }
  });

  it("limits each FPM (256) and cron (128) container's pids cgroup with one command per host", () => {
    const pids = r1.resources.filter((x) => x.type === "command:local:Command" && x.name.startsWith("nextcloud-") && x.name.endsWith("-pids"));
    assert.deepEqual(pids.map((x) => x.name).sort(), ["nextcloud-nc1-pids", "nextcloud-nc2-pids"]);
    assert.equal(pids.filter((x) => x.tenant).length, 0, "no resource per tenant");
    // Per host: the FPM containers (256) and the cron containers of the active tenants (128; bravo is suspended).
    const expected: Record<string, { fpm: string[]; cron: string[]; triggers: string[] }> = {
      nc1: { fpm: ["alpha", "bravo"], cron: ["alpha"], triggers: ["alpha-nextcloud-fpm-id", "alpha-nextcloud-cron-id", "bravo-nextcloud-fpm-id"] },
      nc2: {
        fpm: ["charlie", "delta"], cron: ["charlie", "delta"],
        triggers: ["charlie-nextcloud-fpm-id", "charlie-nextcloud-cron-id", "delta-nextcloud-fpm-id", "delta-nextcloud-cron-id"],
      },
    };
    for (const [host, e] of Object.entries(expected)) {
      const cmd = byName(r1, `nextcloud-${host}-pids`);
      assert.deepEqual(cmd.inputs, {
        create: renderPidsLimitScript([
          ...e.fpm.map((t) => ({ container: `ncfix-nc-${t}`, pids: 256 })),
          ...e.cron.map((t) => ({ container: `ncfix-nc-${t}-cron`, pids: 128 })),
        ]),
        environment: byName(r1, `${e.fpm[0]}-nextcloud-configure`).inputs.environment,
        // In the order of the Docker names (the command's text and triggers depend only on the set).
        triggers: e.triggers,
        logging: "stdoutAndStderr",
      });
      assert.deepEqual([...cmd.dependsOn].sort(), [...e.fpm.map((t) => `${t}-nextcloud-fpm`), ...e.cron.map((t) => `${t}-nextcloud-cron`)].map((n) => byName(r1, n).urn).sort());
      assert.match(String(cmd.inputs.create), new RegExp(`^docker update --pids-limit 128 ${e.cron.map((t) => `ncfix-nc-${t}-cron`).join(" ")} >/dev/null$`, "m"));
      assert.match(String(cmd.inputs.create), new RegExp(`^docker update --pids-limit 256 ${e.fpm.map((t) => `ncfix-nc-${t}`).join(" ")} >/dev/null$`, "m"));
    }
    assert.match(String((byName(r1, "alpha-nextcloud-configure").inputs.environment as Record<string, string>).DOCKER_HOST), /nc1/);
    assert.equal(byName(r1, "alpha-nextcloud-cron").inputs.ulimits, undefined);
  });

  it("runs each active tenant's cron.php in its own container, with the FPM container's environment, volumes and secrets", () => {
    const cron = byName(r1, "alpha-nextcloud-cron");
    const fpm = byName(r1, "alpha-nextcloud-fpm");
    assert.equal(cron.tenant, "alpha");
    assert.equal(cron.inputs.name, "ncfix-nc-alpha-cron");
    assert.deepEqual(cron.inputs.entrypoints, ["/bin/sh", "/usr/local/bin/factory-cron.sh"]);
    assert.equal(cron.inputs.command, undefined);
    assert.ok(SECRET_MARK in (cron.inputs.uploads as object), "uploads are a secret");
    const uploads = revealSecrets(cron.inputs.uploads) as Upload[];
    assert.deepEqual(uploads[0], { file: "/usr/local/bin/factory-cron.sh", content: renderCronLoop({ slug: "alpha", intervalMinutes: 5 }), permissions: "0555" });
    // The secret files and everything else that decides what cron.php sees are the FPM container's.
    assert.deepEqual(uploads.slice(1), (revealSecrets(fpm.inputs.uploads) as Upload[]).slice(1));
    for (const key of ["envs", "mounts", "user", "image", "securityOpts", "capabilities"]) {
      assert.deepEqual(revealSecrets(cron.inputs[key]), revealSecrets(fpm.inputs[key]), key);
    }
    assert.deepEqual((cron.inputs.mounts as Mount[]).map((m) => `${m.source}:${m.target}:${m.readOnly ? "ro" : "rw"}`), [
      `${vol1}:/var/www/html:ro`, "ncfix-nc-alpha-config:/config:rw", "ncfix-nc-alpha-data:/data:rw",
    ]);
    assert.equal(cron.inputs.user, "www-data");
    assert.equal(cron.inputs.memory, 768);
    assert.equal(cron.inputs.healthcheck, undefined);
    assert.deepEqual(cron.inputs.networksAdvanced, [{ name: (fpm.inputs.networksAdvanced as { name: string }[])[0].name }]);
    assert.deepEqual(cron.inputs.labels, [
      { label: "service-factory.stack", value: "ncfix" }, { label: "service-factory.nextcloud", value: "cron" }, { label: "service-factory.tenant", value: "alpha" },
    ]);
    // bravo is suspended: its FPM stays (resuming is a route change at the edge) but no background job
    // runs for it (no notification mail, no federated sync behind the maintenance page).
    assert.equal(byName(r1, "bravo-nextcloud-fpm").type, "docker:index/container:Container");
    assert.equal(r1.resources.filter((x) => x.name === "bravo-nextcloud-cron").length, 0);
    assert.equal(r1.resources.filter((x) => x.name.startsWith("nextcloud-") && x.name.endsWith("-cron")).length, 0, "no per-host scheduler");
  });

  it("registers the rollout chain's dependency edges exactly as planned", () => {
    const urn = (name: string) => byName(r1, name).urn;
    const edges: [string, string[]][] = [
      ["nextcloud-nc1-maint-on", []],
      ["nextcloud-nc1-updater-31.0.9", ["nextcloud-nc1-maint-on"]],
      ["alpha-nextcloud-init", ["nextcloud-nc1-updater-31.0.9"]],
      ["alpha-nextcloud-fpm", ["nextcloud-nc1-maint-on", "nextcloud-nc1-updater-31.0.9", "alpha-nextcloud-init"]],
      ["alpha-nextcloud-upgrade", ["alpha-nextcloud-fpm"]],
      // The cron container also waits for the one-time install (like FPM), which the upgrade follows anyway.
      ["alpha-nextcloud-cron", ["alpha-nextcloud-upgrade", "alpha-nextcloud-init"]],
      ["bravo-nextcloud-init", ["nextcloud-nc1-updater-31.0.9"]],
      ["bravo-nextcloud-fpm", ["nextcloud-nc1-maint-on", "nextcloud-nc1-updater-31.0.9", "bravo-nextcloud-init", "alpha-nextcloud-cron"]],
      ["bravo-nextcloud-upgrade", ["bravo-nextcloud-fpm"]],
      // bravo is suspended: no cron container, its cron step is its upgrade.
      ["nextcloud-nc1-maint-off", ["bravo-nextcloud-upgrade"]],
      // Settings (app commands) only once maintenance is off, tenant after tenant.
      ["alpha-nextcloud-configure", ["nextcloud-nc1-maint-off"]],
      ["bravo-nextcloud-configure", ["nextcloud-nc1-maint-off", "alpha-nextcloud-configure"]],
      ["nextcloud-nc2-maint-on", ["bravo-nextcloud-configure"]],
      ["nextcloud-nc2-updater-31.0.9", ["nextcloud-nc2-maint-on"]],
      ["charlie-nextcloud-fpm", ["nextcloud-nc2-maint-on", "nextcloud-nc2-updater-31.0.9", "charlie-nextcloud-init"]],
      ["delta-nextcloud-fpm", ["nextcloud-nc2-maint-on", "nextcloud-nc2-updater-31.0.9", "delta-nextcloud-init", "charlie-nextcloud-cron"]],
      ["nextcloud-nc2-maint-off", ["delta-nextcloud-cron"]],
      ["charlie-nextcloud-configure", ["nextcloud-nc2-maint-off"]],
    ];
    for (const [name, deps] of edges) {
      const got = new Set(byName(r1, name).dependsOn);
      for (const d of deps) assert.ok(got.has(urn(d)), `${name} depends on ${d}`);
    }
    // Exactly: the chain steps a resource depends on are those of the plan, nothing more.
    const chain = new Set(edges.flatMap(([n, d]) => [n, ...d]).map(urn));
    for (const [name, deps] of edges) {
      const chainDeps = byName(r1, name).dependsOn.filter((u) => chain.has(u)).sort();
      assert.deepEqual(chainDeps, deps.map(urn).sort(), `${name}: chain dependencies`);
    }
    // Nothing on nc1 waits for nc2.
    for (const x of nextcloudResources(r1).filter((y) => providerHost(y) === "nc1" || y.name.includes("-nc1-"))) {
      for (const d of x.dependsOn) assert.ok(!d.includes("-nc2-"), `${x.name} must not wait for nc2 (${d})`);
    }
  });

  it("a version change re-runs the rollout steps and switches volumes, without re-installing or touching data", () => {
    // What changes between the two runs is what Pulumi will replace or re-run, in the chain's order.
    const inputsOf = (r: HarnessResult, name: string) => JSON.stringify(revealSecrets(byName(r, name).inputs));
    for (const step of ["maint-on", "maint-off"]) {
      for (const h of ["nc1", "nc2"]) {
        assert.deepEqual(byName(r1, `nextcloud-${h}-${step}`).inputs.triggers, [vol1]);
        assert.deepEqual(byName(r2, `nextcloud-${h}-${step}`).inputs.triggers, [vol2]);
      }
    }
    // The populate run and image are new resources (version in the name): the old ones are deleted by Pulumi
    // only at the end of a successful update, after every container left the old volume.
    assert.equal(r2.resources.filter((x) => x.name === "nextcloud-nc1-updater-31.0.9").length, 0);
    assert.deepEqual(byName(r2, "nextcloud-nc1-updater-32.0.1").inputs.triggers, [vol2, `nextcloud:${V2}-fpm`]);
    for (const t of ["alpha", "bravo", "charlie", "delta"]) {
      assert.deepEqual(byName(r1, `${t}-nextcloud-upgrade`).inputs.triggers, [vol1]);
      assert.deepEqual(byName(r2, `${t}-nextcloud-upgrade`).inputs.triggers, [vol2]);
      assert.equal((byName(r2, `${t}-nextcloud-fpm`).inputs.mounts as Mount[])[0].source, vol2);
      // The install is never re-run: no triggers, and its update is a no-op.
      for (const r of [r1, r2]) {
        assert.equal(byName(r, `${t}-nextcloud-init`).inputs.triggers, undefined);
        assert.equal(byName(r, `${t}-nextcloud-init`).inputs.update, "true");
      }
      // Settings do not depend on the version: configure does not re-run.
      assert.equal(inputsOf(r1, `${t}-nextcloud-configure`), inputsOf(r2, `${t}-nextcloud-configure`));
      for (const data of ["config", "data", "admin-password"]) assert.equal(inputsOf(r1, `${t}-nextcloud-${data}`), inputsOf(r2, `${t}-nextcloud-${data}`));
      assert.equal(inputsOf(r1, `${t}-nextcloud-db-db`), inputsOf(r2, `${t}-nextcloud-db-db`));
    }
    // Same graph at both versions.
    const shape = (r: HarnessResult) => nextcloudResources(r).map((x) => `${x.name.replace(/\d+\.\d+\.\d+/, "V")}<-${x.dependsOn.length}`).sort();
    assert.deepEqual(shape(r1), shape(r2));
  });

  it("never registers a secret in plain text", () => {
    for (const r of [r1, r2]) {
      // Every secret of the mock world: the operator secrets given to the harness, each generated password
      // (the mocks answer mock-<name>-xxx…) and each Keycloak client secret (mock-secret-<name>).
      const secrets = new Set<string>(Object.values(SECRETS));
      for (const x of r.resources) {
        if (x.type === "random:index/randomPassword:RandomPassword") secrets.add(`mock-${x.name}-${"x".repeat(Number(x.inputs.length))}`);
        if (x.type === "keycloak:openid/client:Client") secrets.add(`mock-secret-${x.name}`);
      }
      assert.ok(secrets.size > Object.keys(SECRETS).length + 10, "generated secrets were collected too");
      for (const x of nextcloudResources(r)) {
        const masked = JSON.stringify(maskSecrets(x.inputs));
        for (const s of secrets) {
          assert.ok(!masked.includes(s), `${x.name} shows a secret in plain text`);
          assert.ok(!masked.includes(Buffer.from(s).toString("base64")), `${x.name} shows a secret in base64`);
        }
      }
      for (const name of ["alpha-nextcloud-init", "alpha-nextcloud-configure"]) {
        const c = byName(r, name);
        assert.equal(c.inputs.logging, "none");
        assert.ok(SECRET_MARK in (c.inputs.stdin as object), `${name}: stdin is a secret`);
        assert.ok(!JSON.stringify(maskSecrets(c.inputs.create)).includes(SCRIPT_SECRETS_DIR));
      }
      const initStdin = String(revealSecrets(byName(r, "alpha-nextcloud-init").inputs.stdin));
      assert.match(initStdin, /--database-pass=@file:\/tmp\/factory-secrets\/db-password/);
      assert.match(initStdin, /--admin-pass=@file:\/tmp\/factory-secrets\/admin-password/);
    }
  });
});

describe("nextcloud: settings the program refuses", () => {
  it("refuses an image whose tag does not carry nextcloud.version (the program fails)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nc-stack-"));
    const file = path.join(dir, "Pulumi.ncfix.yaml");
    fs.writeFileSync(file, fs.readFileSync(STACK_FILE, "utf8").replace(`version: ${V1}`, `version: ${V2}`));
    await assert.rejects(
      runUnderMocks({ stack: "ncfix", projectDir: ROOT, stackFile: file, tenantsDir: TENANTS_DIR, secrets: SECRETS }),
      /images.nextcloud "nextcloud:31.0.9-fpm" does not match nextcloud.version 32.0.1/,
    );
  });
});

describe("nextcloud: what the edge consumes", () => {
  it("exposes one Caddy site per running tenant and one install per host", async () => {
    let factory: NextcloudFactory | undefined;
    const r = await runUnderMocks({
      stack: "ncfix", projectDir: ROOT, stackFile: STACK_FILE, tenantsDir: TENANTS_DIR, secrets: SECRETS,
      program: () => {
        const inputs = requireFactoryInputs({ stack: "ncfix", projectDir: ROOT, stackFile: STACK_FILE, tenantsDir: TENANTS_DIR });
        const platform = new Platform("platform", { settings: inputs.settings, secrets: readSecrets(new pulumi.Config(PROJECT)) });
        // The realm itself is the identity section's business: its name is all the clients need here.
        const realmId = inputs.settings.realm;
        const identities = new Map(inputs.tenants.map((t) => [t.slug, new TenantIdentity(`${t.slug}-identity`, {
          tenant: t.slug, realmId, services: Object.keys(t.services) as ServiceName[], provider: platform.keycloak,
        })]));
        const context: NextcloudContext = {
          settings: inputs.settings, placement: inputs.placement, docker: platform.docker, postgres: platform.postgres,
          garageS3: platform.s3, garageAdmin: { url: platform.endpoints.garage.adminUrl, token: platform.secrets.garageAdminToken },
          keycloak: platform.keycloak, realmId, redis: platform.endpoints.redis, redisAdminPassword: platform.secrets.redisAdminPassword,
          collaboraUrl: platform.endpoints.collaboraUrl, smtpPassword: platform.secrets.smtpPassword,
        };
        const instances = new Map(inputs.tenants.filter((t) => t.services.nextcloud).map((t) =>
          [t.slug, new NextcloudInstance(`${t.slug}-nextcloud`, nextcloudInstanceArgs(t, identities.get(t.slug), context))]));
        factory = new NextcloudFactory("nextcloud", {
          settings: inputs.settings, tenants: inputs.tenants, placement: inputs.placement, docker: platform.docker, networks: platform.networks, instances,
        });
        return {
          sites: factory.caddySites.map((s) => ({ ...s, installVolume: s.installVolume })),
          installs: factory.installs.map((i) => ({ host: i.host, version: i.version, volumeName: i.volumeName, mountPath: i.mountPath })),
        };
      },
    });
    const out = r.outputs as { sites: Record<string, unknown>[]; installs: Record<string, unknown>[] };
    const vol = installVolumeName("ncfix", V1, APPS);
    assert.deepEqual(out.sites, [
      { host: "nc1", tenant: "alpha", hostname: "cloud.alpha.example.net", fpmUpstream: "ncfix-nc-alpha:9000", installVolume: vol },
      { host: "nc1", tenant: "bravo", hostname: "bravo.nextcloud.ncfix.example.org", fpmUpstream: "ncfix-nc-bravo:9000", installVolume: vol },
      { host: "nc2", tenant: "charlie", hostname: "charlie.nextcloud.ncfix.example.org", fpmUpstream: "ncfix-nc-charlie:9000", installVolume: vol },
      { host: "nc2", tenant: "delta", hostname: "delta.nextcloud.ncfix.example.org", fpmUpstream: "ncfix-nc-delta:9000", installVolume: vol },
    ]);
    assert.deepEqual(out.installs, [
      { host: "nc1", version: V1, volumeName: vol, mountPath: `/srv/nextcloud/${vol}` },
      { host: "nc2", version: V1, volumeName: vol, mountPath: `/srv/nextcloud/${vol}` },
    ]);
    // Per host maint-on, populate, maint-off; per tenant init, fpm, upgrade, cron, configure.
    assert.equal(factory!.plan.length, 2 * 3 + 4 * 5);
  });
});

after(() => undefined);
