import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  BucketInputs,
  BucketOutputs,
  CrudProvider,
  garageBucketProvider,
  garageGrantProvider,
  garageKeyProvider,
  GrantInputs,
  KeyInputs,
  KeyOutputs,
} from "../src/garage/provider";
import { APPLICATION_KEY_PERMISSIONS, corsRule, garageBucketProblems, garageKeyName, PLATFORM_KEY_PERMISSIONS } from "../src/garage/naming";

export interface GarageBucketArgs {
  /** Slug of the tenant owning the bucket (stored as the component's only prop). */
  tenant: string;
  /** The bucket's global alias (its S3 name; for a website, the public hostname). Immutable: renaming needs a migration. */
  bucketName: string;
  /** Quota in bytes; undefined = no limit. */
  quotaBytes?: number;
  /** Maximum number of objects; undefined = no limit. */
  maxObjects?: number;
  /** Website access with index/error documents; undefined = no website access. */
  website?: {
    /** Document served for a directory (e.g. index.html). */
    indexDocument: string;
    /** Document served, with status 404, for a missing key (e.g. 404.html). */
    errorDocument: string;
    /** Content of the first index document, uploaded once to a new bucket and never overwritten; undefined = none. */
    initialIndexHtml?: string;
  };
  /** Exact browser origins allowed to read objects (GET/HEAD) cross-origin; undefined or empty = no CORS rule. */
  corsOrigins?: string[];
  /** Garage admin API: base URL and bearer token (a secret). */
  admin: { url: string; token: pulumi.Input<string> };
  /** aws provider pointed at Garage's S3 API with the platform key (CORS, first index.html). */
  s3Provider: aws.Provider;
  /**
   * Access key id of the platform key used by s3Provider, granted read+write+owner on this bucket when CORS or a
   * first index.html is managed (PutBucketCors is an owner operation); default: s3Provider's accessKey.
   */
  platformAccessKeyId?: pulumi.Input<string>;
}

// The providers are module-level constants: pulumi.dynamic caches one serialization per provider object.
const bucketProvider = garageBucketProvider as CrudProvider<BucketInputs, BucketOutputs> & pulumi.dynamic.ResourceProvider;
const keyProvider = garageKeyProvider as CrudProvider<KeyInputs, KeyOutputs> & pulumi.dynamic.ResourceProvider;
const grantProvider = garageGrantProvider as CrudProvider<GrantInputs, GrantInputs> & pulumi.dynamic.ResourceProvider;

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** A Garage bucket (global alias, quota pair, website access). Protected and retained on delete. */
class GarageBucketResource extends pulumi.dynamic.Resource {
  declare readonly bucketId: pulumi.Output<string>;
  declare readonly globalAlias: pulumi.Output<string>;
  constructor(name: string, props: Inputs<BucketInputs>, opts: pulumi.CustomResourceOptions) {
    super(bucketProvider, name, { ...props, bucketId: undefined }, opts);
  }
}

/** A Garage access key; its secret is a secret output. Protected. */
class GarageKeyResource extends pulumi.dynamic.Resource {
  declare readonly accessKeyId: pulumi.Output<string>;
  declare readonly secretAccessKey: pulumi.Output<string>;
  constructor(name: string, props: Inputs<KeyInputs>, opts: pulumi.CustomResourceOptions) {
    super(keyProvider, name, { ...props, accessKeyId: undefined, secretAccessKey: undefined }, opts);
  }
}

/** Exact permission flags of one key on one bucket; deleting it denies every flag. */
class GarageGrantResource extends pulumi.dynamic.Resource {
  constructor(name: string, props: Inputs<GrantInputs>, opts: pulumi.CustomResourceOptions) {
    super(grantProvider, name, props, opts);
  }
}

/**
 * One tenant bucket on Garage: the bucket (global alias, quota pair, optional website access), an access key
 * with read+write (never owner) on exactly that bucket, and through the S3 API an optional CORS rule and a
 * first index document. Children: `${name}-bucket`, `${name}-key`, `${name}-grant`, and when needed
 * `${name}-platform-grant`, `${name}-cors`, `${name}-index`.
 */
