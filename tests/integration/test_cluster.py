"""Several ``cowrite serve`` processes on one PostgreSQL schema, with fan-out through Redis.

Real processes, a real PostgreSQL (``pg_url``: a schema of the test's own) and a real
Redis (the machine's, on a channel prefix of the test's own; or a private
``redis-server`` the test kills).  The oracle is always a fresh load from PostgreSQL:
every client's text equals it, and every op a client had acknowledged is in it.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.integration.cluster import PrivateRedis, cluster_server
from tests.integration.harness import PARAGRAPH, ServerProcess, check_runs, client, run, seed, type_at, wait_until, word

from cowrite.client.connection import ws_url
from cowrite.store import open_store

DOC = "cluster"


def truth(pg_url: str, doc_id: str = DOC) -> Any:
    with open_store(pg_url) as store:
        return store.load(doc_id)


def acked_ops_in(doc: Any, clients: list[Any]) -> None:
    """Every op a client had acknowledged (seq below its ``acked_seq``) is in ``doc``."""
    cg = doc.oplog.cg
    for c in clients:
        if c.acked_seq:
            assert cg.raw_to_lv(c.agent, c.acked_seq - 1) is not None, f"{c.agent}: acked op {c.acked_seq - 1} lost"


async def all_converged(clients: list[Any], pg_url: str, length: int, timeout: float = 20.0) -> str:
    """Wait until every client is synced and holds the same text of ``length``; it must be
    what PostgreSQL holds."""
    await asyncio.gather(*(c.synced(timeout) for c in clients))
    await wait_until(
        lambda: all(len(c.text) == length for c in clients) and len({c.text for c in clients}) == 1,
        timeout,
        "clients on different servers to converge",
    )
    text: str = clients[0].text
    stored = await asyncio.to_thread(truth, pg_url)
    assert stored.text == text
    acked_ops_in(stored, clients)
    return text


def start_all(servers: list[ServerProcess]) -> None:
    for s in servers:
        s.start()


def kill_all(servers: list[ServerProcess]) -> None:
    for s in servers:
        s.kill()


def ready(s: ServerProcess) -> tuple[int, str]:
    r = httpx.get(f"{s.http}/ready", timeout=10, trust_env=False)
    return r.status_code, str(r.json()["fanout"])


def no_bugs_logged(servers: list[ServerProcess]) -> None:
    """No traceback in any server's output (an entry that did not apply, a bug ...)."""
    for s in servers:
        log = s.log_text(None)
        assert "Traceback" not in log and "does not apply" not in log, log[-4000:]


def test_three_servers_converge_through_redis(pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path) -> None:
    # Reconciliation every 30 s: convergence within seconds is Redis fan-out's doing.
    lim = ("reconcile_seconds=30", "poll_seconds=30")
    servers = [
        cluster_server(pg_url, tmp_path / f"s{i}.log", redis=redis_server_url, prefix=redis_prefix, limits=lim, name=f"s{i}")
        for i in range(3)
    ]
    start_all(servers)
    try:
        async def main() -> None:
            await seed(servers[0], DOC, PARAGRAPH)
            for s in servers:
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 1, 10, "fan-out up")
            clients = [client(servers[i % 3], DOC, f"u{i}") for i in range(6)]
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            assert all(c.text == PARAGRAPH for c in clients)
            rng = random.Random(13)
            runs = [word(rng, i, 25) for i in range(len(clients))]
            starts = [rng.randrange(len(PARAGRAPH) + 1) for _ in clients]
            await asyncio.gather(
                *(type_at(c, r, st, random.Random(i)) for i, (c, r, st) in enumerate(zip(clients, runs, starts)))
            )
            text = await all_converged(clients, pg_url, len(PARAGRAPH) + sum(map(len, runs)), timeout=15)
            check_runs(text, PARAGRAPH, runs)
            for s in servers:
                assert await s.atext(DOC) == text
            for c in clients:
                await c.close()

        run(main(), 90)
        no_bugs_logged(servers)
        assert sum(s.metric("cowrite_fanout_received_total") for s in servers) > 0
        assert all(ready(s) == (200, "redis") for s in servers)
        assert all(s.metric("cowrite_fanout_published_total") > 0 for s in servers)
        assert all(s.metric("cowrite_divergences_total") == 0 for s in servers)
    finally:
        kill_all(servers)


