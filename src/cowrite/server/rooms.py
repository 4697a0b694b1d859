"""Rooms: one loaded document per id, its connections, and the persist-then-ack loop.

A room is loaded from the store when the first connection (or HTTP request)
needs it and unloaded (after a snapshot) once it has been idle for a while.
All work on a room is serialised by its lock: the sans-I/O :class:`Room` hands
back a :class:`~cowrite.protocol.server.Pending` whose ops are appended to the
store (a durable commit, in a worker thread) *before* the ACK and the broadcast
are released.  If the store fails, the room is dropped and every client of it
disconnected; they reconnect, the room is loaded again from what is durable,
and the clients resend whatever was not acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine import RawVersion
from ..protocol import ErrorCode, Join, Role
from ..protocol.server import Pending, Room, Send, ServerSession, error_frame
from ..store import Store
from .metrics import Metrics

__all__ = ["Limits", "RoomHandle", "Rooms"]

log = logging.getLogger("cowrite.server")


def _fmt_version(version: RawVersion) -> str:
    return "[" + ", ".join(f"{agent!r}:{seq}" for agent, seq in version) + "]"


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_bytes: int = 1 << 20
    """Largest WebSocket message (one protocol frame) accepted."""
    messages_per_second: float = 200.0
    """Sustained frames per second per connection (token bucket) ..."""
    message_burst: int = 400
    """... with this burst."""
    max_doc_chars: int = 5_000_000
    """Longest document (code points) a batch may produce."""
    idle_unload_seconds: float = 60.0
    """A room with no connection for this long is snapshotted and unloaded."""
    snapshot_every_ops: int = 2000
    """Write a snapshot after this many new ops (loading then replays at most this many)."""
    digest_interval_seconds: float = 5.0
    """One connection gets at most one DIGEST (divergence check) checked per this many seconds."""


@dataclass(eq=False)
class RoomHandle:
    doc_id: str
    room: Room
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connections: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    ops_since_snapshot: int = 0


class Rooms:
    def __init__(self, store: Store, metrics: Metrics, limits: Limits) -> None:
        self.store = store
        self.metrics = metrics
        self.limits = limits
        self._rooms: dict[str, RoomHandle] = {}
        self._loading: dict[str, asyncio.Future[RoomHandle]] = {}

    def __len__(self) -> int:
        return len(self._rooms)

    async def get(self, doc_id: str) -> RoomHandle:
        """The loaded room of ``doc_id`` (loading it once even if asked concurrently).

        Raises the store's DocumentNotFound / CorruptionError.
        """
        handle = self._rooms.get(doc_id)
        if handle is not None and not handle.room.failed:
            return handle
        fut = self._loading.get(doc_id)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._loading[doc_id] = fut
        try:
            doc = await asyncio.to_thread(self.store.load, doc_id, "server")
            owners = await asyncio.to_thread(self.store.agent_owners, doc_id)
            room = Room(
                doc_id,
                doc,
                agent_owners=owners,
                max_doc_len=self.limits.max_doc_chars,
                digest_interval=self.limits.digest_interval_seconds,
            )
            handle = RoomHandle(doc_id, room)
            self._rooms[doc_id] = handle
            self.metrics.rooms.set(len(self._rooms))
            fut.set_result(handle)
            return handle
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning if nobody else waits
            raise
        finally:
            del self._loading[doc_id]

    async def admit(
        self, handle: RoomHandle, join: Join, user: str, role: Role, name: str | None = None
    ) -> tuple[ServerSession, list[Send]]:
        """``room.join`` (call with the room lock held), recording a new agent's owner durably."""
        room = handle.room
        new_agent = join.agent not in room.agent_owners
        session, sends = room.join(join, user=user, role=role, name=name)
        if session.joined and new_agent:
            owner = await asyncio.to_thread(self.store.claim_agent, handle.doc_id, join.agent, user)
            if owner != user:  # another server process gave it away first
                room.agent_owners[join.agent] = owner
                room.leave(session)
                session.closed = True
                sends = [Send(session, error_frame(ErrorCode.FORBIDDEN, f"agent {join.agent!r} belongs to another user", fatal=True), True)]
        return session, sends

    def loaded(self, doc_id: str) -> RoomHandle | None:
        """The room of ``doc_id`` if it is in memory (without loading it)."""
        return self._rooms.get(doc_id)

    def is_live(self, handle: RoomHandle) -> bool:
        """Whether ``handle`` is still the usable room of its document: not failed,
        not dropped or unloaded (e.g. by the idle reaper while a caller waited)."""
        return not handle.room.failed and self._rooms.get(handle.doc_id) is handle

    def drop(self, doc_id: str) -> None:
        """Forget a room (after a store failure or a delete); clients must reconnect."""
        if self._rooms.pop(doc_id, None) is not None:
            self.metrics.rooms.set(len(self._rooms))

    async def run(self, handle: RoomHandle, step: Callable[[], Pending], deliver: Callable[[list[Send]], None]) -> Pending:
        """Run one room step under the room lock: persist its ops, then deliver its frames."""
        async with handle.lock:
            return await self.run_locked(handle, step, deliver)

    async def run_locked(
        self, handle: RoomHandle, step: Callable[[], Pending], deliver: Callable[[list[Send]], None]
    ) -> Pending:
        """:meth:`run` for a caller that already holds ``handle.lock``."""
        t0 = time.perf_counter()
        pending = step()
        if pending.to_persist:
            n = sum(op.span for op in pending.to_persist)
            try:
                await asyncio.to_thread(
                    self.store.append,
                    handle.doc_id,
                    pending.patch,
                    op_count=n,
                    text_length=len(handle.room.doc),
                )
            except Exception:
                log.exception("store append failed for %s; dropping the room", handle.doc_id)
                self.metrics.errors.labels(code="internal").inc()
                deliver(pending.abort())
                self.drop(handle.doc_id)
                return pending
            self.metrics.ops.inc(n)
            handle.ops_since_snapshot += n
        deliver(pending.commit())
        if pending.to_persist:
            self.metrics.commit_seconds.observe(time.perf_counter() - t0)
        if pending.error is not None:
            self.metrics.errors.labels(code=pending.error.code.name.lower()).inc()
        d = pending.divergence
        if d is not None:
            self.metrics.divergences.inc()
            log.warning(
                "divergence in %r: agent %r (user %r) had other text at version %s; sent RESYNC at %s",
                d.doc_id, d.agent, d.user, _fmt_version(d.version), _fmt_version(d.server_version),
            )
        if handle.ops_since_snapshot >= self.limits.snapshot_every_ops:
            await self._snapshot(handle)
        return pending

    async def _snapshot(self, handle: RoomHandle) -> None:
        doc = handle.room.doc
        try:
            await asyncio.to_thread(self.store.snapshot, handle.doc_id, doc.copy())
            handle.ops_since_snapshot = 0
        except Exception:  # the log still has everything: a snapshot is only an optimisation
            log.exception("snapshot of %s failed", handle.doc_id)

    async def unload_idle(self) -> None:
        """Snapshot and unload rooms that have had no connection for a while."""
        now = time.monotonic()
        for doc_id, handle in list(self._rooms.items()):
            if handle.connections == 0 and now - handle.idle_since >= self.limits.idle_unload_seconds:
                async with handle.lock:
                    if handle.connections or self._rooms.get(doc_id) is not handle:
                        continue
                    if handle.ops_since_snapshot:
                        await self._snapshot(handle)
                    self.drop(doc_id)

    async def close(self) -> None:
        for handle in list(self._rooms.values()):
            async with handle.lock:
                if handle.ops_since_snapshot and not handle.room.failed:
                    await self._snapshot(handle)
        self._rooms.clear()

