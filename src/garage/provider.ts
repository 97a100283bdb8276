// The CRUD functions of the Garage dynamic providers: through the admin API a bucket, an access key and a
// key-on-bucket grant; through the S3 API, with the platform's own key, a bucket's CORS rule and a website's
// first object. Plain objects with no Pulumi import: components/garageBucket.ts hands them to
// pulumi.dynamic.Resource, tests call them directly against a real Garage server.
//
// Pulumi serializes each provider object, with everything it captures, into the state of every resource
// it manages. So these objects capture only the self-contained admin client module (admin.ts) or the S3
// helpers (s3.ts, which reference @aws-sdk/client-s3 by package name): no configuration, no credential.
// The URLs, the admin token and the platform key arrive in each call's inputs/outputs (the token and the
// key as secret inputs, kept secret in state by the component's additionalSecretOutputs).
import { BucketKeyPermissions, BucketQuotas, GarageAdminClient, garageAdminError, isGarageAdminError, WebsiteAccess } from "./admin";
import { CorsRule, deleteBucketCors, garageS3Client, getBucketCors, normalCorsRule, putBucketCors, putObjectIfAbsent } from "./s3";
import type {
  BucketInputs, BucketOutputs, CorsInputs, CorsOutputs, CrudProvider, GarageConnection, GarageS3Connection, GrantInputs, GrantOutputs,
  KeyInputs, KeyOutputs, ObjectInputs, ObjectOutputs,
} from "./providerTypes";

export type {
  BucketInputs, BucketOutputs, CorsInputs, CorsOutputs, CreateResult, CrudProvider, DiffResult, GarageConnection, GarageS3Connection,
  GrantInputs, GrantOutputs, KeyInputs, KeyOutputs, ObjectInputs, ObjectOutputs, ReadResult, UpdateResult,
} from "./providerTypes";

function client(c: GarageConnection): GarageAdminClient {
  return new GarageAdminClient({ url: c.adminUrl, token: c.adminToken, version: c.apiVersion });
}

/** Quotas with absent members as null (what Garage stores for "no limit"). */
export function quotaPair(q: BucketInputs["quotas"] | undefined): BucketQuotas {
  return { maxSize: q?.maxSize ?? null, maxObjects: q?.maxObjects ?? null };
}

/** Website settings as Garage reports them: documents only matter while access is on. */
export function websiteState(w: WebsiteAccess | undefined): WebsiteAccess {
  if (!w || !w.enabled) return { enabled: false };
  const out: WebsiteAccess = { enabled: true, indexDocument: w.indexDocument ?? "index.html" };
  if (w.errorDocument) out.errorDocument = w.errorDocument;
  return out;
}

