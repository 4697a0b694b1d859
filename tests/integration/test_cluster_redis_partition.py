"""One server's link to Redis partitioned (black-holed, not refused), then healed.

Real ``cowrite serve`` processes on PostgreSQL, a private ``redis-server``, and a relay
(``blackhole.py``) between server A and Redis that, when cut, keeps the connections open
and accepts new ones but lets nothing through and answers nothing.  Only the fan-out's
heartbeat can notice that (nobody types while it is cut, so no publish fails): A's
breaker must open within seconds (``/ready`` says ``polling``, ``cowrite_fanout_up`` 0),
clients on both servers keep converging (A polls PostgreSQL; B, whose Redis is fine,
reconciles), cursors across the partition expire, and after the heal A's breaker
closes, notices flow both ways again and presence comes back.  The oracle is a fresh
load from PostgreSQL (``all_converged``)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

from tests.integration.blackhole import BlackholeRelay
from tests.integration.cluster import PrivateRedis, cluster_server
from tests.integration.harness import PARAGRAPH, ServerProcess, check_runs, client, run, seed, wait_until
from tests.integration.test_cluster import DOC, all_converged, kill_all, no_bugs_logged, ready, start_all
from tests.integration.test_cluster_outage import typing_phase
from tests.integration.test_cluster_presence import sees


async def wait_fanout(s: ServerProcess, state: str, timeout: float, what: str) -> float:
    """Poll ``/ready`` until it answers 200 with ``fanout: state``; the seconds it took."""
    t0 = time.monotonic()
    while True:
        code, fanout = await asyncio.to_thread(ready, s)
        if code == 200 and fanout == state:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: /ready still {code} {fanout!r} after {timeout} s")
        await asyncio.sleep(0.1)


def test_black_holed_redis_is_noticed_clients_converge_by_polling_breaker_closes_on_heal(
    pg_url: str, private_redis: PrivateRedis, redis_prefix: str, tmp_path: Path
) -> None:
    relay = BlackholeRelay(private_redis.port)
    relay.start()
    lim = ("poll_seconds=0.2",)  # reconcile_seconds stays 2: B learns A's commits that way while A is cut
    a = cluster_server(
        pg_url, tmp_path / "a.log", redis=f"redis://127.0.0.1:{relay.port}/0", prefix=redis_prefix, limits=lim, name="a"
    )
    b = cluster_server(pg_url, tmp_path / "b.log", redis=private_redis.url, prefix=redis_prefix, limits=lim, name="b")
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(b, DOC, PARAGRAPH)
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 1, 15, "fan-out up")
            on_a = [client(a, DOC, "a0"), client(a, DOC, "a1")]
            on_b = [client(b, DOC, "b0"), client(b, DOC, "b1")]
            clients: list[Any] = on_a + on_b
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            rng = random.Random(77)
            runs, length = await typing_phase(clients, PARAGRAPH, rng, 1)  # healthy
            text = await all_converged(clients, pg_url, length)
            check_runs(text, PARAGRAPH, runs)
            on_a[0].set_cursor(3)
            on_b[0].set_cursor(5)
            await wait_until(
                lambda: sees(on_b[1], on_a[0].agent, 3) and sees(on_a[1], on_b[0].agent, 5), 10, "cursors across servers"
            )

            # -- the cut, while nobody types: only the heartbeat can notice it ----------
            published = a.metric("cowrite_fanout_published_total")
            errors = a.metric("cowrite_fanout_errors_total")
            t_cut = time.monotonic()
            relay.blackhole()
            detected = await wait_fanout(a, "polling", 20, "the cut server's breaker opens")
            assert a.metric("cowrite_fanout_up") == 0
            assert a.metric("cowrite_fanout_errors_total") > errors
            assert a.metric("cowrite_fanout_published_total") == published  # no publish failed: the heartbeat did it
            assert ready(b) == (200, "redis")  # B's Redis is fine

            runs2, length2 = await typing_phase(clients, text, rng, 2)  # both sides type: A polls, B reconciles
            text2 = await all_converged(clients, pg_url, length2, timeout=30)
            check_runs(text2, text, runs2)
            assert all(c.pending == 0 for c in clients)  # PostgreSQL is reachable: everything acknowledged

            # Cursors across the partition expire (no refresh gets through); within A they still work.
            await wait_until(
                lambda: on_a[0].agent not in on_b[1].presence and on_b[0].agent not in on_a[1].presence,
                20,
                "cursors across the partition to expire",
            )
            on_a[0].set_cursor(8)
            await wait_until(lambda: sees(on_a[1], on_a[0].agent, 8), 10, "a cursor within A while cut")
            expired = time.monotonic() - t_cut
            assert ready(a) == (200, "polling") and ready(b) == (200, "redis")

            # -- the heal --------------------------------------------------------------
            received_a = a.metric("cowrite_fanout_received_total")
            received_b = b.metric("cowrite_fanout_received_total")
            relay.heal()
            healed = await wait_fanout(a, "redis", 30, "the breaker closes after the heal")
            assert a.metric("cowrite_fanout_up") == 1
            # presence is relayed again: the refresh republishes it, nobody needs to move
            # (b0's cursor is where its typing left it)
            await wait_until(
                lambda: sees(on_b[1], on_a[0].agent, 8) and sees(on_a[1], on_b[0].agent), 15, "cursors across servers again"
            )
            runs3, length3 = await typing_phase(clients, text2, rng, 3)
            text3 = await all_converged(clients, pg_url, length3, timeout=30)
            check_runs(text3, text2, runs3)
            # notices cross in both directions again
            await wait_until(
                lambda: a.metric("cowrite_fanout_received_total") > received_a
                and b.metric("cowrite_fanout_received_total") > received_b,
                10,
                "notices through Redis again",
            )
            for s in (a, b):
                assert await s.atext(DOC) == text3
            print(
                f"\nRedis black-holed for A: breaker open after {detected:.2f} s, cross-server cursors gone"
                f" {expired:.2f} s into it; breaker closed {healed:.2f} s after the heal"
            )
            assert detected < 10, f"the breaker opened {detected:.2f} s into the partition"
            for c in clients:
                await c.close()

        run(main(), 180)
        no_bugs_logged([a, b])
        assert "no answer from Redis" in a.log_text(None)
        assert a.metric("cowrite_store_breaker_opened_total") == 0  # PostgreSQL was never cut
        assert b.metric("cowrite_fanout_errors_total") == 0
        assert all(s.metric("cowrite_divergences_total") == 0 for s in (a, b))
    finally:
        kill_all([a, b])
        relay.close()
