/**
 * Binary encodings of a whole document (CWD) and of a patch (CWP): a port of
 * src/cowrite/engine/encoding.py, which is the spec (its docstring describes the
 * layout column by column).
 *
 * Why a port and not a new format: the browser is a full peer, so it must read the
 * server's snapshots and patches and write patches the server reads, with exactly
 * the same validation (any malformed input throws DecodeError, never a TypeError,
 * a RangeError or a silently wrong value).  Encoding is byte-identical to Python's
 * for the same ops: format 2, and the body deflated (zlib level 9, by pako, a
 * faithful zlib port) when it is at least 96 bytes and deflate wins.
 *
 * Ops are plain objects, with Python's defaults for missing fields:
 *   {agent, seq, parents: [[agent, seq], ...], kind: 'ins'|'del', pos, content,
 *    length, fwd, time}
 * where an insert's `content` is its text and `length` its code points, a delete's
 * `fwd` says Delete key (true) or Backspace run (false), and `time` is Unix
 * seconds (0 = unknown).
 * Positions, lengths and seqs count Unicode code points, never UTF-16 units.
 *
 * Deliberate difference from Python: a JS number is exact only up to 2**53, so an
 * op whose position plus span exceeds 2**53, or a document of more than 2**53 ops,
 * is refused here (DecodeError / InvalidOpError) although Python decodes it
 * structurally; no real document can hold that many characters.
 */

import { deflate } from 'pako/lib/deflate.js';
import { inflateInit2, inflate } from 'pako/lib/zlib/inflate.js';
import ZStream from 'pako/lib/zlib/zstream.js';

import { crc32 } from './crc32.js';
import { DecodeError, EngineError, InvalidOpError, UnknownParentError } from './errors.js';
import { codePointLength, compareIds, decodeUtf8, encodeUtf8, isWellFormed, utf16Offset } from './utf8.js';
import { ByteReader, ByteWriter, MAX_SAFE } from './varint.js';

export const FORMAT_VERSION = 2;
/** Every format version ever written stays readable. */
export const READ_VERSIONS = [1, 2];
/** Longest agent name, in code points. */
export const MAX_AGENT_LEN = 256;
/** Seqs satisfy `seq + span <= MAX_SEQ`; times are below it. */
export const MAX_SEQ = MAX_SAFE;
export const MAX_TIME = MAX_SAFE;

/** Op-run kinds of the op log columns. */
export const INS = 0;
export const DEL_FWD = 1;
export const DEL_BACK = 2;

const DOC_MAGIC = [0x43, 0x57, 0x44]; // "CWD"
const PATCH_MAGIC = [0x43, 0x57, 0x50]; // "CWP"
const FLAG_DEFLATE = 1;
const KNOWN_FLAGS = FLAG_DEFLATE;
const HEADER = 5; // magic + version + flags
const TRAILER = 4; // CRC-32
// Deflate cannot expand data by more than ~1032x; a claimed raw size above this is
// a lie, and refusing it bounds what a decoder allocates by the input size.
const MAX_DEFLATE_RATIO = 1040;
const DEFLATE_MIN = 96; // bodies shorter than this are not worth trying to deflate
const REDUCE_BUDGET = 1_000_000; // graph entries walked validating merge parents (plus 64/entry)
const INFLATE_CHUNK = 64 * 1024;
// zlib status codes (pako/lib/zlib/constants.js)
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_BUF_ERROR = -5;
const Z_SYNC_FLUSH = 2;

// -- ops -------------------------------------------------------------------------------

/**
 * How many single-character ops (seqs) an op holds.
 * @param {object} op
 * @returns {number}
 */
export function opSpan(op) {
  return op.kind === 'ins' ? codePointLength(op.content) : op.length;
}

const isInt = (v) => typeof v === 'number' && Number.isInteger(v);

/**
 * Structural checks that need no document (Python's `validate_op`): types, signs,
 * sizes, Unicode.  Missing fields take Python's defaults (content '', length 0,
 * fwd true, time 0).  Throws InvalidOpError.
 * @param {object} op
 */
export function validateOp(op) {
  if (op === null || typeof op !== 'object') throw new InvalidOpError(`expected an op object, not ${op}`);
  const { agent, seq, pos, parents, kind } = op;
  const content = op.content ?? '';
  const length = op.length ?? 0;
  const fwd = op.fwd ?? true;
  const time = op.time ?? 0;
  if (typeof agent !== 'string' || !agent || codePointLength(agent) > MAX_AGENT_LEN) {
    throw new InvalidOpError(`agent must be a non-empty string of at most ${MAX_AGENT_LEN} characters`);
  }
  if (!isInt(seq) || seq < 0) throw new InvalidOpError(`seq must be a non-negative integer, not ${seq}`);
  if (!isInt(pos) || pos < 0) throw new InvalidOpError(`pos must be a non-negative integer, not ${pos}`);
  if (!Array.isArray(parents)) throw new InvalidOpError('parents must be an array of [agent, seq] pairs');
  for (const p of parents) {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || !isInt(p[1]) || p[1] < 0 || p[1] >= MAX_SEQ) {
      throw new InvalidOpError(`bad parent ${JSON.stringify(p)}: expected an [agent, seq] pair`);
    }
  }
  let span;
  if (kind === 'ins') {
    if (typeof content !== 'string' || !content) throw new InvalidOpError('an insert needs non-empty string content');
    span = codePointLength(content);
    if (length !== span) throw new InvalidOpError("an insert's length must equal the code points of its content");
    if (fwd !== true) throw new InvalidOpError('inserts are always forward');
  } else if (kind === 'del') {
    if (!isInt(length) || length <= 0) throw new InvalidOpError(`a delete needs a positive length, not ${length}`);
    if (content !== '') throw new InvalidOpError('a delete carries no content');
    if (typeof fwd !== 'boolean') throw new InvalidOpError('fwd must be a boolean');
    span = length;
  } else {
    throw new InvalidOpError(`kind must be 'ins' or 'del', not ${JSON.stringify(kind)}`);
  }
  if (seq > MAX_SEQ - span) throw new InvalidOpError('seq out of range');
  if (pos > MAX_SAFE - span) throw new InvalidOpError('pos out of range');
  if (!isInt(time) || time < 0 || time >= MAX_TIME) {
    throw new InvalidOpError(`time must be an integer Unix time in seconds in 0..2**53-1 (0 = unknown), not ${time}`);
  }
  if (!isWellFormed(agent)) throw new InvalidOpError('agent contains lone surrogates; it is not valid Unicode');
  if (!isWellFormed(content)) throw new InvalidOpError('content contains lone surrogates; it is not valid Unicode');
}

