// The factory's policies as pure functions of (type, inputs, options): no Pulumi engine, no SDK import, so
// the unit tests (and the CI data-loss gate) call them directly. policy/index.ts wraps each one into a
// CrossGuard ResourceValidationPolicy. Inputs are plain JSON as CrossGuard hands them over (secrets
// unwrapped); during a preview a value may still be unknown: UNKNOWN below, or absent.

import { isPinnedImage } from "../src/images";

/** What CrossGuard puts in place of a value that is not known yet during a preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Inputs = Record<string, unknown>;

/** The resource options a rule needs (CrossGuard's `args.opts` plus the logical name). */
export interface RuleOptions {
  /** `opts.protect` of the resource. */
  protect: boolean;
  /** Pulumi logical name of the resource (`args.name`), used to recognise the Nextcloud updater. */
  name?: string;
  /** URN of the resource's parent (`args.opts.parent`), used to recognise an OIDC client's secret. */
  parent?: string;
}

/** One policy: a name, a description for operators, and the check (returns one message per violation). */
export interface Rule {
  name: string;
  description: string;
  check(type: string, inputs: Inputs, options: RuleOptions): string[];
}

export const TYPES = {
  container: "docker:index/container:Container",
  remoteImage: "docker:index/remoteImage:RemoteImage",
  image: "docker:index/image:Image",
  volume: "docker:index/volume:Volume",
  pgRole: "postgresql:index/role:Role",
  pgDatabase: "postgresql:index/database:Database",
  randomPassword: "random:index/randomPassword:RandomPassword",
  kcRealm: "keycloak:index/realm:Realm",
  kcGroup: "keycloak:index/group:Group",
  kcClient: "keycloak:openid/client:Client",
  kcClientPolicy: "keycloak:index/realmClientPolicyProfilePolicy:RealmClientPolicyProfilePolicy",
  dynamic: "pulumi-nodejs:dynamic:Resource",
  remoteCommand: "command:remote:Command",
  localCommand: "command:local:Command",
} as const;

/**
 * Component type whose RandomPassword child is an OIDC client secret (components/identity.ts
 * KeycloakClient): not data (a new one reaches its consumers in the same update) and not protected on
 * purpose, since archiving a tenant must remove its clients. It is registered with retainOnDelete, which
 * CrossGuard (@pulumi/policy 1.x PolicyResourceOptions) does not show to policies, so the rule recognises
 * the secret by its parent instead.
 */
export const CLIENT_SECRET_PARENT_TYPE = "factory:identity:KeycloakClient";

/** Keycloak client attribute (extraConfig) marking a caddy-security wall client (src/caddy/wall.ts). */
export const WALL_CLIENT_ATTRIBUTE = "factory.wall";
/** Path under which every wall callback lives (src/caddy/wall.ts WALL_AUTH_PATH). */
export const WALL_CALLBACK_PREFIX = "/_wall/";

/** True when a URN's resource type (the last type of its type chain) is `type`. */
function urnType(urn: string | undefined): string | undefined {
  const parts = urn?.split("::");
  return parts && parts.length >= 4 ? parts[2].split("$").pop() : undefined;
}

/** True for an exact https wall callback: no wildcard, query, fragment or user info; canonical; under /_wall/. */
export function isWallCallbackUri(v: unknown): boolean {
  if (typeof v !== "string" || v.includes("*") || /\s/.test(v)) return false;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return false;
  }
  return u.protocol === "https:" && u.href === v && !u.search && !u.hash && !u.username && !u.password
    && u.pathname.startsWith(WALL_CALLBACK_PREFIX);
}

/** Ports of databases and caches that must never be published on a public or unspecified address. */
export const DATA_PORTS: readonly number[] = [5432, 3306, 6379, 3901, 3903];

/** Substring of the Nextcloud install volume's name, and of the one resource allowed to write it. */
export const INSTALL_VOLUME_MARK = "nextcloud-install";
export const UPDATER_MARK = "updater";

/**
 * True for the name of a shared Nextcloud install volume: it contains `nextcloud-install`, or it is named
 * after the Nextcloud version it holds (`<stack>-nextcloud-31.0.9-<hash>`, components/nextcloud.ts).
 */
