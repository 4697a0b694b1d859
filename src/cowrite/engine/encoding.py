"""Binary encodings of a whole document and of a patch (a list of wire ops).

Why a custom format: JSON of the op log is large (every run repeats its agent,
seq and parents) and slow to parse.  The op log is already run-length encoded,
and its columns are very regular (one agent types for a while, positions move by
a character or two, parents are "the previous op"), so storing each field as its
own column of small varints and deflating the lot makes a full-history document
smaller than its plain text would be as UTF-8 in many cases.

Layout (both kinds)::

    magic (3 bytes: b"CWD" document / b"CWP" patch)
    format version (1 byte, currently 2; version 1 is still read)
    flags (1 byte: bit 0 = body is zlib-deflated)
    [uvarint raw body length, only if deflated]
    body
    CRC-32 (zlib.crc32, 4 bytes little-endian) of everything before it

All integers are LEB128 varints; signed ones are zigzag-coded.  Strings are UTF-8.
Agent names are stored once in a table and referred to by index.  The body is a
sequence of length-prefixed *blocks* (one per column), so a reader never runs off
one column into the next, and every count is checked against the bytes left
before anything is allocated for it.

Document body::

    agents      uvarint count, then per agent: uvarint byte length + UTF-8
    entries     uvarint E (causal-graph entries), then blocks:
                  lens     E uvarints (>= 1): LVs in each entry
                  agents   RLE pairs (agent index, repeat >= 1) covering E entries
                  seqs     E zigzag: seq minus that agent's next unused seq
                  parents  per entry a code: 0 = (start - 1,) [the common case],
                           c >= 1 = c - 1 parents follow as uvarint (start - parent)
    ops         uvarint R (op runs, tiling LVs 0..N in order), then blocks:
                  kindlen  R uvarints: run length << 2 | kind (INS/DEL_FWD/DEL_BACK)
                  pos      R zigzag: position minus the one predicted from the last
                           run (after typing: its end; after a delete: its start)
                  content  UTF-8 of every insert's text, concatenated
    heads       frontier: uvarint k, first LV, then ascending deltas
    version     frontier of the stored text (same coding)
    text        uvarint code-point count, then a block of UTF-8
    times       (version >= 2) uvarint T (time runs, tiling LVs 0..N), then a block
                of T pairs: uvarint run length in LVs (>= 1), then zigzag time minus
                the previous run's time (the first run's minus 0)

The current text is stored, so loading never replays history (that is the cost
Eg-walker saves: the op log is only walked again when concurrent ops arrive).

Patch body::

    agents      as above (authors and the agents named in parents)
    ops         uvarint N, then blocks:
                  agents   RLE pairs (agent index, repeat)
                  seqs     N zigzag: seq minus the end of this agent's previous op
                  parents  per op a code: 0 = the previous op's last id,
                           c >= 1 = c - 1 parents follow as (agent index, seq)
                  kindlen  N uvarints: span << 2 | 0 ins / 1 delete fwd / 2 delete back
                  pos      N zigzag, predicted as for documents
                  content  UTF-8 of every insert's text, concatenated
    times       (version >= 2) uvarint T, then a block of T pairs: uvarint number
                of consecutive ops (>= 1) with one time, then zigzag time delta as
                for documents

Times are Unix seconds (0 = unknown), each in ``0 <= t < 2**53``.  Consecutive time
runs must differ in time (delta != 0), so each time column has exactly one
encoding; the run lengths must add up to exactly the LVs (ops) there are.  A
typing session costs about two bytes per second in which something was typed; a
log whose times are all unknown (or all equal) costs a handful of bytes.  Version
1 is version 2 without the times sections: its ops all decode with time 0.

Decoding never trusts the bytes: any input either decodes to a consistent value
or raises :class:`~cowrite.engine.errors.DecodeError`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

from .causal_graph import Frontier
from .errors import CowriteError, DecodeError, InvalidOpError
from .oplog import DEL_BACK, DEL_FWD, INS, OpLog
from .ops import MAX_AGENT_LEN, MAX_TIME, Op, RawVersion

__all__ = ["FORMAT_VERSION", "decode_document", "decode_patch", "encode_document", "encode_patch"]

DOC_MAGIC = b"CWD"
PATCH_MAGIC = b"CWP"
FORMAT_VERSION = 2
_READ_VERSIONS = (1, 2)  # every version ever written must stay readable
_FLAG_DEFLATE = 1
_KNOWN_FLAGS = _FLAG_DEFLATE
_HEADER = 5  # magic + version + flags
_TRAILER = 4  # CRC-32
# Deflate cannot expand data by more than ~1032x; a claimed raw size above this
# is a lie, and refusing it bounds what a decoder allocates by the input size.
_MAX_DEFLATE_RATIO = 1040
_MAX_SEQ = 2**53  # matches ops.validate_op
_MAX_VARINT_BYTES = 10
_REDUCE_BUDGET = 1_000_000  # graph entries walked validating merge parents (plus 64/entry)

# -- writing -------------------------------------------------------------------------


def _uvar(out: bytearray, v: int) -> None:
    """Append ``v`` (>= 0) as an LEB128 varint."""
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _svar(out: bytearray, v: int) -> None:
    """Append signed ``v`` zigzag-coded, so small negative deltas stay one byte."""
    _uvar(out, (v << 1) if v >= 0 else ((-v << 1) - 1))


def _block(out: bytearray, data: bytes | bytearray) -> None:
    """Append a length-prefixed block."""
    _uvar(out, len(data))
    out += data


def _utf8(text: str, what: str) -> bytes:
    """Strict UTF-8: text holding lone surrogates is not Unicode and cannot be stored."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidOpError(f"{what} contains lone surrogates; it cannot be encoded") from None


