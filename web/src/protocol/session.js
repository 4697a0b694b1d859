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
// Events returned by receive() (plain objects, `type` first):
//   {type: "welcomed", role, version, edits}   joined; edits brought the text up to the server's
//   {type: "remote", edits}                     another connection's ops were merged
//   {type: "acked", batchId, version}           a batch is durable on the server
//   {type: "presence", presence}                another connection's cursor/name (or gone)
//   {type: "error", error}                      the server refused something (error.fatal: it closes)
//   {type: "pong", nonce}
//   {type: "resynced", version, doc, edits, retyped}
//                                               our text differed from the server's; `doc` is the
//                                               new Document (session.doc too); edits turn the
//                                               old text into the new one
//   {type: "failure", message}                  the server sent something unusable: reconnect
// `edits` are engine XfOps: {kind: "ins", pos, text} | {kind: "del", pos, length}, code points.
import { EngineError, encodePatch } from "../engine/index.js";
import { decodeFrame, encodeFrame, textDigest as textDigestSync } from "./messages.js";

// How large a patch or document from the server may be once inflated, in bytes: a
// deflated body states its inflated size, so anything larger is refused
// (TooLargeError, ending the session) before it is inflated.  Generous on purpose:
// they only stop a hostile or broken server from making the tab inflate gigabytes.
// 256 MiB of CWD/CWP body is a history far beyond any real text (the 260k edits of
// the automerge-paper trace encode to under 100 KiB); the WELCOME patch may carry a
// whole history too, so patches get the same bound.
export const MAX_DOCUMENT_BYTES = 256 * 2 ** 20;
export const MAX_PATCH_BYTES = 256 * 2 ** 20;

export const ROLE_OWNER = 0;
export const ROLE_EDITOR = 1;
export const ROLE_VIEWER = 2;

/** Whether a role (a number, or a name) may write. */
export function roleCanWrite(role) {
  return role !== null && role !== undefined && role !== ROLE_VIEWER && role !== "viewer";
}

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

// Make `ops` (our own, causal order) again as new ops of doc's agent from `seq` on,
// one after the other on top of `doc`, positions clamped to its text.
function retype(doc, ops, seq) {
  const me = doc.agent;
  let length = doc.length;
  let parents = doc.version();
  const out = [];
  for (const op of ops) {
    const pos = Math.min(op.pos, length);
    let made;
    if (op.kind === "ins") {
      const n = cpLen(op.content);
      made = { agent: me, seq, parents, kind: "ins", pos, content: op.content, length: n, fwd: true, time: op.time ?? 0 };
      length += n;
    } else {
      const n = Math.min(op.length, length - pos);
      if (n <= 0) continue;
      made = { agent: me, seq, parents, kind: "del", pos, content: "", length: n, fwd: true, time: op.time ?? 0 };
      length -= n;
    }
    out.push(made);
    seq += made.length;
    parents = [[me, seq - 1]];
  }
  doc.addOps(out);
}

export class ClientSession {
  /**
   * @param {import('../engine/index.js').Document} doc the replica (outlives the session)
   * @param {string} docId
   * @param {{user?: string, colour?: string, readOnly?: boolean, maxBatchOps?: number,
   *   maxPatchBytes?: number, maxDocumentBytes?: number}} options
   *   maxPatchBytes / maxDocumentBytes: the largest (inflated) patch and RESYNC
   *   document accepted from the server (defaults MAX_PATCH_BYTES, MAX_DOCUMENT_BYTES)
   */
  constructor(
    doc,
    docId,
    {
      user = "",
      colour = "",
      readOnly = false,
      maxBatchOps = 512,
      maxPatchBytes = MAX_PATCH_BYTES,
      maxDocumentBytes = MAX_DOCUMENT_BYTES,
    } = {},
  ) {
    if (!(maxBatchOps >= 1)) throw new RangeError("maxBatchOps must be at least 1");
    this.doc = doc;
    this.docId = docId;
    this.user = user;
    this.colour = colour;
    this.readOnly = readOnly;
    this.maxBatchOps = maxBatchOps;
    this.maxPatchBytes = maxPatchBytes;
    this.maxDocumentBytes = maxDocumentBytes;
    this.role = null; // known after WELCOME
    this.serverVersion = null; // the server's version at WELCOME / the latest ACK
    this.closed = false; // fatal error or protocol failure: reconnect with a new session
    this.unacked = new Map(); // batch id -> [firstSeq, endSeq] of our ops in it
    this.unsendable = []; // other agents' ops the server lacks (it would refuse them from us)
    this.presence = new Map(); // others' presence by agent
    this.resyncs = 0;
    this._joined = false;
    this._welcomed = false;
    this._localOnly = false; // some of our ops can never be sent (viewer, refused batch)
    this._ownEnd = 0; // our agent's next seq when ops were last flushed
    this._flushed = null; // the document's version then
    this._nextBatch = 1;
    this._out = [];
  }

