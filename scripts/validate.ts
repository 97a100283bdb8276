// npm run validate -- --stack <stack> [--tenants <dir>]
// Exit 0 when the stack settings and every tenant file are valid; else print one `path:line:col: message`
// line per problem (all of them) and exit 1. Needs no credentials and no Pulumi CLI.
import { readFactoryInputs } from "../src/inputs";
import { formatProblem } from "../src/types";
import { parseArgs, UsageError } from "./args";

function main(): number {
  let args;
  try {
    args = parseArgs(process.argv.slice(2), ["stack", "tenants"], []);
    if (!args.values.stack) throw new UsageError("--stack is required");
  } catch (e) {
    console.error(`usage: npm run validate -- --stack <stack> [--tenants <dir>]\n${(e as Error).message}`);
    return 2;
  }
  const { inputs, problems } = readFactoryInputs({ stack: args.values.stack, tenantsDir: args.values.tenants });
  if (problems.length > 0 || !inputs) {
    for (const p of problems) console.log(formatProblem(p));
    console.error(`${problems.length} problem(s); nothing would be deployed.`);
    return 1;
  }
  console.log(`stack ${args.values.stack}: settings valid, ${inputs.tenants.length} tenant(s) valid`);
  return 0;
}

process.exitCode = main();
