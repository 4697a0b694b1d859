// Differential fuzzing of the JS engine against the Python engine (driver script).
//
// Why: the browser and the server must merge every history to the same text.
// Shared vectors pin known histories; this explores new ones.  Two modes:
//
//   node test/differential.mjs SEED COUNT
//       Generates COUNT random concurrent histories (seeds SEED, SEED+1, ...) with
//       the JS engine: 3-5 peers typing (emoji, combining marks, multi-character
//       runs, Backspace/Delete runs, selections), undoing and redoing, reloading
//       from snapshots, syncing partially (a causal prefix of what a peer lacks)
//       via summary/encodePatch/applyPatch, one peer offline for a long stretch.
//       Checks the peers converge, then prints JSON {histories: [{seed, steps:
//       [{patch, text, version}], loads: [{document, from_step, text}], text}]}:
//       the patches an observer received, in a causal order, with its text after
//       each.  tests/web/test_differential.py replays them with the Python engine.
//
//   node test/differential.mjs --replay FILE
//       Reads histories in that same shape (made by the Python engine), applies
//       them with the JS engine and prints JSON {results: [{seed, ok, error}]};
//       exits 1 if any history disagrees.
//
//   node test/differential.mjs --undo FILE
//       Runs undo scripts made by the Python engine ({histories: [{seed, agents,
//       commands, expect}]}, see runUndoScript) and reports like --replay.
//
// Exits 2 with the seed on stderr if JS peers fail to converge.

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import { Document, UndoManager, encodePatch } from '../src/engine/index.js';

/** mulberry32: a small seeded PRNG, so a seed always makes the same history. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    random: next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));

// Agent names whose code-point order, UTF-16 order and length order all differ.
const NAMES = ['alice', 'bob', 'zoë', '🐙', '\uffff', '\u{1F600}x', 'Ab', 'a', 'ab'];
const PIECES = ['a', 'b', 'c', 'x', ' ', '\n', 'é', 'e\u0301', 'ñ', '日本', '👋🏽', '👩‍🚀', '🎉', '𝔘', 'the ', 'Ω'];

function randomText(rng) {
  let s = '';
  const n = rng.random() < 0.6 ? 1 : rng.int(2, 8);
  for (let i = 0; i < n; i++) s += rng.pick(PIECES);
  return s;
}

function randomEdit(rng, peer) {
  const d = peer.doc;
  const n = d.length;
  const r = rng.random();
  if (r < 0.55 || n === 0) {
    const pos = rng.int(0, n);
    if (rng.random() < 0.15) {
      // typed one character at a time, sometimes right to left
      const chars = Array.from(randomText(rng));
      const back = rng.random() < 0.3;
      chars.forEach((ch, k) => d.insert(back ? pos : pos + k, ch));
    } else {
      d.insert(pos, randomText(rng));
    }
  } else if (r < 0.7) {
    let pos = rng.int(1, n); // Backspace held down
    for (let k = rng.int(1, Math.min(6, pos)); k > 0; k--) d.delete(--pos, 1);
  } else if (r < 0.85) {
    const pos = rng.int(0, n - 1); // Delete key held down
    for (let k = rng.int(1, Math.min(6, n - pos)); k > 0; k--) d.delete(pos, 1);
  } else {
    const pos = rng.int(0, n - 1); // a selection deleted or replaced
    const len = rng.int(1, Math.min(20, n - pos));
    if (rng.random() < 0.5) d.delete(pos, len);
    else d.replace(pos, len, randomText(rng));
  }
  peer.clock.t += rng.int(10, 900); // ms between bursts: some group, some do not
}

function makePeer(doc, rng) {
  const clock = () => clock.t;
  clock.t = rng.int(0, 1e6);
  return { doc, clock, undo: new UndoManager(doc, { clock }) };
}

/** Send `to` what `from` has and it lacks: everything, or a causal prefix of it. */
function pull(rng, to, from, partial) {
  let ops = from.opsMissingFrom(to.summary());
  if (!ops.length) return;
  if (partial) ops = ops.slice(0, rng.int(1, ops.length));
  to.applyPatch(encodePatch(ops));
}

