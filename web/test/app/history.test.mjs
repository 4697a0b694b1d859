import { test } from "node:test";
import assert from "node:assert/strict";
import { colourRuns } from "../../src/app/history.js";

test("colourRuns splits text by code-point runs, gaps uncoloured", () => {
  const a = { start: 0, end: 2, agent: "a", user: "ada" };
  const b = { start: 3, end: 5, agent: "b", user: null };
  const out = colourRuns("😀x-yz!", [b, a]);
  assert.deepEqual(
    out.map((p) => [p.piece, p.run?.agent ?? null]),
    [
      ["😀x", "a"],
      ["-", null],
      ["yz", "b"],
      ["!", null],
    ],
  );
  assert.equal(out.map((p) => p.piece).join(""), "😀x-yz!");
});

test("colourRuns tolerates runs beyond the text and empty runs", () => {
  const out = colourRuns("ab", [{ start: 1, end: 9, agent: "a" }, { start: 0, end: 0, agent: "z" }]);
  assert.deepEqual(
    out.map((p) => [p.piece, p.run?.agent ?? null]),
    [
      ["a", null],
      ["b", "a"],
    ],
  );
  assert.deepEqual(colourRuns("", []), []);
});
