// Lab: the WordPress scripts and config checked by real programs: shellcheck on every script, `php -l` on
// the wp-config extra, and each script run by sh against a recording fake `wp` (argv and stdin logged) to
// prove idempotence and that the Staatic key reaches wp-cli on stdin, never in any argv.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  renderConfigExtra, renderNetworkInstallScript, renderPluginsScript, renderSiteScript, renderStaaticScript, STAATIC_ENV,
} from "../../src/wordpress/scripts";

const tools = ["php", "shellcheck", "sh"];
const missingTools = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
if (missingTools.length > 0 && process.env.CI) throw new Error(`missing tools: ${missingTools.join(", ")} (scripts/lab/install-test-tools.sh)`);
const skip = missingTools.length > 0 ? `missing tools: ${missingTools.join(", ")} (run scripts/lab/install-test-tools.sh)` : false;

const KEY_ID = "GKlab0123456789abcdef0123";
const SECRET = "lab-staatic-secret-9f8e7d6c5b4a";

describe("WordPress scripts with shellcheck, php -l and a recording wp", { skip }, () => {
  let dir = "";
  let log = "";
  let bin = "";

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "wordpress-lab-"));
    log = path.join(dir, "wp.log");
    bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    // A fake wp: logs "ARGV <args>" and "STDIN <data>" for updates; answers `site list` from $WP_SITES,
    // `core is-installed` from $WP_INSTALLED, `plugin get` from $WP_PLUGIN_VERSION.
    fs.writeFileSync(path.join(bin, "wp"), [
      "#!/bin/sh",
      `echo "ARGV $*" >> '${log}'`,
      'case "$1 $2" in',
      '  "option update") printf "STDIN %s\\n" "$(cat)" >> \'' + log + "' ;;",
      '  "site list") printf "%s\\n" ${WP_SITES:-} ;;',
      '  "core is-installed") [ "${WP_INSTALLED:-0}" = 1 ] || exit 1 ;;',
      '  "plugin get"|"theme get") [ -n "${WP_PLUGIN_VERSION:-}" ] && echo "$WP_PLUGIN_VERSION" || exit 1 ;;',
      '  "plugin is-active") exit 1 ;;',
      '  "core multisite-install") cat > /dev/null ;;',
      "esac",
      "",
    ].join("\n"), { mode: 0o755 });
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (script: string, env: Record<string, string> = {}) => {
    fs.writeFileSync(log, "");
    const r = spawnSync("sh", ["-s"], { input: script, encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}`, ...env } });
    return { ...r, log: fs.readFileSync(log, "utf8") };
  };
  const check = (script: string, name: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, script);
    const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", file], { encoding: "utf8" });
    assert.equal(r.status, 0, `shellcheck ${name}:\n${r.stdout}${r.stderr}`);
  };

  const staatic = renderStaaticScript({ editHostname: "alpha.wp.example.org", endpoint: "http://10.0.0.20:3900", region: "garage", bucket: "www.alpha.example", prefix: "", publicHostname: "www.alpha.example" });
  const site = renderSiteScript({ slug: "alpha", title: "L'Alpha \"quoted\" $HOME", email: "a@alpha.example", editHostname: "alpha.wp.example.org" });
  const install = renderNetworkInstallScript({ url: "https://wp.example.org", title: "Sites", adminUser: "factory-admin", adminEmail: "ops@example.org", adminPasswordFile: "/dev/null", marker: "" });
  const plugins = renderPluginsScript({ plugins: ["staatic@1.11.4"], themes: ["twentytwentyfive@1.3"] });

  it("every script passes shellcheck", () => {
    check(staatic, "staatic.sh");
    check(site, "site.sh");
    check(install, "install.sh");
    check(plugins, "plugins.sh");
  });

  it("php -l accepts wp-config with the rendered extra", () => {
    const file = path.join(dir, "wp-config-extra.php");
    fs.writeFileSync(file, `<?php\n${renderConfigExtra({ networkDomain: "wp.example.org" })}`);
    const r = spawnSync("php", ["-l", file], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it("the Staatic key goes to wp-cli on stdin only, never in any argv", () => {
    const r = run(staatic, { [STAATIC_ENV.accessKeyId]: KEY_ID, [STAATIC_ENV.secretAccessKey]: SECRET });
    assert.equal(r.status, 0, r.stderr);
    const argv = r.log.split("\n").filter((l) => l.startsWith("ARGV "));
    const stdin = r.log.split("\n").filter((l) => l.startsWith("STDIN "));
    assert.equal(argv.length, 8);
    for (const a of argv) {
      assert.ok(!a.includes(SECRET) && !a.includes(KEY_ID), a);
      assert.match(a, /^ARGV option update staatic_[a-z0-9_]+ --url=https:\/\/alpha\.wp\.example\.org\/$/);
    }
    assert.deepEqual(stdin, [
      "STDIN aws", "STDIN http://10.0.0.20:3900", "STDIN garage", "STDIN www.alpha.example", "STDIN ",
      "STDIN https://www.alpha.example/", `STDIN ${KEY_ID}`, `STDIN ${SECRET}`,
    ]);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
  });

  it("the Staatic script refuses to run without the key", () => {
    const r = run(staatic, { [STAATIC_ENV.accessKeyId]: KEY_ID });
    assert.notEqual(r.status, 0);
    assert.equal(r.log, "");
  });

  it("site create is idempotent and quotes the title", () => {
    const first = run(site, { WP_SITES: "wp.example.org" });
    assert.equal(first.status, 0, first.stderr);
    assert.ok(first.log.includes(`ARGV site create --slug=alpha --title=L'Alpha "quoted" $HOME --email=a@alpha.example --site-url=https://alpha.wp.example.org`), first.log);
    const again = run(site, { WP_SITES: "wp.example.org alpha.wp.example.org" });
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.log, /site create/);
    assert.match(again.stdout, /already exists/);
  });

  it("the network install runs once: installs when nothing is there, does nothing once the marker exists", () => {
    const marker = path.join(dir, "marker");
    const script = renderNetworkInstallScript({ url: "https://wp.example.org", title: "Sites", adminUser: "factory-admin", adminEmail: "ops@example.org", adminPasswordFile: "/dev/null", marker });
    const first = run(script, { WP_INSTALLED: "0" });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.log, /ARGV core multisite-install --skip-config --subdomains --skip-email --url=https:\/\/wp\.example\.org .*--prompt=admin_password/);
    assert.ok(fs.existsSync(marker));
    const second = run(script, { WP_INSTALLED: "1" });
    assert.equal(second.status, 0);
    assert.equal(second.log, "");
  });

  it("plugins at their pinned version are left alone; others installed and activated", () => {
    const fresh = run(plugins);
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.match(fresh.log, /ARGV plugin install staatic --version=1\.11\.4 --force/);
    assert.match(fresh.log, /ARGV plugin activate staatic --network/);
    assert.match(fresh.log, /ARGV theme install twentytwentyfive --version=1\.3 --force/);
    const pinned = run(plugins, { WP_PLUGIN_VERSION: "1.11.4" });
    assert.doesNotMatch(pinned.log, /plugin install/);
  });
});
