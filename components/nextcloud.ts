// The Nextcloud fleet: per compute host one read-only install volume per Nextcloud version (populated by
// an ephemeral official-image run), maintenance on and off, and the rollout that runs each tenant's
// instance (components/nextcloudInstance.ts, a child of its Tenant) host after host, tenant after tenant.
// What is run and in which order comes from src/nextcloud (pure); this file only wires resources.
// See docs/nextcloud.md.
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { caddyInstallRoot, fleetImageProblem, fpmUpstream, hostNames, installVolumeName, NC_LABELS, NC_LIMITS } from "../src/nextcloud/layout";
import { planRollout, RolloutStep } from "../src/nextcloud/rollout";
import { placedHost } from "../src/placement";
import { dockerCommands, renderMaintenanceScript, renderPopulateScript } from "../src/nextcloud/scripts";
import { StackRole } from "../src/shards";
import { Host, StackSettings, Tenant } from "../src/types";
import { NextcloudInstance } from "./nextcloudInstance";
import { hostPidsLimits, LimitedContainer } from "./pidsLimits";
import type { NextcloudCaddySite } from "./edge";

export { NextcloudContext, nextcloudInstanceArgs } from "./nextcloudContext";
export { ENTRYPOINT_SOURCE, NEXTCLOUD_ADMIN_USER, NextcloudInstance, TenantRoles } from "./nextcloudInstance";

// One type for the contract between the fleet (which produces the sites) and the edge (which serves them).
export type { NextcloudCaddySite };

/** One install volume of a host. */
export interface NextcloudInstall {
  host: string;
  version: string;
  volumeName: pulumi.Output<string>;
  /** Mount point in the compute Caddy (read-only). */
  mountPath: string;
  /** The populate run: depend on it before mounting the volume anywhere. */
  ready: pulumi.Resource;
}

export interface NextcloudFactoryArgs {
  /** The stack name, the hosts, the Nextcloud image and the fleet's version, apps and cron interval. */
  settings: Pick<StackSettings, "stack" | "hosts" | "images" | "nextcloud">;
  /** Every validated tenant; only those with a Nextcloud service are used (archived: data resources only). */
  tenants: readonly Tenant[];
  /** Compute host of every tenant, by slug. */
  placement: ReadonlyMap<string, string>;
  /** Docker provider per host (Platform.docker). */
  docker: Record<string, docker.Provider>;
  /** The factory network per host (Platform.networks); containers join it and depend on it. */
  networks: Record<string, docker.Network>;
  /**
   * The tenants' instances, by slug (each a child of its Tenant component): every running Nextcloud
   * tenant of `tenants` must have one, except in a platform stack, which runs no tenant step.
   */
  instances: ReadonlyMap<string, NextcloudInstance>;
  /**
   * The stack's role (src/shards.ts, docs/scale.md): "platform" registers only the per-host install
   * volumes and their updater runs and computes `caddySites` for every tenant; "shard" runs its tenants'
   * rollout steps, mounting the platform's install volumes by name. Default "whole": everything.
   */
  role?: StackRole["kind"];
}

/**
 * All Nextcloud tenants of the stack. Host by host (by name) and tenant by tenant (by slug), the rollout
 * order of src/nextcloud/rollout.ts is expressed with dependsOn, so a version change upgrades the fleet in
 * order and stops at the first failure.
 */
export class NextcloudFactory extends pulumi.ComponentResource {
  /** Per tenant served on a compute host: what its Caddy site needs. */
  readonly caddySites: NextcloudCaddySite[] = [];
  /** Per host: the install volume of the current version. */
  readonly installs: NextcloudInstall[] = [];
  /** The tenants' instances the rollout runs (NextcloudFactoryArgs.instances). */
  readonly instances: ReadonlyMap<string, NextcloudInstance>;
  /** The resource of each rollout step, by step id (tests assert the edges). */
  readonly steps = new Map<string, pulumi.Resource>();
  /** The plan the steps follow. */
  readonly plan: RolloutStep[];

