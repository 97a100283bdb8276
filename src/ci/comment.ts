// Renders the PR comment: per stack, the preview summary (from `pulumi preview --json`) and the per-tenant
// plan (`npm run plan` output), plus the data-loss gate's verdict. Pure; scripts/ci/pr-comment.ts does I/O.
import { COMMENT_MARKER } from "./forge";
import { parsePreview, previewMarkdown } from "./preview";

export interface StackReport {
  stack: string;
  /** `pulumi preview --json` output, undefined when the file is missing. */
  previewJson?: string;
  /** Exit code of `pulumi preview`, undefined when unknown. */
  previewExit?: number;
  /** stderr of `pulumi preview` (shown when it failed). */
  previewStderr?: string;
  /** `npm run plan -- --stack <stack>` output. */
  planText?: string;
}

const PLAN_CHARS = 20000;

function fence(text: string, max: number): string {
  const t = text.length > max ? `${text.slice(0, max)}\n… (truncated)` : text;
  return ["```", t.replace(/```/g, "ʼʼʼ").trimEnd(), "```"].join("\n");
}

export function stackSection(r: StackReport): string {
  const lines = [`### Stack \`${r.stack}\``];
  const failed = r.previewExit !== undefined && r.previewExit !== 0;
  if (r.previewJson === undefined || r.previewJson.trim() === "") {
    lines.push("", "**pulumi preview produced no output.**");
  } else {
    try {
      lines.push("", previewMarkdown(`preview ${r.stack}`, parsePreview(r.previewJson)));
    } catch (e) {
      lines.push("", `**pulumi preview output unreadable:** ${(e as Error).message}`);
    }
  }
  if (failed) {
    lines.push("", `**pulumi preview failed (exit ${r.previewExit})** (policy violations and errors are listed above or below).`);
    if (r.previewStderr?.trim()) lines.push("", "<details><summary>stderr</summary>", "", fence(r.previewStderr, 6000), "", "</details>");
  }
  if (r.planText !== undefined) {
    lines.push("", "<details><summary>Per-tenant plan</summary>", "", fence(r.planText, PLAN_CHARS), "", "</details>");
  }
  return lines.join("\n");
}

export function commentBody(o: { stacks: StackReport[]; gateMarkdown?: string; commit?: string; runUrl?: string }): string {
  const head = ["## Infrastructure preview", ""];
  if (o.commit || o.runUrl) head.push(`Commit ${o.commit ? `\`${o.commit.slice(0, 12)}\`` : ""}${o.runUrl ? ` · [workflow run](${o.runUrl})` : ""}`, "");
  if (o.gateMarkdown) head.push(o.gateMarkdown, "");
  return [COMMENT_MARKER, ...head, ...o.stacks.map(stackSection)].join("\n") + "\n";
}
