// The public face of the JS engine: one replica of a text document.
//
// A port of src/cowrite/engine/document.py.  A Document is its op log (every op
// it knows) plus a branch: the current text at the op log's heads.  Local edits
// are recorded and applied at once; remote ops are validated, appended and merged
// by the Eg-walker (merge/).  Every method taking untrusted input either
// succeeds or throws an EngineError and leaves the document as it was.  Loading
// reads the stored text of a CWD snapshot: history is only walked when ops
// concurrent with it arrive.
//
// Positions are Unicode code points, as in the Python engine (CodeMirror counts
// UTF-16 units: converting is the editor's job).

import { sameFrontier } from './causalGraph.js';
import { encodePatch, readDocument, writeDocument } from './codec/index.js';
import { readPatch } from './codec/patch.js';
import { DecodeError, EngineError, InvalidOpError, UnknownParentError, UnknownVersionError } from './errors.js';
import { IdMap } from './idMap.js';
import { MAX_AGENT_LEN } from './limits.js';
import { MergeCache, directEdits, locate, mergeOps } from './merge/index.js';
import { DEL_FWD, INS, OpLog } from './oplog.js';
import { checkTime, validateOp } from './ops.js';
import { Position } from './position.js';
import { Rope } from './rope.js';
import { SummaryIds, normalizeSummary } from './summary.js';
import { codePointLength as cpLength, isWellFormed } from './utf8.js';

