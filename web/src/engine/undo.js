// Per-user undo and redo that never touches anyone else's text.
//
// A port of src/cowrite/engine/undo.py (its docstring and the engine README
// explain the semantics).  An UndoManager records one replica's *local* edits in
// steps: a burst of edits with no pause over `captureTimeout` (ms), or one
// `group(fn)` call.  Remote edits are never recorded.  Undo never rewinds history:
// it makes new ordinary ops from character ids, so it stays right after others
// edit around the text:
//
// * undoing an insert deletes the characters that step typed that still exist;
// * undoing a delete re-types the characters at their tombstone gaps, except
//   those someone else deleted too and those the same step typed;
// * each undo is recorded as a redo step (and vice versa); a new local edit
//   clears the redo stack.

import { bisectRight } from './causalGraph.js';
import { EngineError } from './errors.js';
import { locate } from './merge/index.js';

/** This user inserted characters `lv .. lv+n-1`. */
class Ins {
  constructor(lv, n) {
    this.lv = lv;
    this.n = n;
  }
}

/**
 * This user's delete ops `lv ..`, made at version `parents`, removed `chars`
 * (code points) at `pos` there, whose ids are the LV runs `ids`.  `left`/`right`:
 * ids of the characters beside the deleted range right after it (-1: none).
 */
class Del {
  constructor(lv, parents, pos, chars, ids, left, right) {
    this.lv = lv;
    this.parents = parents;
    this.pos = pos;
    this.chars = chars;
    this.ids = ids;
    this.left = left;
    this.right = right;
  }
}

class Step {
  constructor(now) {
    this.recs = [];
    this.time = now;
  }
}

/** The span touched by an undo, kept in the coordinates of the latest text. */
class Selection {
  constructor() {
    this.lo = -1;
    this.hi = -1;
    this.typed = false; // anything re-typed (else the result is a caret)
  }

  result() {
    return { anchor: this.lo, head: this.typed ? this.hi : this.lo };
  }

  inserted(pos, n) {
    this.typed = true;
    if (this.lo < 0) {
      this.lo = pos;
      this.hi = pos + n;
      return;
    }
    if (pos <= this.lo) this.lo += n;
    if (pos <= this.hi) this.hi += n;
    this.lo = Math.min(this.lo, pos);
    this.hi = Math.max(this.hi, pos + n);
  }

  deleted(pos, n) {
    if (this.lo < 0) {
      this.lo = this.hi = pos;
      return;
    }
    const move = (x) => (x <= pos ? x : x <= pos + n ? pos : x - n);
    this.lo = Math.min(move(this.lo), pos);
    this.hi = Math.max(move(this.hi), pos);
  }
}

const NEIGHBOUR_SCAN = 64;

/** Undo/redo stacks for the local user of a Document. */
export class UndoManager {
  /**
   * @param {import('./document.js').Document} doc
   * @param {{captureTimeout?: number, clock?: () => number}} [options] captureTimeout
   *   in ms (default 500); clock: a monotonic time in ms (default Date.now).
   */
  constructor(doc, { captureTimeout = 500, clock = () => Date.now() } = {}) {
    if (doc.undoHook) throw new EngineError('this document already has an UndoManager');
    if (!(captureTimeout >= 0)) throw new RangeError('captureTimeout must be >= 0');
    this.doc = doc;
    this.captureTimeout = captureTimeout;
    this.clock = clock;
    this.undoStack = [];
    this.redoStack = [];
    this.recording = null; // the inverse being built by undo/redo
    this.sel = null;
    this.boundary = true; // the next edit starts a new step
    this.groupDepth = 0;
    // Re-typed characters are new characters.  redone.get(old) = new lets a later
    // undo of the step that typed `old` find the copy that stands for it now.
    this.redone = new Map();
    doc.idMap(); // deleted characters are recorded by id from now on
    doc.undoHook = this;
  }

  get canUndo() {
    return this.undoStack.length > 0;
  }

  get canRedo() {
    return this.redoStack.length > 0;
  }

  /** End the current step: the next edit starts a new one. */
  stopCapturing() {
    this.boundary = true;
  }

  /** Run `fn()`; every edit it makes is one undo step (groups may nest). Returns fn's result. */
  group(fn) {
    if (this.groupDepth === 0) this.boundary = true;
    this.groupDepth++;
    try {
      return fn();
    } finally {
      this.groupDepth--;
      if (this.groupDepth === 0) this.boundary = true;
    }
  }

  clear() {
    this.undoStack = [];
    this.redoStack = [];
    this.redone.clear();
    this.boundary = true;
  }

  /** Stop recording (the stacks are dropped). */
  detach() {
    this.clear();
    if (this.doc.undoHook === this) this.doc.undoHook = null;
  }

  /** Reverse this user's last step that still has an effect: `{anchor, head}` to select, or null. */
  undo() {
    return this.popAndRun(this.undoStack, this.redoStack);
  }

