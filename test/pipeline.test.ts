// The CI pipeline: every workflow file passes actionlint; the workflows keep their invariants (one deployment
// at a time, staging before prod, the label wired into the data-loss gate, the same steps on GitHub and
// Forgejo); the data-loss gate on `pulumi preview --json` samples; the PR comment is created once and then
// edited in place (against a local stand-in for the GitHub/Forgejo API); the CI shell scripts with a fake
// `pulumi` on PATH.
import assert from "node:assert/strict";
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { commentBody } from "../src/ci/comment";
import { COMMENT_MARKER, ForgeOptions, mergedPullLabels, upsertComment } from "../src/ci/forge";
import { shardStackNames, stackList } from "../src/ci/shardStacks";
import { dataLossFindings, parsePreview, PreviewFormatError, runGate, typeFromUrn } from "../src/ci/preview";
import { requireTool, which } from "./support/tools";

const root = path.resolve(__dirname, "..");
const fixture = (name: string) => path.join(root, "test", "fixtures", "preview", `${name}.json`);
const readFixture = (name: string) => fs.readFileSync(fixture(name), "utf8");
const WORKFLOW_DIRS = [".github/workflows", ".forgejo/workflows"];


type Step = { name?: string; uses?: string; run?: string; id?: string; if?: string; env?: Record<string, string>; with?: Record<string, unknown> };
type Job = { needs?: string | string[]; if?: string; steps: Step[]; environment?: string; "runs-on": string; outputs?: Record<string, string>;
  strategy?: { "fail-fast"?: boolean; "max-parallel"?: number | string; matrix?: Record<string, unknown> } };
type Workflow = { on: Record<string, { types?: string[]; branches?: string[] } | null>; concurrency?: { group: string; "cancel-in-progress": boolean }; jobs: Record<string, Job> };
const workflow = (dir: string, file: string): Workflow => parse(fs.readFileSync(path.join(root, dir, file), "utf8")) as Workflow;

