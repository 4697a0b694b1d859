// @ts-check
/**
 * A whole document (CWD): its op log plus its text at a version.  A port of
 * src/cowrite/engine/codec/document.py, whose docstring is the spec of the layout:
 *
 *     agents   (count, then each name as a UTF-8 block)
 *     causal graph: entry count, then blocks of entry lengths, agents (RLE),
 *              seqs (zigzag delta from the agent's next seq) and parents
 *              (0 = the previous LV, else k+1 then k deltas back from the entry)
 *     op runs: run count, then blocks of span << 2 | kind, positions (zigzag
 *              delta from the predicted one) and the inserted content
 *     heads, version (frontiers of LVs), text (code points, then a UTF-8 block)
 *     times    (format 2) run count, then a block of (LVs, zigzag time delta) pairs
 *
 * Decoding builds the op log (a CausalGraph and the op columns) once, straight
 * from the columns, with no history replay: the stored text is used as is.
 * Everything that can be checked without a replay is, and any malformed input
 * throws DecodeError saying what is wrong.
 *
 * It also reads the head-first layout Python's `Document.encode` writes (see
 * src/cowrite/engine/codec/head.py, the spec): the body starts with HEAD_MARK, then
 * a head (agents, op count, the version as [agent, seq] ids, the text) and the
 * history (the inserted text, then graph, runs without their text, heads, times).
 * This reader decodes it in full, like the classic layout; the writer here keeps to
 * the classic layout (Python reads both).
 *
 * Deliberate difference from Python: a JS number is exact only up to 2**53, so an
 * op whose position plus span exceeds 2**53, or a document of more than 2**53 ops,
 * is refused here (DecodeError / InvalidOpError) although Python decodes it
 * structurally; no real document can hold that many characters.
 */

import { DecodeError, InvalidOpError, UnknownParentError } from '../errors.js';
import { MAX_SAFE, MAX_SEQ, REDUCE_BUDGET } from '../limits.js';
import { DEL_BACK, DEL_FWD, INS, OpLog } from '../oplog.js';
import { opSpan, validateOp } from '../ops.js';
import { codePointLength, decodeUtf8, encodeUtf8 } from '../utf8.js';
import { bisectRight, compareRaw } from '../causalGraph.js';
import { predict, readAgents, readContent, readFrontier, readRle, readTimes, rle, writeAgents, writeFrontier, writeKindSpan, writeTimes } from './columns.js';
import { DOC_MAGIC, frame, unframe } from './frame.js';
import { ByteReader, ByteWriter } from './varint.js';

/** @typedef {import('../ops.js').Op} Op */

// -- writing ---------------------------------------------------------------------------

/**
 * An op log and its text at `version` (LVs) as CWD bytes: Python's
 * `encode_document(oplog, text, version)`, the columns written as the log holds them.
 * @param {OpLog} oplog
 * @param {string} text
 * @param {number[]} version
 * @returns {Uint8Array}
 */
export function writeDocument(oplog, text, version) {
  const g = oplog.cg;
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

  const nRuns = oplog.opStarts.length;
  body.uvar(nRuns);
  const kindlen = new ByteWriter();
  const poss = new ByteWriter();
  const content = [];
  let predicted = 0;
  for (let i = 0; i < nRuns; i++) {
    const kind = oplog.opKinds[i];
    const pos = oplog.opPos[i];
    const n = oplog.opLens[i];
    writeKindSpan(kindlen, n, kind);
    poss.svar(pos - predicted);
    predicted = predict(kind, pos, n);
    if (kind === INS) content.push(oplog.opChars[i].join(''));
  }
  body.block(kindlen.finish());
  body.block(poss.finish());
  body.block(encodeUtf8(content.join(''), 'inserted text'));

  writeFrontier(body, g.heads);
  writeFrontier(body, version);
  const textBytes = encodeUtf8(text, 'text');
  body.uvar(codePointLength(text));
  body.block(textBytes);
  const ts = oplog.timeStarts;
  /** @type {Array<[number, number]>} */
  const runs = ts.map((s, i) => [(i + 1 < ts.length ? ts[i + 1] : g.nextLv) - s, oplog.timeValues[i]]);
  writeTimes(body, runs);
  return frame(DOC_MAGIC, body.finish());
}