/** A decoded op with every field set. */
function makeOp(agent, seq, parents, kind, pos, content, length, fwd, time) {
  return { agent, seq, parents, kind, pos, content, length, fwd, time };
}

// -- writing ---------------------------------------------------------------------------

/** (value, repeat) pairs: agent columns are long runs of one author. */
function rle(values) {
  const w = new ByteWriter();
  let i = 0;
  while (i < values.length) {
    const v = values[i];
    let j = i + 1;
    while (j < values.length && values[j] === v) j++;
    w.uvar(v);
    w.uvar(j - i);
    i = j;
  }
  return w.finish();
}

function writeAgents(w, agents) {
  w.uvar(agents.length);
  for (const a of agents) w.block(encodeUtf8(a, 'agent name'));
}

function writeFrontier(w, lvs) {
  w.uvar(lvs.length);
  let prev = 0;
  lvs.forEach((v, i) => {
    w.uvar(i === 0 ? v : v - prev);
    prev = v;
  });
}

/** The times section: [run length, time] runs as a count and a block of pairs. */
function writeTimes(w, runs) {
  const pairs = new ByteWriter();
  let prev = 0;
  for (const [n, t] of runs) {
    pairs.uvar(n);
    pairs.svar(t - prev);
    prev = t;
  }
  w.uvar(runs.length);
  w.block(pairs.finish());
}

function kindSpan(w, span, kind) {
  w.uvar(span < 2 ** 50 ? span * 4 + kind : (BigInt(span) << 2n) | BigInt(kind));
}

/** Where the next run probably starts: after typing, its end; after deleting, its start. */
function predict(kind, pos, n) {
  return kind === INS ? pos + n : pos;
}

/** Header, (deflated if smaller) body, CRC-32. */
function frame(magic, body) {
  const packed = body.length >= DEFLATE_MIN ? deflate(body, { level: 9 }) : null;
  const w = new ByteWriter(body.length + 16);
  for (const b of magic) w.byte(b);
  w.byte(FORMAT_VERSION);
  if (packed && packed.length + 4 < body.length) {
    w.byte(FLAG_DEFLATE);
    w.uvar(body.length);
    w.bytes(packed);
  } else {
    w.byte(0);
    w.bytes(body);
  }
  const crc = crc32(w.buf, 0, w.length);
  w.byte(crc & 0xff);
  w.byte((crc >>> 8) & 0xff);
  w.byte((crc >>> 16) & 0xff);
  w.byte(crc >>> 24);
  return w.finish();
}

/**
 * A list of wire ops as CWP bytes for a peer (byte-identical to Python's
 * `encode_patch` for the same ops).  Throws InvalidOpError for a malformed op.
 * @param {object[]} ops
 * @returns {Uint8Array}
 */
export function encodePatch(ops) {
  if (!Array.isArray(ops)) throw new InvalidOpError('encodePatch takes an array of ops');
  const agentIndex = new Map();
  const agents = [];
  const idx = (name) => {
    let i = agentIndex.get(name);
    if (i === undefined) {
      i = agents.length;
      agentIndex.set(name, i);
      agents.push(name);
    }
    return i;
  };
  const opAgents = [];
  const seqs = new ByteWriter();
  const parents = new ByteWriter();
  const kindlen = new ByteWriter();
  const poss = new ByteWriter();
  const content = [];
  const times = []; // [ops, time] runs
  const nextSeq = new Map();
  let prevLast = null;
  let predicted = 0;
  for (const op of ops) {
    validateOp(op);
    const time = op.time ?? 0;
    const a = idx(op.agent);
    opAgents.push(a);
    const span = opSpan(op);
    seqs.svar(op.seq - (nextSeq.get(a) ?? 0));
    nextSeq.set(a, op.seq + span);
    const ps = op.parents;
    if (prevLast !== null && ps.length === 1 && ps[0][0] === prevLast[0] && ps[0][1] === prevLast[1]) {
      parents.uvar(0);
    } else {
      parents.uvar(ps.length + 1);
      for (const [pa, pseq] of ps) {
        parents.uvar(idx(pa));
        parents.uvar(pseq);
      }
    }
    const kind = op.kind === 'ins' ? INS : (op.fwd ?? true) ? DEL_FWD : DEL_BACK;
    kindSpan(kindlen, span, kind);
    poss.svar(op.pos - predicted);
    predicted = predict(kind, op.pos, span);
    if (kind === INS) content.push(op.content);
    if (times.length && times[times.length - 1][1] === time) times[times.length - 1][0]++;
    else times.push([1, time]);
    prevLast = [op.agent, op.seq + span - 1];
  }
  const body = new ByteWriter();
  writeAgents(body, agents);
  body.uvar(ops.length);
  body.block(rle(opAgents));
  body.block(seqs.finish());
  body.block(parents.finish());
  body.block(kindlen.finish());
  body.block(poss.finish());
  body.block(encodeUtf8(content.join(''), 'inserted text'));
  writeTimes(body, times);
  return frame(PATCH_MAGIC, body.finish());
}

/**
 * A whole document as CWD bytes: its op log (`ops`, every op in LV order, e.g. as
 * returned by decodeDocument) plus its text at `version`.  The log's columns are
 * rebuilt with the Python op log's run-merging rules, so a document decoded from
 * Python bytes re-encodes to the same bytes.  `heads` is checked if given.
 * @param {{ops: object[], text: string, version: Array<[string, number]>, heads?: Array<[string, number]>}} doc
 * @returns {Uint8Array}
 */
