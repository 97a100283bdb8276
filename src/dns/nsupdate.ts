// RFC 2136 dynamic updates rendered as nsupdate scripts, and the POSIX shells that run them with the
// TSIG key read from stdin (never from the command line, the environment or a log). Pure: no Pulumi.
//
// Ownership (as external-dns's TXT registry): beside every name it maintains, the factory writes
// `_sf-owner.<name>` TXT "service-factory stack=<stack> tenant=<slug>". An update only refreshes a name
// whose ownership record is exactly its own, only claims a name that has no address record and no
// ownership record, and only deletes what it owns: the prerequisites are checked by the DNS server in the
// same atomic message (RFC 2136 §2.4, §3.2), so nothing is overwritten between a check and a write.
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

/** Who a record belongs to: the stack and tenant written in its ownership record. */
export interface DnsOwner {
  stack: string;
  tenant: string;
}

/** Label of the ownership record beside each name the factory maintains: `_sf-owner.<name>` TXT. */
export const OWNER_LABEL = "_sf-owner";

/** The ownership record's name for a hostname. */
export function ownerRecordName(hostname: string): string {
  return `${OWNER_LABEL}.${fqdn(hostname, "hostname")}`;
}

/** The ownership record's TXT data (quoted, as nsupdate takes it): fixed per stack and tenant. */
export function ownerTxt(o: DnsOwner): string {
  for (const [k, v] of Object.entries(o)) if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(v)) throw new Error(`DNS owner ${k} "${v}" must be [a-z0-9-]`);
  return `"service-factory stack=${o.stack} tenant=${o.tenant}"`;
}

function checkedRecordSet(r: DnsRecordSet): string {
  const name = fqdn(r.hostname, "hostname");
  if (!Number.isInteger(r.ttl) || r.ttl < 1 || r.ttl > 2_147_483_647) throw new Error(`${name}: TTL ${r.ttl} is invalid`);
  if (r.a.length === 0) throw new Error(`${name}: at least one A record is required`);
  for (const a of r.a) if (!isIPv4(a)) throw new Error(`${name}: "${a}" is not an IPv4 address`);
  for (const a of r.aaaa) if (!isIPv6(a)) throw new Error(`${name}: "${a}" is not an IPv6 address`);
  return name;
}

const addresses = (name: string, r: DnsRecordSet) => [
  ...r.a.map((a) => `update add ${name} ${r.ttl} A ${a}`),
  ...r.aaaa.map((a) => `update add ${name} ${r.ttl} AAAA ${a}`),
];

/**
 * Refreshes a name this tenant owns, in one update message (atomic, idempotent): applied only if the
 * ownership record holds exactly this stack and tenant (RFC 2136 value-dependent prerequisite; else the
 * server answers NXRRSET and changes nothing) and the name holds no CNAME.
 */
export function renderNsupdateRefresh(target: NsupdateTarget, r: DnsRecordSet, owner: DnsOwner): string {
  const name = checkedRecordSet(r);
  return [
    ...serverLine(target),
    `prereq yxrrset ${ownerRecordName(name)} TXT ${ownerTxt(owner)}`,
    `prereq nxrrset ${name} CNAME`,
    `update delete ${name} A`,
    `update delete ${name} AAAA`,
    ...addresses(name, r),
    "send",
    "",
  ].join("\n");
}

/**
 * Claims a name nobody holds, in one update message: applied only if the name has no A, AAAA or CNAME
 * record and no ownership record (else YXRRSET / YXDOMAIN, nothing changed); writes the addresses and
 * the ownership record together. Other records at the name (MX, TXT of the zone apex…) are left alone.
 */
export function renderNsupdateClaim(target: NsupdateTarget, r: DnsRecordSet, owner: DnsOwner): string {
  const name = checkedRecordSet(r);
  const ownerName = ownerRecordName(name);
  return [
    ...serverLine(target),
    `prereq nxrrset ${name} A`,
    `prereq nxrrset ${name} AAAA`,
    `prereq nxrrset ${name} CNAME`,
    `prereq nxdomain ${ownerName}`,
    ...addresses(name, r),
    `update add ${ownerName} ${r.ttl} TXT ${ownerTxt(owner)}`,
    "send",
    "",
  ].join("\n");
}

/**
 * Releases a name this tenant owns: its A and AAAA records and its ownership record go, in one message,
 * only if the ownership record holds exactly this stack and tenant (else NXRRSET: someone else's, kept).
 */
