// A static site: a Garage website bucket the tenant uploads to (components/staticSite.ts), public.
import { defineService } from "./contract";

export interface StaticSiteService {
  hostname: string;
}

export const staticSite = defineService({
  name: "staticSite",
  hostLabel: "static",
  description: "A static website the tenant uploads to its own bucket.",
  role: "none",
  keys: ["hostname"],
  schema: { hostname: { $ref: "#/definitions/hostname" } },
  parse(b): StaticSiteService | undefined {
    const hostname = b.hostname("hostname", { website: true });
    return hostname !== undefined ? { hostname } : undefined;
  },
  routes: (s) => [{ key: "services.staticSite.hostname", hostname: s.hostname, kind: "website" }],
});
