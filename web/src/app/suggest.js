// Suggestions on the editor page: suggesting mode in the editor itself (what one types
// becomes a suggestion -- a branch of the event graph, server/suggestions.py -- instead
// of entering the document), the open suggestions shown inline (inserted text marked,
// deleted text struck through), and a side panel to accept or reject them.
//
// Suggesting: the "Editing / Suggesting" toggle switches the editor's mode.  While
// suggesting, a transaction filter turns every change the user makes into a change of
// their draft (suggestdraft.js: struck runs and insertions marked on the document's
// text), so the document -- the engine, the editor's text, the server -- never sees
// it; others' edits keep arriving and move the draft with them.  The draft is saved
// (debounced) as the suggestion's ops, typed by its agent `sugg:<id>` on a scratch copy
// of this tab's document once all of it is on the server (suggestionPatch): made at
// that version, they merge with whatever others type meanwhile like any branch, and
// they say exactly what was struck and inserted (the server shows them as typed).
// Undo and redo while suggesting are the draft's.  The caret goes inside one's own
// insertions too (arrow keys, a click: drawn there, the editor's own hidden), and
// typing there edits the inserted text.
// Leaving suggesting mode keeps the suggestion open; the next time one suggests, it is
// a new suggestion (Edit on one's own card takes an open one up again).  Commenters may
// suggest too (the server allows it), viewers may not: the toggle is not shown to them.
//
// Showing: the list (GET /api/docs/{id}/suggestions, with ?since=<tag>: an unchanged
// list costs the server no merge) is fetched when the socket's SUGGESTIONS frame says
// it changed (connection "suggestions"), after a reconnect, after others' edits while
// suggestions are shown, and by a slow fallback poll.  Each suggestion's `spans` are on
// the server's text; they are put in the editor only when that text is the editor's
// (kept + deleted runs spell it); otherwise the marks already shown are mapped through
// the edits and the list is fetched again shortly.  One's own draft is drawn from the
// draft itself (the caret moves through it as one types) and set to the server's
// reading of it when the two propose different texts.  Who may do what is the server's
// to decide; the panel only hides buttons that would be refused (`you` in the list).
//
// Kept on this device: while the server does not have all of the draft (offline, or
// within the save's debounce) it is stored with the document's offline copy
// (persist.js DraftStore, its marks tied to characters: suggestdraft.js anchorDraft),
// synchronously when the page is closed.  A later page of the same user takes up a
// draft whose tab is gone (keepDrafts): placed on the text as it is now, in the mode it
// was typed in, and saved like any draft once the server has everything this page
// has.  A draft that cannot be placed is not dropped: its text is shown in a notice.
// The page's saving indicator counts an unsaved draft (unsavedDrafts, onSaveState).
import { Compartment, EditorSelection, EditorState, Prec, StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView, WidgetType, keymap } from "@codemirror/view";
import { ApiError, api, docPath, withShare } from "./api.js";
import { fromEngine } from "./cmbridge.js";
import { undoOverride } from "./collab.js";
import { Document, Position, encodePatch } from "../engine/index.js";
import { DraftStore, storedDrafts, textHash } from "./persist.js";
import {
  EMPTY_DRAFT,
  anchorDraft,
  charAfter,
  charBefore,
  codePointOffsets,
  draftEdits,
  draftEmpty,
  draftOf,
  draftText,
  editDraft,
  mapDraft,
  placeDraft,
  validDraft,
} from "./suggestdraft.js";
import { ago, h, notice, setChildren } from "./ui.js";

const POLL_MS = 30_000; // only in case a SUGGESTIONS frame was lost: the frames are what keep the list fresh
const SAVE_MS = 250;
const RETRY_MS = 2000;
const UNDO_GROUP_MS = 500; // typing within this of the last edit is undone with it

/**
 * Where a suggestion's runs go in the text they were computed on: `expected` (that
 * text: kept + deleted runs), `deletes` ([{from, to}]) and `inserts` ([{at, text}]),
 * offsets in UTF-16 (the editor's).
 */
export function placeSpans(spans) {
  let expected = "";
  const deletes = [];
  const inserts = [];
  for (const s of spans) {
    if (s.kind === "insert") {
      const last = inserts[inserts.length - 1];
      if (last && last.at === expected.length) last.text += s.text;
      else inserts.push({ at: expected.length, text: s.text });
      continue;
    }
    const from = expected.length;
    expected += s.text;
    if (s.kind === "delete") {
      const last = deletes[deletes.length - 1];
      if (last && last.to === from) last.to = expected.length;
      else deletes.push({ from, to: expected.length });
    }
  }
  return { expected, deletes, inserts };
}

/** A short account of a suggestion: its changes, with `context` characters of kept text around each. */
export function summarize(spans, context = 20) {
  const last = spans.length - 1;
  return spans.map((s, i) => {
    if (s.kind !== "same") return { kind: s.kind, text: s.text };
    const t = s.text;
    if (i === 0 && i === last) return { kind: "same", text: t };
    if (i === 0) return { kind: "same", text: t.length > context ? `…${t.slice(-context)}` : t };
    if (i === last) return { kind: "same", text: t.length > context ? `${t.slice(0, context)}…` : t };
    return { kind: "same", text: t.length > 2 * context ? `${t.slice(0, context)} … ${t.slice(-context)}` : t };
  });
}

