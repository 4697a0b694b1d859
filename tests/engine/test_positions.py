"""Named examples for stable positions (engine/positions.py, Document.position/resolve)."""

from __future__ import annotations

import pytest

from cowrite.engine import DecodeError, Document, InvalidOpError, Position, UnknownVersionError
from engine_helpers import sync, sync_all


def two() -> tuple[Document, Document]:
    a = Document("alice")
    a.insert(0, "The quick brown fox")
    b = a.fork("bob")
    return a, b


def test_cursor_follows_its_character_through_edits_before_it():
    a, b = two()
    p = a.position(a.text.index("brown"))
    b.insert(0, ">> ")
    b.delete(b.text.index("quick"), 6)
    sync(a, b)
    assert a.text == ">> The brown fox"
    assert a.resolve(p) == b.resolve(p) == a.text.index("brown")


def test_assoc_decides_which_side_text_typed_at_the_gap_lands():
    a, b = two()
    gap = a.text.index(" fox")
    right = a.position(gap, assoc=1)  # tied to " " after "brown"
    left = a.position(gap, assoc=-1)  # tied to "n" of "brown"
    b.insert(gap, "ish")
    sync(a, b)
    assert a.text == "The quick brownish fox"
    assert a.resolve(left) == gap  # stays after "brown", before "ish"
    assert a.resolve(right) == gap + 3  # stays before " fox"


def test_document_edges():
    a, b = two()
    start = a.position(0, assoc=-1)
    end = a.position(len(a.text), assoc=1)
    assert start == Position(None, 0, -1) and end == Position(None, 0, 1)
    b.insert(0, "<")
    b.insert(len(b.text), ">")
    sync(a, b)
    assert a.resolve(start) == 0 and a.resolve(end) == len(a.text)
    # assoc=1 at index 0 is the first character, not the edge
    assert a.position(0, assoc=1).agent == "bob"


def test_position_on_a_deleted_character_stays_between_its_neighbours_on_every_replica():
    a, b = two()
    c = a.fork("cy")
    p = a.position(a.text.index("quick") + 2)  # on "i"
    b.delete(a.text.index("quick"), 6)  # bob deletes "quick "
    c.insert(a.text.index("quick"), "very ")  # cy types before it, concurrently
    a.insert(len(a.text), "!")
    sync_all([a, b, c])
    assert a.text == "The very brown fox!"
    where = {d.resolve(p) for d in (a, b, c)}
    assert where == {len("The very ")}


def test_tombstone_position_with_concurrent_insert_at_the_same_gap():
    a, b = two()
    i = a.text.index("brown")
    p = a.position(i)  # on "b"
    a.delete(i, 5)  # alice deletes "brown"
    b.insert(i, "red")  # bob types before "brown" concurrently
    sync(a, b)
    assert a.text == "The quick red fox"
    # bob's "red" went before "brown", so the tombstone lies after it
    assert a.resolve(p) == b.resolve(p) == i + 3


def test_resolve_at_a_past_version():
    a, b = two()
    p = a.position(4)  # "q"
    v0 = a.version
    b.insert(0, "Oh. ")
    sync(a, b)
    v1 = a.version
    a.delete(0, 8)
    assert a.resolve(p, v0) == 4
    assert a.resolve(p, v1) == 8
    assert a.resolve(p) == 0 == a.text.index("quick")


def test_position_of_a_character_the_replica_does_not_have_yet():
    a, b = two()
    b.insert(0, "new ")
    p = b.position(1)
    with pytest.raises(UnknownVersionError):
        a.resolve(p)
    sync(a, b)
    assert a.resolve(p) == 1
    with pytest.raises(UnknownVersionError):
        a.resolve(p, version=a.changes()[0].version)  # before bob typed it


def test_positions_on_emoji_count_code_points():
    a = Document("alice")
    a.insert(0, "a👩‍🚀b")
    b = a.fork("bob")
    p = a.position(a.text.index("b"))
    b.insert(0, "🎉🎉")
    sync(a, b)
    assert a.resolve(p) == a.text.index("b") == 6


def test_wire_forms_round_trip_and_reject_garbage():
    p = Position("älice", 12345, -1)
    assert Position.decode(p.encode()) == p
    assert Position.from_json(p.to_json()) == p
    edge = Position(None, 0, 1)
    assert Position.decode(edge.encode()) == edge
    for bad in [b"", b"CWC", b"XYZ\x01\x00", b"CWC\x05\x00", b"CWC\x01\xff", b"CWC\x01\x00\xff\xfe"]:
        with pytest.raises(DecodeError):
            Position.decode(bad)
    for bad in [None, [], {"agent": "a"}, {"agent": "a", "seq": -1, "assoc": 1}, {"agent": 3, "seq": 0, "assoc": 1}]:
        with pytest.raises(DecodeError):
            Position.from_json(bad)


def test_bad_arguments_are_clear_errors():
    a, _ = two()
    for index in (-1, len(a.text) + 1, "3", 1.0):
        with pytest.raises(InvalidOpError):
            a.position(index)  # type: ignore[arg-type]
    with pytest.raises(InvalidOpError):
        a.position(0, assoc=0)
    with pytest.raises(InvalidOpError):
        Position("a", 0, 2)
    with pytest.raises(InvalidOpError):
        a.resolve("not a position")  # type: ignore[arg-type]
    a.delete(0, 1)
    delete_id = a.ops_since(())[-1]
    with pytest.raises(InvalidOpError):
        a.resolve(Position(delete_id.agent, delete_id.seq, 1))
