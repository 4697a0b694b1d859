import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ChangeMismatchError,
  CodePointString,
  TextChange,
  compose,
  composeAll,
  del,
  diff,
  fromEdit,
  fromEdits,
  insert,
  retain,
  transform,
} from "../../src/protocol/textChange.js";

// A seeded PRNG (mulberry32), so failures reproduce.
function rng(seed) {
  const next = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (a) => a[Math.floor(next() * a.length)] };
}

const CASES = Number(process.env.COWRITE_HYPOTHESIS_EXAMPLES || 300);
const ALPHABET = Array.from("ab c\n😀👍🏽é\u0301");
const cps = (s) => Array.from(s);
const json = (c) => c.toJSON();

function randomText(r, max) {
  let s = "";
  for (let i = r.int(0, max); i > 0; i--) s += r.pick(ALPHABET);
  return s;
}

function randomChange(r, base, known = true) {
  const pts = cps(base);
  const ops = [];
  let pos = 0;
  while (pos < pts.length && r.int(0, 9) > 0) {
    const n = r.int(1, pts.length - pos);
    const kind = r.int(0, 2);
    if (kind === 0) ops.push(retain(n));
    else if (kind === 1) ops.push(known ? del(pts.slice(pos, pos + n).join("")) : del(n));
    else {
      ops.push(insert(randomText(r, 3) || "x"));
      continue;
    }
    pos += n;
  }
  if (r.next() < 0.5) ops.push(insert(randomText(r, 3) || "y"));
  return new TextChange(ops);
}

function canonical(c) {
  const ops = c.ops;
  if (ops.length && ops[ops.length - 1].type === "retain") return false;
  return ops.every((op, i) => {
    if (op.length <= 0) return false;
    if (i && ops[i - 1].type === op.type) return false;
    if (op.type === "delete" && i && ops[i - 1].type === "insert") return false;
    return op.type === "retain" || op.text === null || new CodePointString(op.text).length === op.length;
  });
}

function lcs(a, b) {
  const x = cps(a);
  const y = cps(b);
  let prev = new Array(y.length + 1).fill(0);
  for (const c of x) {
    const cur = [0];
    for (let j = 0; j < y.length; j++) cur.push(c === y[j] ? prev[j] + 1 : Math.max(prev[j + 1], cur[j]));
    prev = cur;
  }
  return prev[y.length];
}

const sizeOf = (c, type) => c.ops.filter((op) => op.type === type).reduce((n, op) => n + op.length, 0);
const inserted = (c) => c.ops.filter((op) => op.type === "insert").map((op) => op.text).join("");

test("canonical form merges and orders components", () => {
  const c = new TextChange([retain(2), retain(1), insert("x"), del("ab"), insert("y"), del("c"), retain(4)]);
  assert.deepEqual(json(c), [3, ["-", "abc"], ["+", "xy"]]);
  assert.ok(new TextChange([insert("x"), del("ab")]).equals(new TextChange([del("ab"), insert("x")])));
  assert.ok(new TextChange([retain(5)]).isIdentity);
  assert.deepEqual(json(new TextChange([del("ab"), del(2)])), [["-", 4]]);
  assert.throws(() => new TextChange([{ type: "delete", text: "abc", length: 2 }]), RangeError);
  assert.throws(() => new TextChange([retain(-1)]), RangeError);
  assert.equal(insert("👋🏽").length, 2);
});

test("apply checks the change fits", () => {
  const c = fromEdit(2, "cd", "X");
  assert.equal(c.apply("abcdef"), "abXef");
  assert.equal(c.apply("abcd"), "abX");
  assert.throws(() => c.apply("abzzef"), ChangeMismatchError);
  assert.throws(() => c.apply("abc"), /reaches position 4/);
  assert.equal(fromEdit(2, 2, "X").apply("abzzef"), "abXef");
  assert.equal(fromEdit(1, "😀", "🎉").apply("a😀b"), "a🎉b");
});

test("unknown delete text needs withText to invert", () => {
  const c = fromEdits([{ kind: "del", pos: 1, length: 2 }, { kind: "ins", pos: 1, text: "Q" }]);
  assert.deepEqual(json(c), [1, ["-", 2], ["+", "Q"]]);
  assert.throws(() => c.invert(), /unknown text/);
  const filled = c.withText("abcd");
  assert.deepEqual(json(filled), [1, ["-", "bc"], ["+", "Q"]]);
  assert.equal(filled.invert().apply("aQd"), "abcd");
  assert.throws(() => filled.withText("azzd"), ChangeMismatchError);
});

test("compose merges typing and backspace", () => {
  let c = fromEdit(3, "", "h");
  [..."ello"].forEach((ch, i) => (c = compose(c, fromEdit(4 + i, "", ch))));
  assert.deepEqual(json(c), [3, ["+", "hello"]]);
  c = compose(c, fromEdit(7, "o", ""));
  assert.deepEqual(json(c), [3, ["+", "hell"]]);
  c = compose(c, fromEdit(2, "z", ""));
  assert.deepEqual(json(c), [2, ["-", "z"], ["+", "hell"]]);
  assert.throws(() => compose(c, fromEdit(2, "x", "")), /deletes "x" where the first inserted "h"/);
});

