// Validation of OIDC redirect URIs and web origins before they reach Keycloak. Pure.
// Keycloak accepts wildcards (`https://host/*`, `*`, `+`) that turn a client into an open redirector or
// let any page of a host receive codes; the factory registers exact values only and refuses the rest
// here, with a message naming the client, before anything is sent.

import { WALL_AUTH_PATH } from "../caddy/wall";

export interface UriRules {
  /**
   * Allow `http://127.0.0.1:<port>/…` and `http://[::1]:<port>/…` (lab tests only; the program never
   * sets it, and the realm's secure-redirect-uris-enforcer refuses plain http in production). Default false.
   */
  allowLoopbackHttp?: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "[::1]"]);

function schemeProblem(u: URL, rules: UriRules): string | undefined {
  if (u.protocol === "https:") return undefined;
  if (u.protocol === "http:" && rules.allowLoopbackHttp && LOOPBACK.has(u.hostname)) return undefined;
  return rules.allowLoopbackHttp ? "must use https (or http on 127.0.0.1/[::1])" : "must use https";
}

function parse(value: unknown): URL | string {
  if (typeof value !== "string" || value === "") return "must be a non-empty string";
  if (/\s/.test(value)) return "must not contain white space";
  if (value.includes("*")) return "must not contain a wildcard (*): register the exact URI";
  try {
    return new URL(value);
  } catch {
    return "is not an absolute URL";
  }
}

/** Problems of one redirect URI (empty when it is acceptable). */
export function redirectUriProblems(value: unknown, rules: UriRules = {}): string[] {
  const u = parse(value);
  if (typeof u === "string") return [u];
  const out: string[] = [];
  const scheme = schemeProblem(u, rules);
  if (scheme) out.push(scheme);
  if (u.hostname === "localhost") out.push("must not use localhost (use 127.0.0.1 in tests)");
  if (u.username || u.password) out.push("must not contain user info");
  if (u.hash || String(value).includes("#")) out.push("must not contain a fragment");
  if (u.href !== value) out.push(`must be written in canonical form ("${u.href}")`);
  return out;
}

/** Problems of a client's root URL: like a redirect URI, but `https://host` without the trailing slash is fine. */
export function rootUrlProblems(value: unknown, rules: UriRules = {}): string[] {
  const asUri = typeof value === "string" && /^https?:\/\/[^/]+$/.test(value) ? `${value}/` : value;
  return redirectUriProblems(asUri, rules);
}

/** Problems of one web origin (`https://host[:port]`, nothing else). */
export function webOriginProblems(value: unknown, rules: UriRules = {}): string[] {
  if (value === "+") return ['must be an explicit origin, not "+"'];
  const u = parse(value);
  if (typeof u === "string") return [u];
  const out: string[] = [];
  const scheme = schemeProblem(u, rules);
  if (scheme) out.push(scheme);
  if (u.hostname === "localhost") out.push("must not use localhost (use 127.0.0.1 in tests)");
  if (u.origin !== value) out.push(`must be an origin only, scheme://host[:port] without path or trailing slash ("${u.origin}")`);
  return out;
}

function check(kind: string, client: string, values: readonly unknown[], problems: (v: unknown) => string[]): string[] {
  const errors: string[] = [];
  if (!Array.isArray(values) || values.length === 0) errors.push(`${kind} of client "${client}": at least one is required`);
  const seen = new Set<unknown>();
  for (const v of values ?? []) {
    if (seen.has(v)) errors.push(`${kind} of client "${client}": ${JSON.stringify(v)} is listed twice`);
    seen.add(v);
    for (const p of problems(v)) errors.push(`${kind} of client "${client}": ${JSON.stringify(v)} ${p}`);
  }
  return errors;
}

/**
 * Checks a client's redirect URIs and web origins; throws one Error listing every problem.
 * Returns sorted copies (stable input order for the provider, so reordering never shows as a diff).
 */
export function validateClientUris(
  client: string,
  redirectUris: readonly string[],
  webOrigins: readonly string[],
  rules: UriRules = {},
): { redirectUris: string[]; webOrigins: string[] } {
  const errors = [
    ...check("redirect URI", client, redirectUris, (v) => redirectUriProblems(v, rules)),
    ...check("web origin", client, webOrigins, (v) => webOriginProblems(v, rules)),
  ];
  if (errors.length > 0) throw new Error(`invalid OIDC client URIs:\n  ${errors.join("\n  ")}`);
  return { redirectUris: [...redirectUris].sort(), webOrigins: [...webOrigins].sort() };
}

/**
 * Problems of a wall client's redirect URI, on top of redirectUriProblems: wall clients have no PKCE, so
 * their only redirect URI must be the wall's own callback under WALL_AUTH_PATH (`/_wall/…`) of an https
 * origin (http on loopback only with rules.allowLoopbackHttp).
 */
export function wallRedirectUriProblems(value: unknown, rules: UriRules = {}): string[] {
  const out = redirectUriProblems(value, rules);
  if (out.length > 0) return out;
  const u = new URL(String(value));
  if (!u.pathname.startsWith(`${WALL_AUTH_PATH}/`)) out.push(`must be a wall callback under ${WALL_AUTH_PATH}/`);
  if (u.search) out.push("must not have a query");
  return out;
}

/** Throws one Error listing every problem of a wall client's redirect URIs (see wallRedirectUriProblems). */
export function validateWallRedirectUris(client: string, redirectUris: readonly string[], rules: UriRules = {}): void {
  const errors = check("redirect URI", client, redirectUris, (v) => wallRedirectUriProblems(v, rules));
  if (errors.length > 0) throw new Error(`invalid OIDC client URIs:\n  ${errors.join("\n  ")}`);
}
