// Seeded fuzzing of the frame decoder (src/protocol/messages.js): damaged frames
// must decode or throw ProtocolError (the documented error), never anything else;
// whatever decodes re-encodes to the same message.  COWRITE_FUZZ_SCALE=N runs N
// times as many cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ProtocolError } from '../../src/protocol/errors.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/messages.js';
import { SCALE, expectOnly, fuzzSeed, hex, mutate } from '../fuzz.mjs';
import { loadVectors, rng, unb64 } from '../vectors.mjs';

const frames = loadVectors('frames.json');

test('damaged frames decode or throw ProtocolError; decoded ones round-trip', () => {
  const r = rng(fuzzSeed(4));
  const seeds = frames.valid.map((v) => unb64(v.bytes));
  let ok = 0;
  for (let i = 0; i < 2000 * SCALE; i++) {
    const data = mutate(r, r.pick(seeds));
    const msg = expectOnly(ProtocolError, () => decodeFrame(data), `frame mutant ${hex(data)}`);
    if (msg) {
      ok++;
      assert.deepEqual(decodeFrame(encodeFrame(msg)), msg);
    }
  }
  assert.ok(ok > 0);
});