function quotasOut(q: BucketQuotas): BucketInputs["quotas"] {
  const out: BucketInputs["quotas"] = {};
  if (q.maxSize !== null) out.maxSize = q.maxSize;
  if (q.maxObjects !== null) out.maxObjects = q.maxObjects;
  return out;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Names of the connection fields that differ (an update that only stores the new values). */
function connectionChanges(olds: GarageConnection, news: GarageConnection): string[] {
  const out: string[] = [];
  if (olds.adminUrl !== news.adminUrl) out.push("adminUrl");
  if (olds.adminToken !== news.adminToken) out.push("adminToken");
  if ((olds.apiVersion ?? null) !== (news.apiVersion ?? null)) out.push("apiVersion");
  return out;
}

function connection(c: GarageConnection): GarageConnection {
  const out: GarageConnection = { adminUrl: c.adminUrl, adminToken: c.adminToken };
  if (c.apiVersion) out.apiVersion = c.apiVersion;
  return out;
}

export const garageBucketProvider: CrudProvider<BucketInputs, BucketOutputs> = {
  async create(inputs) {
    const api = client(inputs);
    let bucket;
    try {
      bucket = await api.createBucket(inputs.globalAlias);
    } catch (err) {
      if (isGarageAdminError(err) && err.status === 409) {
        const existing = await api.getBucket({ globalAlias: inputs.globalAlias });
        throw garageAdminError(
          `Garage bucket ${inputs.globalAlias} already exists (id ${existing?.id ?? "?"}); it is not adopted automatically: ` +
            `add the resource option import: "${existing?.id ?? "<bucket id>"}" to take it over, or choose another name`,
          409, err.code, "createBucket",
        );
      }
      throw err;
    }
    try {
      bucket = await api.updateBucket(bucket.id, { quotas: quotaPair(inputs.quotas), websiteAccess: websiteState(inputs.website) });
    } catch (err) {
      // The bucket is new and empty: remove it so that a retry starts clean instead of hitting "already exists".
      await api.deleteBucket(bucket.id).catch(() => undefined);
      throw err;
    }
    return {
      id: bucket.id,
      outs: { ...connection(inputs), globalAlias: inputs.globalAlias, quotas: quotasOut(bucket.quotas), website: websiteFromInfo(bucket), bucketId: bucket.id },
    };
  },

  async read(id, props) {
    const bucket = await client(props).getBucket({ id });
    if (!bucket) return {};
    const alias = bucket.globalAliases.includes(props.globalAlias) ? props.globalAlias : bucket.globalAliases[0] ?? "";
    return {
      id,
      props: { ...connection(props), globalAlias: alias, quotas: quotasOut(bucket.quotas), website: websiteFromInfo(bucket), bucketId: id },
    };
  },

  async diff(_id, olds, news) {
    const replaces = olds.globalAlias !== news.globalAlias ? ["globalAlias"] : [];
    const changed = [...connectionChanges(olds, news), ...replaces];
    if (!same(quotaPair(olds.quotas), quotaPair(news.quotas))) changed.push("quotas");
    if (!same(websiteState(olds.website), websiteState(news.website))) changed.push("website");
    return { changes: changed.length > 0, replaces, stables: ["bucketId"], deleteBeforeReplace: false };
  },

  async update(id, olds, news) {
    const api = client(news);
    const change: { quotas?: BucketQuotas; websiteAccess?: WebsiteAccess } = {};
    if (!same(quotaPair(olds.quotas), quotaPair(news.quotas))) change.quotas = quotaPair(news.quotas);
    if (!same(websiteState(olds.website), websiteState(news.website))) change.websiteAccess = websiteState(news.website);
    const bucket = change.quotas || change.websiteAccess ? await api.updateBucket(id, change) : await api.getBucket({ id });
    if (!bucket) throw garageAdminError(`Garage bucket ${id} (${olds.globalAlias}) no longer exists; run pulumi refresh`, 404, undefined, "update");
    return { outs: { ...connection(news), globalAlias: news.globalAlias, quotas: quotasOut(bucket.quotas), website: websiteFromInfo(bucket), bucketId: id } };
  },

  async delete(id, props) {
    // Only reached for a bucket that is neither protected nor retained. Garage refuses a non-empty bucket.
    const api = client(props);
    if (await api.getBucket({ id })) await api.deleteBucket(id);
  },
};

function websiteFromInfo(b: { websiteAccess: boolean; websiteConfig: { indexDocument: string; errorDocument: string | null } | null }): WebsiteAccess {
  if (!b.websiteAccess) return { enabled: false };
  const out: WebsiteAccess = { enabled: true, indexDocument: b.websiteConfig?.indexDocument ?? "index.html" };
  if (b.websiteConfig?.errorDocument) out.errorDocument = b.websiteConfig.errorDocument;
  return out;
}

export const garageKeyProvider: CrudProvider<KeyInputs, KeyOutputs> = {
  async create(inputs) {
    const api = client(inputs);
    const created = await api.createKey(inputs.name);
    const secret = created.secretAccessKey ?? (await api.getKey(created.accessKeyId, true))?.secretAccessKey;
    if (!secret) throw garageAdminError(`Garage did not return the secret of key ${created.accessKeyId}`, 200, undefined, "createKey");
    return { id: created.accessKeyId, outs: { ...connection(inputs), name: created.name, accessKeyId: created.accessKeyId, secretAccessKey: secret } };
  },

  async read(id, props) {
    const key = await client(props).getKey(id, true);
    if (!key) return {};
    return { id, props: { ...connection(props), name: key.name, accessKeyId: id, secretAccessKey: key.secretAccessKey ?? props.secretAccessKey } };
  },

  async diff(_id, olds, news) {
    const changed = connectionChanges(olds, news);
    if (olds.name !== news.name) changed.push("name");
    return { changes: changed.length > 0, replaces: [], stables: ["accessKeyId", "secretAccessKey"] };
  },

  async update(id, olds, news) {
    const api = client(news);
    if (olds.name !== news.name) await api.renameKey(id, news.name);
    return { outs: { ...connection(news), name: news.name, accessKeyId: id, secretAccessKey: olds.secretAccessKey } };
  },

  async delete(id, props) {
    const api = client(props);
    if (await api.getKey(id, false)) await api.deleteKey(id);
  },
};

const NONE: BucketKeyPermissions = { read: false, write: false, owner: false };

function exactPermissions(p: Partial<BucketKeyPermissions> | undefined): BucketKeyPermissions {
  return { read: p?.read === true, write: p?.write === true, owner: p?.owner === true };
}

/**
 * A grant's resource id: the bucket and a digest of the key id. Ids are stored in plain text, and the
 * platform key's id is an operator secret (garageS3AccessKeyId); the grant works from its props.
 */
export function grantId(bucketId: string, accessKeyId: string): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return `${bucketId}/key-${createHash("sha256").update(accessKeyId).digest("hex").slice(0, 16)}`;
}

