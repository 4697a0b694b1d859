"""Document.apply_patch's keystroke path: a one-run patch goes from its bytes straight
into the op log's columns (``OpLog.add_row``, no ``Op`` objects) and, when made on the
replica's version, is applied as its own edit.  It must give exactly what
``add_ops(decode_patch(data))`` gives -- the edits returned, the text, the op log, the
times, the character ids, the errors -- and, like it, change nothing when it refuses.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import CowriteError, Document, InvalidOpError, Op, UnknownParentError, decode_patch, encode_patch
from cowrite.engine import document as document_mod
from cowrite.engine import oplog as oplog_mod
from engine_helpers import assert_consistent, common_version, hyp

ALPHABET = "ab \né日👋"
CLOCK = 1_700_000_000

# (who, kind, x, y): who 0-2 a sender, 3 the receiver pair; kind 0 insert, 1 delete,
# 2 a sender merges another sender, 3 deliver to the receivers (how: y)
step = st.tuples(st.integers(0, 3), st.integers(0, 3), st.floats(0, 1), st.integers(0, 11))


def state(d: Document) -> tuple[object, ...]:
    """Everything observable about a replica (its character ids and op times included)."""
    ids = d._ids
    ol = d.oplog
    return (
        d.text,
        d.version,
        d.ops_since(()),
        d.summary(),
        d.branch.version,
        ol.heads,
        (ol.op_starts, ol.op_kinds, ol.op_pos, ol.op_lens, ol.op_content),
        (ol.time_starts, ol.time_values),
        None if ids is None else list(ids.runs()),
    )


def verdict(call: object) -> object:
    """What a delivery returned, or the type of the CowriteError it raised."""
    try:
        return call()  # type: ignore[operator]
    except CowriteError as exc:
        return type(exc)


def edit(d: Document, kind: int, x: float, y: int) -> None:
    if kind == 0:
        d.insert(int(x * len(d)), ALPHABET[y % len(ALPHABET)] * (1 + y % 3))
    elif len(d):
        pos = int(x * (len(d) - 1))
        d.delete(pos, min(1 + y % 3, len(d) - pos))


def run(steps: list[tuple[int, int, float, int]], ids: bool) -> None:
    senders = [Document(name, clock=lambda: CLOCK + 1) for name in ("alice", "bob", "carol")]
    fast = Document("server", clock=lambda: CLOCK)
    slow = Document("server", clock=lambda: CLOCK)
    if ids:
        fast.position(0)
        slow.position(0)
    before = [d.version for d in senders]  # each sender's version before its last edit
    for who, kind, x, y in steps:
        if who == 3:
            if kind < 2:  # the receivers edit too (the same edit on both)
                edit(fast, kind, x, y)
                edit(slow, kind, x, y)
            continue
        d = senders[who]
        if kind < 2:
            before[who] = d.version
            edit(d, kind, x, y)
        elif kind == 2:
            d.merge(senders[y % 3])
        else:
            how = y % 4
            if how == 0:  # the last keystroke alone: its parents may not have arrived
                data = d.encode_patch(before[who])
            elif how == 1:  # what the receiver lacks (it may hold some of it already)
                data = d.encode_patch(common_version(fast, d))
            elif how == 2:  # everything: re-delivered ops
                data = d.encode_patch()
            else:  # one op run of what the receiver lacks, maybe not the first
                ops = d.ops_since(common_version(fast, d))
                data = encode_patch(ops[int(x * len(ops)) :][:1])
            got = verdict(lambda: fast.apply_patch(data))
            want = verdict(lambda: slow.add_ops(decode_patch(data)))
            assert got == want
            assert state(fast) == state(slow)
    assert_consistent(fast)
    for d in senders:  # everything converges afterwards (the caches left behind are sound)
        assert fast.apply_patch(d.encode_patch()) == slow.add_ops(d.ops_since(()))
    assert state(fast) == state(slow)
    assert_consistent(fast)


@hyp
@given(st.lists(step, max_size=60), st.booleans())
def test_keystroke_path_equals_add_ops(steps: list[tuple[int, int, float, int]], ids: bool) -> None:
    run(steps, ids)


@pytest.mark.parametrize("direct", [True, False])
def test_keystroke_path_equals_add_ops_without_the_direct_path(
    direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long alternating typing (the incremental bench's shape), with and without the
    direct path (the keystroke path must follow add_ops's switch)."""
    monkeypatch.setattr(document_mod, "_DIRECT", direct)
    steps = []
    for i in range(300):
        who = i % 3
        steps.append((who, i % 5 % 2, (i * 0.37) % 1, i % 12))
        steps.append((who, 3, 0.5, 4 * (i % 3)))  # deliver that keystroke alone
    run(steps, True)


