// Validation is the whole truth: whatever `npm run validate` accepts, the program accepts. fast-check
// writes tenant directories (services mixed, custom hostnames with long, Unicode and punycode labels,
// every status and DNS mode, hostile free text); those the loader accepts are run through the whole
// program under mocks, which must register them without throwing. A rule only a component enforced
// would fail here (a punycode or over-long website hostname did, until it moved into validation).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { runUnderMocks } from "../program/harness";
import { loadTenantDir } from "../src/tenants";
import { loadStackFile } from "../src/settings";

const ROOT = path.join(__dirname, "..");
const { settings } = loadStackFile("staging", path.join(ROOT, "Pulumi.staging.yaml"));
const CTX = { domain: settings!.domain, hosts: settings!.hosts };

const label = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/),
  fc.constantFrom("café", "müller", "xn--caf-dma", "a".repeat(63), "b".repeat(40), "s3", "wp", "www"),
);
const customHost = fc.tuple(label, fc.constantFrom("org", "fr", "example")).map(([a, tld]) => `${a}.${tld}`);
const hostField = fc.option(customHost, { nil: undefined });
const text = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== "");

const tenant = fc.record({
  slug: fc.stringMatching(/^[a-z][a-z0-9]{2,12}$/),
  name: text,
  status: fc.constantFrom("active", "suspended", "archived"),
  dns: fc.constantFrom("external", "managed"),
  nextcloud: fc.option(fc.record({ hostname: hostField, quotaGb: fc.integer({ min: 1, max: 500 }) }), { nil: undefined }),
  paheko: fc.option(fc.record({ hostname: hostField }), { nil: undefined }),
  wordpress: fc.option(fc.record({ hostname: hostField, title: fc.option(text, { nil: undefined }) }), { nil: undefined }),
  staticSite: fc.option(fc.record({ hostname: hostField }), { nil: undefined }),
});

type GeneratedTenant = typeof tenant extends fc.Arbitrary<infer T> ? T : never;

function yamlOf(t: GeneratedTenant): string {
  const block = (o: Record<string, unknown> | undefined) =>
    `{ ${Object.entries(o ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")} }`;
  const services = (["nextcloud", "paheko", "wordpress", "staticSite"] as const).filter((s) => t[s] !== undefined)
    .map((s) => `  ${s}: ${block(t[s] as Record<string, unknown>)}`);
  return [`slug: ${t.slug}`, `name: ${JSON.stringify(t.name)}`, `contact: contact@${t.slug}.example.org`, `status: ${t.status}`, `dns: ${t.dns}`,
    ...(services.length > 0 ? ["services:", ...services] : []), ""].join("\n");
}

describe("validation is the whole truth", () => {
  it("every tenant directory the loader accepts is registered by the whole program without an error", async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(fc.asyncProperty(fc.uniqueArray(tenant, { minLength: 1, maxLength: 4, selector: (t) => t.slug }), async (tenants) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-valid-"));
      try {
        for (const t of tenants) fs.writeFileSync(path.join(dir, `${t.slug}.yaml`), yamlOf(t));
        const loaded = loadTenantDir(dir, CTX, dir);
        if (loaded.problems.length > 0) {
          refused++;
          for (const p of loaded.problems) assert.ok(p.file && p.line >= 1 && p.message, "a refusal names its place");
          return;
        }
        accepted++;
        const r = await runUnderMocks({ stack: "staging", projectDir: ROOT, tenantsDir: dir });
        for (const t of loaded.tenants) assert.ok(r.resources.some((x) => x.tenant === t.slug), `${t.slug} registered something`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }), { numRuns: 25, seed: 20261202 });
    assert.ok(accepted >= 5, `the generator yields accepted directories (${accepted} accepted, ${refused} refused)`);
  });

  it("a host whose Nextcloud tenants are all suspended gets no cron container, and its rollout still ends in maintenance off", async () => {
    // The case the property test found (then: a host scheduler with no tenant threw).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-suspended-"));
    try {
      fs.writeFileSync(path.join(dir, "sleepy.yaml"), "slug: sleepy\nname: Sleepy\ncontact: a@sleepy.org\nstatus: suspended\nservices:\n  nextcloud: {}\n");
      const r = await runUnderMocks({ stack: "staging", projectDir: ROOT, tenantsDir: dir });
      assert.equal(r.resources.filter((x) => x.type === "docker:index/container:Container" && x.name.endsWith("-cron")).length, 0);
      assert.equal(r.resources.filter((x) => x.name === "sleepy-nextcloud-fpm").length, 1, "its FPM stays");
      const off = r.resources.find((x) => x.name.startsWith("nextcloud-") && x.name.endsWith("-maint-off"))!;
      const upgrade = r.resources.find((x) => x.name === "sleepy-nextcloud-upgrade")!;
      assert.ok(off.dependsOn.includes(upgrade.urn), "maintenance off waits for the upgrade");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
