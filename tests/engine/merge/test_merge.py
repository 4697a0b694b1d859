"""The merge's entry points (``merge/merge.py``): ``merge_ops`` brings a branch to a new
version and reports the LV of every character it inserts; ``direct_edits`` is the same
for ops that simply follow one another."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import InvalidOpError
from cowrite.engine.branch import checkout
from cowrite.engine.merge import direct_edits, merge_ops
from cowrite.engine.oplog import INS, OpLog
from cowrite.engine.reference import reference_items
from engine_helpers import hyp
from sim import Sim
from test_convergence import action, run_actions


def apply(text: list[tuple[str, int]], edits: list[tuple[int, int, object]], lvs: list[int]) -> None:
    """Apply edits to a list of (character, LV), with the LVs ``merge_ops`` reported."""
    k = 0
    for kind, pos, arg in edits:
        if kind == INS:
            s = str(arg)
            text[pos:pos] = [(ch, lvs[k] + i) for i, ch in enumerate(s)]
            k += 1
        else:
            del text[pos : pos + int(arg)]  # type: ignore[call-overload]
    assert k == len(lvs), "one reported LV per insert edit"


def test_nothing_new_to_merge() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abc")
    ol.add_insert("b", 0, "X", ())
    assert merge_ops(ol, 3, (2,), (2,)) == ([], (2,))
    assert merge_ops(ol, 3, (2,), (1,)) == ([], (2,))
    assert merge_ops(ol, 4, (2, 3), ()) == ([], (2, 3))


def test_reported_lvs_name_the_inserted_characters() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "hello")
    ol.add_insert("b", 0, ">> ", ())
    ol.add_delete("a", 0, 1, (4,))
    lvs: list[int] = []
    edits, version = merge_ops(ol, 0, (), ol.heads, lvs)
    text: list[tuple[str, int]] = []
    apply(text, edits, lvs)
    assert "".join(ch for ch, _ in text) == "ello>> " == str(checkout(ol).text)  # two roots: "a" < "b"
    assert [lv for _, lv in text] == [1, 2, 3, 4, 5, 6, 7]
    assert version == ol.heads


@hyp
@given(n_agents=st.integers(2, 4), actions=st.lists(action, max_size=40))
def test_merges_report_the_ids_the_reference_has(n_agents: int, actions: list[tuple[int, int, int, int, int]]) -> None:
    """From the empty version and from every replica's own version: the LVs reported for
    the inserts put the right character ids in the right places."""
    sim = Sim(n_agents)
    run_actions(sim, actions)
    d = sim.docs[0]
    for other in sim.docs[1:]:
        d.merge(other)
    want = [(ch, lv) for lv, ch, dels in reference_items(d.oplog) if not dels]
    lvs: list[int] = []
    text: list[tuple[str, int]] = []
    edits, version = merge_ops(d.oplog, 0, (), d.oplog.heads, lvs)
    apply(text, edits, lvs)
    assert text == want and version == d.oplog.heads
    cg = d.oplog.cg
    for other in sim.docs[1:]:  # a branch at another replica's version, merged up
        v = cg.reduce([cg.raw_to_lv(a, s) for a, s in other.version])  # type: ignore[misc]
        hv = hist(d.oplog, v)
        start = [(ch, lv) for lv, ch, dels in reference_items(d.oplog) if lv in hv and not any(x in hv for x in dels)]
        lvs = []
        edits, version = merge_ops(d.oplog, len(start), v, d.oplog.heads, lvs)
        apply(start, edits, lvs)
        assert start == want and version == d.oplog.heads


def hist(ol: OpLog, version: tuple[int, ...]) -> set[int]:
    seen: set[int] = set()
    stack = list(version)
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(ol.cg.parents_of(v))
    return seen


def test_direct_edits_are_what_the_walk_emits_for_sequential_ops() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "hello world")
    start = len(ol)
    ol.add_delete("b", 0, 6)
    ol.add_insert("c", 5, "!")
    for p in (3, 2):
        ol.add_delete("c", p, 1)
    lvs_direct: list[int] = []
    lvs_walk: list[int] = []
    got = direct_edits(ol, 11, start, len(ol), lvs_direct)
    assert got == merge_ops(ol, 11, (start - 1,), ol.heads, lvs_walk)[0]
    assert lvs_direct == lvs_walk == [17]
    with pytest.raises(InvalidOpError):
        direct_edits(ol, 5, start, len(ol))  # the branch is too short for these ops
