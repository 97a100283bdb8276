// Lab: a real single-node Garage (the binary from scripts/lab/install-test-tools.sh) on loopback, configured
// with the garage.toml that renderGarageToml writes. The GarageBucket component runs under mocks; its
// serialized dynamic providers (the `__provider` text Pulumi stores in state) are loaded back and their
// create/read/diff/update/delete are driven against the server, as the Pulumi engine would. The S3 API
// (@aws-sdk/client-s3, path-style) proves what the keys can and cannot do; the web port serves the sites.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  DeleteBucketCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { GarageBucket } from "../../components/garageBucket";
import { findGarage, GarageServer, startGarage } from "../../scripts/lab/garage-server";
import { GarageAdminClient } from "../../src/garage/admin";
import { APPLICATION_KEY_PERMISSIONS, corsRule, garageKeyName, PLATFORM_KEY_PERMISSIONS } from "../../src/garage/naming";
import {
  BucketInputs,
  BucketOutputs,
  CrudProvider,
  garageBucketProvider,
  garageGrantProvider,
  garageKeyProvider,
  GrantInputs,
  KeyInputs,
  KeyOutputs,
} from "../../src/garage/provider";
import { runUnderMocks } from "../../src/harness";

const binary = findGarage();
if (!binary && process.env.CI) throw new Error("garage binary missing: run scripts/lab/install-test-tools.sh (cargo install garage)");
const skip = binary ? false : "garage binary missing (run scripts/lab/install-test-tools.sh; it builds Garage with cargo)";

/** The three providers exactly as Pulumi would run them: serialized by the SDK, then loaded from that text. */
async function serializedProviders(): Promise<{
  bucket: CrudProvider<BucketInputs, BucketOutputs>;
  key: CrudProvider<KeyInputs, KeyOutputs>;
  grant: CrudProvider<GrantInputs, GrantInputs>;
  sizes: number[];
}> {
  const run = await runUnderMocks({
    stack: "staging",
    program: () => {
      new GarageBucket("lab-site", {
        tenant: "lab", bucketName: "www.lab.test", corsOrigins: ["https://lab.test"],
        website: { indexDocument: "index.html", errorDocument: "404.html", initialIndexHtml: "<p>hi</p>" },
        admin: { url: "http://127.0.0.1:1", token: "unused" },
        s3: { url: "http://127.0.0.1:1", region: "garage", accessKeyId: "GKplatform", secretAccessKey: "x", ready: [] },
      });
    },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "garage-provider-"));
  const load = (resName: string) => {
    const text = run.resources.find((r) => r.name === resName)!.inputs.__provider as string;
    assert.equal(typeof text, "string", `${resName}: __provider must be plain (not secret) text`);
    const file = path.join(dir, `${resName}.js`);
    fs.writeFileSync(file, text);
    return { provider: (require(file) as { handler(): unknown }).handler(), size: text.length };
  };
  const b = load("lab-site-bucket");
  const k = load("lab-site-key");
  const g = load("lab-site-grant");
  return {
    bucket: b.provider as CrudProvider<BucketInputs, BucketOutputs>,
    key: k.provider as CrudProvider<KeyInputs, KeyOutputs>,
    grant: g.provider as CrudProvider<GrantInputs, GrantInputs>,
    sizes: [b.size, k.size, g.size],
  };
}

