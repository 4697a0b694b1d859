// Text changes: retain / insert / delete over a base string, and their algebra
// (a port of src/cowrite/protocol/textchange.py: same canonical form, same
// tie-breaks, same diff output).
//
// Why: the browser keeps the user's unconfirmed edits as plain text changes
// (journal.js), so that when its replica has to be replaced by the server's copy
// they can be typed again at the same places.  That needs apply, compose, invert,
// transform, position mapping and a character diff.
//
// A TextChange is a list of components walking a base text from its start:
//   {type: "retain", length}            keep `length` characters
//   {type: "insert", text, length}      add `text`
//   {type: "delete", text, length}      remove `length` characters, which were `text`
//                                       (null: not known, e.g. an engine edit)
// Past the last component the text is kept (an implicit tail): no change stores
// the length of the whole document.  A delete normally carries its text, so the
// change inverts without the document and apply() can check it fits; a delete
// of unknown text works everywhere except invert() (fill it in with withText()).
//
// Positions and lengths are Unicode code points, like the engine and Python
// (JS strings are UTF-16: an emoji is 2 units but 1 position).  All-BMP text, the
// common case, takes fast paths that never count.
//
// Canonical form (so equal changes are equal, and both languages agree): no empty
// components, no two neighbours of one type, between two retains at most one
// delete followed by at most one insert, no trailing retain.

/** Default cap on the edit distance diff() searches (see diff). */
export const DIFF_MAX_D = 2000;

const SURROGATE = /[\uD800-\uDFFF]/;
const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/** A change does not fit the text or the other change it was combined with. */
export class ChangeMismatchError extends Error {
  constructor(message) {
    super(message);
    this.name = "ChangeMismatchError";
  }
}

/**
 * Code points in `s` (Python's len; a lone surrogate counts as one, like
 * engine/utf8.js's codePointLength -- not imported: the engine tree is being moved).
 */
export function cpLength(s) {
  if (!SURROGATE.test(s)) return s.length;
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/**
 * A string indexed by code point: `length` in code points, slice(from, to) by
 * code point, points() as an Int32Array.  No table at all for all-BMP text.
 */
export class CodePointString {
  constructor(s) {
    this.s = s;
    this.offsets = null; // offsets[i]: UTF-16 index of code point i (astral text only)
    this._points = null;
    if (!SURROGATE.test(s)) {
      this.length = s.length;
      return;
    }
    const offs = new Int32Array(s.length + 1);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      offs[n++] = i;
      if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
    }
    offs[n] = s.length;
    this.offsets = offs.subarray(0, n + 1);
    this.length = n;
  }

  u16(i) {
    return this.offsets === null ? i : this.offsets[i];
  }

  slice(from, to) {
    return this.s.slice(this.u16(from), this.u16(to));
  }

  points() {
    if (this._points === null) {
      const p = new Int32Array(this.length);
      const s = this.s;
      if (this.offsets === null) for (let i = 0; i < p.length; i++) p[i] = s.charCodeAt(i);
      else for (let i = 0; i < p.length; i++) p[i] = s.codePointAt(this.offsets[i]);
      this._points = p;
    }
    return this._points;
  }
}

// `text` (of `length` code points) from code point `from` to `to`.
function cpSlice(text, length, from, to) {
  if (text.length === length) return text.slice(from, to);
  return new CodePointString(text).slice(from, to);
}

export function retain(n) {
  return { type: "retain", length: n };
}

export function insert(text) {
  return { type: "insert", text, length: cpLength(text) };
}

/** del("abc"): remove those characters; del(3): remove 3 unknown ones. */
export function del(what) {
  if (typeof what === "string") return { type: "delete", text: what, length: cpLength(what) };
  return { type: "delete", text: null, length: what };
}

function joinDelete(a, text, n) {
  // Known only while every piece is known.
  if (a.text === null || text === null) return { type: "delete", text: null, length: a.length + n };
  return { type: "delete", text: a.text + text, length: a.length + n };
}

/** Appends components keeping the canonical form. */
class Builder {
  constructor() {
    this.ops = [];
  }

  retain(n) {
    if (n <= 0) return;
    const ops = this.ops;
    const last = ops[ops.length - 1];
    if (last !== undefined && last.type === "retain") ops[ops.length - 1] = retain(last.length + n);
    else ops.push(retain(n));
  }

