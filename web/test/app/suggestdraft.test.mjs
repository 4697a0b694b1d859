// Suggesting mode in the editor (app/suggestdraft.js, app/suggest.js): the draft's marks on
// the document's text, what it proposes, how the user's edits change it, how others'
// edits move it -- and, on a real EditorState, that typing while suggesting never
// changes the document, and that undo and redo are the draft's.
import { test } from "node:test";
import assert from "node:assert/strict";

import { EditorSelection, EditorState } from "@codemirror/state";
import { EMPTY_DRAFT, draftEmpty, draftOf, draftText, editDraft, mapDraft } from "../../src/app/suggestdraft.js";
import { draftField, loadDraft, placeSpans, setSuggesting, suggestingMode, undoDraft } from "../../src/app/suggest.js";
import { fromEngine } from "../../src/app/cmbridge.js";

const TEXT = "The quick brown fox jumps.";

test("the proposed text: struck runs out, insertions in, an insertion inside a struck run kept", () => {
  assert.equal(draftText(TEXT, EMPTY_DRAFT), TEXT);
  const d = { deletes: [{ from: 10, to: 16 }], inserts: [{ at: 25, text: " high" }] };
  assert.equal(draftText(TEXT, d), "The quick fox jumps high.");
  assert.equal(draftText("abcdef", { deletes: [{ from: 1, to: 5 }], inserts: [{ at: 3, text: "X" }] }), "aXf");
  assert.equal(draftText("abc", { deletes: [], inserts: [{ at: 0, text: ">" }, { at: 3, text: "<" }] }), ">abc<");
});

test("typing inserts at the caret and goes on with one's own insertion there", () => {
  let r = editDraft(EMPTY_DRAFT, { from: 25, to: 25, insert: " h" });
  assert.equal(r.caret, 25); // the caret stays after the insertion, which is drawn before it
  r = editDraft(r.draft, { from: 25, to: 25, insert: "igh" });
  assert.deepEqual(r.draft, { deletes: [], inserts: [{ at: 25, text: " high" }] });
  assert.equal(draftText(TEXT, r.draft), "The quick brown fox jumps high.");
});

test("Backspace right after one's insertion takes its last character back; elsewhere it strikes", () => {
  let r = editDraft({ deletes: [], inserts: [{ at: 25, text: " hi😀" }] }, { from: 24, to: 25, how: "backward" });
  assert.deepEqual(r.draft.inserts, [{ at: 25, text: " hi" }]);
  assert.equal(r.caret, 25);
  r = editDraft(EMPTY_DRAFT, { from: 24, to: 25, how: "backward" });
  assert.deepEqual(r.draft, { deletes: [{ from: 24, to: 25 }], inserts: [] });
  assert.equal(r.caret, 24); // walks left over the struck character
  r = editDraft(r.draft, { from: 23, to: 24, how: "backward" });
  assert.deepEqual(r.draft.deletes, [{ from: 23, to: 25 }]); // joined
  r = editDraft(EMPTY_DRAFT, { from: 0, to: 1, how: "forward" });
  assert.equal(r.caret, 1); // Delete strikes forward and moves past it
  // the last character of an insertion taken back: nothing left of it
  r = editDraft({ deletes: [], inserts: [{ at: 3, text: "x" }] }, { from: 2, to: 3, how: "backward" });
  assert.ok(draftEmpty(r.draft));
});

test("a selection deleted or typed over is struck, one's insertions inside it go, the new text follows it", () => {
  const d = { deletes: [], inserts: [{ at: 12, text: "ZZ" }] };
  let r = editDraft(d, { from: 10, to: 16 });
  assert.deepEqual(r.draft, { deletes: [{ from: 10, to: 16 }], inserts: [] });
  r = editDraft(EMPTY_DRAFT, { from: 10, to: 15, insert: "red" });
  assert.deepEqual(r.draft, { deletes: [{ from: 10, to: 15 }], inserts: [{ at: 15, text: "red" }] });
  assert.equal(r.caret, 15);
  assert.equal(draftText(TEXT, r.draft), "The quick red fox jumps.");
});

test("others' edits move the draft; text typed at a struck run's edge is not struck", () => {
  const d = { deletes: [{ from: 10, to: 16 }], inserts: [{ at: 25, text: " high" }] };
  const state = EditorState.create({ doc: TEXT });
  const tr = state.update({ changes: [{ from: 0, insert: "Yes! " }, { from: 16, insert: "red " }] });
  const moved = mapDraft(d, (p, a) => tr.changes.mapPos(p, a));
  assert.deepEqual(moved, { deletes: [{ from: 15, to: 21 }], inserts: [{ at: 34, text: " high" }] });
  assert.equal(draftText(tr.state.doc.toString(), moved), "Yes! The quick red fox jumps high.");
  // a struck run whose characters others deleted is gone
  const gone = state.update({ changes: { from: 8, to: 20 } });
  assert.deepEqual(mapDraft(d, (p, a) => gone.changes.mapPos(p, a)).deletes, []);
});

