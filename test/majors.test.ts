// The major-version guard (src/majors.ts): pure rules here; the real engine refusing a preview in the e2e.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageMajor, imageMajors, majorChangeProblems } from "../src/majors";
import { loadStackFile } from "../src/settings";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

describe("major-version guard of the stateful images", () => {
  it("reads the major of a tag, whatever the registry, and nothing from a digest", () => {
    assert.equal(imageMajor("postgres:15.10-bookworm"), 15);
    assert.equal(imageMajor("mariadb:11.4.4"), 11);
    assert.equal(imageMajor("registry.example.org:5000/keycloak/keycloak:26.0.7"), 26);
    assert.equal(imageMajor("factory-lab/postgres:15-bookworm"), 15);
    assert.equal(imageMajor("postgres@sha256:" + "a".repeat(64)), undefined);
    assert.equal(imageMajor("postgres:latest"), undefined);
    const images = { postgres: "postgres:16.4", mariadb: "mariadb:11.4.4", keycloak: "k/keycloak:26.0.7", redis: "redis:7.4.1" };
    assert.deepEqual(imageMajors(images), { postgres: 16, mariadb: 11, keycloak: 26 });
  });

  it("refuses a changed major unless the migration setting names the new one; no record is no refusal", () => {
    const deployed = { postgres: 15, mariadb: 11, keycloak: 26 };
    assert.deepEqual(majorChangeProblems(deployed, { postgres: 15, mariadb: 11, keycloak: 26 }), []);
    const up = majorChangeProblems(deployed, { postgres: 16, mariadb: 11, keycloak: 26 });
    assert.equal(up.length, 1);
    assert.match(up[0], /^images\.postgres: the deployed data is postgres 15; postgres 16 does not open it as it is\. .*migrations: \{ postgres: 16 \}\. Nothing was changed\.$/);
    assert.match(majorChangeProblems(deployed, { postgres: 14, mariadb: 11, keycloak: 26 })[0], /postgres 14 cannot open data of a newer major/);
    assert.deepEqual(majorChangeProblems(deployed, { postgres: 16, mariadb: 11, keycloak: 26 }, { postgres: 16 }), [], "confirmed");
    assert.equal(majorChangeProblems(deployed, { postgres: 17, mariadb: 11, keycloak: 26 }, { postgres: 16 }).length, 1, "a confirmation is for one major");
    assert.equal(majorChangeProblems(deployed, { postgres: 16, mariadb: 12, keycloak: 27 }).length, 3);
    for (const none of [undefined, null, {}, "x"]) assert.deepEqual(majorChangeProblems(none, { postgres: 16 }), []);
  });

  it("the migrations setting is validated like every setting", () => {
    const staging = fs.readFileSync(path.join(__dirname, "..", "Pulumi.staging.yaml"), "utf8").replace(/\n*$/, "\n");
    const file = (extra: string) => {
      const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sf-migr-")), "Pulumi.staging.yaml");
      fs.writeFileSync(f, staging + extra);
      return loadStackFile("staging", f);
    };
    const good = file("  service-factory:migrations: { postgres: 16 }\n");
    assert.deepEqual(good.problems, []);
    assert.deepEqual(good.settings?.migrations, { postgres: 16 });
    const bad = file("  service-factory:migrations: { postgres: 0, mongo: 3 }\n");
    assert.deepEqual(bad.problems.map((p) => p.message).sort(), [
      "migrations.postgres must be a positive integer (got 0)",
      'migrations: unknown key "mongo"; allowed: postgres, mariadb, keycloak',
    ]);
  });
});
