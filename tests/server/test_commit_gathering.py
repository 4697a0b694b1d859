"""A busy writer waits ``gather_seconds`` before a transaction so that appends arriving
meanwhile share it (one fsync for all); a quiet one commits the first append at once.
Every append is still answered only after the transaction holding it returned."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cowrite.engine import Document, encode_patch
from cowrite.server.commits import Committer
from cowrite.store import SQLiteStore


def _keystrokes(agent: str, n: int) -> list[bytes]:
    doc = Document(agent)
    out = []
    for i in range(n):
        before = doc.version
        doc.insert(len(doc), "abcdefgh"[i % 8])
        out.append(encode_patch(doc.ops_since(before)))
    return out


class CountingStore:
    """A real store that records each transaction's size and when it began."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner
        self.calls: list[tuple[float, int]] = []
        self.lock = threading.Lock()

    def append_batch(self, appends: Sequence[tuple[str, bytes, int, int | None]]) -> list[int | BaseException]:
        with self.lock:
            self.calls.append((time.monotonic(), len(appends)))
        return self.inner.append_batch(appends)


def _store(tmp_path: Path, docs: Sequence[str]) -> tuple[SQLiteStore, CountingStore]:
    inner = SQLiteStore(tmp_path / "g.db")
    for d in docs:
        inner.create(d)
    return inner, CountingStore(inner)


def test_a_quiet_writer_commits_at_once(tmp_path: Path) -> None:
    inner, store = _store(tmp_path, ["d"])
    committer = Committer(store, gather_seconds=3600.0)  # a wait would never end
    [patch] = _keystrokes("a", 1)

    async def run() -> None:
        # no transaction began before: not busy, so no gathering (wait_for: fail, not hang)
        assert await asyncio.wait_for(committer.append("d", patch, op_count=1), 60) == 1
        await asyncio.wait_for(committer.close(), 60)

    asyncio.run(run())
    assert [n for _, n in store.calls] == [1]
    inner.close()


def test_appends_arriving_while_a_busy_writer_gathers_share_its_transaction(tmp_path: Path) -> None:
    docs = [f"d{i}" for i in range(6)]
    inner, store = _store(tmp_path, docs)
    gather = 2.0  # long beside the loop's hand-overs, even on a loaded machine
    committer = Committer(store, gather_seconds=gather)
    keys = {d: _keystrokes(f"agent-{d}", 2) for d in docs}

    async def run() -> list[int]:
        assert await committer.append(docs[0], keys[docs[0]][0], op_count=1) == 1  # at once: quiet
        # The writer is busy now (a transaction began just before): the next append is
        # held for the window, and the ones sent during it join the same transaction.
        first = asyncio.ensure_future(committer.append(docs[0], keys[docs[0]][1], op_count=1))
        await asyncio.sleep(0.05)
        assert not first.done()  # not answered before its transaction was committed
        rest = [asyncio.ensure_future(committer.append(d, keys[d][0], op_count=1)) for d in docs[1:]]
        seqs = await asyncio.gather(first, *rest)
        await committer.close()
        return list(seqs)

    seqs = asyncio.run(run())
    assert seqs == [2, 1, 1, 1, 1, 1]
    assert [n for _, n in store.calls] == [1, 6]  # one transaction for everything gathered
    assert committer.commits == 2 and committer.appends == 7
    assert inner.load(docs[3]).text == "a" and inner.load(docs[0]).text == "ab"
    inner.close()


def test_no_gathering_when_the_window_is_zero(tmp_path: Path) -> None:
    inner, store = _store(tmp_path, ["d"])
    committer = Committer(store)  # gather_seconds=0: each append as soon as the writer takes it
    patches = _keystrokes("a", 3)

    async def run() -> None:
        for p in patches:
            await committer.append("d", p, op_count=1)
        await committer.close()

    asyncio.run(run())
    assert [n for _, n in store.calls] == [1, 1, 1]
    inner.close()
