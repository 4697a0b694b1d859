"""Several servers on one shared store: commit notices through Redis, catch-up from the store.

The order of a document's ops is decided by the store alone (PostgreSQL: the gap-free
per-document log ``seq``, taken under a row lock).  Redis only carries *notices*: after a
server has committed entry ``seq`` of a document and delivered its ACK, it publishes
``(server, doc, seq, patch)`` on one channel (the patch only if it is small).  Every other
server that has the document loaded applies the entry if it is the next one it expects
(:meth:`Rooms.notified`), and otherwise reads what it lacks from the store's log
(:meth:`Rooms.catch_up_locked`).  Nothing that is not committed is ever published, and
losing a notice only delays a room until the next reconciliation.

:class:`Fanout` runs three tasks:

* the subscriber: (re)connects to Redis, subscribes, catches every loaded room up from
  the store, and only then closes the breaker (``cowrite_fanout_up`` 1);
* the publisher: one queue, published in order; a failure opens the breaker and makes
  the subscriber reconnect;
* reconciliation: every ``Limits.reconcile_seconds`` while the breaker is closed, every
  ``Limits.poll_seconds`` while it is open (Redis down, or no Redis at all: then the
  servers converge by polling alone), each loaded room reads the log after its seq.

Without Redis (``redis_url=None``) only the reconciliation runs.  With Redis, the
subscriber also listens on ``<prefix>:presence`` for the other servers' connections'
presence, handed to :attr:`Fanout.presence` (``presence.py``), which runs with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from typing import Any

from ..errors import ConfigError
from .metrics import Metrics
from .presence import PresenceHub
from .rooms import Limits, Rooms

__all__ = ["Fanout", "decode_notice", "default_server_id", "encode_notice"]

log = logging.getLogger("cowrite.server.fanout")

MAX_INLINE_PATCH = 64 << 10
"""A notice carries the patch only up to this size; a bigger one is read from the store."""

_QUEUE = 10_000  # notices waiting to be published (beyond: dropped; reconciliation covers them)


def default_server_id() -> str:
    """``<host>-<pid>-<random>``: unique per process, without spaces."""
    host = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}-{random.randrange(1 << 32):08x}"


def encode_notice(server_id: str, doc_id: str, seq: int, patch: bytes | None) -> bytes:
    head = f"{server_id} {doc_id} {seq} {0 if patch is None else 1}\n".encode()
    return head + (patch or b"")


def decode_notice(data: bytes) -> tuple[str, str, int, bytes | None]:
    """``(server_id, doc_id, seq, patch or None)``; ValueError if malformed."""
    head, sep, body = data.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    server_id, doc_id, seq, has_patch = head.decode("ascii").split(" ")
    n = int(seq)
    if n < 1 or has_patch not in ("0", "1"):
        raise ValueError(f"bad header {head!r}")
    return server_id, doc_id, n, body if has_patch == "1" else None


class Fanout:
    """Keeps the loaded rooms of one server in step with the other servers' commits."""

    def __init__(
        self,
        rooms: Rooms,
        metrics: Metrics,
        limits: Limits,
        *,
        redis_url: str | None = None,
        server_id: str | None = None,
        prefix: str = "cowrite",
    ) -> None:
        self.rooms = rooms
        self.metrics = metrics
        self.limits = limits
        self.redis_url = redis_url
        self.server_id = server_id or default_server_id()
        if not 0 < len(self.server_id) <= 64 or any(ch.isspace() for ch in self.server_id):
            raise ConfigError(f"a server id is 1..64 characters without spaces, not {self.server_id!r}")
        self.channel = f"{prefix}:commits"
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(_QUEUE)
        self._healthy = False
        self._reset = asyncio.Event()  # the publisher failed: the subscriber reconnects
        self._opened = asyncio.Event()  # the breaker opened: reconciliation polls at once
        self._tasks: set[asyncio.Task[None]] = set()
        self.breaker_opened = 0  # how many times the breaker opened (tests, logs)
        self.presence: PresenceHub | None = None
        """Presence across servers (with Redis only): published while the breaker is closed."""
        metrics.fanout_up.set(0)
        if redis_url is not None:
            rooms.on_commit = self.publish
            self.presence = PresenceHub(rooms, redis_url, self.server_id, prefix=prefix, healthy=lambda: self._healthy)

    @property
    def healthy(self) -> bool:
        """The breaker is closed: Redis answers and every room has caught up since it connected."""
        return self._healthy

    def _open(self, why: str) -> None:
        if self._healthy:
            log.warning("Redis fan-out down (%s): rooms poll the store every %g s", why, self.limits.poll_seconds)
            self.breaker_opened += 1
        self._healthy = False
        self.metrics.fanout_up.set(0)
        self._opened.set()

    def publish(self, doc_id: str, seq: int, patch: bytes) -> None:
        """Queue the notice of a committed entry (never blocks the room)."""
        data = encode_notice(self.server_id, doc_id, seq, patch if len(patch) <= MAX_INLINE_PATCH else None)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(data)

    async def run(self) -> None:
        """Run until cancelled."""
        jobs = [self._reconcile()]
        if self.redis_url is not None:
            jobs += [self._subscribe(), self._publish()]
        if self.presence is not None:
            jobs.append(self.presence.run())
        tasks = [asyncio.create_task(job) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    def _client(self, **kw: Any) -> Any:
        import redis.asyncio as aioredis

        assert self.redis_url is not None
        return aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2, **kw)

    async def _reconcile(self) -> None:
        while True:
            lim = self.limits
            self._opened.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._opened.wait(), lim.reconcile_seconds if self._healthy else lim.poll_seconds)
            try:
                await self.rooms.catch_up_all()
            except Exception:  # pragma: no cover - keep reconciling
                log.exception("reconciling the rooms with the store failed")

    async def _publish(self) -> None:
        from redis.exceptions import RedisError

        client = self._client(socket_timeout=2)
        try:
            while True:
                data = await self._queue.get()
                try:
                    await client.publish(self.channel, data)
                    self.metrics.fanout_published.inc()
                except (RedisError, OSError) as exc:
                    self.metrics.fanout_errors.inc()
                    self._open(f"publish: {exc}")
                    self._reset.set()
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _subscribe(self) -> None:
        from redis.exceptions import RedisError

        failures = 0
        while True:
            client = self._client(health_check_interval=2)
            pubsub = client.pubsub()
            try:
                channels = [self.channel] if self.presence is None else [self.channel, self.presence.channel]
                await pubsub.subscribe(*channels)
                self._reset.clear()
                # Notices published while we were not subscribed are lost: catch up first.
                await self.rooms.catch_up_all()
                if not self._healthy:
                    log.warning("Redis fan-out up (%s): breaker closed", self.channel)
                self._healthy = True
                self.metrics.fanout_up.set(1)
                failures = 0
                while not self._reset.is_set():
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        if self.presence is not None and msg.get("channel") == self.presence.channel.encode():
                            self.rooms.deliver(self.presence.received(msg["data"]))
                        else:
                            self._received(msg["data"])
                self._open("a publish failed; reconnecting")
            except (RedisError, OSError) as exc:
                self.metrics.fanout_errors.inc()
                self._open(str(exc) or type(exc).__name__)
                failures += 1
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            # full jitter, capped at 2 s: the store is polled meanwhile
            await asyncio.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** min(failures, 6))))

    def _received(self, data: object) -> None:
        if not isinstance(data, bytes):
            return
        try:
            server_id, doc_id, seq, patch = decode_notice(data)
        except (ValueError, UnicodeDecodeError):
            log.warning("ignoring a malformed notice on %s", self.channel)
            return
        if server_id == self.server_id:
            return
        self.metrics.fanout_received.inc()
        task = asyncio.create_task(self._apply(doc_id, seq, patch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply(self, doc_id: str, seq: int, patch: bytes | None) -> None:
        try:
            await self.rooms.notified(doc_id, seq, patch)
        except Exception:
            log.exception("applying the notice of %r seq %d failed", doc_id, seq)
