// Lab: what the Nextcloud factory generates, read by the real programs that read it.
//  - shellcheck on the patched entrypoint and every generated script (with secret preambles);
//  - php -l on the occ secret-arguments runner, then the runner itself: the secret reaches occ's argv
//    array inside PHP but never the process command line;
//  - the patched entrypoint run by dash, as an unprivileged user, over a read-only fake Nextcloud tree with
//    fake php/rsync/flock/occ on PATH that record every call: it copies nothing, upgrades nothing, takes no
//    lock, writes the Redis session ini where it can, and execs its command;
//  - a tenant's cron loop run by dash with a fake clock (date/sleep), fake php and the real flock: runs at
//    its offset once per interval, a failing run does not stop the loop; two tenants' loops at once never
//    overlap under the host lock (and do without it: the check can fail), a lock held too long skips a run,
//    and an unprivileged user takes the lock on a directory it cannot write (the read-only install root);
//  - a real Caddy serving the Nextcloud site (adapt + validate, then live): static files from the install
//    root, CalDAV/CardDAV redirects, internals refused, headers, and PHP handed to a FastCGI listener with
//    SCRIPT_FILENAME under /var/www/html (what the FPM container sees).
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { renderNextcloudSite } from "../../src/nextcloud/caddy";
import { CRON_SKIPPED_EXIT, cronOffsetSeconds, renderCronLoop } from "../../src/nextcloud/cron";
import { renderTenantEnv } from "../../src/nextcloud/env";
import { freePort } from "../../scripts/lab/net";
import {
  OCC_SECRET_ARGS_PHP, renderConfigureScript, renderInitScript, renderMaintenanceScript, renderPopulateScript,
  renderUpgradeScript, SCRIPT_SECRETS_DIR, withSecretFiles,
} from "../../src/nextcloud/scripts";
import { fakeSu } from "../support/fakeNextcloud";

const ROOT = path.resolve(__dirname, "..", "..");
const ENTRYPOINT = path.join(ROOT, "scripts", "nextcloud", "entrypoint.sh");
const CACHE = process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory");
const CADDY = process.env.SF_CADDY ?? path.join(CACHE, "bin", "caddy");
const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const missing = [
  ...(has("shellcheck") ? [] : ["shellcheck"]),
  ...(has("php") ? [] : ["php (php-cli)"]),
  ...(has("dash") ? [] : ["dash"]),
  ...(fs.existsSync(CADDY) ? [] : [`${CADDY}`]),
];
if (missing.length > 0 && process.env.CI) throw new Error(`Nextcloud lab tools missing: ${missing.join(", ")} (scripts/lab/install-test-tools.sh)`);
const skip = missing.length > 0 ? `tools missing: ${missing.join(", ")}` : false;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "nc-lab-"));
fs.chmodSync(tmpRoot, 0o755); // the entrypoint runs as an unprivileged user below
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function write(file: string, content: string, mode = 0o644): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  return file;
}

function shellcheck(name: string, script: string): void {
  const file = write(path.join(tmpRoot, "sc", name), script);
  const r = spawnSync("shellcheck", ["-s", "sh", "-S", "style", file], { encoding: "utf8" });
  assert.equal(r.status, 0, `shellcheck ${name}:\n${r.stdout}${r.stderr}`);
}

const ENV = renderTenantEnv({
  slug: "alpha", s3: { host: "10.0.0.20", port: 3900, region: "garage", bucket: "alpha-nextcloud", ssl: false },
  redis: { host: "redis", port: 6379, user: "nc-alpha" }, mail: { host: "smtp.example.org", port: 587, from: "noreply@example.org" },
  secretsDir: SCRIPT_SECRETS_DIR,
});

