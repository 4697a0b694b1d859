"""Presence across servers, in one process: the hub's relaying, expiry and coalescing,
with a recording stand-in for Redis.  The real processes and Redis are
``tests/integration/test_cluster_presence.py``'s."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from cowrite.protocol import Join, Presence, Role, decode_frame, encode_frame
from cowrite.protocol.server import Send, ServerSession
from cowrite.server.metrics import Metrics
from cowrite.server.presence import MAX_REMOTE_PER_DOC, PresenceHub, decode_presence, encode_presence
from cowrite.server.rooms import Limits, Rooms
from cowrite.store import SQLiteStore

DOC = "d"


class FakePipe:
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log
        self.ops: list[tuple[Any, ...]] = []

    def publish(self, channel: str, data: bytes) -> None:
        self.ops.append(("publish", channel, data))

    def hset(self, key: str, field: str, value: bytes) -> None:
        self.ops.append(("hset", key, field, value))

    def hdel(self, key: str, field: str) -> None:
        self.ops.append(("hdel", key, field))

    def pexpire(self, key: str, ms: int) -> None:
        self.ops.append(("pexpire", key, ms))

    async def execute(self) -> None:
        self.log.extend(self.ops)


class FakeRedis:
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.hashes: dict[str, dict[bytes, bytes]] = {}

    def pipeline(self, transaction: bool = True) -> FakePipe:
        return FakePipe(self.log)

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        return dict(self.hashes.get(key, {}))

    async def hdel(self, key: str, *fields: bytes) -> None:
        for f in fields:
            self.hashes.get(key, {}).pop(f, None)

    async def aclose(self) -> None:
        pass


class Server:
    def __init__(self, path: Path, server_id: str, redis: FakeRedis, *, healthy: bool = True) -> None:
        self.store = SQLiteStore(path)
        self.sent: list[Send] = []
        self.rooms = Rooms(self.store, Metrics(), Limits(), self.sent.extend, shared=True)
        self.healthy = healthy
        self.hub = PresenceHub(
            self.rooms, "redis://unused", server_id, prefix="t", healthy=lambda: self.healthy, throttle_seconds=0.05
        )
        self.hub._client = lambda: redis  # type: ignore[method-assign]
        self.hub._reader = redis  # as while it runs

    async def join(self, agent: str) -> ServerSession:
        async with self.rooms.locked(DOC) as h:
            session, sends = await self.rooms.admit(h, Join(DOC, agent, {}, fresh=True), agent, Role.EDITOR)
        self.sent += sends
        self.sent += self.hub.joined(DOC, session)
        return session

    def to(self, session: ServerSession) -> list[Presence]:
        out = []
        for s in self.sent:
            msg = decode_frame(s.data)
            if s.session is session and isinstance(msg, Presence):
                out.append(msg)
        return out


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.create(DOC)
    return path


def test_presence_message_round_trip() -> None:
    frame = encode_frame(Presence("ag", "Ann", "#fff", None))
    assert decode_presence(encode_presence("s1", "doc.x", frame)) == ("s1", "doc.x", Presence("ag", "Ann", "#fff", None))
    for bad in (b"", b"s1 d\n", b"s1\n" + frame, b"s1 d\n" + encode_frame(Join(DOC, "a", {})), b"s1 d\n" + b"x" * 70000):
        with pytest.raises(ValueError):
            decode_presence(bad)


def test_remote_presence_is_relayed_expires_and_is_read_at_join(store_path: Path) -> None:
    async def main() -> None:
        redis = FakeRedis()
        b = Server(store_path, "b", redis)
        bob = await b.join("bob")
        ann = Presence("ann", "Ann", "#111", None)
        # another server's message: relayed to bob; a refresh of the same is not sent again
        for _ in range(2):
            b.rooms.deliver(b.hub.received(encode_presence("a", DOC, encode_frame(ann))))
        assert b.to(bob) == [ann]
        # our own message, junk, and a document not loaded here: ignored
        assert b.hub.received(encode_presence("b", DOC, encode_frame(ann))) == []
        assert b.hub.received(b"junk") == [] and b.hub.received("text") == []
        assert b.hub.received(encode_presence("a", "other", encode_frame(ann))) == []
        # a client joining later gets it at once
        cy = await b.join("cy")
        assert b.to(cy) == [ann]
        # not refreshed in time: gone for everyone here
        b.sent.clear()
        assert b.hub.expire() == []
        b.rooms.deliver(b.hub.expire(now=asyncio.get_running_loop().time() + 1e6))
        assert [p.gone for p in b.to(bob)] == [True] and [p.agent for p in b.to(cy)] == ["ann"]
        assert b.hub.remote == {}
        # a join reads the hash in Redis: live entries are shown, stale ones pruned
        key = "t:pres:" + DOC
        now_ms = int(time.time() * 1000)
        redis.hashes[key] = {
            b"a ann": f"{now_ms + 5000}\n".encode() + encode_frame(ann),
            b"a old": f"{now_ms - 1}\n".encode() + encode_frame(Presence("old")),
            b"b cy": f"{now_ms + 5000}\n".encode() + encode_frame(Presence("cy")),  # our own: ignored
            b"bad": b"nonsense",
        }
        b.sent.clear()
        dee = await b.join("dee")
        await asyncio.gather(*b.hub._tasks)
        assert b.to(dee) == [ann] and b.to(bob) == [ann]
        assert set(redis.hashes[key]) == {b"a ann", b"b cy"}
        # a gone from the other server
        b.sent.clear()
        b.rooms.deliver(b.hub.received(encode_presence("a", DOC, encode_frame(Presence("ann", gone=True)))))
        assert [p.gone for p in b.to(bob)] == [True]

    asyncio.run(main())


def test_remote_presence_per_document_is_bounded(store_path: Path) -> None:
    async def main() -> None:
        b = Server(store_path, "b", FakeRedis())
        await b.join("bob")
        for i in range(MAX_REMOTE_PER_DOC + 10):
            b.hub.received(encode_presence("a", DOC, encode_frame(Presence(f"x{i}"))))
        assert len(b.hub.remote[DOC]) == MAX_REMOTE_PER_DOC

    asyncio.run(main())


def test_local_presence_is_coalesced_refreshed_and_gone_on_leave(store_path: Path) -> None:
    async def main() -> None:
        redis = FakeRedis()
        a = Server(store_path, "a", redis)
        a.hub.refresh_seconds = 60.0  # no refresh in the first part
        ann = await a.join("ann")
        task = asyncio.create_task(a.hub.run())
        try:
            for pos in range(50):  # a burst of moves within one interval: few publishes, the last one wins
                ann.presence = Presence("ann", "ann", "", None) if pos < 49 else Presence("ann", "ann", "#9", None)
                a.hub.local(DOC, ann)
                await asyncio.sleep(0)
            def published() -> list[Presence]:
                return [decode_presence(op[2])[2] for op in redis.log if op[0] == "publish"]

            while not published() or published()[-1].colour != "#9":
                await asyncio.sleep(0.01)
            assert len(published()) <= 3  # the first at once, then one per 50 ms at most
            assert any(op[0] == "hset" and op[2] == "a ann" for op in redis.log)
            # refreshed while it is there
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            a.hub.refresh_seconds = 0.05
            task = asyncio.create_task(a.hub.run())
            n = len(redis.log)
            while len(redis.log) <= n:
                await asyncio.sleep(0.01)
            # leaving: a gone, and the hash field deleted
            async with a.rooms.locked(DOC) as h:
                a.rooms.deliver(h.room.leave(ann))
            a.hub.left(DOC, ann)
            while not any(op[0] == "hdel" for op in redis.log):
                await asyncio.sleep(0.01)
            gone = [decode_presence(op[2])[2] for op in redis.log if op[0] == "publish"][-1]
            assert gone.gone and gone.agent == "ann"
            # Redis down (breaker open): nothing published, no error
            a.healthy = False
            redis.log.clear()
            cy = await a.join("cy")
            cy.presence = Presence("cy")
            a.hub.local(DOC, cy)
            rounds = a.hub.refreshes
            while a.hub.refreshes < rounds + 2 or a.hub._dirty:  # two refreshes, the publisher woken
                await asyncio.sleep(0.01)
            assert redis.log == []
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
