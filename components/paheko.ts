import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { PAHEKO_PATHS, PahekoOrg, renderCronOrganisations, renderPahekoConfig, renderPahekoMap } from "../src/paheko/config";
import { renderCronLoop, renderFolderScript, renderOrganisationsScript } from "../src/paheko/scripts";
import { Host, MailSettings } from "../src/types";
import { urlHost } from "../src/endpoints";
import { hardenedContainer } from "./container";

/** Port the Paheko image serves HTTP on inside the container (image contract, docs/paheko.md). */
export const PAHEKO_HTTP_PORT = 8080;
/** Port published on the host's private address for the edge. */
export const PAHEKO_PUBLISHED_PORT = 8480;
/** Path of the cron loop script inside the containers. */
export const PAHEKO_CRON_SCRIPT = "/usr/local/share/paheko-factory/cron-loop.sh";
/** Default FILE_STORAGE_QUOTA per organisation: 1 GiB. */
export const PAHEKO_DEFAULT_QUOTA_BYTES = 1024 ** 3;

/** The compute host that runs the one Paheko instance: the first compute host by name (drained or not). */
export function pahekoHost(hosts: readonly Host[]): Host {
  const compute = hosts.filter((h) => h.roles.includes("compute")).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (compute.length === 0) throw new Error("Paheko needs a compute host");
  return compute[0];
}

/** host:port the edge proxies a Paheko hostname to: the published port on the Paheko host's private address. */
export function pahekoUpstream(host: Host): string {
  return `${urlHost(host.privateAddress)}:${PAHEKO_PUBLISHED_PORT}`;
}

export interface PahekoFactoryArgs {
  /** Host running the instance (see pahekoHost()). */
  host: Host;
  /** Docker provider of that host. */
  provider: docker.Provider;
  /** Paheko factory image (settings.images.paheko), pinned. */
  image: string;
  /** FACTORY_DOMAIN: parent of the default hostnames, e.g. paheko.<factory domain>. */
  factoryDomain: string;
  /** Organisations to serve (active and suspended tenants): slug, hostnames, suspended. Archived ones are left out. */
  orgs: PahekoOrg[];
  /** Mail relay settings of the stack; Paheko sends through bulkHost when set (its mailings are mass mail). */
  mail: MailSettings;
  /** SMTP password (operator secret smtpPassword). */
  smtpPassword: pulumi.Input<string>;
  /** FILE_STORAGE_QUOTA per organisation in bytes; default 1 GiB. */
  fileStorageQuotaBytes?: number;
  /** Seconds between passes of the cron loop; default 300. */
  cronIntervalSeconds?: number;
}

/**
 * The one Paheko installation of the factory: a single web container and a cron sidecar sharing ONE
 * protected data volume (one folder per organisation under users/), the multi-site config.local.php
 * rendered by src/paheko/config.ts and uploaded with the secret files (SECRET_KEY, SMTP password).
 */
export class PahekoFactory extends pulumi.ComponentResource {
  /** Host name of the compute host running Paheko. */
  readonly host: string;
  /** host:port the edge proxies to (HTTP, the host's private address). */
  readonly upstream: string;
  /** Docker container name, for `docker exec`. */
  readonly containerName: string;
  /** Docker endpoint of the host (DOCKER_HOST for the folder commands). */
  readonly dockerHost: string;
  readonly container: docker.Container;
  readonly cron: docker.Container;
  /** Writes the organisation map and the cron list into the data volume (re-run when they change). */
  readonly organisations: command.local.Command;
  readonly volume: docker.Volume;
  /** The rendered config.local.php (no secret in it). */
  readonly config: string;

  constructor(name: string, args: PahekoFactoryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:paheko:PahekoFactory", name, { host: args.host.name }, opts);
    const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };
    const onHost: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
    this.host = args.host.name;
    this.upstream = pahekoUpstream(args.host);
    this.containerName = name;
    this.dockerHost = args.host.docker;

    const secretKey = new random.RandomPassword(`${name}-secret-key`, { length: 48, special: false }, keep);
    this.volume = new docker.Volume(`${name}-data`, { name: `${name}-data` }, pulumi.mergeOptions(onHost, { protect: true, retainOnDelete: true }));

