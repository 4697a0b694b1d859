/**
 * Protocol messages and their binary frames: a port of
 * src/cowrite/protocol/messages.py (PROTOCOL.md describes the layout).
 *
 * Why a port: the browser speaks the same WebSocket protocol as the Python client,
 * with the same strictness: any bytes either decode to a valid message or throw
 * ProtocolError, and encoding checks field values too, so the browser can never
 * send a frame the server would reject as malformed.
 *
 * Messages are plain objects `{type, ...fields}` with the Python dataclasses'
 * field names in camelCase:
 *   {type: 'join', docId, agent, summary, readOnly, fresh}
 *                                            (fresh: the client replaces its replica, so the
 *                                            summary is empty and WELCOME's patch holds the
 *                                            server's whole document, CWD bytes)
 *   {type: 'welcome', role, version, summary, patch}
 *   {type: 'ops', batchId, patch}            {type: 'ack', batchId, version}
 *   {type: 'remote_ops', patch}
 *   {type: 'presence', agent, user, colour, cursor, gone}   (cursor: [anchor, head] or null)
 *   {type: 'error', code, message, fatal, batchId}          (batchId: null if not about a batch)
 *   {type: 'ping', nonce}                    {type: 'pong', nonce}
 *   {type: 'digest', version, digest}        (digest: 32 bytes, see textDigest)
 *   {type: 'resync', version, document}      (document: CWD bytes)
 *   {type: 'comments', revision}             (server to client: the comments changed; fetch
 *                                            them over HTTP unless already at revision)
 *   {type: 'suggestions', revision}          (server to client: the open suggestions changed;
 *                                            fetch them over HTTP unless already at revision)
 * A version is `[[agent, seq], ...]`; a summary `{agent: [[firstSeq, endSeq], ...]}`
 * (a Map is accepted too); patches, documents, digests and cursor positions (CWC
 * bytes, see engine/position.js) are Uint8Arrays.  `role` is a Role number, `code`
 * an ErrorCode number.  Batch ids and nonces are 64-bit: they decode to a number
 * when exact (<= 2**53) and to a BigInt above that; both are accepted when encoding.
 * Missing optional fields take Python's defaults (readOnly false, fresh false, user '', colour '',
 * cursor null, gone false, fatal false, batchId null, nonce 0).
 */

import { ByteReader, ByteWriter, MAX_UINT64 } from '../engine/codec/varint.js';
import { DecodeError, InvalidOpError } from '../engine/errors.js';
import { MAX_AGENT_LEN, MAX_SAFE, MAX_SEQ } from '../engine/limits.js';
import { Position } from '../engine/position.js';
import { isSeqRange, mergeRanges, setOwn } from '../engine/summary.js';
import { codePointLength, encodeUtf8 } from '../engine/utf8.js';
import { ErrorCode, ProtocolError } from './errors.js';
import { sha256 } from './sha256.js';

export { ErrorCode, ProtocolError, MAX_SEQ };

export const PROTOCOL_VERSION = 1;
/** Batch ids, nonces and every other frame integer are below 2**64. */
export const MAX_UVAR = MAX_UINT64;
export const MAX_DOC_ID_BYTES = 256;
export const MAX_AGENT_BYTES = 1024;
/** An agent name's code points: the engine's limit. */
export const MAX_AGENT_CHARS = MAX_AGENT_LEN;
export const MAX_USER_BYTES = 256;
export const MAX_COLOUR_BYTES = 64;
export const MAX_MESSAGE_BYTES = 4096;
export const MAX_POSITION_BYTES = 1100;
export const DIGEST_BYTES = 32; // SHA-256
/** JOIN flag bit 0: the client wishes to be a viewer. */
export const JOIN_READ_ONLY = 1;
/** JOIN flag bit 1: the client replaces its replica; send the whole document. */
export const JOIN_FRESH = 2;