  // `length`: code points of `text`, if the caller knows them
  insert(text, length) {
    if (!text) return;
    const n = length ?? cpLength(text);
    const ops = this.ops;
    const last = ops[ops.length - 1];
    if (last !== undefined && last.type === "insert") {
      ops[ops.length - 1] = { type: "insert", text: last.text + text, length: last.length + n };
    } else ops.push({ type: "insert", text, length: n });
  }

  delete(text, n) {
    if (n <= 0) return;
    const ops = this.ops;
    const last = ops[ops.length - 1];
    if (last !== undefined && last.type === "delete") ops[ops.length - 1] = joinDelete(last, text, n);
    else if (last !== undefined && last.type === "insert") {
      const prev = ops[ops.length - 2];
      if (prev !== undefined && prev.type === "delete") ops[ops.length - 2] = joinDelete(prev, text, n);
      else ops.splice(ops.length - 1, 0, { type: "delete", text, length: n });
    } else ops.push({ type: "delete", text, length: n });
  }

  add(op) {
    if (op.type === "retain") this.retain(op.length);
    else if (op.type === "insert") this.insert(op.text, op.length);
    else this.delete(op.text, op.length);
  }

  build() {
    const ops = this.ops;
    if (ops.length && ops[ops.length - 1].type === "retain") ops.pop();
    return TextChange._of(ops);
  }
}

const RETAIN = 0;
const INSERT = 1;
const DELETE = 2;
const END = 3;
const KIND = { retain: RETAIN, insert: INSERT, delete: DELETE };

/** Walks a change's components, handing out pieces; past the end: END (an endless retain). */
class Cursor {
  constructor(change) {
    this.ops = change.ops;
    this.i = -1;
    this.off = 0;
    this.kind = END;
    this.left = 0;
    this.next();
  }

  next() {
    this.i++;
    this.off = 0;
    if (this.i >= this.ops.length) {
      this.kind = END;
      this.left = 0;
      return;
    }
    const op = this.ops[this.i];
    this.kind = KIND[op.type];
    this.left = op.length;
  }

  // Consume n (<= left) code points of the current component; the piece's text for
  // an insert or a known delete, else null.
  take(n) {
    const op = this.ops[this.i];
    const off = this.off;
    let text = null;
    if (op.type !== "retain" && op.text !== null) text = off === 0 && n === op.length ? op.text : cpSlice(op.text, op.length, off, off + n);
    this.off = off + n;
    this.left -= n;
    if (this.left === 0) this.next();
    return text;
  }
}

export class TextChange {
  /** @param {Array<object>} [ops] components in any arrangement (normalized) */
  constructor(ops = []) {
    const b = new Builder();
    for (const op of ops) {
      if (!op || !(op.type in KIND)) throw new TypeError(`not a component: ${JSON.stringify(op)}`);
      if (!Number.isInteger(op.length) || op.length < 0) throw new RangeError(`bad length in ${JSON.stringify(op)}`);
      const text = op.text ?? null;
      if (op.type === "insert" && typeof text !== "string") throw new TypeError("an insert needs its text");
      if (op.type === "delete" && text !== null && typeof text !== "string") throw new TypeError("a delete's text must be a string or null");
      if (op.type !== "retain" && text !== null && cpLength(text) !== op.length) {
        throw new RangeError(`${op.type} ${JSON.stringify(text)}: the text is not ${op.length} long`);
      }
      b.add(op.type === "delete" ? { type: "delete", text, length: op.length } : op);
    }
    this.ops = b.build().ops;
  }

  // Trusted constructor: `ops` are canonical.
  static _of(ops) {
    const c = Object.create(TextChange.prototype);
    c.ops = ops;
    return c;
  }

  get isIdentity() {
    return this.ops.length === 0;
  }

  /** How long a text must be at least for the change to fit (retained plus deleted). */
  get baseLength() {
    let n = 0;
    for (const op of this.ops) if (op.type !== "insert") n += op.length;
    return n;
  }

  /** What baseLength characters become (retained plus inserted). */
  get targetLength() {
    let n = 0;
    for (const op of this.ops) if (op.type !== "delete") n += op.length;
    return n;
  }

