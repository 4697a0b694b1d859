// Builds the browser bundle the Python server ships as package data:
//   web/src/app/main.js  -> src/cowrite/server/static/app.js (+ app.js.map)
//   web/src/app/app.css  -> src/cowrite/server/static/app.css
// The bundle is committed, so `pip install` needs no Node.  `node build.mjs --check`
// builds in memory and fails if the committed files differ (CI runs it).
import * as esbuild from "esbuild";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(here, "../src/cowrite/server/static");
const check = process.argv.includes("--check");

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  minify: true,
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  logLevel: "warning",
  legalComments: "eof",
  // write: false in check mode gives the very bytes a real build would write
  // (same outfile, so the same relative sourcemap paths), without touching them.
  write: !check,
};

const builds = [
  {
    ...common,
    entryPoints: [path.join(here, "src/app/main.js")],
    outfile: path.join(outDir, "app.js"),
    format: "esm",
    sourcemap: "linked",
    sourcesContent: false, // sources are in the repository; keeps the map small
  },
  {
    ...common,
    entryPoints: [path.join(here, "src/app/app.css")],
    outfile: path.join(outDir, "app.css"),
    loader: { ".css": "css" },
  },
];

let stale = [];
for (const options of builds) {
  const result = await esbuild.build(options);
  if (!check) continue;
  for (const file of result.outputFiles) {
    let committed = null;
    try {
      committed = await readFile(file.path);
    } catch {
      // missing counts as stale
    }
    if (committed === null || Buffer.compare(committed, Buffer.from(file.contents)) !== 0) {
      stale.push(path.relative(process.cwd(), file.path));
    }
  }
}

if (check) {
  if (stale.length) {
    console.error(`stale bundle: ${stale.join(", ")}\nrun \`cd web && npm run build\` and commit the result`);
    process.exit(1);
  }
  console.log("bundle is up to date");
} else {
  console.log(`built ${path.relative(process.cwd(), outDir)}/app.js and app.css`);
}
