import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as http from "node:http";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { GarageBucket, GarageBucketArgs } from "../components/garageBucket";
import { FetchLike, GarageAdminClient, garageRoute, isGarageAdminError } from "../src/garage/admin";
import { renderGarageToml, tomlString } from "../src/garage/config";
import {
  APPLICATION_KEY_PERMISSIONS,
  bucketNameProblem,
  corsOriginProblem,
  corsRule,
  garageBucketProblems,
  garageKeyName,
  serviceBucketName,
  websiteBucketName,
} from "../src/garage/naming";
import {
  BucketOutputs,
  CorsOutputs,
  garageBucketProvider,
  garageCorsProvider,
  garageGrantProvider,
  grantId,
  garageKeyProvider,
  garageObjectProvider,
  KeyOutputs,
  ObjectInputs,
  ObjectOutputs,
  quotaPair,
  websiteState,
} from "../src/garage/provider";
import { normalCorsRule } from "../src/garage/s3";
import { maskSecrets, RecordedResource, revealSecrets, runUnderMocks, SECRET_MARK } from "../program/harness";

const TOML_INPUT = {
  metadataDir: "/var/lib/garage/meta",
  dataDir: "/var/lib/garage/data",
  replicationFactor: 1,
  rpcBindAddr: "0.0.0.0:3901",
  rpcPublicAddr: "10.0.0.5:3901",
  s3ApiBindAddr: "10.0.0.5:3900",
  s3Region: "garage",
  webBindAddr: "10.0.0.5:3902",
  webRootDomain: "web.example.org",
  adminApiBindAddr: "10.0.0.5:3903",
  rpcSecretFile: "/run/secrets/garage_rpc_secret",
  adminTokenFile: "/run/secrets/garage_admin_token",
};

describe("renderGarageToml", () => {
  it("renders the whole file, secrets by file path only", () => {
    assert.equal(renderGarageToml(TOML_INPUT), [
      "# Rendered by the service factory (src/garage/config.ts); do not edit by hand.",
      'metadata_dir = "/var/lib/garage/meta"',
      'data_dir = "/var/lib/garage/data"',
      'db_engine = "lmdb"',
      'metadata_auto_snapshot_interval = "6h"',
      "replication_factor = 1",
      'consistency_mode = "consistent"',
      "",
      'rpc_bind_addr = "0.0.0.0:3901"',
      'rpc_public_addr = "10.0.0.5:3901"',
      'rpc_secret_file = "/run/secrets/garage_rpc_secret"',
      "",
      "[s3_api]",
      's3_region = "garage"',
      'api_bind_addr = "10.0.0.5:3900"',
      "# No root_domain: clients use path-style addressing (bucket names contain dots).",
      "",
      "[s3_web]",
      'bind_addr = "10.0.0.5:3902"',
      'root_domain = ".web.example.org"',
      "",
      "[admin]",
      'api_bind_addr = "10.0.0.5:3903"',
      'admin_token_file = "/run/secrets/garage_admin_token"',
      "",
    ].join("\n"));
  });

  it("keeps an explicit leading dot, accepts IPv6 bind addresses and a host name as public RPC address", () => {
    const out = renderGarageToml({ ...TOML_INPUT, webRootDomain: ".web.example.org", rpcBindAddr: "[::]:3901", rpcPublicAddr: "garage1.internal:3901", replicationFactor: 3 });
    assert.match(out, /^root_domain = "\.web\.example\.org"$/m);
    assert.match(out, /^rpc_bind_addr = "\[::\]:3901"$/m);
    assert.match(out, /^rpc_public_addr = "garage1\.internal:3901"$/m);
    assert.match(out, /^replication_factor = 3$/m);
  });

  it("rejects what Garage would refuse or misread", () => {
    const bad: [Partial<typeof TOML_INPUT>, RegExp][] = [
      [{ s3ApiBindAddr: "garage:3900" }, /s3ApiBindAddr must be ip:port/],
      [{ adminApiBindAddr: "10.0.0.5" }, /adminApiBindAddr/],
      [{ webBindAddr: "10.0.0.5:70000" }, /webBindAddr/],
      [{ rpcPublicAddr: "bad host:1" }, /rpcPublicAddr must be host:port/],
      [{ metadataDir: "meta" }, /metadataDir must be an absolute path/],
      [{ adminTokenFile: "/run/x\nadmin_token = \"leak\"" }, /adminTokenFile/],
      [{ replicationFactor: 0 }, /replicationFactor/],
      [{ replicationFactor: 1.5 }, /replicationFactor/],
      [{ s3Region: "Garage Region" }, /s3Region/],
      [{ webRootDomain: "Web.Example" }, /webRootDomain/],
      [{ webRootDomain: "web..example" }, /webRootDomain/],
    ];
    for (const [patch, re] of bad) assert.throws(() => renderGarageToml({ ...TOML_INPUT, ...patch }), re, JSON.stringify(patch));
  });

  it("escapes TOML strings", () => {
    assert.equal(tomlString('a"b\\c\nd\u0001'), '"a\\"b\\\\c\\nd\\u0001"');
  });
});

