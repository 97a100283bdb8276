// The Pulumi program: validate everything first (no resource is registered when anything is wrong),
// then build the platform and every tenant. index.ts runs it; the plan, tests and benchmark run it
// under Pulumi's mocks.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../components/platform";
import { PlatformSecrets } from "../components/secrets";
import { PostgresLogin } from "../components/postgresProvisioner";
import { FactoryRealm } from "../components/identity";
import { KEYCLOAK_ADMIN_USER } from "../src/platform/services";
import { NextcloudFactory, NextcloudInstance, TenantRoles } from "../components/nextcloud";
import { Tenant, TenantIdentityContext, TenantServicesContext } from "../components/tenant";
import { roleName } from "../src/keycloak/naming";
import { settingsStackFor, shardOf, StackRole, stackRole } from "../src/shards";
import { FactoryInputs, readFactoryInputs, requireFactoryInputs } from "../src/inputs";
import { OPERATOR_SECRET_KEYS, PROJECT, SHARD_SECRET_KEYS } from "../src/settings";
import { ImageMajors, imageMajors, majorChangeProblems } from "../src/majors";
import { websiteMoveProblems, websiteOwners } from "../src/websites";
import { pahekoHost, pahekoUpstream, PahekoFactory, pahekoRef } from "../components/paheko";
import { WordPressMultisite, wordpressRef } from "../components/wordpress";
import { ROLE_SERVICES, RoleService, SERVICE_HOST_LABEL } from "../src/services/registry";
import { wordpressEditRoot } from "../src/services/wordpress";
import { CaddyEdge } from "../components/edge";
import { edgeUpstreams } from "../src/caddy/upstreams";
import { fleetImageProblem } from "../src/nextcloud/layout";

export interface RunOptions {
  /** Stack name; defaults to the current Pulumi stack. */
  stack?: string;
  /** Project root (Pulumi.yaml); defaults to the current directory. */
  projectDir?: string;
  /** Stack settings file; defaults to Pulumi.<stack>.yaml in the project root. */
  stackFile?: string;
  /** Tenant directory; defaults to the tenantsDir setting, else tenants/<stack>. */
  tenantsDir?: string;
  /** Stack whose settings (and tenants) this stack uses: itself, or for a shard `<base>-<k>` the base. */
  settingsStack?: string;
}

export interface FactoryOutputs {
  tenants: string[];
  placement: Record<string, string>;
  /** Per tenant with a static site: its bucket and upload key (the secret stays a Pulumi secret). */
  staticSites: Record<string, { bucket: pulumi.Output<string>; accessKeyId: pulumi.Output<string>; secretAccessKey: pulumi.Output<string> }>;
  /** What the stack is: whole, platform of a sharded set, or one tenant shard. */
  role: StackRole["kind"];
  /** Majors of the guarded images (src/majors.ts): the next deployment compares its own with these. */
  imageMajors: ImageMajors;
  /** Website hostname → `<slug>/<service>` of every tenant file (src/websites.ts): the next deployment refuses a move. */
  websiteOwners: Record<string, string>;
  /** Platform and whole stacks: what tenant shards read through StackReference (docs/scale.md). */
  realmId?: pulumi.Output<string>;
  identities?: Record<string, Record<string, pulumi.Output<string>>>;
  platformSecrets?: pulumi.Output<Record<string, string>>;
  /** The provisioning role's login (a secret): what tenant shards create tenant databases with. */
  postgresProvisioner?: pulumi.Output<{ username: string; password: string }>;
}

export function readSecrets(config: pulumi.Config): PlatformSecrets {
  const out = {} as PlatformSecrets;
  for (const key of OPERATOR_SECRET_KEYS) out[key] = config.requireSecret(key);
  return out;
}

/**
 * Refuses, before any resource is registered, what the last deployment of this stack makes unsafe, read
 * back through a reference to the stack itself: a change of major of a guarded image (PostgreSQL, MariaDB,
 * Keycloak; its `imageMajors` output) unless the `migrations` setting confirms it (src/majors.ts), and a
 * website hostname passing to another tenant or service (its `websiteOwners` output, src/websites.ts).
 * Inputs that do not load are left to runFactory, which reports them; nothing is read then either.
 * Returns the inputs it validated, for runFactory (so the tenant files are read once).
 */
