"""The merge's temporary CRDT state (``merge/items.py``): spans, chunks, the LV index
and delete targets, against a plain list of spans.

The engine conftest makes chunks tiny (``CHUNK_MAX = 4``), so every few inserts
cut a chunk and ``rebalance`` renumbers them.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine.merge import items, walk
from cowrite.engine.merge.items import (
    DELETE_BACKWARD,
    DELETE_FORWARD,
    INSERTED,
    NO_ITEM,
    NYI,
    PLACEHOLDER,
    PLACEHOLDER_LEN,
    Span,
    State,
    before,
    counts,
)
from engine_helpers import hyp


def test_the_engine_conftest_applies_here() -> None:
    """Tests in subdirectories run with tiny chunks and the state check on, too."""
    assert items.CHUNK_MAX == 4 and walk.CHECK is True


def flat(st_: State) -> list[tuple[int, int, int, bool]]:
    return [(s.lv, s.n, s.state, s.deleted) for s in st_.spans()]


def cursor(st_: State, g: int) -> tuple[int, int]:
    """The cursor before global span index ``g`` (``g`` = the number of spans: the end)."""
    for ci, ch in enumerate(st_.chunks):
        if g <= len(ch.spans) and (g < len(ch.spans) or ci == len(st_.chunks) - 1):
            return ci, g
        g -= len(ch.spans)
    raise AssertionError("cursor past the end")


def test_a_fresh_state_is_one_placeholder() -> None:
    st_ = State()
    st_.check()
    assert flat(st_) == [(PLACEHOLDER, PLACEHOLDER_LEN, INSERTED, False)]
    assert st_.visible_len == st_.effect_len == PLACEHOLDER_LEN
    assert st_.index_of(NO_ITEM) < st_.index_of(PLACEHOLDER) < st_.index_of(PLACEHOLDER + 5)
    assert before(st_.chunks, 0, 0) is None and before(st_.chunks, 0, 1) is st_.chunks[0].spans[0]


def test_split_and_spans_in() -> None:
    st_ = State()
    st_.split(PLACEHOLDER + 10)
    st_.split(PLACEHOLDER + 10)  # already a span start: nothing to do
    st_.split(PLACEHOLDER + PLACEHOLDER_LEN + 3)  # past every span: nothing to do
    assert flat(st_) == [(PLACEHOLDER, 10, 0, False), (PLACEHOLDER + 10, PLACEHOLDER_LEN - 10, 0, False)]
    got = st_.spans_in(PLACEHOLDER + 3, PLACEHOLDER + 12)
    assert [(s.lv, s.n) for s in got] == [(PLACEHOLDER + 3, 7), (PLACEHOLDER + 10, 2)]
    st_.check()
    # the parts of a cut placeholder have no origins; the parts of a real span follow on
    assert all(s.origin_left == NO_ITEM for s in st_.spans())
    st_.insert_span(0, 0, Span(0, 5, NO_ITEM, NO_ITEM, INSERTED, False))
    st_.visible_len += 5
    st_.effect_len += 5
    st_.split(2)
    assert [(s.lv, s.n, s.origin_left) for s in list(st_.spans())[:2]] == [(0, 2, NO_ITEM), (2, 3, 1)]
    st_.check()


def test_set_state_keeps_the_chunk_counts() -> None:
    st_ = State()
    span = Span(0, 3, NO_ITEM, NO_ITEM, NYI, False)
    st_.insert_span(0, 0, span)
    st_.effect_len += 3
    st_.check()
    for state, visible in ((INSERTED, 3), (1, 0), (2, 0), (INSERTED, 3), (NYI, 0)):
        was = span.state == INSERTED
        st_.set_state(span, state)
        st_.visible_len += (3 if state == INSERTED else 0) - (3 if was else 0)
        assert span.chunk.visible == PLACEHOLDER_LEN + visible  # one chunk: the span and the placeholder
        st_.check()


# (op, a, b, c): 0 split at an LV, 1 insert a span, 2 set a span's state,
# 3 split a span in two by hand, 4 rebalance, 5 spans_in
op = st.tuples(st.integers(0, 5), st.integers(0, 10**6), st.integers(1, 6), st.integers(0, 3))


@hyp
@given(st.lists(op, max_size=60))
def test_random_edits_keep_the_state_consistent(ops: list[tuple[int, int, int, int]]) -> None:
    st_ = State()
    model = flat(st_)  # the spans in document order, as a list
    next_lv = 0
    for kind, a, b, c in ops:
        if kind == 0:  # split at any LV the state holds
            span = model[a % len(model)]
            lv = span[0] + (a // 7) % span[1]
            st_.split(lv)
            i = model.index(span)
            if lv != span[0]:
                k = lv - span[0]
                model[i : i + 1] = [(span[0], k, span[2], span[3]), (lv, span[1] - k, span[2], span[3])]
        elif kind == 1:  # a new span somewhere (the caller keeps the totals)
            st_.rebalance()
            g = a % (len(model) + 1)
            ci, j = cursor(st_, g)
            state = (NYI, INSERTED, 1, 2)[c]
            deleted = bool(a % 2) and state != INSERTED
            st_.insert_span(ci, j, Span(next_lv, b, NO_ITEM, NO_ITEM, state, deleted))
            st_.visible_len += b if state == INSERTED else 0
            st_.effect_len += 0 if deleted else b
            model.insert(g, (next_lv, b, state, deleted))
            next_lv += b + (a % 3)  # LVs with gaps, as in a real walk
        elif kind == 2:
            i = a % len(model)
            lv, n, state, deleted = model[i]
            new = (NYI, INSERTED, 1, 3)[c]
            st_.set_state(st_.by_start[lv], new)
            st_.visible_len += (n if new == INSERTED else 0) - (n if state == INSERTED else 0)
            model[i] = (lv, n, new, deleted)
        elif kind == 3:
            i = a % len(model)
            lv, n, state, deleted = model[i]
            if n >= 2:
                k = 1 + b % (n - 1)
                span = st_.by_start[lv]
                second = st_.split_span(span, k, span.chunk.spans.index(span))
                assert (second.lv, second.n) == (lv + k, n - k)
                model[i : i + 1] = [(lv, k, state, deleted), (lv + k, n - k, state, deleted)]
        elif kind == 4:
            st_.rebalance()
            assert not st_.big
            assert all(len(ch.spans) <= max(items.CHUNK_MAX, 1) for ch in st_.chunks)
        else:
            span = model[a % len(model)]
            lo = span[0] + (a // 5) % span[1]
            hi = min(lo + b, span[0] + span[1])
            got = st_.spans_in(lo, hi)
            assert got and got[0].lv == lo and sum(s.n for s in got) == hi - lo
            i = model.index(span)
            parts = [(span[0], lo - span[0]), (lo, hi - lo), (hi, span[0] + span[1] - hi)]
            model[i : i + 1] = [(s, n, span[2], span[3]) for s, n in parts if n]
        st_.check()
        assert flat(st_) == model
        assert (st_.visible_len, st_.effect_len) == counts(list(st_.spans()))
    # index_of sorts in document order
    keys = [st_.index_of(lv) for lv, _, _, _ in model]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


# -- delete targets ----------------------------------------------------------------------


def test_delete_targets_forward_and_backward() -> None:
    st_ = State()
    st_.add_delete_target(10, 3, 100, DELETE_FORWARD)  # ops 10, 11, 12 removed items 100, 101, 102
    st_.add_delete_target(13, 4, 57, DELETE_BACKWARD)  # ops 13..16 removed 57, 56, 55, 54
    st_.add_delete_target(20, 1, 7, DELETE_FORWARD)
    assert st_.delete_targets(10, 13) == [(100, 103)]
    assert st_.delete_targets(11, 12) == [(101, 102)]
    assert st_.delete_targets(13, 17) == [(54, 58)]
    assert st_.delete_targets(14, 16) == [(55, 57)]  # ops 14, 15 removed 56, 55
    assert st_.delete_targets(12, 15) == [(102, 103), (56, 58)]
    assert st_.delete_targets(0, 100) == [(100, 103), (54, 58), (7, 8)]
    assert st_.delete_targets(17, 20) == [] and st_.delete_targets(0, 10) == []


@hyp
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5), st.integers(0, 200), st.booleans()), max_size=10),
    st.randoms(use_true_random=False),
)
def test_delete_targets_against_a_map(records: list[tuple[int, int, int, bool]], rnd: random.Random) -> None:
    st_ = State()
    target: dict[int, int] = {}  # delete op -> the item it removed
    d = 0
    for gap, k, t0, forward in records:
        d += gap
        direction = DELETE_FORWARD if forward else DELETE_BACKWARD
        t0 = t0 + (0 if forward else k)  # keep item ids non-negative
        st_.add_delete_target(d, k, t0, direction)
        for i in range(k):
            target[d + i] = t0 + i * direction
        d += k
    for _ in range(10):
        s = rnd.randint(0, d + 2)
        e = rnd.randint(s, d + 3)
        got = st_.delete_targets(s, e)
        assert all(a < b for a, b in got)
        want = sorted(target[x] for x in range(s, e) if x in target)
        assert sorted(x for a, b in got for x in range(a, b)) == want


@pytest.mark.parametrize("chunk_max", [1, 2, 3])
def test_rebalance_with_other_chunk_sizes(chunk_max: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(items, "CHUNK_MAX", chunk_max)
    st_ = State()
    for i in range(12):
        st_.insert_span(0, len(st_.chunks[0].spans) if i % 2 else 0, Span(i, 1, NO_ITEM, NO_ITEM, INSERTED, False))
        st_.visible_len += 1
        st_.effect_len += 1
    st_.rebalance()
    st_.check()
    assert all(len(ch.spans) <= chunk_max for ch in st_.chunks)
    assert [s.lv for s in st_.spans()] == [10, 8, 6, 4, 2, 0, PLACEHOLDER, 1, 3, 5, 7, 9, 11]
    assert [ch.idx for ch in st_.chunks] == list(range(len(st_.chunks)))
