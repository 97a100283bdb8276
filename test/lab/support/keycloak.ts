// Keycloak lab fixture: a real Keycloak (the server distribution cached by scripts/lab/install-test-tools.sh)
// on 127.0.0.1, with a realm configured exactly like components/identity.ts configures it, from the same
// pure definitions (src/keycloak/*): realm settings, client policy profiles and policies (exact redirect URIs
// and PKCE S256 for every client; with `wallPkce: false`, PKCE for every client but the walls), no RSA-OAEP key (FactoryRealm's command, run as the
// program registers it), the shared `factory-claims` client scope with the flat `roles` and `groups` mappers, the
// realm's default default-scopes set to exactly CLIENT_DEFAULT_SCOPES (as RealmDefaultClientScopes: authoritative),
// tenant groups and `<service>:<slug>` roles, confidential clients with full scope off and role scope mappings;
// clients list no scopes (as keycloak.openid.Client) and addClient checks Keycloak gave them exactly the realm's.
//
// API (everything a wall or token test needs):
//   const why = keycloakSkipReason();          // undefined when Keycloak can run; throws when CI is set and it cannot
//   const kc = await startKeycloak();          // free ports, temp dir, realm "factory" ready; ~20-40 s
//                                             // ({ wallPkce: false }: the realm of that stack setting)
//   await kc.setClientPolicies(wallPkce)       // rewrites the realm's profiles and policies for that setting
//   kc.url / kc.realm / kc.issuer / kc.discoveryUrl / kc.authorizationEndpoint / kc.tokenEndpoint
//   await kc.addTenant("a", ["paheko"])        // group "a" holding role "paheko:a"; returns the role names
//   const c = await kc.addClient({ clientId, rootUrl, redirectUris, webOrigins, scopeRoles: ["paheko:a"] })
//                                             // confidential client like KeycloakClient; c.clientSecret
//                                             // (wall: true → a wall client as the realm's wallPkce makes it:
//                                             // PKCE S256, or with wallPkce false no PKCE and factory.wall=true;
//                                             // `wallPkce` on the call overrides the realm's)
//   await kc.addUser({ username, password, groups: ["a"], roles?: ["paheko:b"] })
//   const cb = await kc.login(authorizeUrl, username, password)  // drives the login form, returns the
//                                             // redirect (callback URL with ?code=…) Keycloak answers with
//   await kc.admin("GET", "/clients")         // raw admin REST call on the realm (path after /admin/realms/<realm>)
//   await kc.stop()                            // kills the server, removes its temp dir
// Loopback redirect URIs are registered without their port (OAuth 2.1 loopback rule, enforced by the
// profile) and Keycloak then accepts them on any port: a wall on a free port works without re-registering.
// Passwords of lab users must satisfy the realm's policy (REALM_SETTINGS.passwordPolicy: 12+ characters,
// not the username or e-mail). Redirect URIs may be http://127.0.0.1:<port>/… (the lab profile allows
// loopback http; the program's does not).
import { ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  claimsScopeRepresentation, clientPoliciesRepresentation, clientProfilesRepresentation, clientRepresentation,
  realmRepresentation,
} from "../../../src/keycloak/definitions";
import { KEYS_SCRIPT_INTERPRETER, KeysScriptEnv, renderDropEncryptionKeysScript } from "../../../src/keycloak/keys";
import { CLIENT_DEFAULT_SCOPES, groupName, RoleService, roleName, roleServices } from "../../../src/keycloak/naming";
import { validateClientUris, validateWallRedirectUris } from "../../../src/keycloak/redirects";
import { ServiceName } from "../../../src/types";
import { freePort } from "../../../scripts/lab/net";
export { freePort };