  equals(other) {
    if (!(other instanceof TextChange) || other.ops.length !== this.ops.length) return false;
    return this.ops.every((op, i) => {
      const o = other.ops[i];
      return op.type === o.type && op.length === o.length && (op.type === "retain" || op.text === o.text);
    });
  }

  /** Plain JSON: [n | ["+", text] | ["-", text | n]] (for tests and logs). */
  toJSON() {
    return this.ops.map((op) =>
      op.type === "retain" ? op.length : op.type === "insert" ? ["+", op.text] : ["-", op.text ?? op.length],
    );
  }

  toString() {
    return `TextChange(${JSON.stringify(this.toJSON())})`;
  }

  /**
   * The text after the change; throws ChangeMismatchError if the change does not fit
   * (text too short, or other characters where it deletes known text).
   */
  apply(text) {
    const t = new CodePointString(text);
    const parts = [];
    let pos = 0;
    for (const op of this.ops) {
      if (op.type === "insert") {
        parts.push(op.text);
        continue;
      }
      const end = pos + op.length;
      if (end > t.length) throw new ChangeMismatchError(`the change reaches position ${this.baseLength}, the text is ${t.length} long`);
      const piece = t.slice(pos, end);
      if (op.type === "retain") parts.push(piece);
      else if (op.text !== null && piece !== op.text) {
        throw new ChangeMismatchError(`the change deletes ${JSON.stringify(op.text)} at ${pos}, the text has ${JSON.stringify(piece)}`);
      }
      pos = end;
    }
    parts.push(text.slice(t.u16(pos)));
    return parts.join("");
  }

  /** The change undoing this one; needs the deleted texts (throws for an unknown one). */
  invert() {
    const b = new Builder();
    for (const op of this.ops) {
      if (op.type === "retain") b.retain(op.length);
      else if (op.type === "insert") b.delete(op.text, op.length);
      else {
        if (op.text === null) throw new ChangeMismatchError("cannot invert a delete of unknown text (use withText)");
        b.insert(op.text, op.length);
      }
    }
    return b.build();
  }

  /** This change with every delete's text taken from `base` (its base text). */
  withText(base) {
    const t = new CodePointString(base);
    const b = new Builder();
    let pos = 0;
    for (const op of this.ops) {
      if (op.type === "insert") {
        b.insert(op.text, op.length);
        continue;
      }
      const end = pos + op.length;
      if (end > t.length) throw new ChangeMismatchError(`the change reaches position ${this.baseLength}, the text is ${t.length} long`);
      if (op.type === "retain") b.retain(op.length);
      else {
        const piece = t.slice(pos, end);
        if (op.text !== null && op.text !== piece) {
          throw new ChangeMismatchError(`the change deletes ${JSON.stringify(op.text)} at ${pos}, the text has ${JSON.stringify(piece)}`);
        }
        b.delete(piece, op.length);
      }
      pos = end;
    }
    return b.build();
  }

  compose(other) {
    return compose(this, other);
  }

  /**
   * Where position `pos` of the base is after the change.  assoc < 0 keeps a position
   * where text is inserted before it, assoc > 0 after it; inside a replaced or deleted
   * span: its start (assoc < 0) or end; at the very start of a replaced span: before
   * the new text, at its end: after it, whatever assoc.
   */
  mapPos(pos, assoc = -1) {
    if (pos < 0) throw new RangeError(`negative position ${pos}`);
    let old = 0;
    let nu = 0;
    const ops = this.ops;
    let i = 0;
    while (i < ops.length) {
      const op = ops[i++];
      if (op.type === "retain") {
        if (pos < old + op.length) return nu + pos - old;
        old += op.length;
        nu += op.length;
        continue;
      }
      let gone = 0;
      let added = 0;
      if (op.type === "delete") {
        gone = op.length;
        if (i < ops.length && ops[i].type === "insert") added = ops[i++].length;
      } else added = op.length;
      if (pos <= old + gone) {
        if (gone && pos === old) return nu;
        if (gone && pos === old + gone) return nu + added;
        return nu + (assoc > 0 ? added : 0);
      }
      old += gone;
      nu += added;
    }
    return nu + pos - old;
  }

  /** The change as engine edits ({kind: "ins", pos, text} / {kind: "del", pos, length}), in turn. */
  toEdits() {
    const edits = [];
    let pos = 0;
    for (const op of this.ops) {
      if (op.type === "retain") pos += op.length;
      else if (op.type === "delete") edits.push({ kind: "del", pos, length: op.length });
      else {
        edits.push({ kind: "ins", pos, text: op.text });
        pos += op.length;
      }
    }
    return edits;
  }
}

