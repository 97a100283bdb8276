// `pulumi preview` of every stack with the real engine: the Pulumi CLI, the Node.js language host (which
// compiles the program to CommonJS with ts-node, unlike tsx), the real provider plugins and the policy
// pack, on a fresh stack in a file backend with throwaway secrets. The stacks' hosts are not reachable
// from a test (and must not be dialled), and the Docker provider connects when it is configured: each
// host's `docker:` endpoint is pointed at a scratch dockerd the test starts, nothing else changes.
// It proves what the mocks cannot: the program loads as the language host loads it, every provider
// accepts its inputs (Check), and unknown secrets survive a preview.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseDocument, YAMLMap, YAMLSeq } from "yaml";
import { runUnderMocks } from "../../program/harness";
import { Dockerd, dockerdUnavailable, startDockerd } from "../../scripts/lab/dockerd";
import { diagnostics, findEngine, makeProject, Project, ROOT } from "../../scripts/lab/engine";

const engine = findEngine();
const projects: Project[] = [];
const skip = typeof engine === "string" ? engine : dockerdUnavailable() ?? false;
let dockerd: Dockerd | undefined;

/** The stack file with every host's Docker endpoint replaced (comments and everything else kept). */
export function withDockerEndpoint(stackFileText: string, endpoint: string): string {
  const doc = parseDocument(stackFileText);
  const hosts = doc.getIn(["config", "service-factory:hosts"]) as YAMLSeq<YAMLMap> | undefined;
  for (const h of hosts?.items ?? []) h.set("docker", endpoint);
  return doc.toString();
}

interface PreviewStep {
  op: string;
  urn: string;
  newState?: { type?: string };
}

/** `type::name` of a URN (its last qualified type and its name). */
function typeAndName(urn: string): string {
  const [, , qualifiedType, ...name] = urn.split("::");
  return `${qualifiedType.split("$").pop()}::${name.join("::")}`;
}

describe("pulumi preview with the real engine, every stack", { skip }, () => {
  before(async () => { dockerd = await startDockerd({ name: "preview", addressPool: "10.219.0.0/16" }); });
  after(async () => {
    for (const p of projects) p.remove();
    await dockerd?.stop();
  });

  for (const stack of ["dev", "staging", "prod"]) {
    it(`${stack}: previews every resource the mocks register, policy pack included`, { timeout: 15 * 60_000 }, async () => {
      if (typeof engine === "string") return;
      const file = `Pulumi.${stack}.yaml`;
      const text = withDockerEndpoint(fs.readFileSync(path.join(ROOT, file), "utf8"), dockerd!.host);
      const project = makeProject(engine, { name: `preview-${stack}`, stackFiles: { [file]: text } });
      projects.push(project);
      await project.initStack(stack);
      const r = await project.run(["preview", "--stack", stack, "--policy-pack", "policy", "--json"]);
      assert.equal(r.code, 0, `pulumi preview --stack ${stack} failed:\n${diagnostics(r)}`);
      const preview = JSON.parse(r.stdout) as { steps: PreviewStep[]; changeSummary: Record<string, number> };
      // The major-version guard reads the stack's own last outputs first (a read, once; src/majors.ts).
      const guard = preview.steps.filter((s) => s.op === "read" && s.urn.endsWith("::pulumi:pulumi:StackReference::previous-deployment"));
      assert.equal(guard.length, 1, "the guard's read of the previous deployment");
      const creates = preview.steps.filter((s) => s.op === "create");
      assert.equal(creates.length, preview.steps.length - 1, `a fresh stack only creates: ${JSON.stringify(preview.changeSummary)}`);
      // Same program under the mocks: the engine must register exactly the same resources, by type and
      // name (the mocks' URNs carry only the parent's type, the engine's the whole chain of ancestors).
      const mocked = await runUnderMocks({ stack, projectDir: project.dir });
      const engineIds = creates.map((s) => typeAndName(s.urn)).filter((u) => u !== "pulumi:pulumi:Stack::service-factory-" + stack).sort();
      const mockIds = mocked.resources.map((x) => typeAndName(x.urn)).sort();
      assert.deepEqual(engineIds, mockIds);
      assert.ok(engineIds.length > 50, `${stack}: ${engineIds.length} resources`);
    });
  }
});
