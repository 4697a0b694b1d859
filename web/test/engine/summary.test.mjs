// Summaries (src/engine/summary.js): checked and normalised, and the ops a peer
// with a given summary lacks.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidOpError } from '../../src/engine/index.js';
import { SummaryIds, isSeqRange, normalizeSummary } from '../../src/engine/summary.js';
import { doc } from './helpers.mjs';

test('summaries are validated and opsMissingFrom gives what a peer lacks', () => {
  const a = doc('alice');
  a.insert(0, 'abc');
  a.insert(3, 'def');
  assert.throws(() => a.opsMissingFrom([]), InvalidOpError);
  assert.throws(() => a.opsMissingFrom({ alice: [[3, 1]] }), InvalidOpError);
  assert.throws(() => a.opsMissingFrom({ alice: [[0]] }), InvalidOpError);
  assert.deepEqual(a.opsMissingFrom({ alice: [[0, 6]] }), []);
  const tail = a.opsMissingFrom({ alice: [[0, 2], [1, 4]], bob: [[0, 9]] });
  assert.equal(tail.length, 1);
  assert.equal(tail[0].seq, 4);
  assert.equal(tail[0].content, 'ef');
  assert.deepEqual(tail[0].parents, [['alice', 3]]);
});

test('normalizeSummary sorts and coalesces ranges; SummaryIds answers knownRun', () => {
  const s = normalizeSummary({ a: [[5, 7], [0, 2], [2, 3], [6, 9]], b: [] });
  assert.deepEqual({ ...s }, { a: [[0, 3], [5, 9]], b: [] });
  assert.equal(Object.getPrototypeOf(s), null);
  for (const bad of [null, [], 'x', { a: 'runs' }, { a: [[1, 1]] }, { a: [[-1, 2]] }, { a: [[0, 2 ** 53 + 2]] }, { a: [[0.5, 2]] }]) {
    assert.throws(() => normalizeSummary(bad), InvalidOpError, JSON.stringify(bad));
  }
  assert.ok(isSeqRange([0, 2 ** 53]) && !isSeqRange([0, 2 ** 53 + 2]));
  const ids = new SummaryIds(s);
  assert.equal(ids.knownRun('a', 0), 3);
  assert.equal(ids.knownRun('a', 2), 1);
  assert.equal(ids.knownRun('a', 3), 0);
  assert.equal(ids.knownRun('a', 8), 1);
  assert.equal(ids.knownRun('nobody', 0), 0);
});
