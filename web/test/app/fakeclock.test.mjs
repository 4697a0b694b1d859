// The virtual clock the simulation runs on (fakeclock.mjs): timers in Node's order, time
// that only moves with them, and a seed that alone decides the interleaving.
import { test } from "node:test";
import assert from "node:assert/strict";
import { textDigest as digestOf } from "../../src/protocol/messages.js";
import { textDigest } from "../../src/protocol/session.js";
import { FakeClock } from "./fakeclock.mjs";

function rng(seed) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

// Timers of several durations, some set from other timers, one cleared, an interval.
async function workload(order) {
  const start = Date.now();
  const at = (name) => order.push(`${name}@${Date.now() - start}`);
  setTimeout(() => at("a4"), 4);
  setTimeout(() => at("b1"), 1);
  setTimeout(() => at("c0"), 0); // as in Node: 1 ms
  clearTimeout(setTimeout(() => at("never"), 2));
  setTimeout(() => {
    at("d3");
    setTimeout(() => at("e1"), 1);
  }, 3);
  let ticks = 0;
  const every = setInterval(() => {
    at("tick");
    if (++ticks === 3) clearInterval(every);
  }, 5);
  const digest = await textDigest("hello");
  at("digest");
  assert.deepEqual([...new Uint8Array(digest)], [...digestOf("hello")]);
  await new Promise((resolve) => setTimeout(resolve, 30));
  at("end");
}

test("the fake clock runs timers in order of expiry, time moving only with them", async () => {
  const order = [];
  const realStart = Date.now();
  await new FakeClock().run(() => workload(order));
  assert.deepEqual(order, ["b1@1", "c0@1", "digest@1", "d3@3", "a4@4", "e1@4", "tick@5", "tick@10", "tick@15", "end@31"]);
  assert.ok(Date.now() >= realStart, "the real clock is back");
  assert.equal(typeof globalThis.crypto.getRandomValues, "function");
});

test("a late turn runs the due timers list by list (a model of Node's timer lists), not in the order they fell due", async () => {
  const script = [0.9, 0.1, 0.8]; // no lag; then a lag of floor(0.8 * 5) = 4 ms
  const rand = () => script.shift() ?? 0.9;
  const order = [];
  await new FakeClock({ rand, lagChance: 0.5, maxLag: 4 }).run(async () => {
    const start = Date.now();
    const at = (name) => order.push(`${name}@${Date.now() - start}`);
    setTimeout(() => at("x4"), 4);
    setTimeout(() => at("y5"), 5);
    setTimeout(() => {
      at("r3");
      setTimeout(() => at("x2"), 4); // due at 7, in the 4 ms list behind x4
    }, 3);
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
  // the turn for x4 comes at 8: the 4 ms list (x4, then x2 due at 7) runs before y5 (due at 5)
  assert.deepEqual(order, ["r3@3", "x4@8", "x2@8", "y5@8"]);
});

test("with lag, a seed is one interleaving", async () => {
  const runs = [];
  for (const seed of [1, 1, 2]) {
    const order = [];
    await new FakeClock({ rand: rng(seed), lagChance: 0.5, maxLag: 6, maxDigestDelay: 5 }).run(() => workload(order));
    runs.push(order);
  }
  assert.deepEqual(runs[0], runs[1], "the same seed, the same interleaving");
  for (const order of runs) {
    const names = order.map((s) => s.split("@")[0]);
    assert.ok(!names.includes("never"));
    assert.equal(names.filter((n) => n === "tick").length, 3);
    assert.ok(names.indexOf("d3") < names.indexOf("e1"), "a timer set by a timer runs after it");
    assert.ok(names.indexOf("b1") < names.indexOf("c0"), "one duration's timers in the order they were set");
  }
});

test("an error in the test ends the run with that error, and the clock is uninstalled", async () => {
  const clock = new FakeClock();
  const real = globalThis.setTimeout;
  await assert.rejects(
    clock.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.equal(globalThis.setTimeout, real);
});
