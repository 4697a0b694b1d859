// The browser's I/O around a ClientSession: one WebSocket at a time, reconnecting
// with exponential backoff and full jitter (cap 5 s), local edits flushed on a short
// tick, presence throttled, PING keepalive, DIGEST when idle, and a test hook that
// delays every frame (simulated latency) or cuts the connection (offline).
//
// The Document outlives connections (it is the offline queue); a RESYNC or a
// recovery replaces it (events "resynced", "recovered"), so always read
// `connection.doc`.
//
// No keystroke is dropped when the server refuses something (session.js,
// recoveryFor): rate_limited / internal -- reconnect with backoff, the summary
// exchange resends; too_large -- halve the frame budget and resend, and if even a
// minimal frame is refused, hold our edits (keep them, stop sending, keep
// receiving); bad_op / conflict / unknown_parent, or a replica found broken
// (recover(): the editor and the engine disagree, an exception while merging) --
// reconnect with a fresh JOIN: the session takes the server's document and types
// the journal's unconfirmed edits again on top.  Only unauthorized / forbidden /
// not_found (and being superseded) stop the connection ("error").
import { ErrorCode } from "../protocol/errors.js";
import { Journal } from "../protocol/journal.js";
import { ClientSession, DEFAULT_FRAME_BYTES, Recovery } from "../protocol/session.js";

// ERROR codes (PROTOCOL.md): defined once, in protocol/errors.js.
export { ErrorCode };
const CODE_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k.toLowerCase()]));

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

// A WebSocket close code: the server closed the connection because a message was too big.
const MESSAGE_TOO_BIG = 1009;

export class Connection {
  /**
   * @param {object} o
   * @param {() => string} o.url the WebSocket URL (called per connection, so the token can change)
   * @param {string} o.docId
   * @param {object} o.doc the engine Document
   * @param {string} [o.user] @param {string} [o.colour] presence
   * @param {boolean} [o.readOnly]
   * @param {boolean} [o.recovery] only push this document's own ops, then stop (event "delivered")
   * @param {Journal|null} [o.journal] the user's unconfirmed edits (default: a new one; none
   *   for a recovery connection).  The editor binding records local and remote changes in it.
   * @param {number} [o.maxFrameBytes] the OPS frame budget, halved on every too_large ...
   * @param {number} [o.minFrameBytes] ... down to this: a frame this small refused means the
   *   server cannot take our edits (its document or history limit), and they are held
   * @param {number} [o.maxRecoveries] fresh copies of the document taken in a row (no batch
   *   acknowledged in between) before the connection stops, keeping the edits
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
    journal,
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
    maxBatchOps = 512,
    maxFrameBytes = DEFAULT_FRAME_BYTES,
    minFrameBytes = 4096,
    maxRecoveries = 3,
  }) {
    this.url = typeof url === "function" ? url : () => url;
    this.docId = docId;
    this.doc = doc;
    this.user = user;
    this.colour = colour;
    this.readOnly = readOnly;
    this.recovery = recovery;
    this.journal = journal !== undefined ? journal : recovery ? null : new Journal();
    /** The text the user sees (set by the editor binding; default: the replica's). */
    this.viewText = null;
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
    this.maxBatchOps = maxBatchOps;
    this.frameBudget = maxFrameBytes;
    this.minFrameBytes = minFrameBytes;
    this.maxRecoveries = maxRecoveries;

