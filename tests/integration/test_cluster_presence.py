"""Presence across servers: real ``cowrite serve`` processes on PostgreSQL, through Redis.

A cursor moved on server A shows on B's clients; leaving, or A being killed, makes it
vanish there (the latter within the presence TTL, a few seconds); a client joining B
later sees A's current presence; with Redis down presence stays per-server and edits
keep flowing (polling), and it is relayed again once Redis is back.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.integration.cluster import PrivateRedis, cluster_server
from tests.integration.harness import PARAGRAPH, client, run, seed, wait_until
from tests.integration.test_cluster import kill_all, no_bugs_logged, start_all

DOC = "presence"


def sees(c: Any, agent: str, anchor: int | None = None) -> bool:
    peer = c.presence.get(agent)
    return peer is not None and (anchor is None or peer.anchor == anchor)


def test_presence_crosses_servers_and_leaves(pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path) -> None:
    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=redis_server_url, prefix=redis_prefix, name=n) for n in "ab"
    )
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(a, DOC, PARAGRAPH)
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 1, 10, "fan-out up")
            ca, cb = client(a, DOC, "ann"), client(b, DOC, "bob")
            for c in (ca, cb):
                await c.start()
            await asyncio.gather(ca.synced(15), cb.synced(15))
            ca.set_cursor(3)
            await wait_until(lambda: sees(cb, ca.agent, 3), 5, "B's client to see A's cursor")
            assert cb.presence[ca.agent].user == "ann"
            for pos in range(4, 40):  # a burst of cursor moves: coalesced, the latest wins
                ca.set_cursor(pos)
                await asyncio.sleep(0.002)
            await wait_until(lambda: sees(cb, ca.agent, 39), 5, "B's client to see A's latest cursor")
            cb.set_cursor(7, 9)
            await wait_until(lambda: sees(ca, cb.agent, 7) and ca.presence[cb.agent].head == 9, 5, "A's client to see B's selection")
            # A client joining B later gets A's current presence at once (and B's own).
            late = client(b, DOC, "cy")
            await late.start()
            await late.synced(15)
            await wait_until(lambda: sees(late, ca.agent, 39) and sees(late, cb.agent, 7), 5, "the late client to see both")
            # A client joining A sees B's presence too.
            late_a = client(a, DOC, "dee")
            await late_a.start()
            await late_a.synced(15)
            await wait_until(lambda: sees(late_a, cb.agent, 7), 5, "a late client on A to see B's selection")
            # A leaves: gone on B at once (not only after the TTL).
            t0 = time.monotonic()
            await ca.close()
            await wait_until(lambda: ca.agent not in cb.presence and ca.agent not in late.presence, 5, "A's presence gone on B")
            assert time.monotonic() - t0 < 2.0  # an explicit gone, not the expiry
            # Edits still flow both ways.
            cb.insert(0, "B:")
            await wait_until(lambda: late_a.text.startswith("B:"), 10, "an edit from B on A")
            for c in (cb, late, late_a):
                await c.close()

        run(main(), 90)
        no_bugs_logged([a, b])
    finally:
        kill_all([a, b])


def test_killed_server_presence_vanishes_within_seconds(
    pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=redis_server_url, prefix=redis_prefix, name=n) for n in "ab"
    )
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(a, DOC, PARAGRAPH)
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 1, 10, "fan-out up")
            on_a = [client(a, DOC, f"a{i}") for i in range(2)]
            cb = client(b, DOC, "bob")
            for c in (*on_a, cb):
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in (*on_a, cb)))
            for i, c in enumerate(on_a):
                c.set_cursor(i + 1)
            await wait_until(lambda: all(sees(cb, c.agent, i + 1) for i, c in enumerate(on_a)), 5, "A's cursors on B")
            t0 = time.monotonic()
            await asyncio.to_thread(a.kill)  # SIGKILL: no gone is ever published
            await wait_until(lambda: not any(c.agent in cb.presence for c in on_a), 12, "A's cursors to vanish on B")
            elapsed = time.monotonic() - t0
            assert elapsed < 10, elapsed
            # A client joining B now does not get the dead server's presence from Redis.
            late = client(b, DOC, "cy")
            await late.start()
            await late.synced(15)
            cb.set_cursor(2)
            await wait_until(lambda: sees(late, cb.agent, 2), 5, "the late client to see B's cursor")
            assert not any(c.agent in late.presence for c in on_a)
            for c in (*on_a, cb, late):
                await c.close()

        run(main(), 90)
        no_bugs_logged([b])
    finally:
        kill_all([a, b])


def test_redis_down_presence_stays_per_server(pg_url: str, private_redis: PrivateRedis, redis_prefix: str, tmp_path: Path) -> None:
    lim = ("reconcile_seconds=30", "poll_seconds=0.2")
    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=private_redis.url, prefix=redis_prefix, limits=lim, name=n)
        for n in "ab"
    )
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(a, DOC, PARAGRAPH)
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 1, 10, "fan-out up")
            ca, ca2, cb = client(a, DOC, "ann"), client(a, DOC, "amy"), client(b, DOC, "bob")
            for c in (ca, ca2, cb):
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in (ca, ca2, cb)))
            ca.set_cursor(3)
            await wait_until(lambda: sees(cb, ca.agent, 3) and sees(ca2, ca.agent, 3), 5, "A's cursor everywhere")

            await asyncio.to_thread(private_redis.kill)
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 0, 10, "breaker open")
            # Presence within A still works; B's client loses A's presence (it expires there).
            ca.set_cursor(5)
            await wait_until(lambda: sees(ca2, ca.agent, 5), 5, "A's cursor on A while Redis is down")
            await wait_until(lambda: ca.agent not in cb.presence, 12, "A's presence to expire on B")
            # Edits flow by polling.
            ca.insert(0, "A:")
            cb.insert(len(PARAGRAPH), ":B")
            await wait_until(lambda: cb.text.startswith("A:") and ca.text.endswith(":B"), 15, "edits by polling")

            await asyncio.to_thread(private_redis.start)  # back, empty
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 1, 15, "breaker closed again")
            # The refresh publishes A's presence again without anyone moving.
            await wait_until(lambda: sees(cb, ca.agent, 7), 10, "A's cursor on B again after Redis is back")
            cb.set_cursor(1)
            await wait_until(lambda: sees(ca, cb.agent, 1), 5, "B's cursor on A")
            for c in (ca, ca2, cb):
                await c.close()

        run(main(), 120)
        no_bugs_logged([a, b])
    finally:
        kill_all([a, b])
