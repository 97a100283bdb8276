// What the factory configures in Keycloak, as plain data. Pure: components/identity.ts turns these into
// @pulumi/keycloak resources; the lab fixture (test/lab/support/keycloak.ts) sends the same values through
// Keycloak's admin REST API (the *Representation functions), so the lab realm is the program's realm.
import { WALL_CLIENT_ATTRIBUTE } from "../caddy/wall";
import { CLAIMS_SCOPE } from "./naming";
import { UriRules } from "./redirects";
import { ClientPolicySpec, clientPolicySet, ClientProfileSpec } from "./clientPolicies";

export { WALL_CLIENT_ATTRIBUTE };
export {
  CLIENT_POLICY_NAME, CLIENT_PROFILE_NAME, clientPolicy, clientPolicyProfile, clientPolicySet, WALL_POLICY_NAME, WALL_PROFILE_NAME,
  wallClientPolicy, wallClientPolicyProfile, wallCondition,
} from "./clientPolicies";
export type { ClientPolicySpec, ClientProfileSpec, ExecutorSpec } from "./clientPolicies";

/** Realm settings the program owns (names as in keycloak.RealmArgs and in Keycloak's RealmRepresentation). */
export const REALM_SETTINGS = {
  enabled: true,
  /** `external`: TLS required except from private addresses (Keycloak sits behind the edge Caddy). */
  sslRequired: "external",
  registrationAllowed: false,
  resetPasswordAllowed: true,
  rememberMe: false,
  loginWithEmailAllowed: true,
  duplicateEmailsAllowed: false,
  editUsernameAllowed: false,
  passwordPolicy: "length(12) and notUsername and notEmail",
} as const;

/** Brute-force protection (keycloak.RealmArgs.securityDefenses.bruteForceDetection). */
export const BRUTE_FORCE = {
  permanentLockout: false,
  maxLoginFailures: 10,
  waitIncrementSeconds: 60,
  maxFailureWaitSeconds: 900,
  failureResetTimeSeconds: 43200,
} as const;

/** A protocol mapper, in the terms of the @pulumi/keycloak openid mapper resources. */
export interface RolesMapperSpec {
  name: string;
  claimName: string;
  multivalued: boolean;
  claimValueType: "String";
  addToIdToken: boolean;
  addToAccessToken: boolean;
  addToUserinfo: boolean;
  addToTokenIntrospection: boolean;
}
export interface GroupsMapperSpec {
  name: string;
  claimName: string;
  fullPath: boolean;
  addToIdToken: boolean;
  addToAccessToken: boolean;
  addToUserinfo: boolean;
  addToTokenIntrospection: boolean;
}

/**
 * Flat `roles` claim with the user's realm roles that are in the client's scope (full scope is off, so a
 * client only ever sees the roles scoped to it): caddy-security reads `roles`, not `resource_access`.
 */
export const ROLES_MAPPER: RolesMapperSpec = {
  name: "realm-roles-flat",
  claimName: "roles",
  multivalued: true,
  claimValueType: "String",
  addToIdToken: true,
  addToAccessToken: true,
  addToUserinfo: true,
  addToTokenIntrospection: true,
};

/** `groups` claim with the user's group names (`asso-exemple`, not `/asso-exemple`): Nextcloud group mapping. */
export const GROUPS_MAPPER: GroupsMapperSpec = {
  name: "groups",
  claimName: "groups",
  fullPath: false,
  addToIdToken: true,
  addToAccessToken: true,
  addToUserinfo: true,
  addToTokenIntrospection: true,
};

/** The shared client scope that carries both mappers (keycloak.openid.ClientScopeArgs). */
export const CLAIMS_SCOPE_SPEC = {
  name: CLAIMS_SCOPE,
  description: "Flat roles and groups claims read by the Caddy walls (caddy-security) and Nextcloud user_oidc",
  includeInTokenScope: true,
  consentScreenText: "",
} as const;

