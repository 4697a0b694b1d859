"""The op log (``oplog.py``): op runs, remote delivery, truncation, reading, and the
time column (Unix seconds per op, a run-length column of its own)."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import ConflictingOpError, Document, InvalidOpError, Op, UnknownParentError, UnknownVersionError
from cowrite.engine.branch import checkout
from cowrite.engine.oplog import DEL_BACK, DEL_FWD, INS, OpLog, copy_oplog, ops_unknown_to
from cowrite.engine.summary import SummaryIds
from engine_helpers import hyp
from oplog_helpers import T0, build, check_invariants, edit, per_lv, random_time_columns, replay, times


def columns(ol: OpLog) -> tuple[object, ...]:
    """Every column of the op log and of its graph, copied (agent indices aside)."""
    cg = ol.cg
    return (
        list(ol.op_starts),
        list(ol.op_kinds),
        list(ol.op_pos),
        list(ol.op_lens),
        list(ol.op_content),
        list(ol.time_starts),
        list(ol.time_values),
        list(cg.starts),
        list(cg.parents),
        [cg.agents[a] for a in cg.entry_agent],
        list(cg.entry_seq),
        # per agent with ops (a rolled-back new agent stays registered: see test_document.py)
        {
            cg.agents[i]: (list(ss), list(cg._seq_ends[i]), list(cg._seq_lvs[i]))
            for i, ss in enumerate(cg._seq_starts)
            if ss
        },
        cg.heads,
        cg.next_lv,
    )


def runs(ol: OpLog) -> list[tuple[int, int, int, int, str]]:
    """The op runs as (start, kind, pos, len, content)."""
    return list(zip(ol.op_starts, ol.op_kinds, ol.op_pos, ol.op_lens, ol.op_content))


def expand(pieces: Iterable[tuple[int, int, int, int, str]]) -> list[tuple[int, str, int, str]]:
    """Runs as one (lv, kind, pos, char) per op: what each single op did."""
    out = []
    for s, e, kind, pos, content in pieces:
        for i in range(e - s):
            if kind == INS:
                out.append((s + i, "ins", pos + i, content[i]))
            elif kind == DEL_FWD:
                out.append((s + i, "del", pos, ""))
            else:
                out.append((s + i, "del", pos + (e - s) - 1 - i, ""))
    return out


def expand_op(op: Op, lv: int) -> list[tuple[int, str, int, str]]:
    kind = INS if op.kind == "ins" else DEL_FWD if op.fwd else DEL_BACK
    return expand([(lv, lv + op.span, kind, op.pos, op.content)])


# -- op runs: what merges into one row --------------------------------------------------------


def test_typing_is_one_run() -> None:
    ol = OpLog()
    for i, ch in enumerate("hello"):
        ol.add_insert("a", i, ch)
    assert runs(ol) == [(0, INS, 0, 5, "hello")]
    ol.add_insert("a", 5, " world")  # a paste right after: still the same run
    assert runs(ol) == [(0, INS, 0, 11, "hello world")]
    ol.add_insert("a", 3, "X")  # the caret moved: a new run
    ol.add_insert("a", 0, "Y")
    assert runs(ol)[1:] == [(11, INS, 3, 1, "X"), (12, INS, 0, 1, "Y")]
    assert len(ol.cg.starts) == 1  # one graph entry throughout


def test_op_runs_ignore_agents_but_ops_since_does_not() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "ab")
    ol.add_insert("b", 2, "cd")  # continues a's typing (another agent, on top of it)
    assert runs(ol) == [(0, INS, 0, 4, "abcd")]
    assert [(o.agent, o.seq, o.pos, o.content) for o in ol.ops_since(())] == [("a", 0, 0, "ab"), ("b", 0, 2, "cd")]
    assert list(ol.iter_ops(1, 3)) == [(1, 3, INS, 1, "bc")]


def test_delete_key_is_one_run() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "0123456789")
    for _ in range(3):
        ol.add_delete("a", 4, 1)  # Delete held at 4
    ol.add_delete("a", 4, 2)  # a selection deleted there: the same run
    assert runs(ol)[1:] == [(10, DEL_FWD, 4, 5, "")]
    ol.add_delete("a", 2, 1)  # elsewhere: a new run
    assert runs(ol)[2:] == [(15, DEL_FWD, 2, 1, "")]


def test_backspace_is_one_run() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "0123456789")
    for p in (7, 6, 5):  # Backspace held from 8
        ol.add_delete("a", p, 1)
    assert runs(ol)[1:] == [(10, DEL_BACK, 5, 3, "")]
    assert expand(ol.iter_ops(10, 13)) == [(10, "del", 7, ""), (11, "del", 6, ""), (12, "del", 5, "")]
    ol.add_delete("a", 3, 2, fwd=False)  # a backspace run from a peer continues it
    assert runs(ol)[1:] == [(10, DEL_BACK, 3, 5, "")]
    ol.add_delete("a", 1, 2)  # but a range delete does not: its ops are not Backspace order
    assert runs(ol)[2:] == [(15, DEL_FWD, 1, 2, "")]
    ol.add_delete("a", 0, 1)  # one character before a 2-character forward run: no
    assert runs(ol)[3:] == [(17, DEL_FWD, 0, 1, "")]


def test_a_single_delete_then_backspace_becomes_a_backspace_run() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abcdef")
    ol.add_delete("a", 4, 1)  # one character (either direction)
    ol.add_delete("a", 3, 1)  # the one before it: now a Backspace run
    assert runs(ol)[1:] == [(6, DEL_BACK, 3, 2, "")]
    ol.add_delete("a", 2, 1)
    assert runs(ol)[1:] == [(6, DEL_BACK, 2, 3, "")]
    assert [(o.pos, o.length, o.fwd) for o in ol.ops_since((5,))] == [(2, 3, False)]


def test_kinds_never_merge_across() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abc")
    ol.add_delete("a", 3, 1)  # deletes at the insert run's end
    ol.add_insert("a", 3, "d")
    ol.add_delete("a", 2, 1)
    assert [r[1] for r in runs(ol)] == [INS, DEL_FWD, INS, DEL_FWD]


# -- reading: iter_ops trims, ops_between cuts ------------------------------------------------


def test_iter_ops_trims_runs_cut_by_the_range() -> None:
    ol = OpLog()
    ol.add_insert("a", 3, "hello")  # LVs 0..4
    for p in (9, 8, 7, 6):  # LVs 5..8 delete 9, 8, 7, 6
        ol.add_delete("a", p, 1)
    ol.add_delete("a", 2, 3)  # LVs 9..11 delete at 2
    assert list(ol.iter_ops(1, 4)) == [(1, 4, INS, 4, "ell")]
    assert list(ol.iter_ops(6, 8)) == [(6, 8, DEL_BACK, 7, "")]  # ops deleting 8 and 7
    assert list(ol.iter_ops(10, 12)) == [(10, 12, DEL_FWD, 2, "")]
    assert list(ol.iter_ops(4, 10)) == [(4, 5, INS, 7, "o"), (5, 9, DEL_BACK, 6, ""), (9, 10, DEL_FWD, 2, "")]
    assert list(ol.iter_ops(3, 3)) == []
    assert list(ol.iter_ops(0, 100)) == list(ol.iter_ops(0, 12))


# -- random logs against a per-op model --------------------------------------------------------

# (agent, kind: 0 insert / 1 Delete key / 2 Backspace run / 3 a single delete, pos, size,
#  parents: 0 heads / 1 a random LV, which LV, characters)
add = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 3),
    st.integers(0, 12),
    st.integers(1, 4),
    st.integers(0, 1),
    st.integers(0, 10**6),
    st.text("xyz日👋", min_size=4, max_size=4),
)


Add = tuple[str, int, int, int, int, int, str]


def random_log(adds: list[Add]) -> tuple[OpLog, list[tuple[int, str, int, str]]]:
    """A log of random (not necessarily text-valid) ops and what each of its ops did."""
    ol = OpLog()
    model: list[tuple[int, str, int, str]] = []
    for agent, kind, pos, n, pmode, pick, chars in adds:
        parents = None if pmode == 0 or not len(ol) else ol.cg.reduce([pick % len(ol)])
        lv = len(ol)
        if kind == 0:
            ol.add_insert(agent, pos, chars[:n], parents)
            model += [(lv + i, "ins", pos + i, chars[i]) for i in range(n)]
        elif kind == 1:
            ol.add_delete(agent, pos, n, parents)
            model += [(lv + i, "del", pos, "") for i in range(n)]
        elif kind == 2:
            ol.add_delete(agent, pos, n, parents, fwd=False)
            model += [(lv + i, "del", pos + n - 1 - i, "") for i in range(n)]
        else:
            ol.add_delete(agent, pos, 1, parents, fwd=pick % 2 == 0)
            model.append((lv, "del", pos, ""))
    return ol, model


@hyp
@given(st.lists(add, max_size=25), st.randoms(use_true_random=False))
def test_runs_mean_exactly_their_ops(adds: list[Add], rnd: random.Random) -> None:
    ol, model = random_log(adds)
    # the runs tile the LVs
    assert sum(ol.op_lens) == len(ol) == len(model)
    assert ol.op_starts == [sum(ol.op_lens[:i]) for i in range(len(ol.op_lens))]
    assert all(n > 0 for n in ol.op_lens)
    for k, n, c in zip(ol.op_kinds, ol.op_lens, ol.op_content):
        assert (k == INS) == bool(c) and (k != INS or len(c) == n)
    assert expand(ol.iter_ops(0, len(ol))) == model
    for _ in range(10):  # any sub-range, trimmed, means the same ops
        s = rnd.randint(0, len(ol))
        e = rnd.randint(s, len(ol))
        assert expand(ol.iter_ops(s, e)) == model[s:e]
    # the wire ops say the same, and replay into the same log
    ops = ol.ops_since(())
    lv = 0
    got = []
    for op in ops:
        got += expand_op(op, lv)
        lv += op.span
    assert got == model
    fresh = replay(ops)
    assert expand(fresh.iter_ops(0, len(fresh))) == model
    assert columns(fresh)[7:] == columns(ol)[7:]  # the same graph


@hyp
@given(st.lists(add, min_size=1, max_size=15), st.lists(add, min_size=1, max_size=10), st.lists(add, max_size=8))
def test_truncate_rolls_back_exactly(first: list[Add], more: list[Add], then: list[Add]) -> None:
    ol, _ = random_log(first)
    snap = columns(ol)
    n, heads = len(ol), ol.heads
    extra, _ = random_log(first + more)
    for op in extra.ops_since(ol.heads):  # ops whose runs extend, and cut into, the last ones
        ol.add_remote(op)
    ol.truncate(n, heads)
    assert same_kinds(columns(ol)) == same_kinds(snap)  # exactly (see test_truncate_restores_the_kind_of_a_run_it_cuts)
    # and it grows on like a log that never had them: the same ops, the same graph
    fresh, _ = random_log(first)
    tail, _ = random_log(first + then)
    for op in tail.ops_since(fresh.heads):
        ol.add_remote(op)
        fresh.add_remote(op)
    assert expand(ol.iter_ops(0, len(ol))) == expand(fresh.iter_ops(0, len(fresh)))
    assert columns(ol)[7:] == columns(fresh)[7:]


def same_kinds(cols: tuple[object, ...]) -> tuple[object, ...]:
    """``columns`` with one-op delete runs counted as DEL_FWD (either kind means the same op)."""
    kinds = [DEL_FWD if k == DEL_BACK and n == 1 else k for k, n in zip(cols[1], cols[3])]  # type: ignore[call-overload]
    return (cols[0], kinds, *cols[2:])


def test_truncate_restores_the_kind_of_a_run_it_cuts() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abcdefgh")
    ol.add_delete("a", 7, 1)  # a one-op run: DEL_FWD
    snap = columns(ol)
    n, heads = len(ol), ol.heads
    ol.add_delete("a", 6, 1)  # Backspace: the run becomes DEL_BACK at 6
    ol.truncate(n, heads)
    assert columns(ol) == snap


def test_truncate_inside_runs_of_each_kind() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "hello")  # LVs 0..4
    ol.truncate(3, (2,))
    assert runs(ol) == [(0, INS, 0, 3, "hel")] and ol.heads == (2,)
    for p in (6, 5, 4, 3):  # LVs 3..6: Backspace deleting 6, 5, 4, 3
        ol.add_delete("a", p, 1)
    ol.truncate(5, (4,))  # keep the ops deleting 6 and 5
    assert runs(ol)[1:] == [(3, DEL_BACK, 5, 2, "")]
    assert expand(ol.iter_ops(3, 5)) == [(3, "del", 6, ""), (4, "del", 5, "")]
    ol.add_delete("a", 1, 3)  # LVs 5..7
    ol.truncate(6, (5,))
    assert runs(ol)[2:] == [(5, DEL_FWD, 1, 1, "")]
    ol.truncate(0, ())
    assert columns(ol) == columns(OpLog())


def test_copy_oplog_is_independent() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abc")
    c = copy_oplog(ol)
    assert columns(c) == columns(ol)
    snap = columns(ol)
    c.add_insert("a", 3, "d")  # extends the run in the copy only
    c.add_delete("b", 0, 1)
    assert columns(ol) == snap
    ol.add_insert("a", 0, "x")
    assert runs(c) == [(0, INS, 0, 4, "abcd"), (4, DEL_FWD, 0, 1, "")]


# -- remote delivery ----------------------------------------------------------------------------


def test_add_remote_is_idempotent() -> None:
    src, _ = random_log([("a", 0, 0, 4, 0, 0, "abcd"), ("b", 2, 1, 3, 1, 2, "...."), ("a", 1, 0, 2, 0, 0, "....")])
    ops = src.ops_since(())
    ol = replay(ops)
    snap = columns(ol)
    for op in ops + list(reversed(ops)):
        assert ol.add_remote(op) is None
    assert columns(ol) == snap


@pytest.mark.parametrize(
    "op, tail",
    [
        (Op.insert("b", 0, (), 0, "abcdef"), (INS, 3, "def")),
        (Op.delete("b", 0, (), 2, 6), (DEL_FWD, 2, "")),
        (Op.delete("b", 0, (), 2, 6, fwd=False), (DEL_BACK, 2, "")),  # the tail deletes 4, 3, 2
    ],
)
def test_add_remote_of_a_partly_known_run_adds_its_tail(op: Op, tail: tuple[int, int, str]) -> None:
    ol = OpLog()
    # the run's first three ops (a Backspace run's first ops delete its last characters)
    first = Op(op.agent, 0, (), op.kind, op.pos + (0 if op.fwd else op.span - 3), op.content[:3], 3, op.fwd)
    assert ol.add_remote(first) == (0, 3)
    assert ol.add_remote(op) == (3, 6)
    assert list(ol.iter_ops(3, 6)) == [(3, 6, *tail)]
    assert expand(ol.iter_ops(0, 6)) == expand_op(op, 0)
    assert ol.cg.parents_of(3) == (2,) and len(ol.cg.starts) == 1


def test_add_remote_of_a_run_known_in_several_lv_runs() -> None:
    """bob's seqs 0..2 and 3..5 sit at LVs 0..2 and 4..6 (carol's op between them):
    re-delivering bob's whole run is checked against both parts."""
    ol = OpLog()
    ol.add_remote(Op.insert("bob", 0, (), 0, "abc"))
    ol.add_remote(Op.insert("carol", 0, (), 0, "X"))
    ol.add_remote(Op.insert("bob", 3, (("bob", 2),), 3, "def"))
    assert ol.cg.raw_to_lv("bob", 3) == 4
    snap = columns(ol)
    assert ol.add_remote(Op.insert("bob", 0, (), 0, "abcdef")) is None
    assert ol.add_remote(Op.insert("bob", 1, (("bob", 0),), 1, "bcde")) is None
    for bad in (Op.insert("bob", 0, (), 0, "abcdeF"), Op.insert("bob", 0, (), 0, "abcdefg"[:6].replace("d", "D"))):
        with pytest.raises(ConflictingOpError):
            ol.add_remote(bad)
    assert columns(ol) == snap
    assert ol.add_remote(Op.insert("bob", 0, (), 0, "abcdefg")) == (7, 8)  # one more: only it is new


