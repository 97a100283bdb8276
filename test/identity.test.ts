import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as keycloak from "@pulumi/keycloak";
import * as pulumi from "@pulumi/pulumi";
import { FactoryRealm, KeycloakClient, TenantIdentity } from "../components/identity";
import { RecordedResource, runUnderMocks, SECRET_MARK } from "../program/harness";
import { WALL_AUTH_PATH, WALL_CLIENT_ATTRIBUTE } from "../src/caddy/wall";
import {
  CLIENT_HARDENING, clientKindSettings, clientPoliciesRepresentation, clientPolicy, clientPolicyProfile, clientPolicySet, clientProfilesRepresentation,
  clientRepresentation, GROUPS_MAPPER, groupsMapperRepresentation, REALM_SETTINGS, ROLES_MAPPER, rolesMapperRepresentation,
  wallClientPolicy, wallClientPolicyProfile,
} from "../src/keycloak/definitions";
import { KEYS_SCRIPT_ENV, KEYS_SCRIPT_INTERPRETER, renderDropEncryptionKeysScript } from "../src/keycloak/keys";
import { CLIENT_DEFAULT_SCOPES, clientIdFor, groupName, roleName, roleServices, tenantRoleServices } from "../src/keycloak/naming";
import {
  redirectUriProblems, rootUrlProblems, validateClientUris, validateWallRedirectUris, wallRedirectUriProblems, webOriginProblems,
} from "../src/keycloak/redirects";

describe("keycloak naming", () => {
  it("names roles, groups and clients from the slug", () => {
    assert.equal(roleName("paheko", "asso-exemple"), "paheko:asso-exemple");
    assert.equal(roleName("wordpress", "a"), "wordpress:a");
    assert.equal(groupName("asso-exemple"), "asso-exemple");
    assert.equal(clientIdFor("nextcloud", "asso-exemple"), "nextcloud-asso-exemple");
    assert.equal(clientIdFor("wall-paheko", "a"), "wall-paheko-a");
    assert.throws(() => clientIdFor("Wall", "a"), /client purpose "Wall"/);
    assert.throws(() => clientIdFor("wall:paheko", "a"), /must match/);
  });
  it("gives roles to nextcloud, paheko and wordpress only, in canonical order", () => {
    assert.deepEqual(roleServices(["staticSite", "wordpress", "nextcloud", "paheko"]), ["nextcloud", "paheko", "wordpress"]);
    assert.deepEqual(roleServices(["staticSite"]), []);
    assert.deepEqual(tenantRoleServices({ services: { paheko: { hostname: "x.org" }, staticSite: { hostname: "y.org" } } }), ["paheko"]);
  });
  it("lists the default client scopes with the claims scope and without the built-in roles scope", () => {
    assert.deepEqual([...CLIENT_DEFAULT_SCOPES], ["basic", "profile", "email", "acr", "web-origins", "factory-claims"]);
  });
});

describe("redirect URI and web origin validation", () => {
  const ok = "https://cloud.exemple.org/apps/user_oidc/code";
  it("accepts exact https URIs and origins and returns them sorted", () => {
    assert.deepEqual(
      validateClientUris("c", ["https://b.example.org/cb", ok], ["https://cloud.exemple.org", "https://b.example.org:8443"]),
      { redirectUris: ["https://b.example.org/cb", ok], webOrigins: ["https://b.example.org:8443", "https://cloud.exemple.org"] },
    );
  });
  it("refuses wildcards anywhere", () => {
    for (const bad of ["*", "https://cloud.exemple.org/*", "https://*.exemple.org/cb", "https://cloud.exemple.org/a*b"]) {
      assert.deepEqual(redirectUriProblems(bad), ["must not contain a wildcard (*): register the exact URI"], bad);
    }
    assert.deepEqual(webOriginProblems("*"), ["must not contain a wildcard (*): register the exact URI"]);
    assert.deepEqual(webOriginProblems("+"), ['must be an explicit origin, not "+"']);
    assert.throws(
      () => validateClientUris("nextcloud-a", ["https://cloud.exemple.org/*"], ["https://cloud.exemple.org"]),
      (e: Error) => e.message === 'invalid OIDC client URIs:\n  redirect URI of client "nextcloud-a": "https://cloud.exemple.org/*" must not contain a wildcard (*): register the exact URI',
    );
  });
  it("refuses http, localhost, fragments, user info, relative and non-canonical URIs", () => {
    assert.deepEqual(redirectUriProblems("http://cloud.exemple.org/cb"), ["must use https"]);
    assert.deepEqual(redirectUriProblems("http://127.0.0.1:8080/cb"), ["must use https"]);
    assert.deepEqual(redirectUriProblems("https://localhost/cb"), ["must not use localhost (use 127.0.0.1 in tests)"]);
    assert.deepEqual(redirectUriProblems("https://a.org/cb#x"), ["must not contain a fragment"]);
    assert.deepEqual(redirectUriProblems("https://u:p@a.org/cb"), ["must not contain user info"]);
    assert.deepEqual(redirectUriProblems("/cb"), ["is not an absolute URL"]);
    assert.deepEqual(redirectUriProblems("https://A.org/cb"), ['must be written in canonical form ("https://a.org/cb")']);
    assert.deepEqual(redirectUriProblems("https://a.org"), ['must be written in canonical form ("https://a.org/")']);
    assert.deepEqual(redirectUriProblems("https://a.org/c b"), ["must not contain white space"]);
    assert.deepEqual(redirectUriProblems(""), ["must be a non-empty string"]);
    assert.deepEqual(webOriginProblems("https://a.org/"), ['must be an origin only, scheme://host[:port] without path or trailing slash ("https://a.org")']);
    assert.deepEqual(webOriginProblems("https://a.org/app"), ['must be an origin only, scheme://host[:port] without path or trailing slash ("https://a.org")']);
    assert.deepEqual(webOriginProblems("http://a.org"), ["must use https"]);
  });
  it("accepts a root URL with or without its trailing slash, nothing looser", () => {
    assert.deepEqual(rootUrlProblems("https://cloud.exemple.org"), []);
    assert.deepEqual(rootUrlProblems("https://cloud.exemple.org/"), []);
    assert.deepEqual(rootUrlProblems("https://cloud.exemple.org/app"), []);
    assert.deepEqual(rootUrlProblems("http://cloud.exemple.org"), ["must use https"]);
    assert.deepEqual(rootUrlProblems("https://*.exemple.org"), ["must not contain a wildcard (*): register the exact URI"]);
  });
  it("allows loopback http only when asked (lab)", () => {
    const rules = { allowLoopbackHttp: true };
    assert.deepEqual(redirectUriProblems("http://127.0.0.1:8080/cb", rules), []);
    assert.deepEqual(redirectUriProblems("http://[::1]:8080/cb", rules), []);
    assert.deepEqual(redirectUriProblems("http://10.0.0.1:8080/cb", rules), ["must use https (or http on 127.0.0.1/[::1])"]);
    assert.deepEqual(webOriginProblems("http://127.0.0.1:8080", rules), []);
  });
  it("refuses empty lists and duplicates, reporting every problem at once", () => {
    assert.throws(() => validateClientUris("c", [], ["https://a.org"]), /redirect URI of client "c": at least one is required/);
    assert.throws(
      () => validateClientUris("c", ["https://a.org/cb", "https://a.org/cb"], ["https://a.org/", "*"]),
      (e: Error) => e.message.split("\n").length === 4
        && /"https:\/\/a.org\/cb" is listed twice/.test(e.message)
        && /web origin of client "c": "https:\/\/a.org\/" must be an origin only/.test(e.message)
        && /web origin of client "c": "\*" must not contain a wildcard/.test(e.message),
    );
  });
});