describe("nextcloud lab: generated scripts", { skip }, () => {
  it("shellcheck accepts the entrypoint and every generated script", () => {
    const r = spawnSync("shellcheck", ["-S", "style", ENTRYPOINT], { encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    shellcheck("populate.sh", renderPopulateScript({ version: "31.0.9", apps: ["user_oidc", "richdocuments"] }));
    shellcheck("populate-noapps.sh", renderPopulateScript({ version: "31.0.9", apps: [] }));
    shellcheck("init.sh", withSecretFiles(renderInitScript({
      slug: "alpha", env: ENV, db: { host: "10.0.0.20", port: 5432, name: "nextcloud_alpha", user: "nextcloud_alpha" },
      adminUser: "factory-admin", adminEmail: "admin@alpha.example.net",
    }), { "db-password": "p'w\"1$x", "admin-password": "a", "s3-secret-access-key": "s", "s3-access-key-id": "k", "smtp-password": "m" }));
    shellcheck("configure.sh", withSecretFiles(renderConfigureScript({
      slug: "alpha", hostname: "cloud.alpha.org", trustedProxies: ["10.0.0.10", "10.0.0.11"], apps: ["user_oidc", "richdocuments"],
      defaultUserQuota: "50 GB", oidc: { clientId: "nextcloud-alpha", discoveryUri: "https://auth.x/realms/f/.well-known/openid-configuration", role: "nextcloud:alpha" },
      collaboraUrl: "https://office.x",
    }), { "oidc-client-secret": "secret" }));
    shellcheck("upgrade.sh", renderUpgradeScript("alpha", "32.0.1"));
    shellcheck("maint-on.sh", renderMaintenanceScript({ stack: "prod", host: "nc1", mode: "on", version: "32.0.1" }));
    shellcheck("maint-off.sh", renderMaintenanceScript({ stack: "prod", host: "nc1", mode: "off", version: "32.0.1" }));
    shellcheck("cron.sh", renderCronLoop({ slug: "alpha", intervalMinutes: 5 }));
  });

  it("the occ runner passes @file: secrets to occ inside PHP, never on the command line", () => {
    const dir = path.join(tmpRoot, "occ");
    const runner = write(path.join(dir, "factory-occ.php"), OCC_SECRET_ARGS_PHP);
    const lint = spawnSync("php", ["-l", runner], { encoding: "utf8" });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    // A stand-in for Nextcloud's console.php: prints the argv occ would parse, and this process's real command line.
    write(path.join(dir, "root", "console.php"), `<?php
echo json_encode(['argv' => $_SERVER['argv'], 'cmdline' => str_replace("\\0", " ", file_get_contents('/proc/self/cmdline'))]);
`);
    const secret = "s3cr3t with 'quotes' and $dollar";
    write(path.join(dir, "pw"), `${secret}\n`, 0o600);
    const r = spawnSync("php", [runner, "maintenance:install", "--database=pgsql", `--database-pass=@file:${path.join(dir, "pw")}`, "--admin-user=x"], {
      encoding: "utf8", env: { ...process.env, FACTORY_NEXTCLOUD_ROOT: path.join(dir, "root") },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { argv: string[]; cmdline: string };
    assert.deepEqual(out.argv, ["occ", "maintenance:install", "--database=pgsql", `--database-pass=${secret}`, "--admin-user=x"]);
    assert.ok(!out.cmdline.includes("s3cr3t"), "the secret is not on the command line");
    assert.ok(out.cmdline.includes("@file:"));
    const bad = spawnSync("php", [runner, "x", "--database-pass=@file:/nonexistent/pw"], { encoding: "utf8", env: { ...process.env, FACTORY_NEXTCLOUD_ROOT: path.join(dir, "root") } });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /cannot read the file given for --database-pass=/);
  });
});

/** Fake tools for the generated scripts: each logs its arguments; `su -c CMD` runs CMD; php is scripted. */
function scriptWorld(name: string): { dir: string; bin: string; log: string; calls: () => string[] } {
  const dir = path.join(tmpRoot, name);
  const bin = path.join(dir, "bin");
  const log = write(path.join(dir, "calls.log"), "");
  for (const tool of ["chown", "cp"]) write(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\n`, 0o755);
  write(path.join(bin, "su"), fakeSu({ log }), 0o755);
  return { dir, bin, log, calls: () => fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) };
}

describe("nextcloud lab: the install, settings and maintenance scripts with fake tools", { skip }, () => {
  // init, upgrade, maintenance and configure against a fake occ that behaves as Nextcloud's (maintenance
  // mode, pending upgrades, read-only apps folder, owner of config.php) and a real PostgreSQL:
  // test/lab/nextcloud-occ.lab.test.ts.

  it("the updater checks the version, adds the missing apps through a throw-away instance and writes its marker", () => {
    const run = (name: string, version: string) => {
      const w = scriptWorld(name);
      const root = path.join(w.dir, "html");
      write(path.join(root, "version.php"), "<?php $OC_Version = [31, 0, 9, 2];\n");
      write(path.join(root, "config", "apps.config.php"), "<?php\n");
      fs.mkdirSync(path.join(root, "apps", "richdocuments"), { recursive: true }); // pretend it ships with Nextcloud
      // php: the real one for -r (version.php); occ app:install creates the app folder.
      write(path.join(w.bin, "php"), `#!/bin/sh
case "$1" in -r) exec /usr/bin/php "$@" ;; esac
echo "php $*" >> "${w.log}"
case "$*" in *"app:install --keep-disabled "*) eval "app=\\\${$#}"; mkdir -p "${root}/custom_apps/$app" ;; esac
`, 0o755);
      const r = spawnSync("dash", ["-s"], {
        input: renderPopulateScript({ version, apps: ["user_oidc", "richdocuments"] }),
        env: { PATH: `${w.bin}:/usr/bin:/bin`, FACTORY_NEXTCLOUD_ROOT: root }, encoding: "utf8",
      });
      return { ...r, w, root };
    };
    const bad = run("updater-mismatch", "31.0.8");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /install volume holds Nextcloud 31.0.9, expected 31.0.8/);
    assert.deepEqual(bad.w.calls(), []);
    const ok = run("updater", "31.0.9");
    assert.equal(ok.status, 0, ok.stderr);
    const occ = ok.w.calls().filter((c) => c.startsWith("php "));
    assert.equal(occ.length, 2);
    assert.match(occ[0], new RegExp(`^php ${ok.root}/occ maintenance:install --database=sqlite .* --admin-user=populate --admin-pass=[0-9a-f]{48}$`));
    assert.equal(occ[1], `php ${ok.root}/occ app:install --keep-disabled user_oidc`);
    assert.match(ok.stdout, /app richdocuments already present/);
    assert.equal(fs.readFileSync(path.join(ok.root, ".factory-install"), "utf8"), "version=31.0.9\napps=richdocuments,user_oidc\n");
  });

  it("configure hands the OIDC secret to occ by variable name only", () => {
    const w = scriptWorld("configure");
    const secrets = path.join(w.dir, "secrets");
    const got = path.join(w.dir, "oidc-env");
    write(path.join(w.bin, "php"), `#!/bin/sh
echo "php $*" >> "${w.log}"
case "$*" in *user_oidc:provider*) printf '%s' "$FACTORY_OIDC_CLIENT_SECRET" > "${got}"; echo "provider with secret $FACTORY_OIDC_CLIENT_SECRET" ;; esac
`, 0o755);
    const secret = "oidc-S3CRET-value";
    const script = withSecretFiles(renderConfigureScript({
      slug: "alpha", hostname: "cloud.alpha.org", trustedProxies: ["10.0.0.10"], apps: ["user_oidc", "richdocuments"], defaultUserQuota: "50 GB",
      oidc: { clientId: "nextcloud-alpha", discoveryUri: "https://auth.x/realms/f/.well-known/openid-configuration", role: "nextcloud:alpha" },
      collaboraUrl: "https://office.x", secretsDir: secrets,
    }), { "oidc-client-secret": secret }, secrets);
    const r = spawnSync("dash", ["-s"], { input: script, env: { PATH: `${w.bin}:/usr/bin:/bin` }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(got, "utf8"), secret);
    assert.ok(!fs.readFileSync(w.log, "utf8").includes(secret), "not in any argv");
    assert.ok(!r.stdout.includes(secret), "occ's echo of the provider is discarded");
    assert.ok(!fs.existsSync(secrets));
    const calls = w.calls();
    assert.ok(calls.includes("php /var/www/html/occ config:system:set trusted_domains 0 --value=cloud.alpha.org"));
    assert.ok(calls.includes("php /var/www/html/occ config:system:delete trusted_domains 1"));
    assert.ok(calls.includes("php /var/www/html/occ config:app:set --type=string --value=0 user_oidc allow_multiple_user_backends"));
  });

  it("maintenance on refuses an unsupported jump before touching any tenant, and skips uninstalled ones", () => {
    const run = (versions: Record<string, string>, target: string) => {
      const w = scriptWorld(`maint-${Object.values(versions).join("-")}-${target}`);
      const cases = Object.entries(versions).map(([c, v]) =>
        `  "exec -u www-data ${c} php /var/www/html/occ status --output=json") echo '{"installed":${v ? "true" : "false"},"versionstring":"${v}"}' ;;`).join("\n");
      write(path.join(w.bin, "docker"), `#!/bin/sh
echo "docker $*" >> "${w.log}"
case "$*" in
  "ps --filter label=service-factory.stack=prod --filter label=service-factory.nextcloud=fpm --format {{.Names}}") printf '%s\\n' ${Object.keys(versions).join(" ")} ;;
