"""Tokens in ``?token=`` never reach the server's output: a real ``cowrite serve``.

uvicorn prints request targets with their query string (the access log, and its
WebSocket lines: ``"WebSocket /ws/doc?token=..." [accepted]``, the handshake at
debug level).  Browsers must put their token there, so ``cowrite serve`` blanks
every ``token=`` value in what it prints.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from cowrite.protocol import Join, Welcome, encode_frame

from .harness import ServerProcess, recv_until, run, token


@pytest.mark.parametrize("level", ["info", "debug"])
def test_no_token_in_the_servers_output(tmp_path: Path, level: str) -> None:
    srv = ServerProcess(tmp_path / "logs.db", args=("--log-level", level))
    srv.start()
    good = token("ann", doc="*", role="owner")
    forged = token("ann")[:-8] + "AAAAAAAA"  # a bad signature: refused, and still not printed
    try:
        srv.create_doc("notes")
        with httpx.Client(base_url=srv.http, timeout=10, trust_env=False) as c:
            for path in ("/", "/d/notes", "/d/notes/history", "/api/docs", "/api/docs/notes/text", "/api/docs/nope/text",
                         "/api/session", "/static/app.js"):
                c.get(path, params={"token": good})
                c.get(path, params={"token": forged})
                c.get(path + "?x=1&token=" + good + "&y=2")
            c.post("/api/docs/notes/edit", params={"token": good}, json={"pos": 0, "insert": "hi"})

        async def sockets() -> None:
            async with websockets.connect(
                f"{srv.url}/ws/notes?token={good}", compression=None, proxy=None, open_timeout=10
            ) as ws:
                await ws.send(encode_frame(Join("notes", "ann-laptop", {})))
                await recv_until(ws, Welcome)
            async with websockets.connect(
                f"{srv.url}/ws/notes?token={forged}", compression=None, proxy=None, open_timeout=10
            ) as ws:
                await asyncio.wait_for(ws.recv(), 10)  # ERROR unauthorized
            with pytest.raises(InvalidStatus):  # a cross-site page: the upgrade is refused (403)
                await websockets.connect(
                    f"{srv.url}/ws/notes?token={good}",
                    origin="https://evil.example",  # type: ignore[arg-type]
                    compression=None, proxy=None, open_timeout=10,
                )

        run(sockets())
    finally:
        srv.stop()  # SIGTERM: a clean shutdown flushes everything
        if srv.proc is not None and srv.proc.poll() is None:
            srv.kill(signal.SIGKILL)
    out = srv.log_text(None)
    assert '"GET /d/notes?token=[redacted]' in out, out[-3000:]  # the access log was on
    assert "/ws/notes?token=[redacted]" in out and "[accepted]" in out, out[-3000:]
    assert "x=1&token=[redacted]&y=2" in out
    for secret in (good, forged, good.split(".")[2], forged.split(".")[2]):
        assert secret not in out, f"a token reached the output:\n{out[out.find(secret) - 300:][:600]}"
