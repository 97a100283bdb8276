// Stack settings (Pulumi.<stack>.yaml, project namespace) read and validated with file:line:col messages.
// The Pulumi CLI can only type scalar config keys (see Pulumi.yaml), so structured settings are checked here.
import * as fs from "node:fs";
import { Document, isMap, Node } from "yaml";
import { isPinnedImage } from "./images";
import { isEmail } from "./tenants";
import {
  DnsSettings, Host, HOST_ROLES, HostRole, IMAGE_KEYS, ImageSet, MailSettings, NextcloudSettings, Problem,
  SharedServiceMode, StackSettings, WordPressSettings,
} from "./types";
import { YamlChecker } from "./yamlcheck";
import { GUARDED_IMAGES, ImageMajors } from "./majors";
import { atLeast, caddySecurityOfImage, PKCE_SINCE } from "./caddy/wall";

export const PROJECT = "service-factory";

/**
 * Secrets operators set with `pulumi config set --secret <key> …`. Everything else secret is generated
 * by the program (@pulumi/random, protected) and never typed by a person.
 */
export const OPERATOR_SECRETS = {
  postgresAdminPassword: "password of the PostgreSQL superuser the platform uses for Keycloak's database and the provisioning role (tenant databases are created by that role)",
  keycloakAdminPassword: "password of the Keycloak admin user (master realm) the keycloak provider logs in with",
  garageAdminToken: "bearer token of Garage's admin API (admin_token in garage.toml)",
  garageRpcSecret: "32-byte hex secret shared by the Garage nodes (rpc_secret in garage.toml)",
  garageS3AccessKeyId: "access key id of the platform's own Garage key, used through the S3 API for CORS rules and first pages",
  garageS3SecretAccessKey: "secret of the platform's own Garage key",
  dnsTsigSecret: "base64 TSIG secret for RFC 2136 updates (tsig-keygen output)",
  smtpPassword: "password of the SMTP relay account the services send mail with",
  redisAdminPassword: "password of the `default` (admin) user of every compute host's Redis; the tenants have their own users",
} as const;
export type OperatorSecret = keyof typeof OPERATOR_SECRETS;
export const OPERATOR_SECRET_KEYS = Object.keys(OPERATOR_SECRETS) as OperatorSecret[];

/**
 * The operator secrets a tenant shard's resources use (providers and tenant commands: Keycloak clients,
 * bucket keys and CORS, DNS, Nextcloud's mail and Redis users). The platform stack exports only these;
 * garageRpcSecret (the Garage nodes' own) and postgresAdminPassword never leave it: a shard creates its
 * tenant databases as the provisioning role, whose login the platform exports apart (postgresProvisioner).
 */
const PLATFORM_ONLY_SECRETS: readonly OperatorSecret[] = ["garageRpcSecret", "postgresAdminPassword"];
export const SHARD_SECRET_KEYS: readonly OperatorSecret[] = OPERATOR_SECRET_KEYS.filter((k) => !PLATFORM_ONLY_SECRETS.includes(k));

const SETTING_KEYS = [
  "domain", "acmeEmail", "tenantsDir", "shards", "realm", "edgeTls", "wallPkce", "hosts", "images", "services", "dns",
  "nextcloud", "wordpress", "mail", "migrations",
] as const;
/** How the edge gets its certificates: ACME (public hostnames) or Caddy's internal CA (a private stack). */
export const EDGE_TLS_MODES = ["acme", "internal"] as const;
const SHARED_SERVICES = ["postgres", "garage", "keycloak", "collabora"] as const;

export { isPinnedImage };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}
export function isIPv6(s: string): boolean {
  return /^[0-9a-f:]+$/i.test(s) && s.includes(":") && s.split("::").length <= 2;
}

/**
 * Validates the `config:` block of a stack file. `configNode` is the mapping under `config:`; keys of
 * other namespaces (pulumi:, docker:, …) are left alone.
 */