export function encodeDocument({ ops, text, version, heads }) {
  if (!Array.isArray(ops)) throw new InvalidOpError('encodeDocument needs an array of ops');
  const log = new LogBuilder();
  for (const op of ops) log.add(op);
  const versionLvs = log.lvsOf(version, 'version');
  if (heads !== undefined) {
    const want = log.lvsOf(heads, 'heads');
    if (want.length !== log.heads.length || want.some((v, i) => v !== log.heads[i])) {
      throw new InvalidOpError("heads do not match the ops' causal graph");
    }
  }
  if (typeof text !== 'string') throw new InvalidOpError('text must be a string');
  const g = log.graph;
  const body = new ByteWriter();
  writeAgents(body, g.agents);

  const nEntries = g.starts.length;
  body.uvar(nEntries);
  const lens = new ByteWriter();
  const seqs = new ByteWriter();
  const parents = new ByteWriter();
  const nextSeq = new Array(g.agents.length).fill(0);
  for (let e = 0; e < nEntries; e++) {
    const start = g.starts[e];
    const n = g.entryEnd(e) - start;
    lens.uvar(n);
    const a = g.entryAgent[e];
    const seq = g.entrySeq[e];
    seqs.svar(seq - nextSeq[a]);
    nextSeq[a] = Math.max(nextSeq[a], seq + n);
    const ps = g.parents[e];
    if (ps.length === 1 && ps[0] === start - 1) {
      parents.uvar(0);
    } else {
      parents.uvar(ps.length + 1);
      for (const p of ps) parents.uvar(start - p);
    }
  }
  body.block(lens.finish());
  body.block(rle(g.entryAgent));
  body.block(seqs.finish());
  body.block(parents.finish());

  body.uvar(log.runStarts.length);
  const kindlen = new ByteWriter();
  const poss = new ByteWriter();
  let predicted = 0;
  for (let i = 0; i < log.runStarts.length; i++) {
    const kind = log.runKinds[i];
    const pos = log.runPos[i];
    const n = log.runLens[i];
    kindSpan(kindlen, n, kind);
    poss.svar(pos - predicted);
    predicted = predict(kind, pos, n);
  }
  body.block(kindlen.finish());
  body.block(poss.finish());
  body.block(encodeUtf8(log.runContent.join(''), 'inserted text'));

  writeFrontier(body, g.heads);
  writeFrontier(body, versionLvs);
  const textBytes = encodeUtf8(text, 'text');
  body.uvar(codePointLength(text));
  body.block(textBytes);
  const runs = log.timeStarts.map((s, i) => [
    (i + 1 < log.timeStarts.length ? log.timeStarts[i + 1] : g.nextLv) - s,
    log.timeValues[i],
  ]);
  writeTimes(body, runs);
  return frame(DOC_MAGIC, body.finish());
}

// -- the causal graph, as far as decoding needs it ---------------------------------------

/** Index of the first element > x in a sorted array. */
function bisectRight(arr, x) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first [firstSeq, ...] run whose firstSeq is above `seq`. */
function firstAbove(runs, seq) {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid][0] <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The run-length encoded causal graph (entries of LVs by one agent with
 * consecutive seqs), built with Python's CausalGraph.add rules; just what decoding
 * needs to validate ids and parents and to list the ops.
 */
class Graph {
  constructor() {
    this.agents = [];
    this.agentIndex = new Map();
    this.starts = [];
    this.parents = []; // per entry: sorted LVs
    this.entryAgent = [];
    this.entrySeq = [];
    this.seqRuns = []; // per agent: sorted [firstSeq, endSeq, firstLv] runs
    this.heads = [];
    this.nextLv = 0;
  }

  agentId(agent) {
    let i = this.agentIndex.get(agent);
    if (i === undefined) {
      i = this.agents.length;
      this.agentIndex.set(agent, i);
      this.agents.push(agent);
      this.seqRuns.push([]);
    }
    return i;
  }

  entryOf(lv) {
    return bisectRight(this.starts, lv) - 1;
  }

  entryEnd(e) {
    return e + 1 < this.starts.length ? this.starts[e + 1] : this.nextLv;
  }

  /** The seq run of `agent` holding `seq`, or null. */
  runOf(agent, seq) {
    const a = this.agentIndex.get(agent);
    if (a === undefined) return null;
    const runs = this.seqRuns[a];
    const r = runs[firstAbove(runs, seq) - 1];
    return r && seq < r[1] ? r : null;
  }

  /** The smallest known seq of `agent` greater than `seq`, or null. */
  nextKnownSeq(agent, seq) {
    const a = this.agentIndex.get(agent);
    if (a === undefined) return null;
    const runs = this.seqRuns[a];
    const i = firstAbove(runs, seq);
    return i < runs.length ? runs[i][0] : null;
  }

  rawToLv(agent, seq) {
    const r = this.runOf(agent, seq);
    return r ? r[2] + seq - r[0] : null;
  }

  lvToRaw(lv) {
    const e = this.entryOf(lv);
    return [this.agents[this.entryAgent[e]], this.entrySeq[e] + lv - this.starts[e]];
  }

  /** Append `n` ops by `agent` from `seq` on top of `parents` (checked by the caller). */
  add(agent, seq, n, parents) {
    const lv = this.nextLv;
    const a = this.agentId(agent);
    const last = this.starts.length - 1;
    const extends_ =
      last >= 0 &&
      this.entryAgent[last] === a &&
      parents.length === 1 &&
      parents[0] === lv - 1 &&
      this.entrySeq[last] + lv - this.starts[last] === seq;
    if (!extends_) {
      this.starts.push(lv);
      this.parents.push(parents);
      this.entryAgent.push(a);
      this.entrySeq.push(seq);
    }
    const runs = this.seqRuns[a];
    const top = runs[runs.length - 1];
    if (top && top[1] === seq && top[2] + seq - top[0] === lv) top[1] = seq + n;
    else if (!top || top[0] < seq) runs.push([seq, seq + n, lv]);
    else runs.splice(firstAbove(runs, seq), 0, [seq, seq + n, lv]); // out-of-order seqs (rare)
    this.nextLv = lv + n;
    const h = this.heads;
    if (h.length === parents.length && h.every((v, i) => v === parents[i])) this.heads = [lv + n - 1];
    else this.heads = [...h.filter((v) => !parents.includes(v)), lv + n - 1].sort((x, y) => x - y);
    return lv;
  }

