// Everything the shared-service containers and one-shot commands run or read, rendered from plain values:
// start scripts, health probes, Keycloak's configuration file, Redis arguments, Collabora's environment,
// the Garage layout and platform-key scripts. Pure (no Pulumi): tested directly, shell checked by shellcheck.
import { PORTS } from "../endpoints";
import { REDIS_PATHS } from "./redis";

/** Where the PostgreSQL container keeps its cluster and its self-signed TLS pair (one volume at DATA_ROOT). */
export const POSTGRES_PATHS = {
  dataRoot: "/var/lib/postgresql/data",
  pgdata: "/var/lib/postgresql/data/pgdata",
  tlsDir: "/var/lib/postgresql/data/tls",
  passwordFile: "/run/secrets/postgres-password",
} as const;

/**
 * Container command of PostgreSQL (run by bash as root, before the official entrypoint): creates a
 * self-signed TLS pair in the data volume on first start (the program's provider connects with
 * sslmode=require), then hands over to docker-entrypoint.sh, which initialises the cluster from
 * POSTGRES_PASSWORD_FILE and drops to the postgres user.
 */
export function renderPostgresStart(o: { maxConnections: number; sharedBuffersMb: number }): string {
  const p = POSTGRES_PATHS;
  return [
    "set -euo pipefail",
    `tls=${p.tlsDir}`,
    'if [ ! -s "$tls/server.key" ] || [ ! -s "$tls/server.crt" ]; then',
    '  command -v openssl >/dev/null || { echo "openssl is missing from the PostgreSQL image (use a Debian-based tag)" >&2; exit 1; }',
    '  mkdir -p "$tls"',
    '  openssl req -new -x509 -days 3650 -nodes -newkey rsa:3072 -subj "/CN=postgres" -keyout "$tls/server.key" -out "$tls/server.crt"',
    "fi",
    // Regenerated whole at every start: TLS or nothing over TCP; the socket inside the container stays
    // trusted (the image's initialisation and `docker exec psql` use it).
    `printf '%s\\n' 'local all all trust' 'hostnossl all all all reject' 'hostssl all all all scram-sha-256' > "$tls/pg_hba.conf"`,
    'chown -R postgres:postgres "$tls"',
    'chmod 0700 "$tls"',
    'chmod 0600 "$tls/server.key"',
    "exec docker-entrypoint.sh postgres \\",
    "  -c ssl=on \\",
    '  -c "ssl_cert_file=$tls/server.crt" \\',
    '  -c "ssl_key_file=$tls/server.key" \\',
    '  -c "hba_file=$tls/pg_hba.conf" \\',
    "  -c password_encryption=scram-sha-256 \\",
    `  -c max_connections=${integer(o.maxConnections)} \\`,
    `  -c shared_buffers=${integer(o.sharedBuffersMb)}MB`,
    "",
  ].join("\n");
}

/** PostgreSQL answers on TCP (the init-time server listens on its socket only, so this waits for the real one). */
export function postgresHealthTest(): string[] {
  return ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", String(PORTS.postgres), "-U", "postgres", "-d", "postgres"];
}

/**
 * A bash-only HTTP probe (the Keycloak and Collabora images have bash but no curl): succeeds when
 * `GET path` on 127.0.0.1:port answers 200.
 */
export function renderHttpProbe(port: number, path: string): string {
  if (!/^\/[A-Za-z0-9/._-]*$/.test(path)) throw new Error(`unsafe probe path ${path}`);
  return [
    `exec 3<>/dev/tcp/127.0.0.1/${integer(port)}`,
    `printf 'GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3`,
    "IFS= read -r status <&3",
    'case "$status" in',
    '  "HTTP/"*" 200 "*) exit 0 ;;',
    "  *) exit 1 ;;",
    "esac",
    "",
  ].join("\n");
}

export function httpHealthTest(port: number, path: string): string[] {
  return ["CMD", "bash", "-c", renderHttpProbe(port, path)];
}

/** Keycloak is ready when its management interface reports /health/ready (health-enabled=true). */
export function keycloakHealthTest(): string[] {
  return httpHealthTest(PORTS.keycloakManagement, "/health/ready");
}

/** Collabora is ready when it serves its WOPI discovery document. */
export function collaboraHealthTest(): string[] {
  return httpHealthTest(PORTS.collabora, "/hosting/discovery");
}

/** Garage is up when its CLI (authenticated by rpc_secret from /etc/garage.toml) gets the node status. */
export function garageHealthTest(): string[] {
  return ["CMD", "/garage", "status"];
}

/** Where Keycloak reads its configuration file (secrets included: uploaded as a file, never in env). */
export const KEYCLOAK_CONF = "/opt/keycloak/conf/keycloak.conf";

export interface KeycloakConf {
  /** JDBC URL of its database. */
  dbUrl: string;
  dbUsername: string;
  dbPassword: string;
  /** Public base URL (https://auth.<domain>), served through the edge Caddy which terminates TLS. */
  hostname: string;
  /** Temporary admin of the master realm, created on the very first start only. */
  adminUsername: string;
  adminPassword: string;
}

