// The merge's CRDT state (src/engine/merge/items.js): spans split where needed,
// found by LV, and the delete-target records mapping delete ops to the items they hit.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  DELETE_BACKWARD,
  DELETE_FORWARD,
  INSERTED,
  NO_ITEM,
  NYI,
  PLACEHOLDER,
  PLACEHOLDER_LEN,
  Span,
  State,
} from '../../../src/engine/merge/items.js';

test('a fresh state is one placeholder span longer than any document', () => {
  const st = new State();
  assert.equal(st.spans.length, 1);
  const [ph] = st.spans;
  assert.deepEqual([ph.lv, ph.n, ph.originLeft, ph.originRight, ph.state, ph.deleted], [PLACEHOLDER, PLACEHOLDER_LEN, NO_ITEM, NO_ITEM, INSERTED, false]);
  assert.equal(st.visibleLen, PLACEHOLDER_LEN);
  assert.equal(st.effectLen, PLACEHOLDER_LEN);
});

test('spansIn splits spans so they hold exactly the asked items', () => {
  const st = new State();
  st.insertSpan(0, new Span(0, 10, NO_ITEM, NO_ITEM, NYI, false));
  const mid = st.spansIn(3, 6);
  assert.deepEqual(mid.map((s) => [s.lv, s.n]), [[3, 3]]);
  assert.deepEqual(st.spans.map((s) => [s.lv, s.n]), [[0, 3], [3, 3], [6, 4], [PLACEHOLDER, PLACEHOLDER_LEN]]);
  // a later part's left origin is the item before it; its right origin is none
  assert.equal(st.spans[1].originLeft, 2);
  assert.equal(st.spans[1].originRight, NO_ITEM);
  assert.equal(st.spans[1].state, NYI);
  assert.deepEqual(st.indexOf(7), [2, 1]);
  assert.deepEqual(st.indexOf(NO_ITEM), [-1, 0]);
  // splitting the placeholder: its later parts have no left origin (placeholder items are the base text)
  st.split(PLACEHOLDER + 5);
  assert.equal(st.spans[4].lv, PLACEHOLDER + 5);
  assert.equal(st.spans[4].originLeft, NO_ITEM);
});

test('delete targets map delete ops to items, forward and backward', () => {
  const st = new State();
  st.addDelTarget(100, 3, 10, DELETE_FORWARD); // ops 100..102 deleted items 10, 11, 12
  st.addDelTarget(200, 3, 52, DELETE_BACKWARD); // ops 200..202 deleted items 52, 51, 50
  assert.deepEqual(st.delTargets(100, 103), [[10, 13]]);
  assert.deepEqual(st.delTargets(101, 102), [[11, 12]]);
  assert.deepEqual(st.delTargets(200, 203), [[50, 53]]);
  assert.deepEqual(st.delTargets(201, 202), [[51, 52]]);
  assert.deepEqual(st.delTargets(150, 160), []);
});
