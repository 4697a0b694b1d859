// Comments on a text range, on the editor page: select text -> "Comment", the anchored
// ranges highlighted in the editor, and a side panel with the threads (replies,
// resolve/reopen, edit and delete of one's own), the resolved ones, and the detached
// ones (their text was deleted: shown with the quote of what they were about).
//
// Anchors are the engine's (engine/anchor.js): two stable positions, made from this
// tab's replica when the button is pressed, so a comment stays on its words while
// anyone types.  Ranges are resolved here against the replica (always current), not
// taken from the server's list.  The list itself comes over HTTP
// (GET /api/docs/{id}/comments); the socket's COMMENTS frame (connection "comments"
// event) says when it changed, and a reconnect fetches it again (changes missed while
// offline).  Who may do what is the server's to decide; the panel only hides the
// buttons that would be refused (`you` in the list: user, role, can_comment).
import { StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView } from "@codemirror/view";
import { Anchor } from "../engine/anchor.js";
import { UnknownVersionError } from "../engine/index.js";
import { ApiError, api, docPath, withShare } from "./api.js";
import { astralField } from "./cmbridge.js";
import { ago, h, notice, safeColour, setChildren } from "./ui.js";

/** Replace the comment highlights: [{from, to, id, active}] in UTF-16 offsets. */
export const setCommentMarks = StateEffect.define();

const markOf = (active, id) =>
  Decoration.mark({ class: active ? "cw-comment cw-comment-active" : "cw-comment", attributes: { "data-thread": id } });

/** The highlights of the anchored ranges; mapped through edits until recomputed. */
export const commentMarks = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    for (const e of tr.effects) {
      if (e.is(setCommentMarks)) {
        const ranges = e.value
          .filter((m) => m.to > m.from && m.to <= tr.state.doc.length)
          .sort((a, b) => a.from - b.from || a.to - b.to)
          .map((m) => markOf(m.active, m.id).range(m.from, m.to));
        return Decoration.set(ranges, true);
      }
    }
    return tr.docChanged ? marks.map(tr.changes) : marks;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/**
 * The threads of a list as the panel shows them: `[{thread, replies, range}]` split
 * into open, resolved and detached (deleted threads whose replies are all deleted
 * too are left out).  `resolve(anchorJson)` gives `[from, to]` in code points, or null.
 */
export function groupThreads(comments, resolve) {
  const byThread = new Map();
  for (const c of comments) {
    if (c.thread === c.id) byThread.set(c.id, { thread: c, replies: [], range: null });
  }
  for (const c of comments) {
    if (c.thread !== c.id) byThread.get(c.thread)?.replies.push(c);
  }
  const open = [];
  const resolved = [];
  const detached = [];
  for (const t of byThread.values()) {
    if (t.thread.deleted && t.replies.every((r) => r.deleted)) continue;
    t.range = resolve(t.thread.anchor, t.thread);
    if (t.range === null) detached.push(t);
    else if (t.thread.resolved) resolved.push(t);
    else open.push(t);
  }
  const at = (t) => t.range?.[0] ?? Infinity;
  open.sort((a, b) => at(a) - at(b) || a.thread.created_at - b.thread.created_at);
  resolved.sort((a, b) => at(a) - at(b));
  return { open, resolved, detached };
}

export class CommentsPanel {
  /** `conn`: the page's Connection. */
  constructor({ docId, conn }) {
    this.docId = docId;
    this.conn = conn;
    this.view = null;
    this.comments = [];
    this.revision = -1;
    this.you = { user: null, role: null, can_comment: false };
    this.active = null; // the thread id shown as selected
    this.editing = null; // the comment id being edited
    this._fetching = null;
    this._again = false;
    this._marksTimer = null;
    this._drafts = new Map(); // what is being typed in a reply or edit box, by its key
    this._resolvedOpen = false; // the Resolved section is unfolded
    this._shape = ""; // which threads are where, as last rendered
    this.panel = document.getElementById("comments");
    this.button = document.getElementById("comment-add");
    this.toggle = document.getElementById("comments-toggle");
  }

  /** The editor extensions (the highlights; a click on one shows its thread). */
  extensions() {
    return [
      commentMarks,
      EditorView.updateListener.of((u) => {
        if (u.docChanged) this._scheduleMarks();
        if (u.selectionSet || u.docChanged) this._updateButton();
      }),
      EditorView.domEventHandlers({
        click: (ev) => {
          const el = ev.target instanceof Element ? ev.target.closest("[data-thread]") : null;
          if (el) this.focus(el.getAttribute("data-thread"), { scroll: false });
          return false;
        },
      }),
    ];
  }

