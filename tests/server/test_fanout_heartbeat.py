"""The fan-out's liveness checks, in one process: the heartbeat's deadline logic on a fake
clock, and the subscriber and publisher against stand-ins for Redis that stop answering
(a partition: nothing is refused, nothing answers).  The real processes, a real Redis
and a black-hole relay are ``tests/integration/test_cluster_redis_partition.py``'s."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from cowrite.errors import ConfigError
from cowrite.server.fanout import HEARTBEAT, MIN_READ_SECONDS, Fanout, Heartbeat, encode_notice
from cowrite.server.metrics import Metrics
from cowrite.server.rooms import Limits, Rooms
from cowrite.store import SQLiteStore

# -- the deadline logic, on a fake clock --------------------------------------------------


def test_a_ping_is_due_at_once_then_every_interval() -> None:
    beat = Heartbeat(1.0, 3.0)
    assert beat.ping_due(100.0)
    beat.pinged(100.0)
    assert not beat.ping_due(100.5) and not beat.ping_due(100.99)
    assert beat.ping_due(101.0)


def test_lost_only_once_a_ping_went_unanswered_for_the_timeout() -> None:
    beat = Heartbeat(1.0, 3.0)
    assert not beat.lost(0.0) and not beat.lost(1e9)  # nothing outstanding: a quiet channel is not a dead one
    beat.pinged(0.0)
    for t in (1.0, 2.0):  # more pings, no answer: the first unanswered one counts
        assert not beat.lost(t)
        beat.pinged(t)
    assert not beat.lost(2.99)
    assert beat.lost(3.0) and beat.lost(3.5)


def test_any_message_heard_clears_the_outstanding_pings() -> None:
    beat = Heartbeat(1.0, 3.0)
    beat.pinged(0.0)
    beat.pinged(1.0)
    beat.heard(2.5)  # a notice, presence or the PONG
    assert not beat.lost(10.0)
    beat.pinged(3.0)
    assert not beat.lost(5.99) and beat.lost(6.0)  # counted from the ping after the message


def test_wait_ends_at_the_next_ping_or_the_deadline_never_below_the_minimum() -> None:
    beat = Heartbeat(1.0, 3.0)
    assert beat.wait(0.0) == 1.0
    beat.pinged(0.0)
    assert beat.wait(0.0) == 1.0 and beat.wait(0.4) == pytest.approx(0.6)
    beat.pinged(2.5)  # unanswered since 0: lost at 3.0, before the next ping (3.5)
    assert beat.wait(2.6) == pytest.approx(0.4)
    # A loop that was blocked past the deadline still reads what is buffered before judging.
    assert beat.wait(50.0) == MIN_READ_SECONDS


@pytest.mark.parametrize(("interval", "timeout"), [(3.0, 3.0), (5.0, 3.0), (0.0, 3.0), (-1.0, 3.0)])
def test_a_heartbeat_not_shorter_than_the_timeout_is_refused(interval: float, timeout: float) -> None:
    with pytest.raises(ConfigError):
        Heartbeat(interval, timeout)


def test_the_fanout_refuses_such_limits_at_start(tmp_path: Path) -> None:
    limits = Limits(redis_heartbeat_seconds=3.0, redis_timeout_seconds=2.0)
    rooms = Rooms(SQLiteStore(tmp_path / "db"), Metrics(), limits, lambda sends: None, shared=True)
    with pytest.raises(ConfigError, match="heartbeat"):
        Fanout(rooms, Metrics(), limits, redis_url="redis://127.0.0.1:1/0", server_id="s1")


# -- the subscriber and the publisher, against stand-ins for Redis ------------------------


class FakePubSub:
    """A subscribed connection: answers PINGs with a PONG unless ``redis.answering`` is off."""

    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pings = 0
        self.closed = False
        self.channels: tuple[str, ...] = ()

    async def subscribe(self, *channels: str) -> None:
        self.channels = channels  # like redis-py: sent, the confirmation is read later

    async def ping(self, message: bytes) -> None:
        self.pings += 1
        if self.redis.answering:
            self.inbox.put_nowait({"type": "pong", "channel": None, "data": message})

    async def get_message(self, ignore_subscribe_messages: bool = False, timeout: float | None = 0.0) -> Any:
        try:
            return await asyncio.wait_for(self.inbox.get(), timeout)
        except TimeoutError:
            return None

    async def aclose(self) -> None:
        self.closed = True


class FakeRedis:
    """One Redis for the subscriber's and the publisher's clients."""

    def __init__(self) -> None:
        self.answering = True
        self.publish_hangs = False
        self.published: list[bytes] = []
        self.publish_calls = 0
        self.pubsubs: list[FakePubSub] = []
        self.clients = 0

    def client(self, **kw: Any) -> FakeClient:
        self.clients += 1
        return FakeClient(self)


class FakeClient:
    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis

    def pubsub(self) -> FakePubSub:
        p = FakePubSub(self.redis)
        self.redis.pubsubs.append(p)
        return p

    async def publish(self, channel: str, data: bytes) -> int:
        self.redis.publish_calls += 1
        if self.redis.publish_hangs or not self.redis.answering:
            await asyncio.Event().wait()  # a black hole: never answers
        self.redis.published.append(data)
        return 1

    async def aclose(self) -> None:
        pass


LIMITS = Limits(redis_heartbeat_seconds=0.05, redis_timeout_seconds=0.3, poll_seconds=0.05)


def fanout_on(tmp_path: Path, redis: FakeRedis) -> Fanout:
    rooms = Rooms(SQLiteStore(tmp_path / "db"), Metrics(), LIMITS, lambda sends: None, shared=True)
    f = Fanout(rooms, rooms.metrics, LIMITS, redis_url="redis://fake/0", server_id="s1", prefix="t")
    f._client = redis.client  # type: ignore[method-assign]
    return f


async def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``cond`` (generous deadline: the machine is shared)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def run_tasks(f: Fanout, *jobs: Callable[[], Coroutine[Any, Any, None]], main: Callable[[], Awaitable[None]]) -> None:
    async def go() -> None:
        tasks = [asyncio.create_task(job()) for job in jobs]
        try:
            await main()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with pytest.raises(asyncio.CancelledError):
                    await t

    asyncio.run(go())


def test_a_silent_redis_opens_the_breaker_and_the_subscriber_reconnects(tmp_path: Path) -> None:
    redis = FakeRedis()
    f = fanout_on(tmp_path, redis)

    async def main() -> None:
        await until(lambda: f.healthy, "the breaker to close")
        assert f.metrics.fanout_up._value.get() == 1
        first = redis.pubsubs[-1]
        assert first.channels == ("t:commits", "t:notices", "t:presence")
        await until(lambda: first.pings >= 3, "heartbeats")  # a healthy link stays up
        assert f.healthy and f.breaker_opened == 0
        redis.answering = False  # the partition: the connection stays open, nothing answers
        await until(lambda: not f.healthy, "the breaker to open")
        assert f.metrics.fanout_up._value.get() == 0
        assert f.breaker_opened == 1 and f.metrics.fanout_errors._value.get() >= 1
        await until(lambda: first.closed, "the dead connection to be dropped")
        # Reconnecting: subscribed, but not confirmed (no PONG): the breaker stays open.
        await until(lambda: len(redis.pubsubs) >= 3, "reconnect attempts")
        assert not f.healthy
        redis.answering = True  # healed
        await until(lambda: f.healthy, "the breaker to close again")
        assert f.breaker_opened == 1

    run_tasks(f, f._subscribe, main=main)


def test_messages_keep_the_link_alive_and_are_handled(tmp_path: Path) -> None:
    """A notice counts as hearing from Redis, and is handed on (here: to a room not loaded)."""
    redis = FakeRedis()
    f = fanout_on(tmp_path, redis)

    async def main() -> None:
        await until(lambda: f.healthy, "the breaker to close")
        redis.answering = False
        p = redis.pubsubs[-1]
        for _ in range(12):  # notices keep coming though PINGs go unanswered (for 0.6 s, past the timeout)
            p.inbox.put_nowait({"type": "message", "channel": b"t:commits", "data": encode_notice("s2", "x", 1, None)})
            await asyncio.sleep(0.05)
        assert f.healthy and f.metrics.fanout_received._value.get() == 12
        await until(lambda: not f.healthy, "silence to open the breaker")

    run_tasks(f, f._subscribe, main=main)


def test_a_stuck_publish_opens_the_breaker_and_does_not_block_the_queue(tmp_path: Path) -> None:
    redis = FakeRedis()
    f = fanout_on(tmp_path, redis)

    async def main() -> None:
        await until(lambda: f.healthy, "the breaker to close")
        f.publish("d", 1, b"p1")
        await until(lambda: len(redis.published) == 1, "a publish")
        redis.publish_hangs = True  # the publisher's link is dead; the subscriber's looks fine
        f.publish("d", 2, b"p2")
        for seq in range(3, 50):
            f.publish("d", seq, b"p")
        await until(lambda: not f.healthy, "the stuck publish to open the breaker")
        assert f.metrics.fanout_errors._value.get() >= 1
        await until(lambda: f._queue.empty(), "the queue to drain (dropped, not tried one by one)")
        assert redis.publish_calls == 2  # the stuck one only
        redis.publish_hangs = False
        await until(lambda: f.healthy, "the subscriber to reconnect and close the breaker")
        f.publish("d", 50, b"p50")
        await until(lambda: len(redis.published) == 2, "publishing again")
        assert redis.published[-1].startswith(b"s1 d 50 1\n")

    run_tasks(f, f._subscribe, f._publish, main=main)
