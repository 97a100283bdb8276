import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHash } from "node:crypto";
import { renderComputeCaddyfile, WordPressSiteInput } from "../src/caddy/compute";
import { CADDY_PORTS, EDGE_STATE_DIR, EdgeUpstreams, edgeWalls, renderEdgeCaddyfile } from "../src/caddy/edge";
import { renderApplyScript, renderBootstrapCaddyfile, renderSecretsScript, renderStartScript, secretsBundle } from "../src/caddy/reload";
import { WALL_TOKEN_KEY_FILE, wallTrustsLoginRedirect } from "../src/caddy/wall";
import { renderNextcloudSite } from "../src/nextcloud/caddy";
import { Host, StackSettings, Tenant } from "../src/types";
import { hardenedContainer } from "./container";

/** Where the install volumes are mounted in a compute-host Caddy: `<root>/<volume name>`. */
export const NEXTCLOUD_INSTALL_ROOT = "/srv/nextcloud";

/** One Nextcloud site a compute-host Caddy serves (NextcloudFactory.caddySites). */
export interface NextcloudCaddySite {
  /** Compute host whose Caddy serves it. */
  host: string;
  tenant: string;
  hostname: string;
  /** FastCGI upstream on the host's factory network (the tenant's FPM container). */
  fpmUpstream: string;
  /** Docker name of the install volume the tenant runs on: mounted read-only at caddyInstallRoot(name). */
  installVolume: pulumi.Input<string>;
}


/** The stack settings CaddyEdge reads. */
export type EdgeSettings = Pick<StackSettings, "hosts" | "images" | "domain" | "acmeEmail" | "realm" | "edgeTls">;

export interface CaddyEdgeArgs {
  /** Hosts (edge and compute roles), images.caddy (and its caddy-security release), domain, ACME e-mail, realm, TLS mode. */
  settings: EdgeSettings;
  /** Every tenant (sorted or not: the config is sorted); archived ones get no route. */
  tenants: readonly Tenant[];
  /** Docker provider per host name. */
  docker: Record<string, docker.Provider>;
  /** Where each hostname goes (src/caddy/upstreams.ts edgeUpstreams). */
  upstreams: EdgeUpstreams;
  /** Garage admin API base URL (on-demand TLS asks its /check). */
  garageAdminUrl: string;
  /** Wall client secrets by Keycloak client id (KeycloakClient.clientSecret); one per wall of the edge config. */
  wallClientSecrets: Record<string, pulumi.Input<string>>;
  /** Nextcloud sites per compute host (NextcloudFactory.caddySites); default none. */
  nextcloudSites?: NextcloudCaddySite[];
  /** Upload limit of each Nextcloud site (renderNextcloudSite), in MB; default 2048. */
  nextcloudMaxUploadMb?: number;
  /** The WordPress instance: its host's Caddy serves the editing hostnames; default none. */
  wordpress?: { host: string; fpmUpstream: string; documentRoot: string; htmlVolume: pulumi.Input<string> };
  /**
   * Per compute host, what its config must wait for: its own host's populated install volumes
   * (NextcloudFactory.installs[].ready), so one host's upgrade never waits for another's; default none.
   */
  nextcloudInstallsReady?: Record<string, pulumi.Resource[]>;
  /** The factory network of each host, by host: every Caddy there joins it (the compute one reaches FPM containers by alias); default none. */
  hostNetworks?: Record<string, pulumi.Input<string>>;
}

interface Delivery {
  container: docker.Container;
  /** Resources the new config must wait for (e.g. this host's populated install volumes). */
  after?: pulumi.Resource[];
  config: pulumi.Input<string>;
  secrets?: pulumi.Output<string>;
}

/**
 * The Caddy layer: one Caddy (with caddy-security) per edge host, terminating TLS, holding the OIDC walls
 * and maintenance pages, and one per compute host serving its Nextcloud sites (and, on the WordPress host,
 * the editing hostnames) from read-only volumes. Configs are rendered whole by src/caddy and delivered by
 * `docker exec` commands that validate before reloading (src/caddy/reload.ts).
 */
export class CaddyEdge extends pulumi.ComponentResource {
  /** The edge Caddyfile (identical on every edge host; contains no secret). */
  readonly edgeConfig: string;
  /** Compute-host Caddyfiles by host. */
  readonly computeConfigs: Record<string, pulumi.Output<string>> = {};
  /** Caddy containers by host name. */
  readonly containers: Record<string, docker.Container> = {};
  /** Config delivery commands by host name (validate + reload). */
  readonly reloads: Record<string, command.local.Command> = {};

