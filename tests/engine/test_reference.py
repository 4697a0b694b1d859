"""The reference merge (``reference.py``), the yardstick of the fast one: a few cases
with known answers, so that the oracle itself is pinned down."""

from __future__ import annotations

from cowrite.engine.oplog import OpLog
from cowrite.engine.reference import expand_ops, reference_items, reference_text


def test_expand_ops_one_entry_per_op() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "abcd")
    ol.add_delete("a", 1, 2)  # Delete key: both at 1
    for p in (1, 0):  # Backspace
        ol.add_delete("a", p, 1)
    assert expand_ops(ol) == [
        ("ins", 0, "a"), ("ins", 1, "b"), ("ins", 2, "c"), ("ins", 3, "d"),
        ("del", 1, ""), ("del", 1, ""),
        ("del", 1, ""), ("del", 0, ""),
    ]
    assert reference_text(ol) == ""
    assert expand_ops(OpLog()) == []


def test_items_keep_tombstones_in_fugue_order() -> None:
    ol = OpLog()
    ol.add_insert("base", 0, "ac")  # 0, 1
    ol.add_insert("bob", 1, "B", (1,))  # 2: between a and c
    ol.add_insert("amy", 1, "A", (1,))  # 3: concurrently, at the same place: amy < bob
    ol.add_delete("amy", 2, 1, (3,))  # 4: amy deletes c
    ol.add_delete("bob", 2, 1, (2,))  # 5: bob deletes c too, concurrently
    items = reference_items(ol)
    assert [(lv, ch) for lv, ch, _ in items] == [(0, "a"), (3, "A"), (2, "B"), (1, "c")]
    assert dict((lv, sorted(d)) for lv, _, d in items)[1] == [4, 5]  # both deletes are counted
    assert reference_text(ol) == "aAB"


def test_backwards_typing_is_not_interleaved() -> None:
    ol = OpLog()
    for agent, word in (("x", "12"), ("y", "ab")):
        parents: tuple[int, ...] = ()
        for ch in reversed(word):
            lv = ol.add_insert(agent, 0, ch, parents)
            parents = (lv,)
    assert reference_text(ol) == "12ab"
