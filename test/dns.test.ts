import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as path from "node:path";
import { maskSecrets, revealSecrets, runUnderMocks, SECRET_MARK } from "../src/harness";
import {
  NAME_LINE_PREFIX, renderDnsApplyShell, renderDnsDeleteShell, renderNameLines, renderNsupdateDelete, renderNsupdateDeletes, renderNsupdateShell,
  renderNsupdateUpsert, renderNsupdateUpserts, renderTsigKeyFile,
} from "../src/dns/nsupdate";
import { edgeAddresses, tenantDnsRecords } from "../src/dns/records";
import { Host, StackSettings, Tenant } from "../src/types";

const ROOT = path.resolve(__dirname, "..");
const host = (name: string, roles: Host["roles"], v4?: string, v6?: string): Host =>
  ({ name, docker: `ssh://deploy@${name}`, roles, weight: 1, privateAddress: "10.0.0.1", publicIPv4: v4, publicIPv6: v6, drain: false });
const settings: Pick<StackSettings, "hosts" | "dns"> = {
  hosts: [
    host("edge2", ["edge"], "198.51.100.2"),
    host("edge1", ["edge"], "198.51.100.1", "2001:db8::1"),
    host("c1", ["compute"], "198.51.100.9", "2001:db8::9"),
  ],
  dns: { server: "192.0.2.53", port: 53, tsigKeyName: "factory", tsigAlgorithm: "hmac-sha256", ttl: 600, webEndpoints: { ipv4: ["192.0.2.80", "192.0.2.79"], ipv6: [] } },
};
const tenant = (over: Partial<Tenant> = {}): Tenant => ({
  slug: "asso", name: "Asso", contact: "a@asso.org", status: "active", dns: "managed", admins: [], file: "asso.yaml",
  services: {
    nextcloud: { hostname: "cloud.asso.org", quotaGb: 1 },
    paheko: { hostname: "compta.asso.org" },
    wordpress: { hostname: "www.asso.org", editHostname: "asso.wp.f.example", title: "Asso" },
    staticSite: { hostname: "static.asso.org" },
  },
  ...over,
});

describe("DNS records (pure)", () => {
  it("points edge-served names at every edge host and website buckets at the web endpoints", () => {
    const edge = { a: ["198.51.100.1", "198.51.100.2"], aaaa: ["2001:db8::1"] };
    const web = { a: ["192.0.2.79", "192.0.2.80"], aaaa: [] };
    assert.deepEqual(tenantDnsRecords(tenant(), settings), [
      { hostname: "asso.wp.f.example", ttl: 600, ...edge, target: "edge", key: "services.wordpress.editHostname" },
      { hostname: "cloud.asso.org", ttl: 600, ...edge, target: "edge", key: "services.nextcloud.hostname" },
      { hostname: "compta.asso.org", ttl: 600, ...edge, target: "edge", key: "services.paheko.hostname" },
      { hostname: "static.asso.org", ttl: 600, ...web, target: "web", key: "services.staticSite.hostname" },
      { hostname: "www.asso.org", ttl: 600, ...web, target: "web", key: "services.wordpress.hostname" },
    ]);
    assert.deepEqual(edgeAddresses(settings.hosts), { ipv4: ["198.51.100.1", "198.51.100.2"], ipv6: ["2001:db8::1"] });
  });

  it("gives nothing to dns: external or archived tenants, and keeps records of suspended ones", () => {
    assert.deepEqual(tenantDnsRecords(tenant({ dns: "external" }), settings), []);
    assert.deepEqual(tenantDnsRecords(tenant({ status: "archived" }), settings), []);
    assert.equal(tenantDnsRecords(tenant({ status: "suspended" }), settings).length, 5);
    assert.deepEqual(tenantDnsRecords(tenant({ services: { paheko: { hostname: "p.asso.org" } } }), settings).map((r) => r.hostname), ["p.asso.org"]);
  });

  it("refuses to publish a name when no edge host has a public IPv4", () => {
    const noEdge = { ...settings, hosts: [host("c1", ["compute"], "198.51.100.9")] };
    assert.throws(() => tenantDnsRecords(tenant(), noEdge), /no edge host has a publicIPv4/);
  });
});

