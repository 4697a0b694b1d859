"""The open WebSockets of each session and each document, so that ending a session, or a
change of someone's access to a document, reaches their sockets within seconds.

Sessions (:class:`LiveSessions`):

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

Documents (:class:`DocSockets`): every joined socket is kept with its document, its
user, how it signed in and its protocol role, and a ``check`` that works its role
out again.  :class:`~cowrite.accounts.Sharing` calls :meth:`DocSockets.changed` when
a member is added, removed or given another role (user ``"*"``: the document's link
changed); the sockets it may concern are checked again and told (``react``) the
role they have now: ``None`` (no access any more) or another protocol role (the
server closes the socket so that its client joins again with the new role).  The
same check runs every ``interval`` seconds for every socket, for changes made where
no callback reaches (another process on the same database).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..accounts import Accounts
from ..protocol import Role
from .access import protocol_role

__all__ = ["DocSockets", "LiveSessions"]

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


@dataclass(eq=False, slots=True)
class _Socket:
    user: str
    via: str  # "session", "pat" or "token"
    role: Role  # the protocol role it joined with
    check: Callable[[], str | None]  # its document role now (reads the store: a worker thread)
    react: Callable[[str | None], object]  # what the server does about a new role (None: no access)
    gate: asyncio.Event  # cleared while a change that may concern it is checked: its frames wait


class DocSockets:
    """The joined sockets of each document, and who they are (see the module)."""

    def __init__(self, interval: float = 30.0) -> None:
        self.interval = interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count()
        self._docs: dict[str, dict[int, _Socket]] = {}
        self._per_user: dict[str, int] = {}
        self._tasks: set[asyncio.Task[int]] = set()

    def __len__(self) -> int:
        return sum(len(s) for s in self._docs.values())

    def watch(
        self,
        doc: str,
        user: str,
        via: str,
        role: Role,
        check: Callable[[], str | None],
        react: Callable[[str | None], object],
        gate: asyncio.Event,
    ) -> Callable[[], None]:
        """Keep a joined socket on ``doc``; returns what forgets it.  ``gate`` is cleared
        from the moment a change that may concern the socket is heard until it has been
        checked (the server applies no frame of the socket meanwhile, so nothing sent
        after a removal is applied).  Event loop only."""
        self._loop = asyncio.get_running_loop()
        wid = next(self._ids)
        self._docs.setdefault(doc, {})[wid] = _Socket(user, via, role, check, react, gate)
        self._per_user[user] = self._per_user.get(user, 0) + 1

        def unwatch() -> None:
            sockets = self._docs.get(doc)
            if sockets is None or sockets.pop(wid, None) is None:
                return  # forgotten already
            if not sockets:
                del self._docs[doc]
            left = self._per_user[user] - 1
            if left:
                self._per_user[user] = left
            else:
                del self._per_user[user]

        return unwatch

    def held_by(self, user: str) -> int:
        """How many sockets ``user`` holds (every document)."""
        return self._per_user.get(user, 0)

    def changed(self, doc: str, user: str, role: str | None = None) -> None:
        """The callback :class:`Sharing` calls: ``user``'s role on ``doc`` changed (``"*"``:
        the link, or anything).  Safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn(doc, user)
        else:
            loop.call_soon_threadsafe(self._spawn, doc, user)

    def user_changed(self, user: str) -> None:
        """``user``'s standing changed everywhere (a token of theirs was revoked, their
        account disabled): check every socket of theirs again, on every document.  Safe
        from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn_user(user)
        else:
            loop.call_soon_threadsafe(self._spawn_user, user)

    def _spawn_user(self, user: str) -> None:
        for doc, sockets in list(self._docs.items()):
            if any(self._concerns(sock, user) for sock in sockets.values()):
                self._spawn(doc, user)

    def _spawn(self, doc: str, user: str) -> None:
        held = [sock for sock in self._docs.get(doc, {}).values() if self._concerns(sock, user)]
        for sock in held:
            sock.gate.clear()
        task = asyncio.get_running_loop().create_task(self._recheck_held(doc, user, held))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _concerns(sock: _Socket, user: str) -> bool:
        return user == "*" or (sock.user == user and sock.via != "token")

    async def _recheck_held(self, doc: str, user: str, held: list[_Socket]) -> int:
        try:
            return await self.recheck(doc, user)
        finally:
            for sock in held:
                sock.gate.set()

    async def recheck(self, doc: str, user: str = "*") -> int:
        """Check the sockets of ``doc`` that ``user``'s change may concern (``"*"``: all)
        again, and tell those whose role changed.  Returns how many were told."""
        told = 0
        for sock in list(self._docs.get(doc, {}).values()):
            if not self._concerns(sock, user):
                continue
            try:
                role = await asyncio.to_thread(sock.check)
            except Exception:  # a store failure: leave it, the next check tries again
                log.exception("checking the access of a socket to %r failed", doc)
                continue
            if role is None or protocol_role(role) is not sock.role:
                told += 1
                try:
                    sock.react(role)
                except Exception:  # pragma: no cover - one socket must not keep the others open
                    log.exception("closing a socket whose access changed failed")
        return told

    async def check(self) -> int:
        """:meth:`recheck` every document."""
        told = 0
        for doc in list(self._docs):
            told += await self.recheck(doc)
        return told

    async def run(self) -> None:
        """:meth:`check` every ``interval`` seconds, for ever (the server's lifespan task)."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:  # pragma: no cover
                log.exception("checking the access of open sockets failed")
