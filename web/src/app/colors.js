// Colours: the author colours shared by the history page, the diff view and live
// authorship colours (one user has one colour on every page), and the CSS classes that
// put a colour on a decoration.
//
// Why not a hash of the user id into hues (ui.js colourFor): two users whose hashes
// land a few degrees apart get colours nobody can tell apart, and with a small palette
// a collision is likely as soon as a document has a handful of authors (the birthday
// problem: 5 authors on 12 hashed colours collide more often than not).  Here a document's
// users get *distinct* colours: each user prefers the palette slot its hash picks, and
// users that want a taken slot take the next free one, in a fixed order (by id), so the
// same set of users always gets the same colours and a newcomer moves nobody who did
// not collide with it.

/** Colours told apart at a glance (hues far apart, plus a grey and a brown), readable
 * as text on white and as backgrounds at low alpha.  No two greens or two olives: two
 * authors must never look alike. */
export const PALETTE = Object.freeze([
  "#1f77b4", // blue
  "#d62728", // red
  "#2ca02c", // green
  "#9467bd", // purple
  "#ff7f0e", // orange
  "#17becf", // teal
  "#e377c2", // pink
  "#8c564b", // brown
  "#5a5a5a", // grey
  "#b8860b", // dark gold
]);

/** FNV-1a over the UTF-16 units of `text`: a stable, well-spread slot preference. */
export function hashOf(text) {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/** The n-th colour past the palette (more authors than colours): golden-angle hues. */
function extraColour(n) {
  const hue = Math.round((n * 137.508 + 20) % 360);
  const light = n % 2 ? 35 : 45;
  return `hsl(${hue}, 70%, ${light}%)`;
}

/**
 * Distinct colours for the users of one document: a Map from each user id in `users`
 * (duplicates and empty values ignored) to a CSS colour.  No two users share a colour;
 * the result depends only on the set of users, never on their order.
 */
export function authorColors(users) {
  const ids = [...new Set([...users].filter((u) => typeof u === "string" && u !== ""))].sort();
  const out = new Map();
  const taken = new Set();
  const overflow = [];
  for (const id of ids) {
    if (taken.size >= PALETTE.length) {
      overflow.push(id);
      continue;
    }
    let slot = hashOf(id) % PALETTE.length;
    while (taken.has(slot)) slot = (slot + 1) % PALETTE.length;
    taken.add(slot);
    out.set(id, PALETTE[slot]);
  }
  overflow.forEach((id, n) => out.set(id, extraColour(n)));
  return out;
}

// Colours for decorations without style attributes (the page's Content-Security-Policy
// forbids them): one CSS class per colour, its rule `--cw-c: <colour>` in a constructed
// stylesheet shared by every kind of decoration that needs one (remote cursors,
// authorship).  Colours must already be safe (ui.js safeColour).
let sheet = null;
const classes = new Map(); // colour -> class name

function adopt() {
  if (sheet || typeof CSSStyleSheet === "undefined" || typeof document === "undefined" || !("adoptedStyleSheets" in document)) {
    return sheet;
  }
  sheet = new CSSStyleSheet();
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  return sheet;
}

/** The class that sets `--cw-c` to `colour` (created on first use). */
export function colourClass(colour) {
  let cls = classes.get(colour);
  if (cls) return cls;
  cls = `cw-col-${classes.size}`;
  classes.set(colour, cls);
  try {
    const s = adopt();
    s?.insertRule(`.${cls} { --cw-c: ${colour}; }`, s.cssRules.length);
  } catch (exc) {
    console.warn("cowrite: cannot add a colour", colour, exc);
  }
  return cls;
}
