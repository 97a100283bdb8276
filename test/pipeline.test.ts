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
import { dataLossFindings, parsePreview, PreviewFormatError, runGate, typeFromUrn } from "../src/ci/preview";

const root = path.resolve(__dirname, "..");
const bin = path.join(process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory"), "bin");
const fixture = (name: string) => path.join(root, "test", "fixtures", "preview", `${name}.json`);
const readFixture = (name: string) => fs.readFileSync(fixture(name), "utf8");
const WORKFLOW_DIRS = [".github/workflows", ".forgejo/workflows"];

function which(cmd: string): string | undefined {
  const local = path.join(bin, cmd);
  if (fs.existsSync(local)) return local;
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A required tool: the test fails under CI when it is missing, else it is skipped with a message. */
function requireTool(t: { skip(msg: string): void }, cmd: string): string | undefined {
  const found = which(cmd);
  if (!found) {
    if (process.env.CI) assert.fail(`${cmd} is required (run scripts/lab/install-test-tools.sh)`);
    t.skip(`${cmd} not installed (run scripts/lab/install-test-tools.sh)`);
  }
  return found;
}

type Step = { name?: string; uses?: string; run?: string; id?: string; if?: string; env?: Record<string, string>; with?: Record<string, unknown> };
type Job = { needs?: string | string[]; steps: Step[]; environment?: string; "runs-on": string };
type Workflow = { on: Record<string, { types?: string[]; branches?: string[] } | null>; concurrency?: { group: string; "cancel-in-progress": boolean }; jobs: Record<string, Job> };
const workflow = (dir: string, file: string): Workflow => parse(fs.readFileSync(path.join(root, dir, file), "utf8")) as Workflow;

describe("workflow files", () => {
  it("both forges have the preview and deploy workflows, and nothing else", () => {
    for (const dir of WORKFLOW_DIRS) assert.deepEqual(fs.readdirSync(path.join(root, dir)).sort(), ["deploy.yml", "preview.yml"], dir);
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

  for (const dir of WORKFLOW_DIRS) {
    it(`${dir}/deploy.yml: push to main, one deployment at a time, staging then prod through deploy.sh with the label`, () => {
      const w = workflow(dir, "deploy.yml");
      assert.deepEqual(w.on.push?.branches, ["main"]);
      assert.deepEqual(w.concurrency, { group: "deploy", "cancel-in-progress": false });
      assert.deepEqual(Object.keys(w.jobs), ["staging", "prod"]);
      assert.equal(w.jobs.prod.needs, "staging");
      for (const stack of ["staging", "prod"]) {
        const steps = w.jobs[stack].steps;
        const labels = steps.find((s) => s.id === "labels");
        assert.match(labels?.run ?? "", /scripts\/ci\/merged-pr-labels\.ts "\$GITHUB_SHA" >> "\$GITHUB_OUTPUT"/);
        const deploy = steps.filter((s) => s.run?.includes("scripts/ci/deploy.sh"));
        assert.equal(deploy.length, 1);
        assert.equal(deploy[0].run, `bash scripts/ci/deploy.sh ${stack} ci-out`);
        assert.equal(deploy[0].env?.ALLOW_DATA_LOSS, "${{ steps.labels.outputs.allow_data_loss }}");
        assert.ok(steps.indexOf(labels!) < steps.indexOf(deploy[0]));
        assert.ok(!steps.some((s) => /pulumi (up|destroy)/.test(s.run ?? "")), "pulumi up only through deploy.sh (gate first)");
      }
    });

    it(`${dir}/preview.yml: tests, validation, previews, gate with the label, one comment, failure at the end`, () => {
      const w = workflow(dir, "preview.yml");
      assert.deepEqual(w.on.pull_request?.types, ["opened", "synchronize", "reopened", "labeled", "unlabeled"]);
      const steps = w.jobs.preview.steps;
      const runs = steps.map((s) => s.run ?? "");
      const at = (re: RegExp) => {
        const i = runs.findIndex((r) => re.test(r));
        assert.ok(i >= 0, String(re));
        return i;
      };
      assert.equal(steps.find((s) => s.uses?.startsWith("actions/setup-node"))?.with?.["node-version"], 20);
      const order = [/^npm ci$/, /^bash scripts\/test\.sh unit$/, /npm run validate -- --stack staging\nnpm run validate -- --stack prod/,
        /^bash scripts\/ci\/preview\.sh staging ci-out$/, /^bash scripts\/ci\/preview\.sh prod ci-out$/, /data-loss-gate\.ts --report ci-out\/gate\.md staging=ci-out\/staging\.preview\.json prod=ci-out\/prod\.preview\.json$/,
        /pr-comment\.ts --dir ci-out --stacks staging,prod --gate ci-out\/gate\.md --post$/, /GATE_OUTCOME/].map(at);
      assert.deepEqual([...order].sort((a, b) => a - b), order, "steps in order");
      const gate = steps.find((s) => s.id === "gate")!;
      assert.equal(gate.env?.ALLOW_DATA_LOSS, "${{ contains(github.event.pull_request.labels.*.name, 'allow-data-loss') }}");
      assert.equal((gate as Step & { "continue-on-error"?: boolean })["continue-on-error"], true, "the comment is still posted");
      const comment = steps.find((s) => s.run?.includes("pr-comment.ts"))!;
      assert.equal(comment.if, "always()");
      assert.equal(comment.env?.PR_NUMBER, "${{ github.event.pull_request.number }}");
      const last = steps[steps.length - 1];
      assert.equal(last.if, "always()");
      assert.equal(last.env?.GATE_OUTCOME, "${{ steps.gate.outcome }}");
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
        assert.ok(gh.jobs[job].steps.some((s) => s.uses === "pulumi/actions@v6"), "GitHub installs the CLI with pulumi/actions@v6");
        assert.ok(!fj.jobs[job].steps.some((s) => s.uses?.startsWith("pulumi/")), "Forgejo: the runner image provides the CLI");
        assert.equal(fj.jobs[job]["runs-on"], "pulumi");
        const forge = (w: Workflow) => w.jobs[job].steps.map((s) => s.env?.FORGE_KIND).filter(Boolean);
        assert.ok(forge(gh).every((k) => k === "github") && forge(fj).every((k) => k === "forgejo"));
        assert.ok(forge(gh).length > 0 && forge(gh).length === forge(fj).length);
      }
      assert.deepEqual(fj.concurrency, gh.concurrency);
      assert.deepEqual(fj.on, gh.on);
    }
  });

  it("the CI shell scripts pass shellcheck", (t) => {
    const shellcheck = requireTool(t, "shellcheck");
    if (!shellcheck) return;
    const files = fs.readdirSync(path.join(root, "scripts/ci")).filter((f) => f.endsWith(".sh")).map((f) => path.join("scripts/ci", f));
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), ["deploy.sh", "preview.sh", "ssh-setup.sh"]);
    const r = spawnSync(shellcheck, files, { cwd: root, encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout);
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
