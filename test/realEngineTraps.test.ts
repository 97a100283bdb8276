// What the real engine and its providers refuse and the mocks accept, checked over every stack's whole
// program so that no later change brings one back:
// - the program loaded as the Pulumi language host loads it (ts-node, CommonJS) registers exactly what it
//   registers under tsx (a local named `exports` once crashed `pulumi preview`);
// - no Command has a secret in `triggers` (an unknown secret there fails every preview: "malformed secret:
//   missing value");
// - no Container has an empty string in `command`, `entrypoints` or `envs` (the Docker provider refuses them);
// - every healthcheck duration is spelled as Go prints it ("1m0s", not "60s"): the provider stores what
//   Docker reads back, so another spelling is a change on every `pulumi up`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { runUnderMocks } from "../program/harness";

const STACKS = ["dev", "staging", "prod"];

/** Go's time.Duration.String() of a whole number of seconds. */
function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** Seconds of a duration written with h/m/s units, or NaN. */
function durationSeconds(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  if (!m || d === "") return NaN;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}
const root = path.resolve(__dirname, "..");

/** Paths (a.b[2]) of every secret-wrapped value inside `v`. */
function secretPaths(v: unknown, at = ""): string[] {
  if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "secret" in v) return [at];
  if (Array.isArray(v)) return v.flatMap((x, i) => secretPaths(x, `${at}[${i}]`));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => secretPaths(x, at ? `${at}.${k}` : k));
  return [];
}

describe("traps of the real engine, over every stack", () => {
  it("goDuration spells durations as Go does", () => {
    assert.deepEqual([5, 59, 60, 90, 120, 3600, 3725].map(goDuration), ["5s", "59s", "1m0s", "1m30s", "2m0s", "1h0m0s", "1h2m5s"]);
    assert.ok(Number.isNaN(durationSeconds("5x")));
  });

  it("the program loaded the language host's way (ts-node, CommonJS) registers exactly what tsx registers", async () => {
    const r = spawnSync(process.execPath, ["-r", path.join(root, "test", "support", "commonjs-register.js"), path.join(root, "test", "support", "commonjs-plan.ts"), ...STACKS], {
      cwd: root, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" }, maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, `the program failed under the language host's loader:\n${r.stderr.slice(-4000)}`);
    const commonjs = JSON.parse(r.stdout) as Record<string, string[]>;
    for (const stack of STACKS) {
      const viaTsx = (await runUnderMocks({ stack })).resources.map((x) => `${x.type}::${x.name}`).sort();
      assert.ok(viaTsx.length > 50, stack);
      assert.deepEqual(commonjs[stack], viaTsx, stack);
    }
  });

  for (const stack of STACKS) {
    it(`${stack}: no secret in any Command's triggers, no empty string in any Container's command, entrypoints or envs`, async () => {
      const { resources } = await runUnderMocks({ stack });
      const commands = resources.filter((x) => x.type === "command:local:Command" || x.type === "command:remote:Command");
      assert.ok(commands.length > 0);
      const secretTriggers = commands.flatMap((c) => secretPaths(c.inputs.triggers ?? [], "triggers").map((p) => `${c.name}: ${p}`));
      assert.deepEqual(secretTriggers, []);
      const containers = resources.filter((x) => x.type === "docker:index/container:Container");
      assert.ok(containers.length > 0);
      const empty = containers.flatMap((c) => (["command", "entrypoints", "envs"] as const).flatMap((k) => {
        const list = c.inputs[k];
        return Array.isArray(list) ? list.flatMap((v, i) => (v === "" ? [`${c.name}.${k}[${i}]`] : [])) : [];
      }));
      assert.deepEqual(empty, []);
      const durations = containers.flatMap((c) => {
        const hc = c.inputs.healthcheck as Record<string, unknown> | undefined;
        return (["interval", "timeout", "startPeriod", "startInterval"] as const)
          .filter((k) => typeof hc?.[k] === "string")
          .map((k) => ({ at: `${c.name}.healthcheck.${k}`, value: hc![k] as string }));
      });
      assert.ok(durations.length > 0);
      const misspelt = durations.filter((d) => d.value !== goDuration(durationSeconds(d.value)));
      assert.deepEqual(misspelt, []);
    });
  }
});
