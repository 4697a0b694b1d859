// @ts-check
/**
 * Anchors: a range of text named by its first and last characters (what a comment
 * hangs on); a port of src/cowrite/engine/anchors.py.
 *
 * Why: a comment on "the quick" must stay on those words while others type before,
 * inside or after them.  `start` is tied to the first character (assoc 1, the gap
 * before it), `end` to the last (assoc -1, the gap after it): text typed exactly at
 * an edge stays outside, text typed between its characters is inside, and every
 * replica resolves an anchor to the same indices.  When every character of the range
 * is gone both ends meet: `resolve` answers null (detached; the UI shows the quoted
 * original text).  Wire form: `CWA` + uvarint length of the encoded start + start + end.
 */

import { ByteReader, ByteWriter } from './codec/varint.js';
import { DecodeError, InvalidOpError } from './errors.js';
import { Position } from './position.js';

const MAGIC = [0x43, 0x57, 0x41]; // "CWA"
/** Longest encoded anchor accepted (as in Python). */
export const MAX_ANCHOR_BYTES = 1024;

/** The range from `start` (before its character) to `end` (after its character). Immutable. */
export class Anchor {
  /**
   * @param {Position} start
   * @param {Position} end
   */
  constructor(start, end) {
    if (!(start instanceof Position) || !(end instanceof Position)) throw new InvalidOpError('an anchor is two Positions');
    if (start.agent === null || end.agent === null) {
      throw new InvalidOpError("an anchor names characters, not the document's edges");
    }
    if (start.assoc !== 1 || end.assoc !== -1) {
      throw new InvalidOpError('an anchor starts before its first character (assoc 1) and ends after its last (assoc -1)');
    }
    this.start = start;
    this.end = end;
    Object.freeze(this);
  }

  /**
   * The anchor of code points `start..end` (end exclusive) of `doc`'s text now.
   * @param {import('./document.js').Document} doc
   * @param {number} start
   * @param {number} end
   */
  static over(doc, start, end) {
    const len = doc.length;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start >= end || end > len) {
      throw new InvalidOpError(`an anchor covers a non-empty range inside 0..${len}, not ${start}..${end}`);
    }
    return new Anchor(doc.position(start, 1), doc.position(end, -1));
  }

  /**
   * `[start, end]` in `doc`'s text (now, or at `version`), or null when no character
   * of the range is left (detached).  Throws UnknownVersionError if the document
   * lacks a character the anchor names.
   * @param {import('./document.js').Document} doc
   * @param {any} [version]
   * @returns {[number, number] | null}
   */
  resolve(doc, version = null) {
    const lo = doc.resolve(this.start, version);
    const hi = doc.resolve(this.end, version);
    return hi > lo ? [lo, hi] : null;
  }

  /** Whether `other` is the same anchor. @param {Anchor} other */
  equals(other) {
    return other instanceof Anchor && other.start.equals(this.start) && other.end.equals(this.end);
  }

  toJSON() {
    return { start: this.start.toJSON(), end: this.end.toJSON() };
  }

  /**
   * From `{start, end}` (exactly those keys); throws DecodeError.
   * @param {unknown} obj
   */
  static fromJSON(obj) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new DecodeError('an anchor is an object with exactly start and end');
    }
    const keys = Object.keys(obj).sort();
    if (keys.length !== 2 || keys[0] !== 'end' || keys[1] !== 'start') {
      throw new DecodeError('an anchor is an object with exactly start and end');
    }
    const { start, end } = /** @type {{start: unknown, end: unknown}} */ (obj);
    try {
      return new Anchor(Position.fromJSON(start), Position.fromJSON(end));
    } catch (exc) {
      if (exc instanceof InvalidOpError) throw new DecodeError(`bad anchor: ${exc.message}`);
      throw exc;
    }
  }

  /** @returns {Uint8Array} */
  encode() {
    const head = this.start.encode();
    const tail = this.end.encode();
    const w = new ByteWriter(head.length + tail.length + 8);
    for (const b of MAGIC) w.byte(b);
    w.uvar(head.length);
    w.bytes(head);
    w.bytes(tail);
    return w.finish();
  }

  /**
   * Parse CWA bytes; throws DecodeError.
   * @param {Uint8Array} data
   */
  static decode(data) {
    if (
      !(data instanceof Uint8Array) || data.length > MAX_ANCHOR_BYTES || data.length < 3 ||
      data[0] !== MAGIC[0] || data[1] !== MAGIC[1] || data[2] !== MAGIC[2]
    ) {
      throw new DecodeError('not an encoded cowrite anchor');
    }
    const r = new ByteReader(data, 3);
    let n;
    try {
      n = r.uvarLoose(2, 'truncated anchor');
    } catch {
      throw new DecodeError('truncated anchor');
    }
    const i = r.pos;
    if (n < 5 || i + n >= data.length) throw new DecodeError('truncated anchor');
    const start = Position.decode(data.subarray(i, i + n));
    const end = Position.decode(data.subarray(i + n));
    try {
      return new Anchor(start, end);
    } catch (exc) {
      if (exc instanceof InvalidOpError) throw new DecodeError(`bad anchor: ${exc.message}`);
      throw exc;
    }
  }
}
