"""The document (``document.py``): one replica's public API.

Bad input raises exactly the documented error and leaves the document unchanged;
a bug inside a merge propagates as itself (not relabelled) and leaves it unchanged
too; delivery is idempotent; forks and copies are independent; ``reserve_seqs``
and ``observe_local`` keep their contracts.  (The direct path of ``add_ops`` has
its own file, ``test_document_direct_path.py``.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cowrite.engine import (
    MAX_SEQ,
    ConflictingOpError,
    CowriteError,
    DecodeError,
    Document,
    InvalidOpError,
    Op,
    UnknownParentError,
    UnknownVersionError,
)
from cowrite.engine import document as document_mod
from cowrite.engine import oplog as oplog_mod
from cowrite.engine.merge import walk as walk_mod
from cowrite.engine.reference import reference_text
from engine_helpers import assert_consistent, snapshot, sync_all


def _doc() -> Document:
    d = Document("alice")
    d.insert(0, "hello")
    return d


def _rejects(doc: Document, exc: type[BaseException], fn, *args):
    before = snapshot(doc)
    with pytest.raises(exc) as info:
        fn(*args)
    assert type(info.value) is exc, f"raised {type(info.value).__name__}, expected exactly {exc.__name__}"
    assert isinstance(info.value, CowriteError)
    assert snapshot(doc) == before
    assert_consistent(doc)
    return info.value


# -- local edits ----------------------------------------------------------------------


@pytest.mark.parametrize("pos", [6, 100, -1, -6, 1.0, "1", None, True, 2**70])
def test_insert_bad_position(pos):
    d = _doc()
    _rejects(d, InvalidOpError, d.insert, pos, "x")


@pytest.mark.parametrize("text", ["\ud800", "ok\udfff", "a\ud83d", b"bytes", 5, None])
def test_insert_bad_text(text):
    d = _doc()
    _rejects(d, InvalidOpError, d.insert, 2, text)


def test_insert_empty_text_is_a_noop():
    d = _doc()
    before = snapshot(d)
    d.insert(5, "")
    assert snapshot(d) == before


@pytest.mark.parametrize(
    "pos,length",
    [(5, 1), (0, 6), (4, 2), (6, 0), (-1, 1), (0, -1), (2, -3), (1.0, 1), (1, 1.0), (None, 1), (True, 1), (1, True)],
)
def test_delete_bad_range(pos, length):
    d = _doc()
    _rejects(d, InvalidOpError, d.delete, pos, length)


def test_delete_zero_length_is_a_noop():
    d = _doc()
    before = snapshot(d)
    d.delete(5, 0)
    d.delete(0, 0)
    assert snapshot(d) == before


@pytest.mark.parametrize("pos,length,text", [(4, 2, "x"), (-1, 0, "x"), (0, 1, "\ud800"), (0, 1, 3)])
def test_replace_bad_input_changes_nothing(pos, length, text):
    d = _doc()
    _rejects(d, InvalidOpError, d.replace, pos, length, text)


@pytest.mark.parametrize("agent", ["", "x" * 257, 5, b"alice"])
def test_bad_agent(agent):
    with pytest.raises(InvalidOpError):
        Document(agent)


def test_errors_in_empty_document():
    d = Document("alice")
    _rejects(d, InvalidOpError, d.insert, 1, "x")
    _rejects(d, InvalidOpError, d.delete, 0, 1)


# -- remote ops -----------------------------------------------------------------------


def test_remote_insert_past_end_at_current_version():
    d = _doc()
    op = Op.insert("bob", 0, d.version, 6, "x")
    _rejects(d, InvalidOpError, d.add_ops, [op])
    # the boundary is allowed
    d.add_ops([Op.insert("bob", 0, d.version, 5, "x")])
    assert d.text == "hellox"


def test_remote_delete_past_end_at_current_version():
    d = _doc()
    _rejects(d, InvalidOpError, d.add_ops, [Op.delete("bob", 0, d.version, 3, 3)])
    _rejects(d, InvalidOpError, d.add_ops, [Op.delete("bob", 0, d.version, 5, 1)])
    _rejects(d, InvalidOpError, d.add_ops, [Op.delete("bob", 0, d.version, 3, 3, fwd=False)])
    d.add_ops([Op.delete("bob", 0, d.version, 3, 2)])
    assert d.text == "hel"


def _doc_with_concurrent_history() -> tuple[Document, tuple]:
    """'abc' at version v, then more text typed after v (so v is an old version)."""
    d = Document("alice")
    d.insert(0, "abc")
    v = d.version
    d.insert(3, "defgh")
    d.delete(0, 1)
    assert d.text == "bcdefgh"
    return d, v


@pytest.mark.parametrize("pos", [4, 5, 7])
def test_remote_insert_past_end_at_old_parents(pos):
    # valid at the current version (7 chars) but not at its parents (3 chars): the
    # check must happen in the walker, at the op's own parents
    d, v = _doc_with_concurrent_history()
    _rejects(d, InvalidOpError, d.add_ops, [Op.insert("bob", 0, v, pos, "X")])


def test_remote_insert_at_end_of_old_parents_is_fine():
    d, v = _doc_with_concurrent_history()
    d.add_ops([Op.insert("bob", 0, v, 3, "X")])
    # concurrent with alice's "defgh" at the same place: ("alice", 3) < ("bob", 0)
    assert d.text == "bcdefghX"
    assert_consistent(d)


@pytest.mark.parametrize("pos,length,fwd", [(2, 2, True), (0, 4, True), (3, 1, True), (1, 3, False)])
def test_remote_delete_past_end_at_old_parents(pos, length, fwd):
    d, v = _doc_with_concurrent_history()
    _rejects(d, InvalidOpError, d.add_ops, [Op.delete("bob", 0, v, pos, length, fwd)])


def test_remote_delete_of_concurrently_deleted_text_is_fine():
    d, v = _doc_with_concurrent_history()
    d.add_ops([Op.delete("bob", 0, v, 0, 3)])  # "abc": "a" already deleted by alice
    assert d.text == "defgh"
    assert_consistent(d)


def test_remote_op_with_concurrent_parents_past_end():
    # parents are two concurrent heads; the length at the merged parents counts both
    d = Document("alice")
    d.insert(0, "ab")
    e = d.fork("bob")
    e.insert(0, "XY")
    d.insert(2, "cd")
    d.merge(e)
    assert d.text == "XYabcd"
    parents = d.version
    _rejects(d, InvalidOpError, d.add_ops, [Op.insert("carol", 0, parents, 7, "!")])
    _rejects(d, InvalidOpError, d.add_ops, [Op.delete("carol", 0, parents, 5, 2)])
    # now make the doc move on so the same parents are an old version
    d.insert(0, "0123456789")
    _rejects(d, InvalidOpError, d.add_ops, [Op.insert("carol", 0, parents, 7, "!")])
    _rejects(d, InvalidOpError, d.add_ops, [Op.delete("carol", 0, parents, 6, 1)])
    d.add_ops([Op.insert("carol", 0, parents, 6, "!")])
    assert d.text == "0123456789XYabcd!"
    assert_consistent(d)


def test_unknown_parent():
    d = _doc()
    err = _rejects(d, UnknownParentError, d.add_ops, [Op.insert("bob", 0, (("carol", 3),), 0, "x")])
    assert ("carol", 3) in err.missing
    # a known agent but an unknown seq
    _rejects(d, UnknownParentError, d.add_ops, [Op.insert("bob", 0, (("alice", 5),), 0, "x")])
    _rejects(d, UnknownParentError, d.add_ops, [Op.insert("bob", 0, (("alice", 4), ("alice", 99)), 0, "x")])


def test_duplicate_id_with_other_content():
    d = _doc()
    e = d.fork("bob")
    e.insert(5, "!")
    good = e.ops_since(d.version)
    d.add_ops(good)
    (op,) = good
    for bad in [
        Op.insert("bob", op.seq, op.parents, op.pos, "?"),
        Op.insert("bob", op.seq, op.parents, op.pos - 1, "!"),
        Op.insert("bob", op.seq, (("alice", 3),), op.pos, "!"),
        Op.delete("bob", op.seq, op.parents, 0, 1),
    ]:
        _rejects(d, ConflictingOpError, d.add_ops, [bad])
    assert d.text == "hello!"


def test_duplicate_id_of_a_local_op_with_other_content():
    d = _doc()
    _rejects(d, ConflictingOpError, d.add_ops, [Op.insert("alice", 0, (), 0, "jello")])
    _rejects(d, ConflictingOpError, d.add_ops, [Op.insert("alice", 2, (("alice", 1),), 2, "X")])
    # identical re-delivery is fine, and a longer run that extends a known one adds the tail
    d.add_ops([Op.insert("alice", 0, (), 0, "hello")])
    assert d.text == "hello"
    d.add_ops([Op.insert("alice", 0, (), 0, "hello!")])
    assert d.text == "hello!"
    assert_consistent(d)


def test_overlapping_seq_out_of_order():
    d = Document("alice")
    d.add_ops([Op.insert("bob", 5, (), 0, "x")])
    _rejects(d, ConflictingOpError, d.add_ops, [Op.insert("bob", 3, (), 0, "abcd")])


@pytest.mark.parametrize(
    "bad",
    [
        Op.insert("bob", 1, (("bob", 0),), 9, "!"),  # past end
        Op.insert("bob", 1, (("zed", 0),), 0, "!"),  # unknown parent
        Op.insert("alice", 0, (), 0, "HELLO"),  # conflicting
        "not an op",
    ],
)
def test_batch_is_all_or_nothing(bad):
    d = _doc()
    first = Op.insert("bob", 0, d.version, 5, "?")
    exc = {str: InvalidOpError}.get(type(bad))
    if exc is None:
        exc = InvalidOpError if bad.agent == "bob" and bad.parents[0][0] == "bob" else (
            UnknownParentError if bad.parents and bad.parents[0][0] == "zed" else ConflictingOpError
        )
    _rejects(d, exc, d.add_ops, [first, bad])
    # nothing of the first op remains: re-adding it alone works and is seq 0
    d.add_ops([first])
    assert d.text == "hello?"
    assert_consistent(d)


def test_batch_rejected_late_in_a_long_walk():
    d, v = _doc_with_concurrent_history()
    good = [Op.insert("bob", 0, v, 1, "XYZ"), Op.delete("bob", 3, (("bob", 2),), 0, 2)]
    bad = Op.insert("bob", 5, (("bob", 4),), 5, "!")  # doc at bob:4 is "Zc" + ... = 4 chars
    _rejects(d, InvalidOpError, d.add_ops, good + [bad])
    d.add_ops(good)
    assert d.text == "YZbcdefgh"
    assert_consistent(d)


def test_rejected_batch_keeps_document_usable():
    d = _doc()
    for _ in range(3):
        with pytest.raises(InvalidOpError):
            d.add_ops([Op.insert("bob", 0, d.version, 1, "ab"), Op.insert("bob", 2, (("bob", 1),), 99, "x")])
    d.insert(0, ">")
    e = Document("bob")
    e.merge(d)
    e.insert(0, "b")
    d.merge(e)
    assert d.text == e.text == "b>hello"
    assert d.ops_since(()) == e.ops_since(())
    assert_consistent(d)


def test_remote_op_with_lone_surrogate_content_is_rejected():
    # Document.insert rejects lone surrogates (not valid Unicode, cannot be encoded
    # as UTF-8); an Op from a peer carrying one must be rejected too, either by the
    # Op constructor or by add_ops, leaving the document unchanged.
    d = _doc()
    before = snapshot(d)
    with pytest.raises(InvalidOpError):
        d.add_ops([Op.insert("bob", 0, d.version, 0, "\ud800")])
    assert snapshot(d) == before
    d.text.encode("utf-8")


# -- versions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version",
    [
        (("alice", 5),),
        (("bob", 0),),
        (("alice", -1),),
        (("alice", 1.0),),
        (("alice",),),
        ("alice",),
        ((0, 0),),
        (("alice", 0), ("carol", 1)),
    ],
)
def test_unknown_version(version):
    d = _doc()
    _rejects(d, UnknownVersionError, d.ops_since, version)
    _rejects(d, UnknownVersionError, d.text_at, version)


def test_error_hierarchy_is_catchable_as_builtin_types():
    assert issubclass(InvalidOpError, ValueError)
    assert issubclass(ConflictingOpError, ValueError)
    assert issubclass(UnknownParentError, KeyError)
    assert issubclass(UnknownVersionError, KeyError)
    assert str(UnknownParentError("msg")) == "msg"


# -- delivery, forks, copies ----------------------------------------------------------


def test_idempotent_delivery():
    a = Document("alice")
    a.insert(0, "hello")
    b = Document("bob")
    ops = a.ops_since(())
    b.add_ops(ops)
    before = (b.text, b.version, len(b.oplog))
    assert b.add_ops(ops) == []
    assert b.add_ops(ops + ops) == []
    assert (b.text, b.version, len(b.oplog)) == before
    # partly known run: only the tail is new
    a.insert(5, " world")
    all_ops = a.ops_since(())
    b.add_ops(all_ops)
    b.add_ops(all_ops)
    assert b.text == a.text == "hello world"
    assert len(b.oplog) == len(a.oplog) == 11
    b.merge(a)
    assert b.text == "hello world"


def test_duplicate_delivery_of_concurrent_ops():
    a = Document("alice")
    a.insert(0, "xy")
    b = a.fork("bob")
    a.insert(1, "A")
    b.insert(1, "B")
    ops_b = b.ops_since(b.version[:0] + (("alice", 1),))
    assert [op.agent for op in ops_b] == ["bob"]
    a.add_ops(ops_b)
    t = a.text
    a.add_ops(ops_b)
    a.add_ops(b.ops_since(()))
    assert a.text == t == "xABy"


def test_text_at_old_versions():
    d = Document("alice")
    versions = [(d.version, d.text)]
    for word in ["one", " two", " three"]:
        d.insert(len(d), word)
        versions.append((d.version, d.text))
    d.delete(0, 4)
    versions.append((d.version, d.text))
    e = d.fork("bob")
    e.insert(0, "B")
    d.insert(len(d), "!")
    concurrent_d = d.version
    d.merge(e)
    versions.append((d.version, d.text))
    for v, t in versions:
        assert d.text_at(v) == t
    assert d.text_at(()) == ""
    assert d.text_at(concurrent_d) == "two three!"
    assert d.text_at(e.version) == "Btwo three"
    # a version that is not a head: the middle of a run
    assert d.text_at((("alice", 1),)) == "on"


def test_fork_independence():
    a = Document("alice")
    a.insert(0, "base")
    b = a.fork("bob")
    assert b.agent == "bob"
    assert b.text == "base" and b.version == a.version
    b.insert(4, "B")
    assert a.text == "base"
    a.delete(0, 1)
    assert b.text == "baseB"
    assert len(a.oplog) == 5 and len(b.oplog) == 5
    c = b.fork("carol")
    c.insert(0, "C")
    assert b.text == "baseB"
    assert a.text == "ase"
    sync_all([a, b, c])
    assert a.text == b.text == c.text == "Case" + "B"


def test_fork_refuses_its_own_agent():
    a = Document("alice")
    with pytest.raises(InvalidOpError):
        a.fork("alice")


def test_same_agent_on_two_replicas_is_detected_by_add_ops():
    # a copy keeps the agent and continues the same seq numbers; if both copies
    # edit, they produce conflicting (agent, seq) ids, which add_ops rejects
    a = Document("alice")
    a.insert(0, "x")
    b = a.copy()
    a.insert(1, "A")
    b.insert(1, "B")
    with pytest.raises(ConflictingOpError):
        a.add_ops(b.ops_since(()))
    assert a.text == "xA"


# -- a bug inside a merge propagates as itself ------------------------------------------
#
# A CowriteError always means "bad input"; anything else escaping the engine is a
# bug and must not be relabelled.  Either way add_ops is all-or-nothing: the op log
# is rolled back, the merge cache dropped, and the next valid merge is exact.


class Bug(RuntimeError):
    """Stands for a bug somewhere inside a merge (not a CowriteError)."""


def full_state(doc: Document) -> tuple[object, ...]:
    """Everything observable about a replica, its character ids included."""
    ids = doc._ids
    return (
        *snapshot(doc),
        doc.summary(),
        doc.branch.version,
        doc.oplog.heads,
        None if ids is None else list(ids.runs()),
        list(doc.oplog.time_starts),
        list(doc.oplog.time_values),
    )


def _replicas() -> tuple[Document, Document, Document]:
    """alice (with character ids) and bob typed concurrently; carol is up to date with alice."""
    a = Document("alice", clock=lambda: 1_700_000_000)
    a.insert(0, "hello world")
    b = a.fork("bob")
    c = a.fork("carol")
    a.position(0)  # alice keeps character ids in step from now on
    a.insert(5, ",")
    a.delete(0, 1)
    c.merge(a)
    b.insert(11, "!")
    b.delete(0, 6)
    return a, b, c


def _deliveries(a: Document, b: Document, c: Document) -> dict[str, Callable[[], object]]:
    """Ways to hand alice valid ops: concurrent ones (a merge walk) and sequential ones
    (the direct path), as Op lists (in and out of causal order) and as a patch."""
    c.merge(a)
    c.insert(len(c), " (carol)")
    c.delete(0, 2)
    seq_ops = c.ops_since(a.version)
    # bob's concurrent edits, then (having merged alice) more typing: a stretch the
    # walk applies directly, after the critical version bob's merge makes
    b.merge(a)
    b.insert(0, "[")
    e = b.fork("eve")
    e.insert(1, "eve ")
    e.delete(len(e) - 1, 1)
    b.merge(e)
    con_ops = b.ops_since(())
    patch = b.encode_patch()
    return {
        "concurrent": lambda: a.add_ops(con_ops),
        "concurrent, reversed": lambda: a.add_ops(list(reversed(con_ops))),
        "concurrent patch": lambda: a.apply_patch(patch),
        "sequential": lambda: a.add_ops(seq_ops),
        "sequential patch": lambda: a.apply_patch(c.encode_patch(a.version)),
    }


def _raise_bug(*_args: object, **_kw: object) -> object:
    raise Bug("a bug inside the merge")


def _fail_on_call(real: Callable[..., object], n: int) -> Callable[..., object]:
    """``real``, except that its ``n``-th call raises :class:`Bug`."""
    calls = [0]

    def wrapper(*args: object, **kw: object) -> object:
        calls[0] += 1
        if calls[0] == n:
            raise Bug(f"a bug on call {n}")
        return real(*args, **kw)

    return wrapper


BUGS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "merge_ops": lambda mp: mp.setattr(document_mod, "merge_ops", _raise_bug),
    "direct_edits": lambda mp: mp.setattr(document_mod, "direct_edits", _raise_bug),
    "add_remote, 2nd op": lambda mp: mp.setattr(
        oplog_mod.OpLog, "add_remote", _fail_on_call(oplog_mod.OpLog.add_remote, 2)
    ),
    "walk insert, 2nd": lambda mp: mp.setattr(walk_mod.Walk, "insert", _fail_on_call(walk_mod.Walk.insert, 2)),
    "walk delete": lambda mp: mp.setattr(walk_mod.Walk, "delete", _fail_on_call(walk_mod.Walk.delete, 1)),
    "walk direct stretch": lambda mp: mp.setattr(walk_mod, "direct", _raise_bug),
}


@pytest.mark.parametrize(
    "delivery", ["concurrent", "concurrent, reversed", "concurrent patch", "sequential", "sequential patch"]
)
@pytest.mark.parametrize("bug", list(BUGS))
def test_a_bug_inside_a_merge_propagates_as_itself_and_changes_nothing(
    bug: str, delivery: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = _replicas()
    # an earlier concurrent merge leaves a cached walk behind, which the failure must drop
    d = a.fork("dora")
    d.insert(0, "D")
    a.insert(len(a), "A")
    a.merge(d)
    deliver = _deliveries(a, b, c)[delivery]
    before = full_state(a)
    with monkeypatch.context() as mp:
        BUGS[bug](mp)
        try:
            deliver()
        except Bug as exc:
            assert type(exc) is Bug and not isinstance(exc, CowriteError)
        else:  # this delivery does not reach the patched function (e.g. a walk that never deletes)
            assert (bug, delivery) in NOT_REACHED, f"{bug} was not reached by {delivery}"
            return
        assert full_state(a) == before
        assert a._merge_cache.walk is None
    # the same ops now merge, exactly
    deliver()
    for other in (b, c, d):
        a.merge(other)
    assert_consistent(a)
    for other in (b, c, d):
        other.merge(a)
        assert other.text == a.text
    fresh = Document.decode(a.encode())  # ids built from scratch
    assert [a.id_map().lv_at(i) for i in range(len(a))] == [fresh.id_map().lv_at(i) for i in range(len(a))]


# (bug, delivery) pairs where the patched function is legitimately not called
NOT_REACHED = {
    ("merge_ops", "sequential"),
    ("merge_ops", "sequential patch"),
    ("direct_edits", "concurrent"),
    ("direct_edits", "concurrent, reversed"),
    ("direct_edits", "concurrent patch"),
    ("walk insert, 2nd", "sequential"),
    ("walk insert, 2nd", "sequential patch"),
    ("walk delete", "sequential"),
    ("walk delete", "sequential patch"),
    ("walk direct stretch", "sequential"),
    ("walk direct stretch", "sequential patch"),
}


def test_a_bug_is_not_relabelled_when_bad_input_comes_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug raised while merging valid ops is the error seen, never an InvalidOpError."""
    a, b, _ = _replicas()
    before = full_state(a)
    monkeypatch.setattr(document_mod, "merge_ops", _raise_bug)
    with pytest.raises(Bug):
        a.add_ops(b.ops_since(()))
    assert full_state(a) == before
    monkeypatch.undo()
    a.add_ops(b.ops_since(()))
    assert a.text == reference_text(a.oplog)


