// Remote cursors and selections as CodeMirror decorations: a caret with the user's
// name in their colour, and their selection tinted.  Colours come from the server
// (the user's presence): they are sanitised and put into CSS through a constructed
// stylesheet (class per peer), never through style attributes, which the page's
// Content-Security-Policy forbids.
import { RangeSetBuilder, StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView, WidgetType } from "@codemirror/view";
import { colourFor, safeColour } from "./ui.js";

/** Replace the shown peers: [{agent, name, colour, anchor, head}] (UTF-16 offsets). */
export const setPeers = StateEffect.define();

class CaretWidget extends WidgetType {
  constructor(peer, cls) {
    super();
    this.name = peer.name;
    this.cls = cls;
  }

  eq(other) {
    return other.name === this.name && other.cls === this.cls;
  }

  toDOM() {
    const caret = document.createElement("span");
    caret.className = `cw-caret ${this.cls}`;
    caret.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.className = "cw-caret-label";
    label.textContent = this.name;
    caret.append(label);
    return caret;
  }

  ignoreEvent() {
    return true;
  }
}

// peer colour classes: one CSS rule per distinct colour
const classes = new Map();
let sheet = null;

function colourClass(colour) {
  let cls = classes.get(colour);
  if (cls) return cls;
  cls = `cw-peer-${classes.size}`;
  classes.set(colour, cls);
  try {
    if (!sheet && typeof CSSStyleSheet !== "undefined" && "adoptedStyleSheets" in document) {
      sheet = new CSSStyleSheet();
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    }
    sheet?.insertRule(`.${cls} { --cw-c: ${colour}; }`, sheet.cssRules.length);
  } catch (exc) {
    console.warn("cowrite: cannot colour remote cursors", exc);
  }
  return cls;
}

/** The colour to show for a peer (theirs if it is a plain CSS colour, else one from their name). */
export function peerColour(peer) {
  return safeColour(peer.colour, colourFor(peer.agent ?? peer.name ?? "?"));
}

function build(peers, docLength) {
  const ranges = [];
  for (const p of peers) {
    if (p.anchor === null || p.head === null || p.anchor === undefined || p.head === undefined) continue;
    const anchor = Math.min(Math.max(0, p.anchor), docLength);
    const head = Math.min(Math.max(0, p.head), docLength);
    const cls = colourClass(peerColour(p));
    const from = Math.min(anchor, head);
    const to = Math.max(anchor, head);
    if (to > from) ranges.push(Decoration.mark({ class: `cw-sel ${cls}` }).range(from, to));
    ranges.push(Decoration.widget({ widget: new CaretWidget(p, cls), side: 1 }).range(head));
  }
  ranges.sort((a, b) => a.from - b.from || a.value.startSide - b.value.startSide);
  const builder = new RangeSetBuilder();
  for (const r of ranges) builder.add(r.from, r.to, r.value);
  return builder.finish();
}

/** The decorations of the peers, mapped through edits until the next setPeers. */
export const peersField = StateField.define({
  create: () => Decoration.none,
  update(decos, tr) {
    for (const e of tr.effects) {
      if (e.is(setPeers)) return build(e.value, tr.state.doc.length);
    }
    return tr.docChanged ? decos.map(tr.changes) : decos;
  },
  provide: (f) => EditorView.decorations.from(f),
});
