import * as pulumi from "@pulumi/pulumi";
import {
  BucketInputs,
  BucketOutputs,
  CorsInputs,
  CorsOutputs,
  CrudProvider,
  garageBucketProvider,
  garageCorsProvider,
  garageGrantProvider,
  garageKeyProvider,
  garageObjectProvider,
  GrantInputs,
  KeyInputs,
  KeyOutputs,
  ObjectInputs,
  ObjectOutputs,
} from "../src/garage/provider";
import { APPLICATION_KEY_PERMISSIONS, corsRule, garageBucketProblems, garageKeyName, PLATFORM_KEY_PERMISSIONS } from "../src/garage/naming";

/**
 * Garage's S3 API as the platform's own key reaches it (Platform.s3): what a GarageBucket needs for its CORS
 * rule and its first index.html.
 */
export interface GarageS3 {
  /** S3 API endpoint on the private network (Platform.endpoints.garage.s3Url); addressed path-style. */
  url: string;
  /** Region requests are signed for (GARAGE_REGION). */
  region: string;
  /** The platform key (operator secrets garageS3AccessKeyId, garageS3SecretAccessKey): Pulumi secrets. */
  accessKeyId: pulumi.Input<string>;
  secretAccessKey: pulumi.Input<string>;
  /**
   * What must exist before Garage answers: its container healthy, the layout applied, the platform key
   * imported (SharedServices.garageReady; empty for an external Garage or a tenant shard). Every Garage
   * resource of the bucket waits for them.
   */
  ready: pulumi.Resource[];
}

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
  /** Garage's S3 API with the platform key (CORS, first index.html) and what Garage's readiness hangs on. */
  s3: GarageS3;
}

// The providers are module-level constants: pulumi.dynamic caches one serialization per provider object.
const bucketProvider = garageBucketProvider as CrudProvider<BucketInputs, BucketOutputs> & pulumi.dynamic.ResourceProvider;
const keyProvider = garageKeyProvider as CrudProvider<KeyInputs, KeyOutputs> & pulumi.dynamic.ResourceProvider;
const grantProvider = garageGrantProvider as CrudProvider<GrantInputs, GrantInputs> & pulumi.dynamic.ResourceProvider;
const corsProvider = garageCorsProvider as CrudProvider<CorsInputs, CorsOutputs> & pulumi.dynamic.ResourceProvider;
const objectProvider = garageObjectProvider as CrudProvider<ObjectInputs, ObjectOutputs> & pulumi.dynamic.ResourceProvider;

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

/** A bucket's CORS configuration, exactly (S3 API, platform key); deleting it removes the configuration. */
class GarageBucketCorsResource extends pulumi.dynamic.Resource {
  constructor(name: string, props: Inputs<CorsInputs>, opts: pulumi.CustomResourceOptions) {
    super(corsProvider, name, props, opts);
  }
}

/** An object written once if its key is free, never overwritten, never deleted (S3 API, platform key). */
class GarageObjectResource extends pulumi.dynamic.Resource {
  declare readonly created: pulumi.Output<boolean>;
  constructor(name: string, props: Inputs<ObjectInputs>, opts: pulumi.CustomResourceOptions) {
    super(objectProvider, name, { ...props, created: undefined }, opts);
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
    // Every child waits for Garage (and for the platform key, which the platform grant names).
    const base: pulumi.CustomResourceOptions = { parent: this, dependsOn: args.s3.ready, additionalSecretOutputs: secretConnection };

    const quotas: BucketInputs["quotas"] = {};
    if (args.quotaBytes !== undefined) quotas.maxSize = args.quotaBytes;
    if (args.maxObjects !== undefined) quotas.maxObjects = args.maxObjects;
    const website: BucketInputs["website"] = args.website
      ? { enabled: true, indexDocument: args.website.indexDocument, errorDocument: args.website.errorDocument }
      : { enabled: false };

    const bucket = new GarageBucketResource(`${name}-bucket`, { ...connection, globalAlias: args.bucketName, quotas, website },
      { ...base, protect: true, retainOnDelete: true });

    const key = new GarageKeyResource(`${name}-key`, { ...connection, name: garageKeyName(args.tenant, args.bucketName) },
      { ...base, protect: true, additionalSecretOutputs: [...secretConnection, "secretAccessKey"] });

    new GarageGrantResource(`${name}-grant`, {
      ...connection, bucketId: bucket.bucketId, accessKeyId: key.accessKeyId, permissions: { ...APPLICATION_KEY_PERMISSIONS },
    }, base);

    const corsOrigins = args.corsOrigins ?? [];
    const initialIndex = args.website?.initialIndexHtml;
    if (corsOrigins.length > 0 || initialIndex !== undefined) {
      const platformGrant = new GarageGrantResource(`${name}-platform-grant`, {
        ...connection, bucketId: bucket.bucketId, accessKeyId: pulumi.secret(args.s3.accessKeyId), permissions: { ...PLATFORM_KEY_PERMISSIONS },
      }, base);
      // The platform key travels as secret inputs and stays secret in state (outputs echo the inputs).
      const s3Connection = {
        s3Url: args.s3.url,
        s3Region: args.s3.region,
        s3AccessKeyId: pulumi.secret(args.s3.accessKeyId),
        s3SecretAccessKey: pulumi.secret(args.s3.secretAccessKey),
      };
      const s3: pulumi.CustomResourceOptions = {
        parent: this, dependsOn: [...args.s3.ready, platformGrant], additionalSecretOutputs: ["s3AccessKeyId", "s3SecretAccessKey"],
      };

      if (corsOrigins.length > 0) {
        new GarageBucketCorsResource(`${name}-cors`, { ...s3Connection, bucket: bucket.globalAlias, corsRules: [corsRule(corsOrigins)] }, s3);
      }
      if (args.website && initialIndex !== undefined) {
        // Written once, only if the key is free: the site's publisher (Staatic, the tenant) owns the object
        // afterwards, so later changes of its content are ignored and removing it from code leaves it in the bucket.
        new GarageObjectResource(`${name}-index`, {
          ...s3Connection,
          bucket: bucket.globalAlias,
          key: args.website.indexDocument,
          content: initialIndex,
          contentType: "text/html; charset=utf-8",
        }, { ...s3, retainOnDelete: true });
      }
    }

    this.bucketId = bucket.bucketId;
    this.bucketName = bucket.globalAlias;
    this.accessKeyId = key.accessKeyId;
    this.secretAccessKey = pulumi.secret(key.secretAccessKey);
    this.registerOutputs({ bucketId: this.bucketId, bucketName: this.bucketName, accessKeyId: this.accessKeyId });
  }
}
