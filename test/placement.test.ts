import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { eligibleHosts, placeAll, placedHost, placeTenant } from "../src/placement";
import { Host } from "../src/types";

const host = (name: string, weight = 1, drain = false, roles: Host["roles"] = ["compute"]): Host =>
  ({ name, docker: `ssh://deploy@${name}`, roles, weight, privateAddress: "10.0.0.1", drain });

const slugArb = fc.stringMatching(/^[a-z][a-z0-9-]{1,12}[a-z0-9]$/);
const slugsArb = fc.uniqueArray(slugArb, { minLength: 1, maxLength: 60 });
const hostsArb = fc
  .uniqueArray(fc.stringMatching(/^h[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 8 })
  .chain((names) => fc.tuple(...names.map((n) => fc.record({ name: fc.constant(n), weight: fc.integer({ min: 1, max: 5 }), drain: fc.boolean() }))))
  .map((hs) => hs.map((h) => host(h.name, h.weight, h.drain)))
  .filter((hs) => hs.some((h) => !h.drain));
const tenants = (slugs: string[]) => slugs.map((slug) => ({ slug }));

describe("placement (weighted rendezvous hashing)", () => {
  it("is deterministic and independent of tenant order", () => {
    fc.assert(fc.property(slugsArb, hostsArb, (slugs, hosts) => {
      const a = placeAll(tenants(slugs), hosts);
      const b = placeAll(tenants([...slugs].reverse()), [...hosts].reverse());
      for (const s of slugs) assert.equal(a.get(s), b.get(s));
    }));
  });

  it("adding a tenant moves no other tenant", () => {
    fc.assert(fc.property(slugsArb, slugArb, hostsArb, (slugs, extra, hosts) => {
      fc.pre(!slugs.includes(extra));
      const before = placeAll(tenants(slugs), hosts);
      const after = placeAll(tenants([...slugs, extra]), hosts);
      for (const s of slugs) assert.equal(after.get(s), before.get(s));
    }));
  });

  it("adding a host moves only the tenants it wins", () => {
    fc.assert(fc.property(slugsArb, hostsArb, fc.integer({ min: 1, max: 5 }), (slugs, hosts, w) => {
      const added = host("hnew", w);
      const before = placeAll(tenants(slugs), hosts);
      const after = placeAll(tenants(slugs), [...hosts, added]);
      for (const s of slugs) assert.ok(after.get(s) === before.get(s) || after.get(s) === "hnew", `${s} moved from ${before.get(s)} to ${after.get(s)}`);
    }));
  });

  it("a drained host keeps no tenant, and draining moves only its own tenants", () => {
    fc.assert(fc.property(slugsArb, hostsArb, fc.nat(), (slugs, hosts, pick) => {
      const live = hosts.filter((h) => !h.drain);
      fc.pre(live.length >= 2);
      const victim = live[pick % live.length];
      const before = placeAll(tenants(slugs), hosts);
      const drained = hosts.map((h) => (h.name === victim.name ? { ...h, drain: true } : h));
      const after = placeAll(tenants(slugs), drained);
      for (const s of slugs) {
        assert.notEqual(after.get(s), victim.name);
        for (const h of hosts.filter((x) => x.drain)) assert.notEqual(after.get(s), h.name);
        if (before.get(s) !== victim.name) assert.equal(after.get(s), before.get(s));
      }
    }));
  });

  it("a pin always wins, even over drain (validation refuses drained pins separately)", () => {
    fc.assert(fc.property(slugArb, hostsArb, fc.nat(), (slug, hosts, pick) => {
      const pinned = hosts[pick % hosts.length].name;
      assert.equal(placeTenant({ slug, pinnedHost: pinned }, hosts), pinned);
    }));
  });

  it("only compute hosts receive tenants", () => {
    const hosts = [host("edge", 1, false, ["edge"]), host("store", 1, false, ["storage"]), host("c1"), host("c2")];
    assert.deepEqual(eligibleHosts(hosts).map((h) => h.name), ["c1", "c2"]);
    for (let i = 0; i < 200; i++) assert.ok(["c1", "c2"].includes(placeTenant({ slug: `t${i}x` }, hosts)));
  });

  it("shares tenants in proportion to host weights", () => {
    const hosts = [host("a", 1), host("b", 3)];
    const slugs = Array.from({ length: 4000 }, (_, i) => `tenant-${i}`);
    const onB = [...placeAll(tenants(slugs), hosts).values()].filter((h) => h === "b").length / slugs.length;
    // Expected share 3/4; with 4000 draws the binomial standard deviation is under 0.007.
    assert.ok(Math.abs(onB - 0.75) < 0.03, `share on b = ${onB}`);
  });

  it("refuses to place when every compute host is drained", () => {
    assert.throws(() => placeTenant({ slug: "abc" }, [host("a", 1, true)]), /no compute host/);
  });

  it("finds a placed tenant's host, and refuses a placement on no host of the inventory", () => {
    const hosts = [host("a"), host("b")];
    assert.equal(placedHost("abc", new Map([["abc", "b"]]), hosts), hosts[1]);
    assert.throws(() => placedHost("abc", new Map([["abc", "gone"]]), hosts), /tenant abc: no placement on a known host/);
    assert.throws(() => placedHost("abc", new Map(), hosts), /no placement/);
  });
});
