"""Many local edits in one pass: the fast path of :meth:`Document.apply_edits`.

Replaying a long sequential trace (``cowrite replay``) is hundreds of thousands of
local edits by one agent, each made on top of the one before.  Through
``Document.insert``/``delete`` every edit pays for a handful of method calls (the
rope, the op log, the causal graph, the clock).  Here the whole batch is one loop
with everything bound to locals: positions are checked against a running length,
the op log's run-length columns are extended in place (by exactly the rules of
``OpLog._push_ops``, so the log is the one the per-edit path builds), the text is
edited as a list of chunks, and the causal graph gets a single entry for the whole
chain -- which is what one ``CausalGraph.add`` per edit would have built, since each
op's only parent is the op before it.  All edits share one time (the batch is
made at one moment).

Nothing is changed until every edit has been checked: a bad edit raises
:class:`~cowrite.errors.InvalidOpError` naming it (``edit K: ...``), and an
exception raised by the ``edits`` iterator itself passes through; either way the
op log and the text are as they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import InvalidOpError
from .causal_graph import Frontier
from .limits import MAX_SEQ
from .oplog import DEL_BACK, DEL_FWD, INS, OpLog
from .rope import _HALF, _MAX, Rope

__all__ = ["Edit", "apply_local_edits", "check_edits"]

Edit = Sequence[object]
"""``(pos, n_deleted, text)``: delete ``n_deleted`` code points at ``pos``, then insert ``text`` there."""


def _bad_shape(k: int, edit: object) -> InvalidOpError:
    return InvalidOpError(f"edit {k}: expected (pos, n_deleted, text), not {edit!r}")


def _outside(k: int, pos: int, ndel: int, length: int) -> InvalidOpError:
    if ndel:
        return InvalidOpError(f"edit {k}: delete of {ndel!r} at {pos!r} outside a {length}-character text")
    return InvalidOpError(f"edit {k}: position {pos!r} outside 0..{length}")


def _check_unicode(k: int, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidOpError(f"edit {k}: text contains lone surrogates; it is not valid Unicode") from None


def check_edits(edits: Iterable[Edit], length: int) -> list[tuple[int, int, str]]:
    """The edits as checked triples, for a text of ``length`` code points; raises
    :class:`InvalidOpError` naming the first bad one.  (The slow path checks a whole
    batch with this before it applies the first edit, so a bad one changes nothing.)"""
    out: list[tuple[int, int, str]] = []
    for k, edit in enumerate(edits):
        try:
            pos, ndel, ins = edit
        except (TypeError, ValueError):
            raise _bad_shape(k, edit) from None
        if type(pos) is not int or type(ndel) is not int or type(ins) is not str:
            raise _bad_shape(k, edit)
        if ndel < 0 or pos < 0 or pos + ndel > length:
            raise _outside(k, pos, ndel, length)
        length -= ndel
        if not ins.isascii():
            _check_unicode(k, ins)
        length += len(ins)
        out.append((pos, ndel, ins))
    return out


def apply_local_edits(
    oplog: OpLog, rope: Rope, agent: str, seq: int, parents: Frontier, time: int, edits: Iterable[Edit]
) -> Rope:
    """Record ``edits`` as ``agent``'s ops from ``seq`` on, the first made at ``parents``
    (the version of ``rope``'s text), at ``time``.  Returns the edited text as a new
    rope (``rope`` itself is left alone).  All or nothing: see the module docstring.
    """
    chunks = rope.chunk_list()
    length = len(rope)
    ci = 0  # the chunk the last edit touched, and where it starts
    cs = 0
    lv0 = lv = oplog.cg.next_lv
    # The open op run (r_kind -1: none), continuing the log's last run if it can.
    r_kind = -1
    r_start = r_pos = r_len = 0
    parts: list[str] = []
    if oplog.op_starts:
        r_start = oplog.op_starts[-1]
        r_kind = oplog.op_kinds[-1]
        r_pos = oplog.op_pos[-1]
        r_len = oplog.op_lens[-1]
        parts = [oplog.op_content[-1]]
    replaces_last = r_kind >= 0
    n_starts: list[int] = []
    n_kinds: list[int] = []
    n_pos: list[int] = []
    n_lens: list[int] = []
    n_content: list[str] = []
    k = 0
    for edit in edits:
        try:
            pos, ndel, ins = edit
        except (TypeError, ValueError):
            raise _bad_shape(k, edit) from None
        if type(pos) is not int or type(ndel) is not int or type(ins) is not str:
            raise _bad_shape(k, edit)
        if ndel < 0 or pos < 0 or pos + ndel > length:
            raise _outside(k, pos, ndel, length)
        # Find the chunk holding pos: edits are local, so walk from the last one.
        c = chunks[ci]
        if pos > cs + len(c):
            while pos > cs + len(c):
                cs += len(c)
                ci += 1
                c = chunks[ci]
        elif pos < cs:
            while pos < cs:
                ci -= 1
                c = chunks[ci]
                cs -= len(c)
        if ndel:
            # the op run (OpLog._push_ops: a Delete-key run, or Backspace)
            if r_kind == DEL_FWD and r_pos == pos:
                r_len += ndel
            elif r_kind >= 0 and r_kind != INS and (r_kind == DEL_BACK or r_len == 1) and ndel == 1 and pos + 1 == r_pos:
                r_kind = DEL_BACK
                r_pos = pos
                r_len += 1
            else:
                if r_kind >= 0:
                    n_starts.append(r_start)
                    n_kinds.append(r_kind)
                    n_pos.append(r_pos)
                    n_lens.append(r_len)
                    n_content.append("".join(parts) if r_kind == INS else "")
                r_kind = DEL_FWD
                r_start = lv
                r_pos = pos
                r_len = ndel
            lv += ndel
            length -= ndel
            # the text
            rem = ndel
            while rem:
                off = pos - cs
                if off == len(c):  # pos is this chunk's end: the text is in the next one
                    cs += len(c)
                    ci += 1
                    c = chunks[ci]
                    continue
                take = len(c) - off
                if take > rem:
                    take = rem
                c = c[:off] + c[off + take :]
                rem -= take
                if c or len(chunks) == 1:
                    chunks[ci] = c
                else:
                    del chunks[ci]
                    if ci == len(chunks):
                        ci -= 1
                        c = chunks[ci]
                        cs -= len(c)
                    else:
                        c = chunks[ci]
        if ins:
            if not ins.isascii():
                _check_unicode(k, ins)
            n = len(ins)
            if r_kind == INS and r_pos + r_len == pos:
                r_len += n
                parts.append(ins)
            else:
                if r_kind >= 0:
                    n_starts.append(r_start)
                    n_kinds.append(r_kind)
                    n_pos.append(r_pos)
                    n_lens.append(r_len)
                    n_content.append("".join(parts) if r_kind == INS else "")
                r_kind = INS
                r_start = lv
                r_pos = pos
                r_len = n
                parts = [ins]
            lv += n
            length += n
            off = pos - cs
            c = c + ins if off == len(c) else c[:off] + ins + c[off:]  # typing: at the end
            if len(c) <= _MAX:
                chunks[ci] = c
            else:
                chunks[ci : ci + 1] = [c[i : i + _HALF] for i in range(0, len(c), _HALF)]
                c = chunks[ci]
        k += 1
    count = lv - lv0
    if not count:
        return rope
    if seq + count > MAX_SEQ:
        raise InvalidOpError(f"agent {agent!r} has no seqs left (every seq up to 2**53 is used)")
    n_starts.append(r_start)
    n_kinds.append(r_kind)
    n_pos.append(r_pos)
    n_lens.append(r_len)
    n_content.append("".join(parts) if r_kind == INS else "")
    # Everything is checked: commit.
    if replaces_last:
        del oplog.op_starts[-1], oplog.op_kinds[-1], oplog.op_pos[-1], oplog.op_lens[-1], oplog.op_content[-1]
    oplog.op_starts.extend(n_starts)
    oplog.op_kinds.extend(n_kinds)
    oplog.op_pos.extend(n_pos)
    oplog.op_lens.extend(n_lens)
    oplog.op_content.extend(n_content)
    oplog.cg.add(agent, seq, count, parents)
    values = oplog.time_values
    if not values or values[-1] != time:
        oplog.time_starts.append(lv0)
        values.append(time)
    return Rope.from_chunks(chunks)
