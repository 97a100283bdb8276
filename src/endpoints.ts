// Where each shared service answers, derived from the stack settings alone (deployed: the host's private
// address and the service's standard port; external: the declared endpoint). Pure, so a sharded tenant
// stack computes the same endpoints as the platform stack without reading its state.
import { Host, platformHostnames, SharedServiceMode, StackSettings } from "./types";

export const PORTS = {
  postgres: 5432,
  redis: 6379,
  garageS3: 3900,
  garageRpc: 3901,
  garageWeb: 3902,
  garageAdmin: 3903,
  keycloak: 8080,
  keycloakManagement: 9000,
  collabora: 9980,
} as const;

export const GARAGE_REGION = "garage";

/** Where the shared services answer, as the platform and tenant components need it (plain, serializable values). */
export interface Endpoints {
  /** PostgreSQL host:port as seen from the hosts' private network. */
  postgres: { host: string; port: number };
  /** Keycloak base URL and the realm holding the factory's users. */
  keycloak: { url: string; realm: string };
  /** Garage admin API and S3 endpoints (private network), the S3 region, the web root domain and web port. */
  garage: { adminUrl: string; s3Url: string; region: string; webRootDomain: string; webPort: number };
  /** Redis per compute host, as host:port reachable from that host's containers. */
  redis: Record<string, { host: string; port: number }>;
  /** Collabora (CODE) public URL used by Nextcloud's richdocuments. */
  collaboraUrl: string;
}

/** The host a shared service is deployed on, or undefined when it is external. */
export function deployHost(settings: Pick<StackSettings, "hosts">, mode: SharedServiceMode): Host | undefined {
  if (mode.mode !== "deploy") return undefined;
  const host = settings.hosts.find((h) => h.name === mode.host);
  if (!host) throw new Error(`shared service host ${mode.host} is not in the inventory`);
  return host;
}

/** An address as it goes in a URL or host:port (IPv6 in brackets). */
export function urlHost(addr: string): string {
  return addr.includes(":") ? `[${addr}]` : addr;
}

function deployedAddress(settings: Pick<StackSettings, "hosts">, mode: SharedServiceMode): string | undefined {
  const host = deployHost(settings, mode);
  return host && urlHost(host.privateAddress);
}

function splitHostPort(endpoint: string, defaultPort: number): { host: string; port: number } {
  const bare = endpoint.replace(/^[a-z]+:\/\//, "").replace(/\/$/, "");
  const m = /^(.*?)(?::(\d+))?$/.exec(bare)!;
  return { host: m[1], port: m[2] ? Number(m[2]) : defaultPort };
}

function url(endpoint: string, scheme = "http"): string {
  return /^[a-z]+:\/\//.test(endpoint) ? endpoint.replace(/\/$/, "") : `${scheme}://${endpoint}`;
}

export function computeEndpoints(settings: Pick<StackSettings, "hosts" | "services" | "domain" | "realm">): Endpoints {
  const s = settings.services;
  const pg = deployedAddress(settings, s.postgres);
  const kc = deployedAddress(settings, s.keycloak);
  const garage = deployedAddress(settings, s.garage);
  const names = platformHostnames(settings.domain);
  const redis: Endpoints["redis"] = {};
  for (const h of settings.hosts.filter((x) => x.roles.includes("compute"))) {
    // Each compute host runs its own Redis on the host's factory network, reached by its alias.
    redis[h.name] = { host: "redis", port: PORTS.redis };
  }
  return {
    postgres: pg ? { host: pg, port: PORTS.postgres } : splitHostPort((s.postgres as { endpoint: string }).endpoint, PORTS.postgres),
    keycloak: { url: kc ? `http://${kc}:${PORTS.keycloak}` : url((s.keycloak as { endpoint: string }).endpoint, "https"), realm: settings.realm },
    garage: garage
      ? { adminUrl: `http://${garage}:${PORTS.garageAdmin}`, s3Url: `http://${garage}:${PORTS.garageS3}`, region: GARAGE_REGION, webRootDomain: names.garageWebRoot, webPort: PORTS.garageWeb }
      : garageExternal((s.garage as { endpoint: string }).endpoint, names.garageWebRoot),
    redis,
    // A deployed Collabora is published by the edge on office.<domain>; an external one is used as declared.
    collaboraUrl: s.collabora.mode === "external" ? url(s.collabora.endpoint, "https") : `https://${names.collabora}`,
  };
}

function garageExternal(endpoint: string, webRootDomain: string): Endpoints["garage"] {
  // An external Garage is declared by its admin endpoint; S3 and web answer on the standard ports beside it.
  const { host } = splitHostPort(endpoint, PORTS.garageAdmin);
  return { adminUrl: url(endpoint), s3Url: `http://${host}:${PORTS.garageS3}`, region: GARAGE_REGION, webRootDomain, webPort: PORTS.garageWeb };
}
