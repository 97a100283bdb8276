// Sharded stacks: a platform stack `<stack>` owns hosts and shared services; tenant stacks `<stack>-<k>`
// (k = 0 … shards-1) own the tenants whose slug hashes to k. The hash is of the slug alone, so adding a
// tenant never moves another; changing the shard count does move tenants (see docs/scale.md).
import { createHash } from "node:crypto";

export function shardOf(slug: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`shard count must be a positive integer (got ${shards})`);
  const digest = createHash("sha256").update(slug).digest();
  // 48 bits of the hash: uniform enough, exact in a double, and modulo bias < 2^-30 for any count ≤ 256.
  return (digest.readUIntBE(0, 6)) % shards;
}

export type StackRole =
  | { kind: "whole"; stack: string }
  | { kind: "platform"; stack: string; shards: number }
  | { kind: "shard"; stack: string; platformStack: string; shard: number; shards: number };

/**
 * What a stack is, from its name and the shard count of the settings it uses:
 * `prod` with shards 0 → whole; `prod` with shards N → platform; `prod-3` (settings of `prod`, N > 3) → shard 3.
 */
export function stackRole(stack: string, settingsStack: string, shards: number): StackRole {
  if (stack === settingsStack) return shards > 0 ? { kind: "platform", stack, shards } : { kind: "whole", stack };
  const m = /^(.*)-(\d+)$/.exec(stack);
  if (!m || m[1] !== settingsStack) throw new Error(`stack ${stack} is neither ${settingsStack} nor one of its shards ${settingsStack}-<k>`);
  const shard = Number(m[2]);
  if (shards === 0) throw new Error(`stack ${stack} looks like a shard, but ${settingsStack} has shards: 0`);
  if (shard >= shards) throw new Error(`stack ${stack}: shard ${shard} does not exist (shards: ${shards})`);
  return { kind: "shard", stack, platformStack: settingsStack, shard, shards };
}

/** The stack whose settings file a stack reads: itself, or for `<base>-<k>` the base when Pulumi.<base>.yaml exists. */
export function settingsStackFor(stack: string, exists: (file: string) => boolean): string {
  if (exists(`Pulumi.${stack}.yaml`) && !/^(.*)-(\d+)$/.test(stack)) return stack;
  const m = /^(.*)-(\d+)$/.exec(stack);
  if (m && exists(`Pulumi.${m[1]}.yaml`)) return m[1];
  return stack;
}
