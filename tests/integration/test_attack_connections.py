"""Connections attacked on a real server: one user's many sockets, and a slowloris.

One user may hold a bounded number of sockets (``Limits.max_sockets_per_user``).  A
slowloris (a request head that never ends) is closed by ``server/headers_in_time.py``;
a request whose head is in is served as ever, keep-alive and WebSockets included.
"""

from __future__ import annotations

import asyncio
import socket
import time

from websockets.exceptions import ConnectionClosed

from cowrite.protocol import Error, ErrorCode, Join, Welcome, encode_frame
from cowrite.server.headers_in_time import HEADERS_SECONDS

from .harness import ServerProcess, raw_connect, recv, run, seed, token

SOCKETS = 300
"""More sockets than one person's tabs and devices ever hold at once."""


def test_one_user_cannot_hold_hundreds_of_sockets(server: ServerProcess) -> None:
    """Each joined socket costs a session in a room and a presence entry every other
    socket of the room hears of (n joins: n^2 frames): a user may hold a bounded number."""
    doc = "many-sockets"

    async def scenario() -> None:
        await seed(server, doc, "x")
        tok = token("mallory", doc=doc, role="editor")
        opened: list[object] = []
        refused = 0
        try:
            for i in range(SOCKETS):
                try:
                    ws = await raw_connect(server, doc, tok)
                except (OSError, ConnectionClosed):
                    refused += 1
                    break
                opened.append(ws)
                await ws.send(encode_frame(Join(doc, f"mallory-{i}", {})))
                first = await recv(ws)
                if isinstance(first, Error):
                    assert first.code in (ErrorCode.RATE_LIMITED, ErrorCode.FORBIDDEN), first
                    refused += 1
                    break
                assert isinstance(first, Welcome), first
            assert refused, f"{SOCKETS} sockets of one user all joined"
        finally:
            await asyncio.gather(*(w.close() for w in opened), return_exceptions=True)  # type: ignore[attr-defined]

    run(scenario(), timeout=120)


def test_connections_that_never_finish_their_headers_are_closed(server: ServerProcess) -> None:
    """Half a request, one byte of one, or nothing: each closed once its head is late
    (``HEADERS_SECONDS``), however many bytes trickle in meanwhile."""
    firsts = [b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"G", b""]
    held = {}
    for first in firsts:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=1)
        s.sendall(first)
        held[first] = s
    try:
        deadline = time.monotonic() + HEADERS_SECONDS + 15
        while held and time.monotonic() < deadline:
            for first, s in list(held.items()):
                try:
                    s.recv(4096)  # a 408 or a close: either ends it
                    del held[first]
                    s.close()
                except TimeoutError:
                    if first:
                        s.sendall(b"X")  # a byte a second: never a full header line
        assert not held, f"still held after {HEADERS_SECONDS + 15} s: {list(held)}"
    finally:
        for s in held.values():
            s.close()


def test_a_request_sent_in_time_is_served_and_the_connection_kept_alive(server: ServerProcess) -> None:
    """The deadline is for the head only: two requests on one connection, each after a
    pause shorter than the deadline, are both answered."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        for _ in range(2):
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            time.sleep(0.5)
            s.sendall(b"\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
            assert data.startswith(b"HTTP/1.1 200"), data
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += s.recv(4096)
    finally:
        s.close()