${cases}
esac
`, 0o755);
      const r = spawnSync("dash", ["-s"], { input: renderMaintenanceScript({ stack: "prod", host: "nc1", mode: "on", version: target }), env: { PATH: `${w.bin}:/usr/bin:/bin` }, encoding: "utf8" });
      return { status: r.status, stderr: r.stderr, on: w.calls().filter((c) => c.endsWith("maintenance:mode --on")) };
    };
    const ok = run({ "prod-nc-a": "31.0.9", "prod-nc-b": "31.0.9", "prod-nc-new": "" }, "32.0.1");
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(ok.on, ["docker exec -u www-data prod-nc-a php /var/www/html/occ maintenance:mode --on", "docker exec -u www-data prod-nc-b php /var/www/html/occ maintenance:mode --on"]);
    const skip2 = run({ "prod-nc-a": "30.0.4" }, "32.0.1");
    assert.equal(skip2.status, 1);
    assert.match(skip2.stderr, /runs Nextcloud 30.0.4: going to 32.0.1 is not supported/);
    assert.deepEqual(skip2.on, []);
    const down = run({ "prod-nc-a": "32.0.1" }, "31.0.9");
    assert.equal(down.status, 1);
    assert.deepEqual(down.on, []);
  });
});

/** A read-only fake Nextcloud tree and fake tools that log every call. */
function fakeWorld(name: string): { dir: string; tree: string; bin: string; log: string; snapshot: () => string } {
  const dir = path.join(tmpRoot, name);
  const tree = path.join(dir, "html");
  write(path.join(tree, "version.php"), "<?php $OC_Version = [31, 0, 9, 1];\n");
  write(path.join(tree, "occ"), "#!/usr/bin/env php\n<?php require 'console.php';\n", 0o755);
  write(path.join(tree, "index.php"), "<?php\n");
  write(path.join(tree, "config", "apps.config.php"), "<?php\n");
  const bin = path.join(dir, "bin");
  const log = path.join(dir, "calls.log");
  write(log, "");
  fs.chmodSync(log, 0o666);
  fs.chmodSync(dir, 0o777); // fake tools write here while the entrypoint runs unprivileged
  for (const tool of ["php", "rsync", "flock", "occ", "cp", "chown", "tar"]) {
    write(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\nexit 0\n`, 0o755);
  }
  // php-fpm: what the entrypoint execs; records its arguments and the environment it got.
  write(path.join(bin, "php-fpm"), `#!/bin/sh\necho "php-fpm $*" >> "${log}"\nenv | sort > "${dir}/fpm.env"\nexit 0\n`, 0o755);
  const snapshot = () => spawnSync("sh", ["-c", `cd "${tree}" && find . -printf '%p %m %s %T@\\n' | sort && cat $(find . -type f | sort)`], { encoding: "utf8" }).stdout;
  return { dir, tree, bin, log, snapshot };
}

