import { test } from "node:test";
import assert from "node:assert/strict";
import { Document, Position, encodePatch } from "../../src/engine/index.js";
import { encodeDocument } from "../../src/engine/codec/index.js";
import { decodeFrame, encodeFrame } from "../../src/protocol/messages.js";
import {
  ClientSession,
  MAX_DOCUMENT_BYTES,
  MAX_PATCH_BYTES,
  nextOwnSeq,
  ownOpsFrom,
  sameVersion,
  textDigest,
  textEdits,
} from "../../src/protocol/session.js";
import { FakeServer, pump } from "../app/fakeserver.mjs";

function client(server, agent, options = {}) {
  const doc = options.doc ?? new Document(agent);
  const session = new ClientSession(doc, "doc", { user: agent.toUpperCase(), colour: "#123456", ...options });
  const conn = server.connect();
  session.join();
  return { doc, session, conn };
}

function types(events) {
  return events.map((e) => e.type);
}

test("two clients join, edit and converge; ACKs clear the batches in flight", () => {
  const server = new FakeServer();
  const a = client(server, "alice");
  const b = client(server, "bob");
  let ev = pump(server, [[a.session, a.conn], [b.session, b.conn]]);
  assert.deepEqual(types(ev.get(a.session)), ["welcomed"]);
  assert.ok(a.session.welcomed && a.session.canWrite);
  assert.ok(a.session.inSync);

  a.doc.insert(0, "hello 😀");
  assert.equal(a.session.inSync, false);
  assert.equal(a.session.dirty, true);
  assert.equal(a.session.flush(), 1);
  assert.equal(a.session.unacked.size, 1);
  ev = pump(server, [[a.session, a.conn], [b.session, b.conn]]);
  assert.deepEqual(types(ev.get(a.session)), ["acked"]);
  assert.deepEqual(ev.get(b.session), [{ type: "remote", edits: [{ kind: "ins", pos: 0, text: "hello 😀" }] }]);
  assert.equal(a.session.unacked.size, 0);
  assert.ok(a.session.inSync);
  assert.ok(sameVersion(a.session.serverVersion, server.doc.version()));

  // concurrent edits, then both flush
  a.doc.insert(6, "big ");
  b.doc.insert(b.doc.length, "!");
  b.doc.delete(0, 1);
  a.session.flush();
  b.session.flush();
  pump(server, [[a.session, a.conn], [b.session, b.conn]]);
  assert.equal(a.doc.text, b.doc.text);
  assert.equal(a.doc.text, server.doc.text);
  assert.equal(a.doc.text, "ello big 😀!");
  assert.ok(a.session.inSync && b.session.inSync);
});

test("flush does nothing before WELCOME and sends offline edits on join", () => {
  const server = new FakeServer();
  server.doc.addOps(new Document("seed").opsMissingFrom({})); // nothing
  const doc = new Document("carol");
  doc.insert(0, "typed offline");
  const c = client(server, "carol", { doc });
  assert.equal(c.session.flush(), 0); // not joined yet
  pump(server, [[c.session, c.conn]]);
  assert.equal(server.doc.text, "typed offline");
  assert.equal(c.session.unacked.size, 0);
  assert.ok(c.session.inSync);
});

test("a reconnect resends what the server lacks and nothing it has", () => {
  const server = new FakeServer();
  const a = client(server, "alice");
  pump(server, [[a.session, a.conn]]);
  a.doc.insert(0, "one ");
  a.session.flush();
  pump(server, [[a.session, a.conn]]); // acknowledged
  a.doc.insert(4, "two ");
  a.session.flush();
  a.session.dataToSend(); // the OPS frame is lost with the connection
  server.disconnect(a.conn);
  a.doc.insert(8, "three");
  // a new session over the same document
  const session2 = new ClientSession(a.doc, "doc", { user: "ALICE" });
  const conn2 = server.connect();
  session2.join();
  pump(server, [[session2, conn2]]);
  assert.equal(server.doc.text, "one two three");
  const ops = server.received.filter((m) => m.type === "ops");
  assert.equal(ops.length, 2, "one batch per connection");
  // the second connection's batch holds only the ops the server lacked (seq 4 on)
  const resent = new Document("probe");
  resent.addOps(a.doc.opsMissingFrom({})); // sanity: the replica is complete
  assert.equal(resent.text, "one two three");
  assert.ok(session2.inSync);
});

