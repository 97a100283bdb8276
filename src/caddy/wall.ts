// The caddy-security OIDC wall: the names that tie a walled hostname, its caddy-security identity provider,
// its authentication portal, its authorization policy and its Keycloak client together. Pure, no Pulumi.
//
// One wall per tenant and walled service (Paheko; the WordPress editing hostname). Each wall has:
//  - a Keycloak client `wall-<service>-<slug>` whose only redirect URI is wallRedirectUri(hostname);
//  - a caddy-security identity provider and realm `kc-<hostname with dots as underscores>` (caddy-security
//    refuses two providers with the same realm, and the realm is part of the callback path);
//  - an authentication portal `wall-<slug>-<service>` mounted on WALL_AUTH_PATH of the walled hostname;
//  - an authorization policy `<slug>-<service>` that admits only the role `<service>:<slug>`.
// caddy-security from v1.1.61 on sends a PKCE S256 challenge (on by default): the wall clients then require
// PKCE like every client (stack setting wallPkce, default true). v1.1.31 sends none: with wallPkce false
// its clients are confidential clients that authenticate with their secret only, exempt from the realm's
// `pkce-enforcer` policy (docs/keycloak.md).
import { clientIdFor, WALLED_SERVICES } from "../keycloak/naming";
import { tenantRoutes, WalledService } from "../services/registry";
import { Tenant } from "../types";

export { WALLED_SERVICES };

/** Prefix of every wall identity provider (and realm) name. */
export const WALL_IDP_PREFIX = "kc";
/** Path prefix under which the wall's authentication portal answers on each walled hostname. */
export const WALL_AUTH_PATH = "/_wall";
export type { WalledService };

/** caddy-security realm (and identity provider name) of a walled hostname; injective (hostnames have no `_`). */
export function wallRealm(hostname: string): string {
  return `${WALL_IDP_PREFIX}-${hostname.replace(/\./g, "_")}`;
}

/** Where the browser reaches a walled hostname; production is always https on the default port. */
export interface WallOrigin {
  /** Default https. The lab uses http. */
  scheme?: "https" | "http";
  /** Default: the scheme's default port (omitted from the URL). */
  port?: number;
}

function origin(hostname: string, o: WallOrigin = {}): string {
  const scheme = o.scheme ?? "https";
  return `${scheme}://${hostname}${o.port === undefined ? "" : `:${o.port}`}`;
}

/**
 * The exact callback URL caddy-security uses for a walled hostname:
 * `<origin><portal path>/oauth2/<realm>/authorization-code-callback` (go-authcrunch idp/oauth/authenticate.go).
 * This is the only redirect URI the hostname's Keycloak client may allow.
 */
export function wallRedirectUri(hostname: string, o: WallOrigin = {}): string {
  return `${origin(hostname, o)}${WALL_AUTH_PATH}/oauth2/${wallRealm(hostname)}/authorization-code-callback`;
}

/** Root URL of a walled hostname (the Keycloak client's rootUrl and web origin). */
export function wallRootUrl(hostname: string, o: WallOrigin = {}): string {
  return origin(hostname, o);
}

/** Keycloak client id of a tenant's wall for one service: `wall-paheko-<slug>` (src/keycloak/naming.ts). */
export function wallClientId(slug: string, service: WalledService): string {
  return clientIdFor(`wall-${service}`, slug);
}

/** caddy-security authorization policy name of a tenant's wall for one service. */
export function wallPolicyName(slug: string, service: WalledService): string {
  return `${slug}-${service}`;
}

/** caddy-security authentication portal name of a tenant's wall for one service. */
export function wallPortalName(slug: string, service: WalledService): string {
  return `wall-${slug}-${service}`;
}

/** The Keycloak role the wall admits (same naming as TenantIdentity.roleNames). */
export function wallRole(slug: string, service: WalledService): string {
  return `${service}:${slug}`;
}

/** File name (inside the edge's secrets directory) holding a wall client's secret. */
export function wallSecretFile(slug: string, service: WalledService): string {
  return `${wallClientId(slug, service)}.secret`;
}

