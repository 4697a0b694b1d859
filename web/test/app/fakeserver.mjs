// A fake sync server for the session tests, made of the JS engine and the frame
// codec (no network): one room, a server-side Document, the message rules of
// PROTOCOL.md that the client relies on.  Not a *.test.mjs file: a helper.
//
// It can refuse: `refuse(conn, msg, frame)` (set by a test) may answer an OPS frame
// with an ERROR instead of applying it -- {code, batch: true} names the batch (as the
// real server does for bad_op, conflict, unknown_parent, internal, too_large of a
// document limit), {code, batch: false} drops the frame whole (rate_limited,
// too_large of a frame); `maxFrameBytes` drops larger frames as too_large,
// `maxDocLength` refuses batches that would make the text longer; `joinError` answers
// every JOIN with that fatal ERROR (a revoked token).  Ops that do not fit are
// refused with the engine's reason (unknown_parent, conflict, bad_op), like the
// real server.
import { createHash } from "node:crypto";
import { ConflictingOpError, Document, EngineError, UnknownParentError, decodePatch } from "../../src/engine/index.js";
import { ErrorCode } from "../../src/protocol/errors.js";
import { decodeFrame, encodeFrame } from "../../src/protocol/messages.js";

export class FakeServer {
  constructor({ role = 1 } = {}) {
    this.doc = new Document("server");
    this.role = role;
    this.conns = new Set();
    this.digests = [];
    this.received = []; // every decoded frame, in order
    this.refused = []; // {code, batchId} of every refusal sent
    this.refuse = null; // (conn, msg, frame) => null | {code, batch}
    this.maxFrameBytes = Infinity;
    this.maxDocLength = Infinity;
    this.joinError = null; // an ErrorCode: every JOIN is refused with it (fatal)
  }

  /** A new connection; `conn.toClient` collects frames for the client. */
  connect() {
    const conn = { server: this, toClient: [], agent: null, joined: false, open: true };
    this.conns.add(conn);
    return conn;
  }

  disconnect(conn) {
    if (!conn.open) return;
    conn.open = false;
    this.conns.delete(conn);
    if (conn.joined) this.broadcast(conn, { type: "presence", agent: conn.agent, user: "", colour: "", cursor: null, gone: true });
  }

  broadcast(from, msg) {
    const frame = encodeFrame(msg);
    for (const c of this.conns) if (c !== from && c.joined) c.toClient.push(frame);
  }

  send(conn, msg) {
    conn.toClient.push(encodeFrame(msg));
  }

  error(conn, code, message, { batchId = null, fatal = false } = {}) {
    this.refused.push({ code, batchId });
    this.send(conn, { type: "error", code, message, fatal, batchId });
  }

  /** Handle one frame from `conn`'s client. */
  receive(conn, frame) {
    if (!conn.open) return;
    const msg = decodeFrame(frame);
    this.received.push(msg);
    if (msg.type === "join") {
      if (this.joinError !== null) {
        this.error(conn, this.joinError, "access refused", { fatal: true });
        return;
      }
      conn.agent = msg.agent;
      conn.joined = true;
      conn.role = msg.readOnly ? 2 : this.role;
      this.send(conn, {
        type: "welcome",
        role: conn.role,
        version: this.doc.version(),
        summary: this.doc.summary(),
        // a fresh JOIN: the whole document, not a patch
        patch: msg.fresh ? this.doc.encode() : this.doc.encodePatch(msg.summary),
      });
      for (const c of this.conns) {
        if (c !== conn && c.joined && c.presence) this.send(conn, c.presence);
      }
      return;
    }
    if (!conn.joined) throw new Error(`${msg.type} before JOIN`);
    switch (msg.type) {
      case "ops":
        this.ops(conn, msg, frame);
        return;
      case "presence":
        conn.presence = { ...msg, agent: conn.agent };
        this.broadcast(conn, conn.presence);
        return;
      case "ping":
        this.send(conn, { type: "pong", nonce: msg.nonce });
        return;
      case "digest": {
        this.digests.push(msg);
        let text;
        try {
          text = this.doc.textAt(msg.version);
        } catch {
          return; // a version it does not fully know: ignored
        }
        const mine = createHash("sha256").update(text, "utf8").digest();
        if (!Buffer.from(msg.digest).equals(mine)) {
          this.send(conn, { type: "resync", version: this.doc.version(), document: this.doc.encode() });
        }
        return;
      }
      default:
        throw new Error(`unexpected ${msg.type}`);
    }
  }

  ops(conn, msg, frame) {
    const batchId = msg.batchId;
    if (frame.length > this.maxFrameBytes) {
      this.error(conn, ErrorCode.TOO_LARGE, `frames are limited to ${this.maxFrameBytes} bytes`);
      return;
    }
    const verdict = this.refuse?.(conn, msg, frame) ?? null;
    if (verdict) {
      this.error(conn, verdict.code, `refused (${verdict.code})`, { batchId: verdict.batch ? batchId : null });
      return;
    }
    if (conn.role === 2) {
      this.error(conn, ErrorCode.FORBIDDEN, "viewers may not edit", { batchId });
      return;
    }
    let ops;
    try {
      ops = decodePatch(msg.patch);
    } catch (exc) {
      this.error(conn, ErrorCode.BAD_OP, `bad patch: ${exc.message}`, { batchId });
      return;
    }
    if (ops.some((op) => op.agent !== conn.agent)) {
      this.error(conn, ErrorCode.FORBIDDEN, "ops of another agent", { batchId });
      return;
    }
    const grows = ops.reduce((n, op) => n + (op.kind === "ins" ? Array.from(op.content).length : 0), 0);
    if (this.doc.length + grows > this.maxDocLength) {
      this.error(conn, ErrorCode.TOO_LARGE, `the document may not exceed ${this.maxDocLength} characters`, { batchId });
      return;
    }
    const before = this.doc.summary();
    const known = this.doc.oplog.cg.nextLv;
    try {
      this.doc.addOps(ops);
    } catch (exc) {
      if (!(exc instanceof EngineError)) throw exc;
      const code =
        exc instanceof UnknownParentError ? ErrorCode.UNKNOWN_PARENT : exc instanceof ConflictingOpError ? ErrorCode.CONFLICT : ErrorCode.BAD_OP;
      this.error(conn, code, exc.message, { batchId });
      return;
    }
    this.send(conn, { type: "ack", batchId, version: this.doc.version() });
    // ops it already had are accepted silently: neither stored again nor broadcast
    if (this.doc.oplog.cg.nextLv !== known) this.broadcast(conn, { type: "remote_ops", patch: this.doc.encodePatch(before) });
  }
}

/** Move frames both ways until nothing moves (client: a ClientSession). */
export function pump(server, pairs) {
  const events = new Map(pairs.map(([s]) => [s, []]));
  for (let moved = true; moved; ) {
    moved = false;
    for (const [session, conn] of pairs) {
      for (const frame of session.dataToSend()) {
        moved = true;
        server.receive(conn, frame);
      }
      const frames = conn.toClient.splice(0);
      for (const frame of frames) {
        moved = true;
        events.get(session).push(...session.receive(frame));
      }
    }
  }
  return events;
}
