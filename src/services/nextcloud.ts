// Nextcloud: one instance per tenant (components/nextcloudInstance.ts), reached through the edge and the
// compute-host Caddy; members log in with OpenID Connect and Nextcloud maps the tenant's group itself.
import { defineService } from "./contract";

export const DEFAULT_NEXTCLOUD_QUOTA_GB = 10;

export interface NextcloudService {
  /** Public hostname of the tenant's Nextcloud. */
  hostname: string;
  /** Storage quota in GiB: the bucket quota and the per-user default quota. */
  quotaGb: number;
}

export const nextcloud = defineService({
  name: "nextcloud",
  hostLabel: "nextcloud",
  description: "Nextcloud: files, calendars and contacts, with Collabora for documents.",
  role: "group",
  keys: ["hostname", "quotaGb"],
  schema: {
    hostname: { $ref: "#/definitions/hostname" },
    quotaGb: { description: `Storage quota in GiB (default ${DEFAULT_NEXTCLOUD_QUOTA_GB}).`, type: "integer", minimum: 1, maximum: 100000 },
  },
  parse(b): NextcloudService | undefined {
    const hostname = b.hostname("hostname");
    const quotaGb = b.has("quotaGb") ? b.checker.integer(b.node("quotaGb"), "services.nextcloud.quotaGb", { min: 1, max: 100_000 }) : DEFAULT_NEXTCLOUD_QUOTA_GB;
    return hostname !== undefined && quotaGb !== undefined ? { hostname, quotaGb } : undefined;
  },
  routes: (s) => [{ key: "services.nextcloud.hostname", hostname: s.hostname, kind: "app" }],
});