test("large flushes are split into batches of maxBatchOps ops", () => {
  const server = new FakeServer();
  const a = client(server, "alice", { maxBatchOps: 2 });
  pump(server, [[a.session, a.conn]]);
  a.doc.insert(0, "a");
  a.doc.insert(0, "b");
  a.doc.insert(0, "c");
  a.doc.insert(3, "d");
  a.doc.delete(0, 1);
  assert.ok(a.session.flush() >= 2);
  pump(server, [[a.session, a.conn]]);
  assert.equal(server.doc.text, a.doc.text);
  assert.equal(a.session.unacked.size, 0);
});

test("ownOpsFrom and nextOwnSeq describe the agent's own ops", () => {
  const doc = new Document("me");
  assert.equal(nextOwnSeq(doc), 0);
  doc.insert(0, "abc");
  const other = new Document("you");
  other.addOps(doc.opsMissingFrom({}));
  other.insert(3, "xy");
  doc.addOps(other.opsMissingFrom(doc.summary()));
  doc.delete(0, 2);
  assert.equal(nextOwnSeq(doc), 5);
  const ops = ownOpsFrom(doc, 3);
  assert.ok(ops.every((op) => op.agent === "me"));
  assert.deepEqual(
    ops.map((op) => [op.seq, op.kind]),
    [[3, "del"]],
  );
  assert.deepEqual(ownOpsFrom(doc, 5), []);
  assert.equal(ownOpsFrom(doc, 0).reduce((n, op) => n + (op.kind === "ins" ? Array.from(op.content).length : op.length), 0), 5);
});

test("presence: a cursor travels as stable positions and resolves on the other side", () => {
  const server = new FakeServer();
  const a = client(server, "alice");
  const b = client(server, "bob");
  pump(server, [[a.session, a.conn], [b.session, b.conn]]);
  a.doc.insert(0, "😀abc");
  a.session.flush();
  a.session.setCursor(a.doc.position(2, -1), a.doc.position(4, -1));
  const ev = pump(server, [[a.session, a.conn], [b.session, b.conn]]);
  const presence = ev.get(b.session).find((e) => e.type === "presence").presence;
  assert.equal(presence.agent, "alice");
  assert.equal(presence.user, "ALICE");
  assert.equal(b.doc.resolve(Position.decode(presence.cursor[0])), 2);
  assert.equal(b.doc.resolve(Position.decode(presence.cursor[1])), 4);
  assert.ok(b.session.presence.has("alice"));
  server.disconnect(a.conn);
  const gone = pump(server, [[b.session, b.conn]]);
  assert.deepEqual(types(gone.get(b.session)), ["presence"]);
  assert.equal(b.session.presence.has("alice"), false);
});

test("PING is answered with PONG; PONG becomes an event", () => {
  const server = new FakeServer();
  const a = client(server, "alice");
  pump(server, [[a.session, a.conn]]);
  a.session.receive(encodeFrame({ type: "ping", nonce: 7 }));
  const [pong] = a.session.dataToSend().map((f) => decodeFrame(f));
  assert.deepEqual([pong.type, pong.nonce], ["pong", 7]);
  a.session.ping(9);
  const ev = pump(server, [[a.session, a.conn]]);
  assert.deepEqual(ev.get(a.session), [{ type: "pong", nonce: 9 }]);
});

test("errors: a refused batch leaves the queue, a fatal error closes the session", () => {
  const server = new FakeServer();
  const a = client(server, "alice");
  pump(server, [[a.session, a.conn]]);
  a.doc.insert(0, "x");
  a.session.flush();
  const [batch] = a.session.unacked.keys();
  a.session.dataToSend();
  let ev = a.session.receive(encodeFrame({ type: "error", code: 2, message: "bad op", fatal: false, batchId: batch }));
  assert.equal(ev[0].type, "error");
  assert.equal(ev[0].error.code, 2);
  assert.equal(a.session.unacked.size, 0);
  assert.equal(a.session.inSync, false, "refused ops never reach the server");
  assert.equal(a.session.closed, false);
  ev = a.session.receive(encodeFrame({ type: "error", code: 10, message: "superseded", fatal: true, batchId: null }));
  assert.equal(a.session.closed, true);
  assert.deepEqual(a.session.receive(encodeFrame({ type: "ping", nonce: 1 })), []);
});

