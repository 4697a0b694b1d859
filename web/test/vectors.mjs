// Loads the shared test vectors (testdata/vectors, written by `cowrite vectors`).
import { readFileSync } from 'node:fs';

const DIR = new URL('../../testdata/vectors/', import.meta.url);

/** The parsed JSON of one vector file. */
export function loadVectors(name) {
  return JSON.parse(readFileSync(new URL(name, DIR), 'utf8'));
}

/** Base64 to bytes. */
export function unb64(s) {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** Bytes to base64. */
export function b64(bytes) {
  return Buffer.from(bytes).toString('base64');
}

/** A seeded PRNG (mulberry32): deterministic fuzzing. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

/** A message from its JSON form in frames.json ({"$bytes"}, {"$bigint"} tags). */
export function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$bytes') return unb64(v.$bytes);
    if (keys.length === 1 && keys[0] === '$bigint') return BigInt(v.$bigint);
    const out = {};
    for (const k of keys) Object.defineProperty(out, k, { value: revive(v[k]), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

/** Call fn; return what it threw (or null). */
export function thrown(fn) {
  try {
    fn();
  } catch (exc) {
    return exc;
  }
  return null;
}

/**
 * Assert `fn` throws exactly the named engine error class (not a TypeError etc.),
 * an EngineError; `errors` is the engine's errors module.
 */
export function assertThrowsClass(errors, fn, name, label) {
  const exc = thrown(fn);
  if (!exc) throw new Error(`${label}: expected ${name}, nothing thrown`);
  if (exc.constructor.name !== name || !(exc instanceof errors[name]) || !(exc instanceof errors.EngineError)) {
    throw new Error(`${label}: expected ${name}, got ${exc.constructor.name}: ${exc.message}`);
  }
}
