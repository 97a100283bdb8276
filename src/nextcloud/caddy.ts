// The Caddyfile site of one tenant's Nextcloud on its compute host (contract: renderNextcloudSite). Pure.
// Static files come straight from the read-only install volume mounted in the Caddy container
// (`installRoot`); PHP goes to the tenant's FPM container, which sees the same files at /var/www/html.
// The edge terminates TLS and proxies to this site over the private network.
import { NC_PATHS } from "./layout";

export interface NextcloudSiteInput {
  hostname: string;
  /** host:port of the tenant's PHP-FPM (FastCGI). */
  fpmUpstream: string;
  /** Where the read-only install volume is mounted in the Caddy container. */
  installRoot: string;
  /** Largest request body (uploads), in MiB. */
  maxUploadMb: number;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const UPSTREAM = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;
const PATH = /^\/[A-Za-z0-9._/-]*$/;

export function renderNextcloudSite(o: NextcloudSiteInput): string {
  if (!HOSTNAME.test(o.hostname)) throw new Error(`renderNextcloudSite: "${o.hostname}" is not a lowercase hostname`);
  if (!UPSTREAM.test(o.fpmUpstream)) throw new Error(`renderNextcloudSite: upstream "${o.fpmUpstream}" is not host:port`);
  if (!PATH.test(o.installRoot)) throw new Error(`renderNextcloudSite: installRoot "${o.installRoot}" is not an absolute path`);
  if (!Number.isInteger(o.maxUploadMb) || o.maxUploadMb <= 0) throw new Error("renderNextcloudSite: maxUploadMb must be a positive integer");
  return [
    `${o.hostname} {`,
    `\troot * ${o.installRoot}`,
    "\tencode zstd gzip",
    "\trequest_body {",
    `\t\tmax_size ${o.maxUploadMb}MB`,
    "\t}",
    // Set after the upstream answered (defer), replacing Nextcloud's own copies instead of doubling them:
    // the admin overview's security checks want each header exactly once.
    "\theader {",
    "\t\tdefer",
    '\t\tStrict-Transport-Security "max-age=15552000; includeSubDomains"',
    '\t\tReferrer-Policy "no-referrer"',
    '\t\tX-Content-Type-Options "nosniff"',
    '\t\tX-Frame-Options "SAMEORIGIN"',
    '\t\tX-Permitted-Cross-Domain-Policies "none"',
    '\t\tX-Robots-Tag "noindex, nofollow"',
    "\t\t-X-Powered-By",
    "\t}",
    // CalDAV/CardDAV discovery (clients and the admin checks expect these redirects).
    "\tredir /.well-known/carddav /remote.php/dav/ 301",
    "\tredir /.well-known/caldav /remote.php/dav/ 301",
    // Never serve internals from the install folder (same list as Nextcloud's nginx example).
    "\t@internal path_regexp internal ^/(?:build|tests|config|lib|3rdparty|templates|data)(?:$|/)",
    "\t@hidden {",
    "\t\tpath_regexp hidden ^/(?:\\.|autotest|occ|issue|indie|db_|console)",
    "\t\tnot path /.well-known/*",
    "\t}",
    "\trespond @internal 404",
    "\trespond @hidden 404",
    '\t@immutable path *.css *.js *.mjs *.svg *.gif *.png *.jpg *.ico *.wasm *.tflite *.woff2',
    '\theader @immutable Cache-Control "max-age=15778463"',
    // PHP: the FPM container sees the install at /var/www/html, whatever the mount point here.
    `\tphp_fastcgi ${o.fpmUpstream} {`,
    `\t\troot ${NC_PATHS.install}`,
    "\t\tenv front_controller_active true",
    "\t\tenv modHeadersAvailable true",
    "\t}",
    "\tfile_server",
    "}",
  ].join("\n") + "\n";
}