/** Message type bytes. */
export const MsgType = Object.freeze({
  join: 0x01,
  welcome: 0x02,
  ops: 0x03,
  ack: 0x04,
  remote_ops: 0x05,
  presence: 0x06,
  error: 0x07,
  ping: 0x08,
  pong: 0x09,
  digest: 0x0a,
  resync: 0x0b,
  comments: 0x0c,
  suggestions: 0x0d,
});
const TYPE_NAMES = new Map(Object.entries(MsgType).map(([k, v]) => [v, k]));
const TYPE_LABELS = new Map(Object.entries(MsgType).map(([k, v]) => [v, k.toUpperCase()]));

/** What a connection may do (WELCOME's role). */
export const Role = Object.freeze({ OWNER: 0, EDITOR: 1, VIEWER: 2 });

const ERROR_CODES = new Set(Object.values(ErrorCode));
const ROLES = new Set(Object.values(Role));
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * What a DIGEST carries: the SHA-256 of `text` as UTF-8.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function textDigest(text) {
  return sha256(encodeUtf8(text, 'text'));
}

// -- field checks shared by the encoder and decoder ----------------------------------------

const repr = (v) => {
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

function checkStr(value, what, maxBytes, nonempty = false) {
  if (typeof value !== 'string') throw new ProtocolError(`${what} must be a string, not ${value === null ? 'null' : typeof value}`);
  let raw;
  try {
    raw = encodeUtf8(value, what);
  } catch (exc) {
    if (!(exc instanceof InvalidOpError)) throw exc;
    throw new ProtocolError(`${what} is not valid Unicode (lone surrogates)`);
  }
  if (raw.length > maxBytes) throw new ProtocolError(`${what} is ${raw.length} bytes of UTF-8; the limit is ${maxBytes}`);
  if (nonempty && !raw.length) throw new ProtocolError(`${what} must not be empty`);
  return raw;
}

function checkAgent(value, what = 'agent') {
  const raw = checkStr(value, what, MAX_AGENT_BYTES, true);
  const n = codePointLength(value);
  if (n > MAX_AGENT_CHARS) throw new ProtocolError(`${what} is ${n} characters; the limit is ${MAX_AGENT_CHARS}`);
  return raw;
}

function isUint(value) {
  // numbers must be exact (<= 2**53); larger values come as BigInts
  return (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SAFE) || (typeof value === 'bigint' && value >= 0n);
}

function checkUint(value, what, limit = MAX_UVAR) {
  if (!isUint(value) || value > limit) throw new ProtocolError(`${what} must be an integer in 0..${limit}, not ${repr(value)}`);
  return value;
}

function checkBool(value, what) {
  if (typeof value !== 'boolean') throw new ProtocolError(`${what} must be a boolean, not ${repr(value)}`);
  return value;
}

function entriesOf(summary) {
  if (summary instanceof Map) return [...summary.entries()];
  if (summary !== null && typeof summary === 'object' && !Array.isArray(summary)) return Object.entries(summary);
  throw new ProtocolError('a summary maps agents to lists of [firstSeq, endSeq] runs');
}

/**
 * A summary with each agent's runs sorted and merged (the form frames carry; the
 * rule and the form of engine/summary.js, with the protocol's errors);
 * throws ProtocolError.
 * @param {object|Map} summary
 * @returns {Object<string, Array<[number, number]>>}
 */
export function normalizeSummary(summary) {
  const out = {};
  for (const [agent, runs] of entriesOf(summary)) {
    checkAgent(agent, 'summary agent');
    if (!Array.isArray(runs)) throw new ProtocolError(`summary runs of ${repr(agent)} must be a list`);
    for (const r of runs) {
      if (!isSeqRange(r)) throw new ProtocolError(`bad summary run ${repr(r)} for agent ${repr(agent)}`);
    }
    const merged = mergeRanges(runs);
    if (merged.length) setOwn(out, agent, merged);
  }
  return out;
}

function checkVersion(version) {
  if (!Array.isArray(version)) throw new ProtocolError('a version is an array of [agent, seq] pairs');
  for (const item of version) {
    if (!Array.isArray(item) || item.length !== 2) throw new ProtocolError(`bad version entry ${repr(item)}`);
    checkAgent(item[0], 'version agent');
    checkUint(item[1], 'version seq', MAX_SEQ - 1);
  }
  return version;
}

function checkBytes(value, what, limit) {
  if (!(value instanceof Uint8Array)) throw new ProtocolError(`${what} must be bytes (a Uint8Array), not ${value === null ? 'null' : typeof value}`);
  if (limit !== undefined && value.length > limit) throw new ProtocolError(`${what} is ${value.length} bytes; the limit is ${limit}`);
  return value;
}

/** A cursor end as canonical CWC bytes (from a Position or CWC bytes). */
function positionBytes(p) {
  if (p instanceof Position) return p.encode();
  if (p instanceof Uint8Array) {
    try {
      return Position.decode(p).encode();
    } catch (exc) {
      if (!(exc instanceof DecodeError || exc instanceof InvalidOpError)) throw exc;
      throw new ProtocolError(`bad cursor position: ${exc.message}`);
    }
  }
  throw new ProtocolError('a cursor is an [anchor, head] pair of positions (Position or CWC bytes)');
}

// -- writer ------------------------------------------------------------------------------

/** A frame being written: the header, then fields (byte strings as length-prefixed blocks). */
class FrameWriter extends ByteWriter {
  /** @param {number} type */
  constructor(type) {
    super(64);
    this.byte(PROTOCOL_VERSION);
    this.byte(type);
  }

  /** A length-prefixed byte string. @param {Uint8Array} bytes */
  raw(bytes) {
    this.block(bytes);
  }

  version(version) {
    this.uvar(version.length);
    for (const [agent, seq] of version) {
      this.raw(encodeUtf8(agent, 'agent'));
      this.uvar(seq);
    }
  }

  summary(summary) {
    const entries = Object.entries(summary);
    this.uvar(entries.length);
    for (const [agent, runs] of entries) {
      this.raw(encodeUtf8(agent, 'agent'));
      this.uvar(runs.length);
      let prev = 0;
      for (const [a, b] of runs) {
        this.uvar(a - prev);
        this.uvar(b - a);
        prev = b;
      }
    }
  }
}

/**
 * The frame for `msg`; throws ProtocolError if a field is invalid.
 * @param {object} msg
 * @returns {Uint8Array}
 */
export function encodeFrame(msg) {
  if (msg === null || typeof msg !== 'object') throw new ProtocolError(`not a protocol message: ${repr(msg)}`);
  const type = MsgType[msg.type];
  if (type === undefined || !Object.hasOwn(MsgType, msg.type)) throw new ProtocolError(`not a protocol message: type ${repr(msg.type)}`);
  const w = new FrameWriter(type);
  switch (msg.type) {
    case 'join':
      w.raw(checkStr(msg.docId, 'doc id', MAX_DOC_ID_BYTES, true));
      w.raw(checkAgent(msg.agent));
      {
        const fresh = checkBool(msg.fresh ?? false, 'fresh');
        w.uvar((checkBool(msg.readOnly ?? false, 'readOnly') ? JOIN_READ_ONLY : 0) | (fresh ? JOIN_FRESH : 0));
        const summary = normalizeSummary(msg.summary);
        if (fresh && Object.keys(summary).length) throw new ProtocolError('a fresh JOIN carries an empty summary');
        w.summary(summary);
      }
      break;
    case 'welcome':
      if (!ROLES.has(msg.role)) throw new ProtocolError(`unknown role ${repr(msg.role)}`);
      w.uvar(msg.role);
      w.version(checkVersion(msg.version));
      w.summary(normalizeSummary(msg.summary));
      w.raw(checkBytes(msg.patch, 'patch'));
      break;
    case 'ops':
      w.uvar(checkUint(msg.batchId, 'batch id', MAX_UVAR - 1n));
      w.raw(checkBytes(msg.patch, 'patch'));
      break;
    case 'ack':
      w.uvar(checkUint(msg.batchId, 'batch id', MAX_UVAR - 1n));
      w.version(checkVersion(msg.version));
      break;
    case 'remote_ops':
      w.raw(checkBytes(msg.patch, 'patch'));
      break;
    case 'presence': {
      w.raw(checkAgent(msg.agent));
      w.raw(checkStr(msg.user ?? '', 'user name', MAX_USER_BYTES));
      w.raw(checkStr(msg.colour ?? '', 'colour', MAX_COLOUR_BYTES));
      const cursor = msg.cursor ?? null;
      const gone = checkBool(msg.gone ?? false, 'gone');
      if (cursor !== null && (!Array.isArray(cursor) || cursor.length !== 2)) {
        throw new ProtocolError('a cursor is an [anchor, head] pair of positions (Position or CWC bytes)');
      }
      const ends = cursor === null ? [] : cursor.map(positionBytes);
      w.uvar((cursor !== null ? 1 : 0) | (gone ? 2 : 0));
      for (const p of ends) w.raw(checkBytes(p, 'position', MAX_POSITION_BYTES));
      break;
    }
    case 'error': {
      if (!ERROR_CODES.has(msg.code)) throw new ProtocolError(`unknown error code ${repr(msg.code)}`);
      w.uvar(msg.code);
      w.uvar(checkBool(msg.fatal ?? false, 'fatal') ? 1 : 0);
      const batchId = msg.batchId ?? null;
      if (batchId === null) w.uvar(0);
      else w.uvar(BigInt(checkUint(batchId, 'batch id', MAX_UVAR - 1n)) + 1n);
      w.raw(checkStr(msg.message, 'error message', MAX_MESSAGE_BYTES));
      break;
    }
    case 'ping':
    case 'pong':
      w.uvar(checkUint(msg.nonce ?? 0, 'nonce'));
      break;
    case 'digest': {
      w.version(checkVersion(msg.version));
      const digest = checkBytes(msg.digest, 'digest', DIGEST_BYTES);
      if (digest.length !== DIGEST_BYTES) throw new ProtocolError(`a digest is ${DIGEST_BYTES} bytes (SHA-256), not ${digest.length}`);
      w.raw(digest);
      break;
    }
    case 'resync':
      w.version(checkVersion(msg.version));
      w.raw(checkBytes(msg.document, 'document'));
      break;
    case 'comments':
      w.uvar(checkUint(msg.revision, 'comments revision', MAX_SEQ - 1));
      break;
    case 'suggestions':
      w.uvar(checkUint(msg.revision, 'suggestions revision', MAX_SEQ - 1));
      break;
    default:
      throw new ProtocolError(`not a protocol message: type ${repr(msg.type)}`);
  }
  return w.finish();
}

// -- reader ------------------------------------------------------------------------------

/** A number when exact, else a BigInt. */
const norm = (v) => (typeof v === 'bigint' && v <= BigInt(MAX_SAFE) ? Number(v) : v);

/**
 * A frame being read: the one byte reader (engine/codec/varint.js) with the
 * protocol's rule for integers (`uint`: canonical, below 2**64) and ProtocolError
 * for every failure, plus the frames' field readers.
 */
class FrameReader extends ByteReader {
  /** @param {Uint8Array} buf @param {number} pos */
  constructor(buf, pos) {
    super(buf, pos, buf.length, ProtocolError);
  }

  /** A count of items that take at least `minBytesEach` bytes each. */
  items(what, minBytesEach) {
    const n = this.uint(what);
    if (typeof n === 'bigint' || n * minBytesEach > this.left()) {
      throw new ProtocolError(`truncated frame: ${what} ${n} exceeds the bytes left`);
    }
    return n;
  }

  raw(what, limit) {
    const n = this.uint(`length of ${what}`);
    if (limit !== undefined && n > limit) throw new ProtocolError(`${what} is ${n} bytes; the limit is ${limit}`);
    if (n > this.left()) throw new ProtocolError(`truncated frame: ${what} needs ${n} bytes, ${this.left()} left`);
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  text(what, limit, nonempty = false) {
    const raw = this.raw(what, limit);
    let s;
    try {
      s = textDecoder.decode(raw);
    } catch (exc) {
      if (!(exc instanceof TypeError)) throw exc; // what a fatal TextDecoder throws for bad bytes
      throw new ProtocolError(`${what} is not valid UTF-8`);
    }
    if (nonempty && !s) throw new ProtocolError(`${what} must not be empty`);
    return s;
  }

  agent(what = 'agent') {
    const s = this.text(what, MAX_AGENT_BYTES, true);
    const n = codePointLength(s);
    if (n > MAX_AGENT_CHARS) throw new ProtocolError(`${what} is ${n} characters; the limit is ${MAX_AGENT_CHARS}`);
    return s;
  }

  version() {
    const n = this.items('version size', 2);
    const out = [];
    for (let i = 0; i < n; i++) {
      const agent = this.agent('version agent');
      out.push([agent, this.uint('version seq', MAX_SEQ - 1)]);
    }
    return out;
  }

  summary() {
    const n = this.items('summary agents', 2);
    const out = {};
    for (let i = 0; i < n; i++) {
      const agent = this.agent('summary agent');
      if (Object.hasOwn(out, agent)) throw new ProtocolError(`summary names agent '${agent}' twice`);
      const k = this.items('summary runs', 2);
      if (!k) throw new ProtocolError(`summary agent '${agent}' has no runs`);
      const runs = [];
      let prev = 0;
      for (let j = 0; j < k; j++) {
        const gap = this.uint('summary gap', MAX_SEQ);
        if (j && !gap) throw new ProtocolError('summary runs must be separated (gap >= 1)');
        const length = this.uint('summary run length', MAX_SEQ);
        if (!length) throw new ProtocolError('summary run of length 0');
        // exact arithmetic: first + length <= 2**53 checked before adding
        if (gap > MAX_SEQ - prev || length > MAX_SEQ - prev - gap) throw new ProtocolError('summary seq out of range');
        const first = prev + gap;
        prev = first + length;
        runs.push([first, prev]);
      }
      setOwn(out, agent, runs);
    }
    return out;
  }

  flags(what, allowed) {
    const f = this.uint(what);
    if (typeof f === 'bigint' || f & ~allowed || f > 0xffffffff) {
      throw new ProtocolError(`${what} has unknown bits set: 0x${f.toString(16)}`);
    }
    return f;
  }

  position() {
    const raw = this.raw('position', MAX_POSITION_BYTES);
    try {
      return Position.decode(raw).encode();
    } catch (exc) {
      if (exc instanceof DecodeError || exc instanceof InvalidOpError) throw new ProtocolError(`bad cursor position: ${exc.message}`);
      throw exc;
    }
  }
}

/**
 * The message in one frame; throws ProtocolError on any invalid input.
 * `maxSize` (bytes) makes larger frames fail with code TOO_LARGE.
 * @param {Uint8Array|ArrayBuffer} data
 * @param {number} [maxSize]
 * @returns {object}
 */
export function decodeFrame(data, maxSize) {
  let buf;
  if (data instanceof Uint8Array) buf = data;
  else if (data instanceof ArrayBuffer) buf = new Uint8Array(data);
  else throw new ProtocolError(`a frame is bytes, not ${data === null ? 'null' : typeof data}`);
  if (maxSize !== undefined && maxSize !== null && buf.length > maxSize) {
    throw new ProtocolError(`frame of ${buf.length} bytes exceeds the limit of ${maxSize}`, ErrorCode.TOO_LARGE);
  }
  if (buf.length < 2) throw new ProtocolError('truncated frame: shorter than its 2-byte header');
  if (buf[0] !== PROTOCOL_VERSION) {
    throw new ProtocolError(`unsupported protocol version ${buf[0]} (this side speaks ${PROTOCOL_VERSION})`);
  }
  const type = TYPE_NAMES.get(buf[1]);
  if (type === undefined) throw new ProtocolError(`unknown message type 0x${buf[1].toString(16).padStart(2, '0')}`);
  const r = new FrameReader(buf, 2);
  let msg;
  switch (type) {
    case 'join': {
      const docId = r.text('doc id', MAX_DOC_ID_BYTES, true);
      const agent = r.agent();
      const flags = r.flags('join flags', JOIN_READ_ONLY | JOIN_FRESH);
      const summary = r.summary();
      if (flags & JOIN_FRESH && Object.keys(summary).length) throw new ProtocolError('a fresh JOIN carries an empty summary');
      msg = { type, docId, agent, summary, readOnly: Boolean(flags & JOIN_READ_ONLY), fresh: Boolean(flags & JOIN_FRESH) };
      break;
    }
    case 'welcome': {
      const role = r.uint('role');
      if (!ROLES.has(role)) throw new ProtocolError(`unknown role ${role}`);
      const version = r.version();
      const summary = r.summary();
      msg = { type, role, version, summary, patch: r.raw('patch') };
      break;
    }
    case 'ops': {
      const batchId = r.uint('batch id', MAX_UVAR - 1n);
      msg = { type, batchId, patch: r.raw('patch') };
      break;
    }
    case 'ack': {
      const batchId = r.uint('batch id', MAX_UVAR - 1n);
      msg = { type, batchId, version: r.version() };
      break;
    }
    case 'remote_ops':
      msg = { type, patch: r.raw('patch') };
      break;
    case 'presence': {
      const agent = r.agent();
      const user = r.text('user name', MAX_USER_BYTES);
      const colour = r.text('colour', MAX_COLOUR_BYTES);
      const flags = r.flags('presence flags', 3);
      const cursor = flags & 1 ? [r.position(), r.position()] : null;
      msg = { type, agent, user, colour, cursor, gone: Boolean(flags & 2) };
      break;
    }
    case 'error': {
      const code = r.uint('error code');
      if (!ERROR_CODES.has(code)) throw new ProtocolError(`unknown error code ${code}`);
      const flags = r.flags('error flags', 1);
      const batch1 = r.uint('error batch id');
      const message = r.text('error message', MAX_MESSAGE_BYTES);
      const batchId = batch1 === 0 ? null : norm(BigInt(batch1) - 1n);
      msg = { type, code, message, fatal: Boolean(flags & 1), batchId };
      break;
    }
    case 'ping':
    case 'pong':
      msg = { type, nonce: r.uint('nonce') };
      break;
    case 'digest': {
      const version = r.version();
      const digest = r.raw('digest', DIGEST_BYTES);
      if (digest.length !== DIGEST_BYTES) throw new ProtocolError(`a digest is ${DIGEST_BYTES} bytes (SHA-256), not ${digest.length}`);
      msg = { type, version, digest };
      break;
    }
    case 'comments':
      msg = { type, revision: r.uint('comments revision', MAX_SEQ - 1) };
      break;
    case 'suggestions':
      msg = { type, revision: r.uint('suggestions revision', MAX_SEQ - 1) };
      break;
    default: {
      // resync
      const version = r.version();
      msg = { type, version, document: r.raw('document') };
    }
  }
  if (r.left()) throw new ProtocolError(`${r.left()} trailing bytes after a ${TYPE_LABELS.get(buf[1])} frame`);
  return msg;
}
