// The CWP/CWD codec against the Python engine's vectors (testdata/vectors/encoding.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeDocument, decodePatch, encodeDocument, encodePatch } from '../../src/engine/encoding.js';
import * as errors from '../../src/engine/errors.js';
import { b64, loadVectors, unb64 } from './vectors.mjs';

const V = loadVectors('encoding.json');

/** Assert `fn` throws exactly the named engine error class (not a TypeError etc.). */
function assertThrowsClass(fn, name, label) {
  let thrown = null;
  try {
    fn();
  } catch (exc) {
    thrown = exc;
  }
  assert.ok(thrown, `${label}: expected ${name}, nothing thrown`);
  assert.equal(thrown.constructor.name, name, `${label}: expected ${name}, got ${thrown.constructor.name}: ${thrown.message}`);
  assert.ok(thrown instanceof errors[name], label);
  assert.ok(thrown instanceof errors.EngineError, label);
}

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

test('documents decode to the recorded text, version, heads and ops, and re-encode identically', () => {
  for (const v of V.documents) {
    const doc = decodeDocument(unb64(v.bytes));
    assert.equal(doc.text, v.text, v.name);
    assert.deepEqual(doc.version, v.version, v.name);
    assert.deepEqual(doc.heads, v.heads, v.name);
    assert.deepEqual(doc.ops, v.ops, v.name);
    assert.equal(doc.log.length, v.ops.reduce((n, op) => n + (op.kind === 'ins' ? op.length : op.length), 0));
    assert.equal(b64(encodeDocument(doc)), v.reencoded, `${v.name}: re-encoding`);
  }
});

test('invalid patches throw DecodeError', () => {
  for (const v of V.invalid_patches) assertThrowsClass(() => decodePatch(unb64(v.bytes)), v.error, v.name);
});

test('invalid documents throw DecodeError', () => {
  for (const v of V.invalid_documents) assertThrowsClass(() => decodeDocument(unb64(v.bytes)), v.error, v.name);
});

test('invalid ops make encodePatch throw InvalidOpError', () => {
  for (const v of V.invalid_ops) assertThrowsClass(() => encodePatch(v.ops), v.error, v.name);
});

test('mutants decode or fail exactly as in Python', () => {
  let decoded = 0;
  for (const [i, v] of V.mutants.entries()) {
    const label = `mutant ${i} (${v.kind})`;
    const decode = v.kind === 'patch' ? decodePatch : decodeDocument;
    if (v.error) {
      assertThrowsClass(() => decode(unb64(v.bytes)), v.error, label);
      continue;
    }
    decoded++;
    const out = decode(unb64(v.bytes));
    if (v.kind === 'patch') {
      assert.deepEqual(out, v.ops, label);
    } else {
      assert.equal(out.text, v.text, label);
      assert.deepEqual(out.version, v.version, label);
      assert.deepEqual(out.heads, v.heads, label);
      assert.deepEqual(out.ops, v.ops, label);
    }
  }
  assert.ok(decoded > 0, 'some mutants decode');
});

test('non-bytes input throws DecodeError', () => {
  for (const bad of [null, undefined, 'CWP', 42, {}, [1, 2, 3]]) {
    assertThrowsClass(() => decodePatch(bad), 'DecodeError', String(bad));
    assertThrowsClass(() => decodeDocument(bad), 'DecodeError', String(bad));
  }
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

test('invalid vectors fail for the same reason as in Python (same message)', () => {
  const differ = [];
  for (const [decode, list] of [
    [decodePatch, V.invalid_patches],
    [decodeDocument, V.invalid_documents],
  ]) {
    for (const v of list) {
      try {
        decode(unb64(v.bytes));
      } catch (exc) {
        // numbers past 2**53 print as Infinity in JS (they are refused either way)
        const norm = (m) => m.replace(/-?(Infinity|\d{16,})/g, 'N');
        if (norm(exc.message) !== norm(v.message)) differ.push(`${v.name}: JS ${JSON.stringify(exc.message)} / Python ${JSON.stringify(v.message)}`);
      }
    }
  }
  assert.deepEqual(differ, []);
});
