// A world in which the factory's Nextcloud scripts run as on a host, with a fake Nextcloud that behaves as
// the real one where they depend on it (test/support/fake-nextcloud/console.php says how, with sources):
// - install trees (the install volumes): version.php, occ, the fake console.php, apps/ and custom_apps/
//   with each app's appinfo/info.xml version; owned by root, mode 0755, so www-data cannot write them,
//   which is what the read-only mount gives in production;
// - the image's /usr/src/nextcloud/config snippets (apps.config.php as the official image has it,
//   nextcloud/docker .config/apps.config.php);
// - "container" tools: `php /var/www/html/occ` runs the tree of the container, `cp /usr/src/nextcloud/...`
//   reads the fake image copy, `su -p www-data -s /bin/sh -c CMD` really switches to uid 33 (setpriv);
// - a fake `docker` for the maintenance and exec steps: `ps` lists the registered FPM containers (the
//   label filters of the scripts are not evaluated: only FPM containers of one stack are registered),
//   `exec [-i] [-u USER] NAME CMD...` runs CMD with the container's environment, as that user.
import * as fs from "node:fs";
import * as path from "node:path";

export const WWW_DATA = 33;
const CONSOLE_SOURCE = path.join(__dirname, "fake-nextcloud", "console.php");

export const IMAGE_APPS_CONFIG = `<?php
$CONFIG = array (
  "apps_paths" => array (
      0 => array (
              "path"     => OC::$SERVERROOT."/apps",
              "url"      => "/apps",
              "writable" => false,
      ),
      1 => array (
              "path"     => OC::$SERVERROOT."/custom_apps",
              "url"      => "/custom_apps",
              "writable" => true,
      ),
  ),
);
`;

function write(file: string, content: string, mode = 0o644): string {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  return file;
}

/** Makes every folder from `dir` up to `/` traversable by www-data (mkdtemp makes 0700 folders). */
export function openPath(dir: string): void {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    const mode = fs.statSync(d).mode & 0o777;
    if ((mode & 0o005) !== 0o005) fs.chmodSync(d, mode | 0o005);
  }
}

/**
 * A fake `su -p www-data -s /bin/sh -c CMD [ARG0 ARGS...]` behaving as util-linux su: CMD runs with the
 * environment kept and the words after the user become the shell's $0, $1... (never parsed again); as
 * uid/gid `asUid` when given (setpriv), else as the caller. Logs "su ARGS" to `log` when given.
 */
export function fakeSu(o: { asUid?: number; log?: string } = {}): string {
  const run = o.asUid !== undefined ? `setpriv --reuid=${o.asUid} --regid=${o.asUid} --clear-groups /bin/sh` : "/bin/sh";
  return `#!/bin/sh
${o.log ? `echo "su $*" >> ${JSON.stringify(o.log)}
` : ""}cmd=
user=
while [ $# -gt 0 ]; do
  case "$1" in
    -p) shift ;;
    -s) shift 2 ;;
    -c) cmd=$2; shift 2 ;;
    *) if [ -z "$user" ]; then user=$1; shift; else break; fi ;;
  esac
done
[ "$user" = www-data ] || { echo "fake su: unexpected user $user" >&2; exit 1; }
[ -n "$cmd" ] || { echo "fake su: no -c" >&2; exit 1; }
exec ${run} -c "$cmd" "$@"
`;
}

export interface FakeContainer {
  tree: string;
  configDir: string;
  dataDir: string;
}

