// The device's store for opening documents offline: IndexedDB (fake-indexeddb here),
// the localStorage spare and fallback, the move of old localStorage copies, and the
// service worker's routing of requests.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import { Document } from "../../src/engine/index.js";
import { IdbStore, IdbUnavailable } from "../../src/app/idb.js";
import { LEGACY_PREFIX, LocalBackend, MemoryBackend, OfflineStore, openOfflineStore } from "../../src/app/offline.js";
import { orphans, restore, serialise, tabKey } from "../../src/app/persist.js";
import { bytesToBase64 } from "../../src/app/storage.js";
import { dropOldCaches, precache, route, shellPage } from "../../src/app/sw.js";

class MemoryStorage {
  constructor() {
    this.map = new Map();
  }
  get length() {
    return this.map.size;
  }
  key(i) {
    return [...this.map.keys()][i] ?? null;
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    if (this.full) throw new DOMException("quota", "QuotaExceededError");
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

let indexedDB;
beforeEach(() => {
  globalThis.localStorage = new MemoryStorage();
  indexedDB = new IDBFactory(); // a fresh, empty IndexedDB per test
});

const record = (docId, agent, text, saved, extra = {}) => {
  const d = new Document(agent);
  d.insert(0, text);
  return { v: 2, docId, agent, user: "ada", saved, edits: 1, ...serialise(d), ...extra };
};

test("IdbStore: put, get, delete and prefix listing, binary values kept as bytes, across reopening", async () => {
  const db = await IdbStore.open({ indexedDB, IDBKeyRange });
  assert.equal(db.kind, "indexeddb");
  const bytes = new Uint8Array([0, 1, 2, 255]);
  await db.put("tab/notes/a", { bytes, n: 1 });
  await db.put("tab/notes/b", { n: 2 });
  await db.put("tab/notes.v2/c", { n: 3 });
  await db.put("copy/notes/ada", { n: 4 });
  assert.deepEqual(await db.get("tab/notes/a"), { bytes, n: 1 });
  assert.ok((await db.get("tab/notes/a")).bytes instanceof Uint8Array);
  assert.equal(await db.get("nope"), null);
  assert.deepEqual(
    (await db.entries("tab/notes/")).map(([k]) => k),
    ["tab/notes/a", "tab/notes/b"],
  );
  // calls run in call order: a put then a delete leaves nothing
  const put = db.put("tab/notes/b", { n: 5 });
  const del = db.delete("tab/notes/b");
  await Promise.all([put, del]);
  assert.equal(await db.get("tab/notes/b"), null);
  db.close();
  const again = await IdbStore.open({ indexedDB, IDBKeyRange });
  assert.equal((await again.get("copy/notes/ada")).n, 4);
  again.close();
  await assert.rejects(() => again.get("copy/notes/ada"), IdbUnavailable);
});

test("IdbStore.open refuses clearly without IndexedDB, when opening throws, and when it never opens", async () => {
  await assert.rejects(() => IdbStore.open({ indexedDB: undefined, IDBKeyRange }), IdbUnavailable);
  const throwing = {
    open() {
      throw new DOMException("denied", "SecurityError");
    },
  };
  await assert.rejects(() => IdbStore.open({ indexedDB: throwing, IDBKeyRange }), /cannot be opened: denied/);
  const hanging = { open: () => ({}) }; // a request that never succeeds (a blocked upgrade)
  await assert.rejects(() => IdbStore.open({ indexedDB: hanging, IDBKeyRange, timeoutMs: 50 }), /did not open within 50 ms/);
});

test("openOfflineStore uses IndexedDB and moves old localStorage tab copies into it once", async () => {
  const old = record("notes", "web-old", "typed offline before IndexedDB", 1000);
  const { bytes, v, edits, ...rest } = old;
  localStorage.setItem(`${LEGACY_PREFIX}notes.web-old`, JSON.stringify({ ...rest, v: 1, data: bytesToBase64(bytes) }));
  localStorage.setItem(`${LEGACY_PREFIX}notes.junk`, "not json");
  localStorage.setItem("cowrite.auth", '{"token":"t"}');
  localStorage.setItem("cowrite.alive.web-live", "123");
  const store = await openOfflineStore({ tabKey, indexedDB, IDBKeyRange });
  assert.equal(store.kind, "indexeddb");
  assert.equal(localStorage.getItem(`${LEGACY_PREFIX}notes.web-old`), null, "moved out of localStorage");
  assert.equal(localStorage.getItem(`${LEGACY_PREFIX}notes.junk`), null, "an unreadable old copy is dropped");
  assert.equal(localStorage.getItem("cowrite.auth"), '{"token":"t"}', "nothing else is touched");
  assert.equal(localStorage.getItem("cowrite.alive.web-live"), "123");
  const moved = await store.primary.get(tabKey("notes", "web-old"));
  assert.equal(restore(Document, moved, "x").text, "typed offline before IndexedDB");
  assert.equal(moved.v, 2);
  const found = await orphans(store, "notes", "ada");
  assert.deepEqual(
    found.map((o) => o.entry.agent),
    ["web-old"],
  );
  // a second page finds nothing more to move
  assert.equal(await store.migrate(tabKey), 0);
});

test("a closing page's synchronous save lands in localStorage and the next page moves it into IndexedDB, newest winning", async () => {
  const store = await openOfflineStore({ tabKey, indexedDB, IDBKeyRange });
  const key = tabKey("notes", "web-a");
  await store.put(key, record("notes", "web-a", "older text", 1000));
  assert.ok(store.putLast(key, record("notes", "web-a", "newest text", 2000)), "stored synchronously");
  // reads merge both, the newest winning, while the IndexedDB write may still be under way
  assert.equal(restore(Document, await store.get(key), "x").text, "newest text");
  const next = await openOfflineStore({ tabKey, indexedDB, IDBKeyRange });
  assert.equal(restore(Document, await next.primary.get(key), "x").text, "newest text");
  assert.equal(next.spare.getNow(key), null, "the spare is emptied once IndexedDB has it");
  // an older spare copy never replaces a newer IndexedDB one
  next.spare.putNow(key, record("notes", "web-a", "stale", 500));
  await next.migrate(tabKey);
  assert.equal(restore(Document, await next.get(key), "x").text, "newest text");
});

test("a write IndexedDB refuses goes to localStorage; deletes reach both", async () => {
  const refusing = new MemoryBackend();
  refusing.put = async () => {
    throw new DOMException("quota", "QuotaExceededError");
  };
  const store = new OfflineStore(refusing, new LocalBackend());
  const key = tabKey("notes", "web-a");
  assert.equal(await store.put(key, record("notes", "web-a", "kept anyway", 1)), true);
  assert.equal(restore(Document, await store.get(key), "x").text, "kept anyway");
  assert.deepEqual(
    (await store.entries("tab/notes/")).map(([k]) => k),
    [key],
  );
  await store.delete(key);
  assert.equal(await store.get(key), null);
  // nothing takes it: false, not an exception
  localStorage.full = true;
  assert.equal(await store.put(key, record("notes", "web-a", "nowhere", 2)), false);
  assert.equal(store.putLast(key, record("notes", "web-a", "nowhere", 3)), false);
});

test("without IndexedDB the store falls back to localStorage, and without that to memory, never throwing", async () => {
  const local = await openOfflineStore({ tabKey, indexedDB: undefined, IDBKeyRange });
  assert.equal(local.kind, "localstorage");
  const key = tabKey("notes", "web-a");
  assert.ok(await local.put(key, record("notes", "web-a", "in localStorage", 1)));
  assert.ok(local.putLast(key, record("notes", "web-a", "in localStorage, last", 2)));
  assert.equal(restore(Document, await local.get(key), "x").text, "in localStorage, last");
  assert.equal((await local.entries("tab/notes/")).length, 1);

  localStorage.full = true; // a private mode that refuses every write
  const memory = await openOfflineStore({ tabKey, indexedDB: undefined, IDBKeyRange });
  assert.equal(memory.kind, "memory");
  assert.ok(await memory.put(key, record("notes", "web-a", "in memory", 1)));
  assert.equal(restore(Document, await memory.get(key), "x").text, "in memory");
  assert.equal(memory.putLast(key, record("notes", "web-a", "in memory", 2)), false, "nothing outlives the page");
});

test("an IndexedDB closed under the page (another tab's upgrade) falls back to localStorage", async () => {
  const store = await openOfflineStore({ tabKey, indexedDB, IDBKeyRange });
  store.primary.close();
  const key = tabKey("notes", "web-a");
  assert.ok(await store.put(key, record("notes", "web-a", "still kept", 1)));
  assert.equal(restore(Document, await store.get(key), "x").text, "still kept");
  assert.equal((await store.entries("tab/notes/")).length, 1);
});

// -- the service worker's routing ----------------------------------------------------

const ORIGIN = "http://127.0.0.1:8000";
const nav = (path, method = "GET") => ({ method, url: ORIGIN + path, mode: "navigate" });
const sub = (url, method = "GET") => ({ method, url: url.startsWith("http") ? url : ORIGIN + url, mode: "cors" });

test("the worker knows the app's pages and nothing else", () => {
  assert.equal(shellPage("/"), "/static/index.html");
  assert.equal(shellPage("/account"), "/static/index.html");
  assert.equal(shellPage("/d/notes"), "/static/editor.html");
  assert.equal(shellPage("/d/my-doc_2.v1/"), "/static/editor.html");
  assert.equal(shellPage("/d/notes/history"), "/static/history.html");
  for (const path of ["/d/", "/d/a/b", "/d/has%20space", "/api/docs", "/ws/notes", "/static/app.js", "/metrics"]) {
    assert.equal(shellPage(path), null, path);
  }
});

test("the worker leaves the API, sockets, other origins, queries and writes to the browser", () => {
  for (const request of [
    sub("/api/docs/notes/snapshot"),
    sub("/api/auth/me"),
    sub("/ws/notes?token=secret"),
    sub("/static/app.js?token=secret"), // a query never becomes a cache key
    sub("/static/app.js.map"),
    sub("https://elsewhere.example/static/app.js"),
    sub("/static/app.js", "POST"),
    nav("/api/docs"),
    nav("/d/notes", "POST"),
  ]) {
    assert.equal(route(request, ORIGIN), null, `${request.method} ${request.url}`);
  }
});

/** A CacheStorage and fetch for the worker's code, in memory. */
function fakeShell(network) {
  const caches = new Map();
  globalThis.caches = {
    async open(name) {
      if (!caches.has(name)) caches.set(name, new Map());
      const c = caches.get(name);
      return {
        match: async (path) => c.get(path)?.clone() ?? undefined,
        put: async (path, res) => void c.set(path, res),
      };
    },
    keys: async () => [...caches.keys()],
    delete: async (name) => caches.delete(name),
  };
  globalThis.fetch = async (request) => network(typeof request === "string" ? request : request.url);
  return caches;
}

test("pages: the network first, the cached shell when it fails or answers 5xx; assets: the cache first", async () => {
  const saved = { caches: globalThis.caches, fetch: globalThis.fetch };
  try {
    let up = true;
    let status = 200;
    let fetched = 0;
    const caches = fakeShell((url) => {
      fetched++;
      if (!up) throw new TypeError("Failed to fetch");
      return new Response(`live ${new URL(url).pathname}`, { status, headers: { "content-type": "text/html" } });
    });
    const shell = await globalThis.caches.open("cowrite-shell-dev");
    await shell.put("/static/editor.html", new Response("cached editor"));
    assert.equal(await (await route(nav("/d/notes?token=abc"), ORIGIN)).text(), "live /d/notes");
    up = false;
    assert.equal(await (await route(nav("/d/notes?token=abc"), ORIGIN)).text(), "cached editor");
    up = true;
    status = 502;
    assert.equal(await (await route(nav("/d/other"), ORIGIN)).text(), "cached editor");
    status = 404; // the server's answer stands: a missing document is not the offline case
    assert.equal((await route(nav("/d/other"), ORIGIN)).status, 404);
    up = false;
    await assert.rejects(async () => route(nav("/d/notes/history"), ORIGIN), /Failed to fetch/, "no cached page: the browser's error");
    // assets
    up = true;
    status = 200;
    fetched = 0;
    assert.equal(await (await route(sub("/static/app.js"), ORIGIN)).text(), "live /static/app.js");
    await new Promise((r) => setTimeout(r, 10)); // the copy is stored in the background
    up = false;
    assert.equal(await (await route(sub("/static/app.js"), ORIGIN)).text(), "live /static/app.js");
    assert.equal(fetched, 1, "the second answer came from the cache");
    assert.deepEqual([...caches.keys()], ["cowrite-shell-dev"]);
    assert.equal(caches.get("cowrite-shell-dev").has("/d/notes"), false, "pages are cached by their shell file only");
  } finally {
    globalThis.caches = saved.caches;
    globalThis.fetch = saved.fetch;
  }
});

test("install fetches this version's shell past the HTTP cache; activate drops other versions' shells only", async () => {
  const saved = { caches: globalThis.caches, fetch: globalThis.fetch };
  try {
    const asked = [];
    const caches = fakeShell((url) => new Response(`file ${url}`));
    globalThis.fetch = async (request) => {
      asked.push([request.url, request.cache]);
      return new Response(`file ${new URL(request.url).pathname}`);
    };
    await globalThis.caches.open("cowrite-shell-0123456789abcdef"); // a previous deploy's
    await globalThis.caches.open("someone-elses-cache");
    await precache(`${ORIGIN}/sw.js`);
    assert.deepEqual(asked.map(([, mode]) => mode), ["reload", "reload", "reload", "reload", "reload"]);
    assert.deepEqual([...caches.get("cowrite-shell-dev").keys()].sort(), [
      "/static/app.css",
      "/static/app.js",
      "/static/editor.html",
      "/static/history.html",
      "/static/index.html",
    ]);
    await dropOldCaches();
    assert.deepEqual([...caches.keys()].sort(), ["cowrite-shell-dev", "someone-elses-cache"]);
    // a shell file the server does not have fails the install (the old worker stays)
    globalThis.fetch = async () => new Response("gone", { status: 404 });
    await assert.rejects(() => precache(`${ORIGIN}/sw.js`), /answered 404/);
  } finally {
    globalThis.caches = saved.caches;
    globalThis.fetch = saved.fetch;
  }
});
