"""Rooms: one loaded document per id, its connections, and the persist-then-ack loop.

A room is loaded from the store when the first connection (or HTTP request)
needs it and unloaded (after a snapshot) once it has been idle for a while.
All work on a room is serialised by its lock: the sans-I/O :class:`Room` hands
back a :class:`~cowrite.protocol.server.Pending` whose ops are appended to the
store (a durable commit: for a local SQLite store by the one writer thread that
group-commits every room's appends, ``commits.py``; else in a worker thread)
*before* the ACK and the broadcast are released.

Failures:

* The store refuses a batch whose op ids it holds with other content
  (:class:`~cowrite.errors.ConflictingOps`: another server stored them first, e.g.
  one agent connected to two servers): the sender gets a non-fatal ``ERROR conflict``
  with the batch id (its client resyncs with a fresh JOIN), nothing of the batch is
  acknowledged or broadcast, and the room is loaded again from the store; its
  connections move to the reloaded room and get what it holds beyond what they had.
* The store fails otherwise (a :class:`~cowrite.errors.StoreError`): the room is dropped
  and every client of it disconnected; they reconnect, the room is loaded again
  from what is durable, and the clients resend whatever was not acknowledged.
* The store is unavailable (:class:`~cowrite.errors.StoreUnavailable`, or a call that
  did not return within ``Limits.store_timeout_seconds``: a commit's outcome is then
  unknown, so it is never acknowledged): as above, and the store breaker opens
  (``storehealth.py``).  While it is open nothing is acknowledged: joins, HTTP
  requests and ``OPS`` batches are refused (non-fatal ``ERROR internal``: clients keep
  their edits and retry), every connection is told so and closed, and no store call
  is started but the breaker's probe.  Once the store answers again every loaded
  room catches up from it (other servers may have committed meanwhile) before the
  breaker closes.
* A bug (any other exception) while a frame is handled or committed: it is
  logged with its traceback and counted (``cowrite_internal_errors_total``), the
  sender gets a non-fatal ``ERROR internal`` with its batch id, and the room is
  loaded again from the store (its document may be inconsistent; what is durable
  is the truth).  The room's other connections move to the reloaded room and
  keep working; only if the reload fails are they closed (``ERROR internal``,
  not fatal: they reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..engine import RawVersion
from ..errors import ConfigError, ConflictingOps, CowriteError, DocumentNotFound, HistoryPruned, StoreError, StoreUnavailable
from ..protocol import Error, ErrorCode, Join, Role
from ..protocol.messages import encode_frame, error_message
from ..protocol.server import Pending, Room, Send, ServerSession, error_frame
from ..store import DocInfo, Store
from ..store.sqlite import SQLiteStore
from .commits import Committer
from .metrics import Metrics
from .storehealth import StoreHealth

__all__ = ["Limits", "RoomHandle", "Rooms"]

log = logging.getLogger("cowrite.server")

_T = TypeVar("_T")


def _fmt_version(version: RawVersion) -> str:
    return "[" + ", ".join(f"{agent!r}:{seq}" for agent, seq in version) + "]"


@dataclass(frozen=True, slots=True)
class Limits:
    """What one server accepts.  Every value is checked (``ConfigError`` if out of range);
    ``cowrite serve --limit NAME=VALUE`` sets any of them."""

    max_message_bytes: int = 1 << 20
    """Largest WebSocket message (one protocol frame) accepted."""
    messages_per_second: float = 200.0
    """Sustained frames per second per connection (token bucket) ..."""
    message_burst: int = 400
    """... with this burst."""
    max_sockets_per_user: int = 64
    """Joined WebSockets one user may hold on this server at once (all documents, tabs and
    devices together).  Each costs a session in a room, and every join is heard by every
    other socket of the room (n joins: n^2 presence frames); one more is refused with a
    non-fatal ``ERROR rate_limited`` (the client retries later)."""
    guest_sessions_per_minute: int = 30
    """Guest identities ``POST /api/session`` hands one client address per minute (a
    token bucket: this many at once, then one every 60 / this seconds), else ``429
    throttled``.  Each identity may hold ``max_sockets_per_user`` sockets: unbounded
    minting would lift that bound.  Counted in memory by each server."""
    max_doc_chars: int = 5_000_000
    """Longest document (code points) a batch may produce."""
    max_patch_bytes: int = 4 << 20
    """Largest body of one batch's patch, inflated (a deflated body states its size, so
    a bigger one is refused before anything is inflated).  4x the frame limit: a
    pasted text that deflates into one frame fits; a frame of zeros claiming 128 MiB
    does not."""
    max_batch_ops: int = 4096
    """Op runs one ``OPS`` batch may carry, counted before the patch is decoded.  Each
    costs a few hundred bytes of Python objects, and a deflated patch of a few KiB
    can claim millions.  Clients send at most 512 runs a batch."""
    max_batch_meta_bytes: int = 256 << 10
    """Bytes of one batch's patch before its inserted text (agent names, seqs,
    parents, kinds, positions): bounds the parent and agent lists a batch can make
    the server build (~50 bytes of objects per byte).  A batch of 4096 runs with a
    few parents each takes under 100 KiB."""
    max_history_ops: int = 10_000_000
    """Ops (characters ever inserted or deleted) a document's history may hold; a
    batch that would pass it is refused (``too_large``) and changes nothing."""
    max_history_runs: int = 1_000_000
    """Op runs a document's history may hold (what its memory grows with, ~100 bytes a
    run: a history of one-character edits all over the text is a run per character)."""
    max_request_bytes: int = 256 << 10
    """Largest HTTP request body, refused by ``Content-Length`` before it is read and
    counted as it arrives when chunked.  ``POST /api/session`` takes no token and may
    be posted from any web page, so the cap is well under the frame limit: HTTP
    bodies are small JSON (bigger edits go over the WebSocket)."""
    max_outbox_bytes: int = 8 << 20
    """Bytes of frames queued for one connection that is not reading them: past this it
    is cut off (its client reconnects and catches up with one ``WELCOME``).  A single
    frame larger than this (a big document's ``WELCOME``) is let through when nothing
    else is queued."""
    idle_unload_seconds: float = 60.0
    """A room with no connection for this long is snapshotted and unloaded."""
    snapshot_ratio: float = 0.5
    """A snapshot is written once the work appended since the last one (the patch
    bytes, plus ``snapshot_entry_bytes`` per log entry) reaches this fraction of that
    snapshot's size.  Writing one costs O(its size), so snapshots cost amortised
    O(what is appended) (at most 1 / ratio times it), and loading replays at most
    about ratio x the snapshot."""
    snapshot_entry_bytes: int = 256
    """What one log entry counts as in that sum: loading replays each entry at a fixed
    cost (a row, a checksum, a decode) besides its bytes, so many small entries lead
    to a snapshot too."""
    snapshot_min_entries: int = 64
    """... and at least this many entries were appended since: a snapshot is a durable
    write, and a small document is not rewritten every few keystrokes."""
    digest_interval_seconds: float = 5.0
    """One connection gets at most one DIGEST (divergence check) checked per this many seconds."""
    reconcile_seconds: float = 2.0
    """With a shared store (PostgreSQL; several servers): every loaded room compares its
    log position with the store's this often while Redis fan-out is healthy, and
    applies what other servers committed meanwhile (bounds staleness if a notice is lost)."""
    poll_seconds: float = 0.5
    """... and this often while there is no fan-out (no ``--redis``, or Redis is down)."""
    redis_heartbeat_seconds: float = 1.0
    """With ``--redis``: the subscription PINGs Redis this often, so that a Redis that
    stops answering (a partition swallows packets; TCP itself notices nothing) is told
    apart from a quiet channel ..."""
    redis_timeout_seconds: float = 3.0
    """... and a subscription that heard nothing (no notice, no PONG) for this long after
    a PING, or any Redis call (connect, subscribe, publish, a presence write) that has
    not answered within this long, counts as Redis lost: the fan-out breaker opens (rooms
    poll the store) and the connection is made again.  More than the heartbeat."""
    store_timeout_seconds: float = 10.0
    """With a shared store (PostgreSQL), a store call of a room (a commit, a read) that has
    not returned after this long is given up: the store counts as unavailable (the breaker opens) and a commit's
    outcome as unknown (never acknowledged).  Longer than the PostgreSQL store's
    ``idle_in_transaction_timeout`` (5 s), so that a commit waiting for a row lock held
    by a server cut off mid-transaction is not given up too."""
    store_check_seconds: float = 1.0
    """While the store breaker is closed, the store is probed this often (a database that
    swallows packets is noticed even when nobody types) ..."""
    store_probe_seconds: float = 0.5
    """... and this often while it is open (to close it again soon after the store is back)."""
    store_probe_timeout_seconds: float = 2.0
    """A probe that has not answered after this long counts as slow; two slow probes in a
    row (with a shared store; with SQLite slow is busy) or one that fails open the breaker."""
    commit_gather_seconds: float = 0.001
    """With a local SQLite store, while commits follow each other closely (a busy server),
    the writer waits this long before each transaction so that more appends share it:
    a transaction costs the store a few hundred microseconds of CPU (its fsync included)
    however few appends it carries, so this cuts the CPU per keystroke, and delays the
    ACK and broadcast by at most this much.  A quiet server commits at once."""
    drain_seconds: float = 10.0
    """On SIGTERM the server stops taking connections and waits up to this long for the
    commits in flight to be acknowledged and its sockets closed (code 1012) before it exits."""
    session_check_seconds: float = 30.0
    """A WebSocket signed in by session cookie has its session looked up again this
    often, and is closed once it is gone (expired, or revoked where no callback reaches
    this process, e.g. ``cowrite user disable``).  Revocations in this process close
    sockets at once."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int):
                ok = type(value) is int and value >= 1
            else:
                ok = type(value) in (int, float) and value > 0 and value != float("inf")
            if not ok:
                raise ConfigError(f"limit {f.name} must be a positive {f.type}, not {value!r}")


@dataclass(eq=False)
class RoomHandle:
    doc_id: str
    room: Room
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connections: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    entries_since_snapshot: int = 0  # log entries appended after the newest snapshot
    bytes_since_snapshot: int = 0  # their patch bytes
    snapshot_bytes: int = 0  # the newest snapshot's size (0: none)
    seq: int = 0  # the room holds every log entry up to this seq (the store decides seqs)

    def counted(self, info: DocInfo) -> None:
        """Take the snapshot bookkeeping from the store's view of the document."""
        self.entries_since_snapshot = info.seq - info.snapshot_seq
        self.bytes_since_snapshot = info.log_bytes_since_snapshot
        self.snapshot_bytes = info.snapshot_bytes


class Rooms:
    """The loaded rooms of one server.  ``deliver`` writes a room's frames to its connections."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        limits: Limits,
        deliver: Callable[[list[Send]], None],
        *,
        shared: bool = False,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.limits = limits
        self.deliver = deliver
        self.shared = shared
        """Other servers append to the same store: catch up from its log before a join, an
        HTTP request or a snapshot (and whenever our own append shows a gap)."""
        self.api_agent_suffix = ""
        """Appended to the HTTP API's agent names (``api:<user>``): ``~<server id>`` when
        several servers share the store, which would otherwise mint ops with the same ids."""
        self.on_commit: Callable[[str, int, bytes], None] | None = None
        """Called with ``(doc_id, seq, patch)`` after each entry this server appended is
        delivered (the fan-out publishes it)."""
        self._rooms: dict[str, RoomHandle] = {}
        self._loading: dict[str, asyncio.Future[RoomHandle]] = {}
        self.health = StoreHealth(
            store,
            metrics,
            check_seconds=limits.store_check_seconds,
            probe_seconds=limits.store_probe_seconds,
            probe_timeout=limits.store_probe_timeout_seconds,
            slow_is_down=shared,
        )
        """The store breaker (``storehealth.py``): nothing is acknowledged while it is open."""
        self.health.on_open = self._store_lost
        self.health.recover = self.recover
        self.committer = (
            Committer(store, gather_seconds=limits.commit_gather_seconds)
            if isinstance(store, SQLiteStore) and not shared
            else None
        )
        """The writer thread that group-commits every room's appends (a local SQLite store;
        a shared store's appends go through :meth:`_call`, which can give up on them)."""

    def __len__(self) -> int:
        return len(self._rooms)

    async def _call(self, fn: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        """``fn(*args, **kwargs)`` (a store call) in a worker thread, given up after
        ``Limits.store_timeout_seconds`` with a shared (network) store.  A timeout or a
        StoreUnavailable opens the store breaker and raises StoreUnavailable (for a write:
        the outcome is unknown; the thread may still finish it, and a resend of the same
        ops is not an error).  A local store (SQLite, one server) is never given up on:
        slow there is busy, not gone."""
        limit = self.limits.store_timeout_seconds
        try:
            if not self.shared:
                return await asyncio.to_thread(fn, *args, **kwargs)
            return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), limit)
        except TimeoutError:
            exc = StoreUnavailable(f"the store did not answer within {limit:g} s (whether a write was stored is unknown)")
            self.health.failed(exc)
            raise exc from None
        except StoreUnavailable as exc:
            self.health.failed(exc)
            raise

    async def _append(self, doc_id: str, patch: bytes, *, op_count: int, text_length: int) -> int:
        """``store.append``: through the writer thread (group commit, one hand-off per
        batch) for a local SQLite store, else :meth:`_call`.  Returns once it is durable."""
        if self.committer is None:
            return await self._call(self.store.append, doc_id, patch, op_count=op_count, text_length=text_length)
        try:
            return await self.committer.append(doc_id, patch, op_count=op_count, text_length=text_length)
        except StoreUnavailable as exc:
            self.health.failed(exc)
            raise

    async def _load(self, doc_id: str) -> tuple[Room, DocInfo]:
        # info first: the document loaded next holds at least its seq (an entry appended
        # by another server in between is applied again by the next catch-up: a no-op).
        info = await self._call(self.store.info, doc_id)
        doc = await self._call(self.store.load, doc_id, "server")
        owners = await self._call(self.store.agent_owners, doc_id)
        lim = self.limits
        room = Room(
            doc_id,
            doc,
            agent_owners=owners,
            max_doc_len=lim.max_doc_chars,
            digest_interval=lim.digest_interval_seconds,
            max_patch_bytes=lim.max_patch_bytes,
            max_batch_ops=lim.max_batch_ops,
            max_batch_meta_bytes=lim.max_batch_meta_bytes,
            max_history_ops=lim.max_history_ops,
            max_history_runs=lim.max_history_runs,
        )
        return room, info

    async def get(self, doc_id: str) -> RoomHandle:
        """The loaded room of ``doc_id`` (loading it once even if asked concurrently).

        A room being reloaded after a bug is returned as it is: take its lock (and
        check :meth:`is_live`) before using it.  Raises the store's DocumentNotFound /
        CorruptionError.
        """
        handle = self._rooms.get(doc_id)
        if handle is not None:
            return handle
        fut = self._loading.get(doc_id)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._loading[doc_id] = fut
        try:
            room, info = await self._load(doc_id)
            handle = RoomHandle(doc_id, room, seq=info.seq)  # the document holds at least that
            handle.counted(info)
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

    @contextlib.asynccontextmanager
    async def locked(self, doc_id: str) -> AsyncIterator[RoomHandle]:
        """The live room of ``doc_id`` with its lock held (if the room was dropped or
        unloaded while we waited for the lock, the one loaded next).  StoreUnavailable
        while the store breaker is open."""
        for _ in range(5):
            if not self.health.up:
                raise self.health.refusal()
            handle = await self.get(doc_id)
            async with handle.lock:
                if self.is_live(handle) and self.shared:
                    await self.catch_up_locked(handle)
                if self.is_live(handle):
                    yield handle
                    return
        raise StoreError(f"document {doc_id!r} keeps being unloaded; retry")

    async def claim(self, handle: RoomHandle, agent: str, user: str) -> str:
        """The owner of ``agent`` in this room's document, claiming it for ``user`` if
        nobody has it (call with the room lock held).  The claim is durable before
        the room records it: a failed claim (StoreError) leaves no owner in memory."""
        owner = handle.room.agent_owners.get(agent)
        if owner is None:
            owner = await self._call(self.store.claim_agent, handle.doc_id, agent, user)
            handle.room.agent_owners[agent] = owner
        return owner

    async def admit(
        self, handle: RoomHandle, join: Join, user: str, role: Role, name: str | None = None
    ) -> tuple[ServerSession, list[Send]]:
        """``room.join`` (call with the room lock held), the agent claimed durably first.

        A StoreError from the claim propagates (nothing joined, nothing recorded).  A
        bug in the join answers the connection ``ERROR internal`` (not fatal; it is
        closed) and reloads the room.
        """
        await self.claim(handle, join.agent, user)  # a refusal to another user's agent is the join's
        room = handle.room
        before = room.doc.version
        try:
            return room.join(join, user=user, role=role, name=name)
        except CowriteError:
            raise
        except Exception as exc:
            session = ServerSession(room, join.agent, user, role, name)
            session.closed = True
            message = "the server failed while handling this JOIN (a bug, logged there); reconnect"
            sends = [Send(session, error_frame(ErrorCode.INTERNAL, message), True)]
            room.failed = True
            await self._internal_error(handle, room, exc, before, "a JOIN")
            return session, sends

    def loaded(self, doc_id: str) -> RoomHandle | None:
        """The room of ``doc_id`` if it is in memory (without loading it)."""
        return self._rooms.get(doc_id)

    def handles(self) -> list[RoomHandle]:
        """The rooms in memory now (a copy: loading or unloading one meanwhile is fine)."""
        return list(self._rooms.values())

    def is_live(self, handle: RoomHandle) -> bool:
        """Whether ``handle`` is still the usable room of its document: not failed,
        not dropped or unloaded (e.g. by the idle reaper while a caller waited)."""
        return not handle.room.failed and self._rooms.get(handle.doc_id) is handle

    def drop(self, doc_id: str, handle: RoomHandle | None = None) -> None:
        """Forget a room (after a store failure or a delete); clients must reconnect.
        With ``handle``, only if that is still the document's room (not one loaded since)."""
        if handle is not None and self._rooms.get(doc_id) is not handle:
            return
        if self._rooms.pop(doc_id, None) is not None:
            self.metrics.rooms.set(len(self._rooms))

    def _store_lost(self) -> None:
        """The store breaker opened: tell every connection (non-fatal ``ERROR internal``:
        its client keeps its edits and reconnects, to another server if it can) and
        close it.  The rooms stay loaded; they catch up before the breaker closes."""
        message = "this server cannot reach its store, so it cannot acknowledge edits; your edits are kept: reconnect"
        frame = error_frame(ErrorCode.INTERNAL, message)
        sends = [Send(s, frame, True) for h in self._rooms.values() for s in h.room.sessions]
        if sends:
            self.metrics.errors.labels(code="internal").inc(len(sends))
        self.deliver(sends)

    async def run(self, handle: RoomHandle, step: Callable[[], Pending]) -> Pending | None:
        """Run one room step under the room lock: persist its ops, then deliver its frames."""
        async with handle.lock:
            return await self.run_locked(handle, step)

    async def run_locked(self, handle: RoomHandle, step: Callable[[], Pending]) -> Pending | None:
        """:meth:`run` for a caller that already holds ``handle.lock``.

        Returns the step's Pending (its ``error`` is the refusal or ``ERROR internal``
        sent), or None if the step raised a bug of its own (logged; room reloaded).
        A CowriteError the step raises (a refusal before anything changed) propagates.
        """
        t0 = time.perf_counter()
        room = handle.room
        before = room.doc.version
        try:
            pending = step()
        except CowriteError:
            raise
        except Exception as exc:  # outside the room's own guard: still a bug
            room.failed = True
            await self._internal_error(handle, room, exc, before, "a room step")
            return None
        if pending.bug is not None:
            self.deliver(pending.commit())  # the ERROR internal to the sender
            await self._internal_error(handle, room, pending.bug, before, "a frame")
            return pending
        if pending.to_persist:
            n = sum(op.span for op in pending.to_persist)
            try:
                if not self.health.up:  # the breaker opened while this step waited: store nothing
                    raise self.health.refusal()
                seq = await self._append(handle.doc_id, pending.patch, op_count=n, text_length=len(room.doc))
            except ConflictingOps as exc:
                # The store holds these op ids with other content (another server got them in
                # first): refuse the batch alone, and reload the room, whose document merged it.
                log.warning("batch refused by the store for %s: %s", handle.doc_id, exc)
                self.metrics.errors.labels(code="conflict").inc()
                self.deliver(self._conflicted(pending, exc))
                await self._reload(handle, room, before)
                return pending
            except StoreUnavailable as exc:  # an outage, not a bug: no traceback
                log.warning("store append failed for %s; dropping the room: %s", handle.doc_id, exc)
                self.metrics.errors.labels(code="internal").inc()
                self.deliver(pending.abort("the server cannot reach its store; your edits are kept: reconnect"))
                self.drop(handle.doc_id, handle)
                return pending
            except StoreError:
                log.exception("store append failed for %s; dropping the room", handle.doc_id)
                self.metrics.errors.labels(code="internal").inc()
                self.deliver(pending.abort())
                self.drop(handle.doc_id, handle)
                return pending
            except Exception as exc:  # a bug in the store: what is durable is unknown
                self.deliver(pending.broken(exc))
                await self._internal_error(handle, room, exc, before, "the commit of a batch")
                return pending
            self.metrics.ops.inc(n)
            handle.entries_since_snapshot += 1
            handle.bytes_since_snapshot += len(pending.patch)
        self.deliver(pending.commit())
        if pending.to_persist:
            self.metrics.commit_seconds.observe(time.perf_counter() - t0)
            gap = seq > handle.seq + 1  # others appended in between: their entries are not here yet
            if seq == handle.seq + 1:
                handle.seq = seq
            if self.on_commit is not None:
                self.on_commit(handle.doc_id, seq, pending.patch)
            if gap:
                self.metrics.fanout_gaps.inc()
                await self.catch_up_locked(handle)
        if pending.error is not None:
            self.metrics.errors.labels(code=pending.error.code.name.lower()).inc()
        d = pending.divergence
        if d is not None:
            self.metrics.divergences.inc()
            log.warning(
                "divergence in %r: agent %r (user %r) had other text at version %s; sent RESYNC at %s",
                d.doc_id, d.agent, d.user, _fmt_version(d.version), _fmt_version(d.server_version),
            )
        if self._snapshot_due(handle):
            await self._snapshot(handle)
        return pending

    @staticmethod
    def _conflicted(pending: Pending, exc: ConflictingOps) -> list[Send]:
        """Settle ``pending`` as refused by the store: the sender gets a non-fatal
        ``ERROR conflict`` with its batch id (its client resyncs with a fresh JOIN and
        types its edits again); nothing is acknowledged or broadcast; the room is failed
        (its document holds the refused ops) and must be reloaded."""
        pending.broken(exc)  # settles it and fails the room; its ERROR internal is not sent
        pending.bug = None
        message = f"batch refused: {exc}; resync and send your edits again"
        err = Error(ErrorCode.CONFLICT, error_message(message), False, pending.batch_id)
        pending.error = err
        if pending.session is None:
            return []
        return [Send(pending.session, encode_frame(err))]

    async def _internal_error(self, handle: RoomHandle, room: Room, exc: Exception, since: RawVersion, what: str) -> None:
        """Log and count a bug met in ``room`` (now failed), then load the document
        again from the store and move the room's connections to it."""
        log.error(
            "internal error in document %r while handling %s; reloading it from the store",
            handle.doc_id, what, exc_info=exc,
        )
        self.metrics.internal_errors.inc()
        self.metrics.errors.labels(code="internal").inc()
        await self._reload(handle, room, since)

    async def _reload(self, handle: RoomHandle, room: Room, since: RawVersion) -> None:
        """Load ``handle``'s document again from the store and move the connections of
        ``room`` (failed) to it; they get what it holds beyond ``since``."""
        try:
            new, info = await self._load(handle.doc_id)
        except Exception:
            log.exception("reloading document %r failed; disconnecting its clients", handle.doc_id)
            self.deliver(room.fail("the document is being reloaded; reconnect", fatal=False))
            if self._rooms.get(handle.doc_id) is handle:
                self.drop(handle.doc_id)
            return
        sends = new.adopt(room, since)
        handle.room = new
        handle.seq = info.seq
        handle.counted(info)
        self.deliver(sends)

    def _snapshot_due(self, handle: RoomHandle) -> bool:
        lim = self.limits
        if handle.entries_since_snapshot < lim.snapshot_min_entries:
            return False
        work = handle.bytes_since_snapshot + lim.snapshot_entry_bytes * handle.entries_since_snapshot
        return work >= lim.snapshot_ratio * handle.snapshot_bytes

    # -- other servers' commits --------------------------------------------------------

    async def catch_up_locked(self, handle: RoomHandle, *, strict: bool = False) -> int:
        """Apply the store's log entries after ``handle.seq`` (committed by other servers)
        to the room, which sends them to its connections (call with the room lock held).
        Returns how many entries were read.  A store failure is logged and leaves the room
        as it is (the next catch-up tries again), and while the store breaker is open
        nothing is read; with ``strict`` (closing the breaker) the store is read anyway and
        its failure raised.  An entry that does not apply, or a log pruned past
        ``handle.seq``, reloads the room from the store."""
        if not self.is_live(handle) or not (strict or self.health.up):
            return 0
        room = handle.room
        try:
            entries = await self._call(self.store.log_since, handle.doc_id, handle.seq)
        except HistoryPruned:
            log.warning("the log of %r was pruned past seq %d; reloading the room", handle.doc_id, handle.seq)
            room.failed = True
            await self._reload(handle, room, room.doc.version)
            return 0
        except StoreError as exc:
            if strict:
                raise
            log.warning("catching up %r from the store failed: %s", handle.doc_id, exc)
            return 0
        if not self.is_live(handle) or handle.room is not room:
            return 0
        for seq, patch in entries:
            if seq <= handle.seq:
                continue
            failed_at = self._apply_entry(handle, seq, patch)
            if failed_at is not None:
                await self._reload(handle, room, failed_at)
                return len(entries)
        if entries:
            self.metrics.catchup_entries.inc(len(entries))
        return len(entries)

    def _apply_entry(self, handle: RoomHandle, seq: int, patch: bytes) -> RawVersion | None:
        """Apply one committed log entry to the room.  None if it applied; if it failed
        (the room is then failed), the version the room's connections had been sent."""
        room = handle.room
        before = room.doc.version
        try:
            sends = room.apply_remote(patch)
        except Exception:
            # A committed entry the room cannot take is a bug (or a store that lies): as
            # visible as any other, though the room heals by loading from the store.
            log.exception("log entry %d of %r does not apply to the loaded room; reloading it", seq, handle.doc_id)
            self.metrics.internal_errors.inc()
            room.failed = True
            return before
        handle.seq = seq
        handle.entries_since_snapshot += 1
        handle.bytes_since_snapshot += len(patch)
        self.deliver(sends)
        return None

    async def notified(self, doc_id: str, seq: int, patch: bytes | None) -> None:
        """Another server committed entry ``seq`` of ``doc_id`` (``patch``: its bytes, if the
        notice carried them).  The next entry is applied as it is; anything else (a gap,
        no patch) is caught up from the store.  Rooms not loaded here are not concerned."""
        handle = self._rooms.get(doc_id)
        if handle is None or seq <= handle.seq:
            return
        async with handle.lock:
            if not self.is_live(handle) or seq <= handle.seq:
                return
            if patch is not None and seq == handle.seq + 1:
                room = handle.room
                failed_at = self._apply_entry(handle, seq, patch)
                if failed_at is not None:
                    await self._reload(handle, room, failed_at)
                return
            if patch is not None:
                self.metrics.fanout_gaps.inc()
            await self.catch_up_locked(handle)

    async def catch_up_all(self) -> None:
        """Catch every loaded room up from the store (reconciliation; after a reconnect).
        Nothing while the store breaker is open (its own recovery catches up)."""
        for handle in list(self._rooms.values()):
            if not self.is_live(handle) or not self.health.up:
                continue
            async with handle.lock:
                await self.catch_up_locked(handle)

    async def recover(self) -> bool:
        """The store answers again after an outage: catch every loaded room up from it
        before anything is acknowledged again (other servers committed meanwhile; their
        notices, if any, were for entries this server could not read).  A document whose
        stored log is now *shorter* than what the room holds (the database was restored,
        or failed over to a replica that lacked the newest commits) is loaded again.
        True if every room caught up; False (the breaker stays open) if the store
        failed again."""
        for handle in list(self._rooms.values()):
            if not self.is_live(handle):
                continue
            try:
                async with handle.lock:
                    if not self.is_live(handle):
                        continue
                    info = await self._call(self.store.info, handle.doc_id)
                    if info.seq < handle.seq:
                        log.warning(
                            "the stored log of %r ends at seq %d, before the room's %d: reloading it",
                            handle.doc_id, info.seq, handle.seq,
                        )
                        room = handle.room
                        room.failed = True
                        await self._reload(handle, room, room.doc.version)
                        continue
                    await self.catch_up_locked(handle, strict=True)
            except DocumentNotFound:
                self.drop(handle.doc_id, handle)  # deleted meanwhile (its clients were closed)
            except StoreError as exc:
                log.warning("catching up %r after the store came back failed: %s", handle.doc_id, exc)
                return False
        return True

    async def _snapshot(self, handle: RoomHandle) -> None:
        if not self.health.up:  # the log has everything; a snapshot can wait
            return
        if self.shared:  # hold what others appended first: the snapshot then covers it too
            await self.catch_up_locked(handle)
            if not self.is_live(handle):
                return
        doc = handle.room.doc
        try:
            await self._call(self.store.snapshot, handle.doc_id, doc.copy())
            info = await self._call(self.store.info, handle.doc_id)
        except StoreUnavailable as exc:  # an outage (the breaker opened): try again later
            log.warning("snapshot of %s failed: %s", handle.doc_id, exc)
            return
        except Exception:  # the log still has everything: a snapshot is only an optimisation
            if self.shared and await self._snapshot_overtaken(handle):
                return
            log.exception("snapshot of %s failed", handle.doc_id)
            # Try again only after as much work again (not at every batch).
            handle.entries_since_snapshot = handle.bytes_since_snapshot = 0
            return
        handle.counted(info)

    async def _snapshot_overtaken(self, handle: RoomHandle) -> bool:
        """True if the store refused our snapshot because another server stored a newer one
        between our catch-up and our write (it holds ops we lack): expected in a cluster."""
        try:
            info = await self._call(self.store.info, handle.doc_id)
        except Exception:
            return False
        if info.snapshot_seq <= handle.seq:
            return False
        log.info("snapshot of %s: another server stored a newer one (seq %d); keeping it",
                 handle.doc_id, info.snapshot_seq)
        handle.counted(info)
        return True

    async def unload_idle(self) -> None:
        """Snapshot and unload rooms that have had no connection for a while."""
        now = time.monotonic()
        for doc_id, handle in list(self._rooms.items()):
            if handle.connections == 0 and now - handle.idle_since >= self.limits.idle_unload_seconds:
                async with handle.lock:
                    if handle.connections or self._rooms.get(doc_id) is not handle:
                        continue
                    if handle.entries_since_snapshot and not handle.room.failed:
                        await self._snapshot(handle)
                    self.drop(doc_id)

    async def close(self) -> None:
        for handle in list(self._rooms.values()):
            async with handle.lock:
                if handle.entries_since_snapshot and not handle.room.failed:
                    await self._snapshot(handle)
        self._rooms.clear()
        if self.committer is not None:
            await self.committer.close()
