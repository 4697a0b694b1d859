"""The causal graph (``causal_graph.py``) against a brute-force model (``graph_helpers.py``).

Random graphs (hypothesis) mix agents, typing runs, merges of random versions,
new roots, and seqs that leave gaps or fill them later (one agent's seqs out of
LV order).  Named examples at the end.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import UnknownParentError, UnknownVersionError
from cowrite.engine.causal_graph import ONLY_A, ONLY_B, SHARED, CausalGraph
from engine_helpers import hyp
from graph_helpers import AGENTS, Model, Step, apply_steps, build, random_version, ranges_of, step

def state(cg: CausalGraph) -> tuple[object, ...]:
    """Every field of the graph, copied."""
    return (
        list(cg.starts),
        list(cg.parents),
        list(cg.entry_agent),
        list(cg.entry_seq),
        list(cg.agents),
        dict(cg.agent_index),
        [list(x) for x in cg._seq_starts],
        [list(x) for x in cg._seq_ends],
        [list(x) for x in cg._seq_lvs],
        cg.heads,
        cg.next_lv,
    )


# -- checks ----------------------------------------------------------------------------------


def check_ids(cg: CausalGraph, model: Model) -> None:
    n = len(model)
    assert cg.next_lv == n
    assert cg.heads == model.frontier(range(n))
    for lv in range(n):
        assert cg.lv_to_raw(lv) == (model.agent[lv], model.seq[lv])
        assert cg.raw_to_lv(model.agent[lv], model.seq[lv]) == lv
        assert cg.parents_of(lv) == model.parents[lv]
    for bad in (-1, n, n + 5):
        with pytest.raises(UnknownVersionError):
            cg.lv_to_raw(bad)
    for agent in AGENTS + ["nobody"]:
        known = model.seqs(agent)
        top = max(known, default=-1) + 3
        assert cg.next_seq(agent) == (max(known) + 1 if known else 0)
        for seq in range(top):
            if seq not in known:
                assert cg.raw_to_lv(agent, seq) is None
                assert cg.known_run(agent, seq) is None
            else:
                count = 0
                while seq + count in known:
                    count += 1
                assert cg.known_run(agent, seq) == (model.ids[(agent, seq)], count)
            # the contract add_remote and the decoder rely on: from an unknown seq, or from
            # the last seq of a known stretch, the next known seq after it
            if seq not in known or seq + 1 not in known:
                assert cg.next_known_seq(agent, seq) == min((s for s in known if s > seq), default=None)
        runs = ranges_of(known)
        assert cg.summary().get(agent, []) == runs
    assert set(cg.summary()) == {a for a in AGENTS if model.seqs(a)}


def check_entries(cg: CausalGraph, model: Model) -> None:
    """Entries tile the LVs; each is one agent's run of consecutive seqs."""
    assert cg.starts == sorted(set(cg.starts)) and (not cg.starts or cg.starts[0] == 0)
    for e, s in enumerate(cg.starts):
        end = cg.entry_end(e)
        assert s < end
        assert cg.parents[e] == model.parents[s]
        assert cg.agents[cg.entry_agent[e]] == model.agent[s] and cg.entry_seq[e] == model.seq[s]
        for lv in range(s, end):
            assert cg.entry_of(lv) == e
            assert model.agent[lv] == model.agent[s] and model.seq[lv] == model.seq[s] + lv - s
            if lv > s:
                assert model.parents[lv] == (lv - 1,)


def check_iter_range(cg: CausalGraph, model: Model, start: int, end: int) -> None:
    pieces = list(cg.iter_range(start, end))
    at = start
    for s, e, par in pieces:
        assert s == at and s < e <= end
        assert par == model.parents[s]
        assert cg.entry_of(s) == cg.entry_of(e - 1)  # one entry: one agent's run
        for lv in range(s + 1, e):
            assert model.parents[lv] == (lv - 1,)
        at = e
    assert at == max(start, end) if pieces else start >= end


def check_diff(cg: CausalGraph, model: Model, a: tuple[int, ...], b: tuple[int, ...]) -> None:
    ha, hb = model.history(a), model.history(b)
    only_a, only_b = cg.diff(a, b)
    assert only_a == ranges_of(ha - hb), (a, b)
    assert only_b == ranges_of(hb - ha), (a, b)


