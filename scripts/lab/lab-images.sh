#!/usr/bin/env bash
# Builds the lab images the end-to-end test deploys with `pulumi up` against its own dockerd, where no
# image can be pulled: factory-lab/<name>:<tag> for postgres, redis, mariadb, toolbox (Debian packages),
# garage, keycloak and caddy (the project's own cached builds from scripts/lab/install-test-tools.sh).
# TEST TOOLING ONLY: each image honours the contract the program uses of the published image it stands
# in for (entrypoint, env, paths, users, health probes); operators pin the published images, never these.
#
# How: one Debian root file system (debootstrap --variant=minbase, cached) copied per image, packages
# installed with chroot apt-get, files dropped in, then `docker import` (+ `docker build` for what import
# cannot set: STOPSIGNAL) in a private dockerd and `docker save` to $SF_CACHE/images/<name>-<tag>.tar.
# Each tarball has a .recipe file beside it: the hash of this script's recipe functions and their inputs
# (versions, the cached binaries); a change to either rebuilds that image only. Repeat runs take seconds.
#
# Usage: scripts/lab/lab-images.sh [name…]            (default: every image; must run as root)
#   SF_CACHE            cache root (default ~/.cache/service-factory)
#   LAB_DOCKER_HOST     build in this dockerd instead of a private one started here
#   LAB_IMAGES_WAIT     seconds to wait for a cached binary still being built (default 0: fail at once)
set -euo pipefail

SF_CACHE="${SF_CACHE:-$HOME/.cache/service-factory}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
IMAGES="$SF_CACHE/images"
WORK="$IMAGES/work"
APT_CACHE="$IMAGES/apt-archives"
ALL=(toolbox postgres redis mariadb caddy garage keycloak)

log() { printf '[lab-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"

# ---------------------------------------------------------------------------------------------- versions
json() { # FILE JS-EXPRESSION-ON-j: prints a non-empty string
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -p 'const j = require(process.argv[1]); const v = eval(process.argv[2]);
    if (typeof v !== "string" || v === "") throw new Error(`${process.argv[2]}: no value in ${process.argv[1]}`);
    v' "$1" "$2"
}
upstream() { json "$ROOT/images/versions.json" "j[\"$1\"]"; }
SUITE="$(json "$ROOT/scripts/lab/lab-images.json" 'j.suite')"
debian_pkg() { json "$ROOT/scripts/lab/lab-images.json" "j.debian[\"$1\"].package"; }
debian_ver() { json "$ROOT/scripts/lab/lab-images.json" "j.debian[\"$1\"].version"; }

tag_of() {
  case "$1" in
    postgres | redis | mariadb | toolbox) echo "$(debian_ver "$1")-$SUITE" ;;
    garage) upstream garage ;;
    keycloak) upstream keycloak ;;
    caddy) echo "$(upstream caddy)-$(upstream caddySecurity)" ;;
    *) die "unknown lab image $1 (known: ${ALL[*]})" ;;
  esac
}

# ------------------------------------------------------------------------------ tools and Debian mirror
need_tools() {
  local want=()
  command -v debootstrap >/dev/null 2>&1 || want+=(debootstrap)
  command -v dockerd >/dev/null 2>&1 || want+=(docker.io)
  if [ "${#want[@]}" -gt 0 ]; then
    log "apt-get install ${want[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
}

# The mirror this machine's apt uses for the suite (deb822 sources), so nothing here names a mirror.
debian_mirror() {
  local f=/etc/apt/sources.list.d/debian.sources uri
  [ -r "$f" ] || die "$f not found: cannot tell which Debian mirror to debootstrap from"
  uri="$(awk -v suite="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
    { uri = ""; ok = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, a, /[ \t]+/); uri = a[1] }
        if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (k = 2; k <= n; k++) if (s[k] == suite) ok = 1 }
      }
      if (ok && uri != "") { print uri; exit } }' "$f")"
  [ -n "$uri" ] || die "no URIs: line for suite $SUITE in $f"
  echo "$uri"
}

