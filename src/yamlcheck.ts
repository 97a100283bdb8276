// Position-aware reading of YAML documents: every problem carries the file, line and column of the node
// it is about, so an operator can jump straight to it. Used by the tenant and stack-settings loaders.
import { Document, isMap, isScalar, isSeq, LineCounter, Node, parseDocument, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { Problem } from "./types";

/** Longest string value accepted in a tenant or stack file. */
export const MAX_STRING_LENGTH = 512;

export class YamlChecker {
  readonly problems: Problem[] = [];
  readonly lineCounter = new LineCounter();
  readonly doc: Document.Parsed;

  constructor(readonly file: string, source: string) {
    this.doc = parseDocument(source, { lineCounter: this.lineCounter, uniqueKeys: true, prettyErrors: false });
    for (const err of [...this.doc.errors, ...this.doc.warnings]) {
      const offset = err.pos[0];
      const message = err.code === "DUPLICATE_KEY" ? `duplicate key: ${duplicateKeyName(source, err.pos)}` : firstLine(err.message);
      this.atOffset(offset, message);
    }
  }

  get ok(): boolean {
    return this.problems.length === 0;
  }

  atOffset(offset: number, message: string): void {
    const { line, col } = this.lineCounter.linePos(offset);
    this.problems.push({ file: this.file, line, col, message });
  }

  /** Reports at a node's start, or at the document start when there is no node. */
  at(node: Node | null | undefined, message: string): void {
    this.atOffset(node?.range?.[0] ?? 0, message);
  }

  /**
   * Reads a mapping, reporting unknown keys (with a suggestion when one is close) and missing required
   * keys. Returns the known entries by key, each with its key and value node.
   */
  map(
    node: Node | null | undefined,
    what: string,
    allowed: readonly string[],
    required: readonly string[] = [],
  ): Map<string, { key: Scalar; value: Node | null }> | undefined {
    if (!isMap(node)) {
      this.at(node, `${what} must be a mapping`);
      return undefined;
    }
    const out = new Map<string, { key: Scalar; value: Node | null }>();
    for (const pair of (node as YAMLMap).items) {
      const key = pair.key as Node;
      if (!isScalar(key) || typeof key.value !== "string") {
        this.at(key, `${what}: keys must be plain strings`);
        continue;
      }
      const name = key.value;
      if (!allowed.includes(name)) {
        const hint = closest(name, allowed);
        this.at(key, `${what}: unknown key "${name}"` + (hint ? ` (did you mean "${hint}"?)` : "") + `; allowed: ${allowed.join(", ")}`);
        continue;
      }
      out.set(name, { key, value: (pair.value as Node | null) ?? null });
    }
    for (const name of required) {
      if (!out.has(name)) this.at(node, `${what}: missing required key "${name}"`);
    }
    return out;
  }

  string(node: Node | null, what: string, opts: { pattern?: RegExp; patternText?: string; nonEmpty?: boolean } = {}): string | undefined {
    if (!isScalar(node) || typeof node.value !== "string") {
      this.at(node, `${what} must be a string` + describeFound(node));
      return undefined;
    }
    const value = node.value;
    // Every string ends up in a script, a config file or a label somewhere: no control character (a NUL,
    // a line break or an escape would change what those mean), and a bound on the length.
    const control = /[\u0000-\u001f\u007f]/.exec(value);
    if (control) {
      this.at(node, `${what} contains a control character (U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")})`);
      return undefined;
    }
    if (value.length > MAX_STRING_LENGTH) {
      this.at(node, `${what} is ${value.length} characters long; at most ${MAX_STRING_LENGTH}`);
      return undefined;
    }
    if ((opts.nonEmpty ?? true) && value.trim() === "") {
      this.at(node, `${what} must not be empty`);
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(value)) {
      this.at(node, `${what} "${value}" must match ${opts.patternText ?? opts.pattern.source}`);
      return undefined;
    }
    return value;
  }

  integer(node: Node | null, what: string, opts: { min?: number; max?: number } = {}): number | undefined {
    if (!isScalar(node) || typeof node.value !== "number" || !Number.isInteger(node.value)) {
      this.at(node, `${what} must be an integer` + describeFound(node));
      return undefined;
    }
    const value = node.value;
    if (opts.min !== undefined && value < opts.min) {
      this.at(node, `${what} must be ${opts.min === 1 ? "a positive integer" : `at least ${opts.min}`} (got ${value})`);
      return undefined;
    }
    if (opts.max !== undefined && value > opts.max) {
      this.at(node, `${what} must be at most ${opts.max} (got ${value})`);
      return undefined;
    }
    return value;
  }

  boolean(node: Node | null, what: string): boolean | undefined {
    if (!isScalar(node) || typeof node.value !== "boolean") {
      this.at(node, `${what} must be true or false` + describeFound(node));
      return undefined;
    }
    return node.value;
  }

  oneOf<T extends string>(node: Node | null, what: string, choices: readonly T[]): T | undefined {
    const value = this.string(node, what);
    if (value === undefined) return undefined;
    if (!(choices as readonly string[]).includes(value)) {
      this.at(node, `${what} must be one of ${choices.join(", ")} (got "${value}")`);
      return undefined;
    }
    return value as T;
  }

  seq(node: Node | null, what: string): Node[] | undefined {
    if (!isSeq(node)) {
      this.at(node, `${what} must be a list` + describeFound(node));
      return undefined;
    }
    return (node as YAMLSeq).items as Node[];
  }

  stringList(node: Node | null, what: string): { value: string; node: Node }[] | undefined {
    const items = this.seq(node, what);
    if (!items) return undefined;
    const out: { value: string; node: Node }[] = [];
    items.forEach((item, i) => {
      const value = this.string(item, `${what}[${i}]`);
      if (value !== undefined) out.push({ value, node: item });
    });
    return out;
  }
}

/** Finds the YAML node at a dotted path (numbers index sequences), for pointing at config values. */
export function nodeAtPath(doc: Document.Parsed, path: readonly (string | number)[]): Node | undefined {
  const found = doc.getIn(path, true);
  return found && typeof found === "object" && "range" in (found as object) ? (found as Node) : undefined;
}

function describeFound(node: Node | null): string {
  if (node === null || node === undefined) return " (got nothing)";
  if (isScalar(node)) return node.value === null ? " (got null)" : ` (got ${typeof node.value} ${JSON.stringify(node.value)})`;
  if (isMap(node)) return " (got a mapping)";
  if (isSeq(node)) return " (got a list)";
  return "";
}

function firstLine(message: string): string {
  return message.split("\n")[0];
}

function duplicateKeyName(source: string, pos: [number, number]): string {
  const text = source.slice(pos[0], pos[1]).split(/[:\n]/)[0].trim();
  return text ? `"${text}" appears more than once in this mapping` : "a key appears more than once in this mapping";
}

/** Suggests the allowed name nearest to a typo (edit distance ≤ 2). */
export function closest(name: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
