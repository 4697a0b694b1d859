"""The client's network loop: connect, read, write, check, reconnect.

:class:`Connection` keeps one WebSocket to a server open at a time, with a
:class:`~cowrite.protocol.ClientSession` over it, and reconnects with exponential
backoff and full jitter when it drops -- to the next of its server URLs when it has
several (the rules are :class:`~.failover.Failover`'s).  What the frames mean is not its business:
it asks its :class:`Host` (the client) for a session per connection, hands it
every frame that arrives, lets it queue what is due before each send, and stops
when the host says so or a :class:`~cowrite.errors.FatalError` is raised.

Per connection three things run: the reader (this task), a writer that wakes on
``wake`` (an edit, a frame that needs an answer) and coalesces a burst into one
batch per ``flush_interval``, and the digester, which sends the divergence check
(``DIGEST``) ``digest_delay`` after the client settles and then every
``digest_interval`` while idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from cowrite.engine import RawVersion
from cowrite.protocol import ClientSession

from ..errors import ConfigError, FatalError
from .failover import Failover, backoff_delay
from .settings import ClientSettings

__all__ = ["Connection", "Host", "Verdict", "backoff_delay", "ws_url"]

log = logging.getLogger("cowrite.client")

MAX_FRAME = 1 << 28
"""Largest frame accepted from the server: a WELCOME carries the history the client
lacks (a fresh one the whole document), so allow large ones."""


def ws_url(base: str, doc_id: str) -> str:
    """The WebSocket URL of ``doc_id`` on the server at ``base`` (``ws://`` or ``http://`` ...)."""
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ConfigError(f"expected the server's URL (ws://host:port or http://host:port), not {base!r}")
    path = parts.path.rstrip("/") + "/ws/" + quote(doc_id, safe="")
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class Verdict(Enum):
    """What the host makes of a frame."""

    CONTINUE = "continue"
    RECONNECT = "reconnect"
    """Drop this connection and connect again at once (with a short jitter)."""
    BACK_OFF = "back off"
    """Drop this connection and wait longer before the next one (rate limits, failures)."""


class Host(Protocol):
    """What a :class:`Connection` needs of the client it serves."""

    @property
    def last_activity(self) -> float:
        """``time.monotonic()`` of the last edit or frame (the digester waits for quiet)."""
        ...

    @property
    def version(self) -> RawVersion:
        """The replica's version now."""
        ...

    def token(self) -> str:
        """The access token for a new connection."""
        ...

    def open_session(self) -> ClientSession:
        """A session for a new connection (its JOIN queued)."""
        ...

    def received(self, session: ClientSession, data: bytes) -> Verdict:
        """A frame arrived on ``session``'s connection."""
        ...

    async def prepare(self, session: ClientSession) -> None:
        """Queue on ``session`` what is due before the writer sends (edits, cursor)."""
        ...

    def dropped(self, session: ClientSession, close_code: int | None) -> Verdict:
        """The server closed ``session``'s connection (``close_code``: the WebSocket's, e.g.
        1009 for a message over its size limit), without an ``ERROR`` that ended it."""
        ...

    def closed_session(self, session: ClientSession) -> None:
        """``session``'s connection ended."""
        ...

    def stopped(self, error: FatalError) -> None:
        """The server refused this client for good: the connection loop ends."""
        ...


class _Outcome(Enum):
    """How one connection ended, for the choice of the next URL and delay."""

    FAILED = "failed"
    """Not joined, or refused with a back-off: the next URL, backoff growing per round."""
    DROPPED = "dropped"
    """Joined, then ended by the server or the network: the next URL, soon."""
    RECONNECT = "reconnect"
    """Joined, and dropped by the client on purpose: the same URL, soon."""


class Connection:
    """The network loop of one client (see the module docstring).  ``urls``: the
    document's WebSocket URL on each server the client may use, in order of preference
    (one string: a single server, or a load balancer).  ``rand`` draws the backoff jitter."""

    def __init__(
        self,
        host: Host,
        urls: str | Sequence[str],
        settings: ClientSettings,
        *,
        wake: asyncio.Event,
        closing: asyncio.Event,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.host = host
        self.settings = settings
        self.wake = wake
        self.closing = closing
        self._rand = rand
        self.failover = Failover((urls,) if isinstance(urls, str) else urls, settings.backoff_base,
                                 settings.backoff_cap, rand)
        self._ws: ClientConnection | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        return self.failover.urls

    @property
    def url(self) -> str:
        """The URL of the open connection, or of the next attempt."""
        return self.failover.url

    @url.setter
    def url(self, url: str) -> None:
        """Use only ``url`` from the next connection on (backoff from zero)."""
        self.failover = Failover((url,), self.settings.backoff_base, self.settings.backoff_cap, self._rand)

    async def run(self) -> None:
        """Connect and reconnect until ``closing`` is set or the host is refused for good."""
        while not self.closing.is_set():
            url = self.failover.url
            outcome = _Outcome.FAILED
            try:
                outcome = await self._connect_once(url)
            except FatalError as exc:
                self.host.stopped(exc)
                return
            except Exception:
                log.exception("connection to %s failed", url)
            if self.closing.is_set():
                return
            failover = self.failover  # (the url setter may have replaced it meanwhile)
            if outcome is _Outcome.RECONNECT:
                delay = failover.reconnect()
            elif outcome is _Outcome.DROPPED:
                delay = failover.dropped()
            else:
                delay = failover.failed()
            if failover.url != url:
                log.info("connection to %s ended (%s); trying %s in %.2f s", url, outcome.value, failover.url, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), delay)

    async def disconnect(self) -> None:
        """Close the current WebSocket, if any (the loop notices)."""
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _open(self, url: str) -> ClientConnection | None:
        settings = self.settings
        try:
            return await connect(
                url,
                additional_headers={"Authorization": f"Bearer {self.host.token()}"},
                open_timeout=settings.connect_timeout,
                ping_interval=settings.keepalive,
                ping_timeout=settings.keepalive,
                close_timeout=2,
                max_size=MAX_FRAME,
                compression=None,
                proxy=settings.proxy,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if 400 <= status < 500 and status not in (408, 425, 429):
                raise FatalError(None, f"the server refused the WebSocket with HTTP {status}") from None
            log.info("connecting to %s: HTTP %d; retrying", url, status)
            return None
        except InvalidURI as exc:
            raise FatalError(None, str(exc)) from None
        except Exception as exc:  # refused, unreachable, timed out, bad handshake: retry
            log.debug("connecting to %s failed: %r", url, exc)
            return None

    async def _connect_once(self, url: str) -> _Outcome:
        """One connection to ``url``, until it ends; how it ended."""
        ws = await self._open(url)
        if ws is None:
            return _Outcome.FAILED
        host = self.host
        session = host.open_session()
        self._ws = ws
        self.wake.set()  # JOIN
        writer = asyncio.create_task(self._writer(ws, session))
        digester = asyncio.create_task(self._digester(session)) if self.settings.digest_interval is not None else None
        verdict: Verdict | None = None  # None: the server (or the network) ended it
        try:
            try:
                async for data in ws:
                    if isinstance(data, str):
                        log.warning("the server sent a text frame; reconnecting")
                        verdict = Verdict.BACK_OFF
                        break
                    verdict = host.received(session, data)
                    if verdict is not Verdict.CONTINUE:
                        break
                    self.wake.set()
                else:
                    verdict = None
            except ConnectionClosed:
                verdict = None
            finally:
                for task in (writer, digester):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task
                self._ws = None
                with contextlib.suppress(Exception):
                    await ws.close()
            ended_by_server = verdict is None or verdict is Verdict.CONTINUE
            if ended_by_server:
                verdict = host.dropped(session, ws.close_code)
        finally:
            host.closed_session(session)
        if session.welcomed:
            self.failover.joined()
        if verdict is Verdict.BACK_OFF or not session.welcomed:
            return _Outcome.FAILED
        return _Outcome.DROPPED if ended_by_server else _Outcome.RECONNECT

    async def _writer(self, ws: ClientConnection, session: ClientSession) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.flush_interval
        last_send = float("-inf")
        try:
            while True:
                await self.wake.wait()
                wait = last_send + interval - loop.time()
                if wait > 0:  # coalesce a burst into one batch per tick
                    await asyncio.sleep(wait)
                self.wake.clear()
                await self.host.prepare(session)
                frames = session.data_to_send()
                if frames:
                    last_send = loop.time()
                    for frame in frames:
                        await ws.send(frame)
        except ConnectionClosed:
            return
        except Exception:
            log.exception("sending to %s failed; reconnecting", self.url)
            await ws.close(1011)

    async def _digester(self, session: ClientSession) -> None:
        """Send a DIGEST ``digest_delay`` after the client settles and every
        ``digest_interval`` while nothing changes (only when the session is in sync)."""
        settings = self.settings
        interval = settings.digest_interval
        assert interval is not None
        delay = settings.digest_delay
        sent_at = float("-inf")
        sent_version: RawVersion | None = None
        while True:
            now = time.monotonic()
            quiet = now - self.host.last_activity
            if quiet < delay:
                await asyncio.sleep(delay - quiet)
                continue
            version = self.host.version
            if session.in_sync and (version != sent_version or now - sent_at >= interval):
                if session.send_digest():
                    sent_at, sent_version = now, version
                    self.wake.set()  # the writer sends it
            # Not in sync yet (something in flight): look again shortly.  Otherwise
            # the next digest is due after the interval, or after the next change.
            wait = sent_at + interval - now if sent_version == version else delay
            await asyncio.sleep(max(wait, 0.05))
