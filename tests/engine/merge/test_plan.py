"""Planning a merge (``merge/plan.py``): which ops to walk, in what order, and where the
critical points are -- on hand-made piece lists and on random graphs against the
brute-force model of ``graph_helpers.py``."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine.causal_graph import ONLY_B, CausalGraph
from cowrite.engine.merge.plan import END, ROOT, Piece, critical_points, find_plan, pieces_since
from engine_helpers import hyp
from graph_helpers import Model, Step, build, random_version, step


def P(s: int, e: int, parents: tuple[int, ...] = (), emit: bool = False) -> Piece:
    return (s, e, parents, emit)


# -- critical_points on hand-made pieces ---------------------------------------------------


def test_no_pieces() -> None:
    assert critical_points([]) == [END]


def test_a_linear_history() -> None:
    # [0, 3) from the empty version, then [3, 5) on top of 2
    assert critical_points([P(0, 3), P(3, 5, (2,), True)]) == [ROOT, 2, END]


def test_two_roots() -> None:
    # both pieces start at the empty version: a candidate before each (the walk then
    # checks that the frontier of what it walked is that version; after piece 0 it is not)
    assert critical_points([P(0, 2), P(2, 4, (), True)]) == [ROOT, ROOT, END]


def test_a_diamond() -> None:
    pieces = [P(0, 1), P(1, 2, (0,)), P(2, 3, (0,), True), P(3, 4, (1, 2), True)]
    assert critical_points(pieces) == [ROOT, 0, None, None, END]


def test_a_merge_and_typing_on() -> None:
    pieces = [P(0, 2), P(2, 4), P(4, 5, (1, 3), True), P(5, 7, (4,), True)]
    assert critical_points(pieces) == [ROOT, None, None, 4, END]


def test_a_parent_inside_an_earlier_piece_is_only_a_candidate() -> None:
    # piece 1 hangs off LV 2, the middle of piece 0: the walked frontier there is (4,), not 2
    assert critical_points([P(0, 5), P(5, 6, (2,), True)]) == [ROOT, 2, END]


def test_pieces_since_a_common_version() -> None:
    # everything since c = (9,): both pieces descend from it
    assert critical_points([P(10, 12, (9,)), P(12, 13, (9,), True)]) == [9, 9, END]
    pieces = [P(10, 12, (9,)), P(12, 13, (11,), True), P(13, 14, (8, 12), True)]
    assert critical_points(pieces) == [None, None, None, END]


def test_concurrent_branches_joining_later() -> None:
    pieces = [P(0, 2, (), False), P(2, 3, (1,), True), P(3, 5, (1,), True), P(5, 6, (2, 4), True), P(6, 8, (5,), True)]
    assert critical_points(pieces) == [ROOT, 1, None, None, 5, END]


# -- find_plan / pieces_since / critical_points on random graphs ---------------------------


def walk_checks(cg: CausalGraph, model: Model, branch: tuple[int, ...], merge: tuple[int, ...]) -> None:
    hb, hm = model.history(branch), model.history(merge)
    plan = find_plan(cg, branch, merge)
    if plan is None:
        assert hm <= hb, "find_plan found nothing to merge, but merge adds ops"
        return
    assert not hm <= hb
    common, spans = plan
    pieces = pieces_since(cg, spans)
    # the pieces are exactly the spans' ops, the branch's first, then the new ones (emitted)
    lvs = [lv for s, e, _, _ in pieces for lv in range(s, e)]
    assert sorted(lvs) == [lv for s, e, _ in spans for lv in range(s, e)]
    emits = [emit for _, _, _, emit in pieces]
    assert emits == sorted(emits), "a new op before one the branch has"
    for s, e, par, emit in pieces:
        assert emit == (s not in hb) and emit == (e - 1 not in hb)
        assert emit == any(f == ONLY_B and a <= s < b for a, b, f in spans)
        assert par == model.parents[s]
    # a topological order: each piece's parents are walked already or in the common version
    seen = model.history(common)
    for s, e, par, _ in pieces:
        assert set(par) <= seen, f"piece {s}..{e} comes before its parents {par}"
        seen |= set(range(s, e))
    # a critical point, as the walk sees it, is exactly a point where every op still to
    # come descends from everything walked so far (and that is one version)
    crit = critical_points(pieces)
    assert len(crit) == len(pieces) + 1 and crit[-1] == END
    walked = set(model.history(common))
    frontier = common
    for i, (s, e, par, _) in enumerate(pieces):
        c = crit[i]
        says = c is not None and ((c == ROOT and not frontier) or frontier == (c,))
        rest = [lv for ps, pe, _, _ in pieces[i:] for lv in range(ps, pe)]
        truly = len(frontier) <= 1 and all(walked <= model.anc[lv] for lv in rest)
        assert says == truly, f"before piece {i} ({s}..{e}): critical {says}, truly {truly}; crit={crit}"
        walked |= set(range(s, e))
        frontier = model.frontier(walked)


@hyp
@given(st.lists(step, max_size=14), st.randoms(use_true_random=False))
def test_plans_on_random_graphs(steps: list[Step], rnd: random.Random) -> None:
    cg, model = build(steps)
    for _ in range(8):
        branch = random_version(model, rnd)
        walk_checks(cg, model, branch, random_version(model, rnd))
        walk_checks(cg, model, branch, cg.heads)
    walk_checks(cg, model, (), cg.heads)
    walk_checks(cg, model, cg.heads, cg.heads)


def test_find_plan_is_none_when_nothing_is_new() -> None:
    cg = CausalGraph()
    cg.add("a", 0, 3, ())
    cg.add("b", 0, 2, ())
    assert find_plan(cg, (2, 4), (1,)) is None
    assert find_plan(cg, (2, 4), ()) is None
    assert find_plan(cg, (2,), (4,)) == ((), [(0, 3, 1), (3, 5, ONLY_B)])
    common, spans = find_plan(cg, (1,), (2,)) or ((), [])
    assert (common, spans) == ((1,), [(2, 3, ONLY_B)])
    assert pieces_since(cg, spans) == [(2, 3, (1,), True)]
