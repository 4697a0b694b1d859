import { test } from "node:test";
import assert from "node:assert/strict";
import { Document } from "../../src/engine/index.js";
import { encodeFrame } from "../../src/protocol/messages.js";
import { Connection, ErrorCode, backoffDelay } from "../../src/app/connection.js";
import { ErrorCode as ProtocolErrorCode } from "../../src/protocol/errors.js";
import { FakeNet, until } from "./fakenet.mjs";

function open(net, agent, options = {}) {
  const doc = options.doc ?? new Document(agent);
  const conn = new Connection({
    url: "ws://test/ws/doc",
    docId: "doc",
    doc,
    user: agent,
    WebSocket: net.WebSocket,
    backoffBase: 2,
    backoffCap: 20,
    flushDelay: 1,
    cursorDelay: 1,
    digestSettle: 5,
    digestEvery: 50,
    digestMinInterval: 10,
    pingEvery: 1e6,
    ...options,
  });
  const states = [];
  conn.on("state", (s) => states.push(s));
  const remote = [];
  conn.on("remote", (edits) => remote.push(...edits));
  conn.start();
  return { doc, conn, states, remote };
}

test("backoffDelay: full jitter below min(cap, base * 2**attempt)", () => {
  assert.equal(backoffDelay(0, 100, 5000, () => 0.5), 50);
  assert.equal(backoffDelay(3, 100, 5000, () => 0.999), 799.2);
  assert.equal(backoffDelay(10, 100, 5000, () => 1), 5000);
  assert.equal(backoffDelay(1000, 100, 5000, () => 0), 0);
});

test("edits are flushed, acknowledged and reach the other connection", async () => {
  const net = new FakeNet();
  const a = open(net, "alice");
  const b = open(net, "bob");
  await until(() => a.conn.state === "connected" && b.conn.state === "connected", "both connected");
  a.doc.insert(0, "hi 👋");
  a.conn.changed();
  assert.equal(a.conn.state, "syncing", "unsent edits show as syncing at once");
  await until(() => b.doc.text === "hi 👋" && a.conn.state === "connected", "delivery");
  assert.deepEqual(b.remote, [{ kind: "ins", pos: 0, text: "hi 👋" }]);
  assert.equal(net.server.doc.text, "hi 👋");
  assert.deepEqual(a.states.slice(0, 3), ["syncing", "connected", "syncing"]);
  a.conn.close();
  b.conn.close();
});

test("a broken connection reconnects by itself and nothing typed meanwhile is lost", async () => {
  const net = new FakeNet();
  const a = open(net, "alice");
  await until(() => a.conn.state === "connected", "connected");
  a.doc.insert(0, "one ");
  a.conn.changed();
  net.cut(); // the batch may or may not have left: either way it must arrive once
  await until(() => a.conn.state === "offline", "offline");
  a.doc.insert(a.doc.length, "two");
  a.conn.changed();
  net.restore();
  await until(() => a.conn.state === "connected" && net.server.doc.text === "one two", "reconnected and synced");
  assert.ok(net.opened >= 2);
  a.conn.close();
});

test("goOffline holds the connection down until goOnline; then it syncs", async () => {
  const net = new FakeNet();
  const a = open(net, "alice");
  const b = open(net, "bob");
  await until(() => a.conn.state === "connected" && b.conn.state === "connected", "connected");
  a.conn.goOffline();
  assert.equal(a.conn.state, "offline");
  const opened = net.opened;
  a.doc.insert(0, "offline ");
  a.conn.changed();
  b.doc.insert(0, "online");
  b.conn.changed();
  await until(() => net.server.doc.text === "online", "bob's edit");
  await new Promise((r) => setTimeout(r, 60)); // several backoff periods pass
  assert.equal(net.opened, opened, "no reconnect while held offline");
  assert.equal(a.conn.state, "offline");
  a.conn.goOnline();
  await until(() => a.conn.state === "connected" && a.doc.text === b.doc.text && b.doc.text.length === 14, "merged");
  assert.equal(net.server.doc.text, a.doc.text);
  a.conn.close();
  b.conn.close();
});

