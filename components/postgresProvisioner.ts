import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { provisionerSpec } from "../src/postgres/provisioner";

/** Where the shared PostgreSQL answers, as every provider of this program connects to it. */
export interface PostgresServer {
  host: string;
  port: number;
  /** The deployed server makes a self-signed pair on first start: encrypted, not verified (private network). */
  sslmode: "require";
  connectTimeout: number;
}

/** A login on the shared PostgreSQL (the password a Pulumi secret). */
export interface PostgresLogin {
  username: pulumi.Input<string>;
  password: pulumi.Input<string>;
}

/**
 * The provider tenant databases are created with: logged in as the provisioning role, `superuser: false`
 * (the provider then never reads pg_shadow). It carries the server's address so that TenantDatabase can
 * open its owner's provider on the same server (components/tenantDatabase.ts).
 */
export class TenantPostgresProvider extends postgresql.Provider {
  readonly server: PostgresServer;

  constructor(name: string, args: { server: PostgresServer; login: PostgresLogin }, opts?: pulumi.CustomResourceOptions) {
    super(name, {
      host: args.server.host,
      port: args.server.port,
      username: args.login.username,
      password: pulumi.secret(args.login.password),
      sslmode: args.server.sslmode,
      connectTimeout: args.server.connectTimeout,
      superuser: false,
    }, opts);
    this.server = args.server;
  }
}

export interface PostgresProvisionerArgs {
  /** Provider logged in as the superuser (whole or platform stack only). */
  admin: postgresql.Provider;
}

/**
 * The provisioning role on the shared PostgreSQL (src/postgres/provisioner.ts): LOGIN CREATEDB CREATEROLE,
 * NOSUPERUSER NOREPLICATION NOBYPASSRLS NOINHERIT, with a generated password. Created by the superuser
 * provider in the whole or platform stack; tenant shards receive only its name and password. Role and
 * password are protected and retained, like every credential the tenants' data hangs on.
 */
export class PostgresProvisioner extends pulumi.ComponentResource {
  readonly username: pulumi.Output<string>;
  /** The role's password (secret). */
  readonly password: pulumi.Output<string>;
  /** The role itself: providers logged in as it wait for it. */
  readonly role: postgresql.Role;

  constructor(name: string, args: PostgresProvisionerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:postgres:Provisioner", name, {}, opts);
    const spec = provisionerSpec();
    const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };
    // Alphanumeric only: it goes into the provider's connection string unescaped.
    const password = new random.RandomPassword(`${name}-password`, { length: 32, special: false }, keep);
    this.role = new postgresql.Role(`${name}-role`, {
      name: spec.name,
      login: spec.login,
      password: password.result,
      superuser: spec.superuser,
      createDatabase: spec.createDatabase,
      createRole: spec.createRole,
      replication: spec.replication,
      bypassRowLevelSecurity: spec.bypassRowLevelSecurity,
      inherit: spec.inherit,
      connectionLimit: spec.connectionLimit,
    }, {
      ...keep,
      provider: args.admin,
      // On PostgreSQL 16+ the server makes the role a member (ADMIN OPTION only) of every tenant role it
      // creates, and the provider reads those memberships back into `roles` on refresh; left managed, the
      // next update would REVOKE them and the role could no longer alter the tenant roles it created.
      ignoreChanges: ["roles"],
    });
    this.username = this.role.name;
    this.password = pulumi.secret(password.result);
    this.registerOutputs({ username: this.username });
  }
}

/**
 * What a whole or platform stack registers (Platform): the provisioning role, made by the superuser's
 * provider, then the tenants' provider logged in as it. Named `<name>-postgres-provisioner` and
 * `<name>-postgres-tenants`; a tenant shard registers only the latter, with the platform stack's login.
 */
export function provisionedTenantsProvider(name: string, args: { server: PostgresServer; admin: postgresql.Provider }, parent: pulumi.Resource): { provisioner: PostgresProvisioner; provider: TenantPostgresProvider } {
  const provisioner = new PostgresProvisioner(`${name}-postgres-provisioner`, { admin: args.admin }, { parent });
  const provider = tenantsProvider(name, args.server, { username: provisioner.username, password: provisioner.password }, parent, [provisioner.role]);
  return { provisioner, provider };
}

/** The tenants' provider; the same logical name in every kind of stack, so that moving tenants between a whole stack and shards (docs/scale.md) keeps their provider reference. */
export function tenantsProvider(name: string, server: PostgresServer, login: PostgresLogin, parent: pulumi.Resource, dependsOn: pulumi.Resource[] = []): TenantPostgresProvider {
  return new TenantPostgresProvider(`${name}-postgres-tenants`, { server, login }, { parent, dependsOn });
}
