// The suggestion panel's placement of a suggestion's runs (app/suggest.js): where the
// struck and inserted text go in the editor, the text they must be put on, and the
// short account the panel shows.
import { test } from "node:test";
import assert from "node:assert/strict";

import { placeSpans, summarize } from "../../src/app/suggest.js";

const same = (text) => ({ kind: "same", text });
const ins = (text) => ({ kind: "insert", text });
const del = (text) => ({ kind: "delete", text });

test("kept and deleted runs spell the text the marks go on; inserts sit between", () => {
  const p = placeSpans([same("hello "), ins("brave "), same("world"), del("!!"), ins("?")]);
  assert.equal(p.expected, "hello world!!");
  assert.deepEqual(p.deletes, [{ from: 11, to: 13 }]);
  assert.deepEqual(p.inserts, [{ at: 6, text: "brave " }, { at: 13, text: "?" }]);
});

test("adjacent runs of one kind are joined; offsets are UTF-16 like the editor's", () => {
  const p = placeSpans([same("😀a"), del("b"), del("c"), ins("x"), ins("y"), same("d")]);
  assert.equal(p.expected, "😀abcd");
  assert.deepEqual(p.deletes, [{ from: 3, to: 5 }]);
  assert.deepEqual(p.inserts, [{ at: 5, text: "xy" }]);
});

test("an empty document with a suggested insertion", () => {
  assert.deepEqual(placeSpans([ins("new")]), { expected: "", deletes: [], inserts: [{ at: 0, text: "new" }] });
  assert.deepEqual(placeSpans([]), { expected: "", deletes: [], inserts: [] });
});

test("the summary keeps the changes whole and cuts long kept text around them", () => {
  const long = "x".repeat(50);
  const s = summarize([same(long), ins("NEW"), same(long), del("OLD"), same(long)], 5);
  assert.deepEqual(s.map((r) => r.kind), ["same", "insert", "same", "delete", "same"]);
  assert.equal(s[0].text, "…xxxxx");
  assert.equal(s[1].text, "NEW");
  assert.equal(s[2].text, "xxxxx … xxxxx");
  assert.equal(s[3].text, "OLD");
  assert.equal(s[4].text, "xxxxx…");
  assert.deepEqual(summarize([same("short")]), [same("short")]);
});
