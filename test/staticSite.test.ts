import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { StaticSite } from "../components/staticSite";
import { revealSecrets, runUnderMocks, SECRET_MARK } from "../program/harness";
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
        const garageS3 = { url: "http://10.0.0.20:3900", region: "garage", accessKeyId: pulumi.secret("GKplatform"), secretAccessKey: pulumi.secret("platform-secret"), ready: [] };
        const site = new StaticSite("alpha-static", { tenant: "alpha", hostname: "docs.alpha.example", garageAdmin: { url: "http://10.0.0.20:3903", token: pulumi.secret("tok") }, garageS3 });
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
    // Its children: bucket, key, grant, the platform key's grant and the first page, written once through the S3 API.
    assert.deepEqual(rs.filter((r) => r.parent === byName(rs, "alpha-static-bucket").urn).map((r) => `${r.type} ${r.name}`).sort(),
      ["bucket", "grant", "index", "key", "platform-grant"].map((n) => `pulumi-nodejs:dynamic:Resource alpha-static-bucket-${n}`));
    const index = byName(rs, "alpha-static-bucket-index");
    assert.deepEqual(revealSecrets(Object.fromEntries(Object.entries(index.inputs).filter(([k]) => k !== "__provider"))), {
      s3Url: "http://10.0.0.20:3900", s3Region: "garage", s3AccessKeyId: "GKplatform", s3SecretAccessKey: "platform-secret",
      bucket: "docs.alpha.example", key: "index.html", content: placeholderPage("docs.alpha.example"), contentType: "text/html; charset=utf-8",
    });
    assert.deepEqual([index.inputs.s3AccessKeyId, index.inputs.s3SecretAccessKey], [{ [SECRET_MARK]: "GKplatform" }, { [SECRET_MARK]: "platform-secret" }]);
    assert.deepEqual([index.protect, index.retainOnDelete], [false, true]);
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
      const garageReady = ["platform-shared-garage", "platform-shared-garage-layout", "platform-shared-garage-platform-key"].map((n) => byName(rs, n).urn);
      for (const t of withSite) {
        const b = byName(rs, `${t.slug}-static-bucket-bucket`);
        assert.equal(b.inputs.globalAlias, hostOf(t));
        assert.equal(b.protect, true);
        assert.equal(b.tenant, t.slug);
        // The first page goes through Garage's S3 API, after Garage, its layout and the platform key.
        const index = byName(rs, `${t.slug}-static-bucket-index`);
        assert.deepEqual([index.inputs.bucket, index.inputs.key, index.inputs.s3Url, index.inputs.s3Region], [hostOf(t), "index.html", "http://10.20.0.20:3900", "garage"]);
        assert.deepEqual([index.retainOnDelete, index.tenant], [true, t.slug]);
        for (const u of garageReady) assert.ok(index.dependsOn.includes(u) && b.dependsOn.includes(u), `${t.slug}: waits for ${u}`);
      }
      const staticIndexes = rs.filter((r) => /-static-bucket-index$/.test(r.name));
      assert.equal(staticIndexes.length, withSite.length);
      assert.deepEqual(rs.filter((r) => /-static-bucket-cors$/.test(r.name)), []);
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
