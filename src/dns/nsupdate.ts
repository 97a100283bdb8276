// RFC 2136 dynamic updates rendered as nsupdate scripts, and the POSIX shell that runs them with the
// TSIG key read from stdin (never from the command line, the environment or a log). Pure: no Pulumi.
//
// Zone: by default no `zone` statement is written; nsupdate then finds the zone of each name by asking
// the configured server for its SOA (one name per update message, so names in different zones work).
// Pass `zone` to pin it instead. Both are checked against a real BIND in test/lab/dns.lab.test.ts.
import { isIPv4, isIPv6 } from "../settings";
import type { DnsRecordSet } from "./records";

export interface NsupdateTarget {
  /** Authoritative server (address or hostname) accepting TSIG-signed updates. */
  server: string;
  port: number;
  /** Zone to update; undefined = discovered by nsupdate through an SOA query to `server`. */
  zone?: string;
}

export type TsigAlgorithm = "hmac-sha256" | "hmac-sha512";

const NAME = /^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function fqdn(name: string, what: string): string {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  if (!NAME.test(bare)) throw new Error(`${what} "${name}" is not a valid DNS name`);
  return `${bare}.`;
}

function serverLine(t: NsupdateTarget): string[] {
  if (!(isIPv4(t.server) || isIPv6(t.server) || NAME.test(t.server))) throw new Error(`DNS server "${t.server}" is not an address or hostname`);
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`DNS port ${t.port} is invalid`);
  const lines = [`server ${t.server} ${t.port}`];
  if (t.zone !== undefined) lines.push(`zone ${fqdn(t.zone, "zone")}`);
  return lines;
}

/**
 * Replaces the A and AAAA records of one name in a single update message (atomic, idempotent):
 * fails (YXRRSET) instead of silently doing nothing when the name holds a CNAME.
 */
export function renderNsupdateUpsert(target: NsupdateTarget, r: DnsRecordSet): string {
  const name = fqdn(r.hostname, "hostname");
  if (!Number.isInteger(r.ttl) || r.ttl < 1 || r.ttl > 2_147_483_647) throw new Error(`${name}: TTL ${r.ttl} is invalid`);
  if (r.a.length === 0) throw new Error(`${name}: at least one A record is required`);
  for (const a of r.a) if (!isIPv4(a)) throw new Error(`${name}: "${a}" is not an IPv4 address`);
  for (const a of r.aaaa) if (!isIPv6(a)) throw new Error(`${name}: "${a}" is not an IPv6 address`);
  return [
    ...serverLine(target),
    `prereq nxrrset ${name} CNAME`,
    `update delete ${name} A`,
    `update delete ${name} AAAA`,
    ...r.a.map((a) => `update add ${name} ${r.ttl} A ${a}`),
    ...r.aaaa.map((a) => `update add ${name} ${r.ttl} AAAA ${a}`),
    "send",
    "",
  ].join("\n");
}

/** Removes the A and AAAA records of one name, and nothing else (idempotent: absent records are fine). */
export function renderNsupdateDelete(target: NsupdateTarget, hostname: string): string {
  const name = fqdn(hostname, "hostname");
  return [...serverLine(target), `update delete ${name} A`, `update delete ${name} AAAA`, "send", ""].join("\n");
}

/** A named.conf `key` statement, the format `tsig-keygen` prints and `nsupdate -k` reads. */
export function renderTsigKeyFile(keyName: string, algorithm: TsigAlgorithm, secret: string): string {
  if (!NAME.test(keyName.replace(/\.$/, ""))) throw new Error(`TSIG key name "${keyName}" is not a valid DNS name`);
  if (algorithm !== "hmac-sha256" && algorithm !== "hmac-sha512") throw new Error(`unsupported TSIG algorithm ${String(algorithm)}`);
  const s = secret.trim();
  if (!BASE64.test(s)) throw new Error("the TSIG secret is not base64 (use the secret line of tsig-keygen's output)");
  return `key "${keyName}" {\n\talgorithm ${algorithm};\n\tsecret "${s}";\n};\n`;
}

export const HEREDOC_MARK = "NSUPDATE_SCRIPT";

/**
 * The POSIX shell a local.Command runs: stdin (the TSIG key file) goes to a private temp file, the
 * update script to another, then `nsupdate -v -k` (TCP) applies it; the temp dir is always removed.
 * Neither the key nor anything derived from it is in this text.
 */
export function renderNsupdateShell(script: string, opts: { timeoutSeconds?: number } = {}): string {
  if (script.split("\n").includes(HEREDOC_MARK)) throw new Error("the nsupdate script contains the heredoc marker");
  const timeout = opts.timeoutSeconds ?? 30;
  return [
    "set -eu",
    "umask 077",
    'tmp="$(mktemp -d)"',
    "trap 'rm -rf \"$tmp\"' EXIT",
    "trap 'exit 1' HUP INT TERM",
    'cat >"$tmp/tsig.key"',
    `cat >"$tmp/update.txt" <<'${HEREDOC_MARK}'`,
    script.replace(/\n$/, ""),
    HEREDOC_MARK,
    `nsupdate -v -t ${timeout} -k "$tmp/tsig.key" "$tmp/update.txt"`,
    "",
  ].join("\n");
}