  attach(view) {
    this.view = view;
    this.button?.addEventListener("mousedown", (ev) => ev.preventDefault()); // keep the selection
    this.button?.addEventListener("click", () => this.compose());
    this.toggle?.addEventListener("click", () => this.show(document.body.classList.contains("with-comments") ? false : true));
    this.show(true);
    this.conn.on("comments", (revision) => {
      if (revision !== this.revision) this.refresh();
    });
    this.conn.on("welcomed", () => this.refresh()); // what changed while this tab was away
    this.conn.on("remote", () => this._scheduleMarks());
    this.conn.on("resynced", () => this._scheduleMarks());
    this.refresh();
    this._updateButton();
  }

  show(on) {
    document.body.classList.toggle("with-comments", on);
    if (this.panel) this.panel.hidden = !on;
    this.toggle?.setAttribute("aria-pressed", String(on));
  }

  // -- the list --------------------------------------------------------------------

  get _path() {
    return `/api/docs/${docPath(this.docId)}/comments`;
  }

  /** Fetch the list again (one request at a time; a change meanwhile fetches once more). */
  async refresh() {
    if (this._fetching) {
      this._again = true;
      return this._fetching;
    }
    this._fetching = (async () => {
      do {
        this._again = false;
        try {
          const data = await api(withShare(this._path));
          this.comments = data.comments;
          this.revision = data.revision;
          this.you = data.you ?? this.you;
        } catch (exc) {
          console.warn("cowrite: the comments could not be loaded", exc);
          break;
        }
        this.render();
      } while (this._again);
    })();
    try {
      await this._fetching;
    } finally {
      this._fetching = null;
    }
  }

  /** `[from, to]` (code points) of an anchor in this tab's replica, or null (detached). */
  _resolve(anchorJson, thread) {
    try {
      return Anchor.fromJSON(anchorJson).resolve(this.conn.doc);
    } catch (exc) {
      // the anchored characters have not reached this tab yet: the server's word for now
      if (exc instanceof UnknownVersionError) return thread.range ?? null;
      return null;
    }
  }

  _scheduleMarks() {
    if (this._marksTimer !== null) return;
    this._marksTimer = setTimeout(() => {
      this._marksTimer = null;
      const groups = groupThreads(this.comments, (a, t) => this._resolve(a, t));
      this._marks(groups);
      if (this._shapeOf(groups) !== this._shape) this.render(); // a thread became detached (or came back)
    }, 120);
  }

  /** Highlight the open threads' ranges in the editor. */
  _marks(groups = null) {
    const view = this.view;
    if (!view) return;
    const g = groups ?? groupThreads(this.comments, (a, t) => this._resolve(a, t));
    const astral = view.state.field(astralField);
    const len = view.state.doc.length;
    const marks = g.open.map((t) => ({
      from: Math.min(len, astral.toU16(t.range[0])),
      to: Math.min(len, astral.toU16(t.range[1])),
      id: t.thread.id,
      active: t.thread.id === this.active,
    }));
    view.dispatch({ effects: setCommentMarks.of(marks) });
  }

  // -- the panel -------------------------------------------------------------------

  _shapeOf(groups) {
    return ["open", "resolved", "detached"].map((k) => groups[k].map((t) => t.thread.id).join(",")).join("|");
  }

  /** A text box whose content survives the panel being drawn again (`key`: what it is for). */
  _box(key, attrs, initial = "") {
    const area = h("textarea", { ...attrs, dataset: { draft: key } });
    area.value = this._drafts.get(key) ?? initial;
    area.addEventListener("input", () => this._drafts.set(key, area.value));
    return area;
  }

