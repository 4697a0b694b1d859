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

* the subscriber: (re)connects to Redis, subscribes, waits for Redis to answer a PING on
  the subscribed connection (so the subscription is in place), catches every loaded room
  up from the store, and only then closes the breaker (``cowrite_fanout_up`` 1).  While
  subscribed it PINGs every ``Limits.redis_heartbeat_seconds``; a PING that nothing at
  all answered for ``Limits.redis_timeout_seconds`` (:class:`Heartbeat`) opens the
  breaker and the connection is made again.  A partition does not reset connections,
  it swallows packets: without the heartbeat a subscriber would wait for notices
  forever while the other servers' commits arrived by reconciliation only;
* the publisher: one queue, published in order, each publish given up after
  ``Limits.redis_timeout_seconds``; a failure opens the breaker and makes the subscriber
  reconnect, and the notices queued after it are dropped (not tried one by one, each
  waiting its deadline) until the subscriber is back;
* reconciliation: every ``Limits.reconcile_seconds`` while the breaker is closed, every
  ``Limits.poll_seconds`` while it is open (Redis down, or no Redis at all: then the
  servers converge by polling alone), each loaded room reads the log after its seq.

Every Redis call is bounded twice: by the client's socket timeouts and by an
``asyncio.wait_for`` around it (redis-py's own timeouts do not cover every path, e.g. a
connection handshake or a pipeline); a call given up on leaves its connection unusable,
so the client is closed and made again.

Comment and suggestion changes take a channel of their own, ``<prefix>:notices``: after a
server told its sockets that a document's comments (or suggestions) moved to a revision
(``comments.py``, ``suggestions.py``), it publishes ``(server, doc, kind, revision)``
there through the same queue, and every other server with the document loaded hands it
to :attr:`Fanout.on_change` (the same notify path as its own changes).  Such a notice
carries nothing the store does not have: a lost one waits for the servers' slower look
at the store, a forged one only makes clients fetch a list again.

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
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..errors import ConfigError, StoreError
from .metrics import Metrics
from .presence import PresenceHub
from .rooms import Limits, Rooms

__all__ = [
    "CHANGE_KINDS",
    "Fanout",
    "Heartbeat",
    "decode_change",
    "decode_notice",
    "default_server_id",
    "encode_change",
    "encode_notice",
]

log = logging.getLogger("cowrite.server.fanout")

MAX_INLINE_PATCH = 64 << 10
"""A notice carries the patch only up to this size; a bigger one is read from the store."""

CHANGE_KINDS = ("comments", "suggestions")
"""What a change notice on ``<prefix>:notices`` may be about."""
MAX_CHANGE_NOTICE = 1024
"""A change notice is one short line; anything longer is not one (and is not decoded)."""
_MAX_REVISION = (1 << 63) - 1

_QUEUE = 10_000  # notices waiting to be published (beyond: dropped; reconciliation covers them)
HEARTBEAT = b"cowrite-heartbeat"
"""The payload of the subscriber's PINGs (answered as a ``pong`` message on the subscribed connection)."""
MIN_READ_SECONDS = 0.1
"""The shortest wait for a message: long enough to read what is already buffered, so that a
loop that was busy for a while does not take Redis for lost before reading its answer."""

_T = TypeVar("_T")


class Heartbeat:
    """Whether a subscribed connection still hears from Redis: a PING every ``interval``;
    the link counts as lost once a PING was sent and nothing at all (its PONG, a notice,
    presence) arrived for ``timeout`` seconds after it.

    Pure bookkeeping (the caller passes the clock), so that the deadline logic is tested
    with a fake clock.  Only a read that returned nothing leads to :meth:`lost` being
    asked: an event loop that was blocked longer than ``timeout`` first reads what
    arrived meanwhile, and is not fooled into reconnecting a healthy link."""

    def __init__(self, interval: float, timeout: float) -> None:
        if not 0 < interval < timeout:
            raise ConfigError(
                f"the Redis heartbeat ({interval!r} s) must be positive and shorter than the Redis timeout ({timeout!r} s)"
            )
        self.interval = interval
        self.timeout = timeout
        self.last_ping: float | None = None
        self.unanswered_since: float | None = None
        """When the first PING sent after the last message heard went out (None: none is outstanding)."""

    def ping_due(self, now: float) -> bool:
        return self.last_ping is None or now - self.last_ping >= self.interval

    def pinged(self, now: float) -> None:
        self.last_ping = now
        if self.unanswered_since is None:
            self.unanswered_since = now

    def heard(self, now: float) -> None:
        """A message arrived: the link works (whatever PINGs were outstanding)."""
        self.unanswered_since = None

    def lost(self, now: float) -> bool:
        return self.unanswered_since is not None and now - self.unanswered_since >= self.timeout

    def wait(self, now: float) -> float:
        """How long to wait for a message now: until the next PING is due or the link
        would count as lost, whichever comes first (at least ``MIN_READ_SECONDS``)."""
        until = self.interval if self.last_ping is None else self.last_ping + self.interval - now
        if self.unanswered_since is not None:
            until = min(until, self.unanswered_since + self.timeout - now)
        return max(MIN_READ_SECONDS, until)


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


