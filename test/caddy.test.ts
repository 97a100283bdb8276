// Unit tests of the Caddy edge: the pure renderers (determinism, walls, maintenance, archived tenants,
// no secret in the text) and the CaddyEdge component under Pulumi mocks. The real caddy binary checks
// the same configs in test/lab/caddy.lab.test.ts.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as docker from "@pulumi/docker";
import { CaddyEdge } from "../components/edge";
import { pinSiteAddress, renderComputeCaddyfile } from "../src/caddy/compute";
import { EdgeConfigInput, edgeWalls, renderEdgeCaddyfile } from "../src/caddy/edge";
import { secretsBundle } from "../src/caddy/reload";
import { computeCaddyAddress, edgeUpstreams } from "../src/caddy/upstreams";
import {
  atLeast, caddySecurityOfImage, PKCE_SINCE, tenantWalls, TRUSTED_LOGIN_REDIRECT_SINCE, wallClientId, wallRealm, wallRedirectUri,
  wallTrustedRedirectDirective, wallTrustsLoginRedirect,
} from "../src/caddy/wall";
import { computeEndpoints } from "../src/endpoints";
import { maskSecrets, RecordedResource, revealSecrets, runUnderMocks } from "../program/harness";
import { requireFactoryInputs } from "../src/inputs";
import { Tenant } from "../src/types";

const ROOT = path.resolve(__dirname, "..");
const staging = requireFactoryInputs({ stack: "staging", projectDir: ROOT });

const UPSTREAMS: EdgeConfigInput["upstreams"] = {
  keycloak: "http://10.0.0.5:8080", collabora: "http://10.0.0.6:9980", garageS3: "http://10.0.0.7:3900",
  garageWeb: "10.0.0.7:3902", services: { paheko: "10.0.0.5:8480", wordpress: "10.0.0.5:8081", nextcloud: {} },
};

function tenant(slug: string, status: Tenant["status"], services: (keyof Tenant["services"])[]): Tenant {
  const d = "factory.test";
  const all: Tenant["services"] = {
    nextcloud: { hostname: `${slug}.nextcloud.${d}`, quotaGb: 10 },
    paheko: { hostname: `${slug}.paheko.${d}` },
    wordpress: { hostname: `www.${slug}.org`, editHostname: `${slug}.wp.${d}`, title: slug },
    staticSite: { hostname: `${slug}.static.${d}` },
  };
  const picked: Tenant["services"] = {};
  for (const s of services) (picked as Record<string, unknown>)[s] = all[s];
  return { slug, name: slug, contact: `x@${slug}.org`, status, dns: "external", services: picked, admins: [], file: `${slug}.yaml` };
}

function input(tenants: readonly Tenant[]): EdgeConfigInput {
  const nextcloud: Record<string, string> = {};
  for (const t of tenants) if (t.services.nextcloud) nextcloud[t.slug] = "10.0.0.8:8081";
  return { domain: "factory.test", acmeEmail: "ops@factory.test", realm: "factory", garageAdminUrl: "http://10.0.0.7:3903",
    upstreams: { ...UPSTREAMS, services: { ...UPSTREAMS.services, nextcloud } }, tenants };
}

/** The body of the site block of one hostname (undefined when there is none). */
function site(config: string, address: string): string | undefined {
  const m = new RegExp(`\\n${address.replace(/[.*]/g, "\\$&")} \\{\\n([\\s\\S]*?)\\n\\}\\n`).exec(config);
  return m?.[1];
}

const SERVICES = ["nextcloud", "paheko", "wordpress", "staticSite"] as const;
const tenantArb = fc.record({
  slug: fc.stringMatching(/^[a-z][a-z0-9]{2,10}$/),
  status: fc.constantFrom<Tenant["status"]>("active", "active", "suspended", "archived"),
  services: fc.subarray([...SERVICES]),
}).map((r) => tenant(r.slug, r.status, r.services));
const rosterArb = fc.uniqueArray(tenantArb, { selector: (t) => t.slug, maxLength: 12 });

