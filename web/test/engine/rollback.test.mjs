// A rejected addOps leaves no trace, and a re-delivered run is checked op by op:
// the JS side of the Python tests in tests/engine/test_document.py ("rejected input
// must leave no trace") and test_oplog.py / test_causal_graph.py.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ConflictingOpError, InvalidOpError } from '../../src/engine/index.js';
import { CausalGraph } from '../../src/engine/causalGraph.js';
import { DEL_FWD, INS, OpLog } from '../../src/engine/oplog.js';
import { doc, snapshot } from './helpers.mjs';

const b64 = (bytes) => Buffer.from(bytes).toString('base64');

test('a rejected op from a new agent leaves no trace (the agent is forgotten, the encoding unchanged)', () => {
  const d = doc('alice');
  d.insert(0, 'hello');
  const before = b64(d.encode());
  const op = { agent: 'mallory', seq: 0, parents: d.version(), kind: 'ins', pos: 99, content: 'x', length: 1, fwd: true, time: 0 };
  assert.throws(() => d.addOps([op]), InvalidOpError);
  assert.deepEqual(d.oplog.cg.agents, ['alice']);
  assert.equal(b64(d.encode()), before);
});

test('a delete run cut back to one op by a rollback keeps its one form', () => {
  const ol = new OpLog();
  ol.addLocal('a', INS, 0, 8, [...'abcdefgh'], [], 0);
  ol.addLocal('a', DEL_FWD, 7, 1, null, ol.cg.heads, 0);
  const kinds = ol.opKinds.slice();
  const n = ol.cg.nextLv;
  const heads = ol.cg.heads.slice();
  ol.addLocal('a', DEL_FWD, 6, 1, null, ol.cg.heads, 0); // Backspace: the run becomes a Backspace run
  assert.notDeepEqual(ol.opKinds, kinds);
  ol.truncate(n, heads);
  assert.deepEqual(ol.opKinds, kinds);
  assert.equal(ol.opKinds[ol.opKinds.length - 1], DEL_FWD);
});

test('a re-delivered run whose later op is stored with other parents is a conflict', () => {
  const b = doc('bob');
  const c = doc('carol');
  b.insert(0, 'abc');
  c.insert(0, 'X');
  b.addOps(c.opsSince([]));
  b.insert(3, 'd'); // bob:3 is made on (bob:2, carol:0)
  const r = doc('r');
  r.addOps(b.opsSince([]));
  const before = snapshot(r);
  const forged = { agent: 'bob', seq: 0, parents: [], kind: 'ins', pos: 0, content: 'abcd', length: 4, fwd: true, time: 0 };
  assert.throws(() => r.addOps([forged]), ConflictingOpError);
  assert.deepEqual(snapshot(r), before);
});

test('nextKnownSeq inside a run is the next seq', () => {
  const cg = new CausalGraph();
  cg.add('a', 0, 5, []);
  assert.equal(cg.nextKnownSeq('a', 2), 3);
  assert.equal(cg.nextKnownSeq('a', 4), -1);
});
