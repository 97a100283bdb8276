// Which addresses count as private, and which bind every interface, for the data-ports-private rule
// (./rules). Its own module: plain address arithmetic, independent of any resource type.

/** Ports of databases and caches that must never be published on a public or unspecified address. */
export const DATA_PORTS: readonly number[] = [5432, 3306, 6379, 3901, 3903];

const V4_PRIVATE: readonly [number, number, number][] = [
  // [first octet, second-octet low, second-octet high]
  [10, 0, 255],
  [172, 16, 31],
  [192, 168, 168],
  [127, 0, 255],
];

/** True for an RFC 1918, IPv6 ULA (fc00::/7) or loopback address. Anything else counts as public. */
export function isPrivateAddress(ip: string): boolean {
  const a = ip.trim().replace(/^\[|\]$/g, "").toLowerCase();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4) {
    const o = v4.slice(1).map(Number);
    if (o.some((n) => n > 255)) return false;
    return V4_PRIVATE.some(([first, lo, hi]) => o[0] === first && o[1] >= lo && o[1] <= hi);
  }
  if (!a.includes(":")) return false;
  if (a === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return isPrivateAddress(mapped[1]);
  return /^f[cd][0-9a-f]{2}:/.test(a);
}

/** True when a published port binds every interface (docker's default when `ip` is empty). */
export function isUnspecifiedAddress(ip: unknown): boolean {
  if (ip === undefined || ip === null) return true;
  if (typeof ip !== "string") return false;
  const a = ip.trim().replace(/^\[|\]$/g, "");
  return a === "" || a === "0.0.0.0" || a === "::" || a === "0:0:0:0:0:0:0:0";
}
