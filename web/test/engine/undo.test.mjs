// Per-user undo/redo: the named examples of tests/engine/test_undo.py, ported.
// Times are milliseconds here (the Python tests use seconds).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Document, EngineError, UndoManager } from '../../src/engine/index.js';
import { assertConsistent, doc, pull, sync, syncAll } from './helpers.mjs';

/** A hand-driven clock, so undo grouping is deterministic. */
function makeClock() {
  const clock = () => clock.t;
  clock.t = 0;
  clock.tick = (ms = 1000) => {
    clock.t += ms;
  };
  return clock;
}

function user(agent) {
  const clock = makeClock();
  const d = doc(agent);
  return [d, new UndoManager(d, { clock }), clock];
}

/** The characters of a string, sorted (to compare texts regardless of order). */
const sortedChars = (s) => Array.from(s).sort().join('');

test('undo with nothing to undo is a no-op', () => {
  const [a, ua] = user('alice');
  assert.equal(ua.undo(), null);
  assert.equal(ua.redo(), null);
  const b = doc('bob');
  b.insert(0, "bob's text");
  pull(a, b);
  assert.equal(ua.undo(), null); // nothing of alice's
  assert.equal(a.text, "bob's text");
  assert.equal(ua.canUndo, false);
});

test('typing within the pause is one step and a pause starts another', () => {
  const [a, ua, clock] = user('alice');
  Array.from('hello').forEach((ch, i) => {
    a.insert(i, ch);
    clock.tick(100);
  });
  clock.tick(2000);
  a.insert(5, ' world');
  assert.deepEqual(ua.undo(), { anchor: 5, head: 5 });
  assert.equal(a.text, 'hello');
  assert.deepEqual(ua.undo(), { anchor: 0, head: 0 });
  assert.equal(a.text, '');
  assert.equal(ua.undo(), null);
});

test('an explicit group is one step whatever the pauses', () => {
  const [a, ua, clock] = user('alice');
  a.insert(0, 'keep ');
  clock.tick(5000);
  ua.group(() => {
    a.insert(5, 'one');
    clock.tick(10000);
    a.insert(8, ' two');
    a.delete(0, 1);
  });
  clock.tick(100);
  a.insert(a.length, '!'); // after the group: a step of its own
  assert.equal(a.text, 'eep one two!');
  ua.undo();
  assert.equal(a.text, 'eep one two');
  ua.undo();
  assert.equal(a.text, 'keep ');
});

test('stopCapturing splits a burst', () => {
  const [a, ua] = user('alice');
  a.insert(0, 'ab');
  ua.stopCapturing();
  a.insert(2, 'cd');
  ua.undo();
  assert.equal(a.text, 'ab');
});

test('undo my insert after someone typed in its middle', () => {
  const [a, ua] = user('alice');
  const [b, ub] = user('bob');
  a.insert(0, 'Hello world');
  sync(a, b);
  b.insert(5, ' there,'); // inside alice's text
  b.insert(0, '>'); // and beside it
  sync(a, b);
  assert.equal(a.text, '>Hello there, world');
  ua.undo();
  assert.equal(a.text, '> there,'); // only alice's characters went
  sync(a, b);
  assert.equal(b.text, '> there,');
  assert.notEqual(ub.undo(), null); // bob's own last step is still his to undo
  assert.notEqual(ua.redo(), null);
  sync(a, b);
  assert.equal(a.text, b.text);
  assertConsistent(a);
  assertConsistent(b);
});

test('undo my delete after someone deleted a neighbour', () => {
  const [a, ua, clock] = user('alice');
  const b = doc('bob');
  a.insert(0, 'one two three');
  clock.tick(5000);
  sync(a, b);
  a.delete(4, 4); // "two "
  sync(a, b);
  b.delete(0, 4); // bob deletes the left neighbour "one "
  b.insert(b.length, '!');
  sync(a, b);
  assert.equal(a.text, 'three!');
  assert.deepEqual(ua.undo(), { anchor: 0, head: 4 });
  assert.equal(a.text, 'two three!');
  sync(a, b);
  assert.equal(b.text, 'two three!');
});

