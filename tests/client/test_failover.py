"""A client given several servers: the order it tries them, its backoff, and its return.

* :class:`~cowrite.client.failover.Failover` on its own, with a seeded ``rand``: the
  next URL and the delay after each kind of ending;
* the network loop against fake servers (closed ports, a server that answers 503),
  seeded: every attempt goes where and when the rules say, never sooner;
* a real client with a dead URL and a real server that is killed and restarted on
  its port: the edits typed meanwhile reach it when it is back.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from cowrite.client import Client, ClientSettings
from cowrite.client.connection import Connection, ws_url
from cowrite.client.failover import Failover, backoff_delay
from cowrite.errors import ConfigError, FatalError
from integration.harness import ServerProcess, client, free_port, run, wait_until

URLS = ["ws://a/ws/d", "ws://b/ws/d", "ws://c/ws/d"]
BASE, CAP = 0.05, 0.4


def test_failed_attempts_walk_the_list_and_back_off_per_round() -> None:
    draws = random.Random(3)
    twin = random.Random(3)
    f = Failover(URLS, BASE, CAP, draws.random)
    assert f.url == URLS[0] and f.rounds == 0
    seen = [f.url]
    for attempt in range(12):
        delay = f.failed()
        rounds = (attempt + 1) // 3  # a round: one failed attempt at each of the three
        assert f.rounds == rounds
        assert delay == twin.random() * min(CAP, BASE * 2**rounds)
        seen.append(f.url)
    assert seen == (URLS * 5)[:13]  # in order; none twice before every other one was tried


def test_a_dropped_connection_moves_on_soon_and_a_reconnect_stays() -> None:
    twin = random.Random(8)
    f = Failover(URLS, BASE, CAP, random.Random(8).random)
    for _ in range(7):
        f.failed()
        twin.random()
    assert f.rounds == 2 and f.url == URLS[1]
    delay = f.dropped()  # joined on b, then b went away: c next, after a short jitter
    assert f.url == URLS[2] and f.rounds == 0 and delay == twin.random() * BASE
    delay = f.reconnect()  # the client's own reconnect (a fresh JOIN): c again
    assert f.url == URLS[2] and f.rounds == 0 and delay == twin.random() * BASE
    f.failed()  # c fails: a, b, then c again before the next round
    assert [f.url, f.rounds] == [URLS[0], 0]
    f.failed()
    f.failed()
    assert [f.url, f.rounds] == [URLS[2], 1]


def test_a_joined_connection_refused_later_backs_off_from_zero() -> None:
    """Rounds that failed before a connection was joined do not count after it: a
    server that refuses a long-lived session (rate limit, store outage) is left for
    the next URL at once, not after the backoff of an old outage."""
    twin = random.Random(4)
    f = Failover(URLS, BASE, CAP, random.Random(4).random)
    for _ in range(9):
        f.failed()
        twin.random()
    assert f.rounds == 3
    f.joined()
    delay = f.failed()  # the joined session on a ended with ERROR internal
    assert f.url == URLS[1] and f.rounds == 0 and delay == twin.random() * BASE
    twin = random.Random(4)
    one = Failover(URLS[:1], BASE, CAP, random.Random(4).random)
    for _ in range(5):
        one.failed()
        twin.random()
    assert one.rounds == 5
    one.joined()
    assert one.failed() == backoff_delay(1, BASE, CAP, twin.random)  # as after a first failure
    assert one.rounds == 1


def test_one_url_backs_off_on_every_failure() -> None:
    """One URL (a single server, or a load balancer) is one URL per round: the backoff
    grows with every failed attempt, as it always did."""
    twin = random.Random(1)
    f = Failover(URLS[:1], BASE, CAP, random.Random(1).random)
    for attempt in range(1, 8):
        assert f.failed() == backoff_delay(attempt, BASE, CAP, twin.random)
        assert f.url == URLS[0]
    assert f.dropped() == backoff_delay(0, BASE, CAP, twin.random)


def test_the_list_of_urls_is_checked_when_the_client_is_made() -> None:
    c = Client(["http://h:1", "ws://h:2/base/"], "d", "t")
    assert c.urls == ("ws://h:1/ws/d", "ws://h:2/base/ws/d") and c.url == c.urls[0]
    assert Client("ws://h:1", "d", "t").urls == ("ws://h:1/ws/d",)  # one URL, as before
    for bad in ([], ["ws://h:1", "ws://h:1/"], ["ws://h:1", 7], ["ftp://h"]):
        with pytest.raises(ConfigError):
            Client(bad, "d", "t")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        Failover("ws://h:1/ws/d", BASE, CAP)  # a string is not a list of URLs


# -- the network loop against fake servers -------------------------------------------


class _Attempts:
    """A :class:`~cowrite.client.connection.Host` for connections that never get as far
    as a session: it notes which URL each attempt went to, and when (the token is asked
    for once per attempt, just before connecting)."""

    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.attempts: list[tuple[str, float]] = []
        self.stopped_with: FatalError | None = None
        self.last_activity = 0.0
        self.version: dict[str, int] = {}

    def token(self) -> str:
        assert self.connection is not None
        self.attempts.append((self.connection.url, time.monotonic()))
        return "t"

    def open_session(self) -> Any:
        raise AssertionError("no fake server lets a connection get this far")

    def received(self, session: Any, data: bytes) -> Any:
        raise AssertionError("unreachable")

    async def prepare(self, session: Any) -> None:
        raise AssertionError("unreachable")

    def dropped(self, session: Any, close_code: int | None) -> Any:
        raise AssertionError("unreachable")

    def closed_session(self, session: Any) -> None:
        raise AssertionError("unreachable")

    def stopped(self, error: FatalError) -> None:
        self.stopped_with = error


async def _http_server(status: str) -> tuple[asyncio.Server, int]:
    """A fake server answering every request with ``status`` (e.g. an unready server)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _loop(host: _Attempts, urls: list[str], seed: int) -> tuple[Connection, asyncio.Event]:
    settings = ClientSettings(backoff_base=BASE, backoff_cap=CAP, connect_timeout=5, proxy=None, digest_interval=None)
    closing = asyncio.Event()
    conn = Connection(host, urls, settings, wake=asyncio.Event(), closing=closing, rand=random.Random(seed).random)
    host.connection = conn
    return conn, closing