  render() {
    const groups = groupThreads(this.comments, (a, t) => this._resolve(a, t));
    this._shape = this._shapeOf(groups);
    this._marks(groups);
    this._updateButton();
    const focused = document.activeElement instanceof HTMLTextAreaElement ? document.activeElement : null;
    const refocus = focused && this.panel?.contains(focused) ? { key: focused.dataset.draft, start: focused.selectionStart, end: focused.selectionEnd } : null;
    if (this.toggle) this.toggle.textContent = groups.open.length ? `Comments (${groups.open.length})` : "Comments";
    const list = this.panel?.querySelector("#comment-threads");
    if (!list) return;
    const section = (title, threads, cls) =>
      threads.length
        ? h("section", { class: `comment-group ${cls}`, "aria-label": title }, h("h3", {}, `${title} (${threads.length})`), threads.map((t) => this._thread(t, cls)))
        : null;
    const composer = this.panel.querySelector("#comment-compose");
    setChildren(
      list,
      composer && !composer.hidden ? null : groups.open.length + groups.resolved.length + groups.detached.length === 0 ? h("p", { class: "muted" }, "No comments yet. Select some text and press Comment.") : null,
      section("Open", groups.open, "open"),
      section("Detached — their text was deleted", groups.detached, "detached"),
      groups.resolved.length ? this._resolvedSection(groups.resolved) : null,
    );
    if (refocus?.key) {
      const again = list.querySelector(`textarea[data-draft="${CSS.escape(refocus.key)}"]`);
      if (again) {
        again.focus();
        again.setSelectionRange(refocus.start, refocus.end);
      }
    }
  }

  _resolvedSection(threads) {
    const details = h("details", { class: "comment-group resolved", open: this._resolvedOpen }, h("summary", {}, `Resolved (${threads.length})`), threads.map((t) => this._thread(t, "resolved")));
    details.addEventListener("toggle", () => (this._resolvedOpen = details.open));
    return details;
  }

  _thread(t, kind) {
    const you = this.you;
    const c = t.thread;
    const can = you.can_comment;
    const quote = h("blockquote", { class: "comment-quote", title: kind === "detached" ? "The commented text was deleted" : "Show in the text" }, c.quote || "…");
    if (kind !== "detached") quote.addEventListener("click", () => this.focus(c.id, { select: true }));
    const actions = h(
      "div",
      { class: "comment-actions" },
      can && !c.deleted ? h("button", { type: "button", class: "comment-resolve", onclick: () => this._patch(c.id, { resolved: !c.resolved }) }, c.resolved ? "Reopen" : "Resolve") : null,
    );
    const replyBox = can && !c.deleted ? this._replyBox(c.id) : null;
    return h(
      "article",
      { class: `comment-thread${c.id === this.active ? " active" : ""}`, dataset: { thread: c.id, kind } },
      quote,
      this._comment(c),
      t.replies.map((r) => this._comment(r)),
      actions,
      replyBox,
    );
  }

  _comment(c) {
    const you = this.you;
    const mine = c.author === you.user;
    const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = safeColour(c.colour, "#888");
    const when = `${ago(c.created_at)}${c.edited_at && !c.deleted ? " · edited" : ""}`;
    const head = h("div", { class: "comment-head" }, swatch, h("strong", {}, c.name ?? c.author), " ", h("span", { class: "muted" }, when));
    if (c.deleted) return h("div", { class: "comment deleted", dataset: { comment: c.id } }, head, h("p", { class: "muted" }, "(deleted)"));
    let body;
    if (this.editing === c.id) {
      const area = this._box(`edit:${c.id}`, { class: "comment-edit-body", rows: "3", maxlength: "10000" }, c.body);
      body = h(
        "form",
        {
          class: "comment-edit",
          onsubmit: (ev) => {
            ev.preventDefault();
            this.editing = null;
            this._drafts.delete(`edit:${c.id}`);
            this._patch(c.id, { body: area.value });
          },
        },
        area,
        h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", onclick: () => (this._drafts.delete(`edit:${c.id}`), (this.editing = null), this.render()) }, "Cancel"),
      );
    } else {
      body = h("p", { class: "comment-body" }, c.body);
    }
    const canDelete = you.can_comment && (mine || you.role === "owner");
    const tools = h(
      "span",
      { class: "comment-tools" },
      mine && you.can_comment ? h("button", { type: "button", class: "comment-edit-button link", onclick: () => ((this.editing = c.id), this.render()) }, "Edit") : null,
      canDelete ? h("button", { type: "button", class: "comment-delete link", onclick: () => this._delete(c.id) }, "Delete") : null,
    );
    return h("div", { class: "comment", dataset: { comment: c.id } }, head, body, tools);
  }