    this.state = "offline"; // offline | syncing | connected | held | error | closed
    this.error = null; // {code, name, message} once stopped for good
    this.role = null;
    this.session = null;
    this.ws = null;
    this.blocked = false; // held back by the caller (e.g. until recovery ends): do not connect
    this.suppressed = false; // goOffline(): no connection until goOnline()
    this.fresh = false; // the next connection joins fresh: the replica is being replaced
    this.suspect = false; // the replica is not trusted (recover()): local edits stay in the journal
    this.holding = false; // the server cannot take our edits: keep them, send none
    this.seqFloor = 0; // our ops get seqs from here on (a replaced replica used those below)
    this.sentRanges = []; // our ops sent per flush, not known to be on the server (session.js)
    this.recoveries = 0; // fresh copies of the document taken
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
    this._backOff = false; // the connection being dropped failed: wait longer before the next
    this._recoveriesInRow = 0;
    this._recovering = null; // why the replica is being replaced: {kind, code, message}
  }

  // -- events ------------------------------------------------------------------------

  /** Listen: "state" (state), "remote" (edits), "resynced" (event), "recovered" (event and
   * {reason}), "presence" (Map), "welcomed" ({role, canWrite}), "acked", "digest" ({at}),
   * "notice" ({kind, message, code}), "changed", "delivered", "error" (error), "sent",
   * "comments" (revision: the document's comments changed),
   * "suggestions" (revision: the open suggestions changed).
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

  _notice(kind, message, code = null) {
    console.warn(`cowrite: ${message}`);
    this._emit("notice", { kind, message, code });
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

  /**
   * The replica cannot be trusted (the editor and the engine disagree, the engine
   * refused a local edit): replace it with the server's copy and type the journal's
   * edits again on top.  Until then local edits go into the journal only.
   */
  recover(why) {
    if (this.stopped || this.suspect) return;
    this.suspect = true;
    if (!this._freshNeeded({ kind: "suspect", code: null, message: why })) return;
    if (this.ws) this._reconnect();
    else if (this._started) this._connect();
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
      maxBatchOps: this.maxBatchOps,
      maxFrameBytes: this.frameBudget,
      journal: this.journal,
      sentRanges: this.sentRanges,
      viewText: this.viewText,
      fresh: this.fresh,
      seqFloor: this.seqFloor,
      holdOwn: this.holding,
    });
    session.join();
    this.ws = ws;
    this.session = session;
    this._lastDigest = -Infinity;
    this._backOff = false;
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
          this._reconnect({ backOff: true });
          return;
        }
        let ok;
        try {
          ok = this._handle(session, session.receive(new Uint8Array(data)));
        } catch (exc) {
          // Not a refusal of bad input (the session turns those into failures): the
          // replica broke while merging (a corrupted text, a bug).  Take the server's.
          console.error("cowrite: the document failed while merging the server's ops", exc);
          this.recover(`the document failed while merging the server's ops (${exc?.message ?? exc})`);
          return;
        }
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
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      if (ev?.code === MESSAGE_TOO_BIG && session.largestInFlight && !this._backOff) {
        this._shrink(session.largestInFlight, "the server closed the connection: message too big");
      }
      this._drop();
      if (!this.stopped && !this.suppressed) {
        this.attempt = healthy && !this._backOff ? 0 : this.attempt + 1;
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
      } catch (exc) {
        console.warn("cowrite: closing the WebSocket failed", exc);
      }
    }
    if (session && session.presence.size) this._emit("presence", new Map());
  }

  // Close the socket now and connect again soon (backOff: after a longer wait, the
  // server could not take what we sent).
  _reconnect({ backOff = false } = {}) {
    const ws = this.ws;
    if (!ws) return;
    this._backOff = this._backOff || backOff;
    ws.onclose?.({ code: 1000 });
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

  /** Local edits went into `doc` (or the journal): send them soon. */
  changed() {
    this._updateState();
    this._emit("changed");
    if (this._timers.flush !== null) return;
    this._timers.flush = setTimeout(() => {
      this._timers.flush = null;
      this.flush();
    }, this.flushDelay);
  }

  /** Send local edits now (if joined and allowed). */
  flush() {
    const { ws, session } = this;
    if (!ws || !session || !session.welcomed || session.closed || this.suspect) return;
    try {
      session.flush();
    } catch (exc) {
      console.error("cowrite: the document failed while collecting our edits", exc);
      this.recover(`the document failed while collecting our edits (${exc?.message ?? exc})`);
      return;
    }
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
          this._welcomed(session, ev.role);
          if (ev.edits.length) this._emit("remote", ev.edits);
          break;
        case "recovered": {
          // The replica is the server's copy now, the journal's edits typed again on it.
          this.doc = ev.doc;
          this.journal = session.journal;
          this.seqFloor = Math.max(this.seqFloor, ev.seqFloor);
          this.fresh = false;
          this.suspect = false;
          this.recoveries++;
          this._recoveriesInRow++;
          const reason = this._recovering ?? { kind: "refused", code: null, message: "" };
          this._recovering = null;
          this._emit("recovered", { ...ev, reason });
          this._welcomed(session, ev.role);
          break;
        }
        case "remote":
          if (ev.edits.length) this._emit("remote", ev.edits);
          break;
        case "acked":
          this._recoveriesInRow = 0;
          this._emit("acked", ev);
          break;
        case "presence":
          this._emit("presence", session.presence);
          break;
        case "resynced":
          this.doc = ev.doc;
          this.journal = session.journal;
          this.seqFloor = Math.max(this.seqFloor, ev.seqFloor);
          this._emit("resynced", ev);
          break;
        case "pong":
          break;
        case "comments": // the document's comments changed: comments.js fetches them
          this._emit("comments", ev.revision);
          break;
        case "suggestions": // the open suggestions changed: suggest.js fetches them
          this._emit("suggestions", ev.revision);
          break;
        case "unfit":
          this._freshNeeded({ kind: "suspect", code: null, message: ev.message });
          return false;
        case "error":
          return this._refused(session, ev.error, ev.recovery);
        case "failure":
          if (!session.welcomed) {
            if (session.fresh) {
              this._fatal(null, `cannot load the server's document: ${ev.message}`);
              return false;
            }
            // Our replica and the server's cannot be merged: take the server's.
            this._freshNeeded({ kind: "refused", code: null, message: `cannot merge the server's document: ${ev.message}` });
            return false;
          }
          console.warn(`cowrite: protocol failure: ${ev.message}; reconnecting`);
          this._backOff = true;
          return false;
        default:
          break;
      }
    }
    return true;
  }

  _welcomed(session, role) {
    this.role = role;
    if (this._cursor) this._cursorDirty = true; // announce it on the new connection
    this._emit("welcomed", { role, canWrite: session.canWrite });
    this._sendCursor(session);
  }

  // The server refused something and the session is over: what next (false: drop it).
  _refused(session, err, action) {
    const what = `${errorName(err.code)}: ${err.message}`;
    if (action === Recovery.STOP) {
      this._fatal(err.code, err.message);
      return false;
    }
    if (action === Recovery.RESYNC) {
      this._freshNeeded({ kind: "refused", code: err.code, message: `the server refused our edits (${what})` });
      return false;
    }
    if (action === Recovery.SHRINK && session.refusedBytes) {
      this._shrink(session.refusedBytes, err.message);
      return false;
    }
    this._notice("retrying", `the server could not take a frame (${what}); reconnecting`, err.code);
    this._backOff = true;
    return false;
  }

  // The next connection joins fresh; false if no more fresh copies are tried (stopped).
  _freshNeeded(reason) {
    if (this.recovery) {
      this._fatal(reason.code, reason.message);
      return false;
    }
    if (this._recoveriesInRow >= this.maxRecoveries) {
      this._fatal(reason.code, `${reason.message}, again after ${this._recoveriesInRow} fresh copies of the document`);
      return false;
    }
    this.fresh = true;
    this._recovering = reason;
    this._notice(reason.kind, `${reason.message}; taking the server's copy of the document to type our edits again`, reason.code);
    return true;
  }

  // A frame of `size` bytes was refused as too large: send smaller ones, or hold our
  // edits if it was as small as they get (the server cannot take them at all).
  _shrink(size, why) {
    if (size <= this.minFrameBytes) {
      this.holding = true;
      this._notice(
        "held",
        `the server refused our edits as too large (${why}), even in a frame of ${size} bytes: they are kept here and not sent`,
        ErrorCode.TOO_LARGE,
      );
      return;
    }
    this.frameBudget = Math.max(this.minFrameBytes, Math.floor(Math.min(this.frameBudget, size) / 2));
    this._notice("shrunk", `a frame of ${size} bytes was too large (${why}); sending frames of at most ${this.frameBudget} bytes`, ErrorCode.TOO_LARGE);
  }

  // -- state, keepalive, digests -----------------------------------------------------

  _updateState() {
    if (this.stopped) return;
    const { ws, session } = this;
    let state;
    if (!ws || !session || !this._isOpen(ws)) state = "offline";
    else if (!session.welcomed) state = "syncing";
    else if (this.holding && session.canWrite) state = "held"; // our edits are not being sent
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
      this._recoveriesInRow = 0; // the server has everything: a refusal now is a new one
      if (this.recovery) {
        this._emit("state", state);
        this._emit("delivered", this.doc);
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
