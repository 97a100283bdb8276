// Tenant lifecycle across the whole program (issue 6): suspended keeps everything and shows a maintenance
// page; archived removes containers, commands, routes, OIDC clients and DNS, and keeps the data, protected.
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { isStateful } from "../policy/rules";
import { HarnessResult, RecordedResource, revealSecrets, runUnderMocks, SECRET_MARK } from "../program/harness";

const root = path.join(__dirname, "..");
const ARCHIVED = "ancienne-asso"; // tenants/staging: nextcloud, status archived
const SUSPENDED = "collectif-jardins"; // tenants/staging: wordpress + static site, status suspended

describe("tenant lifecycle (staging stack)", () => {
  let result: HarnessResult;
  const of = (slug: string) => result.resources.filter((r) => r.tenant === slug);
  const types = (rs: RecordedResource[]) => new Set(rs.map((r) => r.type));
  before(async () => {
    result = await runUnderMocks({ stack: "staging", projectDir: root });
  });

  it("archived: no container, command, OIDC client or DNS record is registered", () => {
    const t = types(of(ARCHIVED));
    for (const gone of ["docker:index/container:Container", "command:local:Command", "keycloak:openid/client:Client", "factory:dns:DnsRecords"]) {
      assert.ok(!t.has(gone), `${ARCHIVED} still has ${gone}`);
    }
  });

  it("archived: database, role, bucket, key, volumes and group are kept, every one protected", () => {
    const rs = of(ARCHIVED);
    const kept = rs.filter((r) => isStateful(r.type, revealSecrets(r.inputs) as Record<string, unknown>));
    const keptTypes = types(kept);
    for (const want of ["postgresql:index/database:Database", "postgresql:index/role:Role", "docker:index/volume:Volume", "keycloak:index/group:Group", "pulumi-nodejs:dynamic:Resource"]) {
      assert.ok(keptTypes.has(want), `${ARCHIVED} lost its ${want}`);
    }
    assert.deepEqual(kept.filter((r) => !r.protect && !r.retainOnDelete).map((r) => r.name), []);
  });

  it("website buckets get exactly one first page each (S3 API, platform key as secrets, after Garage is ready), kept whatever the status", () => {
    const s3Side = result.resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource" && "s3Url" in r.inputs);
    assert.deepEqual(s3Side.map((r) => `${r.tenant} ${r.name}`).sort(), [
      "asso-exemple asso-exemple-static-bucket-index",
      "asso-exemple asso-exemple-wordpress-bucket-index",
      "collectif-jardins collectif-jardins-static-bucket-index",
      "collectif-jardins collectif-jardins-wordpress-bucket-index",
    ]);
    const ready = ["platform-shared-garage", "platform-shared-garage-layout", "platform-shared-garage-platform-key"]
      .map((n) => result.resources.find((r) => r.name === n)!.urn);
    for (const r of s3Side) {
      const grant = result.resources.find((x) => x.name === r.name.replace(/-index$/, "-platform-grant"))!;
      const bucket = result.resources.find((x) => x.name === r.name.replace(/-index$/, "-bucket"))!;
      assert.deepEqual(r.dependsOn.slice().sort(), [...ready, grant.urn, bucket.urn].sort(), r.name);
      assert.deepEqual([r.protect, r.retainOnDelete], [false, true], r.name);
      assert.deepEqual([r.inputs.bucket, r.inputs.key, r.inputs.s3Url, r.inputs.s3Region], [bucket.inputs.globalAlias, "index.html", "http://10.20.0.20:3900", "garage"], r.name);
      assert.deepEqual([r.inputs.s3AccessKeyId, r.inputs.s3SecretAccessKey], [{ [SECRET_MARK]: "placeholder-garageS3AccessKeyId" }, { [SECRET_MARK]: "placeholder-garageS3SecretAccessKey" }], r.name);
    }
  });

  it("archived: no route in any Caddy config", () => {
    const configs = result.resources.filter((r) => r.type === "command:local:Command" && /-reload$/.test(r.name)).map((r) => JSON.stringify(revealSecrets(r.inputs.stdin)));
    assert.ok(configs.length > 0);
    for (const c of configs) assert.ok(!c.includes("ancienne-asso.nextcloud"), "archived tenant still routed");
  });

  it("suspended: services stay registered and its hostnames answer a maintenance page at the edge", () => {
    const t = types(of(SUSPENDED));
    assert.ok(t.has("keycloak:openid/client:Client"), "suspended tenant lost its wall client");
    assert.ok(t.has("command:local:Command"), "suspended tenant lost its site commands");
    const edge = result.resources.find((r) => r.type === "command:local:Command" && r.name === "caddy-stg-edge1-reload");
    const config = String(revealSecrets(edge!.inputs.stdin));
    const block = config.split(/\n(?=\S)/).find((b) => b.startsWith(`${SUSPENDED}.wp.`) || b.includes(`${SUSPENDED}.wp.staging`));
    assert.ok(block, "no site block for the suspended tenant's editing hostname");
    assert.match(block!, /import maintenance/);
    // The snippet every suspended hostname imports answers 503.
    const snippet = config.split(/\n(?=\S)/).find((b) => b.startsWith("(maintenance)"));
    assert.ok(snippet, "no (maintenance) snippet in the edge config");
    assert.match(snippet!, /503/);
  });
});