def encode_change(server_id: str, doc_id: str, kind: str, revision: int) -> bytes:
    return f"{server_id} {doc_id} {kind} {revision}".encode()


def decode_change(data: bytes) -> tuple[str, str, str, int]:
    """``(server_id, doc_id, kind, revision)``; ValueError if malformed (Redis is not trusted)."""
    if len(data) > MAX_CHANGE_NOTICE:
        raise ValueError(f"a change notice of {len(data)} bytes")
    server_id, doc_id, kind, revision = data.decode("ascii").split(" ")
    n = int(revision)
    if not server_id or not doc_id or kind not in CHANGE_KINDS or not 0 <= n <= _MAX_REVISION:
        raise ValueError(f"bad change notice {data!r}")
    return server_id, doc_id, kind, n


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
        self.changes_channel = f"{prefix}:notices"
        Heartbeat(limits.redis_heartbeat_seconds, limits.redis_timeout_seconds)  # ConfigError at start, not at connect
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(_QUEUE)  # (channel, notice)
        self._healthy = False
        self._reset = asyncio.Event()  # the publisher failed: the subscriber reconnects
        self._opened = asyncio.Event()  # the breaker opened: reconciliation polls at once
        self._publish_down = False  # a publish failed: drop notices until the subscriber is back
        self._tasks: set[asyncio.Task[None]] = set()
        self.breaker_opened = 0  # how many times the breaker opened (tests, logs)
        self.on_change: dict[str, Callable[[str, int], None]] = {}
        """kind -> ``notify(doc_id, revision)``: another server's comment or suggestion change."""
        self.presence: PresenceHub | None = None
        """Presence across servers (with Redis only): published while the breaker is closed."""
        metrics.fanout_up.set(0)
        if redis_url is not None:
            rooms.on_commit = self.publish
            self.presence = PresenceHub(
                rooms, redis_url, self.server_id, prefix=prefix, healthy=lambda: self._healthy,
                timeout_seconds=limits.redis_timeout_seconds,
            )

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
            self._queue.put_nowait((self.channel, data))

    def publish_change(self, doc_id: str, kind: str, revision: int) -> None:
        """Queue the notice that this server's sockets of ``doc_id`` were told of a new
        comments or suggestions ``revision`` (never blocks the request; without Redis, or
        with the queue full, the other servers see it on their next look at the store)."""
        if self.redis_url is None:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((self.changes_channel, encode_change(self.server_id, doc_id, kind, revision)))

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
        deadline = self.limits.redis_timeout_seconds
        return aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=deadline, socket_timeout=deadline, **kw)

    async def _bounded(self, call: Awaitable[_T], extra: float = 0.0) -> _T:
        """``call``, given up (TimeoutError) after ``Limits.redis_timeout_seconds`` (+ ``extra``:
        the read timeout of a ``get_message``, which returns by itself before)."""
        return await asyncio.wait_for(call, self.limits.redis_timeout_seconds + extra)

    async def _close(self, *closables: Any) -> None:
        """Close redis-py clients and pubsubs, each within the deadline (a dead link must not hold us)."""
        for c in closables:
            if c is not None:
                with contextlib.suppress(Exception):
                    await self._bounded(c.aclose())

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

        client: Any = None
        try:
            while True:
                channel, data = await self._queue.get()
                if self._publish_down:
                    # Redis did not take the last one: the subscriber reconnects, the other
                    # servers reconcile; trying each queued notice would take a deadline each.
                    continue
                try:
                    if client is None:
                        client = self._client()
                    await self._bounded(client.publish(channel, data))
                    self.metrics.fanout_published.inc()
                except (RedisError, OSError) as exc:  # OSError: TimeoutError too
                    self.metrics.fanout_errors.inc()
                    self._publish_down = True
                    self._open(f"publish: {exc or f'no answer within {self.limits.redis_timeout_seconds:g} s'}")
                    self._reset.set()
                    # a call given up on may have left its connection mid-reply: start afresh
                    await self._close(client)
                    client = None
        finally:
            await self._close(client)

    def _channels(self) -> list[str]:
        own = [self.channel, self.changes_channel]
        return own if self.presence is None else [*own, self.presence.channel]

    async def _subscribe(self) -> None:
        from redis.exceptions import RedisError

        failures = 0
        while True:
            client = self._client()
            pubsub = client.pubsub()
            try:
                await self._bounded(pubsub.subscribe(*self._channels()))
                self._reset.clear()
                await self._confirm(pubsub)
                # Notices published while we were not subscribed are lost: catch up first.
                await self.rooms.catch_up_all()
                if not self._healthy:
                    log.warning("Redis fan-out up (%s): breaker closed", self.channel)
                self._publish_down = False
                self._healthy = True
                self.metrics.fanout_up.set(1)
                failures = 0
                why = await self._listen(pubsub)
                if why != "reset":
                    self.metrics.fanout_errors.inc()
                self._open(why if why != "reset" else "a publish failed; reconnecting")
            except (RedisError, OSError) as exc:  # OSError: TimeoutError (a deadline) too
                self.metrics.fanout_errors.inc()
                self._open(str(exc) or f"no answer from Redis within {self.limits.redis_timeout_seconds:g} s")
                failures += 1
            except StoreError as exc:  # catching up: the store breaker's recovery takes it from here
                log.warning("catching the rooms up after subscribing failed: %s", exc)
                failures += 1
            finally:
                await self._close(pubsub, client)
            # full jitter, capped at 2 s: the store is polled meanwhile
            await asyncio.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** min(failures, 6))))

    async def _confirm(self, pubsub: Any) -> None:
        """Wait until Redis answers a PING on the subscribed connection: its PONG comes after
        the subscriptions' confirmations, so they are in place (SUBSCRIBE itself does not wait
        for its answer).  Messages arriving meanwhile are handled.  TimeoutError if no PONG
        within the deadline (a black-holed Redis accepts connections, answers nothing)."""
        deadline = time.monotonic() + self.limits.redis_timeout_seconds
        await self._bounded(pubsub.ping(HEARTBEAT))
        while (left := deadline - time.monotonic()) > 0:
            msg = await self._bounded(pubsub.get_message(ignore_subscribe_messages=True, timeout=left), left)
            if msg is None:
                continue
            if msg.get("type") == "pong":
                return
            self._handle(msg)
        raise TimeoutError(f"Redis did not confirm the subscription within {self.limits.redis_timeout_seconds:g} s")

    async def _listen(self, pubsub: Any) -> str:
        """Handle messages until the publisher asks for a reconnect (``"reset"``) or Redis
        stops answering the heartbeat (returns why)."""
        beat = Heartbeat(self.limits.redis_heartbeat_seconds, self.limits.redis_timeout_seconds)
        while not self._reset.is_set():
            now = time.monotonic()
            if beat.ping_due(now):
                await self._bounded(pubsub.ping(HEARTBEAT))
                beat.pinged(now)
            wait = beat.wait(now)
            msg = await self._bounded(pubsub.get_message(ignore_subscribe_messages=True, timeout=wait), wait)
            now = time.monotonic()
            if msg is not None:
                beat.heard(now)
                self._handle(msg)
            elif beat.lost(now):
                return f"no answer from Redis for {beat.timeout:g} s; reconnecting"
        return "reset"

    def _handle(self, msg: dict[str, Any]) -> None:
        """A message on a subscribed channel (pongs and confirmations are not handled)."""
        if msg.get("type") != "message":
            return
        if self.presence is not None and msg.get("channel") == self.presence.channel.encode():
            self.rooms.deliver(self.presence.received(msg["data"]))
        elif msg.get("channel") == self.changes_channel.encode():
            self._changed(msg["data"])
        else:
            self._received(msg["data"])

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

    def _changed(self, data: object) -> None:
        """Another server's comment or suggestion change: its sockets were told, tell ours."""
        if not isinstance(data, bytes):
            return
        try:
            server_id, doc_id, kind, revision = decode_change(data)
        except (ValueError, UnicodeDecodeError):
            log.warning("ignoring a malformed notice on %s", self.changes_channel)
            return
        notify = self.on_change.get(kind)
        if server_id == self.server_id or notify is None or self.rooms.loaded(doc_id) is None:
            return
        self.metrics.fanout_received.inc()
        try:
            notify(doc_id, revision)
        except Exception:
            log.exception("notifying the sockets of %r of a %s change failed", doc_id, kind)

    async def _apply(self, doc_id: str, seq: int, patch: bytes | None) -> None:
        try:
            await self.rooms.notified(doc_id, seq, patch)
        except Exception:
            log.exception("applying the notice of %r seq %d failed", doc_id, seq)