/**
 * keycloak.conf for `kc.sh start`: PostgreSQL database, TLS terminated by the edge (http enabled,
 * X-Forwarded-* trusted), health on the management port, and a dynamic back-channel so the program's
 * provider can log in on the private address while browsers use the public hostname.
 */
export function renderKeycloakConf(c: KeycloakConf): string {
  for (const [k, v] of Object.entries(c)) {
    if (/[\r\n]/.test(v)) throw new Error(`keycloak.conf value ${k} contains a line break`);
  }
  return [
    "# Rendered by the service factory (src/platform/render.ts); replaced whole on every change.",
    "db=postgres",
    `db-url=${c.dbUrl}`,
    `db-username=${c.dbUsername}`,
    `db-password=${propertiesEscape(c.dbPassword)}`,
    `hostname=${c.hostname}`,
    "hostname-backchannel-dynamic=true",
    "http-enabled=true",
    `http-port=${PORTS.keycloak}`,
    "proxy-headers=xforwarded",
    "health-enabled=true",
    "metrics-enabled=false",
    // One Keycloak: a local cache, no JGroups cluster discovery on the host network.
    "cache=local",
    `bootstrap-admin-username=${c.adminUsername}`,
    `bootstrap-admin-password=${propertiesEscape(c.adminPassword)}`,
    "",
  ].join("\n");
}

/** keycloak.conf is read as a Java properties file: backslashes must be doubled. */
function propertiesEscape(v: string): string {
  return v.replace(/\\/g, "\\\\");
}

export function keycloakJdbcUrl(host: string, port: number, database: string): string {
  return `jdbc:postgresql://${host}:${integer(port)}/${database}?sslmode=require`;
}

/**
 * Redis arguments: append-only persistence in /data, memory ceiling under the container limit, and an
 * eviction policy that only drops keys with a TTL (Nextcloud's file locks and sessions carry one; the
 * distributed cache too), so Redis never silently drops a key without an expiry. Access control comes
 * from the ACL file (src/platform/redis.ts).
 */
export function redisCommand(maxMemoryMb: number): string[] {
  return [
    "redis-server",
    "--appendonly", "yes",
    "--dir", "/data",
    "--maxmemory", `${integer(maxMemoryMb)}mb`,
    "--maxmemory-policy", "volatile-lru",
    // `--save` followed by another option means `save ""` (no RDB snapshots, AOF only). An empty
    // argument would say the same, but the Docker provider refuses empty values in `command`.
    "--save",
    "--protected-mode", "no",
    // Users (admin, healthcheck, one per tenant) live in this file on the data volume (src/platform/redis.ts).
    "--aclfile", REDIS_PATHS.acl,
  ];
}

/** Where the edge serves Collabora's remote configuration, on Collabora's own public hostname. */
export const COLLABORA_CONFIG_PATH = "/.well-known/service-factory/collabora.json";

/**
 * A WOPI host that cannot exist (RFC 2606 reserves `.invalid`): the one alias group Collabora starts with,
 * so that it is in "groups" mode, admitting nobody, until its first fetch of the remote configuration.
 */
export const COLLABORA_NO_WOPI_HOST = "https://wopi-hosts-pending.invalid:443";

/**
 * Collabora (CODE) environment: the same for any tenant list, so that a new Nextcloud never restarts
 * Collabora (open documents of every tenant would drop). TLS is terminated by the edge Caddy. The WOPI
 * hosts come from the remote configuration the edge serves (renderCollaboraRemoteConfig), which coolwsd
 * fetches at start and every 60 s.
 *
 * Upstream (CollaboraOnline/online):
 * - wsd/COOLWSD.cpp, initializeEnvOptions: with --use-env-vars (the image's start script passes it),
 *   `remoteconfigurl` sets `remote_config.remote_url`, and `aliasgroupN` (N = 1, 2, …) set the alias
 *   groups, with mode "groups" once aliasgroup1 exists.
 * - wsd/RemoteConfig.cpp (commit 04a7440d), RemoteJSONPoll: the URL must be https (a release build
 *   refuses http and polls nothing), it is fetched right away, then every 60 s with If-None-Match.
 * - Without any alias group, coolwsd.xml's default mode "first" admits the first host that connects
 *   (wsd/HostUtil.cpp allowedAlias, setFirstHost): hence the `.invalid` group until the first fetch.
 */
export function collaboraEnv(o: { serverName: string }): string[] {
  return [
    `server_name=${o.serverName}`,
    "extra_params=--o:ssl.enable=false --o:ssl.termination=true --o:security.capabilities=false --o:mount_jail_tree=false",
    "DONT_GEN_SSL_CERT=1",
    "dictionaries=de_DE en_GB en_US es_ES fr_FR it nl pt_BR pt_PT",
    `aliasgroup1=${COLLABORA_NO_WOPI_HOST}`,
    `remoteconfigurl=https://${o.serverName}${COLLABORA_CONFIG_PATH}`,
  ];
}