test("garbage, a second WELCOME, an unknown ACK or frames before WELCOME are protocol failures", () => {
  const server = new FakeServer();
  let a = client(server, "alice");
  assert.equal(a.session.receive(new Uint8Array([1, 99, 0]))[0].type, "failure");
  assert.ok(a.session.closed);

  a = client(server, "alice2");
  assert.equal(a.session.receive(encodeFrame({ type: "ack", batchId: 1, version: [] }))[0].type, "failure");

  a = client(server, "alice3");
  pump(server, [[a.session, a.conn]]);
  assert.equal(a.session.receive(encodeFrame({ type: "ack", batchId: 42, version: [] }))[0].type, "failure");

  a = client(server, "alice4");
  pump(server, [[a.session, a.conn]]);
  const again = encodeFrame({ type: "welcome", role: 1, version: [], summary: {}, patch: new Document("z").encodePatch(null) });
  assert.equal(a.session.receive(again)[0].type, "failure");

  // an error before WELCOME is reported (fatal ones close)
  a = client(server, "alice5");
  const ev = a.session.receive(encodeFrame({ type: "error", code: 9, message: "no token", fatal: true, batchId: null }));
  assert.equal(ev[0].type, "error");
  assert.ok(a.session.closed);
});

test("ops that do not merge are a failure and leave the replica intact", () => {
  const server = new FakeServer();
  const a = client(server, "alice");
  pump(server, [[a.session, a.conn]]);
  a.doc.insert(0, "abc");
  const stranger = new Document("x");
  stranger.insert(0, "zz");
  // an op whose parent nobody has
  const orphan = { ...stranger.opsMissingFrom({})[0], seq: 5, parents: [["nobody", 3]] };
  const ev = a.session.receive(encodeFrame({ type: "remote_ops", patch: encodePatch([orphan]) }));
  assert.equal(ev[0].type, "failure");
  assert.ok(a.session.closed);
  assert.equal(a.doc.text, "abc");
});

test("viewers keep their edits local", () => {
  const server = new FakeServer({ role: 2 });
  const v = client(server, "viewer");
  pump(server, [[v.session, v.conn]]);
  assert.equal(v.session.canWrite, false);
  assert.ok(v.session.inSync);
  v.doc.insert(0, "mine");
  assert.equal(v.session.flush(), 0);
  assert.equal(v.session.inSync, false);
  pump(server, [[v.session, v.conn]]);
  assert.equal(server.doc.text, "");
});

test("textEdits and textDigest", async () => {
  assert.deepEqual(textEdits("abc", "abc"), []);
  assert.deepEqual(textEdits("a😀c", "a😁c"), [
    { kind: "del", pos: 1, length: 1 },
    { kind: "ins", pos: 1, text: "😁" },
  ]);
  assert.deepEqual(textEdits("", "x"), [{ kind: "ins", pos: 0, text: "x" }]);
  const d = await textDigest("é");
  // the SHA-256 of UTF-8 "é" (c3 a9)
  const { createHash } = await import("node:crypto");
  assert.equal(Buffer.from(d).toString("hex"), createHash("sha256").update(Buffer.from([0xc3, 0xa9])).digest("hex"));
});