describe("caddy-security releases and the walls", () => {
  it("reads the caddy-security release from the image tag convention <caddy>-<caddySecurity>, and nothing else", () => {
    assert.deepEqual(caddySecurityOfImage("registry.factory.example.org/caddy-security:2.11.4-1.1.64"), [1, 1, 64]);
    assert.deepEqual(caddySecurityOfImage("registry.example.org:5000/factory/caddy-security:2.10.2-1.1.31"), [1, 1, 31]);
    // The staging pin names the release of images/versions.json, one that sends PKCE.
    const versions = JSON.parse(fs.readFileSync(path.join(ROOT, "images", "versions.json"), "utf8")) as { caddySecurity: string };
    assert.deepEqual(caddySecurityOfImage(staging.settings.images.caddy), versions.caddySecurity.split(".").map(Number));
    assert.equal(atLeast(caddySecurityOfImage(staging.settings.images.caddy)!, PKCE_SINCE), true);
    for (const ref of [`r/caddy-security@sha256:${"a".repeat(64)}`, "r/caddy:2.11.4", "r/caddy-security:latest", "r/caddy-security:2.11.4", "r/caddy-security:2.11.4-1.1.64-rc1", "r/not-caddy-security:2.11.4-1.1.64"]) {
      assert.equal(caddySecurityOfImage(ref), undefined, ref);
    }
  });

  it("orders releases number by number (1.1.100 after 1.1.61)", () => {
    assert.equal(atLeast([1, 1, 64], PKCE_SINCE), true);
    assert.equal(atLeast([1, 1, 61], PKCE_SINCE), true);
    assert.equal(atLeast([1, 1, 60], PKCE_SINCE), false);
    assert.equal(atLeast([1, 1, 31], PKCE_SINCE), false);
    assert.equal(atLeast([1, 1, 100], PKCE_SINCE), true);
    assert.equal(atLeast([1, 2, 0], PKCE_SINCE), true);
    assert.equal(atLeast([0, 9, 99], PKCE_SINCE), false);
    assert.equal(atLeast([1, 1, 31], TRUSTED_LOGIN_REDIRECT_SINCE), false);
    assert.equal(atLeast(PKCE_SINCE, TRUSTED_LOGIN_REDIRECT_SINCE), true, "every build that sends PKCE needs the trusted redirect");
  });

  it("trusts a wall's own hostname (with the lab's port) as the only login redirect", () => {
    const [w] = tenantWalls(tenant("t1", "active", ["paheko"]));
    assert.equal(wallTrustedRedirectDirective(w), "trust login redirect uri domain exact t1.paheko.factory.test path prefix /");
    const [lab] = tenantWalls(tenant("t1", "active", ["paheko"]), { port: 8443 });
    assert.equal(wallTrustedRedirectDirective(lab), "trust login redirect uri domain exact t1.paheko.factory.test:8443 path prefix /");
  });

  it("renders the trusted login redirect for the releases that need it, and only for them", () => {
    assert.equal(wallTrustsLoginRedirect("r/caddy-security:2.11.4-1.1.64"), true);
    assert.equal(wallTrustsLoginRedirect("r/caddy-security:2.11.0-1.1.56"), true);
    assert.equal(wallTrustsLoginRedirect("r/caddy-security:2.11.0-1.1.55"), false);
    assert.equal(wallTrustsLoginRedirect("r/caddy-security:2.10.2-1.1.31"), false);
    assert.equal(wallTrustsLoginRedirect(`r/caddy-security@sha256:${"b".repeat(64)}`), true, "a digest is taken for a current release");
    assert.equal(wallTrustsLoginRedirect(staging.settings.images.caddy), true);
  });

  it("renders one trusted login redirect per wall portal by default (caddy-security >= v1.1.56), none when told not to", () => {
    const tenants = [tenant("t1", "active", ["paheko", "wordpress"]), tenant("t2", "active", ["paheko"])];
    const walls = edgeWalls(tenants);
    assert.equal(walls.length, 3);
    for (const config of [renderEdgeCaddyfile(input(tenants)), renderEdgeCaddyfile({ ...input(tenants), trustLoginRedirect: true })]) {
      const lines = config.split("\n").filter((l) => l.includes("trust login redirect uri"));
      assert.deepEqual(lines.map((l) => l.trim()).sort(), walls.map((w) => `trust login redirect uri domain exact ${w.hostname} path prefix /`).sort());
      for (const w of walls) {
        // The portal's block: from its opening line to the closing brace at the same indentation.
        const all = config.split("\n");
        const start = all.findIndex((l) => l.trim() === `authentication portal ${w.portal} {`);
        assert.ok(start >= 0, w.portal);
        const indent = /^\t*/.exec(all[start])![0];
        const end = all.findIndex((l, i) => i > start && l === `${indent}}`);
        const portal = all.slice(start + 1, end).join("\n");
        assert.match(portal, new RegExp(`trust login redirect uri domain exact ${w.hostname.replace(/\./g, "\\.")} path prefix /`), w.portal);
      }
    }
    assert.doesNotMatch(renderEdgeCaddyfile({ ...input(tenants), trustLoginRedirect: false }), /trust login redirect/);
  });

  it("never renders `disable pkce`: the walls keep caddy-security's default (PKCE on; v1.1.31 refuses the directive)", () => {
    const config = renderEdgeCaddyfile(input(staging.tenants));
    assert.match(config, /oauth identity provider kc-/);
    assert.doesNotMatch(config, /pkce/i);
  });
});

