/**
 * Stable positions (cursors, selection ends) and their CWC wire form: a port of
 * src/cowrite/engine/positions.py.
 *
 * Why: an index such as "caret at 42" means something at one version only.  A
 * Position names a *character* by its id (agent, seq) and a side: assoc 1 is the
 * gap just before it, assoc -1 the gap just after it; agent null names a document
 * edge (assoc -1 the start, 1 the end).  Remote cursors travel as CWC bytes in
 * PRESENCE frames; this module only holds the value and its codecs (resolving a
 * Position against a document is Document.resolve's job).
 */

import { DecodeError, InvalidOpError } from './errors.js';
import { codePointLength, decodeUtf8, encodeUtf8, isWellFormed } from './utf8.js';
import { MAX_SAFE } from './varint.js';

const MAGIC = [0x43, 0x57, 0x43]; // "CWC"
const MAX_AGENT_LEN = 256;

/** A character id and a side: survives concurrent edits. Immutable. */
export class Position {
  /**
   * @param {string|null} agent  null: a document edge
   * @param {number} seq
   * @param {1|-1} [assoc]
   */
  constructor(agent, seq, assoc = 1) {
    if (assoc !== 1 && assoc !== -1) throw new InvalidOpError(`assoc must be 1 or -1, not ${assoc}`);
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq >= MAX_SAFE) {
      throw new InvalidOpError(`seq must be a non-negative integer, not ${seq}`);
    }
    if (agent !== null) {
      if (typeof agent !== 'string' || !agent || codePointLength(agent) > MAX_AGENT_LEN) {
        throw new InvalidOpError(`agent must be null or a non-empty string of at most ${MAX_AGENT_LEN} characters`);
      }
      if (!isWellFormed(agent)) throw new InvalidOpError('agent contains lone surrogates; it is not valid Unicode');
    } else if (seq !== 0) {
      throw new InvalidOpError('a document-edge position has seq 0');
    }
    this.agent = agent;
    this.seq = seq;
    this.assoc = assoc;
    Object.freeze(this);
  }

  /** Whether `other` is the same position. @param {Position} other */
  equals(other) {
    return other instanceof Position && other.agent === this.agent && other.seq === this.seq && other.assoc === this.assoc;
  }

  /** `{agent, seq, assoc}` (Python's `to_json`). */
  toJSON() {
    return { agent: this.agent, seq: this.seq, assoc: this.assoc };
  }

  /**
   * From `{agent, seq, assoc}` (exactly those keys); throws DecodeError.
   * @param {unknown} obj
   * @returns {Position}
   */
  static fromJSON(obj) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new DecodeError('a position is an object with exactly agent, seq and assoc');
    }
    const keys = Object.keys(obj).sort();
    if (keys.length !== 3 || keys[0] !== 'agent' || keys[1] !== 'assoc' || keys[2] !== 'seq') {
      throw new DecodeError('a position is an object with exactly agent, seq and assoc');
    }
    try {
      return new Position(obj.agent, obj.seq, obj.assoc);
    } catch (exc) {
      if (exc instanceof InvalidOpError) throw new DecodeError(`bad position: ${exc.message}`);
      throw exc;
    }
  }

  /**
   * `CWC` + side byte (0: assoc -1, 1: assoc 1) + uvarint seq + UTF-8 agent (none: edge).
   * @returns {Uint8Array}
   */
  encode() {
    const out = [...MAGIC, this.assoc === 1 ? 1 : 0];
    let v = this.seq;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    const agent = this.agent === null ? new Uint8Array(0) : encodeUtf8(this.agent, 'agent');
    const bytes = new Uint8Array(out.length + agent.length);
    bytes.set(out);
    bytes.set(agent, out.length);
    return bytes;
  }

  /**
   * Parse CWC bytes (as strictly as Python: at most 9 seq bytes, strict UTF-8);
   * throws DecodeError.
   * @param {Uint8Array} data
   * @returns {Position}
   */
  static decode(data) {
    if (!(data instanceof Uint8Array) || data.length < 5 || data[0] !== MAGIC[0] || data[1] !== MAGIC[1] || data[2] !== MAGIC[2]) {
      throw new DecodeError('not an encoded cowrite position');
    }
    if (data[3] > 1) throw new DecodeError(`bad position side byte ${data[3]}`);
    const assoc = data[3] ? 1 : -1;
    let seq = 0; // exact below 2**53; larger values are refused by the constructor
    let mul = 1;
    let i = 4;
    for (let shift = 0; ; shift += 7) {
      if (i >= data.length || shift > 56) throw new DecodeError('truncated or overlong position seq');
      const b = data[i++];
      seq += (b & 0x7f) * mul;
      mul *= 0x80;
      if (!(b & 0x80)) break;
    }
    try {
      const agent = i < data.length ? decodeUtf8(data.subarray(i), 'position agent') : null;
      return new Position(agent, seq, assoc);
    } catch (exc) {
      if (exc instanceof InvalidOpError || exc instanceof DecodeError) throw new DecodeError(`bad position: ${exc.message}`);
      throw exc;
    }
  }
}