  /** The frontier of a set of LVs: drop every LV that is an ancestor of another. */
  reduce(lvs) {
    const vs = [...new Set(lvs)].sort((x, y) => x - y);
    if (vs.length <= 1) return vs;
    const keep = new Set(vs);
    const low = vs[0];
    // max-heap of [lv, isInput]
    const heap = new MaxHeap();
    for (const v of vs) heap.push(v, true);
    let inputsLeft = vs.length;
    while (heap.size && inputsLeft > 0) {
      let [v, isInput] = heap.pop();
      let reached = !isInput;
      inputsLeft -= isInput ? 1 : 0;
      while (heap.size && heap.peekLv() === v) {
        const [, is2] = heap.pop();
        inputsLeft -= is2 ? 1 : 0;
        reached ||= !is2;
      }
      if (reached) keep.delete(v);
      const e = this.entryOf(v);
      const s = this.starts[e];
      while (heap.size && heap.peekLv() >= s) {
        const [v2, is2] = heap.pop();
        inputsLeft -= is2 ? 1 : 0;
        keep.delete(v2);
      }
      for (const p of this.parents[e]) if (p >= low) heap.push(p, false);
    }
    return [...keep].sort((x, y) => x - y);
  }

  /** Ascending [start, end) LV ranges of the history of `version` (itself included). */
  ancestry(version) {
    const reached = new Map(); // entry -> highest LV of it in the history
    const note = (lv) => {
      const e = this.entryOf(lv);
      if (!(reached.get(e) >= lv)) reached.set(e, lv);
    };
    version.forEach(note);
    const ranges = [];
    for (let e = this.starts.length - 1; e >= 0; e--) {
      const top = reached.get(e);
      if (top === undefined) continue;
      ranges.push([this.starts[e], top + 1]);
      this.parents[e].forEach(note);
    }
    return ranges.reverse();
  }
}

/** A binary max-heap of (lv, flag) pairs, ordered by lv. */
class MaxHeap {
  constructor() {
    this.lvs = [];
    this.flags = [];
  }

  get size() {
    return this.lvs.length;
  }

  peekLv() {
    return this.lvs[0];
  }

  push(lv, flag) {
    const { lvs, flags } = this;
    let i = lvs.length;
    lvs.push(lv);
    flags.push(flag);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (lvs[p] >= lv) break;
      lvs[i] = lvs[p];
      flags[i] = flags[p];
      i = p;
    }
    lvs[i] = lv;
    flags[i] = flag;
  }

  pop() {
    const { lvs, flags } = this;
    const out = [lvs[0], flags[0]];
    const lv = lvs.pop();
    const flag = flags.pop();
    const n = lvs.length;
    if (n) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && lvs[c + 1] > lvs[c]) c++;
        if (lvs[c] <= lv) break;
        lvs[i] = lvs[c];
        flags[i] = flags[c];
        i = c;
      }
      lvs[i] = lv;
      flags[i] = flag;
    }
    return out;
  }
}

/**
 * Builds op-log columns from wire ops in causal order, with the Python op log's
 * rules for extending the last graph entry, op run and time run (encodeDocument).
 */
class LogBuilder {
  constructor() {
    this.graph = new Graph();
    this.runStarts = [];
    this.runKinds = [];
    this.runPos = [];
    this.runLens = [];
    this.runContent = [];
    this.timeStarts = [];
    this.timeValues = [];
  }

  get heads() {
    return this.graph.heads;
  }

  lvsOf(ids, what) {
    if (!Array.isArray(ids)) throw new InvalidOpError(`${what} must be an array of [agent, seq] ids`);
    const out = [];
    for (const id of ids) {
      const lv = Array.isArray(id) && id.length === 2 ? this.graph.rawToLv(id[0], id[1]) : null;
      if (lv === null) throw new InvalidOpError(`${what} names ${JSON.stringify(id)}, which the ops do not have`);
      out.push(lv);
    }
    const reduced = this.graph.reduce(out);
    if (reduced.length !== out.length) throw new InvalidOpError(`${what} is not a frontier`);
    return reduced;
  }

  add(op) {
    validateOp(op);
    const g = this.graph;
    const n = opSpan(op);
    if (g.runOf(op.agent, op.seq) !== null) throw new InvalidOpError(`op ${op.agent}:${op.seq} listed twice`);
    const nxt = g.nextKnownSeq(op.agent, op.seq);
    if (nxt !== null && nxt < op.seq + n) throw new InvalidOpError(`op ${op.agent}:${op.seq}+${n} overlaps another`);
    const lvs = [];
    const missing = [];
    for (const [pa, ps] of op.parents) {
      const lv = g.rawToLv(pa, ps);
      if (lv === null) missing.push([pa, ps]);
      else lvs.push(lv);
    }
    if (missing.length) {
      throw new UnknownParentError(`unknown parent version(s): ${missing.map(([a, s]) => `${a}:${s}`).join(', ')}`, missing);
    }
    const lv = g.add(op.agent, op.seq, n, g.reduce(lvs));
    const kind = op.kind === 'ins' ? INS : (op.fwd ?? true) ? DEL_FWD : DEL_BACK;
    this.pushRun(lv, kind, op.pos, n, kind === INS ? op.content : '');
    const time = op.time ?? 0;
    if (!this.timeValues.length || this.timeValues[this.timeValues.length - 1] !== time) {
      this.timeStarts.push(lv);
      this.timeValues.push(time);
    }
  }

