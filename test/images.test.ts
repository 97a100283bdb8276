// The factory's own images (images/*/Dockerfile): every image a stack pins is either an upstream one or
// has a Dockerfile here (explicit mapping below); the Dockerfiles' ARG defaults are images/versions.json;
// scripts/ci/build-images.sh builds exactly the names, tags and build args the stacks pin (run with a fake
// `docker`); the shell files pass shellcheck; each image gives the program what it uses (the program's own
// scripts run with a PATH holding only the tools the Dockerfile checks; the Paheko image's start script,
// cron loop and default config.local.php run with fakes and php); the image workflows and images/README.md.
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { PAHEKO_CRON_SCRIPT, PAHEKO_HTTP_PORT } from "../components/paheko";
import { renderApplyScript, renderSecretsScript, renderStartScript, secretsBundle } from "../src/caddy/reload";
import { PAHEKO_PATHS } from "../src/paheko/config";
import { PAHEKO_IMAGE_CRON_LOOP, renderCronLoop, renderFolderScript, renderImageCronLoop } from "../src/paheko/scripts";
import { freePort, getWithHost } from "../scripts/lab/net";
import { FAKE_PAHEKO_VERSION, fakePahekoPhp } from "./support/fakePaheko";
import { requireTool, which } from "./support/tools";

const root = path.resolve(__dirname, "..");
const read = (rel: string) => fs.readFileSync(path.join(root, rel), "utf8");
const versions = JSON.parse(read("images/versions.json")) as Record<string, unknown>;
const BUILD_SCRIPT = "scripts/ci/build-images.sh";

/** Repositories an upstream publishes with what the program needs: pinned as they are, no Dockerfile here. */
export const UPSTREAM_REPOSITORIES = [
  "postgres", "redis", "dxflrs/garage", "quay.io/keycloak/keycloak", "collabora/code", "nextcloud", "mariadb", "busybox",
];

/** Our images, by image name (last component of the pinned repository): the setting pinning it, its directory. */
export const FACTORY_IMAGES: Record<string, { setting: string; dir: string }> = {
  "caddy-security": { setting: "caddy", dir: "images/caddy-security" },
  "paheko-factory": { setting: "paheko", dir: "images/paheko-factory" },
  "wordpress-wpcli": { setting: "wordpress", dir: "images/wordpress" },
};

/** Dockerfile ARG -> images/versions.json key (scripts/ci/build-images.sh has the same table: checked below). */
export const ARG_KEYS: Record<string, string> = {
  CADDY: "caddy", CADDY_SECURITY: "caddySecurity", XCADDY: "xcaddy", PAHEKO: "paheko", PAHEKO_SHA256: "pahekoSha256",
  GARAGE: "garage", KEYCLOAK: "keycloak",
};


/** `repo[:tag][@digest]`, a registry port not taken for a tag. */
export function splitRef(ref: string): { repository: string; tag?: string; digest?: string } {
  const at = ref.indexOf("@");
  const digest = at < 0 ? undefined : ref.slice(at + 1);
  const named = at < 0 ? ref : ref.slice(0, at);
  const slash = named.lastIndexOf("/");
  const colon = named.indexOf(":", slash + 1);
  return colon < 0 ? { repository: named, tag: undefined, digest } : { repository: named.slice(0, colon), tag: named.slice(colon + 1), digest };
}

/** ARG name -> default ("" when declared without one); the first declaration of a name wins. */
export function dockerfileArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^ARG ([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?\s*$/gm)) {
    if (!out.has(m[1]) || (out.get(m[1]) === "" && m[2] !== undefined)) out.set(m[1], m[2] ?? "");
  }
  return out;
}

/** Every ARG whose versions.json key exists but whose default differs. */
export function argProblems(file: string, text: string, v: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [arg, def] of dockerfileArgs(text)) {
    const key = ARG_KEYS[arg];
    if (key === undefined || v[key] === undefined) continue;
    if (def !== v[key]) out.push(`${file}: ARG ${arg}=${def}, images/versions.json ${key} is ${String(v[key])}`);
  }
  return out;
}

/** One line of `build-images.sh --list`. */
interface Built { name: string; ref: string; context: string; args: Record<string, string> }

function runScript(args: string[], env: Record<string, string | undefined> = {}, input?: string): SpawnSyncReturns<string> {
  return spawnSync("bash", [BUILD_SCRIPT, ...args], { cwd: root, encoding: "utf8", input, env: { ...process.env, IMAGE_REGISTRY: undefined, IMAGE_REGISTRY_USER: undefined, IMAGE_REGISTRY_PASSWORD: undefined, ...env } });
}

function listImages(registry = "registry.factory.example.org", env: Record<string, string> = {}): Built[] {
  const r = runScript(["--list"], { IMAGE_REGISTRY: registry, ...env });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split("\n").map((line) => {
    const [name, ref, context, ...rest] = line.split("\t");
    return { name, ref, context, args: Object.fromEntries(rest.map((a) => [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)])) };
  });
}

/** Every pinned image that is neither upstream nor ours, ours under another setting, or ours with another tag. */
export function pinProblems(images: Record<string, unknown>, built: Built[], exists: (dir: string) => boolean): string[] {
  const out: string[] = [];
  for (const [setting, ref] of Object.entries(images)) {
    if (typeof ref !== "string") { out.push(`images.${setting} is not a string`); continue; }
    const { repository, tag } = splitRef(ref);
    if (UPSTREAM_REPOSITORIES.includes(repository)) continue;
    const name = repository.slice(repository.lastIndexOf("/") + 1);
    const ours = FACTORY_IMAGES[name];
    if (!ours) { out.push(`images.${setting}: ${ref} is neither an upstream repository (${UPSTREAM_REPOSITORIES.join(", ")}) nor an image of images/ (${Object.keys(FACTORY_IMAGES).join(", ")})`); continue; }
    if (ours.setting !== setting) out.push(`images.${setting}: ${name} is the image of images.${ours.setting}`);
    if (!exists(path.join(ours.dir, "Dockerfile"))) out.push(`images.${setting}: ${ours.dir}/Dockerfile is missing`);
    const b = built.find((x) => x.name === name);
    const builtTag = b && splitRef(b.ref).tag;
    if (builtTag !== tag) out.push(`images.${setting}: ${ref} has tag ${tag}, ${BUILD_SCRIPT} builds ${name}:${builtTag}`);
  }
  return out;
}

