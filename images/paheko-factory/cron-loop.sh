#!/bin/sh
# paheko-factory: the image's default cron loop (/usr/local/share/paheko-factory/cron-loop.sh), run by the
# cron sidecar: `docker run … paheko-factory /bin/sh /usr/local/share/paheko-factory/cron-loop.sh`.
# The service factory uploads its own loop at this path (src/paheko/scripts.ts, the listed organisations);
# this default runs every organisation folder, like Paheko's tools/factory/factory_cron.sh and
# factory_cron_emails.sh (Paheko 1.3.15), as the image's non-root user:
#   every PAHEKO_CRON_INTERVAL seconds (300): `bin/paheko queue run` (the mail queue; src/config.dist.php:
#     496-511 asks for every 5 minutes; exit 2 = messages still queued, src/include/lib/Paheko/CLI.php:398-400);
#   every PAHEKO_CRON_EVERY seconds (3600): `bin/paheko cron` (reminders, backups; it checks what is due,
#     e.g. Backup::auto against the backup frequency).
# An organisation without a database yet (never visited: no DB_FILE association.sqlite, src/include/init.php:182)
# is skipped, as bin/paheko would refuse it (CLI.php:834-837); one failing never stops the others.
# `--once` runs a single pass.
set -u
paheko_root="${PAHEKO_ROOT:-/var/www/paheko}"
users_dir="${PAHEKO_USERS_DIR:-/data/users}"
php_bin="${PHP_BIN:-php}"
interval="${PAHEKO_CRON_INTERVAL:-300}"
cron_every="${PAHEKO_CRON_EVERY:-3600}"
last_cron=0

run_pass() {
  now=$(date +%s)
  run_cron=0
  if [ $((now - last_cron)) -ge "$cron_every" ]; then
    run_cron=1
    last_cron="$now"
  fi
  for dir in "$users_dir"/*/; do
    [ -d "$dir" ] || continue
    org=$(basename "$dir")
    case "$org" in
      *[!a-z0-9_-]*) echo "paheko-cron: $org is not an organisation name, skipped" >&2; continue ;;
    esac
    if [ ! -f "$dir/association.sqlite" ]; then
      continue
    fi
    if [ "$run_cron" -eq 1 ]; then
      PAHEKO_FACTORY_USER="$org" "$php_bin" "$paheko_root/bin/paheko" cron || echo "paheko-cron: cron failed for $org" >&2
    fi
    rc=0
    PAHEKO_FACTORY_USER="$org" "$php_bin" "$paheko_root/bin/paheko" queue run --quiet || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
      echo "paheko-cron: queue run failed for $org (exit $rc)" >&2
    fi
  done
}

if [ "${1:-}" = "--once" ]; then
  run_pass
  exit 0
fi
while :; do
  run_pass
  sleep "$interval"
done
