// Shared helpers of the JS engine tests (not a test file itself).

import assert from 'node:assert/strict';

import { Document } from '../../src/engine/index.js';

export const T0 = 1_800_000_000;

/** A document with a fixed clock, so op times (and encodings) are deterministic. */
export function doc(agent) {
  return new Document(agent, { clock: () => T0 });
}

/** Bring `to` every op `from` has, over the wire format. */
export function pull(to, from) {
  return to.applyPatch(from.encodePatch(to.summary()));
}

/** Exchange ops both ways. */
export function sync(a, b) {
  pull(a, b);
  pull(b, a);
}

/** Everyone pulls from the first, then the first's state goes back to all. */
export function syncAll(docs) {
  for (const d of docs.slice(1)) pull(docs[0], d);
  for (const d of docs.slice(1)) pull(d, docs[0]);
}

/** The incrementally merged text equals a fresh checkout of the whole op log. */
export function assertConsistent(d) {
  assert.equal(d.textAt(d.version()), d.text, `${d.agent}: incremental text differs from a checkout`);
}

/** Everything observable that a rejected call must leave unchanged. */
export function snapshot(d) {
  return JSON.stringify([d.text, d.length, d.version(), d.summary(), d.opsSince([])]);
}

/** Apply transformed edits (code points) to a plain string, as an editor would. */
export function applyEdits(text, edits) {
  let cps = Array.from(text);
  for (const e of edits) {
    if (e.kind === 'ins') cps.splice(e.pos, 0, ...Array.from(e.text));
    else cps.splice(e.pos, e.length);
  }
  return cps.join('');
}
