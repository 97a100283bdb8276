// Tenant lifecycle across the whole program (issue 6): suspended keeps everything and shows a maintenance
// page; archived removes containers, commands, routes, OIDC clients and DNS, and keeps the data, protected.
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { isStateful } from "../policy/rules";
import { HarnessResult, RecordedResource, revealSecrets, runUnderMocks } from "../src/harness";

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
