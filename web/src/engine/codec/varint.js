// @ts-check
/**
 * LEB128 varints and a bounds-checked byte reader: the one number codec of every
 * cowrite format (documents, patches, positions and protocol frames).  A port of
 * src/cowrite/engine/codec/varint.py.
 *
 * Every cowrite encoding is made of unsigned LEB128 varints (7 bits a byte, low
 * first, high bit = "more"), zigzag-coded signed varints (so small negative deltas
 * stay one byte), and length-prefixed blocks.  They are written and read here and
 * nowhere else.
 *
 * The reader never trusts its input: every failure is an error of its class (a
 * DecodeError unless it was made for protocol frames) with a reason, never a
 * RangeError, and it never reads past the end it was given.  The formats were
 * specified with different rules, so there are three readings:
 *
 * - `uvar()` (documents, patches): at most 10 bytes (up to 2**70), any encoding of
 *   a value accepted.  Values up to 2**53 come back exact, larger ones as Infinity:
 *   every use refuses them, because no id, count or position can reach 2**53.  The
 *   few places where a legal value is larger before it is split (a run length
 *   shifted left by 2, a zigzag delta) have exact readers (`svar`, `kindSpan`).
 * - `uint(what, limit)` (protocol frames): canonical only (no overlong encodings,
 *   so a frame has exactly one byte form), below 2**64 and at most `limit`; a
 *   number when exact, a BigInt past 2**53.
 * - `uvarLoose(maxBytes, message)` (CWC positions): at most `maxBytes` bytes, any
 *   encoding, read as a double (exact up to 2**53; the position refuses larger).
 */

import { DecodeError } from '../errors.js';
import { MAX_SAFE, MAX_VARINT_BYTES } from '../limits.js';

/** The largest value `uint` reads: 2**64 - 1. */
export const MAX_UINT64 = 2n ** 64n - 1n;

const BIG_SAFE = BigInt(MAX_SAFE);

