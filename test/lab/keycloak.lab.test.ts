// A real Keycloak configured like the program configures it (test/lab/support/keycloak.ts, from the pure
// definitions in src/keycloak): tokens carry a flat top-level `roles` claim with exactly the tenant roles
// scoped to the client, and `groups`; unregistered redirect URIs, PKCE-less requests and PKCE-less
// clients (the walls included: wallPkce true, the default), wildcard or http clients and password grants
// are refused; only signing keys are published. The realm of `wallPkce: false` (the walls' exemption) and
// the switch between the two, as the provider performs it, are checked too.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CLIENT_DEFAULT_SCOPES, clientIdFor, roleName } from "../../src/keycloak/naming";
import { clientPoliciesRepresentation, clientProfilesRepresentation, clientRepresentation } from "../../src/keycloak/definitions";
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
    // The PKCE policy judges every client (any-client) when it is written too: a PKCE-less client, marked
    // factory.wall=true or not, is not even stored.
    for (const [clientId, attributes] of [["rogue-nopkce", {}], ["rogue-marked", { "factory.wall": "true" }], ["rogue-plain", { "pkce.code.challenge.method": "plain" }]] as const) {
      const r = await kc.admin("POST", "/clients", { ...base, clientId, attributes });
      const text = await r.text();
      assert.equal(r.status, 400, `${clientId}: ${text}`);
      assert.match(text, /code_challenge_method/, clientId);
    }
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

  /** Wall client representations on a loopback callback (the lab profile), and an authorization URL without PKCE. */
  function wallFixture() {
    return freePort().then((port) => {
      const cb = `http://127.0.0.1:${port}/_wall/oauth2/kc-w/authorization-code-callback`;
      const rep = (clientId: string, wallPkce: boolean, redirectUris = ["http://127.0.0.1/_wall/oauth2/kc-w/authorization-code-callback"]) =>
        clientRepresentation({ clientId, secret: "wall-secret-wall-secret-wall", rootUrl: `http://127.0.0.1:${port}`, redirectUris, webOrigins: [`http://127.0.0.1:${port}`], wall: true, wallPkce });
      const q = (clientId: string, pkce?: { challenge: string }) => `${kc.authorizationEndpoint}?${new URLSearchParams({
        response_type: "code", client_id: clientId, scope: "openid", state: "s1", redirect_uri: cb,
        ...(pkce ? { code_challenge: pkce.challenge, code_challenge_method: "S256" } : {}),
      })}`;
      const refusedWithoutPkce = async (clientId: string) => {
        const r = await fetch(q(clientId), { redirect: "manual" });
        assert.equal(r.status, 302, `${clientId}: ${r.status}`);
        const loc = new URL(r.headers.get("location")!);
        assert.equal(loc.searchParams.get("error"), "invalid_request", `${clientId}: ${loc}`);
        assert.match(loc.searchParams.get("error_description") ?? "", /code_challenge_method/, clientId);
      };
      return { cb, rep, q, refusedWithoutPkce };
    });
  }

  it("wallPkce (default): a wall client requires PKCE S256 like every client, and a factory.wall=true attribute exempts nothing", async () => {
    assert.equal(kc.wallPkce, true);
    const { cb, rep, q, refusedWithoutPkce } = await wallFixture();
    const created = await kc.admin("POST", "/clients", rep("wall-paheko-p", true));
    assert.equal(created.status, 201, await created.text());
    const stored = (await (await kc.admin("GET", `/clients/${created.headers.get("location")!.split("/").pop()}`)).json()) as { attributes: Record<string, string> };
    assert.equal(stored.attributes["pkce.code.challenge.method"], "S256");
    assert.equal(stored.attributes["factory.wall"], undefined);
    // What caddy-security v1.1.31 sends (no code_challenge) is refused; what v1.1.61+ sends logs in.
    await refusedWithoutPkce("wall-paheko-p");
    const p = pkcePair();
    const back = new URL(await kc.login(q("wall-paheko-p", p), "alice", PASSWORD));
    assert.equal(`${back.origin}${back.pathname}`, cb);
    const code = back.searchParams.get("code");
    assert.ok(code, String(back));
    // The code needs the verifier and the client secret.
    const token = (extra: Record<string, string>) => fetch(kc.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: cb, client_id: "wall-paheko-p", client_secret: "wall-secret-wall-secret-wall", ...extra }),
    });
    assert.equal((await token({ code_verifier: pkcePair().verifier })).status, 400, "a wrong verifier is refused");
    // (The failed exchange consumed the code: a fresh login for the good one.)
    const p2 = pkcePair();
    const code2 = new URL(await kc.login(q("wall-paheko-p", p2), "alice", PASSWORD)).searchParams.get("code")!;
    const ok = await fetch(kc.tokenEndpoint, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "authorization_code", code: code2, redirect_uri: cb, client_id: "wall-paheko-p", client_secret: "wall-secret-wall-secret-wall", code_verifier: p2.verifier }),
    });
    assert.equal(ok.status, 200, await ok.text());
    // The marker of the exemption, set on an existing client by hand (or left by an earlier version: the
    // provider does not clear an extraConfig key it stops sending when none is left), changes nothing.
    const id = created.headers.get("location")!.split("/").pop()!;
    const current = (await (await kc.admin("GET", `/clients/${id}`)).json()) as { attributes: Record<string, string> };
    const marked = await kc.admin("PUT", `/clients/${id}`, { ...current, attributes: { ...current.attributes, "factory.wall": "true" } });
    assert.equal(marked.status, 204, await marked.text());
    await refusedWithoutPkce("wall-paheko-p");
    // ...and neither does it let the client drop PKCE.
    const drop = await kc.admin("PUT", `/clients/${id}`, { ...current, attributes: { ...current.attributes, "factory.wall": "true", "pkce.code.challenge.method": "" } });
    assert.equal(drop.status, 400, await drop.text());
    // A wall client as wallPkce: false registers it is refused outright in this realm.
    const legacy = await kc.admin("POST", "/clients", rep("wall-paheko-legacy", false));
    assert.equal(legacy.status, 400, await legacy.text());
  });

  it("wallPkce false: wall clients (factory.wall=true) log in without PKCE, still under the redirect-URI rules; nobody else", async () => {
    await kc.setClientPolicies(false);
    try {
      const { cb, rep, q, refusedWithoutPkce } = await wallFixture();
      // Created in one request, as the provider does, under the wall policy.
      const created = await kc.admin("POST", "/clients", rep("wall-paheko-w", false));
      assert.equal(created.status, 201, await created.text());
      // The wall profile keeps the redirect-URI rules.
      for (const bad of [["https://w.example.org/*"], ["*"], ["http://w.example.org/_wall/cb"]]) {
        const r = await kc.admin("POST", "/clients", rep(`wall-bad-${bad[0].length}`, false, bad));
        assert.equal(r.status, 400, `${bad}: ${await r.text()}`);
      }
      // Without the marker (or with another value), the same PKCE-less client gets no login.
      const unmarked = rep("wall-unmarked", false);
      const r = await kc.admin("POST", "/clients", { ...unmarked, attributes: { ...(unmarked.attributes as object), "factory.wall": "false" } });
      assert.equal(r.status, 201, await r.text());
      await refusedWithoutPkce("wall-unmarked");
      // A PKCE-less authorization request (what caddy-security v1.1.31 sends) gets the login form and a code.
      const location = new URL(await kc.login(q("wall-paheko-w"), "alice", PASSWORD));
      assert.equal(`${location.origin}${location.pathname}`, cb);
      assert.ok(location.searchParams.get("code"));
      // A newer caddy-security sends PKCE anyway: an exempt client accepts it, and then checks the verifier.
      const p = pkcePair();
      const withPkce = new URL(await kc.login(q("wall-paheko-w", p), "alice", PASSWORD)).searchParams.get("code")!;
      const exchange = (code: string, verifier?: string) => fetch(kc.tokenEndpoint, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: cb, client_id: "wall-paheko-w", client_secret: "wall-secret-wall-secret-wall", ...(verifier ? { code_verifier: verifier } : {}) }),
      });
      assert.equal((await exchange(withPkce)).status, 400, "a code issued with a challenge needs its verifier");
      const p2 = pkcePair();
      const again = new URL(await kc.login(q("wall-paheko-w", p2), "alice", PASSWORD)).searchParams.get("code")!;
      const ok = await exchange(again, p2.verifier);
      assert.equal(ok.status, 200, await ok.text());

      // Switching a realm from wallPkce true to false, for a wall client made with PKCE S256: the provider's
      // single update (marker set, PKCE method emptied) is refused, because on updates Keycloak judges the
      // stored client (not yet marked); with the marker set first (docs/keycloak.md, by hand), it goes through.
      const old = await kc.admin("POST", "/clients", rep("wall-paheko-old", true));
      assert.equal(old.status, 201, await old.text());
      await refusedWithoutPkce("wall-paheko-old");
      const id = old.headers.get("location")!.split("/").pop()!;
      const current = (await (await kc.admin("GET", `/clients/${id}`)).json()) as { attributes: Record<string, string> };
      const wallRep = rep("wall-paheko-old", false);
      const providerUpdate = { ...current, attributes: { ...current.attributes, ...(wallRep.attributes as object), "pkce.code.challenge.method": "" } };
      const oneStep = await kc.admin("PUT", `/clients/${id}`, providerUpdate);
      assert.equal(oneStep.status, 400, await oneStep.text());
      const mark = await kc.admin("PUT", `/clients/${id}`, { ...current, attributes: { ...current.attributes, "factory.wall": "true" } });
      assert.equal(mark.status, 204, await mark.text());
      const put = await kc.admin("PUT", `/clients/${id}`, providerUpdate);
      assert.equal(put.status, 204, await put.text());
      const migrated = new URL(await kc.login(q("wall-paheko-old"), "alice", PASSWORD));
      assert.ok(migrated.searchParams.get("code"), String(migrated));
    } finally {
      await kc.setClientPolicies(true);
    }
  });

  it("upgrades a wallPkce: false realm to the default in the provider's order, without any step by hand", async () => {
    await kc.setClientPolicies(false);
    try {
      const { rep, q, refusedWithoutPkce } = await wallFixture();
      const created = await kc.admin("POST", "/clients", rep("wall-paheko-up", false));
      assert.equal(created.status, 201, await created.text());
      const id = created.headers.get("location")!.split("/").pop()!;
      assert.ok(new URL(await kc.login(q("wall-paheko-up"), "alice", PASSWORD)).searchParams.get("code"), "exempt before the upgrade");
      // 1. The main policy is updated in place (any-client); the walls' policy and profile are still there
      //    (Pulumi deletes removed resources last).
      const exempting = clientPoliciesRepresentation(false) as { policies: unknown[] };
      const strict = clientPoliciesRepresentation(true) as { policies: unknown[] };
      const mid = await kc.admin("PUT", "/client-policies/policies", { policies: [strict.policies[0], exempting.policies[1]] });
      assert.equal(mid.status, 204, await mid.text());
      await refusedWithoutPkce("wall-paheko-up");
      // 2. The client's update, as the provider sends it: PKCE S256; extraConfig is now empty, and the
      //    provider then sends nothing for it, so the stored factory.wall=true stays.
      const current = (await (await kc.admin("GET", `/clients/${id}`)).json()) as { attributes: Record<string, string> };
      const update = await kc.admin("PUT", `/clients/${id}`, { ...current, attributes: { ...current.attributes, "pkce.code.challenge.method": "S256" } });
      assert.equal(update.status, 204, await update.text());
      // 3. The walls' policy, then their profile, are deleted.
      assert.equal((await kc.admin("PUT", "/client-policies/policies", strict)).status, 204);
      const profiles = await kc.admin("PUT", "/client-policies/profiles", clientProfilesRepresentation({ allowLoopbackHttp: true }, true));
      assert.equal(profiles.status, 204, await profiles.text());
      await kc.setClientPolicies(true);
      const after = (await (await kc.admin("GET", `/clients/${id}`)).json()) as { attributes: Record<string, string> };
      assert.equal(after.attributes["factory.wall"], "true", "the marker is left, and inert");
      await refusedWithoutPkce("wall-paheko-up");
      const p = pkcePair();
      assert.ok(new URL(await kc.login(q("wall-paheko-up", p), "alice", PASSWORD)).searchParams.get("code"), "logs in with PKCE");
    } finally {
      if (!kc.wallPkce) await kc.setClientPolicies(true);
    }
  });

  it("accepts the program's own (strict) profile, which admits https clients and refuses loopback http", async () => {
    const put = await kc.admin("PUT", "/client-policies/profiles", clientProfilesRepresentation());
    assert.equal(put.status, 204, await put.text());
    const stored = (await (await kc.admin("GET", "/client-policies/profiles")).json()) as { profiles: { name: string; executors: { executor: string }[] }[] };
    assert.deepEqual(stored.profiles.map((p) => [p.name, p.executors.map((e) => e.executor)]), [
      ["factory-secure-clients", ["secure-redirect-uris-enforcer", "pkce-enforcer"]],
    ]);
    const policies = (await (await kc.admin("GET", "/client-policies/policies")).json()) as { policies: { name: string; conditions: { condition: string }[] }[] };
    assert.deepEqual(policies.policies.map((p) => [p.name, p.conditions.map((c) => c.condition)]), [["factory-secure-clients", ["any-client"]]]);
    const https = await kc.admin("POST", "/clients", clientRepresentation({ clientId: "strict-https", secret: "strict-secret-strict-secret", rootUrl: "https://s.example.org", redirectUris: ["https://s.example.org/cb"], webOrigins: ["https://s.example.org"] }));
    assert.equal(https.status, 201, await https.text());
    const loop = await kc.admin("POST", "/clients", clientRepresentation({ clientId: "strict-loop", secret: "strict-secret-strict-secret", rootUrl: "http://127.0.0.1", redirectUris: ["http://127.0.0.1/cb"], webOrigins: ["http://127.0.0.1"] }));
    assert.equal(loop.status, 400, await loop.text());
    // The strict profiles of wallPkce: false are accepted too.
    const both = await kc.admin("PUT", "/client-policies/profiles", clientProfilesRepresentation({}, false));
    assert.equal(both.status, 204, await both.text());
    // Back to the lab profile for whatever runs after.
    await kc.setClientPolicies(true);
  });
});
