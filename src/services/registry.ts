// The registry of tenant-facing services: one line per service, in the order they appear in tenant files.
// Adding a service is one pure module (./<name>.ts implementing ./contract.ts), one line here, and one
// line in components/services.ts for its per-tenant component. Everything that used to name services
// (the loader, the schema, the edge, DNS, walls, roles, website owners) loops over SERVICES.
import type { RoleKind, ServiceModule, ServiceRoute } from "./contract";
import { nextcloud } from "./nextcloud";
import { paheko } from "./paheko";
import { staticSite } from "./staticSite";
import { wordpress } from "./wordpress";

export const SERVICES = { nextcloud, paheko, wordpress, staticSite } as const;

type Registry = typeof SERVICES;
export type ServiceName = keyof Registry;
/** What a service's block parses to. */
export type ServiceValue<K extends ServiceName> = Registry[K] extends ServiceModule<K, infer V, RoleKind> ? V : never;
/** A tenant's subscribed services, each with its parsed block. */
export type TenantServices = { [K in ServiceName]?: ServiceValue<K> };

type WithRole<R extends RoleKind> = { [K in ServiceName]: Registry[K]["role"] extends R ? K : never }[ServiceName];
/** Services a tenant role guards (a Keycloak realm role `<service>:<slug>` each). */
export type RoleService = WithRole<"group" | "walled">;
/** Services behind the edge's caddy-security wall. */
export type WalledService = WithRole<"walled">;

/** Service names in tenant-file order. */
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

export function serviceModule<K extends ServiceName>(name: K): ServiceModule<K, ServiceValue<K>> {
  return SERVICES[name] as unknown as ServiceModule<K, ServiceValue<K>>;
}

/** Role services in registry order. */
export const ROLE_SERVICES = SERVICE_NAMES.filter((n) => SERVICES[n].role !== "none") as RoleService[];
/** Walled services in registry order. */
export const WALLED_SERVICES = SERVICE_NAMES.filter((n) => SERVICES[n].role === "walled") as WalledService[];

/** The label each service contributes to a default hostname. */
export const SERVICE_HOST_LABEL = Object.fromEntries(SERVICE_NAMES.map((n) => [n, SERVICES[n].hostLabel])) as Record<ServiceName, string>;

/** One route of a tenant, with the service it belongs to. */
export interface TenantRoute extends ServiceRoute {
  service: ServiceName;
}

/** Every hostname a tenant's services answer on, in tenant-file order (registry order, then each service's). */
export function tenantRoutes(t: { services: TenantServices }): TenantRoute[] {
  const out: TenantRoute[] = [];
  for (const name of SERVICE_NAMES) {
    const value = t.services[name];
    if (value === undefined) continue;
    for (const r of serviceModule(name).routes(value)) out.push({ ...r, service: name });
  }
  return out;
}
