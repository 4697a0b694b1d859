import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { Document } from "../../src/engine/index.js";
import { DeviceCopy, TabStore, claimAgent, holdAgent, keptEdits, newAgent, orphans, restore, serialise, tabKey } from "../../src/app/persist.js";
import { LocalBackend, OfflineStore } from "../../src/app/offline.js";
import { MemoryStorage } from "./memorystorage.mjs";


// persist.js over the localStorage backend (the fallback without IndexedDB);
// offline.test.mjs runs the stores themselves, IndexedDB included.
let store;
beforeEach(() => {
  globalThis.localStorage = new MemoryStorage();
  store = new OfflineStore(new LocalBackend());
});

test("newAgent makes distinct, valid agent names", () => {
  const a = newAgent();
  assert.match(a, /^web-[0-9a-z]{18}$/);
  assert.notEqual(a, newAgent());
  new Document(a); // accepted by the engine
});

test("serialise/restore round-trip a document, under its own agent or another", () => {
  const doc = new Document("tab-1");
  doc.insert(0, "héllo 😀");
  doc.delete(0, 1);
  const entry = serialise(doc);
  assert.equal(entry.format, "cwd");
  const same = restore(Document, entry, "tab-1");
  assert.equal(same.text, doc.text);
  assert.deepEqual(same.summary(), doc.summary());
  const other = restore(Document, entry, "tab-2");
  assert.equal(other.text, doc.text);
  assert.equal(other.agent, "tab-2");
  // the CWP fallback restores too, and so do the old records' base64 `data`
  assert.equal(restore(Document, { format: "cwp", bytes: doc.encodePatch(null) }, "x").text, doc.text);
  const patch = restore(Document, { format: "cwp", data: Buffer.from(doc.encodePatch(null)).toString("base64") }, "x");
  assert.equal(patch.text, doc.text);
});

test("TabStore saves a tab's document and clears it once everything is on the server", async () => {
  const doc = new Document("tab-1");
  doc.insert(0, "unsent");
  const tabs = new TabStore(store, "notes", "ada", () => doc, { edits: () => 3 });
  assert.ok(await tabs.saveNow());
  const raw = await store.get(tabKey("notes", "tab-1"));
  assert.equal(raw.agent, "tab-1");
  assert.equal(raw.user, "ada");
  assert.equal(raw.edits, 3);
  assert.equal(restore(Document, raw, "y").text, "unsent");
  tabs.clear();
  assert.equal(await store.get(tabKey("notes", "tab-1")), null);
  // the last save of a closing page is synchronous
  assert.ok(tabs.saveLast());
  assert.equal(restore(Document, store.primary.getNow(tabKey("notes", "tab-1")), "z").text, "unsent");
});

test("DeviceCopy keeps the document only while in sync, with the role, and forgets it", async () => {
  const doc = new Document("tab-1");
  doc.insert(0, "synced text");
  let synced = false;
  const copy = new DeviceCopy(store, "notes", "ada", () => doc, { synced: () => synced });
  assert.equal(await copy.saveNow(), false, "unacknowledged edits are the tab copy's business");
  assert.equal(await copy.load(), null);
  synced = true;
  copy.setRole("viewer", false);
  assert.ok(await copy.saveNow());
  const again = new DeviceCopy(store, "notes", "ada", () => doc, { synced: () => true });
  const entry = await again.load();
  assert.equal(restore(Document, entry, "tab-2").text, "synced text");
  assert.equal(again.canWrite, false);
  assert.equal(again.role, "viewer");
  // another user on this device does not get it
  assert.equal(await new DeviceCopy(store, "notes", "bob", () => doc, { synced: () => true }).load(), null);
  await again.forget();
  assert.equal(await copy.load(), null);
});

