"""The head-first layout of a document: text and version first, history after.

Why: loading a document to show it needs only its text and version, yet the
classic layout (``document.py``) puts them after the whole history, so every
load inflated and decoded every op.  Here they come first, in a *head* of their
own, and the history follows in the same sections as the classic layout
(``sections.py``).  A loader inflates only the head and keeps the frame's bytes;
the history is inflated and decoded when something needs it (a merge, a local
edit, ``ops_since``, undo, encoding) -- see :class:`LazyHistory`.  The body is
still one deflate stream, and the inserted text comes right after the text (within
deflate's 32 KiB window of it, as in the classic layout), so it compresses against
the text and the encoding stays about the size of the classic one.

Body (inside the frame of ``frame.py``, deflated as a whole like any body)::

    mark        the 10 bytes ff ff ff ff ff ff ff ff ff 01: a varint of 2**64 - 1,
                which a classic body cannot start with (it would be an agent count
                no body has room for), so the two layouts never read as each other
    head        uvarint H, then H bytes:
                  agents   as in the classic layout (every agent of the document)
                  ops      uvarint N: ops (LVs) in the history
                  version  uvarint k, then k pairs (uvarint agent index, uvarint seq):
                           the ids of the stored text's version, ascending by
                           (agent name, seq) -- what ``Document.version`` returns
                  text     uvarint code-point count, then a block of UTF-8
    history     a block holding every insert's text (UTF-8, concatenated), then
                the classic layout's graph entries, op runs (without their text:
                it is that first block) and heads, then its times section

The frame's version byte stays 2 (the head-first body is told by its mark, which
a reader that does not know it refuses as corrupt), so the frame, its CRC-32 and
its ``max_bytes`` limit (of the whole inflated body) are exactly those of every
other cowrite encoding.
"""

from __future__ import annotations

from typing import NamedTuple

from ...errors import DecodeError
from ..causal_graph import Frontier, RawId
from ..limits import MAX_SEQ
from ..oplog import OpLog
from .columns import decode_utf8, read_agents, utf8, write_agents
from .frame import DOC_MAGIC, Frame, body_prefix, body_reader, frame
from .sections import (
    check_text_len,
    read_graph,
    read_heads,
    read_runs,
    read_times_section,
    write_content,
    write_graph,
    write_heads,
    write_runs,
    write_times_section,
)
from .varint import Reader, write_block, write_uvar

__all__ = ["HEAD_MARK", "Head", "LazyHistory", "encode_head_first", "is_head_first", "peek", "read_head"]

HEAD_MARK = b"\xff" * 9 + b"\x01"
"""The first bytes of every head-first body (see the module docstring)."""
_PEEK = len(HEAD_MARK) + 10  # the mark and the longest head-length varint


def encode_head_first(oplog: OpLog, text: str, version: Frontier) -> bytes:
    """The whole document, head first: its text at ``version``, then its op log."""
    cg = oplog.cg
    head = bytearray()
    write_agents(head, cg.agents)
    write_uvar(head, cg.next_lv)
    raw = cg.frontier_to_raw(version)
    write_uvar(head, len(raw))
    for agent, seq in raw:
        write_uvar(head, cg.agent_index[agent])
        write_uvar(head, seq)
    write_uvar(head, len(text))
    write_block(head, utf8(text, "text"))
    body = bytearray(HEAD_MARK)
    write_block(body, head)
    write_content(body, oplog)
    write_graph(body, oplog)
    write_runs(body, oplog, content=False)
    write_heads(body, oplog)
    write_times_section(body, oplog)
    return frame(DOC_MAGIC, body)


def is_head_first(body: bytes | bytearray) -> bool:
    """Whether a body (or its first bytes) is in the head-first layout."""
    return body[: len(HEAD_MARK)] == HEAD_MARK


