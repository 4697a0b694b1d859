// Stable positions: the engine README's examples, tombstone gaps, past versions,
// and the errors; the shared vectors (vectors.test.mjs) check agreement with Python.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidOpError, Position, UnknownVersionError } from '../../src/engine/index.js';
import { doc, pull } from './helpers.mjs';

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
