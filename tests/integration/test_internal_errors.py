"""Bugs stay visible and cost nothing: a real server with a planted fault in its engine.

The server's rooms get ``RuntimeError`` from ``Document.add_ops`` on a seeded random
share of their calls (half of them after the ops were applied, leaving the room's
document holding ops that were never stored) while three Python clients type into
one document.  Once the fault is removed: every planted error is in the log with
its traceback and counted in ``cowrite_internal_errors_total``, every character
every client typed is in the text, clients and server agree, and a restarted
server still has all of it (nothing was acknowledged that was not durable).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from pathlib import Path

from collections import Counter

from .harness import PARAGRAPH, ServerProcess, client, converged, run, seed, type_at, wait_until, word

FAULTY = Path(__file__).with_name("faulty_server.py")
SEEDS = [int(s) for s in os.environ.get("COWRITE_FAULT_SEEDS", "1,2,3").split(",")]


def _is_subsequence(part: str, text: str) -> bool:
    it = iter(text)
    return all(ch in it for ch in part)


def _planted(srv: ServerProcess) -> int:
    m = re.search(r"PLANTED FAULTS: (\d+)", srv.log_text(None))
    return -1 if m is None else int(m.group(1))


async def _type_with_faults(srv: ServerProcess, doc_id: str, rng: random.Random) -> tuple[str, list[str]]:
    base = PARAGRAPH[:30]
    await seed(srv, doc_id, base)
    clients = [client(srv, doc_id, f"typist-{i}") for i in range(3)]
    for c in clients:
        await c.start()
    await asyncio.gather(*(c.synced(20) for c in clients))
    runs: list[str] = []

    async def typist(i: int) -> None:
        c = clients[i]
        r = random.Random(rng.random())
        for k in range(8):
            text = word(r, i * 10 + k, r.randint(3, 9))
            runs.append(text)
            # after a reconnect the text may still be catching up: type where the text is now
            await type_at(c, text, r.randint(0, len(c.text)), r)
            await asyncio.sleep(r.uniform(0, 0.02))

    await asyncio.gather(*(typist(i) for i in range(3)))
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGUSR1)  # the fault goes; what it broke must heal
    await wait_until(lambda: _planted(srv) >= 0, 10, "the server to report its planted faults")
    length = len(base) + sum(len(r) for r in runs)
    text = await converged(clients, srv, doc_id, length)
    for c in clients:
        await c.close()
    return text, runs


def test_planted_engine_bugs_are_logged_counted_and_lose_no_edit(tmp_path: Path) -> None:
    for s in SEEDS:
        srv = ServerProcess(
            tmp_path / f"faulty-{s}.db",
            command=(sys.executable, str(FAULTY)),
            env={"FAULT_SEED": str(s), "FAULT_RATE": "0.15"},
        )
        srv.start()
        try:
            rng = random.Random(s)
            text, runs = run(_type_with_faults(srv, "faulty", rng), timeout=120)
            planted = _planted(srv)
            counted = srv.metric("cowrite_internal_errors_total")
            log = srv.log_text(None)
            srv.kill()
            plain = ServerProcess(srv.db, srv.port, srv.log)  # the same store, no fault
            plain.start()
            try:
                durable = plain.text("faulty")
            finally:
                plain.kill()
            # Every character every client typed is there, once, in the order it was typed
            # (runs typed at random places may split each other, so not necessarily contiguous).
            assert Counter(text) == Counter(PARAGRAPH[:30] + "".join(runs)), f"seed {s}: {text!r} {runs!r}"
            assert all(_is_subsequence(r, text) for r in runs), f"seed {s}: {text!r} {runs!r}"
            # Acknowledged means durable: a server that starts from the store has it all.
            assert durable == text, f"seed {s}: the store lost acknowledged edits"
            assert planted >= 1, f"seed {s}: no fault was planted; the test proves nothing"
            assert counted == planted, f"seed {s}: {counted} internal errors counted, {planted} planted"
            for n in range(1, planted + 1):  # each one in the log, with its traceback
                at = log.find(f"RuntimeError: planted fault #{n}")
                assert at >= 0, f"seed {s}: planted fault #{n} is not in the log"
                assert "Traceback (most recent call last)" in log[max(0, at - 5000) : at], f"seed {s}: #{n}"
        finally:
            srv.kill()