  /** Python's OpLog._push_ops: append a run, extending the last one when it continues. */
  pushRun(lv, kind, pos, n, content) {
    const i = this.runStarts.length - 1;
    if (i >= 0 && this.runStarts[i] + this.runLens[i] === lv) {
      const lk = this.runKinds[i];
      const ll = this.runLens[i];
      const lp = this.runPos[i];
      if (kind === INS) {
        if (lk === INS && lp + ll === pos) {
          this.runLens[i] = ll + n;
          this.runContent[i] += content;
          return;
        }
      } else if (lk !== INS) {
        if (kind === DEL_FWD && lk === DEL_FWD && lp === pos) {
          this.runLens[i] = ll + n;
          return;
        }
        const backOk = lk === DEL_BACK || ll === 1;
        if (backOk && (kind === DEL_BACK || n === 1) && pos + n === lp) {
          this.runKinds[i] = DEL_BACK;
          this.runPos[i] = pos;
          this.runLens[i] = ll + n;
          return;
        }
      }
    }
    this.runStarts.push(lv);
    this.runKinds.push(kind);
    this.runPos.push(pos);
    this.runLens.push(n);
    this.runContent.push(content);
  }
}

// -- reading ---------------------------------------------------------------------------

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new DecodeError(`expected bytes, not ${data === null ? 'null' : typeof data}`);
}

function hasPrefix(data, magic) {
  return data.length >= 3 && data[0] === magic[0] && data[1] === magic[1] && data[2] === magic[2];
}

/**
 * Check magic, version, flags and CRC; a reader over the (inflated) body and the
 * format version.
 */
function unframe(data, magic, what) {
  const other = magic === DOC_MAGIC ? PATCH_MAGIC : DOC_MAGIC;
  if (hasPrefix(data, other)) {
    throw new DecodeError(`not a cowrite ${what}: these bytes are a cowrite ${what === 'document' ? 'patch' : 'document'}`);
  }
  if (!hasPrefix(data, magic)) throw new DecodeError(`not a cowrite ${what}: bad magic bytes`);
  if (data.length < HEADER + TRAILER) throw new DecodeError(`truncated cowrite ${what}: only ${data.length} bytes`);
  const version = data[3];
  if (!READ_VERSIONS.includes(version)) {
    throw new DecodeError(
      `unsupported cowrite ${what} format version ${version} ` +
        `(this build reads versions ${READ_VERSIONS[0]} to ${READ_VERSIONS[READ_VERSIONS.length - 1]})`,
    );
  }
  const t = data.length - TRAILER;
  const crc = (data[t] | (data[t + 1] << 8) | (data[t + 2] << 16) | (data[t + 3] << 24)) >>> 0;
  if (crc32(data, 0, t) !== crc) throw new DecodeError(`corrupt cowrite ${what}: checksum mismatch (truncated or damaged)`);
  const flags = data[4];
  if (flags & ~KNOWN_FLAGS) throw new DecodeError(`unsupported cowrite ${what}: unknown flags 0x${flags.toString(16)}`);
  const r = new ByteReader(data, HEADER, t);
  if (!(flags & FLAG_DEFLATE)) return [r, version];
  const rawLen = r.uvar();
  const packed = r.take(r.left());
  if (rawLen > packed.length * MAX_DEFLATE_RATIO) {
    throw new DecodeError(`corrupt cowrite ${what}: implausible uncompressed size ${rawLen}`);
  }
  return [new ByteReader(inflateExact(packed, rawLen, what)), version];
}

/**
 * Inflate a zlib stream that must hold exactly `rawLen` bytes and nothing after
 * it (Python's `decompressobj().decompress(packed, raw_len)` plus its checks);
 * never produces more than `rawLen` bytes, so a bomb cannot blow up memory.
 */
function inflateExact(packed, rawLen, what) {
  const strm = new ZStream();
  inflateInit2(strm, 15); // zlib wrapper only, like Python's default wbits
  strm.input = packed;
  strm.next_in = 0;
  strm.avail_in = packed.length;
  const chunks = [];
  let got = 0;
  let eof = false;
  for (;;) {
    // One call inflates as far as its room and input allow; a last call with no
    // room lets zlib read the end-of-stream marker and checksum after exactly rawLen.
    const room = Math.min(INFLATE_CHUNK, rawLen - got);
    strm.output = new Uint8Array(room);
    strm.next_out = 0;
    strm.avail_out = room;
    const inBefore = strm.avail_in;
    const status = inflate(strm, Z_SYNC_FLUSH);
    if (strm.next_out) chunks.push(strm.output.subarray(0, strm.next_out));
    got += strm.next_out;
    if (status === Z_STREAM_END) {
      eof = true;
      break;
    }
    if (status !== Z_OK && status !== Z_BUF_ERROR) {
      throw new DecodeError(`corrupt cowrite ${what}: bad compressed body (Error ${status} while decompressing data: ${strm.msg})`);
    }
    if (room === 0 || (strm.next_out === 0 && strm.avail_in === inBefore)) break;
  }
  if (got !== rawLen || !eof || strm.avail_in !== 0) {
    throw new DecodeError(`corrupt cowrite ${what}: compressed body does not match its size`);
  }
  const body = new Uint8Array(rawLen);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return body;
}

function readAgents(r) {
  const n = r.count('agents');
  const agents = [];
  const seen = new Set();
  for (let i = 0; i < n; i++) {
    const raw = r.block();
    if (raw.left() > 4 * MAX_AGENT_LEN) throw new DecodeError('corrupt data: agent name too long');
    const name = decodeUtf8(raw.take(raw.left()), 'agent name');
    if (!name || codePointLength(name) > MAX_AGENT_LEN) {
      throw new DecodeError(`corrupt data: agent names must have 1..${MAX_AGENT_LEN} characters`);
    }
    if (seen.has(name)) throw new DecodeError(`corrupt data: agent '${name}' listed twice`);
    seen.add(name);
    agents.push(name);
  }
  return agents;
}

/** `n` values from (value, repeat) pairs; each value must be below `limit`. */
function readRle(r, n, limit, what) {
  const out = [];
  while (out.length < n) {
    const v = r.uvar();
    const k = r.uvar();
    if (v >= limit) throw new DecodeError(`corrupt data: ${what} ${v} out of range (only ${limit})`);
    if (k === 0 || k > n - out.length) throw new DecodeError(`corrupt data: bad run length in ${what} column`);
    for (let i = 0; i < k; i++) out.push(v);
  }
  r.done(`${what} column`);
  return out;
}

