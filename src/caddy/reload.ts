// The fail-safe delivery of a Caddyfile to a running Caddy container, as POSIX sh scripts run with
// `docker exec -i <container> sh -c "<script>"` (stdin carries the payload). Pure: the strings are
// rendered here, checked by shellcheck and run against the real caddy binary in the tests.
//
// applyScript: stdin = the new Caddyfile.
//   1. writes it beside the live file as Caddyfile.candidate (same directory: the later rename is atomic);
//   2. `caddy validate` on the candidate (adapts it, provisions every module, resolves {file.*} secrets):
//      on failure the candidate and the validator's output are kept under rejected/ and the script exits 1;
//      the live file and the running config are untouched;
//   3. the live file is kept as Caddyfile.previous and the candidate renamed over it;
//   4. `caddy reload --force` through the loopback admin API. Caddy itself loads a config atomically: if
//      the reload fails (e.g. a port cannot be bound), it keeps serving the old config; the script then
//      puts Caddyfile.previous back so that a container restart also loads the config that is serving.
// The container's command starts Caddy from the live file, so a restart serves the last good config.
// Output never contains the config or secrets (the validator's messages go to a file on the volume,
// since a caddy-security error may quote a resolved value); the commands run with logging "none".
//
// secretsScript: stdin = lines `<file name> <base64 content>`; writes each under the secrets directory
// (mode 0600, atomically by rename). Files no longer listed are kept: the live config may still name them
// until the next successful apply, and a missing file would make a restart fail.

/** Environment knobs (all optional) the scripts read; defaults fit the factory's Caddy containers. */
export const APPLY_ENV = {
  /** Directory of the live Caddyfile (a volume). */
  dir: "FACTORY_DIR",
  /** caddy executable. */
  caddy: "CADDY_BIN",
  /** Admin API address for `caddy reload`. */
  admin: "CADDY_ADMIN",
} as const;

export function renderApplyScript(defaults: { dir: string; admin: string }): string {
  return `set -eu
# factory-caddy-apply: install the Caddyfile read on stdin only if Caddy accepts it (see src/caddy/reload.ts).
dir="\${${APPLY_ENV.dir}:-${defaults.dir}}"
caddy="\${${APPLY_ENV.caddy}:-caddy}"
admin="\${${APPLY_ENV.admin}:-${defaults.admin}}"
live="$dir/Caddyfile"
cand="$dir/Caddyfile.candidate"
prev="$dir/Caddyfile.previous"
umask 077
mkdir -p "$dir/rejected"
cat > "$cand"
if [ ! -s "$cand" ]; then
  rm -f "$cand"
  echo "factory-caddy-apply: empty config on stdin; nothing changed" >&2
  exit 1
fi
stamp="$(date -u +%Y%m%dT%H%M%SZ)-$$"
log="$dir/rejected/$stamp.log"
if ! "$caddy" validate --config "$cand" --adapter caddyfile > "$log" 2>&1; then
  mv "$cand" "$dir/rejected/$stamp.Caddyfile"
  echo "factory-caddy-apply: caddy validate rejected the new config; the running config is unchanged." >&2
  echo "factory-caddy-apply: details in $log (candidate kept beside it)." >&2
  exit 1
fi
if [ -f "$live" ]; then cp -p "$live" "$prev"; fi
mv "$cand" "$live"
if ! "$caddy" reload --config "$live" --adapter caddyfile --address "$admin" --force > "$log" 2>&1; then
  cp -p "$live" "$dir/rejected/$stamp.Caddyfile"
  if [ -f "$prev" ]; then mv "$prev" "$live"; else rm -f "$live"; fi
  echo "factory-caddy-apply: caddy refused to load the new config and keeps serving the previous one." >&2
  echo "factory-caddy-apply: details in $log; live file restored." >&2
  exit 1
fi
rm -f "$log"
echo "factory-caddy-apply: config validated and loaded"
`;
}

export function renderSecretsScript(defaults: { dir: string }): string {
  return `set -eu
# factory-caddy-secrets: write the secret files read on stdin as "<name> <base64>" lines.
dir="\${${APPLY_ENV.dir}:-${defaults.dir}}/secrets"
umask 077
mkdir -p "$dir"
n=0
while read -r name value; do
  case "$name" in
    "" | .* | *[!A-Za-z0-9._-]*) echo "factory-caddy-secrets: invalid file name on line $((n + 1))" >&2; exit 1 ;;
  esac
  printf '%s' "$value" | base64 -d > "$dir/.$name.tmp"
  mv "$dir/.$name.tmp" "$dir/$name"
  n=$((n + 1))
done
echo "factory-caddy-secrets: $n file(s) written"
`;
}

/** The stdin of the secrets script for the given files (sorted by name: stable across runs). */
export function secretsBundle(files: Record<string, string>): string {
  return Object.keys(files)
    .sort()
    .map((name) => {
      if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) throw new Error(`invalid secret file name ${name}`);
      return `${name} ${Buffer.from(files[name], "utf8").toString("base64")}\n`;
    })
    .join("");
}

/**
 * The container's command: start Caddy from the live Caddyfile on the state volume; on the very first
 * start (empty volume) copy the bootstrap config there, which answers 503 until the first apply.
 */
export function renderStartScript(o: { dir: string; bootstrapConfig: string }): string {
  // The bootstrap config travels in the script: the container's root file system is read-only, and
  // Docker refuses to extract an upload into it ("container rootfs is marked read-only").
  if (o.bootstrapConfig.split("\n").includes("BOOTSTRAP")) throw new Error("bootstrap config contains the here-document delimiter");
  return `set -eu
dir="${o.dir}"
mkdir -p "$dir/secrets"
if [ ! -s "$dir/Caddyfile" ]; then
cat > "$dir/Caddyfile" <<'BOOTSTRAP'
${o.bootstrapConfig.trimEnd()}
BOOTSTRAP
fi
exec caddy run --config "$dir/Caddyfile" --adapter caddyfile
`;
}

/** The config a fresh container serves until the first apply: every request on `port` gets a 503. */
export function renderBootstrapCaddyfile(o: { port: number; admin: string }): string {
  return `{
	admin ${o.admin}
	persist_config off
	auto_https off
}

:${o.port} {
	respond "starting: configuration not delivered yet" 503
}
`;
}
