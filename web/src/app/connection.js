// The browser's I/O around a ClientSession: one WebSocket at a time, reconnecting
// with exponential backoff and full jitter (cap 5 s), local edits flushed on a short
// tick, presence throttled, PING keepalive, DIGEST when idle, and a test hook that
// delays every frame (simulated latency) or cuts the connection (offline).
//
// The Document outlives connections (it is the offline queue); a RESYNC replaces it
// (event "resynced"), so always read `connection.doc`.
import { ErrorCode } from "../protocol/errors.js";
import { ClientSession } from "../protocol/session.js";

// ERROR codes (PROTOCOL.md): defined once, in protocol/errors.js.
export { ErrorCode };
const CODE_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k.toLowerCase()]));

// Fatal ERRORs after which reconnecting cannot help.
const FATAL = new Set([ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND, ErrorCode.BAD_STATE, ErrorCode.BAD_FRAME]);
// Refusals of one of our batches that resending would only repeat.
const REFUSED = new Set([ErrorCode.BAD_OP, ErrorCode.CONFLICT, ErrorCode.FORBIDDEN, ErrorCode.TOO_LARGE]);

/** Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)). */
export function backoffDelay(attempt, base, cap, random = Math.random) {
  return random() * Math.min(cap, base * 2 ** Math.min(attempt, 64));
}

/** The name of an error code ("forbidden"), or "error N". */
export function errorName(code) {
  return CODE_NAMES[code] ?? `error ${code}`;
}

/**
 * Runs callbacks in order, each `delay` ms after it was queued (0: at once, unless
 * earlier ones still wait -- order is kept).  The simulated network latency.
 */
class DelayLine {
  constructor() {
    this.delay = 0;
    this.queue = [];
    this.timer = null;
  }

  push(fn) {
    if (this.delay <= 0 && this.queue.length === 0) {
      fn();
      return;
    }
    this.queue.push({ due: Date.now() + this.delay, fn });
    this._arm();
  }