describe("wall naming", () => {
  it("gives the exact caddy-security callback URL and a client id shared with the Keycloak naming", () => {
    assert.equal(wallRedirectUri("compta.exemple.org"),
      "https://compta.exemple.org/_wall/oauth2/kc-compta_exemple_org/authorization-code-callback");
    assert.equal(wallRedirectUri("a.test", { scheme: "http", port: 8080 }),
      "http://a.test:8080/_wall/oauth2/kc-a_test/authorization-code-callback");
    assert.equal(wallClientId("asso-exemple", "paheko"), "wall-paheko-asso-exemple");
    // Distinct hostnames never share a realm (caddy-security refuses duplicate realms).
    assert.notEqual(wallRealm("a-b.org"), wallRealm("a.b-org"));
  });

  it("has one wall per walled service, none for archived tenants", () => {
    assert.deepEqual(tenantWalls(tenant("t1", "active", [...SERVICES])).map((w) => [w.service, w.hostname, w.role, w.policy]), [
      ["paheko", "t1.paheko.factory.test", "paheko:t1", "t1-paheko"],
      ["wordpress", "t1.wp.factory.test", "wordpress:t1", "t1-wordpress"],
    ]);
    assert.equal(tenantWalls(tenant("t2", "suspended", ["paheko"])).length, 1);
    assert.equal(tenantWalls(tenant("t3", "archived", [...SERVICES])).length, 0);
  });
});

