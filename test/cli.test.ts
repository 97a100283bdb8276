// The two offline commands operators run anywhere: validate and plan. Run as real processes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { runUnderMocks } from "../program/harness";
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

  it("names every file that cannot be a tenant file, reads none without a bound, and never crashes or hangs", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-hostile-"));
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "sf-outside-"));
    fs.writeFileSync(path.join(outside, "elsewhere.yaml"), "slug: elsewhere\nname: E\ncontact: a@e.org\n");
    fs.writeFileSync(path.join(dir, "good-org.yml"), "slug: good-org\nname: Good\ncontact: a@good.org\n");
    fs.mkdirSync(path.join(dir, "folder.yaml"));
    fs.symlinkSync("/dev/zero", path.join(dir, "zero.yaml"));
    fs.symlinkSync(path.join(outside, "elsewhere.yaml"), path.join(dir, "elsewhere.yaml"));
    fs.writeFileSync(path.join(dir, "huge.yaml"), `slug: huge\nname: ${"x".repeat(2 * 1024 * 1024)}\ncontact: a@h.org\n`);
    fs.writeFileSync(path.join(dir, "Upper.YAML"), "slug: upper\nname: U\ncontact: a@u.org\n");
    fs.writeFileSync(path.join(dir, "mixed.Yml"), "slug: mixed\nname: M\ncontact: a@m.org\n");
    fs.writeFileSync(path.join(dir, "nul.yaml"), "slug: nul\nname: \"a\u0000b\"\ncontact: a@n.org\n");
    fs.writeFileSync(path.join(dir, "binary.yaml"), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    fs.writeFileSync(path.join(dir, "README.md"), "not a tenant file: ignored\n");
    const t0 = Date.now();
    const r = spawnSync(tsx, [path.join(root, "scripts", "validate.ts"), "--stack", "staging", "--tenants", dir], { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.ok(Date.now() - t0 < 60_000, "finished");
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, "no stack trace");
    const rel = path.relative(root, dir);
    const byFile = new Map<string, string[]>();
    for (const line of r.stdout.trim().split("\n")) {
      const m = /^(.+?):(\d+):(\d+): (.*)$/.exec(line);
      assert.ok(m, `every line is file:line:col: message (${line})`);
      byFile.set(path.basename(m[1]), [...(byFile.get(path.basename(m[1])) ?? []), m[4]]);
    }
    assert.ok(r.stdout.split("\n").every((l) => l === "" || l.startsWith(`${rel}/`)), "paths relative to the project");
    assert.deepEqual([...byFile.keys()].sort(), ["Upper.YAML", "binary.yaml", "elsewhere.yaml", "folder.yaml", "huge.yaml", "mixed.Yml", "nul.yaml", "zero.yaml"]);
    assert.match(byFile.get("folder.yaml")![0], /is a directory/);
    assert.match(byFile.get("zero.yaml")![0], /symbolic link/);
    assert.match(byFile.get("elsewhere.yaml")![0], /symbolic link/);
    assert.match(byFile.get("huge.yaml")![0], /at most 65536 bytes/);
    assert.match(byFile.get("Upper.YAML")![0], /lower-case \.yaml or \.yml; rename it to Upper\.yaml/);
    assert.match(byFile.get("mixed.Yml")![0], /rename it to mixed\.yaml/);
    assert.match(byFile.get("binary.yaml")![0], /not valid UTF-8/);
    assert.match(byFile.get("nul.yaml")!.join(" "), /control character|NUL/i);
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
