// Prints `allow_data_loss=true|false` for the pull request merged as commit $1 (push to main), so the deploy
// job applies the same data-loss gate as the PR: destruction of stateful resources only with the label.
// Uses FORGE_KIND, FORGE_API_URL, FORGE_TOKEN, FORGE_REPOSITORY. Append the output to $GITHUB_OUTPUT.
import { forgeFromEnv, mergedPullLabels } from "../../src/ci/forge";

async function main(sha: string | undefined): Promise<number> {
  if (!sha) {
    console.error("usage: merged-pr-labels <commit-sha>");
    return 2;
  }
  const labels = await mergedPullLabels(forgeFromEnv(), sha);
  console.log(`allow_data_loss=${labels.includes(process.env.DATA_LOSS_LABEL ?? "allow-data-loss")}`);
  return 0;
}

main(process.argv[2]).then((c) => { process.exitCode = c; }, (e) => { console.error((e as Error).message); process.exitCode = 1; });
