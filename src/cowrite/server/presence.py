"""Presence across servers: who is where in a document, through Redis, with expiry.

Presence is ephemeral: never in the store, never acknowledged.  Each server relays its
own connections' ``PRESENCE`` frames (cursor, selection, name; or *gone* when they
leave) to the other servers on the channel ``<prefix>:presence``, and keeps them in a
Redis hash per document, ``<prefix>:pres:<doc>`` (field ``<server> <agent>``, value
``<expiry ms>\\n<frame>``), which a server reads when one of its clients joins.

* **Throttle**: a connection's frames are coalesced (latest wins) and published at most
  every ``throttle_seconds`` (50 ms).
* **Expiry**: every ``refresh_seconds`` (2 s) a server publishes (and writes to the hash)
  the presence of every connection it serves that has one.  A remote presence not
  refreshed within ``ttl_seconds`` (6 s) is announced as gone to the local clients:
  a killed server's cursors vanish within seconds, and so does one whose *gone* was lost.
* **Redis down** (the fan-out's breaker open): nothing is published, remote presence
  expires, and presence stays within each server; once Redis is back the next refresh
  publishes everything again.  A Redis that stops answering (a partition) is noticed by
  the fan-out's heartbeat within seconds; until then every write here is given up after
  ``timeout_seconds``, one at a time (frames are coalesced meanwhile, nothing piles up),
  and at most one read of a document's hash is in flight.

The subscription is the fan-out's (:class:`~cowrite.server.fanout.Fanout` subscribes to
this channel too and hands its messages to :meth:`PresenceHub.received`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ..protocol import ProtocolError
from ..protocol.messages import Presence, decode_frame, encode_frame
from ..protocol.server import Send, ServerSession
from .rooms import Rooms

__all__ = ["PresenceHub", "decode_presence", "encode_presence"]

log = logging.getLogger("cowrite.server.presence")

MAX_PRESENCE_FRAME = 16 << 10
"""A PRESENCE frame is a few KiB at most (names, colours and positions are bounded)."""
MAX_REMOTE_PER_DOC = 1024
"""Remote connections' presence kept per document (beyond: ignored until some expire)."""


def encode_presence(server_id: str, doc_id: str, frame: bytes) -> bytes:
    return f"{server_id} {doc_id}\n".encode() + frame


def _check(frame: bytes) -> Presence:
    if len(frame) > MAX_PRESENCE_FRAME:
        raise ValueError("presence frame too large")
    try:
        msg = decode_frame(frame, MAX_PRESENCE_FRAME)
    except ProtocolError as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(msg, Presence):
        raise ValueError(f"not a PRESENCE frame: {type(msg).__name__}")
    return msg


def decode_presence(data: bytes) -> tuple[str, str, Presence]:
    """``(server_id, doc_id, presence)``; ValueError if malformed."""
    head, sep, frame = data.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    server_id, doc_id = head.decode("ascii").split(" ")
    if not server_id or not doc_id:
        raise ValueError(f"bad header {head!r}")
    return server_id, doc_id, _check(frame)


