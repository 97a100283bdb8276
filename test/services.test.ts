// The service registry (src/services/): each module keeps its own contract, and what used to be spelled
// out per service (roles, walls, labels, DNS targets, website owners) now follows from it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tenantDnsRecords } from "../src/dns/records";
import { RESERVED_LABELS } from "../src/hostnames";
import { ROLE_SERVICES, SERVICE_HOST_LABEL, SERVICE_NAMES, SERVICES, tenantRoutes, WALLED_SERVICES } from "../src/services/registry";
import { tenantWalls } from "../src/caddy/wall";
import { loadTenantSources } from "../src/tenants";
import { websiteOwners } from "../src/websites";

const DOMAIN = "factory.test";
const everything = loadTenantSources([{
  file: "tenants/t/alpha.yaml",
  source: "slug: alpha\nname: Alpha\ncontact: a@alpha.org\ndns: managed\nservices:\n  nextcloud: {}\n  paheko: {}\n  wordpress: { hostname: www.alpha.org }\n  staticSite: {}\n",
}], { domain: DOMAIN, hosts: [{ name: "h1", drain: false }] });

describe("service registry", () => {
  it("lists the four services in tenant-file order, each under its own name", () => {
    assert.deepEqual(SERVICE_NAMES, ["nextcloud", "paheko", "wordpress", "staticSite"]);
    for (const name of SERVICE_NAMES) assert.equal(SERVICES[name].name, name);
  });

  it("each module's schema covers exactly its keys, in the same order", () => {
    for (const name of SERVICE_NAMES) assert.deepEqual(Object.keys(SERVICES[name].schema), [...SERVICES[name].keys], name);
  });

  it("host labels are distinct and reserved (no tenant slug can take one)", () => {
    const labels = Object.values(SERVICE_HOST_LABEL);
    assert.equal(new Set(labels).size, labels.length);
    for (const l of labels) assert.ok(RESERVED_LABELS.has(l), l);
  });

  it("roles follow the modules: Nextcloud by group, Paheko and WordPress walled, the static site public", () => {
    assert.deepEqual(ROLE_SERVICES, ["nextcloud", "paheko", "wordpress"]);
    assert.deepEqual(WALLED_SERVICES, ["paheko", "wordpress"]);
  });

  it("a walled service has exactly one walled route, the others none", () => {
    assert.deepEqual(everything.problems, []);
    const [t] = everything.tenants;
    const routes = tenantRoutes(t);
    for (const name of SERVICE_NAMES) {
      const walled = routes.filter((r) => r.service === name && r.walled);
      assert.equal(walled.length, SERVICES[name].role === "walled" ? 1 : 0, name);
      for (const r of walled) assert.equal(r.kind, "app");
    }
  });

  it("one tenant with every service: its routes drive the DNS targets, the walls and the website owners", () => {
    const [t] = everything.tenants;
    assert.deepEqual(tenantRoutes(t).map((r) => [r.service, r.key, r.hostname, r.kind]), [
      ["nextcloud", "services.nextcloud.hostname", "alpha.nextcloud.factory.test", "app"],
      ["paheko", "services.paheko.hostname", "alpha.paheko.factory.test", "app"],
      ["wordpress", "services.wordpress.hostname", "www.alpha.org", "website"],
      ["wordpress", "services.wordpress.editHostname", "alpha.wp.factory.test", "app"],
      ["staticSite", "services.staticSite.hostname", "alpha.static.factory.test", "website"],
    ]);
    const records = tenantDnsRecords(t, {
      hosts: [{ name: "e", docker: "unix:///x", roles: ["edge"], weight: 1, privateAddress: "10.0.0.1", publicIPv4: "192.0.2.1", drain: false }],
      dns: { server: "ns", port: 53, tsigKeyName: "k", tsigAlgorithm: "hmac-sha256", ttl: 60, webEndpoints: { ipv4: ["192.0.2.9"], ipv6: [] } },
    });
    assert.deepEqual(records.map((r) => [r.hostname, r.target]), [
      ["alpha.nextcloud.factory.test", "edge"], ["alpha.paheko.factory.test", "edge"], ["alpha.static.factory.test", "web"],
      ["alpha.wp.factory.test", "edge"], ["www.alpha.org", "web"],
    ]);
    assert.deepEqual(tenantWalls(t).map((w) => [w.service, w.hostname]), [["paheko", "alpha.paheko.factory.test"], ["wordpress", "alpha.wp.factory.test"]]);
    assert.deepEqual(websiteOwners([t]), { "alpha.static.factory.test": "alpha/staticSite", "www.alpha.org": "alpha/wordpress" });
  });
});