function readFrontier(r, limit, what) {
  const k = r.count(`${what} LVs`);
  const out = [];
  let prev = -1;
  for (let i = 0; i < k; i++) {
    const d = r.uvar();
    const v = i === 0 ? d : prev + d;
    if (i && d === 0) throw new DecodeError(`corrupt data: ${what} is not strictly ascending`);
    if (v >= limit) throw new DecodeError(`corrupt data: ${what} names LV ${v} but the log has ${limit}`);
    out.push(v);
    prev = v;
  }
  return out;
}

function readContent(r, nChars) {
  const raw = r.block();
  const nb = raw.left();
  if (!(nChars <= nb && nb <= 4 * nChars)) {
    throw new DecodeError('corrupt data: inserted text size does not match the insert lengths');
  }
  const content = decodeUtf8(raw.take(nb), 'inserted text');
  if (codePointLength(content) !== nChars) {
    throw new DecodeError('corrupt data: inserted text length does not match the insert lengths');
  }
  return content;
}

/** A times section covering exactly `total` LVs/ops: [run starts, run times]. */
function readTimes(r, total, unit) {
  const nRuns = r.uvar();
  const b = r.block();
  const room = Math.floor(b.left() / 2); // a run takes at least two bytes
  if (nRuns > room) throw new DecodeError(`corrupt data: ${nRuns} time runs claimed but only room for ${room}`);
  const starts = [];
  const values = [];
  let covered = 0;
  let prev = 0;
  for (let i = 0; i < nRuns; i++) {
    const k = b.uvar();
    if (k === 0) throw new DecodeError('corrupt data: empty time run');
    const t = prev + b.svar();
    if (!(t >= 0 && t < MAX_TIME)) throw new DecodeError(`corrupt data: time ${t} out of range`);
    if (i && t === prev) throw new DecodeError('corrupt data: two consecutive time runs have the same time');
    if (k > total - covered) throw new DecodeError(`corrupt data: time runs cover more ${unit} than the ${total} there are`);
    starts.push(covered);
    values.push(t);
    covered += k;
    prev = t;
  }
  b.done('times');
  if (covered !== total) throw new DecodeError(`corrupt data: time runs cover ${covered} ${unit} but there are ${total}`);
  return [starts, values];
}

/** Turn any failure a decoder did not foresee into a DecodeError (never crash callers). */
function guard(fn, data, what) {
  try {
    return fn(asBytes(data));
  } catch (exc) {
    if (exc instanceof DecodeError) throw exc;
    if (exc instanceof EngineError) throw new DecodeError(`invalid cowrite ${what}: ${exc.message}`);
    // (like Python's repr: the class name shows that a check is missing here)
    throw new DecodeError(`invalid cowrite ${what}: ${exc && exc.name ? `${exc.name}: ${exc.message}` : String(exc)}`);
  }
}

/**
 * The ops of CWP bytes, structurally validated (Python's `decode_patch`).
 * @param {Uint8Array} bytes
 * @returns {object[]} ops with every field set
 */
export function decodePatch(bytes) {
  return guard(decodePatchInner, bytes, 'patch');
}

function decodePatchInner(data) {
  const [r, fmt] = unframe(data, PATCH_MAGIC, 'patch');
  const agents = readAgents(r);
  const nAgents = agents.length;
  const n = r.count('ops');
  const agentsR = r.block();
  const seqsR = r.block();
  const parentsR = r.block();
  const klR = r.block();
  const posR = r.block();
  if (n > seqsR.left() || n > parentsR.left() || n > klR.left() || n > posR.left()) {
    throw new DecodeError('corrupt data: op count larger than its columns');
  }
  const opAgents = readRle(agentsR, n, nAgents, 'agent index');
  const rows = [];
  const nextSeq = new Array(nAgents).fill(0);
  let prevLast = null;
  let predicted = 0;
  let insTotal = 0;
  for (let i = 0; i < n; i++) {
    const a = opAgents[i];
    const agent = agents[a];
    const seq = nextSeq[a] + seqsR.svar();
    const [kind, span] = klR.kindSpan();
    if (kind > DEL_BACK) throw new DecodeError(`corrupt data: unknown op kind ${kind}`);
    if (span === 0) throw new DecodeError('corrupt data: empty op');
    if (!(seq >= 0 && seq <= MAX_SEQ - span)) throw new DecodeError(`corrupt data: seq ${seq} out of range`);
    const code = parentsR.uvar();
    let parents;
    if (code === 0) {
      if (prevLast === null) throw new DecodeError('corrupt data: the first op cannot follow a previous one');
      parents = [prevLast.slice()];
    } else {
      const k = code - 1;
      if (2 * k > parentsR.left()) throw new DecodeError('corrupt data: parent count larger than its column');
      parents = [];
      for (let j = 0; j < k; j++) {
        const pa = parentsR.uvar();
        if (pa >= nAgents) throw new DecodeError(`corrupt data: agent index ${pa} out of range`);
        const psq = parentsR.uvar();
        if (psq >= MAX_SEQ) throw new DecodeError('corrupt data: parent seq out of range');
        parents.push([agents[pa], psq]);
      }
    }
    const pos = predicted + posR.svar();
    if (!(pos >= 0)) throw new DecodeError('corrupt data: negative op position');
    if (pos > MAX_SAFE - span) throw new DecodeError('corrupt data: op position out of range');
    predicted = predict(kind, pos, span);
    if (kind === INS) insTotal += span;
    nextSeq[a] = seq + span;
    prevLast = [agent, seq + span - 1];
    rows.push([agent, seq, parents, kind, pos, span]);
  }
  seqsR.done('seqs');
  parentsR.done('parents');
  klR.done('op kinds');
  posR.done('op positions');
  const content = readContent(r, insTotal);
  const [tStarts, tValues] = fmt >= 2 ? readTimes(r, n, 'ops') : n ? [[0], [0]] : [[], []];
  r.done('patch');
  const ops = [];
  let c = 0; // UTF-16 offset into content
  let t = 0;
  const tEnd = (j) => (j + 1 < tStarts.length ? tStarts[j + 1] : n);
  rows.forEach(([agent, seq, parents, kind, pos, span], i) => {
    while (i >= tEnd(t)) t++;
    const time = tValues[t];
    if (kind === INS) {
      const c2 = utf16Offset(content, span, c);
      ops.push(makeOp(agent, seq, parents, 'ins', pos, content.slice(c, c2), span, true, time));
      c = c2;
    } else {
      ops.push(makeOp(agent, seq, parents, 'del', pos, '', span, kind === DEL_FWD, time));
    }
  });
  return ops;
}

