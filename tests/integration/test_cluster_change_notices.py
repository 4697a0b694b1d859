"""Comment and suggestion changes across a cluster through Redis, not the store's poll.

Two ``cowrite serve`` on one PostgreSQL schema and one Redis, with ``reconcile_seconds``
at 60: the servers' own looks at the store come far too late for these tests' deadlines,
so a ``COMMENTS`` or ``SUGGESTIONS`` frame reaching the socket on server B in time can
only have come through the ``<prefix>:notices`` channel.  Garbage published on that
channel is ignored, and the notices after it still arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets

from tests.integration.cluster import cluster_server
from tests.integration.harness import ServerProcess, run, seed, token

from cowrite.engine import Document
from cowrite.engine.anchors import Anchor
from cowrite.protocol import ClientSession, decode_frame
from cowrite.protocol.messages import Comments, Suggestions

DOC = "notices"
AUTH = {"Authorization": f"Bearer {token()}"}
DEADLINE = 10.0
"""Generous for a loaded machine, yet far below ``reconcile_seconds``."""
SLOW_POLL = ("reconcile_seconds=60",)


@pytest.fixture
def servers(pg_url: str, redis_server_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    a, b = (
        cluster_server(pg_url, tmp_path / f"{n}.log", redis=redis_server_url, prefix=redis_prefix, limits=SLOW_POLL, name=n)
        for n in "ab"
    )
    a.start()
    b.start()
    try:
        yield a, b
    finally:
        a.kill()
        b.kill()
    for s in (a, b):
        assert "Traceback" not in s.log_text(None)


async def fanout_up(http: httpx.AsyncClient, *servers: ServerProcess) -> None:
    """Until every server is subscribed (a notice published before would be missed)."""
    for s in servers:
        while (await http.get(f"{s.http}/ready")).json().get("fanout") != "redis":
            await asyncio.sleep(0.05)


@asynccontextmanager
async def watcher_on(srv: ServerProcess) -> AsyncIterator[Any]:
    """A viewer's socket joined to DOC on ``srv`` (the document loaded there)."""
    session = ClientSession(Document("watcher"), DOC, user="watcher")
    async with websockets.connect(f"{srv.url}/ws/{DOC}?token={token('watcher', doc=DOC, role='viewer')}") as ws:
        for frame in session.data_to_send():
            await ws.send(frame)
        session.receive(await asyncio.wait_for(ws.recv(), 10))
        assert session.welcomed
        yield ws


async def next_of(ws: Any, kind: type[Comments] | type[Suggestions]) -> Comments | Suggestions:
    deadline = time.monotonic() + DEADLINE
    while True:
        msg = decode_frame(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if isinstance(msg, kind):
            return msg


async def add_comment(http: httpx.AsyncClient, srv: ServerProcess, body: str) -> int:
    snap = await http.get(f"{srv.http}/api/docs/{DOC}/snapshot", headers=AUTH)
    anchor = Anchor.over(Document.decode(snap.content), 0, 5).to_json()
    r = await http.post(f"{srv.http}/api/docs/{DOC}/comments", headers=AUTH, json={"body": body, "anchor": anchor})
    assert r.status_code == 201, r.text
    listed = (await http.get(f"{srv.http}/api/docs/{DOC}/comments", headers=AUTH)).json()
    revision: int = listed["revision"]
    return revision


def test_a_comment_on_one_server_reaches_another_through_redis(servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = servers

    async def main() -> None:
        await seed(a, DOC, "hello brave new world")
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            await fanout_up(http, a, b)
            async with watcher_on(b) as ws:
                revision = await add_comment(http, a, "first")
                assert (await next_of(ws, Comments)).revision == revision
                revision = await add_comment(http, a, "second")
                assert (await next_of(ws, Comments)).revision == revision

    run(main(), timeout=60)


def test_a_suggestion_on_one_server_reaches_another_through_redis(servers: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = servers

    async def main() -> None:
        await seed(a, DOC, "hello world")
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            await fanout_up(http, a, b)
            async with watcher_on(b) as ws:
                snap = await http.get(f"{a.http}/api/docs/{DOC}/snapshot", headers=AUTH)
                version = [[agent, seq] for agent, seq in Document.decode(snap.content).version]
                url = f"{a.http}/api/docs/{DOC}/suggestions"
                r = await http.post(url, headers=AUTH, json={"version": version, "text": "hello brave world"})
                assert r.status_code == 201, r.text
                listed = (await http.get(url, headers=AUTH)).json()
                assert len(listed["suggestions"]) == 1
                assert (await next_of(ws, Suggestions)).revision == listed["revision"]

    run(main(), timeout=60)


MALFORMED = [
    b"",
    b"\xff\xfe\x00 garbage",
    b"mallory " + DOC.encode() + b" comments",  # a field missing
    b"mallory " + DOC.encode() + b" comments 1 extra",
    b"mallory " + DOC.encode() + b" comments -1",
    b"mallory " + DOC.encode() + b" comments " + b"9" * 40,  # beyond any revision
    b"mallory " + DOC.encode() + b" reactions 1",  # no such kind
    b"mallory " + DOC.encode() + b" comments 1" + b" " * 2000,  # too long
]


def test_malformed_notices_are_ignored_and_later_ones_still_arrive(
    servers: tuple[ServerProcess, ServerProcess], redis_server_url: str, redis_prefix: str
) -> None:
    a, b = servers

    async def main() -> None:
        await seed(a, DOC, "hello brave new world")
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            await fanout_up(http, a, b)
            async with watcher_on(b) as ws:
                with redis.Redis.from_url(redis_server_url) as r:
                    for data in MALFORMED:
                        r.publish(f"{redis_prefix}:notices", data)
                revision = await add_comment(http, a, "after the garbage")
                msg = await next_of(ws, Comments)
                assert msg.revision == revision  # not a garbage revision: those were dropped
            assert (await http.get(f"{b.http}/ready")).json()["fanout"] == "redis"

    run(main(), timeout=60)
    assert "ignoring a malformed notice" in b.log_text(None)