def test_kill9_one_server_clients_move_and_resend(pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path) -> None:
    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=redis_server_url, prefix=redis_prefix, name=n) for n in "ab"
    )
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(a, DOC, PARAGRAPH)
            on_a = [client(a, DOC, f"a{i}") for i in range(2)]
            on_b = [client(b, DOC, f"b{i}") for i in range(2)]
            clients = on_a + on_b
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            rng = random.Random(9)
            runs = [word(rng, i, 40) for i in range(len(clients))]
            starts = [rng.randrange(len(PARAGRAPH) + 1) for _ in clients]
            typing = [
                asyncio.create_task(type_at(c, r, st, random.Random(i), pause=0.01))
                for i, (c, r, st) in enumerate(zip(clients, runs, starts))
            ]
            await asyncio.sleep(0.25)  # mid-typing
            await asyncio.to_thread(a.kill)  # SIGKILL
            # Whatever a's clients had acknowledged is durable in PostgreSQL already.
            acked_ops_in(await asyncio.to_thread(truth, pg_url), on_a)
            assert any(c.acked_seq for c in on_a), "nothing was acknowledged before the kill"
            for c in on_a:  # the load balancer's job: send them to the other server
                c._connection.url = ws_url(b.url, DOC)
            await asyncio.gather(*typing)
            text = await all_converged(clients, pg_url, len(PARAGRAPH) + sum(map(len, runs)))
            check_runs(text, PARAGRAPH, runs)
            assert await b.atext(DOC) == text
            for c in clients:
                await c.close()

        run(main(), 90)
        no_bugs_logged([a, b])
    finally:
        kill_all([a, b])


def test_redis_down_polling_then_breaker_closes(pg_url: str, private_redis: PrivateRedis, redis_prefix: str, tmp_path: Path) -> None:
    lim = ("reconcile_seconds=30", "poll_seconds=0.2")
    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=private_redis.url, prefix=redis_prefix, limits=lim, name=n)
        for n in "ab"
    )
    start_all([a, b])
    try:
        async def phase(clients: list[Any], base: str, rng: random.Random, tag: int, during: Any = None) -> str:
            runs = [word(rng, tag * 10 + i, 20) for i in range(len(clients))]
            starts = [rng.randrange(len(base) + 1) for _ in clients]
            typing = [
                asyncio.create_task(type_at(c, r, st, random.Random(tag * 10 + i), pause=0.01))
                for i, (c, r, st) in enumerate(zip(clients, runs, starts))
            ]
            if during is not None:
                await asyncio.sleep(0.1)
                await during()
            await asyncio.gather(*typing)
            text = await all_converged(clients, pg_url, len(base) + sum(map(len, runs)))
            check_runs(text, base, runs)
            return text

        async def main() -> None:
            await seed(a, DOC, PARAGRAPH)
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 1, 10, "fan-out up")
            clients = [client(a, DOC, "a0"), client(b, DOC, "b0"), client(a, DOC, "a1"), client(b, DOC, "b1")]
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            rng = random.Random(5)
            text = await phase(clients, PARAGRAPH, rng, 1)  # healthy

            async def redis_dies() -> None:
                await asyncio.to_thread(private_redis.kill)

            text = await phase(clients, text, rng, 2, redis_dies)  # Redis killed mid-typing: polling
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 0, 10, "breaker open")
                assert ready(s) == (200, "polling")  # still serving: Redis is only an accelerator
            text = await phase(clients, text, rng, 3)  # still down: polling alone
            await asyncio.to_thread(private_redis.start)  # back (empty: it keeps nothing)
            for s in (a, b):
                await wait_until(lambda s=s: s.metric("cowrite_fanout_up") == 1, 15, "breaker closed again")
            received = b.metric("cowrite_fanout_received_total")
            await phase(clients, text, rng, 4)  # healthy again: through Redis
            assert b.metric("cowrite_fanout_received_total") > received
            for c in clients:
                await c.close()

        run(main(), 120)
        no_bugs_logged([a, b])
    finally:
        kill_all([a, b])


