import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { pahekoHost, PAHEKO_HTTP_PORT, PAHEKO_PUBLISHED_PORT } from "../components/paheko";
import { revealSecrets, SECRET_MARK } from "../program/harness";
import { checkOrgs, PAHEKO_PATHS, renderCronOrganisations, renderPahekoConfig, renderPahekoMap } from "../src/paheko/config";
import { renderCronLoop, renderFolderScript, renderImageCronLoop, renderOrganisationsScript } from "../src/paheko/scripts";
import { phpQuote, shQuote } from "../src/quote";
import { Host } from "../src/types";
import { byName, defaults, DOMAIN, FIVE, FixtureTenant, leaks, ONE, OPERATOR_SECRET_VALUES, POOLED_HOST, runWith } from "./pahekoWordpressFixtures";
import { FAKE_PAHEKO_VERSION, fakePahekoPhp } from "./support/fakePaheko";

const baseConfig = {
  factoryDomain: "paheko.example.org",
  fileStorageQuotaBytes: 1024,
  secretKeyFile: "/run/secrets/paheko/secret_key",
  mail: { host: "bulk.example.org", port: 587, user: "noreply@example.org", passwordFile: "/run/secrets/paheko/smtp_password", sender: "noreply@example.org" },
};

describe("Paheko config renderer", () => {
  const orgs = [
    { org: "beta", hostnames: ["compta.beta.example"] },
    { org: "alpha", hostnames: ["alpha.paheko.example.org", "gestion.alpha.example"] },
  ];

  it("renders the factory constants and no secret value; the organisations come from the map file", () => {
    const php = renderPahekoConfig(baseConfig);
    for (const line of [
      "namespace Paheko;",
      "const FACTORY_DOMAIN = 'paheko.example.org';",
      "const FACTORY_USER_DIRECTORY = '/data/users';",
      // The release's bundled plugins, not the default DATA_ROOT/plugins (Paheko 1.3.15 src/include/init.php:184).
      "const PLUGINS_ROOT = '/var/www/paheko/data/plugins';",
      "const FILE_STORAGE_QUOTA = 1024;",
      "const ENABLE_UPGRADES = false;",
      "const USE_CRON = true;",
      "const SMTP_HOST = 'bulk.example.org';",
      "const SMTP_SECURITY = 'STARTTLS';",
      "$factory_map = @include '/data/factory/organisations.php';",
      "define('Paheko\\SECRET_KEY', $factory_secret('/run/secrets/paheko/secret_key'));",
    ]) assert.ok(php.split("\n").includes(line), `missing line: ${line}`);
    assert.doesNotMatch(php, /SQLITE_JOURNAL_MODE/);
    assert.doesNotMatch(php, /alpha|beta/, "no organisation in config.local.php: adding one re-creates no container");
    assert.match(renderPahekoConfig({ ...baseConfig, walJournal: true }), /const SQLITE_JOURNAL_MODE = 'WAL';/);
  });

  it("renders the organisation map and the cron list, byte-identical whatever the order", () => {
    const map = renderPahekoMap(orgs);
    for (const line of [
      "\t\t'alpha.paheko.example.org' => 'alpha',",
      "\t\t'gestion.alpha.example' => 'alpha',",
      "\t\t'compta.beta.example' => 'beta',",
      "\t\t'alpha' => 'alpha.paheko.example.org',",
    ]) assert.ok(map.split("\n").includes(line), `missing line: ${line}`);
    assert.equal(map, renderPahekoMap([...orgs].reverse()));
    assert.equal(renderCronOrganisations([...orgs, { org: "gamma", hostnames: ["g.example"], suspended: true }]), "alpha\nbeta\n", "suspended ones are not run");
    const script = renderOrganisationsScript({ map, cronOrgs: "alpha\nbeta\n" });
    assert.ok(script.includes(`cat > "$map.new" <<'PAHEKO_MAP'\n${map}PAHEKO_MAP\n`));
    assert.ok(script.indexOf('mv "$map.new" "$map"') > script.indexOf("PAHEKO_CRON_ORGS\n"), "renamed whole, after both are written");
    assert.throws(() => renderOrganisationsScript({ map: "x\nPAHEKO_MAP\nrm -rf /\n", cronOrgs: "" }), /heredoc marker/);
  });

  it("picks TLS for 465 and no encryption for 25", () => {
    assert.match(renderPahekoConfig({ ...baseConfig, mail: { ...baseConfig.mail, port: 465 } }), /SMTP_SECURITY = 'TLS'/);
    assert.match(renderPahekoConfig({ ...baseConfig, mail: { ...baseConfig.mail, port: 25 } }), /SMTP_SECURITY = 'NONE'/);
  });

  it("refuses bad organisation names, duplicates and a hostname mapped twice", () => {
    assert.throws(() => checkOrgs([{ org: "Bad.Name", hostnames: ["a.example"] }]), /must match/);
    assert.throws(() => checkOrgs([{ org: "x".repeat(64), hostnames: ["a.example"] }]), /must match/);
    assert.throws(() => checkOrgs([{ org: "a", hostnames: ["a.example"] }, { org: "a", hostnames: ["b.example"] }]), /listed twice/);
    assert.throws(() => checkOrgs([{ org: "a", hostnames: ["x.example"] }, { org: "b", hostnames: ["x.example"] }]), /mapped to both "a" and "b"/);
    assert.throws(() => checkOrgs([{ org: "a", hostnames: [] }]), /no hostname/);
    assert.throws(() => checkOrgs([{ org: "a", hostnames: ["x.example'; die();"] }]), /not a lower-case ASCII hostname/);
  });

  it("quotes shell and PHP literals", () => {
    assert.equal(shQuote("it's"), `'it'\\''s'`);
    assert.equal(phpQuote("a'b\\c"), `'a\\'b\\\\c'`);
  });
});

