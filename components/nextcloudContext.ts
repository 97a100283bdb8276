// From the fleet's data to one tenant's Nextcloud instance Args: which host it runs on, its environment
// (S3, Redis, mail), its database address, the OIDC discovery URL, the trusted proxies. Plain data in,
// plain data out: the instance component only wires resources.
import * as docker from "@pulumi/docker";
import * as keycloak from "@pulumi/keycloak";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import { GARAGE_REGION, PORTS } from "../src/endpoints";
import { keycloakPublicUrl } from "../src/caddy/edge";
import { serviceBucketName } from "../src/garage/naming";
import { renderTenantEnv } from "../src/nextcloud/env";
import { NC_PATHS } from "../src/nextcloud/layout";
import { SCRIPT_SECRETS_DIR } from "../src/nextcloud/scripts";
import { containerName, serviceAddressFrom } from "../src/platform/layout";
import { placedHost } from "../src/placement";
import { redisTenantUser } from "../src/platform/redis";
import { StackSettings, Tenant } from "../src/types";
import { GarageS3 } from "./garageBucket";
import { ENTRYPOINT_SOURCE, NextcloudInstanceArgs, TenantRoles } from "./nextcloudInstance";

let entrypointText: string | undefined;
/** The entrypoint's text, read once per program run. */
function entrypointSource(): string {
  return (entrypointText ??= fs.readFileSync(ENTRYPOINT_SOURCE, "utf8"));
}


/** What every Nextcloud instance of the stack shares: the fleet's settings, providers and endpoints. */
export interface NextcloudContext {
  /** The stack, hosts, shared-service modes, mail relay, domain and realm, and the fleet's Nextcloud apps and cron interval. */
  settings: Pick<StackSettings, "stack" | "hosts" | "services" | "mail" | "domain" | "realm" | "nextcloud">;
  /** Compute host of every tenant, by slug. */
  placement: ReadonlyMap<string, string>;
  /** Docker provider per host (Platform.docker). */
  docker: Record<string, docker.Provider>;
  /** Provider tenant databases are created with (Platform.postgres, the provisioning role). */
  postgres: postgresql.Provider;
  /** Garage's S3 API with the platform key, and its readiness (Platform.s3). */
  garageS3: GarageS3;
  /** Garage admin API URL and token. */
  garageAdmin: { url: string; token: pulumi.Input<string> };
  /** Keycloak provider and the realm id. */
  keycloak: keycloak.Provider;
  realmId: pulumi.Input<string>;
  /** Redis per compute host (Platform.endpoints.redis). */
  redis: Record<string, { host: string; port: number }>;
  /** Password of each Redis's admin user (operator secret redisAdminPassword). */
  redisAdminPassword: pulumi.Input<string>;
  /** The Redis containers this stack deploys, by host; absent in a tenant shard. */
  redisContainers?: Record<string, pulumi.Resource>;
  /** Collabora's public URL (Platform.endpoints.collaboraUrl). */
  collaboraUrl: string;
  /** SMTP relay password (operator secret). */
  smtpPassword: pulumi.Input<string>;
}

/** The Args of a tenant's instance, from its tenant file, its roles (undefined only when archived) and the fleet's data. */
export function nextcloudInstanceArgs(t: Tenant, identity: TenantRoles | undefined, ctx: NextcloudContext): NextcloudInstanceArgs {
  const s = ctx.settings;
  const svc = t.services.nextcloud;
  if (!svc) throw new Error(`tenant ${t.slug} has no Nextcloud`);
  const host = placedHost(t.slug, ctx.placement, s.hosts);
  if (!identity && t.status !== "archived") throw new Error(`tenant ${t.slug}: no identity (the identity section must run first)`);
  const env = (secretsDir: string) => renderTenantEnv({
    slug: t.slug,
    s3: { ...serviceAddressFrom(s, "garage", host.name, PORTS.garageS3), region: GARAGE_REGION, bucket: serviceBucketName(t.slug, "nextcloud"), ssl: false },
    redis: { ...(ctx.redis[host.name] ?? { host: "redis", port: PORTS.redis }), user: redisTenantUser(t.slug) },
    mail: s.mail,
    secretsDir,
  });
  return {
    tenant: t.slug,
    stack: s.stack,
    active: t.status !== "archived",
    hostname: svc.hostname,
    quotaGb: svc.quotaGb,
    adminEmail: t.contact,
    host,
    provider: ctx.docker[host.name],
    postgres: ctx.postgres,
    garageS3: ctx.garageS3,
    garageAdmin: ctx.garageAdmin,
    database: serviceAddressFrom(s, "postgres", host.name, PORTS.postgres),
    keycloak: ctx.keycloak,
    realmId: ctx.realmId,
    identity,
    discoveryUri: `${keycloakPublicUrl(s.domain)}/realms/${s.realm}/.well-known/openid-configuration`,
    trustedProxies: s.hosts.filter((h) => h.roles.includes("edge")).map((h) => h.privateAddress).sort(),
    apps: s.nextcloud.apps,
    collaboraUrl: ctx.collaboraUrl,
    smtpPassword: ctx.smtpPassword,
    redis: { container: containerName(s.stack, "redis"), adminPassword: ctx.redisAdminPassword, ready: ctx.redisContainers?.[host.name] },
    entrypoint: entrypointSource(),
    env: env(NC_PATHS.secrets),
    initEnv: env(SCRIPT_SECRETS_DIR),
    cronIntervalMinutes: s.nextcloud.cronIntervalMinutes,
  };
}
