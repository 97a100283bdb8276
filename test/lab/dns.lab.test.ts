// Lab: a real BIND 9 (Debian named) on 127.0.0.1, a free port and a temp dir, serving two test zones that
// accept updates signed with a key from tsig-keygen. The DnsRecords component is run under mocks and its two
// registered commands (release and records: create/update/delete shells + the secret stdin) are executed
// exactly as @pulumi/command 1.2's local.Command does: `/bin/sh -c <command>` with stdin, update = the
// update shell or else the create shell, and for update and delete the previous run's stdout (trailing
// newline trimmed) in PULUMI_COMMAND_STDOUT when it is not empty (addPreviousOutputInEnv); the stdout kept
// for the next run is that of the last successful create/update. Results are read back with dig: the
// addresses, and the ownership records that keep one tenant (or anyone else) from overwriting another's.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { DnsRecords } from "../../components/dnsRecords";
import { NAME_LINE_PREFIX, renderDnsClaimShell, renderTsigKeyFile } from "../../src/dns/nsupdate";
import { DnsRecordSet, tenantDnsRecords } from "../../src/dns/records";
import { revealSecrets, runUnderMocks } from "../../program/harness";
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

interface Cmd { name: string; create: string; update?: string; delete?: string; stdin: string }
interface TenantCmds { release: Cmd; records: Cmd }
const tenantWith = (nextcloudHostname: string, slug = "asso"): Tenant => ({
  ...tenant, slug, services: { ...tenant.services, nextcloud: { hostname: nextcloudHostname, quotaGb: 1 } },
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

  /** The two commands the component registers for a tenant, with their secret stdin revealed. */
  async function componentCommands(records: DnsRecordSet[], o: { tenant?: string; tsigSecret?: string } = {}): Promise<TenantCmds> {
    const slug = o.tenant ?? "asso";
    const { resources } = await runUnderMocks({
      stack: "lab",
      program: () => {
        const d = new DnsRecords(`${slug}-dns`, { tenant: slug, stack: "lab", records, server: { server: "127.0.0.1", port }, tsig: { keyName: KEY_NAME, algorithm: "hmac-sha256", secret: o.tsigSecret ?? secret } });
        d.claim(d.release ? [d.release] : []);
      },
    });
    const cmds = resources.filter((r) => r.type === "command:local:Command");
    assert.deepEqual(cmds.map((c) => c.name), [`${slug}-dns-release`, `${slug}-dns-records`], "two commands per tenant");
    const [release, recs] = cmds.map((c) => {
      const i = revealSecrets(c.inputs) as { create: string; update?: string; delete?: string; stdin: string; interpreter: string[] };
      assert.deepEqual(i.interpreter, ["/bin/sh", "-c"]);
      return { name: c.name, create: i.create, update: i.update, delete: i.delete, stdin: i.stdin };
    });
    return { release, records: recs };
  }
  /** One command's life as the provider runs it (`stdout` is the state's, "" before creation). */
  class Life {
    stdout = "";
    private env(withPrevious: boolean): NodeJS.ProcessEnv {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.PULUMI_COMMAND_STDOUT;
      if (withPrevious && this.stdout !== "") env.PULUMI_COMMAND_STDOUT = this.stdout;
      return env;
    }
    private run(command: string, stdin: string, env: NodeJS.ProcessEnv) {
      return spawnSync("/bin/sh", ["-c", command], { input: stdin, encoding: "utf8", env });
    }
    create(c: Cmd) { return this.keep(this.run(c.create, c.stdin, this.env(false))); }
    update(c: Cmd) { return this.keep(this.run(c.update ?? c.create, c.stdin, this.env(true))); }
    delete(c: Cmd) { return c.delete === undefined ? { status: 0, stdout: "", stderr: "" } : this.run(c.delete, c.stdin, this.env(true)); }
    private keep(r: ReturnType<typeof spawnSync>) {
      if (r.status === 0) this.stdout = String(r.stdout).replace(/\n$/, "");
      return r;
    }
  }
  /** A tenant's two commands, driven in the order `pulumi up` runs them (release, then records). */
  class TenantDns {
    release = new Life();
    records = new Life();
    create(c: TenantCmds) { must(this.release.create(c.release)); return this.records.create(c.records); }
    update(c: TenantCmds) { must(this.release.update(c.release)); return this.records.update(c.records); }
    delete(c: TenantCmds) { must(this.release.delete(c.release)); return this.records.delete(c.records); }
  }
  const must = (r: { status: number | null; stdout: unknown; stderr: unknown }) => {
    assert.equal(r.status, 0, `command failed: ${String(r.stdout)}${String(r.stderr)}\n${bind!.log().slice(-2000)}`);
    return r;
  };
  const sh = (command: string, stdin: string) => spawnSync("/bin/sh", ["-c", command], { input: stdin, encoding: "utf8" });
  const ok = (command: string, stdin: string) => {
    const r = sh(command, stdin);
    assert.equal(r.status, 0, `command failed: ${r.stdout}${r.stderr}\n${bind!.log().slice(-2000)}`);
  };
  const nsupdate = (body: string) => ok(`nsupdate -k ${dir}/key.conf`, `server 127.0.0.1 ${port}\n${body}\nsend\n`);
  const dig = (name: string, type: string) => {
    const r = spawnSync("dig", ["+short", "+norecurse", "@127.0.0.1", "-p", String(port), name, type], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean).sort();
  };
  const owner = (name: string) => dig(`_sf-owner.${name}`, "TXT");
  const OWNED_BY = (tenant: string) => [`"service-factory stack=lab tenant=${tenant}"`];

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
    const c = await componentCommands(tenantDnsRecords(tenant, settings(["198.51.100.1"], ["2001:db8::1"], ["192.0.2.80"])));
    for (const script of [c.release.create, c.release.update!, c.records.create, c.records.delete!]) {
      const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.ok(!script.includes(secret));
    }
    assert.equal(c.records.update, undefined, "an update of the records command runs its create");
    assert.equal(c.records.stdin, renderTsigKeyFile(KEY_NAME, "hmac-sha256", secret));
  });

  it("claims, re-applies idempotently, changes and releases records across two zones, each with its ownership record", async () => {
    const v1 = await componentCommands(tenantDnsRecords(tenant, settings(["198.51.100.1", "198.51.100.2"], ["2001:db8::1"], ["192.0.2.80"])));
    // A record of another type at the same name: claiming and releasing must leave it alone.
    nsupdate('update add cloud.exemple.test. 300 TXT "keep-me"');
    const t = new TenantDns();
    must(t.create(v1));
    assert.equal(t.records.stdout, ["asso.wp.other.test.", "cloud.exemple.test.", "www.exemple.test."].map((n) => `${NAME_LINE_PREFIX}${n}`).join("\n"));
    const expectV1 = () => {
      assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1", "198.51.100.2"]);
      assert.deepEqual(dig("cloud.exemple.test", "AAAA"), ["2001:db8::1"]);
      assert.deepEqual(dig("asso.wp.other.test", "A"), ["198.51.100.1", "198.51.100.2"]);
      assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.80"]);
      assert.deepEqual(dig("www.exemple.test", "AAAA"), []);
      for (const n of ["cloud.exemple.test", "asso.wp.other.test", "www.exemple.test"]) assert.deepEqual(owner(n), OWNED_BY("asso"), n);
    };
    expectV1();
    must(t.create(v1));
    must(t.update(v1));
    expectV1();

    const v2 = await componentCommands(tenantDnsRecords(tenant, settings(["198.51.100.7"], [], ["192.0.2.81"])));
    must(t.update(v2));
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.7"]);
    assert.deepEqual(dig("cloud.exemple.test", "AAAA"), []);
    assert.deepEqual(dig("asso.wp.other.test", "A"), ["198.51.100.7"]);
    assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.81"]);

    for (let round = 0; round < 2; round++) must(t.delete(v2));
    for (const name of ["cloud.exemple.test", "asso.wp.other.test", "www.exemple.test"]) {
      assert.deepEqual(dig(name, "A"), [], name);
      assert.deepEqual(dig(name, "AAAA"), [], name);
      assert.deepEqual(owner(name), [], `${name}: ownership released`);
    }
    assert.deepEqual(dig("cloud.exemple.test", "TXT"), ['"keep-me"']);
    assert.deepEqual(dig("keep.exemple.test", "A"), ["192.0.2.250"]);
  });

  it("changing one hostname releases the old name (only its addresses and owner) before the new one is claimed", async () => {
    const s = settings(["198.51.100.1"], ["2001:db8::1"], ["192.0.2.80"]);
    const v1 = await componentCommands(tenantDnsRecords(tenantWith("files.exemple.test"), s));
    const t = new TenantDns();
    must(t.create(v1));
    nsupdate('update add files.exemple.test. 300 TXT "not-ours"');
    const v2 = await componentCommands(tenantDnsRecords(tenantWith("drive.exemple.test"), s));
    must(t.update(v2));
    assert.deepEqual(dig("files.exemple.test", "A"), []);
    assert.deepEqual(owner("files.exemple.test"), []);
    assert.deepEqual(dig("files.exemple.test", "TXT"), ['"not-ours"']);
    assert.deepEqual(dig("drive.exemple.test", "A"), ["198.51.100.1"]);
    assert.deepEqual(owner("drive.exemple.test"), OWNED_BY("asso"));
    assert.deepEqual(dig("www.exemple.test", "A"), ["192.0.2.80"], "names kept are untouched");
    assert.doesNotMatch(t.release.stdout, /files/);
    must(t.delete(v2));
    for (const n of ["drive.exemple.test", "www.exemple.test", "asso.wp.other.test"]) assert.deepEqual(dig(n, "A"), [], n);
  });

  it("never overwrites a name it does not own: foreign addresses, another tenant's name, a CNAME; and never deletes one", async () => {
    const s = settings(["198.51.100.1"], [], ["192.0.2.80"]);
    const rec = (hostname: string): DnsRecordSet => ({ hostname, ttl: 120, a: ["198.51.100.1"], aaaa: [], target: "edge", key: "k" });
    // Someone's A record (keep.exemple.test, in the zone file): refused, untouched.
    const foreign = await componentCommands([rec("keep.exemple.test")], { tenant: "intruder" });
    const f = new TenantDns();
    const refused = f.create(foreign);
    assert.notEqual(refused.status, 0);
    assert.match(String(refused.stderr), /dns: keep\.exemple\.test\. is not ours: .*nothing changed/);
    assert.deepEqual(dig("keep.exemple.test", "A"), ["192.0.2.250"]);
    assert.deepEqual(owner("keep.exemple.test"), []);
    // Another tenant's name: asso owns cloud.exemple.test; beta may not take it.
    const asso = await componentCommands(tenantDnsRecords(tenant, s));
    const a = new TenantDns();
    must(a.create(asso));
    const beta = await componentCommands([rec("cloud.exemple.test")], { tenant: "beta" });
    const b = new TenantDns();
    const taken = b.create(beta);
    assert.notEqual(taken.status, 0);
    assert.match(String(taken.stderr), /cloud\.exemple\.test\. is not ours/);
    assert.deepEqual(owner("cloud.exemple.test"), OWNED_BY("asso"));
    // beta's delete (its records were never its own) leaves asso's name alone.
    b.records.stdout = `${NAME_LINE_PREFIX}cloud.exemple.test.`;
    const released = must(b.records.delete(beta.records));
    assert.match(String(released.stderr), /cloud\.exemple\.test\. is not owned by this tenant \(any more\): left alone/);
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1"]);
    must(a.delete(asso));
    // A CNAME is nobody's address record but cannot get one: refused loudly.
    nsupdate("update add alias.exemple.test. 300 CNAME keep.exemple.test.");
    const cname = await componentCommands([rec("alias.exemple.test")]);
    const r = new TenantDns().create(cname);
    assert.notEqual(r.status, 0);
    assert.match(String(r.stderr), /alias\.exemple\.test\. is not ours/);
    assert.deepEqual(dig("alias.exemple.test", "CNAME"), ["keep.exemple.test."]);
  });

  it("a hostname moved from one tenant to another in one change: released first, then claimed (the order the program sets)", async () => {
    const s = settings(["198.51.100.1"], [], ["192.0.2.80"]);
    const alphaV1 = await componentCommands(tenantDnsRecords(tenantWith("shared.exemple.test", "alpha"), s), { tenant: "alpha" });
    const alpha = new TenantDns();
    must(alpha.create(alphaV1));
    assert.deepEqual(owner("shared.exemple.test"), OWNED_BY("alpha"));
    const alphaV2 = await componentCommands(tenantDnsRecords(tenantWith("alpha-files.exemple.test", "alpha"), s), { tenant: "alpha" });
    const rec: DnsRecordSet = { hostname: "shared.exemple.test", ttl: 120, a: ["198.51.100.9"], aaaa: [], target: "edge", key: "k" };
    const gamma = await componentCommands([rec], { tenant: "gamma" });
    const g = new TenantDns();
    // Claimed before alpha released it (what the program's dependsOn prevents): refused, nothing changed.
    must(g.release.create(gamma.release));
    assert.notEqual(g.records.create(gamma.records).status, 0);
    assert.deepEqual(dig("shared.exemple.test", "A"), ["198.51.100.1"]);
    // The program's order: every release (alpha's drops shared.…) before any records command.
    must(alpha.release.update(alphaV2.release));
    must(g.records.create(gamma.records));
    must(alpha.records.update(alphaV2.records));
    assert.deepEqual(dig("shared.exemple.test", "A"), ["198.51.100.9"]);
    assert.deepEqual(owner("shared.exemple.test"), OWNED_BY("gamma"));
    assert.deepEqual(owner("alpha-files.exemple.test"), OWNED_BY("alpha"));
    must(alpha.delete(alphaV2));
    must(g.delete(gamma));
  });

  it("an update ignores previous-output lines that are not plain names (nothing injected)", async () => {
    const c = await componentCommands(tenantDnsRecords(tenant, settings(["198.51.100.1"], [], ["192.0.2.80"])));
    const t = new TenantDns();
    t.release.stdout = [
      `${NAME_LINE_PREFIX}keep.exemple.test. A`, // a space: could smuggle nsupdate syntax
      `${NAME_LINE_PREFIX}keep.exemple.test`, // no trailing dot
      `${NAME_LINE_PREFIX}.exemple.test.`,
      "update delete keep.exemple.test. A",
      `${NAME_LINE_PREFIX}`,
    ].join("\n");
    must(t.update(c));
    assert.deepEqual(dig("keep.exemple.test", "A"), ["192.0.2.250"]);
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1"]);
    must(t.delete(c));
  });

  it("an update signed with a wrong key is refused and changes nothing", async () => {
    const good = await componentCommands(tenantDnsRecords(tenant, settings(["198.51.100.1"], [], ["192.0.2.80"])));
    const t = new TenantDns();
    must(t.create(good));
    const stored = t.records.stdout;
    const other = spawnSync(TOOLS["tsig-keygen"], ["-a", "hmac-sha256", KEY_NAME], { encoding: "utf8" });
    const wrongSecret = /secret "([^"]+)"/.exec(other.stdout)![1];
    assert.notEqual(wrongSecret, secret);
    const bad = await componentCommands(tenantDnsRecords(tenantWith("moved.exemple.test"), settings(["203.0.113.66"], [], ["203.0.113.67"])), { tsigSecret: wrongSecret });
    for (const r of [t.records.create(bad.records), t.records.update(bad.records), t.records.delete(bad.records)]) {
      assert.notEqual(r.status, 0, "the wrong key was accepted");
      assert.match(String(r.stdout) + String(r.stderr), /BADSIG|BADKEY|tsig/i);
    }
    assert.equal(t.records.stdout, stored, "a failed run keeps the previous names");
    assert.deepEqual(dig("cloud.exemple.test", "A"), ["198.51.100.1"]);
    assert.deepEqual(dig("moved.exemple.test", "A"), []);
    must(t.delete(good));
  });

  it("an explicit zone works too, and a name outside the served zones is an error", () => {
    const keyFile = renderTsigKeyFile(KEY_NAME, "hmac-sha256", secret);
    const rec: DnsRecordSet = { hostname: "pinned.other.test", ttl: 120, a: ["198.51.100.3"], aaaa: [], target: "edge", key: "k" };
    ok(renderDnsClaimShell({ server: "127.0.0.1", port, zone: "other.test" }, [rec], { stack: "lab", tenant: "asso" }), keyFile);
    assert.deepEqual(dig("pinned.other.test", "A"), ["198.51.100.3"]);
    const outside = sh(renderDnsClaimShell({ server: "127.0.0.1", port }, [{ ...rec, hostname: "x.nowhere.invalid" }], { stack: "lab", tenant: "asso" }), keyFile);
    assert.notEqual(outside.status, 0);
  });
});
