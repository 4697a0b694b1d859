// The Eg-walker merge: transform ops from the event graph into edits on a text.
//
// A port of src/cowrite/engine/walker.py (without its MergeCache); the engine
// README explains the algorithm with worked examples.  It must give exactly the
// Python engine's text for every history, so the structure follows walker.py
// closely:
//
// 1. Find the last critical version `c` shared by the branch and the ops to merge
//    (CausalGraph.findConflicting); only what comes after it is walked.
// 2. A temporary CRDT state starts as one *placeholder* span standing for the
//    document at `c`: its characters are never needed, only its length.
// 3. Walk the ops since `c`: first those the branch has (rebuilding the state,
//    emitting nothing), then the new ones.  Before each op, retreat/advance ops so
//    the state shows the op's parent version ("prepare" version), apply it there,
//    and emit it at its position in the *effect* version (everything walked).
// 4. Concurrent inserts at one spot are ordered by Fugue (FugueMax/YjsMod) in
//    `integrate`, ties broken by (agent, seq) compared like Python tuples.
// 5. Whenever the walk passes a critical version the state is reset to a fresh
//    placeholder, and ops between two critical versions are applied directly.
//
// Items are spans of characters typed by consecutive LVs, split only where
// concurrent edits land.  The state is thrown away after the merge.

import { ONLY_B, bisectRight, compareRaw, sameFrontier } from './causalGraph.js';
import { InvalidOpError } from './errors.js';
import { DEL_BACK, INS } from './oplog.js';

const NYI = -1; // not yet inserted at the prepare version
const INSERTED = 0; // visible at the prepare version; >= 1: deleted that many times

const PH = 2 ** 50; // ids of placeholder items: never real LVs
const BIG = 2 ** 40; // placeholder length: longer than any document
const UNCHECKED_LEN = 2 ** 39; // a text length that makes every length check pass

/**
 * A run of items inserted by consecutive LVs.  `ol`: left origin of the first
 * item (each later item's is its predecessor); `orr`: Fugue right parent of the
 * first item (-1 for the later ones).  `cur`: state at the prepare version;
 * `dead`: deleted in the effect version.
 */
class Span {
  constructor(lv, n, ol, orr, cur, dead) {
    this.lv = lv;
    this.n = n;
    this.ol = ol;
    this.orr = orr;
    this.cur = cur;
    this.dead = dead;
  }
}

function insort(arr, x) {
  arr.splice(bisectRight(arr, x), 0, x);
}

/** Compare `[spanIndex, offset]` places in document order. */
function cmpPlace(a, b) {
  return a[0] - b[0] || a[1] - b[1];
}

/** The temporary CRDT: spans in document order, indexed by LV. */
class State {
  constructor() {
    const ph = new Span(PH, BIG, -1, -1, INSERTED, false);
    this.items = [ph];
    this.starts = [PH]; // sorted span start LVs
    this.byStart = new Map([[PH, ph]]);
    this.delStarts = []; // sorted first LVs of delete-target records
    this.dels = new Map(); // d0 -> [k, t0, step]
    this.curLen = BIG; // visible length at the prepare version (incl. placeholder)
    this.effLen = BIG; // visible length at the effect version (incl. placeholder)
  }

  /** Make sure a span starts at `lv` (if `lv` is inside a span). */
  split(lv) {
    const i = bisectRight(this.starts, lv) - 1;
    if (i < 0) return;
    const s0 = this.starts[i];
    if (s0 === lv) return;
    const span = this.byStart.get(s0);
    const k = lv - s0;
    if (k >= span.n) return;
    this.splitSpan(span, k, this.items.indexOf(span));
  }

  splitSpan(span, k, idx) {
    const lv = span.lv + k;
    const ol = span.lv >= PH ? -1 : lv - 1;
    const second = new Span(lv, span.n - k, ol, -1, span.cur, span.dead);
    span.n = k;
    this.items.splice(idx + 1, 0, second);
    insort(this.starts, lv);
    this.byStart.set(lv, second);
    return second;
  }

  /** The spans holding items `[start, end)`, split so they fit exactly. */
  spansIn(start, end) {
    this.split(start);
    this.split(end);
    const starts = this.starts;
    let i = bisectRight(starts, start) - 1;
    const out = [];
    while (i < starts.length && starts[i] < end) {
      out.push(this.byStart.get(starts[i]));
      i++;
    }
    return out;
  }

  /** `[span index, offset]` of item `lv`: its place in document order. */
  indexOf(lv) {
    if (lv === -1) return [-1, 0];
    const i = bisectRight(this.starts, lv) - 1;
    const span = this.byStart.get(this.starts[i]);
    return [this.items.indexOf(span), lv - span.lv];
  }

