// Lab: the Paheko factory files checked by the real programs that read them.
// - config.local.php for the staging tenants and a fixture with custom domains: `php -l`, then included by
//   PHP's built-in web server (SAPI cli-server, like FPM: the web branch) with each Host header, and by
//   php-cli with PAHEKO_FACTORY_USER (the cron branch), proving the constants and the domain -> org map;
// - the folder script: shellcheck, run twice (idempotent), data written in between survives, a file in
//   the way is refused, nothing ever removed;
// - the cron loop: shellcheck, one pass with a fake `php` running a fake bin/paheko that behaves as Paheko
//   1.3.15's CLI (test/support/fakePaheko.ts: refusals and exit codes from its source).
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { PahekoOrg, renderCronOrganisations, renderPahekoConfig, renderPahekoMap } from "../../src/paheko/config";
import { renderCronLoop, renderFolderScript, renderOrganisationsScript } from "../../src/paheko/scripts";
import { requireFactoryInputs } from "../../src/inputs";
import { freePort, getWithHost } from "../../scripts/lab/net";
import { FAKE_PAHEKO_VERSION, fakePahekoPhp } from "../support/fakePaheko";

const ROOT = path.resolve(__dirname, "../..");
const tools = ["php", "shellcheck", "sh"];
const missingTools = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
if (missingTools.length > 0 && process.env.CI) throw new Error(`missing tools: ${missingTools.join(", ")} (scripts/lab/install-test-tools.sh)`);
const skip = missingTools.length > 0 ? `missing tools: ${missingTools.join(", ")} (run scripts/lab/install-test-tools.sh)` : false;

const SECRET_KEY = "lab-secret-key-0123456789abcdefghijklmnop";
const SMTP_PASSWORD = "lab-smtp-password";


const get = getWithHost;

function shellcheck(script: string, dir: string, name: string): void {
  const file = path.join(dir, name);
  fs.writeFileSync(file, script);
  const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", file], { encoding: "utf8" });
  assert.equal(r.status, 0, `shellcheck ${name}:\n${r.stdout}${r.stderr}`);
}

const DRIVER = `<?php
require getenv('PAHEKO_CONFIG');
header('Content-Type: application/json');
echo json_encode([
  'org' => basename(\\Paheko\\DATA_ROOT),
  'data_root' => \\Paheko\\DATA_ROOT,
  'www_url' => \\Paheko\\WWW_URL,
  'factory_domain' => \\Paheko\\FACTORY_DOMAIN,
  'user_directory' => \\Paheko\\FACTORY_USER_DIRECTORY,
  'plugins_root' => \\Paheko\\PLUGINS_ROOT,
  'quota' => \\Paheko\\FILE_STORAGE_QUOTA,
  'upgrades' => \\Paheko\\ENABLE_UPGRADES,
  'cron' => \\Paheko\\USE_CRON,
  'secret_key' => \\Paheko\\SECRET_KEY,
  'smtp_host' => \\Paheko\\SMTP_HOST,
  'smtp_password' => \\Paheko\\SMTP_PASSWORD,
  'sender' => \\Paheko\\MAIL_SENDER,
]);
`;