  /** Re-apply the last undone step: `{anchor, head}`, or null if there is nothing to redo. */
  redo() {
    return this.popAndRun(this.redoStack, this.undoStack);
  }

  // -- recording (called by the Document for local edits) ----------------------------

  current() {
    if (this.recording) return this.recording;
    const now = this.clock();
    this.redoStack = [];
    let top = this.undoStack[this.undoStack.length - 1];
    if (!top || this.boundary || (this.groupDepth === 0 && now - top.time > this.captureTimeout)) {
      top = new Step(now);
      this.undoStack.push(top);
    }
    this.boundary = false;
    top.time = now;
    return top;
  }

  onInsert(lv, pos, n) {
    if (this.sel) this.sel.inserted(pos, n);
    const recs = this.current().recs;
    const last = recs[recs.length - 1];
    if (last instanceof Ins && last.lv + last.n === lv) last.n += n;
    else recs.push(new Ins(lv, n));
  }

  onDelete(lv, parents, pos, text, ids, left, right) {
    const chars = Array.from(text);
    if (this.sel) this.sel.deleted(pos, chars.length);
    const recs = this.current().recs;
    [left, right] = this.outerNeighbours(recs, pos, left, right);
    const last = recs[recs.length - 1];
    if (last instanceof Del && parents.length === 1 && parents[0] === last.lv + last.chars.length - 1) {
      if (pos + chars.length === last.pos) {
        // backspace again
        last.pos = pos;
        last.chars = chars.concat(last.chars);
        last.ids = ids.concat(last.ids);
        last.left = left;
        return;
      }
      if (pos === last.pos) {
        // delete key again
        last.chars = last.chars.concat(chars);
        last.ids = last.ids.concat(ids);
        last.right = right;
        return;
      }
    }
    recs.push(new Del(lv, parents, pos, chars, ids, left, right));
  }

  /** The nearest characters beside a delete that this step did not type. */
  outerNeighbours(recs, pos, left, right) {
    const typed = recs.filter((r) => r instanceof Ins).map((r) => [r.lv, r.lv + r.n]);
    if (!typed.length) return [left, right];
    const ids = this.doc.ids;
    const mine = (lv) => typed.some(([a, b]) => a <= lv && lv < b);
    let i = pos - 1;
    while (left >= 0 && mine(left)) {
      i--;
      left = i >= 0 && pos - i <= NEIGHBOUR_SCAN ? ids.lvAt(i) : -1;
    }
    let j = pos;
    while (right >= 0 && mine(right)) {
      j++;
      right = j < ids.length && j - pos <= NEIGHBOUR_SCAN ? ids.lvAt(j) : -1;
    }
    return [left, right];
  }

  // -- running a step --------------------------------------------------------------

  popAndRun(source, dest) {
    this.boundary = true;
    while (source.length) {
      const step = source.pop();
      const inverse = new Step(this.clock());
      const sel = new Selection();
      this.recording = inverse;
      this.sel = sel;
      try {
        this.run(step);
      } finally {
        this.recording = null;
        this.sel = null;
      }
      if (inverse.recs.length) {
        dest.push(inverse);
        this.boundary = true;
        return sel.result();
      }
    }
    return null;
  }

  /** Re-type what the step deleted, then delete what it typed. */
  run(step) {
    const doc = this.doc;
    const typed = step.recs
      .filter((r) => r instanceof Ins)
      .map((r) => [r.lv, r.lv + r.n])
      .sort((x, y) => x[0] - y[0]);
    this.retype(
      step.recs.filter((r) => r instanceof Del),
      typed,
    );
    if (typed.length) {
      const ranges = doc.idMap().findRanges(this.withCopies(typed));
      for (let k = ranges.length - 1; k >= 0; k--) doc.delete(ranges[k][0], ranges[k][1]); // last first: indices stay put
    }
  }

  /** `typed` plus the latest re-typed copy of every character in it. */
  withCopies(typed) {
    const redone = this.redone;
    if (!redone.size) return typed;
    const extra = [];
    const follow = (lv) => {
      while (redone.has(lv)) lv = redone.get(lv);
      return lv;
    };
    for (const [a, b] of typed) {
      if (b - a < redone.size) {
        for (let lv = a; lv < b; lv++) if (redone.has(lv)) extra.push(follow(lv));
      } else {
        for (const k of redone.keys()) if (a <= k && k < b) extra.push(follow(k));
      }
    }
    if (!extra.length) return typed;
    const all = typed.concat(extra.map((x) => [x, x + 1])).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const merged = [];
    for (const [a, b] of all) {
      const last = merged[merged.length - 1];
      if (last && a <= last[1]) last[1] = Math.max(b, last[1]);
      else merged.push([a, b]);
    }
    return merged;
  }