describe("workflow files", () => {
  it("both forges have the preview, deploy and images workflows, and nothing else", () => {
    for (const dir of WORKFLOW_DIRS) assert.deepEqual(fs.readdirSync(path.join(root, dir)).sort(), ["deploy.yml", "images.yml", "preview.yml"], dir);
  });

  it("every workflow file passes actionlint (with shellcheck on run: scripts)", (t) => {
    const actionlint = requireTool(t, "actionlint");
    if (!actionlint) return;
    for (const dir of WORKFLOW_DIRS) {
      for (const f of fs.readdirSync(path.join(root, dir))) {
        const r: SpawnSyncReturns<string> = spawnSync(actionlint, ["-no-color", "-config-file", ".github/actionlint.yaml", path.join(dir, f)], { cwd: root, encoding: "utf8" });
        assert.equal(r.status, 0, `${dir}/${f}:\n${r.stdout}${r.stderr}`);
        assert.equal(r.stdout, "");
      }
    }
  });

  it("actionlint does catch a broken workflow (the lint can fail)", (t) => {
    const actionlint = requireTool(t, "actionlint");
    if (!actionlint) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-actionlint-"));
    try {
      const broken = fs.readFileSync(path.join(root, ".github/workflows/deploy.yml"), "utf8")
        .replace("needs: staging", "needs: stagging")
        .replace("${{ steps.labels.outputs.allow_data_loss }}", "${{ steps.labels.outputs.allow_data_loss }");
      fs.writeFileSync(path.join(dir, "deploy.yml"), broken);
      const r = spawnSync(actionlint, ["-no-color", "-config-file", path.join(root, ".github/actionlint.yaml"), path.join(dir, "deploy.yml")], { encoding: "utf8" });
      assert.equal(r.status, 1);
      assert.match(r.stdout, /stagging/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const SHARD_PARALLELISM = "${{ fromJSON(vars.SHARD_PARALLELISM || '4') }}";

  /** A shard matrix job: after `platformJob`, skipped on `[]`, one entry per name of its `shards` output. */
  function assertShardMatrix(w: Workflow, job: string, platformJob: string) {
    const j = w.jobs[job];
    assert.ok(j, job);
    assert.equal(j.needs, platformJob, `${job} runs after the platform job`);
    assert.equal(j.if, `needs.${platformJob}.outputs.shards != '[]'`, `${job} is skipped when unsharded`);
    assert.deepEqual(j.strategy, { "fail-fast": false, "max-parallel": SHARD_PARALLELISM, matrix: { stack: `\${{ fromJSON(needs.${platformJob}.outputs.shards) }}` } });
    assert.deepEqual(w.jobs[platformJob].outputs, { shards: "${{ steps.shards.outputs.shards }}" });
    const list = w.jobs[platformJob].steps.find((s) => s.id === "shards");
    assert.match(list?.run ?? "", /^echo "shards=\$\(npx tsx scripts\/ci\/shard-stacks\.ts [a-z ]+\)" >> "\$GITHUB_OUTPUT"$/);
  }

  for (const dir of WORKFLOW_DIRS) {
    it(`${dir}/deploy.yml: push to main, one deployment at a time, staging → staging shards → prod → prod shards through deploy.sh with the label`, () => {
      const w = workflow(dir, "deploy.yml");
      assert.deepEqual(w.on.push?.branches, ["main"]);
      assert.deepEqual(w.concurrency, { group: "deploy", "cancel-in-progress": false });
      assert.deepEqual(Object.keys(w.jobs), ["staging", "staging-shards", "prod", "prod-shards"]);
      assert.deepEqual(w.jobs.prod.needs, ["staging", "staging-shards"]);
      assert.equal(w.jobs.prod.if, "${{ !cancelled() && needs.staging.result == 'success' && (needs.staging-shards.result == 'success' || needs.staging-shards.result == 'skipped') }}",
        "prod waits for every staging shard, and still runs when staging is unsharded (matrix skipped)");
      assert.equal(w.jobs.staging.needs, undefined);
      for (const stack of ["staging", "prod"]) {
        assertShardMatrix(w, `${stack}-shards`, stack);
        assert.equal(w.jobs[stack].steps.find((s) => s.id === "shards")?.run, `echo "shards=$(npx tsx scripts/ci/shard-stacks.ts ${stack})" >> "$GITHUB_OUTPUT"`);
        if (dir === ".github/workflows") for (const job of [stack, `${stack}-shards`]) assert.equal(w.jobs[job].environment, stack);
        for (const job of [stack, `${stack}-shards`]) {
          const steps = w.jobs[job].steps;
          const labels = steps.find((s) => s.id === "labels");
          assert.match(labels?.run ?? "", /scripts\/ci\/merged-pr-labels\.ts "\$GITHUB_SHA" >> "\$GITHUB_OUTPUT"/);
          const deploy = steps.filter((s) => s.run?.includes("scripts/ci/deploy.sh"));
          assert.equal(deploy.length, 1);
          if (job === stack) {
            assert.equal(deploy[0].run, `bash scripts/ci/deploy.sh ${stack} ci-out`);
            assert.ok(steps.findIndex((s) => s.id === "shards") < steps.indexOf(deploy[0]));
          } else {
            assert.equal(deploy[0].run, 'bash scripts/ci/deploy.sh "$STACK" ci-out');
            assert.equal(deploy[0].env?.STACK, "${{ matrix.stack }}");
          }
          assert.equal(deploy[0].env?.ALLOW_DATA_LOSS, "${{ steps.labels.outputs.allow_data_loss }}");
          assert.ok(steps.indexOf(labels!) < steps.indexOf(deploy[0]));
          assert.ok(!steps.some((s) => /pulumi (up|destroy)/.test(s.run ?? "")), "pulumi up only through deploy.sh (gate first)");
        }
      }
    });

    it(`${dir}/preview.yml: tests, validation, platform previews, shard matrix, gate with the label over all, one comment, failure at the end`, () => {
      const w = workflow(dir, "preview.yml");
      assert.deepEqual(w.on.pull_request?.types, ["opened", "synchronize", "reopened", "labeled", "unlabeled"]);
      assert.deepEqual(Object.keys(w.jobs), ["preview", "preview-shards", "report"]);
      const inOrder = (steps: Step[], res: RegExp[]) => {
        const runs = steps.map((s) => s.run ?? "");
        const order = res.map((re) => {
          const i = runs.findIndex((r) => re.test(r));
          assert.ok(i >= 0, String(re));
          return i;
        });
        assert.deepEqual([...order].sort((a, b) => a - b), order, "steps in order");
      };
      const steps = w.jobs.preview.steps;
      assert.equal(steps.find((s) => s.uses?.startsWith("actions/setup-node"))?.with?.["node-version"], 20);
      inOrder(steps, [/^npm ci$/, /^bash scripts\/test\.sh unit$/, /npm run validate -- --stack staging\nnpm run validate -- --stack prod/,
        /shard-stacks\.ts staging prod\)/, /^bash scripts\/ci\/preview\.sh staging ci-out$/, /^bash scripts\/ci\/preview\.sh prod ci-out$/]);
      assertShardMatrix(w, "preview-shards", "preview");
      const shardSteps = w.jobs["preview-shards"].steps;
      const shardPreview = shardSteps.find((s) => s.run?.includes("preview.sh"))!;
      assert.equal(shardPreview.run, 'bash scripts/ci/preview.sh "$STACK" ci-out');
      assert.equal(shardPreview.env?.STACK, "${{ matrix.stack }}");
      // Every preview job keeps its outputs under one artifact prefix; the report job merges them.
      const artifact = (ss: Step[]) => ss.find((s) => s.uses === "actions/upload-artifact@v4");
      assert.equal(artifact(steps)?.with?.name, "preview-${{ github.event.pull_request.number }}-platform");
      assert.equal(artifact(shardSteps)?.with?.name, "preview-${{ github.event.pull_request.number }}-${{ matrix.stack }}");
      assert.equal(artifact(shardSteps)?.if, "always()");

      const report = w.jobs.report;
      assert.deepEqual(report.needs, ["preview", "preview-shards"]);
      assert.equal(report.if, "${{ !cancelled() && needs.preview.result != 'skipped' }}");
      const rs = report.steps;
      assert.deepEqual(rs.find((s) => s.uses === "actions/download-artifact@v4")?.with, { pattern: "preview-${{ github.event.pull_request.number }}-*", path: "ci-out/", "merge-multiple": true });
      inOrder(rs, [/^npm ci$/, /shard-stacks\.ts --with-base --csv staging prod\)/, /data-loss-gate\.ts --report ci-out\/gate\.md "\$\{args\[@\]\}"/,
        /pr-comment\.ts --dir ci-out --stacks "\$\{STACK_LIST:-staging,prod\}" --gate ci-out\/gate\.md --post$/, /GATE_OUTCOME/]);
      assert.ok(rs.findIndex((s) => s.uses === "actions/download-artifact@v4") < rs.findIndex((s) => s.id === "gate"));
      const gate = rs.find((s) => s.id === "gate")!;
      assert.equal(gate.env?.ALLOW_DATA_LOSS, "${{ contains(github.event.pull_request.labels.*.name, 'allow-data-loss') }}");
      assert.equal(gate.env?.STACK_LIST, "${{ steps.stacks.outputs.list }}");
      assert.equal((gate as Step & { "continue-on-error"?: boolean })["continue-on-error"], true, "the comment is still posted");
      const comment = rs.find((s) => s.run?.includes("pr-comment.ts"))!;
      assert.equal(comment.if, "always()");
      assert.equal(comment.env?.PR_NUMBER, "${{ github.event.pull_request.number }}");
      const last = rs[rs.length - 1];
      assert.equal(last.if, "always()");
      assert.equal(last.env?.GATE_OUTCOME, "${{ steps.gate.outcome }}");
      assert.equal(last.env?.SHARDS_RESULT, "${{ needs.preview-shards.result }}");
      assert.match(last.run ?? "", /preview\.rc/);
    });
  }

  it("GitHub and Forgejo run the same commands; only the CLI install and forge API differ", () => {
    for (const file of ["preview.yml", "deploy.yml"]) {
      const gh = workflow(".github/workflows", file);
      const fj = workflow(".forgejo/workflows", file);
      for (const job of Object.keys(gh.jobs)) {
        const cmds = (w: Workflow) => w.jobs[job].steps.map((s) => s.run).filter((r): r is string => !!r && !/pulumi version/.test(r));
        assert.deepEqual(cmds(fj), cmds(gh), `${file} ${job}`);
        const usesPulumi = gh.jobs[job].steps.some((s) => /scripts\/ci\/(preview|deploy)\.sh/.test(s.run ?? ""));
        assert.equal(gh.jobs[job].steps.some((s) => s.uses === "pulumi/actions@v6"), usesPulumi, `${file} ${job}: GitHub installs the CLI with pulumi/actions@v6 where it runs pulumi`);
        assert.equal(fj.jobs[job].steps.some((s) => /pulumi version/.test(s.run ?? "")), usesPulumi, `${file} ${job}: Forgejo checks the image's CLI where it runs pulumi`);
        assert.ok(!fj.jobs[job].steps.some((s) => s.uses?.startsWith("pulumi/")), "Forgejo: the runner image provides the CLI");
        assert.equal(fj.jobs[job]["runs-on"], "pulumi");
        const forge = (w: Workflow) => w.jobs[job].steps.map((s) => s.env?.FORGE_KIND).filter(Boolean);
        assert.ok(forge(gh).every((k) => k === "github") && forge(fj).every((k) => k === "forgejo"));
        assert.equal(forge(gh).length, forge(fj).length);
        assert.equal(fj.jobs[job].strategy === undefined, gh.jobs[job].strategy === undefined);
        assert.deepEqual(fj.jobs[job].strategy, gh.jobs[job].strategy, `${file} ${job}: same matrix`);
        assert.deepEqual([fj.jobs[job].needs, fj.jobs[job].if, fj.jobs[job].outputs], [gh.jobs[job].needs, gh.jobs[job].if, gh.jobs[job].outputs], `${file} ${job}: same order`);
      }
      assert.deepEqual(fj.concurrency, gh.concurrency);
      assert.deepEqual(fj.on, gh.on);
      assert.deepEqual(Object.keys(fj.jobs), Object.keys(gh.jobs));
      const forgeSteps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps).filter((s) => s.env?.FORGE_KIND).length;
      assert.ok(forgeSteps(gh) > 0, `${file}: the forge API is used`);
    }
  });

  it("the CI shell scripts pass shellcheck", (t) => {
    const shellcheck = requireTool(t, "shellcheck");
    if (!shellcheck) return;
    const files = fs.readdirSync(path.join(root, "scripts/ci")).filter((f) => f.endsWith(".sh")).map((f) => path.join("scripts/ci", f));
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), ["build-images.sh", "deploy.sh", "preview.sh", "ssh-setup.sh"]);
    const r = spawnSync(shellcheck, files, { cwd: root, encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout);
  });
});

