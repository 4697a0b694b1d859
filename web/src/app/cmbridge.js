// The seam between CodeMirror (UTF-16 offsets, immutable states) and the engine
// Document (code points, mutable): an AstralIndex kept in the editor state, local
// transactions turned into engine inserts/deletes, and engine edits (XfOps) turned
// into one CodeMirror ChangeSet.  No DOM here, so it runs in Node tests.
import { Annotation, ChangeSet, StateField } from "@codemirror/state";
import { AstralIndex, diffText } from "./text.js";

/** Marks transactions that come from the engine (remote ops, undo, resync): not echoed back. */
export const fromEngine = Annotation.define();

/** Where the astral characters are in the editor's text, kept up to date per transaction. */
export const astralField = StateField.define({
  create: (state) => AstralIndex.build(state.doc),
  update: (idx, tr) => (tr.docChanged ? idx.map(tr.changes, tr.newDoc) : idx),
});

/**
 * Apply a local transaction's changes to the engine `doc` (code points; the last
 * change first so earlier offsets stay valid).  Returns false if the engine's text
 * length no longer matches the editor's (then the caller re-syncs the editor text).
 */
export function applyLocalChanges(doc, tr) {
  const idx = tr.startState.field(astralField);
  const edits = [];
  tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    edits.push([idx.toCp(fromA), idx.toCp(toA), inserted.toString()]);
  });
  for (let i = edits.length - 1; i >= 0; i--) {
    const [from, to, text] = edits[i];
    if (to > from) doc.delete(from, to - from);
    if (text) doc.insert(from, text);
  }
  const after = tr.state.field(astralField);
  return doc.length === after.cpLength(tr.state.doc.length);
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

/** Changes turning the editor's text into `text` (one replaced span, or none). */
export function changesToText(state, text) {
  const d = diffText(state.doc.toString(), text);
  return d ? ChangeSet.of(d, state.doc.length) : ChangeSet.empty(state.doc.length);
}
