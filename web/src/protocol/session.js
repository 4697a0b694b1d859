// The client side of the sync protocol, sans-I/O: one ClientSession per connection
// (a port of src/cowrite/protocol/client.py).  No sockets, no timers: frames go in
// through receive(), come out of dataToSend(); the caller moves the bytes.
//
// The session wraps the client's engine Document, which outlives connections: it
// *is* the offline queue.  Local edits go straight into the document; flush() turns
// the ones not sent yet into OPS batches.  On reconnect make a new session over the
// same document: the JOIN/WELCOME summary exchange finds every op either side
// lacks, so nothing unacknowledged is lost.
//
// Refusals.  Any ERROR ends the session (its later frames are ignored: our ops form
// one chain, so once a batch is refused or dropped every later batch in flight is
// refused too).  `session.recovery` (recoveryFor) says what to do next: reconnect
// (RETRY), reconnect with smaller frames (SHRINK: halve maxFrameBytes), stop (STOP),
// or -- when the server refused our ops as not fitting its history -- RESYNC:
// reconnect with a *fresh* JOIN (`new ClientSession(..., {fresh: true})`).  Its
// WELCOME carries the server's whole document; the session replaces its replica
// with it and types the user's unconfirmed edits again on top (from the journal,
// at the same places relative to the text both still share): event "recovered".
//
// The journal (optional, protocol/journal.js) holds the user's edits the server has
// not confirmed, as text changes of the text the user sees.  The session keeps it
// up to date with flushes (flushed) and acknowledgements (confirmed) and rebases it
// on a replacement replica; the *caller* records local() and remote() changes,
// because only the caller knows what the user sees (in the browser: the editor's
// text, which is not the replica's once the replica is suspect).  `viewText()`
// returns that text (default: the replica's).
//
// Frames are kept under a byte budget (maxFrameBytes): a long insert is cut into
// several ops (splitOp), so no OPS frame is larger than the budget unless a single
// character's op is.
//
// Events returned by receive() (plain objects, `type` first):
//   {type: "welcomed", role, version, edits}   joined; edits brought the text up to the server's
//   {type: "remote", edits}                     another connection's ops were merged
//   {type: "acked", batchId, version}           a batch is durable on the server
//   {type: "presence", presence}                another connection's cursor/name (or gone)
//   {type: "error", error, recovery}            the server refused something: the session is over
//   {type: "pong", nonce}
//   {type: "resynced", version, doc, edits, retyped, seqFloor}
//                                               our text differed from the server's; `doc` is the
//                                               new Document (session.doc too); edits turn the
//                                               text the user saw into the new one; retyped: our
//                                               ops did not fit, the journal's edits were typed
//                                               again (the journal accounts for `edits` then)
//   {type: "recovered", role, version, doc, edits, retyped, seqFloor}
//                                               a fresh JOIN was answered: `doc` is the server's
//                                               document with the user's unconfirmed edits on
//                                               top (`retyped`, edits of the server's text: our
//                                               ops it lacked, as they were if they fit it, then
//                                               the edits the replica never took; else the
//                                               journal's edits typed again); `edits` turn the
//                                               text the user saw into the new text (the journal
//                                               accounts for them)
//   {type: "unfit", message}                    a RESYNC came whose document our ops do not fit
//                                               while batches are in flight: reconnect fresh
//   {type: "failure", message}                  the server sent something unusable: reconnect
// `edits` are engine XfOps: {kind: "ins", pos, text} | {kind: "del", pos, length}, code points.
import { EngineError, encodePatch } from "../engine/index.js";
import { Journal } from "./journal.js";
import { ErrorCode } from "./errors.js";
import { decodeFrame, encodeFrame, textDigest as textDigestSync } from "./messages.js";
import { ChangeMismatchError, diff, fromEdits } from "./textChange.js";

// How large a patch or document from the server may be once inflated, in bytes: a
// deflated body states its inflated size, so anything larger is refused
// (TooLargeError, ending the session) before it is inflated.  Generous on purpose:
// they only stop a hostile or broken server from making the tab inflate gigabytes.
// 256 MiB of CWD/CWP body is a history far beyond any real text (the 260k edits of
// the automerge-paper trace encode to under 100 KiB); the WELCOME patch may carry a
// whole history too, so patches get the same bound.
export const MAX_DOCUMENT_BYTES = 256 * 2 ** 20;
export const MAX_PATCH_BYTES = 256 * 2 ** 20;

/** Default budget of one OPS frame: well under a server's usual 1 MiB frame limit. */
export const DEFAULT_FRAME_BYTES = 256 * 1024;
/** The smallest budget a session accepts (one op and the patch around it). */
export const MIN_FRAME_BYTES = 1024;

