"""uvicorn's HTTP/1.1 protocol (h11), with a deadline for each request's headers.

uvicorn closes a connection that sits idle after a response (``timeout_keep_alive``),
but nothing bounds how long a client may take to *send* a request's head: a client
that opens a connection and writes one header byte every few seconds (a slowloris)
holds the connection, its file descriptor and its buffers for ever, and a few thousand
of them exhaust the process's descriptors -- every other client is then refused.  Here
each request's line and headers must arrive within :data:`HEADERS_SECONDS` of the
connection opening (or of the previous response ending); otherwise the connection is
closed.  Bodies and WebSockets are not affected: once the head is in, the timer is off.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADERS_SECONDS", "HeadersInTime"]

HEADERS_SECONDS = 20.0
"""Seconds a client has to send a request's line and headers.  A browser sends them in
one packet, but it also opens connections ahead of need and may use one seconds later:
Chromium drops such an unused connection after 10 seconds, so the deadline is past that
(a connection closed just as the browser writes to it would fail that request)."""


class HeadersInTime(H11Protocol):
    """:class:`H11Protocol` that closes a connection whose request head is late."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request's head arrived (or an upgrade)
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():  # the next request's head
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEADERS_SECONDS, self._late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