  constructor(name: string, args: NextcloudFactoryArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before anything is registered: the image's PHP must match the install volume's code.
    const problem = fleetImageProblem({ image: args.settings.images.nextcloud, version: args.settings.nextcloud.version, tenants: args.tenants });
    if (problem) throw new Error(problem);
    super("factory:nextcloud:NextcloudFactory", name, {}, opts);
    const s = args.settings;
    const nc = s.nextcloud;
    const image = s.images.nextcloud;
    const nextcloudTenants = args.tenants.filter((t) => t.services.nextcloud).sort((a, b) => (a.slug < b.slug ? -1 : 1));
    const running = nextcloudTenants.filter((t) => t.status !== "archived");
    const hostOf = (slug: string): Host => placedHost(slug, args.placement, s.hosts);
    const volumeName = installVolumeName(s.stack, nc.version, nc.apps);
    const role = args.role ?? "whole";
    if (role !== "platform") {
      for (const t of running) if (!args.instances.has(t.slug)) throw new Error(`tenant ${t.slug}: no Nextcloud instance (its Tenant must be created first)`);
    }
    this.instances = args.instances;

    // Then the rollout, host after host, exactly as planned.
    this.plan = planRollout(running.map((t) => ({ slug: t.slug, host: hostOf(t.slug).name })));
    const hostState = new Map<string, { volume: docker.Volume; image: docker.RemoteImage }>();
    const deps = (step: RolloutStep) => step.after.filter((id) => role !== "platform" || this.steps.has(id)).map((id) => {
      const r = this.steps.get(id);
      if (!r) throw new Error(`rollout step ${step.id} needs ${id}, which was not created before it`);
      return r;
    });
    // Per host, the containers whose pids cgroup limit one command sets once they exist (NC_LIMITS.*.pids).
    const limited = new Map<string, LimitedContainer[]>();
    const limit = (host: string, c: LimitedContainer) => limited.set(host, [...(limited.get(host) ?? []), c]);
    const inScope = (step: RolloutStep) => role !== "platform" || step.kind === "populate";
    for (const step of this.plan) {
      if (!inScope(step)) continue;
      const host = s.hosts.find((h) => h.name === step.host)!;
      const provider = args.docker[host.name];
      const onHost = { parent: this, provider };
      const env = { DOCKER_HOST: host.docker };
      const base = `${name}-${host.name}`;
      switch (step.kind) {
        case "maint-on":
        case "maint-off": {
          const cmd = new command.local.Command(`${base}-${step.kind}`, {
            create: renderMaintenanceScript({ stack: s.stack, host: host.name, mode: step.kind === "maint-on" ? "on" : "off", version: nc.version }),
            environment: env,
            triggers: [volumeName],
            logging: "stdoutAndStderr",
          }, { parent: this, dependsOn: deps(step) });
          this.steps.set(step.id, cmd);
          break;
        }
        case "populate": {
          const img = new docker.RemoteImage(`${base}-image-${nc.version}`, { name: image, keepLocally: true }, onHost);
          if (role === "shard") {
            // The platform stack owns and populates this volume; a tenant stack only mounts it by name.
            const ref = docker.Volume.get(`${base}-install-${nc.version}`, volumeName, undefined, onHost);
            hostState.set(host.name, { volume: ref, image: img });
            this.steps.set(step.id, img);
            break;
          }
          // Regenerable software, not data: not protected (a protected volume would make every upgrade fail
          // when Pulumi removes the old one). Docker refuses to remove a volume a container still mounts.
          const volume = new docker.Volume(`${base}-install-${nc.version}`, {
            name: volumeName,
            labels: [{ label: NC_LABELS.stack, value: s.stack }, { label: NC_LABELS.role, value: "install" }],
          }, onHost);
          const names = hostNames(s.stack, host.name);
          const populate = new command.local.Command(`${base}-updater-${nc.version}`, {
            create: volume.name.apply((v) => dockerCommands.populate({ container: names.populate, volume: v, image })),
            stdin: renderPopulateScript({ version: nc.version, apps: nc.apps }),
            environment: env,
            triggers: [volumeName, image],
            logging: "stdoutAndStderr",
          }, { parent: this, dependsOn: [...deps(step), volume, img] });
          hostState.set(host.name, { volume, image: img });
          this.installs.push({ host: host.name, version: nc.version, volumeName: volume.name, mountPath: caddyInstallRoot(volumeName), ready: populate });
          this.steps.set(step.id, populate);
          if (role === "platform") {
            for (const slug of running.filter((t) => hostOf(t.slug).name === host.name).map((t) => t.slug)) {
              this.caddySites.push({
                host: host.name, tenant: slug, hostname: running.find((t) => t.slug === slug)!.services.nextcloud!.hostname,
                fpmUpstream: fpmUpstream(s.stack, slug), installVolume: volume.name,
              });
            }
          }
          break;
        }
        case "init":
        case "fpm":
        case "upgrade":
        case "cron":
        case "configure": {
          const instance = this.instances.get(step.tenant!)!;
          const hs = hostState.get(host.name)!;
          if (step.kind === "init") {
            this.steps.set(step.id, instance.runInit({ installVolume: hs.volume, image, imageResource: hs.image, network: args.networks[host.name], after: deps(step) }));
          } else if (step.kind === "fpm") {
            const fpm = instance.runFpm({ installVolume: hs.volume, image, imageResource: hs.image, network: args.networks[host.name], after: deps(step) });
            this.steps.set(step.id, fpm);
            limit(host.name, { resource: fpm, name: instance.fpmContainerName, pids: NC_LIMITS.fpm.pids });
            this.caddySites.push({
              host: host.name, tenant: step.tenant!, hostname: instance.hostname, fpmUpstream: instance.fpmUpstream,
              installVolume: hs.volume.name,
            });
          } else if (step.kind === "upgrade") {
            this.steps.set(step.id, instance.runUpgrade({ version: nc.version, installVolumeName: volumeName, after: deps(step) }));
          } else if (step.kind === "cron") {
            // Suspended tenants keep their FPM container (resuming takes seconds) but run no background
            // jobs: no notification mail, no federated sync while the edge shows their maintenance page.
            if (running.find((t) => t.slug === step.tenant)!.status === "suspended") {
              const before = deps(step);
              this.steps.set(step.id, before[before.length - 1]);
              break;
            }
            const cron = instance.runCron({ installVolume: hs.volume, image, imageResource: hs.image, network: args.networks[host.name], after: deps(step) });
            this.steps.set(step.id, cron);
            limit(host.name, { resource: cron, name: instance.cronContainerName, pids: NC_LIMITS.cron.pids });
          } else {
            this.steps.set(step.id, instance.runConfigure({ after: deps(step) }));
          }
          break;
        }
      }
    }
    for (const [hostName, containers] of limited) {
      hostPidsLimits(`${name}-${hostName}-pids`, { dockerHost: s.hosts.find((h) => h.name === hostName)!.docker, containers }, { parent: this });
    }
    this.registerOutputs({ installs: this.installs.map((i) => ({ host: i.host, version: i.version, volume: i.volumeName })) });
  }
}
