// The comments panel's grouping (app/comments.js): open threads in text order, resolved
// ones apart, detached ones (no text left) kept with their replies, deleted threads
// without live replies left out.
import { test } from "node:test";
import assert from "node:assert/strict";

import { groupThreads } from "../../src/app/comments.js";

const c = (id, extra = {}) => ({ id, thread: id, body: id, created_at: 1, deleted: false, resolved: false, anchor: { id }, ...extra });
const reply = (id, thread, extra = {}) => ({ id, thread, body: id, created_at: 2, deleted: false, ...extra });

test("threads are grouped and ordered by where they are in the text", () => {
  const ranges = { a: [10, 12], b: [2, 5], r: [0, 1], d: null };
  const comments = [c("a"), c("b"), c("r", { resolved: true }), c("d"), reply("x", "a"), reply("y", "d"), reply("orphan", "nowhere")];
  const g = groupThreads(comments, (anchor) => ranges[anchor.id]);
  assert.deepEqual(g.open.map((t) => t.thread.id), ["b", "a"]);
  assert.deepEqual(g.open[1].replies.map((r) => r.id), ["x"]);
  assert.deepEqual(g.resolved.map((t) => t.thread.id), ["r"]);
  assert.deepEqual(g.detached.map((t) => [t.thread.id, t.replies.map((r) => r.id)]), [["d", ["y"]]]);
});

test("a deleted thread stays while a reply is alive, and goes with its last reply", () => {
  const resolve = () => [0, 3];
  const thread = c("t", { deleted: true, body: "" });
  assert.equal(groupThreads([thread, reply("r", "t")], resolve).open.length, 1);
  assert.equal(groupThreads([thread, reply("r", "t", { deleted: true })], resolve).open.length, 0);
  assert.equal(groupThreads([thread], resolve).open.length, 0);
});
