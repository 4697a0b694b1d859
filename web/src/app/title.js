// A document's title in the page header: its name for people, separate from the id in
// its address (GET/PUT /api/docs/{id}/title).  Everyone sees it (the id stands in while
// there is none); someone who may edit gets a text field that saves on Enter or when it
// loses focus (Escape puts the saved title back).
import { ApiError, api, docPath, withShare } from "./api.js";
import { h, notice, setChildren } from "./ui.js";

export const MAX_TITLE = 200; // store/base.py MAX_TITLE

/** The title shown for a document: its title, else its id. */
export function displayTitle(docId, title) {
  return typeof title === "string" && title.trim() ? title.trim() : docId;
}

export class TitleField {
  /** `heading`: the header's #doc-title; `suffix`: appended to the tab's title. */
  constructor(docId, heading, { suffix = " · cowrite" } = {}) {
    this.docId = docId;
    this.heading = heading;
    this.suffix = suffix;
    this.title = "";
    this.editable = false;
    this.input = h("input", {
      id: "title-input",
      class: "title-input",
      type: "text",
      maxlength: String(MAX_TITLE),
      placeholder: docId,
      "aria-label": "Document title",
      autocomplete: "off",
      spellcheck: "true",
    });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        this.input.blur(); // saves
      } else if (ev.key === "Escape") {
        this.input.value = this.title;
        this.input.blur();
      }
    });
    this.input.addEventListener("blur", () => this.save());
    this.render();
  }

  /** Read the title from the server (a failure leaves the id shown). */
  async load() {
    try {
      const body = await api(withShare(`/api/docs/${docPath(this.docId)}/title`));
      this.title = typeof body?.title === "string" ? body.title : "";
    } catch (exc) {
      console.warn("cowrite: no title", exc);
    }
    this.render();
  }

  /** Editing needs edit rights (the server said so in WELCOME). */
  setEditable(editable) {
    this.editable = Boolean(editable);
    this.render();
  }

  render() {
    document.title = `${displayTitle(this.docId, this.title)}${this.suffix}`;
    if (!this.heading) return;
    if (this.editable) {
      if (document.activeElement !== this.input) this.input.value = this.title;
      if (this.input.parentNode !== this.heading) setChildren(this.heading, this.input);
    } else {
      setChildren(this.heading, displayTitle(this.docId, this.title));
      this.heading.title = this.title ? `${this.title} (${this.docId})` : this.docId;
    }
  }

  async save() {
    const wanted = this.input.value.trim();
    if (!this.editable || wanted === this.title) return;
    try {
      const body = await api(withShare(`/api/docs/${docPath(this.docId)}/title`), { method: "PUT", body: { title: wanted } });
      this.title = body.title;
      this.input.dataset.saved = "true";
    } catch (exc) {
      notice(`The title was not saved: ${exc instanceof ApiError ? exc.explain() : exc}`);
      this.input.value = this.title;
    }
    this.render();
  }
}
