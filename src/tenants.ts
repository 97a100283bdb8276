// Loading and validating tenant files (tenants/<stack>/<slug>.yaml). Pure: reads files, returns tenants
// and every problem found, all at once, as file:line:col messages. No Pulumi here.
import * as fs from "node:fs";
import * as path from "node:path";
import { Node } from "yaml";
import { checkHostname, platformConflict, PlatformOwnedName, RESERVED_LABELS, reservedNameConflict } from "./hostnames";
import { DnsMode, platformHostnames, Problem, Tenant, TenantStatus } from "./types";
import { bucketNameProblem } from "./garage/naming";
import { ServiceBlock } from "./services/contract";
import { SERVICE_HOST_LABEL, SERVICE_NAMES, serviceModule, ServiceName, tenantRoutes, TenantServices } from "./services/registry";
import { wordpressEditRoot } from "./services/wordpress";
import { YamlChecker } from "./yamlcheck";

export const SLUG_PATTERN = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;
// A pragmatic address check: one @, a dot-atom local part, and a domain that passes the hostname rules.
const EMAIL_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

export const TENANT_KEYS = ["slug", "name", "contact", "status", "host", "dns", "services", "admins"] as const;

/** What the tenant loader needs to know about the stack. */
export interface TenantContext {
  domain: string;
  /** Inventory host names with their drain flag. */
  hosts: { name: string; drain: boolean }[];
  /** Hostnames the stack's settings name for the platform (platformOwnedNames); none by default. */
  platformNames?: readonly PlatformOwnedName[];
}

export interface LoadResult {
  tenants: Tenant[];
  problems: Problem[];
}

export function isEmail(value: string): boolean {
  const at = value.lastIndexOf("@");
  if (at <= 0 || value.indexOf("@") !== at) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.length > 64 || !EMAIL_LOCAL.test(local)) return false;
  const host = checkHostname(domain.toLowerCase());
  return host.ok && !host.converted;
}

/**
 * A service block's hostname: the value of `key` checked (and converted to punycode), or the default.
 * A website's hostname is also the name of the Garage bucket its web endpoint serves it from
 * (websiteBucketName), so it must be a valid bucket name: at most 63 characters, no punycode.
 */
function blockHostname(
  c: YamlChecker,
  o: { service: ServiceName; key: string; block: Map<string, { value: Node | null }>; blockKey: Node | null; fallback: string; website: boolean },
): string | undefined {
  const given = o.block.has(o.key);
  const node = given ? o.block.get(o.key)!.value : o.blockKey;
  let value = o.fallback;
  if (given) {
    const raw = c.string(node, `services.${o.service}.${o.key}`);
    if (raw === undefined) return undefined;
    const check = checkHostname(raw);
    if (!check.ok) {
      c.at(node, `services.${o.service}.${o.key} "${raw}" ${check.reason}`);
      return undefined;
    }
    value = check.hostname;
  }
  const problem = o.website ? bucketNameProblem(value) : undefined;
  if (problem) {
    c.at(node, `services.${o.service}.${o.key} "${value}"${given ? "" : " (the default)"} is served from a Garage bucket of that name, which ${problem}`);
    return undefined;
  }
  return value;
}

/** Where each checked key's value sits, so cross-file rules can point at it. */
export type KeyPositions = Map<string, { line: number; col: number }>;

