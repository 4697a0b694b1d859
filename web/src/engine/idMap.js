// Which op inserted each character of the text: runs of LVs parallel to the text.
//
// A port of src/cowrite/engine/idmap.py.  Eg-walker keeps no per-character ids in
// its steady state; stable positions and undo need them anyway, so a Document
// builds this map the first time one of them is used (one checkout walk) and then
// keeps it in step with every edit.  Characters typed in one go have consecutive
// LVs, so a run `[lv, n]` stands for n characters.  Runs live in chunks of at most
// MAX runs, each with its character count, so seeking skips whole chunks, and a
// hint remembers the last chunk found (edits cluster where people type).

import { bisectRight } from './causalGraph.js';

const MAX = 64; // runs per chunk; a full chunk is split in halves
const NONE = 2 ** 52; // lower bound of an empty chunk

function chunkBounds(chunk) {
  if (!chunk.length) return [NONE, -1];
  let lo = Infinity;
  let hi = -1;
  for (const [lv, n] of chunk) {
    if (lv < lo) lo = lv;
    if (lv + n > hi) hi = lv + n;
  }
  return [lo, hi];
}

export class IdMap {
  constructor() {
    this.chunks = [[]]; // chunks of [lv, n] runs
    this.sizes = [0]; // characters per chunk
    // [min LV, max LV + 1] of each chunk, possibly loose (deletes do not shrink them)
    this.bounds = [[NONE, -1]];
    this.length = 0;
    this.hintCi = 0;
    this.hintBase = 0;
  }

  /** `[chunk index, offset in chunk]` of position `pos` (the last chunk at the end). */
  seek(pos) {
    const sizes = this.sizes;
    const last = sizes.length - 1;
    let ci = this.hintCi;
    let base = this.hintBase;
    if (ci > last) ci = base = 0;
    while (ci > 0 && pos < base) {
      ci--;
      base -= sizes[ci];
    }
    while (ci < last && pos >= base + sizes[ci]) {
      base += sizes[ci];
      ci++;
    }
    this.hintCi = ci;
    this.hintBase = base;
    return [ci, pos - base];
  }

  /** The LV of the character at `pos` (0 <= pos < length). */
  lvAt(pos) {
    if (!(pos >= 0 && pos < this.length)) throw new RangeError(`no character at ${pos}`);
    let [ci, off] = this.seek(pos);
    for (const [lv, n] of this.chunks[ci]) {
      if (off < n) return lv + off;
      off -= n;
    }
    throw new Error('IdMap sizes out of step');
  }

  /** Where the character inserted by `lv` is, or -1 if it is not in the text. */
  indexOf(lv) {
    let pos = 0;
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const b = this.bounds[ci];
      if (!(b[0] <= lv && lv < b[1])) {
        pos += this.sizes[ci];
        continue;
      }
      for (const [rlv, n] of this.chunks[ci]) {
        if (rlv <= lv && lv < rlv + n) return pos + lv - rlv;
        pos += n;
      }
    }
    return -1;
  }

  /**
   * Text ranges `[pos, n]` of the characters whose LVs fall in any of the sorted,
   * disjoint `lvRanges` (`[start, end)`); one pass over the runs.
   */
  findRanges(lvRanges) {
    const out = [];
    if (!lvRanges.length) return out;
    const starts = lvRanges.map((r) => r[0]);
    const lo = lvRanges[0][0];
    const hi = lvRanges[lvRanges.length - 1][1];
    let pos = 0;
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const bd = this.bounds[ci];
      if (bd[0] >= hi || bd[1] <= lo) {
        pos += this.sizes[ci];
        continue;
      }
      for (const [lv, n] of this.chunks[ci]) {
        if (lv < hi && lv + n > lo) {
          for (let j = Math.max(bisectRight(starts, lv) - 1, 0); j < lvRanges.length; j++) {
            const [ra, rb] = lvRanges[j];
            if (ra >= lv + n) break;
            const a = Math.max(lv, ra);
            const b = Math.min(lv + n, rb);
            if (a < b) {
              const p = pos + a - lv;
              const last = out[out.length - 1];
              if (last && last[0] + last[1] === p) last[1] += b - a;
              else out.push([p, b - a]);
            }
          }
        }
        pos += n;
      }
    }
    return out;
  }

  /** Characters `lv .. lv+n-1` were inserted at `pos`. */
  insert(pos, lv, n) {
    if (n <= 0) return;
    let [ci, off] = this.seek(pos);
    const chunk = this.chunks[ci];
    let i = 0;
    while (i < chunk.length && off > 0) {
      const rn = chunk[i][1];
      if (off < rn) {
        // split the run we land in
        const rlv = chunk[i][0];
        chunk[i][1] = off;
        chunk.splice(i + 1, 0, [rlv + off, rn - off]);
        i++;
        off = 0;
        break;
      }
      off -= rn;
      i++;
    }
    if (i > 0 && chunk[i - 1][0] + chunk[i - 1][1] === lv) chunk[i - 1][1] += n;
    else chunk.splice(i, 0, [lv, n]);
    this.sizes[ci] += n;
    this.length += n;
    const bd = this.bounds[ci];
    if (lv < bd[0]) bd[0] = lv;
    if (lv + n > bd[1]) bd[1] = lv + n;
    if (chunk.length > MAX) {
      const half = chunk.length >> 1;
      const tail = chunk.splice(half);
      let t = 0;
      for (const r of tail) t += r[1];
      this.chunks.splice(ci + 1, 0, tail);
      this.sizes[ci] -= t;
      this.sizes.splice(ci + 1, 0, t);
      this.bounds[ci] = chunkBounds(chunk);
      this.bounds.splice(ci + 1, 0, chunkBounds(tail));
    }
  }

  /** Remove `n` characters at `pos`; returns their `[lv, n]` runs in text order. */
  delete(pos, n) {
    const removed = [];
    if (n <= 0) return removed;
    if (pos < 0 || pos + n > this.length) throw new RangeError(`delete of ${n} at ${pos} outside ${this.length}`);
    let [ci, off] = this.seek(pos);
    let left = n;
    while (left) {
      const chunk = this.chunks[ci];
      let i = 0;
      while (i < chunk.length && left) {
        const [rlv, rn] = chunk[i];
        if (off >= rn) {
          off -= rn;
          i++;
          continue;
        }
        const take = Math.min(rn - off, left);
        removed.push([rlv + off, take]);
        if (off === 0 && take === rn) {
          chunk.splice(i, 1);
        } else if (off === 0) {
          chunk[i] = [rlv + take, rn - take];
          i++;
        } else if (off + take === rn) {
          chunk[i][1] = off;
          i++;
        } else {
          chunk[i][1] = off;
          chunk.splice(i + 1, 0, [rlv + off + take, rn - off - take]);
          i += 2;
        }
        off = 0;
        this.sizes[ci] -= take;
        left -= take;
      }
      if (!chunk.length && this.chunks.length > 1) {
        this.chunks.splice(ci, 1);
        this.sizes.splice(ci, 1);
        this.bounds.splice(ci, 1);
      } else {
        ci++;
      }
      off = 0;
    }
    this.length -= n;
    return removed;
  }

  /** Every `[lv, n]` run in text order. */
  *runs() {
    for (const chunk of this.chunks) for (const r of chunk) yield r;
  }
}