export function renderNsupdateRelease(target: NsupdateTarget, hostname: string, owner: DnsOwner): string {
  const name = fqdn(hostname, "hostname");
  const ownerName = ownerRecordName(name);
  return [
    ...serverLine(target),
    `prereq yxrrset ${ownerName} TXT ${ownerTxt(owner)}`,
    `update delete ${name} A`,
    `update delete ${name} AAAA`,
    `update delete ${ownerName} TXT`,
    "send",
    "",
  ].join("\n");
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
 * Prefix of each line a tenant's DNS command prints on stdout, one per name it now maintains
 * (`dns-name cloud.asso.org.`). The provider keeps that stdout in the state and hands it to the next
 * update as $PULUMI_COMMAND_STDOUT: that is how an update learns the names the previous run maintained.
 */
export const NAME_LINE_PREFIX = "dns-name ";

function checkedRecordSets(records: readonly DnsRecordSet[]): { names: string[] } {
  if (records.length === 0) throw new Error("a tenant DNS command needs at least one record set");
  const names = records.map((r) => fqdn(r.hostname, "hostname"));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`${dup} appears twice`);
  return { names };
}

/** The lines a shell prints on success, one per maintained name, in record order. */
export function renderNameLines(records: readonly DnsRecordSet[]): string {
  return checkedRecordSets(records).names.map((n) => `${NAME_LINE_PREFIX}${n}\n`).join("");
}

/**
 * Shell functions of every DNS command. `ns FILE` runs one nsupdate message file (TCP, the key from the
 * temp dir) and captures its output; `claim NAME REFRESH CLAIM` tries the refresh (ours), then, when the
 * server says the ownership record is not ours (NXRRSET), the claim (nobody's); a name that is someone
 * else's or holds foreign addresses (YXRRSET, YXDOMAIN) is refused with a clear message. `release NAME
 * FILE` releases a name, leaving it alone (with a warning) when it is not ours any more.
 */
function shellFunctions(timeout: number): string[] {
  return [
    `ns() { nsupdate -v -t ${timeout} -k "$tmp/tsig.key" "$1" 2>&1; }`,
    `not_ours() { printf 'dns: %s is not ours: it holds address records or a CNAME, or its ownership record (dig TXT ${OWNER_LABEL}.%s) names another stack or tenant; nothing changed\\n' "$1" "$1" >&2; }`,
    "claim() {",
    '  if out=$(ns "$2"); then return 0; fi',
    '  case "$out" in',
    "    *NXRRSET*) ;;",
    '    *YXRRSET*|*YXDOMAIN*) not_ours "$1"; return 1 ;;',
    '    *) printf \'dns: updating %s failed: %s\\n\' "$1" "$out" >&2; return 1 ;;',
    "  esac",
    '  if out=$(ns "$3"); then printf \'dns: %s claimed\\n\' "$1" >&2; return 0; fi',
    '  case "$out" in',
    '    *YXRRSET*|*YXDOMAIN*) not_ours "$1" ;;',
    '    *) printf \'dns: claiming %s failed: %s\\n\' "$1" "$out" >&2 ;;',
    "  esac",
    "  return 1",
    "}",
    "release() {",
    '  if out=$(ns "$2"); then return 0; fi',
    '  case "$out" in *NXRRSET*) printf \'dns: %s is not owned by this tenant (any more): left alone\\n\' "$1" >&2; return 0 ;; esac',
    '  printf \'dns: releasing %s failed: %s\\n\' "$1" "$out" >&2',
    "  return 1",
    "}",
  ];
}

/**
 * The POSIX shell of a DNS command: stdin (the TSIG key file) goes to a private temp file, each update
 * message to its own file, then `body` runs them (shellFunctions); the temp dir is always removed.
 * Neither the key nor anything derived from it is in this text.
 */
function renderShell(files: { name: string; content: string }[], body: string[], timeoutSeconds: number | undefined): string {
  const timeout = timeoutSeconds ?? 30;
  if (!Number.isInteger(timeout) || timeout < 1) throw new Error(`nsupdate timeout ${timeout} is invalid`);
  const heredocs = files.flatMap((f) => {
    if (!/^[a-z0-9-]+\.txt$/.test(f.name)) throw new Error(`bad message file name ${f.name}`);
    if (f.content.split("\n").includes(HEREDOC_MARK)) throw new Error("an nsupdate message contains the heredoc marker");
    return [`cat >"$tmp/${f.name}" <<'${HEREDOC_MARK}'`, f.content.replace(/\n$/, ""), HEREDOC_MARK];
  });
  return [
    "set -eu",
    "umask 077",
    'tmp="$(mktemp -d)"',
    "trap 'rm -rf \"$tmp\"' EXIT",
    "trap 'exit 1' HUP INT TERM",
    'cat >"$tmp/tsig.key"',
    ...shellFunctions(timeout),
    ...heredocs,
    ...body,
    "",
  ].join("\n");
}

