// One's suggestion kept on this device (app/suggestdraft.js anchorDraft/placeDraft,
// app/persist.js DraftStore/storedDrafts, app/suggest.js keepDrafts, app/saving.js):
// a draft typed offline is stored with its marks tied to characters, read back by a
// later page on a text others changed meanwhile, sent once the server has everything
// the page has, and deleted once the server has it; a draft that cannot be placed is
// shown, not dropped; the saving state counts a draft the server lacks.
import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { EditorState, Transaction } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { Document, Position } from "../../src/engine/index.js";
import { LocalBackend, MemoryBackend, OfflineStore } from "../../src/app/offline.js";
import { DraftStore, EVICT_AFTER_MS, deviceDocuments, draftDocId, draftKey, evictionPlan, holdAgent, seenKey, storedDrafts, textHash } from "../../src/app/persist.js";
import { SavingIndicator, savingLabel } from "../../src/app/saving.js";
import { anchorDraft, codePointOffsets, draftText, placeDraft, utf16Offsets, validDraft } from "../../src/app/suggestdraft.js";
import { SuggestionsPanel } from "../../src/app/suggest.js";
import { MemoryStorage } from "./memorystorage.mjs";

// -- the page around the panel, for Node ------------------------------------------------


class FakeNode {}
class FakeElement extends FakeNode {
  constructor(tag) {
    super();
    this.tag = tag;
    this.children = [];
    this.attrs = {};
    this.dataset = {};
    this.listeners = {};
    this.hidden = false;
    this.classList = { toggle() {}, add() {}, remove() {} };
  }
  setAttribute(k, v) {
    this.attrs[k] = v;
  }
  addEventListener(name, fn) {
    this.listeners[name] = fn;
  }
  append(...xs) {
    this.children.push(...xs);
  }
  replaceChildren(...xs) {
    this.children = xs;
  }
  get textContent() {
    return this.children.map((c) => (typeof c === "string" ? c : c.textContent)).join("");
  }
  set textContent(t) {
    this.children = [String(t)];
  }
  find(id) {
    if (this.attrs.id === id) return this;
    for (const c of this.children) {
      const found = c instanceof FakeElement ? c.find(id) : null;
      if (found) return found;
    }
    return null;
  }
}

let noticeBox;
let requests;
let online;
let server; // the server's replica: what the POSTed patches must apply to

beforeEach(() => {
  globalThis.localStorage = new MemoryStorage();
  globalThis.Node = FakeNode;
  noticeBox = new FakeElement("div");
  noticeBox.hidden = true;
  globalThis.document = {
    getElementById: (id) => (id === "notice" ? noticeBox : null),
    createElement: (tag) => new FakeElement(tag),
    body: new FakeElement("body"),
  };
  requests = [];
  online = false;
  server = null;
  globalThis.fetch = async (path, { method, body }) => {
    if (!online) throw new TypeError("Failed to fetch");
    const req = { path, method, body: body ? JSON.parse(body) : null };
    requests.push(req);
    const json = (status, data) => ({ ok: status < 300, status, statusText: "", json: async () => data });
    if (method === "GET") return json(200, { suggestions: [], tag: `t${requests.length}`, version: [], you: YOU });
    if (method === "POST" && server) server.applyPatch(Buffer.from(req.body.patch, "base64"));
    return json(method === "POST" ? 201 : 200, {});
  };
});

afterEach(() => {
  delete globalThis.document;
  delete globalThis.fetch;
});

const YOU = { user: "ada", role: "commenter", can_suggest: true, can_decide: false };

/** A connection as the panel sees it: its state, its session's unacked ops, its replica. */
function fakeConn(doc, state = "offline") {
  return { doc, state, suspect: false, session: { unacked: new Set() }, on: () => () => {} };
}

/** An EditorView stand-in: the panel's extensions on a state, update listeners called per dispatch. */
class PanelView {
  constructor(text, extensions) {
    this.state = EditorState.create({ doc: text, extensions });
  }
  dispatch(...specs) {
    const tr = specs.length === 1 && specs[0] instanceof Transaction ? specs[0] : this.state.update(...specs);
    const startState = this.state;
    this.state = tr.state;
    for (const listen of this.state.facet(EditorView.updateListener)) {
      listen({ view: this, state: tr.state, startState, transactions: [tr], docChanged: tr.docChanged });
    }
  }
  focus() {}
  /** What the user types at `at` (UTF-16), as the editor would dispatch it. */
  type(at, text) {
    this.dispatch({ changes: { from: at, insert: text }, selection: { anchor: at + text.length }, userEvent: "input.type" });
  }
  /** The user strikes [from, to) by selecting it and pressing Delete. */
  strike(from, to) {
    this.dispatch({ selection: { anchor: from, head: to } });
    this.dispatch({ changes: { from, to }, userEvent: "delete.selection" });
  }
}

