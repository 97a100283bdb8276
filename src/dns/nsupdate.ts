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

/** One nsupdate script holding one update message per record set (upsert, see renderNsupdateUpsert). */
export function renderNsupdateUpserts(target: NsupdateTarget, records: readonly DnsRecordSet[]): string {
  checkedRecordSets(records);
  return records.map((r) => renderNsupdateUpsert(target, r)).join("");
}

/** One nsupdate script holding one delete message per name (A and AAAA only, see renderNsupdateDelete). */
export function renderNsupdateDeletes(target: NsupdateTarget, hostnames: readonly string[]): string {
  if (hostnames.length === 0) throw new Error("nothing to delete");
  return hostnames.map((h) => renderNsupdateDelete(target, h)).join("");
}

/** The lines the apply shell prints on success, one per maintained name, in record order. */
export function renderNameLines(records: readonly DnsRecordSet[]): string {
  return checkedRecordSets(records).names.map((n) => `${NAME_LINE_PREFIX}${n}\n`).join("");
}

/**
 * The create (`removePrevious: false`) or update (`removePrevious: true`) shell of a tenant's single DNS
 * command: ONE nsupdate run with one message per name (so each message's zone is still found by SOA),
 * then it prints the maintained names (renderNameLines). The update variant also appends, for every
 * name listed in $PULUMI_COMMAND_STDOUT (the previous run's names) that is no longer maintained, a
 * message deleting that name's A and AAAA records. Names read back from the state are accepted only if
 * made of [a-z0-9._-], ending with a dot, no empty label (no space or newline can reach the nsupdate
 * script); other lines are ignored.
 * nsupdate's own output goes to stderr, so stdout holds nothing but the name lines.
 */
export function renderDnsApplyShell(target: NsupdateTarget, records: readonly DnsRecordSet[], opts: { removePrevious: boolean; timeoutSeconds?: number }): string {
  const { names } = checkedRecordSets(records);
  const header = serverLine(target).join("\n");
  const removal = opts.removePrevious
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
      `  printf '%s\\nupdate delete %s A\\nupdate delete %s AAAA\\nsend\\n' '${header}' "$name" "$name"`,
      `done >>"$tmp/update.txt"`,
    ]
    : [];
  return renderShell(renderNsupdateUpserts(target, records), opts.timeoutSeconds, removal, [
    `printf '%s\\n' ${names.map((n) => `'${NAME_LINE_PREFIX}${n}'`).join(" ")}`,
  ]);
}

/** The delete shell of a tenant's DNS command: one nsupdate run removing the A/AAAA of exactly `hostnames`. */
export function renderDnsDeleteShell(target: NsupdateTarget, hostnames: readonly string[], opts: { timeoutSeconds?: number } = {}): string {
  return renderShell(renderNsupdateDeletes(target, hostnames), opts.timeoutSeconds, [], []);
}

/**
 * The POSIX shell a local.Command runs: stdin (the TSIG key file) goes to a private temp file, the
 * update script to another, then `nsupdate -v -k` (TCP) applies it; the temp dir is always removed.
 * Neither the key nor anything derived from it is in this text.
 */
export function renderNsupdateShell(script: string, opts: { timeoutSeconds?: number } = {}): string {
  return renderShell(script, opts.timeoutSeconds, [], [], false);
}

function renderShell(script: string, timeoutSeconds: number | undefined, beforeRun: string[], afterRun: string[], quiet = true): string {
  if (script.split("\n").includes(HEREDOC_MARK)) throw new Error("the nsupdate script contains the heredoc marker");
  const timeout = timeoutSeconds ?? 30;
  if (!Number.isInteger(timeout) || timeout < 1) throw new Error(`nsupdate timeout ${timeout} is invalid`);
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
    ...beforeRun,
    `nsupdate -v -t ${timeout} -k "$tmp/tsig.key" "$tmp/update.txt"${quiet ? " >&2" : ""}`,
    ...afterRun,
    "",
  ].join("\n");
}