describe("Paheko factory files with php, php -S and shellcheck", { skip }, () => {
  let dir = "";
  let server: ChildProcess | undefined;
  let port = 0;
  let configFile = "";
  const organisationsScript = (list: PahekoOrg[]) => renderOrganisationsScript({
    map: renderPahekoMap(list), cronOrgs: renderCronOrganisations(list),
    mapFile: path.join(dir, "factory", "organisations.php"), cronOrgsFile: path.join(dir, "factory", "cron-organisations"),
  });
  const staging = requireFactoryInputs({ stack: "staging", projectDir: ROOT });
  const stagingOrgs: PahekoOrg[] = staging.tenants
    .filter((t) => t.services.paheko && t.status !== "archived")
    .map((t) => ({ org: t.slug, hostnames: [t.services.paheko!.hostname] }));
  // A fixture beside the staging tenants: several custom domains for one org, an underscore name, IDN.
  const fixtureOrgs: PahekoOrg[] = [
    { org: "club_echecs", hostnames: ["gestion.club-echecs.example", "compta.club-echecs.example", "xn--caf-dma.example"] },
    { org: "no-folder", hostnames: ["nofolder.example.net"] },
  ];
  const orgs = [...stagingOrgs, ...fixtureOrgs];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "paheko-lab-"));
    fs.writeFileSync(path.join(dir, "secret_key"), SECRET_KEY + "\n");
    fs.writeFileSync(path.join(dir, "smtp_password"), SMTP_PASSWORD);
    configFile = path.join(dir, "config.local.php");
    fs.writeFileSync(configFile, renderPahekoConfig({
      factoryDomain: `paheko.${staging.settings.domain}`,
      userDirectory: path.join(dir, "users"),
      sharedCacheRoot: path.join(dir, "cache"),
      fileStorageQuotaBytes: 2 * 1024 ** 3,
      secretKeyFile: path.join(dir, "secret_key"),
      mapFile: path.join(dir, "factory", "organisations.php"),
      mail: { host: "bulk.example.org", port: 587, user: "noreply@example.org", passwordFile: path.join(dir, "smtp_password"), sender: "noreply@example.org" },
    }));
    // The organisations, written by the program's own script (as the organisations command runs it).
    const write = spawnSync("sh", ["-s"], { input: organisationsScript(orgs), encoding: "utf8" });
    assert.equal(write.status, 0, write.stderr);
    // Folders for every org but "no-folder", created by the real folder script.
    for (const o of orgs.filter((x) => x.org !== "no-folder")) {
      const r = spawnSync("sh", ["-s"], { input: renderFolderScript({ org: o.org, usersDir: path.join(dir, "users") }), encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    }
    fs.mkdirSync(path.join(dir, "www"));
    fs.writeFileSync(path.join(dir, "www", "index.php"), DRIVER);
    port = await freePort();
    server = spawn("php", ["-S", `127.0.0.1:${port}`, "-t", path.join(dir, "www")], {
      env: { ...process.env, PAHEKO_CONFIG: configFile },
      stdio: ["ignore", "ignore", "pipe"],
    });
    // Wait until the server accepts connections (bounded by attempts, not by a time threshold).
    for (let i = 0; ; i++) {
      try {
        await get(port, "probe.invalid");
        break;
      } catch (e) {
        if (i > 200) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  after(() => {
    server?.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("staging has Paheko tenants (the fixture is not all there is)", () => {
    assert.ok(stagingOrgs.length >= 2, JSON.stringify(stagingOrgs));
  });

  it("php -l accepts the rendered config", () => {
    const r = spawnSync("php", ["-l", configFile], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /No syntax errors/);
  });

  it("every hostname maps to its organisation, with the factory constants defined", async () => {
    for (const o of orgs.filter((x) => x.org !== "no-folder")) {
      for (const h of o.hostnames) {
        const res = await get(port, h);
        assert.equal(res.status, 200, `${h}: ${res.body}`);
        const j = JSON.parse(res.body);
        assert.deepEqual(j, {
          org: o.org,
          data_root: path.join(dir, "users", o.org),
          www_url: `https://${h}/`,
          factory_domain: `paheko.${staging.settings.domain}`,
          user_directory: path.join(dir, "users"),
          plugins_root: "/var/www/paheko/data/plugins",
          quota: 2 * 1024 ** 3,
          upgrades: false,
          cron: true,
          secret_key: SECRET_KEY,
          smtp_host: "bulk.example.org",
          smtp_password: SMTP_PASSWORD,
          sender: "noreply@example.org",
        });
      }
    }
  });

  it("a Host with a port and in upper case still maps; unknown hosts and sub-domains of FACTORY_DOMAIN do not", async () => {
    const first = stagingOrgs[0];
    const ok = await get(port, `${first.hostnames[0].toUpperCase()}:443`);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).org, first.org);
    for (const h of ["unknown.example.org", `club_echecs.paheko.${staging.settings.domain}`, `evil.${first.hostnames[0]}`]) {
      const res = await get(port, h);
      assert.equal(res.status, 404, h);
      assert.match(res.body, /Page non trouvée/);
    }
  });

  it("a tenant added later is served at once: the organisations script rewrites the map, the server is not restarted", async () => {
    shellcheck(organisationsScript(orgs), dir, "organisations.sh");
    const later: PahekoOrg = { org: "late-comer", hostnames: ["late.example.net"] };
    fs.mkdirSync(path.join(dir, "users", "late-comer"), { recursive: true });
    const before = await get(port, "late.example.net");
    assert.equal(before.status, 404);
    const r = spawnSync("sh", ["-s"], { input: organisationsScript([...orgs, later]), encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /organisation map written; \d+ organisation\(s\) in the cron loop/);
    const after = await get(port, "late.example.net");
    assert.equal(after.status, 200, after.body);
    assert.equal(JSON.parse(after.body).org, "late-comer");
    assert.equal(fs.readFileSync(path.join(dir, "factory", "cron-organisations"), "utf8").split("\n").includes("late-comer"), true);
    // Put the list back for the tests below.
    assert.equal(spawnSync("sh", ["-s"], { input: organisationsScript(orgs), encoding: "utf8" }).status, 0);
  });

  it("without its map file the config refuses every request (503), it never serves a wrong organisation", async () => {
    const map = path.join(dir, "factory", "organisations.php");
    fs.renameSync(map, `${map}.away`);
    try {
      const r = await get(port, orgs[0].hostnames[0]);
      assert.equal(r.status, 503);
    } finally {
      fs.renameSync(`${map}.away`, map);
    }
  });

  it("a mapped organisation without its folder answers 404, not a fresh install", async () => {
    const res = await get(port, "nofolder.example.net");
    assert.equal(res.status, 404);
    assert.match(res.body, /n'existe pas/);
    assert.equal(fs.existsSync(path.join(dir, "users", "no-folder")), false);
  });

  it("the CLI branch selects the organisation with PAHEKO_FACTORY_USER and refuses unknown ones", () => {
    const cli = path.join(dir, "cli.php");
    fs.writeFileSync(cli, DRIVER);
    const run = (user: string) => spawnSync("php", [cli], { env: { ...process.env, PAHEKO_CONFIG: configFile, PAHEKO_FACTORY_USER: user }, encoding: "utf8" });
    const r = run("club_echecs");
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.org, "club_echecs");
    assert.equal(j.www_url, "https://gestion.club-echecs.example/");
    // Refusals exit 1 on the CLI (a die() with a message would exit 0: the cron loop would not see them).
    const bad = run("ancienne-asso"); // archived in staging: its folder may exist, but it is not served
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Page non trouvée/);
    const missing = run("no-folder");
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /n'existe pas/);
  });

  it("folder script: shellcheck clean, idempotent, never deletes", () => {
    const users = path.join(dir, "folder-test", "users");
    const script = renderFolderScript({ org: "asso-exemple", usersDir: users });
    shellcheck(script, dir, "folder.sh");
    const run = () => spawnSync("sh", ["-s"], { input: script, encoding: "utf8" });
    const first = run();
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /created/);
    // The organisation's data appears (Paheko writes its SQLite database on first visit).
    fs.writeFileSync(path.join(users, "asso-exemple", "association.sqlite"), "data");
    const second = run();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /already exists/);
    assert.equal(fs.readFileSync(path.join(users, "asso-exemple", "association.sqlite"), "utf8"), "data");
    // Another organisation beside it leaves the first alone.
    assert.equal(spawnSync("sh", ["-s"], { input: renderFolderScript({ org: "club-velo", usersDir: users }) }).status, 0);
    assert.deepEqual(fs.readdirSync(users).sort(), ["asso-exemple", "club-velo"]);
    assert.deepEqual(fs.readdirSync(path.join(users, "asso-exemple")), ["association.sqlite"]);
    // A file where the folder should be is refused, not replaced.
    fs.writeFileSync(path.join(users, "squatted"), "not a folder");
    const refused = spawnSync("sh", ["-s"], { input: renderFolderScript({ org: "squatted", usersDir: users }), encoding: "utf8" });
    assert.equal(refused.status, 1);
    assert.equal(fs.readFileSync(path.join(users, "squatted"), "utf8"), "not a folder");
    // No removal script exists: the only script the area renders for a folder creates.
    assert.doesNotMatch(script, /\brm\b|rmdir|unlink/);
  });

  it("cron loop: shellcheck clean; one pass runs bin/paheko upgrade, cron and queue run per listed organisation with a database", () => {
    const users = path.join(dir, "users");
    const log = path.join(dir, "php-calls.log");
    const fakePhp = path.join(dir, "fake-php");
    fs.writeFileSync(fakePhp, fakePahekoPhp({ log, usersDir: users }), { mode: 0o755 });
    shellcheck(fs.readFileSync(fakePhp, "utf8"), dir, "fake-php.sh");
    // Every organisation with a folder has a database but the first staging one (never visited yet).
    const withDb = orgs.map((o) => o.org).filter((o) => o !== "no-folder" && o !== stagingOrgs[0].org);
    for (const o of withDb) fs.writeFileSync(path.join(users, o, "association.sqlite"), `${FAKE_PAHEKO_VERSION}\n`);
    fs.writeFileSync(path.join(users, "club_echecs", "fail-cron"), "");
    const script = renderCronLoop({ orgsFile: path.join(dir, "factory", "cron-organisations"), pahekoRoot: "/srv/paheko", usersDir: users, php: fakePhp });
    shellcheck(script, dir, "cron-loop.sh");
    const r = spawnSync("sh", ["-s", "--", "--once"], { input: script, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const calls = fs.readFileSync(log, "utf8").trim().split("\n");
    const expected = [...withDb].sort()
      .flatMap((o) => ["upgrade", "cron", "queue run --quiet"].map((c) => `${o} /srv/paheko/bin/paheko ${c}`));
    assert.deepEqual(calls, expected);
    assert.match(r.stderr, /no-folder has no folder yet/);
    assert.match(r.stderr, /cron failed for club_echecs \(exit 255\)/); // one failure does not stop the others
    assert.doesNotMatch(r.stderr, /Database does not exist|requires an upgrade|deprecated|queue run failed/);
  });
});
