// @ts-check
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

import { ByteReader, ByteWriter } from './codec/varint.js';
import { DecodeError, InvalidOpError } from './errors.js';
import { MAX_AGENT_LEN, MAX_POSITION_SEQ_BYTES, MAX_SEQ } from './limits.js';
import { codePointLength, decodeUtf8, encodeUtf8, isWellFormed } from './utf8.js';

const MAGIC = [0x43, 0x57, 0x43]; // "CWC"
const HEADER = 4; // magic + side byte
/** The side byte: assoc 1 (the gap before the character) or -1 (after it). */
const SIDE_BEFORE = 1;
const SIDE_AFTER = 0;

/** A character id and a side: survives concurrent edits. Immutable. */
export class Position {
  /**
   * @param {string|null} agent  null: a document edge
   * @param {number} seq
   * @param {1|-1} [assoc]
   */
  constructor(agent, seq, assoc = 1) {
    if (assoc !== 1 && assoc !== -1) throw new InvalidOpError(`assoc must be 1 or -1, not ${assoc}`);
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq >= MAX_SEQ) {
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
    const { agent, seq, assoc } = /** @type {{agent: any, seq: any, assoc: any}} */ (obj);
    try {
      return new Position(agent, seq, assoc);
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
    const w = new ByteWriter(16);
    for (const b of MAGIC) w.byte(b);
    w.byte(this.assoc === 1 ? SIDE_BEFORE : SIDE_AFTER);
    w.uvar(this.seq);
    if (this.agent !== null) w.bytes(encodeUtf8(this.agent, 'agent'));
    return w.finish();
  }

  /**
   * Parse CWC bytes (as strictly as Python: at most 9 seq bytes, strict UTF-8);
   * throws DecodeError.
   * @param {Uint8Array} data
   * @returns {Position}
   */
  static decode(data) {
    if (!(data instanceof Uint8Array) || data.length < HEADER + 1 || data[0] !== MAGIC[0] || data[1] !== MAGIC[1] || data[2] !== MAGIC[2]) {
      throw new DecodeError('not an encoded cowrite position');
    }
    if (data[3] > SIDE_BEFORE) throw new DecodeError(`bad position side byte ${data[3]}`);
    const assoc = data[3] === SIDE_BEFORE ? 1 : -1;
    // exact below 2**53; larger values are refused by the constructor
    const r = new ByteReader(data, HEADER);
    const seq = r.uvarLoose(MAX_POSITION_SEQ_BYTES, 'truncated or overlong position seq');
    const i = r.pos;
    try {
      const agent = i < data.length ? decodeUtf8(data.subarray(i), 'position agent') : null;
      return new Position(agent, seq, assoc);
    } catch (exc) {
      if (exc instanceof InvalidOpError || exc instanceof DecodeError) throw new DecodeError(`bad position: ${exc.message}`);
      throw exc;
    }
  }
}
