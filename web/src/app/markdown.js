// Markdown in the editor: syntax highlighting (CodeMirror's markdown language) and the
// text rendered as safe HTML for the preview pane.
//
// Why sanitise here although the page's CSP runs no inline script: a document is
// written by other people, so its HTML is hostile by default, and a CSP is a second
// line, not the first (an export opened elsewhere, a browser extension, a relaxed
// policy behind a proxy).  marked renders (raw HTML allowed: people write <kbd>,
// <details>), DOMPurify then keeps only inert markup: no script, no event handlers,
// no javascript:/data: links, no frames, forms or styles.  The server's .html export
// follows the same rule (transfer.py: markdown-it-py + nh3).
import { markdownKeymap, markdownLanguage } from "@codemirror/lang-markdown";
import { HighlightStyle, LanguageSupport, syntaxHighlighting } from "@codemirror/language";
import { Prec } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { tags } from "@lezer/highlight";
import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: false, async: false });

/** Markup a preview never keeps, on top of what DOMPurify drops anyway (scripts, handlers). */
export const FORBID_TAGS = Object.freeze([
  "style", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "link", "meta",
  "form", "input", "button", "textarea", "select", "option", "svg", "math", "template", "noscript",
]);
export const FORBID_ATTR = Object.freeze(["style", "srcset", "formaction", "action", "ping", "background"]);

/** Links and images may point only here: no javascript:, vbscript:, data: (nor file:). */
export const SAFE_URL = /^(?:(?:https?|mailto|tel):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;

/** `text` rendered as markdown, not yet sanitised (a string of HTML). */
export function renderMarkdown(text) {
  return marked.parse(text);
}

let purifier = null;

/** The DOMPurify of `win` with the preview's rules (one instance per window). */
function purifierFor(win) {
  if (purifier && purifier.window === win) return purifier.instance;
  const instance = DOMPurify(win);
  // Links open outside the editor, and tell the other site nothing about it.
  instance.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A" && node.hasAttribute("href")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
  });
  purifier = { window: win, instance };
  return instance;
}

/**
 * `text` as a sanitised DocumentFragment of `win`'s document: what the preview shows.
 * Throws if `win` has no DOM (DOMPurify cannot sanitise without one).
 */
export function safeFragment(text, win = globalThis.window) {
  const purify = purifierFor(win);
  if (!purify.isSupported) throw new Error("this browser cannot sanitise HTML (DOMPurify unsupported)");
  return purify.sanitize(renderMarkdown(text), {
    RETURN_DOM_FRAGMENT: true,
    FORBID_TAGS: [...FORBID_TAGS],
    FORBID_ATTR: [...FORBID_ATTR],
    ALLOWED_URI_REGEXP: SAFE_URL,
    ALLOW_DATA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
  });
}

// Highlighting for markdown's parts, in the page's quiet palette (no theme package).
const markdownStyle = HighlightStyle.define([
  { tag: tags.heading1, fontWeight: "700", fontSize: "1.25em" },
  { tag: tags.heading2, fontWeight: "700", fontSize: "1.15em" },
  { tag: [tags.heading3, tags.heading4, tags.heading5, tags.heading6], fontWeight: "700" },
  { tag: tags.strong, fontWeight: "700" },
  { tag: tags.emphasis, fontStyle: "italic" },
  { tag: tags.strikethrough, textDecoration: "line-through" },
  { tag: tags.link, color: "#2457c5", textDecoration: "underline" },
  { tag: tags.url, color: "#2457c5" },
  { tag: tags.monospace, color: "#7d3c98" },
  { tag: tags.quote, color: "#5e6770", fontStyle: "italic" },
  { tag: [tags.processingInstruction, tags.meta, tags.contentSeparator], color: "#8a939c" },
  { tag: tags.list, color: "#9a6700" },
]);

/**
 * The editor's markdown support: the language (GFM), its highlighting, and Enter
 * continuing lists and quotes.  Not lang-markdown's markdown(): that one brings the
 * HTML, CSS and JavaScript parsers for embedded code (a third more bundle).
 */
export function markdownSupport() {
  return [new LanguageSupport(markdownLanguage), syntaxHighlighting(markdownStyle), Prec.high(keymap.of(markdownKeymap))];
}
