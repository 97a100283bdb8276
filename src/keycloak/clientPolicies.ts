// The realm's client policies (Keycloak's client-policies feature): the profiles and policies every client
// of the realm is checked against when it is written and when it logs in, in both wallPkce modes. Its own
// module because it is the one definition group with logic of its own (which policy catches which client,
// and when Keycloak's conditions vote); definitions.ts re-exports it and renders it for the admin REST API.
import { WALL_CLIENT_ATTRIBUTE } from "../caddy/wall";
import { UriRules } from "./redirects";

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
export const WALL_PROFILE_NAME = "factory-wall-clients";
export const WALL_POLICY_NAME = "factory-wall-clients";

function secureRedirectExecutor(rules: UriRules): ExecutorSpec {
  const loop = rules.allowLoopbackHttp ? "true" : "false";
  return {
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
  };
}

/**
 * Main realm client profile: exact https redirect URIs (no wildcard, no open redirect, OAuth 2.1 matching)
 * and PKCE S256, enforced when a client is created or updated (admin API included) and on every
 * authorization request. Configuration values are strings because that is what
 * keycloak.RealmClientPolicyProfile takes; Keycloak reads them as booleans. `rules.allowLoopbackHttp` is
 * for the lab only.
 */
export function clientPolicyProfile(rules: UriRules = {}): ClientProfileSpec {
  return {
    name: CLIENT_PROFILE_NAME,
    description: "Factory clients: exact https redirect URIs and PKCE S256",
    executors: [
      secureRedirectExecutor(rules),
      // auto-configure off: a client without PKCE S256 is refused rather than silently changed.
      { name: "pkce-enforcer", configuration: { "auto-configure": "false" } },
    ],
  };
}

/**
 * Profile of the second policy, registered only with `wallPkce: false`: the same redirect-URI rules, no
 * pkce-enforcer. It is what applies to the caddy-security wall clients of older builds (v1.1.31 cannot send
 * a PKCE challenge; see docs/keycloak.md for what compensates), and it applies to every other client too
 * (see wallClientPolicy).
 */
export function wallClientPolicyProfile(rules: UriRules = {}): ClientProfileSpec {
  return {
    name: WALL_PROFILE_NAME,
    description: "caddy-security wall clients: exact https redirect URIs (no PKCE: caddy-security sends none)",
    executors: [secureRedirectExecutor(rules)],
  };
}

/**
 * `client-attributes` condition on the wall marker. negative = true matches every client that is NOT a
 * wall client. Values are strings as keycloak.RealmClientPolicyProfilePolicy sends them (its condition
 * configuration is a string map); Keycloak reads `is-negative-logic` as a boolean and `attributes` as the
 * JSON list of key/value pairs its client-attributes condition takes.
 */
export function wallCondition(negative = true): { name: string; configuration: Record<string, string> } {
  return {
    name: "client-attributes",
    configuration: {
      "is-negative-logic": negative ? "true" : "false",
      attributes: JSON.stringify([{ key: WALL_CLIENT_ATTRIBUTE, value: "true" }]),
    },
  };
}

/**
 * The main realm client policy: the full profile (redirect-URI rules and PKCE S256).
 *  - wallPkce true (default): for every client (`any-client`), the walls included. any-client also votes
 *    when a client is created or updated, so a PKCE-less client cannot even be stored, and no attribute
 *    exempts anything: a `factory.wall=true` left on a client by an earlier version (the provider does not
 *    always clear an extraConfig key it no longer sends) is inert.
 *  - wallPkce false: for every client that is not a wall client (client-attributes with negative logic on
 *    factory.wall=true); wallClientPolicy then carries the redirect-URI rules for everyone.
 */
export function clientPolicy(wallPkce = true): ClientPolicySpec {
  return wallPkce
    ? {
      name: CLIENT_POLICY_NAME,
      description: `Every client of the factory realm, the caddy-security walls included, follows the ${CLIENT_PROFILE_NAME} profile`,
      enabled: true,
      conditions: [{ name: "any-client" }],
      profiles: [CLIENT_PROFILE_NAME],
    }
    : {
      name: CLIENT_POLICY_NAME,
      description: `Every client of the factory realm but the walls (${WALL_CLIENT_ATTRIBUTE}=true) follows the ${CLIENT_PROFILE_NAME} profile`,
      enabled: true,
      conditions: [wallCondition(true)],
      profiles: [CLIENT_PROFILE_NAME],
    };
}

/**
 * The second policy, registered only with `wallPkce: false`: the redirect-URI rules for EVERY client, the
 * walls included (`any-client`). Keycloak's client-attributes condition only votes on authorization and
 * token requests and abstains when a client is created or updated (measured in
 * test/lab/keycloak.lab.test.ts), so the main policy of that mode cannot check clients at registration;
 * this one does (wildcard, http or open-redirect URIs are refused when the client is written), and it is
 * the only policy of the walls. A condition `client-attributes factory.wall=true` would abstain at
 * registration too and check wall clients only at login.
 */
export function wallClientPolicy(): ClientPolicySpec {
  return {
    name: WALL_POLICY_NAME,
    description: `Every client of the factory realm, the caddy-security walls (${WALL_CLIENT_ATTRIBUTE}=true) included, follows the ${WALL_PROFILE_NAME} profile`,
    enabled: true,
    conditions: [{ name: "any-client" }],
    profiles: [WALL_PROFILE_NAME],
  };
}

/**
 * Every client profile and policy of the realm, in the order they are written (profiles first: a policy
 * names its profiles). wallPkce true: one profile, one policy. wallPkce false: the exemption's second
 * profile and policy as well.
 */
export function clientPolicySet(wallPkce = true, rules: UriRules = {}): { profiles: ClientProfileSpec[]; policies: ClientPolicySpec[] } {
  return wallPkce
    ? { profiles: [clientPolicyProfile(rules)], policies: [clientPolicy(true)] }
    : { profiles: [clientPolicyProfile(rules), wallClientPolicyProfile(rules)], policies: [clientPolicy(false), wallClientPolicy()] };
}
