// Copies that last: the eviction rule for the device's copies (a copy not opened for
// 30 days goes, never one whose document has unsent edits here, never a tab copy), the
// sweep over a real store, the request that the browser keep the site's storage
// (asked once, a refusal not asked again for a month), and the device's document list
// the documents page shows offline.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import { Document } from "../../src/engine/index.js";
import { IdbStore } from "../../src/app/idb.js";
import { LocalBackend, MemoryBackend, OfflineStore } from "../../src/app/offline.js";
import {
  DeviceCopy,
  EVICT_AFTER_MS,
  askToKeep,
  copyKey,
  deviceDocuments,
  evictionPlan,
  markOpened,
  rememberListing,
  resetAskToKeep,
  seenKey,
  serialise,
  sweep,
  sweepIfDue,
  tabKey,
} from "../../src/app/persist.js";
import { MemoryStorage } from "./memorystorage.mjs";


/** navigator.storage as a browser has it: persisted() and persist(), counted. */
class FakeStorageManager {
  constructor({ grant = false, persisted = false } = {}) {
    this.grant = grant;
    this.isPersisted = persisted;
    this.asked = 0;
  }
  async persisted() {
    return this.isPersisted;
  }
  async persist() {
    this.asked++;
    if (this.grant) this.isPersisted = true;
    return this.grant;
  }
}

const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2026, 5, 1);

let store;
beforeEach(() => {
  globalThis.localStorage = new MemoryStorage();
  store = new OfflineStore(new LocalBackend());
  resetAskToKeep();
  delete globalThis.navigator;
});

const copyRecord = (docId, user, text) => {
  const d = new Document("w");
  d.insert(0, text);
  return { v: 2, docId, user, saved: NOW, role: "editor", canWrite: true, ...serialise(d) };
};

test("the rule: a copy not opened for 30 days goes with its record; one opened since, or with unsent edits, stays", () => {
  const copies = [copyKey("old", "ada"), copyKey("recent", "ada"), copyKey("held", "ada"), copyKey("edge", "ada"), copyKey("new", "ada")];
  const seen = new Map([
    [seenKey("old", "ada"), NOW - 31 * DAY],
    [seenKey("recent", "ada"), NOW - 29 * DAY],
    [seenKey("held", "ada"), NOW - 400 * DAY],
    [seenKey("edge", "ada"), NOW - EVICT_AFTER_MS],
    [seenKey("gone", "ada"), NOW - DAY], // its copy was deleted: the record goes too
  ]);
  const tabs = [tabKey("held", "web-1"), tabKey("no-copy", "web-2")];
  const { evict, start } = evictionPlan({ copies, seen, tabs, now: NOW });
  assert.deepEqual(evict.sort(), [copyKey("edge", "ada"), copyKey("old", "ada"), seenKey("edge", "ada"), seenKey("gone", "ada"), seenKey("old", "ada")].sort());
  assert.deepEqual(start, [seenKey("new", "ada")]); // no record yet: its clock starts now
  for (const k of evict) assert.ok(!k.startsWith("tab/"), "a tab copy holds unsent edits: never evicted");
  // a clock that went back is no reason to delete anything
  assert.deepEqual(evictionPlan({ copies, seen, tabs, now: NOW - 500 * DAY }).evict, [seenKey("gone", "ada")]);
  // a shorter age evicts more, the held copy still not
  const short = evictionPlan({ copies, seen, tabs, now: NOW, maxAge: 2 * DAY }).evict;
  assert.ok(short.includes(copyKey("recent", "ada")) && !short.includes(copyKey("held", "ada")));
});