export const IDENTITY = TextChange._of([]);

/** The change replacing `deleted` (its text, or only its length) at `pos` by `inserted`. */
export function fromEdit(pos, deleted, inserted) {
  const known = typeof deleted === "string";
  const n = known ? cpLength(deleted) : deleted;
  if (!Number.isInteger(pos) || pos < 0 || !Number.isInteger(n) || n < 0) {
    throw new RangeError(`bad edit at ${pos} deleting ${n}`);
  }
  if (typeof inserted !== "string") throw new TypeError("the inserted text must be a string");
  const b = new Builder();
  b.retain(pos);
  b.delete(known ? deleted : null, n);
  b.insert(inserted);
  return b.build();
}

/**
 * One change doing the engine's `edits` in turn (composed as a balanced tree: a long
 * catch-up costs O(k log k)); with `base` the deletes carry their text.
 */
export function fromEdits(edits, base = null) {
  const changes = [];
  for (const e of edits) {
    if (e && e.kind === "ins" && typeof e.text === "string") changes.push(fromEdit(e.pos, "", e.text));
    else if (e && e.kind === "del" && Number.isInteger(e.length)) changes.push(fromEdit(e.pos, e.length, ""));
    else throw new TypeError(`not an edit: ${JSON.stringify(e)}`);
  }
  const change = composeAll(changes);
  return base === null ? change : change.withText(base);
}

/** `a` then `b` (b is over a's result); throws if b deletes known text where a inserted other text. */
export function compose(a, b) {
  const out = new Builder();
  const ca = new Cursor(a);
  const cb = new Cursor(b);
  for (;;) {
    const kb = cb.kind;
    if (kb === INSERT) {
      const n = cb.left;
      out.insert(cb.take(n), n);
      continue;
    }
    const ka = ca.kind;
    if (ka === DELETE) {
      const n = ca.left;
      out.delete(ca.take(n), n);
      continue;
    }
    if (ka === END) {
      if (kb === END) break;
      const n = cb.left;
      if (kb === RETAIN) {
        cb.take(n);
        out.retain(n);
      } else out.delete(cb.take(n), n);
      continue;
    }
    if (kb === END) {
      const n = ca.left;
      if (ka === RETAIN) {
        ca.take(n);
        out.retain(n);
      } else out.insert(ca.take(n), n);
      continue;
    }
    const n = Math.min(ca.left, cb.left);
    if (ka === RETAIN) {
      ca.take(n);
      if (kb === RETAIN) {
        cb.take(n);
        out.retain(n);
      } else out.delete(cb.take(n), n);
    } else {
      const text = ca.take(n);
      if (kb === RETAIN) {
        cb.take(n);
        out.insert(text, n);
      } else {
        const gone = cb.take(n);
        if (gone !== null && gone !== text) {
          throw new ChangeMismatchError(`the second change deletes ${JSON.stringify(gone)} where the first inserted ${JSON.stringify(text)}`);
        }
      }
    }
  }
  return out.build();
}

/** `changes` one after the other, composed pairwise as a balanced tree. */
export function composeAll(changes) {
  let items = [...changes];
  if (items.length === 0) return IDENTITY;
  while (items.length > 1) {
    const next = [];
    for (let i = 0; i < items.length; i += 2) next.push(i + 1 < items.length ? compose(items[i], items[i + 1]) : items[i]);
    items = next;
  }
  return items[0];
}

/**
 * [a2, b2] for two changes over one text: a then b2 equals b then a2.  Where both
 * insert at one place a's text comes first; an insert at the start of a span the
 * other deletes stays before it.
 */
