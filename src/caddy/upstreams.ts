// Where the edge sends each hostname, derived from the stack settings, the shared-service endpoints and
// the placement. Pure, no Pulumi.
import { Endpoints, PORTS } from "../endpoints";
import { Host, StackSettings, Tenant } from "../types";
import { CADDY_PORTS, EdgeUpstreams } from "./edge";

/** host part of a private address, bracketed when IPv6. */
export function hostPart(address: string): string {
  return address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
}

function hostByName(settings: StackSettings, name: string): Host {
  const h = settings.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`host ${name} is not in the inventory`);
  return h;
}

/** The compute-host Caddy listener of a host, as the edge reaches it. */
export function computeCaddyAddress(host: Host): string {
  return `${hostPart(host.privateAddress)}:${CADDY_PORTS.compute}`;
}

export interface UpstreamInput {
  settings: StackSettings;
  endpoints: Endpoints;
  tenants: readonly Tenant[];
  /** Compute host of every tenant, by slug. */
  placement: ReadonlyMap<string, string>;
  /** The shared Paheko instance (host:port, HTTP). */
  paheko: string;
  /** Name of the compute host running WordPress: its Caddy serves the editing hostnames. */
  wordpressHost: string;
}

export function edgeUpstreams(o: UpstreamInput): EdgeUpstreams {
  const s = o.settings.services;
  const collabora = s.collabora.mode === "deploy"
    ? `http://${hostPart(hostByName(o.settings, s.collabora.host).privateAddress)}:${PORTS.collabora}`
    : s.collabora.endpoint;
  const garageHost = new URL(o.endpoints.garage.adminUrl).hostname;
  const nextcloud: Record<string, string> = {};
  for (const t of o.tenants) {
    if (!t.services.nextcloud || t.status === "archived") continue;
    const host = o.placement.get(t.slug);
    if (!host) throw new Error(`tenant ${t.slug} has no compute host`);
    nextcloud[t.slug] = computeCaddyAddress(hostByName(o.settings, host));
  }
  return {
    keycloak: o.endpoints.keycloak.url,
    collabora,
    garageS3: o.endpoints.garage.s3Url,
    garageWeb: `${garageHost}:${o.endpoints.garage.webPort}`,
    services: {
      nextcloud,
      paheko: o.paheko,
      wordpress: computeCaddyAddress(hostByName(o.settings, o.wordpressHost)),
    },
  };
}
