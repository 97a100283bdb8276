// The per-tenant component of each service in the registry (src/services/registry.ts): one entry per
// service, built by the Tenant component for each block of a tenant file. Adding a service is its pure
// module, its registry line and one entry here.
import * as pulumi from "@pulumi/pulumi";
import { ServiceName, ServiceValue } from "../src/services/registry";
import { Tenant as TenantFile } from "../src/types";
import { GarageS3 } from "./garageBucket";
import { NextcloudContext, nextcloudInstanceArgs } from "./nextcloudContext";
import { NextcloudInstance, TenantRoles } from "./nextcloudInstance";
import { PahekoInstanceRef, PahekoOrganisation } from "./paheko";
import { StaticSite } from "./staticSite";
import { WordPressInstanceRef, WordPressSite } from "./wordpress";

/** The fleet's service side: what the tenant's service instances are built on. */
export interface ServiceFleet {
  /** What every Nextcloud instance shares (providers, endpoints, settings). */
  nextcloud: NextcloudContext;
  /** The pooled Paheko, as its organisations reach it. */
  paheko: PahekoInstanceRef;
  /** The pooled WordPress Multisite, as its sites reach it. */
  wordpress: WordPressInstanceRef;
  /** Garage's admin API and its S3 API with the platform key (website buckets). */
  garageAdmin: { url: string; token: pulumi.Input<string> };
  garageS3: GarageS3;
  /** The S3 endpoint and region Staatic publishes to. */
  s3: { endpoint: string; region: string };
}

/** What one service component is built from. */
export interface ServiceInput<K extends ServiceName> {
  /** The validated tenant file. */
  tenant: TenantFile;
  /** The tenant's block of this service. */
  value: ServiceValue<K>;
  fleet: ServiceFleet;
  /** The tenant's Keycloak group and roles (its identity, or the platform stack's outputs in a shard). */
  roles?: TenantRoles;
}

interface ServiceComponent<K extends ServiceName, C extends pulumi.ComponentResource> {
  /** Suffix of the component's name: `<tenant>-<suffix>`. */
  suffix: string;
  create(name: string, input: ServiceInput<K>, opts: pulumi.ComponentResourceOptions): C;
}

/** The component type of each service. */
export interface ServiceComponents {
  nextcloud: NextcloudInstance;
  paheko: PahekoOrganisation;
  wordpress: WordPressSite;
  staticSite: StaticSite;
}

export const SERVICE_COMPONENTS: { [K in ServiceName]: ServiceComponent<K, ServiceComponents[K]> } = {
  nextcloud: {
    suffix: "nextcloud",
    create: (name, i, opts) => new NextcloudInstance(name, nextcloudInstanceArgs(i.tenant, i.roles, i.fleet.nextcloud), opts),
  },
  paheko: {
    suffix: "paheko",
    create: (name, i, opts) => new PahekoOrganisation(name, { tenant: i.tenant.slug, factory: i.fleet.paheko, active: i.tenant.status !== "archived" }, opts),
  },
  wordpress: {
    suffix: "wordpress",
    create: (name, i, opts) => new WordPressSite(name, {
      tenant: i.tenant.slug, multisite: i.fleet.wordpress, title: i.value.title, email: i.tenant.contact, hostname: i.value.hostname,
      editHostname: i.value.editHostname, garageAdmin: i.fleet.garageAdmin, garageS3: i.fleet.garageS3,
      active: i.tenant.status !== "archived", s3: i.fleet.s3,
    }, opts),
  },
  staticSite: {
    suffix: "static",
    create: (name, i, opts) => new StaticSite(name, { tenant: i.tenant.slug, hostname: i.value.hostname, garageAdmin: i.fleet.garageAdmin, garageS3: i.fleet.garageS3 }, opts),
  },
};

/** Builds the component of one subscribed service (the generic step the mapped type cannot express). */
export function createServiceComponent<K extends ServiceName>(
  service: K, tenantName: string, input: ServiceInput<K>, opts: pulumi.ComponentResourceOptions,
): ServiceComponents[K] {
  const entry = SERVICE_COMPONENTS[service] as ServiceComponent<K, ServiceComponents[K]>;
  return entry.create(`${tenantName}-${entry.suffix}`, input, opts);
}