/** A new suggestion id (the client names it, so its marks have it from the first keystroke). */
export function newSuggestionId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The ops of suggestion `id` that make `doc`'s text (`text`, the editor's) read as
 * `draft` proposes: typed by its agent `sugg:<id>` on a scratch copy of `doc`, so their
 * parents are `doc`'s version and they say exactly what was struck and inserted where.
 * Returned as the patch (CWP bytes) the server takes as `{patch}`.
 */
export function suggestionPatch(doc, id, text, draft) {
  const scratch = Document.decode(doc.encode(), `sugg:${id}`);
  const before = scratch.version();
  const edits = draftEdits(draft);
  const cp = codePointOffsets(text, edits.flatMap((e) => (e.kind === "delete" ? [e.from, e.to] : [e.at])));
  for (const e of edits) {
    if (e.kind === "delete") scratch.delete(cp.get(e.from), cp.get(e.to) - cp.get(e.from));
    else scratch.insert(cp.get(e.at), e.text);
  }
  return encodePatch(scratch.opsSince(before));
}

function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// -- the marks --------------------------------------------------------------------------

/** Replace the inline marks of others' suggestions: [{id, deletes, inserts}] (placeSpans' output, with the id). */
export const setSuggestionMarks = StateEffect.define();

class InsertWidget extends WidgetType {
  constructor(text, id, own, caret = -1) {
    super();
    this.text = text;
    this.id = id;
    this.own = own;
    this.caret = caret; // the caret inside one's own insertion (UTF-16 offset), or -1
  }
  eq(other) {
    return other.text === this.text && other.id === this.id && other.own === this.own && other.caret === this.caret;
  }
  toDOM() {
    const el = document.createElement("ins");
    el.className = this.own ? "cw-sugg-ins cw-sugg-own" : "cw-sugg-ins";
    el.dataset.suggestion = this.id;
    if (this.caret < 0) el.textContent = this.text;
    else {
      const caret = document.createElement("span");
      caret.className = "cw-sugg-caret";
      caret.setAttribute("aria-hidden", "true");
      el.append(this.text.slice(0, this.caret), caret, this.text.slice(this.caret));
    }
    el.title = this.own ? "Your suggested insertion" : "Suggested insertion";
    return el;
  }
  ignoreEvent() {
    return false;
  }
}

/** Marks of one suggestion: an insertion is drawn just before its position (see suggestdraft.js). */
function markRanges(id, { deletes, inserts }, len, own = false, inner = null) {
  const ranges = [];
  const cls = own ? "cw-sugg-del cw-sugg-own" : "cw-sugg-del";
  for (const d of deletes) {
    if (d.to > d.from && d.to <= len) ranges.push(Decoration.mark({ class: cls, attributes: { "data-suggestion": id } }).range(d.from, d.to));
  }
  for (const i of inserts) {
    const caret = inner && inner.at === i.at ? inner.offset : -1;
    if (i.at <= len) ranges.push(Decoration.widget({ widget: new InsertWidget(i.text, id, own, caret), side: -1 }).range(i.at));
  }
  return ranges;
}

/** The inline marks of others' open suggestions (and one's own not being typed); mapped through edits until recomputed. */
export const suggestionMarks = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    for (const e of tr.effects) {
      if (!e.is(setSuggestionMarks)) continue;
      const len = tr.state.doc.length;
      return Decoration.set(e.value.flatMap((m) => markRanges(m.id, m, len)), true);
    }
    return tr.docChanged ? marks.map(tr.changes) : marks;
  },
  provide: (f) => EditorView.decorations.from(f),
});

// -- one's own draft ----------------------------------------------------------------------

/** Suggesting mode on or off: {on}. */
export const setSuggesting = StateEffect.define();
/** Take up a draft: {id, draft} (a new one: id from newSuggestionId, draft EMPTY_DRAFT); its history starts afresh. */
export const loadDraft = StateEffect.define();
/** An edit of the draft by the user: {draft, caret (before), time}. */
const editedDraft = StateEffect.define();
/** The draft as the server reads it (no history entry). */
const replaceDraft = StateEffect.define();
/** Undo / redo in the draft's history: {redo}. */
const stepDraft = StateEffect.define();
/** The caret inside one's own insertion: {at, offset}, or null (the editor's own caret). */
export const setInner = StateEffect.define();

const NO_DRAFT = Object.freeze({ on: false, id: null, draft: EMPTY_DRAFT, undo: [], redo: [], time: 0, inner: null });

/** `inner` if it still names a place inside one of the draft's insertions at the caret, else null. */
function innerOf(draft, inner, head) {
  if (!inner || inner.at !== head) return null;
  const own = draft.inserts.find((i) => i.at === inner.at);
  return own && inner.offset >= 0 && inner.offset < own.text.length ? inner : null;
}

function mapEntry(entry, changes) {
  return { draft: mapDraft(entry.draft, (p, a) => changes.mapPos(p, a)), caret: changes.mapPos(entry.caret, -1) };
}

