import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
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
import { BucketOutputs, garageBucketProvider, garageGrantProvider, garageKeyProvider, KeyOutputs, quotaPair, websiteState } from "../src/garage/provider";
import { maskSecrets, RecordedResource, revealSecrets, runUnderMocks, SECRET_MARK } from "../src/harness";

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

/** Runs one GarageBucket under mocks, also recording additionalSecretOutputs/ignoreChanges, which the harness does not keep. */
async function runBucket(args: Omit<GarageBucketArgs, "s3Provider" | "admin"> & { admin?: GarageBucketArgs["admin"] }): Promise<Run> {
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
      const s3Provider = new aws.Provider("garage-s3", {
        region: "garage", accessKey: pulumi.secret("GKplatformkey000000000000"), secretKey: pulumi.secret("platform-secret"),
        s3UsePathStyle: true, skipCredentialsValidation: true, skipRegionValidation: true, skipRequestingAccountId: true,
      });
      const b = new GarageBucket(`${args.tenant}-site`, { admin: { url: "http://10.0.0.5:3903", token: pulumi.secret(TOKEN) }, s3Provider, ...args });
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

describe("GarageBucket component (under mocks)", () => {
  it("data bucket: the component, the bucket, the key and one read+write grant; protections and secrets", async () => {
    const r = await runBucket({ tenant: "acme", bucketName: "acme-nextcloud", quotaBytes: 10 * 2 ** 30 });
    const mine = r.resources.filter((x) => x.type !== "pulumi:providers:aws");
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

    assert.deepEqual(r.secretOutputs.get("acme-site-key"), ["adminToken", "secretAccessKey"]);
    assert.deepEqual(r.secretOutputs.get("acme-site-bucket"), ["adminToken"]);
    assert.deepEqual(r.secretOutputs.get("acme-site-grant"), ["adminToken"]);
    assert.equal(r.secretIsSecret, true);
  });

  it("serialized providers: plain text, no token, no platform secret, small", async () => {
    const r = await runBucket({ tenant: "acme", bucketName: "www.acme.org", corsOrigins: ["https://acme.org"], website: { indexDocument: "index.html", errorDocument: "404.html", initialIndexHtml: "<p>x</p>" } });
    const dyn = r.resources.filter((x) => x.type === DYN);
    assert.equal(dyn.length, 4);
    for (const x of dyn) {
      const text = x.inputs.__provider;
      assert.equal(typeof text, "string", `${x.name}: __provider must not be a secret`);
      for (const leak of [TOKEN, "platform-secret", "GKplatformkey"]) assert.ok(!(text as string).includes(leak), `${x.name} captures ${leak}`);
      assert.ok((text as string).length < 60_000, `${x.name}: ${(text as string).length} chars`);
      assert.match(text as string, /exports\.handler/);
    }
    // Nothing in any input is the token except under a secret wrapper.
    assert.ok(!JSON.stringify(r.resources.map((x) => maskSecrets(x.inputs))).includes(TOKEN));
  });

  it("website bucket with CORS and a first index.html: platform grant with owner, CORS rule and the index object through the s3 provider", async () => {
    const r = await runBucket({
      tenant: "acme", bucketName: "www.acme.org", quotaBytes: 1_000_000_000, maxObjects: 50_000, corsOrigins: ["https://acme.org", "https://www.acme.org"],
      website: { indexDocument: "index.html", errorDocument: "404.html", initialIndexHtml: "<h1>Bientôt</h1>" },
    });
    const mine = r.resources.filter((x) => x.type !== "pulumi:providers:aws");
    assert.deepEqual(mine.map((x) => x.name).sort(), ["acme-site", "acme-site-bucket", "acme-site-cors", "acme-site-grant", "acme-site-index", "acme-site-key", "acme-site-platform-grant"]);
    const by = (n: string) => mine.find((x) => x.name === n)!;
    const s3Provider = r.resources.find((x) => x.type === "pulumi:providers:aws")!;
    assert.deepEqual(without(by("acme-site-bucket").inputs, "__provider", "adminToken"), {
      adminUrl: "http://10.0.0.5:3903", globalAlias: "www.acme.org", quotas: { maxSize: 1_000_000_000, maxObjects: 50_000 },
      website: { enabled: true, indexDocument: "index.html", errorDocument: "404.html" },
    });
    const pg = by("acme-site-platform-grant");
    assert.deepEqual(revealSecrets(without(pg.inputs, "__provider", "adminToken", "bucketId")), {
      adminUrl: "http://10.0.0.5:3903", accessKeyId: "GKplatformkey000000000000", permissions: { read: true, write: true, owner: true },
    });
    assert.deepEqual(pg.inputs.accessKeyId, { [SECRET_MARK]: "GKplatformkey000000000000" });
    assert.deepEqual(by("acme-site-grant").inputs.permissions, { read: true, write: true, owner: false });

    const cors = by("acme-site-cors");
    assert.equal(cors.type, "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration");
    assert.equal(cors.provider?.startsWith(s3Provider.urn), true);
    assert.ok(cors.dependsOn.includes(pg.urn));
    assert.deepEqual(cors.inputs, {
      bucket: "www.acme.org",
      corsRules: [{ allowedOrigins: ["https://acme.org", "https://www.acme.org"], allowedMethods: ["GET", "HEAD"], allowedHeaders: ["*"], exposeHeaders: ["ETag"], maxAgeSeconds: 3600 }],
    });
    const index = by("acme-site-index");
    assert.equal(index.type, "aws:s3/bucketObjectv2:BucketObjectv2");
    assert.equal(index.provider?.startsWith(s3Provider.urn), true);
    assert.ok(index.dependsOn.includes(pg.urn));
    assert.deepEqual([index.protect, index.retainOnDelete], [false, true]);
    assert.deepEqual(index.inputs, { bucket: "www.acme.org", key: "index.html", content: "<h1>Bientôt</h1>", contentType: "text/html; charset=utf-8" });
    assert.deepEqual(r.ignoreChanges.get("acme-site-index"), ["content", "contentType", "etag", "source", "sourceHash"]);
  });

  it("a website without initial page or CORS needs no platform key on the bucket", async () => {
    const r = await runBucket({ tenant: "beta", bucketName: "www.beta.org", website: { indexDocument: "index.html", errorDocument: "404.html" } });
    assert.deepEqual(r.resources.filter((x) => x.type !== "pulumi:providers:aws").map((x) => x.name).sort(), ["beta-site", "beta-site-bucket", "beta-site-grant", "beta-site-key"]);
  });

  it("invalid arguments fail before any child is registered", async () => {
    await assert.rejects(runBucket({ tenant: "acme", bucketName: "Acme_Data", quotaBytes: -1 }), (err: Error & { registered?: RecordedResource[] }) => {
      assert.match(err.message, /GarageBucket acme-site: bucketName "Acme_Data" may only contain .*; quotaBytes must be a positive integer/);
      assert.deepEqual(err.registered?.filter((x) => x.type === DYN), []);
      return true;
    });
  });
});
