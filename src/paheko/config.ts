// Paheko multi-site ("factory") configuration: one shared installation, one folder per organisation under
// FACTORY_USER_DIRECTORY, and a domain -> organisation map so each tenant keeps its own domain (the stock
// factory config only maps `<org>.<FACTORY_DOMAIN>` sub-domains). Pure: no Pulumi import.
import { phpQuote } from "../quote";

/** Paheko organisation names (the folder under users/): what Paheko's factory accepts. */
export const PAHEKO_ORG_PATTERN = /^[a-z0-9_-]{1,63}$/;

const PAHEKO_ROOT = "/var/www/paheko";

/** Paths inside the Paheko container (the image contract, see docs/paheko.md). */
export const PAHEKO_PATHS = {
  /** Paheko's code root: config.local.php lives here, bin/paheko below it. */
  root: PAHEKO_ROOT,
  /**
   * PLUGINS_ROOT: the plugins the release ships, in the code root's data/plugins (Paheko 1.3.15,
   * src/Makefile:121-126, then :128-129 packs src/ as the tarball's root). Paheko's default is
   * DATA_ROOT/plugins (src/include/init.php:184), an empty folder per organisation, and Plugins::getPath
   * looks only in PLUGINS_ROOT (src/include/lib/Paheko/Plugins.php:61-71). Read-only is enough: Paheko
   * 1.3.15 only reads it (Plugins.php:61-71, :269, :306).
   */
  plugins: `${PAHEKO_ROOT}/data/plugins`,
  /** The one data volume of every organisation. */
  data: "/data",
  /** One folder per organisation. */
  users: "/data/users",
  /** Cache shared by the organisations. */
  cache: "/data/cache",
  /** Secret files uploaded by the program (never in the config file itself). */
  secrets: "/run/secrets/paheko",
  /**
   * The organisations and their hostnames (renderPahekoMap), written into the data volume by a command, so
   * that adding or changing one re-creates no container (config.local.php reads it on every request).
   */
  map: "/data/factory/organisations.php",
  /** The organisations the cron loop runs (renderCronOrganisations), one per line, beside the map. */
  cronOrgs: "/data/factory/cron-organisations",
} as const;

export interface PahekoOrg {
  /** Organisation name: the folder under users/ (the tenant slug: immutable, so a hostname change moves no data). */
  org: string;
  /** Hostnames answering for this organisation; the first is its canonical URL. */
  hostnames: string[];
  /**
   * A suspended tenant: it stays in the map (its data and URL are kept, the edge answers the maintenance
   * page) but out of the cron loop: no reminders, no queued mail. Default false.
   */
  suspended?: boolean;
}

export interface PahekoMail {
  /** SMTP relay host (the bulk relay when the stack has one: Paheko's mailings are mass mail). */
  host: string;
  port: number;
  /** SMTP login (the relay account); undefined = anonymous relay. */
  user?: string;
  /** File holding the SMTP password (read at runtime); undefined = no password. */
  passwordFile?: string;
  /** Forced sender (From) for SPF/DKIM; the organisation's own address goes to Reply-To. */
  sender: string;
}

export interface PahekoConfigOptions {
  /** FACTORY_DOMAIN: parent of the default hostnames (`<slug>.paheko.<factory domain>`). */
  factoryDomain: string;
  /** FACTORY_USER_DIRECTORY; default PAHEKO_PATHS.users. */
  userDirectory?: string;
  /** SHARED_CACHE_ROOT; default PAHEKO_PATHS.cache. */
  sharedCacheRoot?: string;
  /** PLUGINS_ROOT; default PAHEKO_PATHS.plugins (the release's bundled plugins). */
  pluginsRoot?: string;
  /** FILE_STORAGE_QUOTA per organisation, in bytes. */
  fileStorageQuotaBytes: number;
  /** File holding SECRET_KEY (read at runtime, never written in this file). */
  secretKeyFile: string;
  /** The organisation map config.local.php reads (renderPahekoMap's output); default PAHEKO_PATHS.map. */
  mapFile?: string;
  mail: PahekoMail;
  /** SQLite WAL journal; only on a local (never a network) filesystem. Default false. */
  walJournal?: boolean;
}

function smtpSecurity(port: number): "TLS" | "STARTTLS" | "NONE" {
  if (port === 465) return "TLS";
  if (port === 25) return "NONE";
  return "STARTTLS";
}