export function parseSettings(stack: string, c: YamlChecker, configNode: Node | null | undefined): StackSettings | undefined {
  if (!isMap(configNode)) {
    c.at(configNode, "the stack file must have a config: mapping");
    return undefined;
  }
  const ours = new Map<string, Node | null>();
  for (const pair of configNode.items) {
    const key = String((pair.key as { value?: unknown }).value ?? "");
    if (!key.startsWith(`${PROJECT}:`)) continue;
    const name = key.slice(PROJECT.length + 1);
    if ((OPERATOR_SECRET_KEYS as string[]).includes(name)) {
      if (!isMap(pair.value) || !(pair.value as { has(k: string): boolean }).has("secure")) {
        c.at(pair.value as Node, `${key} must be set with \`pulumi config set --secret ${name}\` (found a plain value)`);
      }
      continue;
    }
    if (!(SETTING_KEYS as readonly string[]).includes(name)) {
      c.at(pair.key as Node, `unknown setting "${key}"; known: ${SETTING_KEYS.join(", ")} and the secrets ${OPERATOR_SECRET_KEYS.join(", ")}`);
      continue;
    }
    ours.set(name, (pair.value as Node | null) ?? null);
  }
  const need = (name: string): Node | null => {
    if (!ours.has(name)) c.at(configNode, `missing setting ${PROJECT}:${name}`);
    return ours.get(name) ?? null;
  };

  const domain = c.string(need("domain"), "domain");
  const acmeEmailNode = need("acmeEmail");
  const acmeEmail = c.string(acmeEmailNode, "acmeEmail");
  if (acmeEmail !== undefined && !isEmail(acmeEmail)) c.at(acmeEmailNode, `acmeEmail "${acmeEmail}" is not a valid e-mail address`);
  const realm = ours.has("realm") ? c.string(ours.get("realm")!, "realm", { pattern: /^[a-z][a-z0-9-]*$/ }) : "factory";
  const shards = ours.has("shards") ? c.integer(ours.get("shards")!, "shards", { min: 0, max: 256 }) : 0;
  const edgeTlsNode = ours.get("edgeTls");
  const edgeTlsValue = ours.has("edgeTls") ? c.string(edgeTlsNode!, "edgeTls") : "acme";
  if (edgeTlsValue !== undefined && !(EDGE_TLS_MODES as readonly string[]).includes(edgeTlsValue)) {
    c.at(edgeTlsNode!, `edgeTls "${edgeTlsValue}" must be one of ${EDGE_TLS_MODES.join(", ")}`);
  }
  const edgeTls = edgeTlsValue as StackSettings["edgeTls"];
  // A YAML boolean, like every flag of the stack file: the string "false" is refused rather than read as
  // true (`pulumi config set --type bool`, or unquoted in the file).
  const wallPkce = ours.has("wallPkce") ? c.boolean(ours.get("wallPkce")!, "wallPkce") : true;

  const tenantsDir = ours.has("tenantsDir") ? c.string(ours.get("tenantsDir")!, "tenantsDir", { nonEmpty: false }) || undefined : undefined;
  const hosts = parseHosts(c, need("hosts"));
  const images = parseImages(c, need("images"));
  const hostNames = new Set((hosts ?? []).map((h) => h.name));
  const services = parseServices(c, need("services"), hosts ?? []);
  const dns = parseDns(c, need("dns"));
  const nextcloud = parseNextcloud(c, need("nextcloud"));
  const wordpress = parseWordPress(c, ours.get("wordpress") ?? null, ours.has("wordpress"));
  const mail = parseMail(c, need("mail"));
  const migrations: ImageMajors = {};
  if (ours.has("migrations")) {
    const m = c.map(ours.get("migrations")!, "migrations", GUARDED_IMAGES);
    for (const name of GUARDED_IMAGES) {
      if (m?.has(name)) {
        const v = c.integer(m.get(name)!.value, `migrations.${name}`, { min: 1 });
        if (v !== undefined) migrations[name] = v;
      }
    }
  }
  void hostNames;
  // The default wallPkce with an image that cannot send PKCE would refuse every wall login at Keycloak:
  // refused here, where the image's tag says its caddy-security release (a digest says nothing).
  const caddySecurity = wallPkce && images ? caddySecurityOfImage(images.caddy) : undefined;
  if (caddySecurity && !atLeast(caddySecurity, PKCE_SINCE)) {
    const imagesNode = ours.get("images");
    const caddyNode = isMap(imagesNode) ? (imagesNode.get("caddy", true) as Node | undefined) : undefined;
    c.at(ours.has("wallPkce") ? ours.get("wallPkce") : caddyNode ?? imagesNode,
      `images.caddy "${images!.caddy}" has caddy-security v${caddySecurity.join(".")}, which sends no PKCE, but wallPkce is on${ours.has("wallPkce") ? "" : " (the default)"}: Keycloak would refuse every wall login. Pin caddy-security v${PKCE_SINCE.join(".")} or later, or set service-factory:wallPkce: false (docs/keycloak.md)`);
  }

  if (!c.ok || !domain || !acmeEmail || !realm || shards === undefined || wallPkce === undefined || !hosts || !images || !services || !dns || !nextcloud || !wordpress || !mail) {
    return undefined;
  }
  return { stack, domain, acmeEmail, realm, edgeTls, wallPkce, shards, tenantsDir, hosts, images, services, dns, nextcloud, wordpress, mail, migrations };
}