/** One random concurrent history; returns what the observer received. */
export function generate(seed) {
  const rng = prng(seed);
  let time = 1_700_000_000 + seed;
  const wallClock = () => time;
  const nPeers = rng.int(3, 5);
  const names = [];
  while (names.length < nPeers) {
    const name = rng.pick(NAMES);
    if (!names.includes(name)) names.push(name);
  }
  const peers = names.map((name) => makePeer(new Document(name, { clock: wallClock }), rng));
  const observer = new Document('observer', { clock: wallClock });
  const nEvents = rng.int(60, 220);
  const away = rng.int(0, nPeers - 1); // offline for the middle half of the history
  const online = (i, t) => i !== away || t < nEvents / 4 || t >= (3 * nEvents) / 4;
  const steps = [];
  const loads = [];
  const deliver = (patch) => {
    observer.applyPatch(patch);
    steps.push({ patch: b64(patch), text: observer.text, version: observer.version() });
  };
  const flush = (i) => {
    const ops = peers[i].doc.opsMissingFrom(observer.summary());
    if (ops.length) deliver(encodePatch(ops));
  };
  for (let t = 0; t < nEvents; t++) {
    time += rng.int(0, 3);
    const i = rng.int(0, nPeers - 1);
    const j = rng.int(0, nPeers - 1);
    const r = rng.random();
    if (r < 0.5) {
      randomEdit(rng, peers[i]);
    } else if (r < 0.56) {
      if (rng.random() < 0.6) peers[i].undo.undo();
      else peers[i].undo.redo();
    } else if (r < 0.62) {
      // a race: two peers in the same state edit the same spot
      if (i !== j && online(i, t) && online(j, t)) {
        pull(rng, peers[i].doc, peers[j].doc, false);
        pull(rng, peers[j].doc, peers[i].doc, false);
        const pos = rng.int(0, peers[i].doc.length);
        peers[i].doc.insert(pos, randomText(rng));
        if (pos < peers[j].doc.length && rng.random() < 0.4) peers[j].doc.delete(pos, 1);
        else peers[j].doc.insert(pos, randomText(rng));
      }
    } else if (r < 0.82) {
      if (i !== j && online(i, t) && online(j, t)) pull(rng, peers[i].doc, peers[j].doc, rng.random() < 0.4);
    } else if (r < 0.95) {
      if (online(i, t)) flush(i);
    } else if (r < 0.97) {
      // reload a peer from its snapshot (same agent: it replaces the replica)
      const d = Document.decode(peers[i].doc.encode(), peers[i].doc.agent, { clock: wallClock });
      peers[i] = makePeer(d, rng);
    } else if (steps.length) {
      loads.push({ document: b64(observer.encode()), from_step: steps.length, text: observer.text });
    }
  }
  for (let i = 0; i < nPeers; i++) flush(i);
  for (const p of peers.slice(1)) pull(rng, peers[0].doc, p.doc, false);
  for (const p of peers.slice(1)) pull(rng, p.doc, peers[0].doc, false);
  const text = observer.text;
  if (peers[0].doc.textAt(peers[0].doc.version()) !== text) throw new Error(`seed ${seed}: a fresh checkout differs`);
  for (const p of peers) {
    if (p.doc.text !== text) {
      throw new Error(`seed ${seed}: peer ${p.doc.agent} has ${JSON.stringify(p.doc.text)}, observer ${JSON.stringify(text)}`);
    }
  }
  return { seed, agents: names, steps, loads, text };
}

