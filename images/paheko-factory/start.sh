#!/bin/sh
# paheko-factory: the web container's command. Runs PHP-FPM and Caddy (HTTP on :8080) side by side as the
# image's non-root user, forwards SIGTERM/SIGINT to both, and exits as soon as either stops (status 1, so
# the container's restart policy starts a whole new pair; 0 after a requested stop).
set -eu
caddyfile="${PAHEKO_FACTORY_CADDYFILE:-/usr/local/share/paheko-factory/Caddyfile}"
sessions="${PAHEKO_FACTORY_SESSIONS:-/data/sessions}"

# A data volume made before sessions/ existed in the image gets it here (the volume belongs to this user).
mkdir -p "$sessions"

# The trap first: a stop request that arrives while the servers start is not lost.
fpm=""
web=""
requested=0
stopped=""
stop() {
  for pid in $web $fpm; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  stopped="$web $fpm"
}
trap 'requested=1; stop' TERM INT

php-fpm --nodaemonize --force-stderr &
fpm=$!
caddy run --config "$caddyfile" --adapter caddyfile &
web=$!

# `wait` on a short sleep, not a plain sleep: a trap runs as soon as the signal arrives.
while [ "$requested" -eq 0 ] && kill -0 "$fpm" 2>/dev/null && kill -0 "$web" 2>/dev/null; do
  sleep 1 &
  wait "$!" || true
done
# Once per server: a second TERM could cut a graceful stop short.
if [ "$stopped" != "$web $fpm" ]; then
  stop
fi
wait "$web" 2>/dev/null || true
wait "$fpm" 2>/dev/null || true
if [ "$requested" -eq 1 ]; then
  exit 0
fi
echo "paheko-factory: php-fpm or caddy stopped; stopping the container" >&2
exit 1
