"""Three ``cowrite serve`` processes behind a real HAProxy, and clients that fail over.

Real processes, a real PostgreSQL schema of the test's own, the machine's Redis on a
channel prefix of the test's own, and Debian's HAProxy with the configuration of the
operator guide (``docs/operations.md``; health checks on ``/ready`` every 200 ms
here).  Every client connects through the balancer's one URL, and HAProxy names
the server a connection is on in a response header.  The oracle is a fresh load
from PostgreSQL: every client's text equals it and every op a client had
acknowledged is in it.  Without HAProxy the tests skip (fail under ``CI=true``).
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from tests.integration.cluster import cluster_server
from tests.integration.haproxy import SERVER_HEADER, Checks, HAProxy, haproxy_config, haproxy_exe
from tests.integration.harness import PARAGRAPH, ServerProcess, check_runs, client, run, seed, type_at, wait_until, word
from tests.integration.test_cluster import all_converged, kill_all, no_bugs_logged, start_all, truth

from cowrite.client.connection import ws_url

DOC = "cluster"  # the document test_cluster's helpers read back (each test has a schema of its own)
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def served_by(c: Any) -> str | None:
    """The server ``c``'s open connection is on, as HAProxy named it (None: not connected)."""
    ws = c._connection._ws
    if ws is None or ws.response is None:
        return None
    value = ws.response.headers.get(SERVER_HEADER)
    return None if value is None else str(value)