/** Checks the organisations: valid names, hostnames unique across organisations. Throws on a problem. */
export function checkOrgs(orgs: readonly PahekoOrg[]): void {
  const seenOrg = new Set<string>();
  const seenHost = new Map<string, string>();
  for (const o of orgs) {
    if (!PAHEKO_ORG_PATTERN.test(o.org)) throw new Error(`Paheko organisation "${o.org}" must match ${PAHEKO_ORG_PATTERN}`);
    if (seenOrg.has(o.org)) throw new Error(`Paheko organisation "${o.org}" is listed twice`);
    seenOrg.add(o.org);
    if (o.hostnames.length === 0) throw new Error(`Paheko organisation "${o.org}" has no hostname`);
    for (const h of o.hostnames) {
      if (!/^[a-z0-9.-]+$/.test(h)) throw new Error(`hostname "${h}" of Paheko organisation "${o.org}" is not a lower-case ASCII hostname`);
      const other = seenHost.get(h);
      if (other !== undefined) throw new Error(`hostname "${h}" is mapped to both "${other}" and "${o.org}"`);
      seenHost.set(h, o.org);
    }
  }
}

/**
 * The organisation map: hostname → organisation and organisation → canonical hostname, as a PHP file
 * returning them. Deterministic: organisations sorted by name, so any order of the tenants gives the same
 * bytes (and no re-run of the command that writes it).
 */
export function renderPahekoMap(orgs: readonly PahekoOrg[]): string {
  checkOrgs(orgs);
  const sorted = [...orgs].sort((a, b) => (a.org < b.org ? -1 : a.org > b.org ? 1 : 0));
  const domainLines: string[] = [];
  const canonicalLines: string[] = [];
  for (const org of sorted) {
    for (const h of org.hostnames) domainLines.push(`\t\t${phpQuote(h)} => ${phpQuote(org.org)},`);
    canonicalLines.push(`\t\t${phpQuote(org.org)} => ${phpQuote(org.hostnames[0])},`);
  }
  return [
    "<?php",
    "// Generated by the service factory (src/paheko/config.ts): the organisations config.local.php serves.",
    "return [",
    "\t// Every hostname the factory serves, and the organisation it belongs to (custom domains included).",
    "\t'domains' => [",
    ...domainLines,
    "\t],",
    "\t// Canonical hostname of each organisation (its first hostname).",
    "\t'canonical' => [",
    ...canonicalLines,
    "\t],",
    "];",
    "",
  ].join("\n");
}

/** The organisations the cron loop runs: the non-suspended ones, sorted, one per line. */
export function renderCronOrganisations(orgs: readonly PahekoOrg[]): string {
  checkOrgs(orgs);
  return orgs.filter((o) => !o.suspended).map((o) => o.org).sort().map((o) => `${o}\n`).join("");
}

/**
 * Renders config.local.php: everything but the organisations, which it reads from the map file on every
 * request (opcache revalidates it: images/paheko-factory/php.ini leaves validate_timestamps at its default, on). It does not
 * change when a tenant is added, so the containers that carry it are not re-created.
 */
