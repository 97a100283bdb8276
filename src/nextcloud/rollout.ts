// The order in which a host's Nextcloud resources are created or replaced, as explicit step edges. Pure:
// the component registers one resource per step with `dependsOn` = the step's `after`, so this plan IS the
// rollout. It is the same graph on every run; a version (or app list) change re-runs it because the
// install volume name and the steps' triggers change, while a run with no change finds nothing to do.
//
// Per host (hosts by name, tenants by slug), each host starting only after the previous one finished:
//   maint-on:H -> populate:H -> [init:H:t1] -> fpm:H:t1 -> upgrade:H:t1 -> cron:H:t1 -> fpm:H:t2 -> ...
//              -> cron:H:tn -> maint-off:H -> configure:H:t1 -> configure:H:t2 -> ... -> (next host's maint-on)
// (init only does something for a new tenant: it is created once and never re-run.)
// configure comes after maint-off because occ loads no app commands in maintenance mode (nor while an
// upgrade is pending): `occ user_oidc:provider` would be "not defined" (nextcloud/server
// lib/private/Console/Application.php, loadCommands). Every step before maint-off uses core commands only.
// Pulumi starts no new step after a failure: a failing tenant stops the rollout there, the remaining
// tenants and hosts keep running the old version (their containers still mount the old volume).

export interface RolloutTenant {
  slug: string;
  host: string;
}

export interface RolloutStep {
  id: string;
  kind: "maint-on" | "populate" | "init" | "fpm" | "upgrade" | "configure" | "cron" | "maint-off";
  host: string;
  tenant?: string;
  /** Step ids that must be finished first. */
  after: string[];
}

export const stepId = {
  maintOn: (h: string) => `maint-on:${h}`,
  populate: (h: string) => `populate:${h}`,
  init: (h: string, t: string) => `init:${h}:${t}`,
  fpm: (h: string, t: string) => `fpm:${h}:${t}`,
  upgrade: (h: string, t: string) => `upgrade:${h}:${t}`,
  configure: (h: string, t: string) => `configure:${h}:${t}`,
  cron: (h: string, t: string) => `cron:${h}:${t}`,
  maintOff: (h: string) => `maint-off:${h}`,
};

/** Hosts (sorted) with their tenants (sorted); hosts without a running tenant are left out. */
export function rolloutHosts(tenants: readonly RolloutTenant[]): { host: string; tenants: string[] }[] {
  const by = new Map<string, string[]>();
  for (const t of tenants) by.set(t.host, [...(by.get(t.host) ?? []), t.slug]);
  return [...by.keys()].sort().map((host) => ({ host, tenants: [...new Set(by.get(host)!)].sort() }));
}

export function planRollout(tenants: readonly RolloutTenant[]): RolloutStep[] {
  const steps: RolloutStep[] = [];
  let previousHostDone: string | undefined;
  for (const { host, tenants: slugs } of rolloutHosts(tenants)) {
    const on = stepId.maintOn(host);
    steps.push({ id: on, kind: "maint-on", host, after: previousHostDone ? [previousHostDone] : [] });
    const populate = stepId.populate(host);
    steps.push({ id: populate, kind: "populate", host, after: [on] });
    let previousTenant: string | undefined;
    for (const slug of slugs) {
      const init = stepId.init(host, slug);
      steps.push({ id: init, kind: "init", host, tenant: slug, after: [populate] });
      const fpm = stepId.fpm(host, slug);
      steps.push({ id: fpm, kind: "fpm", host, tenant: slug, after: [on, populate, init, ...(previousTenant ? [previousTenant] : [])] });
      const upgrade = stepId.upgrade(host, slug);
      steps.push({ id: upgrade, kind: "upgrade", host, tenant: slug, after: [fpm] });
      const cron = stepId.cron(host, slug);
      steps.push({ id: cron, kind: "cron", host, tenant: slug, after: [upgrade] });
      previousTenant = cron;
    }
    const off = stepId.maintOff(host);
    steps.push({ id: off, kind: "maint-off", host, after: [previousTenant!] });
    let previousConfigure = off;
    for (const slug of slugs) {
      const configure = stepId.configure(host, slug);
      steps.push({ id: configure, kind: "configure", host, tenant: slug, after: [off, ...(previousConfigure !== off ? [previousConfigure] : [])] });
      previousConfigure = configure;
    }
    previousHostDone = previousConfigure;
  }
  return steps;
}
