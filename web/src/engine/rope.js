// A chunked text indexed by code points: the current text of a Document.
//
// Why not a plain string?  The engine counts code points while JS strings count
// UTF-16 units, so every edit needs a code-point -> unit conversion, and replacing
// a 100 kB string for every edit of a big merge copies the whole text each time.
// Short chunks (each with its code-point count) bound both costs by the chunk
// size; the last chunk found is remembered because edits cluster.

const MAX = 1024; // longest chunk in code points; longer ones are split
const HALF = MAX >> 1;

/** Number of code points in a well-formed string. */
export function cpCount(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) n--;
  }
  return n;
}

/** The UTF-16 index of code point `cp` in `s` (s.length if cp is at the end). */
export function cpToUnit(s, cp, sCp = -1) {
  if (sCp === s.length) return cp; // no astral characters: units are code points
  let u = 0;
  for (let k = 0; k < cp; k++) {
    const c = s.charCodeAt(u);
    u += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return u;
}

/** Split a string into pieces of at most `size` code points. */
function pieces(text, size) {
  const out = [];
  let u = 0;
  while (u < text.length) {
    let v = u;
    let k = 0;
    while (v < text.length && k < size) {
      const c = text.charCodeAt(v);
      v += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
      k++;
    }
    out.push([text.slice(u, v), k]);
    u = v;
  }
  return out;
}

export class Rope {
  constructor(text = '') {
    const ps = pieces(text, HALF);
    this.chunks = ps.map((p) => p[0]);
    this.counts = ps.map((p) => p[1]); // code points per chunk
    if (!this.chunks.length) {
      this.chunks.push('');
      this.counts.push(0);
    }
    this.length = ps.reduce((a, p) => a + p[1], 0);
    this.str = text;
    this.hintCi = 0; // a chunk index and the code point it starts at
    this.hintStart = 0;
  }

  toString() {
    if (this.str === null) this.str = this.chunks.join('');
    return this.str;
  }

  /**
   * The index of the chunk holding code point `pos` (0 <= pos <= length); it
   * starts at code point `this.hintStart`.
   */
  locate(pos) {
    let ci = this.hintCi;
    let start = this.hintStart;
    if (ci >= this.chunks.length) ci = start = 0;
    while (ci > 0 && pos < start) {
      ci--;
      start -= this.counts[ci];
    }
    while (ci < this.chunks.length - 1 && pos > start + this.counts[ci]) {
      start += this.counts[ci];
      ci++;
    }
    this.hintCi = ci;
    this.hintStart = start;
    return ci;
  }

  /** The text of code points `[start, end)`. */
  slice(start, end) {
    if (start >= end) return '';
    let ci = this.locate(start);
    let off = start - this.hintStart;
    const out = [];
    let left = end - start;
    while (left > 0) {
      const ch = this.chunks[ci];
      const n = this.counts[ci];
      const take = Math.min(n - off, left);
      if (take > 0) {
        const a = cpToUnit(ch, off, n);
        const b = cpToUnit(ch, off + take, n);
        out.push(ch.slice(a, b));
        left -= take;
      }
      off = 0;
      ci++;
    }
    return out.join('');
  }

  /** Insert `text` (`n` code points) before code point `pos`. */
  insert(pos, text, n = cpCount(text)) {
    // callers check positions; one outside the text is a bug (never loop or corrupt)
    if (!(pos >= 0 && pos <= this.length)) throw new RangeError(`rope insert at ${pos} outside 0..${this.length}`);
    if (!n) return;
    const ci = this.locate(pos);
    const off = pos - this.hintStart;
    const ch = this.chunks[ci];
    const u = cpToUnit(ch, off, this.counts[ci]);
    const joined = ch.slice(0, u) + text + ch.slice(u);
    const total = this.counts[ci] + n;
    if (total <= MAX) {
      this.chunks[ci] = joined;
      this.counts[ci] = total;
    } else {
      this.replaceChunk(ci, joined);
    }
    this.length += n;
    this.str = null;
  }

  /** Put `text` in place of chunk `ci`, cut into chunks of HALF code points (the rare path of insert). */
  replaceChunk(ci, text) {
    const ps = pieces(text, HALF);
    this.chunks.splice(ci, 1, ...ps.map((p) => p[0]));
    this.counts.splice(ci, 1, ...ps.map((p) => p[1]));
  }

  /** Delete `n` code points at `pos`; returns the deleted text. */
  delete(pos, n) {
    if (!(pos >= 0 && pos + n <= this.length)) throw new RangeError(`rope delete of ${n} at ${pos} outside a ${this.length}-character text`);
    if (n <= 0) return '';
    let ci = this.locate(pos);
    let off = pos - this.hintStart;
    const removed = [];
    let left = n;
    while (left > 0) {
      const ch = this.chunks[ci];
      const cnt = this.counts[ci];
      const take = Math.min(cnt - off, left);
      if (take > 0) {
        const a = cpToUnit(ch, off, cnt);
        const b = cpToUnit(ch, off + take, cnt);
        removed.push(ch.slice(a, b));
        this.chunks[ci] = ch.slice(0, a) + ch.slice(b);
        this.counts[ci] = cnt - take;
        left -= take;
      }
      if (!this.counts[ci] && this.chunks.length > 1) {
        this.chunks.splice(ci, 1);
        this.counts.splice(ci, 1);
      } else {
        ci++;
      }
      off = 0;
    }
    this.length -= n;
    this.str = null;
    return removed.join('');
  }
}