  /**
   * Type again what the deletes `dels` (in the order they were made) removed: each
   * character at its tombstone's gap in the current text (found for all of them
   * before anything is typed), bounded by the neighbours its delete recorded.  The
   * characters bound for one gap are typed there as one run, in the order of their
   * tombstones: they keep their order even when everything around them is gone.
   */
  retype(dels, typed) {
    const doc = this.doc;
    const oplog = doc.oplog;
    const starts = typed.map((r) => r[0]);
    const typedHere = (cid) => {
      const i = bisectRight(starts, cid) - 1;
      return i >= 0 && cid < typed[i][1];
    };
    const heads = oplog.cg.heads;
    const redone = this.redone;
    const ids = doc.idMap();
    const size = doc.length;
    // [gap, delete k, offset j in its text] of every character to type, the gap in
    // the text as it is before this undo types anything
    const entries = [];
    const charIds = dels.map(() => []);
    const retyped = dels.map(() => []); // the offsets j, per delete
    const placed = new Map(); // character id -> the gap it goes to
    // newest first: an older delete's neighbours may be a newer one's characters
    for (let k = dels.length - 1; k >= 0; k--) {
      const rec = dels[k];
      const n = rec.chars.length;
      const cids = [];
      for (const [lv, k0] of rec.ids) for (let i = 0; i < k0; i++) cids.push(lv + i);
      charIds[k] = cids;
      // characters the same step typed and deleted: nothing to restore
      const wanted = [];
      cids.forEach((cid, j) => {
        if (!typedHere(cid)) wanted.push(j);
      });
      if (!wanted.length) continue;
      const found = locate(
        oplog,
        rec.parents,
        wanted.map((j) => rec.pos + j),
        heads,
      );
      const gaps = [];
      wanted.forEach((j, w) => {
        const loc = found[w];
        if (loc.alive || loc.deleters.some((d) => !(rec.lv <= d && d < rec.lv + n))) return; // still there, or someone else deleted it too
        gaps.push([j, loc.pos]);
      });
      if (!gaps.length) continue;
      // The tombstone gap is the place, but copies re-typed by earlier undos sit
      // before every tombstone at their gap, which can put them on the wrong side of
      // ours.  The neighbours recorded at delete time (their live copies, or where
      // this undo types them) bound the place exactly.
      let lo = 0;
      let hi = size;
      for (const [right, id] of [
        [false, rec.left],
        [true, rec.right],
      ]) {
        let lv = id;
        if (lv < 0) continue;
        while (redone.has(lv)) lv = redone.get(lv);
        let g = placed.get(lv);
        if (g === undefined) {
          const i = ids.indexOf(lv);
          if (i < 0) continue;
          g = right ? i : i + 1;
        }
        if (right) hi = g;
        else lo = g;
      }
      if (lo > hi) {
        // the neighbours were moved apart by concurrent edits
        lo = 0;
        hi = size;
      }
      for (const [j, gap] of gaps) {
        const g = Math.min(Math.max(gap, lo), hi);
        entries.push([g, k, j]);
        retyped[k].push(j);
        placed.set(cids[j], g);
      }
    }
    if (!entries.length) return;
    // Within one gap: the order of the tombstones.  One delete's are in the order of
    // its text.  For two deletes, the older one's characters are followed to the
    // newer one's version, where they are tombstones among the newer's text.
    const followed = new Map();
    const order = (x, y) => {
      if (x[0] !== y[0]) return x[0] - y[0];
      if (x[1] === y[1]) return x[2] - y[2];
      const flip = x[1] > y[1];
      const [a, b] = flip ? [y, x] : [x, y];
      const older = dels[a[1]];
      const newer = dels[b[1]];
      const key = a[1] * dels.length + b[1];
      let at = followed.get(key);
      if (at === undefined) {
        const js = retyped[a[1]];
        const found = locate(
          oplog,
          older.parents,
          js.map((j) => older.pos + j),
          newer.parents,
        );
        at = new Map(js.map((j, w) => [j, [found[w].pos, found[w].alive]]));
        followed.set(key, at);
      }
      const [pos, alive] = at.get(a[2]);
      const idx = newer.pos + b[2];
      const first = pos < idx || (pos === idx && !alive); // a tombstone at gap g precedes character g
      return flip ? (first ? 1 : -1) : first ? -1 : 1;
    };
    entries.sort(order);
    let shift = 0;
    let i = 0;
    while (i < entries.length) {
      const g = entries[i][0];
      let e = i + 1;
      while (e < entries.length && entries[e][0] === g) e++;
      const run = entries.slice(i, e);
      const fresh = oplog.cg.nextLv;
      doc.insert(g + shift, run.map(([, k, j]) => dels[k].chars[j]).join(''));
      run.forEach(([, k, j], m) => redone.set(charIds[k][j], fresh + m));
      shift += e - i;
      i = e;
    }
  }
}