/** Parses and checks one tenant file on its own (cross-tenant rules are applied by loadTenantSources). */
export function parseTenant(file: string, source: string, ctx: TenantContext): { tenant?: Tenant; problems: Problem[]; positions: KeyPositions } {
  const c = new YamlChecker(file, source);
  const positions: KeyPositions = new Map();
  const remember = (key: string, node: Node | null) => {
    if (node?.range) positions.set(key, c.lineCounter.linePos(node.range[0]));
  };
  if (!c.ok) return { problems: c.problems, positions };
  const top = c.map(c.doc.contents as Node, "tenant", TENANT_KEYS, ["slug", "name", "contact"]);
  if (!top) return { problems: c.problems, positions };

  const get = (k: string) => top.get(k)?.value ?? null;
  const slugNode = get("slug");
  const slug = top.has("slug") ? c.string(slugNode, "slug", { pattern: SLUG_PATTERN, patternText: "^[a-z][a-z0-9-]{1,30}[a-z0-9]$ (3-32 characters)" }) : undefined;
  const expected = path.basename(file).replace(/\.ya?ml$/, "");
  if (slug !== undefined) {
    if (slug !== expected) c.at(slugNode, `slug "${slug}" must equal the file name "${expected}"`);
    else if (RESERVED_LABELS.has(slug)) c.at(slugNode, `slug "${slug}" is a reserved name`);
    else if (slug.includes("--")) c.at(slugNode, `slug "${slug}" must not contain "--" (reserved for punycode and generated names)`);
  }
  remember("slug", slugNode);
  const name = top.has("name") ? c.string(get("name"), "name") : undefined;
  const contactNode = get("contact");
  const contact = top.has("contact") ? c.string(contactNode, "contact") : undefined;
  if (contact !== undefined && !isEmail(contact)) c.at(contactNode, `contact "${contact}" is not a valid e-mail address`);

  const status: TenantStatus = top.has("status") ? c.oneOf(get("status"), "status", ["active", "suspended", "archived"] as const) ?? "active" : "active";
  const dns: DnsMode = top.has("dns") ? c.oneOf(get("dns"), "dns", ["managed", "external"] as const) ?? "external" : "external";

  let pinnedHost: string | undefined;
  if (top.has("host")) {
    const hostNode = get("host");
    pinnedHost = c.string(hostNode, "host");
    if (pinnedHost !== undefined) {
      const host = ctx.hosts.find((h) => h.name === pinnedHost);
      if (!host) c.at(hostNode, `host "${pinnedHost}" is not in the stack inventory (hosts: ${ctx.hosts.map((h) => h.name).join(", ")})`);
      else if (host.drain) c.at(hostNode, `host "${pinnedHost}" is drained and takes no tenant; remove the pin or pick another host`);
    }
  }

  const admins: string[] = [];
  if (top.has("admins")) {
    for (const item of c.stringList(get("admins"), "admins") ?? []) {
      if (!isEmail(item.value)) c.at(item.node, `admins: "${item.value}" is not a valid e-mail address`);
      else admins.push(item.value);
    }
  }

  const services: TenantServices = {};
  if (top.has("services") && get("services") !== null) {
    const svc = c.map(get("services"), "services", SERVICE_NAMES);
    for (const service of SERVICE_NAMES) {
      if (!svc?.has(service)) continue;
      const module = serviceModule(service);
      const blockNode = svc.get(service)!.value;
      // `paheko: {}` and `paheko:` (null) both mean "subscribed with defaults".
      const block = blockNode === null || (blockNode as { value?: unknown }).value === null
        ? new Map<string, { value: Node | null }>()
        : c.map(blockNode, `services.${service}`, module.keys);
      if (!block) continue;
      const reader: ServiceBlock = {
        checker: c,
        has: (key) => block.has(key),
        node: (key) => block.get(key)?.value ?? null,
        hostname: (key, o = {}) => {
          const value = blockHostname(c, { service, key, block, blockKey: svc.get(service)!.key, fallback: o.fallback ?? `${slug ?? expected}.${SERVICE_HOST_LABEL[service]}.${ctx.domain}`, website: o.website ?? false });
          if (value !== undefined && block.has(key)) remember(`services.${service}.${key}`, block.get(key)!.value);
          return value;
        },
        slug: slug ?? expected,
        tenantName: name,
        domain: ctx.domain,
      };
      const value = module.parse(reader);
      if (value !== undefined) (services as Record<ServiceName, unknown>)[service] = value;
    }
  }
  if (!c.ok || slug === undefined || name === undefined || contact === undefined) return { problems: c.problems, positions };
  return { tenant: { slug, name, contact, status, pinnedHost, dns, services, admins, file }, problems: c.problems, positions };
}