# ----------------------------------------------------------------------------------- mounts and chroot
MOUNTED=()
unmount_all() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
  done
  MOUNTED=()
}
# Never recurse into a mount: unmount whatever is still mounted below the directory, then stay on its file system.
safe_rm() {
  local d=$1 m
  [ -e "$d" ] || return 0
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$d/" | sort -r || true)
  rm -rf --one-file-system "$d"
}
# /proc (JVM, maintainer scripts), the shared .deb cache, and the host's resolver for apt.
rootfs_open() {
  local r=$1
  mkdir -p "$APT_CACHE/partial" "$r/proc" "$r/var/cache/apt/archives"
  mount -t proc proc "$r/proc" && MOUNTED+=("$r/proc")
  mount --bind "$APT_CACHE" "$r/var/cache/apt/archives" && MOUNTED+=("$r/var/cache/apt/archives")
  rm -f "$r/etc/resolv.conf" && cp /etc/resolv.conf "$r/etc/resolv.conf"
}
rootfs_close() {
  local r=$1
  unmount_all
  rm -f "$r/etc/resolv.conf" && : > "$r/etc/resolv.conf" # Docker bind-mounts its own
}
in_root() {
  local r=$1
  shift
  chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
apt_install() {
  local r=$1 logf="$IMAGES/apt.log"
  shift
  mkdir -p "$r/usr/share/man/man1" # update-alternatives links man pages there even when dpkg skips them
  in_root "$r" apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold "$@" > "$logf" 2>&1 \
    || { tail -n 30 "$logf" >&2; die "apt-get install $* failed (log: $logf)"; }
}
# The installed Debian version of a package, checked against lab-images.json's upstream version prefix.
check_debian_version() {
  local r=$1 name=$2 pkg ver got
  pkg="$(debian_pkg "$name")"
  ver="$(debian_ver "$name")"
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  got="$(in_root "$r" dpkg-query -W -f '${Version}' "$pkg")"
  case "${got#*:}" in
    "$ver" | "$ver".* | "$ver"-* | "$ver"+*) ;;
    *) die "$name: Debian $SUITE has $pkg $got, lab-images.json expects $ver (update scripts/lab/lab-images.json)" ;;
  esac
  echo "$got"
}
# Docs, man pages and translations (what dpkg is told to skip from the base on), and build leftovers.
rootfs_slim_docs() {
  local r=$1
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  rm -rf "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/var/log/apt/* "$r"/var/log/dpkg.log \
    "$r"/var/log/alternatives.log "$r"/var/log/bootstrap.log "$r"/tmp/* "$r"/root/.cache
}
# What every image drops on top: the apt lists and caches (the base keeps its lists for the image builds).
rootfs_slim() {
  local r=$1
  rootfs_slim_docs "$r"
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin
}

# ------------------------------------------------------------------------------------ base root file system
# Minimal Debian with dpkg told to skip docs, man pages and translations, and services never started.
recipe_base() {
  local r=$1
  mkdir -p "$APT_CACHE/partial"
  debootstrap --variant=minbase --cache-dir="$APT_CACHE" "$SUITE" "$r" "$(debian_mirror)" >"$IMAGES/debootstrap.log" 2>&1 \
    || die "debootstrap failed (see $IMAGES/debootstrap.log)"
  cat > "$r/etc/dpkg/dpkg.cfg.d/01-lab-slim" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAcquire::Languages "none";\n' \
    > "$r/etc/apt/apt.conf.d/01-lab-slim"
  printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d" && chmod 0755 "$r/usr/sbin/policy-rc.d"
  rootfs_open "$r"
  in_root "$r" apt-get update -qq
  rootfs_close "$r"
  rootfs_slim_docs "$r"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin
}

