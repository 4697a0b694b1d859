// Named merge examples for the JS engine: each mirrors a case the Python engine
// documents or tests, so a divergence shows up with a readable name.

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
import { T0, applyEdits, assertConsistent, doc, pull, snapshot, sync, syncAll } from './helpers.mjs';

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
