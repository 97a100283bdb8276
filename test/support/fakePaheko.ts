// A fake `php` that runs a fake Paheko CLI, behaving as Paheko 1.3.15's source says (paths relative to
// its repository, tag 1.3.15). Shared by test/paheko.test.ts, test/images.test.ts and
// test/lab/paheko.lab.test.ts. Plain POSIX sh using only builtins (read, printf, [, case, $(( ))), so it
// also runs with a PATH restricted to the image's tools.
//
// What it does, like the real thing:
// - `php <root>/scripts/cron.php` and `php <root>/scripts/emails.php`: deprecated wrappers that print a
//   notice on stderr, then run `bin/paheko cron` / `bin/paheko queue run` (src/scripts/cron.php:3-6,
//   src/scripts/emails.php:3-6);
// - `php <root>/bin/paheko COMMAND`: an unknown command exits 1 (src/include/lib/Paheko/CLI.php:22-37,
//   :785-791; fail() exits 1, :131-139);
// - the organisation comes from config.local.php: PAHEKO_FACTORY_USER with a folder under the users
//   directory, else exit 1 (the program's config, src/paheko/config.ts);
// - no database (association.sqlite missing or empty, src/include/lib/Paheko/DB.php:48-51): every command
//   but help/init/ui/server/db exits 1 "Database does not exist" (CLI.php:834-837);
// - a database older than the code (here: association.sqlite holds its version as text, the real one has
//   it in PRAGMA user_version): every command but upgrade exits 1 "requires an upgrade" (CLI.php:839-841);
// - `upgrade`: 0 when there is nothing to do, 2 after upgrading (CLI.php:170-179);
// - `cron`: 0 (CLI.php:184-207 returns; an uncaught error would be PHP's 255: a `fail-cron` file in the
//   organisation's folder simulates one);
// - `queue run`: sends up to QUEUE_BATCH messages of the organisation's `queue` file (a count), exits 2
//   while messages remain, 0 when empty (CLI.php:343-346, :377-403).
// Every call is logged as "<PAHEKO_FACTORY_USER> <arguments>" to the log file.

/** The code version of the fake (the pinned Paheko). */
export const FAKE_PAHEKO_VERSION = "1.3.15";
/** Messages one `queue run` sends. */
export const QUEUE_BATCH = 2;

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function fakePahekoPhp(o: { log: string; usersDir: string }): string {
  return `#!/bin/sh
# Fake php running a fake Paheko ${FAKE_PAHEKO_VERSION} CLI (test/support/fakePaheko.ts).
log=${q(o.log)}
users=${q(o.usersDir)}
code_version=${q(FAKE_PAHEKO_VERSION)}
printf '%s %s\\n' "\${PAHEKO_FACTORY_USER:-}" "$*" >> "$log"
script=\${1:-}
[ $# -gt 0 ] && shift
case "$script" in
  */scripts/cron.php) echo "This command is deprecated, please use 'bin/paheko cron' instead" >&2; set -- cron ;;
  */scripts/emails.php) echo "This command is deprecated, please use 'bin/paheko queue run' instead" >&2; set -- queue run ;;
  */bin/paheko) ;;
  *) echo "fake php: no such script: $script" >&2; exit 1 ;;
esac
cmd=\${1:-}
case "$cmd" in
  help|init|upgrade|version|config|db|sql|storage|cron|queue|env|ui|server|ext) ;;
  *) echo "Unknown command \\"$cmd\\"."; exit 1 ;;
esac
org=\${PAHEKO_FACTORY_USER:-}
dir="$users/$org"
if [ -z "$org" ] || [ ! -d "$dir" ]; then
  echo "paheko-factory: Cette association n'existe pas." >&2
  exit 1
fi
db="$dir/association.sqlite"
case "$cmd" in
  help|init|ui|server|db) exit 0 ;;
esac
if [ ! -s "$db" ]; then
  echo 'Database does not exist. Run "init" command first.'
  exit 1
fi
v=
read -r v < "$db" || true
if [ "$cmd" != upgrade ] && [ "$v" != "$code_version" ]; then
  echo 'The database requires an upgrade. Run "upgrade" command first.'
  exit 1
fi
case "$cmd" in
  upgrade)
    [ "$v" != "$code_version" ] || exit 0
    printf '%s\\n' "$code_version" > "$db"
    exit 2 ;;
  cron)
    [ ! -e "$dir/fail-cron" ] || { echo "PHP Fatal error: fake" >&2; exit 255; }
    exit 0 ;;
  queue)
    [ "\${2:-}" = run ] || exit 0
    queued=0
    [ ! -f "$dir/queue" ] || read -r queued < "$dir/queue" || true
    sent=$((queued < ${QUEUE_BATCH} ? queued : ${QUEUE_BATCH}))
    queued=$((queued - sent))
    [ ! -f "$dir/queue" ] || printf '%s\\n' "$queued" > "$dir/queue"
    case " $* " in *" --quiet "*|*" -q "*) ;; *) [ "$sent" -eq 0 ] || echo "$sent messages sent" ;; esac
    [ "$queued" -eq 0 ] || exit 2
    exit 0 ;;
esac
exit 0
`;
}
