// Saving state you can trust: "Saving…", "All changes saved" -- only once the server
// has acknowledged every edit made on this page -- and, without a connection,
// "Offline — N edits kept on this device"; a warning before leaving the page while
// edits are not acknowledged.
//
// What counts: each change the user made (a keystroke, a paste, a replace-all, an
// undo) is one edit, tagged with the seqs of the ops it made ([start, end) of this
// tab's agent).  An edit is saved once the server holds all of them: none is in
// `sentRanges` (ops sent, not yet confirmed by an ACK or the server's WELCOME
// summary: session.js trims it) and all were sent (below the seq flushed last).  The
// connection's "connected" state (welcomed, nothing in flight, nothing unsent) is
// everything saved at once.  A replaced replica (a recovery) types the unconfirmed
// edits again under new seqs: those edits then count until the next "connected".
//
// One's suggestion being typed (suggest.js) is not in the document, so it has no
// seqs: it counts as unsaved while the server does not have all of it (the page says
// so through `drafts()`), kept on this device meanwhile like the edits.

/** The edits of this page not known to be on the server. */
export class SaveTracker {
  constructor() {
    this.edits = []; // {start, end, exact}: own seq range of each edit, oldest first
    this.flushedEnd = 0; // our ops below this seq have been sent
  }

  get pending() {
    return this.edits.length;
  }

  /** The user made an edit whose ops are this agent's seqs [start, end). */
  edit(start, end) {
    if (end > start) this.edits.push({ start, end, exact: true });
  }

  /** Ops below `seqEnd` were sent. */
  sent(seqEnd) {
    if (seqEnd > this.flushedEnd) this.flushedEnd = seqEnd;
  }

  /**
   * The server confirmed ops: `unconfirmed` is the connection's sentRanges (the
   * [first, end) ranges sent and not confirmed).  Drops the edits now saved.
   */
  confirmed(unconfirmed) {
    this.edits = this.edits.filter(
      (e) => !e.exact || e.end > this.flushedEnd || unconfirmed.some(([first, end]) => first < e.end && e.start < end),
    );
  }

  /** The server has every op of this page ("connected"). */
  allSaved() {
    this.edits = [];
  }

  /** The replica was replaced: seqs changed, so edits are saved only when all are. */
  replaced(nextSeq) {
    for (const e of this.edits) e.exact = false;
    this.flushedEnd = Math.min(this.flushedEnd, nextSeq);
  }
}

/** "3 edits", "1 suggestion", "2 edits and 1 suggestion" (kept on this device). */
function keptText(edits, drafts) {
  const parts = [];
  if (edits || !drafts) parts.push(`${edits} ${edits === 1 ? "edit" : "edits"}`);
  if (drafts) parts.push(`${drafts} ${drafts === 1 ? "suggestion" : "suggestions"}`);
  return `${parts.join(" and ")} kept on this device`;
}

/**
 * What the indicator says: {state, text} ("saved", "saving", "offline", "unsaved",
 * "readonly").  `recovering`: edits closed tabs left on this device, not yet sent
 * (they count among the edits kept here); `drafts`: suggestions being typed that the
 * server does not have all of yet (a commenter may suggest: not "View only" then).
 */
export function savingLabel({ connState, pending, canWrite, recovering = 0, drafts = 0 }) {
  const n = pending + recovering;
  const kept = keptText(n, drafts);
  if (canWrite === false && pending === 0 && drafts === 0) return { state: "readonly", text: "View only" };
  if (connState === "connected" && n === 0 && drafts === 0) return { state: "saved", text: "All changes saved" };
  if (connState === "connected" || connState === "syncing") return { state: "saving", text: "Saving…" };
  if (connState === "offline") {
    return n || drafts ? { state: "offline", text: `Offline — ${kept}` } : { state: "offline", text: "Offline — no unsaved edits" };
  }
  // held (the server cannot take our edits), error (stopped), closed
  return n || drafts ? { state: "unsaved", text: `Not saved — ${kept}` } : { state: "unsaved", text: "Not connected" };
}

/**
 * Keep `el` showing the saving state of `conn` (a Connection), count the user's edits
 * from `view` updates (`extension()`), and warn before the page is left with edits
 * not on the server.  `ownSeq()` is this tab's next own seq; `recovering()` how many
 * edits of closed tabs are still being sent (0: none).
 */
export class SavingIndicator {
  constructor({ el, conn, ownSeq, recovering = () => 0, win = globalThis.window }) {
    this.el = el;
    this.conn = conn;
    this.ownSeq = ownSeq;
    this.recovering = recovering;
    this.drafts = () => 0; // suggestions being typed not all on the server (countDrafts)
    this.tracker = new SaveTracker();
    this.canWrite = null;
    this._last = ownSeq();
    const confirm = () => {
      this.tracker.confirmed(this.conn.sentRanges);
      this.show();
    };
    this.stops = [
      conn.on("state", (state) => {
        if (state === "connected") this.tracker.allSaved();
        this.show();
      }),
      conn.on("sent", () => {
        // sentRanges' last end is the seq flushed last (session.js pushes it per flush)
        const ranges = this.conn.sentRanges;
        if (ranges.length) this.tracker.sent(ranges[ranges.length - 1][1]);
        this.show();
      }),
      conn.on("acked", confirm),
      conn.on("welcomed", ({ canWrite }) => {
        this.canWrite = canWrite;
        confirm();
      }),
      conn.on("recovered", () => this._replaced()),
      conn.on("resynced", () => this._replaced()),
      conn.on("error", () => this.show()),
    ];
    this._beforeUnload = (ev) => {
      if (!this.unsaved) return;
      ev.preventDefault();
      ev.returnValue = ""; // older browsers need it set to show the dialog
    };
    win?.addEventListener("beforeunload", this._beforeUnload);
    this._win = win;
    this.show();
  }

  /** Whether leaving now would leave edits (or a suggestion) that are not on the server (kept here only). */
  get unsaved() {
    return this.tracker.pending > 0 || this.recovering() > 0 || this.drafts() > 0;
  }

  /** Count `drafts()` too: how many suggestions being typed the server lacks (call show() when it changes). */
  countDrafts(drafts) {
    this.drafts = drafts;
    this.show();
  }

  get pending() {
    return this.tracker.pending;
  }

  /** Note the user's edits of a view update (call from an update listener). */
  noteUpdate(update, isLocal) {
    const now = this.ownSeq();
    if (update.docChanged && update.transactions.some(isLocal) && now > this._last) {
      this.tracker.edit(this._last, now);
    }
    this._last = now;
    if (update.docChanged) this.show();
  }

  _replaced() {
    this._last = this.ownSeq();
    this.tracker.replaced(this._last);
    this.show();
  }

  label() {
    return savingLabel({
      connState: this.conn.state,
      pending: this.tracker.pending,
      canWrite: this.canWrite,
      recovering: this.recovering(),
      drafts: this.drafts(),
    });
  }

  show() {
    if (!this.el) return;
    const { state, text } = this.label();
    this.el.dataset.saving = state;
    this.el.dataset.pending = String(this.tracker.pending);
    if (this.el.textContent !== text) this.el.textContent = text;
  }

  destroy() {
    for (const stop of this.stops) stop();
    this._win?.removeEventListener("beforeunload", this._beforeUnload);
  }
}