describe("Garage naming conventions", () => {
  it("applies Garage's bucket name rule", () => {
    for (const ok of ["abc", "acme-nextcloud", "www.acme.org", "a".repeat(63), "3d-prints.example"]) assert.equal(bucketNameProblem(ok), undefined, ok);
    const bad: [string, RegExp][] = [
      ["ab", /3 to 63/], ["a".repeat(64), /3 to 63/], ["Acme", /lowercase/], ["acme_data", /lowercase/], ["-acme", /start and end/],
      ["acme.", /start and end/], ["a..b", /two dots/], ["192.168.1.1", /IP address/], ["xn--bcher-kva.example", /punycode/],
      ["www.xn--bcher-kva.example", /punycode/], ["data-s3alias", /s3alias/],
    ];
    for (const [name, re] of bad) assert.match(bucketNameProblem(name) ?? "", re, name);
  });

  it("names buckets and keys", () => {
    assert.equal(serviceBucketName("acme", "nextcloud"), "acme-nextcloud");
    assert.equal(websiteBucketName("WWW.Acme.org."), "www.acme.org");
    assert.throws(() => websiteBucketName("xn--bcher-kva.example"), /cannot be a bucket name/);
    assert.equal(garageKeyName("acme", "www.acme.org"), "acme/www.acme.org");
    assert.deepEqual(APPLICATION_KEY_PERMISSIONS, { read: true, write: true, owner: false });
    assert.ok(Object.isFrozen(APPLICATION_KEY_PERMISSIONS));
  });

  it("accepts exact CORS origins only and builds a read-only rule", () => {
    for (const ok of ["https://acme.org", "http://localhost:8080"]) assert.equal(corsOriginProblem(ok), undefined, ok);
    for (const bad of ["*", "https://*.acme.org", "https://acme.org/", "https://acme.org/app", "ftp://acme.org", "acme.org", "https://ACME.org"]) {
      assert.notEqual(corsOriginProblem(bad), undefined, bad);
    }
    assert.deepEqual(corsRule(["https://b.org", "https://a.org", "https://b.org"]), {
      allowedOrigins: ["https://a.org", "https://b.org"], allowedMethods: ["GET", "HEAD"], allowedHeaders: ["*"], exposeHeaders: ["ETag"], maxAgeSeconds: 3600,
    });
  });

  it("lists every problem of a bucket spec", () => {
    assert.deepEqual(garageBucketProblems({ tenant: "acme", bucketName: "acme-data", adminUrl: "http://10.0.0.5:3903" }), []);
    assert.deepEqual(garageBucketProblems({
      tenant: "Acme", bucketName: "a", quotaBytes: 0, maxObjects: 1.5, adminUrl: "http://10.0.0.5:3903/v2",
      website: { indexDocument: "/index.html", errorDocument: "../404.html" }, corsOrigins: ["*"],
    }), [
      'tenant "Acme" is not a slug',
      'bucketName "a" must be 3 to 63 characters long',
      "quotaBytes must be a positive integer (or absent for no limit), got 0",
      "maxObjects must be a positive integer (or absent for no limit), got 1.5",
      'website.indexDocument "/index.html" must be an object key without a leading slash',
      'website.errorDocument "../404.html" must be an object key without a leading slash',
      "website.indexDocument must be a file name (Garage appends it to every directory)",
      'corsOrigins: "*" is not a URL',
      "admin.url must have no path or query",
    ]);
  });
});

interface Call { method: string; url: string; headers: Record<string, string>; body?: unknown }

/** A scripted admin API: answers by "METHOD path" (query stripped) and records every call. */
function fakeGarage(version: "v1" | "v2", answers: Record<string, [number, unknown]>): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    const u = new URL(url);
    calls.push({ method: init.method, url: u.pathname + u.search, headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const route = `${init.method} ${u.pathname}`;
    let answer = answers[route];
    if (!answer && route === "GET /v2/GetClusterHealth") answer = version === "v2" ? [200, { status: "healthy" }] : [400, { code: "InvalidRequest", message: "Unknown API endpoint" }];
    if (!answer) answer = [404, { code: "NoSuchThing", message: `no route ${route}` }];
    const [status, body] = answer;
    return { status, text: async () => (body === undefined ? "" : JSON.stringify(body)) };
  };
  return { fetch, calls };
}

const bucketJson = (over: Record<string, unknown> = {}) => ({
  id: "b1", globalAliases: ["www.acme.org"], websiteAccess: false, keys: [], objects: 0, bytes: 0, quotas: { maxSize: null, maxObjects: null }, ...over,
});

