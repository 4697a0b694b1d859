// @ts-check
/**
 * Keeping a merge's CRDT state for the next merge of the same branch.  A port of
 * src/cowrite/engine/merge/cache.py.
 *
 * While people keep typing concurrently there is no recent critical version, so
 * each merge would re-walk everything since the last one.  Keeping the walker's
 * state lets the next merge walk only what was added since: the local edits made
 * in between (as ops the branch has) and the new remote ops.  The checks here
 * decide when continuing a cached walk is both right and no dearer than a fresh one.
 */

import { sameFrontier } from '../causalGraph.js';

/** Local ops a cached walk may replay without checking that it is worth it. */
export const CATCH_UP = 64;

/** The CRDT state of a document's last merge, kept for the next one (see `mergeOps`). */
export class MergeCache {
  constructor() {
    /** @type {import('./walk.js').Walk|null} */
    this.walk = null;
    this.lvEnd = 0; // every LV below this has been walked into `walk`
    this.hits = 0;
    this.misses = 0;
  }

  clear() {
    this.walk = null;
  }
}

/**
 * Whether ops `newStart..` certainly continue the cached walk.  Every LV the walk
 * holds descends from its base (a critical version), and so does every later LV
 * whose parents are all at or after the base; if that holds for the new ops, the
 * merge needs nothing before the base and no search for the critical version.
 * Only for a small catch-up of local ops.
 * @param {import('../causalGraph.js').CausalGraph} cg
 * @param {MergeCache} cache
 * @param {number} newStart
 */
export function extendsCache(cg, cache, newStart) {
  const walk = cache.walk;
  if (!walk || !(cache.lvEnd <= newStart && newStart < cg.nextLv) || newStart - cache.lvEnd > CATCH_UP) return false;
  const base = walk.base;
  if (base.length > 1) return false;
  const floor = base.length ? base[0] : -1;
  // the parents of every piece of newStart.. (CausalGraph.iterRange's, read in place)
  const starts = cg.starts;
  let e = cg.entryOf(newStart);
  if (starts[e] !== newStart) {
    if (newStart - 1 < floor) return false; // mid-entry: its parent is the LV before
    e++;
  }
  for (; e < starts.length; e++) {
    const par = cg.parents[e];
    if (!par.length && floor >= 0) return false;
    for (let j = 0; j < par.length; j++) if (par[j] < floor) return false;
  }
  return true;
}

/**
 * Whether continuing the cached walk is right and no dearer than a fresh one.
 * @param {import('../causalGraph.js').CausalGraph} cg
 * @param {MergeCache} cache
 * @param {number[]} common
 * @param {Array<[number, number, number]>} spans
 * @param {Array<[number, number]>} news
 */
export function resumable(cg, cache, common, spans, news) {
  const walk = /** @type {import('./walk.js').Walk} */ (cache.walk);
  if (cache.lvEnd > news[0][0]) return false;
  let freshCost = 0;
  for (const [s, e] of spans) freshCost += e - s;
  if (news[0][0] - cache.lvEnd > freshCost) return false; // more local typing to catch up on than a fresh walk needs
  // the cached state starts at walk.base; the merge needs everything since `common`:
  // fine if `common` descends from (or is) the base
  return sameFrontier(walk.base, common) || !cg.diff(walk.base, common)[0].length;
}