def test_every_attempt_goes_where_and_when_the_seeded_schedule_says() -> None:
    """Two closed ports and a server answering 503 (unready): the loop walks the three in
    order, and no attempt comes sooner than the seeded backoff allows -- so no URL is
    hammered, however fast they fail."""

    async def main() -> None:
        unready, port = await _http_server("503 Service Unavailable")
        urls = [ws_url(f"ws://127.0.0.1:{free_port()}", "d"), ws_url(f"ws://127.0.0.1:{port}", "d"),
                ws_url(f"ws://127.0.0.1:{free_port()}", "d")]
        host = _Attempts()
        conn, closing = _loop(host, urls, seed=11)
        task = asyncio.create_task(conn.run())
        await wait_until(lambda: len(host.attempts) >= 10, 30, "ten attempts")
        closing.set()
        await task
        unready.close()
        twin = Failover(urls, BASE, CAP, random.Random(11).random)
        assert host.attempts[0][0] == urls[0]
        for (_, before), (url, at) in zip(host.attempts, host.attempts[1:]):
            delay = twin.failed()
            assert url == twin.url
            assert at - before >= delay - 0.005, (at - before, delay)
        assert [url for url, _ in host.attempts[:9]] == urls * 3
        assert host.stopped_with is None

    run(main(), 60)


def test_a_server_that_refuses_the_client_for_good_stops_the_loop() -> None:
    """HTTP 403 on the upgrade is the server's answer, not an outage: no other URL is tried."""

    async def main() -> None:
        forbidding, port = await _http_server("403 Forbidden")
        urls = [ws_url(f"ws://127.0.0.1:{port}", "d"), ws_url(f"ws://127.0.0.1:{free_port()}", "d")]
        host = _Attempts()
        conn, _ = _loop(host, urls, seed=2)
        await asyncio.wait_for(conn.run(), 30)
        forbidding.close()
        assert [url for url, _ in host.attempts] == urls[:1]
        assert host.stopped_with is not None and "403" in str(host.stopped_with)

    run(main(), 60)


# -- a real client and a real server that goes away and comes back --------------------


def test_a_dead_url_is_skipped_and_a_restarted_server_is_used_again(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "server.db")
    srv.start()
    dead = f"ws://127.0.0.1:{free_port()}"
    try:
        async def main() -> None:
            srv.create_doc("failover")
            c = client(srv, "failover", "ann", url=[dead, srv.url], backoff_base=0.05, backoff_cap=0.3)
            assert c.url == ws_url(dead, "failover")
            await c.start()
            c.insert(0, "before")
            await c.synced(15)  # the dead URL failed, the server answered
            assert c.url == ws_url(srv.url, "failover")
            await asyncio.to_thread(srv.kill)
            await wait_until(lambda: c.state == "offline", 15, "the client to notice")
            c.insert(len(c.text), " while it was down")  # not acknowledged: kept and resent
            await asyncio.sleep(0.5)  # a few rounds over the dead URL and the dead server
            assert c.state == "offline" and c.pending
            await asyncio.to_thread(srv.start)  # the same port again
            await c.synced(15)
            assert c.url == ws_url(srv.url, "failover")
            assert await srv.atext("failover") == "before while it was down"
            await c.close()

        run(main(), 60)
    finally:
        srv.kill()

