"""Several real clients on one document through a real server: concurrent typing and
offline edits on both sides converge, and nothing typed is lost."""

from __future__ import annotations

import asyncio
import random
import string

from .harness import (
    PARAGRAPH,
    Proxy,
    ServerProcess,
    check_runs,
    client,
    converged,
    run,
    seed,
    type_at,
    wait_until,
    word,
)


def test_concurrent_typing_in_one_paragraph_converges(shared_server: ServerProcess) -> None:
    """Five clients type a 30-char run each, char by char, at the same gap and at a
    neighbouring one, all at once: identical text everywhere, every run contiguous."""
    srv, doc_id = shared_server, "paragraph"
    rng = random.Random(1)

    async def main() -> None:
        await seed(srv, doc_id, PARAGRAPH)
        clients = [client(srv, doc_id, f"user{i}", colour=f"#{i}{i}{i}") for i in range(5)]
        for c in clients:
            await c.start()
        await wait_until(lambda: all(c.text == PARAGRAPH for c in clients), 15, "the paragraph everywhere")
        runs = [word(rng, i, 30) for i in range(5)]
        starts = [10, 10, 10, 16, 16]  # after "The quick " (three typists) and "brown " (two)
        await asyncio.gather(
            *(type_at(c, r, s, random.Random(i)) for i, (c, r, s) in enumerate(zip(clients, runs, starts)))
        )
        text = await converged(clients, srv, doc_id, len(PARAGRAPH) + sum(map(len, runs)))
        check_runs(text, PARAGRAPH, runs)

        # Presence: each cursor put at the end of its run is seen there by all the others.
        for c, r in zip(clients, runs):
            c.set_cursor(text.index(r) + len(r))
        for i, c in enumerate(clients):
            want = {
                o.agent: (text.index(r) + len(r), f"user{j}", f"#{j}{j}{j}")
                for j, (o, r) in enumerate(zip(clients, runs))
                if j != i
            }
            await wait_until(
                lambda: {a: (p.anchor, p.user, p.colour) for a, p in c.presence.items()} == want,
                10,
                f"client {i} to see the others' cursors",
            )
        for c in clients:
            await c.close()

    run(main())


def test_network_cut_with_offline_edits_on_both_sides(shared_server: ServerProcess) -> None:
    """Client A loses its connection (a proxy drops it) and inserts and deletes offline,
    while B and C keep editing online, inside the range A deletes too; when A's network
    comes back everyone converges with every edit."""
    srv, doc_id = shared_server, "netcut"
    base = string.ascii_letters + string.digits  # unique characters

    async def main() -> None:
        await seed(srv, doc_id, base)
        proxy = Proxy(srv.port)
        await proxy.start()
        a = client(srv, doc_id, "alice", url=proxy.url)
        b = client(srv, doc_id, "bob")
        c = client(srv, doc_id, "carol")
        for x in (a, b, c):
            await x.start()
        await wait_until(lambda: all(x.text == base for x in (a, b, c)), 15, "the base text")
        await a.synced(10)

        proxy.cut()
        await wait_until(lambda: a.state == "offline", 10, "A to notice the cut")
        a.insert(0, "[A0]")  # offline on A
        a.delete(4 + 10, 10)  # base[10:20]
        a.insert(len(a.text), "[A1]")
        b.insert(15, "[B0]")  # online, inside the range A deletes
        c.delete(40, 5)  # base[40:45]
        c.insert(0, "[C0]")
        await b.synced(10)
        await c.synced(10)
        await wait_until(lambda: b.text == c.text, 10, "B and C to agree")
        assert "[A0]" not in await srv.atext(doc_id)
        assert a.state == "offline" and a.pending > 0

        proxy.restore()
        text = await converged([a, b, c], srv, doc_id, len(base) - 15 + 4 * 4)
        expected_rest = base[:10] + base[20:40] + base[45:]
        rest = text
        for tag in ("[A0]", "[A1]", "[B0]", "[C0]"):
            assert rest.count(tag) == 1
            rest = rest.replace(tag, "")
        assert rest == expected_rest
        assert text.index("[B0]") == text.index(base[9]) + 1  # where B put it, between survivors
        for x in (a, b, c):
            await x.close()
        await proxy.close()

    run(main())


def test_server_down_with_offline_edits_everywhere(server: ServerProcess) -> None:
    """The server stops; three clients keep typing (each its own run, one also deletes);
    the server restarts and all converge with every keystroke."""
    srv, doc_id = server, "outage"
    base = "Offline first: " + string.ascii_letters

    async def main() -> None:
        await seed(srv, doc_id, base)
        clients = [client(srv, doc_id, f"u{i}") for i in range(3)]
        for c in clients:
            await c.start()
        await wait_until(lambda: all(c.text == base for c in clients), 15, "the base text")
        rng = random.Random(7)
        online = [word(rng, i, 8) for i in range(3)]
        await asyncio.gather(*(type_at(c, r, 15, random.Random(i)) for i, (c, r) in enumerate(zip(clients, online))))
        await asyncio.gather(*(c.synced(10) for c in clients))

        srv.stop()
        await wait_until(lambda: all(c.state == "offline" for c in clients), 10, "all offline")
        offline = [word(rng, 10 + i, 12) for i in range(3)]
        await asyncio.gather(
            *(type_at(c, r, len(c.text), random.Random(i)) for i, (c, r) in enumerate(zip(clients, offline)))
        )
        clients[1].delete(0, len("Offline first: "))  # concurrent with the others' offline typing
        assert all(c.pending > 0 for c in clients)
        assert len({c.text for c in clients}) == 3  # diverged while offline

        srv.start()
        total = len(base) - len("Offline first: ") + sum(map(len, online + offline))
        text = await converged(clients, srv, doc_id, total)
        check_runs(text, string.ascii_letters, online + offline)
        for c in clients:
            await c.close()

    run(main())
