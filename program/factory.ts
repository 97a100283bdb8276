// The Pulumi program: validate everything first (no resource is registered when anything is wrong),
// then build the platform and every tenant. index.ts runs it; the plan, tests and benchmark run it
// under Pulumi's mocks.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { Platform, PlatformSecrets } from "../components/platform";
import { PostgresLogin } from "../components/postgresProvisioner";
import { FactoryRealm, TenantIdentity } from "../components/identity";
import { KEYCLOAK_ADMIN_USER } from "../src/platform/services";
import { NextcloudFactory, TenantRoles } from "../components/nextcloud";
import { roleName } from "../src/keycloak/naming";
import { settingsStackFor, shardOf, StackRole, stackRole } from "../src/shards";
import { ServiceName } from "../src/types";
import { FactoryInputs, readFactoryInputs, requireFactoryInputs } from "../src/inputs";
import { OPERATOR_SECRET_KEYS, PROJECT, SHARD_SECRET_KEYS } from "../src/settings";
import { ImageMajors, imageMajors, majorChangeProblems } from "../src/majors";
import { websiteMoveProblems, websiteOwners } from "../src/websites";
import { pahekoHost, pahekoUpstream, PahekoFactory, PahekoInstanceRef, PahekoOrganisation, pahekoRef } from "../components/paheko";
import { WordPressInstanceRef, WordPressMultisite, WordPressSite, wordpressRef } from "../components/wordpress";
import { StaticSite } from "../components/staticSite";
import { SERVICE_HOST_LABEL, wordpressEditRoot } from "../src/types";
import { DnsRecords } from "../components/dnsRecords";
import { tenantDnsRecords } from "../src/dns/records";
import { CaddyEdge } from "../components/edge";
import { KeycloakClient } from "../components/identity";
import { edgeUpstreams } from "../src/caddy/upstreams";
import { tenantWalls, wallRootUrl } from "../src/caddy/wall";
import { renderNextcloudSite } from "../src/nextcloud/caddy";

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

  // Wiring, one section per area. Each section registers its resources for every tenant it concerns.
  // [section: identity] realm, per-tenant groups/roles (TenantIdentity)
  // The realm once; every tenant (archived included: group and roles are kept) gets its group and roles.
  // Later sections create OIDC clients with KeycloakClient (not for archived tenants), realmId from
  // `realm` and scopeRoles from `identities.get(slug)!.scopeRoles([...])`.
  const realm = fleet ? new FactoryRealm("realm", {
    realm: inputs.settings.realm,
    wallPkce: inputs.settings.wallPkce,
    provider: platform.keycloak,
    admin: { url: platform.endpoints.keycloak.url, username: KEYCLOAK_ADMIN_USER, password: platform.secrets.keycloakAdminPassword },
  }) : undefined;
  const realmId: pulumi.Output<string> = realm ? realm.realmId : platformRef!.requireOutput("realmId") as pulumi.Output<string>;
  const identities = new Map<string, TenantIdentity>();
  const roles = new Map<string, TenantRoles>();
  for (const t of fleet ? inputs.tenants : []) {
    identities.set(t.slug, new TenantIdentity(`${t.slug}-identity`, {
      tenant: t.slug,
      realmId,
      services: Object.keys(t.services) as ServiceName[],
      provider: platform.keycloak,
    }));
    roles.set(t.slug, identities.get(t.slug)!);
  }
  if (platformRef) for (const t of owned) roles.set(t.slug, rolesFrom(platformRef, t.slug));
  // [/section: identity]
  // [section: nextcloud] NextcloudFactory
  // Every Nextcloud tenant (archived ones keep their data resources only); the edge section serves
  // `nextcloud.caddySites` from each compute host's Caddy, mounting `nextcloud.installs` read-only.
  const nextcloud = new NextcloudFactory("nextcloud", {
    settings: inputs.settings,
    tenants: role.kind === "shard" ? owned : inputs.tenants,
    scope: role.kind === "whole" ? "whole" : role.kind === "platform" ? "fleet" : "tenants",
    placement: inputs.placement,
    docker: platform.docker,
    networks: platform.networks,
    postgres: platform.postgres,
    garageS3: platform.s3,
    garageAdmin: { url: platform.endpoints.garage.adminUrl, token: platform.secrets.garageAdminToken },
    keycloak: platform.keycloak,
    realmId,
    identities: roles,
    redis: platform.endpoints.redis,
    redisAdminPassword: platform.secrets.redisAdminPassword,
    redisContainers: redisContainers(platform),
    collaboraUrl: platform.endpoints.collaboraUrl,
    smtpPassword: platform.secrets.smtpPassword,
  });
  // [/section: nextcloud]
  // [section: paheko-wordpress-static] PahekoFactory, WordPressMultisite, static sites
  // One Paheko and one WordPress Multisite for the whole factory, on the first compute host by name;
  // per tenant a folder, a site + bucket, a static bucket. An instance is registered as soon as one
  // tenant file names its service, archived tenants included (its volume is protected data), and not
  // before: a factory that offers no WordPress runs no WordPress.
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
  // In a tenant shard the shared instances are the platform stack's: reached by their names.
  const pahekoInstance: PahekoInstanceRef = paheko ?? pahekoRef("paheko", inputs.settings.hosts);
  const wordpressInstance: WordPressInstanceRef = wordpress ?? wordpressRef("wordpress", pooledHost);
  const staticSiteOutputs: Record<string, { bucket: pulumi.Output<string>; accessKeyId: pulumi.Output<string>; secretAccessKey: pulumi.Output<string> }> = {};
  for (const t of owned) {
    const active = t.status !== "archived";
    if (t.services.paheko) new PahekoOrganisation(`${t.slug}-paheko`, { tenant: t.slug, factory: pahekoInstance, active });
    const wp = t.services.wordpress;
    if (wp) {
      new WordPressSite(`${t.slug}-wordpress`, {
        tenant: t.slug, multisite: wordpressInstance, title: wp.title, email: t.contact, hostname: wp.hostname,
        editHostname: wp.editHostname, garageAdmin, garageS3: platform.s3, active,
        s3: { endpoint: platform.endpoints.garage.s3Url, region: platform.endpoints.garage.region },
      });
    }
    const st = t.services.staticSite;
    if (st) {
      const site = new StaticSite(`${t.slug}-static`, { tenant: t.slug, hostname: st.hostname, garageAdmin, garageS3: platform.s3 });
      staticSiteOutputs[t.slug] = { bucket: site.bucketName, accessKeyId: site.accessKeyId, secretAccessKey: site.secretAccessKey };
    }
  }
  // [/section: paheko-wordpress-static]
  // [section: dns] DNS records for managed tenants
  // Every tenant's releases (names it dropped) run before any tenant claims: a hostname moved from one
  // tenant to another in one change is free when it is claimed (src/dns/nsupdate.ts, ownership records).
  const dnsRecords: DnsRecords[] = [];
  for (const t of owned) {
    const records = tenantDnsRecords(t, inputs.settings);
    if (records.length === 0) continue; // dns: external, archived, or no service
    const dns = inputs.settings.dns;
    dnsRecords.push(new DnsRecords(`${t.slug}-dns`, {
      tenant: t.slug,
      stack: inputs.settings.stack,
      records,
      server: { server: dns.server, port: dns.port },
      tsig: { keyName: dns.tsigKeyName, algorithm: dns.tsigAlgorithm, secret: platform.secrets.dnsTsigSecret },
    }));
  }
  const dnsReleases = dnsRecords.flatMap((d) => (d.release ? [d.release] : []));
  for (const d of dnsRecords) d.claim(dnsReleases);
  // [/section: dns]
  // [section: edge] Caddy edge and compute configs
  // One Keycloak client per wall (tenant and walled service, suspended included, archived not), then the
  // Caddy containers: the edge config holds every wall and route, each compute host's config its
  // Nextcloud sites (and the WordPress editing hostnames on the WordPress host).
  const wallClientSecrets: Record<string, pulumi.Output<string>> = {};
  for (const t of fleet ? inputs.tenants : []) {
    for (const w of tenantWalls(t)) {
      const client = new KeycloakClient(`${t.slug}-wall-${w.service}`, {
        tenant: t.slug,
        realmId,
        clientId: w.clientId,
        rootUrl: wallRootUrl(w.hostname),
        redirectUris: [w.redirectUri],
        webOrigins: [wallRootUrl(w.hostname)],
        scopeRoles: identities.get(t.slug)!.scopeRoles([w.service]),
        wall: true,
        wallPkce: inputs.settings.wallPkce,
        provider: platform.keycloak,
      });
      wallClientSecrets[w.clientId] = client.clientSecret;
    }
  }
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
    renderNextcloudSite,
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
      identities: Object.fromEntries([...identities].map(([slug, id]) => [slug, id.scopeRoles()])),
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
  const services = ["nextcloud", "paheko", "wordpress"] as const;
  return {
    roleNames: Object.fromEntries(services.map((svc) => [svc, roleName(svc, slug)])),
    scopeRoles: (only?: readonly (typeof services)[number][]) => Object.fromEntries(
      (only ?? services).map((svc) => [roleName(svc, slug), ids.apply((x) => x[slug]?.[roleName(svc, slug)] ?? "")]),
    ),
  };
}

function groupBy<T, V>(items: readonly T[], key: (t: T) => string, value: (t: T) => V): Record<string, V[]> {
  const out: Record<string, V[]> = {};
  for (const item of items) (out[key(item)] ??= []).push(value(item));
  return out;
}
