// Lab: the WordPress scripts and config checked by real programs: shellcheck on every script, `php -l` on
// the wp-config extra, and each script run by sh against a recording fake `wp` (argv and stdin logged) to
// prove idempotence and that the Staatic key reaches wp-cli on stdin, never in any argv.
import assert from "node:assert/strict";
import fc from "fast-check";
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
    // A fake wp: logs "ARGV <args>" and "STDIN <data>" for updates; `core is-installed` from
    // $WP_INSTALLED, `plugin get` from $WP_PLUGIN_VERSION. $WP_SITES lists the network's domains in
    // blog_id order (1 = the main site): `site list` answers --field=domain, --site__in=<id> and
    // --domain=<d> --field=blog_id from it. `site create` accepts exactly the synopsis of entity-command
    // v2.8.4, the one wp-cli 2.12.0 bundles (Site_Command.php l. 373-389; --slug required), and refuses
    // any other option as wp-cli does (Subcommand.php l. 390-407); --porcelain prints $WP_NEW_SITE_ID.
    // `eval` logs the site id and host it was handed in the environment.
    fs.writeFileSync(path.join(bin, "wp"), [
      "#!/bin/sh",
      // printf, not echo: dash's echo would rewrite backslashes in the arguments it logs.
      `printf 'ARGV %s\\n' "$*" >> '${log}'`,
      'case "$1 $2" in',
      '  "option update") printf "STDIN %s\\n" "$(cat)" >> \'' + log + "' ;;",
      '  "site list")',
      '    shift 2; field=""; only=""; domain=""',
      '    for a in "$@"; do case "$a" in --field=*) field=${a#--field=} ;; --site__in=*) only=${a#--site__in=} ;; --domain=*) domain=${a#--domain=} ;; esac; done',
      '    i=0; for d in ${WP_SITES:-}; do i=$((i + 1))',
      '      { [ -z "$only" ] || [ "$only" = "$i" ]; } && { [ -z "$domain" ] || [ "$domain" = "$d" ]; } || continue',
      '      if [ "$field" = blog_id ]; then echo "$i"; else echo "$d"; fi',
      '    done ;;',
      '  "site create")',
      '    shift 2; slug=""; porcelain=""',
      '    for a in "$@"; do case "$a" in',
      '      --slug=*) slug=${a#--slug=} ;; --porcelain) porcelain=1 ;; --title=*|--email=*|--network_id=*|--private) ;;',
      '      --url=*|--path=*|--user=*|--skip-plugins*|--skip-themes*|--quiet|--debug*) ;;',
      '      --*) o=${a#--}; printf "Error: Parameter errors:\\n unknown --%s parameter\\n" "${o%%=*}" >&2; exit 1 ;;',
      '    esac; done',
      '    [ -n "$slug" ] || { echo "Error: Parameter errors: missing --slug parameter" >&2; exit 1; }',
      '    if [ -n "$porcelain" ]; then echo "${WP_NEW_SITE_ID:-2}"; else echo "Success: Site ${WP_NEW_SITE_ID:-2} created"; fi ;;',
      '  "eval "*) echo "EVAL id=${FACTORY_SITE_ID:-} host=${FACTORY_SITE_HOST:-}" >> \'' + log + "' ;;",
      '  "core is-installed") [ "${WP_INSTALLED:-0}" = 1 ] || exit 1 ;;',
      '  "plugin get"|"theme get") [ -n "${WP_PLUGIN_VERSION:-}" ] && echo "$WP_PLUGIN_VERSION" || exit 1 ;;',
      '  "plugin is-active") exit 1 ;;',
      '  "plugin list") for p in ${WP_ACTIVE_PLUGINS:-}; do echo "$p"; done ;;',
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

  it("php -l accepts the PHP the site script hands to wp eval", () => {
    const code = /wp eval '([^']*)'/.exec(site)?.[1];
    assert.ok(code, site);
    const file = path.join(dir, "site-eval.php");
    fs.writeFileSync(file, `<?php\n${code}\n`);
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

  it("site create uses only the pinned wp-cli's options, is idempotent and quotes the title", () => {
    const first = run(site, { WP_SITES: "wp.example.org" });
    assert.equal(first.status, 0, first.stderr);
    assert.ok(first.log.includes(`ARGV site create --slug=alpha --title=L'Alpha "quoted" $HOME --email=a@alpha.example --porcelain`), first.log);
    assert.match(first.log, /ARGV site list --domain=alpha\.wp\.example\.org --field=blog_id/);
    assert.match(first.log, /EVAL id=2 host=alpha\.wp\.example\.org/);
    const again = run(site, { WP_SITES: "wp.example.org alpha.wp.example.org" });
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.log, /site create|EVAL/);
    assert.match(again.stdout, /already exists/);
  });

  it("hostile titles and contact addresses reach wp-cli as one argument each, intact, and run nothing", () => {
    const canary = path.join(dir, "pwned");
    const chars = fc.constantFrom("'", '"', "`", "$", "(", ")", ";", "\\", " ", "&", "|", "<", ">", "*", "{", "}", "!", "#", "a", "é");
    fc.assert(fc.property(fc.string({ unit: chars, minLength: 1, maxLength: 16 }), fc.string({ unit: chars, minLength: 1, maxLength: 8 }), (t, e) => {
      const title = `${t}$(touch ${canary})\`touch ${canary}\``;
      const email = `${e}$(touch ${canary})@x.org`;
      const r = run(renderSiteScript({ slug: "alpha", title, email, editHostname: "alpha.wp.example.org" }), { WP_SITES: "wp.example.org" });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(!fs.existsSync(canary), `${JSON.stringify(title)} / ${JSON.stringify(email)} ran a command`);
      assert.ok(r.log.includes(`ARGV site create --slug=alpha --title=${title} --email=${email} --porcelain\n`), r.log);
    }), { numRuns: 40, seed: 7 });
  });

  it("a custom editing hostname: created by slug, then moved; a half-done run is resumed, not re-created", () => {
    const custom = renderSiteScript({ slug: "beta", title: "Beta", email: "b@beta.example", editHostname: "edit.beta.example" });
    const first = run(custom, { WP_SITES: "wp.example.org", WP_NEW_SITE_ID: "7" });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.log, /ARGV site create --slug=beta /);
    assert.match(first.log, /EVAL id=7 host=edit\.beta\.example/);
    // Created last time but not moved (the eval failed): found by its default domain, moved, no second create.
    const resumed = run(custom, { WP_SITES: "wp.example.org alpha.wp.example.org beta.wp.example.org" });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.doesNotMatch(resumed.log, /site create/);
    assert.match(resumed.log, /EVAL id=3 host=edit\.beta\.example/);
  });

  it("the fake wp refuses --site-url as wp-cli 2.12.0 does", () => {
    const r = run("wp site create --slug=x --site-url=https://x.example.org\n");
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /unknown --site-url parameter/);
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

  it("a plugin taken off the list is deactivated network-wide; the listed ones are not", () => {
    const r = run(plugins, { WP_PLUGIN_VERSION: "1.11.4", WP_ACTIVE_PLUGINS: "akismet staatic hello-dolly" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.log, /ARGV plugin list --status=active-network --field=name/);
    const deactivated = r.log.split("\n").filter((l) => l.startsWith("ARGV plugin deactivate"));
    assert.deepEqual(deactivated, ["ARGV plugin deactivate akismet --network", "ARGV plugin deactivate hello-dolly --network"]);
    assert.match(r.stdout, /plugin hello-dolly deactivated network-wide/);
    const none = run(plugins, { WP_PLUGIN_VERSION: "1.11.4", WP_ACTIVE_PLUGINS: "staatic" });
    assert.ok(!none.log.includes("plugin deactivate"));
  });
});
