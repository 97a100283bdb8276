#!/usr/bin/env bash
# Installs the real servers and checkers the test suite drives. Everything slow to build is cached under
# $SF_CACHE (default ~/.cache/service-factory) so a repeat run on the same machine takes seconds.
# Sources: Debian packages (apt-get), Go modules (go install), crates.io (cargo install), Maven Central (mvn).
# Last, the lab images (scripts/lab/lab-images.sh: Debian root file systems plus these builds).
set -euo pipefail

SF_CACHE="${SF_CACHE:-$HOME/.cache/service-factory}"
BIN="$SF_CACHE/bin"
mkdir -p "$BIN"

# Pinned versions: a lab result is only comparable run to run when the servers do not move under it.
# One list for the stacks' image pins and the tests: images/versions.json (test/versions.test.ts checks
# the stack files agree with it). Each can still be overridden from the environment.
VERSIONS_JSON="$(cd "$(dirname "$0")/../.." && pwd)/images/versions.json"
version() {
  # shellcheck disable=SC2016 # a JavaScript template literal, not a shell expansion
  node -p 'const v = require(process.argv[1])[process.argv[2]];
    if (typeof v !== "string" || v === "") throw new Error(`no version "${process.argv[2]}" in ${process.argv[1]}`);
    v' "$VERSIONS_JSON" "$1"
}
GARAGE_VERSION="${GARAGE_VERSION:-$(version garage)}"
CADDY_VERSION="${CADDY_VERSION:-v$(version caddy)}"
CADDY_SECURITY_VERSION="${CADDY_SECURITY_VERSION:-v$(version caddySecurity)}"
# A second, older build for the wall lab's `wallPkce: false` path (caddy-security without PKCE).
CADDY_LEGACY_VERSION="${CADDY_LEGACY_VERSION:-v$(version caddyLegacy)}"
CADDY_SECURITY_LEGACY_VERSION="${CADDY_SECURITY_LEGACY_VERSION:-v$(version caddySecurityLegacy)}"
XCADDY_VERSION="${XCADDY_VERSION:-v$(version xcaddy)}"
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v$(version actionlint)}"
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-$(version keycloak)}"

log() { printf '[install-test-tools] %s\n' "$*" >&2; }

want_apt=()
for pair in "pg_ctlcluster:postgresql" "named:bind9" "nsupdate:bind9-dnsutils" "dig:bind9-dnsutils" \
            "shellcheck:shellcheck" "php:php-cli" "tsig-keygen:bind9"; do
  cmd="${pair%%:*}"; pkg="${pair##*:}"
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then want_apt+=("$pkg"); fi
done
# The fake Nextcloud of the lab tests and the init script's table helper talk to PostgreSQL through PDO.
if command -v php >/dev/null 2>&1 && ! php -m 2>/dev/null | grep -qx pdo_pgsql; then want_apt+=("php-pgsql"); fi
if ! command -v php >/dev/null 2>&1; then want_apt+=("php-pgsql"); fi
if [ "${#want_apt[@]}" -gt 0 ]; then
  log "apt-get install ${want_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${want_apt[@]}" >/dev/null
  # The Debian postgresql package starts a cluster; the tests run their own on loopback.
  service postgresql stop >/dev/null 2>&1 || true
  service named stop >/dev/null 2>&1 || true
fi

# PostgreSQL 16.4 (the major the stacks pin; Debian has 15): the provisioning role's lab runs on both.
SF_CACHE="$SF_CACHE" bash "$(dirname "$0")/install-postgres-16.sh"

if [ ! -x "$BIN/actionlint" ]; then
  log "go install actionlint $ACTIONLINT_VERSION"
  GOBIN="$BIN" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi

if [ ! -x "$BIN/xcaddy" ]; then
  # `go install xcaddy@v` asks the proxy for the module's version list (deprecation check), which the
  # proxy here refuses; building from the downloaded module avoids that query.
  go mod download "github.com/caddyserver/xcaddy@$XCADDY_VERSION"
  (cd "$(go env GOMODCACHE)/github.com/caddyserver/xcaddy@$XCADDY_VERSION" && GOFLAGS=-mod=mod go build -o "$BIN/xcaddy" ./cmd/xcaddy)
fi

# build_caddy <binary name> <caddy version> <caddy-security version>: an xcaddy build cached under $BIN,
# keyed by both versions (a stamp next to it, <name>.versions): a pin that moves in versions.json (or in
# the environment) rebuilds it, instead of the lab silently testing the previous release.
build_caddy() {
  local name="$1" caddy="$2" security="$3" stamp="$BIN/$1.versions" want="caddy $2 caddy-security $3"
  if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  log "building $name: caddy $caddy with caddy-security $security (xcaddy, Go modules; cached: $(cat "$stamp" 2>/dev/null || echo none))"
  # The checksum database is not reachable from this network; the module proxy is the trust anchor here.
  (cd "$SF_CACHE" && GOSUMDB=off "$BIN/xcaddy" build "$caddy" \
      --with "github.com/greenpau/caddy-security@$security" --output "$BIN/$name.tmp")
  mv "$BIN/$name.tmp" "$BIN/$name"
  printf '%s\n' "$want" > "$stamp"
}
build_caddy caddy "$CADDY_VERSION" "$CADDY_SECURITY_VERSION"
build_caddy caddy-legacy "$CADDY_LEGACY_VERSION" "$CADDY_SECURITY_LEGACY_VERSION"

if [ ! -x "$BIN/garage" ]; then
  log "cargo install garage $GARAGE_VERSION (long build, cached afterwards)"
  cargo install --locked --root "$SF_CACHE/garage" garage --version "$GARAGE_VERSION"
  ln -sf "$SF_CACHE/garage/bin/garage" "$BIN/garage"
fi

if [ ! -x "$SF_CACHE/keycloak/bin/kc.sh" ]; then
  log "fetching keycloak-quarkus-dist $KEYCLOAK_VERSION from Maven Central"
  mvn -q dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" \
      -DoutputDirectory="$SF_CACHE/dl"
  rm -rf "$SF_CACHE/keycloak.tmp" && mkdir -p "$SF_CACHE/keycloak.tmp"
  tar -xzf "$SF_CACHE/dl/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz" -C "$SF_CACHE/keycloak.tmp" --strip-components=1
  rm -rf "$SF_CACHE/keycloak" && mv "$SF_CACHE/keycloak.tmp" "$SF_CACHE/keycloak"
fi

# The Pulumi engine kit (CLI, language host, provider plugins) of this workplace, unpacked once here so
# that the test files, which run in parallel, find it ready (scripts/lab/engine.ts takes the same lock).
for kit in "${PULUMI_ENGINE_KIT:-}" "$(dirname "$0")/../../../shared/pulumi-engine" /work/shared/pulumi-engine; do
  if [ -n "$kit" ] && [ -f "$kit/install.sh" ]; then
    log "pulumi engine kit from $kit"
    flock "$SF_CACHE/pulumi-engine.lock" bash "$kit/install.sh" "$SF_CACHE/pulumi-engine" >/dev/null
    break
  fi
done

log "tools ready in $BIN"

# The lab images the end-to-end test deploys (Debian packages and the builds above), cached under
# $SF_CACHE/images; a few seconds when nothing changed.
SF_CACHE="$SF_CACHE" bash "$(dirname "$0")/lab-images.sh"