describe("shard stacks for the CI matrices (scripts/ci/shard-stacks.ts)", () => {
  let dir = "";
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-shards-"));
    const staging = fs.readFileSync(path.join(root, "Pulumi.staging.yaml"), "utf8");
    assert.doesNotMatch(staging, /service-factory:shards:/);
    fs.writeFileSync(path.join(dir, "Pulumi.big.yaml"), staging.replace(/^config:\n/m, "config:\n  service-factory:shards: 3\n"));
    fs.writeFileSync(path.join(dir, "Pulumi.bad.yaml"), staging.replace(/^config:\n/m, "config:\n  service-factory:shards: -1\n"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "scripts/ci/shard-stacks.ts", ...args], { cwd: root, encoding: "utf8" });

  it("names shards <stack>-0 … <stack>-(N-1), none when unsharded", () => {
    assert.deepEqual(shardStackNames("prod", 0), []);
    assert.deepEqual(shardStackNames("prod", 3), ["prod-0", "prod-1", "prod-2"]);
    assert.throws(() => shardStackNames("prod", -1), /integer ≥ 0/);
    assert.deepEqual(stackList([{ stack: "staging", shards: 2 }, { stack: "prod", shards: 0 }], true), ["staging", "staging-0", "staging-1", "prod"]);
    assert.deepEqual(stackList([{ stack: "staging", shards: 2 }, { stack: "prod", shards: 1 }], false), ["staging-0", "staging-1", "prod-0"]);
  });

  it("prints [] for the unsharded staging and prod stack files of the repository", () => {
    for (const args of [["staging"], ["prod"], ["staging", "prod"]]) {
      const r = cli(args);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "[]\n");
    }
    const r = cli(["--with-base", "--csv", "staging", "prod"]);
    assert.equal(r.stdout, "staging,prod\n");
  });

  it("reads shards: 3 from a stack file with the settings loader", () => {
    const r = cli(["--dir", dir, "big"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '["big-0","big-1","big-2"]\n');
    assert.deepEqual(JSON.parse(r.stdout), ["big-0", "big-1", "big-2"]);
    assert.equal(cli(["--dir", dir, "--with-base", "--csv", "big"]).stdout, "big,big-0,big-1,big-2\n");
  });

  it("fails on an invalid shard count or a missing stack file, printing the loader's problem", () => {
    const bad = cli(["--dir", dir, "bad"]);
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /Pulumi\.bad\.yaml:\d+:\d+: .*shards/);
    const missing = cli(["--dir", dir, "nowhere"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /stack file not found/);
    assert.equal(cli([]).status, 2);
  });
});

