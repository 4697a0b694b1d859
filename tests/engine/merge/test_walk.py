"""The walk (``merge/walk.py``): replaying ops into the temporary CRDT and emitting the
new ones as edits of the branch text -- the README's worked example, the Fugue order of
concurrent inserts, double deletes, length checks at each op's parents, and the
direct (no concurrency) stretch."""

from __future__ import annotations

import pytest

from cowrite.engine import InvalidOpError
from cowrite.engine.branch import checkout
from cowrite.engine.merge import merge_ops
from cowrite.engine.merge.walk import direct
from cowrite.engine.oplog import DEL_FWD, INS, OpLog
from cowrite.engine.reference import reference_text


def readme_log() -> OpLog:
    """``"ab"`` (LVs 0, 1); alice inserts X at 1 (LV 2); concurrently bob deletes 0 (LV 3)."""
    ol = OpLog()
    ol.add_insert("alice", 0, "ab")
    ol.add_insert("alice", 1, "X", (1,))
    ol.add_delete("bob", 0, 1, (1,))
    return ol


def test_the_readme_example() -> None:
    ol = readme_log()
    # alice's replica ("aXb" at {2}) merges bob's delete: it becomes "delete 0"
    assert merge_ops(ol, 3, (2,), (3,)) == ([(DEL_FWD, 0, 1)], (2, 3))
    # bob's replica ("b" at {3}) merges alice's insert: X lands before "b"
    assert merge_ops(ol, 1, (3,), (2,)) == ([(INS, 0, "X")], (2, 3))
    assert str(checkout(ol).text) == "Xb" == reference_text(ol)


def fugue_log(first: str, second: str, backwards: bool = False) -> OpLog:
    ol = OpLog()
    ol.add_insert("base", 0, "Hello world")
    for agent, text in ((first, "A1"), (second, "B1")):
        parents: tuple[int, ...] = (10,)
        if backwards:
            for ch in reversed(text):
                lv = ol.add_insert(agent, 5, ch, parents)
                parents = (lv,)
        else:
            ol.add_insert(agent, 5, text, parents)
    return ol


@pytest.mark.parametrize("backwards", [False, True])
def test_concurrent_runs_at_one_place_are_ordered_by_agent_and_never_interleave(backwards: bool) -> None:
    for first, second, want in (("alice", "bob", "HelloA1B1 world"), ("zed", "amy", "HelloB1A1 world")):
        ol = fugue_log(first, second, backwards)
        assert str(checkout(ol).text) == want == reference_text(ol)
        # a replica with the first run merging the second gets the same text
        branch = checkout(ol, (12,))
        edits, version = merge_ops(ol, len(branch), (12,), (14,))
        assert version == (12, 14)
        text = str(branch)
        for kind, pos, arg in edits:
            assert kind == INS
            text = text[:pos] + str(arg) + text[pos:]
        assert text == want


def test_a_concurrent_double_delete_is_emitted_once() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abc")
    ol.add_delete("a", 1, 1, (2,))  # LV 3: a deletes "b"
    ol.add_delete("b", 1, 1, (2,))  # LV 4: b deletes "b" too, concurrently
    assert merge_ops(ol, 2, (3,), (4,)) == ([], (3, 4))
    ol.add_insert("c", 2, "!", (2,))  # LV 5: c typed after "b", concurrently with both
    edits, version = merge_ops(ol, 2, (3, 4), (5,))
    assert edits == [(INS, 1, "!")] and version == (3, 4, 5)
    assert str(checkout(ol).text) == "a!c" == reference_text(ol)


def test_each_new_op_is_checked_at_its_own_parents() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abc")
    ol.add_insert("a", 3, "defgh", (2,))  # the branch has 8 characters now
    ol.add_insert("b", 4, "X", (2,))  # but at its parents there were 3
    with pytest.raises(InvalidOpError, match="insert at 4 past the end of a 3-character document"):
        merge_ops(ol, 8, (7,), (8,))
    ol2 = OpLog()
    ol2.add_insert("a", 0, "abc")
    ol2.add_insert("a", 3, "defgh", (2,))
    ol2.add_delete("b", 2, 2, (2,))
    with pytest.raises(InvalidOpError, match="delete of 2 at 2 past the end of a 3-character document"):
        merge_ops(ol2, 8, (7,), (9,))


def test_direct_applies_ops_that_follow_one_another() -> None:
    ol = OpLog()
    ol.add_insert("a", 2, "xyz", ())
    ol.add_delete("a", 0, 2)
    ol.add_delete("a", 2, 2, fwd=False)  # Backspace deleting 3, 2
    out: list[tuple[int, int, object]] = []
    lvs: list[int] = []
    seen: list[tuple[int, int, int, int]] = []
    assert direct(ol, 4, 0, len(ol), out, lvs, lambda *a: seen.append(a)) == 3  # 4 + 3 - 2 - 2
    assert out == [(INS, 2, "xyz"), (DEL_FWD, 0, 2), (DEL_FWD, 2, 2)]
    assert lvs == [0]
    assert [s[:2] for s in seen] == [(INS, 0), (DEL_FWD, 3), (2, 5)]
    with pytest.raises(InvalidOpError, match="insert at 2 past the end of a 1-character document"):
        direct(ol, 1, 0, len(ol), [], None)
    with pytest.raises(InvalidOpError, match="delete of 2 at 0 past the end of a 1-character document"):
        direct(ol, 1, 3, 5, [], None)


def test_a_walk_with_a_direct_stretch_after_a_critical_version() -> None:
    """Concurrency, a merge op everyone builds on, then plain typing: the typing after
    the critical version is emitted as it is (and still checked)."""
    ol = OpLog()
    ol.add_insert("a", 0, "ab")  # 0, 1
    ol.add_insert("a", 2, "c", (1,))  # 2
    ol.add_insert("b", 0, "X", (1,))  # 3: concurrent with 2
    ol.add_insert("b", 4, "!", (2, 3))  # 4: on both: a critical version
    ol.add_insert("c", 5, "??", (4,))  # 5, 6: plain typing on top
    edits, version = merge_ops(ol, 3, (2,), (6,))
    assert edits == [(INS, 0, "X"), (INS, 4, "!"), (INS, 5, "??")]
    assert version == (6,)
    ol.add_insert("d", 9, "#", (6,))  # past the end of its 7-character parent: refused
    with pytest.raises(InvalidOpError):
        merge_ops(ol, 3, (2,), (7,))