# -- reserve_seqs ------------------------------------------------------------------------


def _seqs(doc: Document) -> list[int]:
    return [op.seq + i for op in doc.ops_since(()) if op.agent == doc.agent for i in range(op.span)]


def test_reserve_seqs_local_ops_get_seqs_from_the_floor_on() -> None:
    d = Document("alice", clock=lambda: 0)
    d.reserve_seqs(0)
    d.insert(0, "ab")
    assert _seqs(d) == [0, 1]
    d.reserve_seqs(10)
    d.insert(2, "cd")
    d.delete(0, 1)
    assert _seqs(d) == [0, 1, 10, 11, 12]
    d.reserve_seqs(5)  # below what is used already: no effect
    d.reserve_seqs(12)
    d.insert(0, "e")
    assert _seqs(d)[-1] == 13
    assert d.text == "ebcd"
    # the gap is fine for peers, the wire and the file format
    peer = Document("peer")
    peer.apply_patch(d.encode_patch())
    assert peer.text == d.text and peer.summary() == d.summary() == {"alice": [(0, 2), (10, 14)]}
    again = Document.decode(d.encode(), "alice")
    assert again.summary() == d.summary() and again.text == d.text
    again.insert(0, ">")
    assert _seqs(again)[-1] == 14
    # a floor never goes down, even before any edit uses it
    e = Document("erin")
    e.reserve_seqs(100)
    e.reserve_seqs(5)
    e.insert(0, "x")
    assert _seqs(e) == [100]


