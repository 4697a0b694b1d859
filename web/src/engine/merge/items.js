// @ts-check
/**
 * The merge's temporary CRDT state: items (characters) as spans, in document
 * order.  A port of src/cowrite/engine/merge/items.py, without its chunks (here
 * the spans are one array; the Python engine groups them in chunks of cached
 * lengths so that a search by position skips whole chunks).
 *
 * While a merge walks concurrent history it needs, for a while, what a CRDT keeps
 * for ever: every character as an item with its origins, whether it is visible at
 * the version being prepared, and whether it is deleted in the effect version.
 * This module holds that state and nothing else:
 *
 * - `Span`: a run of items inserted by consecutive LVs;
 * - `State`: the spans in document order, an index from LV to span, and the
 *   targets of the delete ops walked (which items each delete removed).
 *
 * A state starts as one *placeholder* span that stands for the whole document at
 * the critical version the walk starts from: its characters are never needed,
 * only that they have positions.  Placeholder items have ids from PLACEHOLDER up,
 * which no real LV reaches.
 */

import { bisectRight } from '../causalGraph.js';

/** `Span.state`: not yet inserted at the prepare version. */
export const NYI = -1;
/** `Span.state`: visible at the prepare version; `k >= 1`: deleted `k` times there. */
export const INSERTED = 0;
/** `Span.state` of an item that one walked delete removed. */
export const DELETED_ONCE = 1;

/** An origin that is no item: the document start (left) or end (right). */
export const NO_ITEM = -1;

/**
 * Ids of placeholder items: never real LVs.  Below 2**30, so that every id, length
 * and position of a walk is a small integer to V8 (a Smi): a larger one would make
 * the fields of every Span and State doubles, boxed on each read and write until
 * the code is optimised, which is most of the first merge a fresh page makes.
 */
export const PLACEHOLDER = 2 ** 29;
/** The placeholder's length: longer than any document, so every position fits in it. */
export const PLACEHOLDER_LEN = 2 ** 28;
/**
 * The same for an op log of PLACEHOLDER_LEN LVs or more (no text is longer than
 * its op log, nor any LV beyond it): then the walk uses these (JS numbers are
 * exact far above).
 */
export const BIG_PLACEHOLDER = 2 ** 50;
export const BIG_PLACEHOLDER_LEN = 2 ** 40;

/**
 * Whether a walk over an op log of `nextLv` LVs needs the big placeholder.
 * @param {number} nextLv
 */
export function needsBigPlaceholder(nextLv) {
  return nextLv >= PLACEHOLDER_LEN;
}

/** How a delete record maps its ops to its targets (see `State.addDelTarget`). */
export const DELETE_FORWARD = 1;
export const DELETE_BACKWARD = -1;

/**
 * A run of items (characters) inserted by consecutive LVs `lv .. lv + n - 1`.
 *
 * `originLeft` is the left origin of the first item (each later item's is its
 * predecessor); `originRight` is the Fugue right parent of the first item (every
 * later item's is NO_ITEM).  `state` is the items' state at the prepare version
 * (NYI, INSERTED or a delete count), `deleted` whether they are deleted in the
 * effect version.
 */
export class Span {
  /**
   * @param {number} lv
   * @param {number} n
   * @param {number} originLeft
   * @param {number} originRight
   * @param {number} state
   * @param {boolean} deleted
   */
  constructor(lv, n, originLeft, originRight, state, deleted) {
    this.lv = lv;
    this.n = n;
    this.originLeft = originLeft;
    this.originRight = originRight;
    this.state = state;
    this.deleted = deleted;
  }
}

/**
 * Insert `x` into the sorted array `arr`.
 * @param {number[]} arr
 * @param {number} x
 */
export function insort(arr, x) {
  arr.splice(bisectRight(arr, x), 0, x);
}

/**
 * Compare `[spanIndex, offset]` places in document order.
 * @param {[number, number]} a
 * @param {[number, number]} b
 */
export function cmpPlace(a, b) {
  return a[0] - b[0] || a[1] - b[1];
}

