// The one quoting function per target language of what the program renders (shell scripts, PHP config).
// Every value that reaches one of them goes through these. Pure.

/** Quotes a string as one POSIX shell word (single quotes; embedded quotes closed and escaped). */
export function shQuote(value: string): string {
  if (value.includes("\0")) throw new Error("a shell word cannot contain a NUL byte");
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quotes a PHP single-quoted string literal. */
export function phpQuote(value: string): string {
  if (value.includes("\0")) throw new Error("a PHP string literal here cannot contain a NUL byte");
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Double-quoted SQL identifier (quotes doubled), safe for any name. */
export function quoteIdent(name: string): string {
  if (name.includes("\u0000")) throw new Error("identifier contains a NUL byte");
  return `"${name.replace(/"/g, '""')}"`;
}

/** Single-quoted SQL string literal (standard_conforming_strings: quotes doubled, backslashes literal). */
export function quoteLiteral(value: string): string {
  if (value.includes("\u0000")) throw new Error("literal contains a NUL byte");
  return `'${value.replace(/'/g, "''")}'`;
}

/** A Caddyfile string token: quoted, with backslashes and quotes escaped. */
export function caddyString(s: string): string {
  if (/[\n\r\0]/.test(s)) throw new Error("a Caddyfile token cannot contain a line break or a NUL byte");
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