/**
 * Create and update of a tenant's records command: each name refreshed if ours, else claimed if
 * nobody's, else refused (the command fails, naming it); then the maintained names are printed.
 * `set -e` stops at the first refusal: names after it are left as they were.
 */
export function renderDnsClaimShell(target: NsupdateTarget, records: readonly DnsRecordSet[], owner: DnsOwner, opts: { timeoutSeconds?: number } = {}): string {
  const { names } = checkedRecordSets(records);
  const files = records.flatMap((r, i) => [
    { name: `${i}-refresh.txt`, content: renderNsupdateRefresh(target, r, owner) },
    { name: `${i}-claim.txt`, content: renderNsupdateClaim(target, r, owner) },
  ]);
  return renderShell(files, [
    ...names.map((n, i) => `claim '${n}' "$tmp/${i}-refresh.txt" "$tmp/${i}-claim.txt"`),
    `printf '%s\\n' ${names.map((n) => `'${NAME_LINE_PREFIX}${n}'`).join(" ")}`,
  ], opts.timeoutSeconds);
}

/** Delete of a tenant's records command: releases exactly `hostnames`, each only if still ours. */
export function renderDnsReleaseShell(target: NsupdateTarget, hostnames: readonly string[], owner: DnsOwner, opts: { timeoutSeconds?: number } = {}): string {
  if (hostnames.length === 0) throw new Error("nothing to release");
  const names = hostnames.map((h) => fqdn(h, "hostname"));
  return renderShell(
    names.map((n, i) => ({ name: `${i}-release.txt`, content: renderNsupdateRelease(target, n, owner) })),
    names.map((n, i) => `release '${n}' "$tmp/${i}-release.txt"`),
    opts.timeoutSeconds,
  );
}

/**
 * Create (`releaseDropped: false`) and update (`true`) of a tenant's release command, which every
 * records command of the stack waits for: the update releases every name the previous run printed
 * ($PULUMI_COMMAND_STDOUT) that the tenant no longer has, so a hostname moved from one tenant to another
 * in one change is released before it is claimed. Names read back from the state are accepted only if
 * made of [a-z0-9._-], ending with a dot, no empty label; other lines are ignored. Prints the current names.
 */
export function renderDnsReleaseDroppedShell(target: NsupdateTarget, records: readonly DnsRecordSet[], owner: DnsOwner, opts: { releaseDropped: boolean; timeoutSeconds?: number }): string {
  const { names } = checkedRecordSets(records);
  const header = serverLine(target).join("\n");
  const txt = ownerTxt(owner);
  const body = opts.releaseDropped
    ? [
      `keep=' ${names.join(" ")} '`,
      `printf '%s\\n' "\${PULUMI_COMMAND_STDOUT:-}" | while IFS= read -r line; do`,
      "  case \"$line\" in",
      `    '${NAME_LINE_PREFIX}'*) name="\${line#'${NAME_LINE_PREFIX}'}" ;;`,
      "    *) continue ;;",
      "  esac",
      "  case \"$name\" in",
      "    ''|.*|*..*|*[!.]|*[!a-z0-9._-]*) continue ;;",
      "  esac",
      "  case \"$keep\" in",
      "    *\" $name \"*) continue ;;",
      "  esac",
      `  printf '%s\\nprereq yxrrset ${OWNER_LABEL}.%s TXT %s\\nupdate delete %s A\\nupdate delete %s AAAA\\nupdate delete ${OWNER_LABEL}.%s TXT\\nsend\\n' '${header}' "$name" '${txt}' "$name" "$name" "$name" >"$tmp/dropped.txt"`,
      '  release "$name" "$tmp/dropped.txt"',
      "done",
    ]
    : [];
  return renderShell([], [...body, `printf '%s\\n' ${names.map((n) => `'${NAME_LINE_PREFIX}${n}'`).join(" ")}`], opts.timeoutSeconds);
}
