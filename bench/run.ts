// npm run bench [-- --sizes 10,100,250,1000,2500]
// Runs bench/one.ts in a fresh process per roster size and prints one table.
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";

interface Figures {
  tenants: number; resources: number; tenantResources: number; sharedResources: number; containers: number;
  perService: Record<string, { resources: number; containers: number; tenants: number }>;
  wallMs: number; msPerResource: number; peakRssMb: number; providerCodeKbPerTenant: number;
}

const sizesArg = process.argv.indexOf("--sizes");
const sizes = (sizesArg > 0 ? process.argv[sizesArg + 1] : "10,100,250,1000,2500").split(",").map(Number);
const root = path.join(__dirname, "..");
const rows: Figures[] = [];
for (const n of sizes) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--max-old-space-size=18432", path.join(root, "bench", "one.ts"), String(n)], { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    console.error(`roster ${n} failed:\n${r.stderr}`);
    process.exit(1);
  }
  rows.push(JSON.parse(r.stdout.trim().split("\n").pop()!));
  process.stderr.write(`  measured ${n} tenants\n`);
}

const services = [...new Set(rows.flatMap((r) => Object.keys(r.perService)))].sort();
const fmt = (x: number, d = 1) => x.toFixed(d);
console.log(`machine: ${os.cpus()[0]?.model ?? "?"} ×${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`);
console.log("");
console.log("| tenants | resources | shared | per tenant | containers | wall s | ms/resource | peak RSS MiB | provider code in state, KiB/tenant |");
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.tenants} | ${r.resources} | ${r.sharedResources} | ${fmt(r.tenantResources / r.tenants)} | ${r.containers} | ${fmt(r.wallMs / 1000, 2)} | ${fmt(r.msPerResource, 3)} | ${r.peakRssMb} | ${fmt(r.providerCodeKbPerTenant)} |`);
}
console.log("");
console.log("Per subscribed service (largest roster): resources and containers per subscribing tenant");
const big = rows[rows.length - 1];
console.log("| service | subscribers | resources/tenant | containers/tenant |");
console.log("|---|---:|---:|---:|");
for (const s of services) {
  const v = big.perService[s];
  if (!v) continue;
  console.log(`| ${s} | ${v.tenants} | ${fmt(v.resources / Math.max(1, v.tenants), 2)} | ${fmt(v.containers / Math.max(1, v.tenants), 2)} |`);
}
const largest = rows[rows.length - 1];
const tenth = rows.find((r) => r.tenants * 10 === largest.tenants);
if (tenth) console.log(`\ntime ratio ${largest.tenants}/${tenth.tenants} tenants: ${fmt(largest.wallMs / tenth.wallMs, 2)} (linear ≈ 10)`);