describe("data-loss gate on preview JSON samples", () => {
  it("parses the documented format and derives types from URNs", () => {
    assert.equal(parsePreview(readFixture("safe")).steps.length, 7);
    assert.equal(typeFromUrn("urn:pulumi:staging::service-factory::factory:postgres:TenantDatabase$postgresql:index/database:Database::x-db"), "postgresql:index/database:Database");
    assert.equal(typeFromUrn("urn:pulumi:staging::service-factory::docker:index/volume:Volume::v"), "docker:index/volume:Volume");
    assert.throws(() => parsePreview("{"), PreviewFormatError);
    assert.throws(() => parsePreview('{"steps": {}}'), PreviewFormatError);
    assert.throws(() => parsePreview('{"steps": [{"op": "delete"}]}'), PreviewFormatError);
    assert.deepEqual(parsePreview("{}").steps, [], "no changes: steps omitted");
  });

  it("safe preview (creates, updates, a container replacement, an OIDC client deletion) passes", () => {
    assert.deepEqual(dataLossFindings(parsePreview(readFixture("safe"))), []);
    const r = runGate([{ label: "staging", text: readFixture("safe") }], false);
    assert.equal(r.pass, true);
    assert.match(r.markdown, /passed/);
  });

  it("deleting a postgresql Database is blocked", () => {
    const r = runGate([{ label: "prod", text: readFixture("delete-postgres-database") }], false);
    assert.equal(r.pass, false);
    assert.deepEqual(r.findings, [{ label: "prod", op: "delete", type: "postgresql:index/database:Database", name: "asso-exemple-nextcloud-db",
      urn: "urn:pulumi:staging::service-factory::factory:postgres:TenantDatabase$postgresql:index/database:Database::asso-exemple-nextcloud-db" }]);
    assert.match(r.markdown, /BLOCKED/);
    assert.match(r.markdown, /allow-data-loss/);
  });

  it("replacing a docker Volume is blocked (one finding for its three replacement steps)", () => {
    const r = runGate([{ label: "staging", text: readFixture("replace-docker-volume") }], false);
    assert.equal(r.pass, false);
    assert.deepEqual(r.findings.map((f) => [f.op, f.type, f.name]), [["create-replacement", "docker:index/volume:Volume", "club-velo-nextcloud-config"]]);
  });

  it("deleting a Garage key is blocked without the label and allowed with it (its grant is not stateful)", () => {
    const text = readFixture("delete-garage-key-labelled");
    const blocked = runGate([{ label: "staging", text }], false);
    assert.equal(blocked.pass, false);
    assert.deepEqual(blocked.findings.map((f) => f.name), ["ancienne-asso-files-key"]);
    const allowed = runGate([{ label: "staging", text }], true);
    assert.equal(allowed.pass, true);
    assert.match(allowed.markdown, /ALLOWED by the `allow-data-loss` label/);
  });

  it("a Nextcloud upgrade replacing the version-named install volume (code only) passes", () => {
    const urn = "urn:pulumi:prod::service-factory::factory:nextcloud:NextcloudFactory$docker:index/volume:Volume::nextcloud-node1-install-31.0.8";
    const doc = JSON.stringify({ steps: [{ op: "delete", urn, oldState: { urn, type: "docker:index/volume:Volume", inputs: { name: "prod-nextcloud-31.0.8-0badc0de" } } }] });
    assert.equal(runGate([{ label: "prod", text: doc }], false).pass, true);
  });

  it("fails closed on a missing or unreadable preview, label or not", () => {
    for (const allow of [false, true]) {
      const r = runGate([{ label: "staging", text: readFixture("safe") }, { label: "prod", text: undefined }, { label: "x", text: "Error: not logged in" }], allow);
      assert.equal(r.pass, false);
      assert.equal(r.errors.length, 2);
    }
  });

  it("the CLI exits 1 when blocked, 0 with ALLOW_DATA_LOSS=true, and writes the report", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-gate-"));
    try {
      const run = (allow: string, ...files: string[]) => spawnSync(process.execPath, ["--import", "tsx", "scripts/ci/data-loss-gate.ts", "--report", path.join(dir, "gate.md"), ...files],
        { cwd: root, encoding: "utf8", env: { ...process.env, ALLOW_DATA_LOSS: allow } });
      assert.equal(run("false", `staging=${fixture("safe")}`).status, 0);
      const blocked = run("false", `staging=${fixture("safe")}`, `prod=${fixture("delete-postgres-database")}`);
      assert.equal(blocked.status, 1);
      assert.match(fs.readFileSync(path.join(dir, "gate.md"), "utf8"), /\| prod \| delete \| `postgresql:index\/database:Database` \| `asso-exemple-nextcloud-db` \|/);
      assert.equal(run("true", `prod=${fixture("delete-postgres-database")}`).status, 0);
      assert.equal(run("true", `prod=${path.join(dir, "missing.json")}`).status, 1);
      assert.equal(run("false").status, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("PR comment", () => {
  it("renders the gate, each stack's preview and plan, under the marker", () => {
    const body = commentBody({
      stacks: [
        { stack: "staging", previewJson: readFixture("safe"), previewExit: 0, planText: "tenant club-velo: create 12" },
        { stack: "prod", previewJson: readFixture("delete-postgres-database"), previewExit: 255, previewStderr: "error: preview failed" },
      ],
      gateMarkdown: "**Data-loss gate: BLOCKED.**",
      commit: "0123456789abcdef",
    });
    assert.ok(body.startsWith(`${COMMENT_MARKER}\n## Infrastructure preview`));
    assert.match(body, /Commit `0123456789ab`/);
    assert.match(body, /#### preview staging: create 1, update 1, replace 1, delete 1, same 3/);
    assert.match(body, /\| replace \| `docker:index\/container:Container` \| `club-velo-cron` \|/);
    assert.match(body, /tenant club-velo: create 12/);
    assert.match(body, /\*\*pulumi preview failed \(exit 255\)\*\*/);
    assert.match(body, /error: preview failed/);
    assert.equal(body.split(COMMENT_MARKER).length, 2);
  });

  describe("upsert against a local stand-in for the forge API", () => {
    let server: http.Server;
    let base = "";
    const comments: { id: number; body: string }[] = [];
    const requests: string[] = [];
    let auth = "";
    before(async () => {
      server = http.createServer((req, res) => {
        let data = "";
        req.on("data", (c) => { data += c; });
        req.on("end", () => {
          requests.push(`${req.method} ${req.url}`);
          auth = String(req.headers.authorization);
          const u = new URL(req.url!, "http://x");
          const send = (status: number, v: unknown) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(v)); };
          let m;
          if (req.method === "GET" && (m = /^\/api\/repos\/ops\/factory\/issues\/7\/comments$/.exec(u.pathname))) {
            const size = Number(u.searchParams.get("per_page") ?? u.searchParams.get("limit"));
            const page = Number(u.searchParams.get("page"));
            return send(200, comments.slice((page - 1) * size, page * size));
          }
          if (req.method === "POST" && /^\/api\/repos\/ops\/factory\/issues\/7\/comments$/.test(u.pathname)) {
            const c = { id: 1000 + comments.length, body: JSON.parse(data).body };
            comments.push(c);
            return send(201, c);
          }
          if (req.method === "PATCH" && (m = /^\/api\/repos\/ops\/factory\/issues\/comments\/(\d+)$/.exec(u.pathname))) {
            const c = comments.find((x) => x.id === Number(m![1]));
            if (!c) return send(404, {});
            c.body = JSON.parse(data).body;
            return send(200, c);
          }
          if (req.method === "GET" && u.pathname === "/api/repos/ops/factory/commits/abc123/pulls") return send(200, [{ number: 7, labels: [{ name: "allow-data-loss" }, { name: "tenant" }] }]);
          if (req.method === "GET" && u.pathname === "/api/repos/ops/factory/commits/abc123/pull") return send(200, { number: 7, labels: [{ name: "tenant" }] });
          send(404, { message: "not found" });
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    const forge = (kind: ForgeOptions["kind"]): ForgeOptions => ({ kind, apiUrl: base, repository: "ops/factory", token: "t0k" });

    it("creates the comment once, then edits it in place, also when it sits on a later page", async () => {
      for (let i = 0; i < 60; i++) comments.push({ id: i + 1, body: `review comment ${i}` });
      const first = await upsertComment(forge("github"), 7, "first body");
      assert.equal(first.action, "created");
      assert.equal(auth, "Bearer t0k");
      assert.equal(comments.length, 61);
      assert.equal(comments[60].body, `${COMMENT_MARKER}\nfirst body`);
      const second = await upsertComment(forge("gitea"), 7, `${COMMENT_MARKER}\nsecond body`);
      assert.deepEqual(second, { action: "updated", id: first.id });
      assert.equal(auth, "token t0k");
      assert.equal(comments.length, 61, "no second comment");
      assert.equal(comments[60].body, `${COMMENT_MARKER}\nsecond body`);
      assert.ok(requests.includes(`PATCH /api/repos/ops/factory/issues/comments/${first.id}`));
      assert.ok(requests.some((r) => r.startsWith("GET /api/repos/ops/factory/issues/7/comments?page=2")));
    });

    it("caps a body GitHub would refuse", async () => {
      await upsertComment(forge("github"), 7, "x".repeat(200000));
      assert.ok(comments[60].body.length <= 65000);
      assert.ok(comments[60].body.startsWith(COMMENT_MARKER));
      assert.match(comments[60].body, /truncated/);
    });

    it("reads the merged pull request's labels on both forges", async () => {
      assert.deepEqual(await mergedPullLabels(forge("github"), "abc123"), ["allow-data-loss", "tenant"]);
      assert.deepEqual(await mergedPullLabels(forge("gitea"), "abc123"), ["tenant"]);
      assert.deepEqual(await mergedPullLabels(forge("gitea"), "fff"), [], "no PR for that commit");
      await assert.rejects(mergedPullLabels(forge("github"), "fff"), /HTTP 404/);
    });
  });
});

describe("CI scripts with a fake pulumi CLI", () => {
  let dir = "";
  let fakeBin = "";
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-ci-"));
    fakeBin = path.join(dir, "bin");
    fs.mkdirSync(fakeBin);
    // Records its arguments; `preview` prints $FAKE_PREVIEW and writes the plan file when --save-plan is given.
    fs.writeFileSync(path.join(fakeBin, "pulumi"), `#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
if [ "$1" = preview ]; then
  while [ $# -gt 0 ]; do if [ "$1" = --save-plan ]; then echo '{}' > "$2"; fi; shift; done
  cat "$FAKE_PREVIEW"; exit "\${FAKE_RC:-0}"
fi
exit 0
`, { mode: 0o755 });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(script: string, args: string[], env: Record<string, string>) {
    const log = path.join(dir, `log-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(log, "");
    const r = spawnSync("bash", [script, ...args], { cwd: root, encoding: "utf8", env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, FAKE_LOG: log, ...env } });
    return { ...r, calls: fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) };
  }

  it("preview.sh keeps the preview JSON, its exit code and the per-tenant plan", () => {
    const out = path.join(dir, "pr");
    const r = run("scripts/ci/preview.sh", ["staging", out], { FAKE_PREVIEW: fixture("safe"), FAKE_RC: "255" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls, ["preview --stack staging --policy-pack policy --json --non-interactive"]);
    assert.equal(fs.readFileSync(path.join(out, "staging.preview.json"), "utf8"), readFixture("safe"));
    assert.equal(fs.readFileSync(path.join(out, "staging.preview.rc"), "utf8").trim(), "255");
    assert.match(fs.readFileSync(path.join(out, "staging.plan.txt"), "utf8"), /club-velo/);
  });

  it("the PR report job's gate and verdict scripts cover every shard preview (run as written in preview.yml)", () => {
    const rs = workflow(".github/workflows", "preview.yml").jobs.report.steps;
    const gateRun = rs.find((s) => s.id === "gate")!.run!;
    const verdictRun = rs[rs.length - 1].run!;
    const work = fs.mkdtempSync(path.join(dir, "report-"));
    for (const l of ["node_modules", "scripts", "src", "package.json", "tsconfig.json"]) fs.symlinkSync(path.join(root, l), path.join(work, l));
    fs.mkdirSync(path.join(work, "ci-out"));
    const put = (stack: string, sample: string, rc: string) => {
      fs.copyFileSync(fixture(sample), path.join(work, "ci-out", `${stack}.preview.json`));
      fs.writeFileSync(path.join(work, "ci-out", `${stack}.preview.rc`), `${rc}\n`);
    };
    put("staging", "safe", "0"); put("staging-0", "safe", "0"); put("staging-1", "delete-postgres-database", "0");
    const sh = (script: string, env: Record<string, string>) => spawnSync("bash", ["-e", "-c", script], { cwd: work, encoding: "utf8", env: { ...process.env, ...env } });
    const env = { STACK_LIST: "staging,staging-0,staging-1", ALLOW_DATA_LOSS: "false" };
    const blocked = sh(gateRun, env);
    assert.equal(blocked.status, 1, blocked.stderr);
    assert.match(fs.readFileSync(path.join(work, "ci-out", "gate.md"), "utf8"), /staging-1[\s\S]*asso-exemple-nextcloud-db/);
    assert.equal(sh(gateRun, { ...env, ALLOW_DATA_LOSS: "true" }).status, 0);
    const missing = sh(gateRun, { ...env, STACK_LIST: "staging,staging-0,staging-2", ALLOW_DATA_LOSS: "true" });
    assert.equal(missing.status, 1, "a missing shard preview fails the gate");

    const verdict = (e: Record<string, string>) => sh(verdictRun, { GATE_OUTCOME: "success", PREVIEW_RESULT: "success", SHARDS_RESULT: "success", STACK_LIST: "staging,staging-0", ...e });
    assert.equal(verdict({}).status, 0);
    assert.equal(verdict({ SHARDS_RESULT: "skipped", STACK_LIST: "staging" }).status, 0);
    const failedShard = verdict({ SHARDS_RESULT: "failure" });
    assert.equal(failedShard.status, 1);
    assert.match(failedShard.stdout, /a shard preview job failed/);
    fs.writeFileSync(path.join(work, "ci-out", "staging-0.preview.rc"), "255\n");
    assert.match(verdict({}).stdout, /pulumi preview of staging-0 failed \(exit 255\)/);
    assert.match(verdict({ STACK_LIST: "staging,staging-3" }).stdout, /staging-3 failed \(exit missing\)/);
  });

  it("deploy.sh runs up with the saved plan only when the gate passes", () => {
    const ok = run("scripts/ci/deploy.sh", ["staging", path.join(dir, "d1")], { FAKE_PREVIEW: fixture("safe"), ALLOW_DATA_LOSS: "false" });
    assert.equal(ok.status, 0, ok.stderr);
    const plan = path.join(dir, "d1", "staging.plan.json");
    assert.deepEqual(ok.calls, [
      `preview --stack staging --policy-pack policy --json --non-interactive --save-plan ${plan}`,
      `up --stack staging --policy-pack policy --yes --non-interactive --plan ${plan}`,
    ]);

    const blocked = run("scripts/ci/deploy.sh", ["staging", path.join(dir, "d2")], { FAKE_PREVIEW: fixture("delete-postgres-database"), ALLOW_DATA_LOSS: "false" });
    assert.notEqual(blocked.status, 0);
    assert.equal(blocked.calls.filter((c) => c.startsWith("up ")).length, 0, "no pulumi up after a blocked gate");

    const allowed = run("scripts/ci/deploy.sh", ["staging", path.join(dir, "d3")], { FAKE_PREVIEW: fixture("delete-postgres-database"), ALLOW_DATA_LOSS: "true", PULUMI_UPDATE_PLANS: "false" });
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.deepEqual(allowed.calls, ["preview --stack staging --policy-pack policy --json --non-interactive", "up --stack staging --policy-pack policy --yes --non-interactive"]);

    const failed = run("scripts/ci/deploy.sh", ["staging", path.join(dir, "d4")], { FAKE_PREVIEW: fixture("safe"), FAKE_RC: "1" });
    assert.notEqual(failed.status, 0);
    assert.equal(failed.calls.length, 1, "a failed preview (e.g. a policy violation) stops the deployment");
  });
});
