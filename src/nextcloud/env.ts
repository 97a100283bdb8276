// The environment of a tenant's Nextcloud processes (FPM, its cron run, the ephemeral init run). Pure.
// Secrets never appear here: they are files, and the official image's config snippets read the `*_FILE`
// variants (s3.config.php: OBJECTSTORE_S3_KEY_FILE/SECRET_FILE, smtp.config.php: SMTP_PASSWORD_FILE,
// redis.config.php: REDIS_HOST_PASSWORD_FILE).
import { MAX_UPLOAD_MB, NC_PATHS, PHP_MEMORY_LIMIT } from "./layout";

/** The secret files of a tenant, by role; values are file names under a secrets directory. */
export const SECRET_FILES = {
  s3Key: "s3-access-key-id",
  s3Secret: "s3-secret-access-key",
  smtpPassword: "smtp-password",
  redisPassword: "redis-password",
  /** Only in ephemeral runs (never in the FPM container). */
  dbPassword: "db-password",
  adminPassword: "admin-password",
  oidcClientSecret: "oidc-client-secret",
} as const;
export type SecretFile = keyof typeof SECRET_FILES;

/** The secret files the FPM container (and the tenant's cron run) need at runtime. */
export const RUNTIME_SECRETS: readonly SecretFile[] = ["s3Key", "s3Secret", "smtpPassword", "redisPassword"];

export interface TenantEnvInput {
  slug: string;
  /** S3 API of Garage as reached from the host's containers. */
  s3: { host: string; port: number; region: string; bucket: string; ssl: boolean };
  /** The host's Redis and the tenant's own user on it (its password is the redisPassword secret file). */
  redis: { host: string; port: number; user: string };
  mail: { host: string; port: number; from: string };
  /** Directory holding the secret files (e.g. /run/secrets/nextcloud). */
  secretsDir: string;
  /** Config and data directories (defaults: NC_PATHS.config, NC_PATHS.data). */
  configDir?: string;
  dataDir?: string;
  /** Largest upload in MiB (default MAX_UPLOAD_MB). */
  maxUploadMb?: number;
}

/** `local@domain` split the way Nextcloud's mail_from_address / mail_domain want it. */
export function splitMailFrom(from: string): { address: string; domain: string } {
  const at = from.lastIndexOf("@");
  if (at <= 0 || at === from.length - 1) throw new Error(`mail.from "${from}" is not an e-mail address`);
  return { address: from.slice(0, at), domain: from.slice(at + 1) };
}

/**
 * `KEY=value` lines, sorted by key so the same input always gives the same container definition.
 * NEXTCLOUD_UPDATE=0: the patched entrypoint never syncs or upgrades (it refuses 1 anyway).
 */
export function renderTenantEnv(o: TenantEnvInput): string[] {
  const secret = (f: SecretFile) => `${o.secretsDir}/${SECRET_FILES[f]}`;
  const mail = splitMailFrom(o.mail.from);
  const env: Record<string, string> = {
    NEXTCLOUD_UPDATE: "0",
    NEXTCLOUD_CONFIG_DIR: o.configDir ?? NC_PATHS.config,
    NEXTCLOUD_DATA_DIR: o.dataDir ?? NC_PATHS.data,
    PHP_MEMORY_LIMIT,
    PHP_UPLOAD_LIMIT: `${o.maxUploadMb ?? MAX_UPLOAD_MB}M`,
    // Primary storage: the tenant's bucket, path-style (bucket names may contain dots), never auto-created.
    OBJECTSTORE_S3_BUCKET: o.s3.bucket,
    OBJECTSTORE_S3_HOST: o.s3.host,
    OBJECTSTORE_S3_PORT: String(o.s3.port),
    OBJECTSTORE_S3_REGION: o.s3.region,
    OBJECTSTORE_S3_SSL: o.s3.ssl ? "true" : "false",
    OBJECTSTORE_S3_USEPATH_STYLE: "true",
    OBJECTSTORE_S3_AUTOCREATE: "false",
    OBJECTSTORE_S3_KEY_FILE: secret("s3Key"),
    OBJECTSTORE_S3_SECRET_FILE: secret("s3Secret"),
    // Cache, locking and sessions on the host's Redis; sessions of each tenant under their own prefix.
    REDIS_HOST: o.redis.host,
    REDIS_HOST_PORT: String(o.redis.port),
    FACTORY_REDIS_SESSION_PREFIX: `nc-${o.slug}:`,
    // The tenant's own Redis user (redis.config.php reads REDIS_HOST_USER and REDIS_HOST_PASSWORD_FILE).
    REDIS_HOST_USER: o.redis.user,
    REDIS_HOST_PASSWORD_FILE: secret("redisPassword"),
    // Mail through the relay (STARTTLS on 587, implicit TLS on 465); the login is the sender address.
    SMTP_HOST: o.mail.host,
    SMTP_PORT: String(o.mail.port),
    SMTP_SECURE: o.mail.port === 465 ? "ssl" : "",
    SMTP_NAME: o.mail.from,
    SMTP_PASSWORD_FILE: secret("smtpPassword"),
    MAIL_FROM_ADDRESS: mail.address,
    MAIL_DOMAIN: mail.domain,
  };
  for (const [k, v] of Object.entries(env)) {
    if (/[\n\r\0]/.test(v)) throw new Error(`environment value of ${k} contains a line break or NUL`);
  }
  return Object.keys(env).sort().map((k) => `${k}=${env[k]}`);
}