@pytest.mark.parametrize(
    "bad",
    [
        Op.insert("b", 0, (), 0, "abX"),  # other text
        Op.insert("b", 0, (), 1, "abc"),  # another position
        Op.insert("b", 0, (("a", 0),), 0, "abc"),  # other parents
        Op.delete("b", 0, (), 0, 3),  # a delete, not an insert
        Op.insert("b", 1, (("b", 0),), 2, "bc"),  # the middle of the run, at another position
    ],
)
def test_add_remote_refuses_a_known_id_with_other_content(bad: Op) -> None:
    ol = OpLog()
    ol.add_remote(Op.insert("a", 0, (), 0, "z"))
    ol.add_remote(Op.insert("b", 0, (), 0, "abc"))
    snap = columns(ol)
    with pytest.raises(ConflictingOpError):
        ol.add_remote(bad)
    assert columns(ol) == snap


def test_add_remote_delete_directions() -> None:
    ol = OpLog()
    ol.add_remote(Op.insert("a", 0, (), 0, "abcdef"))
    ol.add_remote(Op.delete("b", 0, (("a", 5),), 2, 3))  # Delete key at 2
    ol.add_remote(Op.delete("c", 0, (("a", 5),), 4, 1))  # one character: either direction
    snap = columns(ol)
    assert ol.add_remote(Op.delete("c", 0, (("a", 5),), 4, 1, fwd=False)) is None
    with pytest.raises(ConflictingOpError):
        ol.add_remote(Op.delete("b", 0, (("a", 5),), 2, 3, fwd=False))  # Backspace deletes 4, 3, 2: other ops
    assert columns(ol) == snap