def check_find_conflicting(cg: CausalGraph, model: Model, a: tuple[int, ...], b: tuple[int, ...]) -> None:
    ha, hb = model.history(a), model.history(b)
    common, spans = cg.find_conflicting(a, b)
    hc = model.history(common)
    # the common version is a version both sides have
    assert common == model.frontier(common)
    assert hc <= ha & hb, (a, b, common)
    # spans: ascending, disjoint, joined where adjacent with the same flag
    covered: set[int] = set()
    for i, (s, e, flag) in enumerate(spans):
        assert s < e and flag in (ONLY_A, ONLY_B, SHARED)
        if i:
            ps, pe, pf = spans[i - 1]
            assert pe <= s and (pe < s or pf != flag)
        for lv in range(s, e):
            want = ONLY_A if lv in ha and lv not in hb else ONLY_B if lv in hb and lv not in ha else SHARED
            assert lv in ha | hb, f"LV {lv} is in neither history"
            assert flag == want, f"LV {lv}: flag {flag}, expected {want} ({a} vs {b})"
            # the point of it all: every op since ``common`` has all of it in its history
            assert hc <= model.anc[lv], f"LV {lv} does not descend from {common}"
            covered.add(lv)
    # and every op since ``common`` is accounted for
    assert covered == (ha | hb) - hc, (a, b, common, spans)


def check_reduce(cg: CausalGraph, model: Model, rnd: random.Random) -> None:
    n = len(model)
    if not n:
        assert cg.reduce([]) == ()
        return
    for _ in range(8):
        lvs = [rnd.randrange(n) for _ in range(rnd.randint(0, 5))]
        lvs += lvs[: rnd.randint(0, len(lvs))]  # duplicates
        assert cg.reduce(lvs) == model.frontier(lvs), lvs
        ids = [(model.agent[v], model.seq[v]) for v in lvs]
        assert cg.raw_to_frontier(ids) == model.frontier(lvs)
        f = model.frontier(lvs)
        assert cg.frontier_to_raw(f) == tuple(sorted((model.agent[v], model.seq[v]) for v in f))
    with pytest.raises(UnknownParentError) as info:
        cg.raw_to_frontier([(model.agent[0], model.seq[0]), ("nobody", 3), (model.agent[0], 10**9)])
    assert info.value.missing == (("nobody", 3), (model.agent[0], 10**9))


def check_everything(cg: CausalGraph, model: Model, rnd: random.Random) -> None:
    check_ids(cg, model)
    check_entries(cg, model)
    check_reduce(cg, model, rnd)
    n = len(model)
    for _ in range(4):
        s = rnd.randint(0, n)
        check_iter_range(cg, model, s, rnd.randint(s, n))
    for _ in range(12):
        a, b = random_version(model, rnd), random_version(model, rnd)
        check_diff(cg, model, a, b)
        check_find_conflicting(cg, model, a, b)
    check_diff(cg, model, cg.heads, cg.heads)
    check_find_conflicting(cg, model, (), cg.heads)


# -- properties ------------------------------------------------------------------------------


@hyp
@given(st.lists(step, max_size=16), st.randoms(use_true_random=False))
def test_graph_matches_the_model(steps: list[Step], rnd: random.Random) -> None:
    cg, model = build(steps)
    check_everything(cg, model, rnd)


@hyp
@given(st.lists(step, max_size=12), st.randoms(use_true_random=False))
def test_graph_matches_the_model_after_every_add(steps: list[Step], rnd: random.Random) -> None:
    cg = CausalGraph()
    model = Model()
    for s in steps:
        apply_steps(cg, model, [s])
        check_ids(cg, model)
        check_entries(cg, model)
        a, b = random_version(model, rnd), random_version(model, rnd)
        check_diff(cg, model, a, b)
        check_find_conflicting(cg, model, a, b)


@hyp
@given(
    st.lists(step, min_size=1, max_size=10),
    st.lists(step, min_size=1, max_size=6),
    st.lists(step, max_size=6),
    st.randoms(use_true_random=False),
)
def test_truncate_rolls_back_to_an_equal_graph(
    first: list[Step], more: list[Step], then: list[Step], rnd: random.Random
) -> None:
    """Rolling back ``more`` restores the graph (every field, for the agents it had), and
    the graph then grows exactly as one that never saw ``more``."""
    cg = CausalGraph()
    model = Model()
    apply_steps(cg, model, first)
    known_agents = list(cg.agents)  # ``more`` brings no new agent (a rollback also forgets new agents: test_document.py)
    before = state(cg)
    n, heads = cg.next_lv, cg.heads
    scratch = model.copy()
    apply_steps(cg, scratch, more, known_agents)
    cg.truncate(n, heads)
    assert state(cg) == before
    cg.truncate(n + 3, heads)  # nothing at or after lv: a no-op
    assert state(cg) == before
    apply_steps(cg, model, then, known_agents)
    fresh, fresh_model = CausalGraph(), Model()
    apply_steps(fresh, fresh_model, first)
    apply_steps(fresh, fresh_model, then, known_agents)
    assert state(cg) == state(fresh)
    check_everything(cg, model, rnd)


