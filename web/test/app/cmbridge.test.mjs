import { test } from "node:test";
import assert from "node:assert/strict";
import { EditorState } from "@codemirror/state";
import { Document } from "../../src/engine/index.js";
import { astralField, changesFromEdits, fromEngine, transactionEdits } from "../../src/app/cmbridge.js";
import { Journal } from "../../src/protocol/journal.js";

// What the sync does with a local transaction: its edits, in order, into the engine.
function applyLocal(doc, tr) {
  for (const e of transactionEdits(tr)) {
    if (e.length) doc.delete(e.pos, e.length);
    if (e.inserted) doc.insert(e.pos, e.inserted);
  }
  return doc.length === tr.state.field(astralField).cpLength(tr.state.doc.length);
}
import { cpToUtf16 } from "../../src/app/text.js";

function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ["a", "bc", "\n", "😀", "👍🏽", "é", "𝄞x", "漢字"];
const piece = (rand) => PIECES[Math.floor(rand() * PIECES.length)];

// A user-like transaction: one to three non-overlapping changes at code point boundaries.
function randomLocal(state, rand) {
  const text = state.doc.toString();
  const n = Array.from(text).length;
  const cuts = [];
  const k = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < 2 * k; i++) cuts.push(Math.floor(rand() * (n + 1)));
  cuts.sort((a, b) => a - b);
  const changes = [];
  for (let i = 0; i < cuts.length; i += 2) {
    const from = cpToUtf16(text, cuts[i]);
    const to = rand() < 0.5 ? from : cpToUtf16(text, cuts[i + 1]);
    const insert = rand() < 0.7 ? piece(rand) : "";
    if (from !== to || insert) changes.push({ from, to, insert });
  }
  return state.update({ changes });
}

function randomEngineEdit(doc, rand) {
  const n = doc.length;
  if (n > 0 && rand() < 0.4) {
    const pos = Math.floor(rand() * n);
    doc.delete(pos, 1 + Math.floor(rand() * Math.min(3, n - pos)));
  } else {
    doc.insert(Math.floor(rand() * (n + 1)), piece(rand));
  }
}

test("local transactions reach the engine and remote edits reach the editor, emoji intact", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = rng(seed);
    const doc = new Document("local");
    const peer = new Document("peer");
    let state = EditorState.create({ doc: "", extensions: [astralField] });
    for (let step = 0; step < 40; step++) {
      const r = rand();
      if (r < 0.5) {
        const tr = randomLocal(state, rand);
        assert.ok(applyLocal(doc, tr), `seed ${seed} step ${step}: lengths agree`);
        state = tr.state;
      } else if (r < 0.85) {
        randomEngineEdit(peer, rand);
      } else {
        // exchange: the peer's ops arrive here as XfOps, ours go there
        const edits = doc.addOps(peer.opsMissingFrom(doc.summary()));
        const changes = changesFromEdits(state, edits);
        state = state.update({ changes, annotations: fromEngine.of("remote") }).state;
        peer.addOps(doc.opsMissingFrom(peer.summary()));
      }
      assert.equal(state.doc.toString(), doc.text, `seed ${seed} step ${step}`);
      assert.equal(state.field(astralField).cpLength(state.doc.length), doc.length);
    }
    const edits = doc.addOps(peer.opsMissingFrom(doc.summary()));
    state = state.update({ changes: changesFromEdits(state, edits) }).state;
    peer.addOps(doc.opsMissingFrom(peer.summary()));
    assert.equal(state.doc.toString(), peer.text, `seed ${seed}: converged`);
  }
});

test("a replacement of a selection is a delete then an insert at the same place", () => {
  const doc = new Document("me");
  doc.insert(0, "a😀b");
  let state = EditorState.create({ doc: doc.text, extensions: [astralField] });
  const tr = state.update({ changes: { from: 1, to: 3, insert: "🎉🎉" } });
  assert.ok(applyLocal(doc, tr));
  assert.equal(doc.text, "a🎉🎉b");
  assert.equal(doc.length, 4);
  assert.deepEqual(transactionEdits(tr), [{ pos: 1, length: 1, deleted: "😀", inserted: "🎉🎉" }]);
});

test("transactionEdits: several changes, each in the text the ones before left, with the text each deleted", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = rng(1000 + seed);
    let state = EditorState.create({ doc: "seed 😀 text 👍🏽 here", extensions: [astralField] });
    const journal = new Journal();
    const start = state.doc.toString();
    for (let step = 0; step < 30; step++) {
      const tr = randomLocal(state, rand);
      // the journal, fed these edits, turns the text before them into the text after
      for (const e of transactionEdits(tr)) journal.local(e.pos, e.deleted, e.inserted);
      state = tr.state;
      assert.equal(journal.base(state.doc.toString()), start, `seed ${seed} step ${step}`);
    }
  }
});
