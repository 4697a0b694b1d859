// Seeded random histories run by the JS engine alone (the differential driver's
// generator): peers converge, an observer fed patches matches, snapshot loads
// match, and every text equals a fresh checkout of the op log.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { generate, replay } from '../differential.mjs';
import { Document } from '../../src/engine/index.js';

const SEEDS = Number(process.env.COWRITE_SIM_SEEDS || 12);

test(`${SEEDS} random concurrent histories converge and replay identically`, () => {
  for (let seed = 50_000; seed < 50_000 + SEEDS; seed++) {
    const h = generate(seed); // throws if the peers diverge
    assert.ok(h.steps.length > 0, `seed ${seed}: no steps`);
    assert.equal(replay(h), null, `seed ${seed}`);
    const last = h.steps.at(-1);
    const d = new Document('checker');
    for (const step of h.steps) d.applyPatch(new Uint8Array(Buffer.from(step.patch, 'base64')));
    assert.equal(d.textAt(last.version), last.text, `seed ${seed}: checkout differs`);
  }
});
