"""Summaries (``summary.py``): every op id a replica has, in a form a peer can compare
without the replica's graph.  ``normalize_summary`` checks an untrusted one and brings
it to its one canonical form; ``SummaryIds`` answers ``known_run`` from it;
``Document.summary`` / ``ops_missing_from`` use both."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import MAX_AGENT_LEN, MAX_SEQ, Document, InvalidOpError, normalize_summary
from cowrite.engine.causal_graph import CausalGraph
from cowrite.engine.summary import SummaryIds
from engine_helpers import hyp


# -- normalize_summary -------------------------------------------------------------------


def test_canonical_form_sorts_merges_and_drops() -> None:
    assert normalize_summary({}) == {}
    assert normalize_summary({"b": [(5, 9), [0, 2]], "a": [], "c": ()}) == {"b": [(0, 2), (5, 9)]}
    # overlapping, nested, duplicate and adjacent ranges all merge
    assert normalize_summary({"a": [[3, 5], [0, 4], [1, 2], [0, 4], [5, 7], [9, 10]]}) == {"a": [(0, 7), (9, 10)]}
    out = normalize_summary({"a": [[0, 1]]})
    assert out == {"a": [(0, 1)]} and type(out["a"][0]) is tuple
    # the largest seqs there are
    assert normalize_summary({"a": [(MAX_SEQ - 1, MAX_SEQ)]}) == {"a": [(MAX_SEQ - 1, MAX_SEQ)]}
    assert normalize_summary({"é" * MAX_AGENT_LEN: [(0, 1)]}) == {"é" * MAX_AGENT_LEN: [(0, 1)]}


def test_input_is_not_modified() -> None:
    src = {"a": [[3, 5], [0, 1]]}
    normalize_summary(src)
    assert src == {"a": [[3, 5], [0, 1]]}


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        [("a", [(0, 1)])],
        "a",
        {"a": 3},
        {"a": "01"},
        {"a": {0: 1}},
        {"a": [[1]]},
        {"a": [[0, 1, 2]]},
        {"a": [3]},
        {"a": [[2, 1]]},
        {"a": [[1, 1]]},
        {"a": [[-1, 1]]},
        {"a": [[0, MAX_SEQ + 1]]},
        {"a": [["0", 1]]},
        {"a": [[0, 1.0]]},
        {"a": [[True, 2]]},
        {"a": [[0, False]]},
        {"a": [[0, None]]},
        {"a": [[0, 1], "x"]},
        {3: []},
        {None: [[0, 1]]},
        {("a",): [[0, 1]]},
        {"": [[0, 1]]},
        {"x" * (MAX_AGENT_LEN + 1): [[0, 1]]},
        {"a\ud800": [[0, 1]]},
    ],
)
def test_bad_summaries_are_refused(bad: object) -> None:
    with pytest.raises(InvalidOpError) as info:
        normalize_summary(bad)
    assert type(info.value) is InvalidOpError


runs = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 12)).map(lambda t: [t[0], t[0] + t[1]]), max_size=8)
summaries = st.dictionaries(st.sampled_from(["a", "b", "ü", "日本"]), runs, max_size=4)


@hyp
@given(summaries)
def test_normalize_against_a_set_of_ids(summary: dict[str, list[list[int]]]) -> None:
    out = normalize_summary(summary)
    assert normalize_summary(out) == out  # canonical: a fixed point
    for agent, rs in summary.items():
        want = {s for a, b in rs for s in range(a, b)}
        got = out.get(agent, [])
        assert {s for a, b in got for s in range(a, b)} == want
        assert (agent in out) == bool(want)
        # sorted, disjoint and not adjacent (else they would be one run)
        assert all(b1 < a2 for (_, b1), (a2, _) in zip(got, got[1:]))
        assert all(a < b for a, b in got)
    assert set(out) <= set(summary)


# -- SummaryIds.known_run ------------------------------------------------------------------


@hyp
@given(summaries, st.sampled_from(["a", "b", "ü", "日本", "zed"]), st.integers(0, 60))
def test_known_run_against_a_set_of_ids(summary: dict[str, list[list[int]]], agent: str, seq: int) -> None:
    ids = SummaryIds(normalize_summary(summary))
    known = {s for a, b in summary.get(agent, []) for s in range(a, b)}
    got = ids.known_run(agent, seq)
    if seq not in known:
        assert got is None
    else:
        count = 0
        while seq + count in known:
            count += 1
        assert got == (-1, count)


def test_known_run_named_cases() -> None:
    ids = SummaryIds({"a": [(0, 3), (5, 6)], "b": [(2, 4)]})
    assert [ids.known_run("a", s) for s in range(7)] == [(-1, 3), (-1, 2), (-1, 1), None, None, (-1, 1), None]
    assert [ids.known_run("b", s) for s in range(5)] == [None, None, (-1, 2), (-1, 1), None]
    assert ids.known_run("c", 0) is None
    assert SummaryIds({}).known_run("a", 0) is None


def test_summary_ids_count_like_the_causal_graph() -> None:
    """A graph's summary answers known_run with the graph's counts (LVs aside), even
    where one agent's seqs sit in several LV runs."""
    cg = CausalGraph()
    cg.add("a", 0, 3, ())
    cg.add("b", 0, 2, ())
    cg.add("a", 3, 2, (2,))  # a's seqs 3..4: adjacent seqs, LVs not contiguous
    cg.add("a", 10, 1, (4,))  # a gap in a's seqs
    ids = SummaryIds(cg.summary())
    for agent in ("a", "b", "c"):
        for seq in range(12):
            mine, theirs = cg.known_run(agent, seq), ids.known_run(agent, seq)
            assert (mine is None) == (theirs is None)
            if mine is not None and theirs is not None:
                assert mine[1] == theirs[1]


