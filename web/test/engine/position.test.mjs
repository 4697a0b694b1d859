// Stable positions (src/engine/position.js): the Position value and its CWC codec
// against testdata/vectors/positions.json, resolving positions on documents
// through concurrent edits (Document.position / resolve), and fuzzing of the
// decoder (COWRITE_FUZZ_SCALE=N runs N times as many cases).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DecodeError, InvalidOpError, Position, UnknownVersionError } from '../../src/engine/index.js';
import { SCALE, expectOnly, fuzzSeed, hex, mutate } from '../fuzz.mjs';
import { b64, loadVectors, rng, thrown, unb64 } from '../vectors.mjs';
import { doc, pull } from './helpers.mjs';

const V = loadVectors('positions.json');
const pos = V;

// -- the value and its codec -------------------------------------------------------------

test('valid CWC bytes decode to the recorded position and re-encode canonically', () => {
  for (const v of V.valid) {
    const p = Position.decode(unb64(v.bytes));
    assert.deepEqual(p.toJSON(), v.json, v.name);
    assert.equal(b64(p.encode()), v.reencoded, v.name);
    assert.ok(Position.fromJSON(v.json).equals(p), v.name);
  }
});

test('invalid CWC bytes throw DecodeError', () => {
  for (const v of V.invalid) {
    const exc = thrown(() => Position.decode(unb64(v.bytes)));
    assert.ok(exc instanceof DecodeError, `${v.name}: ${exc && `${exc.constructor.name}: ${exc.message}`}`);
  }
});

test('invalid JSON positions throw DecodeError', () => {
  for (const v of V.invalid_json) {
    const exc = thrown(() => Position.fromJSON(v.json));
    assert.ok(exc instanceof DecodeError, `${v.name}: ${exc && `${exc.constructor.name}: ${exc.message}`}`);
  }
});

test('the constructor validates like Python (InvalidOpError)', () => {
  for (const args of [
    ['a', 0, 0],
    ['a', -1, 1],
    ['a', 1.5, 1],
    ['a', 2 ** 53, 1],
    ['', 0, 1],
    [null, 1, 1],
    ['a\ud800', 0, 1],
    ['🐙'.repeat(257), 0, 1],
    [42, 0, 1],
  ]) {
    assert.ok(thrown(() => new Position(...args)) instanceof InvalidOpError, JSON.stringify(args));
  }
  const p = new Position('🐙'.repeat(256), 2 ** 53 - 1, -1);
  assert.ok(Position.decode(p.encode()).equals(p));
  assert.ok(Object.isFrozen(p));
});

test('non-bytes input throws DecodeError', () => {
  for (const bad of [null, 'CWC', [0x43, 0x57, 0x43, 1, 0]]) {
    assert.ok(thrown(() => Position.decode(bad)) instanceof DecodeError);
  }
});

test('damaged positions decode or throw DecodeError', () => {
  const r = rng(fuzzSeed(3));
  const seeds = pos.valid.map((v) => unb64(v.bytes));
  for (let i = 0; i < 1000 * SCALE; i++) {
    const data = mutate(r, r.pick(seeds));
    const p = expectOnly(DecodeError, () => Position.decode(data), `position mutant ${hex(data)}`);
    if (p) assert.ok(Position.decode(p.encode()).equals(p));
  }
});

// -- resolving on documents ---------------------------------------------------------------

test('positions follow their character through concurrent edits (README example)', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'The fox');
  pull(b, a);
  const p = a.position(4); // tied to "f"
  const q = a.position(4, -1); // tied to the space before it
  assert.deepEqual([p.agent, p.seq, p.assoc], ['alice', 4, 1]);
  assert.deepEqual([q.agent, q.seq, q.assoc], ['alice', 3, -1]);
  const v = a.version();
  b.insert(4, 'red ');
  pull(a, b);
  assert.equal(a.text, 'The red fox');
  assert.equal(a.resolve(p), 8); // text typed at the gap went before p
  assert.equal(a.resolve(q), 4); // ... and after q
  b.delete(8, 3);
  pull(a, b);
  assert.equal(a.text, 'The red ');
  assert.equal(a.resolve(p), 8); // "f" is gone: p stays at its tombstone, after "red "
  assert.equal(a.resolve(q), 4);
  assert.equal(a.resolve(p, v), 4); // at the version it was taken
  assert.equal(a.resolve(new Position(null, 0, 1), v), 7);
});

test('document edges and emoji', () => {
  const a = doc('alice');
  assert.deepEqual(a.position(0), new Position(null, 0, 1));
  assert.deepEqual(a.position(0, -1), new Position(null, 0, -1));
  a.insert(0, '👩‍🚀x');
  const end = a.position(4);
  const start = a.position(0, -1);
  const x = a.position(3);
  a.insert(0, '🎉');
  a.insert(a.length, '!');
  assert.equal(a.resolve(end), a.length);
  assert.equal(a.resolve(start), 0);
  assert.equal(a.resolve(x), 4);
});

test('a position on a character not in the version, or on a delete, is refused', () => {
  const a = doc('alice');
  const c = doc('carol');
  a.insert(0, 'ab');
  const v = a.version();
  a.delete(0, 1);
  c.insert(0, 'zz');
  pull(a, c);
  const pc = a.position(a.text.indexOf('z'));
  assert.equal(pc.agent, 'carol');
  assert.throws(() => a.resolve(pc, v), UnknownVersionError);
  assert.throws(() => a.resolve(new Position('dave', 0, 1)), UnknownVersionError);
  assert.throws(() => a.resolve(new Position('alice', 2, 1)), InvalidOpError); // alice:2 deleted "a"
  assert.throws(() => a.position(a.length + 1), InvalidOpError);
  assert.throws(() => a.position(0, 0), InvalidOpError);
});

test('positions resolve alike on every replica, even after their character is deleted', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'abcdef');
  pull(b, a);
  const ps = [0, 1, 2, 3, 4, 5, 6].flatMap((i) => [a.position(i, 1), a.position(i, -1)]);
  a.delete(1, 3);
  b.insert(2, 'XY');
  b.insert(4, 'Q');
  pull(a, b);
  pull(b, a);
  assert.equal(a.text, b.text);
  for (const p of ps) assert.equal(a.resolve(p), b.resolve(p), JSON.stringify(p));
});
