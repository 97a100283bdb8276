import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as path from "node:path";
import { maskSecrets, revealSecrets, runUnderMocks, SECRET_MARK } from "../program/harness";
import {
  NAME_LINE_PREFIX, ownerTxt, renderDnsClaimShell, renderDnsReleaseDroppedShell, renderDnsReleaseShell, renderNameLines, renderNsupdateClaim,
  renderNsupdateRefresh, renderNsupdateRelease, renderTsigKeyFile,
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

describe("nsupdate rendering with ownership records (pure)", () => {
  const rec = { hostname: "cloud.asso.org", ttl: 300, a: ["198.51.100.1"], aaaa: ["2001:db8::1"], target: "edge" as const, key: "k" };
  const owner = { stack: "staging", tenant: "asso" };
  const t = { server: "192.0.2.53", port: 5353 };
  it("refreshes a name only while its ownership record is exactly ours, guarded against a CNAME", () => {
    assert.equal(renderNsupdateRefresh(t, rec, owner), [
      "server 192.0.2.53 5353",
      'prereq yxrrset _sf-owner.cloud.asso.org. TXT "service-factory stack=staging tenant=asso"',
      "prereq nxrrset cloud.asso.org. CNAME",
      "update delete cloud.asso.org. A",
      "update delete cloud.asso.org. AAAA",
      "update add cloud.asso.org. 300 A 198.51.100.1",
      "update add cloud.asso.org. 300 AAAA 2001:db8::1",
      "send",
      "",
    ].join("\n"));
    assert.match(renderNsupdateRefresh({ server: "ns.asso.org", port: 53, zone: "asso.org" }, rec, owner), /^server ns\.asso\.org 53\nzone asso\.org\.\n/);
  });

  it("claims a name only when it has no address record and no owner, writing the owner with the addresses", () => {
    assert.equal(renderNsupdateClaim(t, rec, owner), [
      "server 192.0.2.53 5353",
      "prereq nxrrset cloud.asso.org. A",
      "prereq nxrrset cloud.asso.org. AAAA",
      "prereq nxrrset cloud.asso.org. CNAME",
      "prereq nxdomain _sf-owner.cloud.asso.org.",
      "update add cloud.asso.org. 300 A 198.51.100.1",
      "update add cloud.asso.org. 300 AAAA 2001:db8::1",
      'update add _sf-owner.cloud.asso.org. 300 TXT "service-factory stack=staging tenant=asso"',
      "send",
      "",
    ].join("\n"));
  });

  it("releases only its own name: addresses and owner record, under the same prerequisite", () => {
    assert.equal(renderNsupdateRelease(t, "cloud.asso.org.", owner), [
      "server 192.0.2.53 5353",
      'prereq yxrrset _sf-owner.cloud.asso.org. TXT "service-factory stack=staging tenant=asso"',
      "update delete cloud.asso.org. A",
      "update delete cloud.asso.org. AAAA",
      "update delete _sf-owner.cloud.asso.org. TXT",
      "send",
      "",
    ].join("\n"));
  });

  it("refuses input that could inject nsupdate commands", () => {
    assert.throws(() => renderNsupdateRelease(t, "a.org A\nupdate delete x.org", owner), /not a valid DNS name/);
    assert.throws(() => renderNsupdateRefresh({ server: "192.0.2.53\nsend", port: 53 }, rec, owner), /not an address or hostname/);
    assert.throws(() => renderNsupdateClaim(t, { ...rec, a: ["1.2.3.4 ; x"] }, owner), /not an IPv4/);
    assert.throws(() => renderNsupdateClaim(t, { ...rec, a: [] }, owner), /at least one A/);
    assert.throws(() => ownerTxt({ stack: "staging", tenant: 'x" TXT "y' }), /must be \[a-z0-9-\]/);
    assert.throws(() => renderTsigKeyFile("k", "hmac-sha256", 'abc";};'), /not base64/);
    assert.throws(() => renderTsigKeyFile('k" {', "hmac-sha256", "YWJj"), /not a valid DNS name/);
    assert.equal(renderTsigKeyFile("factory-staging", "hmac-sha256", "c2VjcmV0\n"), 'key "factory-staging" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0";\n};\n');
  });
});

describe("the two commands of a tenant (pure)", () => {
  const t = { server: "192.0.2.53", port: 53 };
  const owner = { stack: "staging", tenant: "asso" };
  const r = (hostname: string, a = ["198.51.100.1"]) => ({ hostname, ttl: 300, a, aaaa: [], target: "edge" as const, key: "k" });
  const recs = [r("a.asso.org"), r("b.other.org")];
  it("records: one refresh and one claim message per name, tried in that order, then the names", () => {
    const sh = renderDnsClaimShell(t, recs, owner);
    assert.ok(sh.startsWith(['set -eu', 'umask 077', 'tmp="$(mktemp -d)"', "trap 'rm -rf \"$tmp\"' EXIT", "trap 'exit 1' HUP INT TERM", 'cat >"$tmp/tsig.key"', ""].join("\n")));
    for (const [i, rec] of recs.entries()) {
      assert.ok(sh.includes(`cat >"$tmp/${i}-refresh.txt" <<'NSUPDATE_SCRIPT'\n${renderNsupdateRefresh(t, rec, owner)}NSUPDATE_SCRIPT\n`));
      assert.ok(sh.includes(`cat >"$tmp/${i}-claim.txt" <<'NSUPDATE_SCRIPT'\n${renderNsupdateClaim(t, rec, owner)}NSUPDATE_SCRIPT\n`));
    }
    assert.ok(sh.endsWith(`claim 'a.asso.org.' "$tmp/0-refresh.txt" "$tmp/0-claim.txt"\nclaim 'b.other.org.' "$tmp/1-refresh.txt" "$tmp/1-claim.txt"\nprintf '%s\\n' 'dns-name a.asso.org.' 'dns-name b.other.org.'\n`));
    assert.equal(renderNameLines(recs), `${NAME_LINE_PREFIX}a.asso.org.\n${NAME_LINE_PREFIX}b.other.org.\n`);
    assert.throws(() => renderDnsClaimShell(t, [r("a.asso.org"), r("a.asso.org.")], owner), /a\.asso\.org\. appears twice/);
    assert.throws(() => renderDnsClaimShell(t, [], owner), /at least one record set/);
    assert.throws(() => renderDnsReleaseShell(t, [], owner), /nothing to release/);
  });
  it("release: create only prints the names; update releases, under the ownership prerequisite, the names the previous run printed and this one does not", () => {
    const create = renderDnsReleaseDroppedShell(t, recs, owner, { releaseDropped: false });
    assert.doesNotMatch(create, /PULUMI_COMMAND_STDOUT|^release /m);
    const update = renderDnsReleaseDroppedShell(t, recs, owner, { releaseDropped: true });
    assert.ok(update.includes("keep=' a.asso.org. b.other.org. '\n"));
    assert.ok(update.includes(`printf '%s\\nprereq yxrrset _sf-owner.%s TXT %s\\nupdate delete %s A\\nupdate delete %s AAAA\\nupdate delete _sf-owner.%s TXT\\nsend\\n' 'server 192.0.2.53 53' "$name" '"service-factory stack=staging tenant=asso"' "$name" "$name" "$name" >"$tmp/dropped.txt"`));
    assert.ok(update.indexOf("PULUMI_COMMAND_STDOUT") < update.indexOf('release "$name"'));
    assert.ok(renderDnsReleaseDroppedShell({ ...t, zone: "asso.org" }, recs, owner, { releaseDropped: true }).includes("'server 192.0.2.53 53\nzone asso.org.'"));
    const del = renderDnsReleaseShell(t, ["a.asso.org"], owner);
    assert.ok(del.includes(renderNsupdateRelease(t, "a.asso.org", owner)) && del.includes(`release 'a.asso.org.' "$tmp/0-release.txt"`));
  });
});

describe("DnsRecords in the program (staging fixture, under mocks)", () => {
  const TSIG = Buffer.from("known-tsig-secret-for-the-leak-test").toString("base64");
  const load = () => runUnderMocks({ stack: "staging", projectDir: ROOT, secrets: { dnsTsigSecret: TSIG } });

  it("registers one DnsRecords per managed, non-archived tenant: a release and a records command, the second after every release", async () => {
    const { resources } = await load();
    const comps = resources.filter((r) => r.type === "factory:dns:DnsRecords");
    // Only asso-exemple is dns: managed in tenants/staging (club-velo and collectif-jardins are external, ancienne-asso archived).
    assert.deepEqual(comps.map((c) => [c.name, c.tenant, c.inputs]), [["asso-exemple-dns", "asso-exemple", { tenant: "asso-exemple" }]]);
    const cmds = resources.filter((r) => r.parent === comps[0].urn);
    assert.deepEqual(cmds.map((c) => `${c.type} ${c.name}`), ["command:local:Command asso-exemple-dns-release", "command:local:Command asso-exemple-dns-records"]);
    const [release, records] = cmds;
    const target = { server: "10.20.0.53", port: 53 };
    const owner = { stack: "staging", tenant: "asso-exemple" };
    assert.deepEqual(Object.keys(release.inputs).sort(), ["addPreviousOutputInEnv", "create", "interpreter", "logging", "stdin", "update"]);
    assert.deepEqual(Object.keys(records.inputs).sort(), ["create", "delete", "interpreter", "logging", "stdin"]);
    assert.deepEqual(records.dependsOn, [release.urn], "records wait for the stack's releases");
    const hostnames = ["asso-exemple.wp.staging.factory.example.org", "cloud.exemple.org", "compta.exemple.org", "static.exemple.org", "www.exemple.org"];
    assert.equal(records.inputs.delete, renderDnsReleaseShell(target, hostnames, owner));
    for (const c of cmds) {
      assert.ok((c.inputs.stdin as Record<string, unknown>)[SECRET_MARK] !== undefined);
      assert.deepEqual([c.inputs.interpreter, c.inputs.logging], [["/bin/sh", "-c"], "none"]);
      assert.equal((revealSecrets(c.inputs) as { stdin: string }).stdin, renderTsigKeyFile("factory-staging", "hmac-sha256", TSIG));
    }
    const create = records.inputs.create as string;
    assert.deepEqual([...create.matchAll(/^claim '(\S+)' /gm)].map((m) => m[1]), hostnames.map((h) => `${h}.`));
    assert.match(create, /update add cloud\.exemple\.org\. 300 A 203\.0\.113\.20\nupdate add cloud\.exemple\.org\. 300 AAAA 2001:db8:20::10\n/);
    assert.match(create, /update add _sf-owner\.www\.exemple\.org\. 300 TXT "service-factory stack=staging tenant=asso-exemple"/);
    assert.match(release.inputs.update as string, /PULUMI_COMMAND_STDOUT/);
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
