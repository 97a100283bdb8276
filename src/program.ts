// The Pulumi program: validate everything first (no resource is registered when anything is wrong),
// then build the platform and every tenant. index.ts runs it; the plan, tests and benchmark run it
// under Pulumi's mocks.
import * as pulumi from "@pulumi/pulumi";
import { Platform, PlatformSecrets } from "../components/platform";
import { FactoryRealm, TenantIdentity } from "../components/identity";
import { KEYCLOAK_ADMIN_USER } from "./platform/services";
import { NextcloudFactory } from "../components/nextcloud";
import { ServiceName } from "./types";
import { FactoryInputs, requireFactoryInputs } from "./inputs";
import { OPERATOR_SECRET_KEYS, PROJECT } from "./settings";
import { pahekoHost, PahekoFactory, PahekoOrganisation } from "../components/paheko";
import { WordPressMultisite, WordPressSite } from "../components/wordpress";
import { StaticSite } from "../components/staticSite";
import { SERVICE_HOST_LABEL, wordpressEditRoot } from "./types";
import { DnsRecords } from "../components/dnsRecords";
import { tenantDnsRecords } from "./dns/records";
import { CaddyEdge } from "../components/edge";
import { KeycloakClient } from "../components/identity";
import { edgeUpstreams } from "./caddy/upstreams";
import { tenantWalls, wallRootUrl } from "./caddy/wall";
import { renderNextcloudSite } from "./nextcloud/caddy";

export interface RunOptions {
  /** Stack name; defaults to the current Pulumi stack. */
  stack?: string;
  /** Project root (Pulumi.yaml); defaults to the current directory. */
  projectDir?: string;
  /** Stack settings file; defaults to Pulumi.<stack>.yaml in the project root. */
  stackFile?: string;
  /** Tenant directory; defaults to the tenantsDir setting, else tenants/<stack>. */
  tenantsDir?: string;
}

export interface FactoryOutputs {
  tenants: string[];
  placement: Record<string, string>;
  /** Per tenant with a static site: its bucket and upload key (the secret stays a Pulumi secret). */
  staticSites: Record<string, { bucket: pulumi.Output<string>; accessKeyId: pulumi.Output<string>; secretAccessKey: pulumi.Output<string> }>;
}

export function readSecrets(config: pulumi.Config): PlatformSecrets {
  const out = {} as PlatformSecrets;
  for (const key of OPERATOR_SECRET_KEYS) out[key] = config.requireSecret(key);
  return out;
}