class PresenceHub:
    """The presence of this server's connections, published; the others', relayed."""

    def __init__(
        self,
        rooms: Rooms,
        redis_url: str,
        server_id: str,
        *,
        prefix: str = "cowrite",
        healthy: Any = None,
        throttle_seconds: float = 0.05,
        refresh_seconds: float = 2.0,
        ttl_seconds: float = 6.0,
        timeout_seconds: float = 3.0,
    ) -> None:
        self.rooms = rooms
        self.redis_url = redis_url
        self.server_id = server_id
        self.prefix = prefix
        self.channel = f"{prefix}:presence"
        self._healthy = healthy if healthy is not None else (lambda: True)
        self.throttle_seconds = throttle_seconds
        self.refresh_seconds = refresh_seconds
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_seconds
        """A Redis call (a write, a hash read) not answered within this long is given up."""
        self._dirty: dict[tuple[str, str], tuple[bytes, bool]] = {}  # (doc, agent) -> latest (frame, gone)
        self._local: dict[tuple[str, str], ServerSession] = {}  # this server's connections with a presence
        self._wake = asyncio.Event()
        # doc -> (server, agent) -> (presence, monotonic expiry)
        self.remote: dict[str, dict[tuple[str, str], tuple[Presence, float]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reading: set[str] = set()  # documents whose hash is being read (one read each at a time)
        self.published = 0  # frames published (tests)
        self.refreshes = 0  # refresh rounds run (tests)
        self._reader: Any = None  # the client that reads the hashes at joins (while running)

    def _key(self, doc_id: str) -> str:
        return f"{self.prefix}:pres:{doc_id}"

    # -- this server's connections ------------------------------------------------------

    def local(self, doc_id: str, session: ServerSession) -> None:
        """``session`` sent PRESENCE (or its presence went): publish it (coalesced)."""
        p = session.presence
        key = (doc_id, session.agent)
        if p is None:
            self._local.pop(key, None)
            self._dirty[key] = (encode_frame(Presence(session.agent, session.name, "", None, True)), True)
        else:
            self._local[key] = session
            self._dirty[key] = (encode_frame(p), False)
        self._wake.set()

    def left(self, doc_id: str, session: ServerSession) -> None:
        """``session`` left: its presence is gone elsewhere too (unless another connection
        of this server serves the same agent now)."""
        key = (doc_id, session.agent)
        if self._local.get(key) is not session:
            return  # it showed no presence, or a newer connection of the same agent has it now
        self._local.pop(key, None)
        self._dirty[key] = (encode_frame(Presence(session.agent, session.name, "", None, True)), True)
        self._wake.set()

    # -- other servers' connections -----------------------------------------------------

    def received(self, data: object) -> list[Send]:
        """A message on the presence channel: the frames for this server's clients."""
        if not isinstance(data, bytes):
            return []
        try:
            server_id, doc_id, p = decode_presence(data)
        except (ValueError, UnicodeDecodeError):
            log.warning("ignoring a malformed message on %s", self.channel)
            return []
        if server_id == self.server_id:
            return []
        return self._remote(doc_id, server_id, p)

    def _remote(self, doc_id: str, server_id: str, p: Presence, expires: float | None = None) -> list[Send]:
        handle = self.rooms.loaded(doc_id)
        if handle is None:  # nobody here cares; a join reads the hash
            return []
        entries = self.remote.setdefault(doc_id, {})
        key = (server_id, p.agent)
        if p.gone:
            if entries.pop(key, None) is None:
                return []
            return handle.room.remote_presence(p)
        if key not in entries and len(entries) >= MAX_REMOTE_PER_DOC:
            return []
        old = entries.get(key)
        entries[key] = (p, time.monotonic() + self.ttl_seconds if expires is None else expires)
        if old is not None and old[0] == p:
            return []  # a refresh: nothing new to show
        return handle.room.remote_presence(p)

    def joined(self, doc_id: str, session: ServerSession) -> list[Send]:
        """What ``session`` (just joined here) must see of other servers' connections now;
        the hash in Redis is read too, in the background, for what is not known yet."""
        known = self.remote.get(doc_id, {}).values()
        sends = [Send(session, encode_frame(p)) for p, _ in known if p.agent != session.agent]
        if self._healthy() and self._reader is not None and doc_id not in self._reading:
            # a read in flight delivers what it finds to the whole room, this session included
            self._reading.add(doc_id)
            task = asyncio.create_task(self._read(self._reader, doc_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return sends

    async def _read(self, client: Any, doc_id: str) -> None:
        from redis.exceptions import RedisError

        try:
            raw: dict[bytes, bytes] = await asyncio.wait_for(client.hgetall(self._key(doc_id)), self.timeout_seconds)
            now_ms = int(time.time() * 1000)
            stale: list[bytes] = []
            sends: list[Send] = []
            for field, value in raw.items():
                try:
                    server_id, _agent = field.decode().split(" ", 1)
                    expiry, _, frame = value.partition(b"\n")
                    left_ms = int(expiry) - now_ms
                    if left_ms <= 0:
                        stale.append(field)
                        continue
                    p = _check(frame)
                except (ValueError, UnicodeDecodeError):
                    stale.append(field)
                    continue
                if server_id != self.server_id and not p.gone:
                    sends += self._remote(doc_id, server_id, p, time.monotonic() + min(left_ms / 1000, self.ttl_seconds))
            self.rooms.deliver(sends)
            if stale:
                await asyncio.wait_for(client.hdel(self._key(doc_id), *stale), self.timeout_seconds)
        except (RedisError, OSError) as exc:  # OSError: TimeoutError (the deadline) too
            log.debug("reading the presence of %r failed: %s", doc_id, exc or type(exc).__name__)
        finally:
            self._reading.discard(doc_id)

    def expire(self, now: float | None = None) -> list[Send]:
        """Drop remote presence not refreshed in time: *gone* to the local clients."""
        now = time.monotonic() if now is None else now
        sends: list[Send] = []
        for doc_id, entries in list(self.remote.items()):
            handle = self.rooms.loaded(doc_id)
            for key, (p, until) in list(entries.items()):
                if until <= now:
                    del entries[key]
                    if handle is not None:
                        sends += handle.room.remote_presence(Presence(p.agent, p.user, "", None, True))
            if not entries:
                del self.remote[doc_id]
        return sends

    # -- tasks --------------------------------------------------------------------------

    def _client(self) -> Any:
        import redis.asyncio as aioredis

        t = min(1.0, self.timeout_seconds)
        return aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=t, socket_timeout=t)

    async def run(self) -> None:
        """Publish, refresh and expire until cancelled."""
        self._reader = self._client()
        tasks = [asyncio.create_task(job) for job in (self._publish(), self._refresh(), self._expire())]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in [*tasks, *self._tasks]:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            reader, self._reader = self._reader, None
            with contextlib.suppress(Exception):
                await reader.aclose()

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(min(0.5, self.ttl_seconds / 4))
            try:
                self.rooms.deliver(self.expire())
            except Exception:  # pragma: no cover - keep expiring
                log.exception("expiring remote presence failed")

    def _current(self) -> dict[tuple[str, str], tuple[bytes, bool]]:
        """The presence of every connection this server serves that has one."""
        out: dict[tuple[str, str], tuple[bytes, bool]] = {}
        for key, s in list(self._local.items()):
            if not s.joined or s.presence is None:  # superseded or gone without a leave seen
                del self._local[key]
                continue
            out[key] = (encode_frame(s.presence), False)
        return out

    async def _send(self, client: Any, frames: dict[tuple[str, str], tuple[bytes, bool]]) -> None:
        """Publish ``frames`` and write them to the hashes: one pipeline, given up after
        ``timeout_seconds`` (TimeoutError)."""
        expiry = f"{int(time.time() * 1000 + self.ttl_seconds * 1000)}\n".encode()
        pipe = client.pipeline(transaction=False)
        for (doc_id, agent), (frame, gone) in frames.items():
            pipe.publish(self.channel, encode_presence(self.server_id, doc_id, frame))
            field = f"{self.server_id} {agent}"
            if gone:
                pipe.hdel(self._key(doc_id), field)
            else:
                pipe.hset(self._key(doc_id), field, expiry + frame)
                pipe.pexpire(self._key(doc_id), int(self.ttl_seconds * 1000))
        await asyncio.wait_for(pipe.execute(), self.timeout_seconds)
        self.published += len(frames)

    async def _publish(self) -> None:
        from redis.exceptions import RedisError

        client = self._client()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                frames, self._dirty = self._dirty, {}
                if frames and self._healthy():
                    try:
                        await self._send(client, frames)
                    except (RedisError, OSError) as exc:  # OSError: TimeoutError (the deadline) too
                        log.debug("publishing presence failed: %s", exc or type(exc).__name__)
                await asyncio.sleep(self.throttle_seconds)  # at most one frame per connection per interval
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _refresh(self) -> None:
        from redis.exceptions import RedisError

        client = self._client()
        try:
            while True:
                await asyncio.sleep(self.refresh_seconds)
                self.refreshes += 1
                frames = self._current()
                if frames and self._healthy():
                    try:
                        await self._send(client, frames)
                    except (RedisError, OSError) as exc:  # OSError: TimeoutError (the deadline) too
                        log.debug("refreshing presence failed: %s", exc or type(exc).__name__)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
