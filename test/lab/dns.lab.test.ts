// Lab: a real BIND 9 (Debian named) on 127.0.0.1, a free port and a temp dir, serving two test zones that
// accept updates signed with a key from tsig-keygen. The DnsRecords component is run under mocks and its
// registered commands (create/delete shell + the secret stdin) are executed exactly as local.Command does
// (`/bin/sh -c <command>` with stdin); results are read back with dig.
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { DnsRecords } from "../../components/dnsRecords";
import { renderNsupdateShell, renderNsupdateUpsert, renderTsigKeyFile } from "../../src/dns/nsupdate";
import { DnsRecordSet, tenantDnsRecords } from "../../src/dns/records";
import { revealSecrets, runUnderMocks } from "../../src/harness";
import { Host, StackSettings, Tenant } from "../../src/types";

const TOOLS: Record<string, string> = { named: "/usr/sbin/named", "tsig-keygen": "/usr/sbin/tsig-keygen", nsupdate: "nsupdate", dig: "dig", shellcheck: "shellcheck" };
const have = (cmd: string) => (cmd.startsWith("/") ? fs.existsSync(cmd) : spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0);
const missing = Object.entries(TOOLS).filter(([, c]) => !have(c)).map(([n]) => n);
if (missing.length > 0 && process.env.CI) throw new Error(`DNS lab tools missing: ${missing.join(", ")} (scripts/lab/install-test-tools.sh)`);
const skip = missing.length > 0 ? `DNS lab tools missing: ${missing.join(", ")} (run scripts/lab/install-test-tools.sh)` : false;

const KEY_NAME = "factory-lab";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const host = (name: string, roles: Host["roles"], v4?: string, v6?: string): Host =>
  ({ name, docker: "unix:///var/run/docker.sock", roles, weight: 1, privateAddress: "10.0.0.1", publicIPv4: v4, publicIPv6: v6, drain: false });
const tenant: Tenant = {
  slug: "asso", name: "Asso", contact: "a@asso.test", status: "active", dns: "managed", admins: [], file: "asso.yaml",
  services: {
    nextcloud: { hostname: "cloud.exemple.test", quotaGb: 1 },
    wordpress: { hostname: "www.exemple.test", editHostname: "asso.wp.other.test", title: "Asso" },
  },
};

interface Cmd { name: string; create: string; delete: string; stdin: string }