def test_two_servers_commit_at_the_same_instant(pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path) -> None:
    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=redis_server_url, prefix=redis_prefix, name=n) for n in "ab"
    )
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(a, DOC, "|")
            ca, cb = client(a, DOC, "ua"), client(b, DOC, "ub")
            for c in (ca, cb):
                await c.start()
            await asyncio.gather(ca.synced(15), cb.synced(15))
            for i in range(20):  # both insert at the same spot, flushed at the same moment
                ca.insert(0, f"a{i:02d} ")
                cb.insert(0, f"b{i:02d} ")
                await asyncio.gather(ca.synced(15), cb.synced(15))
            length = 1 + 20 * 2 * 4
            text = await all_converged([ca, cb], pg_url, length)
            assert sorted(text[:-1].split()) == sorted([f"a{i:02d}" for i in range(20)] + [f"b{i:02d}" for i in range(20)])
            for c in (ca, cb):
                await c.close()

        run(main(), 90)
        no_bugs_logged([a, b])
        with open_store(pg_url) as store:
            seqs = [seq for seq, _ in store.log_since(DOC)]
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 21  # distinct, consecutive, none lost
    finally:
        kill_all([a, b])


def test_http_edits_on_two_servers_at_once(pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path) -> None:
    """The HTTP API edits as ``api:<user>~<server id>``: the same user editing through two
    servers at the same instant never mints two ops with one id."""
    from tests.integration.harness import token

    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=redis_server_url, prefix=redis_prefix, name=n) for n in "ab"
    )
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(a, DOC, "|")
            headers = {"Authorization": f"Bearer {token('ann', doc=DOC, role='editor')}"}
            async with httpx.AsyncClient(trust_env=False, timeout=20) as http:
                async def edit(s: ServerProcess, text: str) -> None:
                    r = await http.post(f"{s.http}/api/docs/{DOC}/edit", json={"pos": 0, "insert": text}, headers=headers)
                    assert r.status_code == 200, r.text

                for i in range(15):
                    await asyncio.gather(edit(a, f"a{i:02d} "), edit(b, f"b{i:02d} "))
            stored = await asyncio.to_thread(truth, pg_url)
            assert len(stored.text) == 1 + 15 * 2 * 4
            cg = stored.oplog.cg
            assert all(cg.raw_to_lv(f"api:ann~{n}", 15 * 4 - 1) is not None for n in "ab")  # one agent per server
            await wait_until(lambda: a.text(DOC) == b.text(DOC) == stored.text, 10, "both servers to hold the stored text")

        run(main(), 60)
        no_bugs_logged([a, b])
    finally:
        kill_all([a, b])


def test_postgres_without_redis_converges_by_polling(pg_url: str, tmp_path: Path) -> None:
    lim = ("poll_seconds=0.2",)
    a, b = (cluster_server(pg_url, tmp_path / f"{n}.log", redis=None, prefix="", limits=lim, name=n) for n in "ab")
    start_all([a, b])
    try:
        async def main() -> None:
            await seed(a, DOC, PARAGRAPH)
            clients = [client(a, DOC, "a0"), client(b, DOC, "b0")]
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            rng = random.Random(3)
            runs = [word(rng, i, 20) for i in range(2)]
            await asyncio.gather(*(type_at(c, r, 10 * i, random.Random(i)) for i, (c, r) in enumerate(zip(clients, runs))))
            text = await all_converged(clients, pg_url, len(PARAGRAPH) + sum(map(len, runs)))
            check_runs(text, PARAGRAPH, runs)
            for c in clients:
                await c.close()

        run(main(), 60)
        no_bugs_logged([a, b])
        assert a.metric("cowrite_fanout_up") == 0 and a.metric("cowrite_catchup_entries_total") > 0
        assert ready(a) == (200, "polling")
    finally:
        kill_all([a, b])


def test_redis_needs_a_shared_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COWRITE_SECRET"}
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cowrite.cli", "serve", "--db", str(tmp_path / "x.db"), "--redis", "redis://127.0.0.1:1/0"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1, done
    assert b"--secret" in done.stderr and b"COWRITE_SECRET" in done.stderr
    assert time.monotonic() - t0 < 60
