// The service worker (built by build.mjs into static/sw.js, served as /sw.js so its
// scope is the whole site): it keeps the app shell -- the three pages' HTML, app.js,
// app.css -- so a page opened once opens again with no server; the editor then reads
// the document from this device (persist.js, offline.js) and syncs when it can.
//
// * Pages (navigations to /, /account, /admin, /d/{id}, /d/{id}/history): the
//   network first, so users get a new version as soon as it is deployed; the cached
//   shell page when the network fails or the server answers 5xx (a proxy in front of
//   a server that is down).
// * /static/app.js and /static/app.css: from the cache.  Their URLs carry no hash, but
//   the cache's name does: SHELL_VERSION is a hash of the built files and the pages,
//   so a deploy changes this script, the browser installs it, and it fetches the new
//   shell into a new cache and deletes the old ones.
// * Nothing else is touched: not /api/ or /ws/ (documents and credentials go only
//   between the page and the server, and the page keeps its documents itself), not
//   other origins, not requests with a query (a `?token=` or `?share=` never becomes
//   a cache key), not anything but GET.
/* global SHELL_VERSION */

const PREFIX = "cowrite-shell-";
const CACHE = PREFIX + (typeof SHELL_VERSION === "string" ? SHELL_VERSION : "dev"); // "dev": sw.js run unbuilt (tests)
const PAGES = {
  index: "/static/index.html",
  editor: "/static/editor.html",
  history: "/static/history.html",
};
const ASSETS = new Set(["/static/app.js", "/static/app.css"]);
const SHELL = [...Object.values(PAGES), ...ASSETS];
const DOC = "[A-Za-z0-9._-]{1,128}"; // store/base.py's document ids
const EDITOR = new RegExp(`^/d/${DOC}/?$`);
const HISTORY = new RegExp(`^/d/${DOC}/history/?$`);

/** The shell page that renders `pathname`, or null (not one of the app's pages). */
export function shellPage(pathname) {
  if (pathname === "/" || pathname === "/index.html" || pathname === "/account" || pathname === "/admin") return PAGES.index;
  if (EDITOR.test(pathname)) return PAGES.editor;
  if (HISTORY.test(pathname)) return PAGES.history;
  return null;
}

/** Fetch this version's shell (from `base`, the worker's own address) into its cache (install). */
export async function precache(base = self.location.href) {
  const cache = await caches.open(CACHE);
  await Promise.all(
    SHELL.map(async (path) => {
      // past the HTTP cache: the files of this version, not ones cached before the deploy
      const res = await fetch(new Request(new URL(path, base), { cache: "reload", credentials: "same-origin" }));
      if (!res.ok) throw new Error(`the app shell's ${path} answered ${res.status}`);
      await cache.put(path, res);
    }),
  );
}

/** Delete the shells of other versions, and nothing else (activate). */
export async function dropOldCaches() {
  for (const name of await caches.keys()) {
    if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
  }
}

async function fromCache(path) {
  const cache = await caches.open(CACHE);
  return (await cache.match(path)) ?? null;
}

async function page(request, path) {
  try {
    const res = await fetch(request);
    if (res.status < 500) return res;
    return (await fromCache(path)) ?? res;
  } catch (exc) {
    const cached = await fromCache(path);
    if (cached) return cached;
    throw exc;
  }
}

async function asset(request, path) {
  const cached = await fromCache(path);
  if (cached) return cached;
  const res = await fetch(request);
  if (res.ok && !res.redirected) {
    const copy = res.clone();
    caches.open(CACHE).then((cache) => cache.put(path, copy)).catch(() => {});
  }
  return res;
}

/** What this worker answers for `request` (a Promise of a Response), or null: the browser's own fetch. */
export function route(request, origin) {
  if (request.method !== "GET") return null;
  const url = new URL(request.url);
  if (url.origin !== origin) return null;
  if (request.mode === "navigate") {
    const path = shellPage(url.pathname);
    return path === null ? null : page(request, path);
  }
  if (url.search === "" && ASSETS.has(url.pathname)) return asset(request, url.pathname);
  return null;
}

if (typeof ServiceWorkerGlobalScope !== "undefined" && self instanceof ServiceWorkerGlobalScope) {
  self.addEventListener("install", (event) => {
    // a new version takes over at once: the pages it serves next are the new deploy's
    event.waitUntil(precache().then(() => self.skipWaiting()));
  });
  self.addEventListener("activate", (event) => {
    event.waitUntil(dropOldCaches().then(() => self.clients.claim()));
  });
  self.addEventListener("fetch", (event) => {
    const answer = route(event.request, self.location.origin);
    if (answer !== null) event.respondWith(answer);
  });
}
