// The op log: every op a replica knows, run-length encoded, plus its causal graph.
//
// A port of src/cowrite/engine/oplog.py.  Ops are stored as the user made them
// ("insert 'x' at 5" at some parent version), in LV order, as *runs*: inserts at
// consecutive positions, deletes at one position (Delete key) or at descending
// positions (Backspace).  Times (Unix seconds, 0 = unknown) are a separate
// run-length column: metadata only, never used to merge.
//
// Insert contents are kept as arrays of code points (one string per character),
// because every position in the engine counts code points, not UTF-16 units.

import { CausalGraph, bisectRight, compareRaw } from './causalGraph.js';
import { ConflictingOpError, UnknownVersionError } from './errors.js';
import { makeOp } from './ops.js';

/** Op-run kinds of the op log's columns (and of the encodings' kind column). */
export const INS = 0;
export const DEL_FWD = 1;
export const DEL_BACK = 2;

/** Append-only, run-length encoded log of ops with their causal graph. */
export class OpLog {
  constructor() {
    this.cg = new CausalGraph();
    this.opStarts = [];
    this.opKinds = [];
    this.opPos = [];
    this.opLens = [];
    this.opChars = []; // per run: array of code points (inserts), [] for deletes
    this.timeStarts = []; // first LV of each time run
    this.timeValues = []; // Unix seconds of each time run (0 = unknown)
  }

  get length() {
    return this.cg.nextLv;
  }

  get heads() {
    return this.cg.heads;
  }

  // -- appending -----------------------------------------------------------------

  /**
   * Append a run of ops, extending the last run when it continues it.  `chars`
   * (an insert's code points) is copied unless `owned`: then the log may keep it.
   */
  pushOps(lv, kind, pos, n, chars, owned = false) {
    const starts = this.opStarts;
    const last = starts.length - 1;
    if (last >= 0) {
      const lk = this.opKinds[last];
      const ll = this.opLens[last];
      if (starts[last] + ll === lv) {
        const lp = this.opPos[last];
        if (kind === INS) {
          if (lk === INS && lp + ll === pos) {
            this.opLens[last] = ll + n;
            const dst = this.opChars[last];
            for (const c of chars) dst.push(c);
            return;
          }
        } else if (lk !== INS) {
          if (kind === DEL_FWD && lk === DEL_FWD && lp === pos) {
            this.opLens[last] = ll + n;
            return;
          }
          // Backspace: the new ops delete just before the last run's start
          const backOk = lk === DEL_BACK || ll === 1;
          if (backOk && (kind === DEL_BACK || n === 1) && pos + n === lp) {
            this.opKinds[last] = DEL_BACK;
            this.opPos[last] = pos;
            this.opLens[last] = ll + n;
            return;
          }
        }
      }
    }
    starts.push(lv);
    // One delete is a Delete-key delete: each delete run has one form, so a run cut
    // back to one op by a rollback (truncate) is stored as it was before.
    this.opKinds.push(kind === DEL_BACK && n === 1 ? DEL_FWD : kind);
    this.opPos.push(pos);
    this.opLens.push(n);
    this.opChars.push(kind === INS ? (owned ? chars : chars.slice()) : []);
  }

  pushTime(lv, time) {
    const values = this.timeValues;
    if (!values.length || values[values.length - 1] !== time) {
      this.timeStarts.push(lv);
      values.push(time);
    }
  }

  /**
   * Record a local op by `agent` made at `parents` (the caller validated it).
   * `chars`: the inserted code points (INS) or null.  Returns its first LV.
   */
  addLocal(agent, kind, pos, n, chars, parents, time) {
    const cg = this.cg;
    const lv = cg.add(agent, cg.nextSeq(agent), n, parents);
    this.pushOps(lv, kind, pos, n, chars || []);
    this.pushTime(lv, time);
    return lv;
  }

