// The policy pack's rules: each rejects a violating resource and accepts a compliant one; the CrossGuard
// wrappers report exactly what the rules find; and every resource the program registers for the staging
// stack passes every rule (so the pack accepts the program's own resources as components land).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { ReportViolation, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { policies, resourcePolicies, stackPolicies } from "../policy/policies";
import { WALL_AUTH_PATH, WALL_CLIENT_ATTRIBUTE as SRC_WALL_ATTRIBUTE } from "../src/caddy/wall";
import {
  commandInstallMounts, exemptsWalls, garageKind, isWallCallbackUri, WALL_CALLBACK_PREFIX, WALL_CLIENT_ATTRIBUTE, isPinnedImage, isPrivateAddress, isStateful, RULES, RuleOptions,
  STACK_RULES, StackResource, stackViolations, TYPES, UNKNOWN, violations,
} from "../policy/rules";
import { clientPolicy, clientPolicySet, wallClientPolicy } from "../src/keycloak/definitions";
import { revealSecrets, runUnderMocks } from "../program/harness";

/** The harness keeps unknown outputs as { __pulumiUnknown: true }; CrossGuard shows them as UNKNOWN. */
function asPolicyInputs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asPolicyInputs);
  if (v && typeof v === "object") {
    if ((v as { __pulumiUnknown?: unknown }).__pulumiUnknown === true) return UNKNOWN;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asPolicyInputs(x)]));
  }
  return v;
}

const rule = (name: string) => {
  const r = RULES.find((x) => x.name === name);
  assert.ok(r, `rule ${name}`);
  return r;
};
const opts = (o: Partial<RuleOptions> = {}): RuleOptions => ({ protect: false, ...o });

const goodContainer = {
  name: "club-velo-nextcloud-fpm",
  image: "nextcloud:31.0.9-fpm",
  securityOpts: ["no-new-privileges:true"],
  volumes: [{ volumeName: "nextcloud-install-node1", containerPath: "/var/www/html", readOnly: true }],
  ports: [{ internal: 5432, external: 5432, ip: "10.0.0.5" }],
};

