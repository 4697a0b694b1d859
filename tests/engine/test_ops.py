"""Ops as plain data (``ops.py``): constructors, fields, and the structural checks
every op passes before any document sees it."""

from __future__ import annotations

import pytest

from cowrite.engine import InvalidOpError, Op
from cowrite.engine.limits import MAX_AGENT_LEN, MAX_SEQ, MAX_TIME
from cowrite.engine.ops import check_time, check_unicode

T0 = 1_700_000_000


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


# -- times -----------------------------------------------------------------------------


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


# -- bounds: the last valid value is accepted, the next refused ------------------------


def test_seq_bound_counts_the_whole_run() -> None:
    assert Op.insert("a", MAX_SEQ - 3, (), 0, "xyz").span == 3  # seqs up to 2**53 - 1
    with pytest.raises(InvalidOpError, match="seq out of range"):
        Op.insert("a", MAX_SEQ - 2, (), 0, "xyz")
    assert Op.delete("a", MAX_SEQ - 5, (), 0, 5).span == 5
    with pytest.raises(InvalidOpError, match="seq out of range"):
        Op.delete("a", MAX_SEQ - 4, (), 0, 5)


def test_agent_length_is_counted_in_code_points() -> None:
    assert Op.insert("é" * MAX_AGENT_LEN, 0, (), 0, "x").agent == "é" * MAX_AGENT_LEN
    assert Op.insert("👋" * MAX_AGENT_LEN, 0, (), 0, "x").span == 1  # 1024 UTF-8 bytes is fine
    with pytest.raises(InvalidOpError, match="agent"):
        Op.insert("👋" * (MAX_AGENT_LEN + 1), 0, (), 0, "x")


@pytest.mark.parametrize("field", ["agent", "content"])
def test_lone_surrogates_are_refused(field: str) -> None:
    kwargs = {"agent": "a", "content": "x"}
    kwargs[field] = "ok\ud800"
    with pytest.raises(InvalidOpError, match="surrogate"):
        Op.insert(kwargs["agent"], 0, (), 0, kwargs["content"])
    # a well-formed pair (an astral character) is fine
    kwargs[field] = "ok\U0001f44b"
    assert Op.insert(kwargs["agent"], 0, (), 0, kwargs["content"]).kind == "ins"


def test_check_helpers() -> None:
    assert check_time(0) == 0 and check_time(MAX_TIME - 1) == MAX_TIME - 1
    for bad in (-1, MAX_TIME, 1.0, True, None):
        with pytest.raises(InvalidOpError):
            check_time(bad)
    check_unicode("x", "plain ascii")
    check_unicode("x", "日本語 👋")
    with pytest.raises(InvalidOpError, match="label"):
        check_unicode("label", "\udfff")


def test_span_and_constructors() -> None:
    ins = Op.insert("a", 4, [("b", 1)], 2, "héllo")  # type: ignore[arg-type]
    assert (ins.span, ins.length, ins.fwd, ins.parents) == (5, 5, True, (("b", 1),))  # parents made a tuple
    back = Op.delete("a", 0, (), 3, 4, fwd=False)
    assert (back.span, back.content, back.fwd) == (4, "", False)
    assert Op.insert("a", 0, (), 0, "x") == Op("a", 0, (), "ins", 0, "x", 1, True, 0)
    with pytest.raises(AttributeError):
        ins.seq = 5  # type: ignore[misc]  # frozen: ops are values