describe("nextcloud lab: the patched entrypoint over a read-only install", { skip }, () => {
  it("neither copies nor upgrades nor locks, writes the session ini it may, and execs the command", () => {
    const w = fakeWorld("entrypoint");
    const conf = path.join(w.dir, "php-conf.d"); // the image's conf.d: not writable for www-data
    fs.mkdirSync(conf, { mode: 0o755 });
    const data = path.join(w.dir, "data");
    fs.mkdirSync(data);
    fs.chmodSync(data, 0o777);
    const tmp = path.join(w.dir, "tmp"); // the container's /tmp
    fs.mkdirSync(tmp);
    fs.chmodSync(tmp, 0o1777);
    write(path.join(w.dir, "redis-pw"), "redis-S3CRET\n", 0o644);
    spawnSync("chmod", ["-R", "a-w", w.tree]);
    const before = w.snapshot();
    const asUser = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const env = {
      PATH: `${w.bin}:/usr/bin:/bin`,
      HOME: w.dir,
      NEXTCLOUD_UPDATE: "0",
      NEXTCLOUD_DATA_DIR: data,
      NEXTCLOUD_CONFIG_DIR: path.join(w.dir, "config"),
      REDIS_HOST: "redis",
      REDIS_HOST_PORT: "6379",
      REDIS_HOST_USER: "nc-alpha",
      REDIS_HOST_PASSWORD_FILE: path.join(w.dir, "redis-pw"),
      FACTORY_REDIS_SESSION_PREFIX: "nc-alpha:",
      PHP_CONF_DIR: conf,
      FACTORY_PHP_INI_DIR: path.join(tmp, "php-conf.d"),
    };
    const r = spawnSync(asUser[0] ?? "dash", [...asUser.slice(1), ...(asUser.length ? ["dash"] : []), ENTRYPOINT, "php-fpm", "-F"], { cwd: w.tree, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const calls = fs.readFileSync(w.log, "utf8").trim().split("\n");
    assert.deepEqual(calls, ["php-fpm -F"], "only the command ran: no php, occ, rsync, flock, cp, chown or tar");
    assert.equal(w.snapshot(), before, "the install tree is unchanged");
    assert.ok(!fs.existsSync(path.join(w.tree, "nextcloud-init-sync.lock")));
    const ini = fs.readFileSync(path.join(tmp, "php-conf.d", "redis-session.ini"), "utf8");
    assert.equal(ini, [
      "session.save_handler = redis",
      'session.save_path = "tcp://redis:6379?auth[]=nc-alpha&auth[]=redis-S3CRET&prefix=nc-alpha:"',
      "redis.session.locking_enabled = 1",
      "redis.session.lock_retries = -1",
      "redis.session.lock_wait_time = 10000",
      "",
    ].join("\n"));
    const fpmEnv = fs.readFileSync(path.join(w.dir, "fpm.env"), "utf8");
    assert.match(fpmEnv, new RegExp(`^PHP_INI_SCAN_DIR=${conf}:${path.join(tmp, "php-conf.d")}$`, "m"));
    assert.ok(!fpmEnv.includes("redis-S3CRET"), "the Redis password is not in PHP-FPM's environment");
    assert.match(fpmEnv, /^REDIS_HOST_PASSWORD_FILE=/m, "redis.config.php still finds the password file");
    assert.ok(fs.existsSync(path.join(data, ".ocdata")), ".ocdata marker present");
  });

  it("refuses NEXTCLOUD_UPDATE=1 and runs nothing", () => {
    const w = fakeWorld("entrypoint-update");
    const r = spawnSync("dash", [ENTRYPOINT, "php-fpm"], { env: { PATH: `${w.bin}:/usr/bin:/bin`, NEXTCLOUD_UPDATE: "1" }, encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /never installs nor upgrades/);
    assert.equal(fs.readFileSync(w.log, "utf8"), "");
  });

  it("refuses a secret given both as VAR and VAR_FILE (like the official file_env)", () => {
    const w = fakeWorld("entrypoint-both");
    const r = spawnSync("dash", [ENTRYPOINT, "php-fpm"], {
      env: { PATH: `${w.bin}:/usr/bin:/bin`, REDIS_HOST_PASSWORD: "x", REDIS_HOST_PASSWORD_FILE: "/dev/null" }, encoding: "utf8",
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /both REDIS_HOST_PASSWORD and REDIS_HOST_PASSWORD_FILE are set/);
    assert.equal(fs.readFileSync(w.log, "utf8"), "");
  });
});

describe("nextcloud lab: the tenant's cron loop and the host lock", { skip }, () => {
  /** A fake clock for one loop: `date +%s` reads it, `sleep N` advances it; php is given by the caller. */
  function fakeClock(dir: string, start: number, php: string): { bin: string; clock: string } {
    const bin = path.join(dir, "bin");
    const clock = write(path.join(dir, "clock"), `${start}\n`);
    write(path.join(bin, "date"), `#!/bin/sh\ncat "${clock}"\n`, 0o755);
    write(path.join(bin, "sleep"), `#!/bin/sh\necho $(( $(cat "${clock}") + $1 )) > "${clock}"\n`, 0o755);
    write(path.join(bin, "php"), php, 0o755);
    return { bin, clock };
  }
  const loopEnv = (bin: string, extra: Record<string, string>) => ({ PATH: `${bin}:/usr/bin:/bin`, FACTORY_NEXTCLOUD_ROOT: "/nc", ...extra });

  it("runs cron.php at the tenant's offset once per interval, and a failing run does not stop it", () => {
    const dir = path.join(tmpRoot, "cron-one");
    const log = path.join(dir, "runs.log");
    const lock = fs.mkdtempSync(path.join(tmpRoot, "lock-"));
    const { bin } = fakeClock(dir, 960, `#!/bin/sh
now=$(cat "${dir}/clock")
echo "$now $*" >> "${log}"
echo $((now + 7)) > "${dir}/clock"
n=$(wc -l < "${log}")
[ "$n" -ne 2 ]
`);
    const script = write(path.join(dir, "cron.sh"), renderCronLoop({ slug: "alpha", intervalMinutes: 1 }));
    const r = spawnSync("dash", [script], { env: loopEnv(bin, { FACTORY_CRON_CYCLES: "3", FACTORY_CRON_LOCK: lock }), encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const offset = cronOffsetSeconds("alpha", 1);
    // Interval 60 s from 960 (a whole minute): at 960+offset, 1020+offset, 1080+offset; each run takes 7 s.
    assert.deepEqual(fs.readFileSync(log, "utf8").trim().split("\n"), [960, 1020, 1080].map((t) => `${t + offset} -f /nc/cron.php`));
    assert.deepEqual(r.stdout.trim().split("\n"), ["cron tenant=alpha exit=0 seconds=7", "cron tenant=alpha exit=1 seconds=7", "cron tenant=alpha exit=0 seconds=7"]);
  });

  /** Two tenants' loops at once, their php holding whatever lock they got for 300 ms of real time. */
  async function twoLoops(dir: string, locks: [string, string]): Promise<{ slug: string; start: bigint; end: bigint }[]> {
    const log = path.join(dir, "runs.log");
    const runs = ["alpha", "bravo"].map((slug, i) => {
      const { bin } = fakeClock(path.join(dir, slug), 960, `#!/bin/sh
echo "start ${slug} $(/bin/date +%s%N)" >> "${log}"
/bin/sleep 0.3
echo "end ${slug} $(/bin/date +%s%N)" >> "${log}"
`);
      const script = write(path.join(dir, `${slug}.sh`), renderCronLoop({ slug, intervalMinutes: 1 }));
      const child = spawn("dash", [script], { env: loopEnv(bin, { FACTORY_CRON_CYCLES: "3", FACTORY_CRON_LOCK: locks[i] }), stdio: "ignore" });
      return new Promise<number | null>((resolve) => child.on("exit", resolve));
    });
    assert.deepEqual(await Promise.all(runs), [0, 0]);
    const lines = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" "));
    const out: { slug: string; start: bigint; end: bigint }[] = [];
    for (const [kind, slug, ns] of lines) {
      if (kind === "start") out.push({ slug, start: BigInt(ns), end: -1n });
      else out.find((x) => x.slug === slug && x.end < 0n)!.end = BigInt(ns);
    }
    return out.sort((a, b) => (a.start < b.start ? -1 : 1));
  }
  const overlaps = (runs: { start: bigint; end: bigint }[]) => runs.slice(1).filter((r, i) => r.start < runs[i].end).length;

  it("two tenants of a host never run at the same time under the host lock (and do without it)", async () => {
    const lock = fs.mkdtempSync(path.join(tmpRoot, "lock-"));
    const locked = await twoLoops(fs.mkdtempSync(path.join(tmpRoot, "cron-two-")), [lock, lock]);
    assert.equal(locked.length, 6);
    assert.equal(overlaps(locked), 0, JSON.stringify(locked.map((r) => [r.slug, String(r.start), String(r.end)])));
    // The same two loops with a lock each: the check above sees their runs overlap.
    const apart = await twoLoops(fs.mkdtempSync(path.join(tmpRoot, "cron-apart-")), [fs.mkdtempSync(path.join(tmpRoot, "lock-")), fs.mkdtempSync(path.join(tmpRoot, "lock-"))]);
    assert.equal(apart.length, 6);
    assert.ok(overlaps(apart) > 0, "without a shared lock the runs overlap");
  });

  it("skips a run, and says so, when the host stays busy longer than the wait", async () => {
    const dir = path.join(tmpRoot, "cron-busy");
    const lock = fs.mkdtempSync(path.join(tmpRoot, "lock-"));
    const { bin } = fakeClock(dir, 960, `#!/bin/sh\necho ran >> "${dir}/runs.log"\n`);
    const holder = spawn("flock", [lock, "/bin/sleep", "5"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const script = write(path.join(dir, "cron.sh"), renderCronLoop({ slug: "alpha", intervalMinutes: 1 }));
      const r = spawnSync("dash", [script], { env: loopEnv(bin, { FACTORY_CRON_CYCLES: "1", FACTORY_CRON_LOCK: lock, FACTORY_CRON_LOCK_WAIT: "1" }), encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), `cron tenant=alpha exit=${CRON_SKIPPED_EXIT} seconds=0`);
      assert.equal(fs.existsSync(path.join(dir, "runs.log")), false, "cron.php did not run");
    } finally {
      holder.kill();
    }
  });

  it("an unprivileged user takes the lock on a directory it cannot write (the read-only install root)", () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, "cron-ro-"));
    fs.chmodSync(dir, 0o755);
    const lock = path.join(dir, "install");
    fs.mkdirSync(lock, { mode: 0o555 });
    const { bin } = fakeClock(dir, 960, `#!/bin/sh\nexit 0\n`);
    fs.chmodSync(path.join(dir, "clock"), 0o666);
    const script = write(path.join(dir, "cron.sh"), renderCronLoop({ slug: "alpha", intervalMinutes: 1 }));
    // In a mount namespace of its own, the directory is made a read-only mount (as the install volume is
    // in the container), then the loop runs as www-data's uid.
    const r = spawnSync("unshare", ["-m", "sh", "-c", 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && ! touch "$1/probe" 2>/dev/null && exec setpriv --reuid=33 --regid=33 --clear-groups dash "$2"', "sh", lock, script], {
      env: loopEnv(bin, { FACTORY_CRON_CYCLES: "1", FACTORY_CRON_LOCK: lock }), encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "cron tenant=alpha exit=0 seconds=0");
    assert.deepEqual(fs.readdirSync(lock), [], "nothing was created in the lock directory");
  });
});

/** A minimal FastCGI responder: records the PARAMS of each request and answers 200 "fpm ok". */
function fastcgiServer(seen: Record<string, string>[]): net.Server {
  return net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let params = Buffer.alloc(0);
    let requestId = 1;
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        const type = buf[1];
        requestId = buf.readUInt16BE(2);
        const len = buf.readUInt16BE(4);
        const pad = buf[6];
        if (buf.length < 8 + len + pad) break;
        const content = buf.subarray(8, 8 + len);
        buf = buf.subarray(8 + len + pad);
        if (type === 4 && len > 0) params = Buffer.concat([params, content]);
        if (type === 4 && len === 0) seen.push(decodeParams(params));
        if (type === 5 && len === 0) {
          const body = Buffer.from("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfpm ok");
          const rec = (t: number, c: Buffer) => {
            const h = Buffer.alloc(8);
            h[0] = 1; h[1] = t; h.writeUInt16BE(requestId, 2); h.writeUInt16BE(c.length, 4);
            return Buffer.concat([h, c]);
          };
          sock.end(Buffer.concat([rec(6, body), rec(6, Buffer.alloc(0)), rec(3, Buffer.alloc(8))]));
        }
      }
    });
    sock.on("error", () => undefined);
  });
}

