// Hostname rules for tenant services: RFC 1123 names, punycode for Unicode, no collision with the
// platform's own names, no reserved labels under the factory domain.
import { domainToASCII } from "node:url";
import { SERVICE_HOST_LABEL } from "./services/registry";
import { PlatformHostnames } from "./types";

/**
 * Labels a tenant may not use directly under the factory domain (nor as a slug): well-known service
 * names, the platform's own labels, and every service's default-hostname label (from the registry).
 */
export const RESERVED_LABELS: ReadonlySet<string> = new Set([
  "www", "mail", "smtp", "imap", "pop", "pop3", "mx", "ns", "ns1", "ns2", "ns3", "admin", "administrator",
  "root", "autoconfig", "autodiscover", "webmail", "postmaster", "hostmaster", "abuse", "noc", "security",
  "api", "auth", "sso", "login", "id", "status", "s3", "web", "office", "wp",
  "cdn", "dns", "vpn", "git", "ci", "support", "help", "docs",
  ...Object.values(SERVICE_HOST_LABEL),
]);

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type HostnameCheck = { ok: true; hostname: string; converted: boolean } | { ok: false; reason: string };

/**
 * Checks one hostname and returns its canonical ASCII form. Unicode names are converted to punycode
 * (so `café.org` is accepted as `xn--caf-dma.org`); upper case is refused rather than silently folded,
 * because the file is the source of truth and should read as it is served.
 */
export function checkHostname(raw: string): HostnameCheck {
  if (raw !== raw.trim()) return { ok: false, reason: "must not contain spaces" };
  let name = raw.endsWith(".") ? raw.slice(0, -1) : raw;
  let converted = false;
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(name)) {
    if (name !== name.toLowerCase()) return { ok: false, reason: "must be lowercase" };
    const ascii = domainToASCII(name);
    if (!ascii) return { ok: false, reason: "is not a valid internationalized domain name (punycode conversion failed)" };
    name = ascii;
    converted = true;
  }
  if (name !== name.toLowerCase()) return { ok: false, reason: `must be lowercase (write "${name.toLowerCase()}")` };
  if (name.length > 253) return { ok: false, reason: "is longer than 253 characters" };
  const labels = name.split(".");
  if (labels.length < 2) return { ok: false, reason: "must be a fully qualified name with at least two labels" };
  for (const label of labels) {
    if (label.length === 0) return { ok: false, reason: "has an empty label" };
    if (label.length > 63) return { ok: false, reason: `label "${label}" is longer than 63 characters` };
    if (!LABEL.test(label)) {
      return { ok: false, reason: `label "${label}" must use only a-z, 0-9 and inner hyphens (RFC 1123)` };
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return { ok: false, reason: "must not be an IP address or end in a numeric label" };
  return { ok: true, hostname: name, converted };
}

/** Why a (valid, canonical) hostname clashes with the platform, or undefined when it does not. */
export function platformConflict(hostname: string, domain: string, platform: PlatformHostnames): string | undefined {
  if (hostname === domain) return `is the factory domain itself`;
  for (const [role, reserved] of Object.entries(platform)) {
    if (hostname === reserved || hostname.endsWith(`.${reserved}`)) {
      return `is ${hostname === reserved ? "the" : "under the"} platform hostname ${reserved} (${role})`;
    }
  }
  if (hostname.endsWith(`.${domain}`)) {
    const labels = hostname.slice(0, -(domain.length + 1)).split(".");
    const reserved = labels.find((l) => RESERVED_LABELS.has(l) && labels.length === 1);
    if (reserved) return `uses the reserved label "${reserved}" directly under the factory domain`;
  }
  return undefined;
}

/** A hostname the platform itself uses (mail relays, image registries, DNS server, Docker hosts). */
export interface PlatformOwnedName {
  hostname: string;
  /** What uses it, for the error message. */
  what: string;
}

/** The host part of a Docker endpoint (`ssh://user@host:22`, `tcp://host:2376`), or undefined (unix socket). */
function endpointHost(endpoint: string): string | undefined {
  const m = /^(?:ssh|tcp|https?):\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/.exec(endpoint);
  return m ? m[1] : undefined;
}

/** The registry of an image reference (`registry.example.org/x:1` → registry.example.org), or undefined (Docker Hub). */
function imageRegistry(image: string): string | undefined {
  const first = image.split("/")[0];
  return image.includes("/") && (first.includes(".") || first.includes(":")) ? first.replace(/:\d+$/, "") : undefined;
}

/**
 * Every hostname the stack's settings name for the platform: no tenant may use one of them, nor a name
 * under one (its records would be the platform's, and with `dns: managed` a tenant's update would write
 * them).
 */
export function platformOwnedNames(s: {
  mail: { host: string; bulkHost?: string };
  /** The pinned images (ImageSet), by service. */
  images: object;
  dns: { server: string };
  hosts: readonly { name: string; docker: string }[];
}): PlatformOwnedName[] {
  const out: PlatformOwnedName[] = [];
  const add = (hostname: string | undefined, what: string) => {
    const h = hostname?.toLowerCase().replace(/\.$/, "");
    if (h && /[a-z]/.test(h) && h.includes(".") && !out.some((o) => o.hostname === h)) out.push({ hostname: h, what });
  };
  add(s.mail.host, "the mail relay (mail.host)");
  add(s.mail.bulkHost, "the bulk mail relay (mail.bulkHost)");
  for (const [name, image] of (Object.entries(s.images) as [string, string][]).sort()) add(imageRegistry(image), `the image registry of images.${name}`);
  add(s.dns.server, "the DNS server (dns.server)");
  for (const h of s.hosts) add(endpointHost(h.docker), `the Docker endpoint of host ${h.name}`);
  return out;
}

/**
 * Why `hostname` may not be used by tenant `slug`: a platform-owned name (or one under it), or another
 * tenant's default name — `<x>.<label>.<domain>` for a service label belongs to tenant x, and only as
 * that service's hostname (`<x>.nextcloud.<domain>` is x's Nextcloud, nobody else's, nothing else).
 */
export function reservedNameConflict(hostname: string, o: {
  slug: string; service: string; domain: string; platformNames: readonly PlatformOwnedName[]; serviceLabels: Record<string, string>;
}): string | undefined {
  for (const p of o.platformNames) {
    if (hostname === p.hostname || hostname.endsWith(`.${p.hostname}`)) return `is ${hostname === p.hostname ? "" : "under "}${p.hostname}, ${p.what}`;
  }
  for (const [service, label] of Object.entries(o.serviceLabels)) {
    const root = `${label}.${o.domain}`;
    if (!hostname.endsWith(`.${root}`)) continue;
    const owner = hostname.slice(0, -(root.length + 1));
    if (owner !== o.slug || service !== o.service) {
      const whose = owner.includes(".") ? "" : owner === o.slug ? ` (this one is this tenant's default ${service} hostname, not its ${o.service} one)` : ` (this one is reserved for tenant ${owner})`;
      return `is under ${root}, where only <slug>.${root} names live, each the default ${service} hostname of tenant <slug>${whose}`;
    }
  }
  return undefined;
}
