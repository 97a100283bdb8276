// Deterministic synthetic tenant rosters for the benchmark: realistic slugs and hostnames, every service
// mixed in, spread over a 6-host inventory. Same size → byte-identical files, run after run.
import * as fs from "node:fs";
import * as path from "node:path";

/** Mulberry32: a tiny seeded PRNG, so rosters never depend on Math.random. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KINDS = ["asso", "club", "collectif", "amap", "ecole", "radio", "atelier", "compagnie", "syndicat", "cooperative"];
const PLACES = ["nord", "sud", "centre", "lac", "vallee", "montagne", "port", "plaine", "riviere", "forets", "gare", "halles"];
const TLDS = ["org", "fr", "net", "eu", "coop"];

export interface RosterTenant {
  slug: string;
  yaml: string;
  services: string[];
}

export function generateRoster(count: number, seed = 20261122): RosterTenant[] {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const out: RosterTenant[] = [];
  const used = new Set<string>();
  for (let i = 0; out.length < count; i++) {
    const slug = `${pick(KINDS)}-${pick(PLACES)}-${i.toString(36)}`;
    if (used.has(slug)) continue;
    used.add(slug);
    const domain = `${slug.replace(/-/g, "")}.example.${pick(TLDS)}`;
    const services: string[] = [];
    const lines = [`slug: ${slug}`, `name: "Organisation ${slug}"`, `contact: contact@${domain}`];
    if (rnd() < 0.5) lines.push("dns: managed");
    if (rnd() < 0.03) lines.push("status: suspended");
    lines.push("services:");
    const own = rnd() < 0.6; // custom domains for most, factory defaults for the rest
    if (rnd() < 0.7) { services.push("nextcloud"); lines.push(`  nextcloud: { ${own ? `hostname: cloud.${domain}, ` : ""}quotaGb: ${[5, 10, 20, 50, 100][Math.floor(rnd() * 5)]} }`); }
    if (rnd() < 0.5) { services.push("paheko"); lines.push(`  paheko: { ${own ? `hostname: compta.${domain}` : ""} }`); }
    if (rnd() < 0.35) { services.push("wordpress"); lines.push(`  wordpress: { ${own ? `hostname: www.${domain}, ` : ""}title: "Site ${slug}" }`); }
    if (rnd() < 0.15 || services.length === 0) { services.push("staticSite"); lines.push(`  staticSite: { ${own ? `hostname: static.${domain}` : ""} }`); }
    lines.push(`admins: [admin@${domain}]`);
    out.push({ slug, yaml: lines.join("\n") + "\n", services });
  }
  return out;
}

export function writeRoster(dir: string, roster: RosterTenant[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const t of roster) fs.writeFileSync(path.join(dir, `${t.slug}.yaml`), t.yaml);
}
