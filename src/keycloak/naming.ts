// Names the factory gives to Keycloak objects. Pure: the components (components/identity.ts), the Caddy
// walls (edge), Nextcloud's group mapping and the Keycloak lab fixture all derive names from here.
import { ROLE_SERVICES, RoleService, ServiceName, WALLED_SERVICES } from "../services/registry";
import { Tenant } from "../types";

// Which services a tenant role guards (role `group` or `walled` in the registry: Nextcloud by group
// mapping, Paheko and WordPress at the Caddy wall, which checks `roles` for `<service>:<slug>`).
export { ROLE_SERVICES, WALLED_SERVICES };
export type { RoleService };

/** The shared client scope carrying the flat `roles` and `groups` claims; a realm default scope, so every client has it. */
export const CLAIMS_SCOPE = "factory-claims";

/**
 * The realm's default default-scopes (FactoryRealm's RealmDefaultClientScopes, authoritative): Keycloak gives
 * them to every client created afterwards, so each factory client gets exactly these without a resource of
 * its own (FactoryRealm.realmId resolves only once they are set, and every client takes realmId). `basic` (Keycloak >= 25) carries `sub` and `auth_time`;
 * the built-in `roles` scope is left out on purpose: its `realm_access`/`resource_access` claims are not
 * what the walls read, and the flat `roles` claim comes from CLAIMS_SCOPE.
 */
export const CLIENT_DEFAULT_SCOPES = ["basic", "profile", "email", "acr", "web-origins", CLAIMS_SCOPE] as const;

/** Realm role a tenant's members hold for one service: `paheko:asso-exemple`. */
export function roleName(service: RoleService, slug: string): string {
  return `${service}:${slug}`;
}

/** The tenant's group: named after the slug (the slug is immutable, so is the group). */
export function groupName(slug: string): string {
  return slug;
}

/** Role services in canonical order, keeping only those that get a role. */
export function roleServices(services: readonly ServiceName[]): RoleService[] {
  return ROLE_SERVICES.filter((s) => services.includes(s));
}

/** The role services a tenant subscribes to (archived tenants keep theirs: roles and group are kept). */
export function tenantRoleServices(t: Pick<Tenant, "services">): RoleService[] {
  return roleServices(Object.keys(t.services) as ServiceName[]);
}

/** OIDC client id for one purpose of one tenant: `nextcloud-asso-exemple`, `wall-paheko-asso-exemple`. */
export function clientIdFor(purpose: string, slug: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(purpose)) throw new Error(`client purpose "${purpose}" must match [a-z][a-z0-9-]*`);
  return `${purpose}-${slug}`;
}
