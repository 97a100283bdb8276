// What the factory configures in Keycloak, as plain data. Pure: components/identity.ts turns these into
// @pulumi/keycloak resources; the lab fixture (test/lab/support/keycloak.ts) sends the same values through
// Keycloak's admin REST API (the *Representation functions), so the lab realm is the program's realm.
import { CLAIMS_SCOPE, CLIENT_DEFAULT_SCOPES } from "./naming";
import { UriRules } from "./redirects";

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
  pkceCodeChallengeMethod: "S256",
  frontchannelLogoutEnabled: false,
} as const;

/** Length of generated client secrets (alphanumeric: they go into config files and env-free secret files). */
export const CLIENT_SECRET_LENGTH = 48;

export interface ExecutorSpec {
  name: string;
  configuration: Record<string, string>;
}
export interface ClientProfileSpec {
  name: string;
  description: string;
  executors: ExecutorSpec[];
}
export interface ClientPolicySpec {
  name: string;
  description: string;
  enabled: boolean;
  conditions: { name: string; configuration?: Record<string, string> }[];
  profiles: string[];
}

export const CLIENT_PROFILE_NAME = "factory-secure-clients";
export const CLIENT_POLICY_NAME = "factory-secure-clients";

/**
 * Realm client profile: exact https redirect URIs (no wildcard, no open redirect, OAuth 2.1 matching) and
 * PKCE S256, enforced when a client is created or updated (admin API included) and on every authorization
 * request. Configuration values are strings because that is what keycloak.RealmClientPolicyProfile takes;
 * Keycloak reads them as booleans. `rules.allowLoopbackHttp` is for the lab only.
 */
export function clientPolicyProfile(rules: UriRules = {}): ClientProfileSpec {
  const loop = rules.allowLoopbackHttp ? "true" : "false";
  return {
    name: CLIENT_PROFILE_NAME,
    description: "Factory clients: exact https redirect URIs and PKCE S256",
    executors: [
      {
        name: "secure-redirect-uris-enforcer",
        configuration: {
          "allow-private-use-uri-scheme": "false",
          "allow-ipv4-loopback-address": loop,
          "allow-ipv6-loopback-address": loop,
          "allow-http-scheme": loop,
          "allow-wildcard-context-path": "false",
          "allow-open-redirect": "false",
          "oauth-2-1-compliant": "true",
        },
      },
      // auto-configure off: a client without PKCE S256 is refused rather than silently changed.
      { name: "pkce-enforcer", configuration: { "auto-configure": "false" } },
    ],
  };
}

/** The realm client policy applying the profile to every client of the realm. */
export function clientPolicy(): ClientPolicySpec {
  return {
    name: CLIENT_POLICY_NAME,
    description: "Every client of the factory realm follows the factory-secure-clients profile",
    enabled: true,
    conditions: [{ name: "any-client" }],
    profiles: [CLIENT_PROFILE_NAME],
  };
}

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

/** A factory client as the admin API takes it (what keycloak.openid.Client sends for CLIENT_HARDENING). */
export function clientRepresentation(o: {
  clientId: string;
  secret: string;
  rootUrl: string;
  redirectUris: readonly string[];
  webOrigins: readonly string[];
}): Record<string, unknown> {
  const h = CLIENT_HARDENING;
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
    defaultClientScopes: [...CLIENT_DEFAULT_SCOPES],
    optionalClientScopes: [],
    attributes: {
      "pkce.code.challenge.method": h.pkceCodeChallengeMethod,
      "oauth2.device.authorization.grant.enabled": flag(h.oauth2DeviceAuthorizationGrantEnabled),
      "standard.token.exchange.enabled": flag(h.standardTokenExchangeEnabled),
    },
  };
}

/** Client profiles document as PUT to /admin/realms/<realm>/client-policies/profiles. */
export function clientProfilesRepresentation(rules: UriRules = {}): Record<string, unknown> {
  const p = clientPolicyProfile(rules);
  return { profiles: [{ name: p.name, description: p.description, executors: p.executors.map((e) => ({ executor: e.name, configuration: e.configuration })) }] };
}

/** Client policies document as PUT to /admin/realms/<realm>/client-policies/policies. */
export function clientPoliciesRepresentation(): Record<string, unknown> {
  const p = clientPolicy();
  return {
    policies: [{
      name: p.name, description: p.description, enabled: p.enabled, profiles: p.profiles,
      conditions: p.conditions.map((c) => ({ condition: c.name, configuration: c.configuration ?? {} })),
    }],
  };
}
