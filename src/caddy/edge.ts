// The edge Caddyfile, generated whole from the tenant list. Pure and deterministic: tenants are sorted by
// slug and every list by a fixed order, so the same tenants in any order give byte-identical text.
// Secrets never appear in it: wall client secrets and the token key are `{file.<path>}` placeholders,
// which Caddy (and caddy-security) resolve when the config is adapted inside the container.
import { ServiceName, tenantRoutes } from "../services/registry";
import { platformHostnames, Tenant } from "../types";
import { tenantWalls, Wall, WALL_AUTH_PATH, WALL_TOKEN_KEY_FILE, WallOrigin, wallTrustedRedirectDirective } from "./wall";
import { caddyString } from "../quote";
import { COLLABORA_CONFIG_PATH, renderCollaboraRemoteConfig } from "../platform/render";

/** Where the edge container keeps its live config and secret files (a volume). */
export const EDGE_STATE_DIR = "/etc/caddy/factory";
export const EDGE_SECRETS_DIR = `${EDGE_STATE_DIR}/secrets`;

/** Ports of the Caddy instances. */
export const CADDY_PORTS = {
  /** Public HTTP (ACME HTTP-01 and redirects) and HTTPS on edge hosts. */
  http: 80,
  https: 443,
  /** Plain HTTP listener of the compute-host Caddy, bound to the host's private address; the edge proxies to it. */
  compute: 8081,
  /** Admin API inside each container (loopback only; used by `caddy reload`). */
  admin: 2019,
} as const;

/** How long a wall session lasts before Keycloak is asked again (seconds). */
export const WALL_SESSION_SECONDS = 8 * 3600;

export interface EdgeUpstreams {
  /** Keycloak, as a reverse_proxy upstream (e.g. http://10.0.0.5:8080). */
  keycloak: string;
  /** Collabora (CODE) upstream. */
  collabora: string;
  /** Garage S3 API upstream (s3.<domain>: tenants upload their static sites there). */
  garageS3: string;
  /** Garage web endpoint (website buckets), host:port; the Host header is passed unchanged. */
  garageWeb: string;
  /**
   * Where each service's app routes go (host:port): one upstream for a pooled instance (Paheko, the
   * WordPress Multisite's compute-host Caddy), or one per tenant by slug (each Nextcloud's compute-host
   * Caddy). Website routes need none: Garage serves them.
   */
  services: { [K in ServiceName]?: string | Record<string, string> };
}

export interface EdgeConfigInput {
  /** Factory domain; platform hostnames derive from it (auth., office., s3.). */
  domain: string;
  /** ACME account e-mail. */
  acmeEmail: string;
  /** Keycloak realm of the factory's users. */
  realm: string;
  /** Garage admin API base URL; on-demand TLS asks `<it>/check?domain=` before issuing a certificate. */
  garageAdminUrl: string;
  upstreams: EdgeUpstreams;
  tenants: readonly Tenant[];
  /** Directory holding wall secret files inside the container; default EDGE_SECRETS_DIR. */
  secretsDir?: string;
  /**
   * Lab only: listen on these loopback-friendly ports and use Caddy's internal CA (`local_certs`) instead
   * of ACME; no on-demand TLS (there is no Garage to ask). Production leaves it undefined.
   */
  lab?: { httpPort: number; httpsPort: number };
  /** Certificates from ACME (default) or Caddy's internal CA (settings.edgeTls). */
  tls?: "acme" | "internal";
  /** Lab only: Keycloak public URL override (production: https://auth.<domain>). */
  keycloakPublicUrl?: string;
  /** Lab only: admin listener (production: localhost:2019). */
  adminAddress?: string;
  /**
   * Render `trust login redirect uri domain exact <wall hostname> path prefix /` in each wall's portal
   * (wallTrustedRedirectDirective). caddy-security from v1.1.56 on sends a visitor back to the page it
   * asked for only when the portal trusts that URI (otherwise the login ends on the portal's own page);
   * v1.1.31 refuses the directive. Default true; components/edge.ts derives it from images.caddy
   * (wallTrustsLoginRedirect).
   */
  trustLoginRedirect?: boolean;
}

/** The public URL of Keycloak as users and caddy-security see it (the realm issuer's base). */
export function keycloakPublicUrl(domain: string): string {
  return `https://${platformHostnames(domain).sso}`;
}


