// @ts-check
/**
 * A patch (CWP): a list of wire ops for a peer.  A port of
 * src/cowrite/engine/codec/patch.py, whose docstring is the spec of the layout:
 *
 *     agents   (count, then each name as a UTF-8 block)
 *     op count
 *     agent    block: (agent index, repeat) RLE pairs
 *     seqs     block: zigzag delta from the agent's next seq
 *     parents  block: 0 = the previous op's last id, else k+1 then k (agent, seq)
 *     kindlen  block: span << 2 | kind
 *     pos      block: zigzag delta from the predicted position
 *     content  block: every insert's text, concatenated
 *     times    (format 2) run count, then a block of (ops, zigzag time delta) pairs
 *
 * Encoding is byte-identical to Python's `encode_patch` for the same ops.
 * Decoding validates the structure (not whether the ops fit a document: that is
 * the merge's job) and rejects anything malformed with a DecodeError.
 */

import { DecodeError, InvalidOpError } from '../errors.js';
import { MAX_SAFE, MAX_SEQ } from '../limits.js';
import { DEL_BACK, DEL_FWD, INS } from '../oplog.js';
import { makeOp, opSpan, validateOp } from '../ops.js';
import { encodeUtf8, utf16Offset } from '../utf8.js';
import { predict, readAgents, readContent, readRle, readTimes, rle, writeAgents, writeKindSpan, writeTimes } from './columns.js';
import { PATCH_MAGIC, frame, unframe } from './frame.js';
import { ByteWriter } from './varint.js';

/** @typedef {import('../ops.js').Op} Op */

/**
 * A list of wire ops as CWP bytes for a peer (byte-identical to Python's
 * `encode_patch` for the same ops).  Throws InvalidOpError for a malformed op.
 * @param {object[]} ops
 * @returns {Uint8Array}
 */
export function encodePatch(ops) {
  if (!Array.isArray(ops)) throw new InvalidOpError('encodePatch takes an array of ops');
  /** @type {Map<string, number>} */
  const agentIndex = new Map();
  /** @type {string[]} */
  const agents = [];
  /** @param {string} name */
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
  /** @type {Array<[number, number]>} [ops, time] runs */
  const times = [];
  /** @type {Map<number, number>} */
  const nextSeq = new Map();
  /** @type {[string, number]|null} */
  let prevLast = null;
  let predicted = 0;
  for (const op of /** @type {any[]} */ (ops)) {
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
    writeKindSpan(kindlen, span, kind);
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
 * The ops of CWP bytes, structurally validated (Python's `decode_patch`).  Throws
 * DecodeError for bytes that are not a valid patch, and TooLargeError (before
 * inflating anything) if the body is over `maxBytes`.
 * @param {Uint8Array|ArrayBuffer|ArrayBufferView} bytes
 * @param {{maxBytes?: number|null}} [options]
 * @returns {Op[]} ops with every field set
 */
export function decodePatch(bytes, { maxBytes = null } = {}) {
  return readPatch(bytes, maxBytes);
}

/**
 * `decodePatch` with the limit as a plain argument (no options object per patch).
 * @param {Uint8Array|ArrayBuffer|ArrayBufferView} bytes
 * @param {number|null} maxBytes
 * @returns {Op[]}
 */
export function readPatch(bytes, maxBytes) {
  const framed = unframe(bytes, PATCH_MAGIC, maxBytes);
  const r = framed[0];
  const fmt = framed[1];
  const agents = readAgents(r);
  const nAgents = agents.length;
  const n = r.count('ops');
  const agentsR = r.block();
  const seqsR = r.block();
  const parentsR = r.block();
  const klR = r.block();
  const posR = r.block();
  // each column holds at least a byte per op (ByteReader.left, inline)
  if (n > seqsR.end - seqsR.pos || n > parentsR.end - parentsR.pos || n > klR.end - klR.pos || n > posR.end - posR.pos) {
    throw new DecodeError('corrupt data: op count larger than its columns');
  }
  const opAgents = readRle(agentsR, n, nAgents, 'agent index');
  // Each op is made whole here, but its content and time come after every column:
  // they are filled in below (same fields, so every op has one shape).
  /** @type {Op[]} */
  const ops = new Array(n);
  const nextSeq = new Array(nAgents).fill(0);
  let prevAgent = '';
  let prevSeq = -1; // the previous op's last id; -1: none yet
  let predicted = 0;
  let insTotal = 0;
  for (let i = 0; i < n; i++) {
    const a = opAgents[i];
    const agent = agents[a];
    const seq = nextSeq[a] + seqsR.svar();
    // `span << 2 | kind`: exact as a double below 2**53 (else kindSpan splits it)
    const klStart = klR.pos;
    const kl = klR.uvar();
    let kind = kl % 4;
    let span = Math.floor(kl / 4);
    if (!(kl < MAX_SAFE)) {
      klR.pos = klStart;
      const ks = klR.kindSpan();
      kind = ks[0];
      span = ks[1];
    }
    if (kind > DEL_BACK) throw new DecodeError(`corrupt data: unknown op kind ${kind}`);
    if (span === 0) throw new DecodeError('corrupt data: empty op');
    if (!(seq >= 0 && seq <= MAX_SEQ - span)) throw new DecodeError(`corrupt data: seq ${seq} out of range`);
    const code = parentsR.uvar();
    /** @type {Array<[string, number]>} */
    let parents;
    if (code === 0) {
      if (prevSeq < 0) throw new DecodeError('corrupt data: the first op cannot follow a previous one');
      parents = [[prevAgent, prevSeq]];
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
    prevAgent = agent;
    prevSeq = seq + span - 1;
    ops[i] = makeOp(agent, seq, parents, kind === INS ? 'ins' : 'del', pos, '', span, kind !== DEL_BACK, 0);
  }
  seqsR.done('seqs');
  parentsR.done('parents');
  klR.done('op kinds');
  posR.done('op positions');
  const content = readContent(r, insTotal);
  const times = fmt >= 2 ? readTimes(r, n, 'ops') : n ? [[0], [0]] : [[], []];
  const tStarts = times[0];
  const tValues = times[1];
  r.done('patch');
  let c = 0; // UTF-16 offset into content
  let t = 0;
  let tEnd = tStarts.length > 1 ? tStarts[1] : n;
  const oneInsert = n === 1 && insTotal > 0;
  for (let i = 0; i < n; i++) {
    while (i >= tEnd) {
      t++;
      tEnd = t + 1 < tStarts.length ? tStarts[t + 1] : n;
    }
    const op = ops[i];
    op.time = tValues[t];
    if (op.kind === 'ins') {
      if (oneInsert) {
        op.content = content;
      } else {
        const c2 = utf16Offset(content, op.length, c);
        op.content = content.slice(c, c2);
        c = c2;
      }
    }
  }
  return ops;
}