describe("DNS updates against a real BIND 9", { skip }, () => {
  let dir = "";
  let port = 0;
  let named: ChildProcess | undefined;
  let namedLog = "";
  let secret = "";

  const settings = (edge4: string[], edge6: string[], web4: string[]): Pick<StackSettings, "hosts" | "dns"> => ({
    hosts: edge4.map((a, i) => host(`edge${i}`, ["edge"], a, edge6[i])),
    dns: { server: "127.0.0.1", port, tsigKeyName: KEY_NAME, tsigAlgorithm: "hmac-sha256", ttl: 120, webEndpoints: { ipv4: web4, ipv6: [] } },
  });

  /** The commands the component registers, with their secret stdin revealed. */
  async function componentCommands(records: DnsRecordSet[], tsigSecret = secret): Promise<Cmd[]> {
    const { resources } = await runUnderMocks({
      stack: "lab",
      program: () => new DnsRecords("asso-dns", { tenant: "asso", records, server: { server: "127.0.0.1", port }, tsig: { keyName: KEY_NAME, algorithm: "hmac-sha256", secret: tsigSecret } }),
    });
    return resources.filter((r) => r.type === "command:local:Command").map((r) => {
      const i = revealSecrets(r.inputs) as { create: string; delete: string; stdin: string; interpreter: string[] };
      assert.deepEqual(i.interpreter, ["/bin/sh", "-c"]);
      return { name: r.name, create: i.create, delete: i.delete, stdin: i.stdin };
    });
  }
  /** Runs a command the way local.Command does: interpreter + command string, stdin piped. */
  const sh = (command: string, stdin: string) => spawnSync("/bin/sh", ["-c", command], { input: stdin, encoding: "utf8" });
  const ok = (command: string, stdin: string) => {
    const r = sh(command, stdin);
    assert.equal(r.status, 0, `command failed: ${r.stdout}${r.stderr}\n${namedLog.slice(-2000)}`);
  };
  const dig = (name: string, type: string) => {
    const r = spawnSync("dig", ["+short", "+norecurse", "@127.0.0.1", "-p", String(port), name, type], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean).sort();
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-dns-"));
    port = await freePort();
    const keygen = spawnSync(TOOLS["tsig-keygen"], ["-a", "hmac-sha256", KEY_NAME], { encoding: "utf8" });
    assert.equal(keygen.status, 0, keygen.stderr);
    fs.writeFileSync(path.join(dir, "key.conf"), keygen.stdout, { mode: 0o600 });
    secret = /secret "([^"]+)"/.exec(keygen.stdout)![1];
    for (const zone of ["exemple.test", "other.test"]) {
      fs.writeFileSync(path.join(dir, `${zone}.zone`), [
        "$TTL 300",
        `@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 300`,
        `@ IN NS ns1.${zone}.`,
        "ns1 IN A 127.0.0.1",
        "keep IN A 192.0.2.250",
        "",
      ].join("\n"));
    }
    fs.writeFileSync(path.join(dir, "named.conf"), [
      `include "${dir}/key.conf";`,
      `options { directory "${dir}"; pid-file "${dir}/named.pid"; listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; };`,
      `  recursion no; dnssec-validation no; notify no; };`,
      `controls { };`,
      ...["exemple.test", "other.test"].map((z) => `zone "${z}" { type primary; file "${dir}/${z}.zone"; update-policy { grant ${KEY_NAME} zonesub A AAAA TXT CNAME; }; };`),
      "",
    ].join("\n"));
    const check = spawnSync("/usr/bin/named-checkconf", [path.join(dir, "named.conf")], { encoding: "utf8" });
    if (check.error === undefined) assert.equal(check.status, 0, check.stdout + check.stderr);
    named = spawn(TOOLS.named, ["-g", "-c", path.join(dir, "named.conf")], { stdio: ["ignore", "pipe", "pipe"] });
    named.stderr!.on("data", (d) => { namedLog += String(d); });
    named.stdout!.on("data", (d) => { namedLog += String(d); });
    // Ready when it answers the SOA of both zones (bounded by attempts, not by a time threshold).
    for (let i = 0; ; i++) {
      if (named.exitCode !== null) throw new Error(`named exited: ${namedLog}`);
      const a = spawnSync("dig", ["+short", "+norecurse", "+tries=1", "+time=1", "@127.0.0.1", "-p", String(port), "other.test", "SOA"], { encoding: "utf8" });
      if (a.status === 0 && a.stdout.includes("ns1.other.test.") && /running/.test(namedLog)) break;
      if (i > 300) throw new Error(`named did not start: ${namedLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (named && named.exitCode === null) {
      const exited = new Promise((r) => named!.once("exit", r));
      named.kill("SIGTERM");
      await exited;
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the generated shell passes shellcheck", async () => {
    const cmds = await componentCommands(tenantDnsRecords(tenant, settings(["198.51.100.1"], ["2001:db8::1"], ["192.0.2.80"])));
    assert.equal(cmds.length, 3);
    for (const c of cmds) {
      for (const script of [c.create, c.delete]) {
        const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
      }
      assert.ok(!c.create.includes(secret) && !c.delete.includes(secret));
      assert.equal(c.stdin, renderTsigKeyFile(KEY_NAME, "hmac-sha256", secret));
    }
  });

  it("creates, re-applies idempotently, changes and deletes records across two zones", async () => {
    const v1 = await componentCommands(tenantDnsRecords(tenant, settings(["198.51.100.1", "198.51.100.2"], ["2001:db8::1"], ["192.0.2.80"])));
    assert.deepEqual(v1.map((c) => c.name).sort(), ["asso-dns-asso.wp.other.test", "asso-dns-cloud.exemple.test", "asso-dns-www.exemple.test"]);
    // A record of another type at the same name and another name: delete must leave both alone.
    ok(`nsupdate -k ${dir}/key.conf`, `server 127.0.0.1 ${port}\nupdate add cloud.exemple.test. 300 TXT "keep-me"\nsend\n`);

    for (const c of v1) ok(c.create, c.stdin);
    const expectV1 = () => {
      assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1", "198.51.100.2"]);
      assert.deepEqual(dig("cloud.exemple.test", "AAAA"), ["2001:db8::1"]);
      assert.deepEqual(dig("asso.wp.other.test", "A"), ["198.51.100.1", "198.51.100.2"]);
      assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.80"]);
      assert.deepEqual(dig("www.exemple.test", "AAAA"), []);
    };
    expectV1();
    // Running create again (what a re-run or an update does) changes nothing and does not fail.
    for (const c of v1) ok(c.create, c.stdin);
    expectV1();

    // Change: one edge host left, no IPv6 any more, another web endpoint. local.Command runs create again.
    const v2 = await componentCommands(tenantDnsRecords(tenant, settings(["198.51.100.7"], [], ["192.0.2.81"])));
    for (const c of v2) ok(c.create, c.stdin);
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.7"]);
    assert.deepEqual(dig("cloud.exemple.test", "AAAA"), []);
    assert.deepEqual(dig("asso.wp.other.test", "A"), ["198.51.100.7"]);
    assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.81"]);

    // Delete (twice: idempotent). Only the A/AAAA of those names go.
    for (let round = 0; round < 2; round++) for (const c of v2) ok(c.delete, c.stdin);
    for (const name of ["cloud.exemple.test", "asso.wp.other.test", "www.exemple.test"]) {
      assert.deepEqual(dig(name, "A"), [], name);
      assert.deepEqual(dig(name, "AAAA"), [], name);
    }
    assert.deepEqual(dig("cloud.exemple.test", "TXT"), ['"keep-me"']);
    assert.deepEqual(dig("keep.exemple.test", "A"), ["192.0.2.250"]);
  });

  it("an update signed with a wrong key is refused and changes nothing", async () => {
    const records = tenantDnsRecords(tenant, settings(["198.51.100.1"], [], ["192.0.2.80"]));
    const good = await componentCommands(records);
    for (const c of good) ok(c.create, c.stdin);
    const other = spawnSync(TOOLS["tsig-keygen"], ["-a", "hmac-sha256", KEY_NAME], { encoding: "utf8" });
    const wrongSecret = /secret "([^"]+)"/.exec(other.stdout)![1];
    assert.notEqual(wrongSecret, secret);
    const bad = await componentCommands(tenantDnsRecords(tenant, settings(["203.0.113.66"], [], ["203.0.113.67"])), wrongSecret);
    for (const c of bad) {
      const r = sh(c.create, c.stdin);
      assert.notEqual(r.status, 0, `${c.name}: the wrong key was accepted`);
      assert.match(r.stdout + r.stderr, /BADSIG|BADKEY|tsig/i);
      assert.notEqual(sh(c.delete, c.stdin).status, 0);
    }
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1"]);
    assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.80"]);
    for (const c of good) ok(c.delete, c.stdin);
  });

  it("fails loudly instead of silently when the name holds a CNAME", async () => {
    ok(`nsupdate -k ${dir}/key.conf`, `server 127.0.0.1 ${port}\nupdate add alias.exemple.test. 300 CNAME keep.exemple.test.\nsend\n`);
    const rec: DnsRecordSet = { hostname: "alias.exemple.test", ttl: 120, a: ["198.51.100.1"], aaaa: [], target: "edge", key: "k" };
    const [c] = await componentCommands([rec]);
    const r = sh(c.create, c.stdin);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /YXRRSET/);
    assert.deepEqual(dig("alias.exemple.test", "CNAME"), ["keep.exemple.test."]);
  });

  it("an explicit zone works too, and a name outside the served zones is an error", () => {
    const keyFile = renderTsigKeyFile(KEY_NAME, "hmac-sha256", secret);
    const rec: DnsRecordSet = { hostname: "pinned.other.test", ttl: 120, a: ["198.51.100.3"], aaaa: [], target: "edge", key: "k" };
    ok(renderNsupdateShell(renderNsupdateUpsert({ server: "127.0.0.1", port, zone: "other.test" }, rec)), keyFile);
    assert.deepEqual(dig("pinned.other.test", "A"), ["198.51.100.3"]);
    const outside = sh(renderNsupdateShell(renderNsupdateUpsert({ server: "127.0.0.1", port }, { ...rec, hostname: "x.nowhere.invalid" })), keyFile);
    assert.notEqual(outside.status, 0);
  });
});
