import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkHostname } from "../src/hostnames";
import { isEmail, loadTenantSources } from "../src/tenants";
import { formatProblem } from "../src/types";
import { BAD_CASES, CONTEXT, GOOD_CASES } from "./fixtures/tenant-cases";

const load = (files: Record<string, string>) =>
  loadTenantSources(Object.entries(files).map(([file, source]) => ({ file, source })), CONTEXT);

describe("tenant loader: good files", () => {
  for (const files of GOOD_CASES) {
    it(`accepts ${Object.keys(files).join(", ")}`, () => {
      const r = load(files);
      assert.deepEqual(r.problems.map(formatProblem), []);
      assert.equal(r.tenants.length, Object.keys(files).length);
    });
  }

  it("fills defaults: hostnames, quota, status, dns, WordPress title and editing hostname", () => {
    const r = load({ "org-x.yaml": "slug: org-x\nname: Org X\ncontact: a@x.org\nservices:\n  nextcloud:\n  wordpress: {}\n  staticSite: {}\n" });
    assert.deepEqual(r.problems, []);
    const t = r.tenants[0];
    assert.equal(t.status, "active");
    assert.equal(t.dns, "external");
    assert.deepEqual(t.services.nextcloud, { hostname: "org-x.nextcloud.factory.test", quotaGb: 10 });
    assert.deepEqual(t.services.wordpress, { hostname: "org-x.wordpress.factory.test", editHostname: "org-x.wp.factory.test", title: "Org X" });
    assert.deepEqual(t.services.staticSite, { hostname: "org-x.static.factory.test" });
    assert.equal(t.services.paheko, undefined);
  });

  it("converts Unicode hostnames to punycode", () => {
    const r = load(GOOD_CASES[2]);
    assert.equal(r.tenants[0].services.nextcloud?.hostname, "nuage.xn--caf-dma.org");
  });

  it("returns tenants sorted by slug whatever the file order", () => {
    const a = load({ "zed-org.yaml": "slug: zed-org\nname: Z\ncontact: z@z.org\n", "abc-org.yaml": "slug: abc-org\nname: A\ncontact: a@a.org\n" });
    assert.deepEqual(a.tenants.map((t) => t.slug), ["abc-org", "zed-org"]);
  });
});

describe("tenant loader: every rule reports file:line:col", () => {
  for (const c of BAD_CASES) {
    it(c.name, () => {
      const r = load(c.files);
      const lines = r.problems.map(formatProblem);
      assert.ok(lines.length >= c.expect.length, `expected ${c.expect.length} problem(s), got:\n${lines.join("\n")}`);
      for (const e of c.expect) {
        assert.ok(
          lines.some((l) => l.startsWith(e.at) && l.includes(e.message)),
          `expected a line starting "${e.at}" containing "${e.message}", got:\n${lines.join("\n")}`,
        );
      }
      assert.ok(lines.every((l) => /^[^:]+:\d+:\d+: \S/.test(l)), lines.join("\n"));
    });
  }

  it("reports problems of all files at once", () => {
    const files = Object.assign({}, ...BAD_CASES.filter((c) => Object.keys(c.files).length === 1).map((c) => c.files));
    const r = load(files);
    const reportedFiles = new Set(r.problems.map((p) => p.file));
    for (const f of Object.keys(files)) assert.ok(reportedFiles.has(f), `no problem reported for ${f}`);
  });
});

describe("hostname and e-mail rules", () => {
  it("checkHostname", () => {
    assert.deepEqual(checkHostname("a.example.org"), { ok: true, hostname: "a.example.org", converted: false });
    assert.equal(checkHostname("bücher.example").ok, true);
    assert.equal(checkHostname("-a.example.org").ok, false);
    assert.equal(checkHostname(`${"a".repeat(64)}.org`).ok, false);
    assert.equal(checkHostname("10.0.0.1").ok, false);
    assert.equal(checkHostname("a..org").ok, false);
  });
  it("isEmail", () => {
    assert.equal(isEmail("a.b+c@example.org"), true);
    assert.equal(isEmail("a@b"), false);
    assert.equal(isEmail("a@@b.org"), false);
    assert.equal(isEmail("a b@c.org"), false);
  });
});