describe("nsupdate rendering (pure)", () => {
  const rec = { hostname: "cloud.asso.org", ttl: 300, a: ["198.51.100.1"], aaaa: ["2001:db8::1"], target: "edge" as const, key: "k" };
  it("replaces A and AAAA in one message, guarded against a CNAME", () => {
    assert.equal(renderNsupdateUpsert({ server: "192.0.2.53", port: 5353 }, rec), [
      "server 192.0.2.53 5353",
      "prereq nxrrset cloud.asso.org. CNAME",
      "update delete cloud.asso.org. A",
      "update delete cloud.asso.org. AAAA",
      "update add cloud.asso.org. 300 A 198.51.100.1",
      "update add cloud.asso.org. 300 AAAA 2001:db8::1",
      "send",
      "",
    ].join("\n"));
    assert.match(renderNsupdateUpsert({ server: "ns.asso.org", port: 53, zone: "asso.org" }, rec), /^server ns\.asso\.org 53\nzone asso\.org\.\n/);
  });

  it("deletes only that name's A and AAAA records", () => {
    assert.equal(renderNsupdateDelete({ server: "192.0.2.53", port: 53 }, "cloud.asso.org."),
      "server 192.0.2.53 53\nupdate delete cloud.asso.org. A\nupdate delete cloud.asso.org. AAAA\nsend\n");
  });

  it("refuses input that could inject nsupdate commands", () => {
    assert.throws(() => renderNsupdateDelete({ server: "192.0.2.53", port: 53 }, "a.org A\nupdate delete x.org"), /not a valid DNS name/);
    assert.throws(() => renderNsupdateUpsert({ server: "192.0.2.53\nsend", port: 53 }, rec), /not an address or hostname/);
    assert.throws(() => renderNsupdateUpsert({ server: "192.0.2.53", port: 53 }, { ...rec, a: ["1.2.3.4 ; x"] }), /not an IPv4/);
    assert.throws(() => renderNsupdateUpsert({ server: "192.0.2.53", port: 53 }, { ...rec, a: [] }), /at least one A/);
    assert.throws(() => renderTsigKeyFile("k", "hmac-sha256", 'abc";};'), /not base64/);
    assert.throws(() => renderTsigKeyFile('k" {', "hmac-sha256", "YWJj"), /not a valid DNS name/);
  });

  it("renders the key file tsig-keygen prints, and a shell that reads it from stdin only", () => {
    assert.equal(renderTsigKeyFile("factory-staging", "hmac-sha256", "c2VjcmV0\n"), 'key "factory-staging" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0";\n};\n');
    const sh = renderNsupdateShell("server 192.0.2.53 53\nsend\n");
    assert.equal(sh, [
      "set -eu", "umask 077", 'tmp="$(mktemp -d)"', "trap 'rm -rf \"$tmp\"' EXIT", "trap 'exit 1' HUP INT TERM",
      'cat >"$tmp/tsig.key"', `cat >"$tmp/update.txt" <<'NSUPDATE_SCRIPT'`, "server 192.0.2.53 53", "send", "NSUPDATE_SCRIPT",
      'nsupdate -v -t 30 -k "$tmp/tsig.key" "$tmp/update.txt"', "",
    ].join("\n"));
    assert.throws(() => renderNsupdateShell("send\nNSUPDATE_SCRIPT\nrm -rf /\n"), /heredoc marker/);
  });
});

describe("one command per tenant (pure)", () => {
  const t = { server: "192.0.2.53", port: 53 };
  const r = (hostname: string, a = ["198.51.100.1"]) => ({ hostname, ttl: 300, a, aaaa: [], target: "edge" as const, key: "k" });
  it("holds one message per name, each with its own server line (zone found per name)", () => {
    assert.equal(renderNsupdateUpserts(t, [r("a.asso.org"), r("b.other.org")]), renderNsupdateUpsert(t, r("a.asso.org")) + renderNsupdateUpsert(t, r("b.other.org")));
    assert.equal(renderNsupdateDeletes(t, ["a.asso.org", "b.other.org"]), renderNsupdateDelete(t, "a.asso.org") + renderNsupdateDelete(t, "b.other.org"));
    assert.throws(() => renderNsupdateUpserts(t, [r("a.asso.org"), r("a.asso.org.")]), /a\.asso\.org\. appears twice/);
    assert.throws(() => renderNsupdateUpserts(t, []), /at least one record set/);
    assert.throws(() => renderNsupdateDeletes(t, []), /nothing to delete/);
  });
  it("create runs nsupdate once then prints the names; update also removes names the previous run printed", () => {
    const recs = [r("a.asso.org"), r("b.asso.org")];
    const create = renderDnsApplyShell(t, recs, { removePrevious: false });
    assert.equal(create, [
      "set -eu", "umask 077", 'tmp="$(mktemp -d)"', "trap 'rm -rf \"$tmp\"' EXIT", "trap 'exit 1' HUP INT TERM",
      'cat >"$tmp/tsig.key"', `cat >"$tmp/update.txt" <<'NSUPDATE_SCRIPT'`, renderNsupdateUpserts(t, recs).replace(/\n$/, ""), "NSUPDATE_SCRIPT",
      'nsupdate -v -t 30 -k "$tmp/tsig.key" "$tmp/update.txt" >&2',
      "printf '%s\\n' 'dns-name a.asso.org.' 'dns-name b.asso.org.'", "",
    ].join("\n"));
    assert.equal(renderNameLines(recs), `${NAME_LINE_PREFIX}a.asso.org.\n${NAME_LINE_PREFIX}b.asso.org.\n`);
    const update = renderDnsApplyShell(t, recs, { removePrevious: true });
    assert.ok(update.includes("keep=' a.asso.org. b.asso.org. '\n"));
    assert.ok(update.includes(`printf '%s\\nupdate delete %s A\\nupdate delete %s AAAA\\nsend\\n' 'server 192.0.2.53 53' "$name" "$name"`));
    assert.ok(update.indexOf("PULUMI_COMMAND_STDOUT") < update.indexOf("nsupdate -v"), "removals are appended before nsupdate runs");
    assert.ok(renderDnsApplyShell({ ...t, zone: "asso.org" }, recs, { removePrevious: true }).includes("'server 192.0.2.53 53\nzone asso.org.'"));
    assert.equal(renderDnsDeleteShell(t, ["a.asso.org"]), renderNsupdateShell(renderNsupdateDelete(t, "a.asso.org")).replace('"$tmp/update.txt"\n', '"$tmp/update.txt" >&2\n'));
  });
});

