// The shard stacks CI previews and deploys after a platform stack (issue 7, src/shards.ts): for a stack whose
// settings say `shards: N` (N > 0), the stacks `<stack>-0` … `<stack>-(N-1)`; none for an unsharded stack.
// Pure; scripts/ci/shard-stacks.ts reads the shard count with the settings loader.

/** `<stack>-0` … `<stack>-(shards-1)`; `[]` when shards is 0. */
export function shardStackNames(stack: string, shards: number): string[] {
  if (!Number.isInteger(shards) || shards < 0) throw new Error(`shard count of ${stack} must be an integer ≥ 0 (got ${shards})`);
  return Array.from({ length: shards }, (_, k) => `${stack}-${k}`);
}

/** The list for several base stacks, in order; with `withBase`, each base stack precedes its shards. */
export function stackList(bases: { stack: string; shards: number }[], withBase: boolean): string[] {
  return bases.flatMap((b) => [...(withBase ? [b.stack] : []), ...shardStackNames(b.stack, b.shards)]);
}
