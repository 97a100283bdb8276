// Lab: the OIDC wall for real. A real Keycloak (test/lab/support/keycloak.ts: realm, client policies,
// claims scope, tenant groups/roles and confidential clients as the program declares them), the real
// Caddy with caddy-security running the edge config renderEdgeCaddyfile generates for two tenants A and
// B (Paheko hostnames a.paheko.lab and b.paheko.lab), and one trivial backend standing for the shared
// Paheko instance (it answers with the Host it was asked for). A browser is simulated with http(s)
// requests and a cookie jar: redirects followed, the Keycloak login form posted.
// Proves: unauthenticated → redirected to Keycloak with the exact wall redirect URI; alice (A's Paheko
// role) logs in and reaches A, and gets 403 on B (after logging in there too, and with A's cookie
// replayed on B); bob (B's role) reaches B and gets 403 on A.
//
// The realm is the program's: startKeycloak applies FactoryRealm's definitions (client profiles and
// policies: PKCE S256 for every client but the walls, marked factory.wall=true) and runs its
// drop-encryption-keys command (no RSA-OAEP key in the JWKS); a and b's wall clients are registered as
// KeycloakClient registers them with `wall: true`.
// What the lab changes from production (everything else is the production renderer's output):
//  - Caddy listens on 127.0.0.1 free ports (`http_port`/`https_port`) and signs certificates with its
//    internal CA (`local_certs`, `skip_install_trust`) instead of ACME; no on-demand TLS block. The
//    client connects to 127.0.0.1 with SNI and Host set to the lab hostname, certificates not verified.
//  - Keycloak is plain http on 127.0.0.1 (metadata_url/issuer point there instead of https://auth.<domain>).
//  - Tenant c's wall client is registered WITHOUT the wall settings (as an application client with PKCE
//    S256): caddy-security v1.1.31 sends no code_challenge and Keycloak refuses it, which shows why.
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { edgeWalls, renderEdgeCaddyfile } from "../../src/caddy/edge";
import { WALL_CLIENT_ATTRIBUTE, WALL_TOKEN_KEY_FILE, wallRedirectUri, wallRootUrl } from "../../src/caddy/wall";
import { Tenant } from "../../src/types";
import { freePort, KeycloakLab, keycloakSkipReason, startKeycloak } from "./support/keycloak";

const CACHE = process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory");
const CADDY = process.env.SF_CADDY ?? path.join(CACHE, "bin", "caddy");
const caddyProblem = !fs.existsSync(CADDY)
  ? `${CADDY} missing (run scripts/lab/install-test-tools.sh)`
  : /^security$/m.test(spawnSync(CADDY, ["list-modules"], { encoding: "utf8" }).stdout) ? undefined : `${CADDY} lacks caddy-security`;
if (caddyProblem && process.env.CI) throw new Error(caddyProblem);
const skip = caddyProblem ?? keycloakSkipReason() ?? false;

const PASSWORD = "Lab-password-2026!";

function tenant(slug: string): Tenant {
  return { slug, name: slug, contact: `x@${slug}.lab`, status: "active", dns: "external", admins: [], file: `${slug}.yaml`,
    services: { paheko: { hostname: `${slug}.paheko.lab` } } };
}

interface Reply { status: number; location?: string; body: string; setCookies: string[] }

/** A minimal browser: one cookie jar per hostname, https to Caddy (SNI + Host), http to Keycloak. */
class Browser {
  jar = new Map<string, Map<string, string>>();
  constructor(private caddyPort: number) {}

  cookies(host: string): Map<string, string> {
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    return this.jar.get(host)!;
  }

