// A Pulumi program for test/lab/postgres-provisioner.lab.test.ts, run by the real engine and the real
// postgresql provider plugin against a throw-away PostgreSQL: what Platform registers for PostgreSQL on a
// whole or platform stack (the superuser's provider, provisionedTenantsProvider) and one TenantDatabase
// per tenant, the very components the factory uses, nothing else (no Docker, no Keycloak).
// Test tooling: the server and the tenants come from the environment the test sets.
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { PostgresServer, provisionedTenantsProvider } from "../../../components/postgresProvisioner";
import { TenantDatabase } from "../../../components/tenantDatabase";
import { tenantDatabaseName } from "../../../src/postgres/names";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (test/lab/postgres-provisioner.lab.test.ts sets it)`);
  return v;
}

const server: PostgresServer = { host: "127.0.0.1", port: Number(env("SF_PGLAB_PORT")), sslmode: "require", connectTimeout: 15 };
// The same settings as Platform's superuser provider.
const admin = new postgresql.Provider("lab-postgres", {
  host: server.host,
  port: server.port,
  username: "postgres",
  password: pulumi.secret(env("SF_PGLAB_ADMIN_PASSWORD")),
  sslmode: server.sslmode,
  superuser: true,
  connectTimeout: server.connectTimeout,
});
const parent = new pulumi.ComponentResource("factory:lab:Platform", "lab", {});
const { provisioner, provider } = provisionedTenantsProvider("lab", { server, admin }, parent);

const databases = env("SF_PGLAB_TENANTS").split(",").map((slug) =>
  new TenantDatabase(`${slug}-nextcloud-db`, { tenant: slug, name: tenantDatabaseName(slug, "nextcloud"), provider }));

export const provisionerLogin = pulumi.secret(pulumi.all([provisioner.username, provisioner.password]).apply(([username, password]) => ({ username, password })));
export const tenantLogins = pulumi.secret(pulumi.all(databases.map((d) => pulumi.all([d.roleName, d.password])))
  .apply((pairs) => Object.fromEntries(pairs)));