test("transform tie-breaks", () => {
  const a = fromEdit(1, "", "A");
  const b = fromEdit(1, "", "B");
  const [a2, b2] = transform(a, b);
  assert.equal(b2.apply(a.apply("xy")), "xABy");
  assert.equal(a2.apply(b.apply("xy")), "xABy");
  const r = fromEdit(1, "bc", "X");
  const i = fromEdit(1, "", "Y");
  const [r2, i2] = transform(r, i);
  assert.equal(i2.apply(r.apply("abcd")), "aYXd");
  assert.equal(r2.apply(i.apply("abcd")), "aYXd");
});

test("mapPos", () => {
  const c = new TextChange([retain(2), del("cd"), insert("XYZ"), retain(1), insert("!")]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((p) => c.mapPos(p)), [0, 1, 2, 2, 5, 6, 8]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((p) => c.mapPos(p, 1)), [0, 1, 2, 5, 5, 7, 8]);
  assert.equal(fromEdit(0, "", "ab").mapPos(0, 1), 2);
  assert.throws(() => c.mapPos(-1), RangeError);
});

test("edits round trip", () => {
  const c = new TextChange([retain(1), del("bc"), insert("XY"), retain(2), del("f"), insert("😀")]);
  const edits = c.toEdits();
  assert.deepEqual(edits, [
    { kind: "del", pos: 1, length: 2 },
    { kind: "ins", pos: 1, text: "XY" },
    { kind: "del", pos: 5, length: 1 },
    { kind: "ins", pos: 5, text: "😀" },
  ]);
  assert.ok(fromEdits(edits, "abcdefg").equals(c));
  assert.throws(() => fromEdits([{ kind: "move", pos: 0 }]), TypeError);
});

test("diff keeps shared text", () => {
  assert.deepEqual(json(diff("GARBAGE hello world", "hello world!")), [["-", "GARBAGE "], 11, ["+", "!"]]);
  assert.ok(diff("same", "same").isIdentity);
  assert.deepEqual(json(diff("", "new")), [["+", "new"]]);
  assert.deepEqual(json(diff("a😀b👍🏽c", "a😁b👍🏿c")), [1, ["-", "😀"], ["+", "😁"], 2, ["-", "🏽"], ["+", "🏿"]]);
  // two astral characters sharing a high surrogate are still different characters
  assert.deepEqual(json(diff("x😀", "x😁")), [1, ["-", "😀"], ["+", "😁"]]);
  assert.deepEqual(json(diff("xa1b2c3y", "xa9b9c9y", { maxD: 5 })), [2, ["-", "1b2c3"], ["+", "9b9c9"]]);
});

test("diff of a 200k-character text with scattered edits is fast", () => {
  const r = rng(7);
  const pieces = Array.from("abcdefghij klmnop\n😀");
  const chars = [];
  for (let i = 0; i < 200_000; i++) chars.push(r.pick(pieces));
  const old = chars.join("");
  for (let k = 0; k < 12; k++) chars.splice(r.int(0, chars.length - 1), r.int(0, 3), ...Array.from(r.pick(["", "X", "YZ", "👍🏽"])));
  const nu = chars.join("");
  const start = performance.now();
  const d = diff(old, nu);
  const ms = performance.now() - start;
  assert.equal(d.apply(old), nu);
  assert.ok(sizeOf(d, "delete") <= 36);
  assert.ok(ms < 500, `diff took ${ms} ms`);
});

test("laws: compose, invert, transform, mapPos, edits (random)", () => {
  const r = rng(1);
  for (let n = 0; n < CASES; n++) {
    const x = randomText(r, 30);
    const a = randomChange(r, x);
    const y = a.apply(x);
    const b = randomChange(r, y);
    const z = b.apply(y);
    const c = randomChange(r, z);
    assert.ok(canonical(a) && canonical(compose(a, b)));
    assert.equal(compose(a, b).apply(x), z);
    assert.deepEqual(json(compose(compose(a, b), c)), json(compose(a, compose(b, c))));
    assert.deepEqual(json(composeAll([a, b, c])), json(compose(a, compose(b, c))));
    assert.equal(a.invert().apply(y), x);
    assert.ok(a.invert().invert().equals(a));
    const p = randomChange(r, x, r.next() < 0.5);
    const q = randomChange(r, x, r.next() < 0.5);
    const [p2, q2] = transform(p, q);
    assert.ok(canonical(p2) && canonical(q2));
    assert.equal(q2.apply(p.apply(x)), p2.apply(q.apply(x)));
    assert.equal(inserted(p2), inserted(p));
    assert.equal(inserted(q2), inserted(q));
    assert.ok(fromEdits(a.toEdits(), x).equals(a));
    const len = cps(x).length;
    for (const assoc of [-1, 1]) {
      const mapped = [];
      for (let i = 0; i <= len; i++) mapped.push(a.mapPos(i, assoc));
      assert.deepEqual(mapped, [...mapped].sort((u, v) => u - v));
    }
  }
});

test("diff is a shortest edit (random)", () => {
  const r = rng(2);
  for (let n = 0; n < CASES; n++) {
    const a = randomText(r, 25);
    const b = r.next() < 0.5 ? randomText(r, 25) : randomChange(r, a).apply(a);
    const d = diff(a, b);
    assert.ok(canonical(d));
    assert.equal(d.apply(a), b);
    assert.equal(cps(a).length - sizeOf(d, "delete"), lcs(a, b), `${JSON.stringify(a)} -> ${JSON.stringify(b)}`);
    const capped = diff(a, b, { maxD: r.int(0, 4) });
    assert.equal(capped.apply(a), b);
    assert.ok(canonical(capped));
  }
});
