import * as pulumi from "@pulumi/pulumi";
import { placeholderPage } from "../src/wordpress/placeholder";
import { GarageBucket, GarageS3 } from "./garageBucket";

export interface StaticSiteArgs {
  /** Tenant slug. */
  tenant: string;
  /** Public hostname: the bucket's global alias, served by Garage's web endpoint. */
  hostname: string;
  /** Garage admin API and token. */
  garageAdmin: { url: string; token: pulumi.Input<string> };
  /** Garage's S3 API with the platform key, and Garage's readiness (Platform.s3): the bucket's first page. */
  garageS3: GarageS3;
}

/**
 * A tenant's static site: a website bucket named after its public hostname (index.html / 404.html) and
 * a read+write key the tenant uploads with. Nothing depends on the tenant's status: a bucket is data, so
 * archived tenants keep it (GarageBucket protects it); their DNS and routes are dropped elsewhere.
 */
export class StaticSite extends pulumi.ComponentResource {
  readonly bucket: GarageBucket;
  readonly bucketName: pulumi.Output<string>;
  readonly accessKeyId: pulumi.Output<string>;
  /** Secret. */
  readonly secretAccessKey: pulumi.Output<string>;

  constructor(name: string, args: StaticSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:static:StaticSite", name, { tenant: args.tenant }, opts);
    this.bucket = new GarageBucket(`${name}-bucket`, {
      tenant: args.tenant,
      bucketName: args.hostname,
      website: { indexDocument: "index.html", errorDocument: "404.html", initialIndexHtml: placeholderPage(args.hostname) },
      admin: args.garageAdmin,
      s3: args.garageS3,
    }, { parent: this });
    this.bucketName = this.bucket.bucketName;
    this.accessKeyId = this.bucket.accessKeyId;
    this.secretAccessKey = pulumi.secret(this.bucket.secretAccessKey);
    this.registerOutputs({ bucketName: this.bucketName, accessKeyId: this.accessKeyId });
  }
}
