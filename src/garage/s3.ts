// The two S3 operations the factory performs on Garage with the platform's own key: a bucket's CORS rule and
// the first object of a website (its index.html). Used by the CORS and object dynamic providers in
// src/garage/provider.ts, so the same rule as admin.ts applies: no configuration and no credential captured
// here. @aws-sdk/client-s3 is a package dependency loaded by name when a call is made (sdk() below): Pulumi's
// serializer keeps a `require` call as written, so the stored provider code holds that one line, not the SDK,
// and the dynamic provider loads the SDK from the program's node_modules when it runs.
import type * as S3 from "@aws-sdk/client-s3";

type S3Client = S3.S3Client;

/** The SDK module, required by its package name at run time (never captured by value). */
function sdk(): typeof S3 {
  return require("@aws-sdk/client-s3") as typeof S3;
}

/** Where and as whom the S3 calls are made. */
export interface GarageS3Options {
  /** S3 API endpoint, e.g. http://10.0.0.5:3900. Always addressed path-style (bucket names contain dots). */
  url: string;
  /** Region requests are signed for (Garage's s3_region, GARAGE_REGION). */
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** One CORS rule as the factory writes it (src/garage/naming.ts corsRule). */
export interface CorsRule {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** An S3 error without the SDK's request/response objects: the S3 code, the HTTP status and a message with no secret. */
export type GarageS3Error = Error & { status: number; code: string; operation: string; garageS3: true };

export function isGarageS3Error(err: unknown): err is GarageS3Error {
  return typeof err === "object" && err !== null && (err as { garageS3?: unknown }).garageS3 === true;
}

/**
 * A client for Garage: path-style, the given region, and checksums only where S3 requires one (recent SDKs add
 * CRC checksums to every request and check them on every answer by default, which Garage does not need).
 */
export function garageS3Client(o: GarageS3Options): S3Client {
  return new (sdk().S3Client)({
    endpoint: o.url,
    region: o.region,
    forcePathStyle: true,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
  });
}

/** Runs one S3 call; a rejection becomes a GarageS3Error naming the operation and the bucket. */
async function s3Call<T>(operation: string, bucket: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const e = err as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode ?? 0;
    const code = e.Code ?? e.name ?? "Error";
    const detail = (e.message ?? "").slice(0, 300);
    const message = `Garage S3 ${operation} on bucket ${bucket} failed (${status ? `HTTP ${status} ` : ""}${code})${detail && detail !== code ? `: ${detail}` : ""}`;
    throw Object.assign(new Error(message), { status, code, operation, garageS3: true as const });
  }
}

function sorted(v: readonly string[] | undefined): string[] {
  return [...(v ?? [])].sort();
}

/** A rule in a canonical form (lists sorted, absent lists empty): what two rules are compared by. */
export function normalCorsRule(r: Partial<CorsRule>): CorsRule {
  const out: CorsRule = {
    allowedOrigins: sorted(r.allowedOrigins),
    allowedMethods: sorted(r.allowedMethods),
    allowedHeaders: sorted(r.allowedHeaders),
    exposeHeaders: sorted(r.exposeHeaders),
  };
  if (typeof r.maxAgeSeconds === "number") out.maxAgeSeconds = r.maxAgeSeconds;
  return out;
}

/** Replaces the bucket's CORS configuration with exactly `rules` (PutBucketCors: an owner operation in Garage). */
export async function putBucketCors(s3: S3Client, bucket: string, rules: readonly CorsRule[]): Promise<void> {
  await s3Call("PutBucketCors", bucket, () => s3.send(new (sdk().PutBucketCorsCommand)({
    Bucket: bucket,
    CORSConfiguration: {
      CORSRules: rules.map((r) => ({
        AllowedOrigins: r.allowedOrigins,
        AllowedMethods: r.allowedMethods,
        AllowedHeaders: r.allowedHeaders,
        ExposeHeaders: r.exposeHeaders,
        MaxAgeSeconds: r.maxAgeSeconds,
      })),
    },
  })));
}

/** The bucket's CORS rules, normalized; undefined when the bucket has no CORS configuration. */
export async function getBucketCors(s3: S3Client, bucket: string): Promise<CorsRule[] | undefined> {
  try {
    const got = await s3Call("GetBucketCors", bucket, () => s3.send(new (sdk().GetBucketCorsCommand)({ Bucket: bucket })));
    return (got.CORSRules ?? []).map((r) => normalCorsRule({
      allowedOrigins: r.AllowedOrigins,
      allowedMethods: r.AllowedMethods,
      allowedHeaders: r.AllowedHeaders,
      exposeHeaders: r.ExposeHeaders,
      maxAgeSeconds: r.MaxAgeSeconds,
    }));
  } catch (err) {
    if (isGarageS3Error(err) && err.code === "NoSuchCORSConfiguration") return undefined;
    throw err;
  }
}

/** Removes the bucket's CORS configuration; a bucket that is already gone is not an error. */
export async function deleteBucketCors(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3Call("DeleteBucketCors", bucket, () => s3.send(new (sdk().DeleteBucketCorsCommand)({ Bucket: bucket })));
  } catch (err) {
    if (!(isGarageS3Error(err) && (err.code === "NoSuchBucket" || err.status === 404))) throw err;
  }
}

/** True when the object exists (HeadObject; 404 = absent; any other error is thrown). */
export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3Call("HeadObject", bucket, () => s3.send(new (sdk().HeadObjectCommand)({ Bucket: bucket, Key: key })));
    return true;
  } catch (err) {
    if (isGarageS3Error(err) && err.status === 404 && err.code !== "NoSuchBucket") return false;
    throw err;
  }
}

/**
 * Writes an object only if none exists under its key; true when it was written, false when one was already
 * there (left untouched). HeadObject first, then PutObject with `If-None-Match: *`: Garage 2.5 ignores that
 * header on PutObject (a publisher writing between the two calls could still be overwritten, a window of
 * milliseconds), servers that honour it answer 412 instead of overwriting.
 */
export async function putObjectIfAbsent(s3: S3Client, bucket: string, key: string, body: string, contentType: string): Promise<boolean> {
  if (await objectExists(s3, bucket, key)) return false;
  try {
    await s3Call("PutObject", bucket, () => s3.send(new (sdk().PutObjectCommand)({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: "*" })));
    return true;
  } catch (err) {
    if (isGarageS3Error(err) && (err.status === 412 || err.code === "PreconditionFailed")) return false;
    throw err;
  }
}
