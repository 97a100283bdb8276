// The published JSON Schema (editors) and the loader (CI) must agree on every example, good and bad.
// Also checks Pulumi.yaml against the Pulumi CLI's own project schema.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import Ajv from "ajv";
import { parseDocument } from "yaml";
import { renderTenantSchema } from "../src/services/schema";
import { BAD_CASES, GOOD_CASES } from "./fixtures/tenant-cases";

const root = path.join(__dirname, "..");
const tenantSchema = JSON.parse(fs.readFileSync(path.join(root, "tenants/tenant.schema.json"), "utf8"));
const validateTenant = new Ajv({ allErrors: true, strict: false }).compile(tenantSchema);

/** What the schema says of one file: parse failures count as a rejection, as they do in an editor. */
function schemaAccepts(source: string): boolean {
  const doc = parseDocument(source, { uniqueKeys: false });
  if (doc.errors.length > 0) return false;
  return validateTenant(doc.toJS()) as boolean;
}

describe("tenant JSON Schema agrees with the loader", () => {
  it("the committed schema is the one the service registry renders (npm run schema)", () => {
    assert.equal(fs.readFileSync(path.join(root, "tenants/tenant.schema.json"), "utf8"), renderTenantSchema());
  });

  const exampleFiles = ["staging", "prod", "dev"].flatMap((stack) => {
    const dir = path.join(root, "tenants", stack);
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).map((f) => path.join(dir, f)) : [];
  });

  it("finds the committed example tenants", () => assert.ok(exampleFiles.length >= 6, `${exampleFiles.length} examples`));

  for (const file of exampleFiles) {
    it(`accepts ${path.relative(root, file)}`, () => {
      const source = fs.readFileSync(file, "utf8");
      assert.ok(schemaAccepts(source), JSON.stringify(validateTenant.errors));
      assert.match(source.split("\n")[0], /^# yaml-language-server: \$schema=\.\.\/tenant\.schema\.json$/);
    });
  }
  for (const files of GOOD_CASES) {
    it(`accepts good case ${Object.keys(files)[0]}`, () => {
      for (const source of Object.values(files)) assert.ok(schemaAccepts(source), JSON.stringify(validateTenant.errors));
    });
  }
  for (const c of BAD_CASES) {
    it(`${c.schema === "reject" ? "rejects" : "accepts (loader-only rule)"}: ${c.name}`, () => {
      const verdicts = Object.values(c.files).map(schemaAccepts);
      if (c.schema === "reject") assert.ok(verdicts.includes(false), "the schema should reject at least one file");
      else assert.ok(verdicts.every(Boolean), `the schema should accept each file alone: ${JSON.stringify(validateTenant.errors)}`);
    });
  }
});

describe("Pulumi.yaml", () => {
  it("validates against the Pulumi CLI's project schema", () => {
    const schemaFile = [path.join(root, "..", "shared", "schemas", "pulumi-project.schema.json"), path.join(root, "test", "fixtures", "pulumi-project.schema.json")].find(fs.existsSync);
    assert.ok(schemaFile, "project schema not found");
    const schema = JSON.parse(fs.readFileSync(schemaFile!, "utf8"));
    const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
    const validate = ajv.compile(schema);
    const project = parseDocument(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")).toJS();
    assert.ok(validate(project), JSON.stringify(validate.errors, null, 2));
  });
});
