"""Comments across a cluster: two ``cowrite serve`` processes on one PostgreSQL schema.

A comment made over HTTP on server A reaches a socket joined on server B as a
``COMMENTS`` frame within seconds (B polls the store's comment revision every
``reconcile_seconds``; comment changes do not go through Redis), and B serves the
same list, its anchor resolved against B's copy of the text.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import websockets

from tests.integration.cluster import cluster_server
from tests.integration.harness import run, seed, token

from cowrite.engine import Document
from cowrite.engine.anchors import Anchor
from cowrite.protocol import ClientSession, decode_frame
from cowrite.protocol.messages import Comments

DOC = "cluster-comments"


def test_a_comment_on_one_server_reaches_sockets_on_another(pg_url: str, tmp_path: Path) -> None:
    lim = ("reconcile_seconds=0.5", "poll_seconds=0.5")
    a, b = (cluster_server(pg_url, tmp_path / f"{n}.log", redis=None, prefix="", limits=lim, name=n) for n in "ab")
    a.start()
    b.start()
    try:
        async def main() -> None:
            await seed(a, DOC, "hello brave new world")
            auth = {"Authorization": f"Bearer {token()}"}
            async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
                snap = await http.get(f"{a.http}/api/docs/{DOC}/snapshot", headers=auth)
                anchor = Anchor.over(Document.decode(snap.content), 6, 11).to_json()
                session = ClientSession(Document("watcher"), DOC, user="watcher")
                url = f"{b.url}/ws/{DOC}?token={token('watcher', doc=DOC, role='viewer')}"
                async with websockets.connect(url) as ws:
                    for frame in session.data_to_send():
                        await ws.send(frame)
                    session.receive(await asyncio.wait_for(ws.recv(), 10))
                    assert session.welcomed
                    r = await http.post(f"{a.http}/api/docs/{DOC}/comments", headers=auth, json={"body": "brave?", "anchor": anchor})
                    assert r.status_code == 201, r.text
                    deadline = time.monotonic() + 15
                    while True:
                        msg = decode_frame(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
                        if isinstance(msg, Comments) and msg.revision >= 1:
                            break
                listed = (await http.get(f"{b.http}/api/docs/{DOC}/comments", headers=auth)).json()
                (c,) = listed["comments"]
                assert c["body"] == "brave?" and c["quote"] == "brave" and c["range"] == [6, 11]
                assert listed["revision"] == 1

        run(main(), timeout=60)
    finally:
        a.kill()
        b.kill()
    for s in (a, b):
        assert "Traceback" not in s.log_text(None)
