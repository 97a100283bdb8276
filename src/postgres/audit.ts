// Tenant-isolation audit of a live PostgreSQL: the catalog queries, and the pure evaluation of their
// results into findings. scripts/audit-postgres.ts runs the queries with `pg`; tests feed rows directly.
//
// What is a tenant database: every database that is not a template, not the `postgres` maintenance
// database and not declared a platform database (--platform-db). By the TenantDatabase convention its
// owner is the login role of the same name: that role is the tenant role.
//
// Privileged roles: the bootstrap superuser (the cluster's first role, `postgres`) and the provisioning
// role (src/postgres/provisioner.ts: CREATEDB CREATEROLE only, NOINHERIT, no privilege of any tenant) are
// expected; any other role with SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS is reported.
import { PROVISIONER_ROLE } from "./provisioner";

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
       r.rolconnlimit AS connlimit, r.rolinherit AS inherit, r.oid = 10 AS bootstrap
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

/**
 * The provisioning role's memberships; $1 = its name. PostgreSQL 16 records per grant whether the member
 * inherits the role's privileges and may SET ROLE to it; before 16 a member may always SET ROLE, and
 * inherits when the member has INHERIT (to_jsonb reads the columns where they exist, on either version).
 */
export const PROVISIONER_MEMBERSHIP_SQL = `
SELECT g.rolname AS member_of, a.admin_option AS admin,
       COALESCE((to_jsonb(a) ->> 'inherit_option')::boolean, m.rolinherit) AS inherit,
       COALESCE((to_jsonb(a) ->> 'set_option')::boolean, true) AS set
  FROM pg_auth_members a
  JOIN pg_roles m ON m.oid = a.member
  JOIN pg_roles g ON g.oid = a.roleid
 WHERE m.rolname = $1
 ORDER BY 1`;

export interface DatabaseRow { name: string; owner: string; public_connect: boolean; public_temp: boolean }
export interface RoleRow {
  name: string; superuser: boolean; createdb: boolean; createrole: boolean; replication: boolean;
  bypassrls: boolean; login: boolean; connlimit: number;
  /** rolinherit (ROLES_SQL reads it; older snapshots may lack it). */
  inherit?: boolean;
  /** The bootstrap superuser (oid 10), the one superuser the platform expects. */
  bootstrap?: boolean;
}
export interface ConnectRow { role: string; database: string }
export interface MembershipRow { role: string; member_of: string }
export interface ProvisionerMembershipRow { member_of: string; admin: boolean; inherit: boolean; set: boolean }

export interface AuditSnapshot {
  databases: DatabaseRow[];
  roles: RoleRow[];
  /** CONNECT_SQL's rows for the tenant roles. */
  connect: ConnectRow[];
  /** MEMBERSHIP_SQL's rows for the tenant roles. */
  memberships: MembershipRow[];
  /** PROVISIONER_MEMBERSHIP_SQL's rows (none when the role does not exist). */
  provisionerMemberships?: ProvisionerMembershipRow[];
}

export type FindingKind =
  | "owner" | "public-connect" | "public-temp" | "cross-connect" | "role-attribute" | "membership" | "connection-limit"
  | "privileged-role" | "provisioner";

export interface Finding {
  kind: FindingKind;
  database?: string;
  role?: string;
  message: string;
}

export interface AuditOptions {
  /** Platform databases (e.g. keycloak): no owner convention, but still checked for PUBLIC and tenant access. */
  platformDatabases?: readonly string[];
  /** Name of the provisioning role (default PROVISIONER_ROLE). */
  provisionerRole?: string;
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
  const provisioner = opts.provisionerRole ?? PROVISIONER_ROLE;
  for (const r of snapshot.roles) {
    if (tenantRoles.has(r.name) || r.bootstrap || r.name === provisioner) continue;
    const words = ATTRIBUTES.filter(([key]) => r[key]).map(([, word]) => word);
    if (words.length > 0) findings.push({ kind: "privileged-role", role: r.name, message: `role ${r.name} has ${words.join(", ")} (neither the bootstrap superuser, the provisioning role ${provisioner} nor a tenant role)` });
  }
  const p = roles.get(provisioner);
  if (p) {
    for (const [key, word] of ATTRIBUTES.filter(([key]) => key !== "createdb" && key !== "createrole")) {
      if (p[key]) findings.push({ kind: "provisioner", role: provisioner, message: `the provisioning role ${provisioner} has ${word}` });
    }
    if (p.inherit) findings.push({ kind: "provisioner", role: provisioner, message: `the provisioning role ${provisioner} has INHERIT (a membership would lend it a tenant's privileges)` });
    for (const m of snapshot.provisionerMemberships ?? []) {
      if (!tenantRoles.has(m.member_of)) {
        findings.push({ kind: "provisioner", role: provisioner, message: `the provisioning role ${provisioner} is a member of role ${m.member_of}, which is no tenant role` });
      } else if (m.inherit || m.set) {
        // PostgreSQL 16 makes it a member of each role it creates with ADMIN OPTION only: expected.
        findings.push({ kind: "provisioner", role: provisioner, message: `the provisioning role ${provisioner} can act as tenant role ${m.member_of} (${[m.inherit && "INHERIT", m.set && "SET"].filter(Boolean).join(", ")})` });
      }
    }
    for (const c of snapshot.connect) {
      if (c.role !== provisioner || c.database === MAINTENANCE_DATABASE) continue;
      findings.push({ kind: "provisioner", role: provisioner, database: c.database, message: `the provisioning role ${provisioner} can connect to database ${c.database}` });
    }
  }
  return findings;
}

/** Human-readable report. */
export function formatAudit(findings: readonly Finding[], checked: { databases: number; roles: number }): string {
  const head = `audit:postgres: ${checked.databases} tenant database(s), ${checked.roles} tenant role(s) checked`;
  if (findings.length === 0) return `${head}: no isolation breach found\n`;
  return `${head}: ${findings.length} finding(s)\n` + findings.map((f) => `  [${f.kind}] ${f.message}\n`).join("");
}