  constructor(name: string, args: CaddyEdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("factory:edge:CaddyEdge", name, {}, opts);
    const s = args.settings;
    const edges = s.hosts.filter((h) => h.roles.includes("edge"));
    const computes = s.hosts.filter((h) => h.roles.includes("compute"));
    if (edges.length === 0) throw new Error("the inventory has no edge host (role: edge)");

    this.edgeConfig = renderEdgeCaddyfile({
      domain: s.domain, acmeEmail: s.acmeEmail, realm: s.realm, garageAdminUrl: args.garageAdminUrl,
      upstreams: args.upstreams, tenants: args.tenants, tls: s.edgeTls,
      // What the pinned caddy-security release needs (and accepts): images.caddy's tag names it.
      trustLoginRedirect: wallTrustsLoginRedirect(s.images.caddy),
    });
    const walls = edgeWalls(args.tenants);
    for (const w of walls) {
      if (!(w.clientId in args.wallClientSecrets)) throw new Error(`tenant ${w.tenant}: no client secret for wall client ${w.clientId}`);
    }
    // Signs the wall session cookies; shared by all edge hosts so a session is valid on any of them.
    const tokenKey = new random.RandomPassword(`${name}-wall-token-key`, { length: 48, special: false }, { parent: this, protect: true });
    const clientIds = Object.keys(args.wallClientSecrets).sort();
    const secrets = pulumi.secret(
      pulumi.all([tokenKey.result, ...clientIds.map((id) => args.wallClientSecrets[id])]).apply(([key, ...values]) => {
        const files: Record<string, string> = { [WALL_TOKEN_KEY_FILE]: key };
        clientIds.forEach((id, i) => { files[`${id}.secret`] = values[i]; });
        return secretsBundle(files);
      }),
    );
    for (const h of edges) {
      const container = this.caddyContainer(name, h, h.name, args, {
        ports: edgePorts(h),
        bootstrapPort: CADDY_PORTS.http,
        labels: "edge",
        // Published ports need a bridge: a host whose engine has no default bridge (`--bridge none`) would
        // leave the edge unreachable and its ports unread (a change on every run).
        network: args.hostNetworks?.[h.name],
      });
      this.deliver(name, h, h.name, { container, config: this.edgeConfig, secrets });
    }

    const byHost = new Map<string, NextcloudCaddySite[]>();
    for (const site of args.nextcloudSites ?? []) byHost.set(site.host, [...(byHost.get(site.host) ?? []), site]);
    const edgeAddresses = edges.map((h) => h.privateAddress);
    for (const h of computes) {
      // A host with both roles (the dev stack) runs both Caddies side by side: the compute one is suffixed.
      const id = edges.some((e) => e.name === h.name) ? `${h.name}-compute` : h.name;
      const sites = [...(byHost.get(h.name) ?? [])].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
      const wp = args.wordpress && args.wordpress.host === h.name ? args.wordpress : undefined;
      const wordpress: WordPressSiteInput | undefined = wp && {
        hostnames: walls.filter((w) => w.service === "wordpress").map((w) => w.hostname),
        fpmUpstream: wp.fpmUpstream,
        root: wp.documentRoot,
      };
      const config = pulumi.all(sites.map((x) => x.installVolume)).apply((volumes) =>
        renderComputeCaddyfile({
          trustedProxies: edgeAddresses,
          wordpress,
          sites: sites.map((x, i) => ({
            tenant: x.tenant,
            hostname: x.hostname,
            block: renderNextcloudSite({
              hostname: x.hostname, fpmUpstream: x.fpmUpstream,
              installRoot: `${NEXTCLOUD_INSTALL_ROOT}/${volumes[i]}`, maxUploadMb: args.nextcloudMaxUploadMb ?? 2048,
            }),
          })),
        }));
      this.computeConfigs[h.name] = config;
      // Each distinct install volume once, read-only; the WordPress volume read-only at its document root.
      const mounts = pulumi.all(sites.map((x) => x.installVolume)).apply((volumes) => [
        ...[...new Set(volumes)].sort().map((v) => ({ type: "volume", source: v, target: `${NEXTCLOUD_INSTALL_ROOT}/${v}`, readOnly: true })),
      ]);
      const container = this.caddyContainer(name, h, id, args, {
        ports: [{ internal: CADDY_PORTS.compute, external: CADDY_PORTS.compute, ip: h.privateAddress, protocol: "tcp" }],
        bootstrapPort: CADDY_PORTS.compute,
        labels: "compute",
        mounts: pulumi.all([mounts, wp?.htmlVolume]).apply(([m, html]) =>
          html ? [...m, { type: "volume", source: html, target: wp!.documentRoot, readOnly: true }] : m),
        network: args.hostNetworks?.[h.name],
      });
      this.deliver(name, h, id, { container, config, after: args.nextcloudInstallsReady?.[h.name] });
    }
    this.registerOutputs({ edgeConfig: this.edgeConfig, computeConfigs: this.computeConfigs });
  }