const stackFiles = fs.readdirSync(root).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f)).sort();
function stackImages(file: string): Record<string, unknown> {
  const doc = parse(read(file)) as { config?: Record<string, unknown> };
  const images = doc.config?.["service-factory:images"];
  assert.ok(images && typeof images === "object", `${file} has no service-factory:images`);
  return images as Record<string, unknown>;
}

/** A directory whose PATH holds only `tools` (links to this machine's) and the given fake scripts. */
function restrictedPath(tools: string[], fakes: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-images-path-"));
  for (const t of tools) {
    if (t in fakes) continue;
    const real = spawnSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim();
    assert.ok(real.startsWith("/"), `tool ${t} not found on this machine`);
    fs.symlinkSync(real, path.join(dir, t));
  }
  for (const [name, body] of Object.entries(fakes)) fs.writeFileSync(path.join(dir, name), body, { mode: 0o755 });
  return dir;
}

/** The tools a Dockerfile checks with `for tool in …; do command -v`. */
function checkedTools(dockerfile: string): string[] {
  const m = /for tool in ([^;]+); do/.exec(read(dockerfile));
  assert.ok(m, `${dockerfile} checks no tool list`);
  return m[1].trim().split(/\s+/);
}

describe("pinned images: upstream, or a Dockerfile under images/", () => {
  const built = listImages();
  const exists = (rel: string) => fs.existsSync(path.join(root, rel));

  it("finds the stack files", () => {
    for (const s of ["staging", "prod", "dev"]) assert.ok(stackFiles.includes(`Pulumi.${s}.yaml`), stackFiles.join(", "));
  });

  for (const file of stackFiles) {
    it(`${file}: every image is upstream or ours, with the tag the build script makes`, () => {
      assert.deepEqual(pinProblems(stackImages(file), built, exists), []);
    });
  }

  it("the staging and prod pins are exactly the references CI pushes (IMAGE_REGISTRY=registry.factory.example.org)", () => {
    for (const file of ["Pulumi.staging.yaml", "Pulumi.prod.yaml"]) {
      const images = stackImages(file);
      for (const [name, { setting }] of Object.entries(FACTORY_IMAGES)) {
        assert.equal(images[setting], built.find((b) => b.name === name)?.ref, `${file} images.${setting}`);
      }
    }
  });

  it("every Dockerfile under images/ is one of the mapping, and the mapping is the build script's list", () => {
    const dirs = fs.readdirSync(path.join(root, "images")).filter((d) => fs.existsSync(path.join(root, "images", d, "Dockerfile"))).map((d) => `images/${d}`).sort();
    assert.deepEqual(dirs, Object.values(FACTORY_IMAGES).map((x) => x.dir).sort());
    assert.deepEqual(built.map((b) => [b.name, b.context]).sort(), Object.entries(FACTORY_IMAGES).map(([n, x]) => [n, x.dir]).sort());
  });

  it("reports an unknown image, ours under another setting, a wrong tag and a missing Dockerfile", () => {
    const good = { postgres: "postgres:16.4-bookworm", caddy: built.find((b) => b.name === "caddy-security")!.ref };
    assert.deepEqual(pinProblems(good, built, exists), []);
    assert.equal(pinProblems({ ...good, toolbox: "registry.example.org/toolbox:1.0" }, built, exists).length, 1);
    assert.equal(pinProblems({ ...good, redis: "registry.example.org:5000/redis:7" }, built, exists).length, 1, "an upstream name under a registry is not upstream");
    assert.equal(pinProblems({ ...good, paheko: "r.example.org/caddy-security:1.3.15" }, built, exists).length, 2, "wrong setting and tag");
    assert.equal(pinProblems({ ...good, caddy: "r.example.org/caddy-security:2.10.2-0.0.1" }, built, exists).length, 1);
    assert.deepEqual(pinProblems(good, built, () => false), ["images.caddy: images/caddy-security/Dockerfile is missing"]);
  });

  it("splits references: registry ports, tags, digests", () => {
    assert.deepEqual(splitRef("registry.example.org:5000/a/b:1.2"), { repository: "registry.example.org:5000/a/b", tag: "1.2", digest: undefined });
    assert.deepEqual(splitRef("quay.io/keycloak/keycloak:26.0.7"), { repository: "quay.io/keycloak/keycloak", tag: "26.0.7", digest: undefined });
    assert.deepEqual(splitRef("postgres@sha256:abc"), { repository: "postgres", tag: undefined, digest: "sha256:abc" });
  });
});

