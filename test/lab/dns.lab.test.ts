// Lab: a real BIND 9 (Debian named) on 127.0.0.1, a free port and a temp dir, serving two test zones that
// accept updates signed with a key from tsig-keygen. The DnsRecords component is run under mocks and its
// registered command (create/update/delete shells + the secret stdin) is executed exactly as
// @pulumi/command 1.2's local.Command does: `/bin/sh -c <command>` with stdin, and for update and delete the
// previous run's stdout (trailing newline trimmed) in PULUMI_COMMAND_STDOUT when it is not empty
// (addPreviousOutputInEnv); the stdout kept for the next run is that of the last successful create/update.
// Results are read back with dig.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { DnsRecords } from "../../components/dnsRecords";
import { NAME_LINE_PREFIX, renderNsupdateShell, renderNsupdateUpsert, renderTsigKeyFile } from "../../src/dns/nsupdate";
import { DnsRecordSet, tenantDnsRecords } from "../../src/dns/records";
import { revealSecrets, runUnderMocks } from "../../src/harness";
import { Host, StackSettings, Tenant } from "../../src/types";
import { BindServer, startBind } from "../../scripts/lab/bind";

const TOOLS: Record<string, string> = { named: "/usr/sbin/named", "tsig-keygen": "/usr/sbin/tsig-keygen", nsupdate: "nsupdate", dig: "dig", shellcheck: "shellcheck" };
const have = (cmd: string) => (cmd.startsWith("/") ? fs.existsSync(cmd) : spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0);
const missing = Object.entries(TOOLS).filter(([, c]) => !have(c)).map(([n]) => n);
if (missing.length > 0 && process.env.CI) throw new Error(`DNS lab tools missing: ${missing.join(", ")} (scripts/lab/install-test-tools.sh)`);
const skip = missing.length > 0 ? `DNS lab tools missing: ${missing.join(", ")} (run scripts/lab/install-test-tools.sh)` : false;

const KEY_NAME = "factory-lab";


const host = (name: string, roles: Host["roles"], v4?: string, v6?: string): Host =>
  ({ name, docker: "unix:///var/run/docker.sock", roles, weight: 1, privateAddress: "10.0.0.1", publicIPv4: v4, publicIPv6: v6, drain: false });
const tenant: Tenant = {
  slug: "asso", name: "Asso", contact: "a@asso.test", status: "active", dns: "managed", admins: [], file: "asso.yaml",
  services: {
    nextcloud: { hostname: "cloud.exemple.test", quotaGb: 1 },
    wordpress: { hostname: "www.exemple.test", editHostname: "asso.wp.other.test", title: "Asso" },
  },
};

interface Cmd { name: string; create: string; update: string; delete: string; stdin: string }
const tenantWith = (nextcloudHostname: string): Tenant => ({
  ...tenant, services: { ...tenant.services, nextcloud: { hostname: nextcloudHostname, quotaGb: 1 } },
});

