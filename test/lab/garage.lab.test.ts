// Lab: a real single-node Garage (the binary from scripts/lab/install-test-tools.sh) on loopback, configured
// with the garage.toml that renderGarageToml writes. The GarageBucket component runs under mocks; its
// serialized dynamic providers (the `__provider` text Pulumi stores in state) are loaded back the way the
// engine's dynamic provider does (require-from-string, modules resolved from the working directory) and their
// create/read/diff/update/delete are driven against the server, as the Pulumi engine would: the admin-API
// ones (bucket, key, grant) and the S3 ones (CORS rule, first index.html) with the platform key. The S3 API
// (@aws-sdk/client-s3, path-style) proves what the keys can and cannot do; the web port serves the sites.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
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
  CorsInputs,
  CorsOutputs,
  CrudProvider,
  garageBucketProvider,
  garageGrantProvider,
  garageKeyProvider,
  GarageS3Connection,
  GrantInputs,
  grantId,
  KeyInputs,
  KeyOutputs,
  ObjectInputs,
  ObjectOutputs,
} from "../../src/garage/provider";
import { runUnderMocks } from "../../program/harness";

const binary = findGarage();
if (!binary && process.env.CI) throw new Error("garage binary missing: run scripts/lab/install-test-tools.sh (cargo install garage)");
const skip = binary ? false : "garage binary missing (run scripts/lab/install-test-tools.sh; it builds Garage with cargo)";

/** What the engine's dynamic provider loads serialized providers with (a dependency of @pulumi/pulumi). */
const requireFromString = require(require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] })) as (code: string) => { handler(): unknown };

