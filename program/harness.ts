// Runs the real program under Pulumi's mocks and records every resource it registers, with the options
// the mocks API does not hand to newResource (parent, protect, dependsOn, provider, retainOnDelete).
// Shared by the offline plan, the unit tests and the benchmark.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { OPERATOR_SECRET_KEYS, OperatorSecret, PROJECT } from "../src/settings";
import { settingsStackFor } from "../src/shards";
import { garageMockState } from "../src/garage/mocks";

export const SECRET_MARK = "[secret]";

export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  /** Slug of the tenant the resource belongs to (itself or an ancestor is a tenant component), or null. */
  tenant: string | null;
  parent: string | null;
  protect: boolean;
  retainOnDelete: boolean;
  /** The resource must be deleted before its replacement is created (fixed names, one-per-host users). */
  deleteBeforeReplace: boolean;
  /** Input properties the engine keeps from the state instead of the program (`ignoreChanges`). */
  ignoreChanges?: string[];
  custom: boolean;
  provider: string | null;
  dependsOn: string[];
  /** Inputs as registered; secret values are wrapped as { secret: value } (see revealSecrets/maskSecrets). */
  inputs: Record<string, unknown>;
  aliases: number;
}

export interface HarnessOptions {
  stack: string;
  projectDir?: string;
  stackFile?: string;
  tenantsDir?: string;
  /** Secret values to inject (tests use known values to prove they never leak); defaults to placeholders. */
  secrets?: Partial<Record<OperatorSecret, string>>;
  /** Extra config (project namespace keys without the prefix), e.g. a shard index. */
  config?: Record<string, string>;
  /** Runs this instead of the whole program (a component test); defaults to runFactory. */
  program?: () => unknown;
  /** Stack whose settings file a shard uses (default: derived from the stack name). */
  settingsStack?: string;
  /**
   * Benchmark mode: record no inputs (only identities and options) and keep dynamic providers' serialized
   * code out of the mock's state; `providerCodeBytes` still counts that code. Default false.
   */
  lean?: boolean;
  /** Outputs of other stacks, by stack name, served to `pulumi.StackReference` (sharded stacks). */
  stackOutputs?: Record<string, Record<string, unknown>>;
}

export interface HarnessResult {
  stack: string;
  /** Bytes of dynamic providers' serialized code the registered resources carry (what state stores per resource). */
  providerCodeBytes: number;
  resources: RecordedResource[];
  outputs: unknown;
}

const SECRET_SIG = pulumi.runtime.specialSecretSig;
const SIG_KEY = pulumi.runtime.specialSigKey;

/** Marks secret values as { [SECRET_MARK]: value } so later steps can mask or inspect them. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[SIG_KEY] === SECRET_SIG) return { [SECRET_MARK]: normalize(obj.value) };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = normalize(v);
    return out;
  }
  return value;
}

/** Walks plain data, handing each secret wrapper's content to `onSecret` and keeping everything else. */
function mapSecrets(value: unknown, onSecret: (inner: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => mapSecrets(v, onSecret));
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (SECRET_MARK in obj && Object.keys(obj).length === 1) return onSecret(obj[SECRET_MARK]);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = mapSecrets(v, onSecret);
    return out;
  }
  return value;
}

/** Replaces every secret value by the string "[secret]". */
export function maskSecrets(value: unknown): unknown {
  return mapSecrets(value, () => SECRET_MARK);
}

/** The inputs with secret wrappers removed (what the provider would receive). */
export function revealSecrets(value: unknown): unknown {
  return mapSecrets(value, revealSecrets);
}