describe("GarageAdminClient", () => {
  it("uses the v2 endpoints when the server answers them, with the token only in the Authorization header", async () => {
    const g = fakeGarage("v2", { "POST /v2/CreateBucket": [200, bucketJson()], "POST /v2/UpdateBucket": [200, bucketJson({ quotas: { maxSize: 5, maxObjects: 6 } })] });
    const c = new GarageAdminClient({ url: "http://garage:3903/", token: "tok-123", fetch: g.fetch });
    assert.equal((await c.createBucket("www.acme.org")).id, "b1");
    const b = await c.updateBucket("b1", { quotas: { maxSize: 5, maxObjects: 6 }, websiteAccess: { enabled: true, indexDocument: "index.html", errorDocument: "404.html" } });
    assert.deepEqual(b.quotas, { maxSize: 5, maxObjects: 6 });
    assert.deepEqual(g.calls.map((x) => `${x.method} ${x.url}`), ["GET /v2/GetClusterHealth", "POST /v2/CreateBucket", "POST /v2/UpdateBucket?id=b1"]);
    assert.deepEqual(g.calls[1].body, { globalAlias: "www.acme.org" });
    assert.deepEqual(g.calls[2].body, { quotas: { maxSize: 5, maxObjects: 6 }, websiteAccess: { enabled: true, indexDocument: "index.html", errorDocument: "404.html" } });
    for (const x of g.calls) {
      assert.equal(x.headers.authorization, "Bearer tok-123");
      assert.ok(!x.url.includes("tok-123"));
    }
  });

  it("falls back to the v1 paths and methods when the v2 probe is unknown to the server", async () => {
    const g = fakeGarage("v1", {
      "POST /v1/bucket": [200, bucketJson()],
      "PUT /v1/bucket": [200, bucketJson()],
      "GET /v1/key": [200, { accessKeyId: "GK1", name: "k", secretAccessKey: "s", buckets: [] }],
      "POST /v1/bucket/allow": [200, bucketJson({ keys: [{ accessKeyId: "GK1", name: "k", permissions: { read: true, write: true, owner: true } }] })],
      "POST /v1/bucket/deny": [200, bucketJson({ keys: [{ accessKeyId: "GK1", name: "k", permissions: { read: true, write: true, owner: false } }] })],
      "DELETE /v1/key": [204, undefined],
    });
    const c = new GarageAdminClient({ url: "http://garage:3903", token: "t", fetch: g.fetch });
    assert.equal(await c.apiVersion(), "v1");
    await c.createBucket("www.acme.org");
    await c.updateBucket("b1", { websiteAccess: { enabled: false } });
    assert.equal((await c.getKey("GK1", true))?.secretAccessKey, "s");
    assert.deepEqual(await c.setBucketKeyPermissions("b1", "GK1", { read: true, write: true, owner: false }), { read: true, write: true, owner: false });
    await c.deleteKey("GK1");
    assert.deepEqual(g.calls.map((x) => `${x.method} ${x.url}`), [
      "GET /v2/GetClusterHealth", "POST /v1/bucket", "PUT /v1/bucket?id=b1", "GET /v1/key?id=GK1&showSecretKey=true",
      "POST /v1/bucket/allow", "POST /v1/bucket/deny", "DELETE /v1/key?id=GK1",
    ]);
    assert.deepEqual(g.calls[2].body, { websiteAccess: { enabled: false, indexDocument: null, errorDocument: null } });
    // Allow turns on what is wanted, deny turns off the rest: owner.
    assert.deepEqual(g.calls[4].body, { bucketId: "b1", accessKeyId: "GK1", permissions: { read: true, write: true, owner: false } });
    assert.deepEqual(g.calls[5].body, { bucketId: "b1", accessKeyId: "GK1", permissions: { read: false, write: false, owner: true } });
  });

  it("maps every operation to its v2 and v1 route", () => {
    assert.deepEqual(garageRoute("denyBucketKey", "v2"), { method: "POST", path: "/v2/DenyBucketKey" });
    assert.deepEqual(garageRoute("denyBucketKey", "v1"), { method: "POST", path: "/v1/bucket/deny" });
    assert.deepEqual(garageRoute("deleteBucket", "v2"), { method: "POST", path: "/v2/DeleteBucket" });
    assert.deepEqual(garageRoute("deleteBucket", "v1"), { method: "DELETE", path: "/v1/bucket" });
    assert.deepEqual(garageRoute("updateBucket", "v1"), { method: "PUT", path: "/v1/bucket" });
  });

  it("reports authentication failures instead of guessing a version, and 404 as missing", async () => {
    const denied = new GarageAdminClient({ url: "http://g:3903", token: "secret-tok", fetch: async () => ({ status: 403, text: async () => '{"code":"AccessDenied","message":"Forbidden: Invalid bearer token"}' }) });
    await assert.rejects(denied.getBucket({ id: "x" }), (err: unknown) => isGarageAdminError(err) && err.status === 403 && err.code === "AccessDenied" && !err.message.includes("secret-tok"));
    const g = fakeGarage("v2", { "GET /v2/GetBucketInfo": [404, { code: "NoSuchBucket", message: "Bucket not found" }] });
    assert.equal(await new GarageAdminClient({ url: "http://g:3903", token: "t", fetch: g.fetch }).getBucket({ globalAlias: "nope" }), undefined);
    assert.equal(g.calls[1].url, "/v2/GetBucketInfo?globalAlias=nope");
  });

  it("refuses to report success when Garage keeps other flags than asked", async () => {
    const g = fakeGarage("v2", {
      "POST /v2/AllowBucketKey": [200, bucketJson({ keys: [{ accessKeyId: "GK1", name: "k", permissions: { read: true, write: true, owner: true } }] })],
      "POST /v2/DenyBucketKey": [200, bucketJson({ keys: [{ accessKeyId: "GK1", name: "k", permissions: { read: true, write: true, owner: true } }] })],
    });
    const c = new GarageAdminClient({ url: "http://g:3903", token: "t", fetch: g.fetch });
    await assert.rejects(c.setBucketKeyPermissions("b1", "GK1", { read: true, write: true, owner: false }), /kept permissions/);
  });
});

