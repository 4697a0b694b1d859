"""A frame for a connection whose writer is idle is written at once; one whose write
has to wait (or fails) is finished by the writer, and later frames follow it in order."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cowrite.server.app import Connection


class Peer:
    """A WebSocket whose sends complete at once, except while ``gate`` is closed."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.started: list[bytes] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed: int | None = None
        self.unwound = 0  # sends that ended by an exception thrown into them

    async def send_bytes(self, data: bytes) -> None:
        self.started.append(data)
        try:
            if not self.gate.is_set():
                await self.gate.wait()
        except BaseException:
            self.unwound += 1
            raise
        self.sent.append(data)

    async def close(self, code: int = 1000) -> None:
        self.closed = code


async def _idle(conn: Connection) -> asyncio.Task[None]:
    writer = asyncio.create_task(conn.writer())
    for _ in range(3):
        await asyncio.sleep(0)
    return writer


def test_a_frame_for_an_idle_writer_is_written_before_send_returns() -> None:
    async def main() -> None:
        peer = Peer()
        conn = Connection(peer, max_bytes=1000)  # type: ignore[arg-type]
        writer = await _idle(conn)
        conn.send(b"ack")
        conn.send(b"ops")
        assert peer.sent == [b"ack", b"ops"] and conn.queued == 0 and not conn.outbox
        conn.send(b"bye", close=True)  # a closing frame goes through the writer, which closes
        assert peer.sent == [b"ack", b"ops"]
        await asyncio.wait_for(writer, 1)
        assert peer.sent == [b"ack", b"ops", b"bye"] and peer.closed == 1000

    asyncio.run(main())


def test_a_write_that_must_wait_is_finished_by_the_writer_and_later_frames_follow() -> None:
    async def main() -> None:
        peer = Peer()
        conn = Connection(peer, max_bytes=1000)  # type: ignore[arg-type]
        writer = await _idle(conn)
        peer.gate.clear()  # the peer stops reading
        conn.send(b"one")
        conn.send(b"two")
        conn.send(b"three")
        assert peer.started == [b"one"] and peer.sent == []
        assert conn.queued == len(b"one") + len(b"two") + len(b"three")  # counted for the cut-off
        await asyncio.sleep(0)
        assert peer.sent == []
        peer.gate.set()
        for _ in range(10):
            await asyncio.sleep(0)
        assert peer.sent == [b"one", b"two", b"three"] and conn.queued == 0
        conn.send(b"four")  # idle again: at once
        assert peer.sent[-1] == b"four"
        conn.finish()
        await asyncio.wait_for(writer, 1)

    asyncio.run(main())


def test_cancelling_the_writer_unwinds_a_write_it_finishes() -> None:
    async def main() -> None:
        peer = Peer()
        conn = Connection(peer, max_bytes=1000)  # type: ignore[arg-type]
        writer = await _idle(conn)
        peer.gate.clear()
        conn.send(b"stuck")
        await asyncio.sleep(0)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        assert writer.cancelled() and peer.unwound == 1 and peer.sent == []

    asyncio.run(main())


def test_a_write_that_fails_at_once_ends_the_writer_as_its_own_would(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Peer):
        async def send_bytes(self, data: bytes) -> None:
            raise RuntimeError("the socket is gone")

    async def main() -> None:
        conn = Connection(Broken(), max_bytes=1000)  # type: ignore[arg-type]
        writer = await _idle(conn)
        conn.send(b"x")
        await asyncio.wait_for(writer, 1)  # it reported the failure and stopped

    with caplog.at_level(logging.ERROR, logger="cowrite.server"):
        asyncio.run(main())
    assert any("writing to a connection failed" in r.getMessage() for r in caplog.records)