/** A growable byte buffer with varint writers. */
export class ByteWriter {
  /** @param {number} [capacity] */
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
    this.length = 0;
  }

  /** @param {number} extra */
  reserve(extra) {
    if (this.length + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Append one byte. @param {number} b */
  byte(b) {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  /** Append raw bytes. @param {Uint8Array} bytes */
  bytes(bytes) {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /**
   * Append `v` (an integer in 0..2**53, or a BigInt >= 0) as an LEB128 varint.
   * @param {number|bigint} v
   */
  uvar(v) {
    if (typeof v === 'bigint') {
      if (v < 0n) throw new RangeError(`varint of negative ${v}`);
      while (v >= 0x80n) {
        this.byte(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
      }
      this.byte(Number(v));
      return;
    }
    if (!Number.isInteger(v) || v < 0 || v > MAX_SAFE) throw new RangeError(`varint of ${v}`);
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  /**
   * Append signed `v` zigzag-coded (exact for |v| <= 2**53).
   * @param {number} v
   */
  svar(v) {
    if (Math.abs(v) < MAX_SAFE / 2) this.uvar(v >= 0 ? v * 2 : -v * 2 - 1);
    else this.uvar(v >= 0 ? BigInt(v) * 2n : BigInt(-v) * 2n - 1n);
  }

  /** Append a length-prefixed block. @param {Uint8Array} data */
  block(data) {
    this.uvar(data.length);
    this.bytes(data);
  }

  /** The bytes written so far (a copy). @returns {Uint8Array} */
  finish() {
    return this.buf.slice(0, this.length);
  }
}

/**
 * A bounds-checked cursor over `buf[pos:end]`.  Every failure throws `error`
 * (DecodeError; the protocol's frame reader passes ProtocolError).
 */
export class ByteReader {
  /**
   * @param {Uint8Array} buf
   * @param {number} [pos]
   * @param {number} [end]
   * @param {new (message: string) => Error} [error] the class of every error thrown
   */
  constructor(buf, pos = 0, end = buf.length, error = DecodeError) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.error = error;
  }

  /** Bytes left. */
  left() {
    return this.end - this.pos;
  }

  // -- the codecs' rule: up to 10 bytes, any encoding --------------------------------

  /** The next varint exactly, as a BigInt (slow; for values that may exceed 2**53). */
  uvarBig() {
    const { buf, end } = this;
    let pos = this.pos;
    let result = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      if (pos >= end) throw new this.error('truncated data: a number runs past the end of its block');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
      if (i + 1 >= MAX_VARINT_BYTES) throw new this.error(`malformed number: varint longer than ${MAX_VARINT_BYTES} bytes`);
    }
    this.pos = pos;
    return result;
  }

  /** The next unsigned varint: exact if <= 2**53, else Infinity. */
  uvar() {
    let pos = this.pos;
    const end = this.end;
    const buf = this.buf;
    if (pos < end && buf[pos] < 0x80) {
      // one byte (most numbers of a patch): no loop
      this.pos = pos + 1;
      return buf[pos];
    }
    let result = 0;
    let mul = 1;
    // Fast path: up to 7 bytes (49 bits) are exact in a double.
    for (let i = 0; i < 7; i++) {
      if (pos >= end) throw new this.error('truncated data: a number runs past the end of its block');
      const b = buf[pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
      mul *= 0x80;
    }
    const big = this.uvarBig();
    return big <= BIG_SAFE ? Number(big) : Infinity;
  }

  /** The next zigzag varint: exact if |v| <= 2**53, else +-Infinity. */
  svar() {
    const start = this.pos;
    const v = this.uvar();
    if (v < MAX_SAFE) return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
    this.pos = start;
    const big = this.uvarBig();
    const s = big & 1n ? -((big + 1n) >> 1n) : big >> 1n;
    if (s > BIG_SAFE) return Infinity;
    if (s < -BIG_SAFE) return -Infinity;
    return Number(s);
  }

  /**
   * The next `span << 2 | kind` varint split exactly: [kind, span] (span Infinity
   * if above 2**53).
   * @returns {[number, number]}
   */
  kindSpan() {
    const start = this.pos;
    const v = this.uvar();
    if (v < MAX_SAFE) return [v % 4, Math.floor(v / 4)];
    this.pos = start;
    const big = this.uvarBig();
    const span = big >> 2n;
    return [Number(big & 3n), span <= BIG_SAFE ? Number(span) : Infinity];
  }

  // -- the protocol's rule: canonical, below 2**64 -------------------------------------

  /**
   * The next varint in its canonical (shortest) form, below 2**64 and at most
   * `limit`: a number when exact (<= 2**53), else a BigInt.  `what` names it in
   * the error.
   * @param {string} what
   * @param {number|bigint} [limit]
   * @returns {number|bigint}
   */
  uint(what, limit = MAX_UINT64) {
    const { buf, end } = this;
    let v = 0;
    /** @type {bigint|null} */
    let big = null; // switches to BigInt from the 8th byte on
    for (let shift = 0; ; shift += 7) {
      if (this.pos >= end) throw new this.error(`truncated frame: ${what} ends early`);
      const b = buf[this.pos++];
      if (shift === 63 && b > 1) throw new this.error(`${what}: varint larger than 64 bits`);
      if (shift >= 49 && big === null) big = BigInt(v);
      if (big === null) v += (b & 0x7f) * 2 ** shift;
      else big |= BigInt(b & 0x7f) << BigInt(shift);
      if (!(b & 0x80)) {
        if (b === 0 && shift) throw new this.error(`${what}: overlong varint`);
        break;
      }
    }
    const out = big === null ? v : big <= BIG_SAFE ? Number(big) : big;
    if (out > limit) throw new this.error(`${what} is ${out}; the limit is ${limit}`);
    return out;
  }

  // -- the positions' rule: a few bytes, any encoding, read as a double ---------------

  /**
   * The next varint of at most `maxBytes` bytes (any encoding) as a double: exact
   * up to 2**53, rounded above (the caller refuses such values).  Throws
   * `message` if it is truncated or longer.
   * @param {number} maxBytes
   * @param {string} message
   */
  uvarLoose(maxBytes, message) {
    const { buf, end } = this;
    let v = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= end || i >= maxBytes) throw new this.error(message);
      const b = buf[this.pos++];
      v += (b & 0x7f) * mul;
      mul *= 0x80;
      if (!(b & 0x80)) return v;
    }
  }

  // -- blocks ------------------------------------------------------------------------

  /**
   * A count of items that each take at least one byte of this reader (or fewer
   * than `limit`).
   * @param {string} what
   * @param {number} [limit]
   */
  count(what, limit) {
    const n = this.uvar();
    const bound = limit === undefined ? this.left() : limit;
    if (n > bound) throw new this.error(`corrupt data: ${n} ${what} claimed but only room for ${bound}`);
    return n;
  }

  /** The next `n` bytes (a view). @param {number} n @returns {Uint8Array} */
  take(n) {
    if (n > this.left()) throw new this.error('truncated data: a block runs past the end');
    const p = this.pos;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  /** A reader over the next length-prefixed block. @returns {ByteReader} */
  block() {
    const n = this.uvar();
    if (n > this.end - this.pos) throw new this.error('truncated data: a block runs past the end');
    const r = new ByteReader(this.buf, this.pos, this.pos + n, this.error);
    this.pos += n;
    return r;
  }

  /** Throw unless every byte was read. @param {string} what */
  done(what) {
    if (this.pos !== this.end) {
      throw new this.error(`corrupt data: ${this.end - this.pos} unexpected bytes after ${what}`);
    }
  }
}