def test_add_remote_refuses_overlaps_out_of_order_and_unknown_parents() -> None:
    ol = OpLog()
    ol.add_remote(Op.insert("b", 0, (), 0, "abc"))
    ol.add_remote(Op.insert("b", 5, (("b", 2),), 3, "fg"))  # seqs 3, 4 never used
    snap = columns(ol)
    for bad in (
        Op.insert("b", 3, (("b", 2),), 3, "dex"),  # runs into seq 5
        Op.insert("b", 0, (), 0, "abcdef"),  # a known prefix whose tail runs into seq 5
        Op.insert("b", 4, (("b", 2),), 0, "xyz"),
    ):
        with pytest.raises(ConflictingOpError):
            ol.add_remote(bad)
    with pytest.raises(UnknownParentError):
        ol.add_remote(Op.insert("c", 0, (("b", 3),), 0, "x"))
    assert columns(ol) == snap
    assert ol.add_remote(Op.insert("b", 3, (("b", 2),), 3, "de")) == (5, 7)  # the gap itself is fine


def test_ops_unknown_to_a_graph_or_a_summary() -> None:
    src = OpLog()
    src.add_insert("a", 0, "hello")
    src.add_insert("b", 0, "B", ())
    src.add_insert("a", 5, "!")
    dst = replay(src.ops_between([(0, 3)]))
    want = src.ops_between([(3, 7)])
    assert ops_unknown_to(src, dst.cg) == want
    assert ops_unknown_to(src, SummaryIds(dst.cg.summary())) == want
    assert ops_unknown_to(src, src.cg) == []
    for op in want:
        dst.add_remote(op)
    assert dst.cg.summary() == src.cg.summary()


# -- times: local adds ---------------------------------------------------------------------


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


# -- times: remote ops ---------------------------------------------------------------------


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


# -- times: truncate, copy -----------------------------------------------------------------


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