/**
 * The draft of this tab: {on (suggesting), id, draft (suggestdraft.js), undo, redo
 * ([{draft, caret}], the states to go back to), time (of the last edit)}.  Moved
 * through every change of the document, like the marks.
 */
export const draftField = StateField.define({
  create: () => NO_DRAFT,
  update(value, tr) {
    let v = value;
    if (tr.docChanged && (v.id !== null || v.undo.length || v.redo.length)) {
      const mapPos = (p, a) => tr.changes.mapPos(p, a);
      const inner = v.inner && { at: mapPos(v.inner.at, -1), offset: v.inner.offset };
      v = { ...v, draft: mapDraft(v.draft, mapPos), undo: v.undo.map((e) => mapEntry(e, tr.changes)), redo: v.redo.map((e) => mapEntry(e, tr.changes)), inner };
    }
    let innerSet = false;
    for (const e of tr.effects) {
      if (e.is(setInner)) {
        v = { ...v, inner: e.value };
        innerSet = true;
      }
      if (e.is(setSuggesting)) v = { ...v, on: e.value.on };
      else if (e.is(loadDraft)) v = { ...v, id: e.value.id, draft: e.value.draft, undo: [], redo: [], time: 0 };
      else if (e.is(replaceDraft)) v = { ...v, draft: e.value };
      else if (e.is(editedDraft)) {
        const grouped = v.undo.length > 0 && e.value.time - v.time < UNDO_GROUP_MS;
        const undo = grouped ? v.undo : [...v.undo, { draft: v.draft, caret: e.value.caret }];
        v = { ...v, draft: e.value.draft, undo, redo: [], time: e.value.time, inner: e.value.inner ?? null };
        innerSet = true;
      } else if (e.is(stepDraft)) {
        const [from, to] = e.value.redo ? ["redo", "undo"] : ["undo", "redo"];
        if (!v[from].length) continue;
        const back = v[from][v[from].length - 1];
        const here = { draft: v.draft, caret: tr.startState.selection.main.head };
        v = { ...v, draft: back.draft, [from]: v[from].slice(0, -1), [to]: [...v[to], here], time: 0, inner: null };
      }
    }
    if (tr.selection && !innerSet && v.inner) v = { ...v, inner: null }; // the caret was moved: out of the insertion
    if (v.inner && v.inner !== innerOf(v.draft, v.inner, tr.state.selection.main.head)) v = { ...v, inner: null };
    return v;
  },
  provide: (f) => [
    EditorView.decorations.compute([f], (state) => {
      const v = state.field(f);
      if (v.id === null || draftEmpty(v.draft)) return Decoration.none;
      return Decoration.set(markRanges(v.id, v.draft, state.doc.length, true, v.on ? v.inner : null), true);
    }),
    // the caret drawn inside one's insertion stands for the editor's, which is hidden meanwhile
    EditorView.editorAttributes.compute([f], (state) => (state.field(f).inner && state.field(f).on ? { class: "cw-inner-caret" } : {})),
  ],
});

/**
 * While suggesting, the user's changes do not reach the document: each transaction
 * that would change it (typing, deleting, pasting, replacing, dropping) becomes an
 * edit of the draft and a caret move instead.  The engine's own transactions (others'
 * edits, a replaced replica) pass untouched.
 */
const suggestingFilter = EditorState.transactionFilter.of((tr) => {
  if (!tr.docChanged || tr.annotation(fromEngine) !== undefined) return tr;
  const v = tr.startState.field(draftField, false);
  if (!v?.on || v.id === null) return tr;
  const start = tr.startState.selection.main;
  const how = !start.empty ? "" : tr.isUserEvent("delete.backward") ? "backward" : tr.isUserEvent("delete.forward") ? "forward" : "";
  let draft = v.draft;
  let caret = null;
  let inner = start.empty && tr.startState.selection.ranges.length === 1 ? v.inner : null;
  tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    const r = editDraft(draft, { from: fromA, to: toA, insert: inserted.toString(), how, inner });
    draft = r.draft;
    caret = r.caret;
    inner = r.inner ?? null;
  });
  return {
    effects: [...tr.effects, editedDraft.of({ draft, caret: start.head, time: Date.now(), inner })],
    selection: caret === null ? undefined : EditorSelection.cursor(caret),
    scrollIntoView: true,
    userEvent: "suggest",
  };
});

/** The draft's undo/redo while suggesting (collab.js asks this before the engine's). */
export function undoDraft(view, redo) {
  const v = view.state.field(draftField, false);
  if (!v?.on) return false;
  const stack = redo ? v.redo : v.undo;
  if (stack.length) {
    const caret = Math.min(stack[stack.length - 1].caret, view.state.doc.length);
    view.dispatch({ effects: stepDraft.of({ redo }), selection: EditorSelection.cursor(caret), scrollIntoView: true, userEvent: redo ? "redo" : "undo" });
  }
  return true; // nothing to undo in the draft: the document's edits stay as they are
}

/**
 * The arrow keys into and through one's own insertion at the caret (it is drawn just
 * before the caret, so Left goes into it from its end, Right from its start).
 */
