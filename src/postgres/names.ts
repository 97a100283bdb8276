// Names and quoting for tenant databases on the shared PostgreSQL. Pure: no Pulumi, no driver.
//
// Convention (the isolation audit relies on it): a tenant database and the login role that owns it have
// the SAME name, a plain lowercase identifier that never needs quoting.

/** An identifier PostgreSQL accepts unquoted and never folds: lowercase, digits, underscores, <= 63 bytes. */
export const PG_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Names that belong to PostgreSQL or to the platform and can never be a tenant database or role. */
export const RESERVED_DATABASE_NAMES: ReadonlySet<string> = new Set(["postgres", "template0", "template1", "public"]);

/**
 * Role and database name of one tenant's database for one service: `<service>_<slug>` with the slug's
 * hyphens turned into underscores (slugs never contain underscores, so the mapping is one-to-one).
 * e.g. tenantDatabaseName("asso-exemple", "nextcloud") = "nextcloud_asso_exemple".
 */
export function tenantDatabaseName(slug: string, service: string): string {
  const name = `${service}_${slug.replace(/-/g, "_")}`;
  const problem = checkTenantDatabaseName(name);
  if (problem) throw new Error(`tenantDatabaseName(${JSON.stringify(slug)}, ${JSON.stringify(service)}): ${problem}`);
  return name;
}

/** Why a name cannot be a tenant role/database name, or undefined when it can. */
export function checkTenantDatabaseName(name: string): string | undefined {
  if (!PG_IDENTIFIER.test(name)) return `"${name}" is not a plain PostgreSQL identifier (${PG_IDENTIFIER.source})`;
  if (RESERVED_DATABASE_NAMES.has(name) || name.startsWith("pg_")) return `"${name}" is reserved by PostgreSQL`;
  return undefined;
}