test("setLatency keeps frames in order", async () => {
  const net = new FakeNet();
  const a = open(net, "alice", { flushDelay: 0 });
  const b = open(net, "bob");
  await until(() => a.conn.state === "connected" && b.conn.state === "connected", "connected");
  a.conn.setLatency(5);
  b.conn.setLatency(5);
  let expect = "";
  for (let i = 0; i < 30; i++) {
    const piece = i % 3 === 0 ? "😀" : String.fromCharCode(97 + (i % 26));
    a.doc.insert(a.doc.length, piece);
    a.conn.flush(); // one batch per keystroke
    expect += piece;
  }
  assert.equal(a.conn.state, "syncing");
  await until(() => b.doc.text === expect && a.conn.state === "connected", "in-order delivery", 10000);
  const batches = net.server.received.filter((m) => m.type === "ops").map((m) => m.batchId);
  assert.deepEqual(batches, [...batches].sort((x, y) => x - y), "batches reached the server in order");
  a.conn.close();
  b.conn.close();
});

test("presence: a cursor shows up on the other side, and goes away with the connection", async () => {
  const net = new FakeNet();
  const a = open(net, "alice");
  const b = open(net, "bob");
  await until(() => a.conn.state === "connected" && b.conn.state === "connected", "connected");
  a.doc.insert(0, "abc");
  a.conn.changed();
  a.conn.setCursor(a.doc.position(1, -1));
  await until(() => b.conn.presence.get("alice")?.cursor, "alice's cursor at bob");
  a.conn.close();
  await until(() => !b.conn.presence.has("alice"), "alice gone");
  b.conn.close();
});

test("a fatal ERROR stops the connection for good", async () => {
  const net = new FakeNet();
  const a = open(net, "alice");
  await until(() => a.conn.state === "connected", "connected");
  const errors = [];
  a.conn.on("error", (e) => errors.push(e));
  const [ws] = net.sockets;
  ws.conn.toClient.push(encodeFrame({ type: "error", code: 9, message: "token expired", fatal: true, batchId: null }));
  net.deliver();
  await until(() => a.conn.state === "error", "error state");
  assert.equal(errors[0].name, "unauthorized");
  assert.equal(errors[0].message, "token expired");
  const opened = net.opened;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(net.opened, opened, "no reconnect after a fatal error");
});

test("a non-fatal ERROR (rate limited) makes the connection join again", async () => {
  const net = new FakeNet();
  const a = open(net, "alice");
  await until(() => a.conn.state === "connected", "connected");
  const [ws] = net.sockets;
  ws.conn.toClient.push(encodeFrame({ type: "error", code: 6, message: "slow down", fatal: false, batchId: null }));
  net.deliver();
  await until(() => net.opened === 2 && a.conn.state === "connected", "rejoined");
  a.conn.close();
});

test("in sync, the connection sends DIGESTs (which match)", async () => {
  const net = new FakeNet();
  const a = open(net, "alice");
  await until(() => a.conn.state === "connected", "connected");
  a.doc.insert(0, "digest me ✓");
  a.conn.changed();
  await until(() => net.server.digests.length >= 2, "digests");
  assert.equal(a.conn.state, "connected");
  assert.equal(net.server.received.filter((m) => m.type === "resync").length, 0);
  a.conn.close();
});

test("a recovery connection sends its document's own ops, then reports and closes", async () => {
  const net = new FakeNet();
  const old = new Document("old-tab");
  old.insert(0, "left behind");
  const r = open(net, "old-tab", { doc: old, recovery: true });
  let recovered = false;
  r.conn.on("delivered", () => (recovered = true));
  await until(() => recovered, "recovered");
  assert.equal(r.conn.state, "closed");
  assert.equal(net.server.doc.text, "left behind");
});

test("ErrorCode is the protocol's, defined once", () => {
  assert.equal(ErrorCode, ProtocolErrorCode);
});
