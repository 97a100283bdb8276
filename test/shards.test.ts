import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { settingsStackFor, shardOf, stackRole } from "../src/shards";

const slugArb = fc.stringMatching(/^[a-z][a-z0-9-]{1,20}[a-z0-9]$/);

describe("shard assignment", () => {
  it("is complete: every tenant is in exactly one shard in range", () => {
    fc.assert(fc.property(fc.uniqueArray(slugArb, { maxLength: 200 }), fc.integer({ min: 1, max: 64 }), (slugs, n) => {
      const seen = new Map<string, number>();
      for (let k = 0; k < n; k++) for (const s of slugs.filter((x) => shardOf(x, n) === k)) {
        assert.ok(!seen.has(s), `${s} in two shards`);
        seen.set(s, k);
      }
      assert.equal(seen.size, slugs.length);
    }));
  });

  it("is stable: depends on the slug alone, so adding tenants never moves another", () => {
    fc.assert(fc.property(fc.uniqueArray(slugArb, { minLength: 1, maxLength: 100 }), fc.integer({ min: 1, max: 64 }), (slugs, n) => {
      const before = slugs.map((s) => shardOf(s, n));
      const withMore = [...slugs, "zz-new-tenant"].map((s) => shardOf(s, n));
      assert.deepEqual(withMore.slice(0, slugs.length), before);
    }));
  });

  it("spreads tenants evenly", () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[shardOf(`tenant-${i}`, 8)]++;
    // 1000 expected per shard; binomial sd ≈ 30.
    for (const c of counts) assert.ok(Math.abs(c - 1000) < 150, `counts ${counts}`);
  });

  it("refuses a non-positive shard count", () => {
    assert.throws(() => shardOf("abc", 0), /positive/);
  });
});

describe("stack roles", () => {
  it("names: <stack> is whole or platform, <stack>-<k> a shard", () => {
    assert.deepEqual(stackRole("prod", "prod", 0), { kind: "whole", stack: "prod" });
    assert.deepEqual(stackRole("prod", "prod", 4), { kind: "platform", stack: "prod", shards: 4 });
    assert.deepEqual(stackRole("prod-3", "prod", 4), { kind: "shard", stack: "prod-3", platformStack: "prod", shard: 3, shards: 4 });
    assert.throws(() => stackRole("prod-4", "prod", 4), /does not exist/);
    assert.throws(() => stackRole("prod-1", "prod", 0), /shards: 0/);
    assert.throws(() => stackRole("other-1", "prod", 4), /neither/);
  });

  it("a shard reads its platform's settings file", () => {
    const files = new Set(["Pulumi.prod.yaml", "Pulumi.prod-2.yaml", "Pulumi.staging.yaml"]);
    const exists = (f: string) => files.has(f);
    assert.equal(settingsStackFor("prod", exists), "prod");
    assert.equal(settingsStackFor("prod-2", exists), "prod");
    assert.equal(settingsStackFor("staging", exists), "staging");
  });
});