export async function guardPreviousDeployment(opts: RunOptions = {}): Promise<FactoryInputs | undefined> {
  const { stack, projectDir, settingsStack } = stackOf(opts);
  const loaded = readFactoryInputs({ stack: settingsStack, projectDir, stackFile: opts.stackFile, tenantsDir: tenantsDirOf(opts) });
  if (!loaded.inputs || loaded.problems.length > 0) return undefined;
  const { settings, tenants } = loaded.inputs;
  const self = new pulumi.StackReference("previous-deployment", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}` });
  const [majors, websites] = await Promise.all([self.getOutputDetails("imageMajors"), self.getOutputDetails("websiteOwners")]);
  const problems = [
    ...majorChangeProblems(majors.value, imageMajors(settings.images), settings.migrations),
    ...websiteMoveProblems(websites.value, websiteOwners(tenants)),
  ];
  if (problems.length > 0) throw new pulumi.RunError(problems.join("\n"));
  return loaded.inputs;
}

/** The tenant directory option, else the stack's tenantsDir setting (else the settings file's, in inputs.ts). */
function tenantsDirOf(opts: RunOptions): string | undefined {
  return opts.tenantsDir ?? (new pulumi.Config(PROJECT).get("tenantsDir") || undefined);
}

/** The stack being run, the project folder, and the stack whose settings file it uses. */
function stackOf(opts: RunOptions): { stack: string; projectDir: string; settingsStack: string } {
  const stack = opts.stack ?? pulumi.getStack();
  const projectDir = opts.projectDir ?? process.cwd();
  return { stack, projectDir, settingsStack: opts.settingsStack ?? settingsStackFor(stack, (f) => fs.existsSync(path.join(projectDir, f))) };
}

/** The program: `validated` are inputs guardPreviousDeployment already read with the same options. */
export function runFactory(opts: RunOptions = {}, validated?: FactoryInputs): FactoryOutputs {
  const { stack, projectDir, settingsStack } = stackOf(opts);
  const config = new pulumi.Config(PROJECT);
  const inputs: FactoryInputs = validated ?? requireFactoryInputs({
    stack: settingsStack,
    projectDir,
    stackFile: opts.stackFile,
    tenantsDir: tenantsDirOf(opts),
  });
  // Checked before anything is registered: the Nextcloud image's PHP must match the install volume's code.
  const nextcloudImage = fleetImageProblem({ image: inputs.settings.images.nextcloud, version: inputs.settings.nextcloud.version, tenants: inputs.tenants });
  if (nextcloudImage) throw new Error(nextcloudImage);
  const role = stackRole(stack, settingsStack, inputs.settings.shards);
  // The tenants whose own resources this stack registers: all (whole), none (platform), its shard's.
  const owned = role.kind === "whole" ? inputs.tenants
    : role.kind === "platform" ? []
    : inputs.tenants.filter((t) => shardOf(t.slug, role.shards) === role.shard);
  // Fleet-wide parts (realm and identities, shared instances, install volumes, walls and the edge) live in
  // the whole or platform stack and are computed from every tenant file.
  const fleet = role.kind !== "shard";
  // A shard reads the platform stack: secrets, realm and tenants' role ids (the same values, not copies).
  const platformRef = role.kind === "shard"
    ? new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${role.platformStack}`)
    : undefined;
  const secrets = platformRef ? secretsFrom(platformRef) : readSecrets(config);
  const platform = new Platform("platform", { settings: inputs.settings, secrets, reference: !fleet, provisioner: platformRef ? provisionerFrom(platformRef) : undefined });

  // The realm once (whole and platform stacks); in a shard its id comes from the platform stack.
  const realm = fleet ? new FactoryRealm("realm", {
    realm: inputs.settings.realm,
    wallPkce: inputs.settings.wallPkce,
    provider: platform.keycloak,
    admin: { url: platform.endpoints.keycloak.url, username: KEYCLOAK_ADMIN_USER, password: platform.secrets.keycloakAdminPassword },
  }) : undefined;
  const realmId: pulumi.Output<string> = realm ? realm.realmId : platformRef!.requireOutput("realmId") as pulumi.Output<string>;

  // The pooled instances: one Paheko and one WordPress Multisite for the whole factory, on the first
  // compute host by name, registered as soon as one tenant file names the service (archived tenants
  // included: the volume is protected data), and not before. A shard reaches the platform's by name.
  const pooledHost = pahekoHost(inputs.settings.hosts);
  const garageAdmin = { url: platform.endpoints.garage.adminUrl, token: platform.secrets.garageAdminToken };
  const offers = (svc: "paheko" | "wordpress") => inputs.tenants.some((t) => t.services[svc] !== undefined);
  const paheko = fleet && offers("paheko") ? new PahekoFactory("paheko", {
    host: pooledHost,
    provider: platform.docker[pooledHost.name],
    image: inputs.settings.images.paheko,
    factoryDomain: `${SERVICE_HOST_LABEL.paheko}.${inputs.settings.domain}`,
    orgs: inputs.tenants
      .filter((t) => t.services.paheko && t.status !== "archived")
      .map((t) => ({ org: t.slug, hostnames: [t.services.paheko!.hostname], suspended: t.status === "suspended" })),
    mail: inputs.settings.mail,
    smtpPassword: platform.secrets.smtpPassword,
  }) : undefined;
  const wordpress = fleet && offers("wordpress") ? new WordPressMultisite("wordpress", {
    host: pooledHost,
    provider: platform.docker[pooledHost.name],
    image: inputs.settings.images.wordpress,
    mariadbImage: inputs.settings.images.mariadb,
    networkDomain: wordpressEditRoot(inputs.settings.domain),
    title: `Sites ${inputs.settings.domain}`,
    adminEmail: inputs.settings.acmeEmail,
    plugins: inputs.settings.wordpress.plugins,
    themes: inputs.settings.wordpress.themes,
  }) : undefined;

  // One Tenant component per tenant file: its identity and walls where the fleet is (whole, platform),
  // its services and DNS where its resources are (whole, its shard). Fleet parts only get plain data.
  const identityContext: TenantIdentityContext = { provider: platform.keycloak, realmId, wallPkce: inputs.settings.wallPkce };
  const dns = inputs.settings.dns;
  const servicesContext: TenantServicesContext = {
    fleet: {
      nextcloud: {
        settings: inputs.settings, placement: inputs.placement, docker: platform.docker, postgres: platform.postgres,
        garageS3: platform.s3, garageAdmin, keycloak: platform.keycloak, realmId, redis: platform.endpoints.redis,
        redisAdminPassword: platform.secrets.redisAdminPassword, redisContainers: redisContainers(platform),
        collaboraUrl: platform.endpoints.collaboraUrl, smtpPassword: platform.secrets.smtpPassword,
      },
      paheko: paheko ?? pahekoRef("paheko", inputs.settings.hosts),
      wordpress: wordpress ?? wordpressRef("wordpress", pooledHost),
      garageAdmin,
      garageS3: platform.s3,
      s3: { endpoint: platform.endpoints.garage.s3Url, region: platform.endpoints.garage.region },
    },
    dnsSettings: inputs.settings,
    dns: { server: { server: dns.server, port: dns.port }, tsig: { keyName: dns.tsigKeyName, algorithm: dns.tsigAlgorithm, secret: platform.secrets.dnsTsigSecret } },
  };
  const ownedSlugs = new Set(owned.map((t) => t.slug));
  const tenants = new Map<string, Tenant>();
  for (const t of inputs.tenants) {
    const mine = ownedSlugs.has(t.slug);
    if (!fleet && !mine) continue;
    tenants.set(t.slug, new Tenant(t.slug, {
      tenant: t,
      identity: fleet ? identityContext : undefined,
      services: mine ? servicesContext : undefined,
      roles: platformRef && mine ? rolesFrom(platformRef, t.slug) : undefined,
    }));
  }
  // Every tenant's DNS releases (names it dropped) run before any tenant claims: a hostname moved from
  // one tenant to another in one change is free when it is claimed (src/dns/nsupdate.ts, ownership records).
  const dnsRecords = [...tenants.values()].flatMap((t) => (t.dns ? [t.dns] : []));
  const dnsReleases = dnsRecords.flatMap((d) => (d.release ? [d.release] : []));
  for (const d of dnsRecords) d.claim(dnsReleases);

  // The Nextcloud fleet: install volumes per host and version, and the rollout that runs each tenant's
  // instance in order; the edge serves `nextcloud.caddySites` from each compute host's Caddy.
  const instances = new Map<string, NextcloudInstance>();
  for (const [slug, t] of tenants) if (t.services.nextcloud) instances.set(slug, t.services.nextcloud);
  const nextcloud = new NextcloudFactory("nextcloud", {
    settings: inputs.settings,
    tenants: role.kind === "shard" ? owned : inputs.tenants,
    role: role.kind,
    placement: inputs.placement,
    docker: platform.docker,
    networks: platform.networks,
    instances,
  });

  const wallClientSecrets: Record<string, pulumi.Output<string>> = Object.assign({}, ...[...tenants.values()].map((t) => t.wallClientSecrets));
  const staticSiteOutputs: Record<string, { bucket: pulumi.Output<string>; accessKeyId: pulumi.Output<string>; secretAccessKey: pulumi.Output<string> }> = {};
  for (const [slug, t] of tenants) {
    const site = t.services.staticSite;
    if (site) staticSiteOutputs[slug] = { bucket: site.bucketName, accessKeyId: site.accessKeyId, secretAccessKey: site.secretAccessKey };
  }
  // The Caddy containers: the edge config holds every wall and route, each compute host's config its
  // Nextcloud sites (and the WordPress editing hostnames on the WordPress host).
  if (fleet) new CaddyEdge("caddy", {
    settings: inputs.settings,
    tenants: inputs.tenants,
    docker: platform.docker,
    garageAdminUrl: platform.endpoints.garage.adminUrl,
    upstreams: edgeUpstreams({
      settings: inputs.settings, endpoints: platform.endpoints, tenants: inputs.tenants, placement: inputs.placement,
      paheko: pahekoUpstream(pooledHost), wordpressHost: pooledHost.name,
    }),
    wallClientSecrets,
    nextcloudSites: nextcloud.caddySites,
    wordpress: wordpress && { host: wordpress.host, fpmUpstream: wordpress.fpmUpstream, documentRoot: wordpress.documentRoot, htmlVolume: wordpress.htmlVolume },
    hostNetworks: Object.fromEntries(Object.entries(platform.networks).map(([h, n]) => [h, n.name])),
    nextcloudInstallsReady: groupBy(nextcloud.installs, (i) => i.host, (i) => i.ready),
  });
  // [/section: edge]

  return {
    role: role.kind,
    tenants: owned.map((t) => t.slug),
    imageMajors: imageMajors(inputs.settings.images),
    websiteOwners: websiteOwners(inputs.tenants),
    placement: Object.fromEntries(owned.map((t) => [t.slug, inputs.placement.get(t.slug)!])),
    staticSites: staticSiteOutputs,
    ...(fleet ? {
      realmId,
      identities: Object.fromEntries([...tenants].map(([slug, t]) => [slug, t.identity!.scopeRoles()])),
      // Only what tenant shards need; a Pulumi secret, readable only by those with the stack's secrets provider.
      platformSecrets: pulumi.secret(pulumi.all(Object.fromEntries(SHARD_SECRET_KEYS.map((k) => [k, secrets[k]])) as Record<string, pulumi.Output<string>>)),
      // Instead of the superuser's password: the shards create tenant databases as this role.
      postgresProvisioner: pulumi.secret(pulumi.all([platform.provisioner!.username, platform.provisioner!.password]).apply(([username, password]) => ({ username, password }))),
    } : {}),
  };
}

