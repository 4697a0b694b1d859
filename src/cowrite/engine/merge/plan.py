"""Planning a merge: which ops to walk, in what order, and where the critical points are.

A merge from a branch at version ``branch`` to ``branch ∪ merge`` only needs the
history since the last *critical version* the two share
(:meth:`CausalGraph.find_conflicting`): every op after it is walked, first those
the branch already has (to rebuild the CRDT state; nothing is emitted), then the
new ones (each emitted as an edit of the branch text).

A *critical point* between two pieces of the walk is a place where everything
walked so far is an ancestor of everything still to come: there the CRDT state
can be thrown away and replaced by a fresh placeholder, and a stretch between
two critical points with no concurrency is applied to the text directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..causal_graph import ONLY_B, CausalGraph, Frontier

__all__ = ["END", "ROOT", "Piece", "critical_points", "find_plan", "pieces_since"]

Piece = tuple[int, int, Frontier, bool]
"""LVs ``[start, end)`` with the parents of ``start``, and whether to emit them (new ops)."""

ROOT = -1
"""A critical point at the empty version (before a root op)."""
END = -3
"""The critical point after the last piece (always one)."""

Spans = list[tuple[int, int, int]]


def find_plan(cg: CausalGraph, branch: Sequence[int], merge: Sequence[int]) -> tuple[Frontier, Spans] | None:
    """The last critical version shared by ``branch`` and ``merge`` and the spans since it,
    or None if ``merge`` adds nothing to ``branch``."""
    common, spans = cg.find_conflicting(branch, merge)
    if not any(f == ONLY_B for _, _, f in spans):
        return None
    return common, spans


def pieces_since(cg: CausalGraph, spans: Spans) -> list[Piece]:
    """The pieces to walk, in a topological order: first what the branch has, then the rest."""
    pieces: list[Piece] = []
    for s, e, f in spans:
        if f != ONLY_B:
            for ps, pe, par in cg.iter_range(s, e):
                pieces.append((ps, pe, par, False))
    for s, e, f in spans:
        if f == ONLY_B:
            for ps, pe, par in cg.iter_range(s, e):
                pieces.append((ps, pe, par, True))
    return pieces


def critical_points(pieces: Sequence[Piece]) -> list[int | None]:
    """For each piece ``i``, the critical version just before it (as one LV, or
    :data:`ROOT`), or None if there is none; entry ``len(pieces)`` is :data:`END`.

    A point before piece ``i`` is critical when the parents reaching outside the
    suffix ``i..`` all collapse into one version: the frontier of what has been
    walked, if the walk got there (the caller checks that)."""
    n = len(pieces)
    if n == 1:  # a keystroke merged into a cached walk: the usual call, without the sets
        par = pieces[0][2]
        return [par[0] if len(par) == 1 else None if par else ROOT, END]
    crit: list[int | None] = [None] * (n + 1)
    ext: set[int] = set()
    for i in range(n - 1, -1, -1):
        s, e, par, _ = pieces[i]
        if ext:
            ext = {x for x in ext if not s <= x < e}
        ext.update(par or (ROOT,))
        crit[i] = next(iter(ext)) if len(ext) == 1 else None
    crit[n] = END
    return crit