  /**
   * Add a (structurally valid) op from a peer.  Returns the new LV range
   * `[start, end)`, or null if every id was known already.  Known ids must match
   * what is stored (ConflictingOpError otherwise); a partly known run adds its
   * unknown tail.  Throws UnknownParentError if a parent is unknown.
   */
  addRemote(op) {
    const cg = this.cg;
    const content = op.content;
    const chars = op.kind !== 'ins' ? null : content.length === 1 ? [content] : Array.from(content);
    const n = chars ? chars.length : op.length;
    let skip = 0;
    let parents;
    const known = cg.knownRun(op.agent, op.seq);
    if (known) {
      skip = Math.min(known[1], n);
      this.checkSame(op, chars, skip);
      if (skip === n) return null;
      parents = [cg.rawToLv(op.agent, op.seq + skip - 1)];
    } else {
      const nxt = cg.nextKnownSeq(op.agent, op.seq);
      if (nxt >= 0 && nxt < op.seq + n) {
        throw new ConflictingOpError(`op ${op.agent}:${op.seq}+${n} overlaps known ops from seq ${nxt} out of order`);
      }
      parents = cg.rawToFrontier(op.parents);
    }
    if (skip) {
      const nxt = cg.nextKnownSeq(op.agent, op.seq + skip - 1);
      if (nxt >= 0 && nxt < op.seq + n) {
        throw new ConflictingOpError(`op ${op.agent}:${op.seq}+${n} overlaps known ops out of order`);
      }
    }
    const m = n - skip;
    const lv = cg.add(op.agent, op.seq + skip, m, parents);
    if (chars) this.pushOps(lv, INS, op.pos + skip, m, skip ? chars.slice(skip) : chars, true);
    else this.pushOps(lv, op.fwd === false ? DEL_BACK : DEL_FWD, op.pos, m, []);
    this.pushTime(lv, op.time || 0);
    return [lv, lv + m];
  }

  /** A re-delivered op must match what is stored, or a peer is lying. */
  checkSame(op, chars, count) {
    const cg = this.cg;
    const first = cg.rawToLv(op.agent, op.seq);
    const stored = cg.frontierToRaw(cg.parentsOf(first));
    const given = op.parents.map((p) => [p[0], p[1]]).sort(compareRaw);
    const same =
      stored.length === given.length && stored.every((p, i) => p[0] === given[i][0] && p[1] === given[i][1]);
    if (!same) throw new ConflictingOpError(`op ${op.agent}:${op.seq} already known with other parents`);
    let i = 0;
    while (i < count) {
      // the known ops may sit in several LV runs
      const lv0 = cg.rawToLv(op.agent, op.seq + i);
      const take = Math.min(count - i, cg.entryEnd(cg.entryOf(lv0)) - lv0);
      if (i) {
        // a run claims each op was made on top of the one before it
        const parents = cg.parentsOf(lv0);
        if (parents.length !== 1 || parents[0] !== cg.rawToLv(op.agent, op.seq + i - 1)) {
          throw new ConflictingOpError(`op ${op.agent}:${op.seq + i} already known with other parents`);
        }
      }
      for (const [s, e, kind, pos, content] of this.iterOps(lv0, lv0 + take)) {
        const k = e - s;
        let ok;
        if (chars) ok = kind === INS && pos === op.pos + i && content === chars.slice(i, i + k).join('');
        else if (op.fwd !== false) ok = (kind === DEL_FWD || k === 1) && pos === op.pos;
        else ok = (kind === DEL_BACK || k === 1) && pos === op.pos + op.length - i - k;
        if (!ok) throw new ConflictingOpError(`op ${op.agent}:${op.seq} already known with other content`);
        i += k;
      }
    }
  }

  /** Drop every op from `lv` on, restoring `heads` (roll back a failed merge). */
  truncate(lv, heads) {
    const starts = this.opStarts;
    while (starts.length && starts[starts.length - 1] >= lv) {
      starts.pop();
      this.opKinds.pop();
      this.opPos.pop();
      this.opLens.pop();
      this.opChars.pop();
    }
    const last = starts.length - 1;
    if (last >= 0 && starts[last] + this.opLens[last] > lv) {
      const k = lv - starts[last];
      if (this.opKinds[last] === INS) this.opChars[last].length = k;
      else if (this.opKinds[last] === DEL_BACK) {
        this.opPos[last] += this.opLens[last] - k;
        if (k === 1) this.opKinds[last] = DEL_FWD;
      }
      this.opLens[last] = k;
    }
    const ts = this.timeStarts;
    while (ts.length && ts[ts.length - 1] >= lv) {
      ts.pop();
      this.timeValues.pop();
    }
    this.cg.truncate(lv, heads);
  }

  // -- reading -------------------------------------------------------------------

  /** The row of the op columns holding `lv` (the merge walks read them in place). */
  runAt(lv) {
    return bisectRight(this.opStarts, lv) - 1;
  }

  /** The text inserted by items `k0 .. k1 - 1` of insert run `i`. */
  insertedText(i, k0, k1) {
    const chars = this.opChars[i];
    return k1 - k0 === 1 ? chars[k0] : (k0 || k1 < this.opLens[i] ? chars.slice(k0, k1) : chars).join('');
  }

