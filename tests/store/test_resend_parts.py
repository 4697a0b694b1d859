"""What an append of ops that are all stored already answers, on SQLite and PostgreSQL alike.

The seq it returns must name an entry the batch can stand for: a server takes "my batch
is entry N" to mean its room holds entry N, and tells the other servers so in its commit
notice.  A resend of a whole entry (however split) is that entry; a stale *part* of an
entry, resent alone, is stored as an entry of its own that brings nothing new."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cowrite.engine import Document, Op, encode_patch
from cowrite.store import Store, open_store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = str(tmp_path / "r.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = open_store(url)
    s.create("doc")
    yield s
    s.close()


def ins(seq: int, pos: int, text: str) -> Op:
    return Op.insert("a", seq, () if seq == 0 else (("a", seq - 1),), pos, text)


def test_a_part_of_a_stored_entry_resent_alone_is_an_entry_of_its_own(store: Store) -> None:
    assert store.append("doc", encode_patch([ins(0, 0, "abc")]), op_count=3) == 1
    assert store.append("doc", encode_patch([ins(0, 0, "ab")]), op_count=2) == 2  # not "1": it lacks a:2
    info = store.info("doc")
    assert (info.seq, info.ops_count) == (2, 3)  # nothing new counted
    assert [seq for seq, _ in store.log_since("doc")] == [1, 2]
    # the whole of entry 1 again, split differently: entry 1 (the part stored as 2 brought nothing)
    assert store.append("doc", encode_patch([ins(0, 0, "a"), ins(1, 1, "bc")]), op_count=3) == 1
    assert store.info("doc").seq == 2
    assert store.load("doc").text == "abc"


def test_a_resend_covering_what_an_entry_brought_first_is_that_entry(store: Store) -> None:
    live = Document("a")
    live.insert(0, "abc")
    assert store.append("doc", live.encode_patch(), op_count=3) == 1
    live.insert(3, "def")
    assert store.append("doc", live.encode_patch(), op_count=6) == 2  # a:0..2 again, then a:3..5
    # a:2..5: entry 2's new ops, plus one that entry 1 brought: that is entry 2
    assert store.append("doc", encode_patch([ins(2, 2, "cdef")]), op_count=4) == 2
    # a:3..4 alone: entry 2 brought a:5 too, so this is an entry of its own
    assert store.append("doc", encode_patch([ins(3, 3, "de")]), op_count=2) == 3
    assert store.load("doc").text == "abcdef"
    doc = Document("x")
    for _, patch in store.log_since("doc"):  # entries in order apply one by one, as a room applies them
        doc.apply_patch(patch)
    assert doc.text == "abcdef"