describe("edge Caddyfile", () => {
  it("is byte-identical for the same tenants in any order", () => {
    fc.assert(fc.property(rosterArb.chain((r) => fc.tuple(fc.constant(r), fc.shuffledSubarray(r, { minLength: r.length, maxLength: r.length }))),
      ([roster, shuffled]) => {
        assert.equal(renderEdgeCaddyfile(input(shuffled)), renderEdgeCaddyfile(input(roster)));
      }), { numRuns: 200 });
  });

  it("declares exactly one policy, portal and identity provider per active tenant and walled service", () => {
    fc.assert(fc.property(rosterArb, (roster) => {
      const config = renderEdgeCaddyfile(input(roster));
      const walls = edgeWalls(roster);
      const count = (re: RegExp) => (config.match(re) ?? []).length;
      assert.equal(count(/^\t\tauthorization policy /gm), walls.length);
      assert.equal(count(/^\t\tauthentication portal /gm), walls.length);
      assert.equal(count(/^\t\toauth identity provider /gm), walls.length);
      for (const w of walls) {
        assert.match(config, new RegExp(`authorization policy ${w.policy} \\{\\n\\t\\t\\tset auth url /_wall/oauth2/${w.realm}\\n.*\\n\\t\\t\\tallow roles ${w.role}\\n`));
        assert.match(site(config, w.hostname)!, new RegExp(`authorize with ${w.policy}\\n`));
      }
      for (const t of roster) {
        const names = [t.services.nextcloud?.hostname, t.services.paheko?.hostname, t.services.wordpress?.hostname,
          t.services.wordpress?.editHostname, t.services.staticSite?.hostname].filter((x): x is string => !!x);
        for (const h of names) {
          const body = site(config, h);
          if (t.status === "archived") assert.equal(body, undefined, `${h} of archived ${t.slug} has a route`);
          else if (t.status === "suspended") assert.equal(body!.replace(/\ttls \{\n\t\ton_demand\n\t\}\n/, ""), "\timport maintenance");
          else assert.doesNotMatch(body!, /maintenance/);
        }
      }
    }), { numRuns: 150 });
  });

  it("renders the staging tenants: walls, upstreams, on-demand TLS, maintenance, nothing for the archived", () => {
    const config = renderEdgeCaddyfile(input(staging.tenants));
    const policies = [...config.matchAll(/authorization policy (\S+) \{/g)].map((m) => m[1]);
    assert.deepEqual(policies, ["asso-exemple-paheko", "asso-exemple-wordpress", "club-velo-paheko"]);
    assert.match(config, /\n\ton_demand_tls \{\n\t\task http:\/\/10\.0\.0\.7:3903\/check\n\t\}\n/);
    assert.match(config, /metadata_url https:\/\/auth\.factory\.test\/realms\/factory\/\.well-known\/openid-configuration\n/);
    assert.equal(site(config, "compta.exemple.org"), [
      "\troute /_wall* {", "\t\tauthenticate with wall-asso-exemple-paheko", "\t}",
      "\troute {", "\t\tauthorize with asso-exemple-paheko", "\t\treverse_proxy 10.0.0.5:8480 {", "\t\t\theader_up Host {host}", "\t\t}", "\t}",
    ].join("\n"));
    assert.equal(site(config, "www.exemple.org"), "\ttls {\n\t\ton_demand\n\t}\n\treverse_proxy 10.0.0.7:3902 {\n\t\theader_up Host {host}\n\t}");
    assert.equal(site(config, "cloud.exemple.org"), "\treverse_proxy 10.0.0.8:8081 {\n\t\theader_up Host {host}\n\t}");
    assert.equal(site(config, "auth.factory.test"), "\treverse_proxy http://10.0.0.5:8080 {\n\t\theader_up Host {host}\n\t}");
    // Collabora's hostname: the WOPI hosts answered by the edge itself (a reload adds one), the rest proxied.
    const office = site(config, "office.factory.test")!.split("\n");
    assert.deepEqual([office[0], office[1], office[2], ...office.slice(4)], [
      "\thandle /.well-known/service-factory/collabora.json {", "\t\theader Content-Type application/json", "\t\theader Cache-Control no-store",
      "\t}", "\thandle {", "\t\treverse_proxy http://10.0.0.6:9980 {", "\t\t\theader_up Host {host}", "\t\t}", "\t}",
    ]);
    const body = /^\t\trespond "(.*)" 200$/.exec(office[3])![1].replace(/\\"/g, '"');
    const clubVelo = staging.tenants.find((t) => t.slug === "club-velo")!.services.nextcloud!.hostname;
    // Active and suspended tenants' Nextclouds (not the archived ancienne-asso), one group each.
    assert.deepEqual(JSON.parse(body), { kind: "configuration", storage: { wopi: { alias_groups: { mode: "groups", groups: [
      { host: "https://cloud.exemple.org:443", allow: true }, { host: `https://${clubVelo}:443`, allow: true },
    ] } } } });
    assert.equal(site(config, "collectif-jardins.wp.staging.factory.example.org"), "\timport maintenance");
    assert.doesNotMatch(config, /ancienne-asso/);
    assert.match(config, /respond 503 \{/);
    // Secrets are file placeholders only.
    assert.match(config, /client_secret \{file\.\/etc\/caddy\/factory\/secrets\/wall-paheko-asso-exemple\.secret\}\n/);
    assert.match(config, /crypto key sign-verify \{file\.\/etc\/caddy\/factory\/secrets\/wall-token-key\}\n/);
  });

  it("refuses a hostname routed twice and a Nextcloud tenant without a compute upstream", () => {
    const a = tenant("aaa", "active", ["paheko"]);
    const b = { ...tenant("bbb", "active", ["paheko"]), services: { paheko: { hostname: "aaa.paheko.factory.test" } } };
    assert.throws(() => renderEdgeCaddyfile(input([a, b])), /aaa\.paheko\.factory\.test is routed twice/);
    assert.throws(() => renderEdgeCaddyfile({ ...input([]), tenants: [tenant("ccc", "active", ["nextcloud"])] }), /ccc: no upstream for its nextcloud/);
  });

  it("lab mode uses the internal CA on given ports, without on-demand TLS", () => {
    const config = renderEdgeCaddyfile({ ...input([tenant("aaa", "active", ["paheko", "staticSite"])]), lab: { httpPort: 18080, httpsPort: 18443 } });
    assert.match(config, /\tlocal_certs\n\tskip_install_trust\n\thttp_port 18080\n\thttps_port 18443\n/);
    assert.ok(site(config, "aaa.paheko.factory.test"));
    assert.doesNotMatch(config, /on_demand/);
  });
});

describe("edge upstreams and compute Caddyfile", () => {
  it("derives upstreams from the stack settings and the placement", () => {
    const u = edgeUpstreams({ settings: staging.settings, endpoints: computeEndpoints(staging.settings), tenants: staging.tenants,
      placement: staging.placement, paheko: "10.20.0.11:8480", wordpressHost: "stg-compute1" });
    const host = (slug: string) => staging.settings.hosts.find((h) => h.name === staging.placement.get(slug))!;
    assert.deepEqual(u, {
      keycloak: "http://10.20.0.11:8080", collabora: "http://10.20.0.12:9980", garageS3: "http://10.20.0.20:3900",
      garageWeb: "10.20.0.20:3902",
      services: {
        paheko: "10.20.0.11:8480", wordpress: "10.20.0.11:8081",
        nextcloud: { "asso-exemple": computeCaddyAddress(host("asso-exemple")), "club-velo": "10.20.0.12:8081" },
      },
    });
  });

  it("pins every Nextcloud site to the compute listener and sorts them", () => {
    const config = renderComputeCaddyfile({ trustedProxies: ["10.0.0.2", "10.0.0.1", "10.0.0.2"], sites: [
      { tenant: "b", hostname: "b.test", block: "b.test {\n\trespond b\n}\n" },
      { tenant: "a", hostname: "a.test", block: "# a\nhttps://a.test:443 {\n\trespond a\n}" },
    ] });
    assert.equal(config.indexOf("http://a.test:8081 {") < config.indexOf("http://b.test:8081 {"), true);
    assert.match(config, /trusted_proxies static 10\.0\.0\.1 10\.0\.0\.2\n/);
    assert.match(config, /http:\/\/:8081 \{\n\trespond "no such site on this host" 421\n\}\n$/);
    assert.throws(() => pinSiteAddress({ tenant: "c", hostname: "c.test", block: "other.test {\n}" }, 8081), /must start with "c\.test \{"/);
  });

  it("bundles secret files sorted, base64, and refuses path-like names", () => {
    assert.equal(secretsBundle({ b: "x y", a: "é" }), "a w6k=\nb eCB5\n");
    assert.throws(() => secretsBundle({ "../x": "s" }), /invalid secret file name/);
  });
});

describe("CaddyEdge under mocks", () => {
  const SECRET = "wall-secret-value-never-in-clear";
  async function run(): Promise<RecordedResource[]> {
    const { resources } = await runUnderMocks({
      stack: "staging", projectDir: ROOT,
      program: () => {
        const s = staging.settings;
        const providers: Record<string, docker.Provider> = {};
        for (const h of s.hosts) providers[h.name] = new docker.Provider(`docker-${h.name}`, { host: h.docker });
        const walls = edgeWalls(staging.tenants);
        const nc = staging.tenants.filter((t) => t.services.nextcloud && t.status !== "archived");
        new CaddyEdge("edge", {
          settings: s, tenants: staging.tenants, docker: providers, garageAdminUrl: "http://10.20.0.20:3903",
          upstreams: edgeUpstreams({ settings: s, endpoints: computeEndpoints(s), tenants: staging.tenants, placement: staging.placement,
            paheko: "10.20.0.11:8480", wordpressHost: "stg-compute1" }),
          wallClientSecrets: Object.fromEntries(walls.map((w) => [w.clientId, SECRET])),
          nextcloudSites: nc.map((t) => ({ host: staging.placement.get(t.slug)!, tenant: t.slug, hostname: t.services.nextcloud!.hostname,
            fpmUpstream: `nc-${t.slug}:9000`, installVolume: `nextcloud-install-${staging.placement.get(t.slug)}` })),
          wordpress: { host: "stg-compute1", fpmUpstream: "10.20.0.11:9480", documentRoot: "/var/www/html", htmlVolume: "wordpress-html" },
        });
      },
    });
    return resources;
  }

  it("runs one Caddy per edge host and per compute host, hardened, with protected volumes", async () => {
    const rs = await run();
    const containers = rs.filter((r) => r.type === "docker:index/container:Container");
    assert.deepEqual(containers.map((c) => c.name).sort(), ["edge-stg-compute1", "edge-stg-compute2", "edge-stg-edge1"]);
    for (const c of containers) {
      assert.deepEqual(c.inputs.securityOpts, ["no-new-privileges:true"]);
      assert.deepEqual(c.inputs.capabilities, { drops: ["ALL"], adds: ["NET_BIND_SERVICE"] });
      assert.equal(c.inputs.readOnly, true);
      assert.equal(c.inputs.image, staging.settings.images.caddy);
    }
    const edge = containers.find((c) => c.name === "edge-stg-edge1")!;
    const ports = (edge.inputs.ports as { internal: number; external: number; ip: string; protocol: string }[])
      .map((p) => `${p.ip}:${p.external}->${p.internal}/${p.protocol}`);
    assert.deepEqual(ports, [
      "203.0.113.20:80->80/tcp", "203.0.113.20:443->443/tcp", "203.0.113.20:443->443/udp",
      "2001:db8:20::10:80->80/tcp", "2001:db8:20::10:443->443/tcp", "2001:db8:20::10:443->443/udp",
    ]);
    const c1 = containers.find((c) => c.name === "edge-stg-compute1")!;
    assert.deepEqual(c1.inputs.ports, [{ internal: 8081, external: 8081, ip: "10.20.0.11", protocol: "tcp" }]);
    const mounts = c1.inputs.mounts as { source: string; target: string; readOnly: boolean; type: string }[];
    assert.ok(mounts.length >= 1);
    for (const m of mounts) assert.equal(m.readOnly, true, `${m.target} must be read-only`);
    assert.ok(mounts.some((m) => m.source === "wordpress-html" && m.target === "/var/www/html"));
    const c2 = containers.find((c) => c.name === "edge-stg-compute2")!;
    assert.deepEqual(c2.inputs.mounts, [{ type: "volume", source: "nextcloud-install-stg-compute2", target: "/srv/nextcloud/nextcloud-install-stg-compute2", readOnly: true }]);

    const volumes = rs.filter((r) => r.type === "docker:index/volume:Volume");
    assert.equal(volumes.length, 6);
    for (const v of volumes) assert.ok(v.protect && v.retainOnDelete, `${v.name} must be protected and retained`);
    const key = rs.filter((r) => r.type === "random:index/randomPassword:RandomPassword");
    assert.equal(key.length, 1);
    assert.ok(key[0].protect);
  });

  it("delivers configs with validate-then-reload commands; secrets only on stdin of a silent command", async () => {
    const rs = await run();
    const cmds = rs.filter((r) => r.type === "command:local:Command");
    assert.deepEqual(cmds.map((c) => c.name).sort(), [
      "edge-stg-compute1-reload", "edge-stg-compute2-reload", "edge-stg-edge1-reload", "edge-stg-edge1-secrets",
    ]);
    for (const c of cmds) {
      assert.equal(c.inputs.logging, "none");
      assert.equal(c.inputs.create, 'docker exec -i "$CADDY_CONTAINER" /bin/sh -c "$FACTORY_SCRIPT"');
      const { env } = { env: c.inputs.environment as Record<string, string> };
      assert.match(env.FACTORY_SCRIPT, c.name.endsWith("reload") ? /caddy" validate --config "\$cand"/ : /base64 -d/);
    }
    const reload = cmds.find((c) => c.name === "edge-stg-edge1-reload")!;
    const secrets = cmds.find((c) => c.name === "edge-stg-edge1-secrets")!;
    assert.ok(reload.dependsOn.includes(secrets.urn), "the config is applied after its secrets");
    assert.match(String(revealSecrets(reload.inputs.stdin)), /authorization policy club-velo-paheko \{/);
    // The secret value appears only inside secret-wrapped inputs.
    const masked = JSON.stringify(rs.map((r) => maskSecrets(r.inputs)));
    assert.ok(!masked.includes(SECRET) && !masked.includes(Buffer.from(SECRET).toString("base64")));
    assert.match(String(revealSecrets(secrets.inputs.stdin)), new RegExp(`^wall-paheko-asso-exemple\\.secret ${Buffer.from(SECRET).toString("base64")}$`, "m"));
    const compute1 = String(revealSecrets(cmds.find((c) => c.name === "edge-stg-compute1-reload")!.inputs.stdin));
    assert.match(compute1, /http:\/\/asso-exemple\.wp\.staging\.factory\.example\.org:8081 \{\n\troot \* \/var\/www\/html\n/);
  });

  it("refuses to build an edge config whose wall has no client secret", async () => {
    await assert.rejects(runUnderMocks({
      stack: "staging", projectDir: ROOT,
      program: () => new CaddyEdge("edge", {
        settings: staging.settings, tenants: staging.tenants, docker: {}, garageAdminUrl: "http://x:3903",
        upstreams: { ...UPSTREAMS, services: { ...UPSTREAMS.services, nextcloud: { "asso-exemple": "a:1", "club-velo": "b:1" } } }, wallClientSecrets: {},
      }),
    }), /no client secret for wall client wall-paheko-asso-exemple/);
  });
});

describe("edge section of the program (staging, under mocks)", () => {
  it("registers one wall client per tenant and walled service (not archived) and one Caddy per edge/compute host", async () => {
    const { resources: rs } = await runUnderMocks({ stack: "staging", projectDir: ROOT });
    const walls = rs.filter((r) => r.type === "factory:identity:KeycloakClient" && r.name.includes("-wall-"));
    assert.deepEqual(walls.map((w) => `${w.tenant}:${w.name}`).sort(), [
      "asso-exemple:asso-exemple-wall-paheko", "asso-exemple:asso-exemple-wall-wordpress",
      "club-velo:club-velo-wall-paheko", "collectif-jardins:collectif-jardins-wall-wordpress",
    ]);
    const oidc = rs.filter((r) => r.type === "keycloak:openid/client:Client" && String(r.inputs.clientId).startsWith("wall-"));
    const byId = Object.fromEntries(oidc.map((c) => [String(c.inputs.clientId), c.inputs.validRedirectUris]));
    assert.deepEqual(byId["wall-paheko-asso-exemple"], [wallRedirectUri("compta.exemple.org")]);
    assert.equal(oidc.length, 4);
    assert.equal(rs.filter((r) => r.type === "factory:edge:CaddyEdge").length, 1);
    const containers = rs.filter((r) => r.type === "docker:index/container:Container" && r.name.startsWith("caddy-"));
    assert.deepEqual(containers.map((c) => c.name).sort(), ["caddy-stg-compute1", "caddy-stg-compute2", "caddy-stg-edge1"]);
    // Compute configs use the Nextcloud helper's site renderer, pinned to the compute listener.
    const reloads = rs.filter((r) => r.type === "command:local:Command" && /^caddy-stg-compute\d-reload$/.test(r.name));
    const configs = reloads.map((r) => String(revealSecrets(r.inputs.stdin))).join("\n");
    assert.match(configs, /http:\/\/cloud\.exemple\.org:8081 \{\n\troot \* \/srv\/nextcloud\//);
    assert.match(configs, /http:\/\/club-velo\.nextcloud\.staging\.factory\.example\.org:8081 \{/);
    for (const c of containers.filter((x) => x.name !== "caddy-stg-edge1")) {
      for (const m of (c.inputs.mounts ?? []) as { readOnly: boolean }[]) assert.equal(m.readOnly, true);
    }
  });
});
