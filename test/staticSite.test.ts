import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StaticSite } from "../components/staticSite";
import { runUnderMocks } from "../src/harness";
import { placeholderPage } from "../src/wordpress/placeholder";
import { byName, defaults, FIVE, FixtureTenant, leaks, ONE, ROOT, runWith } from "./pahekoWordpressFixtures";

const hostOf = (t: FixtureTenant) => t.staticSite!.hostname ?? defaults.staticSite(t.slug);

describe("StaticSite component", () => {
  it("is one website bucket with a first index page, attributed to the tenant, its key a secret output", async () => {
    let secret: Promise<boolean> | undefined;
    const { resources: rs, outputs } = await runUnderMocks({
      stack: "staging",
      projectDir: ROOT,
      program: () => {
        const s3 = new aws.Provider("s3", { region: "garage", accessKey: "GKplatform", secretKey: "platform-secret", skipCredentialsValidation: true });
        const site = new StaticSite("alpha-static", { tenant: "alpha", hostname: "docs.alpha.example", garageAdmin: { url: "http://10.0.0.20:3903", token: pulumi.secret("tok") }, s3Provider: s3 });
        secret = pulumi.isSecret(site.secretAccessKey);
        return { bucket: site.bucketName, id: site.accessKeyId };
      },
    });
    assert.equal(await secret, true);
    const comp = byName(rs, "alpha-static");
    assert.equal(comp.type, "factory:static:StaticSite");
    assert.deepEqual(comp.inputs, { tenant: "alpha" });
    assert.deepEqual(rs.filter((r) => r.parent === comp.urn).map((r) => `${r.type} ${r.name}`), ["factory:garage:GarageBucket alpha-static-bucket"]);
    const bucket = byName(rs, "alpha-static-bucket-bucket");
    assert.equal(bucket.inputs.globalAlias, "docs.alpha.example");
    assert.deepEqual(bucket.inputs.website, { enabled: true, indexDocument: "index.html", errorDocument: "404.html" });
    assert.equal(byName(rs, "alpha-static-bucket-index").inputs.content, placeholderPage("docs.alpha.example"));
    for (const r of rs.filter((x) => x.parent !== null)) assert.equal(r.tenant, "alpha", r.name);
    assert.deepEqual((outputs as { bucket: string }).bucket, "docs.alpha.example");
  });
});

for (const [label, tenants] of [["1 tenant", ONE], ["5 tenants", FIVE]] as const) {
  describe(`static sites under mocks with ${label}`, () => {
    it("one website bucket per tenant with a static site (archived ones keep theirs), keys exported per tenant", async () => {
      const { resources: rs, outputs } = await runWith(tenants);
      const withSite = tenants.filter((t) => t.staticSite);
      assert.deepEqual(rs.filter((r) => r.type === "factory:static:StaticSite").map((r) => r.name).sort(), withSite.map((t) => `${t.slug}-static`).sort());
      for (const t of withSite) {
        const b = byName(rs, `${t.slug}-static-bucket-bucket`);
        assert.equal(b.inputs.globalAlias, hostOf(t));
        assert.equal(b.protect, true);
        assert.equal(b.tenant, t.slug);
      }
      const out = (outputs as { staticSites: Record<string, { bucket: string; accessKeyId: string; secretAccessKey: string }> }).staticSites;
      assert.deepEqual(Object.keys(out).sort(), withSite.map((t) => t.slug).sort());
      for (const t of withSite) {
        assert.equal(out[t.slug].bucket, hostOf(t));
        assert.match(out[t.slug].accessKeyId, /^GK[0-9a-f]{24}$/);
        assert.match(out[t.slug].secretAccessKey, /^mock-garage-secret-/);
      }
      assert.deepEqual(leaks(rs), []);
    });
  });
}
