import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { isPinnedImage, loadStackFile, parseStackSource } from "../src/settings";
import { formatProblem } from "../src/types";

const root = path.join(__dirname, "..");
const staging = fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8");
const problemsOf = (source: string) => parseStackSource("t", "Pulumi.t.yaml", source).problems.map(formatProblem);
const lineOf = (source: string, needle: string) => source.split("\n").findIndex((l) => l.includes(needle)) + 1;

describe("stack settings", () => {
  for (const stack of ["staging", "prod", "dev"]) {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) continue;
    it(`Pulumi.${stack}.yaml validates`, () => {
      const r = loadStackFile(stack, file);
      assert.deepEqual(r.problems.map(formatProblem), []);
      assert.ok(r.settings && r.settings.hosts.length > 0);
    });
  }

  it("refuses an unpinned or latest image, at its line", () => {
    const bad = staging.replace("redis: redis:7.4.1-alpine", "redis: redis:latest").replace("mariadb: mariadb:11.4.4", "mariadb: mariadb");
    const lines = problemsOf(bad);
    assert.ok(lines.some((l) => l.startsWith(`Pulumi.t.yaml:${lineOf(bad, "redis:latest")}:`) && l.includes("images.redis")), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes("images.mariadb") && l.includes("pinned")), lines.join("\n"));
  });

  it("refuses an unknown setting with a suggestion-free list, a plain secret, and a bad host reference", () => {
    const bad = staging
      .replace("  service-factory:realm: factory", "  service-factory:realm: factory\n  service-factory:domian: x.org\n  service-factory:dnsTsigSecret: plain-text")
      .replace("postgres: { host: stg-storage1 }", "postgres: { host: nowhere }");
    const lines = problemsOf(bad);
    assert.ok(lines.some((l) => l.includes('unknown setting "service-factory:domian"')), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes("dnsTsigSecret must be set with `pulumi config set --secret")), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes('services.postgres.host "nowhere" is not in the inventory')), lines.join("\n"));
  });

  it("refuses a service on a host without the right role, and an unspecified private address", () => {
    const bad = staging.replace("postgres: { host: stg-storage1 }", "postgres: { host: stg-edge1 }").replace("privateAddress: 10.20.0.12", "privateAddress: 0.0.0.0");
    const lines = problemsOf(bad);
    assert.ok(lines.some((l) => l.includes("lacks the storage role")), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes("never the unspecified one")), lines.join("\n"));
  });

  it("requires at least one undrained compute host and an edge host", () => {
    const bad = staging.replace(/roles: \[compute\]/g, "roles: [compute]\n      drain: true").replace("roles: [edge]", "roles: [storage]");
    const lines = problemsOf(bad);
    assert.ok(lines.some((l) => l.includes("at least one compute host must not be drained")), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes("edge role")), lines.join("\n"));
  });

  it("isPinnedImage", () => {
    for (const good of ["postgres:16.4", "registry.example.org:5000/caddy:2.10.2", `x@sha256:${"a".repeat(64)}`]) assert.ok(isPinnedImage(good), good);
    for (const bad of ["postgres", "postgres:latest", "registry.example.org:5000/caddy", "nginx:stable"]) assert.ok(!isPinnedImage(bad), bad);
  });
});
