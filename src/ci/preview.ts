// Reading `pulumi preview --json` output (the CLI's documented engine-preview format: `steps[]`, each with
// `op`, `urn`, and `oldState`/`newState` holding `type` and `inputs`; `changeSummary`; `diagnostics`).
// Pure: used by the data-loss gate and the PR comment writer, tested on samples in test/fixtures/preview.
import { isStateful } from "../../policy/rules";

export interface PreviewState {
  type?: string;
  inputs?: Record<string, unknown>;
  protect?: boolean;
}

export interface PreviewStep {
  op: string;
  urn: string;
  oldState?: PreviewState;
  newState?: PreviewState;
}

export interface PreviewDiagnostic {
  urn?: string;
  message?: string;
  severity?: string;
}

export interface PreviewDocument {
  steps: PreviewStep[];
  changeSummary?: Record<string, number>;
  diagnostics?: PreviewDiagnostic[];
}

/** Operations that destroy the physical resource (a replacement deletes the old one). */
export const DESTRUCTIVE_OPS: ReadonlySet<string> = new Set(["delete", "replace", "create-replacement", "delete-replaced"]);

export class PreviewFormatError extends Error {}

/** Parses preview JSON; throws PreviewFormatError (the gate then fails closed) when it is not the format. */
export function parsePreview(text: string): PreviewDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PreviewFormatError(`not JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new PreviewFormatError("not a JSON object");
  const steps = (doc as { steps?: unknown }).steps;
  // A preview with no change at all may omit steps; anything else than an array is not the format.
  if (steps !== undefined && !Array.isArray(steps)) throw new PreviewFormatError("steps is not an array");
  for (const [i, s] of (steps ?? []).entries()) {
    if (!s || typeof s !== "object" || typeof (s as PreviewStep).op !== "string" || typeof (s as PreviewStep).urn !== "string") {
      throw new PreviewFormatError(`steps[${i}] has no op/urn`);
    }
  }
  return { ...(doc as PreviewDocument), steps: (steps ?? []) as PreviewStep[] };
}

/** The resource type of a URN (`urn:pulumi:stack::project::parent$type::name`): the last `$` segment. */
export function typeFromUrn(urn: string): string {
  const parts = urn.split("::");
  if (parts.length < 4) return "";
  const chain = parts[2];
  return chain.slice(chain.lastIndexOf("$") + 1);
}

export function nameFromUrn(urn: string): string {
  return urn.split("::").slice(3).join("::");
}

/** Type and inputs of the resource a step touches (the old state's for deletions). */
export function stepResource(step: PreviewStep): { type: string; inputs: Record<string, unknown> } {
  const state = step.oldState ?? step.newState;
  return { type: state?.type || typeFromUrn(step.urn), inputs: state?.inputs ?? step.newState?.inputs ?? {} };
}

export interface DataLossFinding {
  op: string;
  urn: string;
  type: string;
  name: string;
}

/** Steps that would delete or replace a stateful resource (one finding per URN, first destructive op). */
export function dataLossFindings(doc: PreviewDocument): DataLossFinding[] {
  const seen = new Set<string>();
  const out: DataLossFinding[] = [];
  for (const step of doc.steps) {
    if (!DESTRUCTIVE_OPS.has(step.op) || seen.has(step.urn)) continue;
    const { type, inputs } = stepResource(step);
    if (!isStateful(type, inputs)) continue;
    seen.add(step.urn);
    out.push({ op: step.op, urn: step.urn, type, name: nameFromUrn(step.urn) });
  }
  return out;
}

export interface GateInput {
  /** Label of the source, e.g. the stack name. */
  label: string;
  /** Preview JSON text, or undefined when the file is missing. */
  text: string | undefined;
}

export interface GateResult {
  /** false: the pipeline must stop. */
  pass: boolean;
  allowed: boolean;
  findings: (DataLossFinding & { label: string })[];
  /** Inputs that could not be read: the gate fails closed on them, label or not. */
  errors: string[];
  /** Markdown for the PR comment. */
  markdown: string;
}

/** The data-loss gate: blocks deletions/replacements of stateful resources unless explicitly allowed. */
export function runGate(inputs: GateInput[], allowDataLoss: boolean, labelName = "allow-data-loss"): GateResult {
  const findings: GateResult["findings"] = [];
  const errors: string[] = [];
  for (const i of inputs) {
    if (i.text === undefined) {
      errors.push(`${i.label}: no preview output`);
      continue;
    }
    try {
      for (const f of dataLossFindings(parsePreview(i.text))) findings.push({ ...f, label: i.label });
    } catch (e) {
      errors.push(`${i.label}: ${(e as Error).message}`);
    }
  }
  const blocked = findings.length > 0 && !allowDataLoss;
  const pass = errors.length === 0 && !blocked;
  const lines: string[] = [];
  if (errors.length > 0) lines.push(`**Data-loss gate: cannot read the preview** (fails closed): ${errors.join("; ")}`);
  if (findings.length === 0) {
    if (errors.length === 0) lines.push("**Data-loss gate: passed.** No stateful resource would be deleted or replaced.");
  } else {
    lines.push(
      allowDataLoss
        ? `**Data-loss gate: ALLOWED by the \`${labelName}\` label.** These stateful resources WILL be deleted or replaced:`
        : `**Data-loss gate: BLOCKED.** These stateful resources would be deleted or replaced. If this is intended (a documented purge), add the label \`${labelName}\` to the pull request:`,
      "",
      "| stack | operation | type | resource |",
      "|---|---|---|---|",
      ...findings.map((f) => `| ${f.label} | ${f.op} | \`${f.type}\` | \`${f.name}\` |`),
    );
  }
  return { pass, allowed: allowDataLoss, findings, errors, markdown: lines.join("\n") };
}

const OP_ORDER = ["create", "update", "replace", "create-replacement", "delete-replaced", "delete", "same"];

/** One markdown section per stack: change counts, then every non-`same` step. */
export function previewMarkdown(label: string, doc: PreviewDocument, maxSteps = 200): string {
  const counts: Record<string, number> = {};
  for (const s of doc.steps) counts[s.op] = (counts[s.op] ?? 0) + 1;
  const summary = doc.changeSummary && Object.keys(doc.changeSummary).length > 0 ? doc.changeSummary : counts;
  const rank = (op: string): number => (OP_ORDER.includes(op) ? OP_ORDER.indexOf(op) : OP_ORDER.length);
  const ops = Object.keys(summary).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const lines = [`#### ${label}: ${ops.map((o) => `${o} ${summary[o]}`).join(", ") || "no changes"}`];
  const changed = doc.steps.filter((s) => s.op !== "same");
  if (changed.length > 0) {
    lines.push("", "| operation | type | resource |", "|---|---|---|");
    for (const s of changed.slice(0, maxSteps)) lines.push(`| ${s.op} | \`${stepResource(s).type}\` | \`${nameFromUrn(s.urn)}\` |`);
    if (changed.length > maxSteps) lines.push(`| … | ${changed.length - maxSteps} more | |`);
  }
  const errs = (doc.diagnostics ?? []).filter((d) => d.severity === "error" || d.severity === "warning");
  if (errs.length > 0) {
    lines.push("", "Diagnostics:", "```", ...errs.map((d) => `${d.severity}: ${(d.message ?? "").trim()}${d.urn ? ` (${nameFromUrn(d.urn)})` : ""}`), "```");
  }
  return lines.join("\n");
}