describe("Dockerfile ARG defaults are images/versions.json", () => {
  for (const { dir } of Object.values(FACTORY_IMAGES)) {
    it(`${dir}/Dockerfile`, () => {
      assert.deepEqual(argProblems(`${dir}/Dockerfile`, read(`${dir}/Dockerfile`), versions), []);
    });
  }

  it("the caddy-security Dockerfile takes every version it builds from a mapped ARG", () => {
    const args = dockerfileArgs(read("images/caddy-security/Dockerfile"));
    for (const a of ["CADDY", "CADDY_SECURITY", "XCADDY"]) assert.equal(args.get(a), versions[ARG_KEYS[a]], a);
  });

  it("reports a default that moved away from versions.json", () => {
    const text = read("images/caddy-security/Dockerfile").replace(/^ARG CADDY_SECURITY=.*$/m, "ARG CADDY_SECURITY=0.0.1");
    assert.deepEqual(argProblems("x", text, versions), [`x: ARG CADDY_SECURITY=0.0.1, images/versions.json caddySecurity is ${String(versions.caddySecurity)}`]);
    assert.equal(argProblems("x", "ARG PAHEKO=1.0.0\n", { paheko: "1.3.15" }).length, 1);
    assert.deepEqual(argProblems("x", "ARG PAHEKO=1.0.0\n", {}), [], "no key, nothing to compare");
  });

  it("the build script maps the same ARGs to the same keys", () => {
    const m = /^ARG_KEYS=\(\n([\s\S]*?)\n\)/m.exec(read(BUILD_SCRIPT));
    assert.ok(m, "ARG_KEYS table");
    const table = Object.fromEntries(m[1].trim().split(/\s+/).map((p) => p.split("=")));
    assert.deepEqual(table, ARG_KEYS);
  });
});

describe("scripts/ci/build-images.sh", () => {
  let dir = "";
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "sf-build-images-")); });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  /** A fake docker recording each call (and login's stdin); `fail` = a substring of the calls that exit 1. */
  function fakeDocker(fail?: string): { docker: string; log: string } {
    const log = path.join(dir, `calls-${Math.random().toString(36).slice(2)}.log`);
    const docker = path.join(dir, `docker-${path.basename(log, ".log")}`);
    fs.writeFileSync(docker, `#!/bin/sh
printf '%s\\n' "$*" >> '${log}'
if [ "$1" = login ]; then printf 'stdin:%s\\n' "$(cat)" >> '${log}'; fi
case "$*" in *'${fail ?? "__never__"}'*) exit 1 ;; esac
exit 0
`, { mode: 0o755 });
    return { docker, log };
  }
  const calls = (log: string) => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []);

  it("--push logs in with the password on stdin, builds each image with versions.json's build args, then pushes it", () => {
    const { docker, log } = fakeDocker();
    const r = runScript(["--push"], { DOCKER: docker, IMAGE_REGISTRY: "registry.example.org/factory", IMAGE_REGISTRY_USER: "ci", IMAGE_REGISTRY_PASSWORD: "s3cret" });
    assert.equal(r.status, 0, r.stderr);
    const c = calls(log);
    assert.deepEqual(c.slice(0, 2), ["login --username ci --password-stdin registry.example.org", "stdin:s3cret"]);
    assert.ok(!c.slice(2).some((l) => l.includes("s3cret")), "the password is never an argument");
    const caddy = `registry.example.org/factory/caddy-security:${String(versions.caddy)}-${String(versions.caddySecurity)}`;
    const build = c.find((l) => l.startsWith("build ") && l.includes(`--tag ${caddy} `));
    assert.ok(build, c.join("\n"));
    for (const [arg, key] of [["CADDY", "caddy"], ["CADDY_SECURITY", "caddySecurity"], ["XCADDY", "xcaddy"]]) {
      assert.ok(build.includes(`--build-arg ${arg}=${String(versions[key])} `), `${arg} from versions.json: ${build}`);
    }
    assert.ok(build.endsWith(" images/caddy-security"));
    for (const name of Object.keys(FACTORY_IMAGES)) {
      const b = c.findIndex((l) => l.startsWith("build ") && l.includes(`/factory/${name}:`));
      const p = c.findIndex((l) => l.startsWith(`push registry.example.org/factory/${name}:`));
      assert.ok(b > 0 && p > b, `${name}: build then push\n${c.join("\n")}`);
    }
  });

  it("builds without pushing by default, named service-factory/… without IMAGE_REGISTRY (the dev stack's prefix)", () => {
    const { docker, log } = fakeDocker();
    const r = runScript(["wordpress-wpcli"], { DOCKER: docker });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(calls(log).map((l) => l.split(" ")[0]), ["build"]);
    assert.match(calls(log)[0], /--tag service-factory\/wordpress-wpcli:6\.8\.3-php8\.3-fpm images\/wordpress$/);
    const dev = stackImages("Pulumi.dev.yaml").wordpress as string;
    assert.equal(dev, "service-factory/wordpress-wpcli:6.8.3-php8.3-fpm");
  });

  it("refuses --push without IMAGE_REGISTRY, half credentials, an unknown image; a failed build pushes nothing", () => {
    for (const [args, env] of [
      [["--push"], {}],
      [["--push"], { IMAGE_REGISTRY: "registry.example.org", IMAGE_REGISTRY_USER: "ci" }],
      [["nope"], {}],
      [["--push"], { IMAGE_REGISTRY: "https://registry.example.org" }],
    ] as [string[], Record<string, string>][]) {
      const { docker, log } = fakeDocker();
      const r = runScript(args, { DOCKER: docker, ...env });
      assert.equal(r.status, 1, `${args.join(" ")} ${JSON.stringify(env)}: ${r.stdout}`);
      assert.match(r.stderr, /^build-images: /);
      assert.deepEqual(calls(log), []);
    }
    const { docker, log } = fakeDocker("paheko-factory");
    const r = runScript(["--push"], { DOCKER: docker, IMAGE_REGISTRY: "registry.example.org" });
    assert.notEqual(r.status, 0);
    assert.ok(!calls(log).some((l) => l.startsWith("push") && l.includes("paheko-factory")), calls(log).join("\n"));
    assert.ok(!calls(log).some((l) => l.includes("wordpress-wpcli")), "stops at the first failure");
  });

  it("reads versions.json with node when jq is missing (same list)", () => {
    const tools = ["bash", "sed", "dirname", "node", "cat"];
    const p = restrictedPath(tools, {});
    try {
      assert.ok(!fs.existsSync(path.join(p, "jq")));
      assert.deepEqual(listImages("registry.factory.example.org", { PATH: p }), listImages());
    } finally {
      fs.rmSync(p, { recursive: true, force: true });
    }
  });

  it("a versions.json key overrides the Dockerfile default, for the build arg and the tag", () => {
    const tree = fs.mkdtempSync(path.join(dir, "tree-"));
    fs.mkdirSync(path.join(tree, "scripts", "ci"), { recursive: true });
    fs.copyFileSync(path.join(root, BUILD_SCRIPT), path.join(tree, BUILD_SCRIPT));
    fs.cpSync(path.join(root, "images"), path.join(tree, "images"), { recursive: true });
    fs.writeFileSync(path.join(tree, "images", "versions.json"), JSON.stringify({ ...versions, paheko: "9.9.9", caddy: "2.99.0" }));
    const r = spawnSync("bash", [BUILD_SCRIPT, "--list", "paheko-factory"], { cwd: tree, encoding: "utf8", env: { ...process.env, IMAGE_REGISTRY: "r.example.org" } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "paheko-factory\tr.example.org/paheko-factory:9.9.9\timages/paheko-factory\tCADDY=2.99.0\tPAHEKO=9.9.9\n");
  });
});