export function isInstallVolumeName(name: string): boolean {
  return name.includes(INSTALL_VOLUME_MARK) || /(^|[^a-z0-9])nextcloud-\d+\.\d+\.\d+/.test(name);
}

const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  TYPES.pgRole, TYPES.pgDatabase, TYPES.volume, TYPES.randomPassword, TYPES.kcRealm, TYPES.kcGroup,
]);

function isKnown(v: unknown): boolean {
  return v !== undefined && v !== null && v !== UNKNOWN;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== UNKNOWN ? v : undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function obj(v: unknown): Inputs {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Inputs) : {};
}

/**
 * The kind of a Garage dynamic resource (components/garageBucket.ts): its `kind` input when one is set,
 * else recognised from its inputs: `permissions` = a bucket/key grant, `corsRules` = a bucket's CORS
 * configuration, `content` next to the S3 connection (`s3Url`) = a first object, `globalAlias` (or
 * `bucketName`) = a bucket, `keyName`, or `name` next to the admin connection (`adminUrl`/`adminToken`) = a key.
 * undefined: not a Garage resource.
 */
export function garageKind(type: string, inputs: Inputs): string | undefined {
  if (type !== TYPES.dynamic) return undefined;
  const kind = str(inputs.kind);
  if (kind) return kind;
  if ("permissions" in inputs) return "grant";
  if ("corsRules" in inputs) return "cors";
  if ("s3Url" in inputs && "content" in inputs) return "object";
  if ("globalAlias" in inputs || "bucketName" in inputs) return "bucket";
  const admin = "adminUrl" in inputs || "adminToken" in inputs;
  if ("keyName" in inputs || (admin && "name" in inputs)) return "key";
  return undefined;
}

/** Logical-name suffix of the grant that gives the platform's own S3 key owner on a bucket (CORS needs it). */
export const PLATFORM_GRANT_SUFFIX = "-platform-grant";

/** True for a resource whose deletion loses data or credentials: it must be protected. */
export function isStateful(type: string, inputs: Inputs = {}): boolean {
  // The Nextcloud install volume holds only code copied from the pinned image: each upgrade replaces it
  // with a new one (named after the version); nothing is lost when the old one goes.
  if (type === TYPES.volume && isInstallVolumeName(str(inputs.name) ?? "")) return false;
  if (STATEFUL_TYPES.has(type)) return true;
  const kind = garageKind(type, inputs);
  return kind === "bucket" || kind === "key";
}

export { isPinnedImage };

const V4_PRIVATE: readonly [number, number, number][] = [
  // [first octet, second-octet low, second-octet high]
  [10, 0, 255],
  [172, 16, 31],
  [192, 168, 168],
  [127, 0, 255],
];

/** True for an RFC 1918, IPv6 ULA (fc00::/7) or loopback address. Anything else counts as public. */
export function isPrivateAddress(ip: string): boolean {
  const a = ip.trim().replace(/^\[|\]$/g, "").toLowerCase();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4) {
    const o = v4.slice(1).map(Number);
    if (o.some((n) => n > 255)) return false;
    return V4_PRIVATE.some(([first, lo, hi]) => o[0] === first && o[1] >= lo && o[1] <= hi);
  }
  if (!a.includes(":")) return false;
  if (a === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return isPrivateAddress(mapped[1]);
  return /^f[cd][0-9a-f]{2}:/.test(a);
}

/** True when a published port binds every interface (docker's default when `ip` is empty). */
export function isUnspecifiedAddress(ip: unknown): boolean {
  if (ip === undefined || ip === null) return true;
  if (typeof ip !== "string") return false;
  const a = ip.trim().replace(/^\[|\]$/g, "");
  return a === "" || a === "0.0.0.0" || a === "::" || a === "0:0:0:0:0:0:0:0";
}

function containerLabel(inputs: Inputs, options: RuleOptions): string {
  return [options.name, str(inputs.name)].filter(Boolean).join(" / ") || "container";
}

function isUpdater(inputs: Inputs, options: RuleOptions): boolean {
  return [options.name, str(inputs.name)].some((n) => n !== undefined && n.includes(UPDATER_MARK));
}

