// The first index.html of a new website bucket (WordPress or static site): the public hostname answers
// with a short page instead of a 404 until the first publication replaces it. Pure.
import { escapeHtml } from "../quote";


/** A minimal, self-contained HTML page for a site not published yet. */
export function placeholderPage(hostname: string, title?: string): string {
  const t = escapeHtml(title ?? hostname);
  return [
    "<!doctype html>",
    '<html lang="fr">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    `<title>${t}</title>`,
    "</head>",
    "<body>",
    `<h1>${t}</h1>`,
    `<p>Ce site (${escapeHtml(hostname)}) n'est pas encore publié. / This site has not been published yet.</p>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