describe("DNS updates against a real BIND 9", { skip }, () => {
  let dir = "";
  let port = 0;
  let bind: BindServer | undefined;
  let secret = "";

  const settings = (edge4: string[], edge6: string[], web4: string[]): Pick<StackSettings, "hosts" | "dns"> => ({
    hosts: edge4.map((a, i) => host(`edge${i}`, ["edge"], a, edge6[i])),
    dns: { server: "127.0.0.1", port, tsigKeyName: KEY_NAME, tsigAlgorithm: "hmac-sha256", ttl: 120, webEndpoints: { ipv4: web4, ipv6: [] } },
  });

  /** The one command the component registers, with its secret stdin revealed. */
  async function componentCommand(records: DnsRecordSet[], tsigSecret = secret): Promise<Cmd> {
    const { resources } = await runUnderMocks({
      stack: "lab",
      program: () => new DnsRecords("asso-dns", { tenant: "asso", records, server: { server: "127.0.0.1", port }, tsig: { keyName: KEY_NAME, algorithm: "hmac-sha256", secret: tsigSecret } }),
    });
    const cmds = resources.filter((r) => r.type === "command:local:Command");
    assert.equal(cmds.length, 1, "one command per tenant");
    const i = revealSecrets(cmds[0].inputs) as { create: string; update: string; delete: string; stdin: string; interpreter: string[]; addPreviousOutputInEnv: boolean };
    assert.deepEqual(i.interpreter, ["/bin/sh", "-c"]);
    assert.equal(i.addPreviousOutputInEnv, true);
    return { name: cmds[0].name, create: i.create, update: i.update, delete: i.delete, stdin: i.stdin };
  }
  /**
   * The command's life as the provider runs it: `state` is the stored stdout of the last successful
   * create/update ("" before creation); create, update and delete are run the way local.Command runs them.
   */
  class Lifecycle {
    stdout = "";
    private env(): NodeJS.ProcessEnv {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.PULUMI_COMMAND_STDOUT;
      if (this.stdout !== "") env.PULUMI_COMMAND_STDOUT = this.stdout;
      return env;
    }
    private run(command: string, stdin: string, env: NodeJS.ProcessEnv) {
      return spawnSync("/bin/sh", ["-c", command], { input: stdin, encoding: "utf8", env });
    }
    create(c: Cmd) {
      const env = { ...process.env };
      delete env.PULUMI_COMMAND_STDOUT;
      return this.keep(this.run(c.create, c.stdin, env));
    }
    update(c: Cmd) { return this.keep(this.run(c.update, c.stdin, this.env())); }
    delete(c: Cmd) { return this.run(c.delete, c.stdin, this.env()); }
    private keep(r: ReturnType<typeof spawnSync>) {
      if (r.status === 0) this.stdout = String(r.stdout).replace(/\n$/, "");
      return r;
    }
  }
  const must = (r: ReturnType<typeof spawnSync>) => {
    assert.equal(r.status, 0, `command failed: ${String(r.stdout)}${String(r.stderr)}\n${bind!.log().slice(-2000)}`);
    return r;
  };
  /** Runs a command the way local.Command does: interpreter + command string, stdin piped. */
  const sh = (command: string, stdin: string) => spawnSync("/bin/sh", ["-c", command], { input: stdin, encoding: "utf8" });
  const ok = (command: string, stdin: string) => {
    const r = sh(command, stdin);
    assert.equal(r.status, 0, `command failed: ${r.stdout}${r.stderr}\n${bind!.log().slice(-2000)}`);
  };
  const dig = (name: string, type: string) => {
    const r = spawnSync("dig", ["+short", "+norecurse", "@127.0.0.1", "-p", String(port), name, type], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean).sort();
  };

  before(async () => {
    bind = await startBind({ zones: ["exemple.test", "other.test"], keyName: KEY_NAME, extraRecords: ["keep IN A 192.0.2.250"] });
    dir = bind.dir;
    port = bind.port;
    secret = bind.secret;
  });

  after(async () => {
    await bind?.stop();
  });

  it("the generated shells pass shellcheck and hold no secret", async () => {
    const c = await componentCommand(tenantDnsRecords(tenant, settings(["198.51.100.1"], ["2001:db8::1"], ["192.0.2.80"])));
    assert.equal(c.name, "asso-dns-records");
    for (const script of [c.create, c.update, c.delete]) {
      const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.ok(!script.includes(secret));
      assert.equal(script.match(/^nsupdate /gm)?.length, 1, "one nsupdate run");
    }
    assert.equal(c.stdin, renderTsigKeyFile(KEY_NAME, "hmac-sha256", secret));
  });

  it("creates, re-applies idempotently, changes and deletes records across two zones with one command", async () => {
    const v1 = await componentCommand(tenantDnsRecords(tenant, settings(["198.51.100.1", "198.51.100.2"], ["2001:db8::1"], ["192.0.2.80"])));
    // A record of another type at the same name and another name: delete must leave both alone.
    ok(`nsupdate -k ${dir}/key.conf`, `server 127.0.0.1 ${port}\nupdate add cloud.exemple.test. 300 TXT "keep-me"\nsend\n`);

    const life = new Lifecycle();
    must(life.create(v1));
    // stdout: the names maintained, nothing else (nsupdate's own output goes to stderr).
    assert.equal(life.stdout, ["asso.wp.other.test.", "cloud.exemple.test.", "www.exemple.test."].map((n) => `${NAME_LINE_PREFIX}${n}`).join("\n"));
    const expectV1 = () => {
      assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1", "198.51.100.2"]);
      assert.deepEqual(dig("cloud.exemple.test", "AAAA"), ["2001:db8::1"]);
      assert.deepEqual(dig("asso.wp.other.test", "A"), ["198.51.100.1", "198.51.100.2"]);
      assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.80"]);
      assert.deepEqual(dig("www.exemple.test", "AAAA"), []);
    };
    expectV1();
    // Running create again and the update with the same inputs change nothing and do not fail.
    must(life.create(v1));
    must(life.update(v1));
    expectV1();

    // Change: one edge host left, no IPv6 any more, another web endpoint. local.Command runs update.
    const v2 = await componentCommand(tenantDnsRecords(tenant, settings(["198.51.100.7"], [], ["192.0.2.81"])));
    must(life.update(v2));
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.7"]);
    assert.deepEqual(dig("cloud.exemple.test", "AAAA"), []);
    assert.deepEqual(dig("asso.wp.other.test", "A"), ["198.51.100.7"]);
    assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.81"]);

    // Delete (twice: idempotent). Only the A/AAAA of those names go.
    for (let round = 0; round < 2; round++) must(life.delete(v2));
    for (const name of ["cloud.exemple.test", "asso.wp.other.test", "www.exemple.test"]) {
      assert.deepEqual(dig(name, "A"), [], name);
      assert.deepEqual(dig(name, "AAAA"), [], name);
    }
    assert.deepEqual(dig("cloud.exemple.test", "TXT"), ['"keep-me"']);
    assert.deepEqual(dig("keep.exemple.test", "A"), ["192.0.2.250"]);
  });

  it("changing one hostname removes the old name's A/AAAA (and only those) in the update", async () => {
    const s = settings(["198.51.100.1"], ["2001:db8::1"], ["192.0.2.80"]);
    const v1 = await componentCommand(tenantDnsRecords(tenantWith("files.exemple.test"), s));
    const life = new Lifecycle();
    must(life.create(v1));
    ok(`nsupdate -k ${dir}/key.conf`, `server 127.0.0.1 ${port}\nupdate add files.exemple.test. 300 TXT "not-ours"\nsend\n`);
    assert.deepEqual(dig("files.exemple.test", "A"), ["198.51.100.1"]);

    const v2 = await componentCommand(tenantDnsRecords(tenantWith("drive.exemple.test"), s));
    must(life.update(v2));
    assert.deepEqual(dig("files.exemple.test", "A"), []);
    assert.deepEqual(dig("files.exemple.test", "AAAA"), []);
    assert.deepEqual(dig("files.exemple.test", "TXT"), ['"not-ours"']);
    assert.deepEqual(dig("drive.exemple.test", "A"), ["198.51.100.1"]);
    assert.deepEqual(dig("drive.exemple.test", "AAAA"), ["2001:db8::1"]);
    assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.80"], "names kept are untouched");
    assert.deepEqual(dig("asso.wp.other.test", "A"), ["198.51.100.1"]);
    assert.match(life.stdout, /dns-name drive\.exemple\.test\./);
    assert.doesNotMatch(life.stdout, /files/);

    // The stored delete is the new one: it removes drive, www and the wp name, not files (already gone).
    must(life.delete(v2));
    for (const n of ["drive.exemple.test", "www.exemple.test", "asso.wp.other.test"]) assert.deepEqual(dig(n, "A"), [], n);
    assert.deepEqual(dig("keep.exemple.test", "A"), ["192.0.2.250"]);
  });

  it("an update ignores previous-output lines that are not plain names (nothing injected)", async () => {
    const c = await componentCommand(tenantDnsRecords(tenant, settings(["198.51.100.1"], [], ["192.0.2.80"])));
    const life = new Lifecycle();
    life.stdout = [
      `${NAME_LINE_PREFIX}keep.exemple.test. A`, // a space: could smuggle nsupdate syntax
      `${NAME_LINE_PREFIX}keep.exemple.test`, // no trailing dot
      `${NAME_LINE_PREFIX}.exemple.test.`,
      "update delete keep.exemple.test. A",
      `${NAME_LINE_PREFIX}`,
    ].join("\n");
    must(life.update(c));
    assert.deepEqual(dig("keep.exemple.test", "A"), ["192.0.2.250"]);
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1"]);
    must(life.delete(c));
  });

  it("an update signed with a wrong key is refused and changes nothing", async () => {
    const records = tenantDnsRecords(tenant, settings(["198.51.100.1"], [], ["192.0.2.80"]));
    const good = await componentCommand(records);
    const life = new Lifecycle();
    must(life.create(good));
    const stored = life.stdout;
    const other = spawnSync(TOOLS["tsig-keygen"], ["-a", "hmac-sha256", KEY_NAME], { encoding: "utf8" });
    const wrongSecret = /secret "([^"]+)"/.exec(other.stdout)![1];
    assert.notEqual(wrongSecret, secret);
    const bad = await componentCommand(tenantDnsRecords(tenantWith("moved.exemple.test"), settings(["203.0.113.66"], [], ["203.0.113.67"])), wrongSecret);
    for (const r of [life.create(bad), life.update(bad), life.delete(bad)]) {
      assert.notEqual(r.status, 0, "the wrong key was accepted");
      assert.match(String(r.stdout) + String(r.stderr), /BADSIG|BADKEY|tsig/i);
    }
    assert.equal(life.stdout, stored, "a failed run keeps the previous names");
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1"]);
    assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.80"]);
    assert.deepEqual(dig("moved.exemple.test", "A"), []);
    must(life.delete(good));
  });

  it("fails loudly instead of silently when a name holds a CNAME", async () => {
    ok(`nsupdate -k ${dir}/key.conf`, `server 127.0.0.1 ${port}\nupdate add alias.exemple.test. 300 CNAME keep.exemple.test.\nsend\n`);
    const rec = (hostname: string): DnsRecordSet => ({ hostname, ttl: 120, a: ["198.51.100.1"], aaaa: [], target: "edge", key: "k" });
    const c = await componentCommand([rec("alias.exemple.test"), rec("zzz.exemple.test")]);
    const life = new Lifecycle();
    const r = life.create(c);
    assert.notEqual(r.status, 0);
    assert.match(String(r.stdout) + String(r.stderr), /YXRRSET/);
    assert.equal(life.stdout, "", "nothing recorded: the create failed");
    assert.deepEqual(dig("alias.exemple.test", "CNAME"), ["keep.exemple.test."]);
    // nsupdate goes on with the other messages (the other name is published) but exits non-zero, so the
    // create fails, is recorded nowhere and runs again on the next deployment (idempotent).
    assert.deepEqual(dig("zzz.exemple.test", "A"), ["198.51.100.1"]);
    ok(`nsupdate -k ${dir}/key.conf`, `server 127.0.0.1 ${port}\nupdate delete zzz.exemple.test. A\nsend\n`);
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
