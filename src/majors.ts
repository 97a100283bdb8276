// Major versions of the images whose data a new major cannot open as it is (PostgreSQL's data directory,
// MariaDB's system tables, Keycloak's database schema): a change of major is refused unless the operator
// confirms, with the `migrations` setting, that the data was migrated. Pure: the program reads the
// majors the last deployment recorded (its own `imageMajors` output) and calls majorChangeProblems.

export const GUARDED_IMAGES = ["postgres", "mariadb", "keycloak"] as const;
export type GuardedImage = (typeof GUARDED_IMAGES)[number];
export type ImageMajors = Partial<Record<GuardedImage, number>>;

/** The major version in an image reference's tag (`postgres:15.10-bookworm` → 15), or undefined (a digest, no number). */
export function imageMajor(image: string): number | undefined {
  const withoutDigest = image.split("@")[0];
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", slash + 1);
  if (colon < 0) return undefined;
  const m = /^v?(\d+)/.exec(withoutDigest.slice(colon + 1));
  return m ? Number(m[1]) : undefined;
}

/** The majors of the guarded images of a stack's settings. */
export function imageMajors(images: Readonly<Partial<Record<GuardedImage, string>>>): ImageMajors {
  const out: ImageMajors = {};
  for (const name of GUARDED_IMAGES) {
    const image = images[name];
    const major = image === undefined ? undefined : imageMajor(image);
    if (major !== undefined) out[name] = major;
  }
  return out;
}

/**
 * Why this deployment must not go on: a guarded image whose major differs from the one the last
 * deployment recorded, unless `migrations.<image>` names the new major (the data was migrated to it).
 * No record (a first deployment, or a stack deployed before the record existed) is no refusal.
 */
export function majorChangeProblems(previous: unknown, current: ImageMajors, migrations: ImageMajors = {}): string[] {
  if (previous === null || typeof previous !== "object") return [];
  const before = previous as Record<string, unknown>;
  const problems: string[] = [];
  for (const name of GUARDED_IMAGES) {
    const was = before[name];
    const now = current[name];
    if (typeof was !== "number" || now === undefined || was === now || migrations[name] === now) continue;
    problems.push(
      `images.${name}: the deployed data is ${name} ${was}; ${name} ${now} ${was > now ? "cannot open data of a newer major" : "does not open it as it is"}. ` +
      `Migrate the data first (docs/runbooks/major-upgrade.md), then confirm with service-factory:migrations: { ${name}: ${now} }. Nothing was changed.`,
    );
  }
  return problems;
}
