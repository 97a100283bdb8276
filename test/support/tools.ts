// Finding the command-line tools the tests drive: the lab cache's bin first (scripts/lab/install-test-tools.sh),
// then the PATH. A required tool missing fails the test under CI and skips it elsewhere, saying how to get it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const LAB_BIN = path.join(process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory"), "bin");

export function which(cmd: string): string | undefined {
  const local = path.join(LAB_BIN, cmd);
  if (fs.existsSync(local)) return local;
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A required tool: the test fails under CI when it is missing, else it is skipped with a message. */
export function requireTool(t: { skip(msg: string): void }, cmd: string): string | undefined {
  const found = which(cmd);
  if (!found) {
    if (process.env.CI) assert.fail(`${cmd} is required (run scripts/lab/install-test-tools.sh)`);
    t.skip(`${cmd} not installed (run scripts/lab/install-test-tools.sh)`);
  }
  return found;
}
