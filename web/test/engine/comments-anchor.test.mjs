// Comment anchors (src/engine/anchor.js): the same ranges as the Python engine, through
// concurrent edits, and the same CWA bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Anchor } from '../../src/engine/anchor.js';
import { DecodeError, InvalidOpError, Position, UnknownVersionError } from '../../src/engine/index.js';
import { doc, sync } from './helpers.mjs';

const hex = (u8) => Buffer.from(u8).toString('hex');

test('an anchor follows edits around and inside its range', () => {
  const d = doc('a');
  d.insert(0, 'the quick fox');
  const a = Anchor.over(d, 4, 9);
  assert.deepEqual(a.resolve(d), [4, 9]);
  d.insert(0, '>> ');
  d.insert(d.length, '!');
  d.insert(7, '['); // exactly at its start: outside
  let [lo, hi] = a.resolve(d);
  assert.equal(d.text.slice(lo, hi), 'quick');
  d.insert(hi, ']');
  d.insert(lo + 2, '-');
  [lo, hi] = a.resolve(d);
  assert.equal(d.text.slice(lo, hi), 'qu-ick');
});

test('a range deleted concurrently is detached on both replicas', () => {
  const a = doc('a');
  a.insert(0, 'hello world');
  const b = doc('b');
  sync(b, a);
  const anchor = Anchor.over(a, 6, 11);
  b.delete(5, 6);
  a.insert(0, 'x');
  sync(a, b);
  assert.equal(a.text, 'xhello');
  assert.equal(anchor.resolve(a), null);
  assert.equal(anchor.resolve(b), null);
});

test('a replica without the characters throws UnknownVersionError', () => {
  const a = doc('a');
  a.insert(0, 'abc');
  const anchor = Anchor.over(a, 0, 2);
  assert.throws(() => anchor.resolve(doc('b')), UnknownVersionError);
});

test('bad ranges and sides are refused', () => {
  const d = doc('a');
  d.insert(0, 'abc');
  for (const [s, e] of [[0, 0], [2, 1], [-1, 2], [0, 4], [0.5, 2]]) {
    assert.throws(() => Anchor.over(d, s, e), InvalidOpError);
  }
  assert.throws(() => new Anchor(new Position(null, 0, -1), new Position('a', 1, -1)), InvalidOpError);
  assert.throws(() => new Anchor(new Position('a', 0, 1), new Position('a', 1, 1)), InvalidOpError);
});

test('CWA bytes are the Python engine\'s and garbage is refused', () => {
  const a = new Anchor(new Position('alice', 3, 1), new Position('bob-ü', 2 ** 40, -1));
  assert.equal(hex(a.encode()), '4357410a4357430103616c69636543574300808080808020626f622dc3bc');
  assert.ok(Anchor.decode(a.encode()).equals(a));
  assert.ok(Anchor.fromJSON(JSON.parse(JSON.stringify(a))).equals(a));
  const data = a.encode();
  for (const bad of [new Uint8Array(0), data.subarray(0, 3), data.subarray(0, data.length - 6), new Uint8Array(2000)]) {
    assert.throws(() => Anchor.decode(bad), DecodeError);
  }
  for (const obj of [null, [], { start: null }, { ...a.toJSON(), x: 1 }, { start: a.toJSON().end, end: a.toJSON().start }]) {
    assert.throws(() => Anchor.fromJSON(obj), DecodeError);
  }
});
