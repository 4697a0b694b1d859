// The seam between CodeMirror (UTF-16 offsets, immutable states) and the engine
// Document (code points, mutable): an AstralIndex kept in the editor state, a
// transaction's changes as code-point edits, and engine edits (XfOps) turned into
// one CodeMirror ChangeSet.  No DOM here, so it runs in Node tests.
import { Annotation, ChangeSet, StateField } from "@codemirror/state";
import { AstralIndex } from "./text.js";

/**
 * Marks a transaction whose changes are already in the engine, so the sync must not
 * apply them again (the one echo guard).  Its value says where they came from:
 * "remote" (other people's ops), "undo" (the engine's undo or redo: the user's own
 * edits), "rebased" (a replaced replica: the journal accounts for them already).
 */
export const fromEngine = Annotation.define();

/** Where the astral characters are in the editor's text, kept up to date per transaction. */
export const astralField = StateField.define({
  create: (state) => AstralIndex.build(state.doc),
  update: (idx, tr) => (tr.docChanged ? idx.map(tr.changes, tr.newDoc) : idx),
});

/**
 * A transaction's changes as edits in code points, each in the text left by the ones
 * before it: `{pos, length, deleted, inserted}` (`length` code points, which were
 * `deleted`, replaced by `inserted`).  The state must carry astralField.
 */
export function transactionEdits(tr) {
  const before = tr.startState.field(astralField);
  const after = tr.state.field(astralField);
  const doc = tr.startState.doc;
  const edits = [];
  tr.changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
    // Applied in order, change i starts at its offset in the new text (fromB): what
    // precedes it is the text after the earlier changes.
    edits.push({
      pos: after.toCp(fromB),
      length: before.toCp(toA) - before.toCp(fromA),
      deleted: doc.sliceString(fromA, toA),
      inserted: inserted.toString(),
    });
  });
  return edits;
}

/**
 * One ChangeSet (against `state.doc`) doing the engine's `edits` (XfOps in code
 * points, each in the coordinates left by the previous one).
 */
export function changesFromEdits(state, edits) {
  let doc = state.doc;
  let idx = state.field(astralField);
  let total = ChangeSet.empty(doc.length);
  for (const e of edits) {
    const from = idx.toU16(e.pos);
    let spec;
    if (e.kind === "ins") {
      if (!e.text) continue;
      spec = { from, insert: e.text };
    } else {
      if (!(e.length > 0)) continue;
      spec = { from, to: idx.toU16(e.pos + e.length) };
    }
    const cs = ChangeSet.of(spec, doc.length);
    total = total.compose(cs);
    doc = cs.apply(doc);
    idx = idx.map(cs, doc);
  }
  return total;
}