/** The Redis containers the platform deploys, by host ("redis-<host>" in SharedServices.containers). */
function redisContainers(platform: Platform): Record<string, pulumi.Resource> {
  const out: Record<string, pulumi.Resource> = {};
  for (const [key, c] of Object.entries(platform.shared?.containers ?? {})) if (key.startsWith("redis-")) out[key.slice("redis-".length)] = c;
  return out;
}

/** The value a tenant shard holds for an operator secret the platform keeps to itself. */
export function notForShards(key: string): string {
  return `(${key} is not given to tenant shards)`;
}

/** The operator secrets as a tenant shard reads them: the platform stack's secret output, key by key. */
function secretsFrom(ref: pulumi.StackReference): PlatformSecrets {
  const all = ref.requireOutput("platformSecrets") as pulumi.Output<Record<string, string>>;
  const out = {} as PlatformSecrets;
  for (const key of OPERATOR_SECRET_KEYS) {
    // A key the platform does not export gets a marker instead of a value (test/sharding.test.ts proves
    // that no shard resource receives one).
    out[key] = (SHARD_SECRET_KEYS as readonly string[]).includes(key) ? pulumi.secret(all.apply((x) => x[key])) : pulumi.secret(notForShards(key));
  }
  return out;
}

/** The provisioning role's login as a tenant shard reads it from the platform stack (a secret). */
function provisionerFrom(ref: pulumi.StackReference): PostgresLogin {
  const login = ref.requireOutput("postgresProvisioner") as pulumi.Output<{ username: string; password: string }>;
  return { username: login.apply((l) => l.username), password: pulumi.secret(login.apply((l) => l.password)) };
}

/** A tenant's roles as a shard reads them: names are pure, ids come from the platform stack. */
function rolesFrom(ref: pulumi.StackReference, slug: string): TenantRoles {
  const ids = ref.requireOutput("identities") as pulumi.Output<Record<string, Record<string, string>>>;
  return {
    roleNames: Object.fromEntries(ROLE_SERVICES.map((svc) => [svc, roleName(svc, slug)])),
    scopeRoles: (only?: readonly RoleService[]) => Object.fromEntries(
      (only ?? ROLE_SERVICES).map((svc) => [roleName(svc, slug), ids.apply((x) => x[slug]?.[roleName(svc, slug)] ?? "")]),
    ),
  };
}

function groupBy<T, V>(items: readonly T[], key: (t: T) => string, value: (t: T) => V): Record<string, V[]> {
  const out: Record<string, V[]> = {};
  for (const item of items) (out[key(item)] ??= []).push(value(item));
  return out;
}