/** A page of `doc` with its panel keeping drafts in `store`; the panel knows who the user is. */
async function openPage(doc, store, { state = "offline", agent = doc.agent, own = [] } = {}) {
  const conn = fakeConn(doc, state);
  const panel = new SuggestionsPanel({ docId: "notes", conn });
  panel.pollEvery(3_600_000);
  const view = new PanelView(doc.text, panel.extensions());
  panel.attach(view);
  panel.you = { ...YOU };
  await panel.keepDrafts({ store, user: "ada", agent, own });
  return { conn, panel, view };
}

const until = async (what, ms = 5000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
};

const stop = (page) => page.panel.stop();

// -- the marks tied to characters ---------------------------------------------------------

test("utf16Offsets undoes codePointOffsets, surrogate pairs included", () => {
  const text = "a😀b😀😀c";
  const utf16 = [0, 1, 3, 4, 6, 8, 9];
  const cp = codePointOffsets(text, utf16);
  assert.deepEqual(utf16.map((u) => cp.get(u)), [0, 1, 2, 3, 4, 5, 6]);
  const back = utf16Offsets(text, [...cp.values()]);
  assert.deepEqual([...cp.values()].map((c) => back.get(c)), utf16);
});

test("a stored draft sits where it would have after others' edits: before, inside and after its marks", () => {
  const mine = new Document("tab-1");
  mine.insert(0, "hello world");
  const text = mine.text;
  const draft = { deletes: [{ from: 6, to: 11 }], inserts: [{ at: 5, text: " brave" }] };
  const anchored = JSON.parse(JSON.stringify(anchorDraft(mine, text, draft))); // as stored
  // others type at the start, at the struck run's edge, and after it
  const later = Document.decode(mine.encode(), "tab-2");
  later.insert(0, "Oh, ");
  later.insert(10, "big "); // just before "world"
  later.insert(later.text.length, "!");
  assert.equal(later.text, "Oh, hello big world!");
  const placed = placeDraft(later, later.text, anchored, Position);
  assert.deepEqual(placed, { deletes: [{ from: 14, to: 19 }], inserts: [{ at: 9, text: " brave" }] });
  assert.equal(draftText(later.text, placed), "Oh, hello brave big !");
});

test("characters deleted meanwhile: a struck run all gone is dropped, an insertion keeps its place", () => {
  const mine = new Document("tab-1");
  mine.insert(0, "😀 one two three");
  const text = mine.text;
  const draft = { deletes: [{ from: 7, to: 10 }], inserts: [{ at: 6, text: "ε" }] }; // strike "two", insert after "one"
  const anchored = anchorDraft(mine, text, draft);
  const later = Document.decode(mine.encode(), "tab-2");
  later.delete(2, 8); // "one two " gone (code points)
  assert.equal(later.text, "😀 three");
  const placed = placeDraft(later, later.text, anchored, Position);
  assert.deepEqual(placed, { deletes: [], inserts: [{ at: 3, text: "ε" }] });
});

test("a draft tied to characters this document does not have cannot be placed", () => {
  const mine = new Document("tab-1");
  mine.insert(0, "typed offline");
  const anchored = anchorDraft(mine, mine.text, { deletes: [{ from: 0, to: 5 }], inserts: [] });
  const other = new Document("tab-2");
  other.insert(0, "something else entirely");
  assert.equal(placeDraft(other, other.text, anchored, Position), null);
  assert.equal(placeDraft(other, other.text, { deletes: "nonsense" }, Position), null);
});

test("validDraft accepts only marks inside the text", () => {
  assert.ok(validDraft({ deletes: [{ from: 0, to: 2 }], inserts: [{ at: 3, text: "x" }] }, 3));
  assert.ok(!validDraft({ deletes: [{ from: 0, to: 4 }], inserts: [] }, 3));
  assert.ok(!validDraft({ deletes: [{ from: 2, to: 1 }], inserts: [] }, 3));
  assert.ok(!validDraft({ deletes: [], inserts: [{ at: 1 }] }, 3));
  assert.ok(!validDraft(null, 3));
});

