// actionlint over the workflow files named: one line per finding,
// "FILE:LINE:COLUMN: MESSAGE [KIND]", and exit status 1 when there is any.
// The package's own command line exits 0 whatever it finds; its library does not.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { runLint } = require(path.join(__dirname, "node_modules", "@tktco", "node-actionlint"));

(async () => {
  let found = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      found += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(found ? 1 : 0);
})().catch((error) => {
  console.error(String(error));
  process.exit(2);
});
