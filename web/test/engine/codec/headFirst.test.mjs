// The head-first document layout Python's Document.encode writes (src/cowrite/engine/
// codec/head.py): the JS reader decodes it, and refuses a damaged head or a head that
// does not fit its history.  The bytes below were written by the Python engine
// (tests/web/test_head_first_documents.py checks many more, made on the spot).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Document } from '../../../src/engine/index.js';
import { decodeDocument, encodeDocument, HEAD_MARK } from '../../../src/engine/codec/document.js';
import { crc32, DOC_MAGIC } from '../../../src/engine/codec/frame.js';
import * as errors from '../../../src/engine/errors.js';
import { assertThrowsClass, unb64 } from '../../vectors.mjs';

// tests/engine/codec/helpers.py small_doc(), stored plain (flags 0)
const SMALL =
  'Q1dEAgD///////////8BNAIFYWxpY2UDYm9iHwIAFQEIGCFIw6lsbG8sIGRlYXIgd8O2cmxkIOaXpeacrOiqniBlzIEnaMOpbGxvIHfDtnJsZCDwn5GLLCBkZWFySCDml6XmnKzoqp4gZcyBAgIWCQQAAQEBAgAAAwECCgcHNBgFBAUcCQcADxUAIgkPAhUJAQIfAHlS+ec=';
const SMALL_TEXT = 'H\u00e9llo, dear w\u00f6rld \u65e5\u672c\u8a9e e\u0301';
// 40 typed runs by one agent, deflated
const BIG =
  'Q1dEAgHWC3ja+/8fChjvszIyJ2WmX2BlZDjPegEISyoLMvPSFfLzFBLzUoCUjsKoyKjI0BUZTdGjIsNLhJHpAisTAyMjEDEyHRAD0ueBhfgFVgYAWwgDAGPSTls=';

/** The body of a plain frame, and the frame of a body (CRC fixed up). */
const bodyOf = (bytes) => bytes.subarray(5, bytes.length - 4);
const plain = (body) => {
  const out = new Uint8Array(body.length + 9);
  out.set([...DOC_MAGIC, 2, 0]);
  out.set(body, 5);
  const crc = crc32(out, 0, body.length + 5);
  out.set([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24], body.length + 5);
  return out;
};

test('a head-first document decodes to its text, version and ops', () => {
  const small = decodeDocument(unb64(SMALL));
  assert.equal(small.text, SMALL_TEXT);
  assert.deepEqual(small.version, [['alice', 21], ['bob', 8]]);
  assert.equal(small.ops.length, 7);
  const d = Document.decode(unb64(SMALL), 'js');
  assert.equal(d.text, SMALL_TEXT);
  const big = Document.decode(unb64(BIG), 'js');
  assert.equal(big.text, 'typing on and on, '.repeat(40));
  assert.deepEqual(big.version(), [['big', 719]]);
  // re-encoded by the JS writer (the classic layout), it is the same document
  const again = decodeDocument(encodeDocument(small));
  assert.deepEqual([again.text, again.version, again.ops], [small.text, small.version, small.ops]);
  assert.notDeepEqual([...bodyOf(encodeDocument(small)).subarray(0, HEAD_MARK.length)], [...HEAD_MARK]);
});

test('a damaged head or one that does not fit its history is refused', () => {
  const body = bodyOf(unb64(SMALL));
  const at = HEAD_MARK.length + 1; // the head's first byte (its length is one byte here)
  const headLen = body[HEAD_MARK.length];
  const cases = [
    ['head runs past the body', (b) => b.subarray(0, at + 20), /head runs past the end/],
    // the head: agent count, "alice", "bob" (1 + 6 + 4 bytes), then the op count and the version's id count
    ['an op count the history does not have', (b) => ((b[at + 11] -= 1), b), /the head says 30/],
    ['more version ids than the head has room for', (b) => ((b[at + 12] = 0x7f), b), /version ids/],
  ];
  for (const [name, mutate, message] of cases) {
    const b = mutate(Uint8Array.from(body));
    assertThrowsClass(errors, () => decodeDocument(plain(b)), 'DecodeError', name);
    assert.throws(() => decodeDocument(plain(b)), message, name);
  }
  // every single-byte change of the history (under a fixed-up CRC) decodes or throws DecodeError
  for (let i = at + headLen; i < body.length; i++) {
    for (const v of [0, 0xff, body[i] ^ 1]) {
      const b = Uint8Array.from(body);
      b[i] = v;
      try {
        decodeDocument(plain(b));
      } catch (err) {
        assert.ok(err instanceof errors.DecodeError, `byte ${i} = ${v}: ${err}`);
      }
    }
  }
  // a truncated body: the head is cut
  assertThrowsClass(errors, () => decodeDocument(plain(body.subarray(0, at + 5))), 'DecodeError', 'cut head');
});