def _rle(values: Sequence[int]) -> bytearray:
    """(value, repeat) pairs: agent columns are long runs of one author."""
    out = bytearray()
    i = 0
    n = len(values)
    while i < n:
        v = values[i]
        j = i + 1
        while j < n and values[j] == v:
            j += 1
        _uvar(out, v)
        _uvar(out, j - i)
        i = j
    return out


def _agents_block(out: bytearray, agents: Sequence[str]) -> None:
    _uvar(out, len(agents))
    for a in agents:
        _block(out, _utf8(a, "agent name"))


def _frontier(out: bytearray, f: Sequence[int]) -> None:
    _uvar(out, len(f))
    prev = 0
    for i, v in enumerate(f):
        _uvar(out, v if i == 0 else v - prev)
        prev = v


def _times(out: bytearray, runs: Sequence[tuple[int, int]]) -> None:
    """The times section: ``(run length, time)`` runs as a count and a block of pairs."""
    pairs = bytearray()
    prev = 0
    for n, t in runs:
        _uvar(pairs, n)
        _svar(pairs, t - prev)
        prev = t
    _uvar(out, len(runs))
    _block(out, pairs)


def _predict(kind: int, pos: int, n: int) -> int:
    """Where the next run probably starts: after typing, its end; after deleting, its start."""
    return pos + n if kind == INS else pos


_DEFLATE_MIN = 96


def _frame(magic: bytes, body: bytes | bytearray) -> bytes:
    """Header, (deflated if smaller) body, CRC-32.

    Deflate is used only when it wins, so tiny patches do not pay its overhead
    (below ``_DEFLATE_MIN`` bytes it is not even tried: a keystroke's patch).
    """
    packed = zlib.compress(bytes(body), 9) if len(body) >= _DEFLATE_MIN else b""
    out = bytearray(magic)
    out.append(FORMAT_VERSION)
    if packed and len(packed) + 4 < len(body):
        out.append(_FLAG_DEFLATE)
        _uvar(out, len(body))
        out += packed
    else:
        out.append(0)
        out += body
    out += zlib.crc32(out).to_bytes(4, "little")
    return bytes(out)


def encode_document(oplog: OpLog, text: str, version: Frontier) -> bytes:
    """The whole document: its op log (full history) plus its text at ``version``."""
    cg = oplog.cg
    body = bytearray()
    _agents_block(body, cg.agents)

    # causal graph entries
    n_entries = len(cg.starts)
    _uvar(body, n_entries)
    lens = bytearray()
    seqs = bytearray()
    parents = bytearray()
    next_seq = [0] * len(cg.agents)
    for e, start in enumerate(cg.starts):
        n = cg.entry_end(e) - start
        _uvar(lens, n)
        a = cg.entry_agent[e]
        seq = cg.entry_seq[e]
        _svar(seqs, seq - next_seq[a])
        next_seq[a] = max(next_seq[a], seq + n)
        ps = cg.parents[e]
        if len(ps) == 1 and ps[0] == start - 1:
            _uvar(parents, 0)
        else:
            _uvar(parents, len(ps) + 1)
            for p in ps:
                _uvar(parents, start - p)
    _block(body, lens)
    _block(body, _rle(cg.entry_agent))
    _block(body, seqs)
    _block(body, parents)

    # op runs
    n_runs = len(oplog.op_starts)
    _uvar(body, n_runs)
    kindlen = bytearray()
    poss = bytearray()
    predicted = 0
    for kind, pos, n in zip(oplog.op_kinds, oplog.op_pos, oplog.op_lens):
        _uvar(kindlen, (n << 2) | kind)
        _svar(poss, pos - predicted)
        predicted = _predict(kind, pos, n)
    _block(body, kindlen)
    _block(body, poss)
    _block(body, _utf8("".join(oplog.op_content), "inserted text"))

    _frontier(body, cg.heads)
    _frontier(body, version)
    _uvar(body, len(text))
    _block(body, _utf8(text, "text"))

    ts = oplog.time_starts
    if ts:
        ends = ts[1:] + [cg.next_lv]
        _times(body, [(e - s, t) for s, e, t in zip(ts, ends, oplog.time_values)])
    else:  # a log built without the time column: every time unknown
        _times(body, [(cg.next_lv, 0)] if cg.next_lv else [])
    return _frame(DOC_MAGIC, body)


