// One tenant's Nextcloud: its database, bucket (primary storage), config and data volumes, generated
// passwords, OIDC client and Redis user, then, when the fleet's rollout (components/nextcloud.ts) calls
// them in its order, the one-time install, the FPM and cron containers, the upgrade and the settings.
// The instance is a child of the tenant's Tenant component; nextcloudInstanceArgs (nextcloudContext.ts)
// turns the fleet's data into its Args (the types: ./nextcloudInstanceArgs). See docs/nextcloud.md.
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as path from "node:path";
import { serviceBucketName } from "../src/garage/naming";
import { clientIdFor } from "../src/keycloak/naming";
import { renderCronLoop } from "../src/nextcloud/cron";
import { RUNTIME_SECRETS, SECRET_FILES, SecretFile } from "../src/nextcloud/env";
import { fpmUpstream, FPM_PORT, NC_LABELS, NC_LIMITS, NC_PATHS, quotaPolicy, tenantNames, WWW_DATA_UID } from "../src/nextcloud/layout";
import {
  dockerCommands, renderConfigureScript, renderInitScript, renderUpgradeScript, SCRIPT_SECRETS_DIR, withSecretFiles,
} from "../src/nextcloud/scripts";
import { redisTenantUser, redisUserCommands, renderRedisUserScript, sha256Hex } from "../src/platform/redis";
import { tenantDatabaseName } from "../src/postgres/names";
import { hardenedContainer } from "./container";
import { GarageBucket } from "./garageBucket";
import { KeycloakClient } from "./identity";
import type { NextcloudInstanceArgs, RunArgs } from "./nextcloudInstanceArgs";
import { TenantDatabase } from "./tenantDatabase";

export type { NextcloudInstanceArgs, RunArgs, TenantRoles } from "./nextcloudInstanceArgs";

/** The patched entrypoint, uploaded into every FPM container. */
export const ENTRYPOINT_SOURCE = path.join(__dirname, "..", "scripts", "nextcloud", "entrypoint.sh");

/** Nextcloud's local break-glass administrator (SSO is the normal login). */
export const NEXTCLOUD_ADMIN_USER = "factory-admin";

/**
 * One tenant's Nextcloud. The constructor registers what holds data (database, bucket, config and data
 * volumes, admin password: all protected) and, when active, the OIDC client; the factory then calls
 * runInit/runFpm/runUpgrade/runConfigure in rollout order.
 */
export class NextcloudInstance extends pulumi.ComponentResource {
  readonly tenant: string;
  readonly hostname: string;
  readonly fpmUpstream: string;
  readonly database: TenantDatabase;
  readonly bucket: GarageBucket;
  readonly configVolume: docker.Volume;
  readonly dataVolume: docker.Volume;
  readonly oidcClient?: KeycloakClient;
  /** Secret files the FPM and cron containers read (secrets). */
  readonly runtimeSecrets: Partial<Record<SecretFile, pulumi.Input<string>>>;
  fpm?: docker.Container;
  cron?: docker.Container;

  private readonly args: NextcloudInstanceArgs;
  private readonly adminPassword: random.RandomPassword;
  private readonly redisPassword: random.RandomPassword;
  /** The tenant's own Redis user on its host's Redis (active tenants). */
  private redisUser?: command.local.Command;
  private readonly names: ReturnType<typeof tenantNames>;
  /** Docker name of the FPM container (its pids limit is set by the host's command). */
  get fpmContainerName(): string { return this.names.fpm; }
  /** Docker name of the cron container (its pids limit is set by the host's command). */
  get cronContainerName(): string { return this.names.cron; }
  private readonly name: string;
  private init?: command.local.Command;

  constructor(name: string, args: NextcloudInstanceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:nextcloud:NextcloudInstance", name, { tenant: args.tenant }, opts);
    this.name = name;
    this.args = args;
    this.tenant = args.tenant;
    this.hostname = args.hostname;
    this.fpmUpstream = fpmUpstream(args.stack, args.tenant);
    this.names = tenantNames(args.stack, args.tenant);
    const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };
    const quota = quotaPolicy(args.quotaGb);

    this.database = new TenantDatabase(`${name}-db`, {
      tenant: args.tenant,
      name: tenantDatabaseName(args.tenant, "nextcloud"),
      provider: args.postgres,
    }, { parent: this });
    this.bucket = new GarageBucket(`${name}-bucket`, {
      tenant: args.tenant,
      bucketName: serviceBucketName(args.tenant, "nextcloud"),
      quotaBytes: quota.bucketBytes,
      admin: args.garageAdmin,
      s3: args.garageS3,
    }, { parent: this });
    this.adminPassword = new random.RandomPassword(`${name}-admin-password`, { length: 32, special: false }, keep);
    // Kept like every generated secret (an archived tenant keeps it: reactivating reuses it).
    this.redisPassword = new random.RandomPassword(`${name}-redis-password`, { length: 32, special: false }, keep);
    const labels = [{ label: NC_LABELS.stack, value: args.stack }, { label: NC_LABELS.tenant, value: args.tenant }];
    const onHostKept = pulumi.mergeOptions(keep, { provider: args.provider });
    this.configVolume = new docker.Volume(`${name}-config`, { name: this.names.config, labels }, onHostKept);
    this.dataVolume = new docker.Volume(`${name}-data`, { name: this.names.data, labels }, onHostKept);
    this.runtimeSecrets = {
      s3Key: this.bucket.accessKeyId, // an identifier, not a secret (uploaded as a file all the same)
      s3Secret: pulumi.secret(this.bucket.secretAccessKey),
      smtpPassword: pulumi.secret(args.smtpPassword),
      dbPassword: this.database.password,
      adminPassword: this.adminPassword.result,
      redisPassword: this.redisPassword.result,
    };

