// The one varint module (src/engine/codec/varint.js): the writer, and the reader's
// three rules -- the codecs' `uvar` (any encoding, up to 10 bytes), the protocol's
// canonical `uint(what, limit)` and the positions' `uvarLoose`.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ByteReader, ByteWriter, MAX_UINT64 } from '../../../src/engine/codec/varint.js';
import { DecodeError } from '../../../src/engine/errors.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { thrown } from '../../vectors.mjs';

const reader = (bytes, error) => new ByteReader(Uint8Array.from(bytes), 0, bytes.length, error);
const written = (fn) => {
  const w = new ByteWriter(1);
  fn(w);
  return [...w.finish()];
};

test('LEB128 bytes: 7 bits a byte, low first', () => {
  assert.deepEqual(written((w) => w.uvar(0)), [0]);
  assert.deepEqual(written((w) => w.uvar(127)), [0x7f]);
  assert.deepEqual(written((w) => w.uvar(128)), [0x80, 0x01]);
  assert.deepEqual(written((w) => w.uvar(300)), [0xac, 0x02]);
  assert.deepEqual(written((w) => w.uvar(2n ** 64n - 1n)), [...Array(9).fill(0xff), 0x01]);
  // zigzag: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ...
  assert.deepEqual(written((w) => [0, -1, 1, -2, 2].forEach((v) => w.svar(v))), [0, 1, 2, 3, 4]);
  assert.throws(() => new ByteWriter().uvar(-1), RangeError);
  assert.throws(() => new ByteWriter().uvar(1.5), RangeError);
  assert.throws(() => new ByteWriter().uvar(2 ** 53 + 2), RangeError);
});

test('uvar, svar and kindSpan read back what was written, exactly up to 2**53', () => {
  const values = [0, 1, 127, 128, 16383, 16384, 2 ** 32, 2 ** 49 - 1, 2 ** 49, 2 ** 52 + 1, 2 ** 53 - 1, 2 ** 53];
  const w = new ByteWriter();
  for (const v of values) w.uvar(v);
  for (const v of values) w.svar(v);
  for (const v of values) w.svar(-v || 0);
  for (const span of [1, 2 ** 50 - 1, 2 ** 50, 2 ** 53]) w.uvar((BigInt(span) << 2n) | 2n);
  const r = new ByteReader(w.finish());
  for (const v of values) assert.equal(r.uvar(), v);
  for (const v of values) assert.equal(r.svar(), v);
  for (const v of values) assert.equal(r.svar(), -v || 0);
  for (const span of [1, 2 ** 50 - 1, 2 ** 50, 2 ** 53]) assert.deepEqual(r.kindSpan(), [2, span]);
  r.done('values');
});

test('uvar: any encoding of up to 10 bytes; larger values are Infinity', () => {
  assert.equal(reader([0x80, 0x00]).uvar(), 0); // overlong, accepted
  assert.equal(reader([...Array(9).fill(0xff), 0x7f]).uvar(), Infinity); // 2**70 - 1
  assert.equal(reader([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]).uvar(), Infinity); // 2**53 + 1
  const long = thrown(() => reader([...Array(10).fill(0x80), 0x00]).uvar());
  assert.ok(long instanceof DecodeError);
  assert.equal(long.message, 'malformed number: varint longer than 10 bytes');
  const short = thrown(() => reader([0x80]).uvar());
  assert.ok(short instanceof DecodeError);
  assert.equal(short.message, 'truncated data: a number runs past the end of its block');
});

test('uint: canonical, below 2**64, at most the limit; errors of the reader class', () => {
  assert.equal(reader([0x05]).uint('x'), 5);
  assert.equal(reader([...Array(9).fill(0xff), 0x01]).uint('x'), MAX_UINT64);
  assert.equal(typeof reader([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]).uint('x'), 'number'); // 2**53
  assert.equal(reader([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]).uint('x'), 2n ** 53n + 1n);
  const cases = [
    [[0x80, 0x00], 'x: overlong varint'],
    [[...Array(9).fill(0xff), 0x02], 'x: varint larger than 64 bits'],
    [[0x80], 'truncated frame: x ends early'],
    [[0x0b], 'x is 11; the limit is 10'],
  ];
  for (const [bytes, message] of cases) {
    const exc = thrown(() => reader(bytes, ProtocolError).uint('x', 10));
    assert.ok(exc instanceof ProtocolError, message);
    assert.equal(exc.message, message);
    assert.ok(thrown(() => reader(bytes).uint('x', 10)) instanceof DecodeError);
  }
});

test('uvarLoose: at most maxBytes bytes, any encoding, as a double', () => {
  assert.equal(reader([0x80, 0x00]).uvarLoose(9, 'bad'), 0);
  assert.equal(reader([...Array(8).fill(0xff), 0x7f]).uvarLoose(9, 'bad'), 2 ** 63 - 1); // rounded
  for (const bytes of [[0x80], [...Array(9).fill(0x80), 0x00]]) {
    const exc = thrown(() => reader(bytes).uvarLoose(9, 'bad'));
    assert.ok(exc instanceof DecodeError);
    assert.equal(exc.message, 'bad');
  }
});

test('blocks, counts and take stay inside their bounds', () => {
  const w = new ByteWriter();
  w.block(Uint8Array.from([1, 2, 3]));
  w.uvar(9);
  const r = new ByteReader(w.finish());
  const b = r.block();
  assert.deepEqual([...b.take(3)], [1, 2, 3]);
  b.done('block');
  assert.throws(() => b.take(1), DecodeError);
  assert.throws(() => r.count('items'), /9 items claimed but only room for 0/);
  const trailing = thrown(() => new ByteReader(Uint8Array.from([1, 2])).done('x'));
  assert.equal(trailing.message, 'corrupt data: 2 unexpected bytes after x');
  assert.throws(() => new ByteReader(Uint8Array.from([5, 1])).block(), /a block runs past the end/);
});