export function moveInner(view, forward) {
  const v = view.state.field(draftField, false);
  const sel = view.state.selection;
  if (!v?.on || v.id === null || sel.ranges.length !== 1 || !sel.main.empty) return false;
  const head = sel.main.head;
  const own = (at) => v.draft.inserts.find((i) => i.at === at);
  if (v.inner) {
    const t = own(v.inner.at).text;
    if (!forward && v.inner.offset === 0) {
      view.dispatch({ effects: setInner.of(null) });
      return false; // on to the text before it, the editor's own move
    }
    const offset = forward ? v.inner.offset + charAfter(t, v.inner.offset) : v.inner.offset - charBefore(t, v.inner.offset);
    view.dispatch({ effects: setInner.of(offset < t.length ? { at: v.inner.at, offset } : null) });
    return true;
  }
  if (!forward) {
    const here = own(head);
    if (!here) return false;
    view.dispatch({ effects: setInner.of({ at: head, offset: here.text.length - charBefore(here.text, here.text.length) }) });
    return true;
  }
  const next = view.moveByChar(sel.main, true).head;
  if (next === head || !own(next)) return false;
  view.dispatch({ selection: EditorSelection.cursor(next), effects: setInner.of({ at: next, offset: 0 }) });
  return true;
}

const innerKeys = Prec.high(
  keymap.of([
    { key: "ArrowLeft", run: (view) => moveInner(view, false) },
    { key: "ArrowRight", run: (view) => moveInner(view, true) },
  ]),
);

/** A click on one's own insertion puts the caret there, inside it. */
const innerClicks = EditorView.domEventHandlers({
  mousedown(ev, view) {
    const el = ev.target instanceof Element ? ev.target.closest("ins.cw-sugg-own") : null;
    const v = view.state.field(draftField, false);
    if (!el || !v?.on || ev.button !== 0) return false;
    const at = view.posAtDOM(el);
    const t = v.draft.inserts.find((i) => i.at === at)?.text;
    if (t === undefined) return false;
    let offset = t.length;
    const range = document.caretRangeFromPoint?.(ev.clientX, ev.clientY);
    if (range && el.contains(range.startContainer)) {
      // the characters of the insertion before the point clicked
      const before = document.createRange();
      before.setStart(el, 0);
      before.setEnd(range.startContainer, range.startOffset);
      offset = before.toString().length;
    }
    ev.preventDefault();
    view.focus();
    view.dispatch({ selection: EditorSelection.cursor(at), effects: setInner.of(offset < t.length ? { at, offset } : null) });
    return true;
  },
});

/** Suggesting mode's part of the editor: the marks, the draft, the filter, the draft's undo, the caret inside one's insertions. */
export const suggestingMode = [suggestionMarks, draftField, suggestingFilter, undoOverride.of(undoDraft), innerKeys, innerClicks];

// -- the panel --------------------------------------------------------------------------

export class SuggestionsPanel {
  constructor({ docId, conn }) {
    this.docId = docId;
    this.conn = conn;
    this.view = null;
    this.list = [];
    this.version = null;
    this.tag = null; // the list's tag: asked with ?since=, so an unchanged list is not sent again
    this.revision = null; // the list's revision: a SUGGESTIONS frame naming it is old news
    this.you = { user: null, role: null, can_suggest: false, can_decide: false };
    this.pollMs = POLL_MS;
    this.status = ""; // the draft's saving state, shown in the panel
    this._onServer = new Set(); // draft ids the server has (saved at least once)
    this._edits = 0; // edits of the draft so far ...
    this._savedEdits = 0; // ... and how many of them the server has
    this._savesDone = 0;
    this._saving = null;
    this._saveTimer = null;
    this._refreshTimer = null;
    this._fetching = null;
    this._again = false;
    this._writable = new Compartment();
    this._head = this._statusEl = this._listHost = null;
    this.panel = document.getElementById("suggestions");
    this.toggle = document.getElementById("suggest-toggle");
    this.kept = null; // the DraftStore keeping the draft on this device (keepDrafts)
    this.agent = null; // this tab's agent: whose draft a stored record is
    this.onSaveState = () => {}; // the draft's saved state may have changed (the saving indicator)
    this.restored = Promise.resolve(null); // what keepDrafts took up (tests wait for it)
  }

  extensions() {
    return [
      suggestingMode,
      this._writable.of([]),
      EditorView.updateListener.of((u) => {
        if (u.transactions.some((tr) => tr.effects.some((e) => e.is(editedDraft) || e.is(stepDraft)))) this._edited();
        if (u.docChanged && this.list.length) this._soon(700); // the spans moved with the text: the server's reading, shortly
      }),
    ];
  }

  attach(view) {
    this.view = view;
    this.toggle?.addEventListener("click", () => this.setMode(!this.suggesting));
    this.conn?.on("suggestions", (revision) => {
      if (revision !== this.revision) this.refresh();
    });
    this.conn?.on("welcomed", () => this.refresh()); // what changed while this tab was away
    this.refresh();
    this._restartPoll();
  }

  /** The fallback poll's period (ms); the SUGGESTIONS frames are what normally keeps the list fresh. */
  pollEvery(ms) {
    this.pollMs = ms;
    this._restartPoll();
  }

