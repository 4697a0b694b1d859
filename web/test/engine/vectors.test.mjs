// The shared vectors (testdata/vectors, written by `cowrite vectors` from the
// Python engine): the JS merge must give the same text, version and edits after
// every patch, from an empty document and from a snapshot, and resolve stable
// positions to the same indices.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { DecodeError, Document, Position } from '../../src/engine/index.js';

const VECTORS = new URL('../../../testdata/vectors/', import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, VECTORS), 'utf8'));
const bytes = (b64) => new Uint8Array(Buffer.from(b64, 'base64'));

const encoding = load('encoding.json');
const merge = load('merge.json');
const resolve = load('positions_resolve.json');

test('encoding.json documents load as Documents and re-encode to the same bytes', () => {
  assert.ok(encoding.documents.length >= 5);
  for (const e of encoding.documents) {
    const d = Document.decode(bytes(e.bytes), 'js-loader');
    assert.equal(d.text, e.text, e.name);
    assert.deepEqual(d.version(), e.version, e.name);
    assert.deepEqual(d.encode(), bytes(e.reencoded), e.name);
  }
  for (const e of encoding.invalid_documents) {
    assert.throws(() => Document.decode(bytes(e.bytes), 'js-loader'), DecodeError, e.name);
  }
});

test('merge.json has histories to check', () => {
  assert.ok(merge.histories.length >= 10);
  assert.ok(merge.histories.some((h) => h.loads.length));
});

for (const h of merge.histories) {
  test(`merge history seed ${h.seed}: every step from an empty document`, () => {
    const d = new Document('js-observer');
    h.steps.forEach((step, i) => {
      const xf = d.applyPatch(bytes(step.patch));
      assert.equal(d.text, step.text, `seed ${h.seed} step ${i}: text`);
      assert.deepEqual(d.version(), step.version, `seed ${h.seed} step ${i}: version`);
      assert.deepEqual(xf, step.xf, `seed ${h.seed} step ${i}: edits`);
    });
    assert.equal(d.text, h.text);
    assert.deepEqual(d.summary(), h.summary);
  });

  h.loads.forEach((ld, k) => {
    test(`merge history seed ${h.seed}: load ${k} from a snapshot at step ${ld.from_step}`, () => {
      const d = Document.decode(bytes(ld.document), 'js-loader');
      assert.equal(d.text, ld.text);
      assert.deepEqual(d.version(), ld.version);
      ld.patches.forEach((patch, i) => {
        d.applyPatch(bytes(patch));
        assert.equal(d.text, h.steps[ld.from_step + i].text, `seed ${h.seed} load ${k} patch ${i}`);
      });
      assert.equal(d.text, h.text);
    });
  });
}

resolve.histories.forEach((h, k) => {
  test(`positions_resolve history ${k}: positions taken on a snapshot resolve like Python`, () => {
    const d = Document.decode(bytes(h.document), 'js-resolver');
    assert.equal(d.text, h.text);
    const made = h.cases.map((c) => {
      const p = d.position(c.index, c.assoc);
      assert.deepEqual({ agent: p.agent, seq: p.seq, assoc: p.assoc }, c.json, `position(${c.index}, ${c.assoc})`);
      assert.deepEqual(p.encode(), bytes(c.position));
      assert.deepEqual(Position.decode(bytes(c.position)), p);
      return p;
    });
    for (const patch of h.patches) d.applyPatch(bytes(patch));
    assert.equal(d.text, h.final_text);
    h.cases.forEach((c, i) => {
      assert.equal(d.resolve(made[i]), c.resolved_at_end, `position(${c.index}, ${c.assoc}) resolved`);
    });
  });
});