test("the sweep on a store: deletes the stale copies, keeps the rest and every tab copy", async () => {
  for (const id of ["stale", "fresh", "unsent"]) await store.put(copyKey(id, "ada"), copyRecord(id, "ada", id));
  await store.put(copyKey("legacy", "ada"), copyRecord("legacy", "ada", "made before seen records"));
  await markOpened(store, "stale", "ada", NOW - 45 * DAY);
  await markOpened(store, "fresh", "ada", NOW - 3 * DAY);
  await markOpened(store, "unsent", "ada", NOW - 90 * DAY);
  const tab = { v: 2, docId: "unsent", agent: "web-x", user: "ada", saved: NOW - 90 * DAY, edits: 2, ...serialise(new Document("web-x")) };
  await store.put(tabKey("unsent", "web-x"), tab);

  assert.deepEqual(await sweep(store, { now: NOW }), [copyKey("stale", "ada")]);
  assert.deepEqual(await store.keys("copy/"), [copyKey("fresh", "ada"), copyKey("legacy", "ada"), copyKey("unsent", "ada")]);
  assert.deepEqual(await store.keys("tab/"), [tabKey("unsent", "web-x")]);
  assert.equal((await store.get(tabKey("unsent", "web-x"))).edits, 2);
  assert.equal((await store.get(seenKey("legacy", "ada"))).at, NOW); // its clock started
  assert.equal(await store.get(seenKey("stale", "ada")), null);

  // 31 days on, nobody opened anything: the legacy and fresh copies go; the unsent one stays
  assert.deepEqual((await sweep(store, { now: NOW + 31 * DAY })).sort(), [copyKey("fresh", "ada"), copyKey("legacy", "ada")]);
  assert.deepEqual(await store.keys("copy/"), [copyKey("unsent", "ada")]);
  // its edits sent (the tab copy cleared), the copy is judged like any other
  await store.delete(tabKey("unsent", "web-x"));
  assert.deepEqual(await sweep(store, { now: NOW + 31 * DAY }), [copyKey("unsent", "ada")]);
});

test("the sweep runs at most once a day per device", async () => {
  await store.put(copyKey("a", "ada"), copyRecord("a", "ada", "a"));
  await markOpened(store, "a", "ada", NOW - 40 * DAY);
  assert.deepEqual(await sweepIfDue(store, { now: NOW - 12 * 3600 * 1000 }), [copyKey("a", "ada")]);
  await store.put(copyKey("b", "ada"), copyRecord("b", "ada", "b"));
  await markOpened(store, "b", "ada", NOW - 40 * DAY);
  assert.equal(await sweepIfDue(store, { now: NOW }), null); // half a day later: not yet
  assert.deepEqual(await store.keys("copy/"), [copyKey("b", "ada")]);
  assert.deepEqual(await sweepIfDue(store, { now: NOW + DAY }), [copyKey("b", "ada")]);
});

test("opening or saving a device copy notes it in use, so the sweep keeps it", async () => {
  const doc = new Document("w");
  doc.insert(0, "kept because used");
  const copy = new DeviceCopy(store, "used", "ada", () => doc, { synced: () => true });
  assert.equal(await copy.saveNow(), true);
  await copy.tidying;
  const at = (await store.get(seenKey("used", "ada"))).at;
  assert.ok(Math.abs(at - Date.now()) < 60_000);
  // opened again on another page much later: the record moves on
  await store.put(seenKey("used", "ada"), { v: 1, at: Date.now() - 29 * DAY });
  const later = new DeviceCopy(store, "used", "ada", () => doc, { synced: () => false });
  assert.notEqual(await later.load(), null);
  await later.tidying;
  assert.ok((await store.get(seenKey("used", "ada"))).at > Date.now() - DAY);
  assert.deepEqual(await sweep(store, { now: Date.now() + 2 * DAY }), []);
});

