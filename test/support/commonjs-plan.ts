// Runs the whole program under mocks for the stacks given on the command line and prints, per stack, the
// sorted `type::name` of every resource. Loaded through commonjs-register.js (the language host's loader).
import { runUnderMocks } from "../../program/harness";

async function main(): Promise<void> {
  const out: Record<string, string[]> = {};
  for (const stack of process.argv.slice(2)) {
    const r = await runUnderMocks({ stack });
    out[stack] = r.resources.map((x) => `${x.type}::${x.name}`).sort();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && (err as Error).stack ? (err as Error).stack : err));
  process.exit(1);
});
