// Baseline: the bare Pulumi Node SDK under the same mocks, N trivial resources (RandomPassword) in
// components of 9, no program logic. Shows what the SDK itself costs per resource, to compare with bench/run.ts.
// npx tsx bench/baseline.ts 7000
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { runUnderMocks } from "../program/harness";
(async () => {
  const n = Number(process.argv[2]);
  const t0 = Date.now();
  await runUnderMocks({ stack: "staging", projectDir: require("path").join(__dirname, ".."), lean: true, program: () => {
    class C extends pulumi.ComponentResource { constructor(name: string) { super("x:y:C", name, {}, {}); for (let i = 0; i < 9; i++) new random.RandomPassword(`${name}-${i}`, { length: 16 }, { parent: this }); this.registerOutputs({}); } }
    for (let i = 0; i < n / 10; i++) new C(`c${i}`);
    return {};
  } });
  console.log(n, "resources", Date.now() - t0, "ms", Math.round(process.resourceUsage().maxRSS / 1024), "MB");
})();
