"""The server's store writer thread (``server/commits.py``) and ``SQLiteStore.append_batch``:
appends of many rooms meet in one transaction, each gets its own outcome, and a seq
is handed back only once its entry is durable."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from cowrite.engine import Document, encode_patch
from cowrite.errors import DocumentNotFound, InvalidArgument, StoreError
from cowrite.server.commits import Committer
from cowrite.store import SQLiteStore


def patches(agent: str, n: int) -> list[bytes]:
    """``n`` one-character insertions by ``agent``, each its own patch (a keystroke)."""
    doc = Document(agent)
    out = []
    for i in range(n):
        before = doc.version
        doc.insert(len(doc), chr(ord("a") + i % 26))
        out.append(encode_patch(doc.ops_since(before)))
    return out


def test_append_batch_commits_many_documents_and_refuses_items_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "b.db")
    store.create("a")
    store.create("b")
    pa, pb = patches("x", 2), patches("y", 1)
    out = store.append_batch(
        [("a", pa[0], 1, 1), ("nope", pb[0], 1, 1), ("b", pb[0], 1, 1), ("a", pa[1], 1, 2), ("b", b"junk", 1, 1)]
    )
    assert out[0] == 1 and out[2] == 1 and out[3] == 2
    assert isinstance(out[1], DocumentNotFound)
    assert isinstance(out[4], InvalidArgument)
    assert store.commit_stats().commits == 1
    store.close()
    again = SQLiteStore(tmp_path / "b.db")  # durable: read back by another connection
    assert [seq for seq, _ in again.log_since("a")] == [1, 2]
    assert again.load("a").text == "ab" and again.load("b").text == "a"
    assert again.info("a").text_length == 2
    again.close()


class GatedStore:
    """``append_batch`` of a real store, the first call held until the test lets it go."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[int] = []

    def append_batch(self, appends: Sequence[tuple[str, bytes, int, int | None]]) -> list[int | BaseException]:
        self.calls.append(len(appends))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(30)
        return self.inner.append_batch(appends)


def test_appends_queued_during_a_commit_share_the_next_one(tmp_path: Path) -> None:
    inner = SQLiteStore(tmp_path / "g.db")
    for d in ("d0", "d1", "d2"):
        inner.create(d)
    store = GatedStore(inner)
    committer = Committer(store)
    keys = {d: patches(f"agent-{d}", 4) for d in ("d0", "d1", "d2")}

    async def run() -> tuple[int, list[int]]:
        first = asyncio.ensure_future(committer.append("d0", keys["d0"][0], op_count=1))
        assert await asyncio.to_thread(store.entered.wait, 30)  # the writer is inside commit 1
        later = [asyncio.ensure_future(committer.append(d, keys[d][i], op_count=1)) for d in ("d1", "d2") for i in range(4)]
        later.append(asyncio.ensure_future(committer.append("d0", keys["d0"][1], op_count=1)))
        await asyncio.sleep(0)  # each task runs up to its wait: all of them are queued now
        assert not first.done()  # not acknowledged before its commit returns
        store.release.set()
        seqs = await asyncio.gather(*later)
        await committer.close()
        return await first, list(seqs)

    first, seqs = asyncio.run(run())
    assert first == 1
    assert store.calls == [1, 9]  # everything queued meanwhile went into one transaction
    assert committer.commits == 2 and committer.appends == 10
    assert seqs == [1, 2, 3, 4, 1, 2, 3, 4, 2]  # each document's entries in the order queued
    assert inner.load("d1").text == "abcd" and [s for s, _ in inner.log_since("d0")] == [1, 2]
    inner.close()


class BrokenStore:
    def append_batch(self, appends: Sequence[tuple[str, bytes, int, int | None]]) -> list[int | BaseException]:
        raise StoreError("disk on fire")


def test_a_failed_group_commit_fails_every_append_in_it_and_the_writer_goes_on(tmp_path: Path) -> None:
    committer = Committer(BrokenStore())

    async def run() -> None:
        for _ in range(2):  # the thread survives a failure; close() and a fresh start work too
            results = await asyncio.gather(
                *(committer.append("d", b"p", op_count=1) for _ in range(3)), return_exceptions=True
            )
            assert all(isinstance(r, StoreError) for r in results)
            await committer.close()

    asyncio.run(run())


def test_the_server_commits_through_the_writer_for_a_local_store(tmp_path: Path) -> None:
    from cowrite.server.metrics import Metrics
    from cowrite.server.rooms import Limits, Rooms

    store = SQLiteStore(tmp_path / "r.db")
    store.create("notes")
    rooms = Rooms(store, Metrics(), Limits(), lambda sends: None)
    assert rooms.committer is not None
    assert Rooms(store, Metrics(), Limits(), lambda sends: None, shared=True).committer is None

    async def run() -> None:
        handle = await rooms.get("notes")
        async with handle.lock:
            await rooms.claim(handle, "api:me", "me")
        pending = await rooms.run(handle, lambda: handle.room.edit("me", "api:me", 0, insert="hi"))
        assert pending is not None and pending.error is None
        await rooms.close()

    asyncio.run(run())
    assert rooms.committer is not None and rooms.committer.appends == 1
    assert store.load("notes").text == "hi"
    store.close()


if __name__ == "__main__":
    pytest.main([__file__])
