"""One writer thread for every room's appends to a local store, group-committed.

Handing each append to ``asyncio.to_thread`` costs a thread-pool submit, a future
chained across threads and a loop wake-up (a write to the self-pipe) per keystroke,
and the pool's few threads then meet one by one at the store's lock.  Here the event
loop only puts the append on a queue (no wake-up of anything: the writer blocks on
the queue); the writer takes *everything* queued, rooms and connections alike,
commits it in one transaction (one fsync), and completes all its futures in one loop
callback.  While one transaction is being fsynced the next batch gathers, so under
load a commit carries many keystrokes.

A transaction costs the store a few hundred microseconds of CPU however few appends it
carries (its statements, the WAL write and the fsync), each further append a few tens.
So while transactions follow each other closely (a busy server: one began less than
``BUSY_GAPS`` gathering windows ago), the writer waits ``gather_seconds`` before taking
what is queued, letting more appends join: less CPU per keystroke for that much latency.
A quiet server (one person typing) commits at once.

Durability is the store's: a future gets its seq only after the transaction holding
the entry was committed (``SQLiteStore.append_batch`` returns then), so the caller's
ACK still follows the commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from ..errors import StoreError

__all__ = ["BatchAppender", "Committer"]

log = logging.getLogger("cowrite.server")


class BatchAppender(Protocol):
    """A store that commits many appends in one transaction (``SQLiteStore``)."""

    def append_batch(self, appends: Sequence[tuple[str, bytes, int, int | None]]) -> list[int | BaseException]: ...


class _Append:
    __slots__ = ("doc_id", "patch", "op_count", "text_length", "future")

    def __init__(self, doc_id: str, patch: bytes, op_count: int, text_length: int | None, future: asyncio.Future[int]) -> None:
        self.doc_id = doc_id
        self.patch = patch
        self.op_count = op_count
        self.text_length = text_length
        self.future = future


def _settle(batch: list[_Append], outcomes: Sequence[int | BaseException]) -> None:
    """On the loop: give each waiting append its seq or its error (a caller that gave up
    waiting, e.g. cancelled, is skipped: its entry may be stored, and a resend is fine)."""
    for req, outcome in zip(batch, outcomes):
        fut = req.future
        if fut.done():
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)


class Committer:
    """The writer thread of one store (started at the first append, stopped by :meth:`close`).

    ``gather_seconds``: how long a busy writer waits for more appends before a transaction
    (0: never)."""

    BUSY_GAPS = 10
    """Busy: the previous transaction began less than this many gathering windows ago."""

    def __init__(self, store: BatchAppender, *, gather_seconds: float = 0.0) -> None:
        self.store = store
        self.gather_seconds = gather_seconds
        self._queue: queue.SimpleQueue[list[_Append] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._gathered: list[_Append] = []  # appends of this loop iteration, handed over together
        self.commits = 0
        """Transactions written (each one fsync) ..."""
        self.appends = 0
        """... and the appends they carried."""

    async def append(self, doc_id: str, patch: bytes, *, op_count: int, text_length: int | None = None) -> int:
        """``store.append(...)``, committed with everything else queued meanwhile: the seq
        of the entry once it is durable, or the store's error for it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        if not self._gathered:  # the first of this loop iteration: hand them over at its end
            loop.call_soon(self._hand_over)
        self._gathered.append(_Append(doc_id, patch, op_count, text_length, fut))
        return await fut

    def _hand_over(self) -> None:
        """Give the writer everything gathered in one put: one thread wake-up (~40 us of
        futex and GIL traffic) per loop iteration, not per append."""
        batch, self._gathered = self._gathered, []
        if not batch:  # close() handed them over already
            return
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="cowrite-store-writer", daemon=True)
            self._thread.start()
        self._queue.put(batch)

    async def close(self) -> None:
        """Commit what is queued, then stop the thread (a later append starts another)."""
        if self._gathered:  # appends of this iteration not handed over yet go first
            self._hand_over()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(thread.join)

    def _run(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        gather = self.gather_seconds
        busy_within = self.BUSY_GAPS * gather
        began = -busy_within  # when the previous transaction's appends were taken
        while True:
            items = [get()]
            now = time.monotonic()
            if gather > 0 and now - began < busy_within and items[0] is not None:
                time.sleep(gather)  # appends arriving meanwhile join this transaction
                now = time.monotonic()
            began = now
            while True:
                try:
                    items.append(get_nowait())
                except queue.Empty:
                    break
            batch = [a for group in items if group is not None for a in group]
            if batch:
                self._commit(batch)
            if None in items:  # close() asked: everything before it is done
                return

    def _commit(self, batch: list[_Append]) -> None:
        try:
            outcomes: Sequence[int | BaseException] = self.store.append_batch(
                [(r.doc_id, r.patch, r.op_count, r.text_length) for r in batch]
            )
            if len(outcomes) != len(batch):
                raise StoreError(f"the store answered {len(outcomes)} outcomes for {len(batch)} appends")
        except BaseException as exc:  # a bug in the store: nobody is acknowledged
            log.error("a group commit of %d appends failed", len(batch), exc_info=exc)
            outcomes = [exc] * len(batch)
        self.commits += 1
        self.appends += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, tuple[list[_Append], list[int | BaseException]]] = {}
        for req, outcome in zip(batch, outcomes):
            reqs, outs = by_loop.setdefault(req.future.get_loop(), ([], []))
            reqs.append(req)
            outs.append(outcome)
        for loop, (reqs, outs) in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, reqs, outs)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                pass