test('undo of a delete puts the text back between its surviving neighbours', () => {
  const [a, ua, clock] = user('alice');
  const b = doc('bob');
  a.insert(0, 'abcXYZdef');
  clock.tick(5000);
  sync(a, b);
  a.delete(3, 3); // XYZ
  b.insert(3, '123'); // concurrently bob types exactly there
  b.insert(b.length, '456');
  sync(a, b);
  const merged = a.text;
  assert.equal(merged, 'abc123def456');
  ua.undo();
  // XYZ comes back in its Fugue place relative to bob's concurrent "123"
  assert.equal(a.text.replace('XYZ', ''), merged);
  assert.ok(a.text.startsWith('abc') && a.text.includes('XYZ'));
  sync(a, b);
  assert.equal(a.text, b.text);
  assertConsistent(b);
});

test('undo of a delete never restores what someone else deleted too', () => {
  const [a, ua, clock] = user('alice');
  const b = doc('bob');
  a.insert(0, '0123456789');
  clock.tick(5000);
  sync(a, b);
  a.delete(2, 5); // 23456
  b.delete(4, 4); // 4567, concurrently: 4, 5, 6 deleted by both
  sync(a, b);
  assert.equal(a.text, '0189');
  ua.undo();
  assert.equal(a.text, '012389'); // 2 and 3 were only alice's deletes
  sync(a, b);
  assert.equal(b.text, a.text);
});

test('three users each undo their last step concurrently, then redo', () => {
  const users = ['ann', 'bo', 'cy'].map(user);
  const docs = users.map((u) => u[0]);
  docs[0].insert(0, 'The fox.');
  syncAll(docs);
  for (const u of users) u[2].tick(5000);
  docs[0].insert(4, 'quick ');
  docs[1].insert(7, ' jumps');
  docs[2].delete(0, 4);
  syncAll(docs);
  assert.equal(new Set(docs.map((d) => d.text)).size, 1);
  assert.equal(docs[0].text, 'quick fox jumps.');
  for (const u of users) assert.notEqual(u[1].undo(), null); // before hearing from the others
  syncAll(docs);
  assert.deepEqual([...new Set(docs.map((d) => d.text))], ['The fox.']);
  for (const d of docs) assertConsistent(d);
  for (const u of users) assert.notEqual(u[1].redo(), null);
  syncAll(docs);
  assert.deepEqual([...new Set(docs.map((d) => d.text))], ['quick fox jumps.']);
});

test('a new local edit clears redo', () => {
  const [a, ua] = user('alice');
  a.insert(0, 'abc');
  ua.undo();
  assert.equal(ua.canRedo, true);
  a.insert(0, 'x');
  assert.equal(ua.canRedo, false);
  assert.equal(ua.redo(), null);
});

test('remote edits neither clear redo nor are ever undone', () => {
  const [a, ua] = user('alice');
  const b = doc('bob');
  a.insert(0, 'abc');
  ua.undo();
  b.insert(0, 'B');
  pull(a, b);
  assert.equal(ua.canRedo, true);
  ua.redo();
  assert.equal(sortedChars(a.text), sortedChars('abcB'));
  assert.notEqual(ua.undo(), null);
  assert.equal(a.text, 'B');
  assert.equal(ua.undo(), null);
  assert.equal(a.text, 'B');
});

test('undo and redo are ordinary ops that sync and encode', () => {
  const [a, ua] = user('alice');
  const b = doc('bob');
  a.insert(0, 'hello');
  ua.undo();
  ua.redo();
  ua.undo();
  b.applyPatch(a.encodePatch(null));
  assert.equal(b.text, '');
  assert.equal(a.text, '');
  assert.equal(Document.decode(a.encode()).text, '');
  assert.ok(a.opsSince([]).every((op) => op.agent === 'alice'));
});

test('a backspace burst is one step and comes back whole', () => {
  const [a, ua, clock] = user('alice');
  a.insert(0, 'hello world');
  clock.tick(5000);
  for (let i = 0; i < 5; i++) {
    a.delete(a.length - 1);
    clock.tick(100);
  }
  assert.equal(a.text, 'hello ');
  assert.deepEqual(ua.undo(), { anchor: 6, head: 11 });
  assert.equal(a.text, 'hello world');
  assert.deepEqual(ua.redo(), { anchor: 6, head: 6 });
  assert.equal(a.text, 'hello ');
});

test('a delete-key burst and a selection delete are separate steps', () => {
  const [a, ua, clock] = user('alice');
  a.insert(0, 'abcdefgh');
  clock.tick(5000);
  a.delete(2);
  a.delete(2);
  a.delete(2);
  clock.tick(5000);
  a.delete(0, 2);
  assert.equal(a.text, 'fgh');
  ua.undo();
  assert.equal(a.text, 'abfgh');
  ua.undo();
  assert.equal(a.text, 'abcdefgh');
});

