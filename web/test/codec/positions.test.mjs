// Position values and their CWC codec against testdata/vectors/positions.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DecodeError, InvalidOpError } from '../../src/engine/errors.js';
import { Position } from '../../src/engine/position.js';
import { b64, loadVectors, thrown, unb64 } from './vectors.mjs';

const V = loadVectors('positions.json');

test('valid CWC bytes decode to the recorded position and re-encode canonically', () => {
  for (const v of V.valid) {
    const p = Position.decode(unb64(v.bytes));
    assert.deepEqual(p.toJSON(), v.json, v.name);
    assert.equal(b64(p.encode()), v.reencoded, v.name);
    assert.ok(Position.fromJSON(v.json).equals(p), v.name);
  }
});

test('invalid CWC bytes throw DecodeError', () => {
  for (const v of V.invalid) {
    const exc = thrown(() => Position.decode(unb64(v.bytes)));
    assert.ok(exc instanceof DecodeError, `${v.name}: ${exc && `${exc.constructor.name}: ${exc.message}`}`);
  }
});

test('invalid JSON positions throw DecodeError', () => {
  for (const v of V.invalid_json) {
    const exc = thrown(() => Position.fromJSON(v.json));
    assert.ok(exc instanceof DecodeError, `${v.name}: ${exc && `${exc.constructor.name}: ${exc.message}`}`);
  }
});

test('the constructor validates like Python (InvalidOpError)', () => {
  for (const args of [
    ['a', 0, 0],
    ['a', -1, 1],
    ['a', 1.5, 1],
    ['a', 2 ** 53, 1],
    ['', 0, 1],
    [null, 1, 1],
    ['a\ud800', 0, 1],
    ['🐙'.repeat(257), 0, 1],
    [42, 0, 1],
  ]) {
    assert.ok(thrown(() => new Position(...args)) instanceof InvalidOpError, JSON.stringify(args));
  }
  const p = new Position('🐙'.repeat(256), 2 ** 53 - 1, -1);
  assert.ok(Position.decode(p.encode()).equals(p));
  assert.ok(Object.isFrozen(p));
});

test('non-bytes input throws DecodeError', () => {
  for (const bad of [null, 'CWC', [0x43, 0x57, 0x43, 1, 0]]) {
    assert.ok(thrown(() => Position.decode(bad)) instanceof DecodeError);
  }
});
