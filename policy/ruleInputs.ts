// What every rule module shares: the shape of a rule, the resource types the pack looks at, and how a
// rule reads CrossGuard's plain-JSON inputs (UNKNOWN during a preview). Its own module so that the rule
// families (./rules, ./wallClients, ./stackRules...) import it without importing each other.

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

export function isKnown(v: unknown): boolean {
  return v !== undefined && v !== null && v !== UNKNOWN;
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== UNKNOWN ? v : undefined;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function obj(v: unknown): Inputs {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Inputs) : {};
}
