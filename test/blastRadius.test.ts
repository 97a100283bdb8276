// Blast radius of routine changes, over the whole program (staging stack, under mocks): adding a tenant
// with every service, or suspending one, must re-create no shared container, volume, network or image.
// A Docker container is re-created when any of its inputs changes (the docker provider replaces on every
// container input), so "the same inputs" is the test. Reloads (commands that re-run: the edge's config,
// Paheko's organisation map, Collabora's WOPI hosts in the edge config, the pids limits) are allowed:
// they restart nothing. There is no known exception (README, "Blast radius").
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { HarnessResult, RecordedResource, revealSecrets, runUnderMocks } from "../program/harness";

const ROOT = path.join(__dirname, "..");
const STAGING_TENANTS = path.join(ROOT, "tenants", "staging");
const SHARED_TYPES = ["docker:index/container:Container", "docker:index/volume:Volume", "docker:index/network:Network", "docker:index/remoteImage:RemoteImage"];

function tenantsWith(extra: Record<string, string>, edit: (file: string, text: string) => string = (_f, t) => t): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-blast-"));
  for (const f of fs.readdirSync(STAGING_TENANTS).filter((x) => x.endsWith(".yaml"))) {
    fs.writeFileSync(path.join(dir, f), edit(f, fs.readFileSync(path.join(STAGING_TENANTS, f), "utf8")));
  }
  for (const [f, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

async function run(dir: string): Promise<HarnessResult> {
  try {
    return await runUnderMocks({ stack: "staging", projectDir: ROOT, tenantsDir: dir });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Shared resources (no tenant) whose inputs differ between the two runs, by name. */
function changedShared(a: HarnessResult, b: HarnessResult): string[] {
  const shared = (r: HarnessResult) => new Map(r.resources.filter((x) => SHARED_TYPES.includes(x.type) && x.tenant === null).map((x) => [x.name, x] as [string, RecordedResource]));
  const sa = shared(a);
  const sb = shared(b);
  assert.deepEqual([...sb.keys()].filter((k) => !sa.has(k)).filter((k) => !k.includes("newcomer")), [], "no new shared resource but the tenant's own");
  return [...sa.keys()].filter((k) => sb.has(k) && JSON.stringify(revealSecrets(sa.get(k)!.inputs)) !== JSON.stringify(revealSecrets(sb.get(k)!.inputs))).sort();
}

describe("blast radius of routine changes (staging, whole program under mocks)", () => {
  let base: HarnessResult;
  before(async () => {
    base = await run(tenantsWith({}));
  });

  it("adding a tenant with every service re-creates no shared container", async () => {
    const added = await run(tenantsWith({
      "newcomer.yaml": [
        "slug: newcomer", "name: Newcomer", "contact: a@newcomer.example.org", "dns: external", "services:",
        "  nextcloud: {}", "  paheko: {}", "  wordpress: {}", "  staticSite: {}", "",
      ].join("\n"),
    }));
    assert.deepEqual(changedShared(base, added), []);
    // The tenant's own resources exist, its cron container among them.
    for (const name of ["newcomer-nextcloud-fpm", "newcomer-nextcloud-cron"]) {
      assert.ok(added.resources.some((r) => r.tenant === "newcomer" && r.name === name), name);
    }
    // Collabora learns of the new Nextcloud through the edge config (a reload), not its environment.
    // (A WOPI host is written https://<hostname>:443 only there: site addresses are bare hostnames.)
    const edgeReloads = (r: HarnessResult) => JSON.stringify(revealSecrets(r.resources.filter((x) => x.type === "command:local:Command" && x.name.endsWith("-reload")).map((x) => x.inputs)));
    const wopiHost = "https://newcomer.nextcloud.staging.factory.example.org:443";
    assert.ok(!edgeReloads(base).includes(wopiHost), "not a WOPI host before");
    assert.ok(edgeReloads(added).includes(wopiHost), "a WOPI host in the edge config after");
  });

  it("suspending a tenant re-creates no shared container", async () => {
    const slug = fs.readdirSync(STAGING_TENANTS).map((f) => fs.readFileSync(path.join(STAGING_TENANTS, f), "utf8"))
      .find((t) => /^status: active/m.test(t) || !/^status:/m.test(t))!.match(/^slug: (\S+)/m)![1];
    const suspended = await run(tenantsWith({}, (f, t) => (f === `${slug}.yaml` ? t.replace(/^status: .*\n/m, "").replace(/^(slug: .*\n)/m, "$1status: suspended\n") : t)));
    assert.deepEqual(changedShared(base, suspended), []);
  });
});