BASE=""
ensure_base() {
  [ -z "$BASE" ] || return 0
  local h
  h="$(recipe_hash base)"
  BASE="$IMAGES/rootfs-$SUITE"
  if [ -d "$BASE" ] && [ "$(cat "$BASE.recipe" 2>/dev/null)" = "$h" ]; then return 0; fi
  log "debootstrap $SUITE base root file system (about a minute)"
  safe_rm "$BASE.tmp"
  mkdir -p "$BASE.tmp"
  recipe_base "$BASE.tmp"
  safe_rm "$BASE"
  mv "$BASE.tmp" "$BASE"
  echo "$h" > "$BASE.recipe"
}

# ------------------------------------------------------------------------------------------------ images
# Each recipe_<name> ROOTFS prepares the root file system and sets CHANGES (docker import --change lines),
# EXTRA (Dockerfile lines import cannot apply), LABELS. Inputs it reads are listed by inputs_<name>.
CHANGES=()
EXTRA=()
LABELS=()

# toolbox: Debian's busybox-static as the whole image, like the official busybox image (applets in /bin, sh).
inputs_toolbox() { debian_pkg toolbox; debian_ver toolbox; }
recipe_toolbox() {
  local r=$1 t="$WORK/toolbox.tree" ver a
  rootfs_open "$r"
  apt_install "$r" "$(debian_pkg toolbox)"
  ver="$(check_debian_version "$r" toolbox)"
  rootfs_close "$r"
  safe_rm "$t"
  mkdir -p "$t"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home,var/spool/mail,var/www}
  cp "$r/bin/busybox" "$t/bin/busybox"
  chmod 1777 "$t/tmp"
  chmod 0700 "$t/root"
  while read -r a; do
    [ "$a" = bin/busybox ] || [ -e "$t/$a" ] || ln -s /bin/busybox "$t/$a"
  done < <(chroot "$t" /bin/busybox --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\n' > "$t/etc/passwd"
  printf 'root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n' > "$t/etc/group"
  : > "$t/etc/resolv.conf"
  safe_rm "$r" && mv "$t" "$r"
  CHANGES=('ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["sh"]')
  LABELS=("factory-lab.debian-package=$(debian_pkg toolbox) $ver")
}

