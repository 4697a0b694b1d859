import { test } from "node:test";
import assert from "node:assert/strict";
import { Document, Position, encodePatch } from "../../src/engine/index.js";
import { encodeDocument } from "../../src/engine/codec/index.js";
import { decodeFrame, encodeFrame } from "../../src/protocol/messages.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { Journal } from "../../src/protocol/journal.js";
import {
  ClientSession,
  MAX_DOCUMENT_BYTES,
  MAX_PATCH_BYTES,
  MIN_FRAME_BYTES,
  Recovery,
  nextOwnSeq,
  opBatches,
  splitOp,
  ownOpsFrom,
  recoveryFor,
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

test("errors: any ERROR ends the session, which says what to do next", () => {
  const cases = [
    [{ code: ErrorCode.BAD_OP, batch: true }, Recovery.RESYNC],
    [{ code: ErrorCode.CONFLICT, batch: true }, Recovery.RESYNC],
    [{ code: ErrorCode.UNKNOWN_PARENT, batch: true }, Recovery.RESYNC],
    [{ code: ErrorCode.BAD_OP, batch: false }, Recovery.RETRY],
    [{ code: ErrorCode.RATE_LIMITED, batch: false }, Recovery.RETRY],
    [{ code: ErrorCode.INTERNAL, batch: true }, Recovery.RETRY],
    [{ code: ErrorCode.TOO_LARGE, batch: false }, Recovery.SHRINK],
    [{ code: ErrorCode.TOO_LARGE, batch: true }, Recovery.SHRINK],
    [{ code: ErrorCode.TOO_LARGE, batch: true, fatal: true }, Recovery.SHRINK],
    [{ code: ErrorCode.TOO_LARGE, batch: false, fatal: true }, Recovery.RETRY],
    [{ code: ErrorCode.FORBIDDEN, batch: true }, Recovery.STOP],
    [{ code: ErrorCode.UNAUTHORIZED, batch: false, fatal: true }, Recovery.STOP],
    [{ code: ErrorCode.BAD_STATE, batch: false, fatal: true }, Recovery.STOP],
    [{ code: ErrorCode.BAD_STATE, batch: false }, Recovery.RETRY],
  ];
  for (const [{ code, batch, fatal = false }, want] of cases) {
    const server = new FakeServer();
    const a = client(server, "alice");
    pump(server, [[a.session, a.conn]]);
    a.doc.insert(0, "x".repeat(100));
    a.session.flush();
    const [frame] = a.session.dataToSend();
    const [batchId] = a.session.unacked.keys();
    const ev = a.session.receive(encodeFrame({ type: "error", code, message: "no", fatal, batchId: batch ? batchId : null }));
    assert.equal(ev[0].type, "error");
    assert.equal(ev[0].recovery, want, `code ${code}`);
    assert.equal(a.session.recovery, want);
    assert.equal(recoveryFor(ev[0].error), want);
    assert.ok(a.session.closed, "the session is over");
    assert.equal(a.session.refusedBytes, frame.length, "the size of the refused frame (or the largest in flight)");
    assert.equal(a.session.inSync, false);
    assert.deepEqual(a.session.receive(encodeFrame({ type: "ping", nonce: 1 })), [], "later frames are ignored");
  }
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

// -- frames under a byte budget ----------------------------------------------------------

test("splitOp: two ops with the effect of one, for inserts, deletes and backspaces", () => {
  const base = new Document("base");
  base.insert(0, "0123456789");
  const make = (fn) => {
    const d = Document.decode(base.encode(), "me");
    fn(d);
    return d.opsMissingFrom(base.summary());
  };
  const cases = [
    make((d) => d.insert(3, "a😀b👍🏽c")),
    make((d) => d.delete(2, 5)),
    // a backspace run: one op per character, merged into a backward delete
    { agent: "me", seq: 0, parents: base.version(), kind: "del", pos: 4, content: "", length: 4, fwd: false, time: 0 },
  ].map((c) => (Array.isArray(c) ? c[0] : c));
  for (const op of cases) {
    const whole = Document.decode(base.encode(), "x");
    whole.addOps([op]);
    const span = op.kind === "ins" ? Array.from(op.content).length : op.length;
    for (let k = 1; k < span; k++) {
      const [a, b] = splitOp(op, k);
      assert.equal(a.seq, op.seq);
      assert.equal(b.seq, op.seq + k);
      assert.deepEqual(b.parents, [[op.agent, op.seq + k - 1]]);
      const split = Document.decode(base.encode(), "y");
      split.addOps([a, b]);
      assert.equal(split.text, whole.text, `${op.kind} split at ${k}`);
    }
    assert.throws(() => splitOp(op, 0), RangeError);
    assert.throws(() => splitOp(op, span), RangeError);
  }
});

test("no OPS frame is over the budget: a long paste is cut into several ops, emoji intact", () => {
  const server = new FakeServer();
  const a = client(server, "alice", { maxFrameBytes: 4096 });
  pump(server, [[a.session, a.conn]]);
  const paste = Array.from({ length: 9000 }, (_, i) => (i % 7 ? "x" : "😀") + (i % 50 ? "" : "\n")).join("");
  a.doc.insert(0, "start ");
  a.doc.insert(6, paste);
  a.doc.delete(0, 2);
  assert.ok(a.session.flush() >= 3);
  const frames = a.session.dataToSend();
  assert.ok(frames.every((f) => f.length <= 4096), `frame sizes ${frames.map((f) => f.length)}`);
  for (const f of frames) server.receive(a.conn, f);
  for (const f of a.conn.toClient.splice(0)) a.session.receive(f);
  assert.equal(server.doc.text, a.doc.text);
  assert.equal(a.session.unacked.size, 0);
  assert.ok(a.session.inSync);
  assert.throws(() => new ClientSession(new Document("z"), "doc", { maxFrameBytes: MIN_FRAME_BYTES - 1 }), RangeError);
});

test("opBatches: every chunk's encoded frame fits the budget, across budgets and texts", () => {
  for (const budget of [MIN_FRAME_BYTES, 1500, 4096, 65536]) {
    const d = new Document("writer-with-a-longish-agent-name");
    for (let i = 0; i < 40; i++) d.insert(d.length, i % 3 ? "é".repeat(97 * i) : "🦊".repeat(31 * i));
    d.delete(5, 100);
    const ops = d.opsSince([]);
    const chunks = opBatches(ops, 512, budget);
    for (const chunk of chunks) {
      const frame = encodeFrame({ type: "ops", batchId: 2 ** 40, patch: encodePatch(chunk) });
      assert.ok(frame.length <= budget, `budget ${budget}: a frame of ${frame.length}`);
    }
    const copy = new Document("copy");
    copy.addOps(chunks.flat());
    assert.equal(copy.text, d.text);
  }
});

// -- the journal, fresh JOINs and retyping -----------------------------------------------

// A client whose local edits are recorded in a journal, like the browser's editor does.
function journaled(server, agent, options = {}) {
  const journal = options.journal ?? new Journal();
  const c = client(server, agent, { journal, ...options });
  c.journal = journal;
  c.type = (pos, text) => {
    c.doc.insert(pos, text);
    journal.local(pos, "", text);
  };
  return c;
}

test("the journal: flushed when ops are sent, confirmed by the ACK or the server's summary", () => {
  const server = new FakeServer();
  const a = journaled(server, "alice");
  pump(server, [[a.session, a.conn]]);
  a.type(0, "hello");
  assert.deepEqual(a.journal.segments.map((s) => s.seqEnd), [null]);
  a.session.flush();
  assert.deepEqual(a.journal.segments.map((s) => s.seqEnd), [5]);
  pump(server, [[a.session, a.conn]]);
  assert.ok(a.journal.empty, "acknowledged");
  // sent, then the connection is lost before the ACK: the next WELCOME confirms it
  a.type(5, " world");
  a.session.flush();
  for (const f of a.session.dataToSend()) server.receive(a.conn, f);
  a.conn.toClient.length = 0; // the ACK is lost
  server.disconnect(a.conn);
  assert.equal(a.journal.segments.length, 1);
  const s2 = new ClientSession(a.doc, "doc", { journal: a.journal });
  const c2 = server.connect();
  s2.join();
  pump(server, [[s2, c2]]);
  assert.ok(a.journal.empty, "the server's summary holds our ops");
});

test("a fresh JOIN replaces a replica whose ops were refused and types the user's edits again", () => {
  const server = new FakeServer();
  const bob = client(server, "bob");
  pump(server, [[bob.session, bob.conn]]);
  bob.doc.insert(0, "shared text");
  bob.session.flush();
  const a = journaled(server, "alice");
  pump(server, [[a.session, a.conn], [bob.session, bob.conn]]);
  assert.equal(a.doc.text, "shared text");
  // The replica goes wrong (its text, not its op log); an op made on it does not fit.
  a.doc.rope.insert(0, "GARBAGE ", 8);
  a.doc.delete(a.doc.length - 1, 1); // deletes past the real text's end
  // the user types meanwhile (the editor shows the real text)
  a.doc.insert(0, "A");
  a.journal.local(0, "", "A");
  a.session.flush();
  const ev = pump(server, [[a.session, a.conn], [bob.session, bob.conn]]).get(a.session);
  assert.equal(ev[0].type, "error");
  assert.equal(ev[0].recovery, Recovery.RESYNC);
  assert.ok(server.refused.some((r) => r.code === ErrorCode.BAD_OP));
  // meanwhile bob types
  bob.doc.insert(bob.doc.length, "!");
  bob.session.flush();
  pump(server, [[bob.session, bob.conn]]);
  server.disconnect(a.conn);
  const oldNext = nextOwnSeq(a.doc);
  const view = "Ashared text"; // what the user sees
  const s2 = new ClientSession(a.doc, "doc", { journal: a.journal, fresh: true, viewText: () => view });
  const c2 = server.connect();
  s2.join();
  const join = decodeFrame(s2.dataToSend()[0]);
  assert.equal(join.fresh, true);
  assert.deepEqual(join.summary, {});
  for (const f of encodeAll(join)) server.receive(c2, f);
  const got = c2.toClient.splice(0).flatMap((f) => s2.receive(f));
  const rec = got.find((e) => e.type === "recovered");
  assert.ok(rec, `events ${got.map((e) => e.type)}`);
  assert.equal(s2.doc, rec.doc);
  assert.notEqual(rec.doc, a.doc);
  assert.equal(rec.doc.agent, "alice");
  assert.equal(rec.doc.text, "Ashared text!");
  assert.deepEqual(rec.retyped, [{ kind: "ins", pos: 0, text: "A" }]);
  assert.equal(applyEdits(view, rec.edits), "Ashared text!", "edits turn the text the user saw into the new one");
  assert.ok(rec.seqFloor >= oldNext);
  const mine = rec.doc.summary().alice;
  assert.ok(mine.every(([first]) => first >= oldNext), `no seq of the old replica reused: ${JSON.stringify(mine)}`);
  pump(server, [[s2, c2]]);
  assert.equal(server.doc.text, "Ashared text!");
  assert.ok(a.journal.empty, "the retyped edits were acknowledged");
  assert.ok(s2.inSync);
});

function encodeAll(msg) {
  return [encodeFrame(msg)];
}

function applyEdits(text, edits) {
  let pts = Array.from(text);
  for (const e of edits) {
    if (e.kind === "ins") pts = [...pts.slice(0, e.pos), ...Array.from(e.text), ...pts.slice(e.pos)];
    else pts = [...pts.slice(0, e.pos), ...pts.slice(e.pos + e.length)];
  }
  return pts.join("");
}

test("a fresh WELCOME whose version is not its document's is a failure", () => {
  const server = new FakeServer();
  server.doc.insert(0, "abc");
  const s = new ClientSession(new Document("alice"), "doc", { fresh: true, journal: new Journal() });
  s.join();
  const bad = encodeFrame({ type: "welcome", role: 1, version: [["nobody", 3]], summary: {}, patch: server.doc.encode() });
  assert.equal(s.receive(bad)[0].type, "failure");
});

test("a RESYNC whose own ops do not fit types the journal's edits again, at the places the user typed them", () => {
  const server = new FakeServer();
  server.doc.insert(0, "one two three");
  const a = journaled(server, "alice");
  pump(server, [[a.session, a.conn]]);
  // The op log goes wrong: a delete made on a wrong text, which the server would refuse.
  a.doc.rope.insert(0, "XXXXXXXX", 8);
  a.doc.delete(a.doc.length - 2, 2); // past the real end
  a.type(4, "big "); // the user types: "one big two three" on screen
  const view = "one big two three";
  a.session.viewText = () => view;
  // the server decides our text differs; the ops do not fit its history
  const ev = a.session.receive(encodeFrame({ type: "resync", version: server.doc.version(), document: server.doc.encode() }));
  assert.equal(ev[0].type, "resynced");
  assert.equal(ev[0].retyped, true);
  assert.equal(ev[0].doc.text, "one big two three");
  assert.equal(applyEdits(view, ev[0].edits), ev[0].doc.text);
  pump(server, [[a.session, a.conn]]);
  assert.equal(server.doc.text, "one big two three");
  assert.ok(a.journal.empty);
});

test("a RESYNC with edits the replica never took types them again too", () => {
  const server = new FakeServer();
  server.doc.insert(0, "abc");
  const a = journaled(server, "alice");
  pump(server, [[a.session, a.conn]]);
  a.journal.local(3, "", "!", { inReplica: false }); // the engine refused it
  a.session.viewText = () => "abc!";
  const ev = a.session.receive(encodeFrame({ type: "resync", version: server.doc.version(), document: server.doc.encode() }));
  assert.equal(ev[0].retyped, true);
  assert.equal(ev[0].doc.text, "abc!");
  pump(server, [[a.session, a.conn]]);
  assert.equal(server.doc.text, "abc!");
});

test("a fresh JOIN whose refused ops do fit the server's copy adds them as they are: exactly where they were typed", () => {
  // Bob changes far more than a text diff aligns (thousands of characters on both
  // sides of Alice's edit); her refused ops, added by id, still land where she typed.
  const server = new FakeServer();
  server.doc.insert(0, "aaaaaaaaaa MID bbbbbbbbbb");
  const a = journaled(server, "alice");
  const bob = client(server, "bob");
  pump(server, [[a.session, a.conn], [bob.session, bob.conn]]);
  let left = 1;
  server.refuse = (conn) => (conn.agent === "alice" && left-- > 0 ? { code: ErrorCode.CONFLICT, batch: true } : null);
  a.type(14, "X");
  a.session.flush();
  const ev = pump(server, [[a.session, a.conn]]).get(a.session);
  assert.equal(ev[0].recovery, Recovery.RESYNC);
  const rand = (n, seed) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7 + seed * 13 + i * i) % 26))).join("");
  bob.doc.insert(0, rand(3000, 1));
  bob.doc.insert(bob.doc.length, rand(3000, 2));
  bob.session.flush();
  pump(server, [[bob.session, bob.conn]]);
  server.disconnect(a.conn);
  const s2 = new ClientSession(a.doc, "doc", { journal: a.journal, fresh: true, viewText: () => "aaaaaaaaaa MIDX bbbbbbbbbb" });
  const c2 = server.connect();
  s2.join();
  const rec = pump(server, [[s2, c2]]).get(s2).find((e) => e.type === "recovered");
  assert.ok(rec);
  assert.equal(server.doc.text, `${rand(3000, 1)}aaaaaaaaaa MIDX bbbbbbbbbb${rand(3000, 2)}`);
  assert.equal(rec.doc.text, server.doc.text);
  assert.ok(s2.journal.empty, "acknowledged");
});