describe("keycloak definitions", () => {
  it("enforces exact https redirect URIs and PKCE S256 on every client; with wallPkce false, PKCE on every client but the walls", () => {
    assert.deepEqual(clientPolicyProfile(), {
      name: "factory-secure-clients",
      description: "Factory clients: exact https redirect URIs and PKCE S256",
      executors: [
        {
          name: "secure-redirect-uris-enforcer",
          configuration: {
            "allow-private-use-uri-scheme": "false", "allow-ipv4-loopback-address": "false", "allow-ipv6-loopback-address": "false",
            "allow-http-scheme": "false", "allow-wildcard-context-path": "false", "allow-open-redirect": "false", "oauth-2-1-compliant": "true",
          },
        },
        { name: "pkce-enforcer", configuration: { "auto-configure": "false" } },
      ],
    });
    const lab = clientPolicyProfile({ allowLoopbackHttp: true }).executors[0].configuration;
    assert.equal(lab["allow-http-scheme"], "true");
    assert.equal(lab["allow-ipv4-loopback-address"], "true");
    assert.equal(lab["allow-wildcard-context-path"], "false");
    // The walls' profile: the same redirect-URI rules, no pkce-enforcer.
    assert.deepEqual(wallClientPolicyProfile(), {
      name: "factory-wall-clients",
      description: "caddy-security wall clients: exact https redirect URIs (no PKCE: caddy-security sends none)",
      executors: [clientPolicyProfile().executors[0]],
    });
    assert.deepEqual(wallClientPolicyProfile({ allowLoopbackHttp: true }).executors, [clientPolicyProfile({ allowLoopbackHttp: true }).executors[0]]);
    const isWall = (negative: string) => ({
      name: "client-attributes",
      configuration: { "is-negative-logic": negative, attributes: '[{"key":"factory.wall","value":"true"}]' },
    });
    // wallPkce true (the default): one policy for every client, judged at registration too (any-client).
    const strict = {
      name: "factory-secure-clients", description: "Every client of the factory realm, the caddy-security walls included, follows the factory-secure-clients profile",
      enabled: true, conditions: [{ name: "any-client" }], profiles: ["factory-secure-clients"],
    };
    assert.deepEqual(clientPolicy(), strict);
    assert.deepEqual(clientPolicy(true), strict);
    assert.deepEqual(clientPolicySet(), { profiles: [clientPolicyProfile()], policies: [strict] });
    assert.deepEqual(clientPolicySet(true, { allowLoopbackHttp: true }).profiles, [clientPolicyProfile({ allowLoopbackHttp: true })]);
    // wallPkce false: the exemption, main policy on unmarked clients, second policy for everyone.
    const exempting = {
      name: "factory-secure-clients", description: "Every client of the factory realm but the walls (factory.wall=true) follows the factory-secure-clients profile",
      enabled: true, conditions: [isWall("true")], profiles: ["factory-secure-clients"],
    };
    assert.deepEqual(clientPolicy(false), exempting);
    // Every client, the walls included: client-attributes abstains at registration (see wallClientPolicy).
    assert.deepEqual(wallClientPolicy(), {
      name: "factory-wall-clients", description: "Every client of the factory realm, the caddy-security walls (factory.wall=true) included, follows the factory-wall-clients profile",
      enabled: true, conditions: [{ name: "any-client" }], profiles: ["factory-wall-clients"],
    });
    assert.deepEqual(clientPolicySet(false), { profiles: [clientPolicyProfile(), wallClientPolicyProfile()], policies: [exempting, wallClientPolicy()] });
    assert.equal(WALL_CLIENT_ATTRIBUTE, "factory.wall");
    // Application clients carry PKCE S256 in both modes; wall clients too by default, and only with
    // wallPkce false the marker attribute and no PKCE setting at all.
    assert.deepEqual(clientKindSettings(false), { pkceCodeChallengeMethod: "S256" });
    assert.deepEqual(clientKindSettings(false, false), { pkceCodeChallengeMethod: "S256" });
    assert.deepEqual(clientKindSettings(true), { pkceCodeChallengeMethod: "S256" });
    assert.deepEqual(clientKindSettings(true, true), { pkceCodeChallengeMethod: "S256" });
    assert.deepEqual(clientKindSettings(true, false), { extraConfig: { "factory.wall": "true" } });
    assert.equal("pkceCodeChallengeMethod" in CLIENT_HARDENING, false);
  });

  it("restricts wall redirect URIs to exact wall callbacks", () => {
    const cb = "https://compta.exemple.org/_wall/oauth2/kc-compta_exemple_org/authorization-code-callback";
    assert.equal(WALL_AUTH_PATH, "/_wall");
    assert.deepEqual(wallRedirectUriProblems(cb), []);
    assert.deepEqual(wallRedirectUriProblems("https://compta.exemple.org/apps/user_oidc/code"), ["must be a wall callback under /_wall/"]);
    assert.deepEqual(wallRedirectUriProblems("https://compta.exemple.org/_wallet/x"), ["must be a wall callback under /_wall/"]);
    assert.deepEqual(wallRedirectUriProblems(`${cb}?x=1`), ["must not have a query"]);
    assert.deepEqual(wallRedirectUriProblems("https://compta.exemple.org/_wall/*"), ["must not contain a wildcard (*): register the exact URI"]);
    assert.deepEqual(wallRedirectUriProblems("http://compta.exemple.org/_wall/cb"), ["must use https"]);
    assert.deepEqual(wallRedirectUriProblems("http://127.0.0.1:8443/_wall/cb", { allowLoopbackHttp: true }), []);
    validateWallRedirectUris("wall-paheko-x", [cb]);
    assert.throws(() => validateWallRedirectUris("wall-paheko-x", [cb, "https://a.org/"]), /redirect URI of client "wall-paheko-x": "https:\/\/a.org\/" must be a wall callback/);
    assert.throws(() => validateWallRedirectUris("wall-paheko-x", []), /at least one is required/);
  });
  it("renders the same definitions for the admin REST API", () => {
    assert.deepEqual(rolesMapperRepresentation(), {
      name: "realm-roles-flat", protocol: "openid-connect", protocolMapper: "oidc-usermodel-realm-role-mapper",
      config: {
        "claim.name": "roles", "jsonType.label": "String", multivalued: "true", "id.token.claim": "true",
        "access.token.claim": "true", "userinfo.token.claim": "true", "introspection.token.claim": "true",
      },
    });
    assert.deepEqual(groupsMapperRepresentation(), {
      name: "groups", protocol: "openid-connect", protocolMapper: "oidc-group-membership-mapper",
      config: {
        "claim.name": "groups", "full.path": "false", "id.token.claim": "true", "access.token.claim": "true",
        "userinfo.token.claim": "true", "introspection.token.claim": "true",
      },
    });
    const c = clientRepresentation({ clientId: "x", secret: "s", rootUrl: "https://a.org", redirectUris: ["https://a.org/cb"], webOrigins: ["https://a.org"] });
    assert.equal(c.publicClient, false);
    assert.equal(c.standardFlowEnabled, true);
    assert.equal(c.implicitFlowEnabled, false);
    assert.equal(c.directAccessGrantsEnabled, false);
    assert.equal(c.serviceAccountsEnabled, false);
    assert.equal(c.fullScopeAllowed, false);
    assert.deepEqual(c.attributes, { "pkce.code.challenge.method": "S256", "oauth2.device.authorization.grant.enabled": "false", "standard.token.exchange.enabled": "false" });
    // No scope list: like the provider, the client gets the realm's default default-scopes from Keycloak.
    assert.equal("defaultClientScopes" in c, false);
    assert.equal("optionalClientScopes" in c, false);
    const wallRep = (wallPkce?: boolean) => clientRepresentation({ clientId: "wall-paheko-x", secret: "s", rootUrl: "https://a.org", redirectUris: ["https://a.org/_wall/cb"], webOrigins: ["https://a.org"], wall: true, wallPkce });
    // By default a wall client is registered like any client (PKCE S256, no marker).
    assert.deepEqual(wallRep().attributes, c.attributes);
    assert.deepEqual(wallRep(true).attributes, c.attributes);
    const w = wallRep(false);
    assert.deepEqual(w.attributes, { "factory.wall": "true", "oauth2.device.authorization.grant.enabled": "false", "standard.token.exchange.enabled": "false" });
    assert.deepEqual({ ...w, attributes: undefined, clientId: undefined, name: undefined, redirectUris: undefined }, { ...c, attributes: undefined, clientId: undefined, name: undefined, redirectUris: undefined });
    const exec = (p: ReturnType<typeof clientPolicyProfile>) => p.executors.map((e) => ({ executor: e.name, configuration: e.configuration }));
    const policyRep = (p: ReturnType<typeof clientPolicy>) => ({
      name: p.name, description: p.description, enabled: true, profiles: p.profiles,
      conditions: [{ condition: p.conditions[0].name, configuration: p.conditions[0].configuration ?? {} }],
    });
    assert.deepEqual(clientProfilesRepresentation(), {
      profiles: [{ name: "factory-secure-clients", description: clientPolicyProfile().description, executors: exec(clientPolicyProfile()) }],
    });
    assert.deepEqual(clientPoliciesRepresentation(), { policies: [policyRep(clientPolicy(true))] });
    assert.deepEqual(clientPoliciesRepresentation().policies, [{
      name: "factory-secure-clients", description: clientPolicy().description, enabled: true, profiles: ["factory-secure-clients"],
      conditions: [{ condition: "any-client", configuration: {} }],
    }]);
    assert.deepEqual(clientProfilesRepresentation({}, false), {
      profiles: [
        { name: "factory-secure-clients", description: clientPolicyProfile().description, executors: exec(clientPolicyProfile()) },
        { name: "factory-wall-clients", description: wallClientPolicyProfile().description, executors: exec(wallClientPolicyProfile()) },
      ],
    });
    assert.deepEqual(clientPoliciesRepresentation(false), { policies: [clientPolicy(false), wallClientPolicy()].map(policyRep) });
    assert.equal(((clientPoliciesRepresentation(false).policies as { conditions: { configuration: Record<string, string> }[] }[])[0].conditions[0].configuration)["is-negative-logic"], "true");
  });
});