test("the browser is asked to keep the storage once a copy is stored, once per page, a refusal not for a month", async () => {
  const refusing = new FakeStorageManager({ grant: false });
  globalThis.navigator = { storage: refusing };
  const doc = new Document("w");
  const copy = new DeviceCopy(store, "notes", "ada", () => doc, { synced: () => true });
  assert.equal(refusing.asked, 0); // nothing stored yet: nothing asked
  await copy.saveNow();
  await copy.tidying;
  assert.equal(refusing.asked, 1);
  await new DeviceCopy(store, "other", "ada", () => doc, { synced: () => true }).saveNow();
  assert.equal(await askToKeep(), "refused");
  assert.equal(refusing.asked, 1); // once per page

  resetAskToKeep(); // the next page, a week later: the refusal stands
  assert.equal(await askToKeep(navigator, Date.now() + 7 * DAY), "later");
  assert.equal(refusing.asked, 1);
  resetAskToKeep(); // a month later: asked again, once
  refusing.grant = true;
  assert.equal(await askToKeep(navigator, Date.now() + 31 * DAY), "granted");
  assert.equal(refusing.asked, 2);
  resetAskToKeep(); // granted: never asked again
  assert.equal(await askToKeep(navigator, Date.now() + 90 * DAY), "granted");
  assert.equal(refusing.asked, 2);
});

test("asking never throws: no StorageManager, or one that fails", async () => {
  assert.equal(await askToKeep(undefined), "unsupported");
  resetAskToKeep();
  const broken = { storage: { persisted: async () => false, persist: async () => { throw new Error("denied by policy"); } } };
  assert.equal(await askToKeep(broken), "unsupported");
  resetAskToKeep();
  globalThis.navigator = broken;
  const copy = new DeviceCopy(store, "n", "ada", () => new Document("w"), { synced: () => true });
  assert.equal(await copy.saveNow(), true); // the copy is stored all the same
  await copy.tidying;
});

test("the device's documents: the user's copies, with the titles last listed and unsent edits marked", async () => {
  await store.put(copyKey("plan", "ada"), copyRecord("plan", "ada", "p"));
  await store.put(copyKey("notes", "ada"), copyRecord("notes", "ada", "n"));
  await store.put(copyKey("bobs", "bob"), copyRecord("bobs", "bob", "b"));
  await store.put(tabKey("notes", "web-1"), { v: 2, docId: "notes", agent: "web-1", user: "ada", saved: NOW, ...serialise(new Document("web-1")) });
  assert.deepEqual(await deviceDocuments(store, "ada"), [
    { id: "notes", title: null, role: null, unsent: true },
    { id: "plan", title: null, role: null, unsent: false },
  ]);
  await rememberListing(store, "ada", [{ id: "plan", title: "Quarterly plan", role: "owner", length: 4 }, { id: "elsewhere", title: "Not here" }]);
  assert.deepEqual(await deviceDocuments(store, "ada"), [
    { id: "notes", title: null, role: null, unsent: true },
    { id: "plan", title: "Quarterly plan", role: "owner", unsent: false },
  ]);
  assert.deepEqual((await deviceDocuments(store, "bob")).map((d) => d.id), ["bobs"]);
  assert.deepEqual(await deviceDocuments(store, "carol"), []);
});

test("keys without values: IndexedDB, localStorage, memory, and the store merging its spare", async () => {
  const db = await IdbStore.open({ indexedDB: new IDBFactory(), IDBKeyRange });
  await db.put("copy/a/ada", { n: 1 });
  await db.put("copy/b/ada", { n: 2 });
  await db.put("tab/a/web-1", { n: 3 });
  assert.deepEqual(await db.keys("copy/"), ["copy/a/ada", "copy/b/ada"]);
  const local = new LocalBackend();
  await local.put("copy/c/ada", { n: 4 });
  const both = new OfflineStore(db, local);
  assert.deepEqual(await both.keys("copy/"), ["copy/a/ada", "copy/b/ada", "copy/c/ada"]);
  assert.deepEqual(await both.keys("tab/"), ["tab/a/web-1"]);
  const mem = new MemoryBackend();
  await mem.put("copy/z/", { n: 5 });
  assert.deepEqual(await new OfflineStore(mem).keys("copy/"), ["copy/z/"]);
  db.close();
});
