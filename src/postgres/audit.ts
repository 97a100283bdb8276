// Tenant-isolation audit of a live PostgreSQL: the catalog queries, and the pure evaluation of their
// results into findings. scripts/audit-postgres.ts runs the queries with `pg`; tests feed rows directly.
//
// What is a tenant database: every database that is not a template, not the `postgres` maintenance
// database and not declared a platform database (--platform-db). By the TenantDatabase convention its
// owner is the login role of the same name: that role is the tenant role.

/** The maintenance database: left out of every check (tools connect to it; it holds no tenant data). */
export const MAINTENANCE_DATABASE = "postgres";

export const DATABASES_SQL = `
SELECT d.datname AS name,
       pg_get_userbyid(d.datdba) AS owner,
       has_database_privilege('public', d.oid, 'CONNECT') AS public_connect,
       has_database_privilege('public', d.oid, 'TEMPORARY') AS public_temp
  FROM pg_database d
 WHERE NOT d.datistemplate
 ORDER BY d.datname`;

export const ROLES_SQL = `
SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolcreatedb AS createdb, r.rolcreaterole AS createrole,
       r.rolreplication AS replication, r.rolbypassrls AS bypassrls, r.rolcanlogin AS login,
       r.rolconnlimit AS connlimit
  FROM pg_roles r
 ORDER BY r.rolname`;

/** Every (role, database) pair where the role may connect; $1 = the role names to test. */
export const CONNECT_SQL = `
SELECT r.rolname AS role, d.datname AS database
  FROM pg_roles r CROSS JOIN pg_database d
 WHERE r.rolname = ANY($1::text[])
   AND NOT d.datistemplate
   AND has_database_privilege(r.oid, d.oid, 'CONNECT')
 ORDER BY 1, 2`;

/** Role memberships of the given roles; $1 = the role names. */
export const MEMBERSHIP_SQL = `
SELECT m.rolname AS role, g.rolname AS member_of
  FROM pg_auth_members a
  JOIN pg_roles m ON m.oid = a.member
  JOIN pg_roles g ON g.oid = a.roleid
 WHERE m.rolname = ANY($1::text[])
 ORDER BY 1, 2`;

export interface DatabaseRow { name: string; owner: string; public_connect: boolean; public_temp: boolean }
export interface RoleRow {
  name: string; superuser: boolean; createdb: boolean; createrole: boolean; replication: boolean;
  bypassrls: boolean; login: boolean; connlimit: number;
}
export interface ConnectRow { role: string; database: string }
export interface MembershipRow { role: string; member_of: string }

export interface AuditSnapshot {
  databases: DatabaseRow[];
  roles: RoleRow[];
  /** CONNECT_SQL's rows for the tenant roles. */
  connect: ConnectRow[];
  /** MEMBERSHIP_SQL's rows for the tenant roles. */
  memberships: MembershipRow[];
}

export type FindingKind =
  | "owner" | "public-connect" | "public-temp" | "cross-connect" | "role-attribute" | "membership" | "connection-limit";

export interface Finding {
  kind: FindingKind;
  database?: string;
  role?: string;
  message: string;
}

export interface AuditOptions {
  /** Platform databases (e.g. keycloak): no owner convention, but still checked for PUBLIC and tenant access. */
  platformDatabases?: readonly string[];
}

/** Databases the owner convention applies to. */
export function tenantDatabases(databases: readonly DatabaseRow[], opts: AuditOptions = {}): DatabaseRow[] {
  const platform = new Set(opts.platformDatabases ?? []);
  return databases.filter((d) => d.name !== MAINTENANCE_DATABASE && !platform.has(d.name));
}

/** Tenant roles: the roles named like a tenant database (whoever owns that database now). */
export function tenantRoleNames(snapshot: Pick<AuditSnapshot, "databases" | "roles">, opts: AuditOptions = {}): string[] {
  const roles = new Set(snapshot.roles.map((r) => r.name));
  return tenantDatabases(snapshot.databases, opts).map((d) => d.name).filter((n) => roles.has(n));
}

const ATTRIBUTES: [keyof RoleRow, string][] = [
  ["superuser", "SUPERUSER"], ["createdb", "CREATEDB"], ["createrole", "CREATEROLE"], ["replication", "REPLICATION"],
  ["bypassrls", "BYPASSRLS"],
];

/** Every breach of tenant isolation the snapshot shows, in a stable order. */
export function evaluateAudit(snapshot: AuditSnapshot, opts: AuditOptions = {}): Finding[] {
  const findings: Finding[] = [];
  const roles = new Map(snapshot.roles.map((r) => [r.name, r]));
  const tenantDbs = tenantDatabases(snapshot.databases, opts);
  const tenantRoles = new Set(tenantRoleNames(snapshot, opts));

  for (const d of tenantDbs) {
    if (!roles.has(d.name)) {
      findings.push({ kind: "owner", database: d.name, message: `database ${d.name} has no tenant role of the same name (owner: ${d.owner})` });
    } else if (d.owner !== d.name) {
      findings.push({ kind: "owner", database: d.name, role: d.name, message: `database ${d.name} is owned by ${d.owner}, not by its tenant role ${d.name}` });
    }
  }
  for (const d of snapshot.databases) {
    if (d.name === MAINTENANCE_DATABASE) continue;
    if (d.public_connect) findings.push({ kind: "public-connect", database: d.name, message: `PUBLIC holds CONNECT on database ${d.name}: every role may connect` });
    if (d.public_temp) findings.push({ kind: "public-temp", database: d.name, message: `PUBLIC holds TEMPORARY on database ${d.name}` });
  }
  for (const c of snapshot.connect) {
    if (!tenantRoles.has(c.role) || c.database === c.role || c.database === MAINTENANCE_DATABASE) continue;
    findings.push({ kind: "cross-connect", database: c.database, role: c.role, message: `tenant role ${c.role} can connect to database ${c.database}` });
  }
  for (const name of [...tenantRoles].sort()) {
    const r = roles.get(name)!;
    for (const [key, word] of ATTRIBUTES) {
      if (r[key]) findings.push({ kind: "role-attribute", role: name, message: `tenant role ${name} has ${word}` });
    }
    if (r.login && r.connlimit < 0) findings.push({ kind: "connection-limit", role: name, message: `tenant role ${name} has no connection limit` });
  }
  for (const m of snapshot.memberships) {
    if (!tenantRoles.has(m.role)) continue;
    findings.push({ kind: "membership", role: m.role, message: `tenant role ${m.role} is a member of role ${m.member_of} (it inherits its privileges)` });
  }
  return findings;
}

/** Human-readable report. */
export function formatAudit(findings: readonly Finding[], checked: { databases: number; roles: number }): string {
  const head = `audit:postgres: ${checked.databases} tenant database(s), ${checked.roles} tenant role(s) checked`;
  if (findings.length === 0) return `${head}: no isolation breach found\n`;
  return `${head}: ${findings.length} finding(s)\n` + findings.map((f) => `  [${f.kind}] ${f.message}\n`).join("");
}