function randomAgent() {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function defaultClock() {
  return Date.now() / 1000;
}

function checkIndex(x) {
  return typeof x === 'number' && Number.isSafeInteger(x);
}

/** Apply transformed edits to a rope and an optional IdMap (`lvs`: first LV of each insert). */
function applyXf(rope, ids, xf, lvs) {
  let k = 0;
  for (let i = 0; i < xf.length; i++) {
    const op = xf[i];
    if (op.kind === 'ins') {
      const n = cpLength(op.text);
      rope.insert(op.pos, op.text, n);
      if (ids) ids.insert(op.pos, lvs[k++], n);
    } else {
      rope.delete(op.pos, op.length);
      if (ids) ids.delete(op.pos, op.length);
    }
  }
}

/**
 * Add ops given out of causal order, each once its parents are in: one queue per
 * agent in seq order; each round adds from every queue's head until it waits on
 * an unknown parent.  Throws UnknownParentError if some parent never arrives.
 */
function addWhenReady(oplog, ops) {
  const queues = new Map();
  for (const op of ops) {
    if (!queues.has(op.agent)) queues.set(op.agent, []);
    queues.get(op.agent).push(op);
  }
  const heads = new Map();
  for (const [a, q] of queues) {
    q.sort((x, y) => x.seq - y.seq);
    heads.set(a, 0);
  }
  let progress = true;
  while (progress) {
    progress = false;
    for (const [a, q] of queues) {
      let i = heads.get(a);
      while (i < q.length) {
        try {
          oplog.addRemote(q[i]);
        } catch (err) {
          if (err instanceof UnknownParentError) break;
          throw err;
        }
        i++;
        progress = true;
      }
      heads.set(a, i);
    }
  }
  for (const [a, q] of queues) {
    if (heads.get(a) < q.length) oplog.addRemote(q[heads.get(a)]); // throws the UnknownParentError
  }
}

/**
 * Add ops in the order given while their parents are known; from the first one
 * whose parents are not (they may come later in the batch), the rest wait for
 * their parents (addWhenReady).
 */
function addAll(oplog, ops) {
  for (let i = 0; i < ops.length; i++) {
    try {
      oplog.addRemote(ops[i]);
    } catch (err) {
      if (!(err instanceof UnknownParentError)) throw err;
      addWhenReady(oplog, ops.slice(i));
      return;
    }
  }
}

/**
 * Whether LVs `start..` form one chain on top of `heads`: the first's parents are
 * `heads`, every later LV's parent is the LV before it (Python's `_follows`).  Then
 * nothing is concurrent and the ops are the edits: no merge walk is needed.
 */
function follows(cg, start, heads) {
  const starts = cg.starts;
  let e = cg.entryOf(start);
  if (starts[e] === start ? !sameFrontier(cg.parents[e], heads) : !(heads.length === 1 && heads[0] === start - 1)) {
    return false;
  }
  for (e++; e < starts.length; e++) {
    const par = cg.parents[e];
    if (!(par.length === 1 && par[0] === starts[e] - 1)) return false;
  }
  return true;
}

/** Tests turn the direct path off to compare it with the merge walk (Python's `_DIRECT`). */
export const mergePaths = { direct: true };

/**
 * Record a local edit of `agent` as `oplog.addLocal` does, but with a seq of at least
 * `floor` (Document.reserveSeqs): past the seqs a replaced replica used.
 */
function addLocal(oplog, agent, floor, kind, pos, n, chars, parents, time) {
  if (oplog.cg.nextSeq(agent) >= floor) return oplog.addLocal(agent, kind, pos, n, chars, parents, time);
  const lv = oplog.cg.add(agent, floor, n, parents);
  oplog.pushOps(lv, kind, pos, n, chars || []);
  oplog.pushTime(lv, time);
  return lv;
}

/** One replica of a collaboratively edited text, owned by `agent`. */
export class Document {
  /**
   * @param {string} [agent] this replica's agent name (random if omitted); never
   *   share one between two replicas that edit.
   * @param {{clock?: () => number}} [options] clock: Unix time in seconds for op times.
   */
  constructor(agent, options = {}) {
    if (agent === undefined || agent === null) agent = randomAgent();
    if (typeof agent !== 'string' || !agent || cpLength(agent) > MAX_AGENT_LEN || !isWellFormed(agent)) {
      throw new InvalidOpError(`agent must be a non-empty string of at most ${MAX_AGENT_LEN} characters`);
    }
    this.agent = agent;
    this.oplog = new OpLog();
    this.rope = new Rope();
    this.branchVersion = []; // frontier (LVs) of the text
    this.ids = null; // IdMap of the text, built on first use
    this.undoHook = null; // the UndoManager recording this replica's local edits
    this.seqFloor = 0; // local ops get seqs from here at least (see reserveSeqs)
    this.observers = [];
    this.mergeCache = new MergeCache(); // walker state kept between merges
    this.clock = options.clock || defaultClock;
    checkTime(Math.floor(this.clock()));
  }

  /**
   * Load a document from CWD bytes (Document.encode, or the server's snapshot):
   * its stored text and op log, no history replay.  Throws DecodeError, or
   * TooLargeError (before inflating anything) if the body is over
   * `options.maxBytes`.
   * @param {Uint8Array|ArrayBuffer} bytes
   * @param {string} [agent]
   * @param {{clock?: () => number, maxBytes?: number|null}} [options]
   */
  static decode(bytes, agent, options = {}) {
    const { oplog, text, version } = readDocument(bytes, { maxBytes: options.maxBytes ?? null });
    const d = new Document(agent, options);
    d.oplog = oplog;
    d.rope = new Rope(text);
    d.branchVersion = version;
    if (!sameFrontier(version, oplog.cg.heads)) {
      // the stored text is behind the op log: bring it up to date once.  The codec
      // checked what it can without a replay; an op that does not fit the text is
      // found here, and it is still bad data.
      let xf;
      try {
        [xf, d.branchVersion] = mergeOps(oplog, d.rope.length, version, oplog.cg.heads);
      } catch (err) {
        if (err instanceof InvalidOpError) throw new DecodeError(`corrupt data: ${err.message}`);
        throw err;
      }
      applyXf(d.rope, null, xf, null);
    }
    return d;
  }

  // -- reading -------------------------------------------------------------------

  /** The current text. */
  get text() {
    return this.rope.toString();
  }

  /** Its length in code points. */
  get length() {
    return this.rope.length;
  }

  /** The current version: `[[agent, seq], ...]` of the op log's heads, sorted like Python's. */
  version() {
    return this.oplog.cg.frontierToRaw(this.branchVersion);
  }

  /** Every op id this replica has: `{agent: [[firstSeq, endSeq], ...]}`. */
  summary() {
    return this.oplog.cg.summary();
  }

  /** The first seq `agent` (default: this replica's) has not used in this document. */
  nextSeq(agent = this.agent) {
    return this.oplog.cg.nextSeq(agent);
  }

  /**
   * Give this replica's local edits from now on seqs `>= end`.  For a replica that
   * replaces another of the same agent (e.g. a fresh copy of the server's
   * document): seqs the old replica used for ops that never reached the server must
   * not name different ops here.
   */
  reserveSeqs(end) {
    if (!checkIndex(end) || end < 0) throw new InvalidOpError(`a seq must be a non-negative integer, not ${end}`);
    this.seqFloor = Math.max(this.seqFloor, end);
  }

  /** LVs of a raw version; throws UnknownVersionError for ids this document lacks. */
  lvsOf(version) {
    const cg = this.oplog.cg;
    if (!Array.isArray(version)) throw new UnknownVersionError('a version is a list of [agent, seq] pairs');
    const out = [];
    for (const item of version) {
      const ok = Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && checkIndex(item[1]);
      const lv = ok ? cg.rawToLv(item[0], item[1]) : -1;
      if (lv < 0) throw new UnknownVersionError(`version names ${JSON.stringify(item)}, which this document does not have`);
      out.push(lv);
    }
    return cg.reduce(out);
  }

  /** Every op this document has that is not in the history of `version` (default: all). */
  opsSince(version = []) {
    return this.oplog.opsSince(this.lvsOf(version));
  }

  /** Every op this replica has whose id is not in a peer's summary, in causal order. */
  opsMissingFrom(summary) {
    return this.oplog.opsUnknownTo(new SummaryIds(normalizeSummary(summary)));
  }

  /** CWP bytes of the ops a peer with `summary` lacks (every op when summary is null). */
  encodePatch(summary = null) {
    const ops = summary === null ? this.oplog.opsSince([]) : this.opsMissingFrom(summary);
    return encodePatch(ops);
  }

  /** The whole document (op log and current text) as CWD bytes. */
  encode() {
    return writeDocument(this.oplog, this.text, this.branchVersion);
  }

  /** The text as it was at `version` (any version this document knows): one checkout walk. */
  textAt(version) {
    const target = this.lvsOf(version);
    const rope = new Rope();
    const [xf] = mergeOps(this.oplog, 0, [], target);
    applyXf(rope, null, xf, null);
    return rope.toString();
  }

  // -- observers -----------------------------------------------------------------

  /**
   * Call `fn(event)` after every change of the text: `{origin: 'local'|'remote',
   * changes: XfOp[]}` with code-point positions, in order.  Returns an unsubscribe
   * function.
   */
  observe(fn) {
    this.observers.push(fn);
    return () => {
      this.observers = this.observers.filter((f) => f !== fn);
    };
  }

  notify(origin, changes) {
    if (!this.observers.length) return;
    for (const fn of this.observers.slice()) fn({ origin, changes });
  }

  // -- local edits ---------------------------------------------------------------

  now() {
    return checkTime(Math.floor(this.clock()));
  }

  /** Insert `text` before code point `pos`. */
  insert(pos, text) {
    const len = this.rope.length;
    if (!checkIndex(pos) || pos < 0 || pos > len) throw new InvalidOpError(`insert position ${pos} outside 0..${len}`);
    if (typeof text !== 'string') throw new InvalidOpError(`text must be a string, not ${typeof text}`);
    if (!isWellFormed(text)) throw new InvalidOpError('text contains lone surrogates; it is not valid Unicode');
    if (!text) return;
    const chars = Array.from(text);
    const n = chars.length;
    const lv = addLocal(this.oplog, this.agent, this.seqFloor, INS, pos, n, chars, this.branchVersion, this.now());
    this.rope.insert(pos, text, n);
    this.branchVersion = this.oplog.cg.heads;
    if (this.ids) this.ids.insert(pos, lv, n);
    if (this.undoHook) this.undoHook.onInsert(lv, pos, n);
    this.notify('local', [{ kind: 'ins', pos, text }]);
  }

  /** Delete `length` code points starting at `pos`. */
  delete(pos, length = 1) {
    const len = this.rope.length;
    if (!checkIndex(pos) || !checkIndex(length) || length < 0 || pos < 0 || pos + length > len) {
      throw new InvalidOpError(`delete of ${length} at ${pos} outside a ${len}-character text`);
    }
    if (!length) return;
    const parents = this.branchVersion;
    const lv = addLocal(this.oplog, this.agent, this.seqFloor, DEL_FWD, pos, length, null, parents, this.now());
    const deleted = this.rope.delete(pos, length);
    this.branchVersion = this.oplog.cg.heads;
    const ids = this.ids;
    if (ids) {
      const runs = ids.delete(pos, length);
      if (this.undoHook) {
        const left = pos ? ids.lvAt(pos - 1) : -1;
        const right = pos < ids.length ? ids.lvAt(pos) : -1;
        this.undoHook.onDelete(lv, parents, pos, deleted, runs, left, right);
      }
    }
    this.notify('local', [{ kind: 'del', pos, length }]);
  }

  /** Delete `length` code points at `pos` and insert `text` there. */
  replace(pos, length, text) {
    const len = this.rope.length;
    if (!checkIndex(pos) || !checkIndex(length) || length < 0 || pos < 0 || pos + length > len) {
      throw new InvalidOpError(`replace of ${length} at ${pos} outside a ${len}-character text`);
    }
    if (typeof text !== 'string' || !isWellFormed(text)) throw new InvalidOpError('text must be a valid Unicode string');
    this.delete(pos, length);
    this.insert(pos, text);
  }

  // -- merging -------------------------------------------------------------------

  /**
   * Merge a CWP patch from a peer; returns the edits applied to the text (see
   * addOps).  Throws DecodeError for bad bytes, TooLargeError (before inflating
   * anything) if the patch body is over `options.maxBytes`.
   * @param {Uint8Array|ArrayBuffer} bytes
   * @param {{maxBytes?: number|null}} [options]
   */
  applyPatch(bytes, options) {
    // decoded ops are structurally valid by construction (the codec checks
    // everything validateOp does), so they go straight to the merge
    return this.addValidOps(readPatch(bytes, options === undefined ? null : (options.maxBytes ?? null)));
  }

  /**
   * Merge ops from a peer.  Within one call ops may come in any order (an op
   * waits for parents later in the batch).  Known ops are skipped after checking
   * they match (idempotent); all-or-nothing: on any invalid, conflicting or
   * parentless op nothing changes and the error is thrown.  Returns the edits
   * applied to the text, `{kind: 'ins', pos, text}` / `{kind: 'del', pos, length}`
   * in code points, in order.
   */
  addOps(ops) {
    if (!Array.isArray(ops)) throw new InvalidOpError('addOps takes an array of ops');
    for (const op of ops) validateOp(op);
    return this.addValidOps(ops);
  }

  /** `addOps` of ops known to pass validateOp (decoded ones). */
  addValidOps(ops) {
    const oplog = this.oplog;
    const cg = oplog.cg;
    const startLv = cg.nextLv;
    const startHeads = cg.heads;
    let xf;
    let version;
    let lvs = null;
    try {
      addAll(oplog, ops);
      if (cg.nextLv === startLv) return [];
      lvs = this.ids ? [] : null;
      if (mergePaths.direct && sameFrontier(this.branchVersion, startHeads) && follows(cg, startLv, startHeads)) {
        // The common case (a remote keystroke on top of everything we have):
        // nothing concurrent, so the ops are the edits.  The cached walk is kept:
        // to it these ops are like local edits, caught up (not emitted) by the
        // next merge.  Dropping it would make the next concurrent keystroke re-walk
        // all the concurrency since the last critical version.
        xf = directEdits(oplog, this.rope.length, startLv, cg.nextLv, lvs);
        version = cg.heads;
      } else {
        const merged = mergeOps(oplog, this.rope.length, this.branchVersion, cg.heads, lvs, this.mergeCache, startLv);
        xf = merged[0];
        version = merged[1];
      }
    } catch (err) {
      // roll back, then let the error go on as it is: an EngineError says why the
      // ops were refused; anything else is a bug, never relabelled as bad input
      this.mergeCache.clear();
      oplog.truncate(startLv, startHeads);
      throw err;
    }
    applyXf(this.rope, this.ids, xf, lvs);
    this.branchVersion = version;
    this.notify('remote', xf);
    return xf;
  }

  // -- character identity: positions ---------------------------------------------

  /** The LV of every character of the text (built by one checkout walk on first use). */
  idMap() {
    if (!this.ids) {
      const ids = new IdMap();
      const lvs = [];
      const [xf] = mergeOps(this.oplog, 0, [], this.branchVersion, lvs);
      let k = 0;
      for (const op of xf) {
        if (op.kind === 'ins') ids.insert(op.pos, lvs[k++], cpLength(op.text));
        else ids.delete(op.pos, op.length);
      }
      if (ids.length !== this.rope.length) throw new EngineError('id map out of step with the text');
      this.ids = ids;
    }
    return this.ids;
  }

  /**
   * A stable position for the gap before code point `index`.  assoc=1 ties it to
   * the character after the gap (text typed exactly there goes before it),
   * assoc=-1 to the character before (typed text goes after it).
   */
  position(index, assoc = 1) {
    const len = this.rope.length;
    if (!checkIndex(index) || index < 0 || index > len) throw new InvalidOpError(`position index ${index} outside 0..${len}`);
    if (assoc !== 1 && assoc !== -1) throw new InvalidOpError(`assoc must be 1 or -1, not ${assoc}`);
    const at = assoc === 1 ? index : index - 1;
    if (at < 0 || at >= len) return new Position(null, 0, assoc); // the document's end (1) or start (-1)
    const [agent, seq] = this.oplog.cg.lvToRaw(this.idMap().lvAt(at));
    return new Position(agent, seq, assoc);
  }

  /**
   * The index of `position` in the text (now, or at `version`).  A deleted
   * character resolves to its tombstone's gap: after every surviving character
   * that precedes it in document order, the same on every replica.  Throws
   * UnknownVersionError if the character is not in that version.
   */
  resolve(position, version = null) {
    if (!position || typeof position !== 'object' || !('assoc' in position)) {
      throw new InvalidOpError('expected a Position');
    }
    const target = version === null ? this.branchVersion : this.lvsOf(version);
    if (position.agent === null || position.agent === undefined) {
      if (position.assoc === -1) return 0;
      return version === null ? this.rope.length : cpLength(this.textAt(version));
    }
    const cg = this.oplog.cg;
    const lv = cg.rawToLv(position.agent, position.seq);
    if (lv < 0 || cg.diff([lv], target)[0].length) {
      throw new UnknownVersionError(
        `position names ${position.agent}:${position.seq}, which is not in this version of the document`,
      );
    }
    const [[, , kind, insPos]] = this.oplog.iterOps(lv, lv + 1);
    if (kind !== INS) {
      throw new InvalidOpError(`position names ${position.agent}:${position.seq}, which is a delete, not a character`);
    }
    const after = position.assoc === -1 ? 1 : 0;
    if (version === null) {
      const i = this.idMap().indexOf(lv);
      if (i >= 0) return i + after;
    }
    const found = locate(this.oplog, [lv], [insPos], target)[0];
    return found.pos + (found.alive ? after : 0);
  }
}