export class GarageBucket extends pulumi.ComponentResource {
  readonly bucketId: pulumi.Output<string>;
  readonly bucketName: pulumi.Output<string>;
  readonly accessKeyId: pulumi.Output<string>;
  /** Secret. */
  readonly secretAccessKey: pulumi.Output<string>;

  constructor(name: string, args: GarageBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:garage:GarageBucket", name, { tenant: args.tenant }, opts);
    const problems = garageBucketProblems({ ...args, adminUrl: args.admin.url });
    if (problems.length) throw new Error(`GarageBucket ${name}: ${problems.join("; ")}`);

    const connection = { adminUrl: args.admin.url, adminToken: pulumi.secret(args.admin.token) };
    const secretConnection = ["adminToken"];

    const quotas: BucketInputs["quotas"] = {};
    if (args.quotaBytes !== undefined) quotas.maxSize = args.quotaBytes;
    if (args.maxObjects !== undefined) quotas.maxObjects = args.maxObjects;
    const website: BucketInputs["website"] = args.website
      ? { enabled: true, indexDocument: args.website.indexDocument, errorDocument: args.website.errorDocument }
      : { enabled: false };

    const bucket = new GarageBucketResource(`${name}-bucket`, { ...connection, globalAlias: args.bucketName, quotas, website },
      pulumi.mergeOptions({ parent: this }, { protect: true, retainOnDelete: true, additionalSecretOutputs: secretConnection }));

    const key = new GarageKeyResource(`${name}-key`, { ...connection, name: garageKeyName(args.tenant, args.bucketName) },
      pulumi.mergeOptions({ parent: this }, { protect: true, additionalSecretOutputs: [...secretConnection, "secretAccessKey"] }));

    new GarageGrantResource(`${name}-grant`, {
      ...connection, bucketId: bucket.bucketId, accessKeyId: key.accessKeyId, permissions: { ...APPLICATION_KEY_PERMISSIONS },
    }, pulumi.mergeOptions({ parent: this }, { additionalSecretOutputs: secretConnection }));

    const corsOrigins = args.corsOrigins ?? [];
    const initialIndex = args.website?.initialIndexHtml;
    if (corsOrigins.length > 0 || initialIndex !== undefined) {
      const platformKey = args.platformAccessKeyId ?? args.s3Provider.accessKey.apply((k) => {
        if (!k) throw new Error(`GarageBucket ${name}: s3Provider has no accessKey; pass platformAccessKeyId`);
        return k;
      });
      const platformGrant = new GarageGrantResource(`${name}-platform-grant`, {
        ...connection, bucketId: bucket.bucketId, accessKeyId: platformKey, permissions: { ...PLATFORM_KEY_PERMISSIONS },
      }, pulumi.mergeOptions({ parent: this }, { additionalSecretOutputs: secretConnection }));
      const s3 = { parent: this, provider: args.s3Provider, dependsOn: [platformGrant] };

      if (corsOrigins.length > 0) {
        new aws.s3.BucketCorsConfiguration(`${name}-cors`, { bucket: bucket.globalAlias, corsRules: [corsRule(corsOrigins)] }, s3);
      }
      if (args.website && initialIndex !== undefined) {
        // Uploaded once: the site's publisher (Staatic, the tenant) owns the object afterwards, so later changes
        // of its content are ignored and removing it from code leaves it in the bucket.
        new aws.s3.BucketObjectv2(`${name}-index`, {
          bucket: bucket.globalAlias,
          key: args.website.indexDocument,
          content: initialIndex,
          contentType: "text/html; charset=utf-8",
        }, pulumi.mergeOptions(s3, { retainOnDelete: true, ignoreChanges: ["content", "contentType", "etag", "source", "sourceHash"] }));
      }
    }

    this.bucketId = bucket.bucketId;
    this.bucketName = bucket.globalAlias;
    this.accessKeyId = key.accessKeyId;
    this.secretAccessKey = pulumi.secret(key.secretAccessKey);
    this.registerOutputs({ bucketId: this.bucketId, bucketName: this.bucketName, accessKeyId: this.accessKeyId });
  }
}
