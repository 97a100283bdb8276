// Writes tenants/tenant.schema.json from the service registry (src/services/schema.ts).
import * as fs from "node:fs";
import * as path from "node:path";
import { renderTenantSchema } from "../src/services/schema";

const file = path.join(__dirname, "..", "tenants", "tenant.schema.json");
fs.writeFileSync(file, renderTenantSchema());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
