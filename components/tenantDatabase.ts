import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DEFAULT_CONNECTION_LIMIT, tenantDatabaseSpec } from "../src/postgres/tenantDatabase";
import { TenantPostgresProvider } from "./postgresProvisioner";

export interface TenantDatabaseArgs {
  /** Slug of the tenant the database belongs to (attributes the resources to it in plans). */
  tenant: string;
  /** Role and database name (same name), a plain lowercase identifier; see tenantDatabaseName(). */
  name: string;
  /**
   * Provider of the shared PostgreSQL (Platform.postgres): a TenantPostgresProvider, logged in as the
   * provisioning role (never the superuser). Typed as its base class for the components that pass it on.
   */
  provider: postgresql.Provider;
  /** Maximum concurrent connections of the tenant role; default 20. */
  connectionLimit?: number;
}

/**
 * One tenant's database on the shared PostgreSQL: a login role with a generated password
 * (NOSUPERUSER NOCREATEDB NOCREATEROLE, connection limit), a database it owns, PUBLIC stripped of
 * CONNECT and TEMPORARY, and CONNECT (with the owner's other defaults) granted to the owner only.
 * Role, database and password are protected and retained on delete. The SQL these resources amount
 * to is rendered by src/postgres/tenantDatabase.ts (the lab test applies it to a real server).
 *
 * Who runs what: the provisioning role creates the role and the database (CREATEROLE, CREATEDB; the
 * provider grants it the new role for the duration of CREATE DATABASE … OWNER and revokes it after). The
 * database's ACL can only be changed by its owner (or a member of it): a non-owner's REVOKE/GRANT ON
 * DATABASE only draws a WARNING and changes nothing. So the two grants run through a provider logged in
 * as the tenant role itself, on its own database: the provisioning role never holds the tenant's privileges.
 */
export class TenantDatabase extends pulumi.ComponentResource {
  readonly roleName: pulumi.Output<string>;
  readonly databaseName: pulumi.Output<string>;
  /** The role's password (secret). */
  readonly password: pulumi.Output<string>;

  constructor(name: string, args: TenantDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:postgres:TenantDatabase", name, { tenant: args.tenant }, opts);
    const spec = tenantDatabaseSpec(args.name, args.connectionLimit ?? DEFAULT_CONNECTION_LIMIT);
    if (!(args.provider instanceof TenantPostgresProvider)) {
      throw new Error(`TenantDatabase ${name}: provider must be Platform.postgres (a TenantPostgresProvider logged in as the provisioning role)`);
    }
    const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };
    const pg: pulumi.CustomResourceOptions = { ...keep, provider: args.provider };

    // Alphanumeric only: the password goes into connection strings and env files unescaped.
    const password = new random.RandomPassword(`${name}-password`, { length: 32, special: false }, keep);

    const role = new postgresql.Role(`${name}-role`, {
      name: spec.name,
      login: spec.role.login,
      password: password.result,
      superuser: spec.role.superuser,
      createDatabase: spec.role.createDatabase,
      createRole: spec.role.createRole,
      replication: spec.role.replication,
      bypassRowLevelSecurity: spec.role.bypassRowLevelSecurity,
      inherit: spec.role.inherit,
      connectionLimit: spec.role.connectionLimit,
    }, pg);

    const database = new postgresql.Database(`${name}-db`, {
      name: spec.name,
      owner: role.name,
      template: spec.database.template,
      encoding: spec.database.encoding,
      allowConnections: spec.database.allowConnections,
      isTemplate: spec.database.isTemplate,
    }, pulumi.mergeOptions(pg, { dependsOn: [role] }));

    // The owner's own login, on its own database (it holds CONNECT there whatever PUBLIC holds). A small
    // pool: the role's connection limit is shared with the tenant's application.
    const server = args.provider.server;
    const owner = new postgresql.Provider(`${name}-owner`, {
      host: server.host,
      port: server.port,
      username: spec.name,
      password: pulumi.secret(password.result),
      database: spec.name,
      sslmode: server.sslmode,
      connectTimeout: server.connectTimeout,
      superuser: false,
      maxConnections: 4,
    }, { parent: this });

    // Empty privileges for "public" = REVOKE ALL ON DATABASE … FROM PUBLIC (CONNECT, TEMPORARY, CREATE).
    const revokePublic = new postgresql.Grant(`${name}-revoke-public`, {
      database: database.name,
      objectType: "database",
      role: "public",
      privileges: spec.publicPrivileges,
    }, { parent: this, provider: owner, dependsOn: [database] });

    new postgresql.Grant(`${name}-owner-connect`, {
      database: database.name,
      objectType: "database",
      role: role.name,
      privileges: spec.ownerPrivileges,
    }, { parent: this, provider: owner, dependsOn: [database, revokePublic] });

    this.roleName = role.name;
    this.databaseName = database.name;
    this.password = pulumi.secret(password.result);
    this.registerOutputs({ roleName: this.roleName, databaseName: this.databaseName });
  }
}
