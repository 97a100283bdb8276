// Data safety and secrets across the whole program (issue 6): every stateful resource protected, no
// secret in plain text anywhere, stable identities (golden URNs), tenants independent of each other.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { isStateful } from "../policy/rules";
import { HarnessResult, maskSecrets, RecordedResource, revealSecrets, runUnderMocks } from "../program/harness";
import { planJson } from "../program/plan";
import { OPERATOR_SECRET_KEYS, OperatorSecret } from "../src/settings";

const root = path.join(__dirname, "..");

/** Known, recognisable secret values: if one shows up outside a secret wrapper, it leaked. */
const KNOWN_SECRETS = Object.fromEntries(
  OPERATOR_SECRET_KEYS.map((k) => [k, k === "dnsTsigSecret" ? Buffer.from(`LEAKCHECK-${k}-0123456789abcdef`).toString("base64") : `LEAKCHECK-${k}-s3cr3t`]),
) as Record<OperatorSecret, string>;

/** Stateful = what the policy pack calls stateful (one definition for both): loses data when deleted. */
const stateful = (r: RecordedResource) => isStateful(r.type, revealSecrets(r.inputs) as Record<string, unknown>);

/** Strings the mocks generate for secret outputs (random passwords, client secrets). */
function generatedSecrets(result: HarnessResult): string[] {
  const out: string[] = [];
  for (const r of result.resources) {
    if (r.type === "random:index/randomPassword:RandomPassword") out.push(`mock-${r.name}-`);
    if (r.type === "keycloak:openid/client:Client") out.push(`mock-secret-${r.name}`);
  }
  return out;
}

function everyString(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => everyString(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => everyString(v, out));
  return out;
}

const secretsIn = (text: string, secrets: string[]) => secrets.filter((s) => text.includes(s) || text.includes(Buffer.from(s).toString("base64")));

describe("data safety and secrets (staging stack)", () => {
  let result: HarnessResult;
  before(async () => {
    result = await runUnderMocks({ stack: "staging", projectDir: root, secrets: KNOWN_SECRETS });
  });

  it("protects or retains every stateful resource (N/N)", () => {
    const statefuls = result.resources.filter(stateful);
    const unsafe = statefuls.filter((r) => !r.protect && !r.retainOnDelete);
    const types = [...new Set(statefuls.map((r) => r.type))].sort();
    console.log(`stateful resources protected or retained: ${statefuls.length - unsafe.length}/${statefuls.length} (types: ${types.join(", ")})`);
    assert.ok(statefuls.length > 0, "the staging stack should have stateful resources");
    assert.deepEqual(unsafe.map((r) => `${r.type} ${r.name}`), []);
  });

  it("no registered input holds a secret in plain text", () => {
    const secrets = [...Object.values(KNOWN_SECRETS), ...generatedSecrets(result)];
    const leaks: string[] = [];
    for (const r of result.resources) {
      const visible = everyString(maskSecrets(r.inputs)).join("\n");
      for (const s of secretsIn(visible, secrets)) leaks.push(`${r.type} ${r.name}: ${s}`);
    }
    assert.deepEqual(leaks, []);
  });

  it("the plan output holds no secret", () => {
    const text = JSON.stringify(planJson(result));
    assert.deepEqual(secretsIn(text, [...Object.values(KNOWN_SECRETS), ...generatedSecrets(result)]), []);
  });

  it("every command that receives a secret runs with logging off", () => {
    const offenders = result.resources
      .filter((r) => r.type.startsWith("command:"))
      .filter((r) => JSON.stringify(r.inputs).includes('"[secret]"'))
      .filter((r) => r.inputs.logging !== "none")
      .map((r) => `${r.type} ${r.name}`);
    assert.deepEqual(offenders, []);
  });

  it("no container label or env entry is a secret", () => {
    const offenders = result.resources
      .filter((r) => r.type === "docker:index/container:Container")
      .filter((r) => JSON.stringify(r.inputs.labels ?? []).includes("[secret]") || JSON.stringify(maskSecrets(r.inputs.envs ?? [])).includes("[secret]"))
      .map((r) => r.name);
    assert.deepEqual(offenders, []);
  });
});

describe("stable identities", () => {
  const copyTenants = (from: string, extra?: [string, string]) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-ids-"));
    // Reverse order on purpose: file creation order must not matter.
    for (const f of fs.readdirSync(from).sort().reverse()) fs.copyFileSync(path.join(from, f), path.join(dir, f));
    if (extra) fs.writeFileSync(path.join(dir, extra[0]), extra[1]);
    return dir;
  };
  const perTenant = (r: HarnessResult) =>
    new Map(r.resources.filter((x) => x.tenant !== null).map((x) => [x.urn, JSON.stringify(maskSecrets(x.inputs))]));

  it("adding a tenant, or reordering files, changes no other tenant's URNs or inputs", async () => {
    const base = await runUnderMocks({ stack: "staging", projectDir: root, tenantsDir: copyTenants(path.join(root, "tenants/staging")) });
    const more = await runUnderMocks({
      stack: "staging",
      projectDir: root,
      tenantsDir: copyTenants(path.join(root, "tenants/staging"), ["aaa-new-org.yaml", "slug: aaa-new-org\nname: New\ncontact: a@new.org\ndns: managed\nservices:\n  nextcloud: {}\n  paheko: {}\n  wordpress: {}\n  staticSite: {}\n"]),
    });
    const a = perTenant(base);
    const b = perTenant(more);
    assert.ok(a.size > 0);
    for (const [urn, inputs] of a) {
      assert.ok(b.has(urn), `URN vanished: ${urn}`);
      assert.equal(b.get(urn), inputs, `inputs changed for ${urn}`);
    }
    assert.ok([...b.keys()].some((u) => u.includes("aaa-new-org")));
  });

  for (const stack of ["staging", "prod"]) {
    it(`URNs of the ${stack} stack match the committed golden file (UPDATE_GOLDEN=1 rewrites it)`, async () => {
      const r = await runUnderMocks({ stack, projectDir: root });
      const urns = r.resources.map((x) => x.urn).sort().join("\n") + "\n";
      const golden = path.join(root, "test", "golden", `urns.${stack}.txt`);
      if (process.env.UPDATE_GOLDEN === "1") {
        fs.mkdirSync(path.dirname(golden), { recursive: true });
        fs.writeFileSync(golden, urns);
      }
      assert.equal(urns, fs.readFileSync(golden, "utf8"), `identities changed: review the diff; renames need aliases`);
    });
  }
});