/** Config of a stack file as `pulumi config` would hand it to the program (objects as JSON strings). */
export function stackConfig(stackFile: string): Record<string, string> {
  const doc = parse(fs.readFileSync(stackFile, "utf8")) as { config?: Record<string, unknown> } | null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc?.config ?? {})) {
    if (v && typeof v === "object" && "secure" in (v as object)) continue; // undecryptable here; placeholders below
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

function placeholderSecrets(): Record<OperatorSecret, string> {
  const out = {} as Record<OperatorSecret, string>;
  for (const key of OPERATOR_SECRET_KEYS) out[key] = `placeholder-${key}`;
  // The TSIG secret must at least be base64 for the code that renders key files.
  out.dnsTsigSecret = Buffer.from("placeholder-dnsTsigSecret-32bytes!").toString("base64");
  return out;
}

/** Fake but plausible provider state, so components that read outputs (ids, keys) keep working. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const state: Record<string, unknown> = { ...inputs };
  if (type === "random:index/randomPassword:RandomPassword" || type === "random:index/randomString:RandomString") {
    state.result = { [SIG_KEY]: SECRET_SIG, value: `mock-${name}-${"x".repeat(Number(inputs.length ?? 16))}` };
  }
  if (type === "keycloak:openid/client:Client") state.clientSecret = { [SIG_KEY]: SECRET_SIG, value: `mock-secret-${name}` };
  if (type === "docker:index/volume:Volume" || type === "docker:index/network:Network") state.name = inputs.name ?? name;
  if (type === "pulumi-nodejs:dynamic:Resource") Object.assign(state, garageMockState(name, inputs, (value) => ({ [SIG_KEY]: SECRET_SIG, value })));
  return state;
}

export async function runUnderMocks(opts: HarnessOptions): Promise<HarnessResult> {
  const recorded: RecordedResource[] = [];
  let providerCodeBytes = 0;
  const strip = (inputs: Record<string, unknown>): Record<string, unknown> => {
    if (typeof inputs.__provider === "string") providerCodeBytes += inputs.__provider.length;
    // The benchmark reads no inputs: keeping them would measure this harness, not the program.
    return opts.lean ? {} : inputs;
  };
  const byUrn = new Map<string, RecordedResource>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args: pulumi.runtime.MockResourceArgs) => {
        if (args.type === "pulumi:pulumi:StackReference") {
          const ref = String(args.inputs.name ?? args.name);
          const outputs = opts.stackOutputs?.[ref.split("/").pop()!];
          if (!outputs) throw new Error(`no outputs mocked for stack reference ${ref}`);
          return { id: ref, state: { name: ref, outputs, secretOutputNames: Object.keys(outputs).filter((k) => /secret/i.test(k)) } };
        }
        // Ids derive from the name only, so adding a tenant changes no other resource's inputs.
        // A read (`Resource.get`) keeps the id it was given; docker volumes and networks are read by name.
        if (args.id) return { id: args.id, state: { ...mockState(args.type, args.name, args.inputs), ...(/docker:index\/(volume|network)/.test(args.type) ? { name: args.id } : {}) } };
        return { id: args.custom === false ? undefined : `${args.name}-id`, state: mockState(args.type, args.name, opts.lean ? { ...args.inputs, __provider: undefined } : args.inputs) };
      },
      call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
    },
    PROJECT,
    opts.stack,
    true,
    // What the CLI reports for self-managed backends; stack references are `<org>/<project>/<stack>`.
    "organization",
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: (err: unknown, res: { getUrn(): string } | undefined) => void): void;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    original(req, (err, res) => {
      if (!err && res) {
        const urn = res.getUrn();
        const parent = req.getParent() || null;
        const all = normalize(pulumi.runtime.deserializeProperties(req.getObject() as Parameters<typeof pulumi.runtime.deserializeProperties>[0])) as Record<string, unknown>;
        const own = req.getCustom() ? null : typeof all.tenant === "string" ? all.tenant : null;
        const inputs = strip(all);
        const rec: RecordedResource = {
          urn,
          type: req.getType(),
          name: req.getName(),
          tenant: own ?? (parent ? byUrn.get(parent)?.tenant ?? null : null),
          parent,
          protect: req.getProtect?.() ?? false,
          retainOnDelete: req.getRetainondelete?.() ?? false,
          deleteBeforeReplace: req.getDeletebeforereplace?.() ?? false,
          ignoreChanges: req.getIgnorechangesList?.() ?? [],
          custom: req.getCustom(),
          provider: req.getProvider() || null,
          dependsOn: req.getDependenciesList(),
          inputs,
          aliases: (req.getAliasesList?.() ?? []).length,
        };
        recorded.push(rec);
        byUrn.set(urn, rec);
      }
      cb(err, res);
    });
  };

  const projectDir = opts.projectDir ?? process.cwd();
  const settingsStack = settingsStackFor(opts.stack, (f) => fs.existsSync(path.join(projectDir, f)));
  const stackFile = opts.stackFile ?? path.join(projectDir, `Pulumi.${settingsStack}.yaml`);
  const config: Record<string, string> = fs.existsSync(stackFile) ? stackConfig(stackFile) : {};
  const secrets = { ...placeholderSecrets(), ...opts.secrets };
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(secrets)) {
    config[`${PROJECT}:${k}`] = v as string;
    secretKeys.push(`${PROJECT}:${k}`);
  }
  for (const [k, v] of Object.entries(opts.config ?? {})) config[`${PROJECT}:${k}`] = v;
  pulumi.runtime.setAllConfig(config, secretKeys);

  const { runFactory } = await import("./factory");
  try {
    const outputs = opts.program ? opts.program() : runFactory({ stack: opts.stack, projectDir, stackFile, tenantsDir: opts.tenantsDir, settingsStack: opts.settingsStack });
    // Resolve exported outputs, then wait for every outstanding registration.
    const resolved = await (pulumi.output(outputs) as unknown as { promise(): Promise<unknown> }).promise();
    await settle();
    return { stack: opts.stack, resources: recorded, outputs: resolved, providerCodeBytes };
  } catch (err) {
    // Lets tests prove that a failed validation registered nothing.
    await settle();
    if (err && typeof err === "object") Object.assign(err, { registered: recorded.slice() });
    throw err;
  }
}

/** Waits until no registration is in flight (the SDK tracks them for a clean shutdown). */
async function settle(): Promise<void> {
  const store = (pulumi.runtime as unknown as { getStore(): { settings: { rpcDone: Promise<unknown> } } }).getStore?.();
  for (let i = 0; i < 100; i++) {
    const before = store?.settings.rpcDone;
    await new Promise((r) => setImmediate(r));
    if (before) await before;
    if (store?.settings.rpcDone === before) break;
  }
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect?(): boolean;
  getRetainondelete?(): boolean;
  getDeletebeforereplace?(): boolean;
  getIgnorechangesList?(): string[];
  getProvider(): string;
  getDependenciesList(): string[];
  getAliasesList?(): unknown[];
  getObject(): unknown;
}
