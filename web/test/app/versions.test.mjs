// Versions in the browser: author colours that never collide (colors.js), and restoring
// a version as the user's own edit through the editor's sync (restore.js applyText):
// an offline peer's typing merges with it, and one undo takes it back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Document } from "../../src/engine/index.js";
import { Connection } from "../../src/app/connection.js";
import { PALETTE, authorColors } from "../../src/app/colors.js";
import { applyText } from "../../src/app/restore.js";
import { colourFor } from "../../src/app/ui.js";
import { FakeNet, until } from "./fakenet.mjs";
import { FakeView } from "./fakeview.mjs";

const FAST = { backoffBase: 2, backoffCap: 20, flushDelay: 1, cursorDelay: 1, digestSettle: 5, digestEvery: 50, digestMinInterval: 10, pingEvery: 1e6 };

function peer(net, agent) {
  const conn = new Connection({ url: "ws://test/ws/doc", docId: "doc", doc: new Document(agent), user: agent, WebSocket: net.WebSocket, ...FAST });
  const view = new FakeView({ connection: conn });
  conn.start();
  return { conn, view, agent };
}

async function settled(net, peers, what = "settled") {
  await until(
    () => peers.every((p) => p.conn.state === "connected" && p.conn.journal.empty && p.view.text === net.server.doc.text && p.conn.doc.text === net.server.doc.text),
    what,
    10000,
  ).catch((exc) => {
    for (const p of peers) p.conn.close();
    throw new Error(`${exc.message}: server ${JSON.stringify(net.server.doc.text)}, ${JSON.stringify(peers.map((p) => p.view.text))}`);
  });
}

const hueOf = (c) => Number(/hsl\((\d+)/.exec(c)[1]);

test("authorColors gives the users of a document distinct colours, whatever their ids hash to", () => {
  // The bug: the old colour was a hash into hues, so two authors could get hues a few
  // degrees apart -- the same colour to the eye.  Find such a pair and check it is fixed.
  const ids = Array.from({ length: 400 }, (_, i) => `user-${i}`);
  let pair = null;
  for (let i = 0; i < ids.length && !pair; i++) {
    for (let j = i + 1; j < ids.length && !pair; j++) {
      const d = Math.abs(hueOf(colourFor(ids[i])) - hueOf(colourFor(ids[j])));
      if (Math.min(d, 360 - d) <= 3) pair = [ids[i], ids[j]];
    }
  }
  assert.ok(pair, "two ids whose hashed hues nearly coincide");
  const two = authorColors(pair);
  assert.notEqual(two.get(pair[0]), two.get(pair[1]));
  for (let n = 1; n <= 30; n++) {
    const users = ids.slice(n * 7, n * 7 + n);
    const colours = authorColors(users);
    assert.equal(colours.size, n);
    assert.equal(new Set(colours.values()).size, n, `${n} users, ${n} colours`);
    if (n <= PALETTE.length) assert.ok([...colours.values()].every((c) => PALETTE.includes(c)));
  }
});

test("authorColors depends only on the set of users: order, duplicates and empty ids do not matter", () => {
  const users = ["ann", "bob", "carol", "dave", "erin"];
  const a = authorColors(users);
  const b = authorColors([...users].reverse().concat(["bob", "", null]));
  assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort());
  assert.equal(b.size, 5);
  // a newcomer only moves users it collides with: most keep their colour
  const more = authorColors([...users, "frank"]);
  const kept = users.filter((u) => more.get(u) === a.get(u)).length;
  assert.ok(kept >= users.length - 1, `kept ${kept} of ${users.length}`);
});

test("a restore is the user's edit: an offline peer's typing merges with it and undo takes it back", async () => {
  const net = new FakeNet();
  const a = peer(net, "alice");
  const b = peer(net, "bob");
  await settled(net, [a, b], "joined");
  a.view.type(0, "The quick brown fox 🦊 jumps.");
  await settled(net, [a, b]);
  const old = net.server.doc.text;
  b.view.erase(4, 9); // "The  brown fox 🦊 jumps."
  b.view.type(4, "slow");
  await settled(net, [a, b]);
  b.conn.goOffline();
  b.view.type(b.view.text.length, " QQQ"); // typed offline, before the restore reaches bob
  a.view.sync.undo.stopCapturing();
  const changed = applyText(a.view, old);
  assert.ok(changed >= 1);
  assert.equal(a.view.text, old);
  assert.equal(a.conn.doc.text, old);
  await until(() => a.conn.journal.empty && net.server.doc.text === old, "restored on the server", 10000);
  b.conn.goOnline();
  await settled(net, [a, b]);
  assert.equal(net.server.doc.text, "The quick brown fox 🦊 jumps. QQQ");
  // one undo step takes the whole restore back, and leaves bob's typing
  a.view.sync.undoRedo(false);
  await settled(net, [a, b]);
  assert.equal(net.server.doc.text, "The slow brown fox 🦊 jumps. QQQ");
  a.view.sync.undoRedo(true);
  await settled(net, [a, b]);
  assert.equal(net.server.doc.text, "The quick brown fox 🦊 jumps. QQQ");
  assert.equal(applyText(a.view, a.view.text), 0, "the same text: no edit");
  a.conn.close();
  b.conn.close();
});
