// Deterministic placement of tenants on compute hosts by weighted rendezvous (highest-random-weight)
// hashing: each (slug, host) pair gets a score from a hash; the highest score wins. Adding a tenant moves
// no other tenant; adding a host moves only the tenants it now wins; a drained host keeps none.
import { createHash } from "node:crypto";
import { Host, Tenant } from "./types";

/** A uniform number in (0, 1) from the pair's hash, stable across platforms and Node versions. */
function unitHash(slug: string, host: string): number {
  const digest = createHash("sha256").update(`${slug}\u0000${host}`).digest();
  // 52 bits fit a double exactly; +1 and +2 keep the value strictly inside (0, 1).
  const hi = digest.readUInt32BE(0) & 0xfffff;
  const lo = digest.readUInt32BE(4);
  return (hi * 2 ** 32 + lo + 1) / (2 ** 52 + 2);
}

/** Weighted rendezvous score: -w / ln(u) gives each host a share proportional to its weight. */
export function rendezvousScore(slug: string, host: Pick<Host, "name" | "weight">): number {
  return -host.weight / Math.log(unitHash(slug, host.name));
}

/** Hosts that may receive tenants: compute role, not drained. */
export function eligibleHosts(hosts: readonly Host[]): Host[] {
  return hosts.filter((h) => h.roles.includes("compute") && !h.drain);
}

/** The host a tenant runs on: its pin when set, else the rendezvous winner among eligible hosts. */
export function placeTenant(tenant: Pick<Tenant, "slug" | "pinnedHost">, hosts: readonly Host[]): string {
  if (tenant.pinnedHost) return tenant.pinnedHost;
  const candidates = eligibleHosts(hosts);
  if (candidates.length === 0) throw new Error("no compute host is available for placement (all drained?)");
  let best = candidates[0];
  let bestScore = rendezvousScore(tenant.slug, best);
  for (const h of candidates.slice(1)) {
    const s = rendezvousScore(tenant.slug, h);
    if (s > bestScore || (s === bestScore && h.name < best.name)) {
      best = h;
      bestScore = s;
    }
  }
  return best.name;
}

/** Placement of every tenant, keyed by slug. */
export function placeAll(tenants: readonly Pick<Tenant, "slug" | "pinnedHost">[], hosts: readonly Host[]): Map<string, string> {
  return new Map(tenants.map((t) => [t.slug, placeTenant(t, hosts)]));
}

/** The host a placed tenant runs on; throws when the placement names no host of the inventory. */
export function placedHost(slug: string, placement: ReadonlyMap<string, string>, hosts: readonly Host[]): Host {
  const name = placement.get(slug);
  const host = hosts.find((h) => h.name === name);
  if (!host) throw new Error(`tenant ${slug}: no placement on a known host`);
  return host;
}
