import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  renderConfigExtra, renderNetworkInstallScript, renderPluginsScript, renderSiteScript, renderStaaticScript, STAATIC_ENV,
  WORDPRESS_PATHS,
} from "../src/wordpress/scripts";
import { Host } from "../src/types";
import { placeholderPage } from "../src/wordpress/placeholder";
import { GarageBucket, GarageS3 } from "./garageBucket";
import { urlHost } from "../src/endpoints";
import { hardenedContainer } from "./container";

/** PHP-FPM port inside the WordPress container (official -fpm image). */
export const WORDPRESS_FPM_PORT = 9000;
/** Port published on the host's private address (FastCGI, for the Caddy of that host). */
export const WORDPRESS_PUBLISHED_PORT = 9480;
/** Super admin login of the network (operators reach it behind the OIDC wall). */
export const WORDPRESS_ADMIN_USER = "factory-admin";

export interface WordPressMultisiteArgs {
  /** Host running WordPress and its MariaDB (the same choice as Paheko: first compute host by name). */
  host: Host;
  /** Docker provider of that host. */
  provider: docker.Provider;
  /** WordPress PHP-FPM image with wp-cli at /usr/local/bin/wp (settings.images.wordpress; docs/wordpress.md). */
  image: string;
  /** MariaDB image (settings.images.mariadb). */
  mariadbImage: string;
  /** Network (main site) domain, wp.<factory domain>; sites get <slug>.<networkDomain> by default. */
  networkDomain: string;
  /** Network title. */
  title: string;
  /** Super admin e-mail (the operators' address). */
  adminEmail: string;
  /** Plugins, `slug@version`, network-activated (settings.wordpress.plugins; Staatic among them). */
  plugins: string[];
  /** Themes, `slug@version`, network-enabled (settings.wordpress.themes). */
  themes: string[];
}

/**
 * The one WordPress Multisite instance of the factory: a PHP-FPM container and its MariaDB, both on
 * protected volumes, passwords generated (protected) and passed as *_FILE secrets; the network is
 * installed once with wp-cli, then the operators' plugins and themes. Never public: the edge serves
 * the editing hostnames behind the OIDC wall; the public sites are served by Garage.
 */