/**
 * Build an op log from wire ops in causal order, with the op log's rules for
 * extending the last graph entry, op run and time run; each op must be new and
 * its parents known.  Throws InvalidOpError / UnknownParentError.
 * @param {object[]} ops
 * @returns {OpLog}
 */
function logOf(ops) {
  const log = new OpLog();
  const g = log.cg;
  for (const op of /** @type {any[]} */ (ops)) {
    validateOp(op);
    const n = opSpan(op);
    if (g.rawToLv(op.agent, op.seq) >= 0) throw new InvalidOpError(`op ${op.agent}:${op.seq} listed twice`);
    const nxt = g.nextKnownSeq(op.agent, op.seq);
    if (nxt >= 0 && nxt < op.seq + n) throw new InvalidOpError(`op ${op.agent}:${op.seq}+${n} overlaps another`);
    const lvs = [];
    /** @type {Array<[string, number]>} */
    const missing = [];
    for (const [pa, ps] of op.parents) {
      const lv = g.rawToLv(pa, ps);
      if (lv < 0) missing.push([pa, ps]);
      else lvs.push(lv);
    }
    if (missing.length) {
      throw new UnknownParentError(`unknown parent version(s): ${missing.map(([a, s]) => `${a}:${s}`).join(', ')}`, missing);
    }
    const lv = g.add(op.agent, op.seq, n, g.reduce(lvs));
    const kind = op.kind === 'ins' ? INS : (op.fwd ?? true) ? DEL_FWD : DEL_BACK;
    log.pushOps(lv, kind, op.pos, n, kind === INS ? Array.from(op.content) : []);
    log.pushTime(lv, op.time ?? 0);
  }
  return log;
}

/**
 * LVs of `[agent, seq]` ids that must all be in `log` and form a frontier.
 * @param {OpLog} log
 * @param {unknown} ids
 * @param {string} what
 */
function frontierOf(log, ids, what) {
  if (!Array.isArray(ids)) throw new InvalidOpError(`${what} must be an array of [agent, seq] ids`);
  const out = [];
  for (const id of ids) {
    const lv = Array.isArray(id) && id.length === 2 ? log.cg.rawToLv(id[0], id[1]) : -1;
    if (lv < 0) throw new InvalidOpError(`${what} names ${JSON.stringify(id)}, which the ops do not have`);
    out.push(lv);
  }
  const reduced = log.cg.reduce(out);
  if (reduced.length !== out.length) throw new InvalidOpError(`${what} is not a frontier`);
  return reduced;
}

/**
 * A whole document as CWD bytes from plain data: its op log (`ops`, every op in
 * LV order, e.g. as returned by decodeDocument) plus its text at `version`.  The
 * log's columns are rebuilt with the op log's run-merging rules, so a document
 * decoded from Python bytes re-encodes to the same bytes.  `heads` is checked if
 * given.  Throws InvalidOpError / UnknownParentError.
 * @param {{ops: object[], text: string, version: Array<[string, number]>, heads?: Array<[string, number]>}} doc
 * @returns {Uint8Array}
 */
export function encodeDocument({ ops, text, version, heads }) {
  if (!Array.isArray(ops)) throw new InvalidOpError('encodeDocument needs an array of ops');
  const log = logOf(ops);
  const versionLvs = frontierOf(log, version, 'version');
  if (heads !== undefined) {
    const want = frontierOf(log, heads, 'heads');
    const have = log.cg.heads;
    if (want.length !== have.length || want.some((v, i) => v !== have[i])) {
      throw new InvalidOpError("heads do not match the ops' causal graph");
    }
  }
  if (typeof text !== 'string') throw new InvalidOpError('text must be a string');
  return writeDocument(log, text, versionLvs);
}

