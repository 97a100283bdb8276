// Registers TypeScript the way the Pulumi Node.js language host does (@pulumi/pulumi cmd/run/run.js):
// @pulumi/pulumi's typeScriptRequireStrings() picks typescript and ts-node, ts-node compiles each file to
// CommonJS with the project's tsconfig.pulumi.json (Pulumi.yaml runtime.options.tsconfig). Unlike tsx, this
// rewrites exported names to `exports.X` reads: a local named `exports` then breaks the program.
const path = require("node:path");
const root = path.resolve(__dirname, "..", "..");
const tsutils = require(path.join(root, "node_modules", "@pulumi", "pulumi", "tsutils"));
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const tsConfigPath = path.join(root, "tsconfig.pulumi.json");
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
require(tsnodeRequire).register({
  compiler: typescriptRequire,
  transpileOnly: compilerOptions.noCheck,
  project: tsConfigPath,
  skipProject: false,
  compilerOptions: { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...compilerOptions },
});