export function runFactory(opts: RunOptions = {}): FactoryOutputs {
  const stack = opts.stack ?? pulumi.getStack();
  const config = new pulumi.Config(PROJECT);
  const inputs: FactoryInputs = requireFactoryInputs({
    stack,
    projectDir: opts.projectDir,
    stackFile: opts.stackFile,
    tenantsDir: opts.tenantsDir ?? (config.get("tenantsDir") || undefined),
  });
  const secrets = readSecrets(config);
  // Collabora accepts WOPI requests only from the live Nextcloud hostnames (a new tenant restarts it once).
  const wopiHosts = inputs.tenants.filter((t) => t.services.nextcloud && t.status !== "archived").map((t) => t.services.nextcloud!.hostname);
  const platform = new Platform("platform", { settings: inputs.settings, secrets, wopiHosts });

  // Wiring, one section per area. Each section registers its resources for every tenant it concerns.
  // [section: identity] realm, per-tenant groups/roles (TenantIdentity)
  // The realm once; every tenant (archived included: group and roles are kept) gets its group and roles.
  // Later sections create OIDC clients with KeycloakClient (not for archived tenants), realmId from
  // `realm` and scopeRoles from `identities.get(slug)!.scopeRoles([...])`.
  const realm = new FactoryRealm("realm", {
    realm: inputs.settings.realm,
    provider: platform.keycloak,
    admin: { url: platform.endpoints.keycloak.url, username: KEYCLOAK_ADMIN_USER, password: platform.secrets.keycloakAdminPassword },
  });
  const identities = new Map<string, TenantIdentity>();
  for (const t of inputs.tenants) {
    identities.set(t.slug, new TenantIdentity(`${t.slug}-identity`, {
      tenant: t.slug,
      realmId: realm.realmId,
      services: Object.keys(t.services) as ServiceName[],
      provider: platform.keycloak,
    }));
  }
  // [/section: identity]
  // [section: nextcloud] NextcloudFactory
  // Every Nextcloud tenant (archived ones keep their data resources only); the edge section serves
  // `nextcloud.caddySites` from each compute host's Caddy, mounting `nextcloud.installs` read-only.
  const nextcloud = new NextcloudFactory("nextcloud", {
    settings: inputs.settings,
    tenants: inputs.tenants,
    placement: inputs.placement,
    docker: platform.docker,
    networks: platform.networks,
    postgres: platform.postgres,
    s3Provider: platform.s3,
    garageAdmin: { url: platform.endpoints.garage.adminUrl, token: platform.secrets.garageAdminToken },
    keycloak: platform.keycloak,
    realmId: realm.realmId,
    identities,
    redis: platform.endpoints.redis,
    collaboraUrl: platform.endpoints.collaboraUrl,
    smtpPassword: platform.secrets.smtpPassword,
  });
  // [/section: nextcloud]
  // [section: paheko-wordpress-static] PahekoFactory, WordPressMultisite, static sites
  // One Paheko and one WordPress Multisite for the whole factory, always registered (their volumes are
  // protected data), on the first compute host by name; per tenant a folder, a site + bucket, a static bucket.
  const pooledHost = pahekoHost(inputs.settings.hosts);
  const garageAdmin = { url: platform.endpoints.garage.adminUrl, token: platform.secrets.garageAdminToken };
  const paheko = new PahekoFactory("paheko", {
    host: pooledHost,
    provider: platform.docker[pooledHost.name],
    image: inputs.settings.images.paheko,
    factoryDomain: `${SERVICE_HOST_LABEL.paheko}.${inputs.settings.domain}`,
    orgs: inputs.tenants
      .filter((t) => t.services.paheko && t.status !== "archived")
      .map((t) => ({ org: t.slug, hostnames: [t.services.paheko!.hostname] })),
    mail: inputs.settings.mail,
    smtpPassword: platform.secrets.smtpPassword,
  });
  const wordpress = new WordPressMultisite("wordpress", {
    host: pooledHost,
    provider: platform.docker[pooledHost.name],
    image: inputs.settings.images.wordpress,
    mariadbImage: inputs.settings.images.mariadb,
    networkDomain: wordpressEditRoot(inputs.settings.domain),
    title: `Sites ${inputs.settings.domain}`,
    adminEmail: inputs.settings.acmeEmail,
    plugins: inputs.settings.wordpress.plugins,
    themes: inputs.settings.wordpress.themes,
  });
  const staticSiteOutputs: Record<string, { bucket: pulumi.Output<string>; accessKeyId: pulumi.Output<string>; secretAccessKey: pulumi.Output<string> }> = {};
  for (const t of inputs.tenants) {
    const active = t.status !== "archived";
    if (t.services.paheko) new PahekoOrganisation(`${t.slug}-paheko`, { tenant: t.slug, factory: paheko, active });
    const wp = t.services.wordpress;
    if (wp) {
      new WordPressSite(`${t.slug}-wordpress`, {
        tenant: t.slug, multisite: wordpress, title: wp.title, email: t.contact, hostname: wp.hostname,
        editHostname: wp.editHostname, garageAdmin, s3Provider: platform.s3, active,
        s3: { endpoint: platform.endpoints.garage.s3Url, region: platform.endpoints.garage.region },
      });
    }
    const st = t.services.staticSite;
    if (st) {
      const site = new StaticSite(`${t.slug}-static`, { tenant: t.slug, hostname: st.hostname, garageAdmin, s3Provider: platform.s3 });
      staticSiteOutputs[t.slug] = { bucket: site.bucketName, accessKeyId: site.accessKeyId, secretAccessKey: site.secretAccessKey };
    }
  }
  // [/section: paheko-wordpress-static]
  // [section: dns] DNS records for managed tenants
  for (const t of inputs.tenants) {
    const records = tenantDnsRecords(t, inputs.settings);
    if (records.length === 0) continue; // dns: external, archived, or no service
    const dns = inputs.settings.dns;
    new DnsRecords(`${t.slug}-dns`, {
      tenant: t.slug,
      records,
      server: { server: dns.server, port: dns.port },
      tsig: { keyName: dns.tsigKeyName, algorithm: dns.tsigAlgorithm, secret: platform.secrets.dnsTsigSecret },
    });
  }
  // [/section: dns]
  // [section: edge] Caddy edge and compute configs
  // One Keycloak client per wall (tenant and walled service, suspended included, archived not), then the
  // Caddy containers: the edge config holds every wall and route, each compute host's config its
  // Nextcloud sites (and the WordPress editing hostnames on the WordPress host).
  const wallClientSecrets: Record<string, pulumi.Output<string>> = {};
  for (const t of inputs.tenants) {
    for (const w of tenantWalls(t)) {
      const client = new KeycloakClient(`${t.slug}-wall-${w.service}`, {
        tenant: t.slug,
        realmId: realm.realmId,
        clientId: w.clientId,
        rootUrl: wallRootUrl(w.hostname),
        redirectUris: [w.redirectUri],
        webOrigins: [wallRootUrl(w.hostname)],
        scopeRoles: identities.get(t.slug)!.scopeRoles([w.service]),
        wall: true,
        provider: platform.keycloak,
      });
      wallClientSecrets[w.clientId] = client.clientSecret;
    }
  }
  new CaddyEdge("caddy", {
    settings: inputs.settings,
    tenants: inputs.tenants,
    docker: platform.docker,
    garageAdminUrl: platform.endpoints.garage.adminUrl,
    upstreams: edgeUpstreams({
      settings: inputs.settings, endpoints: platform.endpoints, tenants: inputs.tenants, placement: inputs.placement,
      paheko: paheko.upstream, wordpressHost: wordpress.host,
    }),
    wallClientSecrets,
    nextcloudSites: nextcloud.caddySites,
    renderNextcloudSite,
    wordpress: { host: wordpress.host, fpmUpstream: wordpress.fpmUpstream, documentRoot: wordpress.documentRoot, htmlVolume: wordpress.htmlVolume },
    computeNetworks: Object.fromEntries(Object.entries(platform.networks).map(([h, n]) => [h, n.name])),
    nextcloudInstallsReady: groupBy(nextcloud.installs, (i) => i.host, (i) => i.ready),
  });
  // [/section: edge]

  return {
    tenants: inputs.tenants.map((t) => t.slug),
    placement: Object.fromEntries(inputs.placement),
    staticSites: staticSiteOutputs,
  };
}

function groupBy<T, V>(items: readonly T[], key: (t: T) => string, value: (t: T) => V): Record<string, V[]> {
  const out: Record<string, V[]> = {};
  for (const item of items) (out[key(item)] ??= []).push(value(item));
  return out;
}