def keystroke(d: Document, change: object) -> bytes:
    v = d.version
    change(d)  # type: ignore[operator]
    return d.encode_patch(v)


def test_a_keystroke_takes_the_row_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new one-run patch never builds an Op or calls add_remote; a multi-run one does."""
    calls: list[str] = []
    real = oplog_mod.OpLog.add_remote

    def spy(self: oplog_mod.OpLog, op: Op) -> object:
        calls.append(op.agent)
        return real(self, op)

    a, b = Document("a"), Document("b")
    b.apply_patch(a.encode_patch())
    monkeypatch.setattr(oplog_mod.OpLog, "add_remote", spy)
    assert b.apply_patch(keystroke(a, lambda d: d.insert(0, "hi"))) == [(0, 0, "hi")]
    b.insert(2, "!")
    assert b.apply_patch(keystroke(a, lambda d: d.delete(0, 1))) == [(1, 0, 1)]  # concurrent: a walk
    assert b.text == "i!" and calls == []
    b.apply_patch(keystroke(a, lambda d: (d.insert(0, "x"), d.delete(1, 1))))  # two runs
    assert calls == ["a", "a"]


def test_a_refused_keystroke_changes_nothing() -> None:
    base = Document("a", clock=lambda: CLOCK)
    base.insert(0, "abc")
    other = base.fork("o")
    other.insert(0, "O")  # so that some forged ops are concurrent: merged by a walk
    top = base.version
    forged = [
        Op.insert("x", 0, top, 4, "z"),  # past the end, on the version: the direct path
        Op.delete("x", 0, top, 2, 2),
        Op.delete("x", 0, top, 0, 4, fwd=False),
        Op.insert("x", 0, (("a", 0),), 2, "z"),  # past the end at its parents: a walk
        Op.delete("x", 0, (("a", 1),), 1, 2),
    ]
    for op in forged:
        for concurrent in (False, True):
            d = base.copy()
            d.position(0)
            if concurrent:
                d.merge(other)
            d.merge(d.fork("warm"))  # a merge cache may be left behind: it must be dropped
            before = state(d)
            with pytest.raises(InvalidOpError):
                d.apply_patch(encode_patch([op]))
            assert state(d) == before
            assert d._merge_cache.walk is None
            d.insert(0, "ok")  # still usable
            assert_consistent(d)
    unknown = Op.insert("x", 1, (("x", 0),), 0, "z")
    d = base.copy()
    before = state(d)
    with pytest.raises(UnknownParentError):
        d.apply_patch(encode_patch([unknown]))
    assert state(d) == before


class Bug(Exception):
    """Not a CowriteError: what a bug in the engine would raise."""


@pytest.mark.parametrize("concurrent", [False, True])
def test_a_bug_while_adding_a_row_changes_nothing(concurrent: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the graph took the op but before the columns did: rolled back."""
    a = Document("a", clock=lambda: CLOCK)
    a.insert(0, "hello")
    b = a.fork("b")
    b.position(0)
    a.insert(5, "!")
    if concurrent:
        b.insert(0, ">")
    b.merge(b.fork("warm"))
    b.apply_patch(a.encode_patch(common_version(b, a)))
    data = keystroke(a, lambda d: d.insert(0, "x"))
    before = state(b)

    def broken(*_args: object) -> None:
        raise Bug("a bug in the columns")

    with monkeypatch.context() as mp:
        mp.setattr(oplog_mod.OpLog, "_push_ops", broken)
        with pytest.raises(Bug):
            b.apply_patch(data)
    assert state(b) == before
    assert b._merge_cache.walk is None
    b.apply_patch(data)
    a.merge(b)
    assert b.text == a.text
    assert_consistent(b)