# postgres: Debian's PostgreSQL server behind the official image's documented environment contract.
inputs_postgres() { debian_pkg postgres; debian_ver postgres; }
recipe_postgres() {
  local r=$1 major ver
  major="$(debian_ver postgres)"
  # uid/gid 999 like the official image (the program uploads the password file owned 999:999).
  in_root "$r" groupadd -r -g 999 postgres
  in_root "$r" useradd -r -g postgres -u 999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
  rootfs_open "$r"
  apt_install "$r" postgresql-common
  # No cluster from the package: the entrypoint makes one in PGDATA.
  sed -ri 's/#(create_main_cluster) .*$/\1 = false/' "$r/etc/postgresql-common/createcluster.conf"
  apt_install "$r" "postgresql-$major" openssl
  ver="$(check_debian_version "$r" postgres)"
  rootfs_close "$r"
  # Clusters made by initdb listen on every address, as in the official image.
  sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$r/usr/share/postgresql/$major/postgresql.conf.sample"
  grep -q "^listen_addresses = '\*'" "$r/usr/share/postgresql/$major/postgresql.conf.sample" || die "postgres: listen_addresses not set"
  install -d -o 999 -g 999 -m 3777 "$r/var/run/postgresql"
  install -d -o 999 -g 999 -m 1777 "$r/var/lib/postgresql/data"
  cat > "$r/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/usr/bin/env bash
# factory-lab/postgres entrypoint: the official postgres image's documented env contract, reimplemented
# over Debian's server (lab tooling, scripts/lab/lab-images.sh). Environment:
#   POSTGRES_PASSWORD / POSTGRES_PASSWORD_FILE  superuser password (required for a new cluster unless
#                                               POSTGRES_HOST_AUTH_METHOD=trust); *_FILE is read as postgres
#   POSTGRES_USER (postgres), POSTGRES_DB ($POSTGRES_USER), POSTGRES_INITDB_ARGS, PGDATA,
#   POSTGRES_HOST_AUTH_METHOD (scram-sha-256): pg_hba line `host all all all <method>` appended after
#                                               initdb's local trust lines, as the official image does.
# `postgres …` or `-flag …`: as root, make PGDATA and the socket directory postgres's and re-run as
# postgres (uid 999); initialise an empty PGDATA; exec the server with the arguments. Anything else is
# exec'd as given. Not implemented: /docker-entrypoint-initdb.d scripts (the program uses none).
set -Eeuo pipefail

file_env() { # VAR [default]: VAR from itself or from the file named by VAR_FILE, never both
  local var=$1 fvar="${1}_FILE" val="${2:-}"
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then echo "error: both $var and $fvar are set (but are exclusive)" >&2; exit 1; fi
  if [ -n "${!var:-}" ]; then val=${!var}; elif [ -n "${!fvar:-}" ]; then val="$(< "${!fvar}")"; fi
  export "$var=$val"
  unset "$fvar"
}

if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
: "${PGDATA:?PGDATA must be set}"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA"
  chmod 03775 /var/run/postgresql
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  find /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    echo "error: database is uninitialized and superuser password is not specified (POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE)" >&2
    exit 1
  fi
  # eval: POSTGRES_INITDB_ARGS is shell words, as in the official image.
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    printf 'CREATE DATABASE "%s";\n' "${POSTGRES_DB//\"/\"\"}" | postgres --single -j -D "$PGDATA" postgres >/dev/null
  fi
  unset POSTGRES_PASSWORD
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
EOF
  chmod 0755 "$r/usr/local/bin/docker-entrypoint.sh"
  CHANGES=(
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/$major/bin"
    'ENV PGDATA=/var/lib/postgresql/data' 'ENV LANG=C.UTF-8' "ENV PG_MAJOR=$major"
    'VOLUME /var/lib/postgresql/data' 'EXPOSE 5432'
    'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["postgres"]'
  )
  EXTRA=('STOPSIGNAL SIGINT')
  LABELS=("factory-lab.debian-package=postgresql-$major $ver")
}

# redis: Debian's redis-server; like the official image, runs as redis (uid 999) in /data.
inputs_redis() { debian_pkg redis; debian_ver redis; }
recipe_redis() {
  local r=$1 ver
  in_root "$r" groupadd -r -g 999 redis
  in_root "$r" useradd -r -g redis -u 999 --home-dir=/data --shell=/usr/sbin/nologin redis
  rootfs_open "$r"
  apt_install "$r" redis-server
  ver="$(check_debian_version "$r" redis)"
  rootfs_close "$r"
  install -d -o 999 -g 999 -m 0755 "$r/data"
  cat > "$r/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# factory-lab/redis entrypoint (lab tooling, scripts/lab/lab-images.sh), as the official redis image's:
# arguments starting with '-' or a *.conf go to redis-server; as root, /data is handed to redis and the
# server runs as redis (uid 999).
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
umask 0077
exec "$@"
EOF
  chmod 0755 "$r/usr/local/bin/docker-entrypoint.sh"
  CHANGES=(
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    'WORKDIR /data' 'VOLUME /data' 'EXPOSE 6379'
    'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["redis-server"]'
  )
  LABELS=("factory-lab.debian-package=redis-server $ver")
}

