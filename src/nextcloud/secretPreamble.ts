// How secrets reach the factory's shell scripts: a preamble, prepended to the script fed on stdin, that
// writes each secret to a private file and removes it when the script ends. Its own module because every
// script with a secret (init, configure, the Redis user script) relies on it, and the component uses its
// directory for the init environment, while the scripts do not depend on one another.

/** Directory the secret preamble writes to (inside the container running the script). */
export const SCRIPT_SECRETS_DIR = "/tmp/factory-secrets";

/**
 * Prepends a preamble that writes each secret to `${SCRIPT_SECRETS_DIR}/<name>` (mode 0600) from base64, so
 * no quoting of the value is ever needed, and removes the directory when the script ends. The result is
 * a secret itself: use it only as a command's stdin, with logging "none".
 */
export function withSecretFiles(body: string, files: Record<string, string>, dir: string = SCRIPT_SECRETS_DIR): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(dir)) throw new Error(`bad secrets directory ${dir}`);
  const lines = [
    "#!/bin/sh",
    "set -eu",
    "umask 077",
    `rm -rf ${dir} && mkdir -m 0700 ${dir}`,
    `trap 'rm -rf ${dir}' EXIT`,
  ];
  for (const name of Object.keys(files).sort()) {
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bad secret file name ${name}`);
    const b64 = Buffer.from(files[name], "utf8").toString("base64");
    lines.push(`printf '%s' '${b64}' | base64 -d > ${dir}/${name}`);
  }
  return lines.join("\n") + "\n" + body.replace(/^#!.*\n/, "");
}
