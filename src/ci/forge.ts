// The few REST calls the pipeline makes on GitHub and on Forgejo/Gitea (same paths under /repos, different
// base URL, auth scheme and page-size parameter). fetch is injectable so tests run against a local server.

export type ForgeKind = "github" | "gitea";

export interface ForgeOptions {
  kind: ForgeKind;
  /** API base: https://api.github.com, or https://<forgejo>/api/v1. */
  apiUrl: string;
  /** owner/name */
  repository: string;
  token: string;
  fetchImpl?: typeof fetch;
}

/** Hidden marker that identifies the pipeline's PR comment so each run edits it instead of adding one. */
export const COMMENT_MARKER = "<!-- service-factory:preview -->";
/** GitHub refuses comment bodies above 65536 characters. */
export const MAX_COMMENT_CHARS = 65000;

interface Comment {
  id: number;
  body?: string;
}

async function call(o: ForgeOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const f = o.fetchImpl ?? fetch;
  const res = await f(`${o.apiUrl.replace(/\/$/, "")}${path}`, {
    method,
    headers: {
      accept: o.kind === "github" ? "application/vnd.github+json" : "application/json",
      authorization: o.kind === "github" ? `Bearer ${o.token}` : `token ${o.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res.status === 204 ? undefined : res.json();
}

/** Every comment of an issue/PR, all pages. */
export async function listComments(o: ForgeOptions, issue: number): Promise<Comment[]> {
  const out: Comment[] = [];
  const size = 50;
  for (let page = 1; page < 100; page++) {
    const batch = (await call(o, "GET", `/repos/${o.repository}/issues/${issue}/comments?page=${page}&per_page=${size}&limit=${size}`)) as Comment[];
    out.push(...batch);
    if (batch.length < size) break;
  }
  return out;
}

/** Caps a body to what the forges accept, keeping the marker at the top. */
export function capBody(body: string): string {
  if (body.length <= MAX_COMMENT_CHARS) return body;
  const note = "\n\n… (truncated: the full output is in the workflow run's artifacts)";
  return body.slice(0, MAX_COMMENT_CHARS - note.length) + note;
}

/** Creates the pipeline's comment, or edits it in place when one with the marker exists. */
export async function upsertComment(o: ForgeOptions, issue: number, body: string): Promise<{ action: "created" | "updated"; id: number }> {
  const full = capBody(body.includes(COMMENT_MARKER) ? body : `${COMMENT_MARKER}\n${body}`);
  const existing = (await listComments(o, issue)).find((c) => (c.body ?? "").includes(COMMENT_MARKER));
  if (existing) {
    await call(o, "PATCH", `/repos/${o.repository}/issues/comments/${existing.id}`, { body: full });
    return { action: "updated", id: existing.id };
  }
  const created = (await call(o, "POST", `/repos/${o.repository}/issues/${issue}/comments`, { body: full })) as Comment;
  return { action: "created", id: created.id };
}

/** Labels of the pull request merged as `sha` (push to main), or [] when none is found. */
export async function mergedPullLabels(o: ForgeOptions, sha: string): Promise<string[]> {
  const names = (pr: unknown): string[] => ((pr as { labels?: { name?: string }[] })?.labels ?? []).map((l) => l.name ?? "");
  if (o.kind === "github") {
    const prs = (await call(o, "GET", `/repos/${o.repository}/commits/${sha}/pulls`)) as unknown[];
    return prs.flatMap(names);
  }
  try {
    return names(await call(o, "GET", `/repos/${o.repository}/commits/${sha}/pull`));
  } catch (e) {
    if (/HTTP 404/.test((e as Error).message)) return [];
    throw e;
  }
}

/** Reads the forge settings from the environment the workflows set (FORGE_KIND, FORGE_API_URL, FORGE_TOKEN, FORGE_REPOSITORY). */
export function forgeFromEnv(env: NodeJS.ProcessEnv = process.env): ForgeOptions {
  const kind = env.FORGE_KIND === "gitea" || env.FORGE_KIND === "forgejo" ? "gitea" : env.FORGE_KIND === "github" ? "github" : undefined;
  const missing = [!kind && "FORGE_KIND (github|forgejo)", !env.FORGE_API_URL && "FORGE_API_URL", !env.FORGE_TOKEN && "FORGE_TOKEN", !env.FORGE_REPOSITORY && "FORGE_REPOSITORY"].filter(Boolean);
  if (missing.length > 0) throw new Error(`missing environment: ${missing.join(", ")}`);
  return { kind: kind!, apiUrl: env.FORGE_API_URL!, token: env.FORGE_TOKEN!, repository: env.FORGE_REPOSITORY! };
}
