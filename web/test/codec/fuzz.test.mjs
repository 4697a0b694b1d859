// Seeded fuzzing of every decoder: damaged bytes must decode or throw the codec's own
// error class (DecodeError / ProtocolError), never a TypeError, RangeError or a hang;
// and whatever decodes must re-encode to something that decodes to the same value.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeDocument, decodePatch, encodeDocument, encodePatch } from '../../src/engine/encoding.js';
import { DecodeError } from '../../src/engine/errors.js';
import { Position } from '../../src/engine/position.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/messages.js';
import { crc32 } from '../../src/engine/crc32.js';
import { loadVectors, rng, unb64 } from './vectors.mjs';

const enc = loadVectors('encoding.json');
const pos = loadVectors('positions.json');
const frames = loadVectors('frames.json');

/** One random mutation: truncate, flip a bit, overwrite, delete or insert bytes. */
function mutate(r, bytes) {
  const b = [...bytes];
  for (let k = 1 + r.int(3); k > 0; k--) {
    const i = b.length ? r.int(b.length) : 0;
    const what = r.int(6);
    if (what === 0) b.length = r.int(b.length + 1);
    else if (what === 1 && b.length) b[i] ^= 1 << r.int(8);
    else if (what === 2 && b.length) b[i] = r.pick([0, 1, 0x7f, 0x80, 0xff, r.int(256)]);
    else if (what === 3) b.splice(i, 1 + r.int(4));
    else b.splice(i, 0, ...Array.from({ length: 1 + r.int(4) }, () => r.int(256)));
  }
  return Uint8Array.from(b);
}

/** With a repaired CRC-32 trailer, so the damage reaches the body of a CWP/CWD. */
function recrc(bytes) {
  if (bytes.length < 9) return bytes;
  const out = bytes.slice();
  const c = crc32(out, 0, out.length - 4);
  out.set([c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24], out.length - 4);
  return out;
}

function expectOnly(errorClass, fn, label) {
  try {
    return fn();
  } catch (exc) {
    if (!(exc instanceof errorClass)) {
      assert.fail(`${label}: threw ${exc && exc.constructor && exc.constructor.name}: ${exc && exc.message}`);
    }
    // the decoders turn unforeseen failures into DecodeErrors naming them: none may happen
    assert.doesNotMatch(exc.message, /TypeError|RangeError|ReferenceError|InternalError/, label);
    return undefined;
  }
}

const hex = (b) => Buffer.from(b).toString('hex');

test('damaged patches decode or throw DecodeError; decoded ones round-trip', () => {
  const r = rng(1);
  const seeds = enc.patches.map((v) => unb64(v.bytes));
  let ok = 0;
  for (let i = 0; i < 1500; i++) {
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
  const r = rng(2);
  const seeds = enc.documents.map((v) => unb64(v.bytes)).filter((b) => b.length < 4000);
  let ok = 0;
  for (let i = 0; i < 1000; i++) {
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

test('damaged positions decode or throw DecodeError', () => {
  const r = rng(3);
  const seeds = pos.valid.map((v) => unb64(v.bytes));
  for (let i = 0; i < 1000; i++) {
    const data = mutate(r, r.pick(seeds));
    const p = expectOnly(DecodeError, () => Position.decode(data), `position mutant ${hex(data)}`);
    if (p) assert.ok(Position.decode(p.encode()).equals(p));
  }
});

test('damaged frames decode or throw ProtocolError; decoded ones round-trip', () => {
  const r = rng(4);
  const seeds = frames.valid.map((v) => unb64(v.bytes));
  let ok = 0;
  for (let i = 0; i < 2000; i++) {
    const data = mutate(r, r.pick(seeds));
    const msg = expectOnly(ProtocolError, () => decodeFrame(data), `frame mutant ${hex(data)}`);
    if (msg) {
      ok++;
      assert.deepEqual(decodeFrame(encodeFrame(msg)), msg);
    }
  }
  assert.ok(ok > 0);
});

test('random op lists round-trip through encodePatch/decodePatch', () => {
  const r = rng(5);
  const chars = ['a', 'é', '日', '👋', '🏽', '\u200d', ' ', '\n', '\ufeff', '𝔘'];
  const agents = ['alice', 'bob', '🐙', '\uff21', 'zoë'];
  for (let n = 0; n < 300; n++) {
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
