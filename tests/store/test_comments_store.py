"""Comments behind the store contract, on SQLite and PostgreSQL alike.

Threads and replies, edits, resolve/reopen, soft deletion, the per-document comment
revision (every change raises it, nothing else does), refusals that change nothing,
durability across reopening, and concurrent writers (two handles on one store)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cowrite.store import DocumentNotFound, InvalidArgument, Store, open_store
from cowrite.store.comments import MAX_COMMENT_CHARS, CommentRecord

ANCHOR = b"CWA\x06CWC\x01\x00aCWC\x00\x03a"


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "c.db")
    pg: str = request.getfixturevalue("pg_url")
    return pg


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = open_store(url)
    s.create("doc")
    yield s
    s.close()


def thread(cid: str = "t1", body: str = "is this right?", at: float = 10.0) -> CommentRecord:
    return CommentRecord(cid, cid, "alice", body, at, anchor=ANCHOR, quote="the quick")


def reply(cid: str, to: str = "t1", at: float = 11.0) -> CommentRecord:
    return CommentRecord(cid, to, "bob", f"reply {cid}", at)


def test_threads_replies_and_revisions(store: Store) -> None:
    assert store.comments("doc") == [] and store.comments_revision("doc") == 0
    t = store.add_comment("doc", thread())
    assert t.rev == 1 and t == replace(thread(), rev=1)
    r = store.add_comment("doc", reply("r1"))
    assert r.rev == 2 and not r.is_thread and t.is_thread
    assert store.comments("doc") == [t, r]
    assert store.comment("doc", "r1") == r
    assert store.comment("doc", "nope") is None
    assert store.comments_revision("doc") == 2


def test_edit_resolve_reopen_delete(store: Store) -> None:
    store.add_comment("doc", thread())
    store.add_comment("doc", reply("r1"))
    edited = store.update_comment("doc", "r1", body="better words", now=20.0)
    assert edited is not None and edited.body == "better words" and edited.edited_at == 20.0 and edited.rev == 3
    resolved = store.update_comment("doc", "t1", resolved=True, now=21.0)
    assert resolved is not None and resolved.resolved and resolved.rev == 4 and resolved.edited_at is None
    same = store.update_comment("doc", "t1", resolved=True, now=22.0)  # resolved twice at once: no change
    assert same == resolved and store.comments_revision("doc") == 4
    reopened = store.update_comment("doc", "t1", resolved=False, now=23.0)
    assert reopened is not None and not reopened.resolved and reopened.rev == 5
    gone = store.update_comment("doc", "t1", delete=True, now=24.0)
    assert gone is not None and gone.deleted and gone.body == "" and gone.rev == 6
    assert [c.id for c in store.comments("doc")] == ["t1", "r1"]  # kept: its replies hang on it
    assert store.update_comment("doc", "missing", body="x", now=25.0) is None


@pytest.mark.parametrize(
    "bad",
    [
        replace(thread(), body=""),
        replace(thread(), body="x" * (MAX_COMMENT_CHARS + 1)),
        replace(thread(), body="bad \ud800"),
        replace(thread(), anchor=b""),
        replace(thread(), id="has space", thread="has space"),
        replace(thread(), id="", thread=""),
        replace(thread(), author=""),
        replace(thread(), created_at=float("nan")),
        replace(thread(), deleted=True),
        replace(thread(), rev=5),
        replace(reply("r9"), anchor=ANCHOR),
        replace(reply("r9"), quote="q"),
        replace(reply("r9"), resolved=True),
    ],
)
def test_malformed_comments_are_refused(store: Store, bad: CommentRecord) -> None:
    store.add_comment("doc", thread())
    with pytest.raises(InvalidArgument):
        store.add_comment("doc", bad)
    assert len(store.comments("doc")) == 1 and store.comments_revision("doc") == 1


def test_thread_rules_refuse_and_change_nothing(store: Store) -> None:
    store.add_comment("doc", thread())
    store.add_comment("doc", reply("r1"))
    for bad in [thread(), reply("r1"), reply("r2", to="r1"), reply("r3", to="nowhere")]:
        with pytest.raises(InvalidArgument):
            store.add_comment("doc", bad)
    with pytest.raises(InvalidArgument):
        store.update_comment("doc", "r1", resolved=True, now=30.0)  # a reply is not resolved
    with pytest.raises(InvalidArgument):
        store.update_comment("doc", "r1", body="", now=30.0)
    store.update_comment("doc", "t1", delete=True, now=31.0)
    with pytest.raises(InvalidArgument):
        store.add_comment("doc", reply("r4"))  # a deleted thread takes no replies
    with pytest.raises(InvalidArgument):
        store.update_comment("doc", "t1", body="back", now=32.0)
    assert store.comments_revision("doc") == 3
    assert [c.id for c in store.comments("doc")] == ["t1", "r1"]


def test_documents_are_separate_and_deleting_one_drops_its_comments(store: Store) -> None:
    store.create("other")
    store.add_comment("doc", thread())
    assert store.comments("other") == [] and store.comments_revision("other") == 0
    with pytest.raises(InvalidArgument):
        store.add_comment("other", reply("r1"))  # the thread is another document's
    assert store.comment("other", "t1") is None
    store.delete("doc")
    for call in (lambda: store.comments("doc"), lambda: store.comments_revision("doc"), lambda: store.add_comment("doc", thread())):
        with pytest.raises(DocumentNotFound):
            call()
    assert store.comment("doc", "t1") is None
    store.create("doc")
    assert store.comments("doc") == []


def test_durable_across_reopening(url: str, store: Store) -> None:
    store.add_comment("doc", thread(body="ünïcode 👋🏽"))
    store.add_comment("doc", reply("r1"))
    store.update_comment("doc", "t1", resolved=True, now=12.0)
    with open_store(url) as again:
        assert again.comments("doc") == store.comments("doc")
        assert again.comments("doc")[0].body == "ünïcode 👋🏽" and again.comments("doc")[0].anchor == ANCHOR
        assert again.comments_revision("doc") == 3


def test_concurrent_writers_get_distinct_revisions(url: str, store: Store) -> None:
    store.add_comment("doc", thread())
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            with open_store(url) as s:
                for i in range(8):
                    s.add_comment("doc", reply(f"{name}{i}", at=100.0 + i))
                    s.update_comment("doc", "t1", resolved=i % 2 == 0, now=200.0 + i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(n,)) for n in "ab"]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not errors
    found = store.comments("doc")
    assert len(found) == 17
    revs = [c.rev for c in found]
    assert len(set(revs)) == len(revs)
    assert store.comments_revision("doc") == max(revs)