async def lb_state(lb: HAProxy, name: str, want: str, timeout: float = 15.0) -> None:
    """Wait until HAProxy reports server ``name`` as ``want`` (``UP``, ``DOWN``)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (states := await asyncio.to_thread(lb.states)).get(name) != want:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"HAProxy still reports {states} after {timeout} s; wanted {name} {want}")
        await asyncio.sleep(0.05)


def acked_now(clients: list[Any]) -> list[tuple[str, int]]:
    """``(agent, acked_seq)`` of each client now: read *before* the store, because a client
    may be acknowledged by another server while the store is being read."""
    return [(c.agent, c.acked_seq) for c in clients]


async def durable(pg_url: str, acked: list[tuple[str, int]]) -> None:
    """Every op acknowledged as of ``acked`` is in PostgreSQL (read now)."""
    cg = (await asyncio.to_thread(truth, pg_url, DOC)).oplog.cg
    for agent, seq in acked:
        if seq:
            assert cg.raw_to_lv(agent, seq - 1) is not None, f"{agent}: acknowledged op {seq - 1} is not in PostgreSQL"


def three_servers(pg_url: str, redis_url: str, prefix: str, tmp_path: Path) -> list[ServerProcess]:
    return [
        cluster_server(pg_url, tmp_path / f"s{i}.log", redis=redis_url, prefix=prefix, name=f"s{i}") for i in range(3)
    ]


def test_the_guide_shows_the_config_the_tests_run() -> None:
    """The HAProxy configuration in the operator guide is :func:`haproxy_config`'s, with
    the production timings, and HAProxy accepts it."""
    exe = haproxy_exe()
    text = GUIDE.read_text()
    blocks = re.findall(r"```haproxy\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/operations.md should show one ```haproxy block"
    shown = blocks[0]
    servers = re.findall(r"^    server (\S+) (\S+)$", shown, re.M)
    assert len(servers) >= 2
    assert shown == haproxy_config(servers, checks=Checks())
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
        f.write(shown)
        f.flush()
        done = subprocess.run([exe, "-c", "-f", f.name], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_clients_through_haproxy_spread_over_three_servers_and_converge(
    pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    servers = three_servers(pg_url, redis_server_url, redis_prefix, tmp_path)
    lb = HAProxy(tmp_path, [(f"s{i}", s.port) for i, s in enumerate(servers)])  # skips without haproxy
    start_all(servers)
    try:
        lb.start()

        async def main() -> None:
            await seed(servers[0], DOC, PARAGRAPH)
            clients = [client(servers[0], DOC, f"u{i}", url=lb.url) for i in range(6)]
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            where = [served_by(c) for c in clients]
            assert set(where) == {"s0", "s1", "s2"}, where  # round robin: two on each
            for i, s in enumerate(servers):  # /ready names the server too
                ready = await asyncio.to_thread(httpx.get, f"{s.http}/ready", timeout=10, trust_env=False)
                assert ready.status_code == 200 and ready.json()["server"] == f"s{i}", ready.text
            # Draining s2 in HAProxy (runtime API): new clients go elsewhere, s2's stay.
            await asyncio.to_thread(lb.command, "set server cowrite_servers/s2 state drain")
            late = [client(servers[0], DOC, f"late{i}", url=lb.url) for i in range(3)]
            for c in late:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in late))
            assert {served_by(c) for c in late} <= {"s0", "s1"}, [served_by(c) for c in late]
            assert where == [served_by(c) for c in clients]
            await asyncio.to_thread(lb.command, "set server cowrite_servers/s2 state ready")
            clients += late
            rng = random.Random(21)
            runs = [word(rng, i, 25) for i in range(len(clients))]
            start = rng.randrange(len(PARAGRAPH) + 1)  # one paragraph, one spot: maximal interleaving
            await asyncio.gather(*(type_at(c, r, start, random.Random(i)) for i, (c, r) in enumerate(zip(clients, runs))))
            text = await all_converged(clients, pg_url, len(PARAGRAPH) + sum(map(len, runs)))
            check_runs(text, PARAGRAPH, runs)
            for s in servers:
                assert await s.atext(DOC) == text
            for c in clients:
                await c.close()

        run(main(), 90)
        no_bugs_logged(servers)
        assert all(s.metric("cowrite_divergences_total") == 0 for s in servers)
    finally:
        lb.kill()
        kill_all(servers)


def test_kill9_behind_haproxy_clients_reconnect_through_it_and_resend(
    pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    servers = three_servers(pg_url, redis_server_url, redis_prefix, tmp_path)
    lb = HAProxy(tmp_path, [(f"s{i}", s.port) for i, s in enumerate(servers)])  # skips without haproxy
    start_all(servers)
    try:
        lb.start()

        async def main() -> None:
            await seed(servers[1], DOC, PARAGRAPH)
            clients = [client(servers[0], DOC, f"u{i}", url=lb.url) for i in range(6)]
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            victims = [c for c in clients if served_by(c) == "s0"]
            assert victims, [served_by(c) for c in clients]
            rng = random.Random(17)
            runs = [word(rng, i, 40) for i in range(len(clients))]
            start = rng.randrange(len(PARAGRAPH) + 1)
            typing = [
                asyncio.create_task(type_at(c, r, start, random.Random(i), pause=0.01))
                for i, (c, r) in enumerate(zip(clients, runs))
            ]
            await asyncio.sleep(0.3)  # mid-typing
            await asyncio.to_thread(servers[0].kill)  # SIGKILL
            # What s0's clients had acknowledged is durable in PostgreSQL already.
            acked = acked_now(victims)
            await durable(pg_url, acked)
            assert any(seq for _, seq in acked), "nothing was acknowledged before the kill"
            await lb_state(lb, "s0", "DOWN")
            await asyncio.gather(*typing)
            text = await all_converged(clients, pg_url, len(PARAGRAPH) + sum(map(len, runs)))
            check_runs(text, PARAGRAPH, runs)  # every keystroke once, s0's clients' too
            where = [served_by(c) for c in clients]
            assert "s0" not in where and set(where) <= {"s1", "s2"}, where
            for s in servers[1:]:
                assert await s.atext(DOC) == text
            for c in clients:
                await c.close()

        run(main(), 90)
        no_bugs_logged(servers)
    finally:
        lb.kill()
        kill_all(servers)


def test_a_client_given_every_server_fails_over_without_a_balancer_and_comes_back(
    pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """No load balancer: each client knows all three servers (two prefer s0, two s1) and
    moves on to the next when its server is killed mid-typing.  s0 is restarted after
    its kill; when s1 and then s2 die too, every client is back on s0."""
    servers = three_servers(pg_url, redis_server_url, redis_prefix, tmp_path)
    start_all(servers)
    try:
        async def main() -> None:
            await seed(servers[0], DOC, PARAGRAPH)
            bases = [s.url for s in servers]
            orders = [bases, bases, bases[1:] + bases[:1], bases[1:] + bases[:1]]
            clients = [client(servers[0], DOC, f"u{i}", url=order) for i, order in enumerate(orders)]
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            on = [ws_url(s.url, DOC) for s in servers]
            assert [c.url for c in clients] == [on[0], on[0], on[1], on[1]]
            text = PARAGRAPH
            rng = random.Random(29)
            for k, victim in enumerate(servers):
                runs = [word(rng, k * 10 + i, 30) for i in range(len(clients))]
                start = rng.randrange(len(text) + 1)
                typing = [
                    asyncio.create_task(type_at(c, r, start, random.Random(k * 10 + i), pause=0.01))
                    for i, (c, r) in enumerate(zip(clients, runs))
                ]
                await asyncio.sleep(0.3)  # mid-typing
                moving = [c for c in clients if c.url == on[k]]
                assert moving, f"nobody on s{k}: {[c.url for c in clients]}"
                await asyncio.to_thread(victim.kill)  # SIGKILL
                await durable(pg_url, acked_now(moving))
                await wait_until(lambda: all(c.url != on[k] and c.state != "offline" for c in moving), 15,
                                 f"s{k}'s clients to reach another server")
                await asyncio.gather(*typing)
                before = text
                text = await all_converged(clients, pg_url, len(before) + sum(map(len, runs)))
                check_runs(text, before, runs)
                if k == 0:
                    await asyncio.to_thread(victim.start)  # back: the clients will need it
            assert [c.url for c in clients] == [on[0]] * 4  # the restarted s0, the only one left
            for c in clients:
                await c.close()

        run(main(), 150)
        no_bugs_logged(servers)
    finally:
        kill_all(servers)


def test_sigterm_behind_haproxy_drains_its_clients_to_the_others(
    pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """The guide's rolling restart: SIGTERM to a server mid-typing closes its sockets with
    1012 once their commits are acknowledged; its clients reconnect through HAProxy to the
    others, and nothing typed is lost."""
    servers = three_servers(pg_url, redis_server_url, redis_prefix, tmp_path)
    lb = HAProxy(tmp_path, [(f"s{i}", s.port) for i, s in enumerate(servers)])
    start_all(servers)
    try:
        lb.start()

        async def main() -> None:
            await seed(servers[2], DOC, PARAGRAPH)
            clients = [client(servers[0], DOC, f"u{i}", url=lb.url) for i in range(6)]
            for c in clients:
                await c.start()
            await asyncio.gather(*(c.synced(15) for c in clients))
            assert any(served_by(c) == "s0" for c in clients)
            rng = random.Random(31)
            runs = [word(rng, i, 40) for i in range(len(clients))]
            start = rng.randrange(len(PARAGRAPH) + 1)
            typing = [
                asyncio.create_task(type_at(c, r, start, random.Random(i), pause=0.01))
                for i, (c, r) in enumerate(zip(clients, runs))
            ]
            await asyncio.sleep(0.3)  # mid-typing
            await asyncio.to_thread(servers[0].stop)  # SIGTERM: drain, then exit (within its 10 s wait)
            proc = servers[0].proc
            assert proc is not None and proc.returncode in (0, -signal.SIGTERM), proc.returncode  # not -9: it exited itself
            await durable(pg_url, acked_now(clients))
            await asyncio.gather(*typing)
            text = await all_converged(clients, pg_url, len(PARAGRAPH) + sum(map(len, runs)))
            check_runs(text, PARAGRAPH, runs)
            assert {served_by(c) for c in clients} <= {"s1", "s2"}
            for c in clients:
                await c.close()

        run(main(), 90)
        no_bugs_logged(servers)
        assert "draining" in servers[0].log_text(None)
    finally:
        lb.kill()
        kill_all(servers)
