// garage.toml for one Garage node, rendered whole from plain values (no Pulumi import).
// Secrets are never written into the file: it points at the rpc secret and admin token files, which the
// container receives as separate uploads (Garage refuses them if they are world-readable).

export interface GarageTomlOptions {
  /** Metadata directory inside the container (LMDB database, snapshots). */
  metadataDir: string;
  /** Data directory inside the container (object blocks). */
  dataDir: string;
  /** Copies of each object: 1 for a single storage host, 3 for a production cluster of 3+ zones. */
  replicationFactor: number;
  /** host:port the RPC listener binds to. */
  rpcBindAddr: string;
  /** host:port other nodes use to reach this one. */
  rpcPublicAddr: string;
  /** host:port of the S3 API listener. */
  s3ApiBindAddr: string;
  /** Region clients must sign requests for (e.g. "garage"). */
  s3Region: string;
  /** host:port of the website listener. */
  webBindAddr: string;
  /** Suffix under which website buckets are also served (`<bucket>.<root>`); a leading dot is added if missing. */
  webRootDomain: string;
  /** host:port of the admin API listener. */
  adminApiBindAddr: string;
  /** Path of the file holding the 32-byte hex rpc secret. */
  rpcSecretFile: string;
  /** Path of the file holding the admin API bearer token. */
  adminTokenFile: string;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;
const IPV4 = /^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$/;
const DOMAIN = /^\.?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A TOML basic string: quotes, backslashes and control characters escaped. */
export function tomlString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + '"';
}

/** Bind addresses are socket addresses (an IP literal, IPv6 in brackets); the public RPC address may be a name. */
function checkHostPort(field: string, v: string, ipOnly: boolean): void {
  const m = HOST_PORT.exec(v);
  const port = m ? Number(m[2]) : 0;
  const host = m ? m[1] : "";
  const ipOk = IPV4.test(host) || (host.startsWith("[") && host.includes(":"));
  if (!m || port < 1 || port > 65535 || (ipOnly && !ipOk)) {
    throw new Error(`garage.toml: ${field} must be ${ipOnly ? "ip:port" : "host:port"}, got ${JSON.stringify(v)}`);
  }
}

function checkPath(field: string, v: string): void {
  if (!v.startsWith("/") || /[\0\n\r]/.test(v)) throw new Error(`garage.toml: ${field} must be an absolute path, got ${JSON.stringify(v)}`);
}

/** Renders garage.toml (Garage 1.x and 2.x syntax: `replication_factor`, `[s3_api]`, `[s3_web]`, `[admin]`). */
export function renderGarageToml(o: GarageTomlOptions): string {
  for (const f of ["metadataDir", "dataDir", "rpcSecretFile", "adminTokenFile"] as const) checkPath(f, o[f]);
  for (const f of ["rpcBindAddr", "s3ApiBindAddr", "webBindAddr", "adminApiBindAddr"] as const) checkHostPort(f, o[f], true);
  checkHostPort("rpcPublicAddr", o.rpcPublicAddr, false);
  if (!Number.isInteger(o.replicationFactor) || o.replicationFactor < 1 || o.replicationFactor > 7) {
    throw new Error(`garage.toml: replicationFactor must be an integer from 1 to 7, got ${o.replicationFactor}`);
  }
  if (!/^[a-z0-9-]{1,63}$/.test(o.s3Region)) throw new Error(`garage.toml: s3Region must match [a-z0-9-]{1,63}, got ${JSON.stringify(o.s3Region)}`);
  if (!DOMAIN.test(o.webRootDomain) || o.webRootDomain.replace(/^\./, "").length > 253) {
    throw new Error(`garage.toml: webRootDomain must be a lowercase DNS name, got ${JSON.stringify(o.webRootDomain)}`);
  }
  const webRoot = o.webRootDomain.startsWith(".") ? o.webRootDomain : `.${o.webRootDomain}`;
  const lines = [
    "# Rendered by the service factory (src/garage/config.ts); do not edit by hand.",
    `metadata_dir = ${tomlString(o.metadataDir)}`,
    `data_dir = ${tomlString(o.dataDir)}`,
    `db_engine = "lmdb"`,
    // A metadata snapshot every 6 hours: LMDB can be restored from it after a crash.
    `metadata_auto_snapshot_interval = "6h"`,
    `replication_factor = ${o.replicationFactor}`,
    // With one copy there is nothing to agree with; with more, reads and writes wait for a quorum.
    `consistency_mode = "consistent"`,
    "",
    `rpc_bind_addr = ${tomlString(o.rpcBindAddr)}`,
    `rpc_public_addr = ${tomlString(o.rpcPublicAddr)}`,
    `rpc_secret_file = ${tomlString(o.rpcSecretFile)}`,
    "",
    "[s3_api]",
    `s3_region = ${tomlString(o.s3Region)}`,
    `api_bind_addr = ${tomlString(o.s3ApiBindAddr)}`,
    "# No root_domain: clients use path-style addressing (bucket names contain dots).",
    "",
    "[s3_web]",
    `bind_addr = ${tomlString(o.webBindAddr)}`,
    `root_domain = ${tomlString(webRoot)}`,
    "",
    "[admin]",
    `api_bind_addr = ${tomlString(o.adminApiBindAddr)}`,
    `admin_token_file = ${tomlString(o.adminTokenFile)}`,
    "",
  ];
  return lines.join("\n");
}