test("a flush the server took only part of is typed again from our ops, not doubled", () => {
  const server = new FakeServer();
  server.doc.insert(0, "<>");
  const a = journaled(server, "alice", { maxFrameBytes: MIN_FRAME_BYTES });
  pump(server, [[a.session, a.conn]]);
  let x = 7;
  const paste = Array.from({ length: 3000 }, () => String.fromCharCode(97 + ((x = (x * 1103515245 + 12345) % 2147483648) % 26))).join("");
  a.type(1, paste);
  let batches = 0;
  server.refuse = (conn, msg) => (++batches === 2 ? { code: ErrorCode.BAD_OP, batch: true } : null);
  assert.ok(a.session.flush() >= 3, "one flush, several batches");
  pump(server, [[a.session, a.conn]]);
  assert.ok(server.doc.length > 2 && server.doc.length < 3002, "the server took the first batch only");
  // the engine refuses one more keystroke: it can only be typed again from the journal
  a.journal.local(3001, "", "!", { inReplica: false });
  const view = `<${paste}!>`;
  server.disconnect(a.conn);
  const s2 = new ClientSession(a.doc, "doc", {
    journal: a.journal,
    sentRanges: a.session.sentRanges, // kept across sessions (the Connection does)
    fresh: true,
    viewText: () => view,
    maxFrameBytes: MIN_FRAME_BYTES,
  });
  const c2 = server.connect();
  s2.join();
  const rec = pump(server, [[s2, c2]]).get(s2).find((e) => e.type === "recovered");
  assert.ok(rec);
  assert.equal(server.doc.text, view, "every character once");
  assert.equal(applyEdits(view, rec.edits), view);
  assert.ok(s2.journal.empty);
});