export function renderPahekoConfig(o: PahekoConfigOptions): string {
  const userDir = o.userDirectory ?? PAHEKO_PATHS.users;
  const cacheDir = o.sharedCacheRoot ?? PAHEKO_PATHS.cache;
  const pluginsDir = o.pluginsRoot ?? PAHEKO_PATHS.plugins;
  if (!Number.isInteger(o.fileStorageQuotaBytes) || o.fileStorageQuotaBytes <= 0) {
    throw new Error("fileStorageQuotaBytes must be a positive integer");
  }
  const m = o.mail;
  const lines = [
    "<?php",
    "// Generated by the service factory (src/paheko/config.ts). Do not edit: it is regenerated whole.",
    "// One Paheko installation for every organisation; each has its folder under FACTORY_USER_DIRECTORY.",
    "",
    "namespace Paheko;",
    "",
    `const FACTORY_DOMAIN = ${phpQuote(o.factoryDomain)};`,
    `const FACTORY_USER_DIRECTORY = ${phpQuote(userDir)};`,
    `const SHARED_CACHE_ROOT = ${phpQuote(cacheDir)};`,
    "// The release's bundled plugins (the default, DATA_ROOT/plugins, is an empty folder per organisation).",
    `const PLUGINS_ROOT = ${phpQuote(pluginsDir)};`,
    `const FILE_STORAGE_QUOTA = ${o.fileStorageQuotaBytes};`,
    "const ENABLE_UPGRADES = false;",
    "const USE_CRON = true;",
    "const ENABLE_TECH_DETAILS = false;",
    "const SHOW_ERRORS = false;",
    "const MAIL_ERRORS = false;",
    ...(o.walJournal ? ["const SQLITE_JOURNAL_MODE = 'WAL';"] : []),
    "",
    "// Mail: the relay for mass mailings; the organisation's address is used as Reply-To.",
    `const SMTP_HOST = ${phpQuote(m.host)};`,
    `const SMTP_PORT = ${m.port};`,
    `const SMTP_SECURITY = ${phpQuote(smtpSecurity(m.port))};`,
    `const SMTP_USER = ${m.user === undefined ? "null" : phpQuote(m.user)};`,
    `const MAIL_SENDER = ${phpQuote(m.sender)};`,
    "",
    "// A refusal: an HTML page on the web; on the CLI (bin/paheko, the cron loop) a message on stderr and exit 1",
    "// (a plain die() with a message would exit 0).",
    "$factory_fail = static function (int $code, string $message): void {",
    "\tif (PHP_SAPI === 'cli') {",
    "\t\tfwrite(STDERR, 'paheko-factory: ' . $message . PHP_EOL);",
    "\t\texit(1);",
    "\t}",
    "\thttp_response_code($code);",
    "\tdie('<h1>' . $message . '</h1>'); // the messages are the literals below",
    "};",
    "",
    "// Secrets are files uploaded by the program, read here at runtime.",
    "$factory_secret = static function (string $file) use ($factory_fail): string {",
    "\t$value = @file_get_contents($file);",
    "\tif ($value === false) {",
    "\t\t$factory_fail(500, 'Configuration error');",
    "\t}",
    "\treturn trim($value);",
    "};",
    "",
    `define('Paheko\\SECRET_KEY', $factory_secret(${phpQuote(o.secretKeyFile)}));`,
    m.passwordFile === undefined
      ? "define('Paheko\\SMTP_PASSWORD', null);"
      : `define('Paheko\\SMTP_PASSWORD', $factory_secret(${phpQuote(m.passwordFile)}));`,
    "",
    "// The organisations and their hostnames (renderPahekoMap), written into the data volume by the program.",
    `$factory_map = @include ${phpQuote(o.mapFile ?? PAHEKO_PATHS.map)};`,
    "if (!is_array($factory_map) || !is_array($factory_map['domains'] ?? null) || !is_array($factory_map['canonical'] ?? null)) {",
    "\t$factory_fail(503, 'Configuration error');",
    "}",
    "",
    "$login = null;",
    "$host = null;",
    "if (PHP_SAPI === 'cli') {",
    "\t$candidate = getenv('PAHEKO_FACTORY_USER');",
    "\tif (is_string($candidate) && isset($factory_map['canonical'][$candidate])) {",
    "\t\t$login = $candidate;",
    "\t\t$host = $factory_map['canonical'][$candidate];",
    "\t}",
    "}",
    "else {",
    "\t$candidate = strtolower((string) ($_SERVER['HTTP_HOST'] ?? $_SERVER['SERVER_NAME'] ?? ''));",
    "\t$candidate = preg_replace('/:\\d+$/', '', $candidate);",
    "\tif (isset($factory_map['domains'][$candidate])) {",
    "\t\t$login = $factory_map['domains'][$candidate];",
    "\t\t$host = $candidate;",
    "\t}",
    "}",
    "",
    "if ($login === null || !preg_match('/^[a-z0-9_-]{1,63}$/', $login)) {",
    "\t$factory_fail(404, 'Page non trouvée');",
    "}",
    "",
    "$user_data_dir = rtrim(FACTORY_USER_DIRECTORY, '/') . '/' . $login;",
    "if (!is_dir($user_data_dir)) {",
    "\t$factory_fail(404, \"Cette association n'existe pas.\");",
    "}",
    "",
    "define('Paheko\\DATA_ROOT', $user_data_dir);",
    "define('Paheko\\WWW_URL', 'https://' . $host . '/');",
    "define('Paheko\\WWW_URI', '/');",
    "",
  ];
  return lines.join("\n");
}
