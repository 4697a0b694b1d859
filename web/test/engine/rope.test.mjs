// The rope (src/engine/rope.js): a text in chunks indexed by code points.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Rope } from '../../src/engine/rope.js';

test('inserts, deletes and slices count code points, across chunk splits', () => {
  const r = new Rope('a👋b');
  assert.equal(r.length, 3);
  r.insert(1, '🎉x');
  assert.equal(r.toString(), 'a🎉x👋b');
  assert.equal(r.delete(2, 2), 'x👋');
  assert.equal(r.toString(), 'a🎉b');
  const big = 'é'.repeat(3000);
  r.insert(2, big);
  assert.equal(r.length, 3003);
  assert.equal(r.slice(1, 4), '🎉éé');
  assert.equal(r.delete(2, 3000), big);
  assert.equal(r.toString(), 'a🎉b');
});

test('an edit outside the text is a RangeError (a bug in the caller), never a hang', () => {
  const r = new Rope('abc');
  assert.throws(() => r.insert(4, 'x'), RangeError);
  assert.throws(() => r.insert(-1, 'x'), RangeError);
  assert.throws(() => r.delete(2, 2), RangeError);
  assert.throws(() => new Rope('').delete(0, 1), RangeError);
  assert.equal(r.toString(), 'abc');
});
