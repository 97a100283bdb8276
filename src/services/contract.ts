// The contract every tenant-facing service implements, once, in a pure module of its own
// (src/services/<name>.ts): its block in a tenant file (keys, parser, JSON Schema fragment), the label of
// its default hostnames, whether a tenant role guards it, and the hostnames it answers on. The loader, the
// JSON Schema, the edge Caddyfile, the DNS records, the walls, the Keycloak roles and the website owners
// all loop over the registry (./registry.ts) instead of naming services. Its per-tenant resources are one
// component, listed next to it in components/services.ts. No Pulumi here.
import type { Node } from "yaml";
import type { YamlChecker } from "../yamlcheck";

/**
 * How a tenant's members reach a service. `group`: the service maps the tenant's Keycloak group and role
 * itself (Nextcloud's user_oidc); `walled`: the edge's caddy-security wall admits holders of the role;
 * `none`: public, no role.
 */
export type RoleKind = "group" | "walled" | "none";

/** One hostname a tenant's service answers on. */
export interface ServiceRoute {
  /** Tenant-file key the hostname comes from, for messages: `services.wordpress.editHostname`. */
  key: string;
  hostname: string;
  /**
   * `app`: proxied by the edge to the service's upstream (DNS points at the edge hosts);
   * `website`: a Garage website bucket named after the hostname (DNS points at the web endpoints, the edge
   * serves it with an on-demand certificate, and the bucket's owner is recorded: src/websites.ts).
   */
  kind: "app" | "website";
  /** App routes only: behind the tenant's wall for this service (the service's role is `walled`). */
  walled?: boolean;
}

/** What a service's parser reads its block with. */
export interface ServiceBlock {
  /** Checker of the tenant file: every problem goes through it as file:line:col. */
  checker: YamlChecker;
  /** Whether the block sets `key`. */
  has(key: string): boolean;
  /** The value node of `key` (null when absent or empty). */
  node(key: string): Node | null;
  /**
   * The checked hostname of `key`, or its default (`<slug>.<hostLabel>.<domain>` unless `fallback`);
   * undefined once a problem is reported. `website`: also a valid Garage bucket name (its bucket is named
   * after it).
   */
  hostname(key: string, o?: { fallback?: string; website?: boolean }): string | undefined;
  /** The tenant's slug (or the file name's, when the slug itself is wrong). */
  slug: string;
  /** The tenant's display name, when valid. */
  tenantName?: string;
  /** The factory domain. */
  domain: string;
}

export interface ServiceModule<N extends string = string, V = unknown, R extends RoleKind = RoleKind> {
  /** Key of the service's block under `services:` in tenant files, and its name everywhere else. */
  name: N;
  /** Label of its default hostname: `<slug>.<hostLabel>.<factory domain>`; reserved as a tenant slug. */
  hostLabel: string;
  /** One-line description, for the JSON Schema. */
  description: string;
  /** Who may reach it (see RoleKind). */
  role: R;
  /** Keys its block accepts, in documentation order. */
  keys: readonly string[];
  /** JSON Schema of each key (tenants/tenant.schema.json is generated from these). */
  schema: Record<string, object>;
  /** Parses the block; undefined when a problem was reported. */
  parse(block: ServiceBlock): V | undefined;
  /** Every hostname the service answers on for this block, in tenant-file order. */
  routes(value: V): ServiceRoute[];
}

/** Identity at runtime; keeps the literal name and role types for the registry's unions. */
export function defineService<const N extends string, V, const R extends RoleKind>(m: ServiceModule<N, V, R>): ServiceModule<N, V, R> {
  return m;
}