describe("shell files of the images and their CI script pass shellcheck", () => {
  function shellFiles(): { file: string; shell: string }[] {
    const out: { file: string; shell: string }[] = [{ file: BUILD_SCRIPT, shell: "bash" }];
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
        const f = path.join(rel, e.name);
        if (e.isDirectory()) { walk(f); continue; }
        const head = fs.readFileSync(path.join(root, f), "utf8").split("\n")[0];
        const m = /^#!\s*(?:\/usr\/bin\/env\s+)?\/?(?:\S*\/)?(sh|bash|dash|ash)\b/.exec(head);
        if (m) out.push({ file: f, shell: m[1] === "bash" ? "bash" : "sh" });
        else assert.ok(!f.endsWith(".sh"), `${f} has no shell shebang`);
      }
    };
    walk("images");
    return out;
  }

  it("finds the Paheko image's scripts", () => {
    const files = shellFiles().map((f) => f.file);
    for (const f of ["images/paheko-factory/start.sh", "images/paheko-factory/cron-loop.sh", "images/paheko-factory/paheko"]) assert.ok(files.includes(f), files.join(", "));
  });

  it("shellcheck: no finding, style level included", (t) => {
    const sc = requireTool(t, "shellcheck");
    if (!sc) return;
    for (const { file, shell } of shellFiles()) {
      const r: SpawnSyncReturns<string> = spawnSync(sc, [`--shell=${shell}`, "--severity=style", file], { cwd: root, encoding: "utf8" });
      assert.equal(r.status, 0, `${file}:\n${r.stdout}${r.stderr}`);
    }
  });

  it("shellcheck does flag a broken script (the check can fail)", (t) => {
    const sc = requireTool(t, "shellcheck");
    if (!sc) return;
    const r = spawnSync(sc, ["--shell=sh", "-"], { input: "#!/bin/sh\nfor f in $(ls *.txt); do echo $f; done\n", encoding: "utf8" });
    assert.equal(r.status, 1);
  });
});

describe("caddy-security image: what components/edge.ts and src/caddy/reload.ts use", () => {
  const dockerfile = read("images/caddy-security/Dockerfile");
  const tools = checkedTools("images/caddy-security/Dockerfile");

  it("runs as root (no USER): only root keeps NET_BIND_SERVICE under cap-drop ALL + no-new-privileges", () => {
    assert.doesNotMatch(dockerfile, /^USER /m);
    const edge = read("components/edge.ts");
    assert.match(edge, /capabilities: \{ drops: \["ALL"\], adds: \["NET_BIND_SERVICE"\] \}/);
    // no-new-privileges comes from the one hardening helper every factory container is built with.
    assert.match(edge, /new docker\.Container\(`\$\{name\}-\$\{id\}`, hardenedContainer\(\{/);
    assert.match(read("components/container.ts"), /securityOpts: \["no-new-privileges:true"\]/);
  });

  it("is the official builder + runtime pair, with caddy-security built by the pinned xcaddy", () => {
    assert.match(dockerfile, /^FROM caddy:\$\{CADDY\}-builder AS builder$/m);
    assert.match(dockerfile, /^FROM caddy:\$\{CADDY\}$/m);
    assert.match(dockerfile, /go install "github\.com\/caddyserver\/xcaddy\/cmd\/xcaddy@v\$\{XCADDY\}"/);
    assert.match(dockerfile, /--with "github\.com\/greenpau\/caddy-security@v\$\{CADDY_SECURITY\}"/);
    assert.match(dockerfile, /caddy list-modules \| grep -qx security/);
  });

  it("every tool of its check list is used by the delivery scripts", () => {
    const scripts = [renderApplyScript({ dir: "/d", admin: "localhost:2019" }), renderSecretsScript({ dir: "/d" }), renderStartScript({ dir: "/d", bootstrapConfig: ":80 {\n}\n" })].join("\n");
    for (const t of tools.filter((x) => x !== "sh")) assert.match(scripts, new RegExp(`(^|[\\s|;(!])${t} `, "m"), t);
  });

  it("the delivery scripts run with a PATH holding only the image's checked tools (and a fake caddy)", () => {
    const fakeCaddy = "#!/bin/sh\nexit 0\n";
    const p = restrictedPath(tools, { caddy: fakeCaddy });
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "sf-caddy-state-"));
    try {
      const env = { PATH: p, FACTORY_DIR: state };
      const secrets = spawnSync("sh", ["-c", renderSecretsScript({ dir: state })], { env, input: secretsBundle({ "kc.secret": "v1" }), encoding: "utf8" });
      assert.equal(secrets.status, 0, secrets.stderr);
      assert.equal(fs.readFileSync(path.join(state, "secrets", "kc.secret"), "utf8"), "v1");
      const apply = spawnSync("sh", ["-c", renderApplyScript({ dir: state, admin: "localhost:2019" })], { env, input: ":8081 {\n}\n", encoding: "utf8" });
      assert.equal(apply.status, 0, apply.stderr);
      assert.equal(fs.readFileSync(path.join(state, "Caddyfile"), "utf8"), ":8081 {\n}\n");
      fs.rmSync(path.join(state, "Caddyfile"));
      const start = spawnSync("sh", ["-c", renderStartScript({ dir: state, bootstrapConfig: ":80 {\n}\n" })], { env, encoding: "utf8" });
      assert.equal(start.status, 0, start.stderr);
      assert.equal(fs.readFileSync(path.join(state, "Caddyfile"), "utf8"), ":80 {\n}\n");
    } finally {
      fs.rmSync(p, { recursive: true, force: true });
      fs.rmSync(state, { recursive: true, force: true });
    }
  });

  it("a missing tool makes the delivery fail (the restricted PATH does restrict)", () => {
    const p = restrictedPath(tools.filter((t) => t !== "base64"), { caddy: "#!/bin/sh\nexit 0\n" });
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "sf-caddy-state-"));
    try {
      const r = spawnSync("sh", ["-c", renderSecretsScript({ dir: state })], { env: { PATH: p, FACTORY_DIR: state }, input: secretsBundle({ a: "b" }), encoding: "utf8" });
      assert.notEqual(r.status, 0);
    } finally {
      fs.rmSync(p, { recursive: true, force: true });
      fs.rmSync(state, { recursive: true, force: true });
    }
  });
});

