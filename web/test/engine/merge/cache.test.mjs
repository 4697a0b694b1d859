// MergeCache (src/engine/merge/cache.js): a document keeps its last walk and
// continues it while nobody reaches a critical version, and drops it on failure.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidOpError } from '../../../src/engine/index.js';
import { assertConsistent, doc, pull } from '../helpers.mjs';

test('sustained concurrent typing with latency converges, walking only what is new', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'x'.repeat(200));
  pull(b, a);
  const toB = [];
  const toA = [];
  for (let i = 0; i < 300; i++) {
    a.insert((i * 13) % a.length, 'a');
    if (i % 5 === 0) a.delete((i * 3) % a.length, 1);
    b.insert((i * 7) % b.length, 'b');
    toB.push(a.encodePatch(b.summary()));
    toA.push(b.encodePatch(a.summary()));
    if (toB.length > 3) {
      // three patches in flight each way: no critical version ever forms
      b.applyPatch(toB.shift());
      a.applyPatch(toA.shift());
    }
  }
  while (toB.length) {
    b.applyPatch(toB.shift());
    a.applyPatch(toA.shift());
  }
  assert.equal(a.text, b.text);
  assertConsistent(a);
  const fresh = doc('carol');
  fresh.applyPatch(a.encodePatch(null));
  assert.equal(fresh.text, a.text);
  // the kept walk was continued rather than redone from the last critical version
  assert.ok(a.mergeCache.hits > 250, `cache hits ${a.mergeCache.hits}`);
});

test('a failed merge clears the kept walk and the next merge is still right', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'abc');
  pull(b, a);
  a.insert(3, 'A');
  b.insert(0, 'B');
  pull(a, b); // a walk is kept
  const bad = { agent: 'mallory', seq: 0, parents: [['bob', 0]], kind: 'del', pos: 3, content: '', length: 2, fwd: true, time: 0 };
  assert.throws(() => a.addOps([bad]), InvalidOpError);
  a.insert(1, 'x');
  b.insert(4, 'y');
  pull(a, b);
  pull(b, a);
  assert.equal(a.text, b.text);
  assertConsistent(a);
  assertConsistent(b);
});