describe("Paheko scripts", () => {
  it("the folder script only ever creates, for a valid organisation name", () => {
    const s = renderFolderScript({ org: "asso-exemple" });
    assert.match(s, /^org='asso-exemple'$/m);
    assert.match(s, /^users_dir='\/data\/users'$/m);
    assert.doesNotMatch(s, /\brm\b|rmdir|unlink|mv /);
    assert.throws(() => renderFolderScript({ org: "../etc" }), /must match/);
  });

  it("the cron loop reads its organisations from the list in the data volume, and checks its intervals", () => {
    const s = renderCronLoop();
    assert.match(s, /^orgs_file='\/data\/factory\/cron-organisations'$/m);
    assert.match(s, /^interval=300$/m);
    assert.match(s, /^paheko_root='\/var\/www\/paheko'$/m);
    assert.equal(PAHEKO_PATHS.plugins, `${PAHEKO_PATHS.root}/data/plugins`);
    // Paheko's CLI, not the deprecated wrappers (Paheko 1.3.15 src/scripts/cron.php:3-6).
    for (const cmd of ["upgrade", "cron", "queue run --quiet"]) assert.ok(s.includes(`"$paheko_root/bin/paheko" ${cmd} `), cmd);
    assert.doesNotMatch(s, /scripts\/(cron|emails)\.php"/);
    assert.throws(() => renderCronLoop({ intervalSeconds: 0 }), /positive integer/);
    assert.throws(() => renderCronLoop({ cronEverySeconds: 1.5 }), /positive integer/);
  });

  it("the program's loop and the image's default loop share what they do per organisation", () => {
    const body = (s: string) => s.slice(s.indexOf("run_org() {"), s.indexOf("\n}\n", s.indexOf("run_org() {")));
    const prog = renderCronLoop();
    assert.ok(body(prog).length > 200);
    assert.equal(body(prog), body(renderImageCronLoop()));
  });
});

describe("Paheko cron loop against a fake bin/paheko that behaves as Paheko 1.3.15's CLI", () => {
  function setup() {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sf-paheko-cron-"));
    const users = path.join(tmp, "users");
    const log = path.join(tmp, "php.log");
    const php = path.join(tmp, "php");
    fs.writeFileSync(php, fakePahekoPhp({ log, usersDir: users }), { mode: 0o755 });
    const org = (name: string, db?: string, extra: Record<string, string> = {}) => {
      fs.mkdirSync(path.join(users, name), { recursive: true });
      if (db !== undefined) fs.writeFileSync(path.join(users, name, "association.sqlite"), db);
      for (const [f, c] of Object.entries(extra)) fs.writeFileSync(path.join(users, name, f), c);
    };
    const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : []);
    return { tmp, users, php, org, calls, done: () => fs.rmSync(tmp, { recursive: true, force: true }) };
  }

  it("the fake refuses what the real CLI refuses (the tests below can fail)", () => {
    const f = setup();
    try {
      f.org("fresh");
      f.org("old", "1.3.14\n");
      const run = (org: string, ...args: string[]) => spawnSync(f.php, args, { env: { PAHEKO_FACTORY_USER: org }, encoding: "utf8" });
      assert.equal(run("fresh", "/code/bin/paheko", "cron").status, 1);
      assert.match(run("fresh", "/code/bin/paheko", "queue", "run").stdout, /Database does not exist/);
      assert.equal(run("old", "/code/bin/paheko", "queue", "run").status, 1);
      assert.match(run("old", "/code/bin/paheko", "cron").stdout, /requires an upgrade/);
      const deprecated = run("old", "/code/scripts/cron.php");
      assert.match(deprecated.stderr, /deprecated/);
      assert.equal(run("old", "/code/bin/paheko", "upgrade").status, 2);
      assert.equal(run("old", "/code/bin/paheko", "upgrade").status, 0);
      assert.equal(run("old", "/code/bin/paheko", "cron").status, 0);
      assert.equal(run("nobody", "/code/bin/paheko", "cron").status, 1);
    } finally {
      f.done();
    }
  });

  it("one pass: no call for organisations without a database, upgrade before cron, queue exit 2 is no failure", () => {
    const f = setup();
    try {
      f.org("current", `${FAKE_PAHEKO_VERSION}\n`, { queue: "5\n" }); // messages still queued after the pass: exit 2
      f.org("outdated", "1.3.14\n"); // the code was upgraded (a new image): bin/paheko refuses cron and queue
      f.org("empty-db", ""); // an empty file is no database either
      f.org("never-visited");
      f.org("broken", `${FAKE_PAHEKO_VERSION}\n`, { "fail-cron": "" });
      const orgs = ["current", "outdated", "empty-db", "never-visited", "broken", "no-folder"];
      // The list as the program writes it (sorted), plus a line that is no organisation name.
      const orgsFile = path.join(f.users, "..", "cron-organisations");
      fs.writeFileSync(orgsFile, renderCronOrganisations(orgs.map((org) => ({ org, hostnames: [`${org}.example`] }))) + "../etc\n");
      const script = renderCronLoop({ orgsFile, usersDir: f.users, pahekoRoot: "/code", php: f.php });
      const r = spawnSync("sh", ["-s", "--", "--once"], { input: script, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(f.calls(), [
        "broken /code/bin/paheko upgrade", "broken /code/bin/paheko cron", "broken /code/bin/paheko queue run --quiet",
        "current /code/bin/paheko upgrade", "current /code/bin/paheko cron", "current /code/bin/paheko queue run --quiet",
        "outdated /code/bin/paheko upgrade", "outdated /code/bin/paheko cron", "outdated /code/bin/paheko queue run --quiet",
      ]);
      assert.equal(fs.readFileSync(path.join(f.users, "outdated", "association.sqlite"), "utf8").trim(), FAKE_PAHEKO_VERSION);
      assert.match(r.stdout, /database of outdated upgraded/);
      // The only failure reported is the real one; nothing refused, nothing deprecated.
      assert.deepEqual(r.stderr.trim().split("\n").filter((l) => l.startsWith("paheko-cron:")).sort(), [
        "paheko-cron: ../etc is not an organisation name, skipped", "paheko-cron: cron failed for broken (exit 255)", "paheko-cron: no-folder has no folder yet, skipped",
      ]);
      assert.doesNotMatch(r.stdout + r.stderr, /Database does not exist|requires an upgrade|deprecated/);
      assert.equal(fs.readFileSync(path.join(f.users, "current", "queue"), "utf8").trim(), "3");
    } finally {
      f.done();
    }
  });

  it("later passes send the queue only; upgrade and cron come back every cronEverySeconds", () => {
    const f = setup();
    try {
      f.org("asso", `${FAKE_PAHEKO_VERSION}\n`);
      // Two passes 1 s apart, cron every hour: upgrade and cron run once (the first pass), the queue twice.
      const orgsFile = path.join(f.users, "..", "cron-organisations");
      fs.writeFileSync(orgsFile, "asso\n");
      const script = renderCronLoop({ orgsFile, usersDir: f.users, pahekoRoot: "/code", php: f.php, intervalSeconds: 1 })
        .replace('  sleep "$interval"\n', '  sleep "$interval"\n  passes=$((${passes:-0} + 1)); [ "$passes" -lt 2 ] || exit 0\n');
      const r = spawnSync("sh", ["-s"], { input: script, encoding: "utf8", timeout: 20000 });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(f.calls(), [
        "asso /code/bin/paheko upgrade", "asso /code/bin/paheko cron", "asso /code/bin/paheko queue run --quiet",
        "asso /code/bin/paheko queue run --quiet",
      ]);
    } finally {
      f.done();
    }
  });
});

describe("pahekoHost", () => {
  const h = (name: string, roles: Host["roles"], drain = false): Host => ({ name, docker: `ssh://${name}`, roles, weight: 1, privateAddress: "10.0.0.1", drain });
  it("is the first compute host by name, drained or not, whatever the inventory order", () => {
    assert.equal(pahekoHost([h("c2", ["compute"]), h("a-edge", ["edge"]), h("c1", ["compute"], true)]).name, "c1");
    assert.throws(() => pahekoHost([h("e", ["edge"])]), /compute host/);
  });
});

function expectedHostname(t: FixtureTenant): string {
  return t.paheko!.hostname ?? defaults.paheko(t.slug);
}

for (const [label, tenants] of [["1 tenant", ONE], ["5 tenants", FIVE]] as const) {
  describe(`Paheko under mocks with ${label}`, () => {
    it("registers exactly one instance: one web and one cron container, one protected volume, one protected secret key, the organisations command", async () => {
      const { resources: rs } = await runWith(tenants);
      assert.equal(rs.filter((r) => r.type === "factory:paheko:PahekoFactory").length, 1);
      const factory = byName(rs, "paheko");
      const children = rs.filter((r) => r.parent === factory.urn).map((r) => `${r.type} ${r.name}`).sort();
      assert.deepEqual(children, [
        "command:local:Command paheko-organisations",
        "docker:index/container:Container paheko-app",
        "docker:index/container:Container paheko-cron",
        "docker:index/remoteImage:RemoteImage paheko-image",
        "docker:index/volume:Volume paheko-data",
        "random:index/randomPassword:RandomPassword paheko-secret-key",
      ]);
      const containers = rs.filter((r) => r.type === "docker:index/container:Container" && String(r.inputs.image).includes("paheko"));
      assert.equal(containers.length, 2);
      for (const name of ["paheko-data", "paheko-secret-key"]) {
        assert.equal(byName(rs, name).protect, true, name);
        assert.equal(byName(rs, name).retainOnDelete, true, name);
      }
      const app = byName(rs, "paheko-app");
      assert.deepEqual(app.inputs.ports, [{ internal: PAHEKO_HTTP_PORT, external: PAHEKO_PUBLISHED_PORT, ip: POOLED_HOST.address }]);
      assert.equal(app.inputs.name, "paheko");
      assert.equal(app.inputs.image, "registry.factory.example.org/paheko-factory:1.3.15");
      assert.deepEqual(app.inputs.volumes, [{ volumeName: "paheko-data", containerPath: "/data" }]);
      assert.ok(app.provider?.includes(`platform-docker-${POOLED_HOST.name}`), app.provider ?? "no provider");
      assert.deepEqual(byName(rs, "paheko-cron").inputs.entrypoints, ["/bin/sh", "/usr/local/share/paheko-factory/cron-loop.sh"]);
    });

    it("uploads the config for exactly the non-archived tenants, and the secrets only as secret files", async () => {
      const { resources: rs } = await runWith(tenants);
      // The upload list holds secrets, so Pulumi keeps the whole list secret (state and plan show [secret]).
      const raw = byName(rs, "paheko-app").inputs.uploads as Record<string, unknown>;
      assert.deepEqual(Object.keys(raw), [SECRET_MARK]);
      const uploads = revealSecrets(raw) as { file: string; content: unknown }[];
      const byFile = Object.fromEntries(uploads.map((u) => [u.file, u.content]));
      assert.deepEqual(Object.keys(byFile).sort(), ["/run/secrets/paheko/secret_key", "/run/secrets/paheko/smtp_password", "/var/www/paheko/config.local.php"]);
      assert.equal(byFile["/run/secrets/paheko/secret_key"], `mock-paheko-secret-key-${"x".repeat(48)}`);
      assert.equal(byFile["/run/secrets/paheko/smtp_password"], OPERATOR_SECRET_VALUES.smtpPassword);
      const served = tenants.filter((t) => t.paheko && t.status !== "archived");
      const expected = renderPahekoConfig({
        factoryDomain: `paheko.${DOMAIN}`,
        fileStorageQuotaBytes: 1024 ** 3,
        secretKeyFile: "/run/secrets/paheko/secret_key",
        mail: { host: "bulk.factory.example.org", port: 587, user: "noreply@factory.example.org", passwordFile: "/run/secrets/paheko/smtp_password", sender: "noreply@factory.example.org" },
      });
      assert.equal(byFile["/var/www/paheko/config.local.php"], expected);
      const cronUploads = revealSecrets(byName(rs, "paheko-cron").inputs.uploads) as { file: string; content: unknown }[];
      const loop = cronUploads.find((u) => u.file === "/usr/local/share/paheko-factory/cron-loop.sh")!.content;
      assert.equal(loop, renderCronLoop());
      // The organisations: written into the data volume by one command, after the web container exists.
      const orgs = byName(rs, "paheko-organisations");
      const served2 = served.map((t) => ({ org: t.slug, hostnames: [expectedHostname(t)], suspended: t.status === "suspended" }));
      assert.deepEqual(orgs.inputs, {
        create: "docker exec -i paheko sh -s",
        stdin: renderOrganisationsScript({ map: renderPahekoMap(served2), cronOrgs: renderCronOrganisations(served2) }),
        environment: { DOCKER_HOST: POOLED_HOST.docker },
        logging: "stdoutAndStderr",
      });
      assert.ok(orgs.dependsOn.includes(byName(rs, "paheko-app").urn));
      // Suspended tenants stay in the map (their URL answers the maintenance page) but out of the cron loop.
      const running = served.filter((t) => t.status === "active").map((t) => t.slug);
      assert.equal(renderCronOrganisations(served2), running.map((r) => `${r}\n`).join(""));
      if (tenants === FIVE) {
        assert.deepEqual(running, ["alpha", "delta"]);
        assert.ok(renderPahekoMap(served2).includes("'bravo'"), "bravo (suspended) is still in the map");
      }
    });

    it("adding or suspending a tenant re-creates no Paheko container: only the organisations command changes", async () => {
      const more = [...tenants, { slug: "newcomer", status: "active" as const, paheko: {} }];
      const suspended = tenants.map((t) => (t.status === "active" ? { ...t, status: "suspended" as const } : t));
      const base = await runWith(tenants);
      for (const other of [await runWith(more), await runWith(suspended)]) {
        for (const name of ["paheko-app", "paheko-cron"]) {
          assert.deepEqual(revealSecrets(byName(other.resources, name).inputs), revealSecrets(byName(base.resources, name).inputs), `${name} inputs unchanged`);
        }
        assert.notDeepEqual(byName(other.resources, "paheko-organisations").inputs.stdin, byName(base.resources, "paheko-organisations").inputs.stdin);
      }
    });

    it("registers per tenant exactly the folder command (none for archived tenants), with no delete command", async () => {
      const { resources: rs } = await runWith(tenants);
      const comps = rs.filter((r) => r.type === "factory:paheko:PahekoOrganisation");
      assert.deepEqual(comps.map((c) => c.name).sort(), tenants.filter((t) => t.paheko).map((t) => `${t.slug}-paheko`).sort());
      for (const c of comps) assert.deepEqual(c.inputs, { tenant: c.tenant });
      const folders = rs.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-paheko-folder"));
      const active = tenants.filter((t) => t.paheko && t.status !== "archived");
      assert.deepEqual(folders.map((f) => f.name).sort(), active.map((t) => `${t.slug}-paheko-folder`).sort());
      const app = byName(rs, "paheko-app");
      for (const t of active) {
        const f = byName(rs, `${t.slug}-paheko-folder`);
        assert.equal(f.tenant, t.slug);
        assert.equal("delete" in f.inputs, false, "no delete command: removal never deletes the folder");
        assert.deepEqual(f.inputs, {
          create: "docker exec -i paheko sh -s",
          stdin: renderFolderScript({ org: t.slug }),
          environment: { DOCKER_HOST: POOLED_HOST.docker },
          logging: "stdoutAndStderr",
        });
        assert.ok(f.dependsOn.includes(app.urn), "the folder waits for the container");
      }
    });

    it("never exposes a secret in plain text in any input", async () => {
      const { resources: rs } = await runWith(tenants);
      assert.deepEqual(leaks(rs), []);
      // Positive control: the secrets are there, wrapped.
      const revealed = JSON.stringify(revealSecrets(byName(rs, "paheko-app").inputs));
      assert.ok(revealed.includes(OPERATOR_SECRET_VALUES.smtpPassword));
    });
  });
}
