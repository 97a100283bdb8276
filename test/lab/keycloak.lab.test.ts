// A real Keycloak configured like the program configures it (test/lab/support/keycloak.ts, from the pure
// definitions in src/keycloak): tokens carry a flat top-level `roles` claim with exactly the tenant roles
// scoped to the client, and `groups`; unregistered redirect URIs, PKCE-less requests (but those of wall
// clients), wildcard or http clients and password grants are refused; only signing keys are published.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CLIENT_DEFAULT_SCOPES, clientIdFor, roleName } from "../../src/keycloak/naming";
import { clientProfilesRepresentation, clientRepresentation } from "../../src/keycloak/definitions";
import { freePort, jwtClaims, KeycloakLab, keycloakSkipReason, LabClient, pkcePair, startKeycloak, submitLogin } from "./support/keycloak";

const skip = keycloakSkipReason();
const PASSWORD = "correct-horse-battery-9";

describe("Keycloak realm as the program configures it", { skip }, () => {
  let kc: KeycloakLab;
  let client: LabClient;
  let redirectUri: string;

  before(async () => {
    kc = await startKeycloak();
    const port = await freePort(); // nothing listens: the test reads Keycloak's redirect instead of following it
    redirectUri = `http://127.0.0.1:${port}/caddy-security/oauth2/kc/authorization-code-callback`;
    await kc.addTenant("a", ["nextcloud", "paheko", "wordpress"]);
    await kc.addTenant("b", ["paheko"]);
    client = await kc.addClient({
      clientId: clientIdFor("app-paheko", "a"),
      rootUrl: `http://127.0.0.1:${port}`,
      redirectUris: [redirectUri],
      webOrigins: [`http://127.0.0.1:${port}`],
      scopeRoles: [roleName("paheko", "a")],
    });
    // alice: member of tenant a (paheko:a through the group) and holding paheko:b directly.
    await kc.addUser({ username: "alice", password: PASSWORD, groups: ["a"], roles: [roleName("paheko", "b")] });
  });
  after(async () => {
    await kc?.stop();
  });

  function authorizeUrl(params: Record<string, string | undefined>): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ response_type: "code", client_id: client.clientId, scope: "openid", ...params })) {
      if (v !== undefined) q.set(k, v);
    }
    return `${kc.authorizationEndpoint}?${q}`;
  }

  it("issues, through authorization code + PKCE, tokens with a flat roles claim limited to the client's scope, and groups", async () => {
    const { verifier, challenge, state } = pkcePair();
    const location = await kc.login(authorizeUrl({ redirect_uri: redirectUri, state, code_challenge: challenge, code_challenge_method: "S256" }), "alice", PASSWORD);
    const cb = new URL(location);
    assert.equal(`${cb.origin}${cb.pathname}`, redirectUri);
    assert.equal(cb.searchParams.get("state"), state);
    const code = cb.searchParams.get("code");
    assert.ok(code, `no code in ${location}`);

    // Without the verifier the code is worth nothing.
    const noVerifier = await fetch(kc.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, client_id: client.clientId, client_secret: client.clientSecret }),
    });
    assert.equal(noVerifier.status, 400);

    // A second login gives a fresh code (the first one was consumed by the failed exchange).
    const p2 = pkcePair();
    const cb2 = new URL(await kc.login(authorizeUrl({ redirect_uri: redirectUri, state: p2.state, code_challenge: p2.challenge, code_challenge_method: "S256" }), "alice", PASSWORD));
    const tokenRes = await fetch(kc.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code", code: cb2.searchParams.get("code")!, redirect_uri: redirectUri,
        client_id: client.clientId, client_secret: client.clientSecret, code_verifier: p2.verifier,
      }),
    });
    const body = (await tokenRes.json()) as { id_token: string; access_token: string };
    assert.equal(tokenRes.status, 200, JSON.stringify(body));
    void verifier;
    for (const [kind, jwt] of [["id_token", body.id_token], ["access_token", body.access_token]] as const) {
      const claims = jwtClaims(jwt);
      // Exactly the roles scoped to this client: paheko:a from the group; not paheko:b (held, but not in
      // scope), not nextcloud:a/wordpress:a (held through the group, not in scope), no default roles.
      assert.deepEqual(claims.roles, ["paheko:a"], `${kind} roles`);
      assert.deepEqual(claims.groups, ["a"], `${kind} groups`);
      assert.equal(claims.iss, kc.issuer);
      assert.equal(typeof claims.sub, "string", `${kind} has sub (basic scope)`);
      assert.equal(claims.resource_access, undefined, `${kind} has no resource_access`);
    }
    // The userinfo endpoint (which caddy-security may also read) carries the same flat claims.
    const ui = await fetch(`${kc.issuer}/protocol/openid-connect/userinfo`, { headers: { authorization: `Bearer ${body.access_token}` } });
    const info = (await ui.json()) as Record<string, unknown>;
    assert.deepEqual(info.roles, ["paheko:a"]);
    assert.deepEqual(info.groups, ["a"]);
  });

  it("refuses a redirect URI that is not registered, before any login form", async () => {
    const { challenge, state } = pkcePair();
    for (const bad of [`${redirectUri}/../evil`, `${redirectUri}x`, "https://evil.example.org/caddy-security/oauth2/kc/authorization-code-callback", `${redirectUri}?next=x`]) {
      const r = await fetch(authorizeUrl({ redirect_uri: bad, state, code_challenge: challenge, code_challenge_method: "S256" }), { redirect: "manual" });
      const html = await r.text();
      assert.equal(r.status, 400, `${bad} answered ${r.status}`);
      assert.equal(r.headers.get("location"), null);
      assert.match(html, /Invalid parameter: redirect_uri/);
      assert.doesNotMatch(html, /kc-form-login/);
    }
  });

  it("refuses an authorization request without PKCE or with the plain method", async () => {
    const { challenge, state } = pkcePair();
    for (const [label, params] of [
      ["no PKCE", { redirect_uri: redirectUri, state }],
      ["plain", { redirect_uri: redirectUri, state, code_challenge: challenge, code_challenge_method: "plain" }],
    ] as const) {
      const r = await fetch(authorizeUrl(params), { redirect: "manual" });
      const html = await r.text();
      assert.doesNotMatch(html, /kc-form-login/, `${label}: login form served`);
      // Keycloak reports the error to the (registered) redirect URI as the OAuth spec says.
      assert.equal(r.status, 302, `${label}: ${r.status} ${html.slice(0, 200)}`);
      const loc = new URL(r.headers.get("location")!);
      assert.equal(`${loc.origin}${loc.pathname}`, redirectUri);
      assert.equal(loc.searchParams.get("error"), "invalid_request", `${label}: ${loc}`);
      assert.equal(loc.searchParams.get("code"), null);
    }
    // And submitLogin (what the wall test uses) fails loudly on it.
    await assert.rejects(submitLogin(authorizeUrl({ redirect_uri: redirectUri, state }), "alice", PASSWORD), /authorization request answered 302/);
  });

  it("leaves Keycloak's own account console usable under the any-client policy", async () => {
    // account-console is a built-in public client with PKCE S256 and a wildcard registered redirect URI
    // (/realms/<realm>/account/*); the policy judges the redirect_uri of each request, which is exact.
    const { challenge, state } = pkcePair();
    const q = new URLSearchParams({
      response_type: "code", client_id: "account-console", scope: "openid", state,
      redirect_uri: `${kc.issuer}/account/`, code_challenge: challenge, code_challenge_method: "S256",
    });
    const location = await kc.login(`${kc.authorizationEndpoint}?${q}`, "alice", PASSWORD);
    const cb = new URL(location);
    assert.equal(`${cb.origin}${cb.pathname}`, `${kc.issuer}/account/`);
    assert.ok(cb.searchParams.get("code"), location);
  });

  it("refuses the password grant (direct access grants off)", async () => {
    const r = await fetch(kc.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: client.clientId, client_secret: client.clientSecret, username: "alice", password: PASSWORD, scope: "openid" }),
    });
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as { error: string }).error, "unauthorized_client");
  });

  it("the realm client policy refuses wildcard redirect URIs and clients without PKCE S256", async () => {
    const base = clientRepresentation({ clientId: "rogue", secret: "rogue-secret-rogue-secret", rootUrl: "https://rogue.example.org", redirectUris: ["https://rogue.example.org/cb"], webOrigins: ["https://rogue.example.org"] });
    const wildcard = await kc.admin("POST", "/clients", { ...base, clientId: "rogue-wildcard", redirectUris: ["https://rogue.example.org/*"] });
    assert.equal(wildcard.status, 400, await wildcard.text());
    const star = await kc.admin("POST", "/clients", { ...base, clientId: "rogue-star", redirectUris: ["*"] });
    assert.equal(star.status, 400, await star.text());
    const http = await kc.admin("POST", "/clients", { ...base, clientId: "rogue-http", redirectUris: ["http://rogue.example.org/cb"] });
    assert.equal(http.status, 400, await http.text());
    // Keycloak's client-attributes condition abstains when a client is written, so the PKCE policy (which
    // excludes the walls by that condition) does not judge registration: a PKCE-less client is stored, and
    // every PKCE-less authorization request of it is refused (below and in the PKCE test above).
    const noPkce = await kc.admin("POST", "/clients", { ...base, clientId: "rogue-nopkce", attributes: {} });
    assert.equal(noPkce.status, 201, await noPkce.text());
    const q = new URLSearchParams({ response_type: "code", client_id: "rogue-nopkce", scope: "openid", state: "s", redirect_uri: "https://rogue.example.org/cb" });
    const refused = await fetch(`${kc.authorizationEndpoint}?${q}`, { redirect: "manual" });
    assert.equal(refused.status, 302);
    assert.equal(new URL(refused.headers.get("location")!).searchParams.get("error"), "invalid_request");
    // The same representation with the factory's settings is accepted (the refusals above are the policy's).
    const ok = await kc.admin("POST", "/clients", base);
    assert.equal(ok.status, 201, await ok.text());
    const clients = (await (await kc.admin("GET", "/clients?clientId=rogue&search=false")).json()) as { defaultClientScopes: string[]; fullScopeAllowed: boolean }[];
    assert.equal(clients.length, 1);
    assert.equal(clients[0].fullScopeAllowed, false);
    // Registered without any scope list (as the provider does), it got exactly the realm's default scopes.
    assert.deepEqual([...clients[0].defaultClientScopes].sort(), [...CLIENT_DEFAULT_SCOPES].sort());
  });

  it("publishes signing keys only (FactoryRealm's key clean-up ran), and the clean-up is idempotent", async () => {
    const jwks = (await (await fetch(`${kc.issuer}/protocol/openid-connect/certs`)).json()) as { keys: { alg: string; use: string }[] };
    assert.ok(jwks.keys.length >= 1);
    assert.deepEqual(jwks.keys.filter((k) => k.use !== "sig"), []);
    assert.equal(jwks.keys.some((k) => k.alg === "RSA-OAEP"), false);
    const again = await kc.dropEncryptionKeys();
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^removed 0 encryption key provider\(s\); JWKS holds \d+ signing key\(s\) only\n$/);
    // Signing still works: the AES/HMAC providers stay (the login test above got signed tokens).
    const providers = (await (await kc.admin("GET", "/components?type=org.keycloak.keys.KeyProvider")).json()) as { providerId: string }[];
    assert.deepEqual(providers.map((p) => p.providerId).sort(), ["aes-generated", "hmac-generated", "rsa-generated"]);
  });

  it("lets wall clients (factory.wall=true) log in without PKCE, still under the redirect-URI rules; nobody else", async () => {
    const port = await freePort();
    const cb = `http://127.0.0.1:${port}/_wall/oauth2/kc-w/authorization-code-callback`;
    const rep = (clientId: string, wall: boolean, redirectUris = ["http://127.0.0.1/_wall/oauth2/kc-w/authorization-code-callback"]) =>
      clientRepresentation({ clientId, secret: "wall-secret-wall-secret-wall", rootUrl: `http://127.0.0.1:${port}`, redirectUris, webOrigins: [`http://127.0.0.1:${port}`], wall });
    // Created in one request, as the provider does, under the wall policy.
    const created = await kc.admin("POST", "/clients", rep("wall-paheko-w", true));
    assert.equal(created.status, 201, await created.text());
    // The wall profile keeps the redirect-URI rules.
    for (const bad of [["https://w.example.org/*"], ["*"], ["http://w.example.org/_wall/cb"]]) {
      const r = await kc.admin("POST", "/clients", rep(`wall-bad-${bad[0].length}`, true, bad));
      assert.equal(r.status, 400, `${bad}: ${await r.text()}`);
    }
    const q = (clientId: string) => `${kc.authorizationEndpoint}?${new URLSearchParams({ response_type: "code", client_id: clientId, scope: "openid", state: "s1", redirect_uri: cb })}`;
    // Without the marker (or with another value), the same PKCE-less client gets no login.
    const unmarked = rep("wall-unmarked", true);
    const r = await kc.admin("POST", "/clients", { ...unmarked, attributes: { ...(unmarked.attributes as object), "factory.wall": "false" } });
    assert.equal(r.status, 201, await r.text());
    assert.match((await fetch(q("wall-unmarked"), { redirect: "manual" })).headers.get("location") ?? "", /error=invalid_request/);
    // A PKCE-less authorization request (what caddy-security sends) gets the login form and a code.
    const location = new URL(await kc.login(q("wall-paheko-w"), "alice", PASSWORD));
    assert.equal(`${location.origin}${location.pathname}`, cb);
    assert.ok(location.searchParams.get("code"));

    // Migration of a wall client made by an earlier version (as an application client, PKCE S256): the
    // provider's single update (marker set, PKCE method emptied) is refused, because on updates Keycloak
    // judges the stored client (not yet marked); with the marker set first (docs/keycloak.md, by hand),
    // the provider's update goes through.
    const old = await kc.admin("POST", "/clients", rep("wall-paheko-old", false));
    assert.equal(old.status, 201, await old.text());
    assert.match(await (await fetch(q("wall-paheko-old"), { redirect: "manual" })).headers.get("location") ?? "", /error=invalid_request/);
    const id = old.headers.get("location")!.split("/").pop()!;
    const current = (await (await kc.admin("GET", `/clients/${id}`)).json()) as { attributes: Record<string, string> };
    const wallRep = rep("wall-paheko-old", true);
    const providerUpdate = { ...current, attributes: { ...current.attributes, ...(wallRep.attributes as object), "pkce.code.challenge.method": "" } };
    const oneStep = await kc.admin("PUT", `/clients/${id}`, providerUpdate);
    assert.equal(oneStep.status, 400, await oneStep.text());
    const mark = await kc.admin("PUT", `/clients/${id}`, { ...current, attributes: { ...current.attributes, "factory.wall": "true" } });
    assert.equal(mark.status, 204, await mark.text());
    const put = await kc.admin("PUT", `/clients/${id}`, providerUpdate);
    assert.equal(put.status, 204, await put.text());
    const migrated = new URL(await kc.login(q("wall-paheko-old"), "alice", PASSWORD));
    assert.ok(migrated.searchParams.get("code"), String(migrated));
  });

  it("accepts the program's own (strict) profile, which admits https clients and refuses loopback http", async () => {
    const put = await kc.admin("PUT", "/client-policies/profiles", clientProfilesRepresentation());
    assert.equal(put.status, 204, await put.text());
    const stored = (await (await kc.admin("GET", "/client-policies/profiles")).json()) as { profiles: { name: string; executors: { executor: string }[] }[] };
    assert.deepEqual(stored.profiles.map((p) => [p.name, p.executors.map((e) => e.executor)]), [
      ["factory-secure-clients", ["secure-redirect-uris-enforcer", "pkce-enforcer"]],
      ["factory-wall-clients", ["secure-redirect-uris-enforcer"]],
    ]);
    const https = await kc.admin("POST", "/clients", clientRepresentation({ clientId: "strict-https", secret: "strict-secret-strict-secret", rootUrl: "https://s.example.org", redirectUris: ["https://s.example.org/cb"], webOrigins: ["https://s.example.org"] }));
    assert.equal(https.status, 201, await https.text());
    const loop = await kc.admin("POST", "/clients", clientRepresentation({ clientId: "strict-loop", secret: "strict-secret-strict-secret", rootUrl: "http://127.0.0.1", redirectUris: ["http://127.0.0.1/cb"], webOrigins: ["http://127.0.0.1"] }));
    assert.equal(loop.status, 400, await loop.text());
    // Back to the lab profile for whatever runs after.
    await kc.admin("PUT", "/client-policies/profiles", clientProfilesRepresentation({ allowLoopbackHttp: true }));
  });
});
