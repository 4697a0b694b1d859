"""Bad input raises exactly the documented error and leaves the document unchanged."""

from __future__ import annotations

import pytest

from cowrite.engine import (
    ConflictingOpError,
    CowriteError,
    Document,
    InvalidOpError,
    Op,
    UnknownParentError,
    UnknownVersionError,
)
from engine_helpers import assert_consistent, snapshot


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


# -- malformed Op fields --------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(agent="", seq=0, parents=(), kind="ins", pos=0, content="x", length=1),
        dict(agent="a" * 257, seq=0, parents=(), kind="ins", pos=0, content="x", length=1),
        dict(agent=None, seq=0, parents=(), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=-1, parents=(), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=1.0, parents=(), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=True, parents=(), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=2**53, parents=(), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=0, parents=(), kind="ins", pos=-1, content="x", length=1),
        dict(agent="a", seq=0, parents=(), kind="ins", pos="0", content="x", length=1),
        dict(agent="a", seq=0, parents=[], kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=0, parents=(("b",),), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=0, parents=(("b", -1),), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=0, parents=((1, 0),), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=0, parents=(["b", 0],), kind="ins", pos=0, content="x", length=1),
        dict(agent="a", seq=0, parents=(), kind="ins", pos=0, content="", length=0),
        dict(agent="a", seq=0, parents=(), kind="ins", pos=0, content="xy", length=1),
        dict(agent="a", seq=0, parents=(), kind="ins", pos=0, content="x", length=1, fwd=False),
        dict(agent="a", seq=0, parents=(), kind="ins", pos=0, content=b"x", length=1),
        dict(agent="a", seq=0, parents=(), kind="del", pos=0, length=0),
        dict(agent="a", seq=0, parents=(), kind="del", pos=0, length=-2),
        dict(agent="a", seq=0, parents=(), kind="del", pos=0, length=1.0),
        dict(agent="a", seq=0, parents=(), kind="del", pos=0, content="x", length=1),
        dict(agent="a", seq=0, parents=(), kind="move", pos=0, length=1),
    ],
)
def test_malformed_op_fields(kwargs):
    with pytest.raises(InvalidOpError):
        Op(**kwargs)


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