test('typed and backspaced in one step leaves nothing behind', () => {
  const [a, ua] = user('alice');
  a.insert(0, 'helo');
  a.delete(3);
  a.delete(2);
  a.insert(2, 'llo');
  assert.equal(a.text, 'hello');
  ua.undo();
  assert.equal(a.text, '');
  ua.redo();
  assert.equal(a.text, 'hello');
});

test('a replace is undone as one step', () => {
  const [a, ua, clock] = user('alice');
  a.insert(0, 'colour');
  clock.tick(5000);
  a.replace(0, 6, 'color');
  ua.undo();
  assert.equal(a.text, 'colour');
  ua.redo();
  assert.equal(a.text, 'color');
});

test('undo with emoji and combining marks', () => {
  const [a, ua, clock] = user('alice');
  const [b, ub] = user('bob');
  a.insert(0, 'e\u0301👩‍🚀');
  clock.tick(5000);
  sync(a, b);
  b.insert(2, '🎉');
  a.delete(0, 2);
  sync(a, b);
  assert.equal(a.text, '🎉👩‍🚀');
  ua.undo();
  ub.undo();
  sync(a, b);
  assert.equal(a.text, 'e\u0301👩‍🚀');
  assert.equal(b.text, a.text);
});

test('undo after another replica loaded a snapshot and an offline merge', () => {
  const [a, ua, clock] = user('alice');
  a.insert(0, 'draft');
  clock.tick(5000);
  const b = Document.decode(a.encode(), 'bob');
  b.insert(5, ' (bob)');
  a.insert(0, 'My '); // offline on both sides
  pull(a, b);
  assert.equal(a.text, 'My draft (bob)');
  ua.undo();
  assert.equal(a.text, 'draft (bob)');
  ua.undo();
  assert.equal(a.text, ' (bob)');
});

test('undo on a replica loaded from a snapshot finds characters by id', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'shared ');
  sync(a, b);
  b.insert(7, 'text');
  a.insert(0, '>');
  sync(a, b);
  const loaded = Document.decode(b.encode(), 'bob');
  const clock = makeClock();
  const um = new UndoManager(loaded, { clock });
  loaded.insert(loaded.length, '!');
  clock.tick(5000);
  loaded.delete(1, 7); // "shared "
  assert.equal(loaded.text, '>text!');
  pull(a, loaded);
  a.insert(1, '<<'); // at the deleted text's gap
  pull(loaded, a);
  assert.deepEqual(um.undo(), { anchor: 3, head: 10 });
  assert.equal(loaded.text, '><<shared text!');
  assert.deepEqual(um.undo(), { anchor: 14, head: 14 });
  assert.equal(loaded.text, '><<shared text');
  pull(a, loaded);
  assert.equal(a.text, loaded.text);
});

test('a second UndoManager on one document is refused until detach', () => {
  const [a, ua] = user('alice');
  assert.throws(() => new UndoManager(a), EngineError);
  ua.detach();
  assert.ok(new UndoManager(a));
});

test('redo of many steps in order', () => {
  const [a, ua, clock] = user('alice');
  const texts = [''];
  for (const w of ['one ', 'two ', 'three']) {
    a.insert(a.length, w);
    texts.push(a.text);
    clock.tick(5000);
  }
  while (ua.undo());
  assert.equal(a.text, '');
  for (const t of texts.slice(1)) {
    ua.redo();
    assert.equal(a.text, t);
  }
});

test('re-typed text keeps its order when its neighbours were deleted remotely', () => {
  // tests/engine/test_undo_properties.py:
  // test_regression_undo_retypes_in_order_when_neighbours_deleted_remotely
  const [m, um, cm] = user('m');
  const [b, ub, cb] = user('b');
  m.insert(0, '1');
  um.group(() => m.insert(0, '4'));
  b.insert(0, 'y');
  pull(b, m);
  assert.equal(b.text, 'y41');
  cb.tick(2000);
  b.delete(0, 1); // "y" (right neighbour "4")
  b.delete(1, 1); // "1" (left neighbour "4"); same step
  pull(m, b);
  cm.tick(2000);
  um.undo();
  um.undo(); // m removes "4": both neighbours of b's deletes are gone
  pull(b, m);
  assert.equal(b.text, '');
  ub.undo();
  assert.equal(b.text, 'y1'); // was "1y"
  pull(m, b);
  assert.equal(m.text, 'y1');
  ub.redo();
  assert.equal(b.text, '');
  ub.undo();
  assert.equal(b.text, 'y1');
});
