// @ts-check
/**
 * The Eg-walker merge: transform ops from the event graph into edits on a text.
 * The package API and its entry points; a port of src/cowrite/engine/merge/
 * (`__init__.py` and `merge.py`), after diamond-types' listmerge/.  The engine
 * README explains the algorithm with worked examples.  It must give exactly the
 * Python engine's text for every history:
 *
 * 1. Find the last critical version `c` shared by the branch and the ops to merge
 *    (CausalGraph.findConflicting; plan.js); only what comes after it is walked.
 * 2. A temporary CRDT state (items.js) starts as one *placeholder* span standing
 *    for the document at `c`: its characters are never needed, only its length.
 * 3. Walk the ops since `c` (walk.js): first those the branch has (rebuilding the
 *    state, emitting nothing), then the new ones.  Before each op, retreat/advance
 *    ops so the state shows the op's parent version ("prepare" version), apply it
 *    there, and emit it at its position in the *effect* version (everything walked).
 * 4. Concurrent inserts at one spot are ordered by Fugue (FugueMax/YjsMod), ties
 *    broken by (agent, seq) compared like Python tuples.
 * 5. Whenever the walk passes a critical version the state is reset to a fresh
 *    placeholder, and ops between two critical versions are applied directly.
 *
 * The state is thrown away after the merge, or kept for the next one by a
 * MergeCache (cache.js).  `locate` (locate.js) reuses the walk to follow
 * characters from one version to another.
 *
 * Modules: items (spans, the state), plan (pieces and critical points), walk
 * (retreat/advance/apply/integrate, the direct path), locate (tracked characters),
 * cache (MergeCache), index (the entry points).
 */

import { ONLY_B, sameFrontier } from '../causalGraph.js';
import { MergeCache, extendsCache, resumable } from './cache.js';
import { needsBigPlaceholder } from './items.js';
import { appendPieces, piecesSince } from './plan.js';
import { Walk, direct } from './walk.js';

export { MergeCache } from './cache.js';
export { Located, locate } from './locate.js';

/**
 * @typedef {import('./walk.js').XfOp} XfOp
 * @typedef {import('./plan.js').Piece} Piece
 */

/**
 * Edits that bring a text at version `branch` (length `textLen`, code points) to
 * `branch ∪ merge`: returns `[xf, newVersion]` where xf is a list of
 * `{kind: 'ins', pos, text}` / `{kind: 'del', pos, length}` to apply in order.
 * If `insLvs` is an array, the first LV of every emitted insert is pushed to it.
 * Throws InvalidOpError if a new op does not fit the document at its parents
 * (the caller then rolls the op log back and clears the cache).
 *
 * `cache` (optional, a MergeCache) keeps the walker's state between merges of a
 * branch that is always at the op log's heads between merges (a Document's).
 * `newStart` (with `cache`): the new ops are exactly the LVs from there on.
 * @param {import('../oplog.js').OpLog} oplog
 * @param {number} textLen
 * @param {number[]} branch
 * @param {number[]} merge
 * @param {number[]|null} [insLvs]
 * @param {MergeCache|null} [cache]
 * @param {number|null} [newStart]
 * @returns {[XfOp[], number[]]}
 */
export function mergeOps(oplog, textLen, branch, merge, insLvs = null, cache = null, newStart = null) {
  /** @type {XfOp[]} */
  const out = [];
  const cg = oplog.cg;
  // The log's heads are the frontier of every op it has, so a merge up to them (a
  // document's every merge) ends there whatever the branch was: no graph walk.
  const newVersion = sameFrontier(merge, cg.heads) ? cg.heads : cg.reduce(branch.concat(merge));
  // a walk's placeholder ids lie above every LV it will meet: past the small ones' range, start afresh
  if (cache && cache.walk && cache.walk.big !== needsBigPlaceholder(cg.nextLv)) cache.walk = null;
  let walk;
  if (cache && newStart !== null && extendsCache(cg, cache, newStart)) {
    walk = continueWalk(cg, cache, [[newStart, cg.nextLv]]);
  } else {
    // the rarer path, kept out of this function so that the JIT compiles the
    // common one small and early
    walk = plannedWalk(oplog, textLen, branch, merge, out, cache);
    if (walk === null) return [out, newVersion];
  }
  walk.out = out;
  walk.textLen = textLen;
  walk.lvsOut = insLvs;
  walk.run();
  walk.lvsOut = null;
  if (cache) {
    cache.walk = walk;
    cache.lvEnd = cg.nextLv;
  }
  return [out, newVersion];
}

/**
 * The cached walk, given the pieces to walk next: the ops added since it last ran
 * up to the new ones (the branch has them: not emitted), then the new ones.
 * @param {import('../causalGraph.js').CausalGraph} cg
 * @param {MergeCache} cache
 * @param {Array<[number, number]>} news
 * @returns {Walk}
 */
function continueWalk(cg, cache, news) {
  cache.hits++;
  const walk = /** @type {Walk} */ (cache.walk);
  /** @type {Piece[]} */
  const pieces = [];
  appendPieces(cg, pieces, cache.lvEnd, news[0][0], false);
  for (let i = 0; i < news.length; i++) appendPieces(cg, pieces, news[i][0], news[i][1], true);
  walk.pieces = pieces;
  return walk;
}

/**
 * The walk of a merge planned from the last critical version the branch and the
 * ops share: the cached walk continued if that is right and no dearer, else a
 * fresh one; null if `merge` adds nothing to `branch`.
 * @param {import('../oplog.js').OpLog} oplog
 * @param {number} textLen
 * @param {number[]} branch
 * @param {number[]} merge
 * @param {XfOp[]} out
 * @param {MergeCache|null} cache
 * @returns {Walk|null}
 */
function plannedWalk(oplog, textLen, branch, merge, out, cache) {
  const cg = oplog.cg;
  const found = cg.findConflicting(branch, merge);
  const common = found[0];
  const spans = found[1];
  /** @type {Array<[number, number]>} */
  const news = [];
  for (let i = 0; i < spans.length; i++) if (spans[i][2] === ONLY_B) news.push([spans[i][0], spans[i][1]]);
  if (!news.length) return null;
  if (cache && cache.walk && !resumable(cg, cache, common, spans, news)) cache.walk = null;
  if (cache && cache.walk) return continueWalk(cg, cache, news);
  if (cache) cache.misses++;
  return new Walk(oplog, piecesSince(cg, spans), common, textLen, out);
}

/**
 * The edits of ops `start..end` when they follow one another on top of a branch
 * of `textLen` characters: the first op's parents are the branch's version, each
 * later op's parent is the op before it.  No concurrency, so no walk: each op run
 * is its own edit, checked against the text length (as a walk's direct stretches
 * are).  Throws InvalidOpError if an op does not fit; the caller rolls back.
 * @param {import('../oplog.js').OpLog} oplog
 * @param {number} textLen
 * @param {number} start
 * @param {number} end
 * @param {number[]|null} [insLvs]
 * @returns {XfOp[]}
 */
export function directEdits(oplog, textLen, start, end, insLvs = null) {
  /** @type {XfOp[]} */
  const out = [];
  direct(oplog, textLen, start, end, out, insLvs);
  return out;
}
