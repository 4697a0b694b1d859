// The causal graph: who made each op and which ops it was made on top of.
//
// A port of src/cowrite/engine/causal_graph.py (read its docstring and the engine
// README for the vocabulary).  Every op a replica knows gets a *local version*
// (LV): its index in this replica's op log.  LVs are assigned in causal order, so
// LV order is a topological order.  The graph is run-length encoded as *entries*:
// runs of LVs by one agent with consecutive seqs, each the parent of the next, so
// walks cost per run rather than per character.
//
// A frontier (version) is a sorted array of LVs, none an ancestor of another.
// `[]` is the empty document.  On the wire versions are `[[agent, seq], ...]`
// sorted by (agent, seq) with agents compared by code point, like Python.

import { UnknownParentError, UnknownVersionError } from './errors.js';
import { compareCodePoints } from './utf8.js';

export const ONLY_A = 1;
export const ONLY_B = 2;
export const SHARED = 3;

/** Index of the last element <= x in a sorted array (-1 if none). */
export function bisectRight(arr, x) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Compare raw ids `[agent, seq]` like Python compares `(agent, seq)` tuples. */
export function compareRaw(a, b) {
  return compareCodePoints(a[0], b[0]) || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}

/** Whether two frontiers (sorted LV arrays) are equal. */
export function sameFrontier(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A small binary min-heap ordered by `less(x, y)`. */
export class Heap {
  constructor(less, items = []) {
    this.less = less;
    this.items = [];
    for (const it of items) this.push(it);
  }

  get size() {
    return this.items.length;
  }

  peek() {
    return this.items[0];
  }

  push(item) {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  pop() {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

// find_conflicting's heap keys: a version as its LVs negated, largest LV first, so
// the newest version pops first; the empty version is ROOT and pops last.
const ROOT = [1];

function versionKey(version) {
  if (!version.length) return ROOT;
  return [...version].sort((x, y) => y - x).map((x) => -x);
}

function compareKeys(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

function keysEqual(a, b) {
  return compareKeys(a, b) === 0;
}

/** Run-length encoded event graph with (agent, seq) <-> LV mapping. */
export class CausalGraph {
  constructor() {
    this.starts = []; // first LV of each entry
    this.parents = []; // parents (frontier) of each entry's first LV
    this.entryAgent = []; // agent index of each entry
    this.entrySeq = []; // seq of each entry's first LV
    this.agents = [];
    this.agentIndex = new Map();
    // per agent: sorted runs of seqs -> LVs
    this.seqStarts = [];
    this.seqEnds = [];
    this.seqLvs = [];
    this.heads = [];
    this.nextLv = 0;
  }

  // -- agents and ids ------------------------------------------------------------

  /** The index of `agent`, registering it on first use. */
  agentId(agent) {
    let i = this.agentIndex.get(agent);
    if (i === undefined) {
      i = this.agents.length;
      this.agentIndex.set(agent, i);
      this.agents.push(agent);
      this.seqStarts.push([]);
      this.seqEnds.push([]);
      this.seqLvs.push([]);
    }
    return i;
  }

  /** The first seq `agent` has not used yet. */
  nextSeq(agent) {
    const i = this.agentIndex.get(agent);
    if (i === undefined || !this.seqEnds[i].length) return 0;
    const ends = this.seqEnds[i];
    return ends[ends.length - 1];
  }

  entryOf(lv) {
    return bisectRight(this.starts, lv) - 1;
  }

  entryEnd(e) {
    return e + 1 < this.starts.length ? this.starts[e + 1] : this.nextLv;
  }

  /** `[agent, seq]` of an LV. */
  lvToRaw(lv) {
    if (!(lv >= 0 && lv < this.nextLv)) throw new UnknownVersionError(`local version ${lv} does not exist`);
    const e = this.entryOf(lv);
    return [this.agents[this.entryAgent[e]], this.entrySeq[e] + lv - this.starts[e]];
  }

  /** The LV of `(agent, seq)`, or -1 if unknown. */
  rawToLv(agent, seq) {
    const a = this.agentIndex.get(agent);
    if (a === undefined) return -1;
    const ss = this.seqStarts[a];
    const i = bisectRight(ss, seq) - 1;
    if (i < 0 || seq >= this.seqEnds[a][i]) return -1;
    return this.seqLvs[a][i] + seq - ss[i];
  }

  /** If `(agent, seq)` is known: `[its LV, how many seqs from it on are known]`, else null. */
  knownRun(agent, seq) {
    const a = this.agentIndex.get(agent);
    if (a === undefined) return null;
    const ss = this.seqStarts[a];
    const se = this.seqEnds[a];
    const i = bisectRight(ss, seq) - 1;
    if (i < 0 || seq >= se[i]) return null;
    let end = se[i];
    let j = i + 1;
    while (j < ss.length && ss[j] === end) {
      end = se[j];
      j++;
    }
    return [this.seqLvs[a][i] + seq - ss[i], end - seq];
  }

  /** Every known id as `{agent: [[firstSeq, endSeq], ...]}` (coalesced, sorted). */
  summary() {
    const out = {};
    this.agents.forEach((agent, a) => {
      const runs = [];
      const ss = this.seqStarts[a];
      const se = this.seqEnds[a];
      for (let i = 0; i < ss.length; i++) {
        if (runs.length && runs[runs.length - 1][1] === ss[i]) runs[runs.length - 1][1] = se[i];
        else runs.push([ss[i], se[i]]);
      }
      // defineProperty: an agent may be called "__proto__"
      if (runs.length) Object.defineProperty(out, agent, { value: runs, enumerable: true, writable: true, configurable: true });
    });
    return out;
  }

  /** The smallest known seq of `agent` greater than `seq`, or -1. */
  nextKnownSeq(agent, seq) {
    const a = this.agentIndex.get(agent);
    if (a === undefined) return -1;
    const ss = this.seqStarts[a];
    const i = bisectRight(ss, seq);
    if (i && seq + 1 < this.seqEnds[a][i - 1]) return seq + 1; // inside a known run: the next seq
    return i < ss.length ? ss[i] : -1;
  }

  /** LVs of raw ids as a frontier; throws UnknownParentError for unknown ones. */
  rawToFrontier(ids) {
    const out = [];
    let missing = null;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const lv = this.rawToLv(id[0], id[1]);
      if (lv >= 0) out.push(lv);
      else (missing || (missing = [])).push([id[0], id[1]]);
    }
    if (missing) {
      const names = missing.slice(0, 5).map(([a, s]) => `${a}:${s}`).join(', ');
      throw new UnknownParentError(`unknown parent version(s): ${names}`, missing);
    }
    return this.reduce(out);
  }

  /** A frontier as sorted raw ids. */
  frontierToRaw(frontier) {
    return frontier.map((lv) => this.lvToRaw(lv)).sort(compareRaw);
  }

  parentsOf(lv) {
    const e = this.entryOf(lv);
    return this.starts[e] === lv ? this.parents[e] : [lv - 1];
  }

  // -- growing -------------------------------------------------------------------

  /**
   * Append `n` ops by `agent` from `seq` on top of `parents` (the caller checked
   * that the ids are new and the parents known).  Returns the first new LV.
   */
  add(agent, seq, n, parents) {
    const lv = this.nextLv;
    const a = this.agentId(agent);
    const starts = this.starts;
    const last = starts.length - 1;
    const extends_ =
      last >= 0 &&
      this.entryAgent[last] === a &&
      parents.length === 1 &&
      parents[0] === lv - 1 &&
      this.entrySeq[last] + lv - starts[last] === seq;
    if (!extends_) {
      starts.push(lv);
      this.parents.push(parents.slice());
      this.entryAgent.push(a);
      this.entrySeq.push(seq);
    }
    const ss = this.seqStarts[a];
    const se = this.seqEnds[a];
    const sl = this.seqLvs[a];
    const k = ss.length - 1;
    if (k >= 0 && se[k] === seq && sl[k] + seq - ss[k] === lv) {
      se[k] = seq + n;
    } else if (k < 0 || ss[k] < seq) {
      ss.push(seq);
      se.push(seq + n);
      sl.push(lv);
    } else {
      // out-of-order seqs for this agent (allowed, just rare)
      const i = bisectRight(ss, seq);
      ss.splice(i, 0, seq);
      se.splice(i, 0, seq + n);
      sl.splice(i, 0, lv);
    }
    this.nextLv = lv + n;
    if (sameFrontier(this.heads, parents)) {
      this.heads = [lv + n - 1];
    } else {
      const keep = [];
      const heads = this.heads;
      for (let i = 0; i < heads.length; i++) if (!parents.includes(heads[i])) keep.push(heads[i]);
      keep.push(lv + n - 1); // the newest LV: the array stays sorted
      this.heads = keep;
    }
    return lv;
  }

  /** Forget every LV >= `lv`, restoring `heads` (roll back a failed append). */
  truncate(lv, heads) {
    if (lv >= this.nextLv) return;
    const starts = this.starts;
    while (starts.length && starts[starts.length - 1] >= lv) {
      starts.pop();
      this.parents.pop();
      this.entryAgent.pop();
      this.entrySeq.pop();
    }
    for (let a = 0; a < this.agents.length; a++) {
      const ss = this.seqStarts[a];
      const se = this.seqEnds[a];
      const sl = this.seqLvs[a];
      for (let i = sl.length - 1; i >= 0; i--) {
        if (sl[i] >= lv) {
          ss.splice(i, 1);
          se.splice(i, 1);
          sl.splice(i, 1);
        } else if (sl[i] + se[i] - ss[i] > lv) {
          se[i] = ss[i] + lv - sl[i];
        }
      }
    }
    // An agent is registered with its first op, so one left without ops came with
    // the rolled-back ops (the newest registrations): forget it too.
    while (this.agents.length && !this.seqStarts[this.seqStarts.length - 1].length) {
      this.agentIndex.delete(this.agents.pop());
      this.seqStarts.pop();
      this.seqEnds.pop();
      this.seqLvs.pop();
    }
    this.nextLv = lv;
    this.heads = heads.slice();
  }

  // -- walking -------------------------------------------------------------------

  /** Pieces `[s, e, parentsOfS]` of the graph covering `[start, end)`. */
  iterRange(start, end) {
    const out = [];
    const starts = this.starts;
    let i = this.entryOf(start);
    while (start < end) {
      const eStart = starts[i];
      const eEnd = this.entryEnd(i);
      const stop = eEnd < end ? eEnd : end;
      out.push([start, stop, start === eStart ? this.parents[i] : [start - 1]]);
      start = stop;
      i++;
    }
    return out;
  }

  /**
   * LV ranges in the history of `a` but not `b`, and vice versa: `[onlyA, onlyB]`,
   * each a list of ascending `[start, end)` ranges.  Walks back only as far as the
   * two versions differ.
   */
  diff(a, b) {
    if (sameFrontier(a, b)) return [[], []];
    const onlyA = [];
    const onlyB = [];
    // a max-heap of `lv * 4 + flag` (numbers, not pairs: no allocation per item);
    // items of one LV are popped together, so their order among themselves is moot
    const heap = takeScratch();
    for (let i = 0; i < a.length; i++) heapPush(heap, a[i] * 4 + ONLY_A);
    for (let i = 0; i < b.length; i++) heapPush(heap, b[i] * 4 + ONLY_B);
    let unshared = heap.length;
    const starts = this.starts;
    while (unshared) {
      const top = heapPop(heap);
      let flag = top % 4;
      let v = (top - flag) / 4;
      if (flag !== SHARED) unshared--;
      while (heap.length && heap[0] >= v * 4) {
        const f2 = heapPop(heap) % 4;
        if (f2 !== SHARED) unshared--;
        flag |= f2;
      }
      const e = this.entryOf(v);
      const s = starts[e];
      // consume queue items inside [s, v]
      while (heap.length && heap[0] >= s * 4) {
        const k2 = heapPop(heap);
        const f2 = k2 % 4;
        const v2 = (k2 - f2) / 4;
        if (f2 !== SHARED) unshared--;
        if ((f2 | flag) !== flag) {
          if (flag === ONLY_A) onlyA.push([v2 + 1, v + 1]);
          else if (flag === ONLY_B) onlyB.push([v2 + 1, v + 1]);
          v = v2;
          flag |= f2;
        }
      }
      if (flag === ONLY_A) onlyA.push([s, v + 1]);
      else if (flag === ONLY_B) onlyB.push([s, v + 1]);
      const par = this.parents[e];
      for (let j = 0; j < par.length; j++) {
        heapPush(heap, par[j] * 4 + flag);
        if (flag !== SHARED) unshared++;
      }
    }
    heap.length = 0;
    return [ascending(onlyA), ascending(onlyB)];
  }

  /**
   * The last common *critical* version of `a` and `b`, and the spans since it:
   * `[common, spans]` with spans ascending `[start, end, flag]`, flag ONLY_A,
   * ONLY_B or SHARED.  Every returned op has all of `common` in its history.
   */
  findConflicting(a, b) {
    const spans = [];
    const heap = new Heap((x, y) => {
      const c = compareKeys(x[0], y[0]);
      return c < 0 || (c === 0 && x[1] < y[1]);
    });
    heap.push([versionKey(a), ONLY_A]);
    heap.push([versionKey(b), ONLY_B]);
    const starts = this.starts;
    let common;
    for (;;) {
      let [key, flag] = heap.pop();
      if (key === ROOT || keysEqual(key, ROOT)) {
        common = [];
        break;
      }
      while (heap.size && keysEqual(heap.peek()[0], key)) {
        if (heap.pop()[1] !== flag) flag = SHARED;
      }
      if (!heap.size) {
        common = key.map((x) => -x).sort((x, y) => x - y);
        break;
      }
      for (const x of key.slice(1)) heap.push([[x], flag]);
      const t = -key[0];
      const e = this.entryOf(t);
      const eStart = starts[e];
      let end = t + 1;
      let collapsed = true;
      while (heap.size) {
        const [pkey, pflag] = heap.peek();
        if (pkey[0] <= -eStart) {
          // the next point lies inside this entry
          heap.pop();
          const plast = -pkey[0];
          if (plast + 1 < end) {
            spans.push([plast + 1, end, flag]);
            end = plast + 1;
          }
          if (pflag !== flag) flag = SHARED;
          for (const x of pkey.slice(1)) heap.push([[x], pflag]);
        } else {
          spans.push([eStart, end, flag]);
          heap.push([versionKey(this.parents[e]), flag]);
          collapsed = false;
          break;
        }
      }
      if (collapsed) {
        common = [end - 1];
        break;
      }
    }
    return [common, mergeSpans(spans)];
  }

  /** The frontier of a set of LVs: drop every LV that is an ancestor of another. */
  reduce(lvs) {
    const n = lvs.length;
    if (n <= 1) return n ? [lvs[0]] : [];
    const vs = lvs.slice().sort(numeric);
    let m = 1;
    for (let i = 1; i < n; i++) if (vs[i] !== vs[m - 1]) vs[m++] = vs[i];
    vs.length = m;
    if (m === 1 || this.allHeads(vs)) return vs; // heads are never ancestors of one another
    const low = vs[0];
    // a max-heap of `lv * 2 + isInput`; items of one LV are popped together
    const heap = takeScratch();
    for (let i = 0; i < m; i++) heapPush(heap, vs[i] * 2 + 1);
    const kept = []; // the inputs no other input reaches, newest first
    let inputsLeft = m;
    const starts = this.starts;
    while (heap.length && inputsLeft > 0) {
      const top = heapPop(heap);
      const v = (top - (top % 2)) / 2;
      let hasInput = top % 2 === 1;
      let reached = !hasInput;
      while (heap.length && heap[0] >= v * 2) {
        const is2 = heapPop(heap) % 2 === 1;
        if (is2) hasInput = true;
        else reached = true;
      }
      if (hasInput) {
        inputsLeft--;
        if (!reached) kept.push(v);
      }
      const e = this.entryOf(v);
      const s = starts[e];
      while (heap.length && heap[0] >= s * 2) {
        // inside this entry: ancestors of v
        if (heapPop(heap) % 2 === 1) inputsLeft--;
      }
      const par = this.parents[e];
      for (let j = 0; j < par.length; j++) if (par[j] >= low) heapPush(heap, par[j] * 2);
    }
    heap.length = 0;
    return kept.reverse();
  }

  /** Whether every LV of a sorted, duplicate-free array is one of the heads. */
  allHeads(vs) {
    const heads = this.heads;
    if (vs.length > heads.length) return false;
    let j = 0;
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      while (j < heads.length && heads[j] < v) j++;
      if (j === heads.length || heads[j] !== v) return false;
    }
    return true;
  }
}

function numeric(x, y) {
  return x - y;
}

// The graph walks' heaps: max-heaps of numbers in one reused array (the walks are
// never nested), so a walk allocates nothing per item.
const scratch = [];

function takeScratch() {
  scratch.length = 0;
  return scratch;
}

function heapPush(h, x) {
  let i = h.length;
  h.push(x);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] >= x) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = x;
}

function heapPop(h) {
  const top = h[0];
  const last = h.pop();
  const n = h.length;
  if (n) {
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1] > h[c]) c++;
      if (h[c] <= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
  return top;
}

/**
 * Ranges a walk found newest first (descending, disjoint) in ascending order,
 * adjacent ones joined.
 */
function ascending(ranges) {
  const out = [];
  for (let i = ranges.length - 1; i >= 0; i--) {
    const r = ranges[i];
    const last = out[out.length - 1];
    if (last && last[1] === r[0]) last[1] = r[1];
    else out.push(r);
  }
  return out;
}

function mergeSpans(spans) {
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
  const out = [];
  for (const [s, e, f] of spans) {
    const last = out[out.length - 1];
    if (last && last[1] === s && last[2] === f) last[1] = e;
    else out.push([s, e, f]);
  }
  return out;
}