export class WordPressMultisite extends pulumi.ComponentResource {
  readonly host: string;
  /** host:port of PHP-FPM (FastCGI) on the host's private address. */
  readonly fpmUpstream: string;
  /** Document root inside the FPM container; a Caddy serving static files mounts the volume at this path. */
  readonly documentRoot: string;
  /** Name of the volume holding the document root (code + uploads). */
  readonly htmlVolume: pulumi.Output<string>;
  readonly networkDomain: string;
  readonly containerName: string;
  readonly dockerHost: string;
  readonly container: docker.Container;
  readonly database: docker.Container;
  /** The network install and the plugins/themes commands: per-site commands wait for both. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: WordPressMultisiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:wordpress:WordPressMultisite", name, { host: args.host.name }, opts);
    const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };
    const onHost: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
    const addr = urlHost(args.host.privateAddress);
    this.host = args.host.name;
    this.fpmUpstream = `${addr}:${WORDPRESS_PUBLISHED_PORT}`;
    this.documentRoot = WORDPRESS_PATHS.root;
    this.networkDomain = args.networkDomain;
    this.containerName = name;
    this.dockerHost = args.host.docker;

    // Alphanumeric: these go into files read by shell entrypoints.
    const dbPassword = new random.RandomPassword(`${name}-db-password`, { length: 32, special: false }, keep);
    const rootPassword = new random.RandomPassword(`${name}-db-root-password`, { length: 32, special: false }, keep);
    const adminPassword = new random.RandomPassword(`${name}-admin-password`, { length: 32, special: false }, keep);

    const dataOpts = pulumi.mergeOptions(onHost, { protect: true, retainOnDelete: true });
    const dbVolume = new docker.Volume(`${name}-db-data`, { name: `${name}-db-data` }, dataOpts);
    const htmlVolume = new docker.Volume(`${name}-html`, { name: `${name}-html` }, dataOpts);
    this.htmlVolume = htmlVolume.name;
    const network = new docker.Network(`${name}-net`, { name: `${name}-net`, internal: false }, onHost);

    // Pulled once on the host; containers reference the pinned tags and wait for the pulls.
    const dbImage = new docker.RemoteImage(`${name}-db-image`, { name: args.mariadbImage, keepLocally: true }, onHost);
    const appImage = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, onHost);
    const dbSecrets = "/run/secrets/mariadb";
    this.database = new docker.Container(`${name}-db`, hardenedContainer({
      name: `${name}-db`,
      image: args.mariadbImage,
      envs: [
        "MARIADB_DATABASE=wordpress",
        "MARIADB_USER=wordpress",
        `MARIADB_PASSWORD_FILE=${dbSecrets}/password`,
        `MARIADB_ROOT_PASSWORD_FILE=${dbSecrets}/root_password`,
        "MARIADB_AUTO_UPGRADE=1",
      ],
      uploads: [
        { file: `${dbSecrets}/password`, content: dbPassword.result, permissions: "0444" },
        { file: `${dbSecrets}/root_password`, content: rootPassword.result, permissions: "0444" },
      ],
      volumes: [{ volumeName: dbVolume.name, containerPath: "/var/lib/mysql" }],
      networksAdvanced: [{ name: network.name, aliases: ["mariadb"] }],
      labels: [{ label: "factory.service", value: "wordpress-db" }],
    }), pulumi.mergeOptions(onHost, { dependsOn: [dbVolume, network, dbImage], deleteBeforeReplace: true }));

    const wpSecrets = WORDPRESS_PATHS.secrets;
    const adminPasswordFile = `${wpSecrets}/admin_password`;
    this.container = new docker.Container(`${name}-app`, hardenedContainer({
      name,
      image: args.image,
      envs: [
        "WORDPRESS_DB_HOST=mariadb",
        "WORDPRESS_DB_NAME=wordpress",
        "WORDPRESS_DB_USER=wordpress",
        `WORDPRESS_DB_PASSWORD_FILE=${wpSecrets}/db_password`,
        `WORDPRESS_CONFIG_EXTRA=${renderConfigExtra({ networkDomain: args.networkDomain })}`,
      ],
      uploads: [
        { file: `${wpSecrets}/db_password`, content: dbPassword.result, permissions: "0444" },
        { file: adminPasswordFile, content: adminPassword.result, permissions: "0444" },
      ],
      volumes: [{ volumeName: htmlVolume.name, containerPath: WORDPRESS_PATHS.root }],
      networksAdvanced: [{ name: network.name, aliases: ["wordpress"] }],
      ports: [{ internal: WORDPRESS_FPM_PORT, external: WORDPRESS_PUBLISHED_PORT, ip: args.host.privateAddress }],
      labels: [{ label: "factory.service", value: "wordpress" }],
    }), pulumi.mergeOptions(onHost, { dependsOn: [htmlVolume, network, this.database, appImage], deleteBeforeReplace: true }));

    const exec = `docker exec -i -u www-data ${name} sh -s`;
    const env = { DOCKER_HOST: this.dockerHost };
    const install = new command.local.Command(`${name}-network-install`, {
      create: exec,
      stdin: renderNetworkInstallScript({
        url: `https://${args.networkDomain}`,
        title: args.title,
        adminUser: WORDPRESS_ADMIN_USER,
        adminEmail: args.adminEmail,
        adminPasswordFile,
      }),
      environment: env,
      logging: "stdoutAndStderr",
    }, { parent: this, dependsOn: [this.container] });

    const plugins = new command.local.Command(`${name}-plugins`, {
      create: exec,
      stdin: renderPluginsScript({ plugins: args.plugins, themes: args.themes }),
      environment: env,
      // Re-run when the operators change the list (the script is idempotent).
      triggers: [[...args.plugins].sort().join(","), [...args.themes].sort().join(",")],
      logging: "stdoutAndStderr",
    }, { parent: this, dependsOn: [install] });

    this.ready = [install, plugins];
    this.registerOutputs({ host: this.host, fpmUpstream: this.fpmUpstream });
  }
}

/** What a tenant's site needs of the shared WordPress instance. */
export interface WordPressInstanceRef {
  containerName: string;
  dockerHost: string;
  /** Resources the site commands wait for (network installed, plugins in place); empty in a tenant stack. */
  ready: pulumi.Resource[];
}

/** The reference a sharded tenant stack uses: the same names the WordPressMultisite named `name` gets on `host`. */
export function wordpressRef(name: string, host: Host): WordPressInstanceRef {
  return { containerName: name, dockerHost: host.docker, ready: [] };
}

export interface WordPressSiteArgs {
  /** Tenant slug (site slug in the network). */
  tenant: string;
  /**
   * The shared instance: the WordPressMultisite itself, or in a sharded tenant stack a reference to the
   * one the platform stack runs (container name, Docker endpoint, nothing to wait for).
   */
  multisite: WordPressInstanceRef;
  /** Site title. */
  title: string;
  /** Site admin e-mail (the tenant's contact). */
  email: string;
  /** Public hostname: the bucket name and Staatic's destination. */
  hostname: string;
  /** Editing hostname (inside the network, behind the OIDC wall). */
  editHostname: string;
  /** Garage admin API and token (GarageBucket). */
  garageAdmin: { url: string; token: pulumi.Input<string> };
  /** Garage S3 endpoint reachable from the WordPress container, and region. */
  s3: { endpoint: string; region: string };
  /** Garage's S3 API with the platform key, and Garage's readiness (Platform.s3): the bucket's first page. */
  garageS3: GarageS3;
  /** false for archived tenants: the bucket is kept, no site/options command is registered. Default true. */
  active?: boolean;
}

/**
 * One tenant's WordPress site: a site of the network (created idempotently), a website bucket named after
 * the public hostname, and Staatic's per-site options publishing to it (key never on a command line).
 */
export class WordPressSite extends pulumi.ComponentResource {
  readonly bucket: GarageBucket;
  readonly site?: command.local.Command;
  readonly staatic?: command.local.Command;