    const secretKeyFile = `${PAHEKO_PATHS.secrets}/secret_key`;
    const smtpPasswordFile = `${PAHEKO_PATHS.secrets}/smtp_password`;
    this.config = renderPahekoConfig({
      factoryDomain: args.factoryDomain,
      fileStorageQuotaBytes: args.fileStorageQuotaBytes ?? PAHEKO_DEFAULT_QUOTA_BYTES,
      secretKeyFile,
      mail: {
        host: args.mail.bulkHost ?? args.mail.host,
        port: args.mail.port,
        user: args.mail.from,
        passwordFile: smtpPasswordFile,
        sender: args.mail.from,
      },
    });
    // The organisations are data in the volume, not in the containers' uploads: a tenant added, changed or
    // suspended re-runs this command and re-creates no container (the sessions of the others stay).
    const cronLoop = renderCronLoop({ intervalSeconds: args.cronIntervalSeconds });

    const uploads: docker.types.input.ContainerUpload[] = [
      { file: `${PAHEKO_PATHS.root}/config.local.php`, content: this.config, permissions: "0444" },
      { file: secretKeyFile, content: secretKey.result, permissions: "0444" },
      { file: smtpPasswordFile, content: pulumi.secret(args.smtpPassword), permissions: "0444" },
    ];
    // Pulled once on the host; containers reference the pinned tag and wait for the pull.
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, onHost);
    // Fixed container names and ports: the old container must go before its replacement starts.
    const containerOpts = pulumi.mergeOptions(onHost, { dependsOn: [this.volume, image], deleteBeforeReplace: true });
    const common = {
      image: args.image,
      volumes: [{ volumeName: this.volume.name, containerPath: PAHEKO_PATHS.data }],
      labels: [{ label: "factory.service", value: "paheko" }],
    };

    this.container = new docker.Container(`${name}-app`, hardenedContainer({
      ...common,
      name,
      uploads,
      ports: [{ internal: PAHEKO_HTTP_PORT, external: PAHEKO_PUBLISHED_PORT, ip: args.host.privateAddress }],
    }), containerOpts);

    // The cron sidecar: same image, same volume and config, runs the per-organisation loop.
    this.cron = new docker.Container(`${name}-cron`, hardenedContainer({
      ...common,
      name: `${name}-cron`,
      uploads: [...uploads, { file: PAHEKO_CRON_SCRIPT, content: cronLoop, permissions: "0555" }],
      entrypoints: ["/bin/sh", PAHEKO_CRON_SCRIPT],
    }), containerOpts);

    this.organisations = new command.local.Command(`${name}-organisations`, {
      create: `docker exec -i ${name} sh -s`,
      stdin: renderOrganisationsScript({ map: renderPahekoMap(args.orgs), cronOrgs: renderCronOrganisations(args.orgs) }),
      environment: { DOCKER_HOST: args.host.docker },
      logging: "stdoutAndStderr",
    }, { parent: this, dependsOn: [this.container] });

    this.registerOutputs({ host: this.host, upstream: this.upstream });
  }
}

/** What a tenant's organisation needs of the shared Paheko instance. */
export interface PahekoInstanceRef {
  containerName: string;
  dockerHost: string;
  /** The container resource, when this stack owns it (ordering). */
  container?: pulumi.Resource;
}

/** The reference a sharded tenant stack uses: the same names the PahekoFactory named `name` gets. */
export function pahekoRef(name: string, hosts: readonly Host[]): PahekoInstanceRef {
  return { containerName: name, dockerHost: pahekoHost(hosts).docker };
}

export interface PahekoOrganisationArgs {
  /** Tenant slug: also the organisation's folder name under users/. */
  tenant: string;
  /**
   * The shared instance: the PahekoFactory itself, or in a sharded tenant stack a reference to the one
   * the platform stack runs (its container name and Docker endpoint; `container` absent).
   */
  factory: PahekoInstanceRef;
  /** false for archived tenants: nothing is registered (the folder stays in the volume). Default true. */
  active?: boolean;
}

/**
 * One tenant's Paheko organisation: its folder under users/, created idempotently by `docker exec` on
 * the shared container. There is no delete command: removing or archiving the tenant never deletes it.
 */
export class PahekoOrganisation extends pulumi.ComponentResource {
  /** The folder command (undefined for archived tenants). */
  readonly folder?: command.local.Command;

  constructor(name: string, args: PahekoOrganisationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:paheko:PahekoOrganisation", name, { tenant: args.tenant }, opts);
    if (args.active ?? true) {
      const f = args.factory;
      this.folder = new command.local.Command(`${name}-folder`, {
        create: `docker exec -i ${f.containerName} sh -s`,
        stdin: renderFolderScript({ org: args.tenant }),
        environment: { DOCKER_HOST: f.dockerHost },
        logging: "stdoutAndStderr",
      }, { parent: this, dependsOn: f.container ? [f.container] : [] });
    }
    this.registerOutputs({});
  }
}