function parseHosts(c: YamlChecker, node: Node | null): Host[] | undefined {
  const items = c.seq(node, "hosts");
  if (!items) return undefined;
  const out: Host[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const w = `hosts[${i}]`;
    const m = c.map(item, w, ["name", "docker", "roles", "weight", "privateAddress", "publicIPv4", "publicIPv6", "drain"], ["name", "docker", "roles", "privateAddress"]);
    if (!m) return;
    const name = m.has("name") ? c.string(m.get("name")!.value, `${w}.name`, { pattern: /^[a-z][a-z0-9-]{0,30}$/ }) : undefined;
    if (name && seen.has(name)) c.at(m.get("name")!.value, `${w}.name "${name}" is used by another host`);
    if (name) seen.add(name);
    const docker = m.has("docker") ? c.string(m.get("docker")!.value, `${w}.docker`, { pattern: /^(ssh:\/\/[^\s/]+|unix:\/\/\/\S+|tcp:\/\/\S+)$/, patternText: "ssh://user@host, unix:///path or tcp://host:port" }) : undefined;
    const roles: HostRole[] = [];
    if (m.has("roles")) {
      for (const r of c.stringList(m.get("roles")!.value, `${w}.roles`) ?? []) {
        if (!(HOST_ROLES as readonly string[]).includes(r.value)) c.at(r.node, `${w}.roles: "${r.value}" must be one of ${HOST_ROLES.join(", ")}`);
        else roles.push(r.value as HostRole);
      }
    }
    const weight = m.has("weight") ? c.integer(m.get("weight")!.value, `${w}.weight`, { min: 1, max: 1000 }) : 1;
    const addr = (key: string, check: (s: string) => boolean, kind: string) => {
      if (!m.has(key)) return undefined;
      const v = c.string(m.get(key)!.value, `${w}.${key}`);
      if (v !== undefined && !check(v)) c.at(m.get(key)!.value, `${w}.${key} "${v}" is not an ${kind} address`);
      return v;
    };
    const privateAddress = addr("privateAddress", (s) => isIPv4(s) || isIPv6(s), "IP");
    if (privateAddress === "0.0.0.0" || privateAddress === "::") c.at(m.get("privateAddress")!.value, `${w}.privateAddress must be a specific address, never the unspecified one`);
    const publicIPv4 = addr("publicIPv4", isIPv4, "IPv4");
    const publicIPv6 = addr("publicIPv6", isIPv6, "IPv6");
    const drain = m.has("drain") ? c.boolean(m.get("drain")!.value, `${w}.drain`) : false;
    if (name && docker && privateAddress && weight !== undefined && drain !== undefined) {
      out.push({ name, docker, roles, weight, privateAddress, publicIPv4, publicIPv6, drain });
    }
  });
  if (out.length > 0 && !out.some((h) => h.roles.includes("compute") && !h.drain)) c.at(node, "hosts: at least one compute host must not be drained");
  if (out.length > 0 && !out.some((h) => h.roles.includes("edge"))) c.at(node, "hosts: at least one host must have the edge role");
  return out;
}

function parseImages(c: YamlChecker, node: Node | null): ImageSet | undefined {
  const m = c.map(node, "images", IMAGE_KEYS, IMAGE_KEYS);
  if (!m) return undefined;
  const out: Partial<ImageSet> = {};
  for (const key of IMAGE_KEYS) {
    if (!m.has(key)) continue;
    const v = c.string(m.get(key)!.value, `images.${key}`);
    if (v === undefined) continue;
    if (!isPinnedImage(v)) c.at(m.get(key)!.value, `images.${key} "${v}" must be pinned to a version tag or digest (never latest)`);
    else out[key] = v;
  }
  return IMAGE_KEYS.every((k) => out[k]) ? (out as ImageSet) : undefined;
}

