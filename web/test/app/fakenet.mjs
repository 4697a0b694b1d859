// A fake WebSocket network for Connection tests: sockets talk to a FakeServer
// (asynchronously, like a real socket), and the network can go down.  Like TCP, what
// a client sent before it closed its socket still reaches the server (which may
// apply it; its answers are lost); a network cut loses what is in flight.
import { FakeServer } from "./fakeserver.mjs";

export class FakeNet {
  constructor(server = new FakeServer()) {
    this.server = server;
    this.up = true;
    this.sockets = new Set();
    this.opened = 0;
    const net = this;
    this.WebSocket = class FakeWebSocket {
      constructor(url) {
        this.url = url;
        this.readyState = 0;
        this.binaryType = "blob";
        this.sent = [];
        setTimeout(() => net._open(this), 0);
      }

      send(data) {
        if (this.readyState !== 1) throw new Error("send on a socket that is not open");
        this.sent.push(data);
        const copy = new Uint8Array(data);
        setTimeout(() => net._toServer(this, copy), 0);
      }

      close() {
        net._close(this, { flush: true });
      }
    };
  }

  _open(ws) {
    if (ws.readyState !== 0) return;
    if (!this.up) {
      ws.readyState = 3;
      ws.onclose?.({ code: 1006 });
      return;
    }
    ws.readyState = 1;
    ws.conn = this.server.connect();
    this.sockets.add(ws);
    this.opened++;
    ws.onopen?.({});
  }

  _toServer(ws, data) {
    if (!ws.conn.open || ws.lost) return; // lost with the connection
    this.server.receive(ws.conn, data);
    this.deliver();
  }

  /** Hand every frame the server queued to its socket. */
  deliver() {
    for (const ws of this.sockets) {
      const frames = ws.conn.toClient.splice(0);
      for (const frame of frames) {
        setTimeout(() => {
          if (ws.readyState === 1) ws.onmessage?.({ data: frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) });
        }, 0);
      }
    }
  }

  // flush: frames already sent reach the server first (their timers run before this one).
  _close(ws, { flush = false, code = 1000 } = {}) {
    if (ws.readyState === 3) return;
    ws.readyState = 3;
    this.sockets.delete(ws);
    if (!flush) ws.lost = true;
    if (ws.conn) {
      setTimeout(() => {
        this.server.disconnect(ws.conn);
        this.deliver();
      }, 0);
    }
    setTimeout(() => ws.onclose?.({ code }), 0);
  }

  /** The network fails: every socket closes (what is in flight is lost), new ones fail until up again. */
  cut() {
    this.up = false;
    for (const ws of [...this.sockets]) this._close(ws);
  }

  /** The server closes every socket (e.g. with 1009: a message too big). */
  closeAll(code = 1000) {
    for (const ws of [...this.sockets]) this._close(ws, { code, flush: true });
  }

  restore() {
    this.up = true;
  }
}

/** Wait until `cond()` is true (polling); throws with `what` after `timeout` ms. */
export async function until(cond, what = "condition", timeout = 5000) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeout) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