test("a RESYNC our ops do not fit while a batch is in flight ends the session: the server may still take it", () => {
  const server = new FakeServer();
  server.doc.insert(0, "one two three");
  const a = journaled(server, "alice");
  pump(server, [[a.session, a.conn]]);
  a.doc.rope.insert(0, "XXXXXXXX", 8);
  a.doc.delete(a.doc.length - 2, 2); // past the real end
  a.session.flush();
  a.session.dataToSend(); // in flight
  const ev = a.session.receive(encodeFrame({ type: "resync", version: server.doc.version(), document: server.doc.encode() }));
  assert.deepEqual(types(ev), ["unfit"]);
  assert.ok(a.session.closed);
  assert.equal(a.session.doc, a.doc, "nothing replaced: the fresh JOIN does it");
});

// -- recoveries that once typed text twice (seeds of web/test/app/collab.test.mjs) -------

function letters(n, seed) {
  let x = seed;
  return Array.from({ length: n }, () => String.fromCharCode(97 + ((x = (x * 1103515245 + 12345) % 2147483648) % 26))).join("");
}

const WORDS = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");

// Bob inserts far more than a text diff aligns (2200 characters, on both sides of w20):
// a diff of the text before and after is then one replaced span.
function bobRewritesTheMiddle(server, bob) {
  bob.doc.insert(bob.doc.text.indexOf(" w10 "), letters(1100, 2));
  bob.doc.insert(bob.doc.text.indexOf(" w30 "), letters(1100, 3));
  bob.session.flush();
  pump(server, [[bob.session, bob.conn]]);
}

