// Which DNS records a tenant gets. Pure: no Pulumi.
//
// Only tenants with `dns: managed` get records, and archived tenants none (their records go away).
// Every route of the tenant's services (src/services/) gets one: app hostnames (served through the edge
// Caddy) point at the public addresses of ALL edge hosts (traffic always enters there); website buckets
// (a WordPress public hostname, a static site) point at `dns.webEndpoints` (the Garage web endpoints).
import { isIPv4, isIPv6 } from "../settings";
import { tenantRoutes } from "../services/registry";
import { Host, StackSettings, Tenant } from "../types";

export interface DnsRecordSet {
  /** Fully qualified hostname without the trailing dot. */
  hostname: string;
  ttl: number;
  /** IPv4 addresses (A records), sorted; may not be empty. */
  a: string[];
  /** IPv6 addresses (AAAA records), sorted; empty = no AAAA (any existing one is removed). */
  aaaa: string[];
  /** What the name points at: the edge hosts or the Garage web endpoints. */
  target: "edge" | "web";
  /** The tenant setting the hostname comes from (for plans and messages). */
  key: string;
}

const uniqSorted = (xs: readonly string[]) => [...new Set(xs)].sort();

/** Public addresses of every edge host. */
export function edgeAddresses(hosts: readonly Host[]): { ipv4: string[]; ipv6: string[] } {
  const edges = hosts.filter((h) => h.roles.includes("edge"));
  return {
    ipv4: uniqSorted(edges.flatMap((h) => (h.publicIPv4 ? [h.publicIPv4] : []))),
    ipv6: uniqSorted(edges.flatMap((h) => (h.publicIPv6 ? [h.publicIPv6] : []))),
  };
}

/** The record sets of one tenant, sorted by hostname; [] unless managed and not archived. */
export function tenantDnsRecords(tenant: Tenant, settings: Pick<StackSettings, "hosts" | "dns">): DnsRecordSet[] {
  if (tenant.dns !== "managed" || tenant.status === "archived") return [];
  const edge = edgeAddresses(settings.hosts);
  const web = { ipv4: uniqSorted(settings.dns.webEndpoints.ipv4), ipv6: uniqSorted(settings.dns.webEndpoints.ipv6) };
  const ttl = settings.dns.ttl;
  const out: DnsRecordSet[] = [];
  const add = (hostname: string, target: "edge" | "web", key: string) => {
    const addrs = target === "edge" ? edge : web;
    if (addrs.ipv4.length === 0) {
      throw new Error(`tenant ${tenant.slug}: ${key} ${hostname} needs DNS records but no ${target === "edge" ? "edge host has a publicIPv4" : "dns.webEndpoints.ipv4 is set"}`);
    }
    out.push({ hostname, ttl, a: addrs.ipv4, aaaa: addrs.ipv6, target, key });
  };
  for (const r of tenantRoutes(tenant)) add(r.hostname, r.kind === "app" ? "edge" : "web", r.key);
  for (const r of out) {
    for (const a of r.a) if (!isIPv4(a)) throw new Error(`${r.hostname}: "${a}" is not an IPv4 address`);
    for (const a of r.aaaa) if (!isIPv6(a)) throw new Error(`${r.hostname}: "${a}" is not an IPv6 address`);
  }
  return out.sort((x, y) => (x.hostname < y.hostname ? -1 : x.hostname > y.hostname ? 1 : 0));
}
