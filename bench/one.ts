// One benchmark measurement in a fresh process: generate a roster of N tenants, run the real program
// under mocks, print one JSON line of figures. bench/run.ts runs it per roster size.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runUnderMocks } from "../program/harness";
import { attributeAreas } from "../program/plan";
import { generateRoster, writeRoster } from "./roster";

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  const root = path.join(__dirname, "..");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sf-bench-${count}-`));
  const roster = generateRoster(count);
  writeRoster(dir, roster);
  const started = process.hrtime.bigint();
  const result = await runUnderMocks({ stack: "bench", projectDir: root, stackFile: path.join(root, "bench", "Pulumi.bench.yaml"), tenantsDir: dir, lean: true });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  fs.rmSync(dir, { recursive: true, force: true });

  const areas = attributeAreas(result.resources);
  const perService: Record<string, { resources: number; containers: number; tenants: number }> = {};
  for (const t of roster) for (const s of t.services) (perService[s] ??= { resources: 0, containers: 0, tenants: 0 }).tenants++;
  let tenantResources = 0;
  for (const r of result.resources) {
    if (r.tenant === null) continue;
    tenantResources++;
    const area = areas.get(r.urn) ?? "other";
    const slot = (perService[area] ??= { resources: 0, containers: 0, tenants: count });
    slot.resources++;
    if (r.type === "docker:index/container:Container") slot.containers++;
  }
  const containers = result.resources.filter((r) => r.type === "docker:index/container:Container").length;
  console.log(JSON.stringify({
    tenants: count,
    resources: result.resources.length,
    tenantResources,
    sharedResources: result.resources.length - tenantResources,
    containers,
    perService,
    wallMs: Math.round(wallMs),
    msPerResource: wallMs / result.resources.length,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    // What Pulumi state stores per dynamic resource: its serialized provider code.
    providerCodeKbPerTenant: result.providerCodeBytes / 1024 / count,
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
