// CodeMirror counts UTF-16 code units; the engine counts code points.  An
// AstralIndex remembers where the astral characters (surrogate pairs: emoji and
// friends) are, so converting between the two is O(log k) for k astral characters
// and free when there are none -- no scan of the text per keystroke.  It is an
// immutable value, updated from each transaction's changes in O(k + changed text).

/** Is `c` (a UTF-16 code unit) a high / low surrogate? */
const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/** The number of code points in a JS string. */
export function cpLength(s) {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/** The UTF-16 offset of code point `cp` in `s` (clamped to the end). O(cp). */
export function cpToUtf16(s, cp) {
  let i = 0;
  for (let n = 0; n < cp && i < s.length; n++) {
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
  }
  return i;
}

/** Text as a plain string, from a string or a CodeMirror Text. */
function slice(doc, from, to) {
  return typeof doc === "string" ? doc.slice(from, to) : doc.sliceString(from, to);
}

// offsets of the high surrogates of the pairs in `doc` within [from, to) (the pair
// may end at `to`), pushed onto `out`; returns the end of the scanned span.
function scan(doc, from, to, out) {
  const len = doc.length;
  if (from >= to) return from;
  const text = slice(doc, from, Math.min(len, to + 1));
  let end = to;
  for (let i = 0; i < to - from; i++) {
    if (isHigh(text.charCodeAt(i)) && isLow(text.charCodeAt(i + 1))) {
      out.push(from + i);
      end = Math.max(end, from + i + 2);
      i++;
    }
  }
  return end;
}

export class AstralIndex {
  /** @param {number[]} offsets UTF-16 offsets of the high surrogate of every pair, ascending */
  constructor(offsets) {
    this.offsets = offsets;
  }

  /** The index of a whole text (a string or a CodeMirror Text). O(text). */
  static build(doc) {
    const out = [];
    if (typeof doc === "string") {
      scan(doc, 0, doc.length, out);
      return new AstralIndex(out);
    }
    // CodeMirror Text: walk its chunks without joining them (pairs never span lines).
    let pos = 0;
    for (const iter = doc.iter(); !iter.next().done; ) {
      const chunk = iter.value;
      if (!iter.lineBreak) {
        for (let i = 0; i < chunk.length - 1; i++) {
          if (isHigh(chunk.charCodeAt(i)) && isLow(chunk.charCodeAt(i + 1))) {
            out.push(pos + i);
            i++;
          }
        }
      }
      pos += chunk.length;
    }
    return new AstralIndex(out);
  }

  get count() {
    return this.offsets.length;
  }

  /**
   * The index after a CodeMirror ChangeSet `changes` turned its old text into `newDoc`.
   * Pairs away from the changes move with the mapping; the changed spans (and one
   * unit either side, in case a change touched half a pair) are scanned again.
   */
  map(changes, newDoc) {
    if (changes.empty) return this;
    const offs = this.offsets;
    const out = [];
    const newLen = newDoc.length;
    let i = 0;
    let delta = 0; // new - old offset in the unchanged span being copied
    let scanned = 0; // new offsets below this are final
    const keep = (limit) => {
      for (; i < offs.length && offs[i] + 2 <= limit; i++) {
        const n = offs[i] + delta;
        if (n >= scanned) out.push(n);
      }
    };
    changes.iterChanges((fromA, toA, fromB, toB) => {
      keep(fromA);
      while (i < offs.length && offs[i] < toA) i++; // removed, or straddling an edge: rescanned
      const from = Math.max(scanned, fromB - 1, 0);
      const to = Math.min(toB + 1, newLen);
      scanned = Math.max(scanned, scan(newDoc, from, to, out));
      delta = toB - toA;
    });
    keep(Infinity);
    if (out.length === 0 && offs.length === 0) return this;
    return new AstralIndex(out);
  }

  /** The code point index of UTF-16 offset `u16` (inside a pair: the pair's start). */
  toCp(u16) {
    const offs = this.offsets;
    if (offs.length === 0) return u16;
    // number of pairs starting before u16
    let lo = 0;
    let hi = offs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offs[mid] < u16) lo = mid + 1;
      else hi = mid;
    }
    return u16 - lo;
  }

  /** The UTF-16 offset of code point index `cp`. */
  toU16(cp) {
    const offs = this.offsets;
    if (offs.length === 0) return cp;
    // number of pairs whose code point index (offs[j] - j) is below cp
    let lo = 0;
    let hi = offs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offs[mid] - mid < cp) lo = mid + 1;
      else hi = mid;
    }
    return cp + lo;
  }

  /** Code points in a text of `u16Length` units described by this index. */
  cpLength(u16Length) {
    return u16Length - this.offsets.length;
  }
}
