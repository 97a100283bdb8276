// Writes the pipeline's PR comment (one per PR, found by a hidden marker and edited in place).
//
//   tsx scripts/ci/pr-comment.ts --dir <ci-out> --stacks staging,prod [--gate gate.md] [--post]
//
// Reads, per stack, <dir>/<stack>.preview.json, <dir>/<stack>.preview.rc, <dir>/<stack>.preview.err and
// <dir>/<stack>.plan.txt (written by scripts/ci/preview.sh). Without --post it prints the body. With --post
// it creates or edits the comment on PR $PR_NUMBER through the forge API: FORGE_KIND (github|forgejo),
// FORGE_API_URL, FORGE_TOKEN, FORGE_REPOSITORY (owner/name).
import * as fs from "node:fs";
import * as path from "node:path";
import { commentBody, StackReport } from "../../src/ci/comment";
import { forgeFromEnv, upsertComment } from "../../src/ci/forge";

function read(file: string): string | undefined {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
}

export function loadReports(dir: string, stacks: string[]): StackReport[] {
  return stacks.map((stack) => {
    const rc = read(path.join(dir, `${stack}.preview.rc`));
    return {
      stack,
      previewJson: read(path.join(dir, `${stack}.preview.json`)),
      previewExit: rc === undefined ? undefined : Number(rc.trim()),
      previewStderr: read(path.join(dir, `${stack}.preview.err`)),
      planText: read(path.join(dir, `${stack}.plan.txt`)),
    };
  });
}

async function main(argv: string[]): Promise<number> {
  let dir: string | undefined;
  let stacks: string[] = [];
  let gate: string | undefined;
  let post = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") continue;
    else if (a === "--dir") dir = argv[++i];
    else if (a === "--stacks") stacks = (argv[++i] ?? "").split(",").filter(Boolean);
    else if (a === "--gate") gate = argv[++i];
    else if (a === "--post") post = true;
    else {
      console.error(`unknown argument ${a}`);
      return 2;
    }
  }
  if (!dir || stacks.length === 0) {
    console.error("usage: pr-comment --dir <ci-out> --stacks staging,prod [--gate gate.md] [--post]");
    return 2;
  }
  const runUrl = process.env.GITHUB_SERVER_URL && process.env.GITHUB_REPOSITORY && process.env.GITHUB_RUN_ID
    ? `${process.env.GITHUB_SERVER_URL}/${process.env.GITHUB_REPOSITORY}/actions/runs/${process.env.GITHUB_RUN_ID}`
    : undefined;
  const body = commentBody({ stacks: loadReports(dir, stacks), gateMarkdown: gate ? read(gate)?.trim() : undefined, commit: process.env.HEAD_SHA, runUrl });
  if (!post) {
    process.stdout.write(body);
    return 0;
  }
  const pr = Number(process.env.PR_NUMBER);
  if (!Number.isInteger(pr) || pr <= 0) {
    console.error("PR_NUMBER is not set to a pull request number");
    return 2;
  }
  const res = await upsertComment(forgeFromEnv(), pr, body);
  console.log(`comment ${res.action} (id ${res.id}) on #${pr}`);
  return 0;
}

main(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e) => { console.error((e as Error).message); process.exitCode = 1; });
