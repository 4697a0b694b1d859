/**
 * LEB128 varints and a bounds-checked byte reader, shared by every binary codec.
 *
 * Why: all cowrite formats are columns of unsigned (LEB128) and zigzag-signed
 * varints.  The Python reader accepts any varint of at most 10 bytes (up to 2**70),
 * so this reader decodes exactly too: values that fit 2**53 come back as exact
 * numbers, larger ones as Infinity (every use rejects them, because no id, count or
 * position can reach 2**53).  The few places where a legal value is larger than
 * that before it is split (a run length shifted left by 2, a zigzag delta) have
 * their own exact readers.  Every failure is a DecodeError, never a RangeError.
 */

import { DecodeError } from './errors.js';

/** 2**53: seqs, times and positions stay below (or at) this; numbers are exact up to it. */
export const MAX_SAFE = 2 ** 53;
const MAX_VARINT_BYTES = 10;
const BIG_SAFE = 2n ** 53n;

/** A growable byte buffer with varint writers. */
export class ByteWriter {
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
   * Append `v` (>= 0, a safe integer or a BigInt) as an LEB128 varint.
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
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint of ${v}`);
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
    if (Math.abs(v) < 2 ** 52) this.uvar(v >= 0 ? v * 2 : -v * 2 - 1);
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

/** A bounds-checked cursor over `buf[pos:end]`; every failure is a DecodeError. */
export class ByteReader {
  /**
   * @param {Uint8Array} buf
   * @param {number} [pos]
   * @param {number} [end]
   */
  constructor(buf, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Bytes left. */
  left() {
    return this.end - this.pos;
  }

  /** The next varint exactly, as a BigInt (slow; for values that may exceed 2**53). */
  uvarBig() {
    const { buf, end } = this;
    let pos = this.pos;
    let result = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      if (pos >= end) throw new DecodeError('truncated data: a number runs past the end of its block');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
      if (i + 1 >= MAX_VARINT_BYTES) throw new DecodeError('malformed number: varint longer than 10 bytes');
    }
    this.pos = pos;
    return result;
  }

  /** The next unsigned varint: exact if <= 2**53, else Infinity. */
  uvar() {
    const { buf, end } = this;
    let pos = this.pos;
    let result = 0;
    let mul = 1;
    // Fast path: up to 7 bytes (49 bits) are exact in a double.
    for (let i = 0; i < 7; i++) {
      if (pos >= end) throw new DecodeError('truncated data: a number runs past the end of its block');
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
    if (v < 2 ** 53) return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
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
    if (v < 2 ** 53) return [v % 4, Math.floor(v / 4)];
    this.pos = start;
    const big = this.uvarBig();
    const span = big >> 2n;
    return [Number(big & 3n), span <= BIG_SAFE ? Number(span) : Infinity];
  }

  /**
   * A count of items that each take at least one byte of this reader (or fewer
   * than `limit`).
   * @param {string} what
   * @param {number} [limit]
   */
  count(what, limit) {
    const n = this.uvar();
    const bound = limit === undefined ? this.left() : limit;
    if (n > bound) throw new DecodeError(`corrupt data: ${n} ${what} claimed but only room for ${bound}`);
    return n;
  }

  /** The next `n` bytes (a view). @param {number} n @returns {Uint8Array} */
  take(n) {
    if (n > this.left()) throw new DecodeError('truncated data: a block runs past the end');
    const p = this.pos;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  /** A reader over the next length-prefixed block. @returns {ByteReader} */
  block() {
    const n = this.uvar();
    if (n > this.left()) throw new DecodeError('truncated data: a block runs past the end');
    const r = new ByteReader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Throw unless every byte was read. @param {string} what */
  done(what) {
    if (this.pos !== this.end) {
      throw new DecodeError(`corrupt data: ${this.end - this.pos} unexpected bytes after ${what}`);
    }
  }
}
