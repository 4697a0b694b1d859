// @ts-check
/**
 * Ops as plain data: what peers exchange and what the op log stores.  A port of
 * src/cowrite/engine/ops.py.
 *
 * An op is a *run* of single-character ops made by one agent with consecutive
 * seqs, each made on top of the previous one; the first is made on top of
 * `parents`.  A typed word is one op; so is a selection deleted at once.  Ops are
 * plain objects, with Python's defaults for missing fields:
 *
 *     {agent, seq, parents: [[agent, seq], ...], kind: 'ins'|'del', pos, content,
 *      length, fwd, time}
 *
 * - `kind 'ins'`: code point `i` of `content` was inserted at `pos + i` (`length`
 *   is its code points);
 * - `kind 'del'` and `fwd`: each of the `length` ops deleted the character at
 *   `pos` (the Delete key, or a range deleted at once);
 * - `kind 'del'` and not `fwd`: op `i` deleted the character at
 *   `pos + length - 1 - i` (Backspace held down).
 *
 * Positions are Unicode code points in the document as it was at the op's
 * parents.  `time` is Unix seconds (0 = unknown): metadata, never used to merge.
 */

import { InvalidOpError } from './errors.js';
import { MAX_AGENT_LEN, MAX_SAFE, MAX_SEQ, MAX_TIME } from './limits.js';
import { codePointLength, isWellFormed } from './utf8.js';

/**
 * @typedef {{agent: string, seq: number, parents: Array<[string, number]>, kind: 'ins'|'del',
 *   pos: number, content: string, length: number, fwd: boolean, time: number}} Op
 */

/**
 * An op object with every field, like Python's Op dataclass.
 * @param {string} agent
 * @param {number} seq
 * @param {Array<[string, number]>} parents
 * @param {'ins'|'del'} kind
 * @param {number} pos
 * @param {string} content
 * @param {number} length
 * @param {boolean} fwd
 * @param {number} time
 * @returns {Op}
 */
export function makeOp(agent, seq, parents, kind, pos, content, length, fwd, time) {
  return { agent, seq, parents, kind, pos, content, length, fwd, time };
}

/**
 * How many single-character ops (seqs) an op holds.
 * @param {{kind: string, content?: string, length?: number}} op
 * @returns {number}
 */
export function opSpan(op) {
  return op.kind === 'ins' ? codePointLength(/** @type {string} */ (op.content)) : /** @type {number} */ (op.length);
}

/** @param {unknown} v @returns {v is number} */
const isInt = (v) => typeof v === 'number' && Number.isInteger(v);

/**
 * A valid op time: an integer in 0..2**53-1 (0 = unknown); throws InvalidOpError.
 * @param {unknown} time
 * @returns {number}
 */
export function checkTime(time) {
  if (!(isInt(time) && time >= 0 && time < MAX_TIME)) {
    throw new InvalidOpError(`time must be an integer Unix time in seconds in 0..2**53-1 (0 = unknown), not ${time}`);
  }
  return time;
}

/**
 * Structural checks that need no document (Python's `validate_op`): types, signs,
 * sizes, Unicode.  Missing fields take Python's defaults (content '', length 0,
 * fwd true, time 0).  Throws InvalidOpError.
 * @param {any} op
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
  checkTime(time);
  if (!isWellFormed(agent)) throw new InvalidOpError('agent contains lone surrogates; it is not valid Unicode');
  if (!isWellFormed(content)) throw new InvalidOpError('content contains lone surrogates; it is not valid Unicode');
}
