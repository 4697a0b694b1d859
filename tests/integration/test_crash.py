"""The server is killed with SIGKILL while clients type; restarted on the same database,
it still has every op it acknowledged, and the clients converge after reconnecting."""

from __future__ import annotations

import asyncio
import random
import signal
import string

from .harness import ServerProcess, check_runs, client, converged, run, seed, wait_until, word

from cowrite.store import SQLiteStore


def test_sigkill_mid_stream_keeps_every_acknowledged_op(server: ServerProcess) -> None:
    srv, doc_id = server, "crash"
    base = "Durable: " + string.digits

    async def main() -> None:
        await seed(srv, doc_id, base)
        clients = [client(srv, doc_id, f"typist{i}") for i in range(3)]
        for c in clients:
            await c.start()
        await wait_until(lambda: all(c.text == base for c in clients), 15, "the base text")
        rng = random.Random(3)
        runs = [word(rng, i, 60) for i in range(3)]
        typed = [0, 0, 0]
        killed = asyncio.Event()

        async def typist(i: int) -> None:
            c, r, r_rng = clients[i], runs[i], random.Random(i)
            pos = c.doc.position(len("Durable: "), assoc=-1)
            for ch in r:
                idx = c.doc.resolve(pos)
                c.insert(idx, ch)
                pos = c.doc.position(idx + 1, assoc=-1)
                typed[i] += 1
                await asyncio.sleep(r_rng.uniform(0.001, 0.006))

        async def killer() -> None:
            # Kill once every client has had some ops acknowledged and is still typing.
            await wait_until(lambda: all(c.acked_seq > 5 for c in clients) and min(typed) < 40, 20, "acks")
            srv.kill(signal.SIGKILL)
            killed.set()

        tasks = [asyncio.create_task(typist(i)) for i in range(3)]
        await killer()
        await wait_until(lambda: all(c.state == "offline" for c in clients), 10, "all clients to notice")
        acked = {c.agent: c.acked_seq for c in clients}
        assert all(n > 0 for n in acked.values())

        # What a restarted server will load: every acknowledged op must be in it.
        store = SQLiteStore(srv.db)
        try:
            durable = store.load(doc_id).summary()
        finally:
            store.close()
        for agent, n in acked.items():
            runs_of_agent = durable.get(agent, [])
            assert any(a <= 0 and n <= b for a, b in runs_of_agent), (agent, n, runs_of_agent)

        srv.start()  # same port, same database; the typists are still going
        await asyncio.gather(*tasks)
        assert typed == [len(r) for r in runs]
        text = await converged(clients, srv, doc_id, len(base) + sum(map(len, runs)))
        check_runs(text, base, runs)
        for c in clients:
            await c.close()

    run(main())
