// What one tenant database amounts to on the shared PostgreSQL, as plain data: the component
// (components/tenantDatabase.ts) turns it into @pulumi/postgresql resources, and renderTenantDatabaseSql
// turns the very same spec into the SQL those resources execute, so the lab test can apply it to a real
// server and audit the result. Pure: no Pulumi, no driver.
import { quoteIdent, quoteLiteral } from "../quote";
import { checkTenantDatabaseName } from "./names";

export const DEFAULT_CONNECTION_LIMIT = 20;

/** Database-level privileges, as @pulumi/postgresql's Grant spells them. */
export type DatabasePrivilege = "CONNECT" | "CREATE" | "TEMPORARY";

export interface TenantDatabaseSpec {
  /** Role and database name (same name: the audit relies on it). */
  name: string;
  role: {
    login: true;
    superuser: false;
    createDatabase: false;
    createRole: false;
    replication: false;
    bypassRowLevelSecurity: false;
    /** Inherit privileges of roles it is a member of (it is a member of none). */
    inherit: true;
    connectionLimit: number;
  };
  database: {
    owner: string;
    template: "template0";
    encoding: "UTF8";
    allowConnections: true;
    isTemplate: false;
  };
  /** Privileges PUBLIC keeps on the database: none (PostgreSQL's default is CONNECT and TEMPORARY). */
  publicPrivileges: DatabasePrivilege[];
  /** Privileges the owner role holds explicitly once PUBLIC's are revoked: the owner's defaults. */
  ownerPrivileges: DatabasePrivilege[];
}

export function tenantDatabaseSpec(name: string, connectionLimit = DEFAULT_CONNECTION_LIMIT): TenantDatabaseSpec {
  const problem = checkTenantDatabaseName(name);
  if (problem) throw new Error(`tenant database name: ${problem}`);
  if (!Number.isInteger(connectionLimit) || connectionLimit < 1 || connectionLimit > 10_000) {
    throw new Error(`tenant database ${name}: connectionLimit must be an integer between 1 and 10000 (got ${connectionLimit})`);
  }
  return {
    name,
    role: {
      login: true, superuser: false, createDatabase: false, createRole: false, replication: false,
      bypassRowLevelSecurity: false, inherit: true, connectionLimit,
    },
    database: { owner: name, template: "template0", encoding: "UTF8", allowConnections: true, isTemplate: false },
    publicPrivileges: [],
    ownerPrivileges: ["CONNECT", "CREATE", "TEMPORARY"],
  };
}

/**
 * The SQL statements the component's resources execute, in dependency order (role, database, the
 * PUBLIC grant, the owner grant). @pulumi/postgresql's Grant on a database first revokes everything
 * from the grantee, then grants the listed privileges: rendered the same way here.
 * CREATE DATABASE cannot run in a transaction: run the statements one by one.
 */
export function renderTenantDatabaseSql(spec: TenantDatabaseSpec, password: string): string[] {
  const n = quoteIdent(spec.name);
  const r = spec.role;
  const flag = (on: boolean, word: string) => (on ? word : `NO${word}`);
  const grant = (grantee: string, privileges: DatabasePrivilege[]) => {
    const out = [`REVOKE ALL PRIVILEGES ON DATABASE ${n} FROM ${grantee}`];
    if (privileges.length > 0) out.push(`GRANT ${privileges.join(", ")} ON DATABASE ${n} TO ${grantee}`);
    return out;
  };
  return [
    `CREATE ROLE ${n} WITH ${[
      flag(r.login, "LOGIN"), flag(r.superuser, "SUPERUSER"), flag(r.createDatabase, "CREATEDB"),
      flag(r.createRole, "CREATEROLE"), flag(r.replication, "REPLICATION"), flag(r.bypassRowLevelSecurity, "BYPASSRLS"),
      flag(r.inherit, "INHERIT"),
    ].join(" ")} CONNECTION LIMIT ${r.connectionLimit} PASSWORD ${quoteLiteral(password)}`,
    `CREATE DATABASE ${n} WITH OWNER ${quoteIdent(spec.database.owner)} TEMPLATE ${spec.database.template} ENCODING ${quoteLiteral(spec.database.encoding)} ALLOW_CONNECTIONS ${spec.database.allowConnections} IS_TEMPLATE ${spec.database.isTemplate}`,
    ...grant("PUBLIC", spec.publicPrivileges),
    ...grant(quoteIdent(spec.name), spec.ownerPrivileges),
  ];
}
