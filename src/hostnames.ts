// Hostname rules for tenant services: RFC 1123 names, punycode for Unicode, no collision with the
// platform's own names, no reserved labels under the factory domain.
import { domainToASCII } from "node:url";
import { PlatformHostnames } from "./types";

/** Labels a tenant may not use directly under the factory domain (nor as a slug). */
export const RESERVED_LABELS: ReadonlySet<string> = new Set([
  "www", "mail", "smtp", "imap", "pop", "pop3", "mx", "ns", "ns1", "ns2", "ns3", "admin", "administrator",
  "root", "autoconfig", "autodiscover", "webmail", "postmaster", "hostmaster", "abuse", "noc", "security",
  "api", "auth", "sso", "login", "id", "status", "s3", "web", "office", "wp", "static", "nextcloud",
  "paheko", "wordpress", "cdn", "dns", "vpn", "git", "ci", "support", "help", "docs",
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
