"""A cluster when its database goes away: PostgreSQL restarted, one server partitioned, a server drained.

Real ``cowrite serve`` processes, a real PostgreSQL and Redis.  The PostgreSQL that is
stopped is a private one (``private_pg.py``: the machine's is shared with other
tests); the partition is a relay that black-holes one server's links to PostgreSQL and
Redis (``blackhole.py``): connections stay open, nothing answers, as in a real
partition.  The oracle is a fresh load from PostgreSQL: every client's text equals it,
every op a client had acknowledged is in it, and every keystroke is in it exactly once.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.integration.blackhole import BlackholeRelay
from tests.integration.cluster import cluster_server
from tests.integration.harness import (
    PARAGRAPH,
    ServerProcess,
    check_runs,
    client,
    closed,
    join,
    run,
    seed,
    type_at,
    wait_until,
    word,
)
from tests.integration.private_pg import PrivatePostgres
from tests.integration.test_cluster import acked_ops_in, all_converged, kill_all, no_bugs_logged, start_all, truth

DOC = "cluster"  # the document test_cluster's helpers (truth, all_converged) read back


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, which it stops and starts."""
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


def ready_state(s: ServerProcess) -> tuple[int, dict[str, Any]]:
    r = httpx.get(f"{s.http}/ready", timeout=10, trust_env=False)
    return r.status_code, r.json()


async def wait_ready(s: ServerProcess, status: int, timeout: float, what: str) -> float:
    """Poll ``/ready`` until it answers ``status``; the seconds it took."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        code, body = await asyncio.to_thread(ready_state, s)
        if code == status:
            if status == 503:
                assert body.get("store") == "unavailable", body
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: /ready still {code} {body} after {timeout} s")
        await asyncio.sleep(0.1)


class AckLog:
    """When each client's acknowledged seq last grew (sampled every 20 ms)."""

    def __init__(self, clients: list[Any]) -> None:
        self.clients = clients
        self.last: list[tuple[float, int]] = [(time.monotonic(), c.acked_seq) for c in clients]
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.02)

    def sample(self) -> None:
        now = time.monotonic()
        for i, c in enumerate(self.clients):
            if c.acked_seq != self.last[i][1]:
                self.last[i] = (now, c.acked_seq)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self._task
        self.sample()


async def typing_phase(clients: list[Any], base: str, rng: random.Random, tag: int, n: int = 20) -> tuple[list[str], int]:
    """Each client types a run of its own into ``base`` (char by char); the runs and the
    length the text will have."""
    runs = [word(rng, tag * 10 + i, n) for i in range(len(clients))]
    starts = [rng.randrange(len(base) + 1) for _ in clients]
    await asyncio.gather(
        *(type_at(c, r, st, random.Random(tag * 10 + i), pause=0.01) for i, (c, r, st) in enumerate(zip(clients, runs, starts)))
    )
    return runs, len(base) + sum(map(len, runs))


