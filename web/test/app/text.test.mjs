import { test } from "node:test";
import assert from "node:assert/strict";
import { ChangeSet, Text } from "@codemirror/state";
import { AstralIndex, cpLength, cpToUtf16 } from "../../src/app/text.js";

// A seeded PRNG (mulberry32), so failures reproduce.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ["a", "b", "xyz", "\n", "😀", "👍🏽", "é", "𝄞", "漢", "🇫🇷", "\n\n"];

function randomText(rand, n) {
  let s = "";
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s;
}

// code point <-> UTF-16 by brute force
function refToCp(s, u16) {
  return Array.from(s.slice(0, u16)).length - (u16 > 0 && /[\uD800-\uDBFF]/.test(s[u16 - 1]) ? 1 : 0);
}

function checkIndex(idx, s) {
  const points = Array.from(s);
  assert.equal(idx.cpLength(s.length), points.length);
  let u = 0;
  for (let cp = 0; cp <= points.length; cp++) {
    assert.equal(idx.toU16(cp), u, `toU16(${cp})`);
    assert.equal(idx.toCp(u), cp, `toCp(${u})`);
    if (cp < points.length) u += points[cp].length;
  }
  for (let i = 0; i <= s.length; i++) assert.equal(idx.toCp(i), refToCp(s, i), `toCp mid ${i}`);
}

test("cpLength and cpToUtf16 count surrogate pairs as one", () => {
  assert.equal(cpLength("a😀b"), 3);
  assert.equal(cpLength(""), 0);
  assert.equal(cpToUtf16("a😀b", 2), 3);
  assert.equal(cpToUtf16("a😀b", 9), 4);
});

test("AstralIndex.build from a string and from a CodeMirror Text agree", () => {
  const rand = rng(1);
  for (let k = 0; k < 50; k++) {
    const s = randomText(rand, 1 + Math.floor(rand() * 60));
    const a = AstralIndex.build(s);
    const b = AstralIndex.build(Text.of(s.split("\n")));
    assert.deepEqual(a.offsets, b.offsets);
    checkIndex(a, s);
  }
});

test("AstralIndex without astral characters is the identity", () => {
  const idx = AstralIndex.build("hello\nworld");
  assert.equal(idx.count, 0);
  assert.equal(idx.toCp(7), 7);
  assert.equal(idx.toU16(7), 7);
});

test("AstralIndex.map follows random change sets exactly", () => {
  const rand = rng(42);
  for (let round = 0; round < 300; round++) {
    let s = randomText(rand, Math.floor(rand() * 30));
    let doc = Text.of(s.split("\n"));
    let idx = AstralIndex.build(doc);
    for (let step = 0; step < 8; step++) {
      // a few non-overlapping changes at code point boundaries
      const points = Array.from(s);
      const cuts = [];
      const nChanges = 1 + Math.floor(rand() * 3);
      for (let c = 0; c < nChanges * 2; c++) cuts.push(Math.floor(rand() * (points.length + 1)));
      cuts.sort((x, y) => x - y);
      const specs = [];
      for (let c = 0; c < cuts.length; c += 2) {
        const from = cpToUtf16(s, cuts[c]);
        const to = cpToUtf16(s, rand() < 0.5 ? cuts[c] : cuts[c + 1]);
        const insert = rand() < 0.7 ? randomText(rand, Math.floor(rand() * 4)) : "";
        if (from === to && !insert) continue;
        specs.push({ from, to, insert });
      }
      const changes = ChangeSet.of(specs, doc.length);
      doc = changes.apply(doc);
      s = doc.toString();
      idx = idx.map(changes, doc);
      assert.deepEqual(idx.offsets, AstralIndex.build(s).offsets, `round ${round} step ${step}`);
    }
    checkIndex(idx, s);
  }
});
