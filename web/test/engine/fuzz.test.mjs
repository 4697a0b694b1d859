// Seeded fuzzing of the engine as a whole.  Random histories run by the JS engine
// alone (the differential driver's generator): peers converge, an observer fed
// patches matches, snapshot loads match, and every text equals a fresh checkout of
// the op log.  Then damaged patches and documents fed to Documents.
// COWRITE_SIM_SEEDS scales the histories, COWRITE_FUZZ_SCALE the damaged inputs.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { generate, replay } from '../differential.mjs';
import { writeDocument } from '../../src/engine/codec/document.js';
import { DOC_MAGIC, PATCH_MAGIC } from '../../src/engine/codec/frame.js';
import { DEL_FWD, INS, OpLog } from '../../src/engine/oplog.js';
import {
  ConflictingOpError,
  DecodeError,
  Document,
  EngineError,
  InvalidOpError,
  UnknownParentError,
} from '../../src/engine/index.js';
import { SCALE, bodyOf, expectOnly, fuzzSeed, hex, mutate, reframe } from '../fuzz.mjs';
import { loadVectors, rng, unb64 } from '../vectors.mjs';
import { snapshot } from './helpers.mjs';

const encoding = loadVectors('encoding.json');
/** What applyPatch documents that it throws for bad input. */
const PATCH_ERRORS = [DecodeError, InvalidOpError, UnknownParentError, ConflictingOpError];

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

// -- untrusted bytes through a Document ------------------------------------------------------
//
// A Document given damaged bytes must throw a documented EngineError and stay as it
// was (all-or-nothing); any other exception is a bug in the engine.  The bodies are
// damaged before framing (a valid CRC, no deflate), so the damage reaches the
// decoders and, when the ops still decode, the merge.

const FUZZ_HISTORIES = 4;

test('damaged patches applied to a document throw only documented errors and change nothing', () => {
  const r = rng(fuzzSeed(11));
  let merged = 0;
  let refused = 0;
  for (let h = 0; h < FUZZ_HISTORIES; h++) {
    const { steps } = generate(60_000 + h);
    const patches = steps.map((s) => unb64(s.patch));
    for (let i = 0; i < 150 * SCALE; i++) {
      const d = new Document('fuzz');
      const k = r.int(patches.length);
      for (let j = 0; j < k; j++) d.applyPatch(patches[j]);
      const target = patches[k + r.int(Math.min(3, patches.length - k))];
      const data = reframe(PATCH_MAGIC, mutate(r, bodyOf(target, PATCH_MAGIC)));
      const before = snapshot(d);
      const label = `history ${h}, after ${k} patches, mutant ${hex(data)}`;
      const xf = expectOnly(PATCH_ERRORS, () => d.applyPatch(data), label);
      if (xf === undefined) {
        refused++;
        assert.equal(snapshot(d), before, `${label}: changed by a refused patch`);
      } else {
        merged++;
        assert.equal(d.textAt(d.version()), d.text, `${label}: merged text differs from a checkout`);
      }
    }
  }
  assert.ok(merged > 0 && refused > 0, `merged ${merged}, refused ${refused}`);
});

test('damaged documents load or throw DecodeError; loaded ones work', () => {
  const r = rng(fuzzSeed(12));
  const seeds = encoding.documents.map((v) => bodyOf(unb64(v.bytes), DOC_MAGIC)).filter((b) => b.length < 8000);
  for (let h = 0; h < FUZZ_HISTORIES; h++) {
    const { steps } = generate(60_000 + h);
    const d = new Document('seed');
    for (const s of steps) d.applyPatch(unb64(s.patch));
    seeds.push(bodyOf(d.encode(), DOC_MAGIC));
  }
  let loaded = 0;
  for (let i = 0; i < 1000 * SCALE; i++) {
    const data = reframe(DOC_MAGIC, mutate(r, r.pick(seeds)));
    const label = `document mutant ${hex(data)}`;
    const d = expectOnly(DecodeError, () => Document.decode(data, 'fuzz'), label);
    if (!d) continue;
    loaded++;
    assert.equal(Document.decode(d.encode(), 'again').text, d.text, label);
    // nothing replayed the history on load: a checkout or the character ids may
    // find that an op does not fit (InvalidOpError), but nothing else may go wrong
    expectOnly(EngineError, () => d.textAt(d.version()), `${label}: textAt`);
    expectOnly(EngineError, () => d.position(0), `${label}: position`);
    d.insert(0, 'x');
    assert.equal(d.text[0], 'x');
  }
  assert.ok(loaded > 0);
});