/**
 * Collabora's remote configuration: each distinct Nextcloud hostname is its own alias group (a WOPI host
 * allowed to use this Collabora); no other server may. With no Nextcloud, the `.invalid` placeholder.
 *
 * Upstream: wsd/RemoteConfig.cpp (commit 04a7440d): the document must have `"kind": "configuration"`;
 * fetchAliasGroups reads storage.wopi.alias_groups {mode, groups: [{host, allow, aliases}]}, and an empty
 * `groups` array changes nothing (hence the placeholder); wsd/HostUtil.cpp (commit 13d644be), parseAliases
 * and getNewUri: hosts of one group are "the same server" (an alias is rewritten to its group's host), so
 * two tenants in one group would share document identities: one group per hostname.
 */
export function renderCollaboraRemoteConfig(wopiHosts: readonly string[]): string {
  const hosts = [...new Set(wopiHosts.map((h) => h.toLowerCase()))].sort();
  for (const h of hosts) {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(h)) throw new Error(`WOPI host "${h}" is not a hostname`);
  }
  const groups = (hosts.length > 0 ? hosts.map((h) => `https://${h}:443`) : [COLLABORA_NO_WOPI_HOST]).map((host) => ({ host, allow: true }));
  return JSON.stringify({ kind: "configuration", storage: { wopi: { alias_groups: { mode: "groups", groups } } } });
}

/**
 * One-shot, idempotent: assigns this single Garage node a role and applies layout version 1, only if no
 * layout has been applied yet. Runs on the operator's machine against the host's Docker daemon
 * (DOCKER_HOST in the environment) through `docker exec`, so the Garage CLI authenticates with the
 * rpc_secret already inside the container: the command handles no secret.
 */
export function renderGarageLayoutScript(o: { container: string; zone: string; capacity: string }): string {
  for (const [k, v] of Object.entries(o)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v)) throw new Error(`unsafe garage layout ${k}: ${v}`);
  }
  return [
    "set -eu",
    `container=${o.container}`,
    'g() { docker exec "$container" /garage "$@"; }',
    "if g layout show | grep -q 'Current cluster layout version: [1-9]'; then",
    '  echo "garage layout already applied"',
    "  exit 0",
    "fi",
    "node_id=$(g node id -q | cut -d@ -f1)",
    'if [ -z "$node_id" ]; then echo "could not read the Garage node id" >&2; exit 1; fi',
    `g layout assign -z ${o.zone} -c ${o.capacity} "$node_id"`,
    "g layout apply --version 1",
    "",
  ].join("\n");
}

/**
 * One-shot, idempotent: imports the platform's own S3 key (the one CORS rules and first pages are written
 * with) through the admin API when it does not exist yet. Every secret comes from the environment (GARAGE_ADMIN_TOKEN,
 * GARAGE_KEY_ID, GARAGE_KEY_SECRET) and reaches curl through its stdin config (`-K -`), never argv.
 */
export function renderGarageKeyImportScript(o: { adminUrl: string; keyName: string }): string {
  if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(o.adminUrl)) throw new Error(`unsafe admin url ${o.adminUrl}`);
  if (!/^[A-Za-z0-9_-]+$/.test(o.keyName)) throw new Error(`unsafe key name ${o.keyName}`);
  return [
    "set -eu",
    `admin=${o.adminUrl}`,
    ': "${GARAGE_ADMIN_TOKEN:?}" "${GARAGE_KEY_ID:?}" "${GARAGE_KEY_SECRET:?}"',
    "case \"$GARAGE_KEY_ID$GARAGE_KEY_SECRET\" in *[!A-Za-z0-9]*) echo 'GARAGE key id/secret must be alphanumeric' >&2; exit 1 ;; esac",
    "auth() { printf 'header = \"Authorization: Bearer %s\"\\n' \"$GARAGE_ADMIN_TOKEN\"; }",
    "code=$({ auth; printf 'url = \"%s/v1/key?id=%s\"\\n' \"$admin\" \"$GARAGE_KEY_ID\"; } | curl -sS -K - -o /dev/null -w '%{http_code}')",
    'if [ "$code" = 200 ]; then echo "platform key present"; exit 0; fi',
    'if [ "$code" != 404 ] && [ "$code" != 400 ]; then echo "garage admin API answered $code" >&2; exit 1; fi',
    "{",
    "  auth",
    "  printf 'url = \"%s/v1/key/import\"\\n' \"$admin\"",
    "  printf 'header = \"Content-Type: application/json\"\\n'",
    `  printf 'data = "{\\\\"accessKeyId\\\\":\\\\"%s\\\\",\\\\"secretAccessKey\\\\":\\\\"%s\\\\",\\\\"name\\\\":\\\\"${o.keyName}\\\\"}"\\n' "$GARAGE_KEY_ID" "$GARAGE_KEY_SECRET"`,
    "} | curl -fsS -K - -o /dev/null",
    'echo "platform key imported"',
    "",
  ].join("\n");
}

function integer(n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got ${n}`);
  return String(n);
}
