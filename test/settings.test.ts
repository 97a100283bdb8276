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

  it("wallPkce: true by default, false when set, and anything but a YAML boolean refused at its line and column", () => {
    assert.doesNotMatch(staging, /wallPkce/);
    assert.equal(parseStackSource("t", "Pulumi.t.yaml", staging).settings?.wallPkce, true);
    const withValue = (v: string) => staging.replace("  service-factory:realm: factory", `  service-factory:realm: factory\n  service-factory:wallPkce: ${v}`);
    assert.equal(parseStackSource("t", "Pulumi.t.yaml", withValue("false")).settings?.wallPkce, false);
    assert.equal(parseStackSource("t", "Pulumi.t.yaml", withValue("true")).settings?.wallPkce, true);
    for (const [bad, found] of [['"false"', 'string "false"'], ["no", 'string "no"'], ["0", "number 0"], ["", "null"], ["[false]", "a list"]] as const) {
      const source = withValue(bad);
      const line = lineOf(source, "service-factory:wallPkce:");
      const col = "  service-factory:wallPkce: ".length + 1;
      const lines = problemsOf(source);
      const want = bad === "" ? `Pulumi.t.yaml:${line}:` : `Pulumi.t.yaml:${line}:${col}: `;
      assert.ok(lines.some((l) => l.startsWith(want) && l.includes("wallPkce must be true or false") && l.includes(found)), `${bad}: ${lines.join("\n")}`);
      assert.equal(parseStackSource("t", "Pulumi.t.yaml", source).settings, undefined, `${bad}: no settings`);
    }
  });

  it("refuses the default wallPkce with an image whose caddy-security sends no PKCE, at the line that decides it", () => {
    const old = "registry.factory.example.org/caddy-security:2.10.2-1.1.31";
    assert.match(staging, /caddy: registry\.factory\.example\.org\/caddy-security:\S+/);
    const oldImage = staging.replace(/caddy: registry\.factory\.example\.org\/caddy-security:\S+/, `caddy: ${old}`);
    const lines = problemsOf(oldImage);
    assert.deepEqual(lines.map((l) => l.replace(/:\d+:\d+: .*/, "")), ["Pulumi.t.yaml"], lines.join("\n"));
    assert.ok(lines[0].startsWith(`Pulumi.t.yaml:${lineOf(oldImage, old)}:`), lines[0]);
    assert.match(lines[0], /images\.caddy ".*2\.10\.2-1\.1\.31" has caddy-security v1\.1\.31, which sends no PKCE, but wallPkce is on \(the default\)/);
    const withValue = (source: string, v: string) => source.replace("  service-factory:realm: factory", `  service-factory:realm: factory\n  service-factory:wallPkce: ${v}`);
    // The exemption setting makes the old image valid; saying true explicitly points at that line.
    assert.deepEqual(problemsOf(withValue(oldImage, "false")), []);
    const explicit = withValue(oldImage, "true");
    const e = problemsOf(explicit);
    assert.equal(e.length, 1, e.join("\n"));
    assert.ok(e[0].startsWith(`Pulumi.t.yaml:${lineOf(explicit, "service-factory:wallPkce:")}:`), e[0]);
    assert.match(e[0], /but wallPkce is on: Keycloak would refuse every wall login/);
    // The first release with PKCE, and a digest (which names no release), pass.
    assert.deepEqual(problemsOf(oldImage.replace(old, "registry.factory.example.org/caddy-security:2.11.0-1.1.61")), []);
    assert.deepEqual(problemsOf(oldImage.replace(old, `registry.factory.example.org/caddy-security@sha256:${"a".repeat(64)}`)), []);
    assert.equal(problemsOf(oldImage.replace(old, "registry.factory.example.org/caddy-security:2.11.0-1.1.60")).length, 1);
  });

  it("isPinnedImage", () => {
    for (const good of ["postgres:16.4", "registry.example.org:5000/caddy:2.10.2", `x@sha256:${"a".repeat(64)}`]) assert.ok(isPinnedImage(good), good);
    for (const bad of ["postgres", "postgres:latest", "registry.example.org:5000/caddy", "nginx:stable"]) assert.ok(!isPinnedImage(bad), bad);
  });
});