test("orphans: entries of gone tabs of this user, newest first; live tabs and other users skipped", async () => {
  const mk = async (docId, agent, user, text, saved, edits = null) => {
    const d = new Document(agent);
    d.insert(0, text);
    await store.put(tabKey(docId, agent), { v: 2, docId, agent, user, saved, edits, ...serialise(d) });
  };
  await mk("notes", "gone-1", "ada", "older", 1000, 2);
  await mk("notes", "gone-2", "ada", "newer", 2000);
  await mk("notes", "bobs", "bob", "not ours", 3000);
  await mk("notes", "live", "ada", "still open", 4000);
  await mk("notes.v2", "other", "ada", "another document whose id starts the same", 5000);
  await store.put(tabKey("notes", "junk"), { v: 2, docId: "notes" });
  const stop = holdAgent("live"); // a heartbeat: this tab is alive
  try {
    const found = await orphans(store, "notes", "ada");
    assert.deepEqual(
      found.map((o) => o.entry.agent),
      ["gone-2", "gone-1"],
    );
    assert.equal(keptEdits(found), 3, "2 edits, and at least 1 for a copy that did not count them");
    assert.equal(await store.get(tabKey("notes", "junk")), null, "unreadable entries are dropped");
    assert.notEqual(await store.get(tabKey("notes.v2", "other")), null, "other documents untouched");
  } finally {
    stop();
  }
  // once the tab is gone, its entry is an orphan too
  const after = await orphans(store, "notes", "ada");
  assert.deepEqual(
    after.map((o) => o.entry.agent),
    ["live", "gone-2", "gone-1"],
  );
});

test("an orphan's ops merge into a new tab's document and only they are left to send", () => {
  const server = new Document("server");
  server.insert(0, "shared ");
  const old = new Document("gone-1");
  old.addOps(server.opsMissingFrom({}));
  old.insert(7, "offline words");
  const entry = serialise(old);
  // a new page load: the snapshot, plus the orphan
  const doc = Document.decode(server.encode(), "tab-new");
  const stored = restore(Document, entry, "gone-1");
  doc.addOps(stored.opsMissingFrom(doc.summary()));
  assert.equal(doc.text, "shared offline words");
  const lacking = stored.opsMissingFrom(server.summary());
  assert.ok(lacking.length > 0 && lacking.every((op) => op.agent === "gone-1"));
});

test("claimAgent: one page takes over a gone tab's agent; another opening at once does not", async () => {
  // Web Locks in memory: request(name, {ifAvailable}, cb) like the browser's
  const held = new Set();
  const locks = {
    async request(name, options, cb) {
      if (held.has(name)) {
        if (options.ifAvailable) return cb(null);
        throw new Error("this fake only does ifAvailable for a held lock");
      }
      held.add(name);
      try {
        return await cb({ name });
      } finally {
        held.delete(name);
      }
    },
    async query() {
      return { held: [...held].map((name) => ({ name })) };
    },
  };
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { value: { locks }, configurable: true, writable: true });
  try {
    const first = await claimAgent("gone-1");
    assert.equal(typeof first, "function");
    assert.equal(await claimAgent("gone-1"), null, "the second page leaves it to the first");
    assert.deepEqual(
      (await locks.query()).held.map((l) => l.name),
      ["cowrite.alive.gone-1"],
    );
    first();
    await new Promise((r) => setTimeout(r, 0));
    const again = await claimAgent("gone-1");
    assert.equal(typeof again, "function", "free again once let go (e.g. its edits could not be sent)");
    again();
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
});

test("DeviceCopy spaces its saves by what the last one cost, and saves on leaving only what changed", async () => {
  let clock = 0;
  const doc = new Document("tab-1");
  doc.insert(0, "big");
  // each encode "takes" 100 ms of the page's time
  const slow = () => {
    clock += 100;
    return doc;
  };
  const copy = new DeviceCopy(store, "notes", "ada", slow, { synced: () => true, delay: 1000, now: () => clock });
  assert.equal(copy.nextWait(), 1000);
  assert.ok(await copy.saveNow());
  assert.equal(copy.nextWait(), 5000, "50 times the 100 ms it cost");
  clock += 4000;
  assert.equal(copy.nextWait(), 1000);
  assert.equal(await copy.saveIfChanged(), false, "nothing changed since");
  copy.schedule();
  assert.equal(await copy.saveIfChanged(), true);
  assert.equal(copy.timer, null, "the scheduled save was done by it");
});
