// POSIX shell quoting for the scripts this area renders. Pure.

/** Quotes a string as one POSIX shell word (single quotes; embedded quotes closed and escaped). */
export function shQuote(value: string): string {
  if (value.includes("\0")) throw new Error("a shell word cannot contain a NUL byte");
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quotes a PHP single-quoted string literal. */
export function phpQuote(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