function decodeParams(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const len = () => {
    if (b[i] >> 7) { const n = b.readUInt32BE(i) & 0x7fffffff; i += 4; return n; }
    return b[i++];
  };
  while (i < b.length) {
    const nl = len();
    const vl = len();
    const name = b.subarray(i, i + nl).toString(); i += nl;
    out[name] = b.subarray(i, i + vl).toString(); i += vl;
  }
  return out;
}

function get(port: number, host: string, p: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, headers: { host } }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("nextcloud lab: the Caddy site, served by the real Caddy", { skip }, () => {
  const seen: Record<string, string>[] = [];
  let fcgi: net.Server;
  let caddyProc: ChildProcess | undefined;
  let httpPort = 0;
  const host = "cloud.alpha.example.net";
  before(async () => {
    fcgi = fastcgiServer(seen);
    await new Promise<void>((r) => fcgi.listen(0, "127.0.0.1", () => r()));
    const fcgiPort = (fcgi.address() as net.AddressInfo).port;
    httpPort = await freePort();
    const adminPort = await freePort();
    const root = path.join(tmpRoot, "caddy-install");
    write(path.join(root, "core", "css", "server.css"), "body{}\n");
    // try_files looks for the PHP files in the install root, as mounted in the compute Caddy.
    write(path.join(root, "index.php"), "<?php\n");
    write(path.join(root, "remote.php"), "<?php\n");
    write(path.join(root, "config", "config.sample.php"), "<?php\n");
    write(path.join(root, ".htaccess"), "deny\n");
    const site = renderNextcloudSite({ hostname: host, fpmUpstream: `127.0.0.1:${fcgiPort}`, installRoot: root, maxUploadMb: 16 });
    // As the compute Caddy pins it: plain HTTP on its own port.
    const caddyfile = `{\n\tadmin 127.0.0.1:${adminPort}\n\tauto_https off\n\tpersist_config off\n}\n` + site.replace(`${host} {`, `http://${host}:${httpPort} {`);
    const file = write(path.join(tmpRoot, "Caddyfile"), caddyfile);
    for (const cmd of ["adapt", "validate"]) {
      const r = spawnSync(CADDY, [cmd, "--config", file, "--adapter", "caddyfile"], { encoding: "utf8", env: { ...process.env, HOME: tmpRoot, XDG_DATA_HOME: tmpRoot, XDG_CONFIG_HOME: tmpRoot } });
      assert.equal(r.status, 0, `caddy ${cmd}: ${r.stderr}`);
    }
    caddyProc = spawn(CADDY, ["run", "--config", file, "--adapter", "caddyfile"], { stdio: "ignore", env: { ...process.env, HOME: tmpRoot, XDG_DATA_HOME: tmpRoot, XDG_CONFIG_HOME: tmpRoot } });
    for (let i = 0; i < 200; i++) {
      try { await get(httpPort, host, "/core/css/server.css"); return; } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    throw new Error("caddy did not start");
  });
  after(async () => {
    caddyProc?.kill("SIGTERM");
    await new Promise<void>((r) => fcgi.close(() => r()));
  });

  it("serves static files from the install root with Nextcloud's headers", async () => {
    const r = await get(httpPort, host, "/core/css/server.css");
    assert.equal(r.status, 200);
    assert.equal(r.body, "body{}\n");
    assert.equal(r.headers["x-content-type-options"], "nosniff");
    assert.equal(r.headers["x-robots-tag"], "noindex, nofollow");
    assert.equal(r.headers["referrer-policy"], "no-referrer");
    assert.equal(r.headers["strict-transport-security"], "max-age=15552000; includeSubDomains");
    assert.equal(r.headers["cache-control"], "max-age=15778463");
  });

  it("redirects CalDAV/CardDAV discovery and refuses internals", async () => {
    for (const p of ["/.well-known/caldav", "/.well-known/carddav"]) {
      const r = await get(httpPort, host, p);
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, "/remote.php/dav/");
    }
    for (const p of ["/config/config.sample.php", "/.htaccess", "/data/x", "/occ", "/3rdparty/x", "/console.php"]) {
      assert.equal((await get(httpPort, host, p)).status, 404, p);
    }
  });

  it("hands PHP and front-controller paths to FPM with the FPM container's paths", async () => {
    seen.length = 0;
    const a = await get(httpPort, host, "/apps/files/");
    assert.equal(a.status, 200);
    assert.equal(a.body, "fpm ok");
    const b = await get(httpPort, host, "/remote.php/dav/files/alice/");
    assert.equal(b.status, 200);
    assert.equal(seen.length, 2);
    assert.equal(seen[0].SCRIPT_FILENAME, "/var/www/html/index.php");
    assert.equal(seen[0].front_controller_active, "true");
    assert.equal(seen[1].SCRIPT_FILENAME, "/var/www/html/remote.php");
    // Nextcloud routes on REQUEST_URI (kept verbatim); Caddy's PATH_INFO comes from the cleaned path.
    assert.equal(seen[1].REQUEST_URI, "/remote.php/dav/files/alice/");
    assert.equal(seen[1].SCRIPT_NAME, "/remote.php");
    assert.match(seen[1].PATH_INFO, /^\/dav\/files\/alice\/?$/);
  });
});
