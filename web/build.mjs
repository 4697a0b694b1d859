// Builds the browser bundle the Python server ships as package data:
//   web/src/app/main.js  -> src/cowrite/server/static/app.js (+ app.js.map)
//   web/src/app/app.css  -> src/cowrite/server/static/app.css
//   web/src/app/sw.js    -> src/cowrite/server/static/sw.js (the service worker, served as
//                           /sw.js; SHELL_VERSION in it is a hash of the two files above and
//                           the pages' HTML, so each deploy of a new shell installs anew)
// The bundle is committed, so `pip install` needs no Node.  `node build.mjs --check`
// builds in memory and fails if the committed files differ (CI runs it).
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
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

/** The version of the app shell: a hash of the built bundle and stylesheet and the pages. */
async function shellVersion(outputs) {
  const hash = createHash("sha256");
  for (const name of ["app.js", "app.css"]) {
    const file = outputs.find((f) => path.basename(f.path) === name);
    hash.update(file ? file.contents : await readFile(path.join(outDir, name)));
  }
  for (const name of ["index.html", "editor.html", "history.html"]) hash.update(await readFile(path.join(outDir, name)));
  return hash.digest("hex").slice(0, 16);
}

let stale = [];
const outputs = [];
async function compare(result) {
  if (!check) return;
  for (const file of result.outputFiles) {
    outputs.push(file);
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

for (const options of builds) await compare(await esbuild.build(options));
// after the bundle: the bytes just built (and the pages) make the worker's version
const version = await shellVersion(outputs);
await compare(
  await esbuild.build({
    ...common,
    entryPoints: [path.join(here, "src/app/sw.js")],
    outfile: path.join(outDir, "sw.js"),
    format: "iife",
    define: { SHELL_VERSION: JSON.stringify(version) },
  }),
);

if (check) {
  if (stale.length) {
    console.error(`stale bundle: ${stale.join(", ")}\nrun \`cd web && npm run build\` and commit the result`);
    process.exit(1);
  }
  console.log("bundle is up to date");
} else {
  console.log(`built ${path.relative(process.cwd(), outDir)}/app.js, app.css and sw.js (shell ${version})`);
}