/** Settings every factory client has (names as in keycloak.openid.ClientArgs). */
export const CLIENT_HARDENING = {
  enabled: true,
  accessType: "CONFIDENTIAL",
  clientAuthenticatorType: "client-secret",
  standardFlowEnabled: true,
  implicitFlowEnabled: false,
  directAccessGrantsEnabled: false,
  serviceAccountsEnabled: false,
  oauth2DeviceAuthorizationGrantEnabled: false,
  standardTokenExchangeEnabled: false,
  fullScopeAllowed: false,
  consentRequired: false,
  frontchannelLogoutEnabled: false,
} as const;

/** PKCE method of every application client (Nextcloud…): S256, required by the main client policy. */
export const PKCE_METHOD = "S256";

/**
 * What differs between an application client and a caddy-security wall client (names as in
 * keycloak.openid.ClientArgs), by the stack setting `wallPkce` (default true).
 *  - wallPkce true: no difference. caddy-security from v1.1.61 on sends a PKCE S256 challenge, so a wall
 *    client requires S256 like every other client, under the realm's pkce-enforcer (clientPolicy).
 *  - wallPkce false (older caddy-security builds, v1.1.31 sends no code_challenge): no PKCE setting and the
 *    attribute `factory.wall=true` (extraConfig), which takes the client out of the main client policy and
 *    puts it under the redirect-URI policy only (wallClientPolicy, which applies to every client).
 */
export function clientKindSettings(wall: boolean, wallPkce = true): { pkceCodeChallengeMethod?: string; extraConfig?: Record<string, string> } {
  return wall && !wallPkce ? { extraConfig: { [WALL_CLIENT_ATTRIBUTE]: "true" } } : { pkceCodeChallengeMethod: PKCE_METHOD };
}

/** Length of generated client secrets (alphanumeric: they go into config files and env-free secret files). */
export const CLIENT_SECRET_LENGTH = 48;

// ---- Keycloak admin REST representations of the same definitions (used by the lab fixture) ----

function flag(b: boolean): string {
  return b ? "true" : "false";
}

export function realmRepresentation(realm: string): Record<string, unknown> {
  return {
    realm,
    ...REALM_SETTINGS,
    bruteForceProtected: true,
    permanentLockout: BRUTE_FORCE.permanentLockout,
    failureFactor: BRUTE_FORCE.maxLoginFailures,
    waitIncrementSeconds: BRUTE_FORCE.waitIncrementSeconds,
    maxFailureWaitSeconds: BRUTE_FORCE.maxFailureWaitSeconds,
    maxDeltaTimeSeconds: BRUTE_FORCE.failureResetTimeSeconds,
  };
}

export function rolesMapperRepresentation(m: RolesMapperSpec = ROLES_MAPPER): Record<string, unknown> {
  return {
    name: m.name,
    protocol: "openid-connect",
    protocolMapper: "oidc-usermodel-realm-role-mapper",
    config: {
      "claim.name": m.claimName,
      "jsonType.label": m.claimValueType,
      multivalued: flag(m.multivalued),
      "id.token.claim": flag(m.addToIdToken),
      "access.token.claim": flag(m.addToAccessToken),
      "userinfo.token.claim": flag(m.addToUserinfo),
      "introspection.token.claim": flag(m.addToTokenIntrospection),
    },
  };
}

export function groupsMapperRepresentation(m: GroupsMapperSpec = GROUPS_MAPPER): Record<string, unknown> {
  return {
    name: m.name,
    protocol: "openid-connect",
    protocolMapper: "oidc-group-membership-mapper",
    config: {
      "claim.name": m.claimName,
      "full.path": flag(m.fullPath),
      "id.token.claim": flag(m.addToIdToken),
      "access.token.claim": flag(m.addToAccessToken),
      "userinfo.token.claim": flag(m.addToUserinfo),
      "introspection.token.claim": flag(m.addToTokenIntrospection),
    },
  };
}

