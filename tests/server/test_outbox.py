"""A connection that does not read is cut off by the bytes queued for it, not a frame count."""

from __future__ import annotations

import asyncio
from typing import Any

from cowrite.protocol import Error, ErrorCode, decode_frame
from cowrite.server.app import Connection


class StalledPeer:
    """A WebSocket whose peer stopped reading: the first send never completes."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)
        await asyncio.Event().wait()  # for ever

    async def close(self, code: int = 1000) -> None:
        self.closed = True


def test_queued_bytes_past_the_limit_cut_the_connection_off() -> None:
    async def main() -> None:
        peer = StalledPeer()
        conn = Connection(peer, max_bytes=10_000)  # type: ignore[arg-type]
        cut: list[bool] = []
        conn.on_cut_off = lambda: cut.append(True)
        writer = asyncio.create_task(conn.writer())
        conn.send(b"w" * 50_000)  # bigger than the limit, but nothing else is queued: a WELCOME
        await asyncio.sleep(0)
        assert peer.sent and conn.queued == 0  # the writer holds it, blocked on the peer
        for _ in range(4):  # 8 KB queued: under the limit
            conn.send(b"r" * 2_000)
        assert not cut and conn.queued == 8_000
        conn.send(b"r" * 2_001)  # 10 001 bytes: over
        assert cut == [True] and conn.closing and conn.cut_off
        [(last, close)] = list(conn.outbox)  # the backlog is dropped: only the reason is left
        err = decode_frame(last)
        assert isinstance(err, Error) and err.code is ErrorCode.TOO_LARGE and close
        assert conn.queued == len(last)
        conn.send(b"late")  # nothing more is queued for it
        assert len(conn.outbox) == 1
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)

    asyncio.run(main())


def test_many_small_frames_are_fine_while_the_peer_keeps_up() -> None:
    class Reader:
        def __init__(self) -> None:
            self.got = 0

        async def send_bytes(self, data: bytes) -> None:
            self.got += len(data)
            await asyncio.sleep(0)

        async def close(self, code: int = 1000) -> None:
            pass

    async def main() -> None:
        peer = Reader()
        conn = Connection(peer, max_bytes=1_000)  # type: ignore[arg-type]
        writer = asyncio.create_task(conn.writer())
        for _ in range(20_000):  # twice the old frame-count limit, a few bytes each
            conn.send(b"k" * 10)
            if conn.queued > 500:
                await asyncio.sleep(0)
        conn.finish()
        await writer
        assert not conn.cut_off and peer.got == 200_000

    asyncio.run(main())


def test_a_writer_that_fails_says_so(caplog: Any) -> None:
    class Broken:
        async def send_bytes(self, data: bytes) -> None:
            raise RuntimeError("a bug in the transport")

    async def main() -> None:
        conn = Connection(Broken(), max_bytes=1000)  # type: ignore[arg-type]
        conn.send(b"x")
        await conn.writer()

    asyncio.run(main())
    assert any("writing to a connection failed" in r.getMessage() and r.exc_info for r in caplog.records)


class FakeSocket:
    """Enough of Starlette's WebSocket for ``Server.websocket``: it sends ``frames``, then
    waits; after ``reads`` frames it stops reading what the server sends."""

    def __init__(self, token: str, frames: list[bytes], reads: int) -> None:
        self.headers: dict[str, str] = {}
        self.query_params = {"token": token}
        self.path_params = {"doc_id": "notes"}
        self.frames = list(frames)
        self.reads = reads
        self.got: list[bytes] = []

    async def accept(self) -> None:
        pass

    async def receive(self) -> dict[str, object]:
        if self.frames:
            return {"type": "websocket.receive", "bytes": self.frames.pop(0)}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send_bytes(self, data: bytes) -> None:
        if len(self.got) >= self.reads:
            await asyncio.Event().wait()  # stalled
        self.got.append(data)

    async def close(self, code: int = 1000) -> None:
        pass


def test_a_writer_cut_off_by_its_own_acks_leaves_the_room_working(tmp_path: Any) -> None:
    """The cut-off happens inside the connection's own room step (its ACK overflows its
    queue): the step still commits, and the room takes the next writer."""
    from cowrite.engine import Document
    from cowrite.protocol import Join, Ops, encode_frame
    from cowrite.server import Limits, Server, issue_token
    from cowrite.store import SQLiteStore

    secret = b"s" * 40
    store = SQLiteStore(tmp_path / "o.db")
    store.create("notes")
    server = Server(store, secret, limits=Limits(max_outbox_bytes=40))
    doc = Document("stuck")
    frames = [encode_frame(Join("notes", "stuck", {}))]
    for i in range(8):
        v = doc.version
        doc.insert(len(doc), f"<{i}>")
        frames.append(encode_frame(Ops(i + 1, doc.encode_patch(v))))

    async def main() -> None:
        ws = FakeSocket(issue_token(secret, "stuck", role="editor"), frames, reads=1)  # reads its WELCOME only
        handler = asyncio.create_task(server.websocket(ws))  # type: ignore[arg-type]
        for _ in range(2000):
            if handler.done():
                break
            await asyncio.sleep(0.005)
        assert handler.done(), "the cut-off connection's handler ended"
        handler.result()
        handle = server.rooms.loaded("notes")
        assert handle is not None and server.rooms.is_live(handle) and not handle.room.sessions
        # every batch it sent before it was cut off is durable; the room takes more
        text = handle.room.doc.text
        assert text and text == store.load("notes").text and doc.text.startswith(text)
        pending = await server.rooms.run(handle, lambda: handle.room.edit("stuck", "stuck", 0, 0, "!"))
        assert pending is not None and pending.error is None

    asyncio.run(main())
    store.close()
