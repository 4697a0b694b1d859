// @ts-check
/**
 * Planning a merge: which ops to walk, in what order, and where the critical
 * points are.  A port of src/cowrite/engine/merge/plan.py.
 *
 * A merge from a branch at version `branch` to `branch ∪ merge` only needs the
 * history since the last *critical version* the two share
 * (`CausalGraph.findConflicting`): every op after it is walked, first those the
 * branch already has (to rebuild the CRDT state; nothing is emitted), then the
 * new ones (each emitted as an edit of the branch text).
 *
 * A *critical point* between two pieces of the walk is a place where everything
 * walked so far is an ancestor of everything still to come: there the CRDT state
 * can be thrown away and replaced by a fresh placeholder, and a stretch between
 * two critical points with no concurrency is applied to the text directly.
 */

import { ONLY_B } from '../causalGraph.js';

/**
 * @typedef {[number, number, number[], boolean]} Piece LVs `[start, end)`, the
 *   parents of `start`, and whether to emit them (new ops)
 * @typedef {Array<[number, number, number]>} Spans `[start, end, flag]` from findConflicting
 */

/** A critical point at the empty version (before a root op). */
export const ROOT = -1;
/** The critical point after the last piece (always one). */
export const END = -3;

/**
 * The last critical version shared by `branch` and `merge` and the spans since
 * it, or null if `merge` adds nothing to `branch`.
 * @param {import('../causalGraph.js').CausalGraph} cg
 * @param {number[]} branch
 * @param {number[]} merge
 * @returns {[number[], Spans]|null}
 */
export function findPlan(cg, branch, merge) {
  const [common, spans] = cg.findConflicting(branch, merge);
  if (!spans.some((/** @type {number[]} */ sp) => sp[2] === ONLY_B)) return null;
  return [common, /** @type {Spans} */ (spans)];
}

/**
 * The pieces to walk, in a topological order: first what the branch has, then the rest.
 * @param {import('../causalGraph.js').CausalGraph} cg
 * @param {Spans} spans
 * @returns {Piece[]}
 */
export function piecesSince(cg, spans) {
  /** @type {Piece[]} */
  const pieces = [];
  for (let i = 0; i < spans.length; i++) if (spans[i][2] !== ONLY_B) appendPieces(cg, pieces, spans[i][0], spans[i][1], false);
  for (let i = 0; i < spans.length; i++) if (spans[i][2] === ONLY_B) appendPieces(cg, pieces, spans[i][0], spans[i][1], true);
  return pieces;
}

/**
 * Append the pieces of LVs `[start, end)` to `pieces`: one per graph entry they
 * touch (CausalGraph.iterRange, without its intermediate list).
 * @param {import('../causalGraph.js').CausalGraph} cg
 * @param {Piece[]} pieces
 * @param {number} start
 * @param {number} end
 * @param {boolean} emit
 */
export function appendPieces(cg, pieces, start, end, emit) {
  const starts = cg.starts;
  let i = cg.entryOf(start);
  while (start < end) {
    const eStart = starts[i];
    const eEnd = i + 1 < starts.length ? starts[i + 1] : cg.nextLv;
    const stop = eEnd < end ? eEnd : end;
    pieces.push([start, stop, start === eStart ? cg.parents[i] : [start - 1], emit]);
    start = stop;
    i++;
  }
}

/**
 * Append `x` to the (few) distinct values `xs` unless it is there.
 * @param {number[]} xs
 * @param {number} x
 */
function addOnce(xs, x) {
  for (let i = 0; i < xs.length; i++) if (xs[i] === x) return;
  xs.push(x);
}

/**
 * For each piece `i`, the critical version just before it (as one LV, or ROOT),
 * or null if there is none; entry `pieces.length` is END.
 *
 * A point before piece `i` is critical when the parents reaching outside the
 * suffix `i..` all collapse into one version: the frontier of what has been
 * walked, if the walk got there (the walk checks that).
 * @param {Piece[]} pieces
 * @returns {Array<number|null>}
 */
export function criticalPoints(pieces) {
  const n = pieces.length;
  /** @type {Array<number|null>} every entry is set below */
  const crit = new Array(n + 1);
  /** @type {number[]} the distinct parents reaching outside the suffix `i..` */
  const ext = [];
  for (let i = n - 1; i >= 0; i--) {
    const piece = pieces[i];
    const s = piece[0];
    const e = piece[1];
    const par = piece[2];
    let k = 0;
    for (let j = 0; j < ext.length; j++) {
      const x = ext[j];
      if (!(s <= x && x < e)) ext[k++] = x;
    }
    ext.length = k;
    if (par.length) {
      for (let j = 0; j < par.length; j++) addOnce(ext, par[j]);
    } else {
      addOnce(ext, ROOT);
    }
    crit[i] = ext.length === 1 ? ext[0] : null;
  }
  crit[n] = END;
  return crit;
}