/** Apply a history with the JS engine; the first disagreement, or null. */
export function replay(h) {
  const d = new Document('js-observer');
  for (let i = 0; i < h.steps.length; i++) {
    const step = h.steps[i];
    d.applyPatch(unb64(step.patch));
    if (d.text !== step.text) return `step ${i}: text ${JSON.stringify(d.text)} != ${JSON.stringify(step.text)}`;
    if (step.version && JSON.stringify(d.version()) !== JSON.stringify(step.version)) {
      return `step ${i}: version ${JSON.stringify(d.version())} != ${JSON.stringify(step.version)}`;
    }
  }
  for (const [k, ld] of (h.loads || []).entries()) {
    const l = Document.decode(unb64(ld.document), 'js-loader');
    if (ld.text !== undefined && l.text !== ld.text) return `load ${k}: text ${JSON.stringify(l.text)} != ${JSON.stringify(ld.text)}`;
    for (let i = ld.from_step; i < h.steps.length; i++) {
      l.applyPatch(unb64(h.steps[i].patch));
      if (l.text !== h.steps[i].text) return `load ${k}, step ${i}: text ${JSON.stringify(l.text)} != ${JSON.stringify(h.steps[i].text)}`;
    }
  }
  if (h.text !== undefined && d.text !== h.text) return `final text ${JSON.stringify(d.text)} != ${JSON.stringify(h.text)}`;
  return null;
}

/**
 * Run an undo script made by the Python engine (tests/web/test_differential.py):
 * peers editing, undoing, redoing and pulling from each other under one hand-driven
 * clock; after every command the acting peer's text and the undo/redo selection
 * must be what Python recorded.  Returns the first disagreement, or null.
 */
export function runUndoScript(h) {
  let now = 0;
  const clock = () => now;
  const docs = h.agents.map((a) => new Document(a, { clock: () => 1_700_000_000 }));
  const ums = docs.map((d) => new UndoManager(d, { captureTimeout: 500, clock }));
  for (let k = 0; k < h.commands.length; k++) {
    const [i, cmd, x, y] = h.commands[k];
    const d = docs[i];
    let res = null;
    if (cmd === 'insert') d.insert(x, y);
    else if (cmd === 'delete') d.delete(x, y);
    else if (cmd === 'undo') res = ums[i].undo();
    else if (cmd === 'redo') res = ums[i].redo();
    else if (cmd === 'tick') now += x;
    else if (cmd === 'stop') ums[i].stopCapturing();
    else if (cmd === 'pull') d.applyPatch(encodePatch(docs[x].opsMissingFrom(d.summary())));
    else throw new Error(`unknown command ${cmd}`);
    const want = h.expect[k];
    const got = res && [res.anchor, res.head];
    if (d.text !== want.text) return `command ${k} ${JSON.stringify(h.commands[k])}: text ${JSON.stringify(d.text)} != ${JSON.stringify(want.text)}`;
    if (JSON.stringify(got) !== JSON.stringify(want.result)) {
      return `command ${k} ${JSON.stringify(h.commands[k])}: selection ${JSON.stringify(got)} != ${JSON.stringify(want.result)}`;
    }
  }
  return null;
}

function main(argv) {
  if (argv[0] === '--replay' || argv[0] === '--undo') {
    const check = argv[0] === '--replay' ? replay : runUndoScript;
    const input = JSON.parse(readFileSync(argv[1] || 0, 'utf8'));
    const results = input.histories.map((h) => {
      let error;
      try {
        error = check(h);
      } catch (err) {
        error = `${err.name}: ${err.message}`;
      }
      return { seed: h.seed, ok: error === null, error };
    });
    process.stdout.write(JSON.stringify({ results }));
    process.exitCode = results.every((r) => r.ok) ? 0 : 1;
    return;
  }
  const seed = Number(argv[0] ?? 0);
  const count = Number(argv[1] ?? 1);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(count) || count < 0) {
    process.stderr.write('usage: node test/differential.mjs SEED COUNT | --replay FILE | --undo FILE\n');
    process.exitCode = 64;
    return;
  }
  const histories = [];
  for (let s = seed; s < seed + count; s++) {
    try {
      histories.push(generate(s));
    } catch (err) {
      process.stderr.write(`seed ${s}: ${err.stack || err}\n`);
      process.exitCode = 2;
      return;
    }
  }
  process.stdout.write(JSON.stringify({ histories }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