describe("Garage dynamic providers: diff (pure)", () => {
  const conn = { adminUrl: "http://g:3903", adminToken: "t" };
  const bucket: BucketOutputs = { ...conn, globalAlias: "www.acme.org", quotas: { maxSize: 100 }, website: { enabled: true, indexDocument: "index.html" }, bucketId: "b1" };

  it("bucket: alias change replaces, quota/website/token change updates in place, equal inputs are no change", async () => {
    const { bucketId: _b, ...inputs } = bucket;
    assert.equal((await garageBucketProvider.diff("b1", bucket, inputs)).changes, false);
    assert.deepEqual((await garageBucketProvider.diff("b1", bucket, { ...inputs, globalAlias: "www.other.org" })).replaces, ["globalAlias"]);
    for (const patch of [{ quotas: { maxSize: 100, maxObjects: 5 } }, { website: { enabled: false } }, { adminToken: "t2" }, { website: { enabled: true, indexDocument: "index.html", errorDocument: "404.html" } }]) {
      const d = await garageBucketProvider.diff("b1", bucket, { ...inputs, ...patch });
      assert.deepEqual([d.changes, d.replaces], [true, []], JSON.stringify(patch));
    }
    // Documents do not matter while website access is off.
    assert.equal((await garageBucketProvider.diff("b1", { ...bucket, website: { enabled: false } }, { ...inputs, website: { enabled: false, indexDocument: "x.html" } })).changes, false);
  });

  it("grant ids never carry the key id (the platform key's id is an operator secret; ids are plain text in state)", () => {
    const id = grantId("b1", "GK31c2f218a2e44f485b94239e");
    assert.ok(!id.includes("GK31c2f218a2e44f485b94239e"), id);
    assert.match(id, /^b1\/key-[0-9a-f]{16}$/);
    assert.equal(grantId("b1", "GK31c2f218a2e44f485b94239e"), id);
    assert.notEqual(grantId("b1", "GK0000000000000000000000"), id);
  });

  it("key: a new name is an in-place rename; grant: a new bucket or key replaces, new flags update", async () => {
    const key: KeyOutputs = { ...conn, name: "acme/www.acme.org", accessKeyId: "GK1", secretAccessKey: "s" };
    assert.equal((await garageKeyProvider.diff("GK1", key, { ...conn, name: "acme/www.acme.org" })).changes, false);
    assert.deepEqual((await garageKeyProvider.diff("GK1", key, { ...conn, name: "acme/x" })).replaces, []);
    const grant = { ...conn, bucketId: "b1", accessKeyId: "GK1", permissions: { read: true, write: true, owner: false } };
    assert.equal((await garageGrantProvider.diff("id", grant, grant)).changes, false);
    assert.deepEqual((await garageGrantProvider.diff("id", grant, { ...grant, accessKeyId: "GK2" })).replaces, ["accessKeyId"]);
    const d = await garageGrantProvider.diff("id", grant, { ...grant, permissions: { read: true, write: false, owner: false } });
    assert.deepEqual([d.changes, d.replaces], [true, []]);
  });

  it("normalizes quota pairs and website settings", () => {
    assert.deepEqual(quotaPair({ maxSize: 5 }), { maxSize: 5, maxObjects: null });
    assert.deepEqual(quotaPair(undefined), { maxSize: null, maxObjects: null });
    assert.deepEqual(websiteState({ enabled: true }), { enabled: true, indexDocument: "index.html" });
    assert.deepEqual(websiteState({ enabled: false, indexDocument: "a" }), { enabled: false });
  });
});

const TOKEN = "garage-admin-token-VALUE-42";

interface Run { resources: RecordedResource[]; secretOutputs: Map<string, string[]>; ignoreChanges: Map<string, string[]>; secretIsSecret: boolean }

const PLATFORM_KEY_ID = "GKplatformkey000000000000";
const PLATFORM_SECRET = "platform-secret-VALUE-17";

/**
 * Runs one GarageBucket under mocks, also recording additionalSecretOutputs/ignoreChanges, which the harness
 * does not keep. `ready`: a stand-in for Garage's readiness resources (a RandomPassword named garage-ready).
 */
async function runBucket(args: Omit<GarageBucketArgs, "s3" | "admin"> & { admin?: GarageBucketArgs["admin"]; ready?: boolean }): Promise<Run> {
  const secretOutputs = new Map<string, string[]>();
  const ignoreChanges = new Map<string, string[]>();
  let secretIsSecret = false;
  const run = await runUnderMocks({
    stack: "staging",
    program: () => {
      const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterReq, cb: unknown): void };
      const wrapped = monitor.registerResource.bind(monitor);
      monitor.registerResource = (req, cb) => {
        secretOutputs.set(req.getName(), req.getAdditionalsecretoutputsList());
        ignoreChanges.set(req.getName(), req.getIgnorechangesList());
        wrapped(req, cb);
      };
      const { ready: withReady, ...bucketArgs } = args;
      const ready = withReady ? [new random.RandomPassword("garage-ready", { length: 8 })] : [];
      const s3 = { url: "http://10.0.0.5:3900", region: "garage", accessKeyId: pulumi.secret(PLATFORM_KEY_ID), secretAccessKey: pulumi.secret(PLATFORM_SECRET), ready };
      const b = new GarageBucket(`${args.tenant}-site`, { admin: { url: "http://10.0.0.5:3903", token: pulumi.secret(TOKEN) }, s3, ...bucketArgs });
      return pulumi.all([b.bucketId, b.bucketName, b.accessKeyId, (b.secretAccessKey as unknown as { isSecret: Promise<boolean> }).isSecret]).apply(([, , , s]) => {
        secretIsSecret = s;
        return {};
      });
    },
  });
  return { resources: run.resources, secretOutputs, ignoreChanges, secretIsSecret };
}
interface RegisterReq { getName(): string; getAdditionalsecretoutputsList(): string[]; getIgnorechangesList(): string[] }