export const KEYCLOAK_HOME = process.env.SF_KEYCLOAK_HOME
  ?? path.join(process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory"), "keycloak");

/** Why Keycloak cannot run here (undefined if it can). Throws instead when CI is set: CI must not skip. */
export function keycloakSkipReason(): string | undefined {
  const missing: string[] = [];
  if (!fs.existsSync(path.join(KEYCLOAK_HOME, "bin", "kc.sh"))) missing.push(`${KEYCLOAK_HOME}/bin/kc.sh (run scripts/lab/install-test-tools.sh)`);
  if (!onPath("java")) missing.push("java (Java 17+)");
  if (missing.length === 0) return undefined;
  const why = `Keycloak lab unavailable: missing ${missing.join(", ")}`;
  if (process.env.CI) throw new Error(why);
  return why;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, cmd)));
}


export interface LabClient {
  clientId: string;
  /** Keycloak's internal id of the client. */
  id: string;
  clientSecret: string;
}

export interface KeycloakLab {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  realm: string;
  /** http://127.0.0.1:<port>/realms/<realm> */
  issuer: string;
  discoveryUrl: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** Server log file (kept until stop()). */
  logFile: string;
  admin(method: string, realmPath: string, body?: unknown): Promise<Response>;
  addTenant(slug: string, services: readonly ServiceName[]): Promise<Partial<Record<RoleService, string>>>;
  /**
   * wall: a caddy-security wall client as KeycloakClient makes it with `wall: true` and the setting
   * `wallPkce` (default: the realm's, see StartOptions).
   */
  addClient(o: { clientId: string; rootUrl: string; redirectUris: string[]; webOrigins: string[]; scopeRoles: string[]; wall?: boolean; wallPkce?: boolean }): Promise<LabClient>;
  /** Rewrites the realm's client profiles and policies as FactoryRealm registers them for `wallPkce` (lab URI rules). */
  setClientPolicies(wallPkce: boolean): Promise<void>;
  /** The wallPkce the realm's client policies currently follow. */
  readonly wallPkce: boolean;
  /**
   * Runs FactoryRealm's `drop-encryption-keys` command exactly as the program registers it (same
   * interpreter, script and environment variables); startKeycloak already ran it once.
   */
  dropEncryptionKeys(): Promise<{ code: number; stdout: string; stderr: string }>;
  addUser(o: { username: string; password: string; email?: string; groups?: string[]; roles?: string[] }): Promise<string>;
  login(authorizeUrl: string, username: string, password: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Realm name; default "factory" (the settings default). */
  realm?: string;
  /** Upper bound for the server to answer, default 240 s (a safety net, not a measured threshold). */
  startTimeoutMs?: number;
  /** The stack setting wallPkce the realm's client policies follow; default true (the setting's default). */
  wallPkce?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startKeycloak(opts: StartOptions = {}): Promise<KeycloakLab> {
  const why = keycloakSkipReason();
  if (why) throw new Error(why);
  const realm = opts.realm ?? "factory";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-keycloak-"));
  // A private copy of the distribution: start-dev re-augments into lib/quarkus and writes data/, which
  // two lab tests running at once must not share. The copy is ~160 MB of files and takes well under a second.
  const home = path.join(dir, "dist");
  fs.cpSync(KEYCLOAK_HOME, home, { recursive: true });
  fs.rmSync(path.join(home, "data"), { recursive: true, force: true });
  const port = await freePort();
  const mgmtPort = await freePort();
  const adminPassword = randomBytes(18).toString("base64url");
  const logFile = path.join(dir, "keycloak.log");
  const log = fs.openSync(logFile, "a");
  // A small watchdog shell runs Keycloak and stops it (and removes the temp dir) when this test process
  // disappears without calling stop() (killed by a timeout, crashed): no server outlives its test.
  const watchdog = [
    '"$SF_KC_SH" start-dev --http-host=127.0.0.1 --http-port="$SF_KC_PORT" --http-management-port="$SF_KC_MGMT" --db=dev-mem &',
    "kc=$!",
    'while kill -0 "$SF_KC_PARENT" 2>/dev/null && kill -0 "$kc" 2>/dev/null; do sleep 1; done',
    'kill "$kc" 2>/dev/null; wait "$kc"; status=$?',
    'kill -0 "$SF_KC_PARENT" 2>/dev/null || rm -rf "$SF_KC_DIR"',
    'exit "$status"',
  ].join("\n");
  const child: ChildProcess = spawn("bash", ["-c", watchdog], {
    cwd: dir,
    detached: true, // own process group: stop() kills the watchdog and java together
    stdio: ["ignore", log, log],
    env: {
      ...process.env,
      SF_KC_SH: path.join(home, "bin", "kc.sh"),
      SF_KC_PORT: String(port),
      SF_KC_MGMT: String(mgmtPort),
      SF_KC_PARENT: String(process.pid),
      SF_KC_DIR: dir,
      KC_BOOTSTRAP_ADMIN_USERNAME: "admin",
      KC_BOOTSTRAP_ADMIN_PASSWORD: adminPassword,
      JAVA_OPTS_APPEND: `-Djava.io.tmpdir=${dir}`,
    },
  });
  fs.closeSync(log);
  let exited: number | null | undefined;
  const exitPromise = new Promise<void>((resolve) => child.once("exit", (code) => { exited = code; resolve(); }));

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited === undefined && child.pid) {
      try { process.kill(-child.pid, "SIGTERM"); } catch { /* already gone */ }
      const killer = setTimeout(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ } }, 15000);
      await exitPromise;
      clearTimeout(killer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 240000);
    for (;;) {
      if (exited !== undefined) throw new Error(`Keycloak exited with ${exited} while starting:\n${tail(logFile)}`);
      if (Date.now() > deadline) throw new Error(`Keycloak did not answer on ${url}:\n${tail(logFile)}`);
      try {
        const r = await fetch(`${url}/realms/master`);
        if (r.ok) break;
      } catch { /* not listening yet */ }
      await sleep(500);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  let token: { value: string; at: number } | undefined;
  async function adminToken(): Promise<string> {
    if (token && Date.now() - token.at < 20000) return token.value;
    const r = await fetch(`${url}/realms/master/protocol/openid-connect/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: "admin", password: adminPassword }),
    });
    if (!r.ok) throw new Error(`admin login failed: ${r.status} ${await r.text()}`);
    token = { value: ((await r.json()) as { access_token: string }).access_token, at: Date.now() };
    return token.value;
  }
  async function adminRaw(method: string, p: string, body?: unknown): Promise<Response> {
    return fetch(`${url}/admin/realms${p}`, {
      method,
      headers: { authorization: `Bearer ${await adminToken()}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
  async function must(method: string, p: string, body?: unknown): Promise<Response> {
    const r = await adminRaw(method, p, body);
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
    return r;
  }
  const R = `/${realm}`;
  let wallPkce = opts.wallPkce ?? true;
  let written = false;
  async function setClientPolicies(to: boolean): Promise<void> {
    // A policy may only name a profile that exists: profiles first for a new realm and when the wall
    // profile comes (FactoryRealm's order), policies first when it goes (wallPkce false -> true).
    const profiles = () => must("PUT", `${R}/client-policies/profiles`, clientProfilesRepresentation({ allowLoopbackHttp: true }, to));
    const policies = () => must("PUT", `${R}/client-policies/policies`, clientPoliciesRepresentation(to));
    if (written && to && !wallPkce) { await policies(); await profiles(); } else { await profiles(); await policies(); }
    wallPkce = to;
    written = true;
  }
  function dropEncryptionKeys(): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: KeysScriptEnv = { KC_URL: url, KC_REALM: realm, KC_ADMIN_USER: "admin", KC_ADMIN_PASSWORD: adminPassword };
    const [cmd, ...args] = KEYS_SCRIPT_INTERPRETER;
    return new Promise((resolve) => {
      execFile(cmd, [...args, renderDropEncryptionKeysScript()], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }
  async function roleRep(name: string): Promise<{ id: string; name: string }> {
    return (await (await must("GET", `${R}/roles/${encodeURIComponent(name)}`)).json()) as { id: string; name: string };
  }
  async function groupId(name: string): Promise<string> {
    const groups = (await (await must("GET", `${R}/groups?exact=true&search=${encodeURIComponent(name)}`)).json()) as { id: string; name: string }[];
    const g = groups.find((x) => x.name === name);
    if (!g) throw new Error(`no group ${name}`);
    return g.id;
  }
  const idOf = (r: Response) => r.headers.get("location")!.split("/").pop()!;

  try {
    // The realm, as FactoryRealm declares it.
    await must("POST", "", realmRepresentation(realm));
    await must("POST", `${R}/client-scopes`, claimsScopeRepresentation());
    // As RealmDefaultClientScopes: the realm's default default-scopes become exactly CLIENT_DEFAULT_SCOPES.
    const all = (await (await must("GET", `${R}/client-scopes`)).json()) as { id: string; name: string }[];
    const defaults = (await (await must("GET", `${R}/default-default-client-scopes`)).json()) as { id: string; name: string }[];
    for (const s of defaults) {
      if (!(CLIENT_DEFAULT_SCOPES as readonly string[]).includes(s.name)) await must("DELETE", `${R}/default-default-client-scopes/${s.id}`);
    }
    for (const name of CLIENT_DEFAULT_SCOPES) {
      const s = all.find((x) => x.name === name);
      if (!s) throw new Error(`client scope ${name} missing in the realm`);
      if (!defaults.some((d) => d.id === s.id)) await must("PUT", `${R}/default-default-client-scopes/${s.id}`);
    }
    await setClientPolicies(wallPkce);
    const dropped = await dropEncryptionKeys();
    if (dropped.code !== 0) throw new Error(`drop-encryption-keys failed (${dropped.code}): ${dropped.stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }

  const issuer = `${url}/realms/${realm}`;
  return {
    url, realm, issuer, logFile,
    get wallPkce() { return wallPkce; },
    setClientPolicies,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    authorizationEndpoint: `${issuer}/protocol/openid-connect/auth`,
    tokenEndpoint: `${issuer}/protocol/openid-connect/token`,
    admin: (method, p, body) => adminRaw(method, `${R}${p}`, body),
    dropEncryptionKeys,

    async addTenant(slug, services) {
      // As TenantIdentity: group named after the slug, one realm role per role service, roles on the group.
      const gid = idOf(await must("POST", `${R}/groups`, { name: groupName(slug) }));
      const out: Partial<Record<RoleService, string>> = {};
      const reps: { id: string; name: string }[] = [];
      for (const s of roleServices(services)) {
        const name = roleName(s, slug);
        await must("POST", `${R}/roles`, { name, description: `${s} access for tenant ${slug}` });
        reps.push(await roleRep(name));
        out[s] = name;
      }
      if (reps.length > 0) await must("POST", `${R}/groups/${gid}/role-mappings/realm`, reps);
      return out;
    },

    async addClient(o) {
      // As KeycloakClient: validated URIs, CLIENT_HARDENING, role scope mappings; default scopes from the realm.
      const uris = validateClientUris(o.clientId, o.redirectUris, o.webOrigins, { allowLoopbackHttp: true });
      if (o.wall) validateWallRedirectUris(o.clientId, o.redirectUris, { allowLoopbackHttp: true });
      const secret = randomBytes(36).toString("base64url");
      // OAuth 2.1 (the profile's oauth-2-1-compliant) registers loopback redirect URIs without a port and
      // accepts any port on them at authorization time (RFC 8252 §7.3): register them that way.
      const registered = uris.redirectUris.map(loopbackRegistration);
      const id = idOf(await must("POST", `${R}/clients`, clientRepresentation({ clientId: o.clientId, secret, rootUrl: o.rootUrl, redirectUris: registered, webOrigins: uris.webOrigins, wall: o.wall, wallPkce: o.wall ? o.wallPkce ?? wallPkce : undefined })));
      // Nothing sets the client's default scopes: Keycloak must have given it exactly the realm's defaults.
      const current = (await (await must("GET", `${R}/clients/${id}/default-client-scopes`)).json()) as { name: string }[];
      const got = current.map((s) => s.name).sort();
      const want = [...CLIENT_DEFAULT_SCOPES].sort();
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`client ${o.clientId}: default scopes ${got.join(" ")}, expected the realm's ${want.join(" ")}`);
      const optional = (await (await must("GET", `${R}/clients/${id}/optional-client-scopes`)).json()) as { id: string }[];
      for (const s of optional) await must("DELETE", `${R}/clients/${id}/optional-client-scopes/${s.id}`);
      if (o.scopeRoles.length > 0) {
        await must("POST", `${R}/clients/${id}/scope-mappings/realm`, await Promise.all(o.scopeRoles.map(roleRep)));
      }
      return { clientId: o.clientId, id, clientSecret: secret };
    },

    async addUser(o) {
      const uid = idOf(await must("POST", `${R}/users`, {
        username: o.username, email: o.email ?? `${o.username}@lab.example.org`, emailVerified: true, enabled: true,
        firstName: o.username, lastName: "Lab",
        credentials: [{ type: "password", value: o.password, temporary: false }],
      }));
      for (const g of o.groups ?? []) await must("PUT", `${R}/users/${uid}/groups/${await groupId(g)}`);
      if (o.roles?.length) await must("POST", `${R}/users/${uid}/role-mappings/realm`, await Promise.all(o.roles.map(roleRep)));
      return uid;
    },

    login: (authorizeUrl, username, password) => submitLogin(authorizeUrl, username, password),
    stop,
  };
}

/**
 * Opens `authorizeUrl` (Keycloak's authorization endpoint with its query), submits the login form and
 * returns the Location Keycloak redirects to (the client's callback with `code` and `state`). Throws with
 * the page's message when Keycloak answers anything else (refused request, wrong password).
 */
export async function submitLogin(authorizeUrl: string, username: string, password: string): Promise<string> {
  const jar = new Map<string, string>();
  const remember = (r: Response) => {
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair.indexOf("=");
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const page = await fetch(authorizeUrl, { redirect: "manual" });
  remember(page);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`authorization request answered ${page.status} ${page.headers.get("location") ?? ""} ${pageMessage(html)}`);
  const action = /<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no login form: ${pageMessage(html)}`);
  const post = await fetch(decodeEntities(action), {
    method: "POST",
    redirect: "manual",
    headers: { cookie: cookie(), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password, credentialId: "" }),
  });
  const location = post.headers.get("location");
  if (post.status !== 302 || !location) throw new Error(`login answered ${post.status}: ${pageMessage(await post.text())}`);
  return location;
}

/** `http://127.0.0.1:8443/cb` → `http://127.0.0.1/cb` (loopback only; other URIs unchanged). */
export function loopbackRegistration(uri: string): string {
  const u = new URL(uri);
  if (u.protocol === "http:" && (u.hostname === "127.0.0.1" || u.hostname === "[::1]")) u.port = "";
  return u.href;
}

function decodeEntities(s: string): string {
  return s.replace(/&amp;/g, "&").replace(/&#x3d;|&#61;/gi, "=").replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}

/** The visible error of a Keycloak page, for assertion messages. */
export function pageMessage(html: string): string {
  const m = /<(?:span|div)[^>]*(?:kc-feedback-text|instruction|alert)[^>]*>([\s\S]*?)<\/(?:span|div)>/.exec(html);
  return (m?.[1] ?? html.slice(0, 300)).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(no log)";
  }
}

/** PKCE pair (S256) and a state, for tests that drive the authorization code flow themselves. */
export function pkcePair(): { verifier: string; challenge: string; state: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url"), state: randomBytes(8).toString("hex") };
}

/** Decodes a JWT's payload (no signature check: the tests read claims of tokens they just received over loopback). */
export function jwtClaims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8")) as Record<string, unknown>;
}
