"""The store contract for document titles and named versions (mixed into StoreContract,
so every backend runs it)."""

from __future__ import annotations

import pytest

from cowrite.store import (
    MAX_TITLE,
    MAX_VERSION_NAME,
    DocumentNotFound,
    InvalidArgument,
    InvalidDocumentId,
    NamedVersionRecord,
    Store,
)


def named(doc: str, name: str, version: tuple[tuple[str, int], ...] = (("alice", 4),), at: float = 100.0) -> NamedVersionRecord:
    return NamedVersionRecord(doc, name, version, "alice", at)


class VersionsContract:
    def test_a_title_is_set_read_and_cleared(self, store: Store) -> None:
        store.create("doc")
        assert store.info("doc").title == "" and store.create("other").title == ""
        store.set_title("doc", "Chapter one — draft 😀")
        assert store.info("doc").title == "Chapter one — draft 😀"
        assert {d.id: d.title for d in store.documents()} == {"doc": "Chapter one — draft 😀", "other": ""}
        store.set_title("doc", "x" * MAX_TITLE)
        assert store.info("doc").title == "x" * MAX_TITLE
        store.set_title("doc", "")
        assert store.info("doc").title == ""

    def test_a_bad_title_is_refused_and_changes_nothing(self, store: Store) -> None:
        store.create("doc")
        store.set_title("doc", "kept")
        for bad in ("x" * (MAX_TITLE + 1), None, 7):
            with pytest.raises(InvalidArgument):
                store.set_title("doc", bad)  # type: ignore[arg-type]
        with pytest.raises(DocumentNotFound):
            store.set_title("nope", "t")
        with pytest.raises(InvalidDocumentId):
            store.set_title("bad id", "t")
        assert store.info("doc").title == "kept"

    def test_named_versions_are_stored_listed_and_deleted(self, store: Store) -> None:
        store.create("doc")
        store.create("other")
        first = named("doc", "First draft", (("alice", 4), ("bob", 0)), at=100.0)
        empty = named("doc", "Before anything", (), at=50.0)
        assert store.add_named_version(first)
        assert store.add_named_version(empty)
        assert store.add_named_version(named("other", "First draft"))  # names are per document
        assert store.named_versions("doc") == [empty, first]  # oldest first
        assert not store.add_named_version(named("doc", "First draft", (("bob", 9),), at=300.0))  # taken
        assert store.named_versions("doc") == [empty, first]
        assert store.delete_named_version("doc", "First draft")
        assert not store.delete_named_version("doc", "First draft")
        assert store.named_versions("doc") == [empty]
        assert store.named_versions("other") == [named("other", "First draft")]
        assert store.named_versions("nope") == []

    def test_named_versions_survive_reopening_and_go_with_the_document(self, store: Store, backend: object) -> None:
        store.create("doc")
        store.set_title("doc", "Kept")
        record = named("doc", "v1 ✓", (("a" * 64, 2**40),))
        store.add_named_version(record)
        with backend.open() as again:  # type: ignore[attr-defined]
            assert again.named_versions("doc") == [record]
            assert again.info("doc").title == "Kept"
        store.delete("doc")
        store.create("doc")
        assert store.named_versions("doc") == [] and store.info("doc").title == ""

    def test_a_bad_named_version_is_refused_and_stores_nothing(self, store: Store) -> None:
        store.create("doc")
        bad = [
            named("doc", ""),
            named("doc", "x" * (MAX_VERSION_NAME + 1)),
            named("doc", "v", (("bob", 1), ("alice", 2))),  # not sorted
            named("doc", "v", (("alice", 1), ("alice", 1))),  # twice
            named("doc", "v", (("alice", -1),)),
            named("doc", "v", (("", 1),)),
            named("doc", "v", [("alice", 1)]),  # type: ignore[arg-type]
            NamedVersionRecord("doc", "v", (("alice", 1),), "", 1.0),
            NamedVersionRecord("doc", "v", (("alice", 1),), "alice", float("nan")),
        ]
        for record in bad:
            with pytest.raises(InvalidArgument):
                store.add_named_version(record)
        with pytest.raises(InvalidArgument):
            store.add_named_version("v")  # type: ignore[arg-type]
        with pytest.raises(DocumentNotFound):
            store.add_named_version(named("nope", "v"))
        with pytest.raises(InvalidArgument):
            store.delete_named_version("doc", "")
        assert store.named_versions("doc") == []
