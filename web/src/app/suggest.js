// Suggestions on the editor page: a "Suggest" mode whose typing becomes a suggestion
// (a branch of the event graph, server/suggestions.py), the open suggestions shown
// inline in the editor (inserted text marked, deleted text struck through), and a side
// panel to accept or reject them.
//
// Suggesting: pressing Suggest takes the server's text at a version it has (the list's
// `version`, the text from /text?version=) into a draft box; everything typed there is
// saved (debounced) as {version, text} -- the server makes the ops at that version, so
// whatever others type meanwhile merges with the suggestion instead of being undone by
// it.  While suggesting, the main editor is read-only for this user: the suggestion
// never enters the document until someone accepts it.  Done leaves the suggestion open;
// Discard withdraws it.
//
// Showing: the list (GET /api/docs/{id}/suggestions, polled every few seconds and after
// edits, with ?since=<tag>: an unchanged list costs the server no merge; the same on one
// server and on a cluster) has each suggestion's `spans` on the
// server's text.  They are put in the editor only when that text is the editor's
// (kept + deleted runs spell it); otherwise the marks already shown are mapped through
// the edits and the list is fetched again shortly.  Who may do what is the server's to
// decide; the panel only hides buttons that would be refused (`you` in the list).
import { Compartment, EditorState, Prec, StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView, WidgetType } from "@codemirror/view";
import { ApiError, api, docPath, withShare } from "./api.js";
import { ago, h, notice, setChildren } from "./ui.js";

const POLL_MS = 2500;
const SAVE_MS = 600;

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

/** Replace the inline marks: [{id, deletes, inserts}] (placeSpans' output, with the suggestion id). */
export const setSuggestionMarks = StateEffect.define();

class InsertWidget extends WidgetType {
  constructor(text, id) {
    super();
    this.text = text;
    this.id = id;
  }
  eq(other) {
    return other.text === this.text && other.id === this.id;
  }
  toDOM() {
    const el = document.createElement("ins");
    el.className = "cw-sugg-ins";
    el.dataset.suggestion = this.id;
    el.textContent = this.text;
    el.title = "Suggested insertion";
    return el;
  }
  ignoreEvent() {
    return false;
  }
}

/** The inline marks of the open suggestions; mapped through edits until recomputed. */
export const suggestionMarks = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    for (const e of tr.effects) {
      if (!e.is(setSuggestionMarks)) continue;
      const len = tr.state.doc.length;
      const ranges = [];
      for (const m of e.value) {
        for (const d of m.deletes) {
          if (d.to > d.from && d.to <= len) ranges.push(Decoration.mark({ class: "cw-sugg-del", attributes: { "data-suggestion": m.id } }).range(d.from, d.to));
        }
        for (const i of m.inserts) {
          if (i.at <= len) ranges.push(Decoration.widget({ widget: new InsertWidget(i.text, m.id), side: 1 }).range(i.at));
        }
      }
      return Decoration.set(ranges, true);
    }
    return tr.docChanged ? marks.map(tr.changes) : marks;
  },
  provide: (f) => EditorView.decorations.from(f),
});

export class SuggestionsPanel {
  constructor({ docId }) {
    this.docId = docId;
    this.view = null;
    this.list = [];
    this.version = null;
    this.tag = null; // the list's tag: asked with ?since=, so an unchanged list is not sent again
    this.you = { user: null, role: null, can_suggest: false, can_decide: false };
    this.draft = null; // {id, version, base, text} while suggesting
    this._saving = null;
    this._saveTimer = null;
    this._refreshTimer = null;
    this._fetching = null;
    this._again = false;
    this._readOnly = new Compartment();
    this._head = this._draftHost = this._listHost = null;
    this.panel = document.getElementById("suggestions");
    this.toggle = document.getElementById("suggest-toggle");
  }

  extensions() {
    return [
      suggestionMarks,
      this._readOnly.of([]),
      EditorView.updateListener.of((u) => {
        if (u.docChanged) this._soon(500);
      }),
    ];
  }

  attach(view) {
    this.view = view;
    this.toggle?.addEventListener("click", () => (this.draft ? this.finish() : this.start()));
    this.refresh();
    this._poll = setInterval(() => this.refresh(), POLL_MS);
  }

  /** Stop polling for good (the connection stopped: the document was deleted or access ended). */
  stop() {
    clearInterval(this._poll);
    this._poll = null;
    clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    this._stopped = true;
  }

  get _path() {
    return `/api/docs/${docPath(this.docId)}/suggestions`;
  }