const MAINTENANCE_HTML =
  "<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Maintenance</title></head>" +
  "<body><h1>Service suspendu / Service suspended</h1>" +
  "<p>Ce service est momentanément indisponible. Contactez votre hébergeur.</p>" +
  "<p>This service is temporarily unavailable. Please contact your host.</p></body></html>";

interface Site {
  /** Sort key: hostname. */
  hostname: string;
  body: string[];
}

function byString<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

function indent(lines: string[], depth = 1): string[] {
  return lines.map((l) => (l === "" ? l : "\t".repeat(depth) + l));
}

function proxy(upstream: string): string[] {
  // reverse_proxy keeps the client's Host header by default; stated for the reader (Garage and Paheko route on it).
  return [`reverse_proxy ${upstream} {`, "\theader_up Host {host}", "}"];
}

/**
 * Collabora's hostname: its remote configuration (the WOPI hosts, polled by coolwsd every 60 s) answered
 * by the edge itself, so a new Nextcloud is a reload of this config, not a restart of Collabora; the rest
 * to Collabora. Its WOPI hosts are the Nextcloud hostnames of every tenant not archived.
 */
function collaboraSite(upstream: string, tenants: readonly Tenant[]): string[] {
  const wopiHosts = tenants.filter((t) => t.services.nextcloud && t.status !== "archived").map((t) => t.services.nextcloud!.hostname);
  return [
    `handle ${COLLABORA_CONFIG_PATH} {`,
    "	header Content-Type application/json",
    "	header Cache-Control no-store",
    `	respond ${caddyString(renderCollaboraRemoteConfig(wopiHosts))} 200`,
    "}",
    "handle {",
    ...indent(proxy(upstream)),
    "}",
  ];
}

function walled(w: Wall, upstream: string): string[] {
  return [
    `route ${WALL_AUTH_PATH}* {`,
    `\tauthenticate with ${w.portal}`,
    "}",
    "route {",
    `\tauthorize with ${w.policy}`,
    ...indent(proxy(upstream)),
    "}",
  ];
}

function securityBlock(walls: Wall[], o: { issuer: string; secretsDir: string; trustLoginRedirect: boolean }): string[] {
  const key = `{file.${o.secretsDir}/${WALL_TOKEN_KEY_FILE}}`;
  const lines: string[] = [];
  for (const w of walls) {
    lines.push(
      `oauth identity provider ${w.realm} {`,
      `\trealm ${w.realm}`,
      "\tdriver generic",
      `\tclient_id ${w.clientId}`,
      `\tclient_secret {file.${o.secretsDir}/${w.secretFile}}`,
      "\tscopes openid email profile",
      `\tmetadata_url ${o.issuer}/.well-known/openid-configuration`,
      // Fetch the metadata after start, with retries: a Keycloak outage must not make Caddy refuse the
      // whole edge config (validate and reload would fail for every tenant).
      "\tdelay_start 1",
      "\tretry_attempts 60",
      "\tretry_interval 10",
      "}",
    );
  }
  for (const w of walls) {
    lines.push(
      `authentication portal ${w.portal} {`,
      `\tcrypto default token lifetime ${WALL_SESSION_SECONDS}`,
      `\tcrypto key sign-verify ${key}`,
      `\tenable identity provider ${w.realm}`,
      // Back to the walled hostname only (no open redirect), whatever path the visitor asked for.
      ...(o.trustLoginRedirect ? [`\t${wallTrustedRedirectDirective(w)}`] : []),
      `\tcookie lifetime ${WALL_SESSION_SECONDS}`,
      "}",
    );
  }
  for (const w of walls) {
    lines.push(
      `authorization policy ${w.policy} {`,
      `\tset auth url ${WALL_AUTH_PATH}/oauth2/${w.realm}`,
      `\tcrypto key verify ${key}`,
      `\tallow roles ${w.role}`,
      "}",
    );
  }
  return lines;
}

