// How the pack recognises the shared Nextcloud install volume, its one writer (the updater) and the
// docker command lines that mount it. Its own module because two rules read it: stateful-protected (the
// volume holds no data) and nextcloud-install-read-only (./rules).
import { Inputs, RuleOptions, str } from "./ruleInputs";

/** Substring of the Nextcloud install volume's name, and of the one resource allowed to write it. */
export const INSTALL_VOLUME_MARK = "nextcloud-install";
export const UPDATER_MARK = "updater";

/**
 * True for the name of a shared Nextcloud install volume: it contains `nextcloud-install`, or it is named
 * after the Nextcloud version it holds (`<stack>-nextcloud-31.0.9-<hash>`, components/nextcloud.ts).
 */
export function isInstallVolumeName(name: string): boolean {
  return name.includes(INSTALL_VOLUME_MARK) || /(^|[^a-z0-9])nextcloud-\d+\.\d+\.\d+/.test(name);
}

export function isUpdater(inputs: Inputs, options: RuleOptions): boolean {
  return [options.name, str(inputs.name)].some((n) => n !== undefined && n.includes(UPDATER_MARK));
}

/** Mount specs of a docker command line that name the install volume, with whether each is read-only. */
export function commandInstallMounts(script: string): { spec: string; readOnly: boolean }[] {
  const out: { spec: string; readOnly: boolean }[] = [];
  const re = /(?:^|\s)(-v|--volume|--mount)(?:=|\s+)(["']?)(\S+?)\2(?=\s|$)/g;
  for (let m = re.exec(script); m; m = re.exec(script)) {
    const spec = m[3];
    if (!isInstallVolumeName(spec)) continue;
    if (m[1] === "--mount") {
      const fields = spec.split(",").map((f) => f.trim().toLowerCase());
      out.push({ spec, readOnly: fields.some((f) => f === "readonly" || f === "ro" || f === "readonly=true" || f === "ro=true" || f === "readonly=1") });
    } else {
      const parts = spec.split(":");
      const mode = parts.length >= 3 ? parts[parts.length - 1].split(",") : [];
      out.push({ spec, readOnly: mode.includes("ro") });
    }
  }
  return out;
}