def encode_patch(ops: list[Op]) -> bytes:
    """A list of wire ops (e.g. from ``Document.ops_since``) as bytes for a peer."""
    agent_index: dict[str, int] = {}
    agents: list[str] = []

    def idx(name: str) -> int:
        i = agent_index.get(name)
        if i is None:
            i = agent_index[name] = len(agents)
            agents.append(name)
        return i

    op_agents: list[int] = []
    seqs = bytearray()
    parents = bytearray()
    kindlen = bytearray()
    poss = bytearray()
    content: list[str] = []
    times: list[tuple[int, int]] = []  # (ops, time) runs
    next_seq: dict[int, int] = {}
    prev_last: tuple[str, int] | None = None
    predicted = 0
    for op in ops:
        a = idx(op.agent)
        op_agents.append(a)
        span = op.span
        _svar(seqs, op.seq - next_seq.get(a, 0))
        next_seq[a] = op.seq + span
        if prev_last is not None and op.parents == (prev_last,):
            _uvar(parents, 0)
        else:
            _uvar(parents, len(op.parents) + 1)
            for pa, ps in op.parents:
                _uvar(parents, idx(pa))
                _uvar(parents, ps)
        kind = INS if op.kind == "ins" else (DEL_FWD if op.fwd else DEL_BACK)
        _uvar(kindlen, (span << 2) | kind)
        _svar(poss, op.pos - predicted)
        predicted = _predict(kind, op.pos, span)
        if kind == INS:
            content.append(op.content)
        if times and times[-1][1] == op.time:
            times[-1] = (times[-1][0] + 1, op.time)
        else:
            times.append((1, op.time))
        prev_last = (op.agent, op.seq + span - 1)
    body = bytearray()
    _agents_block(body, agents)
    _uvar(body, len(ops))
    _block(body, _rle(op_agents))
    _block(body, seqs)
    _block(body, parents)
    _block(body, kindlen)
    _block(body, poss)
    _block(body, _utf8("".join(content), "inserted text"))
    _times(body, times)
    return _frame(PATCH_MAGIC, body)


# -- reading -------------------------------------------------------------------------


class _Reader:
    """A bounds-checked cursor over ``buf[pos:end]``; every failure is a DecodeError."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def left(self) -> int:
        return self.end - self.pos

    def uvar(self) -> int:
        buf = self.buf
        pos = self.pos
        end = self.end
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise DecodeError("truncated data: a number runs past the end of its block")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
            if shift >= 7 * _MAX_VARINT_BYTES:
                raise DecodeError("malformed number: varint longer than 10 bytes")
        self.pos = pos
        return result

    def svar(self) -> int:
        v = self.uvar()
        return (v >> 1) ^ -(v & 1)

    def count(self, what: str, limit: int | None = None) -> int:
        """A count of items that each take at least one byte of this reader."""
        n = self.uvar()
        bound = self.left() if limit is None else limit
        if n > bound:
            raise DecodeError(f"corrupt data: {n} {what} claimed but only room for {bound}")
        return n

    def take(self, n: int) -> bytes:
        if n > self.left():
            raise DecodeError("truncated data: a block runs past the end")
        p = self.pos
        self.pos = p + n
        return self.buf[p : p + n]

    def block(self) -> _Reader:
        n = self.uvar()
        if n > self.left():
            raise DecodeError("truncated data: a block runs past the end")
        r = _Reader(self.buf, self.pos, self.pos + n)
        self.pos += n
        return r

    def done(self, what: str) -> None:
        if self.pos != self.end:
            raise DecodeError(f"corrupt data: {self.end - self.pos} unexpected bytes after {what}")


def _unframe(data: bytes, magic: bytes, what: str) -> tuple[_Reader, int]:
    """Check magic, version, flags and CRC; return a reader over the (inflated) body and the version."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"expected bytes, not {type(data).__name__}")
    data = bytes(data)
    other = PATCH_MAGIC if magic == DOC_MAGIC else DOC_MAGIC
    if data[:3] == other:
        raise DecodeError(f"not a cowrite {what}: these bytes are a cowrite {'patch' if what == 'document' else 'document'}")
    if data[:3] != magic:
        raise DecodeError(f"not a cowrite {what}: bad magic bytes")
    if len(data) < _HEADER + _TRAILER:
        raise DecodeError(f"truncated cowrite {what}: only {len(data)} bytes")
    version = data[3]
    if version not in _READ_VERSIONS:
        raise DecodeError(
            f"unsupported cowrite {what} format version {version} "
            f"(this build reads versions {_READ_VERSIONS[0]} to {_READ_VERSIONS[-1]})"
        )
    crc = int.from_bytes(data[-_TRAILER:], "little")
    if zlib.crc32(data[:-_TRAILER]) != crc:
        raise DecodeError(f"corrupt cowrite {what}: checksum mismatch (truncated or damaged)")
    flags = data[4]
    if flags & ~_KNOWN_FLAGS:
        raise DecodeError(f"unsupported cowrite {what}: unknown flags {flags:#x}")
    r = _Reader(data, _HEADER, len(data) - _TRAILER)
    if not flags & _FLAG_DEFLATE:
        return r, version
    raw_len = r.uvar()
    packed = r.take(r.left())
    if raw_len > len(packed) * _MAX_DEFLATE_RATIO:
        raise DecodeError(f"corrupt cowrite {what}: implausible uncompressed size {raw_len}")
    d = zlib.decompressobj()
    try:
        body = d.decompress(packed, raw_len)
    except zlib.error as exc:
        raise DecodeError(f"corrupt cowrite {what}: bad compressed body ({exc})") from None
    if len(body) != raw_len or not d.eof or d.unconsumed_tail or d.unused_data:
        raise DecodeError(f"corrupt cowrite {what}: compressed body does not match its size")
    return _Reader(body), version


