// The provisioning role of the shared PostgreSQL: the least-privileged login that creates tenant roles
// and databases, so that the stacks creating them (tenant shards above all) never hold the superuser's
// password. Pure: the component (components/postgresProvisioner.ts) turns this spec into resources, the
// audit (src/postgres/audit.ts) checks a live server against it.
//
// What the role can and cannot do depends on the server's major (measured on PostgreSQL 15.18 and 16.4 by
// test/lab/postgres-provisioner.lab.test.ts):
// - 16 and later: a CREATEROLE role manages only the roles it created, through the ADMIN OPTION the server
//   grants it on each (INHERIT FALSE, SET FALSE: it gets none of their privileges). It cannot grant itself
//   a predefined role (pg_read_all_data, pg_execute_server_program…), a platform role (keycloak) or change
//   their passwords; it cannot connect to a database whose CONNECT was revoked from PUBLIC.
// - 15 and earlier: CREATEROLE may grant any non-superuser role to anyone, itself included (PostgreSQL's
//   documentation calls such roles "almost-superuser"): pg_execute_server_program is one GRANT away. The
//   role then keeps the superuser password out of the shards' state but is no privilege boundary.

/** Name of the provisioning role (never a tenant name: those are `<service>_<slug>`). */
export const PROVISIONER_ROLE = "factory_provisioner";

/** The first PostgreSQL major whose CREATEROLE is limited to the roles the holder created (see above). */
export const PROVISIONER_MIN_MAJOR = 16;

export interface ProvisionerSpec {
  name: string;
  login: true;
  superuser: false;
  /** CREATE DATABASE for the tenant databases. */
  createDatabase: true;
  /** CREATE ROLE for the tenant roles (and, on 16+, ALTER of those only). */
  createRole: true;
  replication: false;
  bypassRowLevelSecurity: false;
  /**
   * NOINHERIT: membership in a tenant role never lends the tenant's privileges. On 16+ it is also the
   * default INHERIT option of every GRANT made to it, including the provider's temporary
   * `GRANT <tenant> TO factory_provisioner` around CREATE DATABASE … OWNER (which needs SET only).
   */
  inherit: false;
  /** Above the provider's pool (max_connections, 20 per database it connects to), below max_connections. */
  connectionLimit: number;
}

export function provisionerSpec(): ProvisionerSpec {
  return {
    name: PROVISIONER_ROLE, login: true, superuser: false, createDatabase: true, createRole: true,
    replication: false, bypassRowLevelSecurity: false, inherit: false, connectionLimit: 40,
  };
}

/**
 * For a stack whose tenant roles were created by the superuser (before this role existed): on 16+, gives
 * the provisioning role the ADMIN OPTION it holds on the roles it creates itself (and no privilege of
 * theirs), so that it can alter them. A psql script (\gexec), run once as the superuser: docs/postgres.md.
 */
export const PROVISIONER_ADOPTION_SQL = `SELECT format('GRANT %I TO ${PROVISIONER_ROLE} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE', d.datname)
  FROM pg_database d JOIN pg_roles r ON r.rolname = d.datname
 WHERE d.datname ~ '^nextcloud_' \\gexec
`;