/** GET on the web endpoint with a Host header (fetch cannot set Host). */
function web(port: number, host: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method: "GET", headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function s3For(g: GarageServer, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({ endpoint: g.s3Url, region: g.region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
}

/** The S3 error name of a rejected call ("" when it succeeded). */
async function s3Error(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "";
  } catch (err) {
    return (err as { name?: string; Code?: string }).Code ?? (err as Error).name ?? "error";
  }
}

const put = (s3: S3Client, Bucket: string, Key: string, Body: string, ContentType = "text/plain") =>
  s3.send(new PutObjectCommand({ Bucket, Key, Body, ContentType }));
const get = async (s3: S3Client, Bucket: string, Key: string) =>
  (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();

describe("GarageBucket against a real Garage server", { skip }, () => {
  let g: GarageServer;
  let conn: { adminUrl: string; adminToken: string };
  let prov: Awaited<ReturnType<typeof serializedProviders>>;
  let admin: GarageAdminClient;

  // Tenant "alpha": a website bucket; tenant "beta": a data bucket.
  const alphaIn = (): BucketInputs => ({
    ...conn, globalAlias: "www.alpha.test", quotas: { maxSize: 10_000_000, maxObjects: 100 },
    website: { enabled: true, indexDocument: "index.html", errorDocument: "404.html" },
  });
  let alpha: BucketOutputs;
  let alphaKey: KeyOutputs;
  let alphaGrant: GrantInputs;
  let alphaGrantId = "";
  let beta: BucketOutputs;
  let betaKey: KeyOutputs;

  before(async () => {
    g = await startGarage({ binary });
    conn = { adminUrl: g.adminUrl, adminToken: g.adminToken };
    admin = new GarageAdminClient({ url: g.adminUrl, token: g.adminToken });
    prov = await serializedProviders();
  });
  after(async () => {
    await g?.stop();
  });

  it("the rendered garage.toml runs a healthy node; the client detects the v2 API", async () => {
    assert.match(fs.readFileSync(g.configFile, "utf8"), /^\[s3_web\]$/m);
    assert.match(await g.cli(["status"]), /HEALTHY NODES/);
    assert.equal(await admin.apiVersion(), "v2");
    assert.equal((await admin.health()).status, "healthy");
    // The serialized providers carry no configuration: a few tens of kB each.
    for (const size of prov.sizes) assert.ok(size < 60_000, `serialized provider is ${size} chars`);
  });

  it("a wrong admin token is refused with a clear error that does not echo the token", async () => {
    const bad = new GarageAdminClient({ url: g.adminUrl, token: "not-the-token" });
    await assert.rejects(bad.apiVersion(), (err: Error) => /HTTP 403/.test(err.message) && !err.message.includes("not-the-token"));
  });

  it("creates a bucket with its global alias, quota pair and website access, and reads it back", async () => {
    const created = await prov.bucket.create(alphaIn());
    alpha = created.outs;
    assert.match(created.id, /^[0-9a-f]{64}$/);
    assert.deepEqual(alpha, { ...alphaIn(), bucketId: created.id });
    const read = await prov.bucket.read(created.id, alpha);
    assert.deepEqual(read, { id: created.id, props: alpha });
    const info = await admin.getBucket({ globalAlias: "www.alpha.test" });
    assert.equal(info?.id, created.id);
    assert.deepEqual(info?.quotas, { maxSize: 10_000_000, maxObjects: 100 });
    assert.deepEqual(await prov.bucket.diff(created.id, alpha, alphaIn()), { changes: false, replaces: [], stables: ["bucketId"], deleteBeforeReplace: false });
  });

  it("refuses to create a second bucket under an existing alias, naming the existing id", async () => {
    await assert.rejects(prov.bucket.create(alphaIn()), (err: Error) => err.message.includes(alpha.bucketId) && /already exists/.test(err.message));
  });

  it("creates the access key (secret returned once, readable again) and grants read+write, not owner", async () => {
    const k = await prov.key.create({ ...conn, name: garageKeyName("alpha", "www.alpha.test") });
    alphaKey = k.outs;
    assert.match(k.id, /^GK[0-9a-f]{24}$/);
    assert.equal(alphaKey.accessKeyId, k.id);
    assert.match(alphaKey.secretAccessKey, /^[0-9a-f]{64}$/);
    assert.equal(alphaKey.name, "alpha/www.alpha.test");
    assert.deepEqual(await prov.key.read(k.id, alphaKey), { id: k.id, props: alphaKey });

    alphaGrant = { ...conn, bucketId: alpha.bucketId, accessKeyId: alphaKey.accessKeyId, permissions: { ...APPLICATION_KEY_PERMISSIONS } };
    const gr = await prov.grant.create(alphaGrant);
    alphaGrantId = gr.id;
    assert.equal(gr.id, `${alpha.bucketId}/${alphaKey.accessKeyId}`);
    assert.deepEqual(gr.outs.permissions, { read: true, write: true, owner: false });
    assert.deepEqual((await prov.grant.read(gr.id, gr.outs)).props?.permissions, { read: true, write: true, owner: false });
    const info = await admin.getBucket({ id: alpha.bucketId });
    assert.deepEqual(info?.keys.map((x) => [x.accessKeyId, x.permissions]), [[alphaKey.accessKeyId, { read: true, write: true, owner: false }]]);
  });

  it("a grant created over a key that already had owner takes owner away (exact permissions)", async () => {
    await admin.allowBucketKey(alpha.bucketId, alphaKey.accessKeyId, { read: false, write: false, owner: true });
    const read = await prov.grant.read(alphaGrantId, alphaGrant);
    assert.deepEqual(read.props?.permissions, { read: true, write: true, owner: true });
    assert.equal((await prov.grant.diff(alphaGrantId, read.props!, alphaGrant)).changes, true);
    const upd = await prov.grant.update(alphaGrantId, read.props!, alphaGrant);
    assert.deepEqual(upd.outs?.permissions, { read: true, write: true, owner: false });
  });

  it("second tenant: bucket, key and grant", async () => {
    beta = (await prov.bucket.create({ ...conn, globalAlias: "beta-data", quotas: {}, website: { enabled: false } })).outs;
    assert.deepEqual(beta.quotas, {});
    assert.deepEqual(beta.website, { enabled: false });
    betaKey = (await prov.key.create({ ...conn, name: garageKeyName("beta", "beta-data") })).outs;
    await prov.grant.create({ ...conn, bucketId: beta.bucketId, accessKeyId: betaKey.accessKeyId, permissions: { ...APPLICATION_KEY_PERMISSIONS } });
  });

  it("S3: each key writes and reads its own bucket and cannot touch the other tenant's", async () => {
    const a = s3For(g, alphaKey.accessKeyId, alphaKey.secretAccessKey);
    const b = s3For(g, betaKey.accessKeyId, betaKey.secretAccessKey);
    await put(a, "www.alpha.test", "hello.txt", "alpha data");
    assert.equal(await get(a, "www.alpha.test", "hello.txt"), "alpha data");
    await put(b, "beta-data", "secret.txt", "beta data");

    assert.equal(await s3Error(put(a, "beta-data", "intruder.txt", "x")), "AccessDenied");
    assert.equal(await s3Error(get(a, "beta-data", "secret.txt")), "AccessDenied");
    assert.equal(await s3Error(a.send(new ListObjectsV2Command({ Bucket: "beta-data" }))), "AccessDenied");
    assert.equal(await s3Error(get(b, "www.alpha.test", "hello.txt")), "AccessDenied");
    assert.equal(await get(b, "beta-data", "secret.txt"), "beta data");
  });

  it("S3: without owner, the application key can neither delete its bucket nor change its CORS", async () => {
    const a = s3For(g, alphaKey.accessKeyId, alphaKey.secretAccessKey);
    assert.equal(await s3Error(a.send(new DeleteBucketCommand({ Bucket: "www.alpha.test" }))), "AccessDenied");
    const rule = corsRule(["https://alpha.test"]);
    const cors = { CORSRules: [{ AllowedOrigins: rule.allowedOrigins, AllowedMethods: rule.allowedMethods, AllowedHeaders: rule.allowedHeaders, ExposeHeaders: rule.exposeHeaders, MaxAgeSeconds: rule.maxAgeSeconds }] };
    assert.equal(await s3Error(a.send(new PutBucketCorsCommand({ Bucket: "www.alpha.test", CORSConfiguration: cors }))), "AccessDenied");

    // What the component does for CORS: a platform key with PLATFORM_KEY_PERMISSIONS sets the factory's rule.
    const platform = (await prov.key.create({ ...conn, name: "platform" })).outs;
    await prov.grant.create({ ...conn, bucketId: alpha.bucketId, accessKeyId: platform.accessKeyId, permissions: { ...PLATFORM_KEY_PERMISSIONS } });
    const p = s3For(g, platform.accessKeyId, platform.secretAccessKey);
    await p.send(new PutBucketCorsCommand({ Bucket: "www.alpha.test", CORSConfiguration: cors }));
    const got = await p.send(new GetBucketCorsCommand({ Bucket: "www.alpha.test" }));
    assert.deepEqual(got.CORSRules?.map((r) => [r.AllowedOrigins, r.AllowedMethods?.slice().sort()]), [[["https://alpha.test"], ["GET", "HEAD"]]]);
  });

  it("updates the quota pair; Garage enforces the new object limit", async () => {
    const news: BucketInputs = { ...alphaIn(), quotas: { maxSize: 10_000_000, maxObjects: 1 } };
    const d = await prov.bucket.diff(alpha.bucketId, alpha, news);
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
    alpha = (await prov.bucket.update(alpha.bucketId, alpha, news)).outs!;
    assert.deepEqual(alpha.quotas, { maxSize: 10_000_000, maxObjects: 1 });
    assert.deepEqual((await admin.getBucket({ id: alpha.bucketId }))?.quotas, { maxSize: 10_000_000, maxObjects: 1 });
    const a = s3For(g, alphaKey.accessKeyId, alphaKey.secretAccessKey);
    // hello.txt is already there: a second object exceeds the limit.
    assert.notEqual(await s3Error(put(a, "www.alpha.test", "second.txt", "x")), "");
    // Removing the object limit (size only) is a single update of the pair.
    const sizeOnly: BucketInputs = { ...alphaIn(), quotas: { maxSize: 10_000_000 } };
    alpha = (await prov.bucket.update(alpha.bucketId, alpha, sizeOnly)).outs!;
    assert.deepEqual((await admin.getBucket({ id: alpha.bucketId }))?.quotas, { maxSize: 10_000_000, maxObjects: null });
    await put(a, "www.alpha.test", "second.txt", "x");
  });

  it("a quota changed by hand shows as drift on refresh and the next update restores it", async () => {
    await admin.updateBucket(alpha.bucketId, { quotas: { maxSize: 5, maxObjects: 5 } });
    const refreshed = (await prov.bucket.read(alpha.bucketId, alpha)).props!;
    assert.deepEqual(refreshed.quotas, { maxSize: 5, maxObjects: 5 });
    const wanted: BucketInputs = { ...alphaIn(), quotas: { maxSize: 10_000_000 } };
    assert.equal((await prov.bucket.diff(alpha.bucketId, refreshed, wanted)).changes, true);
    alpha = (await prov.bucket.update(alpha.bucketId, refreshed, wanted)).outs!;
    assert.deepEqual((await admin.getBucket({ id: alpha.bucketId }))?.quotas, { maxSize: 10_000_000, maxObjects: null });
  });

  it("serves the website through the web port by Host header (alias and alias under the root domain), with the error document", async () => {
    const a = s3For(g, alphaKey.accessKeyId, alphaKey.secretAccessKey);
    await put(a, "www.alpha.test", "index.html", "<h1>alpha home</h1>", "text/html");
    await put(a, "www.alpha.test", "404.html", "<h1>alpha not found</h1>", "text/html");
    assert.deepEqual(await web(g.webPort, "www.alpha.test", "/"), { status: 200, body: "<h1>alpha home</h1>" });
    assert.deepEqual(await web(g.webPort, `www.alpha.test.${g.webRootDomain}`, "/"), { status: 200, body: "<h1>alpha home</h1>" });
    assert.deepEqual(await web(g.webPort, "www.alpha.test", "/missing"), { status: 404, body: "<h1>alpha not found</h1>" });
    assert.equal(await admin.checkDomain("www.alpha.test"), true);
    // The data bucket has no website access.
    assert.equal((await web(g.webPort, "beta-data", "/secret.txt")).status, 404);
    assert.equal(await admin.checkDomain("beta-data"), false);
  });

  it("toggles website access off and on", async () => {
    const off: BucketInputs = { ...alphaIn(), quotas: alpha.quotas, website: { enabled: false } };
    assert.equal((await prov.bucket.diff(alpha.bucketId, alpha, off)).changes, true);
    alpha = (await prov.bucket.update(alpha.bucketId, alpha, off)).outs!;
    assert.deepEqual(alpha.website, { enabled: false });
    assert.equal((await web(g.webPort, "www.alpha.test", "/")).status, 404);
    assert.equal(await admin.checkDomain("www.alpha.test"), false);

    const on: BucketInputs = { ...alphaIn(), quotas: alpha.quotas, website: { enabled: true, indexDocument: "index.html", errorDocument: "404.html" } };
    alpha = (await prov.bucket.update(alpha.bucketId, alpha, on)).outs!;
    assert.deepEqual(alpha.website, on.website);
    assert.deepEqual(await web(g.webPort, "www.alpha.test", "/"), { status: 200, body: "<h1>alpha home</h1>" });
    assert.equal(await admin.checkDomain("www.alpha.test"), true);
  });

  it("deny/allow: read-only, then revoked by deleting the grant (DenyBucketKey), then granted again", async () => {
    const a = s3For(g, alphaKey.accessKeyId, alphaKey.secretAccessKey);
    const readOnly: GrantInputs = { ...alphaGrant, permissions: { read: true, write: false, owner: false } };
    const ro = (await prov.grant.update(alphaGrantId, alphaGrant, readOnly)).outs!;
    assert.deepEqual(ro.permissions, { read: true, write: false, owner: false });
    assert.equal(await s3Error(put(a, "www.alpha.test", "x.txt", "x")), "AccessDenied");
    assert.equal(await get(a, "www.alpha.test", "hello.txt"), "alpha data");

    await prov.grant.delete(alphaGrantId, ro);
    assert.deepEqual(await prov.grant.read(alphaGrantId, ro), {});
    assert.equal(await s3Error(get(a, "www.alpha.test", "hello.txt")), "AccessDenied");
    // Deleting twice is harmless (the engine may retry).
    await prov.grant.delete(alphaGrantId, ro);

    const again = await prov.grant.create(alphaGrant);
    assert.equal(again.id, alphaGrantId);
    assert.equal(await get(a, "www.alpha.test", "hello.txt"), "alpha data");
    await put(a, "www.alpha.test", "x.txt", "x");
  });

  it("diff: a new alias replaces the bucket (which protect then blocks); a new token or key name is an in-place update", async () => {
    const renamed: BucketInputs = { ...alphaIn(), quotas: alpha.quotas, globalAlias: "www.alpha2.test" };
    assert.deepEqual((await prov.bucket.diff(alpha.bucketId, alpha, renamed)).replaces, ["globalAlias"]);
    const rotated: BucketInputs = { ...alphaIn(), quotas: alpha.quotas, adminToken: "rotated" };
    const d = await prov.bucket.diff(alpha.bucketId, alpha, rotated);
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
    const keyDiff = await prov.key.diff(alphaKey.accessKeyId, alphaKey, { ...conn, name: "alpha/renamed" });
    assert.deepEqual([keyDiff.changes, keyDiff.replaces], [true, []]);
    const renamedKey = (await prov.key.update(alphaKey.accessKeyId, alphaKey, { ...conn, name: "alpha/renamed" })).outs!;
    assert.equal(renamedKey.secretAccessKey, alphaKey.secretAccessKey);
    assert.equal((await admin.getKey(alphaKey.accessKeyId, false))?.name, "alpha/renamed");
  });

  it("delete: key and an emptied bucket are removed; read then reports them gone; a non-empty bucket is refused", async () => {
    await assert.rejects(prov.bucket.delete(beta.bucketId, beta), /BucketNotEmpty|not empty/i);
    const b = s3For(g, betaKey.accessKeyId, betaKey.secretAccessKey);
    await b.send(new (await import("@aws-sdk/client-s3")).DeleteObjectCommand({ Bucket: "beta-data", Key: "secret.txt" }));
    await prov.key.delete(betaKey.accessKeyId, betaKey);
    assert.deepEqual(await prov.key.read(betaKey.accessKeyId, betaKey), {});
    await prov.bucket.delete(beta.bucketId, beta);
    assert.deepEqual(await prov.bucket.read(beta.bucketId, beta), {});
    assert.equal(await admin.getBucket({ globalAlias: "beta-data" }), undefined);
  });

  it("the in-process provider objects and the v1 API paths (which Garage 2 still answers) give the same results", async () => {
    const v1 = { ...conn, apiVersion: "v1" as const };
    const bucket = await garageBucketProvider.create({ ...v1, globalAlias: "gamma-v1", quotas: { maxObjects: 7 }, website: { enabled: true, indexDocument: "index.html" } });
    assert.deepEqual(bucket.outs, { ...v1, globalAlias: "gamma-v1", quotas: { maxObjects: 7 }, website: { enabled: true, indexDocument: "index.html" }, bucketId: bucket.id });
    assert.deepEqual((await garageBucketProvider.read(bucket.id, bucket.outs)).props, bucket.outs);
    const key = await garageKeyProvider.create({ ...v1, name: "gamma/gamma-v1" });
    assert.match(key.outs.secretAccessKey, /^[0-9a-f]{64}$/);
    assert.deepEqual((await garageKeyProvider.read(key.id, key.outs)).props, key.outs);
    const grant = await garageGrantProvider.create({ ...v1, bucketId: bucket.id, accessKeyId: key.id, permissions: { ...APPLICATION_KEY_PERMISSIONS } });
    assert.deepEqual(grant.outs.permissions, { read: true, write: true, owner: false });
    const upd = await garageBucketProvider.update(bucket.id, bucket.outs, { ...v1, globalAlias: "gamma-v1", quotas: { maxSize: 4096, maxObjects: 7 }, website: { enabled: false } });
    assert.deepEqual(upd.outs?.quotas, { maxSize: 4096, maxObjects: 7 });
    await garageGrantProvider.delete(grant.id, grant.outs);
    assert.deepEqual(await garageGrantProvider.read(grant.id, grant.outs), {});
    const s3 = s3For(g, key.id, key.outs.secretAccessKey);
    assert.equal(await s3Error(put(s3, "gamma-v1", "a.txt", "a")), "AccessDenied");
  });
});
