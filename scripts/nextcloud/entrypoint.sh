#!/bin/sh
# service-factory: patched entrypoint of the Nextcloud FPM containers (replaces the official image's
# /entrypoint.sh). The install folder (/var/www/html) is a volume shared read-only by every tenant of the
# host, so unlike the official docker-entrypoint.sh this script:
#   - never copies (rsync) the image's code over the install folder,
#   - never takes the install lock (flock on nextcloud-init-sync.lock: impossible on a read-only mount),
#   - never runs `occ maintenance:install` nor `occ upgrade` (the factory does both, in order, itself).
# It keeps what each instance needs from the official one: `*_FILE` secrets (file_env) and the PHP
# session handler on Redis (written where this unprivileged user can write, added to PHP's scan dir).
set -eu

# usage: file_env VAR [DEFAULT]  -- VAR from VAR_FILE's content when set, like the official file_env, except
# that VAR_FILE stays set: Nextcloud's config snippets read the *_FILE variables themselves.
file_env() {
	var="$1"
	file_var="${var}_FILE"
	eval "var_value=\${$var:-}"
	eval "file_value=\${$file_var:-}"
	default="${2:-}"
	if [ -n "$var_value" ] && [ -n "$file_value" ]; then
		echo >&2 "error: both $var and $file_var are set (but are exclusive)"
		exit 1
	fi
	value="$default"
	if [ -n "$var_value" ]; then
		value="$var_value"
	elif [ -n "$file_value" ]; then
		value="$(cat "$file_value")"
	fi
	export "$var"="$value"
}

if [ "${NEXTCLOUD_UPDATE:-0}" != "0" ]; then
	echo >&2 "error: NEXTCLOUD_UPDATE=${NEXTCLOUD_UPDATE} but this entrypoint never installs nor upgrades (the factory does)"
	exit 1
fi

# Secrets the official entrypoint reads through file_env; Nextcloud's config snippets read the rest
# (OBJECTSTORE_S3_*_FILE, SMTP_PASSWORD_FILE, REDIS_HOST_PASSWORD_FILE) themselves.
file_env REDIS_HOST_PASSWORD

php_conf_dir="${PHP_CONF_DIR:-/usr/local/etc/php/conf.d}"
if [ -n "${REDIS_HOST:-}" ]; then
	if [ ! -w "$php_conf_dir" ]; then
		# Running as www-data: write the ini to our own directory and add it to PHP's scan path.
		extra_dir="${FACTORY_PHP_INI_DIR:-/tmp/php-conf.d}"
		mkdir -p "$extra_dir"
		PHP_INI_SCAN_DIR="${PHP_INI_SCAN_DIR:-$php_conf_dir}:$extra_dir"
		export PHP_INI_SCAN_DIR
		php_conf_dir="$extra_dir"
	fi
	echo "Configuring Redis as session handler"
	prefix=""
	if [ -n "${FACTORY_REDIS_SESSION_PREFIX:-}" ]; then
		prefix="prefix=${FACTORY_REDIS_SESSION_PREFIX}"
	fi
	# phpredis (>= 5.3) takes an ACL user and its password as auth[]=user&auth[]=password.
	auth=""
	if [ -n "${REDIS_HOST_PASSWORD:-}" ]; then
		if [ -n "${REDIS_HOST_USER:-}" ]; then
			auth="auth[]=${REDIS_HOST_USER}&auth[]=${REDIS_HOST_PASSWORD}"
		else
			auth="auth=${REDIS_HOST_PASSWORD}"
		fi
	fi
	query="${auth}${auth:+${prefix:+&}}${prefix}"
	{
		echo 'session.save_handler = redis'
		case "$REDIS_HOST" in
			/*) echo "session.save_path = \"unix://${REDIS_HOST}${query:+?$query}\"" ;;
			*) echo "session.save_path = \"tcp://${REDIS_HOST}:${REDIS_HOST_PORT:=6379}${query:+?$query}\"" ;;
		esac
		echo "redis.session.locking_enabled = 1"
		echo "redis.session.lock_retries = -1"
		# redis.session.lock_wait_time is in microseconds: wait 10ms before retrying the lock.
		echo "redis.session.lock_wait_time = 10000"
	} > "$php_conf_dir/redis-session.ini"
	chmod 0600 "$php_conf_dir/redis-session.ini"
fi
# The password stays out of PHP-FPM's environment (redis.config.php reads REDIS_HOST_PASSWORD_FILE).
unset REDIS_HOST_PASSWORD

# The data directory holds no file (they are in S3) but Nextcloud wants its marker there.
data_dir="${NEXTCLOUD_DATA_DIR:-/var/www/html/data}"
if [ -d "$data_dir" ] && [ -w "$data_dir" ] && [ ! -e "$data_dir/.ocdata" ]; then
	: > "$data_dir/.ocdata"
fi

exec "$@"