  _soon(ms) {
    if (this._refreshTimer !== null) return;
    this._refreshTimer = setTimeout(() => {
      this._refreshTimer = null;
      this.refresh();
    }, ms);
  }

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
        try {
          const since = this.tag ? `?since=${encodeURIComponent(this.tag)}` : "";
          const data = await api(withShare(`${this._path}${since}`));
          if (data.unchanged) {
            this._marks(); // the editor may have caught up with the server's text
            continue;
          }
          this.tag = data.tag;
          this.list = data.suggestions;
          this.version = data.version;
          this.you = data.you ?? this.you;
        } catch (exc) {
          if (exc instanceof ApiError && (exc.status === 404 || exc.status === 401)) this.stop(); // gone for good
          else if (!(exc instanceof ApiError && exc.status === 403)) console.warn("cowrite: the suggestions could not be loaded", exc);
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

  /** Mark the suggestions inline if the server's text is the editor's (else: later). */
  _marks() {
    const view = this.view;
    if (!view) return;
    const text = view.state.doc.toString();
    const marks = [];
    for (const s of this.list) {
      if (!s.spans) continue;
      const placed = placeSpans(s.spans);
      if (placed.expected !== text) {
        this._soon(700); // the server and this tab differ for now: keep the mapped marks
        return;
      }
      if (this.draft && s.id === this.draft.id) continue; // one's own draft is in its box
      marks.push({ id: s.id, deletes: placed.deletes, inserts: placed.inserts });
    }
    view.dispatch({ effects: setSuggestionMarks.of(marks) });
  }

  render() {
    this._marks();
    if (this.toggle) {
      this.toggle.hidden = !this.you.can_suggest;
      this.toggle.setAttribute("aria-pressed", String(this.draft !== null));
      this.toggle.textContent = this.draft ? "Done suggesting" : "Suggest";
    }
    if (!this.panel) return;
    if (!this._listHost) {
      // fixed parts, so the draft box (and its focus) is never moved when the list is drawn again
      this._head = h("h3", {});
      this._draftHost = h("div", { class: "suggestion-draft-host" });
      this._listHost = h("div", { class: "suggestion-list" });
      setChildren(this.panel, this._head, this._draftHost, this._listHost);
    }
    const open = this.list.filter((s) => !this.draft || s.id !== this.draft.id);
    this.panel.hidden = !this.draft && open.length === 0;
    document.body.classList.toggle("with-suggestions", !this.panel.hidden);
    this._head.textContent = `Suggestions (${open.length})`;
    if (this.draft && !this._draftHost.firstChild) this._draftHost.append(this._draftBox());
    if (!this.draft) this._draftHost.replaceChildren();
    setChildren(this._listHost, open.map((s) => this._card(s)));
  }

  _card(s) {
    const you = this.you;
    const mine = s.author === you.user;
    const body = s.spans
      ? h("p", { class: "suggestion-diff" }, summarize(s.spans).map((x) => (x.kind === "insert" ? h("ins", {}, x.text) : x.kind === "delete" ? h("del", {}, x.text) : x.text)))
      : h("p", { class: "muted" }, `No longer applies: ${s.problem ?? "unknown"}`);
    const tools = h(
      "div",
      { class: "suggestion-actions" },
      you.can_decide && s.spans ? h("button", { type: "button", class: "suggestion-accept", onclick: () => this.decide(s.id, "accept") }, "Accept") : null,
      you.can_decide ? h("button", { type: "button", class: "suggestion-reject", onclick: () => this.decide(s.id, "reject") }, "Reject") : null,
      mine && s.spans && you.can_suggest && !this.draft ? h("button", { type: "button", class: "suggestion-edit", onclick: () => this.start(s) }, "Edit") : null,
      mine && !you.can_decide ? h("button", { type: "button", class: "suggestion-withdraw", onclick: () => this.decide(s.id, "reject") }, "Withdraw") : null,
    );
    return h(
      "article",
      { class: "suggestion", dataset: { suggestion: s.id } },
      h("div", { class: "suggestion-head" }, h("strong", {}, s.name ?? s.author), " ", h("span", { class: "muted" }, ago(s.updated_at))),
      body,
      tools,
    );
  }

  _draftBox() {
    const area = h("textarea", { id: "suggestion-text", class: "suggestion-text", rows: "10", "aria-label": "Your suggested text" });
    area.value = this.draft.text;
    area.addEventListener("input", () => {
      this.draft.text = area.value;
      this._scheduleSave();
    });
    const status = h("span", { id: "suggestion-status", class: "muted", role: "status" }, this.draft.id ? "Saved" : "Type your suggestion: it is saved as you type.");
    return h(
      "section",
      { class: "suggestion-draft", "aria-label": "Your suggestion" },
      h("p", { class: "muted" }, "Suggesting: your edits here are shown to others as a suggestion; the document changes only if an editor accepts it."),
      area,
      h(
        "div",
        { class: "suggestion-actions" },
        h("button", { type: "button", id: "suggestion-done", onclick: () => this.finish() }, "Done"),
        h("button", { type: "button", id: "suggestion-discard", onclick: () => this.discard() }, "Discard"),
        status,
      ),
    );
  }

  _setStatus(text) {
    const el = document.getElementById("suggestion-status");
    if (el) el.textContent = text;
  }

  /**
   * Enter suggesting: the draft starts as the server's text at a version it has -- or,
   * to edit one's own open suggestion `mine`, as that text with the suggestion in it
   * (saved, it is made again at that version: the same change, on the newer text).
   */
  async start(mine = null) {
    if (this.draft || !this.view) return;
    if (mine) {
      await this.refresh(); // the list as of now: the text may have moved since it was drawn
      mine = this.list.find((x) => x.id === mine.id) ?? null;
      if (!mine?.spans || this.draft) {
        if (!mine) notice("That suggestion was accepted or rejected meanwhile.", "info");
        return;
      }
      const base = mine.spans.filter((x) => x.kind !== "insert").map((x) => x.text).join("");
      const text = mine.spans.filter((x) => x.kind !== "delete").map((x) => x.text).join("");
      this.draft = { id: mine.id, version: this.version, base, text };
      this._enter();
      return;
    }
    try {
      await this.refresh();
      const version = this.version;
      const base = await api(withShare(`/api/docs/${docPath(this.docId)}/text?version=${encodeURIComponent(JSON.stringify(version))}`), { as: "text" });
      this.draft = { id: null, version, base, text: base };
    } catch (exc) {
      notice(`Cannot start a suggestion: ${exc instanceof ApiError ? exc.message : exc?.message ?? exc}`, "error");
      return;
    }
    this._enter();
  }

  _enter() {
    // highest: the facet takes its first value, and the sync extension gives one too
    this.view.dispatch({ effects: this._readOnly.reconfigure(Prec.highest(EditorState.readOnly.of(true))) });
    document.body.classList.add("suggesting");
    this.render();
    document.getElementById("suggestion-text")?.focus();
  }

  _scheduleSave() {
    clearTimeout(this._saveTimer);
    this._setStatus("Saving…");
    this._saveTimer = setTimeout(() => this.save(), SAVE_MS);
  }

  /** Save the draft (one save at a time; typed meanwhile: saved once more after). */
  async save() {
    clearTimeout(this._saveTimer);
    this._saveTimer = null;
    if (this._saving) return this._saving.then(() => this.save());
    const d = this.draft;
    if (!d) return;
    this._saving = (async () => {
      const text = d.text;
      try {
        if (text === d.base) {
          if (d.id) await api(withShare(`${this._path}/${encodeURIComponent(d.id)}`), { method: "DELETE" });
          d.id = null;
          this._setStatus("No change suggested");
        } else if (d.id) {
          await api(withShare(`${this._path}/${encodeURIComponent(d.id)}`), { method: "PUT", body: { version: d.version, text } });
          this._setStatus("Saved");
        } else {
          const made = await api(withShare(this._path), { method: "POST", body: { version: d.version, text } });
          d.id = made.id;
          this._setStatus("Saved");
        }
      } catch (exc) {
        if (exc instanceof ApiError && exc.status === 404 && d.id) d.id = null; // accepted or rejected meanwhile
        this._setStatus(`Not saved: ${exc instanceof ApiError ? exc.message : exc?.message ?? exc}`);
      }
    })();
    try {
      await this._saving;
    } finally {
      this._saving = null;
    }
    this.refresh();
  }

  /** Leave suggesting (the suggestion stays open for the editors to decide). */
  async finish() {
    if (!this.draft) return;
    await this.save();
    this._leave();
  }

  /** Leave suggesting and withdraw the suggestion. */
  async discard() {
    const d = this.draft;
    if (!d) return;
    clearTimeout(this._saveTimer);
    if (this._saving) await this._saving;
    if (d.id) await this.decide(d.id, "reject", { quiet: true });
    this._leave();
  }

  _leave() {
    this.draft = null;
    this.view?.dispatch({ effects: this._readOnly.reconfigure([]) });
    document.body.classList.remove("suggesting");
    this.render();
  }

  /** Accept or reject (withdraw: one's own) a suggestion. */
  async decide(id, how, { quiet = false } = {}) {
    const path = `${this._path}/${encodeURIComponent(id)}`;
    try {
      if (how === "accept") await api(withShare(`${path}/accept`), { method: "POST" });
      else await api(withShare(path), { method: "DELETE" });
      if (!quiet) notice(how === "accept" ? "The suggestion is accepted: it is part of the text now." : "The suggestion is gone.", "info");
    } catch (exc) {
      notice(`The suggestion was not ${how === "accept" ? "accepted" : "removed"}: ${exc instanceof ApiError ? exc.message : exc?.message ?? exc}`, "error");
    }
    await this.refresh();
  }
}