describe("rules: each rejects a violation and accepts the compliant resource", () => {
  it("has exactly the seven policies of the issue", () => {
    assert.deepEqual(RULES.map((r) => r.name), [
      "container-no-privileges", "image-pinned", "nextcloud-install-read-only", "stateful-protected",
      "oidc-client-hardened", "garage-key-not-owner", "data-ports-private",
    ]);
  });

  it("accepts a compliant container under every rule", () => {
    assert.deepEqual(violations(TYPES.container, goodContainer, opts({ name: "club-velo-fpm" })), []);
  });

  it("container-no-privileges", () => {
    const r = rule("container-no-privileges");
    assert.deepEqual(r.check(TYPES.container, { ...goodContainer, privileged: true }, opts()), ["container club-velo-nextcloud-fpm is privileged"]);
    assert.deepEqual(r.check(TYPES.container, { ...goodContainer, securityOpts: [] }, opts()), ['container club-velo-nextcloud-fpm lacks securityOpts "no-new-privileges:true"']);
    assert.equal(r.check(TYPES.container, { ...goodContainer, securityOpts: undefined, privileged: true }, opts()).length, 2);
    assert.equal(r.check(TYPES.container, { ...goodContainer, securityOpts: ["no-new-privileges:false"] }, opts()).length, 1);
    assert.deepEqual(r.check(TYPES.container, { ...goodContainer, securityOpts: ["apparmor=docker-default", "no-new-privileges:true"], privileged: false }, opts()), []);
    assert.deepEqual(r.check(TYPES.volume, { privileged: true }, opts()), []);
  });

  it("image-pinned: containers, remote images, built images", () => {
    const r = rule("image-pinned");
    assert.deepEqual(r.check(TYPES.container, { ...goodContainer, image: "nextcloud:latest" }, opts()), ['image "nextcloud:latest" is not pinned (use an explicit version tag or a digest, never latest)']);
    assert.equal(r.check(TYPES.container, { ...goodContainer, image: "nextcloud" }, opts()).length, 1);
    assert.equal(r.check(TYPES.remoteImage, { name: "registry.example.org:5000/caddy" }, opts()).length, 1);
    assert.equal(r.check(TYPES.image, { imageName: "registry.example.org/paheko:LATEST" }, opts()).length, 1);
    assert.deepEqual(r.check(TYPES.remoteImage, { name: "registry.example.org:5000/caddy:2.10.2" }, opts()), []);
    assert.deepEqual(r.check(TYPES.container, { ...goodContainer, image: "sha256:0123456789abcdef0123" }, opts()), []);
    assert.deepEqual(r.check(TYPES.container, { ...goodContainer, image: UNKNOWN }, opts()), [], "unknown during preview: the RemoteImage is checked");
  });

  it("isPinnedImage", () => {
    for (const ok of ["postgres:16.4-bookworm", "quay.io/keycloak/keycloak:26.0.7", "localhost:5000/x:1", `nginx@sha256:${"a".repeat(64)}`, `nginx:latest@sha256:${"b".repeat(64)}`]) {
      assert.equal(isPinnedImage(ok), true, ok);
    }
    for (const bad of ["postgres", "postgres:latest", "localhost:5000/x", "x:", "", "nginx@sha256:abc", "a b:1"]) {
      assert.equal(isPinnedImage(bad), false, bad);
    }
  });

  it("nextcloud-install-read-only: volumes, mounts and docker commands; the updater is exempt", () => {
    const r = rule("nextcloud-install-read-only");
    const rw = { ...goodContainer, volumes: [{ volumeName: "nextcloud-install-node1", containerPath: "/var/www/html" }] };
    assert.deepEqual(r.check(TYPES.container, rw, opts()), ["container club-velo-nextcloud-fpm mounts nextcloud-install-node1 at /var/www/html read-write"]);
    assert.deepEqual(r.check(TYPES.container, { ...rw, name: "nextcloud-updater-node1" }, opts()), []);
    assert.deepEqual(r.check(TYPES.container, rw, opts({ name: "node1-nextcloud-updater" })), []);
    const mount = { ...goodContainer, volumes: [], mounts: [{ type: "volume", source: "nextcloud-install-node1", target: "/srv/nc", readOnly: false }] };
    assert.equal(r.check(TYPES.container, mount, opts()).length, 1);
    assert.deepEqual(r.check(TYPES.container, { ...mount, mounts: [{ ...mount.mounts[0], readOnly: true }] }, opts()), []);
    assert.deepEqual(r.check(TYPES.container, { ...goodContainer, volumes: [{ volumeName: "club-velo-config", containerPath: "/config" }] }, opts()), []);
    const versioned = { ...goodContainer, volumes: [], mounts: [{ type: "volume", source: "staging-nextcloud-31.0.9-a6a8996b", target: "/var/www/html" }] };
    assert.equal(r.check(TYPES.container, versioned, opts()).length, 1, "the version-named install volume is recognised");
    assert.deepEqual(r.check(TYPES.container, { ...versioned, mounts: [{ ...versioned.mounts[0], source: "staging-nc-club-velo-config" }] }, opts()), []);

    const cmd = "docker run --rm -v nextcloud-install-node1:/var/www/html nextcloud:31.0.9-fpm php occ status";
    assert.deepEqual(r.check(TYPES.remoteCommand, { create: cmd }, opts({ name: "club-velo-occ" })), ["command club-velo-occ (create) mounts nextcloud-install-node1:/var/www/html read-write"]);
    assert.deepEqual(r.check(TYPES.remoteCommand, { create: cmd.replace("html ", "html:ro ") }, opts({ name: "club-velo-occ" })), []);
    assert.deepEqual(r.check(TYPES.remoteCommand, { create: cmd }, opts({ name: "node1-nextcloud-updater" })), []);
    assert.equal(r.check(TYPES.localCommand, { update: "docker run --mount type=volume,source=nextcloud-install-a,target=/x img:1" }, opts({ name: "x" })).length, 1);
  });

  it("commandInstallMounts parses -v, --volume= and --mount forms", () => {
    assert.deepEqual(commandInstallMounts("docker run -v 'nextcloud-install-a:/x:ro,z' --volume=nextcloud-install-b:/y --mount type=volume,src=nextcloud-install-c,dst=/z,readonly -v other:/o img:1"), [
      { spec: "nextcloud-install-a:/x:ro,z", readOnly: true },
      { spec: "nextcloud-install-b:/y", readOnly: false },
      { spec: "type=volume,src=nextcloud-install-c,dst=/z,readonly", readOnly: true },
    ]);
  });

  it("stateful-protected: every stateful type, the Garage bucket and key but not the grant", () => {
    const r = rule("stateful-protected");
    const stateful: [string, Record<string, unknown>][] = [
      [TYPES.pgRole, { name: "r" }], [TYPES.pgDatabase, { name: "d" }], [TYPES.volume, { name: "v" }],
      [TYPES.randomPassword, { length: 32 }], [TYPES.kcRealm, { realm: "factory" }], [TYPES.kcGroup, { name: "g" }],
      [TYPES.dynamic, { adminUrl: "http://10.0.0.3:3903", globalAlias: "files.example.org", quotas: {}, website: { enabled: false } }],
      [TYPES.dynamic, { adminUrl: "http://10.0.0.3:3903", adminToken: "t", name: "club-velo/files" }],
      [TYPES.dynamic, { kind: "bucket" }], [TYPES.dynamic, { kind: "key" }],
    ];
    for (const [type, inputs] of stateful) {
      assert.equal(isStateful(type, inputs), true, type);
      assert.deepEqual(r.check(type, inputs, opts({ name: "x" })), [`${type} x holds state and must be registered with protect: true`]);
      assert.deepEqual(r.check(type, inputs, opts({ protect: true })), []);
    }
    const grant = { adminUrl: "http://10.0.0.3:3903", bucketId: "b", accessKeyId: "GK1", permissions: { read: true, write: true, owner: false } };
    assert.equal(garageKind(TYPES.dynamic, grant), "grant");
    // The S3-side children (platform key): a CORS configuration and a first object are not data to protect.
    const s3 = { s3Url: "http://10.0.0.3:3900", s3Region: "garage", s3AccessKeyId: "GKp", s3SecretAccessKey: "s" };
    const cors = { ...s3, bucket: "www.example.org", corsRules: [{ allowedOrigins: ["https://example.org"], allowedMethods: ["GET", "HEAD"], allowedHeaders: ["*"], exposeHeaders: ["ETag"], maxAgeSeconds: 3600 }] };
    const object = { ...s3, bucket: "www.example.org", key: "index.html", content: "<p>soon</p>", contentType: "text/html; charset=utf-8" };
    assert.deepEqual([garageKind(TYPES.dynamic, cors), garageKind(TYPES.dynamic, object)], ["cors", "object"]);
    for (const inputs of [cors, object]) {
      assert.equal(isStateful(TYPES.dynamic, inputs), false);
      assert.deepEqual(r.check(TYPES.dynamic, inputs, opts()), []);
      assert.deepEqual(rule("garage-key-not-owner").check(TYPES.dynamic, inputs, opts({ name: "x-index" })), []);
    }
    // The install volume holds code from the pinned image, replaced at each upgrade: not stateful.
    assert.equal(isStateful(TYPES.volume, { name: "staging-nextcloud-31.0.9-a6a8996b" }), false);
    assert.equal(isStateful(TYPES.volume, { name: "nextcloud-install-node1" }), false);
    assert.equal(isStateful(TYPES.volume, { name: "staging-nc-club-velo-config" }), true);
    for (const [type, inputs] of [[TYPES.dynamic, grant], [TYPES.container, goodContainer], [TYPES.kcClient, {}], [TYPES.dynamic, { kind: "dns-record" }]] as const) {
      assert.deepEqual(r.check(type, inputs, opts()), [], type);
    }
    // An OIDC client's secret (RandomPassword child of a KeycloakClient) is exempt; other passwords are not.
    const clientParent = "urn:pulumi:staging::service-factory::factory:identity:KeycloakClient::club-velo-wall-paheko";
    assert.deepEqual(r.check(TYPES.randomPassword, { length: 48 }, opts({ name: "club-velo-wall-paheko-secret", parent: clientParent })), []);
    for (const parent of [
      "urn:pulumi:staging::service-factory::factory:postgres:TenantDatabase::club-velo-db",
      "urn:pulumi:staging::service-factory::factory:identity:KeycloakClient$factory:postgres:TenantDatabase::x",
      undefined,
    ]) {
      assert.equal(r.check(TYPES.randomPassword, { length: 48 }, opts({ name: "p", parent })).length, 1, String(parent));
    }
    assert.equal(r.check(TYPES.pgRole, { name: "r" }, opts({ name: "r", parent: clientParent })).length, 1, "only passwords are exempt");
  });

  it("oidc-client-hardened", () => {
    const r = rule("oidc-client-hardened");
    const good = { clientId: "nextcloud-club-velo", validRedirectUris: ["https://cloud.club-velo.org/apps/user_oidc/code"], pkceCodeChallengeMethod: "S256", directAccessGrantsEnabled: false, webOrigins: ["+"] };
    assert.deepEqual(r.check(TYPES.kcClient, good, opts()), []);
    assert.deepEqual(r.check(TYPES.kcClient, { ...good, validRedirectUris: ["https://cloud.club-velo.org/*"] }, opts()), ['validRedirectUris contains the wildcard URI "https://cloud.club-velo.org/*"']);
    assert.deepEqual(r.check(TYPES.kcClient, { ...good, validPostLogoutRedirectUris: ["*"] }, opts()), ['validPostLogoutRedirectUris contains the wildcard URI "*"']);
    assert.deepEqual(r.check(TYPES.kcClient, { ...good, pkceCodeChallengeMethod: "plain" }, opts()), ['pkceCodeChallengeMethod is "plain", must be "S256"']);
    assert.deepEqual(r.check(TYPES.kcClient, { ...good, pkceCodeChallengeMethod: undefined }, opts()), ['pkceCodeChallengeMethod is null, must be "S256"']);
    assert.deepEqual(r.check(TYPES.kcClient, { ...good, directAccessGrantsEnabled: true }, opts()), ["directAccessGrantsEnabled must be false"]);
  });

  it("oidc-client-hardened: only a marked wall client with exact https /_wall/ callbacks goes without PKCE", () => {
    const r = rule("oidc-client-hardened");
    const cb = "https://compta.exemple.org/_wall/oauth2/kc-compta_exemple_org/authorization-code-callback";
    const wall = { clientId: "wall-paheko-asso-exemple", validRedirectUris: [cb], webOrigins: ["https://compta.exemple.org"], directAccessGrantsEnabled: false, extraConfig: { [WALL_CLIENT_ATTRIBUTE]: "true" } };
    assert.deepEqual(r.check(TYPES.kcClient, wall, opts()), []);
    assert.deepEqual(r.check(TYPES.kcClient, { ...wall, pkceCodeChallengeMethod: "" }, opts()), []);
    assert.deepEqual(r.check(TYPES.kcClient, { ...wall, pkceCodeChallengeMethod: "S256" }, opts()), [], "a wall client with PKCE is fine too");
    const refused = (pkce: unknown) => [`pkceCodeChallengeMethod is ${JSON.stringify(pkce)}: a wall client (factory.wall=true) may go without PKCE only when every redirect URI is an exact https callback under /_wall/, else it must be "S256"`];
    for (const uris of [
      ["https://compta.exemple.org/callback"], // not a wall callback
      [cb, "https://compta.exemple.org/other"], // one of them not
      ["http://compta.exemple.org/_wall/oauth2/kc/authorization-code-callback"], // http
      [`${cb}?next=/admin`], // query
      ["https://compta.exemple.org/_wall/../admin"], // not canonical
      ["https://compta.exemple.org/_walls/x"], // prefix only
      [], // none
    ]) {
      assert.deepEqual(r.check(TYPES.kcClient, { ...wall, validRedirectUris: uris }, opts()), refused(null), JSON.stringify(uris));
    }
    assert.deepEqual(r.check(TYPES.kcClient, { ...wall, validRedirectUris: ["https://compta.exemple.org/_wall/*"] }, opts()), [
      'validRedirectUris contains the wildcard URI "https://compta.exemple.org/_wall/*"', ...refused(null),
    ]);
    assert.deepEqual(r.check(TYPES.kcClient, { ...wall, pkceCodeChallengeMethod: "plain" }, opts()), refused("plain"));
    // Without the marker (or with another value) the same client needs S256.
    for (const extraConfig of [undefined, {}, { [WALL_CLIENT_ATTRIBUTE]: "false" }, { [WALL_CLIENT_ATTRIBUTE]: true }, { "factory.walls": "true" }]) {
      assert.deepEqual(r.check(TYPES.kcClient, { ...wall, extraConfig }, opts()), ['pkceCodeChallengeMethod is null, must be "S256"'], JSON.stringify(extraConfig));
    }
    assert.equal(isWallCallbackUri(cb), true);
    assert.equal(WALL_CLIENT_ATTRIBUTE, SRC_WALL_ATTRIBUTE, "the pack's copy matches src/caddy/wall.ts");
    assert.equal(WALL_CALLBACK_PREFIX, `${WALL_AUTH_PATH}/`);
  });

  it("wall-pkce-exemption: a PKCE-less wall client only next to a realm policy that exempts the walls (wallPkce: false)", () => {
    const cb = "https://compta.exemple.org/_wall/oauth2/kc-compta_exemple_org/authorization-code-callback";
    const wall: StackResource = { type: TYPES.kcClient, name: "asso-wall-paheko-client", urn: "urn:w", inputs: { clientId: "wall-paheko-asso", validRedirectUris: [cb], extraConfig: { [WALL_CLIENT_ATTRIBUTE]: "true" } } };
    const withPkce: StackResource = { ...wall, name: "asso-nextcloud-client", urn: "urn:n", inputs: { clientId: "nextcloud-asso", pkceCodeChallengeMethod: "S256" } };
    const policy = (spec: ReturnType<typeof clientPolicy>): StackResource => ({ type: TYPES.kcClientPolicy, name: `realm-${spec.name}`, inputs: { ...spec, realmId: "factory" } });
    const [r] = STACK_RULES;
    const refused = [{ urn: "urn:w", message: "Keycloak client wall-paheko-asso goes without PKCE (factory.wall=true), but no client policy of this stack exempts the walls: the realm requires PKCE S256 of every client (service-factory:wallPkce is on) and would refuse its logins" }];
    // The program's own policy sets: the default one exempts nobody, the wallPkce: false one the walls.
    const strict = clientPolicySet(true).policies.map(policy);
    const exempting = clientPolicySet(false).policies.map(policy);
    assert.deepEqual(r.check([wall, withPkce, ...strict]), refused);
    assert.deepEqual(r.check([wall, withPkce, ...exempting]), []);
    assert.deepEqual(r.check([wall, withPkce]), refused, "no realm policy at all");
    assert.deepEqual(r.check([{ ...wall, inputs: { ...wall.inputs, pkceCodeChallengeMethod: "" } }, ...strict]), refused);
    // A wall client with PKCE, or an unmarked one (oidc-client-hardened judges it), is not this rule's business.
    assert.deepEqual(r.check([{ ...wall, inputs: { ...wall.inputs, pkceCodeChallengeMethod: "S256" } }, withPkce, ...strict]), []);
    assert.deepEqual(r.check([{ ...wall, inputs: { ...wall.inputs, extraConfig: {} } }, ...strict]), []);
    // Only an enabled client-attributes condition of negative logic on factory.wall=true exempts.
    const main = clientPolicy(false);
    const cond = main.conditions[0];
    assert.equal(exemptsWalls(policy(main).inputs), true);
    assert.equal(exemptsWalls(policy(wallClientPolicy()).inputs), false);
    for (const [label, inputs] of [
      ["disabled", { ...main, enabled: false }],
      ["positive logic", { ...main, conditions: [{ ...cond, configuration: { ...cond.configuration, "is-negative-logic": "false" } }] }],
      ["another attribute", { ...main, conditions: [{ ...cond, configuration: { ...cond.configuration, attributes: '[{"key":"factory.walls","value":"true"}]' } }] }],
      ["another value", { ...main, conditions: [{ ...cond, configuration: { ...cond.configuration, attributes: '[{"key":"factory.wall","value":"false"}]' } }] }],
      ["not JSON", { ...main, conditions: [{ ...cond, configuration: { ...cond.configuration, attributes: "factory.wall=true" } }] }],
      ["any-client", clientPolicy(true)],
    ] as const) {
      assert.equal(exemptsWalls(inputs as Record<string, unknown>), false, label);
      assert.deepEqual(r.check([wall, { type: TYPES.kcClientPolicy, name: "p", inputs: inputs as Record<string, unknown> }]), refused, label);
    }
    assert.deepEqual(stackViolations([wall, ...strict]), [`wall-pkce-exemption: ${refused[0].message}`]);
  });

  it("garage-key-not-owner: only the platform grant may hold owner", () => {
    const r = rule("garage-key-not-owner");
    const grant = { adminUrl: "u", bucketId: "b", accessKeyId: "GK1", permissions: { read: true, write: true, owner: false } };
    assert.deepEqual(r.check(TYPES.dynamic, grant, opts({ name: "club-velo-files-grant" })), []);
    const owner = { ...grant, permissions: { read: true, write: true, owner: true } };
    assert.deepEqual(r.check(TYPES.dynamic, owner, opts({ name: "club-velo-files-grant" })), ["Garage grant: permissions.owner is true"]);
    assert.deepEqual(r.check(TYPES.dynamic, { kind: "key", allow: { owner: true } }, opts({ name: "k" })), ["Garage key: allow.owner is true"]);
    assert.deepEqual(r.check(TYPES.dynamic, { kind: "key", permissions: ["read", "owner"] }, opts({ name: "k" })), ['Garage key: permissions[1] grants "owner"']);
    assert.deepEqual(r.check(TYPES.dynamic, owner, opts({ name: "club-velo-files-platform-grant" })), []);
  });

  it("data-ports-private", () => {
    const r = rule("data-ports-private");
    const port = (p: Record<string, unknown>) => ({ ...goodContainer, ports: [p] });
    assert.deepEqual(r.check(TYPES.container, port({ internal: 5432 }), opts()), ["container club-velo-nextcloud-fpm publishes port 5432 on every address (set ip to a private address)"]);
    assert.equal(r.check(TYPES.container, port({ internal: 6379, ip: "0.0.0.0" }), opts()).length, 1);
    assert.equal(r.check(TYPES.container, port({ internal: 3903, ip: "::" }), opts()).length, 1);
    assert.equal(r.check(TYPES.container, port({ internal: 3306, external: 3306, ip: "" }), opts()).length, 1);
    assert.deepEqual(r.check(TYPES.container, port({ internal: 3901, ip: "203.0.113.7" }), opts()), ["container club-velo-nextcloud-fpm publishes port 3901 on the public address 203.0.113.7"]);
    assert.equal(r.check(TYPES.container, port({ internal: 80, external: 5432, ip: "0.0.0.0" }), opts()).length, 1, "the published port counts too");
    for (const ip of ["10.1.2.3", "172.20.0.1", "192.168.1.1", "127.0.0.1", "::1", "fd12:3456::1", "fc00::5"]) {
      assert.deepEqual(r.check(TYPES.container, port({ internal: 5432, ip }), opts()), [], ip);
    }
    assert.deepEqual(r.check(TYPES.container, port({ internal: 443, ip: "0.0.0.0" }), opts()), [], "web ports may be public");
  });

  it("isPrivateAddress", () => {
    for (const a of ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1", "127.0.0.1", "::1", "[fd00::1]", "fdff:1::1", "::ffff:10.0.0.1"]) assert.equal(isPrivateAddress(a), true, a);
    for (const a of ["172.15.0.1", "172.32.0.1", "192.169.0.1", "8.8.8.8", "2001:db8::1", "fe80::1", "0.0.0.0", "::", "fd::1", "999.1.1.1", "example.org"]) assert.equal(isPrivateAddress(a), false, a);
  });
});

describe("CrossGuard wrappers", () => {
  function run(type: string, props: Record<string, unknown>, protect: boolean, name = "r"): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const p of resourcePolicies) {
      const args = { type, props, urn: `urn:pulumi:staging::service-factory::${type}::${name}`, name, opts: { protect, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] }, stackTags: new Map() } as unknown as ResourceValidationArgs;
      const report: ReportViolation = (message: string) => { (out[p.name] ??= []).push(message); };
      const v = p.validateResource;
      for (const f of Array.isArray(v) ? v : v ? [v] : []) void f(args, report);
    }
    return out;
  }

  it("are mandatory and report the rules' messages, reading opts.protect", () => {
    assert.equal(resourcePolicies.length, RULES.length);
    assert.equal(stackPolicies.length, STACK_RULES.length);
    assert.deepEqual(policies.map((p) => p.name), [...RULES, ...STACK_RULES].map((r) => r.name));
    assert.ok(policies.every((p) => p.enforcementLevel === "mandatory"));
    assert.deepEqual(run(TYPES.volume, { name: "club-velo-config" }, false, "club-velo-config"), {
      "stateful-protected": [`${TYPES.volume} club-velo-config holds state and must be registered with protect: true`],
    });
    assert.deepEqual(run(TYPES.volume, { name: "club-velo-config" }, true), {});
    assert.deepEqual(Object.keys(run(TYPES.container, { ...goodContainer, privileged: true, image: "x:latest" }, false)), ["container-no-privileges", "image-pinned"]);
  });

  it("the stack policy reports the rule's message on the client's URN, from CrossGuard's resource list", async () => {
    const reported: [string, string | undefined][] = [];
    const resources = [
      { type: TYPES.kcClient, name: "w-client", urn: "urn:pulumi:staging::service-factory::keycloak:openid/client:Client::w-client", props: { clientId: "wall-paheko-x", extraConfig: { [WALL_CLIENT_ATTRIBUTE]: "true" } } },
    ];
    const args = { resources, stackTags: new Map() } as unknown as StackValidationArgs;
    for (const p of stackPolicies) await p.validateStack(args, (message: string, urn?: string) => { reported.push([message, urn]); });
    assert.equal(reported.length, 1);
    assert.match(reported[0][0], /^Keycloak client wall-paheko-x goes without PKCE/);
    assert.equal(reported[0][1], resources[0].urn);
  });
});