export class FakeNextcloudWorld {
  readonly imageSource: string;
  readonly containerBin: string;
  readonly hostBin: string;
  private readonly containers: string;

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    openPath(dir);
    this.imageSource = path.join(dir, "usr-src-nextcloud");
    write(path.join(this.imageSource, "config", "apps.config.php"), IMAGE_APPS_CONFIG);
    this.containerBin = path.join(dir, "container-bin");
    this.hostBin = path.join(dir, "host-bin");
    this.containers = path.join(dir, "containers");
    fs.mkdirSync(this.containers, { recursive: true });
    write(path.join(this.containerBin, "php"), `#!/bin/sh
# php in a Nextcloud container: /var/www/html is the container's install tree.
if [ "\${1:-}" = /var/www/html/occ ]; then shift; exec /usr/bin/php "$FAKE_TREE/occ" "$@"; fi
exec /usr/bin/php "$@"
`, 0o755);
    write(path.join(this.containerBin, "cp"), `#!/bin/sh
# cp in a Nextcloud container: /usr/src/nextcloud is the image's copy (here FAKE_IMAGE_SRC).
n=$#
for a in "$@"; do
  case "$a" in
    "/usr/src/nextcloud/config/*.config.php") for f in "$FAKE_IMAGE_SRC"/config/*.config.php; do set -- "$@" "$f"; done ;;
    /usr/src/nextcloud/*) set -- "$@" "$FAKE_IMAGE_SRC\${a#/usr/src/nextcloud}" ;;
    *) set -- "$@" "$a" ;;
  esac
done
shift "$n"
exec /bin/cp "$@"
`, 0o755);
    write(path.join(this.containerBin, "su"), fakeSu({ asUid: WWW_DATA }), 0o755);
    write(path.join(this.hostBin, "docker"), `#!/bin/sh
# docker on a host with fake Nextcloud FPM containers (test/support/fakeNextcloud.ts).
containers=${JSON.stringify(this.containers)}
case "\${1:-}" in
  ps) for f in "$containers"/*.env; do [ -e "$f" ] && basename "$f" .env; done | sort; exit 0 ;;
  exec) shift ;;
  *) echo "fake docker: unsupported: $*" >&2; exit 1 ;;
esac
user=root
while :; do
  case "$1" in
    -i) shift ;;
    -u) user=$2; shift 2 ;;
    *) break ;;
  esac
done
c=$1
shift
[ -f "$containers/$c.env" ] || { echo "Error response from daemon: No such container: $c" >&2; exit 1; }
set -a
. "$containers/$c.env"
set +a
PATH=${JSON.stringify(this.containerBin)}:/usr/bin:/bin
export PATH
case "$user" in
  www-data|${WWW_DATA}) exec setpriv --reuid=${WWW_DATA} --regid=${WWW_DATA} --clear-groups "$@" ;;
  root|0) exec "$@" ;;
  *) echo "fake docker: unknown user $user" >&2; exit 1 ;;
esac
`, 0o755);
  }

  /** An install tree (install volume) of a Nextcloud version with apps: name -> version, shipped or custom. */
  tree(name: string, version: [number, number, number, number], apps: { shipped: Record<string, string>; custom: Record<string, string> }): string {
    const root = path.join(this.dir, "trees", name);
    write(path.join(root, "version.php"), `<?php\n$OC_Version = [${version.join(", ")}];\n$OC_VersionString = '${version.slice(0, 3).join(".")}';\n`);
    write(path.join(root, "occ"), "#!/usr/bin/env php\n<?php\nrequire_once __DIR__ . '/console.php';\n", 0o755);
    fs.copyFileSync(CONSOLE_SOURCE, path.join(root, "console.php"));
    for (const [folder, list] of [["apps", apps.shipped], ["custom_apps", apps.custom]] as const) {
      fs.mkdirSync(path.join(root, folder), { recursive: true });
      for (const [app, v] of Object.entries(list)) {
        write(path.join(root, folder, app, "appinfo", "info.xml"), `<?xml version="1.0"?>\n<info><id>${app}</id><version>${v}</version></info>\n`);
      }
    }
    makeReadOnlyTree(root);
    return root;
  }

  /** A tenant's config and data folders (created by root, as Docker creates volumes). */
  tenantDirs(slug: string): { configDir: string; dataDir: string } {
    const configDir = path.join(this.dir, "volumes", `${slug}-config`);
    const dataDir = path.join(this.dir, "volumes", `${slug}-data`);
    fs.mkdirSync(configDir, { recursive: true, mode: 0o755 });
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
    return { configDir, dataDir };
  }

  /** Registers (or re-creates, with another tree) the FPM container `name`. */
  container(name: string, c: FakeContainer, extraEnv: Record<string, string> = {}): void {
    const env = { FAKE_TREE: c.tree, FACTORY_NEXTCLOUD_ROOT: c.tree, FAKE_IMAGE_SRC: this.imageSource, NEXTCLOUD_CONFIG_DIR: c.configDir, NEXTCLOUD_DATA_DIR: c.dataDir, ...extraEnv };
    fs.writeFileSync(path.join(this.containers, `${name}.env`), Object.entries(env).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`).join("\n") + "\n");
  }

  /** Environment of an ephemeral container of the image with `tree` mounted (the init run). */
  ephemeralEnv(tree: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { PATH: `${this.containerBin}:/usr/bin:/bin`, FAKE_TREE: tree, FACTORY_NEXTCLOUD_ROOT: tree, FAKE_IMAGE_SRC: this.imageSource, ...extra };
  }

  /** Environment of the operator's machine running host-side scripts (maintenance) against this host. */
  hostEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { PATH: `${this.hostBin}:/usr/bin:/bin`, ...extra };
  }
}

/** Root-owned, world-readable, not writable by anyone else: the read-only install volume. */
function makeReadOnlyTree(root: string): void {
  const walk = (p: string) => {
    const st = fs.statSync(p);
    fs.chmodSync(p, st.isDirectory() ? 0o755 : (st.mode & 0o111 ? 0o755 : 0o644));
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(root);
}