/** The temporary CRDT: spans in document order, indexed by LV. */
export class State {
  /** @param {boolean} [big] use BIG_PLACEHOLDER (see needsBigPlaceholder) */
  constructor(big = false) {
    /** the first placeholder id and the placeholder's length */
    this.placeholder = big ? BIG_PLACEHOLDER : PLACEHOLDER;
    this.placeholderLen = big ? BIG_PLACEHOLDER_LEN : PLACEHOLDER_LEN;
    const ph = new Span(this.placeholder, this.placeholderLen, NO_ITEM, NO_ITEM, INSERTED, false);
    /** @type {Span[]} in document order */
    this.spans = [ph];
    /** @type {number[]} sorted span start LVs */
    this.starts = [this.placeholder];
    /** @type {Map<number, Span>} */
    this.byStart = new Map();
    this.byStart.set(this.placeholder, ph);
    /** @type {number[]} sorted first LVs of delete-target records */
    this.delStarts = [];
    /** @type {Map<number, [number, number, number]>} d0 -> [k, t0, direction] */
    this.dels = new Map();
    this.visibleLen = this.placeholderLen; // visible length at the prepare version (incl. placeholder)
    this.effectLen = this.placeholderLen; // visible length at the effect version (incl. placeholder)
  }

  /** Make sure a span starts at `lv` (if `lv` is inside a span). @param {number} lv */
  split(lv) {
    const i = bisectRight(this.starts, lv) - 1;
    if (i < 0) return;
    const s0 = this.starts[i];
    if (s0 === lv) return;
    const span = /** @type {Span} */ (this.byStart.get(s0));
    const k = lv - s0;
    if (k >= span.n) return;
    this.splitSpan(span, k, this.spans.indexOf(span));
  }

  /**
   * Cut `span` (at index `idx`) after its first `k` items; returns the second part.
   * @param {Span} span
   * @param {number} k
   * @param {number} idx
   */
  splitSpan(span, k, idx) {
    const lv = span.lv + k;
    const originLeft = span.lv >= this.placeholder ? NO_ITEM : lv - 1;
    const second = new Span(lv, span.n - k, originLeft, NO_ITEM, span.state, span.deleted);
    span.n = k;
    this.spans.splice(idx + 1, 0, second);
    insort(this.starts, lv);
    this.byStart.set(lv, second);
    return second;
  }

  /**
   * Place a new span at index `idx` of the document order.
   * @param {number} idx
   * @param {Span} span
   */
  insertSpan(idx, span) {
    this.spans.splice(idx, 0, span);
    insort(this.starts, span.lv);
    this.byStart.set(span.lv, span);
  }

  /**
   * The spans holding items `[start, end)`, split so they fit exactly.
   * @param {number} start
   * @param {number} end
   */
  spansIn(start, end) {
    this.split(start);
    this.split(end);
    const starts = this.starts;
    let i = bisectRight(starts, start) - 1;
    const out = [];
    while (i < starts.length && starts[i] < end) {
      out.push(/** @type {Span} */ (this.byStart.get(starts[i])));
      i++;
    }
    return out;
  }

  /**
   * `[span index, offset]` of item `lv`: its place in document order.
   * @param {number} lv
   * @returns {[number, number]}
   */
  indexOf(lv) {
    if (lv === NO_ITEM) return [-1, 0];
    const i = bisectRight(this.starts, lv) - 1;
    const span = /** @type {Span} */ (this.byStart.get(this.starts[i]));
    return [this.spans.indexOf(span), lv - span.lv];
  }

  /**
   * Record that delete ops `d0 .. d0 + k - 1` removed items from `t0` on, going
   * forward (DELETE_FORWARD) or backward (DELETE_BACKWARD) one item per op.
   * @param {number} d0
   * @param {number} k
   * @param {number} t0
   * @param {number} direction
   */
  addDelTarget(d0, k, t0, direction) {
    insort(this.delStarts, d0);
    this.dels.set(d0, [k, t0, direction]);
  }

  /**
   * Target LV ranges of the deletes `[start, end)`.
   * @param {number} start
   * @param {number} end
   * @returns {Array<[number, number]>}
   */
  delTargets(start, end) {
    const ds = this.delStarts;
    let i = Math.max(bisectRight(ds, start) - 1, 0);
    /** @type {Array<[number, number]>} */
    const out = [];
    while (i < ds.length && ds[i] < end) {
      const d0 = ds[i];
      const rec = /** @type {[number, number, number]} */ (this.dels.get(d0));
      const k = rec[0];
      const t0 = rec[1];
      const direction = rec[2];
      const a = Math.max(start, d0);
      const b = Math.min(end, d0 + k);
      if (a < b) {
        if (direction === DELETE_FORWARD) out.push([t0 + a - d0, t0 + b - d0]);
        else out.push([t0 - (b - 1 - d0), t0 - (a - d0) + 1]);
      }
      i++;
    }
    return out;
  }
}
