// The frame (src/engine/codec/frame.js): CRC-32, and the inflated-size limit --
// `maxBytes` on decodePatch / decodeDocument / Document.decode / applyPatch throws
// TooLargeError (not a DecodeError) before anything is inflated, after the
// magic, length, version, CRC and flags checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeDocument, decodePatch } from '../../../src/engine/codec/index.js';
import { DOC_MAGIC, HEADER, PATCH_MAGIC, TRAILER, crc32, frame } from '../../../src/engine/codec/frame.js';
import { ByteWriter } from '../../../src/engine/codec/varint.js';
import { DecodeError, Document, EngineError, TooLargeError } from '../../../src/engine/index.js';
import { recrc } from '../../fuzz.mjs';
import { loadVectors, thrown, unb64 } from '../../vectors.mjs';
import { doc, snapshot } from '../helpers.mjs';

const V = loadVectors('encoding.json');

/** A patch of `n` one-character inserts typed one after another (deflates well). */
function bigPatch(n) {
  const a = doc('alice');
  a.insert(0, 'x'.repeat(n));
  return a.encodePatch(null);
}

/** The deflated body's stated size (flags bit 0 set) of framed bytes. */
function statedSize(bytes) {
  assert.equal(bytes[4] & 1, 1, 'deflated');
  let v = 0;
  let mul = 1;
  for (let i = HEADER; ; i++) {
    v += (bytes[i] & 0x7f) * mul;
    mul *= 128;
    if (bytes[i] < 0x80) return v;
  }
}

test('crc32 equals zlib.crc32', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('frame writes magic, version, flags, body and the CRC of everything before it', () => {
  const body = Uint8Array.from([1, 2, 3]);
  const f = frame(PATCH_MAGIC, body);
  assert.deepEqual([...f.subarray(0, HEADER)], [...PATCH_MAGIC, 2, 0]);
  assert.deepEqual([...f.subarray(HEADER, HEADER + 3)], [1, 2, 3]);
  const t = f.length - TRAILER;
  assert.equal(crc32(f, 0, t), (f[t] | (f[t + 1] << 8) | (f[t + 2] << 16) | (f[t + 3] << 24)) >>> 0);
  assert.equal(frame(DOC_MAGIC, new Uint8Array(400))[4], 1, 'a long compressible body is deflated');
});

test('a plain body over maxBytes is TooLargeError with the exact message', () => {
  const a = doc('alice');
  a.insert(0, 'hi');
  const bytes = a.encodePatch(null);
  assert.equal(bytes[4], 0, 'not deflated');
  const n = bytes.length - HEADER - TRAILER;
  assert.equal(decodePatch(bytes, { maxBytes: n }).length, 1);
  const exc = thrown(() => decodePatch(bytes, { maxBytes: n - 1 }));
  assert.ok(exc instanceof TooLargeError && exc instanceof EngineError);
  assert.ok(!(exc instanceof DecodeError));
  assert.equal(exc.message, `cowrite patch body of ${n} bytes is over the limit of ${n - 1}`);
});

test('a deflated body is judged by its stated inflated size, before inflating', () => {
  const bytes = bigPatch(5000);
  const n = statedSize(bytes);
  assert.ok(n > bytes.length);
  assert.equal(decodePatch(bytes, { maxBytes: n }).length, 1);
  const exc = thrown(() => decodePatch(bytes, { maxBytes: n - 1 }));
  assert.ok(exc instanceof TooLargeError);
  assert.equal(exc.message, `cowrite patch body of ${n} bytes is over the limit of ${n - 1}`);
  // a broken deflate stream (with a valid CRC) would fail when inflated: the limit comes first
  const broken = bytes.slice();
  broken.fill(0xff, HEADER + 4, broken.length - TRAILER);
  const damaged = recrc(broken);
  assert.ok(thrown(() => decodePatch(damaged)) instanceof DecodeError);
  assert.ok(thrown(() => decodePatch(damaged, { maxBytes: 10 })) instanceof TooLargeError);
});

test('magic, length, version, CRC and flags are checked before the size limit', () => {
  const bytes = bigPatch(5000);
  const limit = { maxBytes: 1 };
  const badCrc = bytes.slice();
  badCrc[badCrc.length - 1] ^= 1;
  const badVersion = bytes.slice();
  badVersion[3] = 9;
  const badFlags = bytes.slice();
  badFlags[4] = 3;
  for (const [data, message] of [
    [Uint8Array.from([0x43, 0x57, 0x44, 2, 0, 0, 0, 0, 0]), /these bytes are a cowrite document/],
    [bytes.subarray(0, 6), /truncated cowrite patch/],
    [recrc(badVersion), /format version 9/],
    [badCrc, /checksum mismatch/],
    [recrc(badFlags), /unknown flags/],
  ]) {
    const exc = thrown(() => decodePatch(data, limit));
    assert.ok(exc instanceof DecodeError, String(message));
    assert.match(exc.message, message);
  }
  // and an implausible stated size (over the deflate ratio) is corruption, as in Python
  const w = new ByteWriter();
  for (const b of PATCH_MAGIC) w.byte(b);
  w.byte(2);
  w.byte(1);
  w.uvar(10 ** 9);
  w.bytes(Uint8Array.from([0x78, 0x9c, 0x03, 0x00]));
  for (let i = 0; i < 4; i++) w.byte(0);
  const lie = thrown(() => decodePatch(recrc(w.finish()), limit));
  assert.ok(lie instanceof DecodeError);
  assert.match(lie.message, /implausible uncompressed size/);
});

test('documents: decodeDocument and Document.decode take maxBytes too', () => {
  const v = V.documents.find((d) => unb64(d.bytes)[4] === 1) ?? V.documents[0];
  const bytes = unb64(v.bytes);
  const n = bytes[4] & 1 ? statedSize(bytes) : bytes.length - HEADER - TRAILER;
  assert.equal(decodeDocument(bytes, { maxBytes: n }).text, v.text);
  assert.equal(Document.decode(bytes, 'me', { maxBytes: n }).text, v.text);
  for (const fn of [() => decodeDocument(bytes, { maxBytes: n - 1 }), () => Document.decode(bytes, 'me', { maxBytes: n - 1 })]) {
    const exc = thrown(fn);
    assert.ok(exc instanceof TooLargeError);
    assert.equal(exc.message, `cowrite document body of ${n} bytes is over the limit of ${n - 1}`);
  }
  // the other options still work beside it
  const d = Document.decode(bytes, 'me', { maxBytes: null, clock: () => 1_900_000_000 });
  d.insert(0, 'x');
  assert.equal(d.opsSince([]).at(-1).time, 1_900_000_000);
});

test('applyPatch with maxBytes refuses a large patch and changes nothing', () => {
  const d = doc('bob');
  d.insert(0, 'keep');
  const before = snapshot(d);
  const bytes = bigPatch(5000);
  assert.throws(() => d.applyPatch(bytes, { maxBytes: 1000 }), TooLargeError);
  assert.equal(snapshot(d), before);
  d.applyPatch(bytes, { maxBytes: 2 ** 20 });
  assert.equal(d.length, 5004);
});
