"""Branches (``branch.py``): a text at a version, moved forward by merging; ``checkout``
makes one at any version of an op log."""

from __future__ import annotations

import pytest

from cowrite.engine import Branch, InvalidOpError, checkout
from cowrite.engine.oplog import DEL_FWD, INS, OpLog
from cowrite.engine.reference import reference_text


def log() -> OpLog:
    ol = OpLog()
    ol.add_insert("a", 0, "hello")  # 0..4
    ol.add_insert("b", 0, "B", (4,))  # 5
    ol.add_delete("a", 0, 1, (4,))  # 6: concurrent with b's insert
    return ol


def test_checkout_at_every_version() -> None:
    ol = log()
    assert str(checkout(ol, ())) == "" and checkout(ol, ()).version == ()
    assert str(checkout(ol, (2,))) == "hel"
    assert str(checkout(ol, (5,))) == "Bhello"
    assert str(checkout(ol, (6,))) == "ello"
    b = checkout(ol)
    assert str(b) == "Bello" == reference_text(ol) and b.version == (5, 6) and len(b) == 5


def test_merge_moves_a_branch_forward_and_returns_the_edits() -> None:
    ol = log()
    b = checkout(ol, (5,))
    assert b.merge(ol, (6,)) == [(DEL_FWD, 1, 1)]
    assert (str(b), b.version) == ("Bello", (5, 6))
    assert b.merge(ol) == []  # nothing new
    ol.add_insert("c", 5, "!", (5, 6))
    assert b.merge(ol) == [(INS, 5, "!")] and str(b) == "Bello!"


def test_a_copy_is_independent() -> None:
    ol = log()
    b = checkout(ol, (4,))
    c = b.copy()
    b.merge(ol)
    assert (str(c), c.version) == ("hello", (4,))
    c.merge(ol, (5,))
    assert str(b) == "Bello" and str(c) == "Bhello"


def test_a_bad_op_changes_nothing() -> None:
    ol = log()
    ol.add_insert("c", 9, "x", (4,))  # LV 7: past the end of "hello"
    b = checkout(ol, (5, 6))
    with pytest.raises(InvalidOpError):
        b.merge(ol)
    assert (str(b), b.version) == ("Bello", (5, 6))
    with pytest.raises(InvalidOpError):
        checkout(ol)


def test_a_branch_from_text() -> None:
    b = Branch("abc", (2,))
    assert (str(b), b.version, len(b)) == ("abc", (2,), 3)