export function claimsScopeRepresentation(): Record<string, unknown> {
  return {
    name: CLAIMS_SCOPE_SPEC.name,
    description: CLAIMS_SCOPE_SPEC.description,
    protocol: "openid-connect",
    attributes: { "include.in.token.scope": flag(CLAIMS_SCOPE_SPEC.includeInTokenScope), "display.on.consent.screen": "false" },
    protocolMappers: [rolesMapperRepresentation(), groupsMapperRepresentation()],
  };
}

/**
 * A factory client as the admin API takes it (what keycloak.openid.Client sends for CLIENT_HARDENING). Like
 * the provider, it lists no client scopes: Keycloak gives a new client the realm's default default-scopes,
 * which FactoryRealm sets to exactly CLIENT_DEFAULT_SCOPES (keycloak.RealmDefaultClientScopes).
 */
export function clientRepresentation(o: {
  clientId: string;
  secret: string;
  rootUrl: string;
  redirectUris: readonly string[];
  webOrigins: readonly string[];
  /** A caddy-security wall client (see clientKindSettings). Default false. */
  wall?: boolean;
  /** The stack setting wallPkce (default true): false registers a wall client without PKCE, marked factory.wall=true. */
  wallPkce?: boolean;
}): Record<string, unknown> {
  const h = CLIENT_HARDENING;
  const kind = clientKindSettings(o.wall === true, o.wallPkce ?? true);
  return {
    clientId: o.clientId,
    name: o.clientId,
    enabled: h.enabled,
    protocol: "openid-connect",
    publicClient: false,
    bearerOnly: false,
    clientAuthenticatorType: h.clientAuthenticatorType,
    secret: o.secret,
    standardFlowEnabled: h.standardFlowEnabled,
    implicitFlowEnabled: h.implicitFlowEnabled,
    directAccessGrantsEnabled: h.directAccessGrantsEnabled,
    serviceAccountsEnabled: h.serviceAccountsEnabled,
    fullScopeAllowed: h.fullScopeAllowed,
    consentRequired: h.consentRequired,
    frontchannelLogout: h.frontchannelLogoutEnabled,
    rootUrl: o.rootUrl,
    redirectUris: [...o.redirectUris],
    webOrigins: [...o.webOrigins],
    attributes: {
      ...(kind.pkceCodeChallengeMethod ? { "pkce.code.challenge.method": kind.pkceCodeChallengeMethod } : {}),
      ...kind.extraConfig,
      "oauth2.device.authorization.grant.enabled": flag(h.oauth2DeviceAuthorizationGrantEnabled),
      "standard.token.exchange.enabled": flag(h.standardTokenExchangeEnabled),
    },
  };
}

function profileRepresentation(p: ClientProfileSpec): Record<string, unknown> {
  return { name: p.name, description: p.description, executors: p.executors.map((e) => ({ executor: e.name, configuration: e.configuration })) };
}

function policyRepresentation(p: ClientPolicySpec): Record<string, unknown> {
  return {
    name: p.name, description: p.description, enabled: p.enabled, profiles: p.profiles,
    conditions: p.conditions.map((c) => ({ condition: c.name, configuration: c.configuration ?? {} })),
  };
}

/** Client profiles document as PUT to /admin/realms/<realm>/client-policies/profiles (clientPolicySet order). */
export function clientProfilesRepresentation(rules: UriRules = {}, wallPkce = true): Record<string, unknown> {
  return { profiles: clientPolicySet(wallPkce, rules).profiles.map(profileRepresentation) };
}

/** Client policies document as PUT to /admin/realms/<realm>/client-policies/policies (clientPolicySet order). */
export function clientPoliciesRepresentation(wallPkce = true): Record<string, unknown> {
  return { policies: clientPolicySet(wallPkce).policies.map(policyRepresentation) };
}