function parseServices(c: YamlChecker, node: Node | null, hosts: Host[]): StackSettings["services"] | undefined {
  const m = c.map(node, "services", SHARED_SERVICES, SHARED_SERVICES);
  if (!m) return undefined;
  const out: Partial<StackSettings["services"]> = {};
  const wantedRole: Record<(typeof SHARED_SERVICES)[number], HostRole> = { postgres: "storage", garage: "storage", keycloak: "compute", collabora: "compute" };
  for (const key of SHARED_SERVICES) {
    if (!m.has(key)) continue;
    const s = c.map(m.get(key)!.value, `services.${key}`, ["host", "endpoint"]);
    if (!s) continue;
    if (s.has("host") === s.has("endpoint")) {
      c.at(m.get(key)!.value, `services.${key} needs exactly one of host (deploy it on that host) or endpoint (use an existing server)`);
      continue;
    }
    let mode: SharedServiceMode | undefined;
    if (s.has("host")) {
      const host = c.string(s.get("host")!.value, `services.${key}.host`);
      const h = hosts.find((x) => x.name === host);
      if (host !== undefined && !h) c.at(s.get("host")!.value, `services.${key}.host "${host}" is not in the inventory`);
      else if (h && !h.roles.includes(wantedRole[key])) c.at(s.get("host")!.value, `services.${key}.host "${host}" lacks the ${wantedRole[key]} role`);
      else if (host) mode = { mode: "deploy", host };
    } else {
      const endpoint = c.string(s.get("endpoint")!.value, `services.${key}.endpoint`, { pattern: /^(https?:\/\/)?[a-z0-9.-]+(:\d+)?\/?$/i, patternText: "host:port or a URL" });
      if (endpoint) mode = { mode: "external", endpoint };
    }
    if (mode) out[key] = mode;
  }
  return SHARED_SERVICES.every((k) => out[k]) ? (out as StackSettings["services"]) : undefined;
}

function parseDns(c: YamlChecker, node: Node | null): DnsSettings | undefined {
  const m = c.map(node, "dns", ["server", "port", "tsigKeyName", "tsigAlgorithm", "ttl", "webEndpoints"], ["server", "tsigKeyName", "webEndpoints"]);
  if (!m) return undefined;
  const server = m.has("server") ? c.string(m.get("server")!.value, "dns.server") : undefined;
  const port = m.has("port") ? c.integer(m.get("port")!.value, "dns.port", { min: 1, max: 65535 }) : 53;
  const tsigKeyName = m.has("tsigKeyName") ? c.string(m.get("tsigKeyName")!.value, "dns.tsigKeyName", { pattern: /^[a-z0-9][a-z0-9.-]*$/ }) : undefined;
  const tsigAlgorithm = m.has("tsigAlgorithm") ? c.oneOf(m.get("tsigAlgorithm")!.value, "dns.tsigAlgorithm", ["hmac-sha256", "hmac-sha512"] as const) : "hmac-sha256";
  const ttl = m.has("ttl") ? c.integer(m.get("ttl")!.value, "dns.ttl", { min: 30, max: 86400 }) : 300;
  let webEndpoints: DnsSettings["webEndpoints"] | undefined;
  if (m.has("webEndpoints")) {
    const w = c.map(m.get("webEndpoints")!.value, "dns.webEndpoints", ["ipv4", "ipv6"], ["ipv4"]);
    if (w) {
      const list = (key: "ipv4" | "ipv6", check: (s: string) => boolean) =>
        (w.has(key) ? c.stringList(w.get(key)!.value, `dns.webEndpoints.${key}`) ?? [] : []).filter((x) => {
          if (!check(x.value)) c.at(x.node, `dns.webEndpoints.${key}: "${x.value}" is not an ${key === "ipv4" ? "IPv4" : "IPv6"} address`);
          return check(x.value);
        }).map((x) => x.value);
      webEndpoints = { ipv4: list("ipv4", isIPv4), ipv6: list("ipv6", isIPv6) };
      if (webEndpoints.ipv4.length === 0) c.at(m.get("webEndpoints")!.value, "dns.webEndpoints.ipv4 needs at least one address");
    }
  }
  if (!server || port === undefined || !tsigKeyName || !tsigAlgorithm || ttl === undefined || !webEndpoints) return undefined;
  return { server, port, tsigKeyName, tsigAlgorithm, ttl, webEndpoints };
}