export const garageGrantProvider: CrudProvider<GrantInputs, GrantOutputs> = {
  async create(inputs) {
    const perms = await client(inputs).setBucketKeyPermissions(inputs.bucketId, inputs.accessKeyId, exactPermissions(inputs.permissions));
    return {
      id: grantId(inputs.bucketId, inputs.accessKeyId),
      outs: { ...connection(inputs), bucketId: inputs.bucketId, accessKeyId: inputs.accessKeyId, permissions: perms },
    };
  },

  async read(id, props) {
    const bucket = await client(props).getBucket({ id: props.bucketId });
    const perms = bucket?.keys.find((k) => k.accessKeyId === props.accessKeyId)?.permissions ?? NONE;
    if (!perms.read && !perms.write && !perms.owner) return {};
    return { id, props: { ...connection(props), bucketId: props.bucketId, accessKeyId: props.accessKeyId, permissions: perms } };
  },

  async diff(_id, olds, news) {
    const replaces = (["bucketId", "accessKeyId"] as const).filter((k) => olds[k] !== news[k]);
    const changed: string[] = [...connectionChanges(olds, news), ...replaces];
    if (!same(exactPermissions(olds.permissions), exactPermissions(news.permissions))) changed.push("permissions");
    return { changes: changed.length > 0, replaces };
  },

  async update(_id, _olds, news) {
    const perms = await client(news).setBucketKeyPermissions(news.bucketId, news.accessKeyId, exactPermissions(news.permissions));
    return { outs: { ...connection(news), bucketId: news.bucketId, accessKeyId: news.accessKeyId, permissions: perms } };
  },

  async delete(_id, props) {
    // AllowBucketKey never removes a flag: revoking is DenyBucketKey with every flag set.
    const api = client(props);
    if (!(await api.getBucket({ id: props.bucketId }))) return;
    try {
      await api.denyBucketKey(props.bucketId, props.accessKeyId, { read: true, write: true, owner: true });
    } catch (err) {
      if (!(isGarageAdminError(err) && err.status === 404)) throw err;
    }
  },
};

function s3Client(c: GarageS3Connection) {
  return garageS3Client({ url: c.s3Url, region: c.s3Region, accessKeyId: c.s3AccessKeyId, secretAccessKey: c.s3SecretAccessKey });
}

function s3Connection(c: GarageS3Connection): GarageS3Connection {
  return { s3Url: c.s3Url, s3Region: c.s3Region, s3AccessKeyId: c.s3AccessKeyId, s3SecretAccessKey: c.s3SecretAccessKey };
}

/** Names of the S3 connection fields that differ (an update that only stores the new values). */
function s3ConnectionChanges(olds: GarageS3Connection, news: GarageS3Connection): string[] {
  return (["s3Url", "s3Region", "s3AccessKeyId", "s3SecretAccessKey"] as const).filter((k) => olds[k] !== news[k]);
}

const corsRules = (rules: readonly Partial<CorsRule>[] | undefined): CorsRule[] => (rules ?? []).map(normalCorsRule);

export const garageCorsProvider: CrudProvider<CorsInputs, CorsOutputs> = {
  async create(inputs) {
    const rules = corsRules(inputs.corsRules);
    await putBucketCors(s3Client(inputs), inputs.bucket, rules);
    return { id: inputs.bucket, outs: { ...s3Connection(inputs), bucket: inputs.bucket, corsRules: rules } };
  },

  async read(id, props) {
    const rules = await getBucketCors(s3Client(props), props.bucket);
    if (!rules) return {};
    return { id, props: { ...s3Connection(props), bucket: props.bucket, corsRules: rules } };
  },

  async diff(_id, olds, news) {
    const replaces = olds.bucket !== news.bucket ? ["bucket"] : [];
    const changed = [...s3ConnectionChanges(olds, news), ...replaces];
    if (!same(corsRules(olds.corsRules), corsRules(news.corsRules))) changed.push("corsRules");
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
  },

  async update(_id, olds, news) {
    const rules = corsRules(news.corsRules);
    if (!same(corsRules(olds.corsRules), rules)) await putBucketCors(s3Client(news), news.bucket, rules);
    return { outs: { ...s3Connection(news), bucket: news.bucket, corsRules: rules } };
  },

  async delete(_id, props) {
    await deleteBucketCors(s3Client(props), props.bucket);
  },
};

export const garageObjectProvider: CrudProvider<ObjectInputs, ObjectOutputs> = {
  async create(inputs) {
    const created = await putObjectIfAbsent(s3Client(inputs), inputs.bucket, inputs.key, inputs.content, inputs.contentType);
    return {
      id: `${inputs.bucket}/${inputs.key}`,
      outs: { ...s3Connection(inputs), bucket: inputs.bucket, key: inputs.key, content: inputs.content, contentType: inputs.contentType, created },
    };
  },

  // The object is the publisher's once written: refresh does not look at it (a page the tenant replaced or
  // removed is not drift, and must not make the next update write the first page again).
  async read(id, props) {
    return { id, props };
  },

  // Content changes are not changes: the first page is written once. A new bucket or key is another first
  // object (written only if that key is free); new connection values are stored.
  async diff(_id, olds, news) {
    const replaces = (["bucket", "key"] as const).filter((k) => olds[k] !== news[k]);
    const changed = [...s3ConnectionChanges(olds, news), ...replaces];
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
  },

  // Never writes: keeps what was written (or found) at creation, stores the new connection values.
  async update(_id, olds, news) {
    return { outs: { ...s3Connection(news), bucket: olds.bucket, key: olds.key, content: olds.content, contentType: olds.contentType, created: olds.created } };
  },

  // Never removes the object (the component also retains it on delete).
  async delete() {
    return;
  },
};