  _arm() {
    if (this.timer !== null || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0].due - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      while (this.queue.length && this.queue[0].due <= now) this.queue.shift().fn();
      this._arm();
    }, wait);
  }

  clear() {
    this.queue = [];
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

export class Connection {
  /**
   * @param {object} o
   * @param {() => string} o.url the WebSocket URL (called per connection, so the token can change)
   * @param {string} o.docId
   * @param {object} o.doc the engine Document
   * @param {string} [o.user] @param {string} [o.colour] presence
   * @param {boolean} [o.readOnly]
   * @param {boolean} [o.recovery] only push this document's own ops, then stop (event "recovered")
   * @param {typeof WebSocket} [o.WebSocket]
   */
  constructor({
    url,
    docId,
    doc,
    user = "",
    colour = "",
    readOnly = false,
    recovery = false,
    WebSocket: WS = globalThis.WebSocket,
    backoffBase = 250,
    backoffCap = 5000,
    random = Math.random,
    flushDelay = 15,
    cursorDelay = 50,
    digestSettle = 1000,
    digestEvery = 10000,
    digestMinInterval = 5100,
    pingEvery = 15000,
    pingTimeout = 10000,
  }) {
    this.url = typeof url === "function" ? url : () => url;
    this.docId = docId;
    this.doc = doc;
    this.user = user;
    this.colour = colour;
    this.readOnly = readOnly;
    this.recovery = recovery;
    this.WS = WS;
    this.backoffBase = backoffBase;
    this.backoffCap = backoffCap;
    this.random = random;
    this.flushDelay = flushDelay;
    this.cursorDelay = cursorDelay;
    this.digestSettle = digestSettle;
    this.digestEvery = digestEvery;
    this.digestMinInterval = digestMinInterval; // the server checks one DIGEST per 5 s per connection
    this.pingEvery = pingEvery;
    this.pingTimeout = pingTimeout;

    this.state = "offline"; // offline | syncing | connected | error | closed
    this.error = null; // {code, name, message} once stopped for good
    this.role = null;
    this.session = null;
    this.ws = null;
    this.blocked = false; // held back by the caller (e.g. until recovery ends): do not connect
    this.suppressed = false; // goOffline(): no connection until goOnline()
    this.attempt = 0;
    this.out = new DelayLine();
    this.in = new DelayLine();
    this._listeners = new Map();
    this._timers = { reconnect: null, flush: null, cursor: null, settle: null, digest: null, ping: null, pingDead: null };
    this._cursor = null; // [anchor, head] Positions, or null
    this._cursorDirty = false;
    this._lastCursorSend = 0;
    this._nonce = 0;
    this._lastDigest = -Infinity; // when this connection last sent a DIGEST
    this._started = false;
  }

  // -- events ------------------------------------------------------------------------

  /** Listen: "state" (state), "remote" (edits), "resynced" ({doc, edits}), "presence" (Map),
   * "welcomed" ({role}), "acked", "digest" ({at}), "recovered", "error" (error), "sent".
   * Returns an unsubscribe function. */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return () => this._listeners.get(name)?.delete(fn);
  }

  _emit(name, value) {
    for (const fn of [...(this._listeners.get(name) ?? [])]) {
      try {
        fn(value);
      } catch (exc) {
        console.error(`cowrite: a "${name}" listener failed`, exc);
      }
    }
  }

  // -- lifecycle ---------------------------------------------------------------------

  start() {
    if (this._started) throw new Error("this connection was already started");
    this._started = true;
    this._connect();
  }

  /** Stop for good (leaving the page). */
  close() {
    if (this.state === "closed") return;
    this._stopTimers();
    this.out.clear();
    this.in.clear();
    this._drop();
    this._setState("closed");
  }

  /** Let a blocked connection connect (see `blocked`). */
  unblock() {
    if (!this.blocked) return;
    this.blocked = false;
    if (this._started && !this.ws) this._connect();
  }

  /** Test hook: close the socket and stay offline until goOnline(). */
  goOffline() {
    this.suppressed = true;
    clearTimeout(this._timers.reconnect);
    this._timers.reconnect = null;
    this._drop();
    this._updateState();
  }

  goOnline() {
    if (!this.suppressed) return;
    this.suppressed = false;
    this.attempt = 0;
    if (this._started && !this.ws) this._connect();
  }

  /** Test hook: delay every outgoing and incoming frame by `ms` (order kept). */
  setLatency(ms) {
    const d = Math.max(0, Number(ms) || 0);
    this.out.delay = d;
    this.in.delay = d;
  }

  get stopped() {
    return this.state === "error" || this.state === "closed";
  }

  _connect() {
    if (this.stopped || this.suppressed || this.blocked || this.ws) return;
    clearTimeout(this._timers.reconnect);
    this._timers.reconnect = null;
    let ws;
    try {
      ws = new this.WS(this.url());
    } catch (exc) {
      this._fatal(null, `cannot open a WebSocket: ${exc.message ?? exc}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    const session = new ClientSession(this.doc, this.docId, {
      user: this.user,
      colour: this.colour,
      readOnly: this.readOnly,
    });
    session.join();
    this.ws = ws;
    this.session = session;
    this._lastDigest = -Infinity;
    let healthy = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this._send(ws, session);
      this._updateState();
      this._armPing();
    };
    ws.onmessage = (ev) => {
      const data = ev.data;
      this.in.push(() => {
        if (this.ws !== ws) return; // arrived on a connection we dropped meanwhile
        this._lastReceived = Date.now();
        clearTimeout(this._timers.pingDead);
        this._timers.pingDead = null;
        if (typeof data === "string") {
          console.warn("cowrite: the server sent a text frame; reconnecting");
          this._reconnect();
          return;
        }
        const events = session.receive(new Uint8Array(data));
        const ok = this._handle(session, events);
        if (session.welcomed) healthy = true;
        if (this.ws !== ws) return;
        if (!ok || session.closed) {
          if (!this.stopped) this._reconnect();
          return;
        }
        this._send(ws, session);
        this._updateState();
      });
    };
    ws.onerror = () => {
      // a close event follows
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this._drop();
      if (!this.stopped && !this.suppressed) {
        this.attempt = healthy ? 0 : this.attempt + 1;
        const delay = backoffDelay(this.attempt, this.backoffBase, this.backoffCap, this.random);
        this._timers.reconnect = setTimeout(() => {
          this._timers.reconnect = null;
          this._connect();
        }, delay);
      }
      this._updateState();
    };
    this._updateState();
  }

  // Forget the current socket and session (closing the socket if open).
  _drop() {
    const ws = this.ws;
    const session = this.session;
    this.ws = null;
    this.session = null;
    for (const k of ["flush", "ping", "pingDead", "settle", "digest", "cursor"]) {
      clearTimeout(this._timers[k]);
      clearInterval(this._timers[k]);
      this._timers[k] = null;
    }
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
    if (session && session.presence.size) this._emit("presence", new Map());
  }

  // Close the socket now and connect again at once (the server's view of us is unreliable).
  _reconnect() {
    const ws = this.ws;
    if (!ws) return;
    ws.onclose?.();
  }

  _stopTimers() {
    for (const k of Object.keys(this._timers)) {
      clearTimeout(this._timers[k]);
      clearInterval(this._timers[k]);
      this._timers[k] = null;
    }
  }

  _fatal(code, message) {
    this.error = { code, name: code === null ? "error" : errorName(code), message };
    this._stopTimers();
    this._drop();
    this._setState("error");
    this._emit("error", this.error);
  }

  // -- sending -----------------------------------------------------------------------

  _send(ws, session) {
    const frames = session.dataToSend();
    if (!frames.length) return;
    for (const frame of frames) {
      this.out.push(() => {
        if (ws.readyState === 1) ws.send(frame);
      });
    }
    this._emit("sent", frames.length);
  }

  /** Local edits went into `doc`: send them soon. */
  changed() {
    this._updateState();
    if (this._timers.flush !== null) return;
    this._timers.flush = setTimeout(() => {
      this._timers.flush = null;
      this.flush();
    }, this.flushDelay);
  }

  /** Send local edits now (if joined and allowed). */
  flush() {
    const { ws, session } = this;
    if (!ws || !session || !session.welcomed || session.closed) return;
    session.flush();
    this._sendCursor(session);
    this._send(ws, session);
    this._updateState();
  }

  /** Show our selection to the others (Positions; head null for a caret; anchor null: none). */
  setCursor(anchor, head = null) {
    this._cursor = anchor ? [anchor, head ?? anchor] : null;
    this._cursorDirty = true;
    if (this._timers.cursor !== null || !this.session?.welcomed || this.recovery) return;
    const wait = Math.max(0, this._lastCursorSend + this.cursorDelay - Date.now());
    this._timers.cursor = setTimeout(() => {
      this._timers.cursor = null;
      const { ws, session } = this;
      if (!ws || !session) return;
      this._sendCursor(session);
      this._send(ws, session);
    }, wait);
  }

  _sendCursor(session) {
    if (!this._cursorDirty || this.recovery || !session.welcomed || session.closed) return;
    this._cursorDirty = false;
    this._lastCursorSend = Date.now();
    if (this._cursor) session.setCursor(this._cursor[0], this._cursor[1]);
    else session.setCursor(null);
  }

  /** The other connections' presence (agent -> PRESENCE message); empty while offline. */
  get presence() {
    return this.session?.presence ?? new Map();
  }

  // -- receiving ---------------------------------------------------------------------

  /** Apply a frame's events; false to drop the connection (and reconnect). */
  _handle(session, events) {
    for (const ev of events) {
      switch (ev.type) {
        case "welcomed":
          this.role = ev.role;
          if (this._cursor) this._cursorDirty = true; // announce it on the new connection
          this._emit("welcomed", { role: ev.role, canWrite: session.canWrite });
          if (ev.edits.length) this._emit("remote", ev.edits);
          this._sendCursor(session);
          break;
        case "remote":
          if (ev.edits.length) this._emit("remote", ev.edits);
          break;
        case "acked":
          this._emit("acked", ev);
          break;
        case "presence":
          this._emit("presence", session.presence);
          break;
        case "resynced":
          this.doc = ev.doc;
          this._emit("resynced", ev);
          break;
        case "pong":
          break;
        case "error": {
          const err = ev.error;
          if (err.fatal && FATAL.has(err.code)) {
            this._fatal(err.code, err.message);
            return false;
          }
          if (err.batchId !== null && err.batchId !== undefined && REFUSED.has(err.code)) {
            this._fatal(err.code, `the server refused our edits: ${err.message}`);
            return false;
          }
          // A dropped frame (rate limit, size), an op the server could not place, a
          // server-side failure: our view of what it has is unreliable; join again.
          console.warn(`cowrite: server error ${errorName(err.code)} (${err.message}); reconnecting`);
          return false;
        }
        case "failure":
          if (!session.welcomed) {
            // our replica and the server's cannot be merged: retrying cannot change that
            this._fatal(null, `cannot join the server's document: ${ev.message}`);
            return false;
          }
          console.warn(`cowrite: protocol failure: ${ev.message}; reconnecting`);
          return false;
        default:
          break;
      }
    }
    return true;
  }

  // -- state, keepalive, digests -----------------------------------------------------

  _updateState() {
    if (this.stopped) return;
    const { ws, session } = this;
    let state;
    if (!ws || !session || !this._isOpen(ws)) state = "offline";
    else if (!session.welcomed) state = "syncing";
    else if (session.unacked.size || (session.canWrite && session.dirty)) state = "syncing";
    else state = "connected";
    this._setState(state);
  }

  _isOpen(ws) {
    return ws.readyState === 1;
  }

  _setState(state) {
    if (state === this.state) return;
    const was = this.state;
    this.state = state;
    if (state === "connected") {
      if (this.recovery) {
        this._emit("state", state);
        this._emit("recovered", this.doc);
        this.close();
        return;
      }
      this._scheduleDigests();
    } else if (was === "connected") {
      clearTimeout(this._timers.settle);
      this._timers.settle = null;
    }
    this._emit("state", state);
  }

  _scheduleDigests() {
    this._digestAt(Date.now() + this.digestSettle);
    if (this._timers.digest === null) {
      this._timers.digest = setInterval(() => this._digest(), this.digestEvery);
    }
  }

  // Send a DIGEST at `when` or as soon after as the server would check it.
  _digestAt(when) {
    clearTimeout(this._timers.settle);
    const at = Math.max(when, this._lastDigest + this.digestMinInterval);
    this._timers.settle = setTimeout(() => {
      this._timers.settle = null;
      this._digest();
    }, Math.max(0, at - Date.now()));
  }

  /** Check our text against the server's as soon as allowed (when in sync). */
  checkSoon() {
    if (this.ws && this.session) this._digestAt(Date.now());
  }

  async _digest() {
    const { ws, session } = this;
    if (!ws || !session || !session.inSync) return;
    if (Date.now() - this._lastDigest < this.digestMinInterval) {
      this._digestAt(0); // too soon for the server: it would ignore it
      return;
    }
    const previous = this._lastDigest;
    this._lastDigest = Date.now();
    if (await session.sendDigest()) {
      if (this.ws === ws) {
        this._send(ws, session);
        this._emit("digest", { at: this._lastDigest });
      }
    } else if (this.ws === ws) {
      this._lastDigest = previous;
    }
  }

  _armPing() {
    clearInterval(this._timers.ping);
    this._timers.ping = setInterval(() => {
      const { ws, session } = this;
      if (!ws || !session) return;
      session.ping(++this._nonce);
      this._send(ws, session);
      if (this._timers.pingDead === null) {
        // any frame from the server clears this; silence means a dead connection
        this._timers.pingDead = setTimeout(() => {
          this._timers.pingDead = null;
          console.warn("cowrite: no answer from the server; reconnecting");
          this._reconnect();
        }, this.pingTimeout + this.in.delay + this.out.delay);
      }
    }, this.pingEvery);
  }
}
