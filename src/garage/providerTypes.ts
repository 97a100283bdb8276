// The shapes of the Garage dynamic resources: each one's inputs and outputs, and structural copies of
// pulumi.dynamic's provider types. Types only, so nothing here exists at run time: provider.ts keeps every
// value its providers capture, and what Pulumi serializes into state does not change with this file. The
// component reads the shapes through provider.ts, which re-exports them.
import type { BucketKeyPermissions, GarageApiVersion, WebsiteAccess } from "./admin";
import type { CorsRule } from "./s3";

/** Connection fields every Garage dynamic resource carries. */
export interface GarageConnection {
  /** Admin API base URL. */
  adminUrl: string;
  /** Admin API bearer token (a secret input and output). */
  adminToken: string;
  /** Forces the admin API generation; absent = probe (v2, else v1). */
  apiVersion?: GarageApiVersion;
}

export interface BucketInputs extends GarageConnection {
  /** The bucket's global alias: its S3 name, and the website hostname when website access is on. */
  globalAlias: string;
  /** Quota pair; an absent member means no limit. */
  quotas: { maxSize?: number; maxObjects?: number };
  website: WebsiteAccess;
}
export interface BucketOutputs extends BucketInputs {
  bucketId: string;
}

export interface KeyInputs extends GarageConnection {
  /** Key name shown by `garage key list` (`<tenant>/<bucket>` by convention). */
  name: string;
}
export interface KeyOutputs extends KeyInputs {
  accessKeyId: string;
  /** Secret: the component lists it in additionalSecretOutputs. */
  secretAccessKey: string;
}

/** Connection fields of the resources driven through the S3 API with the platform's own key. */
export interface GarageS3Connection {
  /** S3 API endpoint (path-style addressing). */
  s3Url: string;
  /** Region requests are signed for. */
  s3Region: string;
  /** The platform key (secret inputs and outputs). */
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
}

/** A bucket's whole CORS configuration. */
export interface CorsInputs extends GarageS3Connection {
  /** The bucket's global alias (its S3 name). */
  bucket: string;
  /** The rules, exactly: any other rule set on the bucket is replaced. */
  corsRules: CorsRule[];
}
export type CorsOutputs = CorsInputs;

/** An object written once, if its key is free, and never again: the site's publisher owns it afterwards. */
export interface ObjectInputs extends GarageS3Connection {
  bucket: string;
  /** Object key (e.g. index.html). */
  key: string;
  content: string;
  contentType: string;
}
export interface ObjectOutputs extends ObjectInputs {
  /** true: this resource wrote the object; false: an object was already there and was left as it was. */
  created: boolean;
}

export interface GrantInputs extends GarageConnection {
  bucketId: string;
  accessKeyId: string;
  /** Exact flags the key must hold on the bucket (others are denied). */
  permissions: BucketKeyPermissions;
}
export type GrantOutputs = GrantInputs;

// Structural copies of pulumi.dynamic's result types (kept Pulumi-free; the component checks compatibility).
export interface CreateResult<O> { id: string; outs: O }
export interface ReadResult<O> { id?: string; props?: O }
export interface UpdateResult<O> { outs?: O }
export interface DiffResult { changes?: boolean; replaces?: string[]; stables?: string[]; deleteBeforeReplace?: boolean }
export interface CrudProvider<I, O> {
  create(inputs: I): Promise<CreateResult<O>>;
  read(id: string, props: O): Promise<ReadResult<O>>;
  diff(id: string, olds: O, news: I): Promise<DiffResult>;
  update(id: string, olds: O, news: I): Promise<UpdateResult<O>>;
  delete(id: string, props: O): Promise<void>;
}
