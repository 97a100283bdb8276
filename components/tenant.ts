// One tenant file, one `factory:tenant:Tenant` component named by its slug: the parent of everything that
// is the tenant's own (its identity and wall clients, its Nextcloud instance, Paheko organisation,
// WordPress site, static site, its DNS records), so `pulumi stack --show-urns` and the console show the
// factory as operators think of it. Fleet parts (install volumes and the Nextcloud rollout, the pooled
// Paheko and WordPress, the edge) stay at the stack's top and receive plain data from the tenants.
// In a sharded set the platform stack holds each tenant's identity and walls, the tenant's shard its
// services and DNS: the same Tenant, one part in each stack. See docs/scale.md.
import * as keycloak from "@pulumi/keycloak";
import * as pulumi from "@pulumi/pulumi";
import { tenantWalls, wallRootUrl } from "../src/caddy/wall";
import { NsupdateTarget, TsigAlgorithm } from "../src/dns/nsupdate";
import { tenantDnsRecords } from "../src/dns/records";
import { SERVICE_NAMES, ServiceName } from "../src/services/registry";
import { StackSettings, Tenant as TenantFile } from "../src/types";
import { DnsRecords } from "./dnsRecords";
import { KeycloakClient, TenantIdentity } from "./identity";
import { TenantRoles } from "./nextcloudInstance";
import { createServiceComponent, ServiceComponents, ServiceFleet } from "./services";

/** The fleet's identity side: the realm every tenant's group, roles and clients live in. */
export interface TenantIdentityContext {
  /** Keycloak provider (Platform.keycloak). */
  provider: keycloak.Provider;
  /** The factory realm's id. */
  realmId: pulumi.Input<string>;
  /** Whether wall clients require PKCE S256 (settings wallPkce). */
  wallPkce: boolean;
}

/** The fleet's service side: what the tenant's service instances and DNS records are built on. */
export interface TenantServicesContext {
  /** What each service's component is built on (components/services.ts). */
  fleet: ServiceFleet;
  /** The stack (ownership records of DNS names), the inventory (edge addresses) and the DNS settings. */
  dnsSettings: Pick<StackSettings, "stack" | "hosts" | "dns">;
  /** The DNS server and the TSIG key's secret (operator secret dnsTsigSecret). */
  dns: { server: NsupdateTarget; tsig: { keyName: string; algorithm: TsigAlgorithm; secret: pulumi.Input<string> } };
}

export interface TenantArgs {
  /** The validated tenant file. */
  tenant: TenantFile;
  /**
   * Identity side (whole and platform stacks): the tenant's group and roles (kept, archived included)
   * and one wall client per walled service (not archived). Undefined: not this stack's part.
   */
  identity?: TenantIdentityContext;
  /** Service side (whole stacks and the tenant's shard): instances and DNS. Undefined: not this stack's part. */
  services?: TenantServicesContext;
  /** The tenant's roles when this stack has no identity side (a shard reads them from the platform stack); default none. */
  roles?: TenantRoles;
}

export class Tenant extends pulumi.ComponentResource {
  readonly slug: string;
  /** Group and roles (identity side). */
  readonly identity?: TenantIdentity;
  /** Wall client secrets by client id (identity side): the edge's caddy-security reads them. */
  readonly wallClientSecrets: Record<string, pulumi.Output<string>> = {};
  /** The component of each subscribed service (service side), by service name. */
  readonly services: Partial<ServiceComponents> = {};
  /** DNS records of a managed tenant; the program orders every release before any claim (DnsRecords.claim). */
  readonly dns?: DnsRecords;

  constructor(name: string, args: TenantArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:tenant:Tenant", name, { tenant: args.tenant.slug }, opts);
    const t = args.tenant;
    this.slug = t.slug;
    const child = { parent: this };

    if (args.identity) {
      const id = args.identity;
      this.identity = new TenantIdentity(`${name}-identity`, {
        tenant: t.slug, realmId: id.realmId, services: Object.keys(t.services) as ServiceName[], provider: id.provider,
      }, child);
      for (const w of tenantWalls(t)) {
        const client = new KeycloakClient(`${name}-wall-${w.service}`, {
          tenant: t.slug,
          realmId: id.realmId,
          clientId: w.clientId,
          rootUrl: wallRootUrl(w.hostname),
          redirectUris: [w.redirectUri],
          webOrigins: [wallRootUrl(w.hostname)],
          scopeRoles: this.identity.scopeRoles([w.service]),
          wall: true,
          wallPkce: id.wallPkce,
          provider: id.provider,
        }, child);
        this.wallClientSecrets[w.clientId] = client.clientSecret;
      }
    }

    if (args.services) {
      const svc = args.services;
      const roles = this.identity ?? args.roles;
      for (const service of SERVICE_NAMES) {
        const value = t.services[service];
        if (value === undefined) continue;
        (this.services as Record<ServiceName, pulumi.ComponentResource>)[service] =
          createServiceComponent(service, name, { tenant: t, value, fleet: svc.fleet, roles }, child);
      }
      const records = tenantDnsRecords(t, svc.dnsSettings);
      if (records.length > 0) {
        this.dns = new DnsRecords(`${name}-dns`, { tenant: t.slug, stack: svc.dnsSettings.stack, records, server: svc.dns.server, tsig: svc.dns.tsig }, child);
      }
    }
    this.registerOutputs({ slug: this.slug });
  }
}
