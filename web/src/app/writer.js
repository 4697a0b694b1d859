// The writer's tools on the editor page, in one place so the page's own module stays
// about loading and syncing: markdown highlighting, find and replace (Ctrl-F), the
// preview pane, live authorship colours, the saving indicator, export and import.
// `new WriterTools(...)` before the EditorView is made (its extensions go into the
// state), `attach(view)` once it exists (buttons, indicator).
import { highlightSelectionMatches, openSearchPanel, search, searchKeymap } from "@codemirror/search";
import { EditorView, keymap } from "@codemirror/view";
import { nextOwnSeq } from "../protocol/session.js";
import { ApiError, api, docPath, withShare } from "./api.js";
import { AuthorDirectory, authorship, authorsChanged, authorshipOn, setAuthorship } from "./authorship.js";
import { fromEngine } from "./cmbridge.js";
import { markdownSupport } from "./markdown.js";
import { Preview } from "./preview.js";
import { SavingIndicator } from "./saving.js";
import * as storage from "./storage.js";
import { exportDoc, importAsNew, importFile, pickFile } from "./transfer.js";
import { notice } from "./ui.js";

const PREFS = "cowrite.writer";

function loadPrefs() {
  try {
    const p = JSON.parse(storage.load(PREFS) ?? "{}");
    return { preview: p?.preview === true, authors: p?.authors === true };
  } catch {
    return { preview: false, authors: false };
  }
}

/** A transaction the user made here (typed, pasted, replaced, undone), not one from others. */
function isLocal(tr) {
  const origin = tr.annotation(fromEngine);
  return tr.docChanged && (origin === undefined || origin === "undo");
}

export class WriterTools {
  /** `conn`: the page's Connection; `auth`: who is signed in ({user, name}). */
  constructor({ docId, conn, auth }) {
    this.docId = docId;
    this.conn = conn;
    this.auth = auth;
    this.view = null;
    this.prefs = loadPrefs();
    this.directory = new AuthorDirectory({
      lookup: async () => (await api(withShare(`/api/docs/${docPath(docId)}/blame`))).runs,
      onChange: () => this.view?.dispatch({ effects: authorsChanged.of(null) }),
    });
    this.recovering = () => 0;
    this.saving = new SavingIndicator({
      el: document.getElementById("saving"),
      conn,
      ownSeq: () => nextOwnSeq(this.conn.doc),
      recovering: () => this.recovering(),
    });
    const pane = document.getElementById("preview");
    this.preview = pane
      ? new Preview(pane, () => this.view?.state.doc.toString() ?? "", {
          onToggle: (shown) => this._pressed("preview-toggle", shown, "preview"),
        })
      : null;
    this._learnOwn(conn.doc.agent);
    conn.on("recovered", () => this._learnOwn(this.conn.doc.agent));
    conn.on("resynced", () => this._learnOwn(this.conn.doc.agent));
  }

  /** The editor extensions of these tools (before the page's own keymap). */
  extensions() {
    return [
      markdownSupport(),
      search({ top: true }),
      highlightSelectionMatches(),
      keymap.of(searchKeymap),
      authorship({ getDoc: () => this.conn.doc, directory: this.directory }),
      ...(this.preview ? [this.preview.extension()] : []),
      EditorView.updateListener.of((update) => this.saving.noteUpdate(update, isLocal)),
    ];
  }

  /** The page's view exists: wire the buttons; `recovering()` counts closed tabs' edits being sent. */
  attach(view, { recovering = () => 0, agents = [] } = {}) {
    this.view = view;
    this.recovering = recovering;
    for (const agent of agents) this._learnOwn(agent);
    this._button("preview-toggle", () => this.preview?.toggle());
    this._button("authors-toggle", () => this.setAuthors(!view.state.field(authorshipOn)));
    this._button("find", () => openSearchPanel(view));
    for (const format of ["txt", "md", "html"]) {
      this._button(`export-${format}`, () => this._run(`Download .${format}`, () => exportDoc(this.docId, format)));
    }
    this._button("import-replace", () => this._import("replace"));
    this._button("import-append", () => this._import("append"));
    this._button("import-new", () => this._importNew());
    this.conn.on("welcomed", ({ canWrite }) => {
      for (const el of document.querySelectorAll("[data-needs-write]")) el.hidden = !canWrite;
    });
    if (this.prefs.preview) this.preview?.toggle(true);
    if (this.prefs.authors) this.setAuthors(true);
    this.saving.show();
  }

  setAuthors(on) {
    this.view.dispatch({ effects: setAuthorship.of(on) });
    document.body.classList.toggle("with-authors", on);
    this._pressed("authors-toggle", on, "authors");
  }

  _learnOwn(agent) {
    if (this.auth?.user) this.directory.learn(agent, this.auth.user, this.auth.name ?? null);
  }

  _pressed(id, on, pref) {
    document.getElementById(id)?.setAttribute("aria-pressed", String(on));
    this.prefs[pref] = on;
    storage.save(PREFS, JSON.stringify(this.prefs));
  }

  _button(id, fn) {
    const el = document.getElementById(id);
    if (el) el.addEventListener("click", fn);
  }

  async _run(what, fn) {
    try {
      return await fn();
    } catch (exc) {
      notice(`${what} failed: ${exc instanceof ApiError ? exc.explain() : exc?.message ?? exc}`, "error");
      return null;
    } finally {
      document.getElementById("file-menu")?.removeAttribute("open");
    }
  }

  async _import(mode) {
    const file = await pickFile();
    if (!file) return;
    const how = mode === "replace" ? `Replace the text of ${this.docId} with ${file.name}?` : `Add ${file.name} at the end of ${this.docId}?`;
    if (mode === "replace" && !confirm(`${how} Only what differs is changed; the old text stays in the history.`)) return;
    const done = await this._run(`Importing ${file.name}`, () => importFile(this.docId, file, mode));
    if (done) notice(`Imported ${file.name}: ${done.inserted} characters added, ${done.deleted} removed.`, "info");
  }

  async _importNew() {
    const file = await pickFile();
    if (!file) return;
    const id = await this._run(`Importing ${file.name}`, () => importAsNew(file));
    if (id) location.assign(withShare(`/d/${docPath(id)}`, null));
  }
}
