// npm run audit:postgres -- [--host H] [--port P] [--user U] [--database D] [--password-file F]
//                           [--platform-db NAME]... [--json]
// Connects to a live PostgreSQL with admin credentials and reports every breach of tenant isolation
// (see src/postgres/audit.ts). Connection defaults come from the libpq environment (PGHOST, PGPORT,
// PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE); the password is never taken from the command line.
// Exit codes: 0 no finding, 1 findings, 2 usage or connection error.
import * as fs from "node:fs";
import { Client } from "pg";
import {
  AuditSnapshot, CONNECT_SQL, ConnectRow, DATABASES_SQL, DatabaseRow, evaluateAudit, formatAudit, MEMBERSHIP_SQL,
  MembershipRow, PROVISIONER_MEMBERSHIP_SQL, ProvisionerMembershipRow, ROLES_SQL, RoleRow, tenantDatabases, tenantRoleNames,
} from "../src/postgres/audit";
import { PROVISIONER_ROLE } from "../src/postgres/provisioner";

const USAGE = "usage: audit-postgres [--host H] [--port P] [--user U] [--database D] [--password-file F] [--platform-db NAME]... [--json]";

interface Options {
  host?: string; port?: number; user?: string; database?: string; passwordFile?: string;
  platformDatabases: string[]; json: boolean;
}

export function parseAuditArgs(argv: string[]): Options {
  const o: Options = { platformDatabases: [], json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") continue;
    if (arg === "--json") { o.json = true; continue; }
    if (arg === "--password") throw new Error("--password is not accepted: use PGPASSWORD or --password-file");
    const m = /^--(host|port|user|database|password-file|platform-db)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    switch (m[1]) {
      case "host": o.host = value; break;
      case "port":
        o.port = Number(value);
        if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error(`--port ${value} is not a port number`);
        break;
      case "user": o.user = value; break;
      case "database": o.database = value; break;
      case "password-file": o.passwordFile = value; break;
      case "platform-db": o.platformDatabases.push(value); break;
    }
  }
  return o;
}

export async function snapshot(client: Client, opts: { platformDatabases: string[] }): Promise<AuditSnapshot> {
  const databases = (await client.query<DatabaseRow>(DATABASES_SQL)).rows;
  const roles = (await client.query<RoleRow>(ROLES_SQL)).rows;
  const tenantRoles = tenantRoleNames({ databases, roles }, opts);
  // The provisioning role's connections are checked with the tenants' (it must reach none of their databases).
  const connect = (await client.query<ConnectRow>(CONNECT_SQL, [[...tenantRoles, PROVISIONER_ROLE]])).rows;
  const memberships = (await client.query<MembershipRow>(MEMBERSHIP_SQL, [tenantRoles])).rows;
  const provisionerMemberships = (await client.query<ProvisionerMembershipRow>(PROVISIONER_MEMBERSHIP_SQL, [PROVISIONER_ROLE])).rows;
  return { databases, roles, connect, memberships, provisionerMemberships };
}

async function main(argv: string[]): Promise<number> {
  let o: Options;
  try {
    o = parseAuditArgs(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const password = o.passwordFile ? fs.readFileSync(o.passwordFile, "utf8").replace(/\r?\n$/, "") : undefined;
  const client = new Client({
    host: o.host, port: o.port, user: o.user, database: o.database ?? process.env.PGDATABASE ?? "postgres", password,
    connectionTimeoutMillis: 15_000, application_name: "audit-postgres",
  });
  let snap: AuditSnapshot;
  try {
    await client.connect();
    snap = await snapshot(client, o);
  } catch (e) {
    const msg = `audit:postgres: cannot audit ${client.host}:${client.port} as ${client.user}: ${(e as Error).message}`;
    if (o.json) process.stdout.write(JSON.stringify({ ok: false, error: msg }, null, 2) + "\n");
    process.stderr.write(msg + "\n");
    await client.end().catch(() => undefined);
    return 2;
  }
  await client.end().catch(() => undefined);
  const findings = evaluateAudit(snap, o);
  const checked = { databases: tenantDatabases(snap.databases, o).length, roles: tenantRoleNames(snap, o).length };
  if (o.json) process.stdout.write(JSON.stringify({ ok: findings.length === 0, checked, findings }, null, 2) + "\n");
  else process.stdout.write(formatAudit(findings, checked));
  return findings.length === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    process.stderr.write(`audit:postgres: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 2;
  });
}