describe("DnsRecords in the program (staging fixture, under mocks)", () => {
  const TSIG = Buffer.from("known-tsig-secret-for-the-leak-test").toString("base64");
  const load = () => runUnderMocks({ stack: "staging", projectDir: ROOT, secrets: { dnsTsigSecret: TSIG } });

  it("registers one DnsRecords per managed, non-archived tenant holding ONE command for all its names", async () => {
    const { resources } = await load();
    const comps = resources.filter((r) => r.type === "factory:dns:DnsRecords");
    // Only asso-exemple is dns: managed in tenants/staging (club-velo and collectif-jardins are external, ancienne-asso archived).
    assert.deepEqual(comps.map((c) => [c.name, c.tenant, c.inputs]), [["asso-exemple-dns", "asso-exemple", { tenant: "asso-exemple" }]]);
    const cmds = resources.filter((r) => r.parent === comps[0].urn);
    assert.deepEqual(cmds.map((c) => `${c.type} ${c.name}`), ["command:local:Command asso-exemple-dns-records"]);
    assert.equal(resources.filter((r) => r.type === "command:local:Command" && r.tenant === "asso-exemple" && r.parent?.includes("DnsRecords")).length, 1);
    const [cmd] = cmds;
    const target = { server: "10.20.0.53", port: 53 };
    assert.deepEqual(Object.keys(cmd.inputs).sort(), ["addPreviousOutputInEnv", "create", "delete", "interpreter", "logging", "stdin", "update"]);
    const hostnames = ["asso-exemple.wp.staging.factory.example.org", "cloud.exemple.org", "compta.exemple.org", "static.exemple.org", "www.exemple.org"];
    assert.equal(cmd.inputs.delete, renderDnsDeleteShell(target, hostnames));
    assert.equal(cmd.inputs.stdin && (cmd.inputs.stdin as Record<string, unknown>)[SECRET_MARK] !== undefined, true);
    assert.deepEqual([cmd.inputs.interpreter, cmd.inputs.logging, cmd.inputs.addPreviousOutputInEnv], [["/bin/sh", "-c"], "none", true]);
    assert.equal((revealSecrets(cmd.inputs) as { stdin: string }).stdin, renderTsigKeyFile("factory-staging", "hmac-sha256", TSIG));
    // One nsupdate invocation, one message per name, in hostname order.
    const create = cmd.inputs.create as string;
    assert.equal(create.match(/^nsupdate /gm)?.length, 1);
    assert.equal(create.match(/^send$/gm)?.length, 5);
    assert.deepEqual([...create.matchAll(/^prereq nxrrset (\S+) CNAME$/gm)].map((m) => m[1]), hostnames.map((h) => `${h}.`));
    assert.match(create, /update add cloud\.exemple\.org\. 300 A 203\.0\.113\.20\nupdate add cloud\.exemple\.org\. 300 AAAA 2001:db8:20::10\nsend\n/);
    assert.match(create, /update add www\.exemple\.org\. 300 A 203\.0\.113\.20\n/);
    assert.doesNotMatch(create, /PULUMI_COMMAND_STDOUT/);
    assert.match(cmd.inputs.update as string, /PULUMI_COMMAND_STDOUT/);
    assert.equal((cmd.inputs.update as string).replace(/^keep=[\s\S]*?done >>"\$tmp\/update\.txt"\n/m, ""), create);
  });

  it("never puts the TSIG secret anywhere but the secret stdin", async () => {
    const { resources } = await load();
    for (const r of resources) {
      assert.ok(!JSON.stringify(maskSecrets(r.inputs)).includes(TSIG), `${r.urn} leaks the TSIG secret`);
    }
    for (const c of resources.filter((r) => r.type === "command:local:Command" && r.parent?.includes("DnsRecords"))) {
      assert.equal(c.inputs.logging, "none");
      assert.deepEqual(Object.keys(c.inputs).filter((k) => k === "environment"), []);
    }
  });
});
