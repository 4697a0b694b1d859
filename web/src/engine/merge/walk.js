// @ts-check
/**
 * The walk: replaying ops into the temporary CRDT state and emitting the new ones
 * as edits.  A port of src/cowrite/engine/merge/walk.py.
 *
 * Before each op the *prepare version* of the state is moved to the op's parents
 * (`Walk.moveTo`: retreat the ops not in them, advance the ones that are), then
 * the op is applied there.  Each item also tracks whether it is deleted in the
 * *effect version* (everything walked so far), which is the branch text plus what
 * has been emitted; a new op is emitted at its effect position.  Concurrent
 * inserts at one place are ordered by the Fugue rule (`Walk.integrate`), ties
 * broken by (agent, seq) compared like Python tuples.  At critical points the
 * state is thrown away, and a stretch with no concurrency at all is applied to
 * the text directly (`direct`).
 *
 * A walk can carry a Tracker (`locate` does, see locate.js): it follows chosen
 * characters through the walk.  The walk calls it at a few hooks and otherwise
 * knows nothing about it.
 */

import { compareRaw, sameFrontier } from '../causalGraph.js';
import { InvalidOpError } from '../errors.js';
import { DEL_BACK, INS } from '../oplog.js';
import {
  DELETED_ONCE,
  DELETE_BACKWARD,
  DELETE_FORWARD,
  INSERTED,
  NO_ITEM,
  NYI,
  Span,
  State,
  cmpPlace,
  needsBigPlaceholder,
} from './items.js';
import { END, ROOT, criticalPoints } from './plan.js';

/**
 * @typedef {{kind: 'ins', pos: number, text: string} | {kind: 'del', pos: number, length: number}} XfOp
 *   a transformed edit for the branch text (code points)
 * @typedef {import('./plan.js').Piece} Piece
 * @typedef {import('../oplog.js').OpLog} OpLog
 */

/**
 * Follows characters through a walk (see locate.js).  While `keys` is null the
 * tracked characters are described by index in the effect text and the state is
 * a bare placeholder; otherwise `keys[i]` is the id of character `i`'s item.
 * @typedef {object} Tracker
 * @property {number[]|null} keys
 * @property {(st: State) => void} find identify the characters (indices in the effect text) as items of `st`
 * @property {(st: State) => void} extract read every character's index and liveness off `st` (before a reset)
 * @property {(st: State) => void} seed put index-described characters into a fresh placeholder state
 * @property {(kind: number, lv: number, pos: number, n: number) => void} direct
 *   move index-described characters over one op run applied to the text
 * @property {(item: number, by: number) => void} deleted delete op `by` removed item `item` (a one-item span)
 */

/**
 * Append the edits of ops `start..end` (no concurrency) to `out`, checking each
 * against the text length, which starts at `trueLen`; return the length after
 * them.  The first LV of every insert goes to `insLvs` (if given);
 * `onOp(kind, lv, pos, n)` sees each op run first (a tracker).
 * Throws InvalidOpError if an op does not fit.
 * @param {OpLog} oplog
 * @param {number} trueLen
 * @param {number} start
 * @param {number} end
 * @param {XfOp[]} out
 * @param {number[]|null} insLvs
 * @param {Tracker|null} [tracker]
 * @returns {number}
 */
export function direct(oplog, trueLen, start, end, out, insLvs, tracker = null) {
  // the op columns read in place (OpLog.iterOps without its lists)
  const starts = oplog.opStarts;
  for (let i = oplog.runAt(start); start < end; i++) {
    const rs = starts[i];
    const rn = oplog.opLens[i];
    const stop = rs + rn < end ? rs + rn : end;
    const ps = start;
    const ln = stop - ps;
    let kind = oplog.opKinds[i];
    let pos = oplog.opPos[i];
    if (kind === INS) pos += ps - rs;
    else if (kind === DEL_BACK) pos += rn - (stop - rs);
    start = stop;
    if (tracker) tracker.direct(kind, ps, pos, ln);
    if (kind === INS) {
      if (pos > trueLen) throw new InvalidOpError(`insert at ${pos} past the end of a ${trueLen}-character document`);
      out.push({ kind: 'ins', pos, text: oplog.insertedText(i, ps - rs, stop - rs) });
      if (insLvs) insLvs.push(ps);
      trueLen += ln;
    } else {
      if (pos + ln > trueLen) {
        throw new InvalidOpError(`delete of ${ln} at ${pos} past the end of a ${trueLen}-character document`);
      }
      out.push({ kind: 'del', pos, length: ln });
      trueLen -= ln;
    }
  }
  return trueLen;
}

