// One definition of a pinned image, shared by the stack-settings validation and the policy pack.

/** Tags that name a moving target, however they are spelled. */
const FLOATING_TAGS = new Set(["latest", "stable", "main", "master", "edge", "nightly"]);

/**
 * True when an image reference names one immutable build: a version tag (not `latest` or another floating
 * tag), a digest (`name@sha256:…`, with or without a tag), or an image id (`sha256:…`). Registry ports
 * (`host:5000/name`) are not tags.
 */
export function isPinnedImage(ref: string): boolean {
  const r = ref.trim();
  if (/^sha256:[0-9a-f]{12,}$/i.test(r)) return true;
  if (r.includes("@")) return /^[^@\s]+@sha256:[0-9a-f]{64}$/i.test(r);
  if (r === "" || /\s/.test(r)) return false;
  const last = r.slice(r.lastIndexOf("/") + 1);
  const colon = last.indexOf(":");
  if (colon < 0) return false;
  const tag = last.slice(colon + 1);
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag) && !FLOATING_TAGS.has(tag.toLowerCase());
}