/**
 * Decode CWD bytes (Python's `decode_document`): the stored text is used as is
 * (no history replay); everything that can be checked without a replay is.
 *
 * Returns `{ops, text, version, heads, log}`: `ops` every op of the log as runs in
 * LV order (cut where the graph entry, op run or time changes, exactly like
 * Python's `Document.ops_since()`), `version` the `[[agent, seq]]` of the stored
 * text and `heads` of the whole log (sorted like Python), and `log` the raw
 * columns for an engine that wants them without re-resolving ids:
 * `{agents, entries: {starts, agents, seqs, parents}, runs: {starts, kinds, pos,
 * lens, content}, times: {starts, values}, heads, version, length}` (LVs).
 * @param {Uint8Array} bytes
 */
export function decodeDocument(bytes) {
  return guard(decodeDocumentInner, bytes, 'document');
}

function decodeDocumentInner(data) {
  const [r, fmt] = unframe(data, DOC_MAGIC, 'document');
  const agents = readAgents(r);
  const nAgents = agents.length;

  // -- causal graph
  const nEntries = r.count('graph entries');
  const lensR = r.block();
  const agentsR = r.block();
  const seqsR = r.block();
  const parentsR = r.block();
  if (nEntries > lensR.left() || nEntries > parentsR.left() || nEntries > seqsR.left()) {
    throw new DecodeError('corrupt data: graph entry count larger than its columns');
  }
  const entryAgents = readRle(agentsR, nEntries, nAgents, 'agent index');
  const g = new Graph();
  const nextSeq = new Array(nAgents).fill(0);
  let start = 0;
  let linear = true; // every entry follows the previous LV: no concurrency at all
  let budget = REDUCE_BUDGET + 64 * nEntries;
  for (let e = 0; e < nEntries; e++) {
    const n = lensR.uvar();
    if (n === 0) throw new DecodeError('corrupt data: empty graph entry');
    if (n > MAX_SEQ - start) throw new DecodeError('corrupt data: more than 2**53 ops');
    const a = entryAgents[e];
    const seq = nextSeq[a] + seqsR.svar();
    if (!(seq >= 0 && seq <= MAX_SEQ - n)) throw new DecodeError(`corrupt data: seq ${seq} out of range`);
    const code = parentsR.uvar();
    let parents;
    if (code === 0) {
      if (start === 0) throw new DecodeError('corrupt data: the first op cannot follow a previous one');
      parents = [start - 1];
    } else {
      const k = code - 1;
      if (k > parentsR.left()) throw new DecodeError('corrupt data: parent count larger than its column');
      parents = [];
      for (let j = 0; j < k; j++) {
        const d = parentsR.uvar();
        if (!(d >= 1 && d <= start)) throw new DecodeError('corrupt data: a parent is not an earlier op');
        const p = start - d;
        if (parents.length && p <= parents[parents.length - 1]) {
          throw new DecodeError('corrupt data: parents are not strictly ascending');
        }
        parents.push(p);
      }
      if (k > 1 && budget > 0) {
        // reduce() walks the entries between the lowest and highest parent; a forged
        // file could make that quadratic, so the walks share a budget (as in Python).
        budget -= e - g.entryOf(parents[0]);
        const reduced = g.reduce(parents);
        if (reduced.length !== parents.length) {
          throw new DecodeError('corrupt data: parents are not a frontier (one is an ancestor of another)');
        }
      }
      if (!(start ? parents.length === 1 && parents[0] === start - 1 : parents.length === 0)) linear = false;
    }
    const agent = agents[a];
    if (g.runOf(agent, seq) !== null) throw new DecodeError(`corrupt data: id ${agent}:${seq} used twice`);
    const nxt = g.nextKnownSeq(agent, seq);
    if (nxt !== null && nxt < seq + n) throw new DecodeError(`corrupt data: ids ${agent}:${seq}+${n} overlap earlier ones`);
    g.add(agent, seq, n, parents);
    nextSeq[a] = Math.max(nextSeq[a], seq + n);
    start += n;
  }
  lensR.done('entry lengths');
  seqsR.done('seqs');
  parentsR.done('parents');
  const total = start;

  // -- op runs
  const nRuns = r.count('op runs');
  const klR = r.block();
  const posR = r.block();
  if (nRuns > klR.left() || nRuns > posR.left()) throw new DecodeError('corrupt data: op run count larger than its columns');
  const kinds = [];
  const lens = [];
  const poss = [];
  let lv = 0;
  let insTotal = 0;
  let predicted = 0;
  for (let i = 0; i < nRuns; i++) {
    const [kind, n] = klR.kindSpan();
    if (kind > DEL_BACK) throw new DecodeError(`corrupt data: unknown op kind ${kind}`);
    if (n === 0) throw new DecodeError('corrupt data: empty op run');
    const pos = predicted + posR.svar();
    if (!(pos >= 0)) throw new DecodeError('corrupt data: negative op position');
    // (any position above 2**53 also fails the text-length bound below)
    if (pos > MAX_SAFE) throw new DecodeError('corrupt data: op position beyond any possible text length');
    kinds.push(kind);
    lens.push(n);
    poss.push(pos);
    if (n > total - lv) throw new DecodeError('corrupt data: op runs cover more ops than the causal graph');
    lv += n;
    if (kind === INS) insTotal += n;
    predicted = predict(kind, pos, n);
  }
  klR.done('op kinds');
  posR.done('op positions');
  if (lv !== total) throw new DecodeError(`corrupt data: op runs cover ${lv} ops but the causal graph has ${total}`);
  // No document is ever longer than everything inserted into it: a cheap bound on
  // every position that needs no replay (see encoding.py).
  for (let i = 0; i < nRuns; i++) {
    const extra = kinds[i] === INS ? 0 : kinds[i] === DEL_BACK ? lens[i] : 1;
    if (poss[i] > insTotal - extra) throw new DecodeError('corrupt data: op position beyond any possible text length');
  }
  const content = readContent(r, insTotal);
  const runStarts = [];
  const runContent = [];
  lv = 0;
  let c = 0;
  for (let i = 0; i < nRuns; i++) {
    runStarts.push(lv);
    lv += lens[i];
    if (kinds[i] === INS) {
      const c2 = utf16Offset(content, lens[i], c);
      runContent.push(content.slice(c, c2));
      c = c2;
    } else {
      runContent.push('');
    }
  }

  // -- heads, version, text
  const heads = readFrontier(r, total, 'heads');
  if (heads.length !== g.heads.length || heads.some((v, i) => v !== g.heads[i])) {
    throw new DecodeError('corrupt data: stored heads do not match the causal graph');
  }
  const version = readFrontier(r, total, 'version');
  if (version.length > 1 && g.reduce(version).length !== version.length) {
    throw new DecodeError('corrupt data: version is not a frontier (one LV is an ancestor of another)');
  }
  const nChars = r.uvar();
  const tb = r.block();
  if (!(nChars <= tb.left() && tb.left() <= 4 * nChars)) throw new DecodeError('corrupt data: text size does not match its length');
  const text = decodeUtf8(tb.take(tb.left()), 'text');
  if (codePointLength(text) !== nChars) throw new DecodeError('corrupt data: text length does not match');
  let timeStarts;
  let timeValues;
  if (fmt >= 2) [timeStarts, timeValues] = readTimes(r, total, 'LVs');
  else [timeStarts, timeValues] = total ? [[0], [0]] : [[], []]; // version 1: times unknown
  r.done('document');

  const runs = { starts: runStarts, kinds, pos: poss, lens, content: runContent };
  checkTextLen(g, runs, version, nChars, linear);
  const times = { starts: timeStarts, values: timeValues };
  return {
    ops: listOps(g, runs, times),
    text,
    version: toRaw(g, version),
    heads: toRaw(g, heads),
    log: {
      agents: g.agents.slice(),
      entries: { starts: g.starts, agents: g.entryAgent, seqs: g.entrySeq, parents: g.parents },
      runs,
      times,
      heads,
      version,
      length: total,
    },
  };
}

