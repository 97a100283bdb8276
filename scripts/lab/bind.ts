// A real BIND 9 (Debian named) on 127.0.0.1 and a free port, serving primary zones that accept RFC 2136
// updates signed with a fresh tsig-keygen key. Shared by the DNS lab test and the e2e.
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./net";

export const BIND_TOOLS: Record<string, string> = { named: "/usr/sbin/named", "tsig-keygen": "/usr/sbin/tsig-keygen", nsupdate: "nsupdate", dig: "dig" };

/** Tools missing on this machine (empty when BIND can run). */
export function missingBindTools(): string[] {
  const have = (cmd: string) => (cmd.startsWith("/") ? fs.existsSync(cmd) : spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0);
  return Object.entries(BIND_TOOLS).filter(([, c]) => !have(c)).map(([n]) => n);
}

export interface BindServer {
  port: number;
  dir: string;
  keyName: string;
  /** The TSIG secret (base64), as `pulumi config set --secret dnsTsigSecret` takes it. */
  secret: string;
  /** `dig +short` of one name and type against this server. */
  dig(name: string, type: string): string[];
  log(): string;
  stop(): Promise<void>;
}

export async function startBind(o: { zones: string[]; keyName: string; extraRecords?: string[] }): Promise<BindServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-bind-"));
  const port = await freePort();
  const keygen = spawnSync(BIND_TOOLS["tsig-keygen"], ["-a", "hmac-sha256", o.keyName], { encoding: "utf8" });
  if (keygen.status !== 0) throw new Error(`tsig-keygen: ${keygen.stderr}`);
  fs.writeFileSync(path.join(dir, "key.conf"), keygen.stdout, { mode: 0o600 });
  const secret = /secret "([^"]+)"/.exec(keygen.stdout)![1];
  for (const zone of o.zones) {
    fs.writeFileSync(path.join(dir, `${zone}.zone`), [
      "$TTL 300",
      `@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 300`,
      `@ IN NS ns1.${zone}.`,
      "ns1 IN A 127.0.0.1",
      ...(o.extraRecords ?? []),
      "",
    ].join("\n"));
  }
  fs.writeFileSync(path.join(dir, "named.conf"), [
    `include "${dir}/key.conf";`,
    `options { directory "${dir}"; pid-file "${dir}/named.pid"; listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; };`,
    `  recursion no; dnssec-validation no; notify no; };`,
    `controls { };`,
    ...o.zones.map((z) => `zone "${z}" { type primary; file "${dir}/${z}.zone"; update-policy { grant ${o.keyName} zonesub A AAAA TXT CNAME; }; };`),
    "",
  ].join("\n"));
  const check = spawnSync("/usr/bin/named-checkconf", [path.join(dir, "named.conf")], { encoding: "utf8" });
  if (check.error === undefined && check.status !== 0) throw new Error(`named-checkconf: ${check.stdout}${check.stderr}`);
  let log = "";
  const named: ChildProcess = spawn(BIND_TOOLS.named, ["-g", "-c", path.join(dir, "named.conf")], { stdio: ["ignore", "pipe", "pipe"] });
  named.stderr!.on("data", (d) => { log += String(d); });
  named.stdout!.on("data", (d) => { log += String(d); });
  const dig = (name: string, type: string): string[] => {
    const r = spawnSync("dig", ["+short", "+norecurse", "+tries=1", "+time=1", "@127.0.0.1", "-p", String(port), name, type], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.split("\n").map((l) => l.trim()).filter(Boolean).sort() : [];
  };
  // Ready when it answers the SOA of every zone (bounded by attempts, not by a time threshold).
  for (let i = 0; ; i++) {
    if (named.exitCode !== null) throw new Error(`named exited: ${log}`);
    if (/running/.test(log) && o.zones.every((z) => dig(z, "SOA").some((l) => l.includes(`ns1.${z}.`)))) break;
    if (i > 300) throw new Error(`named did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port, dir, keyName: o.keyName, secret, dig,
    log: () => log,
    async stop() {
      if (named.exitCode === null) {
        const exited = new Promise((r) => named.once("exit", r));
        named.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