test("DIGEST: sent only in sync; a match brings nothing, a mismatch a RESYNC that keeps our edits", async () => {
  const server = new FakeServer();
  const a = client(server, "alice");
  const b = client(server, "bob");
  pump(server, [[a.session, a.conn], [b.session, b.conn]]);
  a.doc.insert(0, "shared text");
  a.session.flush();
  pump(server, [[a.session, a.conn], [b.session, b.conn]]);

  assert.equal(await a.session.sendDigest(), true);
  let ev = pump(server, [[a.session, a.conn]]);
  assert.deepEqual(ev.get(a.session), []);
  assert.equal(server.digests.length, 1);
  assert.ok(sameVersion(server.digests[0].version, a.doc.version()));

  a.doc.insert(0, "x");
  assert.equal(await a.session.sendDigest(), false, "unsent edits: not in sync");
  a.session.flush();
  assert.equal(await a.session.sendDigest(), false, "a batch in flight: not in sync");
  pump(server, [[a.session, a.conn], [b.session, b.conn]]);

  // Bob's replica goes wrong: same ops, different text (a corrupted snapshot).
  const v = b.doc.version();
  const corrupt = Document.decode(encodeDocument({ ops: b.doc.opsSince([]), text: "xshared TEXT", version: v, heads: v }), "bob");
  assert.ok(sameVersion(corrupt.version(), v));
  assert.notEqual(corrupt.text, b.doc.text);
  server.disconnect(b.conn);
  const s2 = new ClientSession(corrupt, "doc", { user: "BOB" });
  const c2 = server.connect();
  s2.join();
  pump(server, [[s2, c2]]);
  assert.ok(s2.inSync);
  assert.equal(await s2.sendDigest(), true);
  // an edit made while the DIGEST is on its way: its batch is in flight at the RESYNC
  corrupt.insert(corrupt.length, " and more");
  assert.equal(s2.flush(), 1);
  for (const frame of s2.dataToSend()) server.receive(c2, frame); // DIGEST -> RESYNC, OPS -> ACK
  ev = c2.toClient.splice(0).flatMap((frame) => s2.receive(frame));
  assert.deepEqual(types(ev), ["resynced", "acked"]);
  const resynced = ev[0];
  assert.equal(s2.doc, resynced.doc);
  assert.notEqual(s2.doc, corrupt);
  assert.equal(s2.resyncs, 1);
  // the edits turn the text the user saw into the new document's text
  let shown = corrupt.text;
  for (const e of resynced.edits) {
    const pts = Array.from(shown);
    shown =
      e.kind === "ins"
        ? [...pts.slice(0, e.pos), e.text, ...pts.slice(e.pos)].join("")
        : [...pts.slice(0, e.pos), ...pts.slice(e.pos + e.length)].join("");
  }
  assert.equal(shown, s2.doc.text);
  assert.equal(s2.doc.text, "xshared text and more");
  pump(server, [[s2, c2]]); // the re-sent batch: known ops, accepted silently
  assert.equal(server.doc.text, "xshared text and more");
  assert.ok(s2.inSync);
  assert.equal(await s2.sendDigest(), true);
  ev = pump(server, [[s2, c2]]);
  assert.deepEqual(ev.get(s2), [], "the digest matches now");
});

test("patches and RESYNC documents over the session's limits are failures that change nothing", () => {
  const server = new FakeServer();
  const a = client(server, "alice", { maxPatchBytes: 64, maxDocumentBytes: 64 });
  pump(server, [[a.session, a.conn]]);
  a.doc.insert(0, "abc");
  const big = new Document("x");
  big.insert(0, "y".repeat(500));
  const ev = a.session.receive(encodeFrame({ type: "remote_ops", patch: big.encodePatch(null) }));
  assert.equal(ev[0].type, "failure");
  assert.match(ev[0].message, /cowrite patch body of \d+ bytes is over the limit of 64/);
  assert.equal(a.doc.text, "abc");
  // a RESYNC's document likewise
  const b = client(server, "bob", { maxDocumentBytes: 64 });
  pump(server, [[b.session, b.conn]]);
  const ev2 = b.session.receive(encodeFrame({ type: "resync", version: big.version(), document: big.encode() }));
  assert.equal(ev2[0].type, "failure");
  assert.match(ev2[0].message, /cowrite document body of \d+ bytes is over the limit of 64/);
  // the defaults are generous
  assert.equal(new ClientSession(new Document("c"), "doc").maxDocumentBytes, MAX_DOCUMENT_BYTES);
  assert.equal(new ClientSession(new Document("c"), "doc").maxPatchBytes, MAX_PATCH_BYTES);
});