function parseNextcloud(c: YamlChecker, node: Node | null): NextcloudSettings | undefined {
  const m = c.map(node, "nextcloud", ["version", "cronIntervalMinutes", "apps"], ["version"]);
  if (!m) return undefined;
  const version = m.has("version") ? c.string(m.get("version")!.value, "nextcloud.version", { pattern: /^\d+\.\d+\.\d+$/, patternText: "MAJOR.MINOR.PATCH" }) : undefined;
  const cronIntervalMinutes = m.has("cronIntervalMinutes") ? c.integer(m.get("cronIntervalMinutes")!.value, "nextcloud.cronIntervalMinutes", { min: 1, max: 60 }) : 5;
  const apps = m.has("apps") ? (c.stringList(m.get("apps")!.value, "nextcloud.apps") ?? []).map((a) => a.value) : ["user_oidc", "richdocuments"];
  if (!version || cronIntervalMinutes === undefined) return undefined;
  return { version, cronIntervalMinutes, apps };
}

function parseWordPress(c: YamlChecker, node: Node | null, present: boolean): WordPressSettings | undefined {
  if (!present) return { plugins: ["staatic"], themes: [] };
  const m = c.map(node, "wordpress", ["plugins", "themes"]);
  if (!m) return undefined;
  const list = (key: string) => (m.has(key) ? (c.stringList(m.get(key)!.value, `wordpress.${key}`) ?? []).map((x) => x.value) : []);
  const plugins = list("plugins");
  if (!plugins.some((p) => p === "staatic" || p.startsWith("staatic@"))) c.at(node, "wordpress.plugins must include staatic (it publishes the sites to Garage)");
  return { plugins, themes: list("themes") };
}

function parseMail(c: YamlChecker, node: Node | null): MailSettings | undefined {
  const m = c.map(node, "mail", ["host", "port", "from", "bulkHost"], ["host", "from"]);
  if (!m) return undefined;
  const host = m.has("host") ? c.string(m.get("host")!.value, "mail.host") : undefined;
  const port = m.has("port") ? c.integer(m.get("port")!.value, "mail.port", { min: 1, max: 65535 }) : 587;
  const from = m.has("from") ? c.string(m.get("from")!.value, "mail.from") : undefined;
  if (from !== undefined && !isEmail(from)) c.at(m.get("from")!.value, `mail.from "${from}" is not a valid e-mail address`);
  const bulkHost = m.has("bulkHost") ? c.string(m.get("bulkHost")!.value, "mail.bulkHost") : undefined;
  if (!host || port === undefined || !from) return undefined;
  return { host, port, from, bulkHost };
}

export interface SettingsResult {
  settings?: StackSettings;
  problems: Problem[];
}

/** Reads and validates `Pulumi.<stack>.yaml`. */
export function loadStackFile(stack: string, file = `Pulumi.${stack}.yaml`, displayName = file): SettingsResult {
  if (!fs.existsSync(file)) return { problems: [{ file: displayName, line: 1, col: 1, message: `stack file not found` }] };
  return parseStackSource(stack, displayName, fs.readFileSync(file, "utf8"));
}

export function parseStackSource(stack: string, file: string, source: string): SettingsResult {
  const c = new YamlChecker(file, source);
  if (!c.ok) return { problems: c.problems };
  const top = c.doc.contents as Node;
  const configNode = isMap(top) ? (top.get("config", true) as Node | undefined) : undefined;
  const settings = parseSettings(stack, c, configNode);
  return { settings: c.ok ? settings : undefined, problems: c.problems };
}

/** Builds settings from a plain config object (values as `pulumi config` holds them), without positions. */
export function parseConfigObject(stack: string, config: Record<string, unknown>): SettingsResult {
  const doc = new Document({ config });
  return parseStackSource(stack, `Pulumi.${stack}.yaml`, doc.toString());
}
