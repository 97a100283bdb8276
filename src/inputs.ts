// Everything the program reads before it registers a resource: stack settings and tenant files,
// validated together. Pure (no Pulumi): the CLI scripts, the tests and the program share it.
import * as path from "node:path";
import { placeAll } from "./placement";
import { loadStackFile } from "./settings";
import { loadTenantDir } from "./tenants";
import { Problem, StackSettings, Tenant, ValidationError } from "./types";
import { platformOwnedNames } from "./hostnames";

export interface FactoryInputs {
  settings: StackSettings;
  /** Validated tenants, sorted by slug. */
  tenants: Tenant[];
  /** Compute host of every tenant, by slug. */
  placement: Map<string, string>;
}

export interface ReadOptions {
  stack: string;
  /** Project root (where Pulumi.yaml lives); defaults to the current directory. */
  projectDir?: string;
  /** Stack file; defaults to Pulumi.<stack>.yaml in the project root. */
  stackFile?: string;
  /** Tenant directory; defaults to the tenantsDir setting, else tenants/<stack>. */
  tenantsDir?: string;
}

/** Reads and validates; returns every problem of settings and tenants together. */
export function readFactoryInputs(opts: ReadOptions): { inputs?: FactoryInputs; problems: Problem[] } {
  const root = opts.projectDir ?? process.cwd();
  const stackFile = opts.stackFile ?? path.join(root, `Pulumi.${opts.stack}.yaml`);
  const { settings, problems } = loadStackFile(opts.stack, stackFile, path.relative(root, stackFile) || stackFile);
  if (!settings) return { problems };
  const tenantsDir = path.resolve(root, opts.tenantsDir || settings.tenantsDir || path.join("tenants", opts.stack));
  const loaded = loadTenantDir(tenantsDir, { domain: settings.domain, hosts: settings.hosts, platformNames: platformOwnedNames(settings) }, root);
  if (loaded.problems.length > 0) return { problems: loaded.problems };
  return { inputs: { settings, tenants: loaded.tenants, placement: placeAll(loaded.tenants, settings.hosts) }, problems: [] };
}

/** Like readFactoryInputs, but throws a ValidationError listing every problem. */
export function requireFactoryInputs(opts: ReadOptions): FactoryInputs {
  const { inputs, problems } = readFactoryInputs(opts);
  if (!inputs || problems.length > 0) throw new ValidationError(problems);
  return inputs;
}
