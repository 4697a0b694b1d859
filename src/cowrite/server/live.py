"""The open WebSockets of each session, so that ending a session ends them within seconds.

:class:`~cowrite.accounts.Accounts` calls :meth:`LiveSessions.revoked` whenever it
revokes sessions (sign-out, "sign out everywhere", a password change, a disabled
account), from whatever thread ran it; every socket of those sessions is then closed
on the event loop.  A session can also end where no callback reaches this process
(it expired, or ``cowrite user disable`` ran in another process): every
``interval`` seconds each watched session is looked up again, and the sockets of
those that are gone are closed the same way.

What "closing" means is the watcher's (:class:`~cowrite.server.app.Server` sends a
fatal ``unauthorized`` error and stops reading the socket); this module only keeps
the books and decides when.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

from ..accounts import Accounts

__all__ = ["LiveSessions"]

log = logging.getLogger("cowrite.server")

Close = Callable[[str], object]
"""Closes one socket; its argument is the reason, for the user."""


class LiveSessions:
    """The sockets open under each session key (the stored hash of a session id)."""

    def __init__(self, accounts: Accounts, interval: float = 30.0) -> None:
        self.accounts = accounts
        self.interval = interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count()
        self._sockets: dict[str, dict[int, Close]] = {}  # key -> watch id -> close
        self._session_ids: dict[str, str] = {}  # key -> the session id, to look it up again
        accounts.on_revoke(self.revoked)

    def __len__(self) -> int:
        return sum(len(s) for s in self._sockets.values())

    def watch(self, key: str, session_id: str, close: Close) -> Callable[[], None]:
        """Close the socket with ``close(reason)`` once session ``key`` ends; returns what
        stops watching it (call it when the socket ends).  Event loop only."""
        self._loop = asyncio.get_running_loop()
        wid = next(self._ids)
        self._sockets.setdefault(key, {})[wid] = close
        self._session_ids[key] = session_id

        def unwatch() -> None:
            sockets = self._sockets.get(key)
            if sockets is not None:
                sockets.pop(wid, None)
                if not sockets:
                    del self._sockets[key]
                    self._session_ids.pop(key, None)

        return unwatch

    def revoked(self, user: str, keys: frozenset[str]) -> None:
        """The callback :class:`Accounts` calls: sessions ``keys`` of ``user`` ended.
        Safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not serving: no sockets to close
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._close(keys, "your session ended (signed out)")
        else:
            loop.call_soon_threadsafe(self._close, keys, "your session ended (signed out)")

    def _close(self, keys: frozenset[str], reason: str) -> None:
        for key in keys:
            sockets = self._sockets.pop(key, None)
            self._session_ids.pop(key, None)
            for close in (sockets or {}).values():
                try:
                    close(reason)
                except Exception:  # pragma: no cover - one socket must not keep the others open
                    log.exception("closing a socket of a revoked session failed")

    async def check(self) -> int:
        """Look every watched session up again; close the sockets of those that ended.
        Returns how many sessions ended."""
        gone: set[str] = set()
        for key, sid in list(self._session_ids.items()):
            if await asyncio.to_thread(self.accounts.session, sid) is None:
                gone.add(key)
        if gone:
            self._close(frozenset(gone), "your session ended (expired or revoked)")
        return len(gone)

    async def run(self) -> None:
        """:meth:`check` every ``interval`` seconds, for ever (the server's lifespan task)."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:  # pragma: no cover - keep checking (a store failure is logged)
                log.exception("checking the sessions of open sockets failed")
