// The CWD codec (src/engine/codec/document.js) against the Python engine's vectors
// (testdata/vectors/encoding.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeDocument, encodeDocument } from '../../../src/engine/codec/document.js';
import * as errors from '../../../src/engine/errors.js';
import { assertThrowsClass, b64, loadVectors, unb64 } from '../../vectors.mjs';

const V = loadVectors('encoding.json');

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

test('invalid documents throw DecodeError', () => {
  for (const v of V.invalid_documents) assertThrowsClass(errors, () => decodeDocument(unb64(v.bytes)), v.error, v.name);
});
