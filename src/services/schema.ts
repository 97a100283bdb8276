// The tenant file's JSON Schema (tenants/tenant.schema.json, for editors), generated from the registry:
// each service contributes its block. `npm run schema` writes the file; test/schema.test.ts checks the
// committed file is what this renders, and that schema and loader agree on every example. Pure.
import { RESERVED_LABELS } from "../hostnames";
import { SLUG_PATTERN } from "../tenants";
import { SERVICE_NAMES, SERVICES } from "./registry";

const TEXT = "^(?=.*\\S)[^\\u0000-\\u001f\\u007f]+$";
const HOSTNAME = "^(?=.{1,253}\\.?$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.?$";
const EMAIL = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9A-Z](?:[a-z0-9A-Z-]{0,61}[a-z0-9A-Z])?\\.)+[a-zA-Z](?:[a-z0-9A-Z-]{0,61}[a-z0-9A-Z])?$";

export function tenantSchema(): object {
  const services = Object.fromEntries(SERVICE_NAMES.map((name) => {
    const m = SERVICES[name];
    return [name, { description: m.description, type: ["object", "null"], additionalProperties: false, properties: m.schema }];
  }));
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: "https://factory.example.org/schemas/tenant.schema.json",
    title: "Service factory tenant",
    description: "One tenant of the service factory: tenants/<stack>/<slug>.yaml. Cross-file rules (slug equals the file name, unique slugs and hostnames, platform hostnames, host in the stack inventory) are checked by `npm run validate`. Generated from src/services/ by `npm run schema`: do not edit.",
    type: "object",
    additionalProperties: false,
    required: ["slug", "name", "contact"],
    properties: {
      slug: {
        description: "Immutable identifier; equals the file name. Resource names derive from it.",
        type: "string",
        pattern: SLUG_PATTERN.source,
        not: { anyOf: [{ pattern: "--" }, { enum: [...RESERVED_LABELS] }] },
      },
      name: { description: "Display name of the organization.", $ref: "#/definitions/text" },
      contact: { description: "E-mail of the organization's contact person.", $ref: "#/definitions/email" },
      status: { description: "active (default), suspended (maintenance page, nothing deleted) or archived (services removed, data kept).", enum: ["active", "suspended", "archived"] },
      host: { description: "Pin the tenant's containers to this inventory host (must exist and not be drained).", type: "string", minLength: 1, pattern: "\\S" },
      dns: { description: "managed: the factory publishes the tenant's DNS records; external (default): the tenant does.", enum: ["managed", "external"] },
      services: {
        description: "Subscribed services; an absent block means not subscribed.",
        type: ["object", "null"],
        additionalProperties: false,
        properties: services,
      },
      admins: { description: "E-mails of the tenant's administrators.", type: "array", items: { $ref: "#/definitions/email" } },
    },
    definitions: {
      text: {
        description: "Free text: not blank, no control character (tab, line break, NUL...), at most 512 characters.",
        type: "string", minLength: 1, maxLength: 512, pattern: TEXT,
      },
      hostname: {
        description: "Lowercase RFC 1123 hostname (Unicode names are converted to punycode by the loader). Default: <slug>.<service>.<factory domain>.",
        type: "string",
        anyOf: [
          { pattern: HOSTNAME, not: { pattern: "\\.[0-9]+\\.?$" } },
          { pattern: "[^\\u0000-\\u007f]", not: { pattern: "[A-Z\\s]" } },
        ],
      },
      email: { type: "string", pattern: EMAIL },
    },
  };
}

/** The file's text, as committed. */
export function renderTenantSchema(): string {
  return JSON.stringify(tenantSchema(), null, 2) + "\n";
}
