// Remote cursors and selections as CodeMirror decorations: a caret with the user's
// name in their colour, and their selection tinted.  Colours come from the server
// (the user's presence): they are sanitised and put into CSS through a constructed
// stylesheet (class per peer), never through style attributes, which the page's
// Content-Security-Policy forbids.
import { RangeSetBuilder, StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView, WidgetType } from "@codemirror/view";
import { colourClass } from "./colors.js";
import { colourFor, safeColour } from "./ui.js";

/** Replace the shown peers: [{agent, name, colour, anchor, head}] (UTF-16 offsets). */
export const setPeers = StateEffect.define();

class CaretWidget extends WidgetType {
  constructor(peer, colour) {
    super();
    this.name = peer.name;
    this.colour = colour;
  }

  eq(other) {
    return other.name === this.name && other.colour === this.colour;
  }

  toDOM() {
    const caret = document.createElement("span");
    caret.className = `cw-caret ${colourClass(this.colour)}`;
    // and on the element itself, through the CSSOM (not a style attribute, which the CSP
    // forbids): a caret must show its colour even before the class's rule applies
    caret.style.setProperty("--cw-c", this.colour);
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

/** The colour to show for a peer (theirs if it is a plain CSS colour, else one from their name). */
export function peerColour(peer) {
  return safeColour(peer.colour, colourFor(peer.agent ?? peer.name ?? "?"));
}

/** Readable colours (contrast >= 4.5 with white) to fall back on when two people share one. */
export const PALETTE = [
  "#c0392b", "#a04000", "#7d6608", "#1e8449", "#117a65", "#00838f",
  "#1f618d", "#5b2c6f", "#8e44ad", "#c2185b", "#303f9f", "#37474f",
];

/**
 * Give every shown peer a colour no one else on screen has (`taken`: colours already in
 * use, e.g. this user's own).  Colours are picked by a hash of the user id, so in a room
 * of three two people share one about a quarter of the time; their carets must still be
 * told apart.  Peers keep their own colour when it is free; the order is stable (by
 * agent), so the same people get the same colours on every refresh.
 */
export function distinctColours(peers, taken = []) {
  const used = new Set(taken.map((c) => c.toLowerCase()));
  const out = new Map();
  for (const p of [...peers].sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0))) {
    let colour = peerColour(p);
    if (used.has(colour.toLowerCase())) {
      colour = PALETTE.find((c) => !used.has(c)) ?? colour;
    }
    used.add(colour.toLowerCase());
    out.set(p.agent, colour);
  }
  return peers.map((p) => ({ ...p, colour: out.get(p.agent) }));
}

function build(peers, docLength) {
  const ranges = [];
  for (const p of peers) {
    if (p.anchor === null || p.head === null || p.anchor === undefined || p.head === undefined) continue;
    const anchor = Math.min(Math.max(0, p.anchor), docLength);
    const head = Math.min(Math.max(0, p.head), docLength);
    const colour = peerColour(p);
    const cls = colourClass(colour);
    const from = Math.min(anchor, head);
    const to = Math.max(anchor, head);
    if (to > from) ranges.push(Decoration.mark({ class: `cw-sel ${cls}` }).range(from, to));
    ranges.push(Decoration.widget({ widget: new CaretWidget(p, colour), side: 1 }).range(head));
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
