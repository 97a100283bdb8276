// The confidential OIDC client every service registers with the factory realm: the URI checks that throw
// before anything is registered, its generated secret and its role scope mappings. Its own module,
// apart from the realm and the tenant's group and roles (./identity, which re-exports it): the services
// use it, the realm does not.
import * as keycloak from "@pulumi/keycloak";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CLIENT_HARDENING, CLIENT_SECRET_LENGTH, clientKindSettings } from "../src/keycloak/definitions";
import { rootUrlProblems, validateClientUris, validateWallRedirectUris } from "../src/keycloak/redirects";

export interface KeycloakClientArgs {
  /** Tenant slug (component props; the client's resources are attributed to it). */
  tenant: string;
  /** Realm name (FactoryRealm.realmId). */
  realmId: pulumi.Input<string>;
  /** OIDC client id, e.g. from clientIdFor("nextcloud", slug). */
  clientId: string;
  /** The application's base URL (https). */
  rootUrl: string;
  /** Exact redirect URIs (https, no wildcard, canonical form); at least one. */
  redirectUris: string[];
  /** Exact web origins (`https://host[:port]`, no `*` or `+`); at least one. */
  webOrigins: string[];
  /** Exact post-logout redirect URIs (same rules as redirectUris); default none. */
  postLogoutRedirectUris?: string[];
  /**
   * Realm roles the client's tokens may carry, as `{ roleName: roleId }` (TenantIdentity.scopeRoles()).
   * Full scope is off: a role missing here never reaches the `roles` claim. Default none.
   */
  scopeRoles?: Record<string, pulumi.Input<string>>;
  /**
   * A caddy-security wall client (src/caddy/wall.ts): its client id must start with `wall-` and its redirect
   * URIs must be wall callbacks (`https://host/_wall/…`). Default false: an application client (a client id
   * not starting with `wall-`).
   */
  wall?: boolean;
  /**
   * Stack setting `wallPkce`, for wall clients only (application clients always require PKCE S256).
   * Default true: PKCE S256 like every client. false: no PKCE and the client attribute factory.wall=true,
   * which takes it out of the realm's PKCE policy (redirect-URI rules still apply); the realm must have
   * been made with the same setting (FactoryRealm). Refused on an application client.
   */
  wallPkce?: boolean;
  /** Keycloak provider (Platform.keycloak). */
  provider: keycloak.Provider;
}

/**
 * A confidential OIDC client: standard flow only, PKCE S256 (wall clients with `wallPkce: false`: none), exact redirect URIs and web origins, no direct
 * access grants, no implicit flow, no service account, full scope off with scope mappings for exactly the
 * roles given, default scopes CLIENT_DEFAULT_SCOPES (with `factory-claims`: the realm's default
 * default-scopes, which Keycloak gives the client at creation; no resource of its own), and a generated secret that
 * only ever travels as a Pulumi secret. Invalid URIs throw before anything is registered.
 */
export class KeycloakClient extends pulumi.ComponentResource {
  readonly clientId: pulumi.Output<string>;
  /** Client secret (Pulumi secret). */
  readonly clientSecret: pulumi.Output<string>;
  /** Keycloak's internal id of the client. */
  readonly internalId: pulumi.Output<string>;

  constructor(name: string, args: KeycloakClientArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before super(): a bad URI registers nothing.
    const uris = validateClientUris(args.clientId, args.redirectUris, args.webOrigins);
    const wall = args.wall === true;
    if (wall !== args.clientId.startsWith("wall-")) {
      throw new Error(`OIDC client "${args.clientId}": ${wall ? "a wall client's id must start with wall-" : "client ids starting with wall- are reserved for wall clients (wall: true)"}`);
    }
    if (wall) validateWallRedirectUris(args.clientId, args.redirectUris);
    // An application client never goes without PKCE: saying otherwise is a mistake, not a no-op.
    if (!wall && args.wallPkce !== undefined) throw new Error(`OIDC client "${args.clientId}": wallPkce is for wall clients only (application clients always require PKCE S256)`);
    const rootProblems = rootUrlProblems(args.rootUrl);
    if (rootProblems.length > 0) throw new Error(`invalid OIDC client URIs:\n  root URL of client "${args.clientId}": ${JSON.stringify(args.rootUrl)} ${rootProblems.join(", ")}`);
    const postLogout = args.postLogoutRedirectUris?.length
      ? validateClientUris(args.clientId, args.postLogoutRedirectUris, args.webOrigins).redirectUris
      : undefined;
    super("factory:identity:KeycloakClient", name, { tenant: args.tenant }, opts);
    const child = { parent: this, provider: args.provider };

    // Not protected: archiving a tenant unregisters its clients (a protected child would block that), and
    // a client secret is no data (a new one reaches its consumers in the same update). retainOnDelete: a
    // RandomPassword exists only in the Pulumi state, so removing it just forgets the value (Keycloak's
    // client goes with its own resource either way). Alphanumeric: it lands in config files.
    const secret = new random.RandomPassword(`${name}-secret`, { length: CLIENT_SECRET_LENGTH, special: false }, { parent: this, retainOnDelete: true });
    const client = new keycloak.openid.Client(`${name}-client`, {
      realmId: args.realmId,
      clientId: args.clientId,
      name: args.clientId,
      description: `OIDC client of tenant ${args.tenant}`,
      ...CLIENT_HARDENING,
      ...clientKindSettings(wall, args.wallPkce ?? true),
      clientSecret: secret.result,
      rootUrl: args.rootUrl,
      baseUrl: args.rootUrl,
      validRedirectUris: uris.redirectUris,
      webOrigins: uris.webOrigins,
      validPostLogoutRedirectUris: postLogout,
    }, { ...child, additionalSecretOutputs: ["clientSecret"] });
    for (const [role, roleId] of Object.entries(args.scopeRoles ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      new keycloak.GenericRoleMapper(`${name}-scope-${role.replace(/[^a-z0-9-]/g, "-")}`, {
        realmId: args.realmId,
        clientId: client.id,
        roleId,
      }, child);
    }

    this.clientId = client.clientId;
    this.clientSecret = pulumi.secret(secret.result);
    this.internalId = client.id;
    this.registerOutputs({ clientId: this.clientId, clientSecret: this.clientSecret });
  }
}
