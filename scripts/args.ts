// Tiny argument parser shared by the CLI scripts: --key value, --flag, and `--` separators.
export interface Parsed {
  values: Record<string, string>;
  flags: Set<string>;
}

export function parseArgs(argv: string[], valueKeys: readonly string[], flagKeys: readonly string[]): Parsed {
  const values: Record<string, string> = {};
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") continue;
    const [key, inline] = arg.startsWith("--") ? arg.slice(2).split("=", 2) : [undefined, undefined];
    if (key && valueKeys.includes(key)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${key} needs a value`);
      values[key] = v;
    } else if (key && flagKeys.includes(key)) {
      flags.add(key);
    } else {
      throw new UsageError(`unknown argument ${arg}`);
    }
  }
  return { values, flags };
}

export class UsageError extends Error {}
