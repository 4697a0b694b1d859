// The CWP codec (src/engine/codec/patch.js) against the Python engine's vectors
// (testdata/vectors/encoding.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodePatch, encodePatch } from '../../../src/engine/codec/patch.js';
import * as errors from '../../../src/engine/errors.js';
import { assertThrowsClass, b64, loadVectors, unb64 } from '../../vectors.mjs';

const V = loadVectors('encoding.json');

test('vectors are present', () => {
  assert.ok(V.patches.length >= 10);
  assert.ok(V.documents.length >= 6);
  assert.ok(V.invalid_patches.length >= 40);
  assert.ok(V.invalid_documents.length >= 20);
  assert.ok(V.mutants.length >= 200);
});

test('patches decode to the recorded ops and re-encode byte-identically', () => {
  for (const v of V.patches) {
    const ops = decodePatch(unb64(v.bytes));
    assert.deepEqual(ops, v.ops, v.name);
    assert.equal(b64(encodePatch(ops)), v.reencoded, `${v.name}: re-encoding`);
    assert.equal(b64(encodePatch(v.ops)), v.reencoded, `${v.name}: encoding the recorded ops`);
  }
});

test('some patch vectors are deflated and some are not', () => {
  const flags = V.patches.map((v) => unb64(v.reencoded)[4]);
  assert.ok(flags.includes(0) && flags.includes(1));
});

test('invalid patches throw DecodeError', () => {
  for (const v of V.invalid_patches) assertThrowsClass(errors, () => decodePatch(unb64(v.bytes)), v.error, v.name);
});

test('invalid ops make encodePatch throw InvalidOpError', () => {
  for (const v of V.invalid_ops) assertThrowsClass(errors, () => encodePatch(v.ops), v.error, v.name);
});

test('an ArrayBuffer and a Buffer decode like a Uint8Array', () => {
  const v = V.patches.find((p) => p.ops.length > 1);
  const bytes = unb64(v.bytes);
  assert.deepEqual(decodePatch(bytes.slice().buffer), v.ops);
  assert.deepEqual(decodePatch(Buffer.from(bytes)), v.ops);
  const padded = new Uint8Array(bytes.length + 10);
  padded.set(bytes, 5);
  assert.deepEqual(decodePatch(padded.subarray(5, 5 + bytes.length)), v.ops);
});

test('encodePatch defaults missing fields like Python (fwd, time, content)', () => {
  const full = [
    { agent: 'a', seq: 0, parents: [], kind: 'ins', pos: 0, content: 'x😀', length: 2, fwd: true, time: 0 },
    { agent: 'a', seq: 2, parents: [['a', 1]], kind: 'del', pos: 0, content: '', length: 1, fwd: true, time: 0 },
  ];
  const short = [
    { agent: 'a', seq: 0, parents: [], kind: 'ins', pos: 0, content: 'x😀', length: 2 },
    { agent: 'a', seq: 2, parents: [['a', 1]], kind: 'del', pos: 0, length: 1 },
  ];
  assert.deepEqual(encodePatch(short), encodePatch(full));
  assert.deepEqual(decodePatch(encodePatch(short)), full);
});
