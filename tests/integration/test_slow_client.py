"""A client that stops reading is cut off by the bytes queued for it: a real server, a real
stalled socket.  The other connections of its room never wait for it."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import websockets
from websockets.exceptions import ConnectionClosed

from cowrite.engine import Document
from cowrite.protocol import Ack, Join, Ops, Welcome, encode_frame

from .harness import ServerProcess, join, recv_until, run, token, wait_until

LIMIT = 256 << 10


def test_a_client_that_stops_reading_is_cut_off_and_the_room_goes_on(tmp_path: Path) -> None:
    srv = ServerProcess(
        tmp_path / "slow.db",
        args=("--limit", f"max_outbox_bytes={LIMIT}", "--limit", "max_history_ops=100000000"),
    )
    srv.start()
    try:
        srv.create_doc("slow")
        run(_flood(srv), timeout=120)
    finally:
        srv.kill()


async def _flood(srv: ServerProcess) -> None:
    # The stalled reader: a tiny receive buffer, and it reads nothing after its WELCOME.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", srv.port))
    stalled = await websockets.connect(
        f"{srv.url}/ws/slow?token={token('sloth', doc='slow', role='viewer')}",
        sock=sock, max_queue=1, compression=None, proxy=None, open_timeout=10, ping_interval=None,
    )
    await stalled.send(encode_frame(Join("slow", "sloth", {})))
    await recv_until(stalled, Welcome)
    # The writer types big batches (random text: deflate cannot shrink them much).
    ws, _ = await join(srv, "slow", "writer", "w")
    doc = Document("w")
    rng = random.Random(3)
    sent = 0
    batch = 0
    for _ in range(40):
        before = doc.version
        doc.insert(0, "".join(chr(rng.randrange(0x100, 0x7FF)) for _ in range(150_000)))
        patch = doc.encode_patch(before)
        sent += len(patch)
        batch += 1
        await ws.send(encode_frame(Ops(batch, patch)))
        assert (await recv_until(ws, Ack)).batch_id == batch  # never held up by the stalled one
        before = doc.version
        doc.delete(0, len(doc))
        batch += 1
        await ws.send(encode_frame(Ops(batch, doc.encode_patch(before))))
        assert (await recv_until(ws, Ack)).batch_id == batch
        if "client too slow" in srv.log_text():
            break
    await wait_until(lambda: "client too slow" in srv.log_text(), 20, "the server to cut the stalled client off")
    assert sent > 4 * LIMIT
    # The stalled client reads again: what was queued for it was dropped, then the connection ends.
    got = 0
    try:
        async with asyncio.timeout(30):
            async for frame in stalled:
                got += len(frame)
    except ConnectionClosed:
        pass
    assert got < sent
    await ws.close()