  _restartPoll() {
    clearInterval(this._poll);
    this._poll = this._stopped ? null : setInterval(() => this.refresh(), this.pollMs);
  }

  /** Stop fetching for good (the connection stopped: the document was deleted or access ended). */
  stop() {
    clearInterval(this._poll);
    this._poll = null;
    clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    clearTimeout(this._saveTimer); // no server to save to any more (an unsaved draft stays counted, and kept)
    this._saveTimer = null;
    this._stopped = true;
  }

  get _path() {
    return `/api/docs/${docPath(this.docId)}/suggestions`;
  }

  get _draft() {
    return this.view?.state.field(draftField) ?? NO_DRAFT;
  }

  /** Whether the editor is in suggesting mode. */
  get suggesting() {
    return this._draft.on;
  }

  /** The text one's draft proposes (the document's text with it applied). */
  proposed() {
    return draftText(this.view.state.doc.toString(), this._draft.draft);
  }

  /** Whether everything typed in the draft is on the server. */
  get saved() {
    return this._saving === null && this._saveTimer === null && this._savedEdits === this._edits;
  }

  /** How many drafts the server lacks some of (0 or 1): for the saving indicator. */
  get unsavedDrafts() {
    return this.saved ? 0 : 1;
  }

  // -- kept on this device -----------------------------------------------------------

  /**
   * Keep the draft in `store` (offline.js) for `user` while the server lacks it, and
   * take up a draft a closed tab of this user left (`own`: agents of closed tabs this
   * page sends the edits of, whose drafts are this page's to take too).  `agent` is
   * this tab's.  Resolves with the id taken up, or null.
   */
  keepDrafts({ store, user, agent, own = [] }) {
    this.agent = agent;
    this.kept = new DraftStore(store, this.docId, user, () => this._draftRecord());
    this.restored = this._takeUpStored(store, user, [agent, ...own]).catch((exc) => {
      console.warn("cowrite: the suggestions kept on this device could not be read", exc);
      return null;
    });
    return this.restored;
  }

  /** The page is going away: store an unsaved draft synchronously. */
  keepLast() {
    if (this.kept && !this.saved) this.kept.saveLast();
  }

  /** The stored record of the draft now, or null (nothing the server would lack). */
  _draftRecord() {
    const { id, draft, on } = this._draft;
    if (this.saved || id === null || !this.view || (draftEmpty(draft) && !this._onServer.has(id))) return null;
    const text = this.view.state.doc.toString();
    let anchored = null;
    if (this.conn.doc.text === text) {
      try {
        anchored = anchorDraft(this.conn.doc, text, draft);
      } catch (exc) {
        console.warn("cowrite: the draft's marks could not be tied to the text; keeping its offsets", exc);
      }
    }
    return {
      v: 1,
      docId: this.docId,
      id,
      user: this.kept.user,
      agent: this.agent,
      saved: Date.now(),
      draft: { deletes: draft.deletes.map((d) => ({ ...d })), inserts: draft.inserts.map((i) => ({ ...i })) },
      struck: draft.deletes.map((d) => text.slice(d.from, d.to)),
      anchored,
      textHash: textHash(text),
      onServer: this._onServer.has(id),
      suggesting: on,
      you: { ...this.you },
    };
  }

  /** A stored draft on the text now, or null if it cannot be placed there. */
  _place(entry) {
    const text = this.view.state.doc.toString();
    if (entry.anchored && this.conn.doc.text === text) {
      const placed = placeDraft(this.conn.doc, text, entry.anchored, Position);
      if (placed !== null) return placed;
    }
    // no positions (the page was closed while its text and the engine's differed): the same text only
    if (entry.textHash === textHash(text) && validDraft(entry.draft, text.length)) return draftOf(entry.draft);
    return null;
  }

  async _takeUpStored(store, user, own) {
    const found = await storedDrafts(store, this.docId, user, { own });
    for (const { key, entry } of found) {
      if (this._draft.id !== null || this._stopped) return null; // typing already: the stored ones on a later page
      const draft = this._place(entry);
      if (draft === null) {
        this._unplaced(store, key, entry);
        continue;
      }
      await this.kept.adopt(entry, this.agent);
      if (this._draft.id !== null) return null;
      if (this.you.user === null && entry.you && typeof entry.you === "object") this.you = { ...this.you, ...entry.you }; // until the list says
      if (entry.onServer) this._onServer.add(entry.id);
      const on = entry.suggesting === true && this.you.can_suggest;
      this.view.dispatch({
        effects: [
          loadDraft.of({ id: entry.id, draft }),
          ...(on ? [setSuggesting.of({ on: true }), this._writable.reconfigure(Prec.highest(EditorState.readOnly.of(false)))] : []),
        ],
      });
      this._edited();
      this.render();
      if (!on) this._sendLeft(entry.id);
      return entry.id;
    }
    return null;
  }

  /** A draft taken up out of suggesting mode: saved once it can be, then drawn like the others'. */
  async _sendLeft(id) {
    await this._flush();
    await this.refresh();
    if (!this.suggesting && this._draft.id === id && this.saved) {
      this.view.dispatch({ effects: loadDraft.of({ id: null, draft: EMPTY_DRAFT }) });
      this._marks();
      this.render();
    }
  }