// ---- components under mocks ----

const PROVIDER_URN_PART = "pulumi:providers:keycloak::kc";
const ROOT = path.join(__dirname, "..");

async function runIdentity(build: (provider: keycloak.Provider) => unknown): Promise<RecordedResource[]> {
  const { resources } = await runUnderMocks({
    stack: "staging",
    program: () => {
      const provider = new keycloak.Provider("kc", { url: "http://10.0.0.2:8080", realm: "master", clientId: "admin-cli", username: "admin", password: "admin-pw" });
      return build(provider);
    },
  });
  return resources;
}

const childrenOf = (rs: RecordedResource[], parent: RecordedResource) => rs.filter((r) => r.parent === parent.urn);
const names = (rs: RecordedResource[]) => rs.map((r) => `${r.type} ${r.name}`).sort();

describe("FactoryRealm", () => {
  it("registers the protected realm, the client policies, the key clean-up, the claims scope with its two mappers and the realm default scopes", async () => {
    const rs = await runIdentity((provider) => new FactoryRealm("realm", {
      realm: "factory", provider, admin: { url: "http://10.0.0.2:8080", username: "admin", password: pulumi.secret("kc-admin-pw") },
    }).realmId);
    const comp = rs.find((r) => r.type === "factory:identity:FactoryRealm")!;
    assert.deepEqual(comp.inputs, { realm: "factory" });
    const kids = childrenOf(rs, comp);
    assert.deepEqual(names(kids), [
      "command:local:Command realm-drop-encryption-keys",
      "keycloak:index/realm:Realm realm-realm",
      "keycloak:index/realmClientPolicyProfile:RealmClientPolicyProfile realm-client-profile",
      "keycloak:index/realmClientPolicyProfilePolicy:RealmClientPolicyProfilePolicy realm-client-policy",
      "keycloak:index/realmDefaultClientScopes:RealmDefaultClientScopes realm-default-scopes",
      "keycloak:openid/clientScope:ClientScope realm-claims-scope",
      "keycloak:openid/groupMembershipProtocolMapper:GroupMembershipProtocolMapper realm-groups-mapper",
      "keycloak:openid/userRealmRoleProtocolMapper:UserRealmRoleProtocolMapper realm-roles-mapper",
    ]);
    assert.equal(rs.length, 1 + 1 + 8);
    for (const k of kids.filter((x) => x.type.startsWith("keycloak:"))) assert.ok(k.provider?.includes(PROVIDER_URN_PART), `${k.name} uses the given provider`);
    const by = (n: string) => kids.find((k) => k.name === n)!;
    const realm = by("realm-realm");
    assert.equal(realm.protect, true);
    assert.equal(realm.retainOnDelete, true);
    assert.deepEqual(realm.inputs, {
      realm: "factory", displayName: "factory", ...REALM_SETTINGS,
      securityDefenses: { bruteForceDetection: { permanentLockout: false, maxLoginFailures: 10, waitIncrementSeconds: 60, maxFailureWaitSeconds: 900, failureResetTimeSeconds: 43200 } },
    });
    const realmId = "realm-realm-id";
    const profile = by("realm-client-profile");
    assert.equal(profile.protect, false);
    assert.ok(String(profile.inputs.realmId).startsWith(realmId));
    assert.deepEqual({ ...profile.inputs, realmId: undefined }, { ...clientPolicyProfile(), realmId: undefined });
    assert.deepEqual((profile.inputs.executors as { name: string }[]).map((e) => e.name), ["secure-redirect-uris-enforcer", "pkce-enforcer"]);
    // wallPkce defaults to true: one policy, PKCE S256 for every client (walls included), no exemption.
    const policy = by("realm-client-policy");
    assert.deepEqual({ ...policy.inputs, realmId: undefined }, { ...clientPolicy(true), realmId: undefined });
    assert.deepEqual(policy.inputs.conditions, [{ name: "any-client" }]);
    assert.deepEqual(policy.inputs.profiles, ["factory-secure-clients"]);
    assert.equal(policy.inputs.enabled, true);
    // The provider rewrites the whole client-policies document: one at a time, profiles before policies.
    const deps = (r: RecordedResource) => r.dependsOn.filter((u) => u !== realm.urn).sort();
    assert.deepEqual(deps(profile), []);
    assert.deepEqual(deps(policy), [profile.urn]);
    // The key clean-up: the script as rendered, run by node, the admin password only as a secret env value.
    const keys = by("realm-drop-encryption-keys");
    assert.ok(!String(keys.provider ?? "").includes("keycloak"), "runs on the Pulumi machine, not through the keycloak provider");
    assert.deepEqual(keys.dependsOn, [realm.urn]);
    assert.deepEqual(Object.keys(keys.inputs).sort(), ["create", "environment", "interpreter", "logging", "triggers"]);
    assert.deepEqual(keys.inputs.interpreter, ["node", "-e"]);
    assert.deepEqual(keys.inputs.interpreter, [...KEYS_SCRIPT_INTERPRETER]);
    assert.equal(keys.inputs.create, renderDropEncryptionKeysScript());
    assert.equal(keys.inputs.logging, "none");
    assert.equal((keys.inputs.triggers as unknown[]).length, 1);
    assert.ok(String((keys.inputs.triggers as unknown[])[0]).startsWith("realm-realm-id"), "re-runs when the realm is replaced");
    // The password makes the whole environment a secret.
    const wrapped = keys.inputs.environment as Record<string, unknown>;
    assert.deepEqual(Object.keys(wrapped), [SECRET_MARK]);
    const env = wrapped[SECRET_MARK] as Record<string, unknown>;
    assert.deepEqual(Object.keys(env).sort(), [...KEYS_SCRIPT_ENV].sort());
    assert.deepEqual(env, { KC_URL: "http://10.0.0.2:8080", KC_REALM: "factory", KC_ADMIN_USER: "admin", KC_ADMIN_PASSWORD: "kc-admin-pw" });
    assert.doesNotMatch(String(keys.inputs.create), /kc-admin-pw/);
    const scope = by("realm-claims-scope");
    assert.equal(scope.inputs.name, "factory-claims");
    const scopeId = String(scope.inputs.name) && `realm-claims-scope-id`;
    const roles = by("realm-roles-mapper");
    assert.deepEqual({ ...roles.inputs, realmId: undefined, clientScopeId: undefined }, { ...ROLES_MAPPER, realmId: undefined, clientScopeId: undefined });
    assert.ok(String(roles.inputs.clientScopeId).startsWith(scopeId));
    const groups = by("realm-groups-mapper");
    assert.deepEqual({ ...groups.inputs, realmId: undefined, clientScopeId: undefined }, { ...GROUPS_MAPPER, realmId: undefined, clientScopeId: undefined });
    assert.equal(groups.inputs.fullPath, false);
    // The realm's default default-scopes: exactly CLIENT_DEFAULT_SCOPES (factory-claims included), after the
    // claims scope and its mappers; realmId (which every client takes) resolves only once it exists.
    const defaults = by("realm-default-scopes");
    assert.deepEqual(Object.keys(defaults.inputs).sort(), ["defaultScopes", "realmId"]);
    assert.ok(String(defaults.inputs.realmId).startsWith(realmId));
    assert.deepEqual(defaults.inputs.defaultScopes, [...CLIENT_DEFAULT_SCOPES]);
    assert.ok((defaults.inputs.defaultScopes as string[]).includes("factory-claims"));
    assert.deepEqual(deps(defaults), [scope.urn, roles.urn, groups.urn].sort());
    assert.equal(defaults.protect, false);
    assert.equal(roles.inputs.claimName, "roles");
    assert.equal(roles.inputs.multivalued, true);
  });
});