/**
 * The frontier after walking `lv` (whose parents are `parents`) on top of `frontier`.
 * @param {number[]} frontier
 * @param {number[]} parents
 * @param {number} lv
 */
function advance(frontier, parents, lv) {
  if (sameFrontier(frontier, parents)) return [lv];
  const out = [];
  let placed = false;
  for (let i = 0; i < frontier.length; i++) {
    const x = frontier[i];
    if (parents.includes(x)) continue;
    if (!placed && lv < x) {
      out.push(lv);
      placed = true;
    }
    out.push(x);
  }
  if (!placed) out.push(lv);
  return out;
}

/**
 * Whether an item `lv`, placed right after `left` with `left`'s last item as its
 * left origin and no right origin, may join `left`'s run: a span's later items are
 * exactly such items (consecutive LVs, each after its predecessor, one state).
 * @param {Span} left
 * @param {number} lv
 */
function extendable(left, lv) {
  return left.lv + left.n === lv && left.state === INSERTED && !left.deleted;
}

/**
 * One merge walk over `pieces` from the critical version `common`.  `textLen` is
 * the branch text's length (what new ops are checked against); emitted edits go
 * to `out`.  A walk kept in a MergeCache is run again with more pieces: the
 * fields after `tracker` carry its progress.
 */
export class Walk {
  /**
   * @param {OpLog} oplog
   * @param {Piece[]} pieces
   * @param {number[]} common
   * @param {number} textLen
   * @param {XfOp[]} out
   */
  constructor(oplog, pieces, common, textLen, out) {
    this.oplog = oplog;
    this.pieces = pieces;
    this.version = common; // the prepare version of the state
    this.textLen = textLen;
    this.out = out;
    this.big = needsBigPlaceholder(oplog.cg.nextLv); // every State of this walk is big or none
    this.st = new State(this.big);
    this.offset = -1; // effectLen - true effect length, once known
    this.foundEff = 0; // the effect position `find` found
    /** @type {number[]|null} */
    this.lvsOut = null;
    /** @type {Tracker|null} */
    this.tracker = null;
    // Carried from one run to the next when the walk is cached (MergeCache):
    this.base = common; // the version the state's placeholder stands for
    this.walkedFrontier = common; // the frontier of everything walked
    this.fresh = true; // the state is a bare placeholder
    this.offsetKnown = false;
  }