  /**
   * Runs `[lvStart, lvEnd, kind, pos, content]` covering `[start, end)`; runs cut
   * by the range are trimmed so each means exactly its own ops.  `content` is a
   * string for inserts ('' too when not `withContent`), '' for deletes.
   */
  iterOps(start, end, withContent = true) {
    const out = [];
    const starts = this.opStarts;
    let i = bisectRight(starts, start) - 1;
    const n = starts.length;
    while (start < end && i < n) {
      const s = starts[i];
      const ln = this.opLens[i];
      const e = s + ln;
      const stop = e < end ? e : end;
      const kind = this.opKinds[i];
      const pos = this.opPos[i];
      const k0 = start - s;
      const k1 = stop - s;
      if (kind === INS) {
        out.push([start, stop, INS, pos + k0, withContent ? this.insertedText(i, k0, k1) : '']);
      }
      else if (kind === DEL_FWD) out.push([start, stop, DEL_FWD, pos, '']);
      else out.push([start, stop, DEL_BACK, pos + ln - k1, '']);
      start = stop;
      i++;
    }
    return out;
  }

  /** When op `lv` was made: Unix seconds, 0 if unknown. */
  timeOf(lv) {
    if (!(lv >= 0 && lv < this.cg.nextLv)) throw new UnknownVersionError(`local version ${lv} does not exist`);
    return this.timeValues[bisectRight(this.timeStarts, lv) - 1];
  }

  /** Pieces `[lvStart, lvEnd, time]` covering `[start, end)`, cut at time changes. */
  timeRuns(start, end) {
    const out = [];
    const starts = this.timeStarts;
    start = Math.max(start, 0);
    end = Math.min(end, this.cg.nextLv);
    let i = bisectRight(starts, start) - 1;
    while (start < end) {
      let stop = i + 1 < starts.length ? starts[i + 1] : end;
      if (stop > end) stop = end;
      out.push([start, stop, this.timeValues[i]]);
      start = stop;
      i++;
    }
    return out;
  }

  /** The ops in LV `ranges` as wire op runs (ids, not LVs), cut where the time changes. */
  opsBetween(ranges) {
    const cg = this.cg;
    const out = [];
    for (const [rs, re] of ranges) {
      for (const [s, e, parents] of cg.iterRange(rs, re)) {
        let rawParents = cg.frontierToRaw(parents);
        const eIdx = cg.entryOf(s);
        const agent = cg.agents[cg.entryAgent[eIdx]];
        const seq0 = cg.entrySeq[eIdx] + s - cg.starts[eIdx];
        for (const [ts, te, time] of this.timeRuns(s, e)) {
          for (const [s2, e2, kind, pos, content] of this.iterOps(ts, te)) {
            const seq = seq0 + s2 - s;
            const n = e2 - s2;
            if (kind === INS) out.push(makeOp(agent, seq, rawParents, 'ins', pos, content, n, true, time));
            else out.push(makeOp(agent, seq, rawParents, 'del', pos, '', n, kind === DEL_FWD || n === 1, time));
            rawParents = [[agent, seq + n - 1]];
          }
        }
      }
    }
    return out;
  }

  /** Every op not in the history of `frontier`, in causal order. */
  opsSince(frontier) {
    const [, onlyNew] = this.cg.diff(frontier, this.cg.heads);
    return this.opsBetween(onlyNew);
  }

  /**
   * The ops whose ids `known` (a peer's summary as a SummaryIds, or anything with
   * its `knownRun(agent, seq)`) lacks, in causal order.  Within one graph entry
   * the known ids are always a prefix, so one lookup per entry suffices.
   * @param {{knownRun(agent: string, seq: number): number}} known
   */
  opsUnknownTo(known) {
    const cg = this.cg;
    const ranges = [];
    for (let e = 0; e < cg.starts.length; e++) {
      const s = cg.starts[e];
      const end = cg.entryEnd(e);
      const agent = cg.agents[cg.entryAgent[e]];
      const k = known.knownRun(agent, cg.entrySeq[e]);
      const skip = Math.min(k, end - s);
      if (s + skip < end) {
        const last = ranges[ranges.length - 1];
        if (last && last[1] === s + skip) last[1] = end;
        else ranges.push([s + skip, end]);
      }
    }
    return this.opsBetween(ranges);
  }
}
