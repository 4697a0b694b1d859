// The editor's sync as a CodeMirror 6 extension, in the shape of @codemirror/collab:
//
//   collab({connection, colour, captureTimeout, onPeers}) =
//     [syncConfig.of(...), syncField (read-only or not), astralField, peersField,
//      syncPlugin (the ViewPlugin), the undo keys]
//
// The ViewPlugin binds the editor to a Connection (and its engine Document):
//
// * local transactions become engine inserts/deletes (code points), and each is
//   recorded in the connection's journal (the user's unconfirmed edits, as text
//   changes of the text the editor shows) -- with {inReplica: false} if the engine
//   refused it;
// * engine edits (other people's ops, undo/redo, a replaced replica) are dispatched
//   as transactions marked fromEngine (the one echo guard: they are not applied to
//   the engine again); other people's are also marked Transaction.remote and
//   recorded in the journal as remote() changes;
// * the engine and the editor must agree: if the engine refuses a local edit or
//   their lengths differ, the replica is suspect -- the connection replaces it with
//   the server's copy and types the journal's edits again (connection.recover());
//   until then local edits go into the journal only and nothing from the engine is
//   shown;
// * undo/redo are the engine's UndoManager's (Mod-z, Mod-Shift-z, Mod-y and the
//   browser's history inputs), with a fresh history whenever the replica is replaced;
// * our cursor goes to the others as stable positions; theirs are shown as
//   decorations (cursors.js).
import { EditorSelection, EditorState, Facet, Prec, StateEffect, StateField, Transaction } from "@codemirror/state";
import { EditorView, ViewPlugin } from "@codemirror/view";
import { EngineError, Position, UndoManager } from "../engine/index.js";
import { diff } from "../protocol/textChange.js";
import { astralField, changesFromEdits, fromEngine, transactionEdits } from "./cmbridge.js";
import { distinctColours, peersField, setPeers } from "./cursors.js";

/** The extension's configuration (the first one given wins). */
const syncConfig = Facet.define({ combine: (values) => values[0] ?? null });

/**
 * Undo/redo that comes before the engine's: `(view, redo) => handled`.  Suggesting mode
 * (suggest.js) gives one, so that Undo takes back suggestion typing, not document edits.
 */
export const undoOverride = Facet.define();

/** Whether the user may edit (the server said so in WELCOME). */
export const setWritable = StateEffect.define();

/** What the sync tells the editor's state: {writable}.  Provides EditorState.readOnly. */
export const syncField = StateField.define({
  create: () => ({ writable: true }),
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setWritable) && e.value !== value.writable) value = { writable: e.value };
    return value;
  },
  provide: (field) => EditorState.readOnly.from(field, (value) => !value.writable),
});

const REMOTE = [Transaction.remote.of(true), Transaction.addToHistory.of(false)];

/** The sync of one editor (the ViewPlugin's value; `syncOf(view)`). */
export class SyncPlugin {
  constructor(view) {
    this.view = view;
    const config = view.state.facet(syncConfig);
    if (!config?.connection) throw new Error("collab(): a connection is required");
    this.config = config;
    this.conn = config.connection;
    this.captureTimeout = config.captureTimeout ?? 500;
    this.undo = new UndoManager(this.conn.doc, { captureTimeout: this.captureTimeout });
    this.conn.viewText = () => this.view.state.doc.toString();
    this.peersTimer = null;
    this.cursorWarned = false;
    const conn = this.conn;
    this.unsubscribe = [
      conn.on("remote", (edits) => {
        this.dispatchEngine(edits, "remote");
        this.refreshPeers();
      }),
      conn.on("welcomed", ({ canWrite }) => this.view.dispatch({ effects: setWritable.of(canWrite) })),
      conn.on("resynced", (ev) => this.replaced(ev, ev.retyped ? "rebased" : "remote")),
      conn.on("recovered", (ev) => this.replaced(ev, "rebased")),
      conn.on("presence", () => this.refreshPeers()),
    ];
  }

  /** The connection's journal (it may replace it with a new one on a recovery). */
  get journal() {
    return this.conn.journal;
  }