  /** A stored draft that no longer fits the text: its text shown, kept until dismissed. */
  _unplaced(store, key, entry) {
    const inserted = entry.draft.inserts.map((i) => String(i.text)).filter(Boolean);
    const struck = Array.isArray(entry.struck) ? entry.struck.map(String).filter(Boolean) : [];
    const quote = (xs) => xs.map((t) => `“${t}”`).join(", ");
    const what = [inserted.length ? `inserting ${quote(inserted)}` : "", struck.length ? `deleting ${quote(struck)}` : ""].filter(Boolean).join(" and ");
    notice(
      `A suggestion you typed on this device no longer fits the document, so it was not sent${what ? `: you proposed ${what}` : ""}.`,
      "info",
      h(
        "p",
        {},
        h(
          "button",
          {
            type: "button",
            id: "dismiss-kept-suggestion",
            onclick: () => {
              store.delete(key);
              notice(null);
            },
          },
          "Dismiss",
        ),
      ),
    );
  }

  _soon(ms) {
    if (this._refreshTimer !== null) return;
    this._refreshTimer = setTimeout(() => {
      this._refreshTimer = null;
      this.refresh();
    }, ms);
  }

  // -- the mode ------------------------------------------------------------------------

  /**
   * Suggesting mode on or off.  On: a new draft, or `mine` (one's own open suggestion,
   * from the list) taken up again.  Off: what was typed is saved, and the suggestion
   * stays open for the editors to decide.
   */
  async setMode(on, mine = null) {
    const view = this.view;
    if (!view || (on && !this.you.can_suggest)) return;
    if (!on) {
      if (!this.suggesting) return;
      view.dispatch({ effects: [setSuggesting.of({ on: false }), this._writable.reconfigure([])] });
      this.render();
      // The draft stays drawn (and is saved, offline: once back) until the server has all of it ...
      const id = this._draft.id;
      await this._flush();
      await this.refresh(); // ... and the list shows it like the others'
      if (!this.suggesting && this._draft.id === id && this.saved) {
        view.dispatch({ effects: loadDraft.of({ id: null, draft: EMPTY_DRAFT }) });
        this._marks();
        this.render();
      }
      return;
    }
    if (this.suggesting) return;
    if (!mine && this._draft.id !== null) {
      // left a moment ago and not all saved yet: that draft goes on
      view.dispatch({ effects: [setSuggesting.of({ on: true }), this._writable.reconfigure(Prec.highest(EditorState.readOnly.of(false)))] });
      this.render();
      view.focus();
      return;
    }
    let id = newSuggestionId();
    let draft = EMPTY_DRAFT;
    if (mine) {
      await this.refresh(); // the list as of now: the text may have moved since it was drawn
      const found = this.list.find((x) => x.id === mine.id);
      const placed = found?.spans ? placeSpans(found.spans) : null;
      if (!placed || placed.expected !== view.state.doc.toString()) {
        notice(found ? "That suggestion cannot be edited right now: try again in a moment." : "That suggestion was accepted or rejected meanwhile.", "info");
        return;
      }
      if (this.suggesting) return; // turned on meanwhile
      if (this._draft.id !== null && this._draft.id !== found.id) await this._flush(10_000); // the one left a moment ago
      id = found.id;
      draft = draftOf(placed);
      this._onServer.add(id);
    }
    const caret = draft.inserts.length ? draft.inserts[draft.inserts.length - 1].at : draft.deletes.length ? draft.deletes[draft.deletes.length - 1].to : null;
    view.dispatch({
      // highest: the facet takes its first value, and the sync extension gives one too (false for a commenter)
      effects: [setSuggesting.of({ on: true }), loadDraft.of({ id, draft }), this._writable.reconfigure(Prec.highest(EditorState.readOnly.of(false)))],
      ...(caret === null ? {} : { selection: EditorSelection.cursor(caret), scrollIntoView: true }),
    });
    this.status = draftEmpty(draft) ? "Suggesting: what you type is shown to others as a suggestion." : "Saved";
    this._marks();
    this.render();
    view.focus();
  }

  // -- saving the draft ----------------------------------------------------------------

  _edited() {
    this._edits++;
    this._setStatus("Saving…");
    clearTimeout(this._saveTimer);
    this._saveTimer = setTimeout(() => this.save(), SAVE_MS);
    this.kept?.schedule();
    this.onSaveState();
  }

  /** Whether a save now would be made at a version the server has, on the editor's text. */
  _ready() {
    const conn = this.conn;
    return conn.state === "connected" && !conn.suspect && (conn.session?.unacked.size ?? 0) === 0 && conn.doc.text === this.view.state.doc.toString();
  }