const OPS_OVERHEAD = 2 + 10 + 10; // frame header, batch id, patch length
const PATCH_OVERHEAD = 5 + 10 + 4 + 4 * 10; // patch header, deflate size, CRC, the block counts
const OP_OVERHEAD = 80; // worst case per op: agent run, seq, parents code, kind+length, position, time
const PARENT_OVERHEAD = 20; // per parent: agent index and seq
const AGENT_OVERHEAD = 3; // per agent named in a patch: its length
const MAX_SEQ_END = 2 ** 53;

export const ROLE_OWNER = 0;
export const ROLE_EDITOR = 1;
export const ROLE_VIEWER = 2;

/** Whether a role (a number, or a name) may write. */
export function roleCanWrite(role) {
  return role !== null && role !== undefined && role !== ROLE_VIEWER && role !== "viewer";
}

// -- what to do after a refusal ----------------------------------------------------------

/** What a client does after the server sent ERROR (see recoveryFor). */
export const Recovery = Object.freeze({
  /** Nothing is wrong with our ops (a rate limit, a server failure): reconnect with
   * backoff; the JOIN/WELCOME summary exchange resends what the server lacks. */
  RETRY: "retry",
  /** A frame was too large: reconnect and send smaller frames (halve the budget). */
  SHRINK: "shrink",
  /** Our ops do not fit the server's history (a corrupted replica): reconnect with a
   * fresh JOIN, take the server's document and type the unconfirmed edits again. */
  RESYNC: "resync",
  /** Refused for good (no access, no such document, superseded): stop; keep the edits. */
  STOP: "stop",
});

const STOP_CODES = new Set([ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND]);
const RESYNC_CODES = new Set([ErrorCode.BAD_OP, ErrorCode.CONFLICT, ErrorCode.UNKNOWN_PARENT]);

/**
 * What to do after an ERROR message: unauthorized / forbidden / not_found, and any
 * other fatal bad_state or bad_frame (superseded, a protocol version the server does
 * not speak): STOP.  bad_op / conflict / unknown_parent for a batch: RESYNC.
 * too_large for a batch, or not fatal: SHRINK.  Everything else (rate_limited, internal, a non-fatal
 * bad_state / bad_frame): RETRY.
 */
export function recoveryFor(error) {
  const code = error.code;
  if (STOP_CODES.has(code) || (error.fatal && (code === ErrorCode.BAD_STATE || code === ErrorCode.BAD_FRAME))) {
    return Recovery.STOP;
  }
  if (RESYNC_CODES.has(code) && error.batchId !== null && error.batchId !== undefined) return Recovery.RESYNC;
  // A fatal too_large with no batch: the server cut us off for reading too slowly
  // (its queue to us is over its byte limit); smaller frames would not help, so
  // retry, as the Python client does.
  if (code === ErrorCode.TOO_LARGE && ((error.batchId !== null && error.batchId !== undefined) || !error.fatal)) {
    return Recovery.SHRINK;
  }
  return Recovery.RETRY;
}

// -- small helpers -----------------------------------------------------------------------

/**
 * SHA-256 of the UTF-8 text, as a DIGEST carries it: WebCrypto where there is one
 * (browsers give it to secure contexts only), else the codec's own SHA-256.
 */
export async function textDigest(text) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return textDigestSync(text);
  const bytes = new TextEncoder().encode(text);
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

function compareRaw(a, b) {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] - b[1];
}

/** Do two versions ([[agent, seq], ...]) name the same ids? */
export function sameVersion(a, b) {
  if (a.length !== b.length) return false;
  const x = [...a].sort(compareRaw);
  const y = [...b].sort(compareRaw);
  return x.every((id, i) => id[0] === y[i][0] && id[1] === y[i][1]);
}

/** The next seq `doc`'s agent will use (how many ops it has made). */
export function nextOwnSeq(doc) {
  if (typeof doc.nextSeq === "function") return doc.nextSeq(doc.agent);
  const cg = doc.oplog?.cg; // the JS engine's causal graph: O(1) instead of a whole summary
  if (cg && typeof cg.nextSeq === "function") return cg.nextSeq(doc.agent);
  const runs = doc.summary()[doc.agent];
  return runs && runs.length ? runs[runs.length - 1][1] : 0;
}

/** `doc`'s own ops with seq >= `start`, as runs in causal order. */
export function ownOpsFrom(doc, start) {
  const me = doc.agent;
  const summary = doc.summary();
  const mine = summary[me];
  if (!mine || mine[mine.length - 1][1] <= start) return [];
  const kept = mine.filter(([first]) => first < start).map(([first, end]) => [first, Math.min(end, start)]);
  if (kept.length) summary[me] = kept;
  else delete summary[me];
  return doc.opsMissingFrom(summary).filter((op) => op.agent === me);
}

