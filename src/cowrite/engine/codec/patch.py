"""The encoding of a patch: a list of wire ops (ids, not LVs) for a peer.

Body (inside the frame of ``frame.py``; see ``document.py`` for the notation)::

    agents      as for documents (authors and the agents named in parents)
    ops         uvarint N, then blocks:
                  agents   RLE pairs (agent index, repeat)
                  seqs     N zigzag: seq minus the end of this agent's previous op
                  parents  per op a code: 0 = the previous op's last id,
                           c >= 1 = c - 1 parents follow as (agent index, seq)
                  kindlen  N uvarints: span << 2 | 0 ins / 1 delete fwd / 2 delete back
                  pos      N zigzag, predicted as for documents
                  content  UTF-8 of every insert's text, concatenated
    times       (version >= 2) uvarint T, then a block of T pairs: uvarint number
                of consecutive ops (>= 1) with one time, then zigzag time delta

Two decoders give one answer: :func:`decode_fast` handles the common case (a
plain, not deflated, version-2 patch such as a keystroke) with inline varints
and no helper objects, and leaves anything unusual or malformed to
:func:`decode_general`, which says what is wrong.  Both build their ops with
:func:`build_ops`.  ``tests/engine/codec`` compares the two on random and
damaged patches.  A deflated version-2 patch is inflated as the general decoder
does and its body read by the fast reader (:func:`rows_inflated`).  Each has a
``rows_*`` form that stops before building ops (:func:`decode_patch_rows`).
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

from ...errors import DecodeError, TooLargeError, TruncatedError
from ..limits import MAX_AGENT_LEN, MAX_SEQ, MAX_TIME, MAX_VARINT_BYTES
from ..oplog import DEL_BACK, DEL_FWD, INS, Row
from ..ops import Op, RawVersion
from .columns import predict, read_agents, read_content, read_rle, read_times, rle, utf8, write_agents, write_times
from .frame import FLAG_DEFLATE, HEADER, PATCH_MAGIC, TRAILER, body_reader, frame, open_frame, unframe
from .varint import Reader, write_block, write_svar, write_uvar

__all__ = [
    "PatchRows", "PatchShape", "Row", "build_ops", "decode_fast", "decode_general", "decode_patch",
    "decode_patch_rows", "encode_patch", "patch_shape", "rows_fast", "rows_general", "rows_inflated",
]

PatchRows = tuple[list[Row], str, list[int], list[int]]
"""A decoded patch before its ops are built: the rows, the inserted text of every
insert row concatenated, and the time runs (first row index and time of each)."""


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
        write_svar(seqs, op.seq - next_seq.get(a, 0))
        next_seq[a] = op.seq + span
        if prev_last is not None and op.parents == (prev_last,):
            write_uvar(parents, 0)
        else:
            write_uvar(parents, len(op.parents) + 1)
            for pa, ps in op.parents:
                write_uvar(parents, idx(pa))
                write_uvar(parents, ps)
        kind = INS if op.kind == "ins" else (DEL_FWD if op.fwd else DEL_BACK)
        write_uvar(kindlen, (span << 2) | kind)
        write_svar(poss, op.pos - predicted)
        predicted = predict(kind, op.pos, span)
        if kind == INS:
            content.append(op.content)
        if times and times[-1][1] == op.time:
            times[-1] = (times[-1][0] + 1, op.time)
        else:
            times.append((1, op.time))
        prev_last = (op.agent, op.seq + span - 1)
    body = bytearray()
    write_agents(body, agents)
    write_uvar(body, len(ops))
    write_block(body, rle(op_agents))
    write_block(body, seqs)
    write_block(body, parents)
    write_block(body, kindlen)
    write_block(body, poss)
    write_block(body, utf8("".join(content), "inserted text"))
    write_times(body, times)
    return frame(PATCH_MAGIC, body)


def decode_patch_rows(data: bytes, *, max_bytes: int | None = None) -> PatchRows:
    """:func:`decode_patch` without building ops: the rows, checked exactly as for
    ops (``Document.apply_patch`` hands a keystroke's one row to ``OpLog.add_row``,
    so it costs no ``Op`` object on its way into the op log)."""
    if type(data) is bytes:
        if data[:HEADER] == _DEFLATED_V2:
            return rows_inflated(data, max_bytes)
        got = rows_fast(data, max_bytes)
        if got is not None:
            return got
    return rows_general(data, max_bytes)


def decode_patch(data: bytes, *, max_bytes: int | None = None) -> list[Op]:
    """The ops of :func:`encode_patch` bytes, structurally validated.

    Raises :class:`~cowrite.errors.DecodeError`, or :class:`~cowrite.errors.TooLargeError`
    if the body (inflated, for a deflated patch) is over ``max_bytes``.
    """
    return build_ops(*decode_patch_rows(data, max_bytes=max_bytes))


_new_op = object.__new__
# The slot setters of Op's fields, in field order: a decoded op is built with them,
# not with Op(), whose validate_op would check again what the decoder has checked.
_SET_AGENT, _SET_SEQ, _SET_PARENTS, _SET_KIND, _SET_POS, _SET_CONTENT, _SET_LENGTH, _SET_FWD, _SET_TIME = (
    Op.__dict__[f].__set__
    for f in ("agent", "seq", "parents", "kind", "pos", "content", "length", "fwd", "time")
)
assert Op.__slots__ == ("agent", "seq", "parents", "kind", "pos", "content", "length", "fwd", "time")


def _checked_op(
    agent: str, seq: int, parents: RawVersion, kind: str, pos: int, content: str, length: int, fwd: bool, time: int
) -> Op:
    """``Op(...)`` for fields the decoder has already checked (everything
    :func:`~cowrite.engine.ops.validate_op` checks: an agent of valid UTF-8 and
    bounded length, seqs and times in range, non-negative positions, parents as
    (str, int) pairs, an insert's text as long as its span).  Building ops is a
    quarter of decoding a keystroke's patch; checking them twice was half of that."""
    op: Op = _new_op(Op)
    _SET_AGENT(op, agent)
    _SET_SEQ(op, seq)
    _SET_PARENTS(op, parents)
    _SET_KIND(op, kind)
    _SET_POS(op, pos)
    _SET_CONTENT(op, content)
    _SET_LENGTH(op, length)
    _SET_FWD(op, fwd)
    _SET_TIME(op, time)
    return op


def build_ops(rows: list[Row], content: str, t_starts: list[int], t_values: list[int]) -> list[Op]:
    """The ops of decoded rows (every field already checked: Op's own checks cannot fail,
    so they are not run again; ``tests/engine/codec`` pins that they would pass)."""
    ops: list[Op] = []
    n = len(rows)
    c = 0
    t_ends = t_starts[1:] + [n]
    t = 0
    mk = _checked_op
    for i, (agent, seq, parents, kind, pos, span) in enumerate(rows):
        while i >= t_ends[t]:
            t += 1
        time = t_values[t]
        if kind == INS:
            ops.append(mk(agent, seq, parents, "ins", pos, content[c : c + span], span, True, time))
            c += span
        else:
            ops.append(mk(agent, seq, parents, "del", pos, "", span, kind == DEL_FWD, time))
    return ops


def decode_general(data: object, max_bytes: int | None = None) -> list[Op]:
    """:func:`decode_patch` for any input: every check named, every failure a DecodeError."""
    return build_ops(*rows_general(data, max_bytes))


def rows_general(data: object, max_bytes: int | None = None) -> PatchRows:
    """:func:`decode_general` up to its rows (see :func:`decode_patch_rows`)."""
    r, fmt = unframe(data, PATCH_MAGIC, max_bytes)
    return _rows_of_body(r, fmt)


def _rows_of_body(r: Reader, fmt: int) -> PatchRows:
    """The general reading of a patch body (format version ``fmt``)."""
    agents = read_agents(r)
    n_agents = len(agents)
    n = r.count("ops")
    agents_r = r.block()
    seqs_r = r.block()
    parents_r = r.block()
    kl_r = r.block()
    pos_r = r.block()
    if n > seqs_r.left() or n > parents_r.left() or n > kl_r.left() or n > pos_r.left():
        raise DecodeError("corrupt data: op count larger than its columns")
    op_agents = read_rle(agents_r, n, n_agents, "agent index")
    rows: list[Row] = []
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
        if seq < 0 or seq + span > MAX_SEQ:
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
                if psq >= MAX_SEQ:
                    raise DecodeError("corrupt data: parent seq out of range")
                ps.append((agents[pa], psq))
            parents = tuple(ps)
        pos = predicted + pos_r.svar()
        if pos < 0:
            raise DecodeError("corrupt data: negative op position")
        predicted = predict(kind, pos, span)
        if kind == INS:
            ins_total += span
        next_seq[a] = seq + span
        prev_last = (agent, seq + span - 1)
        rows.append((agent, seq, parents, kind, pos, span))
    for col, what in ((seqs_r, "seqs"), (parents_r, "parents"), (kl_r, "op kinds"), (pos_r, "op positions")):
        col.done(what)
    content = read_content(r, ins_total)
    t_starts, t_values = read_times(r, n, "ops") if fmt >= 2 else ([0] if n else [], [0] if n else [])
    r.done("patch")
    return rows, content, t_starts, t_values


# -- the fast path ---------------------------------------------------------------------


_crc32 = zlib.crc32
_read_crc = struct.Struct("<I").unpack_from
"""The CRC-32 after a frame's body, as ``frame.py`` writes it (little-endian)."""

_PLAIN_V2 = PATCH_MAGIC + bytes((2, 0))
"""The header the fast decoder takes: a version-2 patch, not deflated."""
_DEFLATED_V2 = PATCH_MAGIC + bytes((2, FLAG_DEFLATE))
"""A version-2 patch with a deflated body (:func:`rows_inflated`)."""


class _Bail(Exception):
    """The fast decoder met something it leaves to the general one (never escapes this module)."""


def _uv_long(buf: bytes, p: int, lim: int) -> tuple[int, int]:
    """A varint of two or more bytes at ``buf[p]`` inside ``buf[:lim]`` (the slow case)."""
    result = 0
    shift = 0
    while True:
        if p >= lim:
            raise _Bail
        b = buf[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, p
        shift += 7
        if shift >= 70:
            raise _Bail


def decode_fast(data: bytes, max_bytes: int | None = None) -> list[Op] | None:
    """:func:`decode_general` for the common case (a version-2, not deflated patch within
    ``max_bytes``), with the same checks but inline varints; ``None`` where the general
    decoder must decide (anything malformed or unusual).

    It never accepts what the general decoder refuses and, when it answers, answers
    the same.  Every read is checked against the end of its own block.
    """
    got = rows_fast(data, max_bytes)
    return None if got is None else build_ops(*got)


def rows_fast(data: bytes, max_bytes: int | None = None) -> PatchRows | None:
    """:func:`decode_fast` up to its rows (see :func:`decode_patch_rows`)."""
    try:
        return _decode_fast(data, max_bytes)
    except _Bail:
        return None


def _decode_fast(data: bytes, max_bytes: int | None) -> PatchRows | None:
    size = len(data)
    if size < HEADER + TRAILER or data[:HEADER] != _PLAIN_V2:
        return None
    end = size - TRAILER
    if max_bytes is not None and end - HEADER > max_bytes:
        return None
    if _crc32(data[:end]) != _read_crc(data, end)[0]:
        return None
    return _decode_body(data, HEADER, end)


def rows_inflated(data: bytes, max_bytes: int | None = None) -> PatchRows:
    """:func:`rows_general` for a deflated version-2 patch (a whole history, a bulk
    transfer), with the fast body reader: the frame is checked and the body inflated
    exactly as the general decoder does (the same errors), once; a body the fast
    reader declines is then read by the general one, which says what is wrong.
    """
    f = open_frame(data, PATCH_MAGIC, max_bytes)
    r = body_reader(f)
    try:
        got = _decode_body(r.buf, r.pos, r.end) if f.version == 2 else None
    except _Bail:
        got = None
    return got if got is not None else _rows_of_body(r, f.version)


def _decode_body(buf: bytes, p: int, end: int) -> PatchRows | None:
    """The fast decoder's reading of a version-2 body ``buf[p:end]``."""
    # -- agents (a count of blocks: each takes at least one byte)
    if p >= end:
        return None
    n_agents = buf[p]
    p += 1
    if n_agents >= 0x80:
        n_agents, p = _uv_long(buf, p - 1, end)
    if n_agents > end - p:
        return None
    agents: list[str] = []
    seen: set[str] = set()
    for _ in range(n_agents):
        if p >= end:
            return None
        ln = buf[p]
        p += 1
        if ln >= 0x80:
            ln, p = _uv_long(buf, p - 1, end)
        q = p + ln
        if q > end or ln > 4 * MAX_AGENT_LEN:
            return None
        try:
            name = buf[p:q].decode("utf-8")
        except UnicodeDecodeError:
            return None  # the general decoder reports it
        p = q
        if not name or len(name) > MAX_AGENT_LEN or name in seen:
            return None
        seen.add(name)
        agents.append(name)
    # -- op count and the five column blocks
    if p >= end:
        return None
    n = buf[p]
    p += 1
    if n >= 0x80:
        n, p = _uv_long(buf, p - 1, end)
    if n > end - p:
        return None
    # (unrolled: op agents, seqs, parents, kinds and lengths, positions)
    if p >= end:
        return None
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1, end)
    a_p = p
    p += ln
    if p > end:
        return None
    a_end = p
    if p >= end:
        return None
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1, end)
    s_p = p
    p += ln
    if p > end:
        return None
    s_end = p
    if p >= end:
        return None
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1, end)
    pa_p = p
    p += ln
    if p > end:
        return None
    pa_end = p
    if p >= end:
        return None
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1, end)
    k_p = p
    p += ln
    if p > end:
        return None
    k_end = p
    if p >= end:
        return None
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1, end)
    o_p = p
    p += ln
    if p > end:
        return None
    o_end = p
    if n > s_end - s_p or n > pa_end - pa_p or n > k_end - k_p or n > o_end - o_p:
        return None
    # -- agent runs
    op_agents: list[int]
    if a_end - a_p == 2 and 0 < n < 0x80 and buf[a_p + 1] == n and buf[a_p] < n_agents and buf[a_p] < 0x80:
        op_agents = [buf[a_p]] * n  # one run, one byte each (every keystroke): what the loop reads
        a_p = a_end
    else:
        op_agents = []
    while len(op_agents) < n:
        if a_p >= a_end:
            return None
        v = buf[a_p]
        a_p += 1
        if v >= 0x80:
            v, a_p = _uv_long(buf, a_p - 1, a_end)
        if a_p >= a_end:
            return None
        k = buf[a_p]
        a_p += 1
        if k >= 0x80:
            k, a_p = _uv_long(buf, a_p - 1, a_end)
        if v >= n_agents or k == 0 or k > n - len(op_agents):
            return None
        op_agents.extend([v] * k)
    if a_p != a_end:
        return None
    # -- the ops (n <= each column's size: one byte per op at least, checked per read)
    rows: list[Row] = []
    next_seq = [0] * n_agents
    prev_last: tuple[str, int] | None = None
    predicted = 0
    ins_total = 0
    for i in range(n):
        a = op_agents[i]
        agent = agents[a]
        if s_p >= s_end:
            return None
        v = buf[s_p]
        s_p += 1
        if v >= 0x80:
            if s_p < s_end and buf[s_p] < 0x80:  # two bytes: seqs and positions of a long text
                v = (v & 0x7F) | (buf[s_p] << 7)
                s_p += 1
            else:
                v &= 0x7F  # three bytes or more, inline (positions in a long text, times)
                shift = 7
                while True:
                    if s_p >= s_end:
                        return None
                    b = buf[s_p]
                    s_p += 1
                    v |= (b & 0x7F) << shift
                    if b < 0x80:
                        break
                    shift += 7
                    if shift >= 70:
                        return None
        seq = next_seq[a] + ((v >> 1) ^ -(v & 1))
        if k_p >= k_end:
            return None
        kl = buf[k_p]
        k_p += 1
        if kl >= 0x80:
            kl, k_p = _uv_long(buf, k_p - 1, k_end)
        kind = kl & 3
        span = kl >> 2
        if kind > DEL_BACK or span == 0 or seq < 0 or seq + span > MAX_SEQ:
            return None
        if pa_p >= pa_end:
            return None
        code = buf[pa_p]
        pa_p += 1
        if code >= 0x80:
            code, pa_p = _uv_long(buf, pa_p - 1, pa_end)
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
                if pa_p >= pa_end:
                    return None
                pa = buf[pa_p]
                pa_p += 1
                if pa >= 0x80:
                    pa, pa_p = _uv_long(buf, pa_p - 1, pa_end)
                if pa_p >= pa_end:
                    return None
                psq = buf[pa_p]
                pa_p += 1
                if psq >= 0x80:
                    if pa_p < pa_end and buf[pa_p] < 0x80:  # two bytes: seqs and positions of a long text
                        psq = (psq & 0x7F) | (buf[pa_p] << 7)
                        pa_p += 1
                    else:
                        psq, pa_p = _uv_long(buf, pa_p - 1, pa_end)
                if pa >= n_agents or psq >= MAX_SEQ:
                    return None
                ps.append((agents[pa], psq))
            parents = tuple(ps)
        if o_p >= o_end:
            return None
        v = buf[o_p]
        o_p += 1
        if v >= 0x80:
            if o_p < o_end and buf[o_p] < 0x80:  # two bytes: seqs and positions of a long text
                v = (v & 0x7F) | (buf[o_p] << 7)
                o_p += 1
            else:
                v &= 0x7F  # three bytes or more, inline (positions in a long text, times)
                shift = 7
                while True:
                    if o_p >= o_end:
                        return None
                    b = buf[o_p]
                    o_p += 1
                    v |= (b & 0x7F) << shift
                    if b < 0x80:
                        break
                    shift += 7
                    if shift >= 70:
                        return None
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
    if p >= end:
        return None
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1, end)
    q = p + ln
    if q > end or not ins_total <= ln <= 4 * ins_total:
        return None
    try:
        content = buf[p:q].decode("utf-8")
    except UnicodeDecodeError:
        return None
    p = q
    if len(content) != ins_total:
        return None
    # -- times (the block must end the body)
    if p >= end:
        return None
    n_runs = buf[p]
    p += 1
    if n_runs >= 0x80:
        n_runs, p = _uv_long(buf, p - 1, end)
    if p >= end:
        return None
    ln = buf[p]
    p += 1
    if ln >= 0x80:
        ln, p = _uv_long(buf, p - 1, end)
    t_end = p + ln
    if t_end != end or n_runs > ln // 2:
        return None
    t_starts: list[int] = []
    t_values: list[int] = []
    covered = 0
    prev = 0
    for i in range(n_runs):
        if p >= t_end:
            return None
        k = buf[p]
        p += 1
        if k >= 0x80:
            k, p = _uv_long(buf, p - 1, t_end)
        if p >= t_end:
            return None
        v = buf[p]
        p += 1
        if v >= 0x80:
            v &= 0x7F  # three bytes or more, inline (positions in a long text, times)
            shift = 7
            while True:
                if p >= t_end:
                    return None
                b = buf[p]
                p += 1
                v |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
                if shift >= 70:
                    return None
        t = prev + ((v >> 1) ^ -(v & 1))
        if k == 0 or not 0 <= t < MAX_TIME or (i and t == prev) or k > n - covered:
            return None
        t_starts.append(covered)
        t_values.append(t)
        covered += k
        prev = t
    if p != t_end or covered != n:
        return None
    return rows, content, t_starts, t_values


