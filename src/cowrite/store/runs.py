"""The ``(agent, seq)`` runs a document's log holds, and the append-time check against them.

Every backend keeps, per document, an index of the op ids its log entries brought:
``runs(doc_key, agent, seq_start, seq_end, log_seq)`` (``seq_end`` exclusive), one row
per agent and contiguous range that an entry added *first* (the part of a batch that
was already stored is not indexed again, so one agent's rows never overlap).  Rows
stay when a pruning snapshot drops the entries they name: the snapshot holds those
ops, and :func:`check_batch` then reads them from it.

Under the transaction (and lock) that gives an append its seq, :func:`check_batch`
looks up the rows overlapping the batch's runs (an indexed range query) and compares
the ops themselves where they overlap: kind, position, inserted text and parents, op
by op (a run may be split differently in the two batches).  Times are metadata, not
identity (as in the engine).  The outcome is one of:

* no overlap: store the entry, index all its runs;
* the overlap is identical and the batch brings new ops too (a resend that extends
  what is stored): store the entry (loading skips its known ops after checking them),
  index only the new part;
* everything is identical and already stored (a resend of a batch another server or an
  earlier call committed): store nothing, return the newest seq holding those ops --
  if the batch holds every op that entry brought first (:func:`covers_entry`);
* everything is stored, but the batch is only a *part* of what that newest entry
  brought (a stale batch handled after the client resent it together with later ops,
  stored elsewhere first): stored as an entry of its own that brings nothing new.
  The seq an append returns must name an entry the batch could stand for: a server
  takes "my batch is entry N" to mean its room now holds entry N, and its commit
  notice tells the other servers that the batch *is* entry N.  Answering with the
  bigger entry would make them skip the ops it brought beyond the batch, and the
  next entry built on those would not apply;
* an op differs: :class:`~cowrite.errors.ConflictingOps`, nothing of the batch stored.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable

from ..engine import Op
from ..errors import ConflictingOps

__all__ = ["Range", "RunRow", "batch_runs", "check_batch", "covers_entry", "new_ranges"]

Range = tuple[str, int, int]
"""``(agent, seq_start, seq_end)``, ``seq_end`` exclusive."""

RunRow = tuple[str, int, int, int]
"""A stored row: ``(agent, seq_start, seq_end, log_seq)``."""

Unit = tuple[int, int, str, tuple[tuple[str, int], ...]]


def _merge(ranges: Iterable[tuple[int, int]]) -> tuple[list[tuple[int, int]], bool]:
    """Sorted, merged ranges, and whether any two of them overlapped."""
    out: list[tuple[int, int]] = []
    overlapped = False
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            if s < out[-1][1]:
                overlapped = True
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out, overlapped


def batch_runs(ops: Iterable[Op]) -> tuple[list[Range], bool]:
    """The merged ``(agent, start, end)`` runs of ``ops``, and whether the batch itself
    names one op id twice."""
    per: dict[str, list[tuple[int, int]]] = {}
    for op in ops:
        per.setdefault(op.agent, []).append((op.seq, op.seq + op.span))
    out: list[Range] = []
    twice = False
    for agent in sorted(per):
        merged, overlapped = _merge(per[agent])
        twice = twice or overlapped
        out += [(agent, s, e) for s, e in merged]
    return out, twice


def _unit(op: Op, i: int) -> Unit:
    """What the single-character op ``i`` of ``op`` is: (kind, pos, text, parents)."""
    parents = tuple(sorted(op.parents)) if i == 0 else ((op.agent, op.seq + i - 1),)
    if op.kind == "ins":
        return (0, op.pos + i, op.content[i], parents)
    if op.fwd:
        return (1, op.pos, "", parents)
    return (1, op.pos + op.length - 1 - i, "", parents)


def _units(ops: Iterable[Op], wanted: dict[str, list[tuple[int, int]]]) -> Iterable[tuple[str, int, Unit]]:
    """The units of ``ops`` whose ids fall in ``wanted`` (per agent, any ranges)."""
    merged: dict[str, tuple[list[int], list[int]]] = {}
    for agent, spans in wanted.items():
        m = _merge(spans)[0]
        merged[agent] = ([s for s, _ in m], [e for _, e in m])
    for op in ops:
        found = merged.get(op.agent)
        if found is None:
            continue
        starts, ends = found
        lo, hi = op.seq, op.seq + op.span
        i = bisect_right(ends, lo)  # the first span ending after lo
        while i < len(starts) and starts[i] < hi:
            for seq in range(max(starts[i], lo), min(ends[i], hi)):
                yield op.agent, seq, _unit(op, seq - lo)
            i += 1


def _conflict(doc_id: str, agent: str, seq: int, where: str) -> ConflictingOps:
    return ConflictingOps(
        f"document {doc_id!r}: op {agent}:{seq} is {where} with other content or parents; "
        "nothing of this batch was stored"
    )


def new_ranges(runs: list[Range], rows: list[RunRow]) -> list[Range]:
    """``runs`` minus what ``rows`` cover."""
    out: list[Range] = []
    for agent, s, e in runs:
        cuts = sorted((rs, re) for ra, rs, re, _ in rows if ra == agent and rs < e and re > s)
        at = s
        for rs, re in cuts:
            if rs > at:
                out.append((agent, at, rs))
            at = max(at, re)
        if at < e:
            out.append((agent, at, e))
    return out


def check_batch(
    doc_id: str,
    ops: list[Op],
    runs: list[Range],
    twice: bool,
    rows: list[RunRow],
    stored_ops: Callable[[list[int]], list[Op]],
) -> tuple[list[Range], int | None]:
    """Check a batch against the stored rows overlapping its runs.

    ``stored_ops(log_seqs)``: the ops of those stored entries (or more).  Returns the
    ranges to index for it and, if it brings nothing new, the newest seq that holds its
    ops (store nothing then).  :class:`ConflictingOps` if an op differs from the one
    stored under its id, or the batch names one id twice with other content.
    """
    if twice:  # a batch naming an id twice must agree with itself
        wanted: dict[str, list[tuple[int, int]]] = {}
        for a, s, e in runs:
            wanted.setdefault(a, []).append((s, e))
        seen: dict[tuple[str, int], Unit] = {}
        for agent, seq, unit in _units(ops, wanted):
            prev = seen.setdefault((agent, seq), unit)
            if prev != unit:
                raise _conflict(doc_id, agent, seq, "named twice in this batch")
    if not rows:
        return runs, None
    # the overlap of each stored row with the batch
    overlap: dict[str, list[tuple[int, int]]] = {}
    for ra, rs, re, _ in rows:
        for agent, s, e in runs:
            if agent == ra and rs < e and re > s:
                overlap.setdefault(agent, []).append((max(rs, s), min(re, e)))
    stored: dict[tuple[str, int], Unit] = {}
    for agent, seq, unit in _units(stored_ops(sorted({r[3] for r in rows})), overlap):
        stored.setdefault((agent, seq), unit)
    for agent, seq, unit in _units(ops, overlap):
        known = stored.get((agent, seq))
        if known is None:
            raise _conflict(doc_id, agent, seq, "indexed as stored but missing from its entry")
        if known != unit:
            raise _conflict(doc_id, agent, seq, "already stored")
    fresh = new_ranges(runs, rows)
    if fresh:
        return fresh, None
    return [], max(r[3] for r in rows)


def covers_entry(
    runs: list[Range], seq: int, entry: list[Range] | None, stored: Callable[[list[Range]], list[RunRow]]
) -> bool:
    """Whether a batch of ``runs``, all of whose ops are stored with entry ``seq`` the
    newest to hold some of them, may be answered with ``seq``: every op entry ``seq``
    brought (its own runs are ``entry``; None: unreadable, e.g. pruned) is in the batch
    or was stored first by an earlier entry.  ``stored(ranges)``: the index rows
    overlapping ``ranges``."""
    if entry is None:
        return False
    rest = new_ranges(entry, [(agent, s, e, seq) for agent, s, e in runs])
    if not rest:
        return True
    return not new_ranges(rest, [r for r in stored(rest) if r[3] < seq])