test("simulation seed 12: a paste the server took part of, then edits the replica never took: our ops are added as they are, only those edits typed again", () => {
  const server = new FakeServer();
  server.doc.insert(0, `<${WORDS}>`);
  const a = journaled(server, "alice", { maxFrameBytes: MIN_FRAME_BYTES });
  const bob = client(server, "bob");
  pump(server, [[a.session, a.conn], [bob.session, bob.conn]]);
  const paste = letters(3000, 1);
  a.type(1, paste);
  a.type(a.doc.length - 1, "[tail]");
  let batches = 0;
  server.refuse = (conn) => (conn.agent === "alice" && ++batches === 2 ? { code: ErrorCode.CONFLICT, batch: true } : null);
  assert.ok(a.session.flush() >= 4, "one flush, one journal segment, several batches");
  const ev = pump(server, [[a.session, a.conn], [bob.session, bob.conn]]).get(a.session);
  assert.equal(ev.find((e) => e.type === "error").recovery, Recovery.RESYNC);
  const took = server.doc.length - WORDS.length - 2;
  assert.ok(took > 0 && took < paste.length, "the server holds the first batch of the paste only");
  server.disconnect(a.conn);
  // The replica goes suspect; what the user types now is in the journal only.
  a.journal.local(1 + paste.length + WORDS.length + 6, "", "!", { inReplica: false });
  const view = `<${paste}${WORDS}[tail]!>`;
  server.refuse = null;
  bobRewritesTheMiddle(server, bob);
  const middle = server.doc.text.slice(1 + took, -1);
  const s2 = new ClientSession(a.doc, "doc", {
    journal: a.journal,
    sentRanges: a.session.sentRanges,
    fresh: true,
    viewText: () => view,
    maxFrameBytes: MIN_FRAME_BYTES,
  });
  const c2 = server.connect();
  s2.join();
  const rec = pump(server, [[s2, c2], [bob.session, bob.conn]]).get(s2).find((e) => e.type === "recovered");
  assert.ok(rec);
  const want = `<${paste}${middle}[tail]!>`;
  assert.equal(server.doc.text.split(" w20 ").length, 2, "nothing typed twice");
  assert.equal(server.doc.text, want);
  assert.equal(rec.doc.text, want);
  assert.equal(bob.doc.text, want);
  assert.equal(applyEdits(view, rec.edits), want, "edits turn the text the user saw into the new one");
  assert.ok(s2.journal.empty, "acknowledged");
});