// -- the records --------------------------------------------------------------------------

test("DraftStore keeps a draft per document, suggestion and user, synchronously when the page closes", async () => {
  const store = new OfflineStore(new MemoryBackend(), new LocalBackend());
  let record = { v: 1, docId: "notes", id: "ab12", user: "ada", agent: "web-1", saved: 1, draft: { deletes: [], inserts: [{ at: 0, text: "x" }] } };
  const kept = new DraftStore(store, "notes", "ada", () => record);
  assert.equal(kept.key("ab12"), draftKey("notes", "ab12", "ada"));
  assert.equal(draftKey("notes", "ab12", "ada"), "draft/notes/ab12/ada");
  assert.ok(kept.saveLast()); // in localStorage at once: the IndexedDB write may never finish
  assert.equal(store.spare.getNow("draft/notes/ab12/ada").id, "ab12");
  await kept.clear("ab12");
  assert.equal(await store.get("draft/notes/ab12/ada"), null);
  // clear() of a draft never kept here touches nothing
  await store.put(draftKey("notes", "cd34", "ada"), { ...record, id: "cd34" });
  await kept.clear("cd34");
  assert.notEqual(await store.get(draftKey("notes", "cd34", "ada")), null);
  record = null; // nothing to keep
  assert.equal(await kept.saveNow(), false);
});

test("storedDrafts: this user's drafts of this document whose tab is gone, newest first; broken records deleted", async () => {
  const store = new OfflineStore(new MemoryBackend());
  const rec = (id, over = {}) => ({ v: 1, docId: "notes", id, user: "ada", agent: `web-${id}`, saved: 0, draft: { deletes: [], inserts: [] }, ...over });
  await store.put(draftKey("notes", "aa", "ada"), rec("aa", { saved: 1 }));
  await store.put(draftKey("notes", "bb", "ada"), rec("bb", { saved: 2 }));
  await store.put(draftKey("notes", "cc", "bob"), rec("cc", { user: "bob" }));
  await store.put(draftKey("other", "dd", "ada"), rec("dd", { docId: "other" }));
  await store.put(draftKey("notes", "ee", "ada"), { v: 1, docId: "notes", id: "ee" }); // unreadable
  const alive = holdAgent("web-live"); // a tab still typing its draft
  await store.put(draftKey("notes", "ff", "ada"), rec("ff", { agent: "web-live", saved: 3 }));
  try {
    const found = await storedDrafts(store, "notes", "ada");
    assert.deepEqual(found.map((f) => f.entry.id), ["bb", "aa"]);
    assert.equal(await store.get(draftKey("notes", "ee", "ada")), null);
    // a tab's own agent (or one whose edits it sends) is its to take although held
    const own = await storedDrafts(store, "notes", "ada", { own: ["web-live"] });
    assert.deepEqual(own.map((f) => f.entry.id), ["ff", "bb", "aa"]);
  } finally {
    alive();
  }
});

test("a draft holds its document's device copy against eviction, and marks the document unsent", async () => {
  assert.equal(draftDocId(draftKey("notes", "ab12", "ada")), "notes");
  assert.equal(draftDocId("tab/notes/web-1"), null);
  const now = 10 * EVICT_AFTER_MS;
  const old = now - EVICT_AFTER_MS - 1;
  const copies = ["copy/notes/ada", "copy/other/ada"];
  const seen = new Map([[seenKey("notes", "ada"), old], [seenKey("other", "ada"), old]]);
  const plan = evictionPlan({ copies, seen, tabs: [], drafts: [draftKey("notes", "ab12", "ada")], now });
  assert.deepEqual(plan.evict.sort(), ["copy/other/ada", seenKey("other", "ada")].sort());
  const store = new OfflineStore(new MemoryBackend());
  await store.put("copy/notes/ada", { v: 2 });
  await store.put(draftKey("notes", "ab12", "ada"), { v: 1 });
  assert.deepEqual(await deviceDocuments(store, "ada"), [{ id: "notes", title: null, role: null, unsent: true }]);
});

test("textHash tells texts apart", () => {
  assert.equal(textHash("hello"), textHash("hello"));
  assert.notEqual(textHash("hello"), textHash("hellp"));
  assert.notEqual(textHash(""), textHash("a"));
});

// -- the saving state ---------------------------------------------------------------------

