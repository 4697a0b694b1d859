"""The encoding of a whole document: its op log (full history), its text and version.

Why a custom format: JSON of the op log is large (every run repeats its agent,
seq and parents) and slow to parse.  The op log is already run-length encoded,
and its columns are very regular, so storing each field as its own column of
small varints and deflating the lot makes a full-history document smaller than
its plain text would be as UTF-8 in many cases.

Body (inside the frame of ``frame.py``; integers are LEB128 varints, signed ones
zigzag-coded, strings UTF-8; every column is a length-prefixed block)::

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

Times are Unix seconds (0 = unknown), each in ``0 <= t < 2**53``; consecutive
time runs must differ (so the column has one encoding) and cover exactly the
LVs there are.  Version 1 is version 2 without the times: its ops decode with
time 0.

The current text is stored, so loading never replays history (that is the cost
Eg-walker saves: the op log is only walked again when concurrent ops arrive).
This is the *classic* layout, which :func:`encode_document` writes (the shared test
vectors pin its bytes).  ``Document.encode`` writes the *head-first* layout of
``head.py``: the same sections with the text and version moved to the front, so
a load reads them without decoding the history.  :func:`decode_document` reads
both; ``sections.py`` holds the sections they share.

Decoding never trusts the bytes: any input either decodes to a consistent value
or raises :class:`~cowrite.errors.DecodeError` (or :class:`~cowrite.errors.TooLargeError`
for a body over the caller's limit); anything else would be a bug.
"""

from __future__ import annotations

from ...errors import DecodeError
from ..causal_graph import Frontier
from ..oplog import OpLog
from .columns import decode_utf8, read_agents, read_frontier, utf8, write_agents, write_frontier
from .frame import DOC_MAGIC, body_reader, frame, open_frame
from .head import HEAD_MARK, Head, encode_head_first, is_head_first, peek, read_head
from .sections import (
    check_text_len,
    read_graph,
    read_heads,
    read_runs,
    read_times_section,
    write_graph,
    write_heads,
    write_runs,
    write_times_section,
)
from .varint import Reader, write_block, write_uvar

__all__ = ["decode_document", "encode_document", "encode_head_first", "open_document"]


def encode_document(oplog: OpLog, text: str, version: Frontier) -> bytes:
    """The whole document in the classic layout: its op log (full history) plus its text at ``version``."""
    body = bytearray()
    write_agents(body, oplog.cg.agents)
    write_graph(body, oplog)
    write_runs(body, oplog)
    write_heads(body, oplog)
    write_frontier(body, version)
    write_uvar(body, len(text))
    write_block(body, utf8(text, "text"))
    write_times_section(body, oplog)
    return frame(DOC_MAGIC, body)


def decode_document(data: bytes, *, max_bytes: int | None = None) -> tuple[OpLog, str, Frontier]:
    """Rebuild the op log, text and version from document bytes (either layout).

    The stored text is used as is (no history replay); everything that can be
    checked without a replay is: ids, parents, run lengths, positions against
    the total text inserted, and the text length against the version's history.
    ``max_bytes`` bounds the body (see ``frame.unframe``).
    """
    f = open_frame(data, DOC_MAGIC, max_bytes)
    r = body_reader(f)
    if is_head_first(r.buf[r.pos : r.pos + len(HEAD_MARK)]):
        text, _, history = read_head(f, r)
        oplog, version = history.decode()
        return oplog, text, version
    return _decode_classic(r, f.version)


def open_document(data: bytes, *, max_bytes: int | None = None) -> Head | tuple[OpLog, str, Frontier]:
    """What a loader needs at once: ``(text, version ids, history to decode later)``
    for a head-first document (only its head inflated and checked, beyond the
    frame's CRC), or ``(oplog, text, version)`` decoded in full for a classic one."""
    f = open_frame(data, DOC_MAGIC, max_bytes)
    first = peek(f)
    if is_head_first(first):
        return read_head(f, first=first)
    return _decode_classic(body_reader(f), f.version)


def _decode_classic(r: Reader, fmt: int) -> tuple[OpLog, str, Frontier]:
    agents = read_agents(r)
    oplog, linear = read_graph(r, agents)
    read_runs(r, oplog)
    cg = oplog.cg
    total = cg.next_lv
    # -- heads, version, text
    read_heads(r, oplog)
    version = read_frontier(r, total, "version")
    if len(version) > 1 and cg.reduce(version) != version:
        raise DecodeError("corrupt data: version is not a frontier (one LV is an ancestor of another)")
    n_chars = r.uvar()
    tb = r.block()
    if not n_chars <= tb.left() <= 4 * n_chars:
        raise DecodeError("corrupt data: text size does not match its length")
    text = decode_utf8(tb.take(tb.left()), "text")
    if len(text) != n_chars:
        raise DecodeError("corrupt data: text length does not match")
    read_times_section(r, oplog, fmt)
    r.done("document")
    check_text_len(oplog, version, len(text), linear)
    return oplog, text, version
