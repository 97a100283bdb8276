// images/versions.json is the one list of upstream versions: scripts/lab/install-test-tools.sh builds the
// lab servers from it, scripts/lab/lab-images.sh tags the lab images with it, and every stack file's image
// pins must name the same releases. This test fails when a pin and the list disagree.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";

const root = path.join(__dirname, "..");
const versions = JSON.parse(fs.readFileSync(path.join(root, "images", "versions.json"), "utf8")) as Record<string, string>;

/** The tag of an image reference (`repo/name:tag` → `tag`; a registry port is not a tag), or undefined. */
function tagOf(ref: string): string | undefined {
  const last = ref.slice(ref.lastIndexOf("/") + 1);
  const i = last.indexOf(":");
  return i < 0 ? undefined : last.slice(i + 1);
}

/** Every disagreement between one stack's `service-factory:images` and versions.json. */
function pinProblems(images: Record<string, unknown>, v: Record<string, string>): string[] {
  const out: string[] = [];
  const expect = (key: string, ok: (ref: string) => boolean, want: string) => {
    const ref = images[key];
    if (typeof ref !== "string") out.push(`images.${key} is missing`);
    else if (!ok(ref)) out.push(`images.${key} is ${ref}, versions.json says ${want}`);
  };
  expect("garage", (r) => r === `dxflrs/garage:v${v.garage}`, `dxflrs/garage:v${v.garage}`);
  expect("keycloak", (r) => r === `quay.io/keycloak/keycloak:${v.keycloak}`, `quay.io/keycloak/keycloak:${v.keycloak}`);
  const caddyTag = `${v.caddy}-${v.caddySecurity}`;
  expect("caddy", (r) => /\/caddy-security:[^/]+$/.test(r) && tagOf(r) === caddyTag, `<registry>/caddy-security:${caddyTag}`);
  return out;
}

const stackFiles = fs.readdirSync(root).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f)).sort();

describe("image pins agree with images/versions.json", () => {
  it("versions.json names every version the lab builds, as plain release numbers", () => {
    for (const k of ["garage", "keycloak", "caddy", "caddySecurity", "xcaddy", "actionlint"]) {
      assert.match(versions[k] ?? "", /^\d+\.\d+\.\d+$/, `versions.json ${k}`);
    }
  });

  it("finds the stack files", () => {
    for (const s of ["staging", "prod", "dev"]) assert.ok(stackFiles.includes(`Pulumi.${s}.yaml`), stackFiles.join(", "));
  });

  for (const file of stackFiles) {
    it(`${file}: garage, keycloak and caddy pins are the versions.json releases`, () => {
      const doc = parse(fs.readFileSync(path.join(root, file), "utf8")) as { config?: Record<string, unknown> };
      const images = doc.config?.["service-factory:images"];
      assert.ok(images && typeof images === "object", `${file} has no service-factory:images`);
      assert.deepEqual(pinProblems(images as Record<string, unknown>, versions), []);
    });
  }

  it("reports a pin that moved away from versions.json, and a missing one", () => {
    const good = {
      garage: `dxflrs/garage:v${versions.garage}`,
      keycloak: `quay.io/keycloak/keycloak:${versions.keycloak}`,
      caddy: `registry.example.org:5000/caddy-security:${versions.caddy}-${versions.caddySecurity}`,
    };
    assert.deepEqual(pinProblems(good, versions), []);
    assert.equal(pinProblems({ ...good, garage: "dxflrs/garage:v0.0.1" }, versions).length, 1);
    assert.equal(pinProblems({ ...good, keycloak: "quay.io/keycloak/keycloak:1.0.0" }, versions).length, 1);
    assert.equal(pinProblems({ ...good, caddy: `r.example.org/caddy-security:${versions.caddy}-0.0.1` }, versions).length, 1);
    assert.equal(pinProblems({ ...good, caddy: `r.example.org/caddy:${versions.caddy}-${versions.caddySecurity}` }, versions).length, 1);
    const { keycloak: _k, ...noKeycloak } = good;
    assert.deepEqual(pinProblems(noKeycloak, versions), ["images.keycloak is missing"]);
  });
});
