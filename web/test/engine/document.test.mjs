// The Document (src/engine/document.js): local edits, merging ops from peers
// (all-or-nothing, idempotent, any order), snapshots, observers, checkouts.  Each
// case mirrors one the Python engine documents or tests, so a divergence shows up
// with a readable name.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ConflictingOpError,
  Document,
  EngineError,
  InvalidOpError,
  UnknownParentError,
  decodePatch,
  encodePatch,
} from '../../src/engine/index.js';
import { writeDocument } from '../../src/engine/codec/document.js';
import { DEL_FWD, INS, OpLog } from '../../src/engine/oplog.js';
import { T0, assertConsistent, doc, pull, snapshot, sync } from './helpers.mjs';

test('local edits count code points and record runs', () => {
  const a = doc('alice');
  a.insert(0, 'héllo 👩‍🚀!');
  assert.equal(a.length, 10);
  a.delete(6, 3); // the astronaut: woman, ZWJ, rocket
  assert.equal(a.text, 'héllo !');
  assert.deepEqual(a.version(), [['alice', 12]]);
  assert.deepEqual(a.summary(), { alice: [[0, 13]] });
  const ops = a.opsSince([]);
  assert.equal(ops.length, 2);
  assert.deepEqual(ops[0], {
    agent: 'alice', seq: 0, parents: [], kind: 'ins', pos: 0, content: 'héllo 👩‍🚀!', length: 10, fwd: true, time: T0,
  });
  assert.equal(ops[1].kind, 'del');
  assert.equal(ops[1].length, 3);
});

test('bad local edits are refused and change nothing', () => {
  const a = doc('alice');
  a.insert(0, 'abc');
  const before = snapshot(a);
  assert.throws(() => a.insert(4, 'x'), InvalidOpError);
  assert.throws(() => a.insert(-1, 'x'), InvalidOpError);
  assert.throws(() => a.insert(1.5, 'x'), InvalidOpError);
  assert.throws(() => a.insert(0, '\ud800'), InvalidOpError);
  assert.throws(() => a.delete(2, 2), InvalidOpError);
  assert.throws(() => a.delete(0, -1), InvalidOpError);
  assert.equal(snapshot(a), before);
  assert.throws(() => new Document(''), InvalidOpError);
});

test('a snapshot loads its text without replaying, then merges concurrent ops', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'The fox.');
  sync(a, b);
  a.insert(4, 'quick ');
  b.insert(7, ' jumps');
  b.delete(0, 4);
  const snap = Document.decode(a.encode(), 'carol');
  assert.equal(snap.text, 'The quick fox.');
  assert.deepEqual(snap.version(), a.version());
  assert.deepEqual(snap.summary(), a.summary());
  snap.applyPatch(b.encodePatch(snap.summary()));
  sync(a, b);
  assert.equal(snap.text, a.text);
  assert.equal(a.text, 'quick fox jumps.');
  // and the loaded replica edits and syncs as any other
  snap.insert(0, '> ');
  pull(a, snap);
  pull(b, a);
  assert.equal(b.text, '> quick fox jumps.');
  assertConsistent(snap);
});

test('a snapshot round-trips byte for byte', () => {
  const a = doc('alice');
  a.insert(0, 'one two');
  a.delete(0, 4);
  a.insert(3, ' three 🎉');
  const bytes = a.encode();
  const again = Document.decode(bytes, 'bob').encode();
  assert.deepEqual(again, bytes);
});

test('an invalid op throws and leaves the document unchanged', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'abc');
  sync(a, b);
  b.insert(3, 'def');
  const good = b.opsSince([['alice', 2]]);
  const before = snapshot(a);
  const bad = { agent: 'mallory', seq: 0, parents: [['alice', 2]], kind: 'ins', pos: 4, content: 'x', length: 1, fwd: true, time: 0 };
  assert.throws(() => a.addOps([...good, bad]), InvalidOpError);
  assert.equal(snapshot(a), before);
  const badDel = { agent: 'mallory', seq: 0, parents: [['alice', 2]], kind: 'del', pos: 1, content: '', length: 3, fwd: true, time: 0 };
  assert.throws(() => a.addOps([badDel]), InvalidOpError);
  assert.equal(snapshot(a), before);
  // an op after a concurrent one, invalid only at its own parents
  const late = { agent: 'mallory', seq: 0, parents: [['alice', 1]], kind: 'ins', pos: 3, content: 'x', length: 1, fwd: true, time: 0 };
  assert.throws(() => a.addOps([late]), InvalidOpError);
  assert.equal(snapshot(a), before);
  assert.throws(() => a.addOps([{ ...bad, pos: -1 }]), InvalidOpError);
  assert.throws(() => a.addOps([{ ...bad, content: '' }]), InvalidOpError);
  assert.throws(() => a.addOps('nope'), InvalidOpError);
  assert.equal(snapshot(a), before);
  // the good ops alone still merge
  a.addOps(good);
  assert.equal(a.text, 'abcdef');
});

test('unknown parents throw UnknownParentError naming them', () => {
  const a = doc('alice');
  const op = { agent: 'bob', seq: 0, parents: [['carol', 7]], kind: 'ins', pos: 0, content: 'x', length: 1, fwd: true, time: 0 };
  const before = snapshot(a);
  assert.throws(
    () => a.addOps([op]),
    (err) => err instanceof UnknownParentError && err instanceof EngineError && err.missing[0][0] === 'carol',
  );
  assert.equal(snapshot(a), before);
});

