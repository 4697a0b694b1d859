"""Op times: Unix seconds per op, a run-length column of the op log, kept by the encodings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import ConflictingOpError, Document, InvalidOpError, Op, UnknownVersionError
from cowrite.engine.branch import checkout
from cowrite.engine import decode_document, decode_patch, encode_document, encode_patch
from cowrite.engine.oplog import DEL_BACK, OpLog, copy_oplog

FIXTURES = Path(__file__).resolve().parents[2] / "testdata" / "fixtures"
T0 = 1_700_000_000


def times(ol: OpLog) -> tuple[list[int], list[int]]:
    return ol.time_starts, ol.time_values


def per_lv(ol: OpLog) -> list[int]:
    return [ol.time_of(lv) for lv in range(len(ol))]


def check_invariants(ol: OpLog) -> None:
    starts, values = times(ol)
    assert len(starts) == len(values)
    assert bool(starts) == bool(len(ol))
    if starts:
        assert starts[0] == 0
        assert all(a < b for a, b in zip(starts, starts[1:]))
        assert starts[-1] < len(ol)
        assert all(a != b for a, b in zip(values, values[1:]))  # a run starts only on a change


def replay(ops: list[Op]) -> OpLog:
    ol = OpLog()
    for op in ops:
        ol.add_remote(op)
    return ol


# -- a random linear history with times, valid positions and its text -----------------------

edit = st.tuples(
    st.sampled_from(["ins", "del", "back"]),
    st.sampled_from(["alice", "bob"]),
    st.floats(0, 1),
    st.text("ab日👋", min_size=1, max_size=5),
    st.sampled_from([0, T0, T0 + 1, T0 + 60, T0 - 5]),
)


def build(edits: list[tuple[str, str, float, str, int]]) -> tuple[OpLog, str]:
    ol = OpLog()
    text = ""
    for kind, agent, frac, content, t in edits:
        pos = int(frac * len(text))
        if kind == "ins" or not text:
            ol.add_insert(agent, pos, content, time=t)
            text = text[:pos] + content + text[pos:]
        else:
            n = min(len(content), len(text) - pos)
            if n == 0:
                pos, n = len(text) - 1, 1
            if kind == "back":  # Backspace held: one op per character, each at the previous pos - 1
                for i in range(n):
                    ol.add_delete(agent, pos + n - 1 - i, 1, time=t + (i % 2 if t else 0))
            else:
                ol.add_delete(agent, pos, n, time=t)
            text = text[:pos] + text[pos + n :]
    return ol, text


def random_time_columns(data: st.DataObject, n: int) -> tuple[list[int], list[int]]:
    """Valid time columns for ``n`` LVs: ascending starts from 0, adjacent values distinct."""
    if n == 0:
        return [], []
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=8)) if n > 1 else set())
    starts = [0, *cuts]
    values: list[int] = []
    for _ in starts:
        choices = [t for t in (0, 1, T0, T0 + 3, T0 - 100, 2**53 - 1) if not values or t != values[-1]]
        values.append(data.draw(st.sampled_from(choices)))
    return starts, values


# -- Op ----------------------------------------------------------------------------------------


def test_op_time_field_and_constructors() -> None:
    assert Op.insert("a", 0, (), 0, "hi").time == 0
    assert Op.insert("a", 0, (), 0, "hi", time=T0).time == T0
    assert Op.delete("a", 0, (), 0, 2).time == 0
    d = Op.delete("a", 0, (), 0, 2, False, time=T0)
    assert (d.fwd, d.time) == (False, T0)
    assert Op("a", 0, (), "ins", 0, "x", 1, True, 5).time == 5
    assert Op.insert("a", 0, (), 0, "hi", time=2**53 - 1).time == 2**53 - 1


@pytest.mark.parametrize("bad", [-1, 2**53, 1.0, True, "1", None])
def test_op_bad_time_raises(bad: object) -> None:
    with pytest.raises(InvalidOpError, match="time"):
        Op("a", 0, (), "ins", 0, "x", 1, True, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidOpError, match="time"):
        Op.delete("a", 0, (), 0, 1, time=bad)  # type: ignore[arg-type]


# -- local adds --------------------------------------------------------------------------------


def test_add_insert_and_delete_store_times() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "hello", time=T0)
    ol.add_insert("a", 5, " wor", time=T0)  # same time: same run
    ol.add_insert("a", 9, "ld", time=T0 + 1)
    ol.add_delete("a", 0, 2, time=T0 + 1)
    ol.add_delete("a", 0, 1)  # unknown time
    assert times(ol) == ([0, 9, 13], [T0, T0 + 1, 0])
    assert per_lv(ol) == [T0] * 9 + [T0 + 1] * 4 + [0]
    assert ol.op_starts == [0, 11]  # op runs are independent of time runs
    check_invariants(ol)


def test_first_op_with_unknown_time_starts_a_run() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "x")
    ol.add_insert("a", 1, "y")
    assert times(ol) == ([0], [0])


@pytest.mark.parametrize("bad", [-1, 2**53, 1.5, True])
def test_add_with_bad_time_raises_and_changes_nothing(bad: object) -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "x", time=T0)
    with pytest.raises(InvalidOpError, match="time"):
        ol.add_insert("a", 1, "y", time=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidOpError, match="time"):
        ol.add_delete("a", 0, 1, time=bad)  # type: ignore[arg-type]
    assert len(ol) == 1 and times(ol) == ([0], [T0])


def test_time_of_and_time_runs() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abc", time=5)
    ol.add_insert("a", 3, "de", time=7)
    ol.add_insert("a", 5, "f", time=5)
    assert list(ol.time_runs(0, 6)) == [(0, 3, 5), (3, 5, 7), (5, 6, 5)]
    assert list(ol.time_runs(1, 4)) == [(1, 3, 5), (3, 4, 7)]
    assert list(ol.time_runs(3, 5)) == [(3, 5, 7)]
    assert list(ol.time_runs(4, 4)) == []
    assert list(ol.time_runs(2, 100)) == [(2, 3, 5), (3, 5, 7), (5, 6, 5)]
    assert ol.time_of(0) == 5 and ol.time_of(4) == 7 and ol.time_of(5) == 5
    for lv in (-1, 6):
        with pytest.raises(UnknownVersionError):
            ol.time_of(lv)
    assert list(OpLog().time_runs(0, 10)) == []


# -- remote ops --------------------------------------------------------------------------------


def test_add_remote_stores_times_and_known_ops_keep_their_first_time() -> None:
    ol = OpLog()
    ol.add_remote(Op.insert("bob", 0, (), 0, "abc", time=T0))
    assert times(ol) == ([0], [T0])
    # re-delivered with another time: not a conflict, the first time stays
    assert ol.add_remote(Op.insert("bob", 0, (), 0, "abc", time=T0 + 99)) is None
    assert times(ol) == ([0], [T0])
    # partly known: only the new tail takes the op's time
    assert ol.add_remote(Op.insert("bob", 1, (("bob", 0),), 1, "bcde", time=T0 + 5)) == (3, 5)
    assert per_lv(ol) == [T0] * 3 + [T0 + 5] * 2
    # a real difference is still a conflict, whatever the time
    with pytest.raises(ConflictingOpError):
        ol.add_remote(Op.insert("bob", 0, (), 0, "xyz", time=T0))
    check_invariants(ol)


def test_ops_since_splits_runs_where_the_time_changes() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "hello", time=T0)
    ol.add_insert("a", 5, " world", time=T0 + 1)  # one op run, two time runs
    assert len(ol.op_starts) == 1
    ops = ol.ops_since(())
    assert [(o.seq, o.content, o.time) for o in ops] == [(0, "hello", T0), (5, " world", T0 + 1)]
    assert ops[1].parents == (("a", 4),)
    # a range that starts and ends inside time runs
    part = ol.ops_between([(3, 7)])
    assert [(o.seq, o.pos, o.content, o.time) for o in part] == [(3, 3, "lo", T0), (5, 5, " w", T0 + 1)]
    fresh = replay(ops)
    assert times(fresh) == times(ol)
    assert fresh.op_starts == ol.op_starts and fresh.op_content == ol.op_content


def test_backspace_run_split_by_time_round_trips() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abcdef", time=T0)
    for i, p in enumerate((5, 4, 3, 2)):
        ol.add_delete("a", p, 1, time=T0 + (i >= 2))
    assert ol.op_kinds[-1] == DEL_BACK and ol.op_lens[-1] == 4
    ops = ol.ops_since(())
    dels = [(o.pos, o.length, o.fwd, o.time) for o in ops if o.kind == "del"]
    assert dels == [(4, 2, False, T0), (2, 2, False, T0 + 1)]
    fresh = replay(ops)
    assert times(fresh) == times(ol)
    assert (fresh.op_kinds, fresh.op_pos, fresh.op_lens) == (ol.op_kinds, ol.op_pos, ol.op_lens)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit, max_size=30))
def test_random_histories_round_trip_through_ops_since(edits: list[tuple[str, str, float, str, int]]) -> None:
    ol, text = build(edits)
    check_invariants(ol)
    ops = ol.ops_since(())
    assert all(o.time == ol.time_of(ol.cg.raw_to_lv(o.agent, o.seq) or 0) for o in ops)
    fresh = replay(ops)
    check_invariants(fresh)
    assert times(fresh) == times(ol)
    assert per_lv(fresh) == per_lv(ol)
    assert fresh.ops_since(()) == ops
    assert str(checkout(fresh).text) == text
    # ops_since from a middle version carries the times of the newer ops only
    if len(ol) > 2:
        mid = len(ol) // 2
        newer = ol.ops_since((mid,))
        assert sum(o.span for o in newer) == len(ol) - mid - 1
        for o in newer:
            lv = ol.cg.raw_to_lv(o.agent, o.seq)
            assert lv is not None
            assert {ol.time_of(x) for x in range(lv, lv + o.span)} == {o.time}


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(st.tuples(st.integers(0, 2), st.floats(0, 1), st.text("xy", min_size=1, max_size=3)), max_size=20))
def test_concurrent_history_times_round_trip(data: st.DataObject, steps: list[tuple[int, float, str]]) -> None:
    docs = [Document(n) for n in ("a", "b", "c")]
    for who, frac, content in steps:
        d = docs[who]
        if content == "xx":
            docs[(who + 1) % 3].merge(d)
        else:
            d.insert(int(frac * len(d)), content)
    for d in docs[1:]:
        docs[0].merge(d)
    ol = copy_oplog(docs[0].oplog)
    ol.time_starts, ol.time_values = random_time_columns(data, len(ol))
    ops = ol.ops_since(())
    fresh = replay(ops)
    assert times(fresh) == times(ol)
    assert per_lv(fresh) == per_lv(ol)
    # ops_unknown_to-style partial sends keep times too
    other = replay(docs[1].oplog.ops_since(()))
    for op in ol.ops_since(()):
        other.add_remote(op)
    for lv in range(len(other)):
        agent, seq = other.cg.lv_to_raw(lv)
        src = ol.cg.raw_to_lv(agent, seq)
        assert src is not None
        if lv >= len(docs[1].oplog):
            assert other.time_of(lv) == ol.time_of(src)


# -- truncate, copy ----------------------------------------------------------------------------


def test_truncate_rolls_times_back() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abc", time=T0)
    ol.add_insert("a", 3, "de", time=T0 + 1)
    before = (times(ol)[0][:], times(ol)[1][:])
    n, heads = len(ol), ol.heads
    ol.add_insert("a", 5, "f", time=T0 + 1)  # extends the last run
    ol.add_insert("a", 6, "g", time=T0 + 2)  # a new run
    ol.add_remote(Op.insert("b", 0, (), 0, "zz", time=0))
    ol.truncate(n, heads)
    assert times(ol) == before
    ol.add_insert("a", 5, "h", time=T0 + 7)
    assert per_lv(ol) == [T0] * 3 + [T0 + 1] * 2 + [T0 + 7]
    ol.truncate(4, (3,))  # inside a time run
    assert times(ol) == ([0, 3], [T0, T0 + 1])
    ol.truncate(0, ())
    assert times(ol) == ([], [])
    check_invariants(ol)


@settings(max_examples=100)
@given(st.lists(edit, min_size=1, max_size=20), st.lists(edit, min_size=1, max_size=10))
def test_truncate_restores_random_time_columns(first: list[tuple[str, str, float, str, int]], more: list[tuple[str, str, float, str, int]]) -> None:
    ol, _ = build(first)
    snap = copy_oplog(ol)
    n, heads = len(ol), ol.heads
    ol2, _ = build(first + more)
    for op in ol2.ops_since((n - 1,)):
        ol.add_remote(op)
    ol.truncate(n, heads)
    assert times(ol) == times(snap)


def test_copy_oplog_copies_times_independently() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abc", time=T0)
    c = copy_oplog(ol)
    assert times(c) == times(ol)
    c.add_insert("a", 3, "d", time=T0 + 1)
    ol.add_insert("a", 3, "e", time=T0 + 2)
    assert times(c) == ([0, 3], [T0, T0 + 1])
    assert times(ol) == ([0, 3], [T0, T0 + 2])


# -- encoding ----------------------------------------------------------------------------------


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit, max_size=30))
def test_documents_and_patches_keep_times(edits: list[tuple[str, str, float, str, int]]) -> None:
    ol, text = build(edits)
    data = encode_document(ol, text, ol.heads)
    ol2, text2, version2 = decode_document(data)
    assert (text2, version2) == (text, ol.heads)
    assert times(ol2) == times(ol)
    assert encode_document(ol2, text2, version2) == data
    ops = ol.ops_since(())
    patch = encode_patch(ops)
    assert decode_patch(patch) == ops
    assert times(replay(decode_patch(patch))) == times(ol)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1), st.text("pq", min_size=1, max_size=4)), max_size=15))
def test_concurrent_documents_keep_random_times(data: st.DataObject, steps: list[tuple[int, float, str]]) -> None:
    a, b = Document("a"), Document("b")
    for who, frac, content in steps:
        d = (a, b)[who]
        d.insert(int(frac * len(d)), content)
        if content.startswith("q"):
            (b, a)[who].merge(d)
    a.merge(b)
    ol = copy_oplog(a.oplog)
    ol.time_starts, ol.time_values = random_time_columns(data, len(ol))
    enc = encode_document(ol, a.text, a.branch.version)
    ol2, text2, _ = decode_document(enc)
    assert text2 == a.text and times(ol2) == times(ol)
    ops = ol.ops_since(())
    assert decode_patch(encode_patch(ops)) == ops


def test_patch_times_rle_is_compact() -> None:
    ops = [Op.insert("a", i, (("a", i - 1),) if i else (), i, "x", time=T0) for i in range(100)]
    all_same = encode_patch(ops)
    unknown = encode_patch([Op.insert("a", i, (("a", i - 1),) if i else (), i, "x") for i in range(100)])
    assert len(all_same) - len(unknown) <= 5  # one run: a count, a block length, one pair
    assert [o.time for o in decode_patch(all_same)] == [T0] * 100


def test_v1_fixtures_decode_with_unknown_times() -> None:
    ol, text, _ = decode_document((FIXTURES / "v1-document.bin").read_bytes())
    assert text and times(ol) == ([0], [0]) and set(per_lv(ol)) == {0}
    assert {o.time for o in ol.ops_since(())} == {0}
    ops = decode_patch((FIXTURES / "v1-patch.bin").read_bytes())
    assert ops and {o.time for o in ops} == {0}


def test_v2_fixtures_decode_with_their_times() -> None:
    ol, _, _ = decode_document((FIXTURES / "v2-document.bin").read_bytes())
    assert len(set(per_lv(ol))) > 3 and 0 in per_lv(ol)
    ops = decode_patch((FIXTURES / "v2-patch.bin").read_bytes())
    assert times(replay(ops)) == times(ol)