def test_postgres_restart_no_ack_during_outage_then_full_recovery(
    private_pg: PrivatePostgres, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    a, b = (
        cluster_server(private_pg.url, tmp_path / f"{n}.log", redis=redis_server_url, prefix=redis_prefix, name=n)
        for n in "ab"
    )
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(a, DOC, PARAGRAPH)
            clients = [client(a, DOC, "a0"), client(b, DOC, "b0"), client(a, DOC, "a1"), client(b, DOC, "b1")]
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            rng = random.Random(21)

            runs, length = await typing_phase(clients, PARAGRAPH, rng, 1)  # healthy
            text = await all_converged(clients, private_pg.url, length)
            check_runs(text, PARAGRAPH, runs)

            await asyncio.to_thread(private_pg.stop, "immediate")  # a crash: connections cut
            detected = await asyncio.gather(*(wait_ready(s, 503, 20, "store breaker opens") for s in (a, b)))
            acked = [c.acked_seq for c in clients]
            acks = AckLog(clients)
            acks.start()
            runs2, length2 = await typing_phase(clients, text, rng, 2)  # typed offline, kept
            await asyncio.sleep(1.5)  # time for any (wrong) acknowledgement to arrive
            await acks.stop()
            assert [c.acked_seq for c in clients] == acked, "an edit was acknowledged while PostgreSQL was down"
            assert all(c.pending for c in clients), "every client holds edits it could not get acknowledged"
            assert all(c.text == clients[0].text or len(c.text) > len(text) for c in clients)
            for s in (a, b):
                code, body = await asyncio.to_thread(ready_state, s)
                assert code == 503 and body["store"] == "unavailable", body

            await asyncio.to_thread(private_pg.start)
            recovered = await asyncio.gather(*(wait_ready(s, 200, 30, "store breaker closes") for s in (a, b)))
            text2 = await all_converged(clients, private_pg.url, length2, timeout=30)
            check_runs(text2, text, runs2)
            assert all(c.pending == 0 for c in clients)

            runs3, length3 = await typing_phase(clients, text2, rng, 3)  # healthy again
            text3 = await all_converged(clients, private_pg.url, length3)
            check_runs(text3, text2, runs3)
            for s in (a, b):
                assert await s.atext(DOC) == text3
            print(f"\nbreaker opened after {max(detected):.2f} s; closed {max(recovered):.2f} s after PostgreSQL started")
            for c in clients:
                await c.close()

        run(main(), 150)
        no_bugs_logged([a, b])
        for s in (a, b):
            assert s.metric("cowrite_store_breaker_opened_total") >= 1
            assert s.metric("cowrite_store_up") == 1
            assert s.metric("cowrite_divergences_total") == 0
    finally:
        kill_all([a, b])


def _via(url: str, port: int) -> str:
    """``url`` (a libpq or redis URL on 127.0.0.1) through the relay on ``port``."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}127.0.0.1:{port}", parts.path, parts.query, ""))


def test_partitioned_server_stops_acknowledging_others_keep_working(
    pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    pg_relay = BlackholeRelay(urlsplit(pg_url).port or 5432)
    redis_relay = BlackholeRelay(urlsplit(redis_server_url).port or 6379)
    pg_relay.start()
    redis_relay.start()
    a = cluster_server(
        _via(pg_url, pg_relay.port), tmp_path / "a.log", redis=_via(redis_server_url, redis_relay.port),
        prefix=redis_prefix, name="a",
    )
    b = cluster_server(pg_url, tmp_path / "b.log", redis=redis_server_url, prefix=redis_prefix, name="b")
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(b, DOC, PARAGRAPH)
            on_a = [client(a, DOC, "a0"), client(a, DOC, "a1")]
            on_b = [client(b, DOC, "b0"), client(b, DOC, "b1")]
            clients = on_a + on_b
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            rng = random.Random(34)
            runs, length = await typing_phase(clients, PARAGRAPH, rng, 1)
            text = await all_converged(clients, pg_url, length)
            check_runs(text, PARAGRAPH, runs)

            acks = AckLog(clients)
            acks.start()
            t0 = time.monotonic()
            pg_relay.blackhole()
            redis_relay.blackhole()
            unready = await wait_ready(a, 503, 20, "the partitioned server goes unready")
            # a's clients type offline; b's keep working through the partition
            runs_a = [word(rng, 20 + i, 20) for i in range(2)]
            runs_b = [word(rng, 30 + i, 20) for i in range(2)]
            typing = [
                asyncio.create_task(type_at(c, r, rng.randrange(len(text) + 1), random.Random(40 + i), pause=0.02))
                for i, (c, r) in enumerate(zip(clients, runs_a + runs_b))
            ]
            await asyncio.gather(*typing)
            await asyncio.gather(*(c.synced(15) for c in on_b))  # b acknowledges all the while
            await asyncio.sleep(1.0)
            await acks.stop()
            last_ack_a = max(acks.last[i][0] for i in range(2)) - t0
            assert last_ack_a < 10, f"the partitioned server acknowledged {last_ack_a:.2f} s into the partition"
            assert all(acks.last[i][0] - t0 > 0.5 for i in (2, 3)), "the other server stopped acknowledging"
            assert all(c.pending for c in on_a), "a's clients keep their unacknowledged edits"
            stored = await asyncio.to_thread(truth, pg_url)
            assert all(stored.text.count(r) == 1 for r in runs_b)  # b's edits are durable
            assert not any(r[:3] in stored.text for r in runs_a)  # a stored none of its clients' edits
            acked_ops_in(stored, on_b)
            assert (await asyncio.to_thread(ready_state, b))[0] == 200

            pg_relay.heal()
            redis_relay.heal()
            healed = await wait_ready(a, 200, 30, "the partitioned server recovers")
            final = await all_converged(clients, pg_url, len(text) + sum(map(len, runs_a + runs_b)), timeout=30)
            check_runs(final, text, runs_a + runs_b)
            for s in (a, b):
                assert await s.atext(DOC) == final
            print(
                f"\npartitioned server: unready after {unready:.2f} s, last ack {last_ack_a:.2f} s into the partition,"
                f" ready again {healed:.2f} s after the heal"
            )
            assert unready < 10
            for c in clients:
                await c.close()

        run(main(), 150)
        no_bugs_logged([a, b])
        assert a.metric("cowrite_store_breaker_opened_total") >= 1
        assert b.metric("cowrite_store_breaker_opened_total") == 0
    finally:
        kill_all([a, b])
        pg_relay.close()
        redis_relay.close()


def _slow_server(pg_url: str, log: Path, name: str, delay: float) -> ServerProcess:
    """A cluster server whose every commit takes ``delay`` seconds more."""
    script = Path(__file__).with_name("slow_commit_server.py")
    return ServerProcess(
        pg_url,  # type: ignore[arg-type]  # a URL, not a file
        log=log,
        args=("--server-id", name),
        command=(sys.executable, str(script)),
        env={"SLOW_APPEND": str(delay), "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def test_sigterm_acknowledges_the_commit_in_flight_then_closes_1012(pg_url: str, tmp_path: Path) -> None:
    a = _slow_server(pg_url, tmp_path / "a.log", "a", 1.5)
    a.start()
    try:
        async def main() -> None:
            await seed(a, DOC, "|")
            watcher, _ = await join(a, DOC, "watcher", "watcher-1")
            c = client(a, DOC, "ann")
            await c.start()
            await c.synced(15)
            c.insert(0, "hello")
            await asyncio.sleep(0.5)  # sent at the next tick (10 ms); its commit takes 1.5 s
            assert c.pending, "the commit finished before the test could send SIGTERM"
            t0 = time.monotonic()
            assert a.proc is not None
            a.proc.send_signal(signal.SIGTERM)
            await wait_until(lambda: c.pending == 0, 10, "the in-flight batch to be acknowledged")
            acked_after = time.monotonic() - t0
            assert await closed(watcher, 10)
            assert watcher.close_code == 1012, watcher.close_code  # "service restart": go elsewhere
            await asyncio.to_thread(a.proc.wait, 20)
            exited_after = time.monotonic() - t0
            stored = await asyncio.to_thread(truth, pg_url)
            assert stored.text == "hello|"
            acked_ops_in(stored, [c])
            print(f"\nSIGTERM: in-flight batch acknowledged after {acked_after:.2f} s, exited after {exited_after:.2f} s")
            assert exited_after < 15
            await c.close()

        run(main(), 60)
        log = a.log_text(None)
        assert "draining" in log and "Traceback" not in log, log[-4000:]
    finally:
        a.kill()


def test_sigterm_mid_typing_no_acknowledged_op_lost(
    pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=redis_server_url, prefix=redis_prefix, name=n) for n in "ab"
    )
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(b, DOC, PARAGRAPH)
            # a's clients know both servers: when a drains they move to b at once
            on_a = [client(a, DOC, f"a{i}", url=[a.url, b.url]) for i in range(2)]
            on_b = [client(b, DOC, f"b{i}") for i in range(2)]
            clients = on_a + on_b
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            rng = random.Random(55)
            runs = [word(rng, i, 40) for i in range(len(clients))]
            starts = [rng.randrange(len(PARAGRAPH) + 1) for _ in clients]
            typing = [
                asyncio.create_task(type_at(c, r, st, random.Random(i), pause=0.01))
                for i, (c, r, st) in enumerate(zip(clients, runs, starts))
            ]
            await asyncio.sleep(0.3)  # mid-typing
            assert a.proc is not None
            acked_before = [c.acked_seq for c in on_a]
            a.proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(a.proc.wait, 20)
            # everything a acknowledged, up to its last breath, is durable (the acks are
            # counted before PostgreSQL is read: b may acknowledge more meanwhile)
            acked = [c.acked_seq for c in on_a]
            stored = await asyncio.to_thread(truth, pg_url)
            for c, n in zip(on_a, acked):
                assert n == 0 or stored.oplog.cg.raw_to_lv(c.agent, n - 1) is not None, f"{c.agent}: acked op {n - 1} lost"
            assert all(n >= m for n, m in zip(acked, acked_before))
            await asyncio.gather(*typing)
            text = await all_converged(clients, pg_url, len(PARAGRAPH) + sum(map(len, runs)))
            check_runs(text, PARAGRAPH, runs)
            assert all(c.url.startswith(b.url) for c in on_a)
            for c in clients:
                await c.close()

        run(main(), 90)
        log = a.log_text(None)
        assert "draining" in log and "Traceback" not in log, log[-4000:]
        no_bugs_logged([b])
    finally:
        kill_all([a, b])