test("simulation seed 70: a resend carrying an earlier flush, refused right after it: that flush is confirmed whole, not taken for part of a segment", () => {
  const server = new FakeServer();
  server.doc.insert(0, `<${WORDS}>`);
  const a = journaled(server, "alice");
  const bob = client(server, "bob");
  pump(server, [[a.session, a.conn], [bob.session, bob.conn]]);
  const paste = letters(2500, 1);
  a.type(1, paste);
  a.session.flush();
  a.session.dataToSend(); // lost with the connection
  server.disconnect(a.conn);
  assert.deepEqual(a.session.sentRanges, [[0, 2500]]);
  // The replica goes wrong: an op made on a wrong text, which the server refuses (not
  // the user's: the journal does not have it); the user types on, offline.
  a.doc.rope.insert(0, "GARBAGE ", 8);
  a.doc.delete(a.doc.length - 1, 1);
  const tail = letters(2100, 4);
  a.type(1, "[s]");
  a.type(1 + 3 + paste.length + WORDS.length, tail);
  const view = `<[s]${paste}${WORDS}${tail}>`;
  // Reconnect: the resend carries the lost flush, then the new ops, one op per batch.
  const s2 = new ClientSession(a.doc, "doc", { journal: a.journal, sentRanges: a.session.sentRanges, viewText: () => view, maxBatchOps: 1 });
  const c2 = server.connect();
  s2.join();
  const ev = pump(server, [[s2, c2], [bob.session, bob.conn]]).get(s2);
  assert.equal(ev.find((e) => e.type === "error").recovery, Recovery.RESYNC);
  assert.equal(server.doc.text, `<${paste}${WORDS}>`, "the server took the resent flush and refused the op after it");
  assert.deepEqual(s2.sentRanges, [[2500, 2500 + 1 + 3 + tail.length]], "the resend's range starts where the lost flush ended");
  server.disconnect(c2);
  bobRewritesTheMiddle(server, bob);
  const middle = server.doc.text.slice(1 + paste.length, -1);
  const s3 = new ClientSession(a.doc, "doc", { journal: a.journal, sentRanges: s2.sentRanges, fresh: true, viewText: () => view });
  const c3 = server.connect();
  s3.join();
  const rec = pump(server, [[s3, c3], [bob.session, bob.conn]]).get(s3).find((e) => e.type === "recovered");
  assert.ok(rec);
  const want = `<[s]${paste}${middle}${tail}>`;
  assert.equal(server.doc.text.split(" w20 ").length, 2, "nothing typed twice");
  assert.equal(server.doc.text, want);
  assert.equal(bob.doc.text, want);
  assert.equal(applyEdits(view, rec.edits), want);
  assert.ok(s3.journal.empty);
});