function cpLen(s) {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function opSpan(op) {
  return op.kind === "ins" ? cpLen(op.content) : op.length;
}

/** The lowest seq of `ops` (`otherwise` if there are none). */
function minSeq(ops, otherwise) {
  let low = Infinity;
  for (const op of ops) if (op.seq < low) low = op.seq;
  return low === Infinity ? otherwise : low;
}

/** Bytes of `s` in UTF-8 (well-formed text). */
function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 1; // a pair: 2 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/**
 * Edits turning `oldText` into `newText` in code points: one delete and one insert at
 * most (common prefix and suffix kept), like Python's protocol.client.text_edits.
 */
export function textEdits(oldText, newText) {
  const a = Array.from(oldText);
  const b = Array.from(newText);
  const n = Math.min(a.length, b.length);
  let start = 0;
  while (start < n && a[start] === b[start]) start++;
  let end = 0;
  while (end < n - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  const edits = [];
  if (a.length - end > start) edits.push({ kind: "del", pos: start, length: a.length - end - start });
  if (b.length - end > start) edits.push({ kind: "ins", pos: start, text: b.slice(start, b.length - end).join("") });
  return edits;
}

// -- ops under a byte budget ---------------------------------------------------------

/**
 * `op` as two ops with the same effect: its first `k` single-character ops (seqs
 * seq .. seq+k-1) and the rest (from seq+k, made on top of (agent, seq+k-1)).
 * 0 < k < the op's span.
 */
export function splitOp(op, k) {
  const span = opSpan(op);
  if (!(Number.isInteger(k) && k > 0 && k < span)) throw new RangeError(`cannot split an op of span ${span} at ${k}`);
  const { agent, seq, time = 0 } = op;
  const rest = [[agent, seq + k - 1]];
  if (op.kind === "ins") {
    const chars = Array.from(op.content);
    const head = chars.slice(0, k).join("");
    const tail = chars.slice(k).join("");
    return [
      { agent, seq, parents: op.parents, kind: "ins", pos: op.pos, content: head, length: k, fwd: true, time },
      { agent, seq: seq + k, parents: rest, kind: "ins", pos: op.pos + k, content: tail, length: span - k, fwd: true, time },
    ];
  }
  if (op.fwd !== false) {
    // every op deleted the character at pos
    return [
      { agent, seq, parents: op.parents, kind: "del", pos: op.pos, content: "", length: k, fwd: true, time },
      { agent, seq: seq + k, parents: rest, kind: "del", pos: op.pos, content: "", length: span - k, fwd: true, time },
    ];
  }
  // Backspace: op i deleted pos + length - 1 - i, so the first k are the end of the range.
  return [
    { agent, seq, parents: op.parents, kind: "del", pos: op.pos + span - k, content: "", length: k, fwd: false, time },
    { agent, seq: seq + k, parents: rest, kind: "del", pos: op.pos, content: "", length: span - k, fwd: false, time },
  ];
}

const agentCost = (agent) => utf8Length(agent) + AGENT_OVERHEAD;
const metaCost = (op) => OP_OVERHEAD + PARENT_OVERHEAD * op.parents.length;
const namesOf = (op) => new Set([op.agent, ...op.parents.map((p) => p[0])]);

// `op`, an insert cut so that each piece's text is at most `room` bytes of UTF-8 (at
// least one character per piece).
function* pieces(op, room) {
  if (op.kind !== "ins" || utf8Length(op.content) <= room) {
    yield op;
    return;
  }
  const { agent, seq, pos, time = 0 } = op;
  let parents = op.parents;
  let c = 0; // code points already cut off
  let piece = "";
  let k = 0;
  let bytes = 0;
  const emit = () => {
    const out = { agent, seq: seq + c, parents, kind: "ins", pos: pos + c, content: piece, length: k, fwd: true, time };
    c += k;
    parents = [[agent, seq + c - 1]];
    piece = "";
    k = 0;
    bytes = 0;
    return out;
  };
  for (const ch of op.content) {
    const b = ch.length === 2 ? 4 : utf8Length(ch);
    if (k > 0 && bytes + b > room) yield emit();
    piece += ch;
    k++;
    bytes += b;
  }
  if (k) yield emit();
}

/**
 * `ops` in chunks of at most `maxOps` ops whose OPS frame is at most `maxFrame` bytes
 * (by an upper bound on the encoding; long inserts are cut).  A port of Python's
 * protocol.client._batches.
 */
export function opBatches(ops, maxOps, maxFrame) {
  const budget = maxFrame - OPS_OVERHEAD - PATCH_OVERHEAD;
  const out = [];
  let chunk = [];
  let agents = new Set();
  let size = 0;
  for (const op of ops) {
    let fixed = metaCost(op);
    for (const n of namesOf(op)) fixed += agentCost(n);
    for (const piece of pieces(op, Math.max(budget - fixed, 1))) {
      const names = namesOf(piece);
      let cost = metaCost(piece) + (piece.kind === "ins" ? utf8Length(piece.content) : 0);
      let fresh = [...names].filter((n) => !agents.has(n));
      let total = cost + fresh.reduce((s, n) => s + agentCost(n), 0);
      if (chunk.length && (chunk.length >= maxOps || size + total > budget)) {
        out.push(chunk);
        chunk = [];
        agents = new Set();
        size = 0;
        fresh = [...names];
        total = cost + fresh.reduce((s, n) => s + agentCost(n), 0);
      }
      chunk.push(piece);
      for (const n of fresh) agents.add(n);
      size += total;
    }
  }
  if (chunk.length) out.push(chunk);
  return out;
}

// -- the journal and replacement replicas --------------------------------------------

// The text of `doc` without the ops `own` (our agent's ops the server lacks: no other
// op of `doc` is made on top of them).
function textWithout(doc, own) {
  if (!own.length) return doc.text;
  const me = own[0].agent;
  const runs = own.map((op) => [op.seq, op.seq + opSpan(op)]);
  const inside = ([agent, seq]) => agent === me && runs.some(([s, e]) => s <= seq && seq < e);
  const heads = doc.version().filter((id) => !inside(id));
  for (const op of own) for (const p of op.parents) if (!inside(p)) heads.push(p);
  return doc.textAt(heads);
}

// Record `change` (deletes carrying their text) in `journal` as local edits.
function feed(journal, change) {
  let pos = 0;
  for (const c of change.ops) {
    if (c.type === "retain") pos += c.length;
    else if (c.type === "delete") journal.local(pos, c.text, "");
    else {
      journal.local(pos, "", c.text);
      pos += c.length;
    }
  }
}

function applyLocal(doc, edits) {
  for (const e of edits) {
    if (e.kind === "ins") doc.insert(e.pos, e.text);
    else doc.delete(e.pos, e.length);
  }
}

export class ClientSession {
  /**
   * @param {import('../engine/index.js').Document} doc the replica (outlives the session)
   * @param {string} docId
   * @param {object} [options]
   * @param {string} [options.user] @param {string} [options.colour] presence
   * @param {boolean} [options.readOnly] ask to be a viewer
   * @param {number} [options.maxBatchOps] at most this many ops per OPS frame
   * @param {number} [options.maxFrameBytes] at most this many bytes per OPS frame (>= MIN_FRAME_BYTES)
   * @param {number} [options.maxPatchBytes] @param {number} [options.maxDocumentBytes] the largest
   *   (inflated) patch and document accepted from the server
   * @param {import('./journal.js').Journal|null} [options.journal] the user's unconfirmed edits
   * @param {Array<[number, number]>} [options.sentRanges] [first, end) seqs of the ops each flush
   *   sent for the first time (the journal segments it tagged), ascending, while not known to be
   *   on the server; kept across sessions like the journal
   * @param {() => string} [options.viewText] the text the user sees (default: the replica's)
   * @param {boolean} [options.fresh] join asking for the server's whole document and replace
   *   the replica with it (event "recovered")
   * @param {number} [options.seqFloor] our ops get seqs from here on at least (seqs a replaced
   *   replica used)
   * @param {boolean} [options.holdOwn] never send our own ops (the server cannot take them):
   *   they stay in the document, like a viewer's
   */
  constructor(
    doc,
    docId,
    {
      user = "",
      colour = "",
      readOnly = false,
      maxBatchOps = 512,
      maxFrameBytes = DEFAULT_FRAME_BYTES,
      maxPatchBytes = MAX_PATCH_BYTES,
      maxDocumentBytes = MAX_DOCUMENT_BYTES,
      journal = null,
      sentRanges = [],
      viewText = null,
      fresh = false,
      seqFloor = 0,
      holdOwn = false,
    } = {},
  ) {
    if (!(maxBatchOps >= 1)) throw new RangeError("maxBatchOps must be at least 1");
    if (!(Number.isInteger(maxFrameBytes) && maxFrameBytes >= MIN_FRAME_BYTES)) {
      throw new RangeError(`maxFrameBytes must be an integer of at least ${MIN_FRAME_BYTES}`);
    }
    if (!(Number.isInteger(seqFloor) && seqFloor >= 0 && seqFloor <= MAX_SEQ_END)) {
      throw new RangeError(`seqFloor must be an integer in 0..${MAX_SEQ_END}`);
    }
    this.doc = doc;
    this.docId = docId;
    this.user = user;
    this.colour = colour;
    this.readOnly = readOnly;
    this.maxBatchOps = maxBatchOps;
    this.maxFrameBytes = maxFrameBytes;
    this.maxPatchBytes = maxPatchBytes;
    this.maxDocumentBytes = maxDocumentBytes;
    this.journal = journal;
    this.sentRanges = sentRanges;
    this.viewText = viewText;
    this.fresh = fresh;
    this.seqFloor = seqFloor;
    this.holdOwn = holdOwn;
    doc.reserveSeqs(seqFloor);
    this.role = null; // known after WELCOME
    this.serverVersion = null; // the server's version at WELCOME / the latest ACK
    this.closed = false; // an ERROR, or a protocol failure: reconnect with a new session
    this.refusal = null; // the ERROR that ended the session
    this.refusedBytes = 0; // bytes of the OPS frame that ERROR was about (or the largest in flight)
    this.unacked = new Map(); // batch id -> [firstSeq, endSeq] of our ops in it
    this.unsendable = []; // other agents' ops the server lacks (it would refuse them from us)
    this.presence = new Map(); // others' presence by agent
    this.resyncs = 0;
    this._sizes = new Map(); // batch id -> bytes of its OPS frame, while in flight
    this._joined = false;
    this._welcomed = false;
    this._localOnly = false; // some of our ops can never be sent (viewer, held)
    this._ownEnd = 0; // our agent's next seq when ops were last flushed
    this._flushed = null; // the document's version then
    this._nextBatch = 1;
    this._staleBelow = 0; // batches below this id were sent before a RESYNC replaced the replica
    this._out = [];
  }

  get welcomed() {
    return this._welcomed;
  }

  get canWrite() {
    return roleCanWrite(this.role);
  }

  /** What to do now that the server refused something (null: no refusal). */
  get recovery() {
    return this.refusal === null ? null : recoveryFor(this.refusal);
  }

  /** Bytes of the largest OPS frame not acknowledged yet (0: none). */
  get largestInFlight() {
    let n = 0;
    for (const size of this._sizes.values()) n = Math.max(n, size);
    return n;
  }

  /**
   * Whether, as far as this session knows, the server has every op of the document
   * (joined; nothing in flight; no local edit unsent; nothing it lacks): the
   * document's version is then one of the server's, and a DIGEST of it is allowed.
   */
  get inSync() {
    if (!this._welcomed || this.closed || this.unacked.size || this.unsendable.length || this._localOnly) {
      return false;
    }
    return nextOwnSeq(this.doc) === this._ownEnd;
  }

  /** Whether local edits exist that flush() has not sent yet. */
  get dirty() {
    return nextOwnSeq(this.doc) !== this._ownEnd;
  }

  /** Queue the JOIN (the first frame of every connection; a fresh one carries no summary). */
  join() {
    if (this._joined) throw new Error("join() was already called on this session");
    this._joined = true;
    this._out.push(
      encodeFrame({
        type: "join",
        docId: this.docId,
        agent: this.doc.agent,
        readOnly: this.readOnly,
        fresh: this.fresh,
        summary: this.fresh ? {} : this.doc.summary(),
      }),
    );
  }

  /** The frames to send, in order (and forget them). */
  dataToSend() {
    const out = this._out;
    this._out = [];
    return out;
  }

  // -- outgoing ------------------------------------------------------------------

  /**
   * Queue OPS for local edits not sent yet; returns how many batches.  Does nothing
   * before WELCOME, for viewers, or once closed: the edits stay in the document and
   * the next session sends them.
   */
  flush() {
    if (!this._welcomed || this.closed) return 0;
    const doc = this.doc;
    if (nextOwnSeq(doc) === this._ownEnd) return 0;
    const ops =
      typeof doc.opsSince === "function" && this._flushed !== null
        ? doc.opsSince(this._flushed).filter((op) => op.agent === doc.agent)
        : ownOpsFrom(doc, this._ownEnd);
    return this._sendOps(ops);
  }

  _sendOps(ops) {
    this._ownEnd = nextOwnSeq(this.doc);
    this._flushed = this.doc.version();
    const send = this.canWrite && !this.holdOwn;
    if (ops.length && !send) this._localOnly = true; // a viewer's (or held) edits stay local
    if (!ops.length || !send) return 0;
    let n = 0;
    for (const chunk of opBatches(ops, this.maxBatchOps, this.maxFrameBytes)) {
      for (const [patch, first, end] of this._patches(chunk)) {
        const batchId = this._nextBatch++;
        this.unacked.set(batchId, [first, end]);
        const frame = encodeFrame({ type: "ops", batchId, patch });
        this._out.push(frame);
        this._sizes.set(batchId, frame.length);
        n++;
      }
    }
    this.journal?.flushed(this._ownEnd);
    // The range of the ops this flush sent for the first time: exactly the journal
    // segments it just tagged.  A resend (WELCOME's summary exchange) also carries ops
    // of earlier flushes, which have ranges of their own: a range starting at the
    // resend's lowest seq would swallow their boundaries, and _retype would take a
    // server holding exactly the earlier flushes for one holding part of a segment.
    const ranges = this.sentRanges;
    const first = Math.max(minSeq(ops), ranges.length ? ranges[ranges.length - 1][1] : 0);
    if (first < this._ownEnd) ranges.push([first, this._ownEnd]);
    return n;
  }

  // [patch, first seq, end seq] for `chunk`: halved while its frame would be over the
  // budget (the bound opBatches uses makes that a safety net).
  _patches(chunk) {
    const patch = encodePatch(chunk);
    if (patch.length + OPS_OVERHEAD > this.maxFrameBytes && chunk.length > 1) {
      const half = chunk.length >> 1;
      return [...this._patches(chunk.slice(0, half)), ...this._patches(chunk.slice(half))];
    }
    let end = 0;
    for (const op of chunk) end = Math.max(end, op.seq + opSpan(op));
    return [[patch, minSeq(chunk), end]];
  }

  /** Queue this client's presence: a selection (anchor, head Positions), a caret, or none (null). */
  setCursor(anchor, head = null) {
    const cursor = anchor === null || anchor === undefined ? null : [anchor.encode(), (head ?? anchor).encode()];
    this._out.push(
      encodeFrame({ type: "presence", agent: this.doc.agent, user: this.user, colour: this.colour, cursor, gone: false }),
    );
  }

  ping(nonce = 0) {
    this._out.push(encodeFrame({ type: "ping", nonce }));
  }

  /**
   * Queue a DIGEST of the text if inSync (else nothing); resolves true if queued.
   * Hashing is asynchronous (WebCrypto): if the document changed meanwhile, nothing
   * is sent.  Call it when idle; the server ignores digests that come too often.
   */
  async sendDigest() {
    if (!this.inSync) return false;
    const doc = this.doc;
    const version = doc.version();
    const digest = await textDigest(doc.text);
    if (this.doc !== doc || !this.inSync || !sameVersion(doc.version(), version)) return false;
    this._out.push(encodeFrame({ type: "digest", version, digest }));
    return true;
  }

  // -- incoming ------------------------------------------------------------------

  /** Handle one frame from the server; never throws on bad input. */
  receive(data) {
    if (this.closed) return [];
    let msg;
    try {
      msg = decodeFrame(data instanceof Uint8Array ? data : new Uint8Array(data));
    } catch (exc) {
      return this._fail(`bad frame from the server: ${exc.message}`);
    }
    try {
      return this._handle(msg);
    } catch (exc) {
      if (exc instanceof EngineError) {
        // the server's ops do not merge: our replica is intact (all-or-nothing)
        return this._fail(`could not apply the server's ops: ${exc.message}`);
      }
      throw exc;
    }
  }

  _fail(message) {
    this.closed = true;
    return [{ type: "failure", message }];
  }

  _handle(msg) {
    if (msg.type === "welcome") {
      if (this._welcomed) return this._fail("a second WELCOME");
      return this.fresh ? this._welcomeFresh(msg) : this._welcome(msg);
    }
    if (msg.type === "resync" && this._welcomed) return this._resync(msg);
    if (msg.type === "error") return this._error(msg);
    if (!this._welcomed) return this._fail(`${msg.type.toUpperCase()} before WELCOME`);
    switch (msg.type) {
      case "remote_ops":
        return [{ type: "remote", edits: this.doc.applyPatch(msg.patch, { maxBytes: this.maxPatchBytes }) }];
      case "ack": {
        const sent = this.unacked.get(msg.batchId);
        if (sent === undefined) return this._fail(`ACK for unknown batch ${msg.batchId}`);
        this.unacked.delete(msg.batchId);
        this._sizes.delete(msg.batchId);
        this.serverVersion = msg.version;
        this._confirmed(sent[1]);
        return [{ type: "acked", batchId: msg.batchId, version: msg.version }];
      }
      case "presence":
        if (msg.gone) this.presence.delete(msg.agent);
        else this.presence.set(msg.agent, msg);
        return [{ type: "presence", presence: msg }];
      case "ping":
        this._out.push(encodeFrame({ type: "pong", nonce: msg.nonce }));
        return [];
      case "pong":
        return [{ type: "pong", nonce: msg.nonce }];
      case "comments":
        return [{ type: "comments", revision: msg.revision }];
      case "suggestions":
        return [{ type: "suggestions", revision: msg.revision }];
      default:
        return this._fail(`a server may not send ${msg.type.toUpperCase()}`);
    }
  }

  // The server holds every op of ours below `seqEnd`.
  _confirmed(seqEnd) {
    this.journal?.confirmed(seqEnd);
    const kept = this.sentRanges.filter(([, end]) => end > seqEnd);
    this.sentRanges.splice(0, this.sentRanges.length, ...kept);
  }

  _error(msg) {
    if (msg.batchId !== null && msg.batchId !== undefined) {
      const sent = this.unacked.get(msg.batchId);
      const size = this._sizes.get(msg.batchId) ?? 0;
      this.unacked.delete(msg.batchId);
      this._sizes.delete(msg.batchId);
      if (sent !== undefined && msg.batchId < this._staleBelow && !msg.fatal) {
        // Sent before a RESYNC replaced the replica: its ops were re-added (and sent
        // again, where a real refusal shows) or typed again as new ops.
        return [];
      }
      this.refusedBytes = size;
    } else {
      this.refusedBytes = this.largestInFlight; // a frame dropped whole (rate limit, frame size)
    }
    this.closed = true;
    this.refusal = msg;
    return [{ type: "error", error: msg, recovery: recoveryFor(msg) }];
  }

  _welcome(msg) {
    const doc = this.doc;
    const edits = doc.applyPatch(msg.patch, { maxBytes: this.maxPatchBytes });
    this.role = msg.role;
    this.serverVersion = msg.version;
    // What the server lacks, from its summary: our own ops we send; others' ops
    // it would refuse from us (they are someone else's to send).
    const lacking = doc.opsMissingFrom(msg.summary);
    const me = doc.agent;
    const own = lacking.filter((op) => op.agent === me);
    this.unsendable = lacking.filter((op) => op.agent !== me);
    // The server holds every op of ours below the first it lacks.
    this._confirmed(minSeq(own, nextOwnSeq(doc)));
    this._welcomed = true;
    this._sendOps(own);
    return [{ type: "welcomed", role: msg.role, version: msg.version, edits }];
  }

  // Replace the replica with the server's document; type the unconfirmed edits again.
  _welcomeFresh(msg) {
    const old = this.doc;
    const me = old.agent;
    const fresh = old.constructor.decode(msg.patch, me, { maxBytes: this.maxDocumentBytes, clock: old.clock });
    const serverVersion = fresh.version();
    if (!sameVersion(serverVersion, msg.version)) return this._fail("a fresh WELCOME whose version is not its document's");
    this.role = msg.role;
    this.serverVersion = msg.version;
    const own = old.opsMissingFrom(fresh.summary()).filter((op) => op.agent === me);
    const [edits, retyped] = this._addById(old, fresh, own) ?? this._retype(old, fresh, own);
    this.doc = fresh;
    this.unsendable = [];
    this._welcomed = true;
    this._sendOps(fresh.opsSince(serverVersion).filter((op) => op.agent === me));
    return [{ type: "recovered", role: msg.role, version: msg.version, doc: fresh, edits, retyped, seqFloor: this.seqFloor }];
  }

  // Replace the document with the server's; keep (and resend) our ops it lacks.
  _resync(msg) {
    const old = this.doc;
    const me = old.agent;
    const view = this._view(old);
    // The new replica keeps the old one's clock (op times; tests fix it).
    const fresh = old.constructor.decode(msg.document, me, { maxBytes: this.maxDocumentBytes, clock: old.clock });
    if (!sameVersion(fresh.version(), msg.version)) return this._fail("a RESYNC whose version is not its document's");
    fresh.reserveSeqs(this.seqFloor);
    const serverSummary = fresh.summary();
    const missing = old.opsMissingFrom(serverSummary);
    // Edits the replica never took (journal segments not in it) can only be typed again.
    const fits = !(this.journal?.segments ?? []).some((s) => s.pinned);
    let edits;
    let retyped = false;
    try {
      if (!fits) throw new EngineError("the journal holds edits the replica never took");
      fresh.addOps(missing); // all-or-nothing: on failure `fresh` is the server's copy
      edits = diff(view, fresh.text).toEdits(); // every edit of the user is in both texts
    } catch (exc) {
      if (!(exc instanceof EngineError)) throw exc;
      if (this.unacked.size) {
        // Our ops do not fit, and batches are in flight: the server may still take some
        // of them, which typing the edits again here would double.  A fresh JOIN sees
        // what it took.
        this.closed = true;
        return [{ type: "unfit", message: `our edits do not fit the server's copy (${exc.message})` }];
      }
      // Our ops do not fit the server's history (they were made on a text that was
      // wrong) and none is in flight: type the user's edits again as new ops.
      const own = missing.filter((op) => op.agent === me);
      const others = missing.filter((op) => op.agent !== me);
      if (others.length) {
        try {
          fresh.addOps(others);
        } catch (err) {
          if (!(err instanceof EngineError)) throw err; // someone else's to send
        }
      }
      [edits] = this._retype(old, fresh, own);
      retyped = true;
    }
    const lacking = fresh.opsMissingFrom(serverSummary);
    this.doc = fresh;
    this.unsendable = lacking.filter((op) => op.agent !== me);
    this._localOnly = false;
    this.serverVersion = msg.version;
    this._staleBelow = this._nextBatch;
    this.resyncs++;
    // Batches in flight keep their ids: their ACKs still come.  What the server lacks
    // is sent again (ops it already has are accepted silently).
    this._sendOps(lacking.filter((op) => op.agent === me));
    return [{ type: "resynced", version: msg.version, doc: fresh, edits, retyped, seqFloor: this.seqFloor }];
  }

  _view(doc) {
    return this.viewText ? this.viewText() : doc.text;
  }

  // Our ops the server lacks, added to its copy as they are, when they fit it:
  // exactly what was typed, where it was typed (the engine places them; no text is
  // re-aligned), however the server came to hold some of them.  Edits the replica never
  // took (the journal's pinned segments, typed while it was suspect) are then typed
  // again on top, from the journal: they are exact too, and rebasing only them lets no
  // diff stand in for what our ops did.  Returns [edits turning the text the user sees
  // into fresh's new text, the edits made on fresh], or null if our ops do not fit (then
  // everything is typed again from the journal, _retype).
  _addById(old, fresh, own) {
    if (!own.length) return null;
    const segments = this.journal?.segments ?? [];
    const firstPinned = segments.findIndex((s) => s.pinned);
    let pinned = null;
    if (firstPinned >= 0) {
      // Edits become pinned once the replica is suspect, and stay so until it is
      // replaced: any in-replica edit after a pinned one is not an order this knows.
      if (segments.slice(firstPinned).some((s) => !s.pinned)) return null;
      pinned = new Journal();
      for (const s of segments.slice(firstPinned)) feed(pinned, s.change);
    }
    const view = this._view(old);
    if (pinned !== null) {
      try {
        pinned.base(view);
      } catch (exc) {
        if (!(exc instanceof ChangeMismatchError)) throw exc;
        return null; // the journal does not fit the text the user sees
      }
    }
    const server = fresh.text;
    let added;
    try {
      added = fresh.addOps(own); // all-or-nothing
    } catch (exc) {
      if (!(exc instanceof EngineError)) throw exc;
      return null;
    }
    this.seqFloor = Math.max(this.seqFloor, nextOwnSeq(old));
    fresh.reserveSeqs(this.seqFloor);
    this.sentRanges.length = 0; // the old replica's ops are gone with it
    let typed = [];
    const withOps = fresh.text;
    if (pinned !== null) {
      // Their base is the text the user saw without them: what our ops (and the
      // others' the user saw) made; the server's text now has ours and every other's.
      typed = pinned.rebase(view, withOps).onServer;
      applyLocal(fresh, typed);
    }
    if (this.journal) {
      // What is unconfirmed now is exactly what these ops, then the edits typed again,
      // did to the server's text.
      this.journal = new Journal();
      feed(this.journal, fromEdits(added, server));
      feed(this.journal, fromEdits(typed, withOps));
    }
    return [diff(view, fresh.text).toEdits(), [...added, ...typed]];
  }

  // Type the user's unconfirmed edits again on `fresh` (the server's copy, which has
  // none of `own`, our ops of `old` it lacks), as new local ops with seqs `old` never
  // used.  Returns [edits turning the text the user sees into fresh's new text, the
  // edits made on fresh]; the journal then holds the latter.
  _retype(old, fresh, own) {
    const floor = Math.max(this.seqFloor, nextOwnSeq(old));
    fresh.reserveSeqs(floor);
    this.seqFloor = floor;
    const view = this._view(old);
    const server = fresh.text;
    let rebased = null;
    const journal = this.journal;
    // The server holds our ops below `held`.  A flush sent in several batches, of which
    // the server took some, left a journal segment partly on the server: its edits can
    // only be told apart by our ops, so then those say what is unconfirmed.
    const held = minSeq(own, floor);
    const partial = this.sentRanges.some(([first, end]) => first < held && held < end);
    this.sentRanges.length = 0; // the old replica's ops are gone with it
    if (journal && !partial) {
      journal.confirmed(held);
      try {
        rebased = journal.rebase(view, server);
      } catch (exc) {
        if (!(exc instanceof ChangeMismatchError)) throw exc;
        rebased = null; // the journal does not fit the text the user sees: use our ops
      }
    }
    if (rebased === null) {
      // No journal, one partly on the server, or one that does not fit: the
      // unconfirmed edits are what our ops the server lacks did to the text the user
      // sees (the text they typed the engine refused included).
      const derived = new Journal();
      feed(derived, diff(textWithout(old, own), view));
      rebased = derived.rebase(view, server);
      if (journal) {
        this.journal = new Journal();
        feed(this.journal, fromEdits(rebased.onServer, server));
      }
    }
    applyLocal(fresh, rebased.onServer);
    return [rebased.onView, rebased.onServer];
  }
}