describe("the program's own resources (staging stack, under mocks)", () => {
  /** The staging stack, optionally with extra top-level settings lines (e.g. wallPkce), under mocks. */
  async function stagingResources(extraSettings = "") {
    if (!extraSettings) return (await runUnderMocks({ stack: "staging" })).resources;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-policy-"));
    try {
      const root = path.join(__dirname, "..");
      const staging = fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8");
      const file = path.join(dir, "Pulumi.staging.yaml");
      fs.writeFileSync(file, staging.replace(/^  service-factory:realm: factory$/m, `$&\n${extraSettings}`));
      return (await runUnderMocks({ stack: "staging", projectDir: root, stackFile: file, tenantsDir: "tenants/staging" })).resources;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const asStack = (rs: Awaited<ReturnType<typeof stagingResources>>): StackResource[] =>
    rs.map((r) => ({ type: r.type, name: r.name, urn: r.urn, inputs: asPolicyInputs(revealSecrets(r.inputs)) as Record<string, unknown> }));

  it("every registered resource passes every policy", async (t) => {
    const resources = await stagingResources();
    assert.ok(resources.length > 0);
    const failures: string[] = [];
    const perType = new Map<string, number>();
    for (const r of resources) {
      perType.set(r.type, (perType.get(r.type) ?? 0) + 1);
      const inputs = asPolicyInputs(revealSecrets(r.inputs)) as Record<string, unknown>;
      for (const v of violations(r.type, inputs, { protect: r.protect, name: r.name, parent: r.parent ?? undefined })) failures.push(`${r.urn}: ${v}`);
    }
    failures.push(...stackViolations(asStack(resources)));
    const stateful = resources.filter((r) => isStateful(r.type, revealSecrets(r.inputs) as Record<string, unknown>));
    t.diagnostic(`${resources.length} resources checked, ${stateful.length} stateful (${stateful.filter((r) => r.protect).length} protected); types: ${[...perType].map(([k, n]) => `${k}=${n}`).join(", ")}`);
    assert.deepEqual(failures, []);
  });

  it("with wallPkce: false, the PKCE-less walls pass because the stack registers the exemption, and only because of it", async () => {
    const resources = await stagingResources("  service-factory:wallPkce: false");
    const failures: string[] = [];
    for (const r of resources) {
      const inputs = asPolicyInputs(revealSecrets(r.inputs)) as Record<string, unknown>;
      for (const v of violations(r.type, inputs, { protect: r.protect, name: r.name, parent: r.parent ?? undefined })) failures.push(`${r.urn}: ${v}`);
    }
    const stack = asStack(resources);
    failures.push(...stackViolations(stack));
    assert.deepEqual(failures, []);
    const pkceLess = stack.filter((r) => r.type === TYPES.kcClient && r.inputs.pkceCodeChallengeMethod === undefined);
    assert.equal(pkceLess.length, 4, "the four wall clients of staging");
    // The same clients without the realm's exempting policy (what a code change dropping it would register).
    const withoutExemption = stack.filter((r) => !(r.type === TYPES.kcClientPolicy && exemptsWalls(r.inputs)));
    assert.equal(withoutExemption.length, stack.length - 1);
    assert.deepEqual(stackViolations(withoutExemption).map((v) => /client (\S+) goes/.exec(v)?.[1]).sort(), pkceLess.map((r) => r.inputs.clientId).sort());
  });
});