// -- reading ---------------------------------------------------------------------------

/**
 * Read CWD bytes into an op log (Python's `decode_document`): `{oplog, text,
 * version}` with `version` the LVs of the stored text.  No history replay.
 * Throws DecodeError, or TooLargeError (before inflating) for a body over `maxBytes`.
 * @param {Uint8Array|ArrayBuffer|ArrayBufferView} bytes
 * @param {{maxBytes?: number|null}} [options]
 * @returns {{oplog: OpLog, text: string, version: number[]}}
 */
export function readDocument(bytes, { maxBytes = null } = {}) {
  const [r, fmt] = unframe(bytes, DOC_MAGIC, maxBytes);
  const head = isHeadFirst(r) ? readHead(r) : null;
  const agents = head ? head.agents : readAgents(r);
  const nAgents = agents.length;
  /** @type {ByteReader|null} */
  let contentR = null;
  if (head) {
    // head-first: the inserted text comes before the graph (readContent reads its block from here)
    contentR = new ByteReader(r.buf, r.pos, r.end);
    r.block();
  }

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
  const oplog = new OpLog();
  const g = oplog.cg;
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
        // Past it, a redundant parent edge is let through: it names no new ancestor.
        budget -= e - g.entryOf(parents[0]);
        const reduced = g.reduce(parents);
        if (reduced.length !== parents.length) {
          throw new DecodeError('corrupt data: parents are not a frontier (one is an ancestor of another)');
        }
      }
      if (!(start ? parents.length === 1 && parents[0] === start - 1 : parents.length === 0)) linear = false;
    }
    const agent = agents[a];
    if (g.rawToLv(agent, seq) >= 0) throw new DecodeError(`corrupt data: id ${agent}:${seq} used twice`);
    const nxt = g.nextKnownSeq(agent, seq);
    if (nxt >= 0 && nxt < seq + n) throw new DecodeError(`corrupt data: ids ${agent}:${seq}+${n} overlap earlier ones`);
    g.add(agent, seq, n, parents);
    nextSeq[a] = Math.max(nextSeq[a], seq + n);
    start += n;
  }
  lensR.done('entry lengths');
  seqsR.done('seqs');
  parentsR.done('parents');
  const total = start;
  if (head && total !== head.nLvs) {
    throw new DecodeError(`corrupt data: the history holds ${total} ops but the head says ${head.nLvs}`);
  }

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
  // every position that needs no replay.  An insert needs pos <= length; a
  // DEL_BACK run's first op deletes pos + n - 1; a DEL_FWD run's first op deletes
  // pos, and its later ops may be concurrent deletes of that same character.
  for (let i = 0; i < nRuns; i++) {
    const extra = kinds[i] === INS ? 0 : kinds[i] === DEL_BACK ? lens[i] : 1;
    if (poss[i] > insTotal - extra) throw new DecodeError('corrupt data: op position beyond any possible text length');
  }
  const content = readContent(contentR ?? r, insTotal);
  const chars = Array.from(content);
  const runStarts = [];
  const runChars = [];
  lv = 0;
  let c = 0;
  for (let i = 0; i < nRuns; i++) {
    runStarts.push(lv);
    lv += lens[i];
    if (kinds[i] === INS) {
      runChars.push(chars.slice(c, c + lens[i]));
      c += lens[i];
    } else {
      runChars.push([]);
    }
  }
  // the op log holds the runs as stored (like Python's decoder)
  oplog.opStarts = runStarts;
  oplog.opKinds = kinds;
  oplog.opPos = poss;
  oplog.opLens = lens;
  oplog.opChars = runChars;

  // -- heads, version, text
  const heads = readFrontier(r, total, 'heads');
  const gHeads = g.heads;
  if (heads.length !== gHeads.length || heads.some((v, i) => v !== gHeads[i])) {
    throw new DecodeError('corrupt data: stored heads do not match the causal graph');
  }
  let version, text, nChars;
  if (head) {
    [version, text, nChars] = [[], head.text, head.nChars];
    for (const [agent, seq] of head.ids) {
      const at = g.rawToLv(agent, seq);
      if (at < 0) throw new DecodeError(`corrupt data: the version names ${agent}:${seq}, which the history does not have`);
      version.push(at);
    }
    version.sort((x, y) => x - y);
  } else {
    version = readFrontier(r, total, 'version');
  }
  if (version.length > 1 && g.reduce(version).length !== version.length) {
    throw new DecodeError('corrupt data: version is not a frontier (one LV is an ancestor of another)');
  }
  if (!head) {
    nChars = r.uvar();
    const tb = r.block();
    if (!(nChars <= tb.left() && tb.left() <= 4 * nChars)) throw new DecodeError('corrupt data: text size does not match its length');
    text = decodeUtf8(tb.take(tb.left()), 'text');
    if (codePointLength(text) !== nChars) throw new DecodeError('corrupt data: text length does not match');
  }
  if (fmt >= 2) [oplog.timeStarts, oplog.timeValues] = readTimes(r, total, 'LVs');
  else if (total) [oplog.timeStarts, oplog.timeValues] = [[0], [0]]; // version 1: times unknown
  r.done('document');
  checkTextLen(oplog, version, nChars, linear);
  return { oplog, text, version };
}