  run() {
    const pieces = this.pieces;
    const n = pieces.length;
    const crit = criticalPoints(pieces);
    const tracker = this.tracker;
    let walked = this.walkedFrontier;
    let fresh = this.fresh;
    let offsetKnown = this.offsetKnown;
    let i = 0;
    while (i < n) {
      const piece = pieces[i];
      const s = piece[0];
      const e = piece[1];
      const par = piece[2];
      const emit = piece[3];
      if (emit && !offsetKnown) {
        this.offset = this.st.effectLen - this.textLen;
        offsetKnown = true;
        if (tracker && !fresh) tracker.find(this.st);
      }
      const ci = crit[i];
      const atCritical =
        ci !== null && ((ci === ROOT && !walked.length) || (walked.length === 1 && walked[0] === ci));
      if (atCritical && emit) {
        if (!fresh) {
          if (tracker) tracker.extract(this.st);
          const trueLen = this.st.effectLen - this.offset;
          this.st = new State(this.big);
          this.offset = this.st.placeholderLen - trueLen;
          fresh = true;
        }
        this.version = par;
        this.base = par;
        // a stretch with no concurrency: apply straight to the text
        const nxt = crit[i + 1];
        if (nxt !== null && (nxt === END || nxt === e - 1)) {
          this.applyDirect(s, e);
          walked = [e - 1];
          this.version = walked;
          this.base = walked;
          i++;
          continue;
        }
      } else if (atCritical && !tracker) {
        // Catching up on ops the branch has (a cached walk): past a critical point
        // nothing walked before matters, so the state starts over from a
        // placeholder, and the effect offset is measured again at the first new op
        // (the branch text is then exactly the effect text).
        if (!fresh) {
          this.st = new State(this.big);
          fresh = true;
        }
        offsetKnown = false;
        this.version = par;
        this.base = par;
        const nxt = crit[i + 1];
        if (nxt !== null && (nxt === END || nxt === e - 1)) {
          // no concurrency until the next critical point: nothing to walk
          walked = [e - 1];
          this.version = walked;
          this.base = walked;
          i++;
          continue;
        }
      }
      if (fresh && emit && tracker) tracker.seed(this.st);
      fresh = false;
      this.moveTo(par);
      this.apply(s, e, emit);
      this.version = [e - 1];
      walked = advance(walked, par, e - 1);
      i++;
    }
    this.walkedFrontier = walked;
    this.fresh = fresh;
    this.offsetKnown = offsetKnown;
    if (tracker) tracker.extract(this.st);
  }

  // -- direct application (no concurrency) ----------------------------------------

  /** @param {number} s @param {number} e */
  applyDirect(s, e) {
    const trueLen = direct(this.oplog, this.st.effectLen - this.offset, s, e, this.out, this.lvsOut, this.tracker);
    // the fresh placeholder now stands for the text after these ops
    this.offset = this.st.placeholderLen - trueLen;
  }

  // -- moving the prepare version ------------------------------------------------

  /** @param {number[]} target */
  moveTo(target) {
    if (sameFrontier(this.version, target)) return;
    const d = this.oplog.cg.diff(this.version, target);
    const onlyCur = d[0];
    const onlyTarget = d[1];
    for (let k = onlyCur.length - 1; k >= 0; k--) this.retreatAdvance(onlyCur[k][0], onlyCur[k][1], -1);
    for (let k = 0; k < onlyTarget.length; k++) this.retreatAdvance(onlyTarget[k][0], onlyTarget[k][1], 1);
    this.version = target;
  }

  /**
   * Retreat (`step` -1) or advance (+1) the ops `[start, end)` in the state.
   * @param {number} start
   * @param {number} end
   * @param {number} step
   */
  retreatAdvance(start, end, step) {
    // op run by op run (the op columns read in place), backwards when retreating
    const st = this.st;
    const oplog = this.oplog;
    const starts = oplog.opStarts;
    const first = oplog.runAt(start);
    const last = oplog.runAt(end - 1);
    for (let k = 0; k <= last - first; k++) {
      const i = step > 0 ? first + k : last - k;
      const rs = starts[i];
      const re = rs + oplog.opLens[i];
      const s = rs > start ? rs : start;
      const e = re < end ? re : end;
      if (oplog.opKinds[i] === INS) {
        const spans = st.spansIn(s, e);
        for (let j = 0; j < spans.length; j++) {
          const span = spans[j];
          if (step > 0) {
            span.state = INSERTED;
            st.visibleLen += span.n;
          } else {
            span.state = NYI;
            st.visibleLen -= span.n;
          }
        }
        continue;
      }
      const targets = st.delTargets(s, e);
      for (let t = 0; t < targets.length; t++) {
        const spans = st.spansIn(targets[t][0], targets[t][1]);
        for (let j = 0; j < spans.length; j++) {
          const span = spans[j];
          const old = span.state;
          span.state = old + step;
          if (old === INSERTED) st.visibleLen -= span.n;
          else if (span.state === INSERTED) st.visibleLen += span.n;
        }
      }
    }
  }

  // -- applying ops at the prepare version -----------------------------------------