describe("FactoryRealm with wallPkce: false (caddy-security builds without PKCE)", () => {
  it("adds the walls' profile and policy, exempts factory.wall=true from the main policy, and writes them one at a time", async () => {
    const rs = await runIdentity((provider) => {
      const realm = new FactoryRealm("realm", { realm: "factory", provider, wallPkce: false });
      return new TenantIdentity("t-identity", { tenant: "t", realmId: realm.realmId, services: ["paheko"], provider }).groupId;
    });
    const comp = rs.find((r) => r.type === "factory:identity:FactoryRealm")!;
    const kids = childrenOf(rs, comp);
    const policyKids = names(kids.filter((k) => k.type.includes("realmClientPolicy")));
    assert.deepEqual(policyKids, [
      "keycloak:index/realmClientPolicyProfile:RealmClientPolicyProfile realm-client-profile",
      "keycloak:index/realmClientPolicyProfile:RealmClientPolicyProfile realm-wall-client-profile",
      "keycloak:index/realmClientPolicyProfilePolicy:RealmClientPolicyProfilePolicy realm-client-policy",
      "keycloak:index/realmClientPolicyProfilePolicy:RealmClientPolicyProfilePolicy realm-wall-client-policy",
    ]);
    const by = (n: string) => kids.find((k) => k.name === n)!;
    const realm = by("realm-realm");
    const profile = by("realm-client-profile");
    assert.deepEqual({ ...profile.inputs, realmId: undefined }, { ...clientPolicyProfile(), realmId: undefined });
    const wallProfile = by("realm-wall-client-profile");
    assert.deepEqual({ ...wallProfile.inputs, realmId: undefined }, { ...wallClientPolicyProfile(), realmId: undefined });
    assert.deepEqual((wallProfile.inputs.executors as { name: string }[]).map((e) => e.name), ["secure-redirect-uris-enforcer"]);
    const policy = by("realm-client-policy");
    assert.deepEqual({ ...policy.inputs, realmId: undefined }, { ...clientPolicy(false), realmId: undefined });
    assert.deepEqual(policy.inputs.conditions, [{ name: "client-attributes", configuration: { "is-negative-logic": "true", attributes: '[{"key":"factory.wall","value":"true"}]' } }]);
    const wallPolicy = by("realm-wall-client-policy");
    assert.deepEqual({ ...wallPolicy.inputs, realmId: undefined }, { ...wallClientPolicy(), realmId: undefined });
    assert.deepEqual(wallPolicy.inputs.conditions, [{ name: "any-client" }]);
    const deps = (r: RecordedResource) => r.dependsOn.filter((u) => u !== realm.urn).sort();
    assert.deepEqual(deps(profile), []);
    assert.deepEqual(deps(wallProfile), [profile.urn]);
    assert.deepEqual(deps(policy), [profile.urn, wallProfile.urn].sort());
    assert.deepEqual(deps(wallPolicy), [profile.urn, wallProfile.urn, policy.urn].sort());
    // realmId waits for both policies: nothing taking it (a group here, clients alike) is created before the exemption exists.
    const group = rs.find((r) => r.type === "keycloak:index/group:Group")!;
    for (const p of [policy, wallPolicy]) assert.ok(group.dependsOn.includes(p.urn), `the group waits for ${p.name}`);
    assert.equal(kids.length, 9, "realm, 2 profiles, 2 policies, claims scope, 2 mappers, default scopes (no admin: no key clean-up)");
  });
});

