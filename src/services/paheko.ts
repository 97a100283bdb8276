// Paheko: one organisation per tenant in the pooled instance (components/paheko.ts), behind the tenant's
// wall.
import { defineService } from "./contract";

export interface PahekoService {
  hostname: string;
}

export const paheko = defineService({
  name: "paheko",
  hostLabel: "paheko",
  description: "Paheko: members, accounting and newsletters of the association.",
  role: "walled",
  keys: ["hostname"],
  schema: { hostname: { $ref: "#/definitions/hostname" } },
  parse(b): PahekoService | undefined {
    const hostname = b.hostname("hostname");
    return hostname !== undefined ? { hostname } : undefined;
  },
  routes: (s) => [{ key: "services.paheko.hostname", hostname: s.hostname, kind: "app", walled: true }],
});
