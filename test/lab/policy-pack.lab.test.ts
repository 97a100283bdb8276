// Runs the policy pack the way the Pulumi CLI does for `--policy-pack policy`: the nodejs language host's
// run-policy-pack entry point (ts-node with type checking) in the pack's directory, which serves the
// Analyzer gRPC service and prints its port. The test then calls Analyze (one resource) and AnalyzeStack
// (the whole stack: the wall-pkce-exemption rule) like the engine does.
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { AnalyzeRequest, AnalyzerResource, AnalyzerResourceOptions, AnalyzeResponse, AnalyzeStackRequest } from "@pulumi/pulumi/proto/analyzer_pb";
import { clientPolicySet } from "../../src/keycloak/definitions";

const root = path.resolve(__dirname, "..", "..");
let child: ChildProcess | undefined;
let client: AnalyzerClient;
let stderr = "";

function analyze(type: string, name: string, props: Record<string, unknown>, protect: boolean): Promise<{ policy: string; message: string; level: number }[]> {
  const req = new AnalyzeRequest();
  req.setType(type);
  req.setName(name);
  req.setUrn(`urn:pulumi:staging::service-factory::${type}::${name}`);
  req.setProperties(Struct.fromJavaScript(props as Parameters<typeof Struct.fromJavaScript>[0]));
  const o = new AnalyzerResourceOptions();
  o.setProtect(protect);
  req.setOptions(o);
  return new Promise((resolve, reject) => {
    client.analyze(req, (err: grpc.ServiceError | null, res: AnalyzeResponse) => {
      if (err) return reject(err);
      resolve(res.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), message: d.getMessage(), level: d.getEnforcementlevel() })));
    });
  });
}

function analyzeStack(resources: { type: string; name: string; props: Record<string, unknown> }[]): Promise<{ policy: string; message: string; urn: string }[]> {
  const req = new AnalyzeStackRequest();
  req.setResourcesList(resources.map((r) => {
    const a = new AnalyzerResource();
    a.setType(r.type);
    a.setName(r.name);
    a.setUrn(`urn:pulumi:staging::service-factory::${r.type}::${r.name}`);
    a.setProperties(Struct.fromJavaScript(r.props as Parameters<typeof Struct.fromJavaScript>[0]));
    a.setOptions(new AnalyzerResourceOptions());
    return a;
  }));
  return new Promise((resolve, reject) => {
    client.analyzeStack(req, (err: grpc.ServiceError | null, res: AnalyzeResponse) => {
      if (err) return reject(err);
      resolve(res.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), message: d.getMessage(), urn: d.getUrn() })));
    });
  });
}

describe("policy pack served as the Pulumi CLI runs it", () => {
  before(async () => {
    const entry = path.join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack");
    // Engine address is only used for logging; the pack prints the port of its Analyzer server on stdout.
    child = spawn(process.execPath, [entry, "127.0.0.1:1", "."], { cwd: path.join(root, "policy"), stdio: ["ignore", "pipe", "pipe"] });
    child.stderr!.on("data", (d) => { stderr += String(d); });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child!.stdout!.on("data", (d) => {
        out += String(d);
        const m = /^(\d+)\s*$/m.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child!.on("exit", (code) => reject(new Error(`policy pack exited with ${code}: ${stderr}`)));
    });
    client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client?.close();
    if (child && child.exitCode === null) child.kill("SIGTERM");
  });

  it("rejects an unprotected database and accepts a protected one", async () => {
    const bad = await analyze("postgresql:index/database:Database", "club-velo-db", { name: "club_velo" }, false);
    assert.deepEqual(bad.map((d) => d.policy), ["stateful-protected"]);
    assert.match(bad[0].message, /must be registered with protect: true/);
    assert.equal(bad[0].level, 1, "mandatory");
    assert.deepEqual(await analyze("postgresql:index/database:Database", "club-velo-db", { name: "club_velo" }, true), []);
  });

  it("reports each violation of a bad container and nothing for a good one", async () => {
    const bad = await analyze("docker:index/container:Container", "c", {
      image: "nextcloud:latest", privileged: true,
      volumes: [{ volumeName: "nextcloud-install-node1", containerPath: "/var/www/html" }],
      ports: [{ internal: 6379, external: 6379 }],
    }, false);
    assert.deepEqual(bad.map((d) => d.policy).sort(), ["container-no-privileges", "container-no-privileges", "data-ports-private", "image-pinned", "nextcloud-install-read-only"]);
    const good = await analyze("docker:index/container:Container", "c", {
      image: "nextcloud:31.0.9-fpm", securityOpts: ["no-new-privileges:true"],
      volumes: [{ volumeName: "nextcloud-install-node1", containerPath: "/var/www/html", readOnly: true }],
      ports: [{ internal: 6379, external: 6379, ip: "10.0.0.4" }],
    }, false);
    assert.deepEqual(good, []);
  });

  it("checks OIDC clients", async () => {
    const bad = await analyze("keycloak:openid/client:Client", "k", { validRedirectUris: ["https://x.example.org/*"], directAccessGrantsEnabled: true }, false);
    assert.deepEqual(bad.map((d) => d.policy), ["oidc-client-hardened", "oidc-client-hardened", "oidc-client-hardened"]);
  });

  it("refuses a PKCE-less wall client in a stack whose realm does not exempt the walls (stack policy)", async () => {
    const wall = { type: "keycloak:openid/client:Client", name: "a-wall-paheko-client", props: { clientId: "wall-paheko-a", extraConfig: { "factory.wall": "true" } } };
    const policies = (wallPkce: boolean) => clientPolicySet(wallPkce).policies.map((p) => ({
      type: "keycloak:index/realmClientPolicyProfilePolicy:RealmClientPolicyProfilePolicy", name: `realm-${p.name}`, props: { ...p, realmId: "factory" },
    }));
    const refused = await analyzeStack([wall, ...policies(true)]);
    assert.deepEqual(refused.map((d) => [d.policy, d.urn]), [["wall-pkce-exemption", `urn:pulumi:staging::service-factory::${wall.type}::${wall.name}`]]);
    assert.match(refused[0].message, /wall-paheko-a goes without PKCE/);
    assert.deepEqual(await analyzeStack([wall, ...policies(false)]), []);
  });
});
