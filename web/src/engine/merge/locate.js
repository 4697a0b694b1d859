// @ts-check
/**
 * Following characters from one version to another: where did they go, are they
 * still there?  A port of src/cowrite/engine/merge/locate.py.
 *
 * Cursors, undo and blame need character identity, which Eg-walker's steady state
 * (text + op log) does not keep.  `locate` recovers it on demand with one merge
 * walk that carries a `Probes` tracker: in stretches with no concurrency the
 * tracked characters are moved by index arithmetic; in concurrent stretches they
 * are items of the walk's CRDT state, so Fugue decides where they are; across a
 * reset of the state (a critical version) they are read off by index and put into
 * the fresh state again, a deleted one as a *tombstone marker*.
 */

import { DEL_BACK, INS } from '../oplog.js';
import { DELETED_ONCE, NO_ITEM, Span, State, needsBigPlaceholder } from './items.js';
import { findPlan, piecesSince } from './plan.js';
import { Walk } from './walk.js';

/** Where a tracked character ended up: see `locate`. */
export class Located {
  /** @param {number} pos @param {boolean} alive */
  constructor(pos, alive) {
    this.pos = pos;
    this.alive = alive;
    /** @type {number[]} LVs of the walked delete ops that hit it */
    this.deleters = [];
  }
}

/**
 * A text length that makes every length check pass (the ops are already in the
 * log): longer than any text of an op log that fits the small placeholder, and a
 * small integer, like every other number of such a walk (see PLACEHOLDER).
 */
export const UNCHECKED_LEN = 2 ** 29;
/** The same for the op logs that need the big placeholder. */
const BIG_UNCHECKED_LEN = 2 ** 39;

/**
 * Follow characters from version `branch` to `branch ∪ target`.  `indices` name
 * characters of the text at `branch`.  For each, the result says whether it is
 * still there and its index in the new text; a deleted character's `pos` is its
 * tombstone's place (how many surviving characters precede it), and `deleters`
 * lists every walked delete op that removed it.  Costs one merge walk from
 * `branch`; ops are trusted (already in the op log).
 * @param {import('../oplog.js').OpLog} oplog
 * @param {number[]} branch
 * @param {number[]} indices
 * @param {number[]} target
 * @returns {Located[]}
 */
export function locate(oplog, branch, indices, target) {
  const found = indices.map((i) => new Located(i, true));
  const plan = findPlan(oplog.cg, branch, target);
  if (plan && found.length) {
    const [common, spans] = plan;
    const textLen = needsBigPlaceholder(oplog.cg.nextLv) ? BIG_UNCHECKED_LEN : UNCHECKED_LEN;
    const walk = new Walk(oplog, piecesSince(oplog.cg, spans), common, textLen, []);
    walk.tracker = new Probes(found);
    walk.run();
  }
  return found;
}

/**
 * The Tracker (walk.js) of `locate`.  While `keys` is null every probe is
 * described by index (`pos`, `alive`) in the effect text; otherwise `keys[i]` is
 * the id of probe `i`'s item.
 */
export class Probes {
  /** @param {Located[]} probes */
  constructor(probes) {
    this.probes = probes;
    /** @type {number[]|null} */
    this.keys = null;
    this.marker = -1; // ids for tombstone markers count down from the placeholder's (set at the first seed)
  }

  /** Identify the probes (indices in the effect text) as items of the state. @param {State} st */
  find(st) {
    const spans = st.spans;
    const keys = [];
    for (const p of this.probes) {
      let eff = 0;
      let i = 0;
      for (;;) {
        let span = spans[i];
        if (!span.deleted) {
          if (eff + span.n > p.pos) {
            const k = p.pos - eff;
            if (k) {
              span = st.splitSpan(span, k, i);
              i++;
            }
            if (span.n > 1) st.splitSpan(span, 1, i);
            keys.push(span.lv);
            break;
          }
          eff += span.n;
        }
        i++;
      }
    }
    this.keys = keys;
  }

  /** Read every probe's index and liveness off the state (before a reset). @param {State} st */
  extract(st) {
    const keys = this.keys;
    if (keys === null) return;
    /** @type {Map<number, number>} */
    const where = new Map();
    keys.forEach((k, j) => {
      if (!where.has(k)) where.set(k, j);
    });
    let eff = 0;
    for (const span of st.spans) {
      const j = span.n === 1 ? (where.get(span.lv) ?? -1) : -1;
      if (j >= 0) {
        for (let jj = j; jj < keys.length; jj++) {
          if (keys[jj] === span.lv) {
            this.probes[jj].pos = eff;
            this.probes[jj].alive = !span.deleted;
          }
        }
      }
      if (!span.deleted) eff += span.n;
    }
    this.keys = null;
  }

  /**
   * Put index-described probes into a fresh placeholder state.  A live probe is
   * placeholder character `pos`; a deleted one becomes a dead marker item just
   * before placeholder character `pos` (later inserts at that gap go right after
   * their left neighbour, so before the marker, as before the real tombstone).
   * @param {State} st
   */
  seed(st) {
    if (this.keys !== null) return;
    if (this.marker < 0) this.marker = st.placeholder;
    const keys = [];
    for (const p of this.probes) {
      if (p.alive) {
        keys.push(st.spansIn(st.placeholder + p.pos, st.placeholder + p.pos + 1)[0].lv);
      } else {
        if (p.pos) st.split(st.placeholder + p.pos);
        this.marker -= 1;
        const m = new Span(this.marker, 1, NO_ITEM, NO_ITEM, DELETED_ONCE, true);
        const idx = p.pos ? st.spans.indexOf(/** @type {Span} */ (st.byStart.get(st.placeholder + p.pos))) : 0;
        st.insertSpan(idx, m);
        keys.push(m.lv);
      }
    }
    this.keys = keys;
  }

  /**
   * Move index-described probes over one op run applied to the text.
   * @param {number} kind
   * @param {number} lv
   * @param {number} pos
   * @param {number} n
   */
  direct(kind, lv, pos, n) {
    for (const p of this.probes) {
      if (kind === INS) {
        if (pos <= p.pos) p.pos += n;
      } else if (p.pos >= pos) {
        if (p.pos >= pos + n) {
          p.pos -= n;
        } else {
          if (p.alive) {
            p.alive = false;
            const k = p.pos - pos;
            p.deleters.push(kind !== DEL_BACK ? lv + k : lv + n - 1 - k);
          }
          p.pos = pos;
        }
      }
    }
  }

  /**
   * Delete op `by` removed `item`: note it on every probe that is that item.
   * @param {number} item
   * @param {number} by
   */
  deleted(item, by) {
    const keys = this.keys;
    if (keys === null) return;
    keys.forEach((key, j) => {
      if (key === item) this.probes[j].deleters.push(by);
    });
  }
}