def _read_agents(r: _Reader) -> list[str]:
    n = r.count("agents")
    agents: list[str] = []
    seen: set[str] = set()
    for _ in range(n):
        raw = r.block()
        if raw.left() > 4 * MAX_AGENT_LEN:
            raise DecodeError("corrupt data: agent name too long")
        name = _decode_utf8(raw.take(raw.left()), "agent name")
        if not name or len(name) > MAX_AGENT_LEN:
            raise DecodeError(f"corrupt data: agent names must have 1..{MAX_AGENT_LEN} characters")
        if name in seen:
            raise DecodeError(f"corrupt data: agent {name!r} listed twice")
        seen.add(name)
        agents.append(name)
    return agents


def _decode_utf8(b: bytes, what: str) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"corrupt data: {what} is not valid UTF-8") from None


def _read_rle(r: _Reader, n: int, limit: int, what: str) -> list[int]:
    """``n`` values from (value, repeat) pairs; each value must be below ``limit``."""
    out: list[int] = []
    while len(out) < n:
        v = r.uvar()
        k = r.uvar()
        if v >= limit:
            raise DecodeError(f"corrupt data: {what} {v} out of range (only {limit})")
        if k == 0 or k > n - len(out):
            raise DecodeError(f"corrupt data: bad run length in {what} column")
        out.extend([v] * k)
    r.done(f"{what} column")
    return out


def _read_frontier(r: _Reader, limit: int, what: str) -> Frontier:
    k = r.count(f"{what} LVs")
    out: list[int] = []
    prev = -1
    for i in range(k):
        d = r.uvar()
        v = d if i == 0 else prev + d
        if i and d == 0:
            raise DecodeError(f"corrupt data: {what} is not strictly ascending")
        if v >= limit:
            raise DecodeError(f"corrupt data: {what} names LV {v} but the log has {limit}")
        out.append(v)
        prev = v
    return tuple(out)


def _read_content(r: _Reader, n_chars: int) -> str:
    raw = r.block()
    nb = raw.left()
    if not n_chars <= nb <= 4 * n_chars:
        raise DecodeError("corrupt data: inserted text size does not match the insert lengths")
    content = _decode_utf8(raw.take(nb), "inserted text")
    if len(content) != n_chars:
        raise DecodeError("corrupt data: inserted text length does not match the insert lengths")
    return content


def _read_times(r: _Reader, total: int, unit: str) -> tuple[list[int], list[int]]:
    """A times section covering exactly ``total`` LVs/ops: (run starts, run times)."""
    n_runs = r.uvar()
    b = r.block()
    room = b.left() // 2  # a run takes at least two bytes
    if n_runs > room:
        raise DecodeError(f"corrupt data: {n_runs} time runs claimed but only room for {room}")
    starts: list[int] = []
    values: list[int] = []
    covered = 0
    prev = 0
    for i in range(n_runs):
        k = b.uvar()
        if k == 0:
            raise DecodeError("corrupt data: empty time run")
        t = prev + b.svar()
        if not 0 <= t < MAX_TIME:
            raise DecodeError(f"corrupt data: time {t} out of range")
        if i and t == prev:
            raise DecodeError("corrupt data: two consecutive time runs have the same time")
        if k > total - covered:
            raise DecodeError(f"corrupt data: time runs cover more {unit} than the {total} there are")
        starts.append(covered)
        values.append(t)
        covered += k
        prev = t
    b.done("times")
    if covered != total:
        raise DecodeError(f"corrupt data: time runs cover {covered} {unit} but there are {total}")
    return starts, values


