// Shared by test/paheko.test.ts, test/wordpress.test.ts and test/staticSite.test.ts: tenant directories of
// 1 and 5 tenants run through the whole program on the staging stack, and the known secret values.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { garageMockState } from "../src/garage/mocks";
import { HarnessResult, maskSecrets, RecordedResource, runUnderMocks } from "../program/harness";
import { OPERATOR_SECRET_KEYS, OperatorSecret } from "../src/settings";

export const ROOT = path.resolve(__dirname, "..");
export const DOMAIN = "staging.factory.example.org";
/** The compute host the pooled instances land on (first compute host by name in Pulumi.staging.yaml). */
export const POOLED_HOST = { name: "stg-compute1", docker: "ssh://deploy@stg-compute1.internal", address: "10.20.0.11" };

/** Distinctive operator secret values, injected so a leak is recognisable. */
export const OPERATOR_SECRET_VALUES: Record<OperatorSecret, string> = Object.fromEntries(
  OPERATOR_SECRET_KEYS.map((k) => [k, k === "dnsTsigSecret" ? Buffer.from(`leak-check-${k}-0123456789abcdef`).toString("base64") : `leak-check-${k}-7f3a9c`]),
) as Record<OperatorSecret, string>;

export interface FixtureTenant {
  slug: string;
  status: "active" | "suspended" | "archived";
  paheko?: { hostname?: string };
  wordpress?: { hostname?: string; editHostname?: string; title?: string };
  staticSite?: { hostname?: string };
}

/** 5 tenants: custom domains, defaults, a suspended and an archived one, services mixed. */
export const FIVE: FixtureTenant[] = [
  { slug: "alpha", status: "active", paheko: { hostname: "compta.alpha.example" }, wordpress: { hostname: "www.alpha.example", title: "Alpha" }, staticSite: { hostname: "docs.alpha.example" } },
  { slug: "bravo", status: "suspended", paheko: {}, wordpress: {} },
  { slug: "charlie", status: "archived", paheko: { hostname: "gestion.charlie.example" }, wordpress: { hostname: "charlie.example" }, staticSite: {} },
  { slug: "delta", status: "active", paheko: {} },
  { slug: "echo", status: "active", wordpress: { editHostname: "edit.echo.example", hostname: "echo.example" }, staticSite: {} },
];
export const ONE: FixtureTenant[] = [
  { slug: "solo", status: "active", paheko: {}, wordpress: { title: "Solo" }, staticSite: {} },
];

function yamlBlock(o: Record<string, string | undefined> | undefined): string {
  const entries = Object.entries(o ?? {}).filter(([, v]) => v !== undefined);
  return `{ ${entries.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")} }`;
}

export function writeTenants(tenants: FixtureTenant[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pws-tenants-"));
  for (const t of tenants) {
    const services: string[] = [];
    if (t.paheko) services.push(`  paheko: ${yamlBlock(t.paheko)}`);
    if (t.wordpress) services.push(`  wordpress: ${yamlBlock(t.wordpress)}`);
    if (t.staticSite) services.push(`  staticSite: ${yamlBlock(t.staticSite)}`);
    fs.writeFileSync(path.join(dir, `${t.slug}.yaml`), [
      `slug: ${t.slug}`,
      `name: Tenant ${t.slug}`,
      `contact: contact@${t.slug}.example`,
      `status: ${t.status}`,
      "dns: external",
      "services:",
      ...services,
      "",
    ].join("\n"));
  }
  return dir;
}

export const defaults = {
  paheko: (slug: string) => `${slug}.paheko.${DOMAIN}`,
  wordpress: (slug: string) => `${slug}.wordpress.${DOMAIN}`,
  wordpressEdit: (slug: string) => `${slug}.wp.${DOMAIN}`,
  staticSite: (slug: string) => `${slug}.static.${DOMAIN}`,
};

const cache = new Map<FixtureTenant[], Promise<HarnessResult>>();
/** Runs the whole program (staging settings) with these tenants; memoised per tenant list. */
export function runWith(tenants: FixtureTenant[]): Promise<HarnessResult> {
  if (!cache.has(tenants)) {
    const tenantsDir = writeTenants(tenants);
    cache.set(tenants, runUnderMocks({ stack: "staging", projectDir: ROOT, tenantsDir, secrets: OPERATOR_SECRET_VALUES }).finally(() => {
      fs.rmSync(tenantsDir, { recursive: true, force: true });
    }));
  }
  return cache.get(tenants)!;
}

/** Every secret value the run can know: operator secrets, mock RandomPassword results, mock Garage key secrets. */
export function knownSecrets(resources: RecordedResource[]): string[] {
  const out = new Set<string>(Object.values(OPERATOR_SECRET_VALUES));
  for (const r of resources) {
    if (r.type === "random:index/randomPassword:RandomPassword") out.add(`mock-${r.name}-${"x".repeat(Number(r.inputs.length ?? 16))}`);
    if (r.type === "pulumi-nodejs:dynamic:Resource") {
      const st = garageMockState(r.name, r.inputs, (v) => v) as { secretAccessKey?: string };
      if (st.secretAccessKey) out.add(st.secretAccessKey);
    }
  }
  return [...out];
}

/** Resources whose masked inputs (secrets replaced by "[secret]") still contain a known secret. */
export function leaks(resources: RecordedResource[]): string[] {
  const secrets = knownSecrets(resources);
  const found: string[] = [];
  for (const r of resources) {
    const plain = JSON.stringify(maskSecrets(r.inputs));
    for (const s of secrets) if (plain.includes(s)) found.push(`${r.type} ${r.name} exposes ${s.slice(0, 16)}…`);
  }
  return found;
}

export const byName = (rs: RecordedResource[], name: string): RecordedResource => {
  const r = rs.find((x) => x.name === name);
  if (!r) throw new Error(`no resource named ${name}`);
  return r;
};