/** The first bytes of a head-first body: a varint of 2**64 - 1, which no classic body can start with. */
export const HEAD_MARK = Object.freeze([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);

/**
 * Whether the body `r` is about to read is in the head-first layout.
 * @param {ByteReader} r
 */
function isHeadFirst(r) {
  if (r.left() < HEAD_MARK.length) return false;
  for (let i = 0; i < HEAD_MARK.length; i++) if (r.buf[r.pos + i] !== HEAD_MARK[i]) return false;
  return true;
}

/**
 * The head of a head-first body (Python's `codec/head.py` `read_head`, same checks
 * and messages); leaves `r` at the history.
 * @param {ByteReader} r
 * @returns {{agents: string[], nLvs: number, ids: Array<[string, number]>, text: string, nChars: number}}
 */
function readHead(r) {
  r.take(HEAD_MARK.length);
  const headLen = r.uvar();
  if (headLen > r.left()) throw new DecodeError('corrupt data: the document head runs past the end of its body');
  const h = new ByteReader(r.buf, r.pos, r.pos + headLen);
  r.pos += headLen;
  const agents = readAgents(h);
  const nLvs = h.uvar();
  if (nLvs > MAX_SEQ) throw new DecodeError('corrupt data: more than 2**53 ops');
  const k = h.count('version ids');
  if (k > nLvs) throw new DecodeError('corrupt data: the version names more ops than the history holds');
  /** @type {Array<[string, number]>} */
  const ids = [];
  for (let i = 0; i < k; i++) {
    const a = h.uvar();
    if (a >= agents.length) throw new DecodeError(`corrupt data: agent index ${a} out of range (only ${agents.length})`);
    const seq = h.uvar();
    if (!(seq < MAX_SEQ)) throw new DecodeError(`corrupt data: seq ${seq} out of range`);
    /** @type {[string, number]} */
    const id = [agents[a], seq];
    if (ids.length && compareRaw(id, ids[ids.length - 1]) <= 0) {
      throw new DecodeError('corrupt data: version ids are not strictly ascending');
    }
    ids.push(id);
  }
  const nChars = h.uvar();
  const tb = h.block();
  if (!(nChars <= tb.left() && tb.left() <= 4 * nChars)) throw new DecodeError('corrupt data: text size does not match its length');
  const text = decodeUtf8(tb.take(tb.left()), 'text');
  if (codePointLength(text) !== nChars) throw new DecodeError('corrupt data: text length does not match');
  if (nChars > nLvs) throw new DecodeError(`corrupt data: text has ${nChars} characters but the history only ${nLvs} ops`);
  h.done('document head');
  return { agents, nLvs, ids, text, nChars };
}

/**
 * Count ins/del LVs of the op runs inside [s, e).
 * @param {OpLog} oplog
 * @param {number} s
 * @param {number} e
 * @param {{ins: number, dels: number}} acc
 */
function countKinds(oplog, s, e, acc) {
  const starts = oplog.opStarts;
  let i = bisectRight(starts, s) - 1;
  while (s < e && i < starts.length) {
    const stop = Math.min(starts[i] + oplog.opLens[i], e);
    if (oplog.opKinds[i] === INS) acc.ins += stop - s;
    else acc.dels += stop - s;
    s = stop;
    i++;
  }
}

/**
 * The stored text must be as long as the version's history allows: exact with no
 * concurrency (and then every run's position is checked against the length so
 * far), else `ins - del <= len <= ins` (concurrent deletes of a character count once).
 * @param {OpLog} oplog
 * @param {number[]} version
 * @param {number} textLen
 * @param {boolean} linear
 */
function checkTextLen(oplog, version, textLen, linear) {
  const g = oplog.cg;
  const atHeads = version.length === g.heads.length && version.every((v, i) => v === g.heads[i]);
  if (linear && atHeads) {
    let length = 0;
    for (let i = 0; i < oplog.opStarts.length; i++) {
      const kind = oplog.opKinds[i];
      const pos = oplog.opPos[i];
      const n = oplog.opLens[i];
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
  // the history of `version`: everything, at the heads
  const ranges = atHeads ? [[0, g.nextLv]] : g.diff(version, [])[0];
  const acc = { ins: 0, dels: 0 };
  for (const [s, e] of ranges) countKinds(oplog, s, e, acc);
  if (!(acc.ins - acc.dels <= textLen && textLen <= acc.ins)) {
    throw new DecodeError(
      `corrupt data: text has ${textLen} characters, impossible for its version (${acc.ins} inserted, ${acc.dels} deleted)`,
    );
  }
}

/**
 * Decode CWD bytes to plain data (Python's `decode_document`, as values): the
 * stored text is used as is (no history replay); everything that can be checked
 * without a replay is.
 *
 * Returns `{ops, text, version, heads, log}`: `ops` every op of the log as runs in
 * LV order (cut where the graph entry, op run or time changes, exactly like
 * Python's `Document.ops_since()`), `version` the `[[agent, seq]]` of the stored
 * text and `heads` of the whole log (sorted like Python), and `log` the raw
 * columns (LVs): `{agents, entries: {starts, agents, seqs, parents}, runs: {starts,
 * kinds, pos, lens, content}, times: {starts, values}, heads, version, length}`.
 * Throws DecodeError, or TooLargeError (before inflating) for a body over `maxBytes`.
 * @param {Uint8Array|ArrayBuffer|ArrayBufferView} bytes
 * @param {{maxBytes?: number|null}} [options]
 */
export function decodeDocument(bytes, options = {}) {
  const { oplog, text, version } = readDocument(bytes, options);
  const g = oplog.cg;
  return {
    ops: oplog.opsBetween([[0, g.nextLv]]),
    text,
    version: g.frontierToRaw(version),
    heads: g.frontierToRaw(g.heads),
    log: {
      agents: g.agents.slice(),
      entries: { starts: g.starts, agents: g.entryAgent, seqs: g.entrySeq, parents: g.parents },
      runs: {
        starts: oplog.opStarts,
        kinds: oplog.opKinds,
        pos: oplog.opPos,
        lens: oplog.opLens,
        content: oplog.opChars.map((cs) => cs.join('')),
      },
      times: { starts: oplog.timeStarts, values: oplog.timeValues },
      heads: g.heads,
      version,
      length: g.nextLv,
    },
  };
}
