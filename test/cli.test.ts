// The two offline commands operators run anywhere: validate and plan. Run as real processes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { runUnderMocks } from "../src/harness";
import { ValidationError } from "../src/types";

const root = path.join(__dirname, "..");
const tsx = path.join(root, "node_modules", ".bin", "tsx");
const run = (script: string, args: string[]) => spawnSync(tsx, [path.join(root, "scripts", script), ...args], { cwd: root, encoding: "utf8" });

function badTenantDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-bad-"));
  fs.writeFileSync(path.join(dir, "good-org.yaml"), "slug: good-org\nname: Good\ncontact: a@good.org\n");
  fs.writeFileSync(path.join(dir, "typo-org.yaml"), "slug: typo-org\nname: Typo\ncontact: a@typo.org\nservices:\n  nextclod: {}\n");
  fs.writeFileSync(path.join(dir, "wrong-name.yaml"), "slug: other-name\nname: X\ncontact: nope\n");
  return dir;
}

describe("npm run validate", () => {
  it("exits 0 for the committed stacks", () => {
    for (const stack of ["staging", "prod"]) {
      const r = run("validate.ts", ["--stack", stack]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });

  it("exits 1 and prints every problem as path:line:col", () => {
    const dir = badTenantDir();
    const r = run("validate.ts", ["--stack", "staging", "--tenants", dir]);
    assert.equal(r.status, 1);
    const lines = r.stdout.trim().split("\n");
    const rel = path.relative(root, dir);
    assert.deepEqual(lines, [
      `${rel}/typo-org.yaml:5:3: services: unknown key "nextclod" (did you mean "nextcloud"?); allowed: nextcloud, paheko, wordpress, staticSite`,
      `${rel}/wrong-name.yaml:1:7: slug "other-name" must equal the file name "wrong-name"`,
      `${rel}/wrong-name.yaml:3:10: contact "nope" is not a valid e-mail address`,
    ]);
  });

  it("exits 2 on a usage error", () => {
    assert.equal(run("validate.ts", []).status, 2);
  });
});

describe("npm run plan", () => {
  it("--json prints {stack, resources[]} with the documented fields and masked secrets", () => {
    const r = run("plan.ts", ["--stack", "staging", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.equal(plan.stack, "staging");
    assert.ok(Array.isArray(plan.resources) && plan.resources.length > 0);
    for (const res of plan.resources) {
      assert.deepEqual(Object.keys(res).sort(), ["inputs", "name", "parent", "protect", "tenant", "type", "urn"]);
      assert.match(res.urn, /^urn:pulumi:staging::service-factory::/);
      assert.equal(typeof res.protect, "boolean");
      assert.ok(res.tenant === null || typeof res.tenant === "string");
    }
    assert.ok(!r.stdout.includes("placeholder-"), "a secret placeholder leaked into the plan");
    assert.ok(r.stdout.includes('"[secret]"'), "secrets should appear masked");
  });

  it("text output groups by tenant", () => {
    const r = run("plan.ts", ["--stack", "staging"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Plan for stack staging: \d+ resources, \d+ tenant\(s\)/);
    assert.match(r.stdout, /^platform \(shared\): \d+ resources/m);
  });

  it("exits 1 with the validation lines and registers no resource when a tenant is invalid", async () => {
    const r = run("plan.ts", ["--stack", "staging", "--tenants", badTenantDir()]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /typo-org\.yaml:5:3: services: unknown key "nextclod"/);
    await assert.rejects(runUnderMocks({ stack: "staging", tenantsDir: badTenantDir() }), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.equal((err as unknown as { registered: unknown[] }).registered.length, 0);
      return true;
    });
  });
});
