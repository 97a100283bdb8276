// The factory's policies as pure functions of (type, inputs, options): no Pulumi engine, no SDK import, so
// the unit tests (and the CI data-loss gate) call them directly. policy/index.ts wraps each one into a
// CrossGuard ResourceValidationPolicy. Inputs are plain JSON as CrossGuard hands them over (secrets
// unwrapped); during a preview a value may still be unknown: UNKNOWN (./ruleInputs), or absent.
// What more than one rule reads lives in sibling modules (./ruleInputs, ./installVolume, ./addresses,
// ./wallClients, ./stackRules), which never import this one; this module keeps the per-resource RULES
// and re-exports every name, so the pack, the tests and the CI gate import one module.

import { isPinnedImage } from "../src/images";
import { DATA_PORTS, isPrivateAddress, isUnspecifiedAddress } from "./addresses";
import { commandInstallMounts, INSTALL_VOLUME_MARK, isInstallVolumeName, isUpdater } from "./installVolume";
import { Inputs, isKnown, list, obj, Rule, RuleOptions, str, TYPES, UNKNOWN } from "./ruleInputs";
import { isWallCallbackUri, WALL_CALLBACK_PREFIX, WALL_CLIENT_ATTRIBUTE } from "./wallClients";

export { DATA_PORTS, isPrivateAddress, isUnspecifiedAddress } from "./addresses";
export { commandInstallMounts, INSTALL_VOLUME_MARK, isInstallVolumeName, UPDATER_MARK } from "./installVolume";
export { TYPES, UNKNOWN } from "./ruleInputs";
export type { Inputs, Rule, RuleOptions } from "./ruleInputs";
export { STACK_RULES, stackViolations } from "./stackRules";
export type { StackResource, StackRule } from "./stackRules";
export { exemptsWalls, isWallCallbackUri, WALL_CALLBACK_PREFIX, WALL_CLIENT_ATTRIBUTE } from "./wallClients";

/**
 * Component type whose RandomPassword child is an OIDC client secret (components/keycloakClient.ts
 * KeycloakClient): not data (a new one reaches its consumers in the same update) and not protected on
 * purpose, since archiving a tenant must remove its clients. It is registered with retainOnDelete, which
 * CrossGuard (@pulumi/policy 1.x PolicyResourceOptions) does not show to policies, so the rule recognises
 * the secret by its parent instead.
 */
export const CLIENT_SECRET_PARENT_TYPE = "factory:identity:KeycloakClient";

/** True when a URN's resource type (the last type of its type chain) is `type`. */
function urnType(urn: string | undefined): string | undefined {
  const parts = urn?.split("::");
  return parts && parts.length >= 4 ? parts[2].split("$").pop() : undefined;
}

const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  TYPES.pgRole, TYPES.pgDatabase, TYPES.volume, TYPES.randomPassword, TYPES.kcRealm, TYPES.kcGroup,
]);

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

function containerLabel(inputs: Inputs, options: RuleOptions): string {
  return [options.name, str(inputs.name)].filter(Boolean).join(" / ") || "container";
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

/** Every violation of every rule, as "<rule>: <message>" (what the tests and the pack report). */
export function violations(type: string, inputs: Inputs, options: RuleOptions): string[] {
  return RULES.flatMap((r) => r.check(type, inputs, options).map((m) => `${r.name}: ${m}`));
}