describe("paheko-factory image: what components/paheko.ts and src/paheko use", () => {
  const D = "images/paheko-factory";
  const dockerfile = read(`${D}/Dockerfile`);
  const caddyfile = read(`${D}/Caddyfile`);
  const tools = checkedTools(`${D}/Dockerfile`);

  it("the paths, port, user and cron script path of the program", () => {
    assert.match(dockerfile, new RegExp(`^EXPOSE ${PAHEKO_HTTP_PORT}$`, "m"));
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    assert.ok(user && user !== "root" && user !== "0", `non-root USER, got ${user}`);
    assert.match(dockerfile, new RegExp(`mv "/var/www/paheko-\\$\\{PAHEKO\\}" ${PAHEKO_PATHS.root};`));
    assert.match(dockerfile, new RegExp(`^COPY config\\.local\\.php ${PAHEKO_PATHS.root}/config\\.local\\.php$`, "m"));
    assert.match(dockerfile, new RegExp(`^COPY Caddyfile start\\.sh cron-loop\\.sh ${path.posix.dirname(PAHEKO_CRON_SCRIPT)}/$`, "m"));
    assert.match(dockerfile, /for f in [^;]*bin\/paheko[ ;]/, "the entry point the program's cron loop runs is checked");
    assert.doesNotMatch(dockerfile, /for f in [^;]*scripts\/(cron|emails)\.php/, "deprecated wrappers are not part of the contract");
    assert.ok(dockerfile.includes(`test -d ${PAHEKO_PATHS.plugins};`), "PLUGINS_ROOT of the program's config is checked");
    const mk = /mkdir -p ([^;]+);/.exec(dockerfile.slice(dockerfile.indexOf("cp \"$PHP_INI_DIR")));
    assert.ok(mk);
    for (const d of [PAHEKO_PATHS.users, PAHEKO_PATHS.cache, PAHEKO_PATHS.secrets]) assert.ok(mk[1].split(/\s+/).includes(d), d);
    assert.match(dockerfile, new RegExp(`chown -R ${user}:${user} ${PAHEKO_PATHS.data} `));
    assert.match(dockerfile, /^CMD \["\/usr\/local\/share\/paheko-factory\/start\.sh"\]$/m);
    assert.doesNotMatch(dockerfile, /^ENTRYPOINT/m, "the program replaces the entrypoint of the cron sidecar; CMD must not leak into it");
  });

  it("Caddy serves www/ of the code root on the program's port and reaches FPM's socket", () => {
    assert.match(caddyfile, new RegExp(`^:${PAHEKO_HTTP_PORT} \\{$`, "m"));
    assert.match(caddyfile, new RegExp(`^\\troot \\* ${PAHEKO_PATHS.root}/www$`, "m"));
    const socket = /^listen = (\S+)$/m.exec(read(`${D}/php-fpm.conf`))?.[1];
    assert.ok(socket);
    assert.match(caddyfile, new RegExp(`php_fastcgi unix/${socket} \\{`));
    assert.match(caddyfile, /try_files \{path\} \{path\}\/index\.php \/_route\.php/);
    assert.match(read(`${D}/php.ini`), /^variables_order = "EGPCS"$/m);
    assert.match(read(`${D}/php-fpm.conf`), /^clear_env = no$/m);
  });

  it("caddy validate accepts the Caddyfile", (t) => {
    const caddy = requireTool(t, "caddy");
    if (!caddy) return;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sf-caddy-"));
    try {
      const r = spawnSync(caddy, ["validate", "--config", path.join(root, D, "Caddyfile"), "--adapter", "caddyfile"], { encoding: "utf8", env: { ...process.env, XDG_CONFIG_HOME: tmp, XDG_DATA_HOME: tmp } });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("the program's folder script and cron loop run with a PATH holding only the image's checked tools", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sf-paheko-"));
    const log = path.join(tmp, "php.log");
    const users = path.join(tmp, "users");
    const p = restrictedPath(tools, { php: fakePahekoPhp({ log, usersDir: users }), caddy: "#!/bin/sh\nexit 0\n", "php-fpm": "#!/bin/sh\nexit 0\n" });
    try {
      for (const org of ["asso-a", "asso-b", "asso-c"]) {
        const r = spawnSync("sh", ["-s"], { input: renderFolderScript({ org, usersDir: users }), env: { PATH: p }, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
      }
      fs.writeFileSync(path.join(users, "asso-a", "association.sqlite"), `${FAKE_PAHEKO_VERSION}\n`);
      fs.writeFileSync(path.join(users, "asso-b", "association.sqlite"), "1.3.14\n");
      const orgsFile = path.join(tmp, "cron-organisations");
      fs.writeFileSync(orgsFile, "asso-a\nasso-b\nasso-c\n");
      const loop = renderCronLoop({ orgsFile, usersDir: users, pahekoRoot: "/code" });
      const r = spawnSync("sh", ["-s", "--", "--once"], { input: loop, env: { PATH: p }, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.deepEqual(fs.readFileSync(log, "utf8").trim().split("\n"), [
        "asso-a /code/bin/paheko upgrade", "asso-a /code/bin/paheko cron", "asso-a /code/bin/paheko queue run --quiet",
        "asso-b /code/bin/paheko upgrade", "asso-b /code/bin/paheko cron", "asso-b /code/bin/paheko queue run --quiet",
      ]);
    } finally {
      fs.rmSync(p, { recursive: true, force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it(`${PAHEKO_IMAGE_CRON_LOOP} is renderImageCronLoop() (UPDATE_GOLDEN=1 rewrites it)`, () => {
    const rendered = renderImageCronLoop();
    if (process.env.UPDATE_GOLDEN === "1") fs.writeFileSync(path.join(root, PAHEKO_IMAGE_CRON_LOOP), rendered);
    assert.equal(read(PAHEKO_IMAGE_CRON_LOOP), rendered);
  });

  it("the image's default cron loop: bin/paheko upgrade, cron and queue run per organisation with a database", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sf-paheko-"));
    const log = path.join(tmp, "php.log");
    const users = path.join(tmp, "users");
    const p = restrictedPath(tools, { php: fakePahekoPhp({ log, usersDir: users }), caddy: "#!/bin/sh\nexit 0\n", "php-fpm": "#!/bin/sh\nexit 0\n" });
    try {
      for (const d of ["asso-a", "asso-b", "fresh", "empty", "Bad.Name"]) fs.mkdirSync(path.join(users, d), { recursive: true });
      for (const d of ["asso-a", "Bad.Name"]) fs.writeFileSync(path.join(users, d, "association.sqlite"), `${FAKE_PAHEKO_VERSION}\n`);
      fs.writeFileSync(path.join(users, "asso-a", "queue"), "9\n"); // still queued after the pass: `queue run` exits 2
      fs.writeFileSync(path.join(users, "asso-b", "association.sqlite"), "1.3.14\n"); // needs `upgrade` first
      fs.writeFileSync(path.join(users, "empty", "association.sqlite"), "");
      fs.writeFileSync(path.join(users, "not-a-dir"), "");
      const r = spawnSync("sh", [path.join(root, D, "cron-loop.sh"), "--once"], { env: { PATH: p, PAHEKO_USERS_DIR: users, PAHEKO_ROOT: "/code" }, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(fs.readFileSync(log, "utf8").trim().split("\n"), [
        "asso-a /code/bin/paheko upgrade", "asso-a /code/bin/paheko cron", "asso-a /code/bin/paheko queue run --quiet",
        "asso-b /code/bin/paheko upgrade", "asso-b /code/bin/paheko cron", "asso-b /code/bin/paheko queue run --quiet",
      ]);
      assert.equal(fs.readFileSync(path.join(users, "asso-b", "association.sqlite"), "utf8").trim(), FAKE_PAHEKO_VERSION);
      assert.doesNotMatch(r.stderr, /failed/);
      assert.match(r.stderr, /Bad\.Name is not an organisation name/);
    } finally {
      fs.rmSync(p, { recursive: true, force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  describe("start.sh: FPM and Caddy side by side", () => {
    /** A fake server: records its start, stays up until TERM (recorded), or exits with `rc` after `after` s. */
    const fakeServer = (name: string, marks: string, exit?: { after: number; rc: number }) => `#!/bin/sh
trap 'echo term >> "${marks}/${name}"; exit 0' TERM
echo start >> '${marks}/${name}'
${exit ? `sleep ${exit.after}; exit ${exit.rc}` : "while :; do sleep 1 & wait $!; done"}
`;
    async function run(exitOf?: "php-fpm" | "caddy", signal = false): Promise<{ code: number | null; marks: string }> {
      const marks = fs.mkdtempSync(path.join(os.tmpdir(), "sf-start-"));
      const p = restrictedPath(["sh", "mkdir", "sleep"], {
        "php-fpm": fakeServer("php-fpm", marks, exitOf === "php-fpm" ? { after: 1, rc: 3 } : undefined),
        caddy: fakeServer("caddy", marks, exitOf === "caddy" ? { after: 1, rc: 3 } : undefined),
      });
      const child: ChildProcess = spawn("sh", [path.join(root, D, "start.sh")], {
        env: { PATH: p, PAHEKO_FACTORY_SESSIONS: path.join(marks, "sessions") }, stdio: "ignore",
      });
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => { child.kill("SIGKILL"); resolve(-1); }, 20000);
        child.on("exit", (c) => { clearTimeout(timer); resolve(c); });
        if (signal) {
          const wait = () => (fs.existsSync(path.join(marks, "caddy")) && fs.existsSync(path.join(marks, "php-fpm")) ? child.kill("SIGTERM") : setTimeout(wait, 50));
          wait();
        }
      });
      fs.rmSync(p, { recursive: true, force: true });
      return { code, marks };
    }
    /** start, then term: a second TERM during the fake's own exit may add a line, never remove one. */
    const lines = (marks: string, name: string) => [...new Set(fs.readFileSync(path.join(marks, name), "utf8").trim().split("\n"))];

    it("SIGTERM stops both and exits 0", async () => {
      const { code, marks } = await run(undefined, true);
      try {
        assert.equal(code, 0);
        assert.deepEqual(lines(marks, "caddy"), ["start", "term"]);
        assert.deepEqual(lines(marks, "php-fpm"), ["start", "term"]);
        assert.ok(fs.statSync(path.join(marks, "sessions")).isDirectory(), "sessions folder made");
      } finally { fs.rmSync(marks, { recursive: true, force: true }); }
    });

    for (const dies of ["php-fpm", "caddy"] as const) {
      it(`${dies} stopping stops the other and exits 1 (the restart policy restarts the pair)`, async () => {
        const { code, marks } = await run(dies);
        try {
          assert.equal(code, 1);
          const other = dies === "caddy" ? "php-fpm" : "caddy";
          assert.deepEqual(lines(marks, other), ["start", "term"]);
        } finally { fs.rmSync(marks, { recursive: true, force: true }); }
      });
    }
  });

  describe("the image's default config.local.php (environment-configured), with php", () => {
    // Stands in for Paheko's src/include/init.php:19-24 (PAHEKO_<NAME> -> constant <NAME>), then reads the file.
    const DRIVER = `<?php
namespace Paheko;
foreach (getenv() as $k => $v) { if (strpos($k, 'PAHEKO_') === 0) { define('Paheko\\\\' . substr($k, 7), $v); } }
require getenv('CONFIG_UNDER_TEST');
echo json_encode(['data_root' => DATA_ROOT, 'www_url' => WWW_URL, 'secret' => SECRET_KEY, 'plugins' => PLUGINS_ROOT,
  'cache' => SHARED_CACHE_ROOT, 'cron' => USE_CRON, 'upgrades' => ENABLE_UPGRADES, 'smtp_password' => defined('Paheko\\\\SMTP_PASSWORD') ? SMTP_PASSWORD : null]);
`;
    let tmp = "";
    let port = 0;
    let server: ChildProcess | undefined;
    let php: string | undefined;
    const baseEnv = () => ({
      PATH: process.env.PATH, CONFIG_UNDER_TEST: path.join(tmp, "code", "config.local.php"),
      PAHEKO_FACTORY_DOMAIN: "paheko.example.org", PAHEKO_FACTORY_USER_DIRECTORY: path.join(tmp, "users"),
      PAHEKO_FACTORY_DOMAINS: "compta.exemple.org=asso-a, other.example.net=asso-b", PAHEKO_SECRET_KEY_FILE: path.join(tmp, "secret_key"),
      PAHEKO_SMTP_PASSWORD_FILE: path.join(tmp, "smtp"),
    });

    before(async () => {
      php = which("php");
      if (!php) return;
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sf-paheko-config-"));
      fs.mkdirSync(path.join(tmp, "code", "www"), { recursive: true });
      fs.copyFileSync(path.join(root, D, "config.local.php"), path.join(tmp, "code", "config.local.php"));
      fs.writeFileSync(path.join(tmp, "code", "www", "index.php"), DRIVER);
      fs.writeFileSync(path.join(tmp, "driver.php"), DRIVER);
      fs.writeFileSync(path.join(tmp, "secret_key"), "k".repeat(40) + "\n");
      fs.writeFileSync(path.join(tmp, "smtp"), "smtp-pass\n");
      for (const o of ["asso-a", "asso-b", "asso-c"]) fs.mkdirSync(path.join(tmp, "users", o), { recursive: true });
      port = await freePort();
      server = spawn(php, ["-S", `127.0.0.1:${port}`, "-t", path.join(tmp, "code", "www")], { env: baseEnv(), stdio: ["ignore", "ignore", "pipe"] });
      for (let i = 0; ; i++) {
        try { await get("probe.invalid"); break; } catch (e) { if (i > 200) throw e; await new Promise((r) => setTimeout(r, 50)); }
      }
    });
    after(() => {
      server?.kill();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const get = (host: string) => getWithHost(port, host);

    it("php -l", (t) => {
      if (!requireTool(t, "php")) return;
      const r = spawnSync(php!, ["-l", path.join(root, D, "config.local.php")], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });

    it("web: sub-domains of FACTORY_DOMAIN and the FACTORY_DOMAINS map select the organisation; others get 404", async (t) => {
      if (!requireTool(t, "php")) return;
      for (const [host, org, url] of [
        ["asso-c.paheko.example.org", "asso-c", "https://asso-c.paheko.example.org/"],
        ["ASSO-C.paheko.example.org:443", "asso-c", "https://asso-c.paheko.example.org/"],
        ["compta.exemple.org", "asso-a", "https://compta.exemple.org/"],
        ["other.example.net", "asso-b", "https://other.example.net/"],
      ]) {
        const r = await get(host);
        assert.equal(r.status, 200, `${host}: ${r.body}`);
        const j = JSON.parse(r.body) as Record<string, unknown>;
        assert.equal(j.data_root, path.join(tmp, "users", org), host);
        assert.equal(j.www_url, url, host);
        assert.equal(j.secret, "k".repeat(40));
        assert.equal(j.smtp_password, "smtp-pass");
        assert.equal(j.plugins, path.join(tmp, "code", "data", "plugins"));
        assert.equal(j.cache, "/data/cache");
        assert.deepEqual([j.cron, j.upgrades], [true, false]);
      }
      for (const host of ["nope.paheko.example.org", "paheko.example.org", "a.b.paheko.example.org", "evil.example", "x.paheko.example.org.evil.example"]) {
        assert.equal((await get(host)).status, 404, host);
      }
    });

    it("CLI: PAHEKO_FACTORY_USER selects the organisation, its URL is its first mapped hostname", (t) => {
      if (!requireTool(t, "php")) return;
      const run = (env: Record<string, string | undefined>) => spawnSync(php!, [path.join(tmp, "driver.php")], { env: { ...baseEnv(), ...env }, encoding: "utf8" });
      const a = run({ PAHEKO_FACTORY_USER: "asso-a" });
      assert.equal(a.status, 0, a.stdout + a.stderr);
      assert.equal((JSON.parse(a.stdout) as { www_url: string }).www_url, "https://compta.exemple.org/");
      const c = run({ PAHEKO_FACTORY_USER: "asso-c" });
      assert.equal((JSON.parse(c.stdout) as { data_root: string }).data_root, path.join(tmp, "users", "asso-c"));
      for (const env of [{ PAHEKO_FACTORY_USER: "missing" }, { PAHEKO_FACTORY_USER: "../etc" }, {}, { PAHEKO_FACTORY_USER: "asso-a", PAHEKO_FACTORY_DOMAIN: undefined }, { PAHEKO_FACTORY_USER: "asso-a", PAHEKO_SECRET_KEY_FILE: path.join(tmp, "none") }]) {
        const r = run(env);
        assert.equal(r.status, 1, `${JSON.stringify(env)}: ${r.stdout}`);
        assert.match(r.stderr, /^paheko-factory: /);
      }
    });
  });
});

describe("Nextcloud needs no image of ours", () => {
  it("the patched entrypoint is uploaded into the official image's containers at run time", () => {
    const nc = read("components/nextcloudInstance.ts");
    assert.match(nc, /\{ file: NC_PATHS\.entrypoint, content: this\.args\.entrypoint, permissions: "0555" \}/);
    assert.match(nc, /entrypoints: \[NC_PATHS\.entrypoint\]/);
    assert.match(nc, /path\.join\(__dirname, "\.\.", "scripts", "nextcloud", "entrypoint\.sh"\)/);
    for (const file of stackFiles) assert.equal(splitRef(stackImages(file).nextcloud as string).repository, "nextcloud", file);
  });
});

describe("image workflows and documentation", () => {
  type Step = { name?: string; uses?: string; run?: string; env?: Record<string, string> };
  type Workflow = { on: Record<string, unknown>; jobs: Record<string, { "runs-on": string; steps: Step[] }> };
  const gh = parse(read(".github/workflows/images.yml")) as Workflow;
  const fj = parse(read(".forgejo/workflows/images.yml")) as Workflow;

  it("both forges build and push on tags images-* (and by hand) with the one script and the registry settings", () => {
    for (const w of [gh, fj]) {
      assert.deepEqual(w.on, { push: { tags: ["images-*"] }, workflow_dispatch: null });
      const steps = Object.values(w.jobs).flatMap((j) => j.steps);
      const build = steps.filter((s) => s.run?.includes(BUILD_SCRIPT));
      assert.equal(build.length, 1);
      assert.equal(build[0].run, `bash ${BUILD_SCRIPT} --push`);
      assert.deepEqual(build[0].env, {
        IMAGE_REGISTRY: "${{ vars.IMAGE_REGISTRY || secrets.IMAGE_REGISTRY }}",
        IMAGE_REGISTRY_USER: "${{ vars.IMAGE_REGISTRY_USER || secrets.IMAGE_REGISTRY_USER }}",
        IMAGE_REGISTRY_PASSWORD: "${{ secrets.IMAGE_REGISTRY_PASSWORD }}",
      });
      assert.ok(steps.some((s) => s.uses === "actions/checkout@v4"));
    }
    assert.equal(fj.jobs.images["runs-on"], "docker");
    assert.match(read(".github/actionlint.yaml"), /^ {4}- docker$/m);
  });

  it("images/README.md: one section per image with its setting and the exact build && push command", () => {
    const readme = read("images/README.md");
    const sections = readme.split(/^## /m).slice(1);
    for (const b of listImages("registry.example.org")) {
      const { setting, dir } = FACTORY_IMAGES[b.name];
      const section = sections.find((x) => x.startsWith(`${b.name} (\`${dir}/\`)`));
      assert.ok(section, `section ${b.name}`);
      assert.ok(section.includes(`**\`images.${setting}\`**`), `${b.name}: setting`);
      assert.ok(section.includes(`-t ${b.ref} ${dir} \\\n  && docker push ${b.ref}\n`), `${b.name}: docker build … -t ${b.ref} ${dir} && docker push ${b.ref}`);
      const args = Object.fromEntries([...section.matchAll(/--build-arg (\w+)=(\S+)/g)].map((x) => [x[1], x[2]]));
      for (const [k, v] of Object.entries(b.args)) assert.equal(args[k], v, `${b.name}: README build arg ${k}`);
      const defaults = dockerfileArgs(read(`${dir}/Dockerfile`));
      for (const [k, v] of Object.entries(args)) if (!v.startsWith("<")) assert.equal(v, defaults.get(k), `${b.name}: README ${k} is the Dockerfile default`);
    }
    assert.match(readme, /## Nextcloud: no image of ours/);
    assert.match(readme, /images-\*/);
    assert.ok(read("README.md").includes("images/README.md"), "README.md points to images/README.md");
  });

  it("docs/paheko.md cites Paheko's source for the image contract", () => {
    const doc = read("docs/paheko.md");
    for (const f of ["src/include/init.php:19-24", "tools/factory/config.local.php", "src/include/lib/Paheko/CLI.php", "src/scripts/cron.php"]) assert.ok(doc.includes(f), f);
  });
});