  /** Wait until the draft is saved (offline: until back, or `ms` at most). */
  async _flush(ms = Infinity) {
    const until = Date.now() + ms;
    while (!this.saved && !this._stopped && Date.now() < until) {
      await this.save();
      if (!this.saved) await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Save the draft (one save at a time; edited meanwhile: saved again after). */
  async save() {
    clearTimeout(this._saveTimer);
    this._saveTimer = null;
    if (this._saving) return this._saving.then(() => this.save());
    const { id, draft } = this._draft;
    if (id === null || this._savedEdits === this._edits || this._stopped) return;
    if (draftEmpty(draft) && !this._onServer.has(id)) {
      // typed and taken back before the server had any of it: nothing to save, nor to keep
      this._savedEdits = this._edits;
      this._setStatus("No change suggested");
      this.kept?.clear(id);
      this.onSaveState();
      return;
    }
    if (!this._ready()) {
      if (this.kept && this.conn.state !== "connected" && this.conn.state !== "syncing") this._setStatus("Offline: kept on this device, sent when the server is back");
      this._saveTimer = setTimeout(() => this.save(), 150); // an edit of ours on its way, or offline: after it
      return;
    }
    const edits = this._edits;
    // the ops, typed here on this tab's copy (all of it on the server: _ready)
    const body = draftEmpty(draft) ? null : { patch: base64(suggestionPatch(this.conn.doc, id, this.view.state.doc.toString(), draft)) };
    const path = `${this._path}/${encodeURIComponent(id)}`;
    this._saving = (async () => {
      try {
        if (draftEmpty(draft)) {
          if (this._onServer.has(id)) await api(withShare(path), { method: "DELETE" });
          this._onServer.delete(id);
          this._setStatus("No change suggested");
        } else if (this._onServer.has(id)) {
          await api(withShare(path), { method: "PUT", body });
          this._setStatus("Saved");
        } else {
          await api(withShare(this._path), { method: "POST", body: { id, ...body } });
          this._onServer.add(id);
          this._setStatus("Saved");
        }
        this._savedEdits = edits;
      } catch (exc) {
        if (exc instanceof ApiError && exc.status === 404 && this._onServer.has(id)) {
          this._gone(id); // accepted or rejected meanwhile
        } else if (exc instanceof ApiError && exc.status === 409 && exc.code === "exists") {
          this.view.dispatch({ effects: loadDraft.of({ id: newSuggestionId(), draft }) }); // an id taken already: another
          this.kept?.clear(id);
          this.kept?.schedule();
        } else if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) {
          this._savedEdits = edits; // refused (not allowed, too many): retrying would not help
          this._setStatus(`Not saved: ${exc.message}`);
          notice(`Your suggestion was not saved: ${exc.message}`, "error");
        } else {
          this._setStatus(`Not saved yet: ${exc?.message ?? exc}`);
          this._saveTimer = setTimeout(() => this.save(), RETRY_MS);
        }
      } finally {
        this._savesDone++;
      }
    })();
    try {
      await this._saving;
    } finally {
      this._saving = null;
    }
    if (this._savedEdits !== this._edits && this._saveTimer === null) return this.save();
    if (this.saved) this.kept?.clear(id); // the server has all of it: nothing to keep here
    this.onSaveState();
  }

  /** The draft's suggestion was accepted or rejected (by someone else unless `quiet`): the draft starts afresh. */
  _gone(id, { quiet = false } = {}) {
    this._onServer.delete(id);
    this.kept?.clear(id);
    if (this._draft.id !== id) return;
    this.view.dispatch({ effects: loadDraft.of({ id: this._draft.on ? newSuggestionId() : null, draft: EMPTY_DRAFT }) });
    this._savedEdits = this._edits;
    this._setStatus("");
    this.onSaveState();
    if (!quiet) notice("Your suggestion was accepted or rejected meanwhile; what you type now is a new suggestion.", "info");
  }

  _setStatus(text) {
    this.status = text;
    if (this._statusEl) this._statusEl.textContent = text;
  }

  // -- the list --------------------------------------------------------------------------

  /** Fetch the list again (one request at a time; asked again meanwhile: once more after). */
  async refresh() {
    if (this._stopped) return;
    if (this._fetching) {
      this._again = true;
      return this._fetching;
    }
    this._fetching = (async () => {
      do {
        this._again = false;
        const quiet = { edits: this._edits, saves: this._savesDone };
        try {
          const since = this.tag ? `?since=${encodeURIComponent(this.tag)}` : "";
          const data = await api(withShare(`${this._path}${since}`));
          if (data.unchanged) {
            this._marks(); // the editor may have caught up with the server's text
            continue;
          }
          this.tag = data.tag;
          this.revision = data.revision ?? null;
          this.list = data.suggestions;
          this.version = data.version;
          this.you = data.you ?? this.you;
        } catch (exc) {
          if (exc instanceof ApiError && (exc.status === 404 || exc.status === 401)) this.stop(); // gone for good
          else if (!(exc instanceof ApiError && exc.status === 403)) console.warn("cowrite: the suggestions could not be loaded", exc);
          break;
        }
        // Nothing typed or saved since the request went out: the list is the news on one's own draft too.
        if (quiet.edits === this._edits && quiet.saves === this._savesDone && this.saved) this._settleDraft();
        this.render();
      } while (this._again);
    })();
    try {
      await this._fetching;
    } finally {
      this._fetching = null;
    }
  }

  /** One's own draft against the server's list: gone (accepted or rejected), or read differently. */
  _settleDraft() {
    const { id, draft } = this._draft;
    if (id === null || !this._onServer.has(id)) return;
    const listed = this.list.find((s) => s.id === id);
    if (!listed) {
      this._gone(id);
      return;
    }
    if (!listed.spans) return;
    const text = this.view.state.doc.toString();
    const placed = placeSpans(listed.spans);
    if (placed.expected !== text) return; // a later list, once the texts agree
    const server = draftOf(placed);
    if (draftText(text, server) !== draftText(text, draft)) this.view.dispatch({ effects: replaceDraft.of(server) });
  }

  /** Mark the others' suggestions inline if the server's text is the editor's (else: later). */
  _marks() {
    const view = this.view;
    if (!view) return;
    const text = view.state.doc.toString();
    const own = this._draft.id;
    const marks = [];
    for (const s of this.list) {
      if (!s.spans || s.id === own) continue; // one's own draft is drawn from the draft
      const placed = placeSpans(s.spans);
      if (placed.expected !== text) {
        this._soon(700); // the server and this tab differ for now: keep the mapped marks
        return;
      }
      marks.push({ id: s.id, deletes: placed.deletes, inserts: placed.inserts });
    }
    view.dispatch({ effects: setSuggestionMarks.of(marks) });
  }

  render() {
    this._marks();
    const suggesting = this.suggesting;
    if (this.toggle) {
      this.toggle.hidden = !this.you.can_suggest;
      this.toggle.setAttribute("aria-pressed", String(suggesting));
      this.toggle.setAttribute("aria-label", "Suggesting mode");
      this.toggle.textContent = suggesting ? "Suggesting" : this.you.can_decide ? "Editing" : "Viewing";
      this.toggle.title = suggesting
        ? "Suggesting: what you type is a suggestion an editor accepts or rejects. Press to stop suggesting."
        : "Press to suggest changes instead of editing the text";
    }
    document.body.classList.toggle("suggesting", suggesting);
    if (!this.panel) return;
    if (!this._listHost) {
      this._head = h("h3", {});
      this._statusEl = h("p", { id: "suggestion-status", class: "muted", role: "status" });
      this._listHost = h("div", { class: "suggestion-list" });
      setChildren(this.panel, this._head, this._statusEl, this._listHost);
    }
    const open = this.list;
    this.panel.hidden = !suggesting && open.length === 0;
    document.body.classList.toggle("with-suggestions", !this.panel.hidden);
    this._head.textContent = `Suggestions (${open.length})`;
    this._statusEl.hidden = !suggesting;
    this._statusEl.textContent = this.status;
    setChildren(this._listHost, open.map((s) => this._card(s)));
  }

  _card(s) {
    const you = this.you;
    const mine = s.author === you.user;
    const typing = this.suggesting && s.id === this._draft.id;
    const body = s.spans
      ? h("p", { class: "suggestion-diff" }, summarize(s.spans).map((x) => (x.kind === "insert" ? h("ins", {}, x.text) : x.kind === "delete" ? h("del", {}, x.text) : x.text)))
      : h("p", { class: "muted" }, `No longer applies: ${s.problem ?? "unknown"}`);
    const tools = h(
      "div",
      { class: "suggestion-actions" },
      you.can_decide && s.spans ? h("button", { type: "button", class: "suggestion-accept", onclick: () => this.decide(s.id, "accept") }, "Accept") : null,
      you.can_decide ? h("button", { type: "button", class: "suggestion-reject", onclick: () => this.decide(s.id, "reject") }, "Reject") : null,
      mine && s.spans && you.can_suggest && !typing ? h("button", { type: "button", class: "suggestion-edit", onclick: () => this.setMode(true, s) }, "Edit") : null,
      mine && !you.can_decide ? h("button", { type: "button", class: "suggestion-withdraw", onclick: () => this.decide(s.id, "reject") }, "Withdraw") : null,
    );
    return h(
      "article",
      { class: typing ? "suggestion typing" : "suggestion", dataset: { suggestion: s.id } },
      h("div", { class: "suggestion-head" }, h("strong", {}, s.name ?? s.author), " ", h("span", { class: "muted" }, typing ? "typing now" : ago(s.updated_at))),
      body,
      tools,
    );
  }

  /** Accept or reject (withdraw: one's own) a suggestion. */
  async decide(id, how, { quiet = false } = {}) {
    const path = `${this._path}/${encodeURIComponent(id)}`;
    if (id === this._draft.id) await this._flush(10_000); // decide on what was typed, all of it
    try {
      if (how === "accept") await api(withShare(`${path}/accept`), { method: "POST" });
      else await api(withShare(path), { method: "DELETE" });
      if (id === this._draft.id) this._gone(id, { quiet: true });
      if (!quiet) notice(how === "accept" ? "The suggestion is accepted: it is part of the text now." : "The suggestion is gone.", "info");
    } catch (exc) {
      notice(`The suggestion was not ${how === "accept" ? "accepted" : "removed"}: ${exc instanceof ApiError ? exc.message : exc?.message ?? exc}`, "error");
    }
    await this.refresh();
  }
}