  get welcomed() {
    return this._welcomed;
  }

  get canWrite() {
    return roleCanWrite(this.role);
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

  /** Queue the JOIN (the first frame of every connection). */
  join() {
    if (this._joined) throw new Error("join() was already called on this session");
    this._joined = true;
    this._out.push(
      encodeFrame({
        type: "join",
        docId: this.docId,
        agent: this.doc.agent,
        readOnly: this.readOnly,
        summary: this.doc.summary(),
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
    if (ops.length && !this.canWrite) this._localOnly = true; // a viewer's edits stay local
    if (!ops.length || !this.canWrite) return 0;
    let n = 0;
    for (let i = 0; i < ops.length; i += this.maxBatchOps) {
      const chunk = ops.slice(i, i + this.maxBatchOps);
      const batchId = this._nextBatch++;
      const first = Math.min(...chunk.map((op) => op.seq));
      const end = Math.max(...chunk.map((op) => op.seq + opSpan(op)));
      this.unacked.set(batchId, [first, end]);
      this._out.push(encodeFrame({ type: "ops", batchId, patch: encodePatch(chunk) }));
      n++;
    }
    return n;
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
      const edits = this.doc.applyPatch(msg.patch, { maxBytes: this.maxPatchBytes });
      this.role = msg.role;
      this.serverVersion = msg.version;
      // What the server lacks, from its summary: our own ops we send; others' ops
      // it would refuse from us (they are someone else's to send).
      const lacking = this.doc.opsMissingFrom(msg.summary);
      const me = this.doc.agent;
      this.unsendable = lacking.filter((op) => op.agent !== me);
      this._welcomed = true;
      this._sendOps(lacking.filter((op) => op.agent === me));
      return [{ type: "welcomed", role: msg.role, version: msg.version, edits }];
    }
    if (msg.type === "resync" && this._welcomed) return this._resync(msg);
    if (!this._welcomed) {
      if (msg.type === "error") {
        if (msg.fatal) this.closed = true;
        return [{ type: "error", error: msg }];
      }
      return this._fail(`${msg.type.toUpperCase()} before WELCOME`);
    }
    switch (msg.type) {
      case "remote_ops":
        return [{ type: "remote", edits: this.doc.applyPatch(msg.patch, { maxBytes: this.maxPatchBytes }) }];
      case "ack":
        if (!this.unacked.delete(msg.batchId)) return this._fail(`ACK for unknown batch ${msg.batchId}`);
        this.serverVersion = msg.version;
        return [{ type: "acked", batchId: msg.batchId, version: msg.version }];
      case "presence":
        if (msg.gone) this.presence.delete(msg.agent);
        else this.presence.set(msg.agent, msg);
        return [{ type: "presence", presence: msg }];
      case "error":
        if (msg.batchId !== null && msg.batchId !== undefined) {
          this.unacked.delete(msg.batchId); // refused for good: resending cannot help
          this._localOnly = true;
        }
        if (msg.fatal) this.closed = true;
        return [{ type: "error", error: msg }];
      case "ping":
        this._out.push(encodeFrame({ type: "pong", nonce: msg.nonce }));
        return [];
      case "pong":
        return [{ type: "pong", nonce: msg.nonce }];
      default:
        return this._fail(`a server may not send ${msg.type.toUpperCase()}`);
    }
  }

  // Replace the document with the server's; keep (and resend) our ops it lacks.
  _resync(msg) {
    const old = this.doc;
    const me = old.agent;
    const fresh = old.constructor.decode(msg.document, me, { maxBytes: this.maxDocumentBytes });
    if (!sameVersion(fresh.version(), msg.version)) return this._fail("a RESYNC whose version is not its document's");
    const serverSummary = fresh.summary();
    const missing = old.opsMissingFrom(serverSummary);
    let retyped = false;
    try {
      fresh.addOps(missing); // all-or-nothing: on failure `fresh` is the server's copy
    } catch (exc) {
      if (!(exc instanceof EngineError)) throw exc;
      // Our ops do not fit the server's history (they were made on a text that was
      // wrong): type them again as new ops, with seqs the old replica never used.
      const own = missing.filter((op) => op.agent === me);
      retype(fresh, own, nextOwnSeq(old));
      retyped = own.length > 0;
    }
    const lacking = fresh.opsMissingFrom(serverSummary);
    this.doc = fresh;
    this.unsendable = lacking.filter((op) => op.agent !== me);
    this._localOnly = false;
    this.serverVersion = msg.version;
    this.resyncs++;
    // Batches in flight keep their ids: their ACKs still come.  What the server lacks
    // is sent again (ops it already has are accepted silently).
    this._sendOps(lacking.filter((op) => op.agent === me));
    return [{ type: "resynced", version: msg.version, doc: fresh, edits: textEdits(old.text, fresh.text), retyped }];
  }
}
