// The lab images (built by scripts/lab/lab-images.sh, cached under $SF_CACHE/images) and how a lab test
// gets them into a dockerd it started: no registry is reachable there, so the stack under test pins these
// references and `docker load` puts them in place before `pulumi up` (docker.RemoteImage finds them locally).
// Test tooling only: operators pin the published images (Pulumi.<stack>.yaml, images/versions.json).
//
//   LAB_IMAGES.postgres                  // "factory-lab/postgres:15-bookworm" — keys are those of settings.images
//   labImageTarballs()                    // the cached `docker save` tarballs, one per image
//   await loadLabImages("unix:///tmp/x/docker.sock")   // docker load each one not loaded yet (same recipe hash)
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

/** The images scripts/lab/lab-images.sh builds, named like the `images` stack settings they stand in for. */
export type LabImageName = "postgres" | "redis" | "garage" | "keycloak" | "caddy" | "mariadb" | "toolbox";
export const LAB_IMAGE_NAMES: readonly LabImageName[] = ["postgres", "redis", "garage", "keycloak", "caddy", "mariadb", "toolbox"];

interface LabImagesFile {
  suite: string;
  debian: Record<"postgres" | "redis" | "mariadb" | "toolbox", { package: string; version: string }>;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** images/versions.json: the upstream versions the stacks pin and the lab builds. */
export const VERSIONS = readJson<Record<"garage" | "keycloak" | "caddy" | "caddySecurity" | "xcaddy" | "actionlint", string>>(
  path.join(ROOT, "images", "versions.json"));
const DEBIAN = readJson<LabImagesFile>(path.join(__dirname, "lab-images.json"));

/** Tag of each lab image: Debian's version and suite for the Debian servers, versions.json for the project's builds (same rule as lab-images.sh). */
export const LAB_IMAGE_TAGS: Record<LabImageName, string> = {
  postgres: `${DEBIAN.debian.postgres.version}-${DEBIAN.suite}`,
  redis: `${DEBIAN.debian.redis.version}-${DEBIAN.suite}`,
  mariadb: `${DEBIAN.debian.mariadb.version}-${DEBIAN.suite}`,
  toolbox: `${DEBIAN.debian.toolbox.version}-${DEBIAN.suite}`,
  garage: VERSIONS.garage,
  keycloak: VERSIONS.keycloak,
  caddy: `${VERSIONS.caddy}-${VERSIONS.caddySecurity}`,
};

/** Image reference of each lab image (what a lab stack puts in settings.images). */
export const LAB_IMAGES: Record<LabImageName, string> = Object.fromEntries(
  LAB_IMAGE_NAMES.map((n) => [n, `factory-lab/${n}:${LAB_IMAGE_TAGS[n]}`]),
) as Record<LabImageName, string>;

/** Where lab-images.sh keeps the tarballs ($SF_CACHE/images). */
export function labImageDir(): string {
  return path.join(process.env.SF_CACHE ?? path.join(os.homedir(), ".cache", "service-factory"), "images");
}

/** The cached tarball of one image. */
export function labImageTarball(name: LabImageName): string {
  return path.join(labImageDir(), `${name}-${LAB_IMAGE_TAGS[name]}.tar`);
}

/** The cached tarballs, one per lab image (whether built yet or not: see missingLabImages). */
export function labImageTarballs(names: readonly LabImageName[] = LAB_IMAGE_NAMES): string[] {
  return names.map(labImageTarball);
}

/** Images whose tarball (or its recipe hash) is not in the cache yet. */
export function missingLabImages(names: readonly LabImageName[] = LAB_IMAGE_NAMES): LabImageName[] {
  return names.filter((n) => !fs.existsSync(labImageTarball(n)) || !fs.existsSync(`${labImageTarball(n)}.recipe`));
}

function docker(dockerHost: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("docker", args, { env: { ...process.env, DOCKER_HOST: dockerHost }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === "number" ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: err && !stderr ? String(err.message) : String(stderr) });
    });
  });
}

/**
 * Loads the lab images into the dockerd at `dockerHost` (a DOCKER_HOST value, e.g. unix:///tmp/x/docker.sock).
 * An image already there with the recipe hash of its tarball is skipped, so a repeat call takes well under
 * a second per image. Throws, naming the command to run, when a tarball has not been built.
 */
export async function loadLabImages(dockerHost: string, names: readonly LabImageName[] = LAB_IMAGE_NAMES): Promise<void> {
  const missing = missingLabImages(names);
  if (missing.length > 0) {
    throw new Error(`lab images not built: ${missing.map(labImageTarball).join(", ")} (run npm run setup:test, or scripts/lab/lab-images.sh as root)`);
  }
  for (const name of names) {
    const tarball = labImageTarball(name);
    const want = fs.readFileSync(`${tarball}.recipe`, "utf8").trim();
    const have = await docker(dockerHost, ["image", "inspect", "-f", '{{index .Config.Labels "factory-lab.recipe"}}', LAB_IMAGES[name]], 30_000);
    if (have.code === 0 && have.stdout.trim() === want) continue;
    const r = await docker(dockerHost, ["load", "-q", "-i", tarball], 600_000);
    if (r.code !== 0) throw new Error(`docker load -i ${tarball} (DOCKER_HOST=${dockerHost}) failed: ${r.stderr.trim()}`);
    const check = await docker(dockerHost, ["image", "inspect", "-f", '{{index .Config.Labels "factory-lab.recipe"}}', LAB_IMAGES[name]], 30_000);
    if (check.code !== 0 || check.stdout.trim() !== want) {
      throw new Error(`${tarball} did not load as ${LAB_IMAGES[name]} with recipe ${want} (got ${check.stdout.trim() || check.stderr.trim()})`);
    }
  }
}