/** The five providers exactly as Pulumi would run them: serialized by the SDK, then loaded from that text. */
async function serializedProviders(): Promise<{
  bucket: CrudProvider<BucketInputs, BucketOutputs>;
  key: CrudProvider<KeyInputs, KeyOutputs>;
  grant: CrudProvider<GrantInputs, GrantInputs>;
  cors: CrudProvider<CorsInputs, CorsOutputs>;
  object: CrudProvider<ObjectInputs, ObjectOutputs>;
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
  const load = (resName: string) => {
    const text = run.resources.find((r) => r.name === resName)!.inputs.__provider as string;
    assert.equal(typeof text, "string", `${resName}: __provider must be plain (not secret) text`);
    return { provider: requireFromString(text).handler(), size: text.length };
  };
  const b = load("lab-site-bucket");
  const k = load("lab-site-key");
  const g = load("lab-site-grant");
  const c = load("lab-site-cors");
  const o = load("lab-site-index");
  return {
    bucket: b.provider as CrudProvider<BucketInputs, BucketOutputs>,
    key: k.provider as CrudProvider<KeyInputs, KeyOutputs>,
    grant: g.provider as CrudProvider<GrantInputs, GrantInputs>,
    cors: c.provider as CrudProvider<CorsInputs, CorsOutputs>,
    object: o.provider as CrudProvider<ObjectInputs, ObjectOutputs>,
    sizes: [b.size, k.size, g.size, c.size, o.size],
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

/** Any request to a loopback port with explicit headers (a browser's CORS preflight: OPTIONS with Origin). */
function raw(port: number, method: string, urlPath: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The CORS answer headers of a response (empty when the request was refused). */
const corsHeaders = (h: http.IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith("access-control-")));

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
    assert.equal(gr.id, grantId(alpha.bucketId, alphaKey.accessKeyId));
    assert.ok(!gr.id.includes(alphaKey.accessKeyId), "the key id stays out of the resource id");
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
  // The S3 side of a GarageBucket: the platform key (owner on the buckets whose CORS or first page the factory
  // manages) drives the serialized CORS and object providers. Bucket names contain dots: path-style only.
  let platformKey: KeyOutputs;
  const s3Conn = (): GarageS3Connection => ({ s3Url: g.s3Url, s3Region: g.region, s3AccessKeyId: platformKey.accessKeyId, s3SecretAccessKey: platformKey.secretAccessKey });
  /** A website bucket with a tenant key (read+write) and the platform key (owner), as GarageBucket makes it. */
  const websiteWithKeys = async (alias: string, tenant: string) => {
    const bucket = (await prov.bucket.create({ ...conn, globalAlias: alias, quotas: {}, website: { enabled: true, indexDocument: "index.html", errorDocument: "404.html" } })).outs;
    const key = (await prov.key.create({ ...conn, name: garageKeyName(tenant, alias) })).outs;
    await prov.grant.create({ ...conn, bucketId: bucket.bucketId, accessKeyId: key.accessKeyId, permissions: { ...APPLICATION_KEY_PERMISSIONS } });
    if (!platformKey) platformKey = (await prov.key.create({ ...conn, name: "platform-s3" })).outs;
    await prov.grant.create({ ...conn, bucketId: bucket.bucketId, accessKeyId: platformKey.accessKeyId, permissions: { ...PLATFORM_KEY_PERMISSIONS } });
    return { bucket, key };
  };
  // What a refused preflight carries: Garage puts a blanket `Access-Control-Allow-Origin: *` on every error
  // answer (S3 API and web endpoint alike, so that scripts can read S3 errors); the refusal is the 403 status.
  const REFUSED_PREFLIGHT = { "access-control-allow-origin": "*" };
  const preflight = (alias: string, origin: string, method = "GET", via: "s3" | "web" = "s3") => via === "s3"
    ? raw(Number(new URL(g.s3Url).port), "OPTIONS", `/${alias}/index.html`, { origin, "access-control-request-method": method })
    : raw(g.webPort, "OPTIONS", "/index.html", { host: alias, origin, "access-control-request-method": method });

  it("CORS: the serialized provider sets exactly the factory's rule on a dotted bucket; preflights from listed origins get the CORS headers, others do not", async () => {
    const alias = "www.cors.lab.test";
    const { key } = await websiteWithKeys(alias, "corsy");
    const rule = corsRule(["https://www.cors.lab.test", "https://cors.lab.test"]);
    const created = await prov.cors.create({ ...s3Conn(), bucket: alias, corsRules: [rule] });
    assert.equal(created.id, alias);
    assert.deepEqual(created.outs.corsRules, [rule]);

    // GetBucketCors (another client, the platform key) answers exactly that rule.
    const p = s3For(g, platformKey.accessKeyId, platformKey.secretAccessKey);
    const got = await p.send(new GetBucketCorsCommand({ Bucket: alias }));
    assert.deepEqual(got.CORSRules?.map((r) => ({ ...r, AllowedMethods: r.AllowedMethods?.slice().sort(), AllowedOrigins: r.AllowedOrigins?.slice().sort() })), [{
      AllowedOrigins: ["https://cors.lab.test", "https://www.cors.lab.test"], AllowedMethods: ["GET", "HEAD"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag"], MaxAgeSeconds: 3600,
    }]);
    assert.deepEqual(await prov.cors.read(alias, created.outs), { id: alias, props: created.outs });

    // Browsers: a preflight from a listed origin is answered with the CORS headers, on the S3 API and on the web endpoint.
    for (const via of ["s3", "web"] as const) {
      const ok = await preflight(alias, "https://cors.lab.test", "GET", via);
      assert.equal(ok.status, 200, `${via}: ${ok.body}`);
      assert.deepEqual(corsHeaders(ok.headers), {
        "access-control-allow-origin": "https://cors.lab.test", "access-control-allow-methods": "GET, HEAD",
        "access-control-allow-headers": "*", "access-control-expose-headers": "ETag",
      }, via);
      // Another origin, or a method the rule does not allow: refused (a preflight must answer 2xx to pass), and
      // none of the rule's headers (no origin echoed, no methods, no exposed headers).
      for (const [origin, method] of [["https://evil.test", "GET"], ["https://cors.lab.test.evil.test", "GET"], ["https://cors.lab.test", "PUT"]]) {
        const no = await preflight(alias, origin, method, via);
        assert.equal(no.status, 403, `${via} ${origin} ${method}`);
        assert.deepEqual(corsHeaders(no.headers), REFUSED_PREFLIGHT, `${via} ${origin} ${method}`);
      }
    }

    // The tenant key (no owner) cannot set CORS through the provider: a clean error, no secret in it.
    await assert.rejects(prov.cors.create({ ...s3Conn(), s3AccessKeyId: key.accessKeyId, s3SecretAccessKey: key.secretAccessKey, bucket: alias, corsRules: [corsRule(["https://evil.test"])] }),
      (err: Error) => /^Garage S3 PutBucketCors on bucket www\.cors\.lab\.test failed \(HTTP 403 AccessDenied\)/.test(err.message) && !err.message.includes(key.secretAccessKey));

    // Drift: a rule changed by hand shows on refresh; the next update puts the factory's rule back, exactly.
    await p.send(new PutBucketCorsCommand({ Bucket: alias, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ["*"], AllowedMethods: ["GET", "PUT"] }] } }));
    const drifted = (await prov.cors.read(alias, created.outs)).props!;
    assert.deepEqual(drifted.corsRules, [{ allowedOrigins: ["*"], allowedMethods: ["GET", "PUT"], allowedHeaders: [], exposeHeaders: [] }]);
    const wanted: CorsInputs = { ...s3Conn(), bucket: alias, corsRules: [rule] };
    assert.deepEqual((await prov.cors.diff(alias, drifted, wanted)).changes, true);
    await prov.cors.update(alias, drifted, wanted);
    assert.deepEqual((await prov.cors.read(alias, created.outs)).props, created.outs);
    assert.equal((await preflight(alias, "https://evil.test")).status, 403);

    // Delete removes the configuration: no rule, every preflight refused; deleting again is harmless.
    await prov.cors.delete(alias, created.outs);
    assert.equal(await s3Error(p.send(new GetBucketCorsCommand({ Bucket: alias }))), "NoSuchCORSConfiguration");
    assert.deepEqual(await prov.cors.read(alias, created.outs), {});
    assert.equal((await preflight(alias, "https://cors.lab.test")).status, 403);
    await prov.cors.delete(alias, created.outs);
  });

  it("first index.html: written once on a dotted bucket; a second create or an update never overwrites what the tenant published meanwhile", async () => {
    const alias = "www.first.lab.test";
    const { key } = await websiteWithKeys(alias, "first");
    const inputs: ObjectInputs = { ...s3Conn(), bucket: alias, key: "index.html", content: "<h1>Bientôt</h1>", contentType: "text/html; charset=utf-8" };
    const made = await prov.object.create(inputs);
    assert.deepEqual(made, { id: `${alias}/index.html`, outs: { ...inputs, created: true } });
    assert.deepEqual(await web(g.webPort, alias, "/"), { status: 200, body: "<h1>Bientôt</h1>" });
    const tenant = s3For(g, key.accessKeyId, key.secretAccessKey);
    const head = await tenant.send(new GetObjectCommand({ Bucket: alias, Key: "index.html" }));
    assert.equal(head.ContentType, "text/html; charset=utf-8");

    // The tenant publishes its site (Staatic, or by hand with its key).
    await put(tenant, alias, "index.html", "<h1>Our real site</h1>", "text/html");
    // A second create (state lost, or a replacement) finds the object and leaves it.
    const again = await prov.object.create({ ...inputs, content: "<h1>Another placeholder</h1>" });
    assert.equal(again.outs.created, false);
    assert.equal(await get(tenant, alias, "index.html"), "<h1>Our real site</h1>");
    // A new placeholder in code is no change; an update (new platform key values) writes nothing.
    assert.equal((await prov.object.diff(made.id, made.outs, { ...inputs, content: "<h1>Changed</h1>" })).changes, false);
    const upd = await prov.object.update(made.id, made.outs, { ...inputs, content: "<h1>Changed</h1>" });
    assert.equal(upd.outs?.content, "<h1>Bientôt</h1>");
    assert.deepEqual(await prov.object.read(made.id, made.outs), { id: made.id, props: made.outs });
    // Delete (only reached without retainOnDelete) leaves the object too.
    await prov.object.delete(made.id, made.outs);
    assert.deepEqual(await web(g.webPort, alias, "/"), { status: 200, body: "<h1>Our real site</h1>" });

    // A bucket whose tenant published before the first page was ever written: created false, nothing touched.
    const { key: k2 } = await websiteWithKeys("www.early.lab.test", "early");
    await put(s3For(g, k2.accessKeyId, k2.secretAccessKey), "www.early.lab.test", "index.html", "<p>early bird</p>", "text/html");
    assert.equal((await prov.object.create({ ...inputs, bucket: "www.early.lab.test" })).outs.created, false);
    assert.deepEqual(await web(g.webPort, "www.early.lab.test", "/"), { status: 200, body: "<p>early bird</p>" });
  });

  it("path-style addressing: the dotted buckets are reached as /<bucket>/<key> on the S3 endpoint, which has no bucket domain", async () => {
    const p = s3For(g, platformKey.accessKeyId, platformKey.secretAccessKey);
    const listed = await p.send(new ListObjectsV2Command({ Bucket: "www.first.lab.test" }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ["index.html"]);
    // Virtual-hosted style (bucket in the Host header) is not served here: Garage answers for no bucket domain.
    const vhost = await raw(Number(new URL(g.s3Url).port), "GET", "/index.html", { host: `www.first.lab.test.${new URL(g.s3Url).host}` });
    assert.notEqual(vhost.status, 200);
    assert.ok(!vhost.body.includes("Bientôt") && !vhost.body.includes("Our real site"));
  });
});
