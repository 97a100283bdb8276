// How the pack recognises a caddy-security wall client and a realm policy that exempts the walls from
// PKCE. Its own module because two rule families read it: oidc-client-hardened (./rules, one client) and
// wall-pkce-exemption (./stackRules, the client against its realm's policies).
import { Inputs, list, obj } from "./ruleInputs";

/** Keycloak client attribute (extraConfig) marking a caddy-security wall client (src/caddy/wall.ts). */
export const WALL_CLIENT_ATTRIBUTE = "factory.wall";
/** Path under which every wall callback lives (src/caddy/wall.ts WALL_AUTH_PATH). */
export const WALL_CALLBACK_PREFIX = "/_wall/";

/** True for an exact https wall callback: no wildcard, query, fragment or user info; canonical; under /_wall/. */
export function isWallCallbackUri(v: unknown): boolean {
  if (typeof v !== "string" || v.includes("*") || /\s/.test(v)) return false;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return false;
  }
  return u.protocol === "https:" && u.href === v && !u.search && !u.hash && !u.username && !u.password
    && u.pathname.startsWith(WALL_CALLBACK_PREFIX);
}

/**
 * True for a realm client policy that exempts the walls: enabled, with a `client-attributes` condition of
 * negative logic on factory.wall=true (src/keycloak/definitions.ts clientPolicy(false), what the program
 * registers only with `service-factory:wallPkce: false`). Configuration values are strings, as the
 * provider takes them; `attributes` is the JSON list of key/value pairs Keycloak reads.
 */
export function exemptsWalls(inputs: Inputs): boolean {
  if (inputs.enabled === false) return false;
  return list(inputs.conditions).map(obj).some((c) => {
    const conf = obj(c.configuration);
    if (c.name !== "client-attributes" || conf["is-negative-logic"] !== "true" || typeof conf.attributes !== "string") return false;
    try {
      return list(JSON.parse(conf.attributes)).map(obj).some((a) => a.key === WALL_CLIENT_ATTRIBUTE && a.value === "true");
    } catch {
      return false;
    }
  });
}

/** A client that takes oidc-client-hardened's wall exemption: marked factory.wall=true, no PKCE method. */
export function goesWithoutPkce(inputs: Inputs): boolean {
  const pkce = inputs.pkceCodeChallengeMethod;
  return obj(inputs.extraConfig)[WALL_CLIENT_ATTRIBUTE] === "true" && (pkce === undefined || pkce === null || pkce === "");
}
