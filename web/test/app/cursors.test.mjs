// Remote peers on screen never share a caret colour.
import test from "node:test";
import assert from "node:assert/strict";
import { PALETTE, distinctColours } from "../../src/app/cursors.js";

const peer = (agent, colour) => ({ agent, name: agent, colour, anchor: 0, head: 0 });

test("peers keep their own colour when it is free", () => {
  const out = distinctColours([peer("a", "#c0392b"), peer("b", "#1e8449")]);
  assert.deepEqual(out.map((p) => p.colour), ["#c0392b", "#1e8449"]);
});

test("a colour two peers share, or this user's own, is replaced by a free one", () => {
  const out = distinctColours([peer("cy", "#a04000"), peer("ada", "#A04000"), peer("bob", "#c0392b")], ["#c0392b"]);
  const byAgent = Object.fromEntries(out.map((p) => [p.agent, p.colour]));
  assert.equal(byAgent.ada, "#A04000"); // first by agent keeps it
  assert.notEqual(byAgent.cy.toLowerCase(), "#a04000");
  assert.notEqual(byAgent.bob, "#c0392b"); // that is ours
  const all = [...out.map((p) => p.colour.toLowerCase()), "#c0392b"];
  assert.equal(new Set(all).size, all.length);
  assert.deepEqual(out.map((p) => p.agent), ["cy", "ada", "bob"]); // order kept
});

test("the choice is stable from one refresh to the next", () => {
  const peers = [peer("x", "#117a65"), peer("y", "#117a65"), peer("z", "#117a65")];
  const first = distinctColours(peers).map((p) => p.colour);
  assert.deepEqual(distinctColours([...peers].reverse()).map((p) => p.colour).reverse(), first);
  assert.ok(first.every((c) => PALETTE.includes(c)));
});