  async get(url: string): Promise<Reply> {
    const u = new URL(url);
    const jar = this.cookies(u.hostname);
    const headers: Record<string, string> = { host: u.host, accept: "text/html" };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const reply = await new Promise<Reply>((resolve, reject) => {
      const done = (res: http.IncomingMessage) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body, setCookies: res.headers["set-cookie"] ?? [] }));
      };
      const req = u.protocol === "https:"
        ? https.get({ host: "127.0.0.1", port: this.caddyPort, servername: u.hostname, path: u.pathname + u.search, headers, rejectUnauthorized: false, agent: false }, done)
        : http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers, agent: false }, done);
      req.on("error", reject);
    });
    for (const c of reply.setCookies) {
      const [pair, ...attrs] = c.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=(0|-)/i.test(a)) || value === "";
      if (expired) jar.delete(name); else jar.set(name, value);
    }
    return reply;
  }

  /** Follows redirects from url; stops at the first answer that is not a redirect or that leaves for another origin than Caddy's hosts. */
  async follow(url: string, stopAt?: (u: URL) => boolean): Promise<{ url: string; reply: Reply }> {
    let current = url;
    for (let i = 0; i < 15; i++) {
      const reply = await this.get(current);
      if (reply.status < 300 || reply.status >= 400 || !reply.location) return { url: current, reply };
      const next = new URL(reply.location, current).href;
      if (stopAt?.(new URL(next))) return { url: next, reply };
      current = next;
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

describe("the caddy-security OIDC wall with a real Keycloak", { skip }, () => {
  let kc: KeycloakLab | undefined;
  let caddy: ChildProcess | undefined;
  let backend: http.Server | undefined;
  let dir = "";
  let httpsPort = 0;
  let caddyLog = "";
  // c's wall client is registered as an application client (PKCE S256 required, no factory.wall attribute).
  const tenants = [tenant("a"), tenant("b"), tenant("c")];
  const origin = (slug: string) => wallRootUrl(`${slug}.paheko.lab`, { port: httpsPort });
  const isKeycloak = (u: URL) => kc !== undefined && u.origin === new URL(kc.url).origin;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-wall-"));
    kc = await startKeycloak();
    // The realm is the program's (startKeycloak: FactoryRealm's client profiles and policies, and its
    // drop-encryption-keys command). caddy-security refuses the whole JWKS when one key has an algorithm it
    // does not know ("jwks unsupported key algorithm RSA-OAEP"): only signing keys may be published.
    const jwks = (await (await fetch(`${kc.issuer}/protocol/openid-connect/certs`)).json()) as { keys: { alg: string; use: string }[] };
    assert.ok(jwks.keys.length > 0);
    assert.deepEqual(jwks.keys.filter((k) => k.use !== "sig"), [], "only signing keys are published");

    httpsPort = await freePort();
    const httpPort = await freePort();
    const secrets = path.join(dir, "secrets");
    fs.mkdirSync(secrets, { mode: 0o700 });
    fs.writeFileSync(path.join(secrets, WALL_TOKEN_KEY_FILE), "lab-wall-token-key-0123456789abcdefghij");
    for (const t of tenants) await kc.addTenant(t.slug, ["paheko"]);
    for (const w of edgeWalls(tenants)) {
      const c = await kc.addClient({
        clientId: w.clientId, rootUrl: wallRootUrl(w.hostname, { port: httpsPort }),
        redirectUris: [wallRedirectUri(w.hostname, { port: httpsPort })], webOrigins: [wallRootUrl(w.hostname, { port: httpsPort })],
        scopeRoles: [w.role],
        // As the program registers them (KeycloakClient with wall: true), created in one request; c's is
        // registered as an application client (PKCE S256), to show what the wall settings are for.
        wall: w.tenant !== "c",
      });
      fs.writeFileSync(path.join(secrets, w.secretFile), c.clientSecret);
      const rep = (await (await kc.admin("GET", `/clients/${c.id}`)).json()) as { attributes: Record<string, string> };
      if (w.tenant === "c") {
        assert.equal(rep.attributes["pkce.code.challenge.method"], "S256");
        assert.equal(rep.attributes[WALL_CLIENT_ATTRIBUTE], undefined);
      } else {
        assert.equal(rep.attributes[WALL_CLIENT_ATTRIBUTE], "true");
        assert.ok(!rep.attributes["pkce.code.challenge.method"], `${w.clientId} has no PKCE method`);
      }
    }
    await kc.addUser({ username: "alice", password: PASSWORD, groups: ["a"] });
    await kc.addUser({ username: "bob", password: PASSWORD, groups: ["b"] });

    backend = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`paheko for ${req.headers.host}`);
    });
    await new Promise<void>((r) => backend!.listen(0, "127.0.0.1", () => r()));
    const backendPort = (backend.address() as net.AddressInfo).port;

    const config = renderEdgeCaddyfile({
      domain: "factory.lab", acmeEmail: "ops@factory.lab", realm: kc.realm, garageAdminUrl: "http://127.0.0.1:9/",
      upstreams: { keycloak: kc.url, collabora: "127.0.0.1:9", garageS3: "127.0.0.1:9", garageWeb: "127.0.0.1:9",
        paheko: `127.0.0.1:${backendPort}`, wordpress: "127.0.0.1:9", nextcloud: {} },
      tenants, secretsDir: secrets, keycloakPublicUrl: kc.url, adminAddress: `127.0.0.1:${await freePort()}`,
      lab: { httpPort, httpsPort },
    });
    const file = path.join(dir, "Caddyfile");
    fs.writeFileSync(file, config);
    caddyLog = path.join(dir, "caddy.log");
    const out = fs.openSync(caddyLog, "a");
    caddy = spawn(CADDY, ["run", "--config", file, "--adapter", "caddyfile"], {
      cwd: dir, stdio: ["ignore", out, out],
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") },
    });
    fs.closeSync(out);
    // Ready when the wall redirects to Keycloak (caddy-security fetches the metadata after delay_start).
    const browser = new Browser(httpsPort);
    for (let i = 0; ; i++) {
      try {
        const { url } = await browser.follow(`${origin("a")}/`, isKeycloak);
        if (isKeycloak(new URL(url))) break;
      } catch { /* not listening yet */ }
      if (caddy.exitCode !== null || i > 300) throw new Error(`caddy is not ready:\n${fs.readFileSync(caddyLog, "utf8").slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    if (caddy && caddy.exitCode === null) {
      const exited = new Promise((r) => caddy!.once("exit", r));
      caddy.kill("SIGTERM");
      await exited;
    }
    await new Promise((r) => (backend ? backend.close(r) : r(undefined)));
    await kc?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Logs `user` in through the wall of tenant `slug`, returns where the browser lands after the callback. */
  async function login(browser: Browser, slug: string, user: string): Promise<Reply> {
    const start = await browser.follow(`${origin(slug)}/`, isKeycloak);
    assert.ok(isKeycloak(new URL(start.url)), `expected a redirect to Keycloak, got ${start.url}`);
    const callback = await kc!.login(start.url, user, PASSWORD);
    assert.ok(callback.startsWith(wallRedirectUri(`${slug}.paheko.lab`, { port: httpsPort }) + "?"), callback);
    return (await browser.follow(callback)).reply;
  }

  it("sends an unauthenticated browser to Keycloak with the wall's client and exact redirect URI", async () => {
    const browser = new Browser(httpsPort);
    const first = await browser.get(`${origin("a")}/`);
    assert.equal(first.status, 302);
    assert.match(first.location!, /\/_wall\/oauth2\/kc-a_paheko_lab\?redirect_url=/);
    const { url } = await browser.follow(`${origin("a")}/`, isKeycloak);
    const u = new URL(url);
    assert.equal(u.origin + u.pathname, kc!.authorizationEndpoint);
    assert.equal(u.searchParams.get("client_id"), "wall-paheko-a");
    assert.equal(u.searchParams.get("redirect_uri"), wallRedirectUri("a.paheko.lab", { port: httpsPort }));
    assert.equal(u.searchParams.get("response_type"), "code");
  });

  it("lets alice (role paheko:a) reach A, and refuses her on B with 403", async () => {
    const browser = new Browser(httpsPort);
    const landed = await login(browser, "a", "alice");
    assert.equal(landed.status, 200, `${landed.status} ${landed.body.slice(0, 300)}\n${fs.readFileSync(caddyLog, "utf8").slice(-2000)}`);
    assert.equal(landed.body, "paheko for a.paheko.lab");
    assert.deepEqual(await browser.get(`${origin("a")}/admin/`).then((r) => [r.status, r.body]), [200, "paheko for a.paheko.lab"]);

    // A's session cookie replayed on B: same signing key, but B's policy wants paheko:b.
    const replay = new Browser(httpsPort);
    const token = browser.cookies("a.paheko.lab").get("access_token");
    assert.ok(token, "the wall set an access_token cookie on A");
    replay.cookies("b.paheko.lab").set("access_token", token);
    const replayed = await replay.get(`${origin("b")}/`);
    assert.equal(replayed.status, 403);
    assert.doesNotMatch(replayed.body, /paheko for/);

    // Logging in on B's own wall gives her a B session, still without B's role.
    const onB = await login(browser, "b", "alice");
    assert.equal(onB.status, 403);
    assert.doesNotMatch(onB.body, /paheko for/);
    assert.equal((await browser.get(`${origin("b")}/`)).status, 403);
  });

  it("shows why the wall clients need the PKCE exemption: Keycloak refuses caddy-security's request otherwise", async () => {
    const browser = new Browser(httpsPort);
    const { url } = await browser.follow(`${origin("c")}/`, isKeycloak);
    assert.equal(new URL(url).searchParams.get("code_challenge"), null, "caddy-security sends no PKCE challenge");
    // Keycloak sends the browser back to the wall's callback with an error instead of a login form.
    const page = await browser.get(url);
    assert.equal(page.status, 302);
    const back = new URL(page.location!);
    assert.equal(back.origin + back.pathname, wallRedirectUri("c.paheko.lab", { port: httpsPort }));
    assert.equal(back.searchParams.get("error"), "invalid_request");
    assert.match(back.searchParams.get("error_description") ?? "", /code_challenge_method/);
  });

  it("lets bob (role paheko:b) reach B, and refuses him on A with 403", async () => {
    const browser = new Browser(httpsPort);
    const landed = await login(browser, "b", "bob");
    assert.equal(landed.status, 200, landed.body.slice(0, 300));
    assert.equal(landed.body, "paheko for b.paheko.lab");
    const onA = await login(browser, "a", "bob");
    assert.equal(onA.status, 403);
  });
});
