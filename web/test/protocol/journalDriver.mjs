// Differential check of the JS journal and text changes against Python (driver script,
// not a test file: tests/web/test_journal_differential.py runs it).
//
//   node test/protocol/journalDriver.mjs FILE
//
// FILE holds {scripts: [{seed, steps}]} made by the Python side.  Steps:
//   ["local", pos, deleted, inserted, inReplica]   ["remote", [[0, pos, text] | [1, pos, length], ...]]
//   ["flushed", seq]   ["confirmed", seq]   ["base", view]   ["rebase", view, server]
//   ["diff", old, new, maxD]   ["transform", base, a, b]   (a, b: changes as JSON)
// Prints {results: [{seed, outputs: [...]}]}: for each step the journal's segments
// ([[change JSON, seqEnd, pinned], ...]) and the step's own result, or {error} where
// the step threw.  Python compares them with its own.

import { readFileSync } from "node:fs";

import { Journal } from "../../src/protocol/journal.js";
import { TextChange, del, diff, insert, retain, transform } from "../../src/protocol/textChange.js";

const toJs = ([kind, pos, what]) => (kind === 0 ? { kind: "ins", pos, text: what } : { kind: "del", pos, length: what });
const fromJs = (e) => (e.kind === "ins" ? [0, e.pos, e.text] : [1, e.pos, e.length]);

function changeFromJson(ops) {
  return new TextChange(ops.map((op) => (typeof op === "number" ? retain(op) : op[0] === "+" ? insert(op[1]) : del(op[1]))));
}

function runStep(j, step) {
  const [what, ...args] = step;
  switch (what) {
    case "local":
      j.local(args[0], args[1], args[2], { inReplica: args[3] });
      return null;
    case "remote":
      j.remote(args[0].map(toJs));
      return null;
    case "flushed":
      j.flushed(args[0]);
      return null;
    case "confirmed":
      j.confirmed(args[0]);
      return null;
    case "base":
      return j.base(args[0]);
    case "rebase": {
      const r = j.rebase(args[0], args[1]);
      return { on_server: r.onServer.map(fromJs), on_view: r.onView.map(fromJs), text: r.text };
    }
    case "diff":
      return diff(args[0], args[1], { maxD: args[2] }).toJSON();
    case "transform": {
      const [a2, b2] = transform(changeFromJson(args[1]), changeFromJson(args[2]));
      return [a2.toJSON(), b2.toJSON()];
    }
    default:
      throw new Error(`unknown step ${what}`);
  }
}

const { scripts } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = [];
for (const script of scripts) {
  const j = new Journal();
  const outputs = [];
  for (const step of script.steps) {
    let result;
    try {
      result = runStep(j, step);
    } catch (e) {
      result = { error: `${e.name}: ${e.message}` };
    }
    const segments = j.segments.map((s) => [s.change.toJSON(), s.seqEnd, s.pinned]);
    outputs.push({ result, segments });
  }
  results.push({ seed: script.seed, outputs });
}
process.stdout.write(JSON.stringify({ results }));
