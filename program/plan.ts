// The offline plan: what the program registers, grouped by tenant, from a mock run. Pure formatting.
import { HarnessResult, maskSecrets, RecordedResource } from "./harness";

/** One resource of the plan: the recorded identity and options, with secrets masked in its inputs. */
export type PlanResource = Pick<RecordedResource, "urn" | "type" | "name" | "tenant" | "parent" | "protect"> & { inputs: unknown };

export interface PlanJson {
  stack: string;
  resources: PlanResource[];
}

/** Inputs that are plumbing rather than meaning (dynamic providers' serialized code). */
const HIDDEN_INPUTS = new Set(["__provider"]);

export function planJson(result: HarnessResult): PlanJson {
  return {
    stack: result.stack,
    resources: result.resources.map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      tenant: r.tenant,
      parent: r.parent,
      protect: r.protect,
      inputs: maskSecrets(Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !HIDDEN_INPUTS.has(k)))),
    })),
  };
}

/** Type counts, sorted by type, for one group of resources. */
export function countByType(resources: readonly RecordedResource[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
}

export function planText(result: HarnessResult): string {
  const lines: string[] = [];
  const groups = new Map<string | null, RecordedResource[]>();
  for (const r of result.resources) {
    const g = groups.get(r.tenant) ?? [];
    g.push(r);
    groups.set(r.tenant, g);
  }
  const tenants = [...groups.keys()].filter((k): k is string => k !== null).sort();
  const section = (title: string, rs: RecordedResource[]) => {
    const protectedCount = rs.filter((r) => r.protect).length;
    lines.push(`${title}: ${rs.length} resources (${protectedCount} protected)`);
    for (const [type, n] of countByType(rs)) lines.push(`  ${String(n).padStart(4)}  ${type}`);
    for (const r of rs.filter((x) => x.custom)) lines.push(`        ${r.protect ? "🔒" : "  "} ${r.type.split(":").pop()} ${r.name}`);
  };
  lines.push(`Plan for stack ${result.stack}: ${result.resources.length} resources, ${tenants.length} tenant(s)`);
  lines.push("");
  section("platform (shared)", groups.get(null) ?? []);
  for (const t of tenants) {
    lines.push("");
    section(`tenant ${t}`, groups.get(t)!);
  }
  return lines.join("\n");
}

/** Component modules (`factory:<module>:<Name>`) that stand for a tenant-facing service. */
const SERVICE_MODULES: Record<string, string> = {
  nextcloud: "nextcloud",
  paheko: "paheko",
  wordpress: "wordpress",
  static: "staticSite",
  staticsite: "staticSite",
};

/**
 * The part of the factory each resource belongs to: the nearest ancestor (or itself) that is a service
 * component (nextcloud, paheko, wordpress, staticSite), else the nearest factory component's module
 * (identity, dns, …), else null.
 */
export function attributeAreas(resources: readonly RecordedResource[]): Map<string, string | null> {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const out = new Map<string, string | null>();
  for (const r of resources) {
    let area: string | null = null;
    for (let cur: RecordedResource | undefined = r; cur; cur = cur.parent ? byUrn.get(cur.parent) : undefined) {
      const m = /^factory:([^:]+):/.exec(cur.type);
      if (!m) continue;
      const typeModule = m[1].toLowerCase();
      if (SERVICE_MODULES[typeModule]) {
        area = SERVICE_MODULES[typeModule];
        break;
      }
      area ??= typeModule;
    }
    out.set(r.urn, area);
  }
  return out;
}
