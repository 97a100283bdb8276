// npm run plan -- --stack <stack> [--tenants <dir>] [--json]
// Runs the real program under Pulumi's mocks with the stack's settings (secrets replaced by placeholders)
// and prints what it would register, grouped by tenant. Needs no credentials and no Pulumi CLI.
import * as fs from "node:fs";
import { runUnderMocks } from "../program/harness";
import { settingsStackFor } from "../src/shards";
import { planJson, planText } from "../program/plan";
import { formatProblem, ValidationError } from "../src/types";
import { parseArgs, UsageError } from "./args";

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2), ["stack", "tenants"], ["json"]);
    if (!args.values.stack) throw new UsageError("--stack is required");
  } catch (e) {
    console.error(`usage: npm run plan -- --stack <stack> [--tenants <dir>] [--json]\n${(e as Error).message}`);
    return 2;
  }
  try {
    const stack = args.values.stack;
    // A tenant shard reads its platform stack: plan the platform first (under mocks too) and serve its outputs.
    const settingsStack = settingsStackFor(stack, (f) => fs.existsSync(f));
    const stackOutputs = settingsStack !== stack
      ? { [settingsStack]: (await runUnderMocks({ stack: settingsStack, tenantsDir: args.values.tenants })).outputs as Record<string, unknown> }
      : undefined;
    const result = await runUnderMocks({ stack, tenantsDir: args.values.tenants, stackOutputs });
    console.log(args.flags.has("json") ? JSON.stringify(planJson(result), null, 2) : planText(result));
    return 0;
  } catch (e) {
    if (e instanceof ValidationError) {
      for (const p of e.problems) console.log(formatProblem(p));
      console.error(`${e.problems.length} problem(s); no resource registered.`);
      return 1;
    }
    throw e;
  }
}

main().then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 1; });