# -- the shape of a patch, before it is decoded ------------------------------------------


class PatchShape(NamedTuple):
    ops: int
    """Op runs in the patch."""
    content_bytes: int
    """Bytes of UTF-8 inserted text."""


def patch_shape(data: bytes, *, max_body: int, max_meta: int, max_ops: int) -> PatchShape:
    """How many op runs a patch holds and how much text it inserts, read from the start
    of its body without building anything.

    The decoder builds a few hundred bytes of Python objects per op run and per
    parent, and a deflated body of a few KiB can hold millions of them, so a server
    reads the counts first.  Raises :class:`~cowrite.errors.TooLargeError` if the body
    (the stated inflated size of a deflated one) is over ``max_body`` bytes, it holds
    more than ``max_ops`` op runs, or what comes before the inserted text (agent
    names, seqs, parents, kinds, positions) is over ``max_meta`` bytes;
    :class:`~cowrite.errors.DecodeError` if the bytes are not laid out like a patch
    (the decoder then need not run).  At most about ``max_meta`` bytes are inflated.
    The CRC is not checked here: the decoder does that.
    """
    if len(data) < HEADER + TRAILER or data[:3] != PATCH_MAGIC:
        raise DecodeError("not a cowrite patch")
    end = len(data) - TRAILER
    if data[4] & FLAG_DEFLATE:
        r = Reader(data, HEADER, end)
        try:
            raw_len = r.uvar()
        except DecodeError:
            raise DecodeError("truncated cowrite patch") from None
        if raw_len > max_body:
            raise TooLargeError(f"a patch body of {raw_len} bytes is over the limit of {max_body}")
        want = min(raw_len, max_meta + 2 * MAX_VARINT_BYTES)
        try:
            body = zlib.decompressobj().decompress(data[r.pos : end], max(want, 1))
        except zlib.error as exc:
            raise DecodeError(f"corrupt cowrite patch: bad compressed body ({exc})") from None
        whole = want == raw_len or len(body) < want  # not cut short by the cap: all there is
    else:
        body = data[HEADER:end]
        if len(body) > max_body:
            raise TooLargeError(f"a patch body of {len(body)} bytes is over the limit of {max_body}")
        whole = True
    meta_over = TooLargeError(f"more than {max_meta} bytes of op metadata (agents, seqs, parents) in one patch")
    r = Reader(body)
    try:
        n_agents = r.uvar()
        for _ in range(n_agents):  # each takes a byte at least: bounded by the body
            start = r.pos
            r.block()
            if r.pos - start > 4 * MAX_AGENT_LEN + 2:
                raise DecodeError("corrupt data: agent name too long")
            if r.pos > max_meta:
                raise meta_over
        n_ops = r.uvar()
        if n_ops > max_ops:
            raise TooLargeError(f"a batch may carry at most {max_ops} op runs, not {n_ops}: send smaller batches")
        for _ in range(5):  # op agents, seqs, parents, kinds and lengths, positions
            r.block()
        content = r.uvar()
    except TruncatedError:
        if whole:
            raise DecodeError("truncated cowrite patch") from None
        raise meta_over from None  # cut short by the inflate cap: there is more metadata than that
    if r.pos > max_meta:
        raise meta_over
    return PatchShape(n_ops, content)