# -- what a document does with summaries ----------------------------------------------------


def test_summary_lets_a_peer_send_exactly_what_is_missing_both_ways():
    """Reconnect with offline edits on both sides: each side's summary tells the
    other exactly which ops to send, although neither knows the other's frontier."""
    a = Document("alice")
    a.insert(0, "shared ")
    b = a.fork("bob")
    a.insert(7, "alice offline")
    b.insert(0, "bob offline ")
    b.delete(0, 4)
    to_b = a.ops_missing_from(b.summary())
    to_a = b.ops_missing_from(a.summary())
    assert {op.agent for op in to_b} == {"alice"} and {op.agent for op in to_a} == {"bob"}
    assert sum(op.span for op in to_b) == len("alice offline")
    b.add_ops(to_b)
    a.add_ops(to_a)
    assert a.text == b.text
    assert a.ops_missing_from(b.summary()) == [] and b.summary() == a.summary()


def test_summary_input_is_validated():
    a = Document("alice")
    a.insert(0, "x")
    for bad in [None, [], {"a": 3}, {"a": [[1]]}, {"a": [[2, 1]]}, {"a": [["0", 1]]}, {3: []}]:
        with pytest.raises(InvalidOpError):
            a.ops_missing_from(bad)
    assert a.ops_missing_from({}) == a.ops_since(())
    # overlapping / unsorted ranges are fine
    assert a.ops_missing_from({"alice": [[0, 1], [0, 1]]}) == []


def test_summary_of_a_document_is_canonical() -> None:
    a = Document("alice")
    a.insert(0, "abc")
    b = a.fork("bob")
    b.insert(0, "B")
    a.merge(b)
    a.insert(0, "x")
    s = a.summary()
    assert s == {"alice": [(0, 4)], "bob": [(0, 1)]}
    assert normalize_summary(s) == s
    assert a.ops_missing_from(s) == []
    # what a peer lacks, per agent, exactly
    assert [(o.agent, o.seq, o.span) for o in a.ops_missing_from({"alice": [(0, 2)]})] == [
        ("alice", 2, 1),
        ("bob", 0, 1),
        ("alice", 3, 1),
    ]
