// Client for Garage's admin API: the v2 endpoints (Garage >= 2.0), falling back to the v1 paths for older
// servers (0.9, 1.x). Self-contained on purpose (no imports, global fetch only): the dynamic providers in
// src/garage/provider.ts capture it, and Pulumi serializes what they capture into the state.

export type GarageApiVersion = "v1" | "v2";

/** Permission flags of one key on one bucket. */
export interface BucketKeyPermissions {
  read: boolean;
  write: boolean;
  owner: boolean;
}

export interface BucketQuotas {
  /** Bytes; null = no limit. */
  maxSize: number | null;
  /** Objects; null = no limit. */
  maxObjects: number | null;
}

export interface WebsiteAccess {
  enabled: boolean;
  indexDocument?: string;
  errorDocument?: string;
}

export interface BucketInfo {
  id: string;
  globalAliases: string[];
  websiteAccess: boolean;
  websiteConfig: { indexDocument: string; errorDocument: string | null } | null;
  keys: { accessKeyId: string; name: string; permissions: BucketKeyPermissions }[];
  quotas: BucketQuotas;
  objects: number;
  bytes: number;
}

export interface KeyInfo {
  accessKeyId: string;
  name: string;
  /** Only present when asked for (createKey, getKey with showSecret). */
  secretAccessKey?: string;
  buckets: { id: string; globalAliases: string[]; permissions: BucketKeyPermissions }[];
}

/**
 * An error answered by the admin API (or a refusal to proceed), without any secret in its message. A plain
 * Error with extra fields, not a subclass: Pulumi's closure serialization turns `class X extends Error` into
 * a function whose `super(message)` call loses the message.
 */
export type GarageAdminError = Error & { status: number; code: string | undefined; operation: string; garageAdmin: true };

export function garageAdminError(message: string, status: number, code: string | undefined, operation: string): GarageAdminError {
  return Object.assign(new Error(message), { status, code, operation, garageAdmin: true as const });
}