test("a listed suggestion's runs become a draft proposing the same text", () => {
  const placed = placeSpans([
    { kind: "same", text: "The quick " },
    { kind: "delete", text: "brown " },
    { kind: "same", text: "fox jumps" },
    { kind: "insert", text: " high" },
    { kind: "same", text: "." },
  ]);
  assert.equal(draftText(placed.expected, draftOf(placed)), "The quick fox jumps high.");
});

function suggestingState(doc = TEXT) {
  let state = EditorState.create({ doc, extensions: [suggestingMode] });
  state = state.update({ effects: [setSuggesting.of({ on: true }), loadDraft.of({ id: "abc", draft: EMPTY_DRAFT })] }).state;
  return state;
}

function fakeView(state) {
  return {
    state,
    dispatch(spec) {
      this.state = this.state.update(spec).state;
    },
  };
}

test("on an editor state: typing while suggesting leaves the document as it was, others' edits pass", () => {
  let state = suggestingState();
  state = state.update({ changes: { from: 25, insert: " high" }, selection: EditorSelection.cursor(30), userEvent: "input.type" }).state;
  assert.equal(state.doc.toString(), TEXT);
  assert.equal(state.selection.main.head, 25);
  state = state.update({ selection: EditorSelection.range(10, 16) }).state;
  state = state.update({ changes: { from: 10, to: 16 }, userEvent: "delete.selection" }).state;
  assert.equal(state.doc.toString(), TEXT);
  assert.equal(draftText(state.doc.toString(), state.field(draftField).draft), "The quick fox jumps high.");
  // someone else types at the start: it enters the document, the draft moves along
  state = state.update({ changes: { from: 0, insert: "Yes! " }, annotations: fromEngine.of("remote") }).state;
  assert.equal(state.doc.toString(), `Yes! ${TEXT}`);
  assert.equal(draftText(state.doc.toString(), state.field(draftField).draft), "Yes! The quick fox jumps high.");
  // out of suggesting mode the user's typing is an edit of the document again
  state = state.update({ effects: setSuggesting.of({ on: false }) }).state;
  state = state.update({ changes: { from: 0, insert: "!" }, userEvent: "input.type" }).state;
  assert.equal(state.doc.toString(), `!Yes! ${TEXT}`);
});

test("undo and redo while suggesting are the draft's; the document's edits are untouched", (t) => {
  let now = 1_000_000;
  t.mock.method(Date, "now", () => now);
  const view = fakeView(suggestingState());
  const proposed = () => draftText(view.state.doc.toString(), view.state.field(draftField).draft);
  view.dispatch({ changes: { from: 0, insert: "X" }, userEvent: "input.type" });
  now += 100;
  view.dispatch({ changes: { from: 0, insert: "Y" }, userEvent: "input.type" }); // typed on: one undo step
  view.state = view.state.update({ changes: { from: 4, insert: "Z" }, annotations: fromEngine.of("remote") }).state; // someone else's
  now += 5000;
  view.dispatch({ selection: EditorSelection.cursor(27) });
  view.dispatch({ changes: { from: 27, insert: "!" }, userEvent: "input.type" }); // a pause: a step of its own
  assert.equal(view.state.doc.toString(), "The Zquick brown fox jumps.");
  assert.equal(proposed(), "XYThe Zquick brown fox jumps.!");
  assert.ok(undoDraft(view, false));
  assert.equal(proposed(), "XYThe Zquick brown fox jumps.");
  assert.equal(view.state.selection.main.head, 27); // where the undone typing was
  assert.ok(undoDraft(view, false));
  assert.equal(proposed(), "The Zquick brown fox jumps."); // the document is as it was, others' edit kept
  assert.ok(undoDraft(view, false)); // nothing left to undo in the draft: handled, the engine is not asked
  assert.equal(view.state.doc.toString(), "The Zquick brown fox jumps.");
  assert.ok(undoDraft(view, true));
  assert.equal(proposed(), "XYThe Zquick brown fox jumps.");
  assert.ok(undoDraft(view, true));
  assert.equal(proposed(), "XYThe Zquick brown fox jumps.!");
  // not suggesting: the engine's undo is asked
  view.dispatch({ effects: setSuggesting.of({ on: false }) });
  assert.equal(undoDraft(view, false), false);
});

