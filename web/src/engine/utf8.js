/**
 * Text helpers shared by the codecs: strict UTF-8 and code-point counting.
 *
 * Why: the wire formats count characters in Unicode code points and store text as
 * strict UTF-8, like Python's str.  JS strings are UTF-16, so `.length` counts
 * surrogate halves, `TextEncoder` silently turns a lone surrogate into U+FFFD and
 * `TextDecoder` by default eats a leading BOM and replaces bad bytes.  Every codec
 * goes through these functions instead, so none of those slips can happen.
 */

import { DecodeError, InvalidOpError } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// In a `u` regexp a surrogate class matches only *lone* surrogates: a valid pair is
// one code point there.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Whether `s` is well-formed Unicode (no lone surrogate), i.e. Python could hold it.
 * @param {string} s
 * @returns {boolean}
 */
export function isWellFormed(s) {
  return !LONE_SURROGATE.test(s);
}

/**
 * Strict UTF-8 of `text`; throws InvalidOpError if it holds a lone surrogate.
 * @param {string} text
 * @param {string} what  names the text in the error message
 * @returns {Uint8Array}
 */
export function encodeUtf8(text, what) {
  if (typeof text !== 'string') throw new InvalidOpError(`${what} must be a string, not ${typeof text}`);
  if (!isWellFormed(text)) throw new InvalidOpError(`${what} contains lone surrogates; it cannot be encoded`);
  return encoder.encode(text);
}

/**
 * Strict UTF-8 decoding (keeps a BOM, refuses encoded surrogates, overlongs and
 * truncated sequences); throws DecodeError on bad bytes.
 * @param {Uint8Array} bytes
 * @param {string} what  names the text in the error message
 * @returns {string}
 */
export function decodeUtf8(bytes, what) {
  return decodeUtf8At(bytes, 0, bytes.length, what);
}

// Short texts decoded lately (agent names, a typed character), by a hash of their
// bytes: a patch names the same few agents again and again, and a decoder call
// costs far more than comparing a few bytes.  The same string object comes back,
// so its hash (for the agent index's Map) is computed once.
const SHORT = 32; // longest byte string kept
const SLOTS = 256; // a power of two
const cachedBytes = new Array(SLOTS).fill(null);
const cachedText = new Array(SLOTS).fill('');

/**
 * `decodeUtf8` of `buf[start:end]` (no view is made for a short text seen lately).
 * @param {Uint8Array} buf
 * @param {number} start
 * @param {number} end
 * @param {string} what  names the text in the error message
 * @returns {string}
 */
export function decodeUtf8At(buf, start, end, what) {
  const n = end - start;
  if (n === 1 && buf[start] < 0x80) return String.fromCharCode(buf[start]); // a typed ASCII character
  if (n > SHORT || n <= 0) return decodeStrict(buf.subarray(start, end), what);
  let h = n;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  const slot = (h ^ (h >>> 16)) & (SLOTS - 1);
  const seen = cachedBytes[slot];
  if (seen !== null && seen.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (seen[i] !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return cachedText[slot];
  }
  const text = decodeStrict(buf.subarray(start, end), what); // throws for bad bytes: nothing cached
  const copy = new Uint8Array(n); // a copy (a Buffer's slice would be a view of bytes that may change)
  for (let i = 0; i < n; i++) copy[i] = buf[start + i];
  cachedBytes[slot] = copy;
  cachedText[slot] = text;
  return text;
}

/** @param {Uint8Array} bytes @param {string} what */
function decodeStrict(bytes, what) {
  try {
    return decoder.decode(bytes);
  } catch (exc) {
    if (!(exc instanceof TypeError)) throw exc; // what a fatal TextDecoder throws for bad bytes
    throw new DecodeError(`corrupt data: ${what} is not valid UTF-8`);
  }
}

/**
 * The number of Unicode code points in `s` (Python's `len`); a lone surrogate
 * counts as one, like in Python.
 * @param {string} s
 * @returns {number}
 */
export function codePointLength(s) {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/**
 * The UTF-16 index of code point `cp` in `s`, counting from UTF-16 index `from`
 * (which must be at a code point boundary).  Returns `s.length` if `s` ends first.
 * @param {string} s
 * @param {number} cp  code points to skip
 * @param {number} [from]
 * @returns {number}
 */
export function utf16Offset(s, cp, from = 0) {
  let i = from;
  while (cp > 0 && i < s.length) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
    cp--;
  }
  return i;
}

function isLow(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Compare two strings by code point, like Python compares str (UTF-16 order
 * differs: it puts astral characters before U+E000..U+FFFF).
 * @param {string} a
 * @param {string} b
 * @returns {number} negative, 0 or positive
 */
export function compareCodePoints(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1; // a surrogate stands for a code point above U+FFFF
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * Compare raw ids `[agent, seq]` like Python compares `(agent, seq)` tuples.
 * @param {[string, number]} a
 * @param {[string, number]} b
 * @returns {number}
 */
export function compareIds(a, b) {
  return compareCodePoints(a[0], b[0]) || a[1] - b[1];
}
