// The website-move guard (src/websites.ts): pure rules here, over real tenant files; the real engine
// refusing such a preview is in the e2e.
import assert from "node:assert/strict";
import * as path from "node:path";
import { describe, it } from "node:test";
import { requireFactoryInputs } from "../src/inputs";
import { Tenant } from "../src/types";
import { websiteMoveProblems, websiteOwners } from "../src/websites";

const ROOT = path.join(__dirname, "..");

function tenant(slug: string, services: Tenant["services"], status: Tenant["status"] = "active"): Tenant {
  return { slug, name: slug, contact: `a@${slug}.org`, status, dns: "external", services, admins: [], file: `${slug}.yaml` };
}

describe("website hostnames: one owner each, moves refused", () => {
  it("records every website bucket of the tenant files, archived ones included, and nothing else", () => {
    const staging = requireFactoryInputs({ stack: "staging", projectDir: ROOT });
    const owners = websiteOwners(staging.tenants);
    const expected: Record<string, string> = {};
    for (const t of staging.tenants) {
      if (t.services.staticSite) expected[t.services.staticSite.hostname] = `${t.slug}/staticSite`;
      if (t.services.wordpress) expected[t.services.wordpress.hostname] = `${t.slug}/wordpress`;
    }
    assert.deepEqual(owners, expected);
    assert.ok(Object.keys(owners).length >= 3, "the staging files have websites");
    // Nextcloud and Paheko hostnames have no bucket named after them.
    for (const t of staging.tenants) {
      if (t.services.nextcloud) assert.equal(owners[t.services.nextcloud.hostname], undefined);
      if (t.services.paheko) assert.equal(owners[t.services.paheko.hostname], undefined);
    }
  });

  it("refuses a hostname that changes tenant or service; a first deployment, a rename or a new name is no refusal", () => {
    const a = tenant("alpha", { staticSite: { hostname: "www.shared.org" } });
    const before = websiteOwners([a, tenant("bravo", { staticSite: { hostname: "bravo.org" } })]);
    assert.deepEqual(before, { "bravo.org": "bravo/staticSite", "www.shared.org": "alpha/staticSite" });
    // To another tenant, even with alpha gone from the files (its bucket is protected and kept).
    const moved = websiteMoveProblems(before, websiteOwners([tenant("bravo", { staticSite: { hostname: "www.shared.org" } })]));
    assert.equal(moved.length, 1);
    assert.match(moved[0], /^website www\.shared\.org: its bucket belongs to alpha\/staticSite .*so bravo\/staticSite cannot take the name.*move-website\.md\. Nothing was changed\.$/);
    // To another service of the same tenant: the static bucket still holds the alias.
    const wp = tenant("alpha", { wordpress: { hostname: "www.shared.org", editHostname: "alpha.wp.f.org", title: "A" } });
    assert.equal(websiteMoveProblems(before, websiteOwners([wp])).length, 1);
    // Archiving keeps the owner (the bucket is kept): still recorded, so still nobody else's.
    assert.deepEqual(websiteOwners([{ ...a, status: "archived" }]), { "www.shared.org": "alpha/staticSite" });
    assert.deepEqual(websiteMoveProblems(before, websiteOwners([{ ...a, status: "archived" }])), []);
    // A new hostname, a tenant renaming its own site, a first deployment, a record of an unknown shape.
    assert.deepEqual(websiteMoveProblems(before, websiteOwners([a, tenant("charlie", { staticSite: { hostname: "charlie.org" } })])), []);
    assert.deepEqual(websiteMoveProblems(before, websiteOwners([tenant("alpha", { staticSite: { hostname: "new.shared.org" } })])), []);
    for (const none of [undefined, null, "x", 3]) assert.deepEqual(websiteMoveProblems(none, websiteOwners([wp])), []);
    // Released (the record no longer lists it, runbook): free to claim.
    assert.deepEqual(websiteMoveProblems({ "bravo.org": "bravo/staticSite" }, websiteOwners([tenant("charlie", { staticSite: { hostname: "www.shared.org" } })])), []);
  });
});
