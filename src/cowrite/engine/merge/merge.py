"""The merge's entry points: bring a branch to a new version, with or without a walk."""

from __future__ import annotations

from collections.abc import Sequence

from ..causal_graph import ONLY_B, Frontier
from ..oplog import OpLog
from .cache import MergeCache, extends, resumable
from .plan import Piece, pieces_since
from .walk import Walk, XfOp, direct

__all__ = ["direct_edits", "merge_ops"]


def merge_ops(
    oplog: OpLog,
    text_len: int,
    branch: Sequence[int],
    merge: Sequence[int],
    ins_lvs: list[int] | None = None,
    cache: MergeCache | None = None,
    new_start: int | None = None,
) -> tuple[list[XfOp], Frontier]:
    """Edits that bring a branch at version ``branch`` (text length ``text_len``) to
    ``branch ∪ merge``, and that version.

    If ``ins_lvs`` is given, the first LV of every emitted insert is appended to it
    (one entry per ``INS`` edit; the inserted characters have consecutive LVs), so a
    caller can keep a map from text positions to character ids.

    ``cache`` (optional) keeps the walker's state between merges of one branch.
    The caller promises that every op already in the log before the first op of
    ``merge`` that the branch lacks is in the branch (true for a document, whose
    branch is always at the log's heads between merges).  On any error the
    caller must ``cache.clear()``.  ``new_start`` (with ``cache``): the new ops are
    exactly the LVs from there to the end of the log; it lets a merge that only
    extends the cached walk skip looking for the critical version.

    Raises :class:`~cowrite.errors.InvalidOpError` (and returns nothing) if a new op
    does not fit the document at its parents; the caller then rolls the op log back.
    """
    out: list[XfOp] = []
    cg = oplog.cg
    # The log's heads are the frontier of every op it has, so a merge up to them (a
    # document's every merge) ends there whatever the branch was: no graph walk.
    merge = tuple(merge)
    new_version = cg.heads if merge == cg.heads else cg.reduce(tuple(branch) + merge)
    if cache is not None and new_start is not None and extends(cg, cache, new_start):
        new = [(new_start, cg.next_lv)]
    else:
        common, spans = cg.find_conflicting(branch, merge)
        new = [(s, e) for s, e, f in spans if f == ONLY_B]
        if not new:
            return out, new_version
        if cache is not None and cache.walk is not None and not resumable(cg, cache, common, spans, new):
            cache.walk = None
    if cache is not None and cache.walk is not None:
        cache.hits += 1
        walk = cache.walk
        pieces: list[Piece] = []
        if cache.lv_end < new[0][0]:  # local (or directly applied) ops to catch up on
            for ps, pe, par in cg.iter_range(cache.lv_end, new[0][0]):
                pieces.append((ps, pe, par, False))
        for s, e in new:
            for ps, pe, par in cg.iter_range(s, e):
                pieces.append((ps, pe, par, True))
        walk.pieces = pieces
        walk.out = out
        walk.text_len = text_len
    else:
        if cache is not None:
            cache.misses += 1
        walk = Walk(oplog, pieces_since(cg, spans), common, text_len, out)
    walk.lvs_out = ins_lvs
    walk.run()
    walk.lvs_out = None
    if cache is not None:
        cache.walk = walk
        cache.lv_end = cg.next_lv
    return out, new_version


def direct_edits(oplog: OpLog, text_len: int, start: int, end: int, ins_lvs: list[int] | None = None) -> list[XfOp]:
    """The edits of ops ``start..end`` when they follow one another on top of a branch
    of ``text_len`` characters: the first op's parents are the branch's version, each
    later op's parent is the op before it.  No concurrency, so no walk: each op is its
    own edit, checked against the text length (as a walk's direct stretches are).

    Raises :class:`~cowrite.errors.InvalidOpError` if an op does not fit; the caller rolls back.
    """
    out: list[XfOp] = []
    direct(oplog, text_len, start, end, out, ins_lvs)
    return out