# mariadb: Debian's MariaDB server behind the part of the official image's env contract the program uses.
inputs_mariadb() { debian_pkg mariadb; debian_ver mariadb; }
recipe_mariadb() {
  local r=$1 ver
  in_root "$r" groupadd -r -g 999 mysql
  in_root "$r" useradd -r -g mysql -u 999 --home-dir=/var/lib/mysql --shell=/usr/sbin/nologin mysql
  rootfs_open "$r"
  apt_install "$r" mariadb-server
  ver="$(check_debian_version "$r" mariadb)"
  rootfs_close "$r"
  # An empty data directory: the entrypoint initialises it (the package's postinst made one).
  rm -rf "$r"/var/lib/mysql/*
  install -d -o 999 -g 999 -m 0755 "$r/var/lib/mysql" "$r/run/mysqld"
  printf '[mysqld]\nbind-address = 0.0.0.0\nskip-name-resolve\n' > "$r/etc/mysql/mariadb.conf.d/99-lab.cnf"
  cat > "$r/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/usr/bin/env bash
# factory-lab/mariadb entrypoint: the official mariadb image's documented env contract (the part the
# program uses), reimplemented over Debian's server (lab tooling, scripts/lab/lab-images.sh):
#   MARIADB_ROOT_PASSWORD(_FILE)  root password (root@localhost and root@%), required for a new datadir
#   MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD(_FILE)  a database and a user with all rights on it
#   MARIADB_AUTO_UPGRADE          accepted; one server version here, so nothing to upgrade
# MYSQL_* spellings are accepted too. `mariadbd …` or `-flag …`: as root, hand /var/lib/mysql and
# /run/mysqld to mysql (uid 999) and re-run as mysql; initialise an empty datadir with a socket-only
# server; exec mariadbd. Anything else is exec'd as given. Not implemented: /docker-entrypoint-initdb.d.
set -Eeuo pipefail
file_env() {
  local var=$1 fvar="${1}_FILE" alt="MYSQL_${1#MARIADB_}" val=""
  local afvar="${alt}_FILE"
  if [ -n "${!var:-}" ]; then val=${!var}; elif [ -n "${!fvar:-}" ]; then val="$(< "${!fvar}")";
  elif [ -n "${!alt:-}" ]; then val=${!alt}; elif [ -n "${!afvar:-}" ]; then val="$(< "${!afvar}")"; fi
  export "$var=$val"
  unset "$fvar" "$afvar"
}
if [ "${1:0:1}" = - ]; then set -- mariadbd "$@"; fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then exec "$@"; fi
datadir=/var/lib/mysql
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$datadir" /run/mysqld
  find "$datadir" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
  exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi
if [ ! -d "$datadir/mysql" ]; then
  file_env MARIADB_ROOT_PASSWORD
  file_env MARIADB_DATABASE
  file_env MARIADB_USER
  file_env MARIADB_PASSWORD
  if [ -z "$MARIADB_ROOT_PASSWORD" ]; then echo "error: database is uninitialized and MARIADB_ROOT_PASSWORD(_FILE) is not set" >&2; exit 1; fi
  mariadb-install-db --datadir="$datadir" --user=mysql --skip-test-db --auth-root-authentication-method=normal >/dev/null
  sock=/run/mysqld/init.sock
  mariadbd --datadir="$datadir" --skip-networking --socket="$sock" --user=mysql &
  pid=$!
  for _ in $(seq 60); do mariadb-admin --socket="$sock" ping >/dev/null 2>&1 && break; sleep 1; done
  sq() { local v=${1//\\/\\\\}; printf "'%s'" "${v//\'/\'\'}"; }
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "DROP USER IF EXISTS root@'127.0.0.1', root@'::1', ''@'localhost';"
    printf '%s\n' "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');"
    printf '%s\n' "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS \\'\\'@\\'', @@hostname, '\\'');"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sq "$MARIADB_ROOT_PASSWORD");"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sq "$MARIADB_ROOT_PASSWORD"); GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "$MARIADB_DATABASE" ]; then echo "CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"; fi
    if [ -n "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD" ]; then
      echo "CREATE USER $(sq "$MARIADB_USER")@'%' IDENTIFIED BY $(sq "$MARIADB_PASSWORD");"
      if [ -n "$MARIADB_DATABASE" ]; then echo "GRANT ALL ON \`${MARIADB_DATABASE//\`/\`\`}\`.* TO $(sq "$MARIADB_USER")@'%';"; fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket="$sock" -uroot
  kill "$pid"
  wait "$pid" || true
  unset MARIADB_ROOT_PASSWORD MARIADB_PASSWORD
  echo "MariaDB init process done. Ready for start up."
fi
exec "$@"
EOF
  chmod 0755 "$r/usr/local/bin/docker-entrypoint.sh"
  CHANGES=(
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV LANG=C.UTF-8'
    'VOLUME /var/lib/mysql' 'EXPOSE 3306'
    'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["mariadbd"]'
  )
  LABELS=("factory-lab.debian-package=mariadb-server $ver")
}

# Waits (LAB_IMAGES_WAIT seconds) for a file scripts/lab/install-test-tools.sh produces.
wait_for() {
  local f=$1 waited=0 limit="${LAB_IMAGES_WAIT:-0}"
  while [ ! -e "$f" ]; do
    if [ "$waited" -ge "$limit" ]; then die "$f is missing: run scripts/lab/install-test-tools.sh (or set LAB_IMAGES_WAIT to wait for it)"; fi
    if [ $((waited % 60)) = 0 ]; then log "waiting for $f (built by scripts/lab/install-test-tools.sh)"; fi
    sleep 10
    waited=$((waited + 10))
  done
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# caddy: the cached xcaddy build (caddy-security) in the official image's layout.
inputs_caddy() { wait_for "$SF_CACHE/bin/caddy"; sha_of "$SF_CACHE/bin/caddy"; tag_of caddy; }
recipe_caddy() {
  local r=$1
  rootfs_open "$r"
  apt_install "$r" ca-certificates media-types
  rootfs_close "$r"
  install -m 0755 "$SF_CACHE/bin/caddy" "$r/usr/bin/caddy"
  local modules
  modules="$("$r/usr/bin/caddy" list-modules)"
  grep -qx security <<< "$modules" || die "caddy: the cached build has no caddy-security module"
  mkdir -p "$r/etc/caddy" "$r/usr/share/caddy" "$r/config/caddy" "$r/data/caddy" "$r/srv"
  printf ':80 {\n\troot * /usr/share/caddy\n\tfile_server\n}\n' > "$r/etc/caddy/Caddyfile"
  printf '<!doctype html><title>factory-lab caddy</title><p>factory-lab/caddy (lab image)</p>\n' > "$r/usr/share/caddy/index.html"
  CHANGES=(
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    'ENV XDG_CONFIG_HOME=/config' 'ENV XDG_DATA_HOME=/data'
    'VOLUME /config' 'VOLUME /data' 'EXPOSE 80 443 443/udp 2019' 'WORKDIR /srv'
    'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
  )
  LABELS=("factory-lab.caddy-security=$(upstream caddySecurity)")
}

# garage: the cached cargo build at /garage with only the libraries it links, like the official image
# (FROM scratch, CMD /garage server, config /etc/garage.toml).
inputs_garage() { wait_for "$SF_CACHE/bin/garage"; sha_of "$(readlink -f "$SF_CACHE/bin/garage")"; upstream garage; }
recipe_garage() {
  local r=$1 t="$WORK/garage.tree" lib real
  safe_rm "$t"
  mkdir -p "$t/usr/lib/x86_64-linux-gnu" "$t/usr/lib64" "$t/etc" "$t/tmp"
  ln -s usr/lib "$t/lib"
  ln -s usr/lib64 "$t/lib64"
  chmod 1777 "$t/tmp"
  install -m 0755 "$(readlink -f "$SF_CACHE/bin/garage")" "$r/garage"
  # The dynamic loader and libraries as resolved inside the Debian root (same suite as the build host).
  while read -r lib; do
    real="$(in_root "$r" readlink -f "$lib")"
    [ -f "$r$real" ] || die "garage needs $lib, absent from the $SUITE base"
    mkdir -p "$(dirname "$t$lib")"
    cp "$r$real" "$t$lib"
  done < <(in_root "$r" ldd /garage | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
  mv "$r/garage" "$t/garage"
  printf 'root:x:0:0:root:/:/garage\n' > "$t/etc/passwd"
  printf 'root:x:0:\n' > "$t/etc/group"
  : > "$t/etc/resolv.conf"
  chroot "$t" /garage --help >/dev/null || die "garage: the assembled image cannot run /garage"
  safe_rm "$r" && mv "$t" "$r"
  CHANGES=('ENV RUST_BACKTRACE=1' 'ENV RUST_LOG=garage=info' 'CMD ["/garage", "server"]')
  LABELS=()
}

# keycloak: Debian's Java 17 and the Keycloak distribution (from the cached Maven Central tarball) at
# /opt/keycloak, user 1000 (group 0), entrypoint kc.sh, as in the official image. `kc.sh build` runs here
# with the build-time options renderKeycloakConf (src/platform/render.ts) sets, so the program's `start`
# finds nothing to rebuild; were they to differ, `start` rebuilds on first start (slower, still works).
KEYCLOAK_BUILD_OPTS=(--db=postgres --health-enabled=true --metrics-enabled=false)
keycloak_dist() {
  local t
  t="$SF_CACHE/dl/keycloak-quarkus-dist-$(upstream keycloak).tar.gz"
  if [ -s "$t" ]; then echo "$t"; return; fi
  wait_for "$SF_CACHE/keycloak/bin/kc.sh"
  echo "$SF_CACHE/keycloak"
}
inputs_keycloak() {
  local d
  d="$(keycloak_dist)"
  if [ -f "$d" ]; then sha_of "$d"; else echo "dir $(upstream keycloak)"; fi
  echo "${KEYCLOAK_BUILD_OPTS[*]}"
}
recipe_keycloak() {
  local r=$1 d
  d="$(keycloak_dist)"
  rootfs_open "$r"
  apt_install "$r" openjdk-17-jre-headless
  mkdir -p "$r/opt/keycloak"
  if [ -f "$d" ]; then tar -xzf "$d" -C "$r/opt/keycloak" --strip-components=1 --no-same-owner
  else cp -a "$d/." "$r/opt/keycloak/" && rm -rf "$r/opt/keycloak/data" "$r/opt/keycloak/conf/keycloak.conf"; fi
  [ -x "$r/opt/keycloak/bin/kc.sh" ] || die "keycloak: no bin/kc.sh in $d"
  echo "keycloak:x:0:root" >> "$r/etc/group"
  echo "keycloak:x:1000:0:keycloak user:/opt/keycloak:/sbin/nologin" >> "$r/etc/passwd"
  in_root "$r" /opt/keycloak/bin/kc.sh build "${KEYCLOAK_BUILD_OPTS[@]}" > "$IMAGES/keycloak-build.log" 2>&1 \
    || die "keycloak: kc.sh build failed (see $IMAGES/keycloak-build.log)"
  rootfs_close "$r"
  mkdir -p "$r/opt/keycloak/data"
  chown -R 1000:0 "$r/opt/keycloak"
  chmod -R g+rwX "$r/opt/keycloak"
  CHANGES=(
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV LANG=C.UTF-8'
    'USER 1000' 'EXPOSE 8080 8443 9000'
    'ENTRYPOINT ["/opt/keycloak/bin/kc.sh"]'
  )
  LABELS=("factory-lab.keycloak-build=${KEYCLOAK_BUILD_OPTS[*]}")
}

# --------------------------------------------------------------------------------------------- building
# The hash keys the cache: the shared helpers, the recipe itself, and what it reads.
recipe_hash() {
  local name=$1 common base="" inputs="" tag=""
  common="$(declare -f recipe_base rootfs_open rootfs_close rootfs_slim_docs rootfs_slim in_root apt_install check_debian_version)"
  if [ "$name" != base ]; then
    base="$(recipe_hash base)"
    inputs="$("inputs_$name")"
    tag="$(tag_of "$name")"
  fi
  printf '%s\n' "$common" "suite $SUITE" "$base" "$(declare -f "recipe_$name")" "$inputs" "$tag" | sha256sum | cut -c1-20
}

BUILD_HOST=""
BUILD_DIR=""
BUILD_PID=""
stop_build_dockerd() {
  if [ -n "$BUILD_PID" ]; then
    kill "$BUILD_PID" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$BUILD_PID" 2>/dev/null || break; sleep 0.5; done
    BUILD_PID=""
  fi
  if [ -n "$BUILD_DIR" ]; then safe_rm "$BUILD_DIR"; BUILD_DIR=""; fi
}
cleanup() {
  unmount_all
  stop_build_dockerd
}
trap cleanup EXIT

build_docker() {
  [ -z "$BUILD_HOST" ] || return 0
  if [ -n "${LAB_DOCKER_HOST:-}" ]; then BUILD_HOST=$LAB_DOCKER_HOST; return 0; fi
  BUILD_DIR="$(mktemp -d /tmp/lab-images.XXXXXX)"
  dockerd --host "unix://$BUILD_DIR/docker.sock" --data-root "$BUILD_DIR/data" --exec-root "$BUILD_DIR/exec" \
    --pidfile "$BUILD_DIR/pid" --storage-driver vfs --iptables=false --ip-masq=false --bridge none \
    > "$BUILD_DIR/dockerd.log" 2>&1 &
  BUILD_PID=$!
  BUILD_HOST="unix://$BUILD_DIR/docker.sock"
  for _ in $(seq 120); do
    DOCKER_HOST=$BUILD_HOST docker version >/dev/null 2>&1 && return 0
    kill -0 "$BUILD_PID" 2>/dev/null || break
    sleep 0.5
  done
  cat "$BUILD_DIR/dockerd.log" >&2
  die "the build dockerd did not start"
}
dk() { DOCKER_HOST=$BUILD_HOST docker "$@"; }

build_one() {
  local name=$1 tag ref out hash r started args c
  tag="$(tag_of "$name")"
  ref="factory-lab/$name:$tag"
  out="$IMAGES/$name-$tag.tar"
  hash="$(recipe_hash "$name")"
  if [ -s "$out" ] && [ "$(cat "$out.recipe" 2>/dev/null)" = "$hash" ]; then
    log "$ref: cached ($out)"
    return 0
  fi
  started=$SECONDS
  log "$ref: building"
  ensure_base
  r="$WORK/$name"
  safe_rm "$r"
  mkdir -p "$WORK"
  cp -a "$BASE" "$r"
  CHANGES=()
  EXTRA=()
  LABELS=()
  "recipe_$name" "$r"
  rootfs_slim "$r"
  args=()
  for c in "${CHANGES[@]}"; do args+=(--change "$c"); done
  for c in "${LABELS[@]}" "factory-lab.recipe=$hash" "factory-lab.name=$name"; do args+=(--change "LABEL ${c%%=*}=\"${c#*=}\""); done
  build_docker
  tar -C "$r" --numeric-owner --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . \
    | dk import "${args[@]}" - "$ref" >/dev/null
  if [ "${#EXTRA[@]}" -gt 0 ]; then
    { echo "FROM $ref"; printf '%s\n' "${EXTRA[@]}"; } | DOCKER_BUILDKIT=0 dk build -q -t "$ref" - >/dev/null 2>&1 \
      || die "$ref: docker build of ${EXTRA[*]} failed"
  fi
  dk save -o "$out.tmp" "$ref"
  chmod 0644 "$out.tmp"
  mv "$out.tmp" "$out"
  echo "$hash" > "$out.recipe"
  [ -n "${LAB_DOCKER_HOST:-}" ] || dk rmi "$ref" >/dev/null
  safe_rm "$r"
  log "$ref: built in $((SECONDS - started)) s, $(du -m "$out" | cut -f1) MB ($out)"
}

main() {
  local names=("$@") n
  [ "${#names[@]}" -gt 0 ] || names=("${ALL[@]}")
  for n in "${names[@]}"; do tag_of "$n" >/dev/null; done
  need_tools
  mkdir -p "$IMAGES"
  exec 9> "$IMAGES/.lock"
  flock 9
  for n in "${names[@]}"; do build_one "$n"; done
}

main "$@"