  addDelTarget(d0, k, t0, step) {
    insort(this.delStarts, d0);
    this.dels.set(d0, [k, t0, step]);
  }

  /** Target LV ranges of the deletes `[start, end)`. */
  delTargets(start, end) {
    const ds = this.delStarts;
    let i = Math.max(bisectRight(ds, start) - 1, 0);
    const out = [];
    while (i < ds.length && ds[i] < end) {
      const d0 = ds[i];
      const [k, t0, step] = this.dels.get(d0);
      const a = Math.max(start, d0);
      const b = Math.min(end, d0 + k);
      if (a < b) {
        if (step === 1) out.push([t0 + a - d0, t0 + b - d0]);
        else out.push([t0 - (b - 1 - d0), t0 - (a - d0) + 1]);
      }
      i++;
    }
    return out;
  }
}

/**
 * The CRDT state of a document's last merge, kept for the next one.  While people
 * keep typing concurrently there is no recent critical version, so each merge
 * would re-walk everything since the last one; continuing the kept walk costs
 * only what was added since (local edits made in between, and the new ops).
 */
export class MergeCache {
  constructor() {
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
 */
export function mergeOps(oplog, textLen, branch, merge, insLvs = null, cache = null, newStart = null) {
  const out = [];
  const cg = oplog.cg;
  const newVersion = cg.reduce([...branch, ...merge]);
  let news;
  let common;
  let spans;
  if (cache && newStart !== null && extendsCache(cg, cache, newStart)) {
    news = [[newStart, cg.nextLv]];
  } else {
    [common, spans] = cg.findConflicting(branch, merge);
    news = spans.filter(([, , f]) => f === ONLY_B).map(([s, e]) => [s, e]);
    if (!news.length) return [out, newVersion];
    if (cache && cache.walk && !resumable(cg, cache, common, spans, news)) cache.walk = null;
  }
  let walk;
  if (cache && cache.walk) {
    cache.hits++;
    walk = cache.walk;
    const pieces = [];
    for (const [ps, pe, par] of cg.iterRange(cache.lvEnd, news[0][0])) pieces.push([ps, pe, par, false]);
    for (const [s, e] of news) for (const [ps, pe, par] of cg.iterRange(s, e)) pieces.push([ps, pe, par, true]);
    walk.pieces = pieces;
    walk.out = out;
    walk.textLen = textLen;
  } else {
    if (cache) cache.misses++;
    walk = planPieces(oplog, textLen, common, spans, out);
  }
  walk.lvsOut = insLvs;
  walk.run();
  walk.lvsOut = null;
  if (cache) {
    cache.walk = walk;
    cache.lvEnd = cg.nextLv;
  }
  return [out, newVersion];
}

const CATCH_UP = 64; // local ops a cached walk may replay without checking it is worth it

/**
 * Whether ops `newStart..` certainly continue the cached walk: every LV the walk
 * holds descends from its base (a critical version), and so does every later LV
 * whose parents are all at or after the base.  Only for a small catch-up.
 */
function extendsCache(cg, cache, newStart) {
  const walk = cache.walk;
  if (!walk || !(cache.lvEnd <= newStart && newStart < cg.nextLv) || newStart - cache.lvEnd > CATCH_UP) return false;
  const base = walk.base;
  if (base.length > 1) return false;
  const floor = base.length ? base[0] : -1;
  for (const [, , par] of cg.iterRange(newStart, cg.nextLv)) {
    for (const p of par) if (p < floor) return false;
    if (!par.length && floor >= 0) return false;
  }
  return true;
}

/** Whether continuing the cached walk is right and no dearer than a fresh one. */
function resumable(cg, cache, common, spans, news) {
  const walk = cache.walk;
  if (cache.lvEnd > news[0][0]) return false;
  let freshCost = 0;
  for (const [s, e] of spans) freshCost += e - s;
  if (news[0][0] - cache.lvEnd > freshCost) return false; // more local typing to catch up on than a fresh walk needs
  // the cached state starts at walk.base; the merge needs everything since `common`
  return sameFrontier(walk.base, common) || !cg.diff(walk.base, common)[0].length;
}

/** Where a tracked character ended up: see `locate`. */
export class Located {
  constructor(pos, alive) {
    this.pos = pos;
    this.alive = alive;
    this.deleters = []; // LVs of the walked delete ops that hit it
  }
}

/**
 * Follow characters from version `branch` to `branch ∪ target`.  `indices` name
 * characters of the text at `branch`.  For each, the result says whether it is
 * still there and its index in the new text; a deleted character's `pos` is its
 * tombstone's place (how many surviving characters precede it).  Costs one merge
 * walk from `branch`; ops are trusted (already in the op log).
 */
export function locate(oplog, branch, indices, target) {
  const found = indices.map((i) => new Located(i, true));
  const walk = plan(oplog, UNCHECKED_LEN, branch, target, []);
  if (walk && found.length) {
    walk.probes = found;
    walk.run();
  }
  return found;
}

function plan(oplog, textLen, branch, merge, out) {
  const [common, spans] = oplog.cg.findConflicting(branch, merge);
  if (!spans.some(([, , f]) => f === ONLY_B)) return null;
  return planPieces(oplog, textLen, common, spans, out);
}

function planPieces(oplog, textLen, common, spans, out) {
  const cg = oplog.cg;
  // pieces in a topological order: first what the branch has, then the rest
  const pieces = [];
  for (const [s, e, f] of spans) {
    if (f !== ONLY_B) for (const [ps, pe, par] of cg.iterRange(s, e)) pieces.push([ps, pe, par, false]);
  }
  for (const [s, e, f] of spans) {
    if (f === ONLY_B) for (const [ps, pe, par] of cg.iterRange(s, e)) pieces.push([ps, pe, par, true]);
  }
  return new Walk(oplog, pieces, common, textLen, out);
}

function advance(frontier, parents, lv) {
  if (sameFrontier(frontier, parents)) return [lv];
  const out = frontier.filter((x) => !parents.includes(x));
  out.push(lv);
  return out.sort((x, y) => x - y);
}

class Walk {
  constructor(oplog, pieces, common, textLen, out) {
    this.oplog = oplog;
    this.pieces = pieces;
    this.version = common; // the prepare version of the state
    this.textLen = textLen;
    this.out = out;
    this.st = new State();
    this.offset = -1; // effLen - true effect length, once known
    this.lvsOut = null;
    // Tracked characters (locate): while probeKeys is null they are described by
    // index (pos, alive) in the effect text and the state is a bare placeholder;
    // otherwise probeKeys[i] is the id of probe i's item.
    this.probes = [];
    this.probeKeys = null;
    this.marker = PH; // ids for tombstone markers count down from here
    // Carried from one run to the next when the walk is cached (MergeCache):
    this.base = common; // the version the state's placeholder stands for
    this.walkedFrontier = common; // the frontier of everything walked
    this.fresh = true; // the state is a bare placeholder
    this.offsetKnown = false;
  }

  run() {
    const pieces = this.pieces;
    const n = pieces.length;
    // External parents of every suffix: a critical point before piece i is where
    // they are exactly the frontier of what has been walked.  -1: the empty version.
    const crit = new Array(n + 1).fill(null);
    let ext = new Set();
    for (let i = n - 1; i >= 0; i--) {
      const [s, e, par] = pieces[i];
      if (ext.size) ext = new Set([...ext].filter((x) => !(s <= x && x < e)));
      if (par.length) for (const p of par) ext.add(p);
      else ext.add(-1);
      crit[i] = ext.size === 1 ? ext.values().next().value : null;
    }
    crit[n] = -3; // the end: always a critical point
    let walked = this.walkedFrontier;
    let fresh = this.fresh;
    let offsetKnown = this.offsetKnown;
    let i = 0;
    while (i < n) {
      const [s, e, par, emit] = pieces[i];
      if (emit && !offsetKnown) {
        this.offset = this.st.effLen - this.textLen;
        offsetKnown = true;
        if (this.probes.length && !fresh) this.probesFind();
      }
      const ci = crit[i];
      const atCritical =
        ci !== null && ((ci === -1 && !walked.length) || (walked.length === 1 && walked[0] === ci));
      if (atCritical && emit) {
        if (!fresh) {
          if (this.probeKeys !== null) this.probesExtract();
          const trueLen = this.st.effLen - this.offset;
          this.st = new State();
          this.offset = BIG - trueLen;
          fresh = true;
        }
        this.version = par;
        this.base = par;
        // a stretch with no concurrency: apply straight to the text
        const nxt = crit[i + 1];
        if (nxt !== null && (nxt === -3 || nxt === e - 1)) {
          this.applyDirect(s, e);
          walked = [e - 1];
          this.version = walked;
          this.base = walked;
          i++;
          continue;
        }
      }
      if (fresh && emit && this.probes.length && this.probeKeys === null) this.probesSeed();
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
    if (this.probeKeys !== null) this.probesExtract();
  }

  // -- tracked characters (locate) -------------------------------------------------

  /** Identify the probes (indices in the effect text) as items of the state. */
  probesFind() {
    const st = this.st;
    const items = st.items;
    const keys = [];
    for (const p of this.probes) {
      let eff = 0;
      let i = 0;
      for (;;) {
        let span = items[i];
        if (!span.dead) {
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
    this.probeKeys = keys;
  }

  /** Read every probe's index and liveness off the state (before a reset). */
  probesExtract() {
    const keys = this.probeKeys;
    const where = new Map();
    keys.forEach((k, j) => {
      if (!where.has(k)) where.set(k, j);
    });
    let eff = 0;
    for (const span of this.st.items) {
      const j = span.n === 1 && where.has(span.lv) ? where.get(span.lv) : -1;
      if (j >= 0) {
        for (let jj = j; jj < keys.length; jj++) {
          if (keys[jj] === span.lv) {
            this.probes[jj].pos = eff;
            this.probes[jj].alive = !span.dead;
          }
        }
      }
      if (!span.dead) eff += span.n;
    }
    this.probeKeys = null;
  }

  /**
   * Put index-described probes into a fresh placeholder state.  A live probe is
   * placeholder character `pos`; a deleted one becomes a dead marker item just
   * before placeholder character `pos` (later inserts at that gap go right after
   * their left neighbour, so before the marker, as before the real tombstone).
   */
  probesSeed() {
    const st = this.st;
    const keys = [];
    for (const p of this.probes) {
      if (p.alive) {
        keys.push(st.spansIn(PH + p.pos, PH + p.pos + 1)[0].lv);
      } else {
        if (p.pos) st.split(PH + p.pos);
        this.marker -= 1;
        const m = new Span(this.marker, 1, -1, -1, 1, true);
        const idx = p.pos ? st.items.indexOf(st.byStart.get(PH + p.pos)) : 0;
        st.items.splice(idx, 0, m);
        insort(st.starts, m.lv);
        st.byStart.set(m.lv, m);
        keys.push(m.lv);
      }
    }
    this.probeKeys = keys;
  }

  /** Move index-described probes over one op run applied to the text. */
  probesDirect(kind, lv, pos, n) {
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

  // -- direct application (no concurrency) ----------------------------------------

  applyDirect(s, e) {
    const out = this.out;
    let trueLen = this.st.effLen - this.offset;
    for (const [ps, pe, kind, pos, content] of this.oplog.iterOps(s, e)) {
      const ln = pe - ps;
      if (this.probes.length) this.probesDirect(kind, ps, pos, ln);
      if (kind === INS) {
        if (pos > trueLen) throw new InvalidOpError(`insert at ${pos} past the end of a ${trueLen}-character document`);
        out.push({ kind: 'ins', pos, text: content });
        if (this.lvsOut) this.lvsOut.push(ps);
        trueLen += ln;
      } else {
        if (pos + ln > trueLen) {
          throw new InvalidOpError(`delete of ${ln} at ${pos} past the end of a ${trueLen}-character document`);
        }
        out.push({ kind: 'del', pos, length: ln });
        trueLen -= ln;
      }
    }
    // the fresh placeholder now stands for the text after these ops
    this.offset = BIG - trueLen;
  }

  // -- moving the prepare version ------------------------------------------------

  moveTo(target) {
    if (sameFrontier(this.version, target)) return;
    const [onlyCur, onlyTarget] = this.oplog.cg.diff(this.version, target);
    for (let k = onlyCur.length - 1; k >= 0; k--) this.retreatAdvance(onlyCur[k][0], onlyCur[k][1], -1);
    for (const [s, e] of onlyTarget) this.retreatAdvance(s, e, 1);
    this.version = target;
  }

  retreatAdvance(start, end, step) {
    const st = this.st;
    const pieces = this.oplog.iterOps(start, end);
    if (step < 0) pieces.reverse();
    for (const [s, e, kind] of pieces) {
      if (kind === INS) {
        for (const span of st.spansIn(s, e)) {
          if (step > 0) {
            span.cur = INSERTED;
            st.curLen += span.n;
          } else {
            span.cur = NYI;
            st.curLen -= span.n;
          }
        }
      } else {
        for (const [ts, te] of st.delTargets(s, e)) {
          for (const span of st.spansIn(ts, te)) {
            const old = span.cur;
            span.cur = old + step;
            if (old === INSERTED) st.curLen -= span.n;
            else if (span.cur === INSERTED) st.curLen += span.n;
          }
        }
      }
    }
  }

  // -- applying ops at the prepare version -----------------------------------------

  apply(s, e, emit) {
    for (const [ps, pe, kind, pos, content] of this.oplog.iterOps(s, e)) {
      if (kind === INS) this.insert(ps, pe - ps, pos, content, emit);
      else this.delete(ps, pe, kind, pos, emit);
    }
  }

  checkLen(pos, n, emit, what) {
    if (emit) {
      const trueLen = this.st.curLen - this.offset;
      if (pos + n > trueLen) throw new InvalidOpError(`${what} at ${pos} past the end of a ${trueLen}-character document`);
    }
  }

  /** `[index just after the pos-th visible item, effect position there]` (splits a span if needed). */
  find(pos) {
    const st = this.st;
    const items = st.items;
    if (pos === 0) return [0, 0];
    let cur = 0;
    let eff = 0;
    for (let i = 0; i < items.length; i++) {
      const span = items[i];
      if (span.cur === INSERTED) {
        const n = span.n;
        if (cur + n >= pos) {
          const k = pos - cur;
          if (k < n) st.splitSpan(span, k, i);
          if (!span.dead) eff += k;
          return [i + 1, eff];
        }
        cur += n;
      }
      if (!span.dead) eff += span.n;
    }
    throw new InvalidOpError(`position ${pos} past the end of the document`);
  }

  insert(lv, n, pos, content, emit) {
    const st = this.st;
    this.checkLen(pos, 0, emit, 'insert');
    let [idx, eff] = this.find(pos);
    const items = st.items;
    let ol = -1;
    if (idx > 0) {
      const left = items[idx - 1];
      ol = left.lv + left.n - 1;
    }
    // Fugue right parent: the next item that is not concurrent, if it has the same left origin
    let orr = -1;
    for (let j = idx; j < items.length; j++) {
      const nxt = items[j];
      if (nxt.cur !== NYI) {
        if (nxt.ol === ol) orr = nxt.lv;
        break;
      }
    }
    if (idx < items.length && items[idx].cur === NYI) [idx, eff] = this.integrate(lv, ol, orr, idx, eff);
    const span = new Span(lv, n, ol, orr, INSERTED, false);
    items.splice(idx, 0, span);
    insort(st.starts, lv);
    st.byStart.set(lv, span);
    st.curLen += n;
    st.effLen += n;
    if (emit) {
      this.out.push({ kind: 'ins', pos: eff, text: content });
      if (this.lvsOut) this.lvsOut.push(lv);
    }
  }

  /** Fugue/YjsMod: where among the concurrent items at `idx` the new item goes. */
  integrate(lv, ol, orr, idx, eff) {
    const st = this.st;
    const items = st.items;
    const left = idx > 0 ? [idx - 1, items[idx - 1].n - 1] : [-1, 0];
    const end = [items.length, 0];
    const right = orr === -1 ? end : st.indexOf(orr);
    const cg = this.oplog.cg;
    const me = cg.lvToRaw(lv);
    let scanning = false;
    let scan = idx;
    let scanEff = eff;
    while (scan < items.length) {
      const other = items[scan];
      if (other.cur !== NYI) break;
      const oleft = st.indexOf(other.ol);
      const c = cmpPlace(oleft, left);
      if (c < 0) break;
      if (c === 0) {
        const oright = other.orr === -1 ? end : st.indexOf(other.orr);
        const cr = cmpPlace(oright, right);
        if (cr === 0 && compareRaw(me, cg.lvToRaw(other.lv)) < 0) break;
        scanning = cr < 0;
      }
      if (!other.dead) scanEff += other.n;
      scan++;
      if (!scanning) {
        idx = scan;
        eff = scanEff;
      }
    }
    return [idx, eff];
  }

  delete(s, e, kind, pos, emit) {
    const st = this.st;
    const n = e - s;
    this.checkLen(pos, n, emit, `delete of ${n}`);
    let [idx, eff] = this.find(pos);
    const items = st.items;
    let remaining = n;
    let done = 0; // items deleted so far, in document order
    const out = this.out;
    while (remaining) {
      const span = items[idx];
      if (span.cur !== INSERTED) {
        if (!span.dead) eff += span.n;
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
        st.addDelTarget(d0, k, span.lv + k - 1, -1);
      } else {
        d0 = s + done;
        st.addDelTarget(d0, k, span.lv, 1);
      }
      if (k === 1 && this.probeKeys !== null) {
        this.probeKeys.forEach((key, j) => {
          if (key === span.lv) this.probes[j].deleters.push(d0);
        });
      }
      span.cur = 1;
      st.curLen -= k;
      if (!span.dead) {
        span.dead = true;
        st.effLen -= k;
        if (emit) {
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