def test_reserve_seqs_on_a_replacement_replica_avoids_clashing_ids() -> None:
    """The documented use: a fresh copy of the server's document replaces a replica
    whose last ops never reached the server."""
    old = Document("alice")
    old.insert(0, "sent")
    server = Document("server")
    server.merge(old)
    old.insert(4, " lost")  # seqs 4..8 never reach the server
    fresh = Document.decode(server.encode(), "alice")
    fresh.reserve_seqs(9)
    fresh.insert(4, "!")
    assert _seqs(fresh) == [0, 1, 2, 3, 9]
    server.merge(fresh)
    server.merge(old)  # the lost ops turn up after all: no clash, both kept
    assert sorted(server.text) == sorted("sent lost!")


def test_a_copy_keeps_the_seq_floor_and_a_fork_does_not_need_it() -> None:
    d = Document("alice")
    d.reserve_seqs(100)
    c = d.copy()
    c.insert(0, "x")
    assert _seqs(c) == [100]
    d.insert(0, "y")
    assert _seqs(d) == [100]  # the same id: which is why a copy must never be edited alongside
    f = d.fork("fred")
    f.insert(0, "z")
    assert _seqs(f) == [0]  # another agent: its own seqs


@pytest.mark.parametrize("bad", [-1, 1.0, 2.5, "3", None, True, False, [4]])
def test_reserve_seqs_refuses_bad_values(bad: object) -> None:
    d = Document("alice")
    d.insert(0, "ab")
    d.reserve_seqs(5)
    before = snapshot(d)
    with pytest.raises(InvalidOpError) as info:
        d.reserve_seqs(bad)  # type: ignore[arg-type]
    assert type(info.value) is InvalidOpError
    assert snapshot(d) == before
    d.insert(0, "c")
    assert _seqs(d) == [0, 1, 5]  # the floor is unchanged


