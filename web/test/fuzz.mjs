// Shared pieces of the seeded fuzzers (not a test file itself): mutations of valid
// bytes, and the one rule every decoder fuzzer checks, after websockets' fuzzers:
// a decoder either returns a value or throws its *documented* error class; any
// other exception (a TypeError, a RangeError, an InvalidOpError...) is a bug and
// fails the test with the input that caused it.
import assert from 'node:assert/strict';

import { FORMAT_VERSION, HEADER, TRAILER, crc32, unframe } from '../src/engine/codec/frame.js';

/**
 * How many times more iterations than in CI (COWRITE_FUZZ_SCALE, default 1): run
 * e.g. `COWRITE_FUZZ_SCALE=100 node --test test/engine/codec/fuzz.test.mjs` locally.
 */
export const SCALE = Math.max(1, Number(process.env.COWRITE_FUZZ_SCALE || 1));

/** Another run of cases (COWRITE_FUZZ_SEED, default 0: the ones CI runs). */
const SEED = Number(process.env.COWRITE_FUZZ_SEED || 0);

/** The PRNG seed of fuzzer `k` in this run. @param {number} k */
export function fuzzSeed(k) {
  return k + SEED * 7919;
}

/** The (inflated) body of valid CWP/CWD bytes. */
export function bodyOf(bytes, magic) {
  const [r] = unframe(bytes, magic);
  return r.buf.slice(r.pos, r.end);
}

/** `body` framed again, not deflated, with a valid CRC: damage in it reaches the decoder. */
export function reframe(magic, body, version = FORMAT_VERSION) {
  const out = new Uint8Array(HEADER + body.length + TRAILER);
  out.set(magic);
  out[3] = version;
  out[4] = 0;
  out.set(body, HEADER);
  return recrc(out);
}

/** One random mutation: truncate, flip a bit, overwrite, delete or insert bytes. */
export function mutate(r, bytes) {
  const b = [...bytes];
  for (let k = 1 + r.int(3); k > 0; k--) {
    const i = b.length ? r.int(b.length) : 0;
    const what = r.int(6);
    if (what === 0) b.length = r.int(b.length + 1);
    else if (what === 1 && b.length) b[i] ^= 1 << r.int(8);
    else if (what === 2 && b.length) b[i] = r.pick([0, 1, 0x7f, 0x80, 0xff, r.int(256)]);
    else if (what === 3) b.splice(i, 1 + r.int(4));
    else b.splice(i, 0, ...Array.from({ length: 1 + r.int(4) }, () => r.int(256)));
  }
  return Uint8Array.from(b);
}

/** With a repaired CRC-32 trailer, so the damage reaches the body of a CWP/CWD. */
export function recrc(bytes) {
  if (bytes.length < 9) return bytes;
  const out = bytes.slice();
  const c = crc32(out, 0, out.length - 4);
  out.set([c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24], out.length - 4);
  return out;
}

export const hex = (b) => Buffer.from(b).toString('hex');

/**
 * `fn()`, or undefined if it threw one of `errorClasses` (the documented errors);
 * any other exception fails the test, naming `label` (the input).
 * @param {Function|Function[]} errorClasses
 */
export function expectOnly(errorClasses, fn, label) {
  const allowed = Array.isArray(errorClasses) ? errorClasses : [errorClasses];
  try {
    return fn();
  } catch (exc) {
    if (!allowed.some((cls) => exc instanceof cls)) {
      const name = exc && exc.constructor ? exc.constructor.name : typeof exc;
      assert.fail(`${label}: threw ${name}: ${exc && exc.message}\n${exc && exc.stack}`);
    }
    return undefined;
  }
}

/**
 * Ops as single-character ops (id, parents, kind, position, character, time): two
 * op lists mean the same history exactly when these are equal, however their runs
 * are cut (a decoded document keeps its runs as stored; encoding merges them).
 */
export function explode(ops) {
  const out = [];
  for (const op of ops) {
    const chars = op.kind === 'ins' ? Array.from(op.content) : [];
    const n = op.kind === 'ins' ? chars.length : op.length;
    for (let i = 0; i < n; i++) {
      const parents = i === 0 ? op.parents : [[op.agent, op.seq + i - 1]];
      let pos = op.pos;
      if (op.kind === 'ins') pos += i;
      else if (!op.fwd) pos += n - 1 - i;
      out.push([op.agent, op.seq + i, JSON.stringify(parents), op.kind, pos, chars[i] ?? '', op.time]);
    }
  }
  return out;
}
