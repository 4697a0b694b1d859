// The writer's tools that run without a browser: who typed each character (blameRange,
// against the engine's own per-character answer), the agent -> user directory, the
// saving state's count and words, export/import helpers, markdown rendering.
import test from "node:test";
import assert from "node:assert/strict";
import { Document } from "../../src/engine/index.js";
import { AuthorDirectory, blameRange } from "../../src/app/authorship.js";
import { SAFE_URL, renderMarkdown } from "../../src/app/markdown.js";
import { SaveTracker, savingLabel } from "../../src/app/saving.js";
import { docIdFromFileName, fileNameOf } from "../../src/app/transfer.js";

function merge(into, from) {
  into.addOps(from.opsMissingFrom(into.summary()));
}

/** Who typed each code point, one at a time, from the engine's stable positions. */
function naiveBlame(doc) {
  const out = [];
  for (let i = 0; i < doc.length; i++) out.push(doc.position(i, 1).agent);
  return out;
}

function expand(runs) {
  const out = [];
  for (const r of runs) for (let i = r.start; i < r.end; i++) out.push(r.agent);
  return out;
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("blameRange names the agent of every character, in any range, after concurrent edits", () => {
  const random = rng(15);
  const docs = ["ada", "bob", "cy"].map((a) => new Document(a));
  for (let round = 0; round < 60; round++) {
    for (const d of docs) {
      const n = d.length;
      if (n > 4 && random() < 0.3) d.delete(Math.floor(random() * (n - 2)), 1 + Math.floor(random() * 2));
      else d.insert(Math.floor(random() * (n + 1)), random() < 0.2 ? "🦊x" : "abc".slice(0, 1 + Math.floor(random() * 3)));
    }
    if (round % 5 === 4) for (const a of docs) for (const b of docs) if (a !== b) merge(a, b);
  }
  for (const a of docs) for (const b of docs) if (a !== b) merge(a, b);
  const doc = docs[0];
  assert.ok(doc.length > 50, "a text worth checking");
  const truth = naiveBlame(doc);
  assert.deepEqual(expand(blameRange(doc, 0, doc.length)), truth);
  for (let k = 0; k < 40; k++) {
    const from = Math.floor(random() * doc.length);
    const to = from + Math.floor(random() * (doc.length - from + 1));
    const runs = blameRange(doc, from, to);
    assert.deepEqual(expand(runs.map((r) => ({ ...r, start: r.start - from, end: r.end - from }))).length, to - from);
    assert.deepEqual(
      runs.flatMap((r) => Array(r.end - r.start).fill(r.agent)),
      truth.slice(from, to),
      `range ${from}..${to}`,
    );
    for (let i = 1; i < runs.length; i++) {
      assert.equal(runs[i].start, runs[i - 1].end, "runs are contiguous");
      assert.notEqual(runs[i].agent, runs[i - 1].agent, "adjacent runs of one agent are merged");
    }
  }
  assert.deepEqual(blameRange(doc, 5, 5), []);
  assert.deepEqual(blameRange(doc, -3, 0), []);
  assert.equal(expand(blameRange(doc, doc.length - 2, doc.length + 10)).length, 2, "clamped to the text");
});

test("blameRange keeps up as the text is edited after the map was built", () => {
  const a = new Document("ada");
  const b = new Document("bob");
  a.insert(0, "hello world");
  merge(b, a);
  assert.deepEqual(blameRange(b, 0, b.length), [{ start: 0, end: 11, agent: "ada" }]);
  b.insert(5, ",");
  b.delete(0, 1);
  merge(a, b);
  a.insert(a.length, "!");
  merge(b, a);
  assert.equal(b.text, "ello, world!");
  assert.deepEqual(blameRange(b, 0, b.length), [
    { start: 0, end: 4, agent: "ada" },
    { start: 4, end: 5, agent: "bob" },
    { start: 5, end: 12, agent: "ada" },
  ]);
});

test("the directory learns owners, asks the server once for agents it does not know, and colours users apart", async () => {
  let asked = 0;
  const changes = [];
  const dir = new AuthorDirectory({
    minInterval: 1,
    lookup: async () => {
      asked++;
      return [{ agent: "tab-9", user: "cy", name: "Cy" }, { agent: "api:ada", user: "ada", name: "Ada" }];
    },
    onChange: () => changes.push(dir.version),
  });
  dir.learn("tab-1", "ada", "Ada");
  dir.learn("tab-2", "bob");
  dir.learn("", "x");
  dir.learn("tab-3", null);
  assert.equal(dir.userOf("tab-1"), "ada");
  assert.equal(dir.userOf("tab-3"), null);
  assert.equal(dir.nameOf("ada"), "Ada");
  assert.equal(dir.nameOf("bob"), "bob");
  dir.missing(["tab-1", "tab-9", "ghost"]);
  dir.missing(["tab-9"]); // one lookup for both calls
  for (let i = 0; i < 50 && !changes.length; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(asked, 1);
  assert.equal(dir.userOf("tab-9"), "cy");
  assert.equal(changes.length, 1);
  dir.missing(["ghost"]); // the server could not name it: not asked about again
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(asked, 1);
  const colours = dir.colours();
  assert.deepEqual([...colours.keys()].sort(), ["ada", "bob", "cy"]);
  assert.equal(new Set(colours.values()).size, 3, "no two users share a colour");
});

test("a failed lookup is tried again when more is missing, not in a loop", async () => {
  let asked = 0;
  const dir = new AuthorDirectory({
    minInterval: 1,
    lookup: async () => {
      asked++;
      if (asked === 1) throw new Error("offline");
      return [{ agent: "t", user: "u", name: null }];
    },
  });
  const warn = console.warn;
  console.warn = () => {};
  try {
    dir.missing(["t"]);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(asked, 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(asked, 1, "no retry loop");
    dir.missing([]);
    for (let i = 0; i < 50 && dir.userOf("t") === null; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(dir.userOf("t"), "u");
  } finally {
    console.warn = warn;
  }
});

test("an edit counts as saved only once every op of it is sent and confirmed", () => {
  const t = new SaveTracker();
  t.edit(0, 3); // "abc"
  t.edit(3, 4); // "d"
  t.edit(4, 4); // nothing (no op): not an edit
  assert.equal(t.pending, 2);
  t.sent(3); // the first flush took the first edit only
  t.confirmed([[0, 3]]); // sent, not confirmed
  assert.equal(t.pending, 2);
  t.confirmed([]); // confirmed: the first is saved, the second not sent yet
  assert.equal(t.pending, 1);
  t.sent(4);
  t.confirmed([[3, 4]]);
  assert.equal(t.pending, 1);
  t.confirmed([]);
  assert.equal(t.pending, 0);
  // a replaced replica: seqs change, so only "connected" (all saved) clears the edits
  t.edit(4, 6);
  t.replaced(10);
  t.sent(12);
  t.confirmed([]);
  assert.equal(t.pending, 1);
  t.allSaved();
  assert.equal(t.pending, 0);
});

test("the saving indicator says saved only when connected with nothing pending", () => {
  assert.deepEqual(savingLabel({ connState: "connected", pending: 0, canWrite: true }), { state: "saved", text: "All changes saved" });
  assert.equal(savingLabel({ connState: "connected", pending: 2, canWrite: true }).text, "Saving…");
  assert.equal(savingLabel({ connState: "connected", pending: 0, canWrite: true, recovering: 1 }).text, "Saving…");
  assert.equal(savingLabel({ connState: "syncing", pending: 0, canWrite: true }).text, "Saving…");
  assert.equal(savingLabel({ connState: "offline", pending: 1, canWrite: true }).text, "Offline — 1 edit kept on this device");
  assert.equal(savingLabel({ connState: "offline", pending: 7, canWrite: true }).text, "Offline — 7 edits kept on this device");
  assert.equal(savingLabel({ connState: "offline", pending: 0, canWrite: null }).state, "offline");
  assert.equal(savingLabel({ connState: "held", pending: 3, canWrite: true }).text, "Not saved — 3 edits kept on this device");
  assert.equal(savingLabel({ connState: "error", pending: 0, canWrite: true }).state, "unsaved");
  assert.equal(savingLabel({ connState: "connected", pending: 0, canWrite: false }).text, "View only");
});

test("export and import helpers: file names and document ids", () => {
  assert.equal(fileNameOf('attachment; filename="notes.md"', "x"), "notes.md");
  assert.equal(fileNameOf('attachment; filename="../../etc/passwd"', "x.txt"), "x.txt");
  assert.equal(fileNameOf(null, "x.txt"), "x.txt");
  assert.equal(docIdFromFileName("My notes.md"), "My-notes");
  assert.equal(docIdFromFileName("Café plan.markdown"), "Cafe-plan");
  assert.equal(docIdFromFileName("report.txt", 3), "report-3");
  assert.equal(docIdFromFileName("🦊.md"), "imported");
  assert.equal(docIdFromFileName("..hidden.md"), "hidden");
  assert.match(docIdFromFileName("x".repeat(300) + ".md", 12), /^[A-Za-z0-9._-]{1,128}$/);
});

test("markdown renders GitHub-flavoured markdown; the URL rule refuses script schemes", () => {
  const html = renderMarkdown("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ and **bold**\n");
  assert.match(html, /<h1[^>]*>Title<\/h1>/);
  assert.match(html, /<table>/);
  assert.match(html, /<del>gone<\/del>/);
  for (const bad of ["javascript:alert(1)", "JavaScript:x", "vbscript:x", "data:text/html,x", "file:///etc/passwd"]) {
    assert.equal(SAFE_URL.test(bad), false, bad);
  }
  for (const ok of ["https://example.com", "http://x", "mailto:a@b.c", "/d/notes", "#top", "page.html", "tel:+123"]) {
    assert.equal(SAFE_URL.test(ok), true, ok);
  }
});