class LazyHistory:
    """The history of a head-first document, read from its frame on first need.

    Holds the frame's bytes (the compressed document, not a Python object per op
    run) and what the head said; :meth:`decode` builds the op log.  The frame's
    CRC-32 was checked when the head was read, so damage (a truncated or flipped
    byte) is refused at load as before; what :meth:`decode` can still refuse is a
    history that is structurally wrong under a valid checksum -- written by a buggy
    encoder or forged -- and it does so with :class:`DecodeError` every time it
    is asked, changing nothing.
    """

    __slots__ = ("frame", "body", "at", "agents", "n_lvs", "version", "text_len")

    def __init__(
        self,
        f: Frame,
        body: Reader | None,
        at: int,
        agents: list[str],
        n_lvs: int,
        version: tuple[RawId, ...],
        text_len: int,
    ) -> None:
        self.frame = f
        self.body = body  # the body already inflated (an eager decode), or None: inflate it from frame
        self.at = at  # where the history starts, counted from the body's start
        self.agents = agents
        self.n_lvs = n_lvs
        self.version = version
        self.text_len = text_len

    def decode(self) -> tuple[OpLog, Frontier]:
        """The op log and the LVs of the stored version; DecodeError if the history
        is malformed or does not fit the head (its op count, version or text)."""
        body = self.body if self.body is not None else body_reader(self.frame)
        r = Reader(body.buf, body.pos + self.at, body.end)
        content = Reader(r.buf, r.pos, r.end)  # read_runs reads the inserted text's block from here
        r.block()
        oplog, linear = read_graph(r, self.agents)
        cg = oplog.cg
        if cg.next_lv != self.n_lvs:
            raise DecodeError(f"corrupt data: the history holds {cg.next_lv} ops but the head says {self.n_lvs}")
        read_runs(r, oplog, content)
        read_heads(r, oplog)
        lvs: list[int] = []
        for agent, seq in self.version:
            lv = cg.raw_to_lv(agent, seq)
            if lv is None:
                raise DecodeError(f"corrupt data: the version names {agent}:{seq}, which the history does not have")
            lvs.append(lv)
        version = tuple(sorted(lvs))
        if len(version) > 1 and cg.reduce(version) != version:
            raise DecodeError("corrupt data: version is not a frontier (one LV is an ancestor of another)")
        read_times_section(r, oplog, self.frame.version)
        r.done("document")
        check_text_len(oplog, version, self.text_len, linear)
        return oplog, version


class Head(NamedTuple):
    """A head-first document as loaded: its text and version, its history still packed."""

    text: str
    version: tuple[RawId, ...]
    history: LazyHistory


def peek(f: Frame) -> bytes:
    """The first bytes of the body of ``f``: enough to tell the layout and find the head."""
    return body_prefix(f, _PEEK)


def read_head(f: Frame, body: Reader | None = None, first: bytes | None = None) -> Head:
    """The text and version of a head-first document, inflating only its head
    (or reading it from ``body``, the whole body already inflated; ``first`` is
    what :func:`peek` returned, if the caller has it).

    Everything in the head is checked (agents, ids, UTF-8, the text's length
    against the op count); the history is left to :meth:`LazyHistory.decode`.
    """
    base = 0 if body is None else body.pos
    if body is None:
        pr = Reader(first if first is not None else body_prefix(f, _PEEK))
    else:
        pr = Reader(body.buf, base, body.end)
    if not is_head_first(pr.take(min(len(HEAD_MARK), pr.left()))):
        raise DecodeError("corrupt data: not a head-first document body")
    head_len = pr.uvar()
    at = pr.pos - base
    if head_len > f.size - at:
        raise DecodeError("corrupt data: the document head runs past the end of its body")
    if body is None:
        r = Reader(body_prefix(f, at + head_len), at, at + head_len)
    else:
        r = Reader(body.buf, base + at, base + at + head_len)
    agents = read_agents(r)
    n_agents = len(agents)
    n_lvs = r.uvar()
    k = r.count("version ids")
    if k > n_lvs:
        raise DecodeError("corrupt data: the version names more ops than the history holds")
    ids: list[RawId] = []
    for _ in range(k):
        a = r.uvar()
        if a >= n_agents:
            raise DecodeError(f"corrupt data: agent index {a} out of range (only {n_agents})")
        seq = r.uvar()
        if seq >= MAX_SEQ:
            raise DecodeError(f"corrupt data: seq {seq} out of range")
        rid = (agents[a], seq)
        if ids and rid <= ids[-1]:
            raise DecodeError("corrupt data: version ids are not strictly ascending")
        ids.append(rid)
    n_chars = r.uvar()
    tb = r.block()
    if not n_chars <= tb.left() <= 4 * n_chars:
        raise DecodeError("corrupt data: text size does not match its length")
    text = decode_utf8(tb.take(tb.left()), "text")
    if len(text) != n_chars:
        raise DecodeError("corrupt data: text length does not match")
    if n_chars > n_lvs:
        raise DecodeError(f"corrupt data: text has {n_chars} characters but the history only {n_lvs} ops")
    r.done("document head")
    version = tuple(ids)
    return Head(text, version, LazyHistory(f, body, at + head_len, agents, n_lvs, version, n_chars))
