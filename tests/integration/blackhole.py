"""A TCP relay that can partition one server from a service (PostgreSQL, Redis) by black-holing.

Unlike :class:`~tests.integration.netem.Link`'s cut (connections reset, new ones
refused, which a client notices at once), a black hole is what a real partition looks
like from the client: connections stay open and new ones are accepted, but nothing
gets through in either direction and nothing ever answers.  Only deadlines notice it
(libpq's ``connect_timeout``, the server's store deadline and probe); TCP itself does
not, since the relay's own kernel acknowledges every byte.

:meth:`heal` lets traffic through again.  Connections that lived through the hole
are reset then (bytes were lost: their protocol state is garbage), as a real network
would have reset them by then (keepalives, ``tcp_user_timeout``); new ones work.

The relay runs on an event loop in a thread of its own, so that it keeps relaying
while a test blocks (e.g. in ``ServerProcess.start``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class BlackholeRelay:
    """Relays ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.holed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="blackhole-relay", daemon=True)
        self._server: asyncio.Server | None = None
        self._held: set[asyncio.StreamWriter] = set()  # connections that saw the hole: reset on heal
        self._open: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def blackhole(self) -> None:
        """From now on nothing gets through, and nothing answers."""
        self._loop.call_soon_threadsafe(self._hole)

    def _hole(self) -> None:
        self.holed = True
        self._held |= self._open

    def heal(self) -> None:
        """Traffic flows again; connections that saw the hole are reset."""
        asyncio.run_coroutine_threadsafe(self._heal(), self._loop).result(10)

    async def _heal(self) -> None:
        self.holed = False
        for w in list(self._held):
            w.transport.abort()
        self._held.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            if self.holed:  # accepted, never answered
                self._held.add(writer)
                await self._swallow(reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                return
            self._open.add(up_writer)
            await asyncio.gather(self._pipe(reader, up_writer, writer), self._pipe(up_reader, writer, up_writer))
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._open.discard(w)
                    self._held.discard(w)
                    w.transport.abort()

    @staticmethod
    async def _swallow(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, src_writer: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                if self.holed:  # dropped on the floor
                    self._held |= {dst, src_writer}
                    continue
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.transport.abort()
            src_writer.transport.abort()

    def close(self) -> None:
        async def stop() -> None:
            for w in list(self._open):
                w.transport.abort()
            if self._server is not None:
                self._server.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()
