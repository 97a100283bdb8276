// Garage conventions of the factory (see docs/garage.md): bucket names, key names, the permissions an
// application key gets, CORS rules. Pure functions, no Pulumi import.
import type { BucketKeyPermissions } from "./admin";

/**
 * Garage's own bucket-name rule (garage_model::is_valid_bucket_name): 3-63 characters of [a-z0-9.-], starting
 * and ending with a letter or digit, not an IP address, no punycode label, not ending in "-s3alias".
 * We also refuse "..", which S3 clients reject.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return "must be 3 to 63 characters long";
  if (!/^[a-z0-9.-]+$/.test(name)) return "may only contain lowercase letters, digits, dots and hyphens";
  if (/^[.-]|[.-]$/.test(name)) return "must start and end with a letter or a digit";
  if (name.includes("..")) return "must not contain two dots in a row";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "must not look like an IP address";
  if (name.startsWith("xn--") || name.includes(".xn--")) return "must not contain punycode labels (xn--)";
  if (name.endsWith("-s3alias")) return 'must not end with "-s3alias"';
  return undefined;
}

/** Bucket of a tenant service that is not a website: `<slug>-<purpose>` (e.g. `acme-nextcloud`). */
export function serviceBucketName(slug: string, purpose: string): string {
  const name = `${slug}-${purpose}`;
  const problem = bucketNameProblem(name);
  if (problem) throw new Error(`bucket name ${name} ${problem}`);
  return name;
}

/** Bucket of a website: its public hostname, so that Garage's web endpoint serves it for that Host. */
export function websiteBucketName(hostname: string): string {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  const problem = bucketNameProblem(name);
  if (problem) throw new Error(`website hostname ${hostname} cannot be a bucket name: it ${problem}`);
  return name;
}

/** Name of the access key of a tenant bucket, as `garage key list` shows it. */
export function garageKeyName(slug: string, bucketName: string): string {
  return `${slug}/${bucketName}`;
}

/** What an application key gets on its bucket: read and write, never owner (owner may delete the bucket and change its settings). */
export const APPLICATION_KEY_PERMISSIONS: Readonly<BucketKeyPermissions> = Object.freeze({ read: true, write: true, owner: false });

/**
 * What the platform's own S3 key gets on a tenant bucket when the factory manages CORS or uploads a first
 * index.html through the S3 API: PutBucketCors is an owner operation in Garage.
 */
export const PLATFORM_KEY_PERMISSIONS: Readonly<BucketKeyPermissions> = Object.freeze({ read: true, write: true, owner: true });

/** An exact browser origin: scheme, host, optional port; no path, no wildcard. */
export function corsOriginProblem(origin: string): string | undefined {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return "is not a URL";
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return "must be http(s)";
  if (origin.includes("*")) return "must not contain a wildcard";
  if (`${u.protocol}//${u.host}` !== origin) return "must be exactly scheme://host[:port] (lowercase, no path, no trailing slash)";
  return undefined;
}

/** The single CORS rule the factory sets: browsers of the listed origins may read (GET/HEAD) objects. */
export function corsRule(origins: readonly string[]): {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds: number;
} {
  return {
    allowedOrigins: [...new Set(origins)].sort(),
    allowedMethods: ["GET", "HEAD"],
    allowedHeaders: ["*"],
    exposeHeaders: ["ETag"],
    maxAgeSeconds: 3600,
  };
}

/** The plain (non-Pulumi) part of GarageBucketArgs, checked before any resource is registered. */
export interface GarageBucketSpec {
  tenant: string;
  bucketName: string;
  quotaBytes?: number;
  maxObjects?: number;
  website?: { indexDocument: string; errorDocument: string; initialIndexHtml?: string };
  corsOrigins?: string[];
  adminUrl: string;
}

const DOCUMENT = /^[A-Za-z0-9._~!$&'()+,;=:@%-][A-Za-z0-9._~!$&'()+,;=:@%/-]*$/;

/** Every problem of a bucket spec (empty when valid). */
export function garageBucketProblems(s: GarageBucketSpec): string[] {
  const out: string[] = [];
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(s.tenant)) out.push(`tenant ${JSON.stringify(s.tenant)} is not a slug`);
  const b = bucketNameProblem(s.bucketName);
  if (b) out.push(`bucketName ${JSON.stringify(s.bucketName)} ${b}`);
  for (const [field, v] of [["quotaBytes", s.quotaBytes], ["maxObjects", s.maxObjects]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v <= 0)) out.push(`${field} must be a positive integer (or absent for no limit), got ${v}`);
  }
  if (s.website) {
    for (const f of ["indexDocument", "errorDocument"] as const) {
      const d = s.website[f];
      if (!DOCUMENT.test(d) || d.includes("..")) out.push(`website.${f} ${JSON.stringify(d)} must be an object key without a leading slash`);
    }
    if (s.website.indexDocument.includes("/")) out.push("website.indexDocument must be a file name (Garage appends it to every directory)");
  }
  for (const o of s.corsOrigins ?? []) {
    const p = corsOriginProblem(o);
    if (p) out.push(`corsOrigins: ${JSON.stringify(o)} ${p}`);
  }
  try {
    const u = new URL(s.adminUrl);
    if (u.protocol !== "http:" && u.protocol !== "https:") out.push("admin.url must be http(s)");
    if (u.pathname !== "/" || u.search) out.push("admin.url must have no path or query");
  } catch {
    out.push(`admin.url ${JSON.stringify(s.adminUrl)} is not a URL`);
  }
  return out;
}