function toRaw(g, lvs) {
  return lvs.map((lv) => g.lvToRaw(lv)).sort(compareIds);
}

/** Count ins/del LVs of the op runs inside [s, e). */
function countKinds(runs, s, e, acc) {
  let i = bisectRight(runs.starts, s) - 1;
  while (s < e && i < runs.starts.length) {
    const stop = Math.min(runs.starts[i] + runs.lens[i], e);
    if (runs.kinds[i] === INS) acc.ins += stop - s;
    else acc.dels += stop - s;
    s = stop;
    i++;
  }
}

/**
 * The stored text must be as long as the version's history allows: exact with no
 * concurrency (and then every run's position is checked against the length so
 * far), else `ins - del <= len <= ins` (concurrent deletes of a character count once).
 */
function checkTextLen(g, runs, version, textLen, linear) {
  const atHeads = version.length === g.heads.length && version.every((v, i) => v === g.heads[i]);
  if (linear && atHeads) {
    let length = 0;
    for (let i = 0; i < runs.starts.length; i++) {
      const kind = runs.kinds[i];
      const pos = runs.pos[i];
      const n = runs.lens[i];
      if (kind === INS) {
        if (pos > length) throw new DecodeError('corrupt data: insert beyond the end of the text');
        length += n;
      } else {
        if (pos + n > length) throw new DecodeError('corrupt data: delete beyond the end of the text');
        length -= n;
      }
    }
    if (length !== textLen) {
      throw new DecodeError(`corrupt data: text has ${textLen} characters but its history makes ${length}`);
    }
    return;
  }
  const ranges = atHeads ? [[0, g.nextLv]] : g.ancestry(version);
  const acc = { ins: 0, dels: 0 };
  for (const [s, e] of ranges) countKinds(runs, s, e, acc);
  if (!(acc.ins - acc.dels <= textLen && textLen <= acc.ins)) {
    throw new DecodeError(
      `corrupt data: text has ${textLen} characters, impossible for its version (${acc.ins} inserted, ${acc.dels} deleted)`,
    );
  }
}

/** Every op of the log as wire runs (Python's OpLog.ops_between over all LVs). */
function listOps(g, runs, times) {
  const out = [];
  let r = 0; // current op run
  let t = 0; // current time run
  const runEnd = (i) => runs.starts[i] + runs.lens[i];
  const timeEnd = (i) => (i + 1 < times.starts.length ? times.starts[i + 1] : g.nextLv);
  for (let e = 0; e < g.starts.length; e++) {
    const s = g.starts[e];
    const end = g.entryEnd(e);
    const agent = g.agents[g.entryAgent[e]];
    const seq0 = g.entrySeq[e];
    let parents = toRaw(g, g.parents[e]);
    let lv = s;
    while (lv < end) {
      while (runEnd(r) <= lv) r++;
      while (timeEnd(t) <= lv) t++;
      const stop = Math.min(end, runEnd(r), timeEnd(t));
      const kind = runs.kinds[r];
      const k0 = lv - runs.starts[r];
      const k1 = stop - runs.starts[r];
      const n = stop - lv;
      const seq = seq0 + lv - s;
      const time = times.values[t];
      if (kind === INS) {
        const text = runs.content[r];
        const i0 = utf16Offset(text, k0);
        const i1 = utf16Offset(text, n, i0);
        out.push(makeOp(agent, seq, parents, 'ins', runs.pos[r] + k0, text.slice(i0, i1), n, true, time));
      } else if (kind === DEL_FWD) {
        out.push(makeOp(agent, seq, parents, 'del', runs.pos[r], '', n, true, time));
      } else {
        out.push(makeOp(agent, seq, parents, 'del', runs.pos[r] + runs.lens[r] - k1, '', n, n === 1, time));
      }
      parents = [[agent, seq + n - 1]];
      lv = stop;
    }
  }
  return out;
}
