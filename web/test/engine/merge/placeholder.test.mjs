// The placeholder of the merge's CRDT state (src/engine/merge/items.js): small ids
// for every op log that fits below them (V8 small integers), the big ones past
// that, and the same edits either way.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  BIG_PLACEHOLDER,
  BIG_PLACEHOLDER_LEN,
  NO_ITEM,
  PLACEHOLDER,
  PLACEHOLDER_LEN,
  State,
  needsBigPlaceholder,
} from '../../../src/engine/merge/items.js';
import { mergeOps } from '../../../src/engine/merge/index.js';
import { piecesSince } from '../../../src/engine/merge/plan.js';
import { Walk } from '../../../src/engine/merge/walk.js';
import { doc, sync } from '../helpers.mjs';

test('the small placeholder covers every op log below its length, in the small-integer range', () => {
  // a text is never longer than its op log, nor any LV past it
  assert.ok(PLACEHOLDER_LEN <= PLACEHOLDER);
  assert.ok(PLACEHOLDER + PLACEHOLDER_LEN < 2 ** 30);
  assert.equal(needsBigPlaceholder(PLACEHOLDER_LEN - 1), false);
  assert.equal(needsBigPlaceholder(PLACEHOLDER_LEN), true);
  assert.ok(BIG_PLACEHOLDER > PLACEHOLDER && BIG_PLACEHOLDER_LEN > PLACEHOLDER_LEN);
});

test('a big state has the big placeholder, and its parts have no left origin', () => {
  const st = new State(true);
  assert.deepEqual([st.placeholder, st.placeholderLen], [BIG_PLACEHOLDER, BIG_PLACEHOLDER_LEN]);
  assert.deepEqual([st.spans[0].lv, st.spans[0].n], [BIG_PLACEHOLDER, BIG_PLACEHOLDER_LEN]);
  assert.equal(st.visibleLen, BIG_PLACEHOLDER_LEN);
  st.split(BIG_PLACEHOLDER + 7);
  assert.deepEqual(st.spans.map((s) => [s.lv, s.n, s.originLeft]), [
    [BIG_PLACEHOLDER, 7, NO_ITEM],
    [BIG_PLACEHOLDER + 7, BIG_PLACEHOLDER_LEN - 7, NO_ITEM],
  ]);
  assert.deepEqual(new State().spans.map((s) => [s.lv, s.n]), [[PLACEHOLDER, PLACEHOLDER_LEN]]);
});

test('a walk over big states makes the same edits as over small ones', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'Hello world');
  sync(a, b);
  for (let round = 0; round < 3; round++) {
    // concurrent typing, then a stretch by one side alone (critical points: the
    // walk starts over there and applies the stretch directly)
    for (let i = 0; i < 12; i++) {
      a.insert((i * 7) % (a.length + 1), `a${i}`);
      b.insert((i * 5) % (b.length + 1), `b${i}`);
      if (i % 3 === 0) a.delete(i % a.length, 1);
      if (i % 4 === 0) b.delete(0, 2);
      if (i % 5 === 4) sync(a, b);
    }
    sync(a, b);
    for (let i = 0; i < 5; i++) a.insert(i, 'x');
    a.delete(2, 3);
    sync(a, b);
  }
  const oplog = a.oplog;
  const cg = oplog.cg;
  // from a text that has only alice's first op: every later op is walked
  const branch = [cg.rawToLv('alice', 10)];
  const [small] = mergeOps(oplog, 11, branch, cg.heads);
  const [common, spans] = cg.findConflicting(branch, cg.heads);
  const out = [];
  const walk = new Walk(oplog, piecesSince(cg, spans), common, 11, out);
  walk.big = true;
  walk.st = new State(true);
  walk.run();
  assert.deepEqual(out, small);
  let text = 'Hello world';
  for (const op of out) {
    if (op.kind === 'ins') text = text.slice(0, op.pos) + op.text + text.slice(op.pos);
    else text = text.slice(0, op.pos) + text.slice(op.pos + op.length);
  }
  assert.equal(text, a.text);
});
