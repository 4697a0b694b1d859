import { test } from "node:test";
import assert from "node:assert/strict";
import { Journal } from "../../src/protocol/journal.js";
import { ChangeMismatchError, composeAll, diff, fromEdits } from "../../src/protocol/textChange.js";

const cps = (s) => Array.from(s);

// The engine's way: each edit in the coordinates the previous one left (code points).
function applyEdits(text, edits) {
  let pts = cps(text);
  for (const e of edits) {
    if (e.kind === "ins") pts.splice(e.pos, 0, ...cps(e.text));
    else {
      assert.ok(e.pos + e.length <= pts.length);
      pts.splice(e.pos, e.length);
    }
  }
  return pts.join("");
}

// The segments, applied one by one to the journal's base, give `view`.
function check(j, view) {
  const base = j.base(view);
  let text = base;
  for (const seg of j.segments) {
    assert.ok(!seg.change.isIdentity);
    text = seg.change.apply(text);
  }
  assert.equal(text, view);
  return base;
}

function rebase(j, view, server) {
  const r = j.rebase(view, server);
  assert.equal(applyEdits(server, r.onServer), r.text);
  assert.equal(applyEdits(view, r.onView), r.text);
  if (r.onServer.length) {
    assert.equal(j.segments.length, 1);
    assert.equal(j.segments[0].seqEnd, null);
    assert.equal(j.base(r.text), server);
  } else assert.ok(j.empty);
  return r;
}

class Typist {
  constructor(text) {
    this.view = text;
    this.j = new Journal();
  }

  type(pos, text, inReplica = true) {
    cps(text).forEach((ch, i) => {
      this.j.local(pos + i, "", ch, { inReplica });
      const p = cps(this.view);
      p.splice(pos + i, 0, ch);
      this.view = p.join("");
    });
  }

  delete(pos, n, inReplica = true) {
    const p = cps(this.view);
    this.j.local(pos, p.slice(pos, pos + n).join(""), "", { inReplica });
    p.splice(pos, n);
    this.view = p.join("");
  }

  remote(edits) {
    this.j.remote(edits);
    this.view = applyEdits(this.view, edits);
  }
}

const ins = (pos, text) => ({ kind: "ins", pos, text });
const del = (pos, length) => ({ kind: "del", pos, length });
const insertsOf = (change) => change.ops.filter((op) => op.type === "insert").map((op) => op.text);

test("typing at the end after someone deleted the end", () => {
  let t = new Typist("hello world");
  t.type(11, "!!");
  t.remote([del(5, 6)]);
  assert.equal(t.view, "hello!!");
  assert.equal(check(t.j, t.view), "hello");
  assert.equal(rebase(t.j, t.view, "hello").text, "hello!!");
  t = new Typist("hello world");
  t.type(11, "!!");
  const r = rebase(t.j, t.view, "hello");
  assert.equal(r.text, "hello!!");
  assert.deepEqual(r.onServer, [ins(5, "!!")]);
  assert.deepEqual(r.onView, [del(5, 6)]);
});

test("the user's delete of text someone else also deleted", () => {
  let t = new Typist("hello cruel world");
  t.delete(5, 6);
  t.type(11, "!");
  assert.equal(check(t.j, t.view), "hello cruel world");
  let r = rebase(t.j, t.view, "hello world");
  assert.equal(r.text, "hello world!");
  assert.deepEqual(r.onServer, [ins(11, "!")]);
  assert.deepEqual(r.onView, []);
  t = new Typist("hello cruel world");
  t.delete(6, 6);
  assert.deepEqual(rebase(t.j, t.view, "hello world").onServer, []);
  t = new Typist("hello cruel world");
  t.type(11, "X");
  assert.equal(rebase(t.j, t.view, "hello world").text, "helloX world");
  t = new Typist("hello cruel world");
  t.delete(6, 7);
  r = rebase(t.j, t.view, "hello world");
  assert.equal(r.text, "hello orld");
  assert.deepEqual(r.onServer, [del(6, 1)]);
});

test("a remote insert in the middle of the user's unconfirmed word", () => {
  const t = new Typist("ab");
  t.type(1, "hello");
  t.remote([ins(4, "XY")]);
  assert.equal(t.view, "ahelXYlob");
  assert.deepEqual(insertsOf(t.j.segments[0].change), ["hel", "lo"]);
  assert.equal(check(t.j, t.view), "aXYb");
  assert.equal(rebase(t.j, t.view, "aXYb").text, "ahelXYlob");
});

test("a remote delete of the user's typing removes it", () => {
  let t = new Typist("ab");
  t.type(1, "xyz");
  t.j.flushed(3);
  t.remote([del(1, 3)]);
  assert.ok(t.j.empty);
  t = new Typist("ab");
  t.type(1, "xyz");
  t.remote([del(2, 1)]);
  assert.deepEqual(insertsOf(t.j.segments[0].change), ["xz"]);
});

test("server text comes first where both inserted", () => {
  const t = new Typist("ab");
  t.type(1, "X");
  const r = rebase(t.j, t.view, "aYb");
  assert.equal(r.text, "aYXb");
  assert.deepEqual(r.onServer, [ins(2, "X")]);
});

test("typing after corruption leaves the garbage behind", () => {
  const shared = "The quick brown fox jumps over the lazy dog.";
  let t = new Typist("GARBAGE " + shared);
  t.type(cps(t.view).length, "typed");
  const r = rebase(t.j, t.view, shared);
  assert.equal(r.text, shared + "typed");
  assert.deepEqual(r.onServer, [ins(cps(shared).length, "typed")]);
  assert.deepEqual(r.onView, [del(0, 8)]);
  t = new Typist("The quick ##brown fox jumps @@over the lazy dog.");
  t.type(22, "red ");
  assert.equal(rebase(t.j, t.view, shared).text, "The quick brown fox red jumps over the lazy dog.");
});