describe("FactoryRealm without admin login", () => {
  it("registers no key clean-up command (other areas' unit tests)", async () => {
    const rs = await runIdentity((provider) => new FactoryRealm("realm", { realm: "factory", provider }).realmId);
    assert.equal(rs.filter((r) => r.type === "command:local:Command").length, 0);
    assert.equal(rs.length, 1 + 1 + 7);
  });
});

describe("TenantIdentity", () => {
  it("registers a protected group and one protected role per role service, granted to the group", async () => {
    const rs = await runIdentity((provider) => {
      const id = new TenantIdentity("asso-exemple-identity", { tenant: "asso-exemple", realmId: "factory", services: ["nextcloud", "paheko", "wordpress", "staticSite"], provider });
      assert.deepEqual(id.roleNames, { nextcloud: "nextcloud:asso-exemple", paheko: "paheko:asso-exemple", wordpress: "wordpress:asso-exemple" });
      assert.deepEqual(Object.keys(id.scopeRoles(["paheko"])), ["paheko:asso-exemple"]);
      assert.deepEqual(Object.keys(id.scopeRoles()).sort(), ["nextcloud:asso-exemple", "paheko:asso-exemple", "wordpress:asso-exemple"]);
      return id.groupId;
    });
    const comp = rs.find((r) => r.type === "factory:identity:TenantIdentity")!;
    assert.deepEqual(comp.inputs, { tenant: "asso-exemple" });
    const kids = childrenOf(rs, comp);
    assert.deepEqual(names(kids), [
      "keycloak:index/group:Group asso-exemple-identity-group",
      "keycloak:index/groupRoles:GroupRoles asso-exemple-identity-group-roles",
      "keycloak:index/role:Role asso-exemple-identity-role-nextcloud",
      "keycloak:index/role:Role asso-exemple-identity-role-paheko",
      "keycloak:index/role:Role asso-exemple-identity-role-wordpress",
    ]);
    assert.equal(rs.length, 1 + 1 + 5);
    for (const k of kids) {
      assert.equal(k.tenant, "asso-exemple");
      assert.equal(k.inputs.realmId, "factory");
      assert.ok(k.provider?.includes(PROVIDER_URN_PART));
      const kept = k.type !== "keycloak:index/groupRoles:GroupRoles";
      assert.equal(k.protect, kept, k.name);
      assert.equal(k.retainOnDelete, kept, k.name);
    }
    const group = kids.find((k) => k.type === "keycloak:index/group:Group")!;
    assert.deepEqual(group.inputs, { realmId: "factory", name: "asso-exemple" });
    const roles = kids.filter((k) => k.type === "keycloak:index/role:Role");
    assert.deepEqual(roles.map((r) => r.inputs.name).sort(), ["nextcloud:asso-exemple", "paheko:asso-exemple", "wordpress:asso-exemple"]);
    const gr = kids.find((k) => k.type === "keycloak:index/groupRoles:GroupRoles")!;
    assert.equal(gr.inputs.exhaustive, true);
    assert.ok(String(gr.inputs.groupId).startsWith("asso-exemple-identity-group-id"));
    assert.deepEqual((gr.inputs.roleIds as string[]).map((x) => x.replace(/-id(-\d+)?$/, "")), [
      "asso-exemple-identity-role-nextcloud", "asso-exemple-identity-role-paheko", "asso-exemple-identity-role-wordpress",
    ]);
  });
  it("registers only the group for a tenant without role services", async () => {
    const rs = await runIdentity((provider) => new TenantIdentity("s-identity", { tenant: "s", realmId: "factory", services: ["staticSite"], provider }).groupId);
    const comp = rs.find((r) => r.type === "factory:identity:TenantIdentity")!;
    assert.deepEqual(names(childrenOf(rs, comp)), ["keycloak:index/group:Group s-identity-group"]);
  });
});

