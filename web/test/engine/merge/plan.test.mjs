// Planning a merge (src/engine/merge/plan.js): the pieces to walk and the critical
// points where the walk may drop its state.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { OpLog } from '../../../src/engine/oplog.js';
import { END, ROOT, criticalPoints, findPlan, piecesSince } from '../../../src/engine/merge/plan.js';

test('a linear history has a critical point before every piece', () => {
  const pieces = [
    [0, 3, [], true],
    [3, 5, [2], true],
    [5, 6, [4], true],
  ];
  assert.deepEqual(criticalPoints(pieces), [ROOT, 2, 4, END]);
});

test('concurrent pieces have no critical point between them', () => {
  // 0..2 the base; 2..4 and 4..6 both on top of LV 1; 6 merges both
  const pieces = [
    [0, 2, [], true],
    [2, 4, [1], true],
    [4, 6, [1], true],
    [6, 7, [3, 5], true],
  ];
  assert.deepEqual(criticalPoints(pieces), [ROOT, 1, null, null, END]);
});

test('findPlan: the ops since the last shared critical version, branch ops first', () => {
  const log = new OpLog();
  log.addLocal('a', 0, 0, 3, ['x', 'y', 'z'], [], 0); // LVs 0..2
  log.addLocal('b', 0, 1, 1, ['B'], [2], 0); // LV 3, on top of a
  log.addLocal('c', 0, 0, 1, ['C'], [2], 0); // LV 4, concurrent with b
  assert.equal(findPlan(log.cg, [3, 4], [3]), null, 'nothing new');
  const [common, spans] = findPlan(log.cg, [3], [4]);
  assert.deepEqual(common, [2]);
  const pieces = piecesSince(log.cg, spans);
  assert.deepEqual(pieces, [
    [3, 4, [2], false],
    [4, 5, [2], true],
  ]);
});
