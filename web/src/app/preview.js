// The live preview pane: the document rendered as markdown next to the editor, kept
// current as anyone types, sanitised (markdown.js).  Rendering waits for a pause of
// `delay` ms and runs only while the pane is shown, so a long document costs nothing
// while the pane is closed and one render per burst of typing while it is open.
import { EditorView } from "@codemirror/view";
import { safeFragment } from "./markdown.js";

export class Preview {
  /**
   * @param {HTMLElement} pane where the rendered text goes (hidden while off)
   * @param {() => string} text the text to show (the editor's)
   * @param {{delay?: number, onToggle?: (shown: boolean) => void}} [options]
   */
  constructor(pane, text, { delay = 150, onToggle = () => {} } = {}) {
    this.pane = pane;
    this.text = text;
    this.delay = delay;
    this.onToggle = onToggle;
    this.shown = false;
    this.timer = null;
    this.renders = 0; // how many times the pane was rendered (tests wait on it)
  }

  /** An editor extension that tells the preview the text changed. */
  extension() {
    return EditorView.updateListener.of((update) => {
      if (update.docChanged) this.changed();
    });
  }

  toggle(shown = !this.shown) {
    this.shown = shown;
    this.pane.hidden = !shown;
    document.body.classList.toggle("with-preview", shown);
    if (shown) this.render();
    else clearTimeout(this.timer);
    this.onToggle(shown);
  }

  changed() {
    if (!this.shown) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.render(), this.delay);
  }

  render() {
    this.timer = null;
    try {
      this.pane.replaceChildren(safeFragment(this.text(), window));
    } catch (exc) {
      console.error("cowrite: the preview cannot be shown", exc);
      const p = document.createElement("p");
      p.className = "form-error";
      p.textContent = `The preview cannot be shown: ${exc?.message ?? exc}`;
      this.pane.replaceChildren(p);
    }
    this.renders++;
  }
}
