// What every committed stack registers, by resource name: type, inputs (secrets revealed), options and
// dependencies (by name), hashed per resource and compared with test/golden/resources.<stack>.txt. URNs
// are left out on purpose: a change of structure (which component parents what) renames URNs and must
// leave this file alone, which is how a refactoring proves "the same resources with the same inputs up to
// the renames". The shape is checked on its own: everything of a tenant hangs (through its parents) under
// its `factory:tenant:Tenant`, nothing of the fleet does. UPDATE_GOLDEN=1 rewrites the golden files.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { HarnessResult, revealSecrets, runUnderMocks } from "../program/harness";

const ROOT = path.join(__dirname, "..");
const TENANT_TYPE = "factory:tenant:Tenant";

/** JSON with object keys sorted: the same meaning gives the same text, whatever order a component wrote. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** One line per resource: `<name> <type> <sha256 of everything but its URN and parent>`, sorted. */
export function resourceLines(r: HarnessResult): string[] {
  const nameOf = new Map(r.resources.map((x) => [x.urn, x.name]));
  // A provider reference is `<urn>::<id>`: its own type (without the parent chain) and name.
  const providerName = (p: string | null) => {
    if (p === null) return null;
    const parts = p.split("::");
    return `${parts[2].split("$").pop()}::${parts[3]}`;
  };
  return r.resources.map((x) => {
    const meaning = {
      type: x.type, custom: x.custom, protect: x.protect, retainOnDelete: x.retainOnDelete,
      deleteBeforeReplace: x.deleteBeforeReplace, ignoreChanges: x.ignoreChanges ?? [], tenant: x.tenant,
      provider: providerName(x.provider), dependsOn: x.dependsOn.map((d) => nameOf.get(d) ?? d).sort(),
      inputs: revealSecrets(x.inputs),
    };
    return `${x.name} ${x.type} ${createHash("sha256").update(canonical(meaning)).digest("hex").slice(0, 16)}`;
  }).sort();
}

describe("the shape of every committed stack", () => {
  for (const stack of ["staging", "prod"]) {
    it(`${stack}: the same resources, inputs, options and dependencies as test/golden/resources.${stack}.txt`, async () => {
      const r = await runUnderMocks({ stack, projectDir: ROOT });
      const lines = resourceLines(r);
      assert.equal(new Set(r.resources.map((x) => x.name)).size, r.resources.length, "resource names are unique in a stack");
      const golden = path.join(ROOT, "test", "golden", `resources.${stack}.txt`);
      if (process.env.UPDATE_GOLDEN === "1") fs.writeFileSync(golden, lines.join("\n") + "\n");
      const want = fs.readFileSync(golden, "utf8").trimEnd().split("\n");
      const missing = want.filter((l) => !lines.includes(l));
      const extra = lines.filter((l) => !want.includes(l));
      assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, "resources changed: review, then UPDATE_GOLDEN=1");
    });

    it(`${stack}: a tenant's resources hang under its Tenant component, the fleet's under none`, async () => {
      const r = await runUnderMocks({ stack, projectDir: ROOT });
      const tenants = r.resources.filter((x) => x.type === TENANT_TYPE);
      assert.ok(tenants.length > 0);
      assert.deepEqual(tenants.map((t) => t.name).sort(), [...new Set(tenants.map((t) => t.tenant))].sort(), "one Tenant per tenant, named by its slug");
      const byUrn = new Map(r.resources.map((x) => [x.urn, x]));
      // A URN names only the parent's type: walk the parents up to a Tenant or the stack.
      const tenantAncestor = (urn: string | null): string | undefined => {
        for (let u = urn; u; u = byUrn.get(u)?.parent ?? null) if (byUrn.get(u)?.type === TENANT_TYPE) return byUrn.get(u)!.name;
        return undefined;
      };
      for (const x of r.resources) {
        if (x.type === TENANT_TYPE || x.type === "pulumi:pulumi:Stack") continue;
        const underTenant = tenantAncestor(x.parent) !== undefined;
        if (underTenant) assert.equal(tenantAncestor(x.parent), x.tenant, `${x.name} hangs under its own tenant`);
        assert.equal(underTenant, x.tenant !== null, `${x.name} (${x.tenant ?? "fleet"}): ${x.urn}`);
      }
    });
  }
});