test("the saving label counts an unsaved suggestion: never 'All changes saved', never 'View only'", () => {
  assert.deepEqual(savingLabel({ connState: "connected", pending: 0, canWrite: true, drafts: 1 }), { state: "saving", text: "Saving…" });
  assert.equal(savingLabel({ connState: "offline", pending: 0, canWrite: true, drafts: 1 }).text, "Offline — 1 suggestion kept on this device");
  assert.equal(savingLabel({ connState: "offline", pending: 2, canWrite: true, drafts: 1 }).text, "Offline — 2 edits and 1 suggestion kept on this device");
  assert.equal(savingLabel({ connState: "held", pending: 0, canWrite: true, drafts: 1 }).text, "Not saved — 1 suggestion kept on this device");
  // a commenter suggesting: not "View only" while the suggestion is unsaved
  assert.equal(savingLabel({ connState: "connected", pending: 0, canWrite: false, drafts: 1 }).state, "saving");
  assert.equal(savingLabel({ connState: "connected", pending: 0, canWrite: false, drafts: 0 }).state, "readonly");
  assert.equal(savingLabel({ connState: "offline", pending: 1, canWrite: true }).text, "Offline — 1 edit kept on this device");
});

test("the page warns before it is left with a suggestion the server lacks", () => {
  const handlers = {};
  const win = { addEventListener: (name, fn) => (handlers[name] = fn), removeEventListener() {} };
  const conn = { state: "connected", sentRanges: [], on: () => () => {} };
  const el = new FakeElement("span");
  const saving = new SavingIndicator({ el, conn, ownSeq: () => 0, win });
  let drafts = 1;
  saving.countDrafts(() => drafts);
  assert.equal(el.dataset.saving, "saving");
  const ev = { prevented: false, preventDefault() {
    this.prevented = true;
  } };
  handlers.beforeunload(ev);
  assert.ok(ev.prevented);
  drafts = 0;
  saving.show();
  assert.equal(el.textContent, "All changes saved");
  const quiet = { prevented: false, preventDefault() {
    this.prevented = true;
  } };
  handlers.beforeunload(quiet);
  assert.ok(!quiet.prevented);
});

// -- the panel: typed offline, read back by the next page, sent --------------------------

test("a suggestion typed offline survives the page, follows others' edits, and is sent once online", async () => {
  const store = new OfflineStore(new MemoryBackend());
  const base = new Document("web-base");
  base.insert(0, "hello world");
  const page1 = await openPage(Document.decode(base.encode(), "web-one"), store);
  const changes = [];
  page1.panel.onSaveState = () => changes.push(page1.panel.unsavedDrafts);
  await page1.panel.setMode(true);
  page1.view.type(5, " brave");
  page1.view.strike(6, 11); // "world"
  assert.equal(page1.view.state.doc.toString(), "hello world", "the document itself does not change");
  assert.equal(page1.panel.proposed(), "hello brave ");
  assert.equal(page1.panel.unsavedDrafts, 1);
  assert.ok(changes.includes(1));
  await new Promise((r) => setTimeout(r, 400)); // past the device store's and the save's delays: offline, still unsaved
  assert.equal(page1.panel.unsavedDrafts, 1);
  assert.equal(requests.length, 0);
  const kept = await store.entries("draft/notes/");
  assert.equal(kept.length, 1);
  assert.equal(kept[0][1].suggesting, true);
  assert.equal(kept[0][1].onServer, false);
  stop(page1); // the tab is closed

  // meanwhile someone typed at the start: the next page's document has it
  const now = Document.decode(base.encode(), "web-other");
  now.insert(0, "Oh, ");
  server = Document.decode(now.encode(), "server");
  const page2 = await openPage(Document.decode(now.encode(), "web-two"), store);
  assert.equal(await page2.panel.restored, kept[0][1].id);
  assert.equal(page2.panel.suggesting, true, "back in suggesting mode");
  assert.equal(page2.panel.proposed(), "Oh, hello brave ");
  assert.equal(page2.panel.unsavedDrafts, 1);
  assert.equal((await store.get(kept[0][0])).agent, "web-two", "the record is this page's now");

  online = true;
  page2.conn.state = "connected";
  await until(() => page2.panel.saved);
  const posts = requests.filter((r) => r.method === "POST");
  assert.equal(posts.length, 1);
  assert.equal(posts[0].body.id, kept[0][1].id);
  assert.equal(server.text, "Oh, hello brave ", "the patch is the suggestion's ops on the server's version");
  await until(() => page2.panel.kept.kept.size === 0);
  assert.equal(await store.get(kept[0][0]), null, "nothing kept once the server has it");
  stop(page2);
});