  _replyBox(threadId) {
    const key = `reply:${threadId}`;
    const area = this._box(key, { class: "comment-reply-body", rows: "2", maxlength: "10000", placeholder: "Reply…", "aria-label": "Reply" });
    return h(
      "form",
      {
        class: "comment-reply",
        onsubmit: async (ev) => {
          ev.preventDefault();
          const body = area.value;
          if (!body.trim()) return;
          if (await this._post({ body, thread: threadId })) {
            this._drafts.delete(key);
            area.value = "";
            this.render();
          }
        },
      },
      area,
      h("button", { type: "submit" }, "Reply"),
    );
  }

  /** Show a thread as selected; `select`: also select its text in the editor. */
  focus(id, { select = false, scroll = true } = {}) {
    this.active = id;
    this.render();
    const el = this.panel?.querySelector(`[data-thread="${CSS.escape(id)}"]`);
    if (scroll) el?.scrollIntoView({ block: "nearest" });
    if (select && this.view) {
      const t = groupThreads(this.comments, (a, th) => this._resolve(a, th)).open.find((x) => x.thread.id === id);
      if (t) {
        const astral = this.view.state.field(astralField);
        const from = astral.toU16(t.range[0]);
        this.view.dispatch({ selection: { anchor: from, head: astral.toU16(t.range[1]) }, scrollIntoView: true });
      }
    }
  }

  // -- making comments ---------------------------------------------------------------

  _selection() {
    const view = this.view;
    if (!view) return null;
    const sel = view.state.selection.main;
    if (sel.empty) return null;
    const astral = view.state.field(astralField);
    return { from: astral.toCp(sel.from), to: astral.toCp(sel.to), text: view.state.sliceDoc(sel.from, sel.to) };
  }

  _updateButton() {
    if (!this.button) return;
    this.button.hidden = !this.you.can_comment;
    this.button.disabled = this._selection() === null;
  }

  /** The composer for a new thread on the selection (its anchor taken now). */
  compose() {
    const sel = this._selection();
    if (!sel || !this.you.can_comment) return;
    let anchor;
    try {
      anchor = Anchor.over(this.conn.doc, sel.from, sel.to).toJSON();
    } catch (exc) {
      notice(`Cannot comment on this selection: ${exc.message}`, "error");
      return;
    }
    this.show(true);
    const box = this.panel.querySelector("#comment-compose");
    const area = h("textarea", { id: "comment-new-body", rows: "3", maxlength: "10000", placeholder: "Add a comment…", "aria-label": "Comment" });
    const close = () => {
      box.hidden = true;
      box.replaceChildren();
      this.render();
    };
    setChildren(
      box,
      h("blockquote", { class: "comment-quote" }, sel.text.length > 300 ? `${sel.text.slice(0, 300)}…` : sel.text),
      h(
        "form",
        {
          onsubmit: async (ev) => {
            ev.preventDefault();
            if (!area.value.trim()) return;
            if (await this._post({ body: area.value, anchor })) close();
          },
        },
        area,
        h("button", { type: "submit", id: "comment-submit" }, "Comment"),
        h("button", { type: "button", onclick: close }, "Cancel"),
      ),
    );
    box.hidden = false;
    this.render();
    area.focus();
  }

  /** POST a comment; a 409 "not reached the server yet" is retried while our edits are saved. */
  async _post(body) {
    for (let attempt = 0; ; attempt++) {
      try {
        const made = await api(withShare(this._path), { method: "POST", body });
        if (made.thread === made.id) this.active = made.id;
        await this.refresh();
        return true;
      } catch (exc) {
        const pending = exc instanceof ApiError && exc.status === 409 && /not reached/.test(exc.message);
        if (pending && attempt < 20) {
          await new Promise((r) => setTimeout(r, 250 * Math.min(8, attempt + 1)));
          continue;
        }
        notice(`The comment was not saved: ${exc instanceof ApiError ? exc.message : exc}`, "error");
        return false;
      }
    }
  }

  async _patch(id, body) {
    try {
      await api(withShare(`${this._path}/${encodeURIComponent(id)}`), { method: "PATCH", body });
    } catch (exc) {
      notice(`The comment was not changed: ${exc instanceof ApiError ? exc.message : exc}`, "error");
    }
    await this.refresh();
  }

  async _delete(id) {
    if (!confirm("Delete this comment?")) return;
    try {
      await api(withShare(`${this._path}/${encodeURIComponent(id)}`), { method: "DELETE" });
    } catch (exc) {
      notice(`The comment was not deleted: ${exc instanceof ApiError ? exc.message : exc}`, "error");
    }
    await this.refresh();
  }
}