/** Renders the whole edge Caddyfile. Throws when two routes claim the same hostname. */
export function renderEdgeCaddyfile(input: EdgeConfigInput): string {
  const secretsDir = input.secretsDir ?? EDGE_SECRETS_DIR;
  const lab = input.lab !== undefined;
  const wallOrigin: WallOrigin = input.lab ? { port: input.lab.httpsPort } : {};
  const tenants = [...input.tenants].sort(byString((t) => t.slug));
  const issuer = `${input.keycloakPublicUrl ?? keycloakPublicUrl(input.domain)}/realms/${input.realm}`;
  const names = platformHostnames(input.domain);
  const u = input.upstreams;

  const sites: Site[] = [
    { hostname: names.sso, body: proxy(u.keycloak) },
    { hostname: names.collabora, body: collaboraSite(u.collabora, tenants) },
    { hostname: names.s3, body: proxy(u.garageS3) },
  ];
  const walls: Wall[] = [];
  const onDemand = ["tls {", "\ton_demand", "}"];
  for (const t of tenants) {
    if (t.status === "archived") continue;
    const tw = tenantWalls(t, wallOrigin);
    const suspended = t.status === "suspended";
    const maintenance = ["import maintenance"];
    if (!suspended) walls.push(...tw);
    for (const r of tenantRoutes(t)) {
      if (r.kind === "website") {
        // Public website: served by Garage from the bucket named after the hostname, certificate on demand.
        sites.push({ hostname: r.hostname, body: [...(lab ? [] : onDemand), ...(suspended ? maintenance : proxy(u.garageWeb))] });
        continue;
      }
      if (suspended) {
        sites.push({ hostname: r.hostname, body: maintenance });
        continue;
      }
      const pool = u.services[r.service];
      const upstream = typeof pool === "string" ? pool : pool?.[t.slug];
      if (!upstream) throw new Error(`tenant ${t.slug}: no upstream for its ${r.service} (${r.key} ${r.hostname})`);
      const wall = r.walled ? tw.find((w) => w.hostname === r.hostname) : undefined;
      if (r.walled && !wall) throw new Error(`tenant ${t.slug}: ${r.key} ${r.hostname} is walled but has no wall`);
      sites.push({ hostname: r.hostname, body: wall ? walled(wall, upstream) : proxy(upstream) });
    }
  }
  sites.sort(byString((x) => x.hostname));
  for (let i = 1; i < sites.length; i++) {
    if (sites[i].hostname === sites[i - 1].hostname) throw new Error(`hostname ${sites[i].hostname} is routed twice`);
  }
  walls.sort(byString((w) => w.policy));

  const global: string[] = [
    `email ${input.acmeEmail}`,
    `admin ${input.adminAddress ?? `localhost:${CADDY_PORTS.admin}`}`,
    // The live Caddyfile is the only source of truth; the adapted JSON (with resolved secrets) is not saved.
    "persist_config off",
    "grace_period 10s",
  ];
  if (input.lab) global.push("local_certs", "skip_install_trust", `http_port ${input.lab.httpPort}`, `https_port ${input.lab.httpsPort}`);
  else {
    if (input.tls === "internal") global.push("local_certs", "skip_install_trust");
    global.push("on_demand_tls {", `\task ${input.garageAdminUrl.replace(/\/$/, "")}/check`, "}");
  }
  if (walls.length > 0) global.push("security {", ...indent(securityBlock(walls, { issuer, secretsDir, trustLoginRedirect: input.trustLoginRedirect ?? true })), "}");

  const out: string[] = [
    "# Generated by service-factory (src/caddy/edge.ts) from the tenant list. Do not edit: changes are overwritten.",
    "{",
    ...indent(global),
    "}",
    "",
    "(maintenance) {",
    "\theader Content-Type \"text/html; charset=utf-8\"",
    "\theader Retry-After 3600",
    "\theader Cache-Control no-store",
    "\trespond 503 {",
    `\t\tbody ${caddyString(MAINTENANCE_HTML)}`,
    "\t}",
    "}",
  ];
  for (const site of sites) out.push("", `${site.hostname} {`, ...indent(site.body), "}");
  return out.join("\n") + "\n";
}

/** The walls the edge config declares (one per tenant and walled service, active tenants only). */
export function edgeWalls(tenants: readonly Tenant[], o: WallOrigin = {}): Wall[] {
  return [...tenants]
    .filter((t) => t.status === "active")
    .sort(byString((t) => t.slug))
    .flatMap((t) => tenantWalls(t, o));
}