  private caddyContainer(
    name: string, h: Host, id: string, args: CaddyEdgeArgs,
    o: { ports: docker.types.input.ContainerPort[]; bootstrapPort: number; labels: string;
      mounts?: pulumi.Input<docker.types.input.ContainerMount[]>; network?: pulumi.Input<string> },
  ): docker.Container {
    const provider = args.docker[h.name];
    if (!provider) throw new Error(`no docker provider for host ${h.name}`);
    const onHost = { parent: this, provider };
    const keep = pulumi.mergeOptions(onHost, { protect: true, retainOnDelete: true });
    // Certificates and ACME account keys: losing them means re-issuing everything (rate limits).
    const data = new docker.Volume(`${name}-${id}-data`, { name: `${name}-${id}-data` }, keep);
    // The live Caddyfile (last good config) and the secret files.
    const state = new docker.Volume(`${name}-${id}-state`, { name: `${name}-${id}-state` }, keep);
    const container = new docker.Container(`${name}-${id}`, hardenedContainer({
      name: `${name}-${id}`,
      image: args.settings.images.caddy,
      entrypoints: ["/bin/sh", "-c"],
      command: [renderStartScript({
        dir: EDGE_STATE_DIR,
        bootstrapConfig: renderBootstrapCaddyfile({ port: o.bootstrapPort, admin: `localhost:${CADDY_PORTS.admin}` }),
      })],
      volumes: [
        { volumeName: data.name, containerPath: "/data" },
        { volumeName: state.name, containerPath: EDGE_STATE_DIR },
      ],
      mounts: o.mounts,
      ports: o.ports,
      networksAdvanced: o.network ? [{ name: o.network }] : undefined,
      readOnly: true,
      tmpfs: { "/tmp": "rw,size=16m", "/config": "rw,size=16m" },
      capabilities: { drops: ["ALL"], adds: ["NET_BIND_SERVICE"] },
      labels: [{ label: "factory.service", value: `caddy-${o.labels}` }],
    }), pulumi.mergeOptions(onHost, { dependsOn: [data, state] }));
    this.containers[id] = container;
    return container;
  }

  /** Secret files first (logging none), then the config: validated in the container, reloaded only if valid. */
  private deliver(name: string, h: Host, id: string, d: Delivery): void {
    const environment = { DOCKER_HOST: h.docker, CADDY_CONTAINER: `${name}-${id}` };
    const exec = 'docker exec -i "$CADDY_CONTAINER" /bin/sh -c "$FACTORY_SCRIPT"';
    const deps: pulumi.Resource[] = [d.container, ...(d.after ?? [])];
    if (d.secrets) {
      deps.push(new command.local.Command(`${name}-${id}-secrets`, {
        create: exec,
        environment: { ...environment, FACTORY_SCRIPT: renderSecretsScript({ dir: EDGE_STATE_DIR }) },
        stdin: d.secrets,
        // A new container has an empty secrets directory only if its volume was recreated; rewrite anyway.
        // A change of the secrets themselves re-runs `create` (stdin is an input); a secret in `triggers`
        // breaks every preview where it is unknown ("triggers[1]: malformed secret: missing value").
        triggers: [d.container.id],
        logging: "none",
      }, { parent: this, dependsOn: [d.container] }));
    }
    const hash = pulumi.output(d.config).apply((c) => createHash("sha256").update(c).digest("hex"));
    this.reloads[id] = new command.local.Command(`${name}-${id}-reload`, {
      create: exec,
      environment: { ...environment, FACTORY_SCRIPT: renderApplyScript({ dir: EDGE_STATE_DIR, admin: `localhost:${CADDY_PORTS.admin}` }) },
      stdin: d.config,
      triggers: [d.container.id, hash],
      // caddy validate's messages may quote a resolved {file.*} secret: they stay in the container's rejected/ dir.
      logging: "none",
    }, { parent: this, dependsOn: deps });
  }
}

/** 80/tcp, 443/tcp and 443/udp (HTTP/3) on the host's public addresses (all addresses when none is set). */
export function edgePorts(h: Host): docker.types.input.ContainerPort[] {
  const ips = [h.publicIPv4, h.publicIPv6].filter((x): x is string => !!x);
  const out: docker.types.input.ContainerPort[] = [];
  for (const ip of ips.length > 0 ? ips : ["0.0.0.0"]) {
    out.push(
      { internal: CADDY_PORTS.http, external: CADDY_PORTS.http, ip, protocol: "tcp" },
      { internal: CADDY_PORTS.https, external: CADDY_PORTS.https, ip, protocol: "tcp" },
      { internal: CADDY_PORTS.https, external: CADDY_PORTS.https, ip, protocol: "udp" },
    );
  }
  return out;
}

