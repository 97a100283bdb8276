// Where each shared service runs and how containers reach it: docker names, network aliases, resource
// limits, the ports each one publishes on its host's private address. Pure (no Pulumi).
import { deployHost, PORTS, urlHost } from "../endpoints";
import { Host, SharedServiceMode, StackSettings } from "../types";

/** The shared services this layer may deploy (Caddy belongs to the edge). */
export type SharedServiceKey = "postgres" | "redis" | "garage" | "keycloak" | "collabora";

/** Alias of each shared service on its host's factory network (same-host containers use it). */
export const NETWORK_ALIAS: Record<SharedServiceKey, string> = {
  postgres: "postgres",
  redis: "redis",
  garage: "garage",
  keycloak: "keycloak",
  collabora: "collabora",
};

/** Docker-side names (not Pulumi names): the network every factory container of a stack joins on a host. */
export function factoryNetworkName(stack: string): string {
  return `factory-${stack}`;
}

/** Docker container name of a shared service. */
export function containerName(stack: string, svc: SharedServiceKey): string {
  return `${stack}-${svc}`;
}

/** Docker volume name of a shared service's data (one per host for Redis; the host name is then appended). */
export function volumeName(stack: string, svc: SharedServiceKey, host?: string): string {
  return host ? `${stack}-${svc}-${host}-data` : `${stack}-${svc}-data`;
}

export interface ServiceLimits {
  /** Hard memory limit in MiB (swap is not allowed beyond it). */
  memoryMb: number;
  /**
   * Process ceiling of the container: its pids cgroup limit (`pids.max`, counting processes and threads),
   * set per container by `docker update --pids-limit` (src/platform/pids.ts; the docker provider has no
   * `pidsLimit` input). Not RLIMIT_NPROC, which counts every process of the UID on the whole host.
   */
  pids: number;
}

/**
 * Sizing of each shared service; the lower end of what each needs for a few dozen tenants. The process
 * ceilings are per container fork-bomb guards, loose because they count threads too (Keycloak's JVM,
 * Garage's runtime, one PostgreSQL backend per connection, Collabora's document kits).
 */
export const SERVICE_LIMITS: Record<SharedServiceKey, ServiceLimits> = {
  postgres: { memoryMb: 2048, pids: 2048 },
  redis: { memoryMb: 512, pids: 2048 },
  garage: { memoryMb: 1024, pids: 1024 },
  keycloak: { memoryMb: 1536, pids: 2048 },
  collabora: { memoryMb: 2048, pids: 2048 },
};

/** Redis keeps this much headroom below the container limit (fork for AOF rewrite, buffers). */
export function redisMaxMemoryMb(limits: ServiceLimits = SERVICE_LIMITS.redis): number {
  return Math.floor(limits.memoryMb * 0.75);
}

/** Seconds `wait: true` gives each container to become healthy (Keycloak migrates its schema on first start). */
export const WAIT_TIMEOUT_S: Record<SharedServiceKey, number> = {
  postgres: 300,
  redis: 120,
  garage: 180,
  keycloak: 600,
  collabora: 600,
};

/** Container ports each service publishes on its host's private address (Redis: none, same-host only). */
export const PUBLISHED_PORTS: Record<SharedServiceKey, number[]> = {
  postgres: [PORTS.postgres],
  redis: [],
  // S3 API, RPC (other Garage nodes), web (edge Caddy), admin API (the program's providers).
  garage: [PORTS.garageS3, PORTS.garageRpc, PORTS.garageWeb, PORTS.garageAdmin],
  keycloak: [PORTS.keycloak],
  collabora: [PORTS.collabora],
};

/** The `ports` input of a container: every port bound to the private address only, never 0.0.0.0. */
export function privatePorts(svc: SharedServiceKey, privateAddress: string): { internal: number; external: number; ip: string; protocol: string }[] {
  if (privateAddress === "0.0.0.0" || privateAddress === "::" || privateAddress === "") {
    throw new Error(`refusing to publish ${svc} on the unspecified address`);
  }
  return PUBLISHED_PORTS[svc].map((p) => ({ internal: p, external: p, ip: privateAddress, protocol: "tcp" }));
}

/** Hosts that run a Redis: every compute host (drained ones too: their tenants may still be moving). */
export function redisHosts(hosts: readonly Host[]): Host[] {
  return hosts.filter((h) => h.roles.includes("compute"));
}

export { deployHost };

/**
 * How a container on `fromHost` reaches a shared service: by its network alias when the service runs on
 * the same host (a container cannot reach its host's loopback, which is the dev stack's private address),
 * else by the service host's private address, else by the external endpoint's host and port.
 */
export function serviceAddressFrom(
  settings: Pick<StackSettings, "hosts" | "services">,
  svc: "postgres" | "garage" | "keycloak" | "collabora",
  fromHost: string,
  port: number,
): { host: string; port: number } {
  const mode = settings.services[svc];
  if (mode.mode === "external") {
    const bare = mode.endpoint.replace(/^[a-z]+:\/\//i, "").replace(/\/$/, "");
    const m = /^(.*?)(?::(\d+))?$/.exec(bare)!;
    return { host: m[1], port: m[2] ? Number(m[2]) : port };
  }
  const h = deployHost(settings, mode)!;
  if (h.name === fromHost) return { host: NETWORK_ALIAS[svc], port };
  return { host: urlHost(h.privateAddress), port };
}
