// A fake sync server for the session tests, made of the JS engine and the frame
// codec (no network): one room, a server-side Document, the message rules of
// PROTOCOL.md that the client relies on.  Not a *.test.mjs file: a helper.
import { createHash } from "node:crypto";
import { Document } from "../../src/engine/index.js";
import { decodeFrame, encodeFrame } from "../../src/protocol/messages.js";

export class FakeServer {
  constructor({ role = 1 } = {}) {
    this.doc = new Document("server");
    this.role = role;
    this.conns = new Set();
    this.digests = [];
    this.received = []; // every decoded frame, in order
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

  /** Handle one frame from `conn`'s client. */
  receive(conn, frame) {
    if (!conn.open) return;
    const msg = decodeFrame(frame);
    this.received.push(msg);
    if (msg.type === "join") {
      conn.agent = msg.agent;
      conn.joined = true;
      conn.role = msg.readOnly ? 2 : this.role;
      this.send(conn, {
        type: "welcome",
        role: conn.role,
        version: this.doc.version(),
        summary: this.doc.summary(),
        patch: this.doc.encodePatch(msg.summary),
      });
      for (const c of this.conns) {
        if (c !== conn && c.joined && c.presence) this.send(conn, c.presence);
      }
      return;
    }
    if (!conn.joined) throw new Error(`${msg.type} before JOIN`);
    switch (msg.type) {
      case "ops": {
        if (conn.role === 2) {
          this.send(conn, { type: "error", code: 5, message: "viewers may not edit", fatal: false, batchId: msg.batchId });
          return;
        }
        const before = this.doc.summary();
        this.doc.applyPatch(msg.patch);
        this.send(conn, { type: "ack", batchId: msg.batchId, version: this.doc.version() });
        const fresh = this.doc.encodePatch(before);
        this.broadcast(conn, { type: "remote_ops", patch: fresh });
        return;
      }
      case "presence":
        conn.presence = { ...msg, agent: conn.agent };
        this.broadcast(conn, conn.presence);
        return;
      case "ping":
        this.send(conn, { type: "pong", nonce: msg.nonce });
        return;
      case "digest": {
        this.digests.push(msg);
        const text = this.doc.textAt(msg.version);
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
