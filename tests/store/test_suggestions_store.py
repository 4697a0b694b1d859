"""Suggestions behind the store contract, on SQLite and PostgreSQL alike.

Saving a new suggestion and a new patch for it (its creation time kept), the author
never changing (another author's save refused, nothing changed), listing oldest
first, deletion, bad records refused, the rows going with their document, and
durability across reopening."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cowrite.store import DocumentNotFound, InvalidArgument, Store, open_store
from cowrite.store.suggestions import MAX_SUGGESTION_BYTES, SuggestionRecord


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    pg: str = request.getfixturevalue("pg_url")
    return pg


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = open_store(url)
    s.create("doc")
    yield s
    s.close()


def record(sid: str = "s1", author: str = "alice", patch: bytes = b"\x01patch", at: float = 10.0) -> SuggestionRecord:
    return SuggestionRecord(sid, author, patch, at, at)


def test_save_list_update_delete(store: Store) -> None:
    assert store.suggestions("doc") == []
    assert store.put_suggestion("doc", record()) == record()
    store.put_suggestion("doc", record("s0", "bob", at=12.0))
    assert [s.id for s in store.suggestions("doc")] == ["s1", "s0"]  # oldest first
    again = store.put_suggestion("doc", SuggestionRecord("s1", "alice", b"\x02new", 99.0, 20.0))
    assert again == SuggestionRecord("s1", "alice", b"\x02new", 10.0, 20.0)  # created_at kept
    assert store.suggestion("doc", "s1") == again
    assert store.suggestion("doc", "nope") is None
    assert store.delete_suggestion("doc", "s1") is True
    assert store.delete_suggestion("doc", "s1") is False
    assert [s.id for s in store.suggestions("doc")] == ["s0"]


def test_another_author_cannot_take_a_suggestion_over(store: Store) -> None:
    store.put_suggestion("doc", record())
    with pytest.raises(InvalidArgument, match="another author"):
        store.put_suggestion("doc", record(author="mallory", patch=b"\xffevil", at=11.0))
    assert store.suggestion("doc", "s1") == record()


@pytest.mark.parametrize(
    "bad",
    [
        record(sid=""),
        record(sid="a:b"),  # ids are part of an agent name
        record(sid="x" * 65),
        record(sid="é"),
        record(author=""),
        record(patch=b""),
        record(patch=b"x" * (MAX_SUGGESTION_BYTES + 1)),
        replace(record(), created_at=float("nan")),
        replace(record(), updated_at=-1.0),
    ],
)
def test_bad_records_are_refused_and_change_nothing(store: Store, bad: SuggestionRecord) -> None:
    with pytest.raises(InvalidArgument):
        store.put_suggestion("doc", bad)
    assert store.suggestions("doc") == []


def test_unknown_document_and_bad_ids(store: Store) -> None:
    with pytest.raises(DocumentNotFound):
        store.put_suggestion("other", record())
    with pytest.raises(DocumentNotFound):
        store.suggestions("other")
    assert store.suggestion("other", "s1") is None
    assert store.delete_suggestion("other", "s1") is False
    with pytest.raises(InvalidArgument):
        store.suggestion("doc", "a b")
    with pytest.raises(InvalidArgument):
        store.delete_suggestion("doc", "")


def test_suggestions_are_per_document_and_go_with_it(store: Store) -> None:
    store.create("doc2")
    store.put_suggestion("doc", record())
    store.put_suggestion("doc2", record(author="bob"))  # the same id on another document
    assert store.suggestion("doc2", "s1") == record(author="bob")
    store.delete("doc2")
    store.create("doc2")
    assert store.suggestions("doc2") == []
    assert store.suggestions("doc") == [record()]


def test_durable_across_reopening(url: str) -> None:
    with open_store(url) as s:
        s.create("doc")
        s.put_suggestion("doc", record(patch=bytes(range(256))))
    with open_store(url) as s:
        assert s.suggestions("doc") == [record(patch=bytes(range(256)))]