  constructor(name: string, args: WordPressSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:wordpress:WordPressSite", name, { tenant: args.tenant }, opts);
    this.bucket = new GarageBucket(`${name}-bucket`, {
      tenant: args.tenant,
      bucketName: args.hostname,
      website: { indexDocument: "index.html", errorDocument: "404.html", initialIndexHtml: placeholderPage(args.hostname, args.title) },
      admin: args.garageAdmin,
      s3: args.garageS3,
    }, { parent: this });

    if (args.active ?? true) {
      const m = args.multisite;
      const exec = `docker exec -i -u www-data ${m.containerName} sh -s`;
      this.site = new command.local.Command(`${name}-site`, {
        create: exec,
        stdin: renderSiteScript({ slug: args.tenant, title: args.title, email: args.email, editHostname: args.editHostname }),
        environment: { DOCKER_HOST: m.dockerHost },
        logging: "stdoutAndStderr",
      }, { parent: this, dependsOn: m.ready });

      // The key travels as environment of this command only (logging none), passed into the container
      // by name (`-e NAME` without a value), and from there to wp-cli on stdin.
      this.staatic = new command.local.Command(`${name}-staatic`, {
        create: `docker exec -i -u www-data -e ${STAATIC_ENV.accessKeyId} -e ${STAATIC_ENV.secretAccessKey} ${m.containerName} sh -s`,
        stdin: renderStaaticScript({
          editHostname: args.editHostname,
          endpoint: args.s3.endpoint,
          region: args.s3.region,
          bucket: args.hostname,
          prefix: "",
          publicHostname: args.hostname,
        }),
        environment: {
          DOCKER_HOST: m.dockerHost,
          [STAATIC_ENV.accessKeyId]: this.bucket.accessKeyId,
          [STAATIC_ENV.secretAccessKey]: pulumi.secret(this.bucket.secretAccessKey),
        },
        // Re-run when the key changes (rotation).
        triggers: [this.bucket.accessKeyId],
        logging: "none",
      }, { parent: this, dependsOn: [this.site, this.bucket] });
    }
    this.registerOutputs({});
  }
}
