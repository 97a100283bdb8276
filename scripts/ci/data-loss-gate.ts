// Data-loss gate: fails when a `pulumi preview --json` output would delete or replace a stateful resource
// (database, role, volume, generated password, realm, group, Garage bucket or key), unless the pull
// request carries the `allow-data-loss` label (the workflow passes ALLOW_DATA_LOSS=true then).
//
//   tsx scripts/ci/data-loss-gate.ts [--report gate.md] <label>=<preview.json> [...]
//
// Exit 0: nothing stateful destroyed, or allowed by the label. Exit 1: blocked, or a preview file is
// missing/unreadable (fails closed). Exit 2: usage.
import * as fs from "node:fs";
import { runGate } from "../../src/ci/preview";

function main(argv: string[]): number {
  let report: string | undefined;
  const inputs: { label: string; file: string }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") continue;
    if (a === "--report") {
      report = argv[++i];
      if (!report) return usage("--report needs a file");
    } else if (/^[^=]+=.+$/.test(a)) {
      const eq = a.indexOf("=");
      inputs.push({ label: a.slice(0, eq), file: a.slice(eq + 1) });
    } else {
      return usage(`unknown argument ${a}`);
    }
  }
  if (inputs.length === 0) return usage("no preview given");
  const allow = /^(1|true|yes)$/i.test(process.env.ALLOW_DATA_LOSS ?? "");
  const result = runGate(
    inputs.map((i) => ({ label: i.label, text: fs.existsSync(i.file) ? fs.readFileSync(i.file, "utf8") : undefined })),
    allow,
  );
  if (report) fs.writeFileSync(report, `${result.markdown}\n`);
  console.log(result.markdown);
  return result.pass ? 0 : 1;
}

function usage(message: string): number {
  console.error(`usage: data-loss-gate [--report <file.md>] <label>=<preview.json> [...]  (env ALLOW_DATA_LOSS=true to allow)\n${message}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