/** Mount specs of a docker command line that name the install volume, with whether each is read-only. */
export function commandInstallMounts(script: string): { spec: string; readOnly: boolean }[] {
  const out: { spec: string; readOnly: boolean }[] = [];
  const re = /(?:^|\s)(-v|--volume|--mount)(?:=|\s+)(["']?)(\S+?)\2(?=\s|$)/g;
  for (let m = re.exec(script); m; m = re.exec(script)) {
    const spec = m[3];
    if (!isInstallVolumeName(spec)) continue;
    if (m[1] === "--mount") {
      const fields = spec.split(",").map((f) => f.trim().toLowerCase());
      out.push({ spec, readOnly: fields.some((f) => f === "readonly" || f === "ro" || f === "readonly=true" || f === "ro=true" || f === "readonly=1") });
    } else {
      const parts = spec.split(":");
      const mode = parts.length >= 3 ? parts[parts.length - 1].split(",") : [];
      out.push({ spec, readOnly: mode.includes("ro") });
    }
  }
  return out;
}

export const RULES: readonly Rule[] = [
  {
    name: "container-no-privileges",
    description: "Docker containers are never privileged and always run with no-new-privileges:true.",
    check(type, inputs, options) {
      if (type !== TYPES.container) return [];
      const out: string[] = [];
      const label = containerLabel(inputs, options);
      if (inputs.privileged === true) out.push(`container ${label} is privileged`);
      const opts = list(inputs.securityOpts).map((s) => (typeof s === "string" ? s.replace(/\s+/g, "") : s));
      if (!opts.includes("no-new-privileges:true") && !opts.includes("no-new-privileges=true") && !opts.includes(UNKNOWN)) {
        out.push(`container ${label} lacks securityOpts "no-new-privileges:true"`);
      }
      return out;
    },
  },
  {
    name: "image-pinned",
    description: "Images are pinned: a tag other than latest, or a digest (containers, remote and built images).",
    check(type, inputs) {
      const field = type === TYPES.container ? "image" : type === TYPES.remoteImage ? "name" : type === TYPES.image ? "imageName" : undefined;
      if (!field) return [];
      const ref = str(inputs[field]);
      // Unknown during a preview (e.g. a RemoteImage's imageId): the RemoteImage itself is checked.
      if (ref === undefined) return isKnown(inputs[field]) ? [`${field} is not a string`] : [];
      return isPinnedImage(ref) ? [] : [`image "${ref}" is not pinned (use an explicit version tag or a digest, never latest)`];
    },
  },
  {
    name: "nextcloud-install-read-only",
    description: `The Nextcloud install volume (name contains "${INSTALL_VOLUME_MARK}" or nextcloud-<version>) is mounted read-only everywhere except by the updater.`,
    check(type, inputs, options) {
      if (isUpdater(inputs, options)) return [];
      const out: string[] = [];
      if (type === TYPES.container) {
        const label = containerLabel(inputs, options);
        for (const v of list(inputs.volumes).map(obj)) {
          const source = str(v.volumeName) ?? str(v.hostPath) ?? "";
          if (isInstallVolumeName(source) && v.readOnly !== true) out.push(`container ${label} mounts ${source} at ${String(v.containerPath)} read-write`);
        }
        for (const m of list(inputs.mounts).map(obj)) {
          const source = str(m.source) ?? "";
          if (isInstallVolumeName(source) && m.readOnly !== true) out.push(`container ${label} mounts ${source} at ${String(m.target)} read-write`);
        }
      } else if (type === TYPES.remoteCommand || type === TYPES.localCommand) {
        for (const field of ["create", "update", "delete"]) {
          const script = str(inputs[field]);
          if (!script) continue;
          for (const m of commandInstallMounts(script)) {
            if (!m.readOnly) out.push(`command ${options.name ?? ""} (${field}) mounts ${m.spec} read-write`);
          }
        }
      }
      return out;
    },
  },
  {
    name: "stateful-protected",
    description: `Stateful resources (databases, roles, volumes, generated passwords, realm, groups, Garage buckets and keys) are protected; an OIDC client's secret (RandomPassword under ${CLIENT_SECRET_PARENT_TYPE}) is exempt.`,
    check(type, inputs, options) {
      if (!isStateful(type, inputs) || options.protect) return [];
      if (type === TYPES.randomPassword && urnType(options.parent) === CLIENT_SECRET_PARENT_TYPE) return [];
      return [`${type}${options.name ? ` ${options.name}` : ""} holds state and must be registered with protect: true`];
    },
  },
  {
    name: "oidc-client-hardened",
    description: `Keycloak OIDC clients: exact redirect URIs (no wildcard), PKCE S256, no direct access grants. Only a caddy-security wall client (extraConfig ${WALL_CLIENT_ATTRIBUTE}=true whose redirect URIs are all exact https callbacks under ${WALL_CALLBACK_PREFIX}) may go without PKCE, and only in a stack whose realm exempts the walls (stack rule wall-pkce-exemption).`,
    check(type, inputs) {
      if (type !== TYPES.kcClient) return [];
      const out: string[] = [];
      for (const field of ["validRedirectUris", "validPostLogoutRedirectUris", "webOrigins"]) {
        for (const uri of list(inputs[field])) {
          if (typeof uri === "string" && uri.includes("*")) out.push(`${field} contains the wildcard URI "${uri}"`);
        }
      }
      const pkce = inputs.pkceCodeChallengeMethod;
      const wall = obj(inputs.extraConfig)[WALL_CLIENT_ATTRIBUTE] === "true";
      const redirects = list(inputs.validRedirectUris);
      const wallExempt = wall && (pkce === undefined || pkce === null || pkce === "")
        && redirects.length > 0 && redirects.every(isWallCallbackUri);
      if (pkce !== "S256" && pkce !== UNKNOWN && !wallExempt) {
        out.push(wall
          ? `pkceCodeChallengeMethod is ${JSON.stringify(pkce ?? null)}: a wall client (${WALL_CLIENT_ATTRIBUTE}=true) may go without PKCE only when every redirect URI is an exact https callback under ${WALL_CALLBACK_PREFIX}, else it must be "S256"`
          : `pkceCodeChallengeMethod is ${JSON.stringify(pkce ?? null)}, must be "S256"`);
      }
      if (inputs.directAccessGrantsEnabled === true) out.push("directAccessGrantsEnabled must be false");
      return out;
    },
  },
  {
    name: "garage-key-not-owner",
    description: `Garage access keys are never granted the owner permission on a bucket (owner can delete it); only the platform's own key may be, through a grant named *${PLATFORM_GRANT_SUFFIX}.`,
    check(type, inputs, options) {
      if (type !== TYPES.dynamic) return [];
      if (options.name?.endsWith(PLATFORM_GRANT_SUFFIX)) return [];
      const out: string[] = [];
      const walk = (v: unknown, path: string): void => {
        if (Array.isArray(v)) {
          v.forEach((x, i) => {
            if (x === "owner" && /permission/i.test(path)) out.push(`${path}[${i}] grants "owner"`);
            walk(x, `${path}[${i}]`);
          });
        } else if (v && typeof v === "object") {
          for (const [k, x] of Object.entries(v as Inputs)) {
            if (k === "__provider") continue;
            if (k === "owner" && x === true) out.push(`${path ? `${path}.` : ""}owner is true`);
            walk(x, path ? `${path}.${k}` : k);
          }
        }
      };
      // Only the permission-like inputs are read (others may be unknown during a preview).
      for (const key of Object.keys(inputs).filter((k) => /perm|owner|allow|grant/i.test(k))) {
        if (key === "owner" && inputs[key] === true) out.push("owner is true");
        walk(inputs[key], key);
      }
      return out.map((m) => `Garage ${garageKind(type, inputs) ?? "resource"}: ${m}`);
    },
  },
  {
    name: "data-ports-private",
    description: `Database and cache ports (${DATA_PORTS.join(", ")}) are only published on private (RFC 1918, ULA) or loopback addresses.`,
    check(type, inputs, options) {
      if (type !== TYPES.container) return [];
      const out: string[] = [];
      for (const p of list(inputs.ports).map(obj)) {
        const internal = Number(p.internal);
        const external = p.external === undefined ? internal : Number(p.external);
        if (!DATA_PORTS.includes(internal) && !DATA_PORTS.includes(external)) continue;
        if (p.ip === UNKNOWN) continue;
        const ip = p.ip;
        if (isUnspecifiedAddress(ip)) {
          out.push(`container ${containerLabel(inputs, options)} publishes port ${internal} on every address (set ip to a private address)`);
        } else if (typeof ip === "string" && !isPrivateAddress(ip)) {
          out.push(`container ${containerLabel(inputs, options)} publishes port ${internal} on the public address ${ip}`);
        }
      }
      return out;
    },
  },
];

/** One resource of a stack, as a stack rule sees it (CrossGuard's PolicyResource: type, name, props, urn). */
export interface StackResource {
  type: string;
  name: string;
  inputs: Inputs;
  urn?: string;
}

/** A rule over the whole stack: what one resource's inputs cannot tell (a client against its realm's policies). */
export interface StackRule {
  name: string;
  description: string;
  check(resources: readonly StackResource[]): { message: string; urn?: string }[];
}

/**
 * True for a realm client policy that exempts the walls: enabled, with a `client-attributes` condition of
 * negative logic on factory.wall=true (src/keycloak/definitions.ts clientPolicy(false), what the program
 * registers only with `service-factory:wallPkce: false`). Configuration values are strings, as the
 * provider takes them; `attributes` is the JSON list of key/value pairs Keycloak reads.
 */
export function exemptsWalls(inputs: Inputs): boolean {
  if (inputs.enabled === false) return false;
  return list(inputs.conditions).map(obj).some((c) => {
    const conf = obj(c.configuration);
    if (c.name !== "client-attributes" || conf["is-negative-logic"] !== "true" || typeof conf.attributes !== "string") return false;
    try {
      return list(JSON.parse(conf.attributes)).map(obj).some((a) => a.key === WALL_CLIENT_ATTRIBUTE && a.value === "true");
    } catch {
      return false;
    }
  });
}

/** A client that takes oidc-client-hardened's wall exemption: marked factory.wall=true, no PKCE method. */
function goesWithoutPkce(inputs: Inputs): boolean {
  const pkce = inputs.pkceCodeChallengeMethod;
  return obj(inputs.extraConfig)[WALL_CLIENT_ATTRIBUTE] === "true" && (pkce === undefined || pkce === null || pkce === "");
}

export const STACK_RULES: StackRule[] = [
  {
    name: "wall-pkce-exemption",
    description: `A wall client without PKCE (${WALL_CLIENT_ATTRIBUTE}=true) only in a stack whose realm exempts the walls from PKCE (a client policy with a client-attributes condition on ${WALL_CLIENT_ATTRIBUTE}=true, registered only with service-factory:wallPkce: false); with the default wallPkce: true every client requires PKCE S256.`,
    check(resources) {
      if (resources.some((r) => r.type === TYPES.kcClientPolicy && exemptsWalls(r.inputs))) return [];
      return resources.filter((r) => r.type === TYPES.kcClient && goesWithoutPkce(r.inputs)).map((r) => ({
        urn: r.urn,
        message: `Keycloak client ${str(r.inputs.clientId) ?? r.name} goes without PKCE (${WALL_CLIENT_ATTRIBUTE}=true), but no client policy of this stack exempts the walls: the realm requires PKCE S256 of every client (service-factory:wallPkce is on) and would refuse its logins`,
      }));
    },
  },
];

/** Every violation of every stack rule, as "<rule>: <message>". */
export function stackViolations(resources: readonly StackResource[]): string[] {
  return STACK_RULES.flatMap((r) => r.check(resources).map((v) => `${r.name}: ${v.message}`));
}

/** Every violation of every rule, as "<rule>: <message>" (what the tests and the pack report). */
export function violations(type: string, inputs: Inputs, options: RuleOptions): string[] {
  return RULES.flatMap((r) => r.check(type, inputs, options).map((m) => `${r.name}: ${m}`));
}