  update(update) {
    let local = false;
    for (const tr of update.transactions) {
      if (!tr.docChanged) continue;
      const origin = tr.annotation(fromEngine);
      if (origin === undefined) {
        this.applyLocal(tr);
        local = true;
      } else if (origin === "undo") {
        this.record(tr, true); // the user's own edits, already in the engine
        this.check(tr);
      } else if (origin === "remote") {
        this.journal?.remote(
          transactionEdits(tr).flatMap((e) => [
            ...(e.length ? [{ kind: "del", pos: e.pos, length: e.length }] : []),
            ...(e.inserted ? [{ kind: "ins", pos: e.pos, text: e.inserted }] : []),
          ]),
        );
      }
      // "rebased": the journal holds these already
    }
    if (local) this.conn.changed();
    if (local || update.selectionSet) this.sendCursor();
  }

  destroy() {
    for (const stop of this.unsubscribe) stop();
    clearTimeout(this.peersTimer);
    this.undo.detach();
    if (this.conn.viewText) this.conn.viewText = null;
  }

  // -- local edits -----------------------------------------------------------------

  // A transaction the user made: into the engine (unless it is suspect) and the journal.
  applyLocal(tr) {
    const conn = this.conn;
    const doc = conn.doc;
    const journal = this.journal;
    let ok = !conn.suspect;
    let why = null;
    const attempt = (fn) => {
      if (!ok) return false;
      try {
        fn();
        return true;
      } catch (exc) {
        if (!(exc instanceof EngineError)) console.error("cowrite: the document failed on a local edit", exc);
        why = `the document refused a local edit (${exc?.message ?? exc})`;
        ok = false;
        return false;
      }
    };
    for (const e of transactionEdits(tr)) {
      if (e.length) {
        const inReplica = attempt(() => doc.delete(e.pos, e.length));
        journal?.local(e.pos, e.deleted, "", { inReplica });
      }
      if (e.inserted) {
        const inReplica = attempt(() => doc.insert(e.pos, e.inserted));
        journal?.local(e.pos, "", e.inserted, { inReplica });
      }
    }
    if (why) this.suspect(why);
    else this.check(tr);
  }

  // Record a transaction's changes in the journal as the user's.
  record(tr, inReplica) {
    const journal = this.journal;
    if (!journal) return;
    for (const e of transactionEdits(tr)) {
      if (e.length) journal.local(e.pos, e.deleted, "", { inReplica });
      if (e.inserted) journal.local(e.pos, "", e.inserted, { inReplica });
    }
  }

  // The engine's text must be as long as the editor's after every change.
  check(tr) {
    if (this.conn.suspect) return;
    const length = tr.state.field(astralField).cpLength(tr.state.doc.length);
    if (this.conn.doc.length !== length) {
      this.suspect(`the document has ${this.conn.doc.length} characters and the editor ${length}`);
    }
  }

  suspect(why) {
    if (this.conn.suspect) return;
    console.warn(`cowrite: ${why}; replacing this copy of the document by the server's`);
    this.conn.recover(why);
  }

  // -- engine edits ----------------------------------------------------------------

  /** Show engine edits (code points) in the editor without applying them to the engine again. */
  dispatchEngine(edits, origin, extra = {}) {
    if (this.conn.suspect && origin === "remote") return; // they describe the engine's text, not the editor's
    let changes;
    try {
      changes = changesFromEdits(this.view.state, edits);
    } catch (exc) {
      console.error("cowrite: the document's edits do not fit the editor's text", exc);
      this.suspect("the document's edits do not fit the editor's text");
      return;
    }
    if (changes.empty && !extra.selection) return;
    const annotations = [fromEngine.of(origin), ...(origin === "undo" ? [Transaction.addToHistory.of(false)] : REMOTE)];
    this.view.dispatch({ changes, annotations, ...extra });
  }

  // The connection replaced the replica (a RESYNC, or a fresh copy after a refusal).
  replaced(ev, origin) {
    this.undo.detach();
    this.undo = new UndoManager(ev.doc, { captureTimeout: this.captureTimeout });
    this.dispatchEngine(ev.edits, origin);
    const shown = this.view.state.doc.toString();
    if (shown !== ev.doc.text) {
      // A bug in the rebase: never leave the two apart.  The editor shows the
      // replica's text now, as a change that is not the user's (the journal moves it
      // under the user's edits).
      console.error("cowrite: after replacing the document, the editor's text differs from it; showing the document's");
      this.dispatchEngine(diff(shown, ev.doc.text).toEdits(), "remote");
      if (this.view.state.doc.toString() !== ev.doc.text) this.suspect("the editor's text cannot be set to the document's");
    }
    this.sendCursor();
    this.refreshPeers();
  }

  // -- undo ------------------------------------------------------------------------