  /** @param {number} s @param {number} e @param {boolean} emit */
  apply(s, e, emit) {
    // the op columns read in place (OpLog.iterOps without its lists); an insert's
    // text is only needed when it is emitted
    const oplog = this.oplog;
    const starts = oplog.opStarts;
    for (let i = oplog.runAt(s); s < e; i++) {
      const rs = starts[i];
      const rn = oplog.opLens[i];
      const stop = rs + rn < e ? rs + rn : e;
      const kind = oplog.opKinds[i];
      const pos = oplog.opPos[i];
      if (kind === INS) this.insert(s, stop - s, pos + s - rs, emit ? oplog.insertedText(i, s - rs, stop - rs) : '', emit);
      else if (kind === DEL_BACK) this.delete(s, stop, kind, pos + rn - (stop - rs), emit);
      else this.delete(s, stop, kind, pos, emit);
      s = stop;
    }
  }

  /**
   * A new op must fit the document at its parents (once the true length is known).
   * @param {number} pos
   * @param {number} n
   * @param {boolean} emit
   * @param {string} what the op, `n` after it when a delete (formatted only on failure)
   */
  checkLen(pos, n, emit, what) {
    if (emit) {
      const trueLen = this.st.visibleLen - this.offset;
      if (pos + n > trueLen) {
        throw new InvalidOpError(`${n ? `${what} ${n}` : what} at ${pos} past the end of a ${trueLen}-character document`);
      }
    }
  }

  /**
   * An emitted edit must lie inside the branch text.  It always does when the
   * history walked fits the text; a loaded document's history is not replayed
   * (the codec checks only cheap bounds), so one that does not fit is found here,
   * as an op that cannot apply, before any edit reaches the text.
   * @param {number} eff the edit's position in the effect text
   * @param {number} n characters it removes
   * @param {number} change how much it changed the state's effect length (already applied)
   * @param {string} what the op, `n` after it when a delete (formatted only on failure)
   */
  checkEffect(eff, n, change, what) {
    const trueLen = this.st.effectLen - change - this.offset; // the text's length before this edit
    if (eff + n > trueLen) {
      throw new InvalidOpError(`${n ? `${what} ${n}` : what} lands at ${eff}, past the end of the ${trueLen}-character text: the history does not fit the text`);
    }
  }