def _guard(fn: Callable[[bytes], object], data: bytes, what: str) -> object:
    """Turn any failure a decoder did not foresee into a DecodeError (never crash callers)."""
    try:
        return fn(data)
    except DecodeError:
        raise
    except CowriteError as exc:
        raise DecodeError(f"invalid cowrite {what}: {exc}") from None
    except (MemoryError, RecursionError, ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        raise DecodeError(f"invalid cowrite {what}: {exc!r}") from None


def decode_document(data: bytes) -> tuple[OpLog, str, Frontier]:
    """Rebuild the op log, text and version from :func:`encode_document` bytes.

    The stored text is used as is (no history replay); everything that can be
    checked without a replay is: ids, parents, run lengths, positions against
    the total text inserted, and the text length against the version's history.
    """
    return _guard(_decode_document, data, "document")  # type: ignore[return-value]


def _decode_document(data: bytes) -> tuple[OpLog, str, Frontier]:
    r, fmt = _unframe(data, DOC_MAGIC, "document")
    agents = _read_agents(r)
    n_agents = len(agents)

    # -- causal graph
    n_entries = r.count("graph entries")
    lens_r = r.block()
    agents_r = r.block()
    seqs_r = r.block()
    parents_r = r.block()
    if n_entries > lens_r.left() or n_entries > parents_r.left() or n_entries > seqs_r.left():
        raise DecodeError("corrupt data: graph entry count larger than its columns")
    entry_agents = _read_rle(agents_r, n_entries, n_agents, "agent index")
    oplog = OpLog()
    cg = oplog.cg
    next_seq = [0] * n_agents
    start = 0
    linear = True  # every entry follows the previous LV: no concurrency at all
    budget = _REDUCE_BUDGET + 64 * n_entries
    for e in range(n_entries):
        n = lens_r.uvar()
        if n == 0:
            raise DecodeError("corrupt data: empty graph entry")
        a = entry_agents[e]
        seq = next_seq[a] + seqs_r.svar()
        if seq < 0 or seq + n > _MAX_SEQ:
            raise DecodeError(f"corrupt data: seq {seq} out of range")
        code = parents_r.uvar()
        parents: Frontier
        if code == 0:
            if start == 0:
                raise DecodeError("corrupt data: the first op cannot follow a previous one")
            parents = (start - 1,)
        else:
            k = code - 1
            if k > parents_r.left():
                raise DecodeError("corrupt data: parent count larger than its column")
            ps: list[int] = []
            for _ in range(k):
                d = parents_r.uvar()
                if not 1 <= d <= start:
                    raise DecodeError("corrupt data: a parent is not an earlier op")
                p = start - d
                if ps and p <= ps[-1]:
                    raise DecodeError("corrupt data: parents are not strictly ascending")
                ps.append(p)
            parents = tuple(ps)
            if k > 1 and budget > 0:
                # reduce() walks the entries between the lowest and highest parent;
                # a forged file could make that quadratic, so the walks share a
                # budget.  Past it, a redundant parent edge is let through: it
                # names no new ancestor, so it only costs later walks time.
                budget -= e - cg.entry_of(parents[0])
                if cg.reduce(parents) != parents:
                    raise DecodeError("corrupt data: parents are not a frontier (one is an ancestor of another)")
            if parents != ((start - 1,) if start else ()):
                linear = False
        agent = agents[a]
        if cg.known_run(agent, seq) is not None:
            raise DecodeError(f"corrupt data: id {agent}:{seq} used twice")
        nxt = cg.next_known_seq(agent, seq)
        if nxt is not None and nxt < seq + n:
            raise DecodeError(f"corrupt data: ids {agent}:{seq}+{n} overlap earlier ones")
        cg.add(agent, seq, n, parents)
        next_seq[a] = max(next_seq[a], seq + n)
        start += n
    for col, what in ((lens_r, "entry lengths"), (seqs_r, "seqs"), (parents_r, "parents")):
        col.done(what)
    total = start

    # -- op runs
    n_runs = r.count("op runs")
    kl_r = r.block()
    pos_r = r.block()
    if n_runs > kl_r.left() or n_runs > pos_r.left():
        raise DecodeError("corrupt data: op run count larger than its columns")
    kinds: list[int] = []
    lens: list[int] = []
    poss: list[int] = []
    lv = 0
    ins_total = 0
    predicted = 0
    for _ in range(n_runs):
        kl = kl_r.uvar()
        kind = kl & 3
        n = kl >> 2
        if kind > DEL_BACK:
            raise DecodeError(f"corrupt data: unknown op kind {kind}")
        if n == 0:
            raise DecodeError("corrupt data: empty op run")
        pos = predicted + pos_r.svar()
        if pos < 0:
            raise DecodeError("corrupt data: negative op position")
        kinds.append(kind)
        lens.append(n)
        poss.append(pos)
        lv += n
        if lv > total:
            raise DecodeError("corrupt data: op runs cover more ops than the causal graph")
        if kind == INS:
            ins_total += n
        predicted = _predict(kind, pos, n)
    kl_r.done("op kinds")
    pos_r.done("op positions")
    if lv != total:
        raise DecodeError(f"corrupt data: op runs cover {lv} ops but the causal graph has {total}")
    # No document is ever longer than everything inserted into it: a cheap bound
    # on every position that needs no replay.  An insert needs pos <= length; a
    # DEL_BACK run's first op deletes pos + n - 1; a DEL_FWD run's first op deletes
    # pos, and its later ops may be concurrent deletes of that same character by
    # other agents (adjacent runs merge whatever their parents), so only pos < length.
    for kind, pos, n in zip(kinds, poss, lens):
        if pos + (0 if kind == INS else n if kind == DEL_BACK else 1) > ins_total:
            raise DecodeError("corrupt data: op position beyond any possible text length")
    content = _read_content(r, ins_total)
    op_content: list[str] = []
    op_starts: list[int] = []
    lv = 0
    c = 0
    for kind, n in zip(kinds, lens):
        op_starts.append(lv)
        lv += n
        if kind == INS:
            op_content.append(content[c : c + n])
            c += n
        else:
            op_content.append("")
    oplog.op_starts = op_starts
    oplog.op_kinds = kinds
    oplog.op_pos = poss
    oplog.op_lens = lens
    oplog.op_content = op_content

    # -- heads, version, text
    heads = _read_frontier(r, total, "heads")
    if heads != cg.heads:
        raise DecodeError("corrupt data: stored heads do not match the causal graph")
    version = _read_frontier(r, total, "version")
    if len(version) > 1 and cg.reduce(version) != version:
        raise DecodeError("corrupt data: version is not a frontier (one LV is an ancestor of another)")
    n_chars = r.uvar()
    tb = r.block()
    if not n_chars <= tb.left() <= 4 * n_chars:
        raise DecodeError("corrupt data: text size does not match its length")
    text = _decode_utf8(tb.take(tb.left()), "text")
    if len(text) != n_chars:
        raise DecodeError("corrupt data: text length does not match")
    if fmt >= 2:
        oplog.time_starts, oplog.time_values = _read_times(r, total, "LVs")
    elif total:
        oplog.time_starts, oplog.time_values = [0], [0]  # version 1: times unknown
    r.done("document")
    _check_text_len(oplog, version, len(text), linear)
    return oplog, text, version


def _check_text_len(oplog: OpLog, version: Frontier, text_len: int, linear: bool) -> None:
    """The stored text must be as long as the version's history allows.

    Each op inserts or deletes one character, but concurrent deletes of the same
    character count once, so in general ``ins - del <= len <= ins``.  With no
    concurrency at all the length is exact, and each run's position is checked
    against the length at that point (a cheap replay of lengths, not of text).
    """
    cg = oplog.cg
    if linear and version == cg.heads:
        length = 0
        for kind, pos, n in zip(oplog.op_kinds, oplog.op_pos, oplog.op_lens):
            if kind == INS:
                if pos > length:
                    raise DecodeError("corrupt data: insert beyond the end of the text")
                length += n
            else:
                if pos + n > length:
                    raise DecodeError("corrupt data: delete beyond the end of the text")
                length -= n
        if length != text_len:
            raise DecodeError(f"corrupt data: text has {text_len} characters but its history makes {length}")
        return
    ranges = [(0, cg.next_lv)] if version == cg.heads else cg.diff(version, ())[0]
    ins = dels = 0
    for s, e in ranges:
        for s2, e2, kind, _pos, _content in oplog.iter_ops(s, e):
            if kind == INS:
                ins += e2 - s2
            else:
                dels += e2 - s2
    if not ins - dels <= text_len <= ins:
        raise DecodeError(
            f"corrupt data: text has {text_len} characters, impossible for its version ({ins} inserted, {dels} deleted)"
        )


def decode_patch(data: bytes) -> list[Op]:
    """The ops of :func:`encode_patch` bytes, structurally validated."""
    if type(data) is bytes:
        try:
            ops = _decode_patch_fast(data)
        except Exception:  # anything unusual: the general decoder decides (and says why)
            ops = None
        if ops is not None:
            return ops
    return _guard(_decode_patch, data, "patch")  # type: ignore[return-value]


class _Bail(Exception):
    """The fast patch decoder met something it leaves to the general one."""


def _uv_long(buf: bytes, p: int) -> tuple[int, int]:
    """A varint of two or more bytes at ``buf[p]`` (the fast decoder's slow case)."""
    result = 0
    shift = 0
    while True:
        b = buf[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, p
        shift += 7
        if shift >= 7 * _MAX_VARINT_BYTES:
            raise _Bail


def _decode_patch_fast(data: bytes) -> list[Op] | None:
    """:func:`_decode_patch` for the common case (a version-2, not deflated patch, e.g.
    a keystroke), with the same checks but inline varints and no helper objects.

    Returns ``None`` (or raises) where the general decoder must decide: anything
    malformed or unusual.  It never accepts what the general decoder refuses and,
    when it answers, answers the same (``tests/engine/test_encoding.py`` compares the
    two on random and damaged patches).
    """
    size = len(data)
    if size < _HEADER + _TRAILER or data[4] != 0 or data[3] != 2 or data[:3] != PATCH_MAGIC:
        return None
    end = size - _TRAILER
    if zlib.crc32(data[:end]) != int.from_bytes(data[end:], "little"):
        return None
    buf = data
    p = _HEADER
    # -- agents (a count of blocks: each takes at least one byte)
    n_agents = buf[p]
    p += 1
    if n_agents >= 0x80:
        n_agents, p = _uv_long(buf, p - 1)
    if n_agents > end - p:
        return None
    agents: list[str] = []
    seen: set[str] = set()
    for _ in range(n_agents):
        ln = buf[p]
        p += 1
        if ln >= 0x80:
            ln, p = _uv_long(buf, p - 1)
        q = p + ln
        if q > end or ln > 4 * MAX_AGENT_LEN:
            return None
        name = buf[p:q].decode("utf-8")  # strict: a bad name raises, the general decoder reports it
        p = q
        if not name or len(name) > MAX_AGENT_LEN or name in seen:
            return None
        seen.add(name)
        agents.append(name)
    # -- op count and the five column blocks
    n = buf[p]
    p += 1
    if n >= 0x80:
        n, p = _uv_long(buf, p - 1)
    if n > end - p:
        return None
    bounds: list[int] = []
    for _ in range(5):
        ln = buf[p]
        p += 1
        if ln >= 0x80:
            ln, p = _uv_long(buf, p - 1)
        q = p + ln
        if q > end:
            return None
        bounds.append(p)
        bounds.append(q)
        p = q
    a_p, a_end, s_p, s_end, pa_p, pa_end, k_p, k_end, o_p, o_end = bounds
    if n > s_end - s_p or n > pa_end - pa_p or n > k_end - k_p or n > o_end - o_p:
        return None
    # -- agent runs
    op_agents: list[int] = []
    while len(op_agents) < n:
        v = buf[a_p]
        a_p += 1
        if v >= 0x80:
            v, a_p = _uv_long(buf, a_p - 1)
        k = buf[a_p]
        a_p += 1
        if k >= 0x80:
            k, a_p = _uv_long(buf, a_p - 1)
        if v >= n_agents or k == 0 or k > n - len(op_agents):
            return None
        op_agents.extend([v] * k)
    if a_p != a_end:
        return None
    # -- the ops
    rows: list[tuple[str, int, RawVersion, int, int, int]] = []
    next_seq = [0] * n_agents
    prev_last: tuple[str, int] | None = None
    predicted = 0
    ins_total = 0
    for i in range(n):
        a = op_agents[i]
        agent = agents[a]
        v = buf[s_p]
        s_p += 1
        if v >= 0x80:
            v, s_p = _uv_long(buf, s_p - 1)
        seq = next_seq[a] + ((v >> 1) ^ -(v & 1))
        kl = buf[k_p]
        k_p += 1
        if kl >= 0x80:
            kl, k_p = _uv_long(buf, k_p - 1)
        kind = kl & 3
        span = kl >> 2
        if kind > DEL_BACK or span == 0 or seq < 0 or seq + span > _MAX_SEQ:
            return None
        code = buf[pa_p]
        pa_p += 1
        if code >= 0x80:
            code, pa_p = _uv_long(buf, pa_p - 1)
        parents: RawVersion
        if code == 0:
            if prev_last is None:
                return None
            parents = (prev_last,)
        else:
            k = code - 1
            if 2 * k > pa_end - pa_p:
                return None
            ps: list[tuple[str, int]] = []
            for _ in range(k):
                pa = buf[pa_p]
                pa_p += 1
                if pa >= 0x80:
                    pa, pa_p = _uv_long(buf, pa_p - 1)
                psq = buf[pa_p]
                pa_p += 1
                if psq >= 0x80:
                    psq, pa_p = _uv_long(buf, pa_p - 1)
                if pa >= n_agents or psq >= _MAX_SEQ:
                    return None
                ps.append((agents[pa], psq))
            parents = tuple(ps)
        v = buf[o_p]
        o_p += 1
        if v >= 0x80:
            v, o_p = _uv_long(buf, o_p - 1)
        pos = predicted + ((v >> 1) ^ -(v & 1))
        if pos < 0:
            return None
        if kind == INS:
            predicted = pos + span
            ins_total += span
        else:
            predicted = pos
        next_seq[a] = seq + span
        prev_last = (agent, seq + span - 1)
        rows.append((agent, seq, parents, kind, pos, span))
    if s_p != s_end or pa_p != pa_end or k_p != k_end or o_p != o_end:
        return None
    # -- inserted text
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1)
    q = p + ln
    if q > end or not ins_total <= ln <= 4 * ins_total:
        return None
    content = buf[p:q].decode("utf-8")
    p = q
    if len(content) != ins_total:
        return None
    # -- times
    n_runs = buf[p]
    p += 1
    if n_runs >= 0x80:
        n_runs, p = _uv_long(buf, p - 1)
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1)
    t_end = p + ln
    if t_end != end or n_runs > ln // 2:  # the times block must end the body
        return None
    t_starts: list[int] = []
    t_values: list[int] = []
    covered = 0
    prev = 0
    for i in range(n_runs):
        k = buf[p]
        p += 1
        if k >= 0x80:
            k, p = _uv_long(buf, p - 1)
        v = buf[p]
        p += 1
        if v >= 0x80:
            v, p = _uv_long(buf, p - 1)
        t = prev + ((v >> 1) ^ -(v & 1))
        if k == 0 or not 0 <= t < MAX_TIME or (i and t == prev) or k > n - covered:
            return None
        t_starts.append(covered)
        t_values.append(t)
        covered += k
        prev = t
    if p != t_end or covered != n:
        return None
    # -- the ops (every field checked above: Op's own validation cannot fail)
    ops: list[Op] = []
    c = 0
    t_ends = t_starts[1:] + [n]
    t = 0
    time = 0
    for i, (agent, seq, parents, kind, pos, span) in enumerate(rows):
        while i >= t_ends[t]:
            t += 1
        time = t_values[t]
        if kind == INS:
            ops.append(Op(agent, seq, parents, "ins", pos, content[c : c + span], span, True, time))
            c += span
        else:
            ops.append(Op(agent, seq, parents, "del", pos, "", span, kind == DEL_FWD, time))
    return ops