@hyp
@given(st.lists(step, max_size=12), st.lists(step, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_copy_is_independent(steps: list[Step], more: list[Step], rnd: random.Random) -> None:
    cg, model = build(steps)
    c = cg.copy()
    assert state(c) == state(cg)
    snap = state(cg)
    c_model = model.copy()
    apply_steps(c, c_model, more)  # growing the copy leaves the original alone
    assert state(cg) == snap
    check_everything(c, c_model, rnd)
    c_snap = state(c)
    apply_steps(cg, model, list(reversed(more)))  # and the other way round
    assert state(c) == c_snap
    check_everything(cg, model, rnd)


# -- named examples --------------------------------------------------------------------------


def diamond() -> CausalGraph:
    """0 (a) -> 1 (a), 0 -> 2 (b), {1, 2} -> 3 (a)."""
    cg = CausalGraph()
    cg.add("a", 0, 1, ())
    cg.add("a", 1, 1, (0,))
    cg.add("b", 0, 1, (0,))
    cg.add("a", 2, 1, (1, 2))
    return cg


def test_diamond() -> None:
    cg = diamond()
    assert cg.heads == (3,)
    assert cg.starts == [0, 2, 3]  # a's first two ops are one entry
    assert [cg.parents_of(v) for v in range(4)] == [(), (0,), (0,), (1, 2)]
    assert cg.diff((1,), (2,)) == ([(1, 2)], [(2, 3)])
    assert cg.diff((3,), (1,)) == ([(2, 4)], [])
    assert cg.diff((0,), (3,)) == ([], [(1, 4)])
    assert cg.diff((), (3,)) == ([], [(0, 4)])
    assert cg.find_conflicting((1,), (2,)) == ((0,), [(1, 2, ONLY_A), (2, 3, ONLY_B)])
    assert cg.find_conflicting((3,), (3,)) == ((3,), [])
    assert cg.find_conflicting((1,), (3,)) == ((0,), [(1, 2, SHARED), (2, 4, ONLY_B)])
    assert cg.reduce([0, 1, 2]) == (1, 2)
    assert cg.reduce([2, 1, 3, 0]) == (3,)
    assert cg.reduce([0, 0]) == (0,)
    assert cg.reduce([]) == ()
    assert cg.summary() == {"a": [(0, 3)], "b": [(0, 1)]}
    assert cg.known_run("a", 0) == (0, 3)  # seqs 0..2, LVs 0, 1, 3
    assert cg.known_run("a", 2) == (3, 1)
    assert list(cg.iter_range(0, 4)) == [(0, 2, ()), (2, 3, (0,)), (3, 4, (1, 2))]
    assert list(cg.iter_range(1, 3)) == [(1, 2, (0,)), (2, 3, (0,))]


def test_heads_move_as_ops_arrive() -> None:
    cg = CausalGraph()
    assert cg.heads == ()
    cg.add("a", 0, 1, ())
    assert cg.heads == (0,)
    cg.add("b", 0, 2, ())
    assert cg.heads == (0, 2)
    cg.add("a", 1, 1, (0,))
    assert cg.heads == (2, 3)
    cg.add("c", 0, 1, (1,))  # on top of a non-head: the heads only gain it
    assert cg.heads == (2, 3, 4)
    cg.add("a", 2, 1, (2, 3, 4))
    assert cg.heads == (5,)


def test_a_long_linear_run_is_one_entry() -> None:
    cg = CausalGraph()
    cg.add("a", 0, 600, ())
    for lv in range(600, 1000):  # typed one character at a time
        cg.add("a", lv, 1, (lv - 1,))
    assert len(cg.starts) == 1 and cg.next_lv == 1000 and cg.heads == (999,)
    assert cg._seq_starts == [[0]] and cg._seq_ends == [[1000]]
    assert cg.lv_to_raw(777) == ("a", 777) and cg.raw_to_lv("a", 999) == 999
    assert cg.parents_of(0) == () and cg.parents_of(500) == (499,)
    assert list(cg.iter_range(10, 900)) == [(10, 900, (9,))]
    assert cg.diff((10,), (900,)) == ([], [(11, 901)])
    assert cg.find_conflicting((10,), (900,)) == ((10,), [(11, 901, ONLY_B)])
    assert cg.reduce(range(0, 1000, 7)) == (994,)
    assert cg.summary() == {"a": [(0, 1000)]}
    assert cg.known_run("a", 10) == (10, 990)
    # the run breaks where the parents, the agent or the seq do not continue it
    cg.add("a", 1000, 1, (998,))
    cg.add("a", 2000, 1, (1000,))
    cg.add("b", 0, 1, (1001,))
    cg.add("b", 1, 1, (1002,))
    assert cg.starts == [0, 1000, 1001, 1002]


def test_two_concurrent_agents() -> None:
    cg = CausalGraph()
    cg.add("alice", 0, 3, ())
    cg.add("bob", 0, 3, ())
    assert cg.heads == (2, 5)
    assert cg.find_conflicting((2,), (5,)) == ((), [(0, 3, ONLY_A), (3, 6, ONLY_B)])
    assert cg.diff((2,), (5,)) == ([(0, 3)], [(3, 6)])
    assert cg.diff((1,), (2, 5)) == ([], [(2, 6)])
    assert cg.reduce([1, 4]) == (1, 4)
    cg.add("bob", 3, 2, (2, 5))  # bob merges alice and types on
    assert cg.heads == (7,)
    assert cg.find_conflicting((2,), (7,)) == ((), [(0, 3, SHARED), (3, 8, ONLY_B)])
    assert cg.find_conflicting((6,), (7,)) == ((6,), [(7, 8, ONLY_B)])
    assert cg.reduce([0, 4, 6]) == (6,)
    assert cg.frontier_to_raw((2, 5)) == (("alice", 2), ("bob", 2))
    assert cg.raw_to_frontier([("bob", 2), ("alice", 2), ("bob", 4)]) == (7,)
    assert cg.summary() == {"alice": [(0, 3)], "bob": [(0, 5)]}
    assert cg.known_run("bob", 1) == (4, 4)  # seqs 1..4: two LV runs, adjacent seqs


def test_out_of_order_seqs_of_one_agent() -> None:
    cg = CausalGraph()
    cg.add("a", 10, 2, ())  # LVs 0, 1
    cg.add("a", 0, 3, ())  # LVs 2..4: lower seqs, later LVs
    cg.add("a", 5, 1, (4,))  # LV 5, a gap at seqs 3, 4
    assert cg._seq_starts == [[0, 5, 10]]
    assert cg.summary() == {"a": [(0, 3), (5, 6), (10, 12)]}
    assert cg.next_seq("a") == 12
    assert [cg.raw_to_lv("a", s) for s in range(13)] == [2, 3, 4, None, None, 5, None, None, None, None, 0, 1, None]
    assert cg.known_run("a", 1) == (3, 2) and cg.known_run("a", 3) is None
    assert [cg.next_known_seq("a", s) for s in (2, 3, 4, 5, 9, 11)] == [5, 5, 5, 10, 10, None]
    cg.add("a", 3, 2, (2,))  # fill the gap: LVs 6, 7
    assert cg.summary() == {"a": [(0, 6), (10, 12)]}
    assert cg.known_run("a", 0) == (2, 6)  # across three LV runs
    assert cg.heads == (1, 5, 7)
    cg.truncate(6, (1, 5))
    assert cg.summary() == {"a": [(0, 3), (5, 6), (10, 12)]} and cg.heads == (1, 5)


def test_truncate_inside_an_extended_entry() -> None:
    cg = CausalGraph()
    cg.add("a", 0, 3, ())
    heads = cg.heads
    cg.add("a", 3, 4, (2,))  # extends the entry in place
    cg.add("b", 0, 1, (6,))
    cg.truncate(3, heads)
    assert (cg.starts, cg.next_lv, cg.heads, cg.summary()) == ([0], 3, (2,), {"a": [(0, 3)]})
    cg.add("a", 3, 1, (2,))
    assert cg.starts == [0] and cg.summary() == {"a": [(0, 4)]}


def test_lookups_of_unknown_things() -> None:
    cg = diamond()
    assert cg.raw_to_lv("zed", 0) is None and cg.known_run("zed", 0) is None
    assert cg.next_known_seq("zed", 0) is None and cg.next_seq("zed") == 0
    assert cg.raw_to_lv("a", 3) is None and cg.raw_to_lv("a", -1) is None
    assert "zed" not in cg.agents  # lookups never register an agent
    with pytest.raises(UnknownVersionError):
        cg.lv_to_raw(4)
    with pytest.raises(UnknownParentError) as info:
        cg.raw_to_frontier([("a", 0), ("b", 7)])
    assert info.value.missing == (("b", 7),) and "b:7" in str(info.value)


def test_next_known_seq_inside_a_run() -> None:
    cg = CausalGraph()
    cg.add("a", 0, 5, ())
    assert cg.next_known_seq("a", 2) == 3
