// The data model shared by the pure logic (validation, placement, rendering) and the components.
// Nothing here imports Pulumi: these are plain values read from YAML.

import type { TenantServices } from "./services/registry";

// The services themselves (names, blocks, routes) live in the registry: src/services/.
export type { ServiceName, TenantServices } from "./services/registry";
export type { NextcloudService } from "./services/nextcloud";
export type { PahekoService } from "./services/paheko";
export type { StaticSiteService } from "./services/staticSite";
export type { WordPressService } from "./services/wordpress";

export type TenantStatus = "active" | "suspended" | "archived";
export type DnsMode = "managed" | "external";

/** A tenant as the program uses it: validated, with every default filled in. */
export interface Tenant {
  slug: string;
  name: string;
  contact: string;
  status: TenantStatus;
  /** The host pinned in the file, if any (placement honours it). */
  pinnedHost?: string;
  dns: DnsMode;
  /** Subscribed services, each with its parsed block (src/services/registry.ts). */
  services: TenantServices;
  admins: string[];
  /** The file the tenant came from, relative to the project root (for messages). */
  file: string;
}

export type HostRole = "compute" | "storage" | "edge";
export const HOST_ROLES: readonly HostRole[] = ["compute", "storage", "edge"];

export interface Host {
  name: string;
  /** Docker endpoint, e.g. ssh://deploy@pve1.internal or unix:///var/run/docker.sock. */
  docker: string;
  roles: HostRole[];
  /** Relative capacity for placement (default 1). */
  weight: number;
  /** Address on the private network between hosts; service ports bind here only. */
  privateAddress: string;
  publicIPv4?: string;
  publicIPv6?: string;
  /** A drained host keeps its shared services but receives no tenant. */
  drain: boolean;
}

/** One shared service: deployed by this program on a host, or an existing endpoint. */
export type SharedServiceMode =
  | { mode: "deploy"; host: string }
  | { mode: "external"; endpoint: string };

export interface ImageSet {
  postgres: string;
  redis: string;
  garage: string;
  keycloak: string;
  collabora: string;
  caddy: string;
  nextcloud: string;
  paheko: string;
  wordpress: string;
  mariadb: string;
  /** A small image with a POSIX shell, used by one-shot maintenance containers (e.g. busybox:1.37.0). */
  toolbox: string;
}
export const IMAGE_KEYS: readonly (keyof ImageSet)[] = [
  "postgres", "redis", "garage", "keycloak", "collabora", "caddy", "nextcloud", "paheko", "wordpress", "mariadb", "toolbox",
];

export interface DnsSettings {
  /** Authoritative server that accepts RFC 2136 updates (host or address). */
  server: string;
  port: number;
  /** TSIG key name; the key itself is the secret `dnsTsigSecret`. */
  tsigKeyName: string;
  tsigAlgorithm: "hmac-sha256" | "hmac-sha512";
  ttl: number;
  /** A/AAAA targets for website buckets (the Garage web endpoints). */
  webEndpoints: { ipv4: string[]; ipv6: string[] };
}

export interface NextcloudSettings {
  /** Nextcloud version the fleet runs; changing it triggers the host-by-host upgrade. */
  version: string;
  /** Cron interval in minutes; each tenant fires at its own offset within it. */
  cronIntervalMinutes: number;
  /** Nextcloud apps enabled on every instance. */
  apps: string[];
}

export interface WordPressSettings {
  /** Plugins installed network-wide (wp-cli slugs, pinned as slug@version). */
  plugins: string[];
  themes: string[];
}

export interface MailSettings {
  host: string;
  port: number;
  from: string;
  /** Secondary relay for mass mailings (Paheko newsletters); defaults to host. */
  bulkHost?: string;
}

export interface StackSettings {
  stack: string;
  domain: string;
  acmeEmail: string;
  hosts: Host[];
  images: ImageSet;
  services: {
    postgres: SharedServiceMode;
    garage: SharedServiceMode;
    keycloak: SharedServiceMode;
    collabora: SharedServiceMode;
  };
  /** Keycloak realm holding the factory's users. */
  realm: string;
  /** Edge certificates: "acme" (default; public CA, on-demand for website hostnames) or "internal" (Caddy's own CA). */
  edgeTls: "acme" | "internal";
  /**
   * The caddy-security walls' Keycloak clients require PKCE S256 like every client (default true; needs
   * caddy-security v1.1.61 or later). false: the exemption for older builds (v1.1.31 sends no PKCE), see
   * docs/keycloak.md.
   */
  wallPkce: boolean;
  dns: DnsSettings;
  nextcloud: NextcloudSettings;
  wordpress: WordPressSettings;
  mail: MailSettings;
  /** Majors the operator confirms the data was migrated to (postgres, mariadb, keycloak); see src/majors.ts. */
  migrations?: Partial<Record<"postgres" | "mariadb" | "keycloak", number>>;
  /** 0 = unsharded. */
  shards: number;
  /** Tenant directory relative to the project; undefined means tenants/<stack>. */
  tenantsDir?: string;
}

/** Hostnames the platform itself answers on; tenants may neither take nor nest under them. */
export interface PlatformHostnames {
  sso: string;
  s3: string;
  garageWebRoot: string;
  collabora: string;
}

export function platformHostnames(domain: string): PlatformHostnames {
  return {
    sso: `auth.${domain}`,
    s3: `s3.${domain}`,
    garageWebRoot: `web.${domain}`,
    collabora: `office.${domain}`,
  };
}

/** A validation problem, reported as `file:line:col: message`. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

export class ValidationError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`${problems.length} validation problem(s):\n` + problems.map(formatProblem).join("\n"));
    this.name = "ValidationError";
  }
}
