// The codec package (src/engine/codec/index.js) against the Python engine's vectors
// (testdata/vectors/encoding.json): damaged bytes fail exactly as in Python, with
// the same error class and message.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeDocument, decodePatch } from '../../../src/engine/codec/index.js';
import * as errors from '../../../src/engine/errors.js';
import { assertThrowsClass, loadVectors, unb64 } from '../../vectors.mjs';

const V = loadVectors('encoding.json');

test('mutants decode or fail exactly as in Python', () => {
  let decoded = 0;
  for (const [i, v] of V.mutants.entries()) {
    const label = `mutant ${i} (${v.kind})`;
    const decode = v.kind === 'patch' ? decodePatch : decodeDocument;
    if (v.error) {
      assertThrowsClass(errors, () => decode(unb64(v.bytes)), v.error, label);
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
    assertThrowsClass(errors, () => decodePatch(bad), 'DecodeError', String(bad));
    assertThrowsClass(errors, () => decodeDocument(bad), 'DecodeError', String(bad));
  }
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