test("the draft's ops: typed at this copy's version, they make its text read as proposed and merge with later edits", async () => {
  const { Document } = await import("../../src/engine/index.js");
  const { suggestionPatch } = await import("../../src/app/suggest.js");
  const { draftEdits } = await import("../../src/app/suggestdraft.js");
  const main = new Document("alice");
  main.insert(0, "alpha 😀beta gamma delta.");
  const text = main.text;
  const at = (s) => text.indexOf(s);
  const draft = {
    deletes: [{ from: at("😀beta"), to: at(" gamma") }, { from: at("gamma"), to: at("delta") }],
    inserts: [{ at: at(" gamma"), text: "BETA" }, { at: at("amma"), text: "G" }],
  };
  // struck runs cut at the insertion inside one; applied from the end
  const edits = draftEdits(draft);
  assert.deepEqual(edits.map((e) => e.kind), ["delete", "insert", "delete", "insert", "delete"]);
  const proposed = draftText(text, draft);
  assert.equal(proposed, "alpha BETA Gdelta.");
  const patch = suggestionPatch(main, "abc123", text, draft);
  const later = Document.decode(main.encode(), "carol");
  later.insert(later.length, " epsilon"); // typed meanwhile by someone else
  const accepted = Document.decode(later.encode(), "x");
  accepted.applyPatch(patch);
  assert.equal(accepted.text, "alpha BETA Gdelta. epsilon");
  const ops = Document.decode(main.encode(), "y");
  ops.applyPatch(patch);
  assert.equal(ops.text, proposed);
  assert.deepEqual(new Set(ops.opsSince(main.version()).map((op) => op.agent)), new Set(["sugg:abc123"]));
  assert.equal(main.text, text); // the document itself is untouched
});

test("inside one's own insertion: typing, Backspace and Delete edit its text at the caret", () => {
  const d = { deletes: [], inserts: [{ at: 25, text: " hgh" }] };
  let r = editDraft(d, { from: 25, to: 25, insert: "i", inner: { at: 25, offset: 2 } });
  assert.deepEqual(r.draft.inserts, [{ at: 25, text: " high" }]);
  assert.deepEqual(r.inner, { at: 25, offset: 3 });
  assert.equal(r.caret, 25);
  r = editDraft(r.draft, { from: 24, to: 25, how: "backward", inner: r.inner });
  assert.deepEqual(r.draft.inserts, [{ at: 25, text: " hgh" }]);
  assert.deepEqual(r.inner, { at: 25, offset: 2 });
  r = editDraft(r.draft, { from: 25, to: 26, how: "forward", inner: r.inner });
  assert.deepEqual(r.draft.inserts, [{ at: 25, text: " hh" }]);
  // at its start, Backspace strikes the document's character before it
  r = editDraft(r.draft, { from: 24, to: 25, how: "backward", inner: { at: 25, offset: 0 } });
  assert.deepEqual(r.draft, { deletes: [{ from: 24, to: 25 }], inserts: [{ at: 25, text: " hh" }] });
  assert.equal(r.inner, null);
  // typed up to its end, the caret is the editor's own again
  r = editDraft({ deletes: [], inserts: [{ at: 3, text: "ab" }] }, { from: 3, to: 3, insert: "X", inner: { at: 3, offset: 1 } });
  assert.deepEqual(r.inner, { at: 3, offset: 2 });
  assert.equal(draftText("xyz", r.draft), "xyzaXb");
});

test("on an editor state: Left goes into one's insertion and typing there edits it; the document stays", async () => {
  const { moveInner } = await import("../../src/app/suggest.js");
  const view = fakeView(suggestingState("abc"));
  view.dispatch({ selection: EditorSelection.cursor(3) });
  view.dispatch({ changes: { from: 3, insert: "XY" }, userEvent: "input.type" });
  assert.ok(moveInner(view, false)); // into it, before its last character
  assert.deepEqual(view.state.field(draftField).inner, { at: 3, offset: 1 });
  view.dispatch({ changes: { from: 3, insert: "-" }, userEvent: "input.type" });
  assert.equal(draftText(view.state.doc.toString(), view.state.field(draftField).draft), "abcX-Y");
  assert.equal(view.state.doc.toString(), "abc");
  assert.ok(moveInner(view, false));
  assert.ok(moveInner(view, false));
  assert.deepEqual(view.state.field(draftField).inner, { at: 3, offset: 0 });
  assert.equal(moveInner(view, false), false); // out of it: the editor moves on left
  assert.equal(view.state.field(draftField).inner, null);
  view.dispatch({ selection: EditorSelection.cursor(3) });
  assert.ok(moveInner(view, false));
  view.dispatch({ selection: EditorSelection.cursor(0) }); // a click elsewhere: out of it
  assert.equal(view.state.field(draftField).inner, null);
});
