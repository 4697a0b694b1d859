// Document.addOps's direct path: ops that follow one another on top of the
// document's version are applied as they are, without a merge walk (Python's
// tests/engine/test_document_direct_path.py).  It must give exactly what the walk
// gives (edits, text, version, character ids, later merges) and refuse the same
// ops, leaving nothing behind.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidOpError } from '../../src/engine/index.js';
import { mergePaths } from '../../src/engine/document.js';
import { doc, snapshot } from './helpers.mjs';

const ALPHABET = ['a', 'b', ' ', '\n', 'é', '日', '👋'];

/** mulberry32: a seeded PRNG, so a seed always makes the same history. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Three replicas typing and syncing partially (a causal prefix of what a peer
 * lacks), alice with character ids from the start; every applyPatch's edits (or
 * the error's class) are recorded.  Returns [trace, docs].
 */
function replay(seed, direct) {
  const saved = mergePaths.direct;
  mergePaths.direct = direct;
  try {
    const rnd = prng(seed);
    const docs = ['alice', 'bob', 'carol'].map(doc);
    docs[0].position(0);
    const trace = [];
    for (let step = 0; step < 80; step++) {
      const d = docs[Math.floor(rnd() * 3)];
      const kind = Math.floor(rnd() * 3);
      if (kind === 0) {
        const text = ALPHABET[Math.floor(rnd() * ALPHABET.length)].repeat(1 + Math.floor(rnd() * 3));
        d.insert(Math.floor(rnd() * (d.length + 1)), text);
      } else if (kind === 1) {
        if (d.length) {
          const pos = Math.floor(rnd() * d.length);
          d.delete(pos, Math.min(1 + Math.floor(rnd() * 3), d.length - pos));
        }
      } else {
        const dst = docs[Math.floor(rnd() * 3)];
        if (dst === d) continue;
        const missing = d.opsMissingFrom(dst.summary());
        const take = missing.slice(0, Math.max(1, Math.floor(rnd() * missing.length)));
        trace.push(JSON.stringify(dst.addOps(take)));
        if (rnd() < 0.2) docs[1].position(0); // bob's ids built midway
      }
    }
    return [trace, docs];
  } finally {
    mergePaths.direct = saved;
  }
}

function state(d) {
  const ids = d.ids ? Array.from({ length: d.ids.length }, (_, i) => d.ids.lvAt(i)) : null;
  return JSON.stringify([snapshot(d), ids]);
}

test('the direct path gives exactly what the merge walk gives, and later merges agree', () => {
  const walks = (docs) => docs.reduce((n, d) => n + d.mergeCache.hits + d.mergeCache.misses, 0);
  let fastWalks = 0;
  let slowWalks = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const [fastTrace, fastDocs] = replay(seed, true);
    const [slowTrace, slowDocs] = replay(seed, false);
    assert.deepEqual(fastTrace, slowTrace, `seed ${seed}: edits differ`);
    for (let i = 0; i < 3; i++) assert.equal(state(fastDocs[i]), state(slowDocs[i]), `seed ${seed}: replica ${i} differs`);
    fastWalks += walks(fastDocs);
    slowWalks += walks(slowDocs);
    // the merge caches left behind are sound: everything converges afterwards
    for (const docs of [fastDocs, slowDocs]) {
      for (const a of docs) for (const b of docs) if (a !== b) b.applyPatch(a.encodePatch(b.summary()));
    }
    assert.equal(new Set([...fastDocs, ...slowDocs].map((d) => d.text)).size, 1, `seed ${seed}: no convergence`);
    for (const d of fastDocs) assert.equal(d.textAt(d.version()), d.text);
  }
  assert.ok(fastWalks < slowWalks, `the direct path was never taken (${fastWalks} walks, ${slowWalks} without it)`);
});

test('a remote keystroke on top of the heads takes the direct path: no merge walk at all', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'hello');
  b.applyPatch(a.encodePatch());
  const walks = b.mergeCache.hits + b.mergeCache.misses;
  a.insert(5, ' world');
  a.delete(0, 1);
  const edits = b.applyPatch(a.encodePatch(b.summary()));
  assert.deepEqual(edits, [
    { kind: 'ins', pos: 5, text: ' world' },
    { kind: 'del', pos: 0, length: 1 },
  ]);
  assert.equal(b.mergeCache.hits + b.mergeCache.misses, walks, 'a merge walk ran');
  assert.equal(b.text, 'ello world');
  assert.deepEqual(b.version(), a.version());
});

test('a bad op on the direct path is refused and rolled back; the document still merges', () => {
  const a = doc('alice');
  const b = doc('bob');
  a.insert(0, 'hello');
  b.applyPatch(a.encodePatch());
  b.position(2); // character ids built: they must be left as they were too
  const before = state(b);
  const heads = b.version();
  // ops on top of bob's heads, one chain: an insert that fits, then one past the end
  const good = { agent: 'mallory', seq: 0, parents: heads, kind: 'ins', pos: 5, content: '!', length: 1, fwd: true, time: 0 };
  const bad = { agent: 'mallory', seq: 1, parents: [['mallory', 0]], kind: 'ins', pos: 9, content: 'x', length: 1, fwd: true, time: 0 };
  assert.throws(() => b.addOps([good, bad]), InvalidOpError);
  assert.equal(state(b), before);
  assert.deepEqual(b.oplog.cg.agents, ['alice']);
  const del = { agent: 'mallory', seq: 0, parents: heads, kind: 'del', pos: 3, content: '', length: 5, fwd: true, time: 0 };
  assert.throws(() => b.addOps([del]), InvalidOpError);
  assert.equal(state(b), before);
  // the same ids, now valid, are taken; and a concurrent merge afterwards is right
  assert.deepEqual(b.addOps([good]), [{ kind: 'ins', pos: 5, text: '!' }]);
  a.insert(0, '> ');
  b.applyPatch(a.encodePatch(b.summary()));
  assert.equal(b.text, '> hello!');
  assert.equal(b.textAt(b.version()), b.text);
  assert.equal(b.position(2).agent, 'alice');
});
