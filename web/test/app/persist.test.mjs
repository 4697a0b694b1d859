import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { Document } from "../../src/engine/index.js";
import { TabStore, docKey, holdAgent, newAgent, orphans, restore, serialise } from "../../src/app/persist.js";

// localStorage for Node: the browser API over a Map.
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
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

beforeEach(() => {
  globalThis.localStorage = new MemoryStorage();
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
  // the CWP fallback restores too
  const patch = restore(Document, { format: "cwp", data: Buffer.from(doc.encodePatch(null)).toString("base64") }, "x");
  assert.equal(patch.text, doc.text);
});

test("TabStore saves a tab's document and clears it once everything is on the server", () => {
  const doc = new Document("tab-1");
  doc.insert(0, "unsent");
  const store = new TabStore("notes", "ada", () => doc);
  assert.ok(store.saveNow());
  const raw = JSON.parse(localStorage.getItem(docKey("notes", "tab-1")));
  assert.equal(raw.agent, "tab-1");
  assert.equal(raw.user, "ada");
  assert.equal(restore(Document, raw, "y").text, "unsent");
  store.clear();
  assert.equal(localStorage.getItem(docKey("notes", "tab-1")), null);
});

test("orphans: entries of gone tabs of this user, newest first; live tabs and other users skipped", async () => {
  const mk = (agent, user, text, saved) => {
    const d = new Document(agent);
    d.insert(0, text);
    localStorage.setItem(docKey("notes", agent), JSON.stringify({ v: 1, docId: "notes", agent, user, saved, ...serialise(d) }));
  };
  mk("gone-1", "ada", "older", 1000);
  mk("gone-2", "ada", "newer", 2000);
  mk("bobs", "bob", "not ours", 3000);
  mk("live", "ada", "still open", 4000);
  localStorage.setItem(docKey("other-doc", "x"), "{}");
  localStorage.setItem(docKey("notes", "junk"), "not json");
  const stop = holdAgent("live"); // a heartbeat: this tab is alive
  try {
    const found = await orphans("notes", "ada");
    assert.deepEqual(
      found.map((o) => o.entry.agent),
      ["gone-2", "gone-1"],
    );
    assert.equal(localStorage.getItem(docKey("notes", "junk")), null, "unreadable entries are dropped");
    assert.notEqual(localStorage.getItem(docKey("other-doc", "x")), null, "other documents untouched");
  } finally {
    stop();
  }
  // once the tab is gone, its entry is an orphan too
  const after = await orphans("notes", "ada");
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
