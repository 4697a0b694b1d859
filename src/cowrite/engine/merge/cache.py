"""Keeping a merge's CRDT state for the next merge of the same branch.

While people keep typing concurrently there is no recent critical version, so
each merge would re-walk everything since the last one.  Keeping the walker's
state lets the next merge walk only what was added since: the local edits made
in between (as ops the branch has) and the new remote ops.  Remote ops applied
by a document's direct path (no concurrency) count as such local edits: the
cache outlives them, and a critical point met while catching up on them starts
the state over (``Walk.run``), so it stays as small as the concurrency it must
remember.  The checks here decide when continuing a cached walk is both right and
no dearer than a fresh one.
"""

from __future__ import annotations

from bisect import bisect_right

from ..causal_graph import CausalGraph, Frontier
from .walk import Walk

__all__ = ["CATCH_UP", "MergeCache", "extends", "resumable"]

CATCH_UP = 64
"""Local ops a cached walk may replay without checking that it is worth it."""


class MergeCache:
    """The CRDT state of the last merge, kept for the next one (see ``merge_ops``)."""

    __slots__ = ("walk", "lv_end", "hits", "misses")

    def __init__(self) -> None:
        self.walk: Walk | None = None
        self.lv_end = 0  # every LV below this has been walked into ``walk``
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self.walk = None


def extends(cg: CausalGraph, cache: MergeCache, new_start: int) -> bool:
    """Whether ops ``new_start..`` certainly continue the cached walk.

    Every LV the cached walk holds descends from its base (a critical version), and
    so does every later LV whose parents are all at or after the base.  If that
    holds for the new ops, the merge needs nothing before the base: no search for
    the critical version is needed.  Only for a small catch-up of local ops.
    """
    walk = cache.walk
    if walk is None or not cache.lv_end <= new_start < cg.next_lv or new_start - cache.lv_end > CATCH_UP:
        return False
    base = walk.base
    if len(base) > 1:
        return False
    floor = base[0] if base else -1
    # the parents of every piece from new_start on (as iter_range gives them)
    starts = cg.starts
    parents = cg.parents
    i = bisect_right(starts, new_start) - 1
    first = parents[i] if starts[i] == new_start else (new_start - 1,)
    for k in range(i, len(starts)):
        par = first if k == i else parents[k]
        for p in par:
            if p < floor:
                return False
        if not par and floor >= 0:
            return False
    return True


def resumable(
    cg: CausalGraph, cache: MergeCache, common: Frontier, spans: list[tuple[int, int, int]], new: list[tuple[int, int]]
) -> bool:
    """Whether continuing the cached walk is right and no dearer than a fresh one."""
    walk = cache.walk
    assert walk is not None
    if cache.lv_end > new[0][0]:
        return False
    fresh_cost = sum(e - s for s, e, _ in spans)
    if new[0][0] - cache.lv_end > fresh_cost:
        return False  # more local typing to catch up on than a fresh walk needs
    # the cached state starts at ``walk.base``; the merge needs everything since
    # ``common``: fine if ``common`` descends from (or is) the base
    base = walk.base
    return tuple(base) == tuple(common) or not cg.diff(base, common)[0]
