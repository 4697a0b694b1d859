"""Shutting down without losing an acknowledgement: uvicorn, with a drain before it closes.

On SIGTERM (or Ctrl-C) uvicorn closes its listening sockets and then every open
connection at once: a WebSocket whose commit is in flight is cut before its ``ACK``
goes out, and the client resends a batch that was stored (harmless, but the client
waits for a reconnect it need not have).  :class:`DrainingUvicorn` puts
:meth:`Server.drain <cowrite.server.app.Server.drain>` in between: no new
connections, the commits in flight finish and are acknowledged, every socket is
closed with 1012 (its client reconnects at once, to another server), and only then
does uvicorn's own shutdown run (the Starlette lifespan's end snapshots the rooms).
"""

from __future__ import annotations

import socket

import uvicorn

from .app import Server

__all__ = ["DrainingUvicorn"]


class DrainingUvicorn(uvicorn.Server):
    """A :class:`uvicorn.Server` running ``server.app`` that drains it before shutting down."""

    def __init__(self, config: uvicorn.Config, server: Server) -> None:
        super().__init__(config)
        self.cowrite = server

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in self.servers:  # no new connections (uvicorn does it again: harmless)
            listener.close()
        for sock in sockets or []:
            sock.close()
        await self.cowrite.drain()
        await super().shutdown(sockets)
