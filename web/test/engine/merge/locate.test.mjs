// locate (src/engine/merge/locate.js): following characters from one version to
// another, through direct stretches and concurrent ones, to their tombstones.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Located, locate } from '../../../src/engine/merge/index.js';
import { doc, pull, sync } from '../helpers.mjs';

test('characters move with inserts before them and stop at their tombstone when deleted', () => {
  const a = doc('alice');
  a.insert(0, 'abcdef');
  const v0 = a.branchVersion;
  a.insert(0, '>> '); // direct: everything moves right by 3
  a.delete(5, 2); // deletes c, d (now at 5, 6)
  const found = locate(a.oplog, v0, [0, 2, 3, 5], a.branchVersion);
  assert.ok(found.every((f) => f instanceof Located));
  assert.deepEqual(found.map((f) => [f.pos, f.alive]), [[3, true], [5, false], [5, false], [6, true]]);
  // the delete op that removed each: LVs of alice's delete run (after 6 + 3 inserts)
  assert.deepEqual(found[1].deleters, [9]);
  assert.deepEqual(found[2].deleters, [10]);
});

test('through concurrent edits, Fugue decides where a tombstone lies', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'xyz');
  sync(a, b);
  const v0 = a.branchVersion;
  a.delete(1, 1); // alice deletes y
  b.insert(2, 'B'); // bob types between y and z
  b.insert(1, 'b'); // and between x and y
  pull(a, b);
  assert.equal(a.text, 'xbBz');
  const [x, y, z] = locate(a.oplog, v0, [0, 1, 2], a.branchVersion);
  assert.deepEqual([x.pos, x.alive], [0, true]);
  assert.deepEqual([y.pos, y.alive], [2, false]); // between "b" and "B", where y was
  assert.deepEqual([z.pos, z.alive], [3, true]);
});

test('nothing new to walk: every character stays where it is', () => {
  const a = doc('alice');
  a.insert(0, 'abc');
  const found = locate(a.oplog, a.branchVersion, [1], a.branchVersion);
  assert.deepEqual([found[0].pos, found[0].alive, found[0].deleters], [1, true, []]);
});
