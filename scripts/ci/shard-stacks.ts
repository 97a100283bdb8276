// Prints the shard stacks of one or more stacks, for the CI matrices (docs/pipeline.md):
//
//   tsx scripts/ci/shard-stacks.ts [--dir <dir>] [--with-base] [--csv] <stack>...
//
// The shard count is read from <dir>/Pulumi.<stack>.yaml (default dir: the current directory) with the
// program's own settings loader (src/settings.ts), so an invalid stack file fails here as it would in
// `npm run validate`. Output: one line, a JSON array (`[]` when unsharded), e.g. `["prod-0","prod-1"]`;
// --with-base puts each stack before its shards; --csv prints `prod,prod-0,prod-1` instead of JSON.
import * as path from "node:path";
import { shardStackNames, stackList } from "../../src/ci/shardStacks";
import { loadStackFile } from "../../src/settings";
import { formatProblem } from "../../src/types";

function main(argv: string[]): number {
  let dir = ".";
  let withBase = false;
  let csv = false;
  const stacks: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") continue;
    else if (a === "--dir") dir = argv[++i] ?? "";
    else if (a === "--with-base") withBase = true;
    else if (a === "--csv") csv = true;
    else if (a.startsWith("-")) return usage(`unknown option ${a}`);
    else stacks.push(a);
  }
  if (stacks.length === 0 || !dir) return usage("a stack is required");
  const bases: { stack: string; shards: number }[] = [];
  for (const stack of stacks) {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    const { settings, problems } = loadStackFile(stack, file, `Pulumi.${stack}.yaml`);
    if (!settings || problems.length > 0) {
      for (const p of problems) console.error(formatProblem(p));
      console.error(`shard-stacks: cannot read the shard count of ${stack}`);
      return 1;
    }
    shardStackNames(stack, settings.shards); // validates the count
    bases.push({ stack, shards: settings.shards });
  }
  const list = stackList(bases, withBase);
  console.log(csv ? list.join(",") : JSON.stringify(list));
  return 0;
}

function usage(message: string): number {
  console.error(`usage: shard-stacks [--dir <dir>] [--with-base] [--csv] <stack>...\n${message}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
