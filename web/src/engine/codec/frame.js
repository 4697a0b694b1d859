// @ts-check
/**
 * The frame around every encoded document and patch: magic, version, flags,
 * deflate, CRC-32, and the inflated-size limit.  A port of
 * src/cowrite/engine/codec/frame.py.
 *
 * Layout:
 *
 *     magic (3 bytes: "CWD" document / "CWP" patch)
 *     format version (1 byte, currently 2; version 1 is still read)
 *     flags (1 byte: bit 0 = body is zlib-deflated)
 *     [uvarint raw body length, only if deflated]
 *     body
 *     CRC-32 (zlib's, 4 bytes little-endian) of everything before it
 *
 * A deflated body states its inflated size up front, which lets a reader refuse a
 * body larger than it is willing to hold *before* inflating anything (`maxBytes`:
 * TooLargeError); without that a 127 KiB frame of zeros inflates to 128 MiB.
 * Deflate (zlib level 9, by pako, a faithful zlib port, so the bytes equal
 * Python's) is used only when it wins, so a keystroke's patch is never compressed.
 */

import { deflate } from 'pako/lib/deflate.js';
import { inflateInit2, inflate } from 'pako/lib/zlib/inflate.js';
import ZStream from 'pako/lib/zlib/zstream.js';

import { DecodeError, TooLargeError } from '../errors.js';
import { MAX_DEFLATE_RATIO } from '../limits.js';
import { ByteReader, ByteWriter } from './varint.js';

export const DOC_MAGIC = [0x43, 0x57, 0x44]; // "CWD"
export const PATCH_MAGIC = [0x43, 0x57, 0x50]; // "CWP"
export const FORMAT_VERSION = 2;
/** Every format version ever written stays readable. */
export const READ_VERSIONS = [1, 2];
const FLAG_DEFLATE = 1;
const KNOWN_FLAGS = FLAG_DEFLATE;
/** Bytes before the body of a plain frame: magic + version + flags. */
export const HEADER = 5;
/** The CRC-32 after the body. */
export const TRAILER = 4;
/** Bodies shorter than this are not even tried with deflate (a keystroke's patch). */
const DEFLATE_MIN = 96;
const INFLATE_CHUNK = 64 * 1024;
// zlib status codes (pako/lib/zlib/constants.js)
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_BUF_ERROR = -5;
const Z_SYNC_FLUSH = 2;
/** zlib's window bits for a stream with the zlib wrapper (Python's default wbits). */
const ZLIB_WBITS = 15;

// -- CRC-32 ------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

// Slicing by four: CRC_BY4[k][b] is the CRC of byte b followed by k zero bytes, so
// one step folds four bytes in (a fraction of the per-byte work, which matters
// before the code is optimised: every patch a page receives is checked).
const CRC_BY4 = (() => {
  const ts = [CRC_TABLE];
  for (let k = 1; k < 4; k++) {
    const prev = ts[k - 1];
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (prev[n] >>> 8) ^ CRC_TABLE[prev[n] & 0xff];
    ts.push(t);
  }
  return ts;
})();
const [T0, T1, T2, T3] = CRC_BY4;

/**
 * CRC-32 (the zlib / PNG polynomial) of `bytes[start:end]`, as an unsigned 32-bit
 * number: equals Python's `zlib.crc32`.  Table-driven, no dependency.
 * @param {Uint8Array} bytes
 * @param {number} [start]
 * @param {number} [end]
 * @returns {number}
 */
export function crc32(bytes, start = 0, end = bytes.length) {
  let c = 0xffffffff;
  let i = start;
  for (const end4 = end - 3; i < end4; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = T3[c & 0xff] ^ T2[(c >>> 8) & 0xff] ^ T1[(c >>> 16) & 0xff] ^ T0[c >>> 24];
  }
  for (; i < end; i++) c = T0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// -- writing -----------------------------------------------------------------------------

/**
 * Header, (deflated if smaller) body, CRC-32.
 * @param {number[]} magic
 * @param {Uint8Array} body
 * @returns {Uint8Array}
 */
export function frame(magic, body) {
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

// -- reading -----------------------------------------------------------------------------

/**
 * Input bytes as a Uint8Array (an ArrayBuffer, a Buffer or another view too).
 * @param {unknown} data
 * @returns {Uint8Array}
 */
export function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new DecodeError(`expected bytes, not ${data === null ? 'null' : typeof data}`);
}

/** @param {Uint8Array} data @param {number[]} magic */
function hasPrefix(data, magic) {
  return data.length >= 3 && data[0] === magic[0] && data[1] === magic[1] && data[2] === magic[2];
}

/**
 * Refuse a body of `n` bytes over `maxBytes` (`what`: "patch" or "document").
 * @param {string} what
 * @param {number} n
 * @param {number|null|undefined} maxBytes
 */
export function checkBodySize(what, n, maxBytes) {
  if (maxBytes !== undefined && maxBytes !== null && n > maxBytes) {
    throw new TooLargeError(`cowrite ${what} body of ${n} bytes is over the limit of ${maxBytes}`);
  }
}

/**
 * Check magic, version, CRC and flags, then the body's size against `maxBytes`
 * (TooLargeError, before anything is inflated); a reader over the (inflated)
 * body and the format version.
 * @param {unknown} input
 * @param {number[]} magic DOC_MAGIC or PATCH_MAGIC
 * @param {number|null} [maxBytes] the largest body accepted (a deflated one's inflated size)
 * @returns {[ByteReader, number]}
 */
export function unframe(input, magic, maxBytes = null) {
  const data = asBytes(input);
  const what = magic === DOC_MAGIC ? 'document' : 'patch';
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
  const r = new ByteReader(data, HEADER, t, DecodeError);
  if (!(flags & FLAG_DEFLATE)) {
    checkBodySize(what, r.left(), maxBytes);
    return [r, version];
  }
  const rawLen = r.uvar();
  const packed = r.take(r.left());
  if (rawLen > packed.length * MAX_DEFLATE_RATIO) {
    throw new DecodeError(`corrupt cowrite ${what}: implausible uncompressed size ${rawLen}`);
  }
  checkBodySize(what, rawLen, maxBytes);
  const body = inflateExact(packed, rawLen, what);
  return [new ByteReader(body, 0, body.length, DecodeError), version];
}

/**
 * Inflate a zlib stream that must hold exactly `rawLen` bytes and nothing after
 * it (Python's `decompressobj().decompress(packed, raw_len)` plus its checks);
 * never produces more than `rawLen` bytes, so a bomb cannot blow up memory.
 * @param {Uint8Array} packed
 * @param {number} rawLen
 * @param {string} what
 * @returns {Uint8Array}
 */
function inflateExact(packed, rawLen, what) {
  const strm = new ZStream();
  inflateInit2(strm, ZLIB_WBITS);
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