    if (args.active) {
      const url = `https://${args.hostname}`;
      this.oidcClient = new KeycloakClient(`${name}-oidc`, {
        tenant: args.tenant,
        realmId: args.realmId,
        clientId: clientIdFor("nextcloud", args.tenant),
        rootUrl: url,
        redirectUris: [`${url}/apps/user_oidc/code`],
        webOrigins: [url],
        scopeRoles: args.identity!.scopeRoles(["nextcloud"]),
        provider: args.keycloak,
      }, { parent: this });
      this.runtimeSecrets.oidcClientSecret = this.oidcClient.clientSecret;

      // Its own Redis user: cache, locks and sessions authenticate as nc-<slug>, not as Redis's admin.
      // Made at run time on the host's Redis (no restart for the other tenants); a move to another host
      // deletes it on the old one first.
      const user = redisTenantUser(args.tenant);
      const secretsDir = "/tmp/factory-redis-secrets";
      const stdin = pulumi.secret(pulumi.all([this.redisPassword.result, args.redis.adminPassword]).apply(([pw, admin]) =>
        withSecretFiles(renderRedisUserScript({ user, passwordSha256: sha256Hex(pw), adminPasswordFile: `${secretsDir}/admin-password` }), { "admin-password": admin }, secretsDir)));
      this.redisUser = new command.local.Command(`${name}-redis-user`, {
        create: redisUserCommands.create(args.redis.container),
        delete: redisUserCommands.delete(args.redis.container),
        stdin,
        environment: this.dockerEnv(),
        triggers: [args.host.name],
        // Its stdin holds the admin password: nothing of the run is logged.
        logging: "none",
      }, { parent: this, deleteBeforeReplace: true, dependsOn: args.redis.ready ? [args.redis.ready] : [] });
    }
    this.registerOutputs({ fpmUpstream: this.fpmUpstream, hostname: this.hostname });
  }

  private dockerEnv(): Record<string, string> {
    return { DOCKER_HOST: this.args.host.docker };
  }

  /** The one-time install (ephemeral official-image run); created once, never re-run (update is a no-op). */
  runInit(o: RunArgs): command.local.Command {
    const a = this.args;
    const script = renderInitScript({
      slug: a.tenant,
      env: a.initEnv,
      db: { host: a.database.host, port: a.database.port, name: tenantDatabaseName(a.tenant, "nextcloud"), user: tenantDatabaseName(a.tenant, "nextcloud") },
      adminUser: NEXTCLOUD_ADMIN_USER,
      adminEmail: a.adminEmail,
    });
    const s = this.runtimeSecrets;
    const stdin = pulumi.secret(pulumi.all([s.s3Key!, s.s3Secret!, s.smtpPassword!, s.dbPassword!, s.adminPassword!, s.redisPassword!]).apply(([k, sec, smtp, db, admin, redis]) =>
      withSecretFiles(script, {
        [SECRET_FILES.s3Key]: k, [SECRET_FILES.s3Secret]: sec, [SECRET_FILES.smtpPassword]: smtp,
        [SECRET_FILES.dbPassword]: db, [SECRET_FILES.adminPassword]: admin, [SECRET_FILES.redisPassword]: redis,
      })));
    this.init = new command.local.Command(`${this.name}-init`, {
      create: pulumi.all([o.installVolume.name, this.configVolume.name, this.dataVolume.name, o.network.name]).apply(([install, config, data, network]) =>
        dockerCommands.init({ container: this.names.init, network, install, config, data, image: o.image })),
      // Later changes (a new install volume name, a rotated secret) must not re-install: the update is a no-op.
      update: "true",
      stdin,
      environment: this.dockerEnv(),
      logging: "none",
    }, {
      parent: this,
      dependsOn: [...o.after, this.database, this.bucket, this.configVolume, this.dataVolume, o.network, o.imageResource, ...(this.redisUser ? [this.redisUser] : [])],
      // Keep plans quiet on upgrades: what this one-time command would run later does not matter.
      ignoreChanges: ["create", "stdin", "environment"],
    });
    return this.init;
  }

  /** The PHP-FPM container: patched entrypoint, install volume read-only, secrets as files. */
  runFpm(o: RunArgs): docker.Container {
    this.fpm = this.container("fpm", o, {
      entrypoints: [NC_PATHS.entrypoint],
      command: ["php-fpm"],
      uploads: [{ file: NC_PATHS.entrypoint, content: this.args.entrypoint, permissions: "0555" }],
      aliases: [this.names.fpm],
      healthcheck: {
        tests: ["CMD", "php", "-r", `exit(@fsockopen("127.0.0.1", ${FPM_PORT}) ? 0 : 1);`],
        interval: "30s", timeout: "5s", retries: 3, startPeriod: "20s",
      },
    });
    return this.fpm;
  }

  /**
   * The tenant's background jobs: the FPM container's image, environment, volumes and secret files with
   * the cron loop as entrypoint (no PHP-FPM, no network alias, no health check: it only runs cron.php).
   */
  runCron(o: RunArgs): docker.Container {
    this.cron = this.container("cron", o, {
      entrypoints: ["/bin/sh", NC_PATHS.cronScript],
      uploads: [{ file: NC_PATHS.cronScript, content: renderCronLoop({ slug: this.tenant, intervalMinutes: this.args.cronIntervalMinutes }), permissions: "0555" }],
    });
    return this.cron;
  }

  /** One of the tenant's two long-running containers, hardened alike; FPM and cron differ only by `own`. */
  private container(role: "fpm" | "cron", o: RunArgs, own: {
    entrypoints: string[]; command?: string[]; uploads: docker.types.input.ContainerUpload[];
    aliases?: string[]; healthcheck?: docker.types.input.ContainerHealthcheck;
  }): docker.Container {
    const a = this.args;
    const secrets: docker.types.input.ContainerUpload[] = RUNTIME_SECRETS.map((f) => ({
      file: `${NC_PATHS.secrets}/${SECRET_FILES[f]}`, content: this.runtimeSecrets[f]!, owner: "0", group: String(WWW_DATA_UID), permissions: "0440",
    }));
    return new docker.Container(`${this.name}-${role}`, hardenedContainer({
      name: this.names[role],
      image: o.image,
      user: "www-data",
      entrypoints: own.entrypoints,
      command: own.command,
      envs: a.env,
      uploads: [...own.uploads, ...secrets],
      mounts: [
        { type: "volume", source: o.installVolume.name, target: NC_PATHS.install, readOnly: true },
        { type: "volume", source: this.configVolume.name, target: NC_PATHS.config },
        { type: "volume", source: this.dataVolume.name, target: NC_PATHS.data },
      ],
      networksAdvanced: [{ name: o.network.name, aliases: own.aliases }],
      capabilities: { drops: ["ALL"] },
      memory: NC_LIMITS[role].memoryMb,
      memorySwap: NC_LIMITS[role].memoryMb,
      healthcheck: own.healthcheck,
      labels: [
        { label: NC_LABELS.stack, value: a.stack },
        { label: NC_LABELS.role, value: role },
        { label: NC_LABELS.tenant, value: a.tenant },
      ],
    }), {
      parent: this,
      provider: a.provider,
      // Fixed container name: the old one must go before its replacement starts.
      deleteBeforeReplace: true,
      dependsOn: [...o.after, this.configVolume, this.dataVolume, o.installVolume, o.network, o.imageResource, ...(this.init ? [this.init] : []), ...(this.redisUser ? [this.redisUser] : [])],
    });
  }

  /** `occ upgrade` in the (new) FPM container; re-run whenever the install volume changes. */
  runUpgrade(o: { version: string; installVolumeName: string; after: pulumi.Resource[] }): command.local.Command {
    return new command.local.Command(`${this.name}-upgrade`, {
      create: dockerCommands.exec(this.names.fpm),
      stdin: renderUpgradeScript(this.tenant, o.version),
      environment: this.dockerEnv(),
      triggers: [o.installVolumeName],
      logging: "stdoutAndStderr",
    }, { parent: this, dependsOn: o.after });
  }

  /** Idempotent settings; re-run when the rendered settings or the OIDC client secret change. */
  runConfigure(o: { after: pulumi.Resource[] }): command.local.Command {
    const a = this.args;
    const script = renderConfigureScript({
      slug: a.tenant,
      hostname: a.hostname,
      trustedProxies: a.trustedProxies,
      apps: a.apps,
      defaultUserQuota: quotaPolicy(a.quotaGb).defaultUserQuota,
      oidc: { clientId: clientIdFor("nextcloud", a.tenant), discoveryUri: a.discoveryUri, role: a.identity!.roleNames.nextcloud ?? `nextcloud:${a.tenant}` },
      collaboraUrl: a.collaboraUrl,
    });
    const stdin = pulumi.secret(pulumi.output(this.runtimeSecrets.oidcClientSecret!).apply((secret) =>
      withSecretFiles(script, { [SECRET_FILES.oidcClientSecret]: secret })));
    return new command.local.Command(`${this.name}-configure`, {
      create: dockerCommands.exec(this.names.fpm),
      stdin,
      environment: this.dockerEnv(),
      logging: "none",
    }, { parent: this, dependsOn: o.after });
  }
}