@pytest.mark.parametrize("floor, text", [(MAX_SEQ - 1, "xy"), (MAX_SEQ, "x"), (2**60, "x")])
def test_reserve_seqs_never_makes_an_unsendable_document(floor: int, text: str) -> None:
    d = Document("alice")
    try:
        d.reserve_seqs(floor)
        d.insert(0, text)
    except InvalidOpError:
        return  # refusing either call would be fine
    d.ops_since(())  # raises today
    Document.decode(d.encode())


# -- observe_local -------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def on_insert(self, lv: int, pos: int, n: int) -> None:
        self.calls.append(("ins", lv, pos, n))

    def on_delete(
        self, lv: int, parents: tuple[int, ...], pos: int, text: str, ids: list[tuple[int, int]], left: int, right: int
    ) -> None:
        self.calls.append(("del", lv, parents, pos, text, ids, left, right))


def test_observe_local_one_observer_at_a_time() -> None:
    d = Document("alice")
    d.insert(0, "hello")
    r1, r2 = Recorder(), Recorder()
    assert d.local_observer is None
    d.observe_local(r1)
    assert d.local_observer is r1
    d.observe_local(r1)  # the same observer again is fine
    with pytest.raises(CowriteError) as info:
        d.observe_local(r2)
    assert type(info.value) is CowriteError
    assert d.local_observer is r1
    d.observe_local(None)
    assert d.local_observer is None
    d.observe_local(r2)
    assert d.local_observer is r2