test("a draft on edits the server does not have yet is sent only once they are acknowledged", async () => {
  const store = new OfflineStore(new MemoryBackend());
  const mine = new Document("web-one");
  mine.insert(0, "typed offline");
  const page = await openPage(mine, store, { state: "syncing" });
  page.conn.session.unacked.add(1); // the document's own edits are on their way
  await page.panel.setMode(true);
  page.view.type(13, " and suggested");
  online = true;
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(requests.filter((r) => r.method === "POST").length, 0, "not while the server lacks the edits it is made on");
  page.conn.state = "connected";
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(requests.filter((r) => r.method === "POST").length, 0);
  // acknowledged: the server has the document's edits now
  server = Document.decode(mine.encode(), "server");
  page.conn.session.unacked.clear();
  await until(() => page.panel.saved);
  assert.equal(server.text, "typed offline and suggested");
  stop(page);
});

test("a draft taken up out of suggesting mode is sent and then drawn like the others'", async () => {
  const store = new OfflineStore(new MemoryBackend());
  const base = new Document("web-base");
  base.insert(0, "abc");
  const page1 = await openPage(Document.decode(base.encode(), "web-one"), store);
  await page1.panel.setMode(true);
  page1.view.type(3, "d");
  page1.panel.setMode(false); // left suggesting mode offline: waits for the server
  await until(() => !page1.panel.suggesting);
  page1.panel.keepLast();
  stop(page1);
  server = Document.decode(base.encode(), "server");
  online = true;
  const page2 = await openPage(Document.decode(base.encode(), "web-two"), store, { state: "connected" });
  assert.ok(await page2.panel.restored);
  assert.equal(page2.panel.suggesting, false);
  await until(() => page2.panel._draft.id === null);
  assert.equal(server.text, "abcd");
  stop(page2);
});

test("a stored draft that no longer fits is shown with its text, kept until dismissed", async () => {
  const store = new OfflineStore(new MemoryBackend());
  const gone = new Document("web-gone");
  gone.insert(0, "a text this page never had");
  const draft = { deletes: [{ from: 0, to: 6 }], inserts: [{ at: 26, text: " (proposed)" }] };
  const key = draftKey("notes", "0123abcd", "ada");
  await store.put(key, {
    v: 1,
    docId: "notes",
    id: "0123abcd",
    user: "ada",
    agent: "web-gone",
    saved: 1,
    draft,
    struck: ["a text"],
    anchored: anchorDraft(gone, gone.text, draft),
    textHash: textHash(gone.text),
    onServer: false,
    suggesting: true,
    you: YOU,
  });
  const other = new Document("web-two");
  other.insert(0, "a different document");
  const page = await openPage(other, store);
  assert.equal(await page.panel.restored, null);
  assert.equal(page.panel._draft.id, null);
  assert.equal(noticeBox.hidden, false);
  assert.match(noticeBox.textContent, /no longer fits the document/);
  assert.match(noticeBox.textContent, /inserting “ \(proposed\)”/);
  assert.match(noticeBox.textContent, /deleting “a text”/);
  assert.notEqual(await store.get(key), null, "kept: shown again on the next page until dismissed");
  noticeBox.find("dismiss-kept-suggestion").listeners.click();
  await until(() => noticeBox.hidden);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await store.get(key), null);
  stop(page);
});

test("a suggestion typed and taken back offline leaves nothing kept and nothing counted", async () => {
  const store = new OfflineStore(new MemoryBackend());
  const doc = new Document("web-one");
  doc.insert(0, "abc");
  const page = await openPage(doc, store);
  await page.panel.setMode(true);
  page.view.type(3, "d");
  await page.panel.kept.saveNow();
  assert.equal((await store.entries("draft/notes/")).length, 1);
  assert.equal(page.panel.unsavedDrafts, 1);
  page.view.dispatch({ changes: { from: 2, to: 3 }, userEvent: "delete.backward" }); // Backspace: the "d" taken back
  assert.equal(page.panel.proposed(), "abc");
  await until(() => page.panel.saved);
  assert.equal(page.panel.unsavedDrafts, 0);
  await new Promise((r) => setTimeout(r, 10)); // the delete is on its way
  assert.equal((await store.entries("draft/notes/")).length, 0);
  stop(page);
});
