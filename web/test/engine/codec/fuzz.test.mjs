// Seeded fuzzing of the CWP/CWD decoders: damaged bytes must decode or throw
// DecodeError (the documented error), never anything else, and never hang; and
// whatever decodes must re-encode to something that decodes to the same value.
// COWRITE_FUZZ_SCALE=N runs N times as many cases (see test/fuzz.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeDocument, decodePatch, encodeDocument, encodePatch } from '../../../src/engine/codec/index.js';
import { DecodeError } from '../../../src/engine/errors.js';
import { DOC_MAGIC, PATCH_MAGIC } from '../../../src/engine/codec/frame.js';
import { SCALE, bodyOf, expectOnly, explode, fuzzSeed, hex, mutate, recrc, reframe } from '../../fuzz.mjs';
import { loadVectors, rng, unb64 } from '../../vectors.mjs';

const enc = loadVectors('encoding.json');

test('damaged patches decode or throw DecodeError; decoded ones round-trip', () => {
  const r = rng(fuzzSeed(1));
  const seeds = enc.patches.map((v) => unb64(v.bytes));
  let ok = 0;
  for (let i = 0; i < 1500 * SCALE; i++) {
    let data = mutate(r, r.pick(seeds));
    if (r.next() < 0.7) data = recrc(data);
    const ops = expectOnly(DecodeError, () => decodePatch(data), `patch mutant ${hex(data)}`);
    if (ops) {
      ok++;
      assert.deepEqual(decodePatch(encodePatch(ops)), ops);
    }
  }
  assert.ok(ok > 0);
});

test('damaged documents decode or throw DecodeError; decoded ones round-trip', () => {
  const r = rng(fuzzSeed(2));
  const seeds = enc.documents.map((v) => unb64(v.bytes)).filter((b) => b.length < 4000);
  let ok = 0;
  for (let i = 0; i < 1000 * SCALE; i++) {
    let data = mutate(r, r.pick(seeds));
    if (r.next() < 0.7) data = recrc(data);
    const doc = expectOnly(DecodeError, () => decodeDocument(data), `document mutant ${hex(data)}`);
    if (doc) {
      ok++;
      const again = decodeDocument(encodeDocument(doc));
      assert.equal(again.text, doc.text);
      assert.deepEqual(again.ops, doc.ops);
      assert.deepEqual(again.version, doc.version);
    }
  }
  assert.ok(ok > 0);
});

test('random op lists round-trip through encodePatch/decodePatch', () => {
  const r = rng(fuzzSeed(5));
  const chars = ['a', 'é', '日', '👋', '🏽', '\u200d', ' ', '\n', '\ufeff', '𝔘'];
  const agents = ['alice', 'bob', '🐙', '\uff21', 'zoë'];
  for (let n = 0; n < 300 * SCALE; n++) {
    const ops = [];
    const next = new Map();
    for (let k = r.int(12); k > 0; k--) {
      const agent = r.pick(agents);
      const seq = r.next() < 0.1 ? r.int(2 ** 40) : (next.get(agent) ?? 0);
      const parents = [];
      for (let p = r.int(3); p > 0; p--) parents.push([r.pick(agents), r.int(1000)]);
      if (ops.length && r.next() < 0.5) {
        const last = ops[ops.length - 1];
        parents.splice(0, parents.length, [last.agent, last.seq + (last.kind === 'ins' ? [...last.content].length : last.length) - 1]);
      }
      const time = r.next() < 0.5 ? 0 : 1_700_000_000 + r.int(5);
      let op;
      if (r.next() < 0.6) {
        const content = Array.from({ length: 1 + r.int(8) }, () => r.pick(chars)).join('');
        op = { agent, seq, parents, kind: 'ins', pos: r.int(50), content, length: [...content].length, fwd: true, time };
      } else {
        op = { agent, seq, parents, kind: 'del', pos: r.int(50), content: '', length: 1 + r.int(9), fwd: r.next() < 0.5, time };
      }
      next.set(agent, seq + op.length);
      ops.push(op);
    }
    const bytes = encodePatch(ops);
    assert.deepEqual(decodePatch(bytes), ops);
    assert.deepEqual(encodePatch(decodePatch(bytes)), bytes);
  }
});

test('damaged bodies (inflated, framed again) decode or throw DecodeError; decoded ones round-trip', () => {
  const r = rng(fuzzSeed(6));
  const patches = enc.patches.map((v) => bodyOf(unb64(v.bytes), PATCH_MAGIC));
  const docs = enc.documents.map((v) => bodyOf(unb64(v.bytes), DOC_MAGIC)).filter((b) => b.length < 8000);
  let ok = 0;
  for (let i = 0; i < 2000 * SCALE; i++) {
    const isDoc = r.next() < 0.5;
    const data = reframe(isDoc ? DOC_MAGIC : PATCH_MAGIC, mutate(r, r.pick(isDoc ? docs : patches)), r.next() < 0.1 ? 1 : 2);
    const label = `${isDoc ? 'document' : 'patch'} body mutant ${hex(data)}`;
    if (isDoc) {
      const doc = expectOnly(DecodeError, () => decodeDocument(data), label);
      if (doc) {
        ok++;
        const again = decodeDocument(encodeDocument(doc));
        assert.equal(again.text, doc.text, label);
        assert.deepEqual(explode(again.ops), explode(doc.ops), label);
        assert.deepEqual(again.version, doc.version, label);
      }
    } else {
      const ops = expectOnly(DecodeError, () => decodePatch(data), label);
      if (ops) {
        ok++;
        assert.deepEqual(decodePatch(encodePatch(ops)), ops, label);
      }
    }
  }
  assert.ok(ok > 0);
});