def _decode_patch(data: bytes) -> list[Op]:
    r, fmt = _unframe(data, PATCH_MAGIC, "patch")
    agents = _read_agents(r)
    n_agents = len(agents)
    n = r.count("ops")
    agents_r = r.block()
    seqs_r = r.block()
    parents_r = r.block()
    kl_r = r.block()
    pos_r = r.block()
    if n > seqs_r.left() or n > parents_r.left() or n > kl_r.left() or n > pos_r.left():
        raise DecodeError("corrupt data: op count larger than its columns")
    op_agents = _read_rle(agents_r, n, n_agents, "agent index")
    rows: list[tuple[str, int, RawVersion, int, int, int]] = []
    next_seq = [0] * n_agents
    prev_last: tuple[str, int] | None = None
    predicted = 0
    ins_total = 0
    for i in range(n):
        a = op_agents[i]
        agent = agents[a]
        seq = next_seq[a] + seqs_r.svar()
        kl = kl_r.uvar()
        kind = kl & 3
        span = kl >> 2
        if kind > DEL_BACK:
            raise DecodeError(f"corrupt data: unknown op kind {kind}")
        if span == 0:
            raise DecodeError("corrupt data: empty op")
        if seq < 0 or seq + span > _MAX_SEQ:
            raise DecodeError(f"corrupt data: seq {seq} out of range")
        code = parents_r.uvar()
        parents: RawVersion
        if code == 0:
            if prev_last is None:
                raise DecodeError("corrupt data: the first op cannot follow a previous one")
            parents = (prev_last,)
        else:
            k = code - 1
            if 2 * k > parents_r.left():
                raise DecodeError("corrupt data: parent count larger than its column")
            ps: list[tuple[str, int]] = []
            for _ in range(k):
                pa = parents_r.uvar()
                if pa >= n_agents:
                    raise DecodeError(f"corrupt data: agent index {pa} out of range")
                psq = parents_r.uvar()
                if psq >= _MAX_SEQ:
                    raise DecodeError("corrupt data: parent seq out of range")
                ps.append((agents[pa], psq))
            parents = tuple(ps)
        pos = predicted + pos_r.svar()
        if pos < 0:
            raise DecodeError("corrupt data: negative op position")
        predicted = _predict(kind, pos, span)
        if kind == INS:
            ins_total += span
        next_seq[a] = seq + span
        prev_last = (agent, seq + span - 1)
        rows.append((agent, seq, parents, kind, pos, span))
    for col, what in ((seqs_r, "seqs"), (parents_r, "parents"), (kl_r, "op kinds"), (pos_r, "op positions")):
        col.done(what)
    content = _read_content(r, ins_total)
    t_starts, t_values = _read_times(r, n, "ops") if fmt >= 2 else ([0] if n else [], [0] if n else [])
    r.done("patch")
    ops: list[Op] = []
    c = 0
    t_ends = t_starts[1:] + [n]
    t = 0
    try:
        for i, (agent, seq, parents, kind, pos, span) in enumerate(rows):
            while i >= t_ends[t]:
                t += 1
            time = t_values[t]
            if kind == INS:
                ops.append(Op(agent, seq, parents, "ins", pos, content[c : c + span], span, True, time))
                c += span
            else:
                ops.append(Op(agent, seq, parents, "del", pos, "", span, kind == DEL_FWD, time))
    except InvalidOpError as exc:
        raise DecodeError(f"corrupt data: invalid op ({exc})") from None
    return ops
