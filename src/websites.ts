// Who holds each public website hostname. A website's bucket is named after its hostname (Garage's global
// alias is what its web endpoint serves), and buckets are data: protected, kept when a tenant is archived
// or a site is removed. So a hostname cannot pass from one owner (tenant and service) to another in one
// change: the old bucket still holds the alias, and creating the new one would fail half-way through a
// deployment. Every deployment records the owners (`websiteOwners` output); the next one compares with
// them before registering anything and refuses a move, naming the runbook. Pure.
import { tenantRoutes } from "./services/registry";
import { Tenant } from "./types";

/** Hostname → `<slug>/<service>` for every website bucket of the tenant files, whatever their status. */
export function websiteOwners(tenants: readonly Tenant[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of [...tenants].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0))) {
    for (const r of tenantRoutes(t)) if (r.kind === "website") out[r.hostname] = `${t.slug}/${r.service}`;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Why this deployment must not go on: a website hostname whose owner differs from the one the last
 * deployment recorded. No record (a first deployment, or a stack deployed before the record existed) is
 * no refusal; a hostname that was nobody's, or that its owner gave up, is free to claim only once that
 * owner's bucket is gone from the record (docs/runbooks/move-website.md).
 */
export function websiteMoveProblems(previous: unknown, current: Record<string, string>): string[] {
  if (previous === null || typeof previous !== "object") return [];
  const before = previous as Record<string, unknown>;
  const problems: string[] = [];
  for (const [hostname, owner] of Object.entries(current)) {
    const was = before[hostname];
    if (typeof was !== "string" || was === owner) continue;
    problems.push(
      `website ${hostname}: its bucket belongs to ${was} (kept with its pages), so ${owner} cannot take the name in this change. ` +
      `Move it in the order of docs/runbooks/move-website.md. Nothing was changed.`,
    );
  }
  return problems;
}
