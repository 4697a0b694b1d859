// The merge walk (src/engine/merge/walk.js) through named examples: Fugue
// ordering of concurrent inserts, deletes racing inserts, astral characters,
// backspace runs, merges of several parents, and the direct (no-concurrency) path.
// Each mirrors a case the Python engine documents or tests.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidOpError } from '../../../src/engine/index.js';
import { directEdits, mergeOps } from '../../../src/engine/merge/index.js';
import { applyEdits, assertConsistent, doc, pull, sync, syncAll } from '../helpers.mjs';

test('concurrent inserts at one spot keep each run whole, ordered by agent', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'Hello world');
  sync(a, b);
  a.insert(5, 'A1');
  b.insert(5, 'B1');
  sync(a, b);
  assert.equal(a.text, 'HelloA1B1 world');
  assert.equal(b.text, a.text);
  assert.deepEqual(a.version(), b.version());
});

test('concurrent typing backwards at one spot does not interleave either', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, '[]');
  sync(a, b);
  for (const ch of 'cba') a.insert(1, ch); // typed right to left: "abc"
  for (const ch of 'zyx') b.insert(1, ch);
  sync(a, b);
  assert.equal(a.text, b.text);
  assert.ok(a.text === '[abcxyz]' || a.text === '[xyzabc]', a.text);
  assertConsistent(a);
});

test('ties between agents compare code points like Python, not UTF-16 units', () => {
  // U+FFFF sorts before U+1F600 by code point, after it by UTF-16 unit
  const a = doc('\uffff');
  const b = doc('\u{1F600}');
  a.insert(0, 'xy');
  sync(a, b);
  a.insert(1, 'A');
  b.insert(1, 'B');
  sync(a, b);
  assert.equal(a.text, 'xABy');
  assert.equal(b.text, 'xABy');
  assert.deepEqual(a.version(), [['\uffff', 2], ['\u{1F600}', 0]]);
});

test('a delete racing an insert inside the deleted range keeps the insert', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'abcdef');
  sync(a, b);
  a.delete(1, 4);
  b.insert(3, 'XY');
  const xf = a.applyPatch(b.encodePatch(a.summary()));
  assert.deepEqual(xf, [{ kind: 'ins', pos: 1, text: 'XY' }]);
  pull(b, a);
  assert.equal(a.text, 'aXYf');
  assert.equal(b.text, 'aXYf');
});

test('the same character deleted by both sides is deleted once', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, '0123456789');
  sync(a, b);
  a.delete(2, 5);
  b.delete(4, 4);
  sync(a, b);
  assert.equal(a.text, '0189');
  assert.equal(b.text, '0189');
});

test('emoji and other astral characters merge by code point', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'a👩‍🚀b');
  sync(a, b);
  a.insert(2, '🎉');
  b.delete(1, 3);
  const xf = a.applyPatch(b.encodePatch(a.summary()));
  pull(b, a);
  assert.equal(a.text, 'a🎉b');
  assert.equal(b.text, 'a🎉b');
  assert.equal(a.length, 3);
  // the edits returned describe the change in code points
  assert.equal(applyEdits('a👩🎉\u200d🚀b', xf), 'a🎉b');
});

test('a backspace run is one op and merges with a concurrent insert', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'hello world');
  sync(a, b);
  for (let i = 0; i < 5; i++) a.delete(a.length - 1);
  const ops = a.opsSince([['alice', 10]]);
  assert.equal(ops.length, 1);
  assert.equal(ops[0].fwd, false);
  assert.equal(ops[0].pos, 6);
  assert.equal(ops[0].length, 5);
  b.insert(8, '__');
  sync(a, b);
  assert.equal(a.text, 'hello __');
  assert.equal(b.text, 'hello __');
});

test('a merge with three parents, then an edit on top of it', () => {
  const docs = ['x', 'y', 'z'].map(doc);
  docs[0].insert(0, 'base');
  syncAll(docs);
  docs[0].insert(4, '0');
  docs[1].insert(0, '1');
  docs[2].insert(2, '2');
  for (const d of docs.slice(1)) pull(docs[0], d);
  assert.deepEqual(docs[0].version(), [['x', 4], ['y', 0], ['z', 0]]);
  assert.equal(docs[0].text, '1ba2se0');
  docs[0].insert(0, '!');
  const last = docs[0].opsSince([]).at(-1);
  assert.deepEqual(last.parents, [['x', 4], ['y', 0], ['z', 0]]);
  syncAll(docs);
  for (const d of docs) {
    assert.equal(d.text, '!1ba2se0');
    assertConsistent(d);
  }
});

test('a remote op on top of the current version applies directly', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'x'.repeat(1000));
  sync(a, b);
  b.insert(500, 'B');
  const xf = a.applyPatch(b.encodePatch(a.summary()));
  assert.deepEqual(xf, [{ kind: 'ins', pos: 500, text: 'B' }]);
  assert.equal(a.text, b.text);
});

test('directEdits: ops that follow one another become edits with no walk, checked against the length', () => {
  const a = doc('alice');
  a.insert(0, 'hello');
  const start = a.oplog.length;
  a.insert(5, ' world');
  a.delete(0, 1);
  const lvs = [];
  assert.deepEqual(directEdits(a.oplog, 5, start, a.oplog.length, lvs), [
    { kind: 'ins', pos: 5, text: ' world' },
    { kind: 'del', pos: 0, length: 1 },
  ]);
  assert.deepEqual(lvs, [start]);
  // the same ops on top of a shorter text do not fit
  assert.throws(() => directEdits(a.oplog, 4, start, a.oplog.length), InvalidOpError);
});

test('mergeOps brings a branch to the union version and returns it', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'ab');
  sync(a, b);
  a.insert(2, 'A');
  b.insert(0, 'B');
  pull(a, b);
  const log = a.oplog;
  const [aOnly] = log.cg.rawToFrontier([['alice', 2]]);
  const [bOnly] = log.cg.rawToFrontier([['bob', 0]]);
  const [xf, version] = mergeOps(log, 3, [aOnly], [bOnly]);
  assert.deepEqual(xf, [{ kind: 'ins', pos: 0, text: 'B' }]);
  assert.deepEqual(version, [aOnly, bOnly]);
  assert.deepEqual(mergeOps(log, 4, version, [aOnly]), [[], version]);
});