  /**
   * The index just after the pos-th visible item (splits a span if needed); the
   * effect position there goes to `this.foundEff` (no pair allocated per op).
   * @param {number} pos
   * @returns {number}
   */
  find(pos) {
    const st = this.st;
    const spans = st.spans;
    this.foundEff = 0;
    if (pos === 0) return 0;
    let cur = 0;
    let eff = 0;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i];
      if (span.state === INSERTED) {
        const n = span.n;
        if (cur + n >= pos) {
          const k = pos - cur;
          if (k < n) st.splitSpan(span, k, i);
          if (!span.deleted) eff += k;
          this.foundEff = eff;
          return i + 1;
        }
        cur += n;
      }
      if (!span.deleted) eff += span.n;
    }
    throw new InvalidOpError(`position ${pos} past the end of the document`);
  }

  /**
   * @param {number} lv
   * @param {number} n
   * @param {number} pos
   * @param {string} content
   * @param {boolean} emit
   */
  insert(lv, n, pos, content, emit) {
    const st = this.st;
    this.checkLen(pos, 0, emit, 'insert');
    let idx = this.find(pos);
    let eff = this.foundEff;
    const spans = st.spans;
    let originLeft = NO_ITEM;
    if (idx > 0) {
      const left = spans[idx - 1];
      originLeft = left.lv + left.n - 1;
    }
    // Fugue right parent: the next item that is not concurrent, if it has the same left origin
    let originRight = NO_ITEM;
    for (let j = idx; j < spans.length; j++) {
      const nxt = spans[j];
      if (nxt.state !== NYI) {
        if (nxt.originLeft === originLeft) originRight = nxt.lv;
        break;
      }
    }
    if (idx < spans.length && spans[idx].state === NYI) {
      const place = this.integrate(lv, originLeft, originRight, idx, eff);
      idx = place[0];
      eff = place[1];
      st.insertSpan(idx, new Span(lv, n, originLeft, originRight, INSERTED, false));
    } else if (originRight === NO_ITEM && idx > 0 && this.tracker === null && extendable(spans[idx - 1], lv)) {
      spans[idx - 1].n += n; // typing on: the item continues its left neighbour's run
    } else {
      st.insertSpan(idx, new Span(lv, n, originLeft, originRight, INSERTED, false));
    }
    st.visibleLen += n;
    st.effectLen += n;
    if (emit) {
      this.checkEffect(eff, 0, n, 'insert');
      this.out.push({ kind: 'ins', pos: eff, text: content });
      if (this.lvsOut) this.lvsOut.push(lv);
    }
  }

  /**
   * Fugue/YjsMod: where among the concurrent items at `idx` the new item goes.
   * @param {number} lv
   * @param {number} originLeft
   * @param {number} originRight
   * @param {number} idx
   * @param {number} eff
   * @returns {[number, number]}
   */
  integrate(lv, originLeft, originRight, idx, eff) {
    const st = this.st;
    const spans = st.spans;
    /** @type {[number, number]} */
    const left = idx > 0 ? [idx - 1, spans[idx - 1].n - 1] : [-1, 0];
    /** @type {[number, number]} */
    const end = [spans.length, 0];
    const right = originRight === NO_ITEM ? end : st.indexOf(originRight);
    const cg = this.oplog.cg;
    const me = cg.lvToRaw(lv);
    let scanning = false;
    let scan = idx;
    let scanEff = eff;
    while (scan < spans.length) {
      const other = spans[scan];
      if (other.state !== NYI) break;
      const oleft = st.indexOf(other.originLeft);
      const c = cmpPlace(oleft, left);
      if (c < 0) break;
      if (c === 0) {
        const oright = other.originRight === NO_ITEM ? end : st.indexOf(other.originRight);
        const cr = cmpPlace(oright, right);
        if (cr === 0 && compareRaw(me, cg.lvToRaw(other.lv)) < 0) break;
        scanning = cr < 0;
      }
      if (!other.deleted) scanEff += other.n;
      scan++;
      if (!scanning) {
        idx = scan;
        eff = scanEff;
      }
    }
    return [idx, eff];
  }

  /**
   * @param {number} s
   * @param {number} e
   * @param {number} kind
   * @param {number} pos
   * @param {boolean} emit
   */
  delete(s, e, kind, pos, emit) {
    const st = this.st;
    const n = e - s;
    this.checkLen(pos, n, emit, 'delete of');
    let idx = this.find(pos);
    let eff = this.foundEff;
    const spans = st.spans;
    let remaining = n;
    let done = 0; // items deleted so far, in document order
    const out = this.out;
    const tracker = this.tracker;
    while (remaining) {
      const span = spans[idx];
      if (span.state !== INSERTED) {
        if (!span.deleted) eff += span.n;
        idx++;
        continue;
      }
      let k = span.n;
      if (k > remaining) {
        st.splitSpan(span, remaining, idx);
        k = remaining;
      }
      let d0;
      if (kind === DEL_BACK) {
        d0 = e - done - k;
        st.addDelTarget(d0, k, span.lv + k - 1, DELETE_BACKWARD);
      } else {
        d0 = s + done;
        st.addDelTarget(d0, k, span.lv, DELETE_FORWARD);
      }
      if (k === 1 && tracker && tracker.keys !== null) tracker.deleted(span.lv, d0);
      span.state = DELETED_ONCE; // it was INSERTED
      st.visibleLen -= k;
      if (!span.deleted) {
        span.deleted = true;
        st.effectLen -= k;
        if (emit) {
          this.checkEffect(eff, k, -k, 'delete of');
          const last = out[out.length - 1];
          if (last && last.kind === 'del' && last.pos === eff) last.length += k;
          else out.push({ kind: 'del', pos: eff, length: k });
        }
      }
      done += k;
      remaining -= k;
      idx++;
    }
  }
}