/**
 * Keycloak client attribute marking a wall client exempt from PKCE, with `wallPkce: false` only
 * (caddy-security v1.1.31 sends no PKCE challenge): such clients carry no `pkce.code.challenge.method` and
 * the realm's pkce-enforcer policy excludes clients with this attribute set to "true" (client-attributes
 * condition with is-negative-logic). With the default wallPkce no client carries it and no policy reads it.
 */
export const WALL_CLIENT_ATTRIBUTE = "factory.wall";

/** File name of the key that signs and verifies the wall's session tokens (shared by all edge hosts). */
export const WALL_TOKEN_KEY_FILE = "wall-token-key";

export interface Wall {
  tenant: string;
  service: WalledService;
  hostname: string;
  clientId: string;
  policy: string;
  portal: string;
  realm: string;
  role: string;
  redirectUri: string;
  secretFile: string;
}

/** The walls of one tenant, in WALLED_SERVICES order. Archived tenants have none (no routes, no clients). */
export function tenantWalls(tenant: Tenant, o: WallOrigin = {}): Wall[] {
  if (tenant.status === "archived") return [];
  const out: Wall[] = [];
  for (const route of tenantRoutes(tenant)) {
    if (!route.walled) continue;
    const service = route.service as WalledService;
    const hostname = route.hostname;
    out.push({
      tenant: tenant.slug,
      service,
      hostname,
      clientId: wallClientId(tenant.slug, service),
      policy: wallPolicyName(tenant.slug, service),
      portal: wallPortalName(tenant.slug, service),
      realm: wallRealm(hostname),
      role: wallRole(tenant.slug, service),
      redirectUri: wallRedirectUri(hostname, o),
      secretFile: wallSecretFile(tenant.slug, service),
    });
  }
  return out;
}

// ---- caddy-security releases: what the walls' config and Keycloak clients depend on ----

export type Release = readonly [number, number, number];

/** First caddy-security release that sends PKCE S256 (go-authcrunch v1.1.38, on by default): v1.1.61. */
export const PKCE_SINCE: Release = [1, 1, 61];

/**
 * First caddy-security release that sends a visitor back to the `redirect_url` it came with only when the
 * portal trusts that URI (`trust login redirect uri …`, the fix of an open redirect): v1.1.56. Without the
 * directive a login ends on the portal's own page; v1.1.31 refuses the directive ("unsupported").
 */
export const TRUSTED_LOGIN_REDIRECT_SINCE: Release = [1, 1, 56];

/** a >= b, release by release. */
export function atLeast(a: Release, b: Release): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

/**
 * The caddy-security release an image reference names by the factory's tag convention
 * `…/caddy-security:<caddy>-<caddySecurity>` (images/caddy-security/Dockerfile), or undefined when it does
 * not say (a digest, another tag): then nothing can be checked against it.
 */
export function caddySecurityOfImage(ref: string): Release | undefined {
  const m = /(?:^|\/)caddy-security:\d+\.\d+\.\d+-(\d+)\.(\d+)\.(\d+)$/.exec(ref);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/**
 * The authentication-portal directive that lets a wall send a visitor back to its own hostname (and only
 * there) after the login: `trust login redirect uri domain exact <host[:port]> path prefix /`. caddy-security
 * compares the redirect URL's host with its port, so the lab's port is part of it.
 */
export function wallTrustedRedirectDirective(w: Pick<Wall, "redirectUri">): string {
  return `trust login redirect uri domain exact ${new URL(w.redirectUri).host} path prefix /`;
}

/**
 * Whether the edge must render wallTrustedRedirectDirective for the image pinned as images.caddy: yes from
 * TRUSTED_LOGIN_REDIRECT_SINCE on, and when the reference names no release (a digest: assumed current);
 * no for an older release, which refuses the directive.
 */
export function wallTrustsLoginRedirect(imageRef: string): boolean {
  const release = caddySecurityOfImage(imageRef);
  return release === undefined || atLeast(release, TRUSTED_LOGIN_REDIRECT_SINCE);
}