describe("KeycloakClient", () => {
  const args = {
    tenant: "asso-exemple",
    realmId: "factory",
    clientId: "nextcloud-asso-exemple",
    rootUrl: "https://cloud.exemple.org",
    redirectUris: ["https://cloud.exemple.org/apps/user_oidc/code"],
    webOrigins: ["https://cloud.exemple.org"],
  };

  it("registers a hardened confidential client with a secret, its default scopes and one scope mapping per role", async () => {
    let secretIsSecret: Promise<boolean> | undefined;
    const rs = await runIdentity((provider) => {
      const c = new KeycloakClient("asso-exemple-nextcloud-oidc", {
        ...args, provider, scopeRoles: { "nextcloud:asso-exemple": "role-nc-id", "paheko:asso-exemple": pulumi.output("role-pk-id") },
      });
      secretIsSecret = (c.clientSecret as unknown as { isSecret: Promise<boolean> }).isSecret;
      return { id: c.clientId, secret: c.clientSecret };
    });
    assert.equal(await secretIsSecret, true);
    const comp = rs.find((r) => r.type === "factory:identity:KeycloakClient")!;
    assert.deepEqual(comp.inputs, { tenant: "asso-exemple" });
    const kids = childrenOf(rs, comp);
    assert.deepEqual(names(kids), [
      "keycloak:index/genericRoleMapper:GenericRoleMapper asso-exemple-nextcloud-oidc-scope-nextcloud-asso-exemple",
      "keycloak:index/genericRoleMapper:GenericRoleMapper asso-exemple-nextcloud-oidc-scope-paheko-asso-exemple",
      "keycloak:openid/client:Client asso-exemple-nextcloud-oidc-client",
      "random:index/randomPassword:RandomPassword asso-exemple-nextcloud-oidc-secret",
    ]);
    assert.equal(rs.length, 1 + 1 + 4);
    for (const k of kids) assert.equal(k.tenant, "asso-exemple");
    const by = (suffix: string) => kids.find((k) => k.name === `asso-exemple-nextcloud-oidc-${suffix}`)!;
    const pw = by("secret");
    assert.deepEqual(pw.inputs, { length: 48, special: false });
    // Not protected (archiving removes the client), retained (deleting a RandomPassword only forgets it).
    assert.equal(pw.protect, false);
    assert.equal(pw.retainOnDelete, true);
    for (const k of kids.filter((x) => x !== pw)) assert.deepEqual([k.protect, k.retainOnDelete], [false, false], k.name);
    const client = by("client");
    assert.ok(client.provider?.includes(PROVIDER_URN_PART));
    assert.deepEqual(client.inputs, {
      realmId: "factory",
      clientId: "nextcloud-asso-exemple",
      name: "nextcloud-asso-exemple",
      description: "OIDC client of tenant asso-exemple",
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
      clientSecret: { [SECRET_MARK]: `mock-asso-exemple-nextcloud-oidc-secret-${"x".repeat(48)}` },
      rootUrl: "https://cloud.exemple.org",
      baseUrl: "https://cloud.exemple.org",
      validRedirectUris: ["https://cloud.exemple.org/apps/user_oidc/code"],
      webOrigins: ["https://cloud.exemple.org"],
    });
    assert.deepEqual(Object.keys(CLIENT_HARDENING).filter((k) => !(k in client.inputs)), []);
    // Default scopes come from the realm (FactoryRealm's RealmDefaultClientScopes): no resource per client.
    assert.equal(rs.filter((r) => r.type.includes("DefaultScopes") || r.type.includes("DefaultClientScopes")).length, 0);
    const clientInternalId = rs.find((r) => r.type === "keycloak:openid/client:Client")!.name + "-id";
    const nc = by("scope-nextcloud-asso-exemple");
    assert.ok(String(nc.inputs.clientId).startsWith(clientInternalId), `${String(nc.inputs.clientId)} vs ${clientInternalId}`);
    assert.deepEqual(nc.inputs, { realmId: "factory", clientId: nc.inputs.clientId, roleId: "role-nc-id" });
    assert.deepEqual(by("scope-paheko-asso-exemple").inputs, { realmId: "factory", clientId: nc.inputs.clientId, roleId: "role-pk-id" });
    // No secret in component props.
    assert.doesNotMatch(JSON.stringify(rs.filter((r) => !r.custom).map((r) => r.inputs)), /mock-/);
  });

  it("refuses wildcard or http URIs and registers nothing", async () => {
    for (const [field, value, msg] of [
      ["redirectUris", ["https://cloud.exemple.org/*"], /redirect URI of client "nextcloud-asso-exemple": "https:\/\/cloud.exemple.org\/\*" must not contain a wildcard/],
      ["redirectUris", ["*"], /must not contain a wildcard/],
      ["webOrigins", ["*"], /web origin of client "nextcloud-asso-exemple": "\*" must not contain a wildcard/],
      ["webOrigins", ["+"], /not "\+"/],
      ["redirectUris", ["http://cloud.exemple.org/apps/user_oidc/code"], /must use https/],
      ["rootUrl", "http://cloud.exemple.org", /root URL of client "nextcloud-asso-exemple": "http:\/\/cloud.exemple.org" must use https/],
      ["postLogoutRedirectUris", ["https://cloud.exemple.org/*"], /must not contain a wildcard/],
    ] as const) {
      await assert.rejects(
        runIdentity((provider) => new KeycloakClient("c", { ...args, [field]: value, provider }).clientId),
        (e: Error & { registered?: RecordedResource[] }) => {
          assert.match(e.message, msg);
          assert.deepEqual(e.registered?.map((r) => r.type), ["pulumi:providers:keycloak"], `${field}: only the provider was registered`);
          return true;
        },
      );
    }
  });

  const wallArgs = {
    tenant: "asso-exemple",
    realmId: "factory",
    clientId: "wall-paheko-asso-exemple",
    rootUrl: "https://compta.exemple.org",
    redirectUris: ["https://compta.exemple.org/_wall/oauth2/kc-compta_exemple_org/authorization-code-callback"],
    webOrigins: ["https://compta.exemple.org"],
    wall: true,
  };

  it("registers a wall client with PKCE S256 by default, exactly as hardened as an application client", async () => {
    const app = (await runIdentity((provider) => new KeycloakClient("w", { ...args, provider }).clientId)).find((r) => r.name === "w-client")!;
    for (const wallPkce of [undefined, true]) {
      const rs = await runIdentity((provider) => new KeycloakClient("w", { ...wallArgs, wallPkce, provider }).clientId);
      const client = rs.find((r) => r.name === "w-client")!;
      assert.deepEqual(client.inputs, {
        realmId: "factory",
        clientId: "wall-paheko-asso-exemple",
        name: "wall-paheko-asso-exemple",
        description: "OIDC client of tenant asso-exemple",
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
        clientSecret: { [SECRET_MARK]: `mock-w-secret-${"x".repeat(48)}` },
        rootUrl: "https://compta.exemple.org",
        baseUrl: "https://compta.exemple.org",
        validRedirectUris: wallArgs.redirectUris,
        webOrigins: ["https://compta.exemple.org"],
      }, `wallPkce ${wallPkce}`);
      const strip = (i: Record<string, unknown>) => ({ ...i, clientId: undefined, name: undefined, rootUrl: undefined, baseUrl: undefined, validRedirectUris: undefined, webOrigins: undefined });
      assert.deepEqual(strip(client.inputs), strip(app.inputs));
    }
  });

  it("with wallPkce: false, registers a wall client without PKCE, marked factory.wall=true, otherwise as hardened as any client", async () => {
    const rs = await runIdentity((provider) => new KeycloakClient("w", { ...wallArgs, wallPkce: false, provider }).clientId);
    const client = rs.find((r) => r.name === "w-client")!;
    const app = (await runIdentity((provider) => new KeycloakClient("w", { ...args, provider }).clientId)).find((r) => r.name === "w-client")!;
    assert.equal("pkceCodeChallengeMethod" in client.inputs, false);
    assert.deepEqual(client.inputs.extraConfig, { "factory.wall": "true" });
    assert.equal(app.inputs.pkceCodeChallengeMethod, "S256");
    assert.equal("extraConfig" in app.inputs, false);
    const strip = (i: Record<string, unknown>) => ({ ...i, pkceCodeChallengeMethod: undefined, extraConfig: undefined, clientId: undefined, name: undefined, rootUrl: undefined, baseUrl: undefined, validRedirectUris: undefined, webOrigins: undefined, clientSecret: undefined });
    assert.deepEqual(strip(client.inputs), strip(app.inputs));
    assert.deepEqual(client.inputs.validRedirectUris, wallArgs.redirectUris);
    assert.equal(rs.filter((r) => r.parent === rs.find((x) => x.type === "factory:identity:KeycloakClient")!.urn).length, 2);
  });

  it("refuses wallPkce on an application client (they always require PKCE S256)", async () => {
    for (const wallPkce of [false, true]) {
      await assert.rejects(
        runIdentity((provider) => new KeycloakClient("c", { ...args, wallPkce, provider }).clientId),
        (e: Error & { registered?: RecordedResource[] }) => {
          assert.match(e.message, /OIDC client "nextcloud-asso-exemple": wallPkce is for wall clients only/);
          assert.deepEqual(e.registered?.map((r) => r.type), ["pulumi:providers:keycloak"]);
          return true;
        },
      );
    }
  });

  it("refuses a wall client whose redirect URI is not a wall callback, and wall- ids without wall: true (or the reverse)", async () => {
    for (const [over, msg] of [
      [{ redirectUris: ["https://compta.exemple.org/callback"] }, /redirect URI of client "wall-paheko-asso-exemple": "https:\/\/compta.exemple.org\/callback" must be a wall callback under \/_wall\//],
      [{ redirectUris: ["https://compta.exemple.org/_wall/cb?next=/"] }, /must not have a query/],
      [{ wall: false }, /client ids starting with wall- are reserved for wall clients/],
      [{ clientId: "paheko-asso-exemple" }, /a wall client's id must start with wall-/],
    ] as [Partial<typeof wallArgs>, RegExp][]) {
      await assert.rejects(
        runIdentity((provider) => new KeycloakClient("w", { ...wallArgs, ...over, provider }).clientId),
        (e: Error & { registered?: RecordedResource[] }) => {
          assert.match(e.message, msg);
          assert.deepEqual(e.registered?.map((r) => r.type), ["pulumi:providers:keycloak"]);
          return true;
        },
      );
    }
  });

  it("passes validated post-logout redirect URIs", async () => {
    const rs = await runIdentity((provider) => new KeycloakClient("c", { ...args, postLogoutRedirectUris: ["https://cloud.exemple.org/"], provider }).clientId);
    assert.deepEqual(rs.find((r) => r.name === "c-client")!.inputs.validPostLogoutRedirectUris, ["https://cloud.exemple.org/"]);
  });
});

describe("identity section of the program (staging)", () => {
  it("registers the realm once and, per tenant, exactly its group and roles (archived tenants keep theirs)", async () => {
    const { resources: rs } = await runUnderMocks({ stack: "staging" });
    assert.equal(rs.filter((r) => r.type === "factory:identity:FactoryRealm").length, 1);
    assert.equal(rs.filter((r) => r.type === "keycloak:index/realm:Realm").length, 1);
    const realm = rs.find((r) => r.type === "keycloak:index/realm:Realm")!;
    assert.equal(realm.inputs.realm, "factory");
    assert.ok(realm.provider?.includes("pulumi:providers:keycloak::platform-keycloak"));
    const expected: Record<string, string[]> = {
      "ancienne-asso": ["nextcloud:ancienne-asso"],
      "asso-exemple": ["nextcloud:asso-exemple", "paheko:asso-exemple", "wordpress:asso-exemple"],
      "club-velo": ["nextcloud:club-velo", "paheko:club-velo"],
      "collectif-jardins": ["wordpress:collectif-jardins"],
    };
    const comps = rs.filter((r) => r.type === "factory:identity:TenantIdentity");
    assert.deepEqual(comps.map((c) => c.name).sort(), Object.keys(expected).map((s) => `${s}-identity`));
    for (const [slug, roles] of Object.entries(expected)) {
      const comp = comps.find((c) => c.name === `${slug}-identity`)!;
      const mine = rs.filter((r) => r.parent === comp.urn);
      assert.equal(mine.length, 1 + roles.length + 1, `${slug}: group, roles, group-roles`);
      assert.deepEqual(mine.filter((r) => r.type === "keycloak:index/group:Group").map((r) => r.inputs.name), [slug]);
      assert.deepEqual(mine.filter((r) => r.type === "keycloak:index/role:Role").map((r) => r.inputs.name).sort(), roles);
      assert.equal(mine.filter((r) => r.type === "keycloak:index/groupRoles:GroupRoles").length, 1);
      for (const r of mine.filter((x) => x.type !== "keycloak:index/groupRoles:GroupRoles")) {
        assert.equal(r.protect, true, r.name);
        // Groups and roles are created after the realm-level policies and the realm default scopes (realmId
        // carries them; the default scopes depend on the claims scope and its mappers, tested above).
        for (const dep of ["realm-realm", "realm-client-policy", "realm-drop-encryption-keys", "realm-default-scopes"]) {
          assert.ok(r.dependsOn.some((u) => u.endsWith(`::${dep}`)), `${r.name} depends on ${dep}`);
        }
      }
    }
  });

  it("registers, across the program, exactly one hardened client per tenant and service, scoped to that tenant's role (none when archived)", async () => {
    const { resources: rs } = await runUnderMocks({ stack: "staging" });
    const expected: Record<string, string> = {
      // client id -> the only role its tokens may carry
      "nextcloud-asso-exemple": "nextcloud:asso-exemple",
      "wall-paheko-asso-exemple": "paheko:asso-exemple",
      "wall-wordpress-asso-exemple": "wordpress:asso-exemple",
      "nextcloud-club-velo": "nextcloud:club-velo",
      "wall-paheko-club-velo": "paheko:club-velo",
      "wall-wordpress-collectif-jardins": "wordpress:collectif-jardins",
    };
    const clients = rs.filter((r) => r.type === "keycloak:openid/client:Client");
    assert.deepEqual(clients.map((c) => c.inputs.clientId).sort(), Object.keys(expected).sort());
    assert.equal(rs.filter((r) => r.tenant === "ancienne-asso" && r.type.startsWith("keycloak:openid/")).length, 0);
    const roleByName = new Map(rs.filter((r) => r.type === "keycloak:index/role:Role").map((r) => [r.inputs.name as string, r]));
    for (const c of clients) {
      const clientId = c.inputs.clientId as string;
      const role = expected[clientId];
      const slug = role.split(":")[1];
      assert.equal(c.tenant, slug, `${clientId} belongs to its tenant`);
      for (const [k, v] of Object.entries(CLIENT_HARDENING)) assert.equal(c.inputs[k], v, `${clientId}.${k}`);
      // wallPkce defaults to true: every client, the walls included, PKCE S256 and no marker; walls have
      // only /_wall/ callbacks.
      assert.equal(c.inputs.pkceCodeChallengeMethod, "S256", clientId);
      assert.equal(c.inputs.extraConfig, undefined, clientId);
      if (clientId.startsWith("wall-")) {
        for (const u of c.inputs.validRedirectUris as string[]) assert.match(u, /^https:\/\/[^/]+\/_wall\/oauth2\/kc-[a-z0-9_-]+\/authorization-code-callback$/);
      }
      const secret = rs.find((r) => r.type === "random:index/randomPassword:RandomPassword" && r.parent === c.parent)!;
      assert.deepEqual([secret.protect, secret.retainOnDelete], [false, true], `${clientId} secret`);
      assert.ok(c.inputs.clientSecret && typeof c.inputs.clientSecret === "object" && SECRET_MARK in (c.inputs.clientSecret as object), `${clientId} secret is secret`);
      for (const u of [...(c.inputs.validRedirectUris as string[]), ...(c.inputs.webOrigins as string[])]) {
        assert.ok(u.startsWith("https://") && !u.includes("*"), `${clientId}: ${u}`);
      }
      const mappers = rs.filter((r) => r.type === "keycloak:index/genericRoleMapper:GenericRoleMapper" && r.parent === c.parent);
      assert.equal(mappers.length, 1, `${clientId}: exactly one scope mapping`);
      assert.ok(String(mappers[0].inputs.roleId).startsWith(`${roleByName.get(role)!.name}-id`), `${clientId} is scoped to ${role}`);
      assert.equal(rs.filter((r) => r.parent === c.parent).length, 3, `${clientId}: secret, client, one scope mapping`);
    }
  });

  it("with service-factory:wallPkce: false, marks every wall client and only them, and registers the realm's exemption before any client", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-wallpkce-"));
    try {
      const staging = fs.readFileSync(path.join(ROOT, "Pulumi.staging.yaml"), "utf8");
      assert.match(staging, /^  service-factory:realm: factory$/m);
      const file = path.join(dir, "Pulumi.staging.yaml");
      fs.writeFileSync(file, staging.replace(/^  service-factory:realm: factory$/m, "$&\n  service-factory:wallPkce: false"));
      const { resources: rs } = await runUnderMocks({ stack: "staging", projectDir: ROOT, stackFile: file, tenantsDir: "tenants/staging" });
      const policies = rs.filter((r) => r.type === "keycloak:index/realmClientPolicyProfilePolicy:RealmClientPolicyProfilePolicy");
      assert.deepEqual(policies.map((p) => p.name).sort(), ["realm-client-policy", "realm-wall-client-policy"]);
      assert.deepEqual(policies.find((p) => p.name === "realm-client-policy")!.inputs.conditions, clientPolicy(false).conditions);
      const clients = rs.filter((r) => r.type === "keycloak:openid/client:Client");
      const walls = clients.filter((c) => String(c.inputs.clientId).startsWith("wall-"));
      assert.deepEqual(walls.map((c) => c.inputs.clientId).sort(), ["wall-paheko-asso-exemple", "wall-paheko-club-velo", "wall-wordpress-asso-exemple", "wall-wordpress-collectif-jardins"]);
      for (const c of clients) {
        const wall = walls.includes(c);
        assert.equal(c.inputs.pkceCodeChallengeMethod, wall ? undefined : "S256", String(c.inputs.clientId));
        assert.deepEqual(c.inputs.extraConfig, wall ? { "factory.wall": "true" } : undefined, String(c.inputs.clientId));
        // Created after both policies (realmId carries them): Keycloak never sees a marked client unexempted.
        for (const p of policies) assert.ok(c.dependsOn.includes(p.urn), `${String(c.inputs.clientId)} waits for ${p.name}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
