// A stand-in for an EditorView in Node (no DOM): an EditorState with the collab()
// extension, a dispatch() that runs the sync's ViewPlugin on each transaction (and,
// like CodeMirror, refuses a dispatch during an update), and helpers that edit the
// text the way a user would.  Not a *.test.mjs file: a helper.
import { EditorState, Transaction } from "@codemirror/state";
import { SyncPlugin, collab } from "../../src/app/collab.js";

export class FakeView {
  constructor({ doc = "", connection, config = {} }) {
    this.state = EditorState.create({ doc, extensions: [collab({ connection, ...config })] });
    this.updating = false;
    this.sync = new SyncPlugin(this);
  }

  dispatch(...specs) {
    if (this.updating) throw new Error("Calls to EditorView.update are not allowed while an update is in progress");
    const tr = specs.length === 1 && specs[0] instanceof Transaction ? specs[0] : this.state.update(...specs);
    const startState = this.state;
    this.state = tr.state;
    this.updating = true;
    try {
      this.sync.update({ view: this, state: tr.state, startState, transactions: [tr], docChanged: tr.docChanged, selectionSet: !!tr.selection });
    } finally {
      this.updating = false;
    }
  }

  plugin() {
    return this.sync;
  }

  get text() {
    return this.state.doc.toString();
  }

  /** The user types `text` at UTF-16 offset `at` (the caret follows). */
  type(at, text) {
    this.dispatch({ changes: { from: at, insert: text }, selection: { anchor: at + text.length }, userEvent: "input.type" });
  }

  /** The user deletes UTF-16 offsets from..to. */
  erase(from, to) {
    this.dispatch({ changes: { from, to }, selection: { anchor: from }, userEvent: "delete" });
  }

  destroy() {
    this.sync.destroy();
  }
}
