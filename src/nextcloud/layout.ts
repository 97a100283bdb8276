// Names, paths, limits and small policies of the Nextcloud factory. Pure (no Pulumi): the component, the
// edge (compute Caddy) and the tests share them, so a name is decided in exactly one place.
import { createHash } from "node:crypto";

/** Where things live inside the Nextcloud containers (FPM, cron, ephemeral runs). */
export const NC_PATHS = {
  /** The shared installation (code + apps), mounted read-only everywhere except in the populate run. */
  install: "/var/www/html",
  /** The tenant's config folder (NEXTCLOUD_CONFIG_DIR): config.php and the image's *.config.php snippets. */
  config: "/config",
  /** NEXTCLOUD_DATA_DIR: only `.ocdata` and nextcloud.log; files live in the S3 bucket. */
  data: "/data",
  /** Secret files uploaded into the FPM container (the image's *_FILE variables point here). */
  secrets: "/run/secrets/nextcloud",
  /** The patched entrypoint inside the FPM container. */
  entrypoint: "/usr/local/bin/factory-entrypoint.sh",
  /** The loop of the tenant's cron container (renderCronLoop). */
  cronScript: "/usr/local/bin/factory-cron.sh",
  /** The official image keeps a pristine copy of the code (and its config snippets) here. */
  imageSource: "/usr/src/nextcloud",
} as const;

/** PHP-FPM's FastCGI port in the official -fpm image. */
export const FPM_PORT = 9000;
/** www-data in the official Debian-based image. */
export const WWW_DATA_UID = 33;

/** Resource limits (MiB / process count). */
export const NC_LIMITS = {
  fpm: { memoryMb: 1024, pids: 256 },
  cron: { memoryMb: 768, pids: 128 },
} as const;

/** PHP limits handed to the official image's php.ini (PHP_MEMORY_LIMIT / PHP_UPLOAD_LIMIT). */
export const PHP_MEMORY_LIMIT = "512M";
/** Largest single upload the Caddy site and PHP accept (chunked uploads of the web/desktop clients go far beyond). */
export const MAX_UPLOAD_MB = 2048;

/** The id of the Keycloak provider inside user_oidc (appears in the login URL /apps/user_oidc/login/<id>). */
export const OIDC_PROVIDER_ID = "keycloak";
/** The claim Keycloak emits with the user's flat realm roles (see the identity section's mapper). */
export const OIDC_ROLES_CLAIM = "roles";

/** Label keys on every Nextcloud container (the maintenance scripts select FPM containers by them). */
export const NC_LABELS = {
  stack: "service-factory.stack",
  role: "service-factory.nextcloud",
  tenant: "service-factory.tenant",
} as const;

const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
function dockerName(name: string): string {
  if (!DOCKER_NAME.test(name) || name.length > 128) throw new Error(`"${name}" is not a valid Docker object name`);
  return name;
}

/** Short, stable hash of the app list (order-insensitive): part of the install volume's identity. */
export function appsHash(apps: readonly string[]): string {
  const canonical = [...new Set(apps)].sort().join(",");
  return createHash("sha256").update(canonical).digest("hex").slice(0, 8);
}

/**
 * Docker name of a host's install volume: one per stack, Nextcloud version and app list. The content is
 * fully determined by these (the populate run regenerates it), so a new version or app list is a new
 * volume, never an in-place change of the one running tenants use.
 */
export function installVolumeName(stack: string, version: string, apps: readonly string[]): string {
  return dockerName(`${stack}-nextcloud-${version}-${appsHash(apps)}`);
}

/** Where the compute Caddy mounts an install volume (read-only); the Caddy site's `root`. */
export function caddyInstallRoot(volumeName: string): string {
  return `/srv/nextcloud/${volumeName}`;
}

/** Docker names of one tenant's Nextcloud objects. */
export function tenantNames(stack: string, slug: string): { fpm: string; cron: string; init: string; config: string; data: string } {
  const base = `${stack}-nc-${slug}`;
  return {
    fpm: dockerName(base), cron: dockerName(`${base}-cron`), init: dockerName(`${base}-init`),
    config: dockerName(`${base}-config`), data: dockerName(`${base}-data`),
  };
}

/** Docker name of a host's populate run. */
export function hostNames(stack: string, host: string): { populate: string } {
  return { populate: dockerName(`${stack}-nc-updater-${host}`) };
}

/** The FastCGI upstream the compute Caddy uses for a tenant: its FPM container on the host's factory network. */
export function fpmUpstream(stack: string, slug: string): string {
  return `${tenantNames(stack, slug).fpm}:${FPM_PORT}`;
}

/**
 * The image's tag must carry the version the fleet runs (`nextcloud:31.0.9-fpm` for 31.0.9) and be an FPM
 * variant: PHP and its extensions come from the image, the code from the install volume, and the two
 * must match. Returns a problem or undefined.
 */
export function imageVersionProblem(image: string, version: string): string | undefined {
  const at = image.lastIndexOf("/");
  const colon = image.indexOf(":", at + 1);
  const tag = colon < 0 ? "" : image.slice(colon + 1).replace(/@sha256:.*$/, "");
  if (!tag.startsWith(`${version}-`) && tag !== version) {
    return `images.nextcloud "${image}" does not match nextcloud.version ${version} (expected a tag like ${version}-fpm)`;
  }
  if (!/(^|-)fpm(-|$)/.test(tag)) return `images.nextcloud "${image}" must be an -fpm variant (the compute Caddy serves HTTP)`;
  return undefined;
}

/**
 * The same check for a stack: only when some tenant runs Nextcloud (archived ones keep data, no PHP).
 * The program calls it before registering anything; NextcloudFactory again, for its own callers.
 */
export function fleetImageProblem(o: { image: string; version: string; tenants: readonly { status: string; services: { nextcloud?: unknown } }[] }): string | undefined {
  const running = o.tenants.some((t) => t.services.nextcloud && t.status !== "archived");
  return running ? imageVersionProblem(o.image, o.version) : undefined;
}

/** Major version of MAJOR.MINOR.PATCH. */
export function majorOf(version: string): number {
  const m = /^(\d+)\./.exec(version);
  if (!m) throw new Error(`"${version}" is not MAJOR.MINOR.PATCH`);
  return Number(m[1]);
}

/**
 * Quota policy. The bucket quota (Garage, hard) is the tenant's whole quota; Nextcloud cannot enforce an
 * organization-wide quota, so each user's default quota is the same figure: one user can use up to the
 * whole quota, all users together never exceed it (Garage refuses the write). Tenant admins may lower
 * individual users' quotas in Nextcloud.
 */
export function quotaPolicy(quotaGb: number): { bucketBytes: number; defaultUserQuota: string } {
  if (!Number.isInteger(quotaGb) || quotaGb <= 0) throw new Error(`quotaGb must be a positive integer (got ${quotaGb})`);
  return { bucketBytes: quotaGb * 1024 ** 3, defaultUserQuota: `${quotaGb} GB` };
}