test('an op re-sent with other content is a conflict', () => {
  const a = doc('alice');
  const b = doc('bob');
  b.insert(0, 'xyz');
  pull(a, b);
  const [op] = b.opsSince([]);
  const before = snapshot(a);
  assert.throws(() => a.addOps([{ ...op, content: 'xyq' }]), ConflictingOpError);
  assert.throws(() => a.addOps([{ ...op, pos: 1 }]), ConflictingOpError);
  assert.throws(() => a.addOps([{ ...op, parents: [['bob', 9]] }]), ConflictingOpError);
  assert.equal(snapshot(a), before);
});

test('duplicate delivery is idempotent, also of partly known runs', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'abc');
  const patch = a.encodePatch(null);
  assert.deepEqual(b.applyPatch(patch), [{ kind: 'ins', pos: 0, text: 'abc' }]);
  assert.deepEqual(b.applyPatch(patch), []);
  a.insert(3, 'def'); // extends alice's run: alice 0..5 is one op now
  const all = a.opsSince([]);
  assert.equal(all.length, 1);
  assert.deepEqual(b.addOps(all), [{ kind: 'ins', pos: 3, text: 'def' }]);
  assert.equal(b.text, 'abcdef');
  assert.deepEqual(b.addOps(all), []);
});

test('ops within one batch may come in any order', () => {
  const a = doc('alice');
  const b = doc('bob');
  const c = doc('carol');
  a.insert(0, 'one');
  pull(b, a);
  b.insert(3, ' two');
  pull(a, b);
  a.insert(7, ' three');
  const ops = a.opsSince([]).flatMap((op) => decodePatch(encodePatch([op])));
  c.addOps(ops.reverse());
  assert.equal(c.text, 'one two three');
  assert.deepEqual(c.version(), a.version());
});

test('an agent called __proto__ is an ordinary agent', () => {
  const a = doc('__proto__');
  a.insert(0, 'x');
  const s = a.summary();
  assert.deepEqual(Object.keys(s), ['__proto__']);
  const b = doc('b');
  pull(b, a);
  assert.deepEqual(b.opsMissingFrom(JSON.parse(JSON.stringify(s))), []);
  assert.equal(b.text, 'x');
});

test('observers hear local and remote changes', () => {
  const a = doc('alice');
  const b = doc('bob');
  const seen = [];
  const stop = a.observe((ev) => seen.push(ev));
  a.insert(0, 'ab');
  b.insert(0, 'Z');
  pull(a, b);
  a.delete(0, 1);
  stop();
  a.insert(0, 'q');
  assert.deepEqual(seen, [
    { origin: 'local', changes: [{ kind: 'ins', pos: 0, text: 'ab' }] },
    { origin: 'remote', changes: [{ kind: 'ins', pos: 2, text: 'Z' }] },
    { origin: 'local', changes: [{ kind: 'del', pos: 0, length: 1 }] },
  ]);
});

test('textAt checks out any known version', () => {
  const a = doc('alice');
  a.insert(0, 'one');
  const v1 = a.version();
  a.insert(3, ' two');
  a.delete(0, 4);
  assert.equal(a.textAt(v1), 'one');
  assert.equal(a.textAt([]), '');
  assert.equal(a.textAt(a.version()), 'two');
});

test('a snapshot whose history does not fit its text refuses a concurrent merge (it used to hang)', () => {
  // found by the crafted-document fuzzer (fuzz.test.mjs): a's delete at 2 and b's
  // second insert claim the empty document at [] is longer than it is; nothing
  // replays history on load, so only the merge of a concurrent op can notice.
  const log = new OpLog();
  log.addLocal('b', INS, 0, 2, ['x', 'y'], [], 0); // LVs 0-1
  log.addLocal('c', INS, 0, 2, ['z', 'z'], [1], 0); // LVs 2-3
  log.addLocal('a', DEL_FWD, 2, 1, null, [], 0); // LV 4: delete at 2 of an empty text
  log.addLocal('b', INS, 0, 3, ['z', 'y', 'x'], [], 0); // LVs 5-7
  const d = Document.decode(writeDocument(log, 'qqqqqq', log.cg.heads), 'me');
  assert.equal(d.text, 'qqqqqq');
  const before = snapshot(d);
  const op = { agent: 'zed', seq: 0, parents: [['b', 4]], kind: 'del', pos: 2, content: '', length: 1, fwd: true, time: 0 };
  assert.throws(() => d.addOps([op]), (err) => err instanceof InvalidOpError && /the history does not fit the text/.test(err.message));
  assert.equal(snapshot(d), before);
});

test('reserveSeqs: local ops from then on get seqs >= end; the gap travels in patches and snapshots', () => {
  const d = new Document('me');
  d.insert(0, 'abc');
  d.reserveSeqs(10);
  d.reserveSeqs(5); // never lowers the floor
  d.insert(3, 'de');
  d.delete(0, 1);
  assert.deepEqual(d.summary(), { me: [[0, 3], [10, 13]] });
  assert.equal(d.nextSeq(), 13);
  assert.equal(d.text, 'bcde');
  d.reserveSeqs(2); // below what it has used: nothing changes
  d.insert(0, 'x');
  assert.deepEqual(d.summary(), { me: [[0, 3], [10, 14]] });
  const copy = Document.decode(d.encode(), 'other');
  assert.deepEqual(copy.summary(), d.summary());
  const peer = new Document('peer');
  peer.applyPatch(d.encodePatch(null));
  assert.equal(peer.text, d.text);
  assert.throws(() => d.reserveSeqs(-1), InvalidOpError);
  assert.throws(() => d.reserveSeqs(1.5), InvalidOpError);
});