test('random ops at random versions merge consistently or are refused with nothing changed', () => {
  const r = rng(fuzzSeed(13));
  let merged = 0;
  let refused = 0;
  for (let h = 0; h < FUZZ_HISTORIES; h++) {
    const { steps } = generate(61_000 + h);
    const base = new Document('base');
    for (const s of steps) base.applyPatch(unb64(s.patch));
    const ids = [];
    for (const [agent, runs] of Object.entries(base.summary())) for (const [a, b] of runs) for (let s = a; s < b; s++) ids.push([agent, s]);
    for (let i = 0; i < 40 * SCALE; i++) {
      const d = Document.decode(base.encode(), 'fuzz');
      const ops = [];
      for (let k = 1 + r.int(3); k > 0; k--) {
        const parents = r.next() < 0.1 ? [] : Array.from({ length: 1 + r.int(2) }, () => r.pick(ids));
        const len = [...d.textAt(parents)].length; // (ops made earlier in this batch are ignored)
        const agent = r.pick(['mallory', 'trent', 'zoë']);
        const seq = (ops.filter((o) => o.agent === agent).reduce((n, o) => Math.max(n, o.seq + o.length), 0)) + (r.next() < 0.1 ? 5 : 0);
        const pos = Math.max(0, len - 2 + r.int(5));
        const op =
          r.next() < 0.5
            ? { agent, seq, parents, kind: 'ins', pos, content: 'ab👋'.slice(0, 1 + r.int(4)), length: 0, fwd: true, time: 0 }
            : { agent, seq, parents, kind: 'del', pos, content: '', length: 1 + r.int(3), fwd: r.next() < 0.5, time: 0 };
        if (op.kind === 'ins') op.length = [...op.content].length;
        ops.push(op);
      }
      const before = snapshot(d);
      const label = `history ${h}: ops ${JSON.stringify(ops)}`;
      const xf = expectOnly(PATCH_ERRORS, () => d.addOps(ops), label);
      if (xf === undefined) {
        refused++;
        assert.equal(snapshot(d), before, `${label}: changed by refused ops`);
        continue;
      }
      merged++;
      assert.equal(d.textAt(d.version()), d.text, `${label}: merged text differs from a checkout`);
      const fresh = new Document('fresh');
      fresh.applyPatch(d.encodePatch(null));
      assert.equal(fresh.text, d.text, `${label}: a replica fed everything differs`);
    }
  }
  assert.ok(merged > 0 && refused > 0, `merged ${merged}, refused ${refused}`);
});

/**
 * A structurally valid document whose history need not fit its text: ops at
 * random positions and parents (concurrent, out of range), and a text of a length
 * the codec's cheap bounds allow.  Loading never replays history, so only a later
 * walk can find that it does not fit.
 */
function craftedDocument(r) {
  const log = new OpLog();
  let ins = 0;
  let dels = 0;
  for (let k = 2 + r.int(6); k > 0; k--) {
    const agent = r.pick(['a', 'b', 'c']);
    const n = log.length;
    const parents = n === 0 || r.next() < 0.4 ? [] : log.cg.reduce([r.int(n), ...(r.next() < 0.3 ? [r.int(n)] : [])]);
    if (r.next() < 0.6 || ins - dels < 2) {
      const m = 1 + r.int(4);
      log.addLocal(agent, INS, r.int(ins + 1), m, Array.from({ length: m }, () => r.pick(['x', 'y', '👋'])), parents, 0);
      ins += m;
    } else {
      const m = 1 + r.int(2);
      log.addLocal(agent, DEL_FWD, r.int(Math.max(1, ins - m)), m, null, parents, 0);
      dels += m;
    }
  }
  const len = Math.min(ins, Math.max(0, ins - dels) + r.int(dels + 1));
  return writeDocument(log, 'q'.repeat(len), log.cg.heads);
}

test('documents whose history does not fit their text: later merges are refused, never hang or crash', () => {
  const r = rng(fuzzSeed(14));
  let merged = 0;
  let refused = 0;
  for (let i = 0; i < 1500 * SCALE; i++) {
    const bytes = craftedDocument(r);
    const label = `crafted document ${hex(bytes)}`;
    const d = expectOnly(DecodeError, () => Document.decode(bytes, 'me'), label);
    if (!d) continue;
    const cg = d.oplog.cg;
    const parents = r.next() < 0.2 ? [] : [cg.lvToRaw(r.int(cg.nextLv))];
    const len = d.length + 2;
    const op =
      r.next() < 0.5
        ? { agent: 'zed', seq: 0, parents, kind: 'ins', pos: r.int(len), content: 'Q', length: 1, fwd: true, time: 0 }
        : { agent: 'zed', seq: 0, parents, kind: 'del', pos: r.int(len), content: '', length: 1 + r.int(2), fwd: r.next() < 0.5, time: 0 };
    const before = snapshot(d);
    const xf = expectOnly(PATCH_ERRORS, () => d.addOps([op]), `${label}: op ${JSON.stringify(op)}`);
    if (xf === undefined) {
      refused++;
      assert.equal(snapshot(d), before, label);
    } else {
      merged++;
    }
    expectOnly(EngineError, () => d.textAt(d.version()), `${label}: textAt`);
  }
  assert.ok(merged > 0 && refused > 0, `merged ${merged}, refused ${refused}`);
});
