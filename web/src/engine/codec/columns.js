// @ts-check
/**
 * The column pieces both encodings (documents and patches) share: run-length
 * encoded values, the agent table, frontiers, op kinds with spans, position
 * prediction, times, and the inserted content.  A port of
 * src/cowrite/engine/codec/columns.py.
 *
 * Every reader checks what it reads and throws DecodeError saying what is wrong.
 */

import { DecodeError } from '../errors.js';
import { MAX_AGENT_LEN, MAX_TIME } from '../limits.js';
import { INS } from '../oplog.js';
import { codePointLength, decodeUtf8At, encodeUtf8 } from '../utf8.js';
import { ByteReader, ByteWriter } from './varint.js';

/** Spans below this fit `span * 4 + kind` in an exact double. */
const SPAN_EXACT = 2 ** 50;

// -- writing ---------------------------------------------------------------------------

/**
 * (value, repeat) pairs: agent columns are long runs of one author.
 * @param {number[]} values
 * @returns {Uint8Array}
 */
export function rle(values) {
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

/** @param {ByteWriter} w @param {string[]} agents */
export function writeAgents(w, agents) {
  w.uvar(agents.length);
  for (const a of agents) w.block(encodeUtf8(a, 'agent name'));
}

/** A frontier: its size, then its first LV and the deltas. @param {ByteWriter} w @param {number[]} lvs */
export function writeFrontier(w, lvs) {
  w.uvar(lvs.length);
  let prev = 0;
  lvs.forEach((v, i) => {
    w.uvar(i === 0 ? v : v - prev);
    prev = v;
  });
}

/**
 * The times section: [run length, time] runs as a count and a block of pairs.
 * @param {ByteWriter} w
 * @param {Array<[number, number]>} runs
 */
export function writeTimes(w, runs) {
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

/** `span << 2 | kind`, exact for any span. @param {ByteWriter} w @param {number} span @param {number} kind */
export function writeKindSpan(w, span, kind) {
  w.uvar(span < SPAN_EXACT ? span * 4 + kind : (BigInt(span) << 2n) | BigInt(kind));
}

/**
 * Where the next run probably starts: after typing, its end; after deleting, its start.
 * @param {number} kind
 * @param {number} pos
 * @param {number} n
 */
export function predict(kind, pos, n) {
  return kind === INS ? pos + n : pos;
}

// -- reading ---------------------------------------------------------------------------

/** The agent table: distinct names of 1..MAX_AGENT_LEN code points. @param {ByteReader} r */
export function readAgents(r) {
  const n = r.count('agents');
  const agents = [];
  const seen = n > 8 ? new Set() : null; // a few names (a patch's usual): a scan is cheaper
  for (let i = 0; i < n; i++) {
    // a block, read in place (ByteReader.block without a reader per name)
    const len = r.uvar();
    if (len > r.end - r.pos) throw new r.error('truncated data: a block runs past the end');
    const start = r.pos;
    r.pos = start + len;
    if (len > 4 * MAX_AGENT_LEN) throw new DecodeError('corrupt data: agent name too long');
    const name = decodeUtf8At(r.buf, start, start + len, 'agent name');
    if (!name || codePointLength(name) > MAX_AGENT_LEN) {
      throw new DecodeError(`corrupt data: agent names must have 1..${MAX_AGENT_LEN} characters`);
    }
    if (seen ? seen.has(name) : agents.includes(name)) throw new DecodeError(`corrupt data: agent '${name}' listed twice`);
    if (seen) seen.add(name);
    agents.push(name);
  }
  return agents;
}

/**
 * `n` values from (value, repeat) pairs; each value must be below `limit`.
 * @param {ByteReader} r
 * @param {number} n
 * @param {number} limit
 * @param {string} what
 * @returns {number[]}
 */
export function readRle(r, n, limit, what) {
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

/**
 * A strictly ascending frontier of LVs below `limit`.
 * @param {ByteReader} r
 * @param {number} limit
 * @param {string} what
 * @returns {number[]}
 */
export function readFrontier(r, limit, what) {
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

/**
 * The inserted content: a block of UTF-8 with exactly `nChars` code points.
 * @param {ByteReader} r
 * @param {number} nChars
 * @returns {string}
 */
export function readContent(r, nChars) {
  // a block, read in place (ByteReader.block without a reader)
  const nb = r.uvar();
  if (nb > r.end - r.pos) throw new r.error('truncated data: a block runs past the end');
  const start = r.pos;
  r.pos = start + nb;
  if (!(nChars <= nb && nb <= 4 * nChars)) {
    throw new DecodeError('corrupt data: inserted text size does not match the insert lengths');
  }
  const content = decodeUtf8At(r.buf, start, start + nb, 'inserted text');
  if (codePointLength(content) !== nChars) {
    throw new DecodeError('corrupt data: inserted text length does not match the insert lengths');
  }
  return content;
}

/**
 * A times section covering exactly `total` LVs/ops: [run starts, run times].
 * @param {ByteReader} r
 * @param {number} total
 * @param {string} unit
 * @returns {[number[], number[]]}
 */
export function readTimes(r, total, unit) {
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