  /** The engine's undo (redo: its redo); true: the key or input was handled. */
  undoRedo(redo) {
    const view = this.view;
    for (const handle of view.state.facet(undoOverride)) if (handle(view, redo)) return true;
    if (view.state.readOnly || this.conn.suspect) return true;
    const doc = this.conn.doc;
    const edits = [];
    const stop = doc.observe((e) => e.origin === "local" && edits.push(...e.changes));
    let result;
    try {
      result = redo ? this.undo.redo() : this.undo.undo();
    } catch (exc) {
      console.error("cowrite: undo failed", exc);
      this.suspect(`undo failed (${exc?.message ?? exc})`);
      return true;
    } finally {
      stop();
    }
    if (!edits.length) return true;
    const changes = changesFromEdits(view.state, edits);
    const extra = { userEvent: redo ? "redo" : "undo" };
    if (result) {
      const idx = view.state.field(astralField).map(changes, changes.apply(view.state.doc));
      extra.selection = EditorSelection.single(idx.toU16(result.anchor), idx.toU16(result.head));
      extra.scrollIntoView = true;
    }
    this.dispatchEngine(edits, "undo", extra);
    this.conn.changed();
    this.sendCursor();
    this.refreshPeers();
    return true;
  }

  // -- our cursor, their cursors ---------------------------------------------------

  sendCursor() {
    if (this.conn.suspect) return; // positions of a replica being replaced mean nothing
    const state = this.view.state;
    const sel = state.selection.main;
    const idx = state.field(astralField);
    const d = this.conn.doc;
    try {
      const a = idx.toCp(sel.anchor);
      const hd = idx.toCp(sel.head);
      if (a === hd) this.conn.setCursor(d.position(a, -1));
      else this.conn.setCursor(d.position(a, a < hd ? 1 : -1), d.position(hd, hd < a ? 1 : -1));
    } catch (exc) {
      if (!this.cursorWarned) console.warn("cowrite: cannot describe the cursor", exc);
      this.cursorWarned = true;
    }
  }

  refreshPeers() {
    if (this.peersTimer !== null) return;
    this.peersTimer = setTimeout(() => {
      this.peersTimer = null;
      this.showPeers();
    }, 16);
  }

  resolve(bytes) {
    try {
      return this.conn.doc.resolve(Position.decode(bytes));
    } catch {
      return null; // its characters have not arrived yet, or not a character: hidden
    }
  }

  showPeers() {
    const idx = this.view.state.field(astralField);
    const doc = this.conn.doc;
    let peers = [];
    for (const p of this.conn.presence.values()) {
      let anchor = null;
      let head = null;
      if (p.cursor && !this.conn.suspect) {
        const a = this.resolve(p.cursor[0]);
        const hd = this.resolve(p.cursor[1]);
        if (a !== null && hd !== null) {
          anchor = idx.toU16(Math.min(a, doc.length));
          head = idx.toU16(Math.min(hd, doc.length));
        }
      }
      peers.push({ agent: p.agent, name: p.user || p.agent, colour: p.colour, anchor, head });
    }
    peers = distinctColours(peers, this.config.colour ? [this.config.colour] : []);
    this.view.dispatch({ effects: setPeers.of(peers) });
    this.config.onPeers?.(peers);
  }
}

const syncPlugin = ViewPlugin.fromClass(SyncPlugin);

/** The sync of `view` (its SyncPlugin), or null. */
export function syncOf(view) {
  return view.plugin(syncPlugin);
}

// Mod-z / Mod-Shift-z / Mod-y and the browser's undo/redo inputs: the engine's undo.
// Matched by hand rather than with a keymap so Shift+z is redo whether the key reports
// "z" or "Z".
const undoKeys = Prec.highest(
  EditorView.domEventHandlers({
    keydown(ev, view) {
      if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return false;
      const key = ev.key.toLowerCase();
      if (key !== "z" && key !== "y") return false;
      ev.preventDefault();
      return syncOf(view)?.undoRedo(key === "y" || ev.shiftKey) ?? false;
    },
    beforeinput(ev, view) {
      if (ev.inputType !== "historyUndo" && ev.inputType !== "historyRedo") return false;
      ev.preventDefault();
      return syncOf(view)?.undoRedo(ev.inputType === "historyRedo") ?? false;
    },
  }),
);

/**
 * The editor's sync with `connection` (a Connection over the engine Document).
 * colour: this user's (peers get others); captureTimeout: undo grouping (ms);
 * onPeers(peers): the peers shown, for a list outside the editor.
 */
export function collab(config) {
  return [syncConfig.of(config), syncField, astralField, peersField, syncPlugin, undoKeys];
}
