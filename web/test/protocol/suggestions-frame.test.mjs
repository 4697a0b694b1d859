// The SUGGESTIONS frame (0x0D): the same bytes as Python (tests/protocol/test_suggestions_frames.py),
// bounded revisions, and a client session reporting it as a "suggestions" event.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Document } from "../../src/engine/index.js";
import { MAX_SEQ, MsgType, ProtocolError, decodeFrame, encodeFrame } from "../../src/protocol/messages.js";
import { ClientSession } from "../../src/protocol/session.js";
import { FakeServer, pump } from "../app/fakeserver.mjs";

const hex = (u8) => Buffer.from(u8).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

test("bytes are Python's and round-trip", () => {
  assert.equal(MsgType.suggestions, 0x0d);
  assert.equal(hex(encodeFrame({ type: "suggestions", revision: 0 })), "010d00");
  assert.equal(hex(encodeFrame({ type: "suggestions", revision: 300 })), "010dac02");
  for (const revision of [0, 1, 300, MAX_SEQ - 1]) {
    assert.deepEqual(decodeFrame(encodeFrame({ type: "suggestions", revision })), { type: "suggestions", revision });
  }
});

test("bad revisions and bad frames are refused", () => {
  for (const revision of [-1, MAX_SEQ, 1.5, "3", null, undefined, true]) {
    assert.throws(() => encodeFrame({ type: "suggestions", revision }), ProtocolError);
  }
  for (const f of ["010d", "010d0000", "010d8000", "010d8080808080808080808001"]) {
    assert.throws(() => decodeFrame(unhex(f)), ProtocolError);
  }
});

test("a joined client session reports it; before WELCOME it is a failure", () => {
  const server = new FakeServer();
  const session = new ClientSession(new Document("alice"), "doc", { user: "ALICE" });
  const conn = server.connect();
  session.join();
  pump(server, [[session, conn]]);
  assert.ok(session.welcomed);
  assert.deepEqual(session.receive(encodeFrame({ type: "suggestions", revision: 9 })), [{ type: "suggestions", revision: 9 }]);
  assert.equal(session.closed, false);
  const early = new ClientSession(new Document("bob"), "doc");
  early.join();
  assert.equal(early.receive(encodeFrame({ type: "suggestions", revision: 1 }))[0].type, "failure");
});