export function isGarageAdminError(err: unknown): err is GarageAdminError {
  return typeof err === "object" && err !== null && (err as { garageAdmin?: unknown }).garageAdmin === true;
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{
  status: number;
  text(): Promise<string>;
}>;

export interface GarageAdminOptions {
  /** Base URL of the admin API, e.g. http://10.0.0.5:3903 (no trailing path). */
  url: string;
  /** Bearer token (admin_token). */
  token: string;
  /** Force an API version; default: probe the server once (v2 first, then v1). */
  version?: GarageApiVersion;
  /** Injected for unit tests; default: the global fetch. */
  fetch?: FetchLike;
}

/** One admin API operation on both API generations: method, path and query for v2 and for v1. */
interface Route {
  v2: { method: string; path: string };
  v1: { method: string; path: string };
}

const ROUTES = {
  health: { v2: { method: "GET", path: "/v2/GetClusterHealth" }, v1: { method: "GET", path: "/v1/health" } },
  createBucket: { v2: { method: "POST", path: "/v2/CreateBucket" }, v1: { method: "POST", path: "/v1/bucket" } },
  getBucket: { v2: { method: "GET", path: "/v2/GetBucketInfo" }, v1: { method: "GET", path: "/v1/bucket" } },
  updateBucket: { v2: { method: "POST", path: "/v2/UpdateBucket" }, v1: { method: "PUT", path: "/v1/bucket" } },
  deleteBucket: { v2: { method: "POST", path: "/v2/DeleteBucket" }, v1: { method: "DELETE", path: "/v1/bucket" } },
  createKey: { v2: { method: "POST", path: "/v2/CreateKey" }, v1: { method: "POST", path: "/v1/key" } },
  getKey: { v2: { method: "GET", path: "/v2/GetKeyInfo" }, v1: { method: "GET", path: "/v1/key" } },
  updateKey: { v2: { method: "POST", path: "/v2/UpdateKey" }, v1: { method: "POST", path: "/v1/key" } },
  deleteKey: { v2: { method: "POST", path: "/v2/DeleteKey" }, v1: { method: "DELETE", path: "/v1/key" } },
  allowBucketKey: { v2: { method: "POST", path: "/v2/AllowBucketKey" }, v1: { method: "POST", path: "/v1/bucket/allow" } },
  denyBucketKey: { v2: { method: "POST", path: "/v2/DenyBucketKey" }, v1: { method: "POST", path: "/v1/bucket/deny" } },
} satisfies Record<string, Route>;

export type GarageOperation = keyof typeof ROUTES;

/** The HTTP method and path of an operation for an API version (exported for tests and docs). */
export function garageRoute(op: GarageOperation, version: GarageApiVersion): { method: string; path: string } {
  return ROUTES[op][version];
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function perms(v: unknown): BucketKeyPermissions {
  const p = (v ?? {}) as Record<string, unknown>;
  return { read: p.read === true, write: p.write === true, owner: p.owner === true };
}

/** Normalizes a GetBucketInfo answer (same shape in v1 and v2). */
export function parseBucketInfo(raw: unknown): BucketInfo {
  const b = raw as Record<string, unknown>;
  if (!b || typeof b.id !== "string") throw new Error("Garage answered a bucket without an id");
  const web = b.websiteConfig as Record<string, unknown> | null | undefined;
  const quotas = (b.quotas ?? {}) as Record<string, unknown>;
  const keys = Array.isArray(b.keys) ? (b.keys as Record<string, unknown>[]) : [];
  return {
    id: b.id,
    globalAliases: Array.isArray(b.globalAliases) ? (b.globalAliases as string[]).slice().sort() : [],
    websiteAccess: b.websiteAccess === true,
    websiteConfig: web && typeof web.indexDocument === "string"
      ? { indexDocument: web.indexDocument, errorDocument: typeof web.errorDocument === "string" ? web.errorDocument : null }
      : null,
    keys: keys.map((k) => ({ accessKeyId: String(k.accessKeyId), name: String(k.name ?? ""), permissions: perms(k.permissions) })),
    quotas: { maxSize: num(quotas.maxSize), maxObjects: num(quotas.maxObjects) },
    objects: num(b.objects) ?? 0,
    bytes: num(b.bytes) ?? 0,
  };
}

/** Normalizes a GetKeyInfo/CreateKey answer (same shape in v1 and v2). */
export function parseKeyInfo(raw: unknown): KeyInfo {
  const k = raw as Record<string, unknown>;
  if (!k || typeof k.accessKeyId !== "string") throw new Error("Garage answered a key without an accessKeyId");
  const buckets = Array.isArray(k.buckets) ? (k.buckets as Record<string, unknown>[]) : [];
  const out: KeyInfo = {
    accessKeyId: k.accessKeyId,
    name: typeof k.name === "string" ? k.name : "",
    buckets: buckets.map((b) => ({
      id: String(b.id),
      globalAliases: Array.isArray(b.globalAliases) ? (b.globalAliases as string[]) : [],
      permissions: perms(b.permissions),
    })),
  };
  if (typeof k.secretAccessKey === "string") out.secretAccessKey = k.secretAccessKey;
  return out;
}

export class GarageAdminClient {
  private version: GarageApiVersion | undefined;
  private readonly base: string;
  private readonly doFetch: FetchLike;

  constructor(private readonly opts: GarageAdminOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    this.version = opts.version;
    this.doFetch = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  }

  /**
   * The API generation the server speaks. Probes once with the v2 health endpoint: 200 means v2; 400/404
   * (an older server that does not know the path) means v1. Authentication errors are reported, not guessed.
   */
  async apiVersion(): Promise<GarageApiVersion> {
    if (this.version) return this.version;
    const res = await this.raw("GET", "/v2/GetClusterHealth", undefined, "probe");
    if (res.status === 200) this.version = "v2";
    else if (res.status === 400 || res.status === 404) this.version = "v1";
    else throw this.error("probe", res.status, res.text);
    return this.version;
  }

  private async raw(method: string, pathAndQuery: string, body: unknown, operation: string): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res;
    try {
      res = await this.doFetch(this.base + pathAndQuery, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      // Network errors from undici carry the URL but never the headers: safe to repeat.
      throw garageAdminError(`Garage admin API ${operation}: cannot reach ${this.base}: ${(err as Error).message}`, 0, undefined, operation);
    }
    return { status: res.status, text: await res.text() };
  }

  private error(operation: string, status: number, text: string): GarageAdminError {
    let code: string | undefined;
    let message = text.slice(0, 500);
    try {
      const j = JSON.parse(text) as { code?: string; message?: string };
      code = j.code;
      message = j.message ?? message;
    } catch {
      /* not JSON: keep the text */
    }
    return garageAdminError(`Garage admin API ${operation} failed (HTTP ${status}${code ? ` ${code}` : ""}): ${message}`, status, code, operation);
  }

  /** Calls an operation; `query` values are URL-encoded. Returns parsed JSON, or undefined for an empty body. */
  private async call(op: GarageOperation, query: Record<string, string>, body?: unknown): Promise<unknown> {
    const version = await this.apiVersion();
    const route = ROUTES[op][version];
    const qs = new URLSearchParams(query).toString();
    const res = await this.raw(route.method, route.path + (qs ? `?${qs}` : ""), body, op);
    if (res.status < 200 || res.status > 299) throw this.error(op, res.status, res.text);
    return res.text.trim() === "" ? undefined : JSON.parse(res.text);
  }

  /** Like call, but a 404 (no such bucket/key) answers undefined. */
  private async callOrMissing(op: GarageOperation, query: Record<string, string>): Promise<unknown> {
    try {
      return await this.call(op, query);
    } catch (err) {
      if (isGarageAdminError(err) && err.status === 404) return undefined;
      throw err;
    }
  }

  async health(): Promise<{ status: string }> {
    return (await this.call("health", {})) as { status: string };
  }

  async createBucket(globalAlias: string): Promise<BucketInfo> {
    return parseBucketInfo(await this.call("createBucket", {}, { globalAlias }));
  }

  async getBucket(by: { id: string } | { globalAlias: string }): Promise<BucketInfo | undefined> {
    const q: Record<string, string> = "id" in by ? { id: by.id } : { globalAlias: by.globalAlias };
    const raw = await this.callOrMissing("getBucket", q);
    return raw === undefined ? undefined : parseBucketInfo(raw);
  }

  /** Sets website access and/or the quota pair (Garage sets both quotas at once: pass both). */
  async updateBucket(id: string, change: { websiteAccess?: WebsiteAccess; quotas?: BucketQuotas }): Promise<BucketInfo> {
    const body: Record<string, unknown> = {};
    if (change.websiteAccess) {
      const w = change.websiteAccess;
      body.websiteAccess = w.enabled
        ? { enabled: true, indexDocument: w.indexDocument ?? "index.html", errorDocument: w.errorDocument ?? null }
        : { enabled: false, indexDocument: null, errorDocument: null };
    }
    if (change.quotas) body.quotas = { maxSize: change.quotas.maxSize, maxObjects: change.quotas.maxObjects };
    const raw = await this.call("updateBucket", { id }, body);
    // v1 servers before 0.9 answered nothing; read back for a uniform result.
    return raw === undefined ? (await this.getBucket({ id }))! : parseBucketInfo(raw);
  }

  /** Deletes an empty bucket (Garage refuses a bucket that still holds objects). */
  async deleteBucket(id: string): Promise<void> {
    await this.call("deleteBucket", { id });
  }

  /** Creates a key; the answer carries its secret. */
  async createKey(name: string): Promise<KeyInfo> {
    return parseKeyInfo(await this.call("createKey", {}, { name }));
  }

  async getKey(id: string, showSecret: boolean): Promise<KeyInfo | undefined> {
    const q: Record<string, string> = { id };
    if (showSecret) q.showSecretKey = "true";
    const raw = await this.callOrMissing("getKey", q);
    return raw === undefined ? undefined : parseKeyInfo(raw);
  }

  async renameKey(id: string, name: string): Promise<KeyInfo> {
    return parseKeyInfo(await this.call("updateKey", { id }, { name }));
  }

  async deleteKey(id: string): Promise<void> {
    await this.call("deleteKey", { id });
  }

  /** Turns the given flags ON (flags passed false are left as they are). */
  async allowBucketKey(bucketId: string, accessKeyId: string, permissions: BucketKeyPermissions): Promise<BucketInfo> {
    return parseBucketInfo(await this.call("allowBucketKey", {}, { bucketId, accessKeyId, permissions }));
  }

  /** Turns the given flags OFF (flags passed false are left as they are). */
  async denyBucketKey(bucketId: string, accessKeyId: string, permissions: BucketKeyPermissions): Promise<BucketInfo> {
    return parseBucketInfo(await this.call("denyBucketKey", {}, { bucketId, accessKeyId, permissions }));
  }

  /**
   * Sets a key's flags on a bucket to exactly `wanted`: allows what must be on, then denies what must be off
   * (AllowBucketKey never turns a flag off). Returns the permissions read back.
   */
  async setBucketKeyPermissions(bucketId: string, accessKeyId: string, wanted: BucketKeyPermissions): Promise<BucketKeyPermissions> {
    let info: BucketInfo | undefined;
    if (wanted.read || wanted.write || wanted.owner) info = await this.allowBucketKey(bucketId, accessKeyId, wanted);
    const off = { read: !wanted.read, write: !wanted.write, owner: !wanted.owner };
    if (off.read || off.write || off.owner) info = await this.denyBucketKey(bucketId, accessKeyId, off);
    const got = info!.keys.find((k) => k.accessKeyId === accessKeyId)?.permissions ?? { read: false, write: false, owner: false };
    if (got.read !== wanted.read || got.write !== wanted.write || got.owner !== wanted.owner) {
      throw garageAdminError(
        `Garage kept permissions ${JSON.stringify(got)} for key ${accessKeyId} on bucket ${bucketId}, wanted ${JSON.stringify(wanted)}`,
        200, undefined, "setBucketKeyPermissions",
      );
    }
    return got;
  }

  /** True when Garage serves `domain` as a website (GET /check, unauthenticated; what Caddy on-demand TLS asks). */
  async checkDomain(domain: string): Promise<boolean> {
    const res = await this.raw("GET", `/check?domain=${encodeURIComponent(domain)}`, undefined, "checkDomain");
    return res.status === 200;
  }
}