const without = (inputs: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(inputs).filter(([k]) => !keys.includes(k)));
const DYN = "pulumi-nodejs:dynamic:Resource";

interface S3Call { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
type S3Answer = { status: number; body?: string; headers?: Record<string, string> };

/** "METHOD /path?query" of a request, without the SDK's x-id parameter and with bare flags (`?cors`, not `?cors=`). */
function s3Route(method: string, url: string): string {
  const u = new URL(url, "http://x");
  u.searchParams.delete("x-id");
  return `${method} ${u.pathname}${u.search.replace(/=(&|$)/g, "$1")}`;
}

/** A scripted S3 endpoint on loopback: answers by "METHOD /path?query" (x-id stripped) and records every call. */
async function fakeS3(answers: Record<string, S3Answer>): Promise<{ url: string; calls: S3Call[]; close(): Promise<void> }> {
  const calls: S3Call[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      calls.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const route = s3Route(req.method!, req.url!);
      const a = answers[route] ?? { status: 404, body: `<Error><Code>NoSuchKey</Code><Message>no route ${route}</Message></Error>` };
      res.writeHead(a.status, { "content-type": "application/xml", ...a.headers });
      res.end(req.method === "HEAD" ? undefined : a.body ?? "");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((r) => server.close(() => r())) };
}

const S3_SECRET = "s3-secret-VALUE-99";
const s3Conn = (url: string) => ({ s3Url: url, s3Region: "garage", s3AccessKeyId: "GKtest000000000000000000", s3SecretAccessKey: S3_SECRET });
const RULE = { allowedOrigins: ["https://b.org", "https://a.org"], allowedMethods: ["HEAD", "GET"], allowedHeaders: ["*"], exposeHeaders: ["ETag"], maxAgeSeconds: 3600 };
const CORS_XML = "<CORSConfiguration><CORSRule><AllowedOrigin>https://b.org</AllowedOrigin><AllowedOrigin>https://a.org</AllowedOrigin>" +
  "<AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>" +
  "<MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>";

/** Every header and the URL of every call, as one string: where a leaked secret would show. */
const wire = (calls: S3Call[]) => JSON.stringify(calls.map((c) => [c.url, c.headers]));

describe("Garage S3 providers (CORS rule, first object) against a scripted S3 endpoint", () => {
  it("CORS: PutBucketCors path-style with exactly the rule, signed for the region, one required checksum, no secret on the wire", async () => {
    const s3 = await fakeS3({ "PUT /www.acme.org/?cors": { status: 200 } });
    try {
      const created = await garageCorsProvider.create({ ...s3Conn(s3.url), bucket: "www.acme.org", corsRules: [RULE] });
      assert.equal(created.id, "www.acme.org");
      assert.deepEqual(created.outs, { ...s3Conn(s3.url), bucket: "www.acme.org", corsRules: [normalCorsRule(RULE)] });
      assert.deepEqual(s3.calls.map((c) => s3Route(c.method, c.url)), ["PUT /www.acme.org/?cors"]);
      const c = s3.calls[0];
      assert.equal(c.headers.host, new URL(s3.url).host, "path-style: the bucket is not in the host name");
      assert.match(String(c.headers.authorization), /Credential=GKtest000000000000000000\/\d{8}\/garage\/s3\/aws4_request/);
      for (const o of ["https://a.org", "https://b.org"]) assert.ok(c.body.includes(`<AllowedOrigin>${o}</AllowedOrigin>`), o);
      assert.match(c.body, /<AllowedMethod>HEAD<\/AllowedMethod>.*<MaxAgeSeconds>3600<\/MaxAgeSeconds>/s);
      // PutBucketCors requires an integrity header: exactly one checksum, sent whole (no aws-chunked trailer).
      assert.deepEqual(Object.keys(c.headers).filter((h) => h.startsWith("x-amz-checksum-") || h === "content-md5").length, 1);
      assert.notEqual(c.headers["content-encoding"], "aws-chunked");
      assert.ok(!wire(s3.calls).includes(S3_SECRET));
    } finally {
      await s3.close();
    }
  });

  it("CORS: read gives the rules back normalized, or nothing when the bucket has none; update puts only a changed rule; delete removes it", async () => {
    const s3 = await fakeS3({
      "GET /www.acme.org/?cors": { status: 200, body: CORS_XML },
      "GET /www.gone.org/?cors": { status: 404, body: "<Error><Code>NoSuchCORSConfiguration</Code><Message>none</Message></Error>" },
      "PUT /www.acme.org/?cors": { status: 200 },
      "DELETE /www.acme.org/?cors": { status: 204 },
      "DELETE /www.gone.org/?cors": { status: 404, body: "<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>" },
    });
    try {
      const state: CorsOutputs = { ...s3Conn(s3.url), bucket: "www.acme.org", corsRules: [RULE] };
      assert.deepEqual(await garageCorsProvider.read("www.acme.org", state), { id: "www.acme.org", props: { ...state, corsRules: [normalCorsRule(RULE)] } });
      assert.deepEqual(await garageCorsProvider.read("www.gone.org", { ...state, bucket: "www.gone.org" }), {});
      s3.calls.length = 0;
      // New connection values only: stored, no call.
      await garageCorsProvider.update("www.acme.org", state, { ...state, s3SecretAccessKey: "rotated" });
      assert.equal(s3.calls.length, 0);
      const wider = { ...RULE, allowedOrigins: [...RULE.allowedOrigins, "https://c.org"] };
      const upd = await garageCorsProvider.update("www.acme.org", state, { ...state, corsRules: [wider] });
      assert.deepEqual(upd.outs?.corsRules, [normalCorsRule(wider)]);
      assert.equal(s3.calls.length, 1);
      assert.ok(s3.calls[0].body.includes("<AllowedOrigin>https://c.org</AllowedOrigin>"));
      await garageCorsProvider.delete("www.acme.org", state);
      await garageCorsProvider.delete("www.gone.org", { ...state, bucket: "www.gone.org" });
      assert.deepEqual(s3.calls.slice(1).map((c) => s3Route(c.method, c.url)), ["DELETE /www.acme.org/?cors", "DELETE /www.gone.org/?cors"]);
    } finally {
      await s3.close();
    }
  });

  it("CORS diff: a new bucket replaces, other rules or new credentials update, equal rules in another order are no change", async () => {
    const olds: CorsOutputs = { ...s3Conn("http://g:3900"), bucket: "www.acme.org", corsRules: [normalCorsRule(RULE)] };
    assert.equal((await garageCorsProvider.diff("id", olds, { ...olds, corsRules: [RULE] })).changes, false);
    assert.deepEqual((await garageCorsProvider.diff("id", olds, { ...olds, bucket: "www.other.org" })).replaces, ["bucket"]);
    for (const patch of [{ corsRules: [{ ...RULE, allowedOrigins: ["https://a.org"] }] }, { corsRules: [] }, { s3AccessKeyId: "GK2" }, { s3Url: "http://h:3900" }]) {
      const d = await garageCorsProvider.diff("id", olds, { ...olds, ...patch });
      assert.deepEqual([d.changes, d.replaces], [true, []], JSON.stringify(patch));
    }
  });

  it("first object: written when the key is free (If-None-Match: *, no checksum), left alone when an object is there", async () => {
    const s3 = await fakeS3({
      "HEAD /www.acme.org/index.html": { status: 404 },
      "PUT /www.acme.org/index.html": { status: 200, headers: { etag: '"abc"' } },
      "HEAD /www.taken.org/index.html": { status: 200, headers: { etag: '"tenant"' } },
      "HEAD /www.racy.org/index.html": { status: 404 },
      "PUT /www.racy.org/index.html": { status: 412, body: "<Error><Code>PreconditionFailed</Code><Message>exists</Message></Error>" },
    });
    try {
      const inputs = (bucket: string): ObjectInputs => ({ ...s3Conn(s3.url), bucket, key: "index.html", content: "<h1>Bientôt</h1>", contentType: "text/html; charset=utf-8" });
      const made = await garageObjectProvider.create(inputs("www.acme.org"));
      assert.deepEqual(made, { id: "www.acme.org/index.html", outs: { ...inputs("www.acme.org"), created: true } });
      assert.deepEqual(s3.calls.map((c) => s3Route(c.method, c.url)), ["HEAD /www.acme.org/index.html", "PUT /www.acme.org/index.html"]);
      const put = s3.calls[1];
      assert.equal(put.body, "<h1>Bientôt</h1>");
      assert.equal(put.headers["content-type"], "text/html; charset=utf-8");
      assert.equal(put.headers["if-none-match"], "*");
      assert.deepEqual(Object.keys(put.headers).filter((h) => h.startsWith("x-amz-checksum-") || h === "x-amz-sdk-checksum-algorithm" || h === "x-amz-trailer"), []);

      s3.calls.length = 0;
      const kept = await garageObjectProvider.create(inputs("www.taken.org"));
      assert.equal(kept.outs.created, false);
      assert.deepEqual(s3.calls.map((c) => c.method), ["HEAD"]);
      assert.equal((await garageObjectProvider.create(inputs("www.racy.org"))).outs.created, false);
      assert.ok(!wire(s3.calls).includes(S3_SECRET));
    } finally {
      await s3.close();
    }
  });

  it("first object: read, update and delete never call S3; content changes are no change; a new bucket or key replaces", async () => {
    const olds: ObjectOutputs = { ...s3Conn("http://127.0.0.1:9"), bucket: "www.acme.org", key: "index.html", content: "<p>a</p>", contentType: "text/html", created: true };
    // Port 9 answers nothing: any S3 call would fail these.
    assert.deepEqual(await garageObjectProvider.read("www.acme.org/index.html", olds), { id: "www.acme.org/index.html", props: olds });
    const { created: _c, ...news } = olds;
    assert.equal((await garageObjectProvider.diff("id", olds, { ...news, content: "<p>b</p>", contentType: "text/plain" })).changes, false);
    assert.deepEqual((await garageObjectProvider.diff("id", olds, { ...news, key: "home.html" })).replaces, ["key"]);
    assert.deepEqual((await garageObjectProvider.diff("id", olds, { ...news, bucket: "www.b.org" })).replaces, ["bucket"]);
    const rotated = await garageObjectProvider.diff("id", olds, { ...news, s3SecretAccessKey: "rotated" });
    assert.deepEqual([rotated.changes, rotated.replaces], [true, []]);
    const upd = await garageObjectProvider.update("id", olds, { ...news, content: "<p>b</p>", s3SecretAccessKey: "rotated" });
    assert.deepEqual(upd.outs, { ...olds, s3SecretAccessKey: "rotated" });
    await garageObjectProvider.delete("id", olds);
  });

  it("S3 errors name the operation, the bucket and the S3 code, never a credential", async () => {
    const s3 = await fakeS3({ "PUT /www.acme.org/?cors": { status: 403, body: "<Error><Code>AccessDenied</Code><Message>Forbidden: Operation is not allowed for this key.</Message></Error>" } });
    try {
      await assert.rejects(garageCorsProvider.create({ ...s3Conn(s3.url), bucket: "www.acme.org", corsRules: [RULE] }), (err: Error) => {
        assert.match(err.message, /^Garage S3 PutBucketCors on bucket www\.acme\.org failed \(HTTP 403 AccessDenied\): Forbidden/);
        assert.ok(!err.message.includes(S3_SECRET) && !err.message.includes("GKtest"));
        return true;
      });
    } finally {
      await s3.close();
    }
  });
});

describe("GarageBucket component (under mocks)", () => {
  it("data bucket: the component, the bucket, the key and one read+write grant; protections and secrets", async () => {
    const r = await runBucket({ tenant: "acme", bucketName: "acme-nextcloud", quotaBytes: 10 * 2 ** 30 });
    const mine = r.resources;
    assert.deepEqual(mine.map((x) => `${x.type} ${x.name}`).sort(), [
      "factory:garage:GarageBucket acme-site",
      `${DYN} acme-site-bucket`,
      `${DYN} acme-site-grant`,
      `${DYN} acme-site-key`,
    ]);
    const by = (n: string) => mine.find((x) => x.name === n)!;
    const comp = by("acme-site");
    assert.deepEqual(comp.inputs, { tenant: "acme" });
    for (const x of mine) assert.equal(x.tenant, "acme", x.name);
    for (const x of mine.slice(1)) assert.equal(x.parent, comp.urn, x.name);

    const bucket = by("acme-site-bucket");
    assert.deepEqual([bucket.protect, bucket.retainOnDelete], [true, true]);
    assert.deepEqual(without(bucket.inputs, "__provider"), {
      adminUrl: "http://10.0.0.5:3903", adminToken: { [SECRET_MARK]: TOKEN },
      globalAlias: "acme-nextcloud", quotas: { maxSize: 10737418240 }, website: { enabled: false },
    });
    const key = by("acme-site-key");
    assert.deepEqual([key.protect, key.retainOnDelete], [true, false]);
    assert.deepEqual(without(key.inputs, "__provider"), { adminUrl: "http://10.0.0.5:3903", adminToken: { [SECRET_MARK]: TOKEN }, name: "acme/acme-nextcloud" });
    const grant = by("acme-site-grant");
    assert.deepEqual([grant.protect, grant.retainOnDelete], [false, false]);
    assert.deepEqual(maskSecrets(without(grant.inputs, "__provider", "bucketId", "accessKeyId")), {
      adminUrl: "http://10.0.0.5:3903", adminToken: SECRET_MARK, permissions: { read: true, write: true, owner: false },
    });
    assert.match(String(grant.inputs.bucketId), /^[0-9a-f]{64}$/);
    assert.match(String(grant.inputs.accessKeyId), /^GK[0-9a-f]{24}$/);
    assert.deepEqual(grant.dependsOn.slice().sort(), [bucket.urn, key.urn].sort());
    // No S3 call, so the platform key appears nowhere.
    assert.ok(!JSON.stringify(mine.map((x) => revealSecrets(x.inputs))).includes(PLATFORM_KEY_ID));

    assert.deepEqual(r.secretOutputs.get("acme-site-key"), ["adminToken", "secretAccessKey"]);
    assert.deepEqual(r.secretOutputs.get("acme-site-bucket"), ["adminToken"]);
    assert.deepEqual(r.secretOutputs.get("acme-site-grant"), ["adminToken"]);
    assert.equal(r.secretIsSecret, true);
  });

  it("serialized providers: plain text, no token, no platform key, small; the S3 ones require the SDK by name", async () => {
    const r = await runBucket({ tenant: "acme", bucketName: "www.acme.org", corsOrigins: ["https://acme.org"], website: { indexDocument: "index.html", errorDocument: "404.html", initialIndexHtml: "<p>x</p>" } });
    const dyn = r.resources.filter((x) => x.type === DYN);
    assert.deepEqual(dyn.map((x) => x.name).sort(), ["acme-site-bucket", "acme-site-cors", "acme-site-grant", "acme-site-index", "acme-site-key", "acme-site-platform-grant"]);
    for (const x of dyn) {
      const text = x.inputs.__provider;
      assert.equal(typeof text, "string", `${x.name}: __provider must not be a secret`);
      for (const leak of [TOKEN, PLATFORM_SECRET, PLATFORM_KEY_ID, "GKplatformkey"]) assert.ok(!(text as string).includes(leak), `${x.name} captures ${leak}`);
      assert.ok((text as string).length < 60_000, `${x.name}: ${(text as string).length} chars`);
      assert.match(text as string, /exports\.handler/);
      const s3 = x.name.endsWith("-cors") || x.name.endsWith("-index");
      // The SDK is referenced, never inlined; the admin providers do not reference it at all.
      assert.equal((text as string).includes(`require("@aws-sdk/client-s3")`), s3, x.name);
      assert.equal((text as string).includes("@smithy"), false, x.name);
    }
    // Nothing in any input is a secret except under a secret wrapper.
    const masked = JSON.stringify(r.resources.map((x) => maskSecrets(x.inputs)));
    for (const leak of [TOKEN, PLATFORM_SECRET, PLATFORM_KEY_ID]) assert.ok(!masked.includes(leak), leak);
  });

  it("website bucket with CORS and a first index.html: platform grant with owner, the CORS rule and the first page through the S3 API", async () => {
    const r = await runBucket({
      tenant: "acme", bucketName: "www.acme.org", quotaBytes: 1_000_000_000, maxObjects: 50_000, corsOrigins: ["https://www.acme.org", "https://acme.org"],
      website: { indexDocument: "index.html", errorDocument: "404.html", initialIndexHtml: "<h1>Bientôt</h1>" }, ready: true,
    });
    const ready = r.resources.find((x) => x.name === "garage-ready")!;
    const mine = r.resources.filter((x) => x !== ready);
    assert.deepEqual(mine.map((x) => `${x.type} ${x.name}`).sort(), [
      "factory:garage:GarageBucket acme-site",
      ...["acme-site-bucket", "acme-site-cors", "acme-site-grant", "acme-site-index", "acme-site-key", "acme-site-platform-grant"].map((n) => `${DYN} ${n}`),
    ]);
    const by = (n: string) => mine.find((x) => x.name === n)!;
    // Every child waits for Garage's readiness (container, layout, platform key).
    for (const x of mine.slice(1)) assert.ok(x.dependsOn.includes(ready.urn), `${x.name} waits for Garage`);
    assert.deepEqual(without(by("acme-site-bucket").inputs, "__provider", "adminToken"), {
      adminUrl: "http://10.0.0.5:3903", globalAlias: "www.acme.org", quotas: { maxSize: 1_000_000_000, maxObjects: 50_000 },
      website: { enabled: true, indexDocument: "index.html", errorDocument: "404.html" },
    });
    const pg = by("acme-site-platform-grant");
    assert.deepEqual(revealSecrets(without(pg.inputs, "__provider", "adminToken", "bucketId")), {
      adminUrl: "http://10.0.0.5:3903", accessKeyId: PLATFORM_KEY_ID, permissions: { read: true, write: true, owner: true },
    });
    assert.deepEqual(pg.inputs.accessKeyId, { [SECRET_MARK]: PLATFORM_KEY_ID });
    assert.deepEqual(by("acme-site-grant").inputs.permissions, { read: true, write: true, owner: false });

    const s3Inputs = { s3Url: "http://10.0.0.5:3900", s3Region: "garage", s3AccessKeyId: { [SECRET_MARK]: PLATFORM_KEY_ID }, s3SecretAccessKey: { [SECRET_MARK]: PLATFORM_SECRET } };
    const cors = by("acme-site-cors");
    assert.deepEqual([cors.protect, cors.retainOnDelete, cors.provider], [false, false, null]);
    assert.deepEqual(cors.dependsOn.slice().sort(), [by("acme-site-bucket").urn, pg.urn, ready.urn].sort());
    assert.deepEqual(without(cors.inputs, "__provider"), {
      ...s3Inputs, bucket: "www.acme.org",
      corsRules: [{ allowedOrigins: ["https://acme.org", "https://www.acme.org"], allowedMethods: ["GET", "HEAD"], allowedHeaders: ["*"], exposeHeaders: ["ETag"], maxAgeSeconds: 3600 }],
    });
    assert.deepEqual(r.secretOutputs.get("acme-site-cors"), ["s3AccessKeyId", "s3SecretAccessKey"]);

    const index = by("acme-site-index");
    assert.deepEqual([index.protect, index.retainOnDelete, index.provider], [false, true, null]);
    assert.deepEqual(index.dependsOn.slice().sort(), [by("acme-site-bucket").urn, pg.urn, ready.urn].sort());
    assert.deepEqual(without(index.inputs, "__provider"), {
      ...s3Inputs, bucket: "www.acme.org", key: "index.html", content: "<h1>Bientôt</h1>", contentType: "text/html; charset=utf-8",
    });
    assert.deepEqual(r.secretOutputs.get("acme-site-index"), ["s3AccessKeyId", "s3SecretAccessKey"]);
    // The provider itself ignores content changes: no ignoreChanges needed.
    assert.deepEqual(r.ignoreChanges.get("acme-site-index"), []);
  });

  it("a first page without CORS: platform grant and index only; a website without either needs no platform key on the bucket", async () => {
    const page = await runBucket({ tenant: "gamma", bucketName: "www.gamma.org", website: { indexDocument: "index.html", errorDocument: "404.html", initialIndexHtml: "<p>soon</p>" } });
    assert.deepEqual(page.resources.map((x) => x.name).sort(), ["gamma-site", "gamma-site-bucket", "gamma-site-grant", "gamma-site-index", "gamma-site-key", "gamma-site-platform-grant"]);
    const r = await runBucket({ tenant: "beta", bucketName: "www.beta.org", website: { indexDocument: "index.html", errorDocument: "404.html" } });
    assert.deepEqual(r.resources.map((x) => x.name).sort(), ["beta-site", "beta-site-bucket", "beta-site-grant", "beta-site-key"]);
  });

  it("invalid arguments fail before any child is registered", async () => {
    await assert.rejects(runBucket({ tenant: "acme", bucketName: "Acme_Data", quotaBytes: -1 }), (err: Error & { registered?: RecordedResource[] }) => {
      assert.match(err.message, /GarageBucket acme-site: bucketName "Acme_Data" may only contain .*; quotaBytes must be a positive integer/);
      assert.deepEqual(err.registered?.filter((x) => x.type === DYN), []);
      return true;
    });
  });
});