/** Validates a set of tenant sources together: per-file rules plus uniqueness and platform rules. */
export function loadTenantSources(sources: { file: string; source: string }[], ctx: TenantContext): LoadResult {
  const problems: Problem[] = [];
  const tenants: Tenant[] = [];
  const seenSlug = new Map<string, string>();
  const seenHost = new Map<string, string>();
  const platform = platformHostnames(ctx.domain);
  const editRoot = wordpressEditRoot(ctx.domain);
  // Sorted so that messages (and "first seen" in duplicates) do not depend on directory order.
  for (const { file, source } of [...sources].sort((a, b) => a.file.localeCompare(b.file))) {
    const parsed = parseTenant(file, source, ctx);
    problems.push(...parsed.problems);
    const t = parsed.tenant;
    if (!t) continue;
    const at = (key: string, message: string) => {
      const pos = parsed.positions.get(key) ?? { line: 1, col: 1 };
      problems.push({ file, ...pos, message });
    };
    let ok = true;
    if (seenSlug.has(t.slug)) {
      at("slug", `slug "${t.slug}" is already used by ${seenSlug.get(t.slug)}`);
      ok = false;
    } else seenSlug.set(t.slug, file);
    for (const { key, hostname, service } of tenantRoutes(t)) {
      const lower = hostname.toLowerCase();
      const conflict = platformConflict(lower, ctx.domain, platform)
        ?? reservedNameConflict(lower, { slug: t.slug, service, domain: ctx.domain, platformNames: ctx.platformNames ?? [], serviceLabels: SERVICE_HOST_LABEL });
      const underEdit = lower.endsWith(`.${editRoot}`) || lower === editRoot;
      if (conflict) {
        at(key, `${key} "${hostname}" ${conflict}`);
        ok = false;
      } else if (underEdit && key !== "services.wordpress.editHostname") {
        at(key, `${key} "${hostname}" is under ${editRoot}, which is reserved for WordPress editing hostnames`);
        ok = false;
      } else if (underEdit && lower !== `${t.slug}.${editRoot}`) {
        at(key, `${key} "${hostname}" is under ${editRoot}, where each tenant has only its own <slug>.${editRoot}`);
        ok = false;
      } else if (seenHost.has(lower)) {
        at(key, `${key} "${hostname}" is already used by ${seenHost.get(lower)}`);
        ok = false;
      } else seenHost.set(lower, `${file} (${key})`);
    }
    if (ok) tenants.push(t);
  }
  tenants.sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  return { tenants, problems };
}

/** Largest tenant file read (a real one is well under 2 KiB); anything bigger is refused unread. */
export const MAX_TENANT_FILE_BYTES = 64 * 1024;

/**
 * What a directory entry named like a tenant file is, or why it is not one: only regular files with a
 * lower-case .yaml/.yml extension, no symbolic link (it could point anywhere: /dev/zero, outside the
 * folder), at most MAX_TENANT_FILE_BYTES, read with that cap (no unbounded read).
 */
function readTenantFile(full: string, name: string): { source: string } | { problem: string } {
  if (!/\.ya?ml$/.test(name)) return { problem: `tenant files end in lower-case .yaml or .yml; rename it to ${name.replace(/\.ya?ml$/i, ".yaml")}` };
  const st = fs.lstatSync(full);
  if (st.isSymbolicLink()) return { problem: "is a symbolic link; a tenant file must be a regular file in the tenants folder" };
  if (st.isDirectory()) return { problem: "is a directory, not a tenant file" };
  if (!st.isFile()) return { problem: "is not a regular file" };
  if (st.size > MAX_TENANT_FILE_BYTES) return { problem: `is ${st.size} bytes; a tenant file is at most ${MAX_TENANT_FILE_BYTES} bytes` };
  const fd = fs.openSync(full, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(MAX_TENANT_FILE_BYTES + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_TENANT_FILE_BYTES) return { problem: `is more than ${MAX_TENANT_FILE_BYTES} bytes` };
    const source = buf.subarray(0, n).toString("utf8");
    if (source.includes("\uFFFD")) return { problem: "is not valid UTF-8" };
    return { source };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads every *.yaml / *.yml file of a directory (not recursive) and validates them together. Entries
 * named like tenant files that cannot be one (directory, symbolic link, device, huge, upper-case
 * extension) each get one problem: none is silently skipped, none is read without a bound.
 */
export function loadTenantDir(dir: string, ctx: TenantContext, relativeTo = process.cwd()): LoadResult {
  if (!fs.existsSync(dir)) {
    return { tenants: [], problems: [{ file: path.relative(relativeTo, dir) || dir, line: 1, col: 1, message: "tenant directory does not exist" }] };
  }
  const sources: { file: string; source: string }[] = [];
  const problems: Problem[] = [];
  for (const name of fs.readdirSync(dir).filter((f) => /\.ya?ml$/i.test(f)).sort()) {
    const full = path.join(dir, name);
    const file = path.relative(relativeTo, full) || name;
    const r = readTenantFile(full, name);
    if ("problem" in r) problems.push({ file, line: 1, col: 1, message: r.problem });
    else sources.push({ file, source: r.source });
  }
  const loaded = loadTenantSources(sources, ctx);
  return { tenants: problems.length > 0 ? [] : loaded.tenants, problems: [...problems, ...loaded.problems].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line)) };
}
