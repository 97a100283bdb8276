// The layers hold: src/ is pure logic (no Pulumi SDK, no component), so it is tested directly and fast;
// components/ wire resources; program/ is the program's wiring, the mock harness and the plan tools.
// Read from the sources' import statements (comments stripped), so a new file cannot slip through.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

const ROOT = path.join(__dirname, "..");

function tsFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []);
}

/** Module specifiers a file imports (static, dynamic and require), comments removed first. */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const specs: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm)) specs.push(m[1]);
  return specs;
}

describe("layers: src is pure, components do not reach into the program", () => {
  it("reads imports of every kind and ignores comments (the check can fail)", () => {
    assert.deepEqual(importsOf([
      'import * as pulumi from "@pulumi/pulumi";', "// import x from \"@pulumi/docker\";", "/* require('../components/x') */",
      'const m = await import("../components/edge");', 'import "./side-effect";', "const r = require('@pulumi/random');",
    ].join("\n")), ["@pulumi/pulumi", "../components/edge", "./side-effect", "@pulumi/random"]);
  });

  it("no file under src/ imports the Pulumi SDK, a component or the program", () => {
    const offenders: string[] = [];
    for (const f of tsFiles("src")) {
      for (const spec of importsOf(fs.readFileSync(path.join(ROOT, f), "utf8"))) {
        const resolved = spec.startsWith(".") ? path.relative(ROOT, path.resolve(ROOT, path.dirname(f), spec)) : spec;
        if (/^@pulumi\//.test(spec) || /^(components|program)(\/|$)/.test(resolved)) offenders.push(`${f}: ${spec}`);
      }
    }
    assert.deepEqual(offenders, []);
    assert.ok(tsFiles("src").length > 40, "the walk found src's files");
  });

  it("no component imports the program wiring", () => {
    const offenders: string[] = [];
    for (const f of tsFiles("components")) {
      for (const spec of importsOf(fs.readFileSync(path.join(ROOT, f), "utf8"))) {
        if (spec.startsWith(".") && /^program(\/|$)/.test(path.relative(ROOT, path.resolve(ROOT, path.dirname(f), spec)))) offenders.push(`${f}: ${spec}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