test("astral characters are one position", () => {
  const t = new Typist("a😀b");
  t.type(2, "👋🏽");
  assert.equal(t.view, "a😀👋🏽b");
  t.remote([ins(1, "🎉")]);
  assert.equal(t.view, "a🎉😀👋🏽b");
  assert.equal(check(t.j, t.view), "a🎉😀b");
  t.delete(1, 1);
  const r = rebase(t.j, t.view, "𝔘a🎉😀b");
  assert.equal(r.text, "𝔘a😀👋🏽b");
  assert.deepEqual(r.onServer, [del(2, 1), ins(3, "👋🏽")]);
});

test("an empty journal", () => {
  const j = new Journal();
  assert.ok(j.empty);
  assert.equal(j.base("anything"), "anything");
  j.remote([ins(0, "x")]);
  j.flushed(4);
  j.confirmed(4);
  const r = j.rebase("hello world", "hello there world");
  assert.deepEqual(r.onServer, []);
  assert.deepEqual(r.onView, diff("hello world", "hello there world").toEdits());
  assert.equal(r.text, "hello there world");
  assert.ok(j.empty);
});

test("confirmed in any order", () => {
  const t = new Typist("");
  t.type(0, "ab");
  t.j.flushed(2);
  t.type(2, "cd");
  t.j.flushed(4);
  t.type(4, "ef");
  t.j.flushed(6);
  t.type(6, "g");
  assert.deepEqual(t.j.segments.map((s) => s.seqEnd), [2, 4, 6, null]);
  t.j.confirmed(4);
  assert.deepEqual(t.j.segments.map((s) => s.seqEnd), [6, null]);
  assert.equal(check(t.j, t.view), "abcd");
  t.j.confirmed(2);
  t.j.confirmed(3);
  assert.deepEqual(t.j.segments.map((s) => s.seqEnd), [6, null]);
  t.j.confirmed(100);
  assert.deepEqual(t.j.segments.map((s) => s.seqEnd), [null]);
  t.j.flushed(7);
  t.j.confirmed(6);
  assert.ok(!t.j.empty);
  t.j.confirmed(7);
  assert.ok(t.j.empty);
});

test("edits not in the replica survive confirmed", () => {
  const t = new Typist("ab");
  t.type(1, "x");
  t.type(2, "Q", false);
  t.type(3, "y");
  assert.deepEqual(t.j.segments.map((s) => [s.pinned, s.seqEnd]), [[false, null], [true, null], [false, null]]);
  t.j.flushed(2);
  t.j.confirmed(2);
  assert.equal(t.j.segments.length, 1);
  assert.ok(t.j.segments[0].pinned);
  assert.equal(check(t.j, t.view), "axyb");
  const r = rebase(t.j, t.view, "axyb");
  assert.equal(r.text, "axQyb");
  assert.deepEqual(r.onServer, [ins(2, "Q")]);
  assert.ok(!t.j.segments[0].pinned);
});

test("a journal that does not fit the view throws", () => {
  const t = new Typist("abc");
  t.type(3, "xyz");
  assert.throws(() => t.j.base("abcxy"), ChangeMismatchError);
  t.j.local(4, "y", "");
  assert.throws(() => t.j.local(4, "q", ""), ChangeMismatchError);
  assert.throws(() => t.j.local(-1, "", "x"), RangeError);
});

test("keystrokes are cheap on a long text", () => {
  const t = new Journal();
  t.local(0, "", "x");
  t.flushed(1);
  t.confirmed(1);
  const start = performance.now();
  for (let i = 0; i < 5000; i++) t.local(500_000 + i, "", "a");
  const ms = performance.now() - start;
  assert.deepEqual(t.segments[0].change.ops.map((op) => op.type), ["retain", "insert"]);
  assert.ok(ms < 1000, `${ms} ms for 5000 keystrokes`);
});

// A small random check (the full model check and the comparison with Python are in
// tests/protocol/test_journal.py and tests/web/test_journal_differential.py).
test("random scripts keep the journal exact", () => {
  let seed = 99;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const pieces = ["a", "b", " ", "😀", "é", "xy"];
  const word = () => pieces[int(0, pieces.length - 1)];
  for (let n = 0; n < 200; n++) {
    const t = new Typist("hello 😀 world");
    let seq = 0;
    for (let step = 0; step < 30; step++) {
      const len = cps(t.view).length;
      const r = rand();
      if (r < 0.45) {
        const pos = int(0, len);
        const k = int(0, Math.min(2, len - pos));
        const p = cps(t.view);
        const text = k && rand() < 0.5 ? "" : word();
        t.j.local(pos, p.slice(pos, pos + k).join(""), text, { inReplica: rand() > 0.1 });
        p.splice(pos, k, ...cps(text));
        t.view = p.join("");
      } else if (r < 0.7) {
        const pos = int(0, len);
        t.remote(rand() < 0.5 && pos < len ? [del(pos, int(1, len - pos))] : [ins(pos, word())]);
      } else if (r < 0.8) t.j.flushed(++seq);
      else if (r < 0.9) t.j.confirmed(int(0, seq));
      else {
        const base = t.j.base(t.view);
        const user = composeAll(t.j.segments.map((s) => s.change));
        const server = rand() < 0.3 ? base : applyEdits(base, [ins(int(0, cps(base).length), "Z")]);
        const res = rebase(t.j, t.view, server);
        if (server === base) assert.equal(res.text, t.view);
        assert.deepEqual(insertsOf(fromEdits(res.onServer, server)).join(""), insertsOf(user).join(""));
        t.view = res.text;
      }
      check(t.j, t.view);
    }
  }
});
