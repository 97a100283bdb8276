// WordPress: one site of the pooled Multisite (components/wordpress.ts), edited behind the tenant's wall
// on `<slug>.wp.<domain>`, published by Staatic to a Garage website bucket served on its public hostname.
import { defineService } from "./contract";

export interface WordPressService {
  /** Public hostname, served by Garage from the site's bucket. */
  hostname: string;
  /** Editing hostname, behind the OIDC wall, served by the Multisite instance. */
  editHostname: string;
  title: string;
}

/** Parent of the WordPress editing hostnames (`<slug>.wp.<domain>`); only editing hostnames live under it. */
export function wordpressEditRoot(domain: string): string {
  return `wp.${domain}`;
}

export const wordpress = defineService({
  name: "wordpress",
  hostLabel: "wordpress",
  description: "WordPress: a site edited behind the wall and published as static pages.",
  role: "walled",
  keys: ["hostname", "editHostname", "title"],
  schema: {
    hostname: { $ref: "#/definitions/hostname" },
    editHostname: { $ref: "#/definitions/hostname" },
    title: { $ref: "#/definitions/text" },
  },
  parse(b): WordPressService | undefined {
    const hostname = b.hostname("hostname", { website: true });
    const title = b.has("title") ? b.checker.string(b.node("title"), "services.wordpress.title") : b.tenantName;
    const editHostname = b.hostname("editHostname", { fallback: `${b.slug}.${wordpressEditRoot(b.domain)}` });
    return hostname !== undefined && editHostname !== undefined && title !== undefined ? { hostname, editHostname, title } : undefined;
  },
  routes: (s) => [
    { key: "services.wordpress.hostname", hostname: s.hostname, kind: "website" },
    { key: "services.wordpress.editHostname", hostname: s.editHostname, kind: "app", walled: true },
  ],
});