def test_observe_local_sees_local_edits_only_with_their_ids() -> None:
    d = Document("alice")
    d.insert(0, "hello")
    r = Recorder()
    d.observe_local(r)
    assert d._ids is not None  # built first: a delete is reported with the ids it removed
    d.insert(5, "!")  # LV 5
    d.delete(0, 2)  # LVs 6, 7 delete "he" (LVs 0, 1); "l" (LV 2) is now first
    d.replace(1, 1, "L")  # LV 8 deletes "l" (LV 3); LV 9 types "L"
    e = d.fork("eve")
    e.insert(0, "E")
    e.delete(3, 1)
    d.merge(e)  # merged edits are not local: not reported
    assert r.calls == [
        ("ins", 5, 5, 1),
        ("del", 6, (5,), 0, "he", [(0, 2)], -1, 2),
        ("del", 8, (7,), 1, "l", [(3, 1)], 2, 4),
        ("ins", 9, 1, 1),
    ]
    d.observe_local(None)
    d.insert(0, "x")
    assert len(r.calls) == 4


# -- findings: rejected input must leave no trace -------------------------------------------


def test_a_rejected_op_from_a_new_agent_leaves_no_trace() -> None:
    d = Document("alice", clock=lambda: 0)
    d.insert(0, "hello")
    before = d.encode()
    with pytest.raises(InvalidOpError):
        d.add_ops([Op.insert("mallory", 0, d.version, 99, "x")])
    assert d.oplog.cg.agents == ["alice"]
    assert d.encode() == before


def test_a_redelivered_run_with_other_parents_inside_it_is_a_conflict() -> None:
    b = Document("bob")
    c = Document("carol")
    b.insert(0, "abc")
    c.insert(0, "X")
    b.merge(c)
    b.insert(3, "d")  # bob:3 is made on (bob:2, carol:0): "abcdX"
    r = Document("r")
    r.merge(b)
    before = snapshot(r)
    forged = Op.insert("bob", 0, (), 0, "abcd")  # claims bob:3 was made on bob:2 alone
    with pytest.raises(ConflictingOpError):
        r.add_ops([forged])
    assert snapshot(r) == before


def test_a_rejected_batch_leaves_the_encoding_as_it_was() -> None:
    d = Document("alice", clock=lambda: 0)
    d.insert(0, "abcdefgh")
    e = d.fork("eve")
    e.insert(0, "e")
    d.merge(e)  # eve is a known agent: this is not the new-agent case above
    d.delete(8, 1)  # a one-op DEL_FWD run
    before = d.encode()
    v = d.version
    with pytest.raises(InvalidOpError):
        d.add_ops([Op.delete("eve", 1, v, 7, 1), Op.insert("eve", 2, (("eve", 1),), 99, "x")])
    assert d.encode() == before