export function transform(a, b) {
  const a2 = new Builder();
  const b2 = new Builder();
  const ca = new Cursor(a);
  const cb = new Cursor(b);
  for (;;) {
    const ka = ca.kind;
    const kb = cb.kind;
    if (ka === INSERT) {
      const n = ca.left;
      a2.insert(ca.take(n), n);
      b2.retain(n);
      continue;
    }
    if (kb === INSERT) {
      const n = cb.left;
      b2.insert(cb.take(n), n);
      a2.retain(n);
      continue;
    }
    if (ka === END && kb === END) break;
    if (ka === END) {
      const n = cb.left;
      if (kb === RETAIN) {
        cb.take(n);
        b2.retain(n);
      } else b2.delete(cb.take(n), n);
      continue;
    }
    if (kb === END) {
      const n = ca.left;
      if (ka === RETAIN) {
        ca.take(n);
        a2.retain(n);
      } else a2.delete(ca.take(n), n);
      continue;
    }
    const n = Math.min(ca.left, cb.left);
    const ta = ca.take(n);
    const tb = cb.take(n);
    if (ka === RETAIN && kb === RETAIN) {
      a2.retain(n);
      b2.retain(n);
    } else if (ka === DELETE && kb === RETAIN) a2.delete(ta, n);
    else if (ka === RETAIN) b2.delete(tb, n);
    // both delete it: neither needs to any more
  }
  return [a2.build(), b2.build()];
}

// -- diff ------------------------------------------------------------------------

// Myers' greedy O((N+M)·D) shortest edit script from a to b (Int32Arrays of code
// points), as runs [kind, start, end] in order, or null past maxD edits.  Same
// choices as the Python version (down -- an insert -- when it reaches further).
function myers(a, b, maxD) {
  const n = a.length;
  const m = b.length;
  if (Math.abs(n - m) > maxD) return null;
  const off = maxD + 1;
  const v = new Int32Array(2 * maxD + 3);
  const trace = [];
  let found = -1;
  for (let d = 0; d <= maxD && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    const snap = new Int32Array(d + 1);
    for (let i = 0; i <= d; i++) snap[i] = v[off - d + 2 * i];
    trace.push(snap);
  }
  if (found < 0) return null;
  const runs = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const prev = trace[d - 1];
    const k = x - y;
    const down = k === -d || (k !== d && prev[(k + d - 2) >> 1] < prev[(k + d) >> 1]);
    const pk = down ? k + 1 : k - 1;
    const px = prev[(pk + d - 1) >> 1];
    const py = px - pk;
    const sx = down ? px : px + 1;
    if (x > sx) runs.push([RETAIN, sx, x]);
    runs.push(down ? [INSERT, py, py + 1] : [DELETE, px, px + 1]);
    x = px;
    y = py;
  }
  if (x > 0) runs.push([RETAIN, 0, x]);
  runs.reverse();
  return runs;
}

/**
 * A change turning `oldText` into `newText` that keeps as many characters as it can:
 * the common prefix and suffix, then a shortest edit script of the middle (Myers),
 * so the characters kept are a longest common subsequence.  Past `maxD` inserted
 * plus deleted characters in the middle: one replaced span (bounded time).
 */
export function diff(oldText, newText, { maxD = DIFF_MAX_D } = {}) {
  if (oldText === newText) return IDENTITY;
  const A = new CodePointString(oldText);
  const B = new CodePointString(newText);
  const pa = A.points();
  const pb = B.points();
  const n = pa.length;
  const m = pb.length;
  const lim = Math.min(n, m);
  let p = 0;
  while (p < lim && pa[p] === pb[p]) p++;
  let s = 0;
  while (s < lim - p && pa[n - 1 - s] === pb[m - 1 - s]) s++;
  const a = pa.subarray(p, n - s);
  const b = pb.subarray(p, m - s);
  const out = new Builder();
  out.retain(p);
  const runs = a.length && b.length ? myers(a, b, maxD) : null;
  if (runs === null) {
    out.delete(A.slice(p, n - s), a.length);
    out.insert(B.slice(p, m - s), b.length);
    return out.build();
  }
  // each gap deletes one span of a and inserts one span of b: slice once per gap
  let ds = 0;
  let de = 0;
  let is = 0;
  let ie = 0;
  const flush = () => {
    out.delete(A.slice(p + ds, p + de), de - ds);
    out.insert(B.slice(p + is, p + ie), ie - is);
  };
  for (const [kind, start, end] of runs) {
    if (kind === RETAIN) {
      flush();
      out.retain(end - start);
      ds = de = is = ie = 0;
    } else if (kind === DELETE) {
      if (de === ds) ds = start;
      de = end;
    } else {
      if (ie === is) is = start;
      ie = end;
    }
  }
  flush();
  return out.build();
}
