"""The asyncio client: a full peer that keeps working offline.

The client owns a :class:`~cowrite.engine.Document` (its replica) and, while the
server is reachable, one WebSocket with a :class:`~cowrite.protocol.ClientSession`
over it.  Local edits apply to the replica at once; a writer task sends them in
``OPS`` batches on a short tick.  When the connection drops the replica keeps
taking edits; the client reconnects with exponential backoff and full jitter and
joins again with its summary, so the server sends what the client missed and the
client sends what the server lacks (the replica *is* the queue).

With ``path`` the replica and its agent are kept in a state file:

* written (atomically) a little after local edits, and on close; loaded on start;
* **written before any of its ops are sent** (write-ahead).  The client reuses its
  agent after a restart, so the server must never hold an op of that agent the
  file lacks: the restarted client would give a new op the same ``(agent, seq)``
  and the two could never merge.

Divergence check: about a second after the client settles (joined, everything
acknowledged) and then every ten seconds while idle it sends the server a hash of
its text (``DIGEST``).  If the server's text at that version differs it sends its
whole document (``RESYNC``): the client replaces its replica with it (a new
:class:`~cowrite.engine.Document` object: :attr:`Client.doc` changes), keeps and
resends its own edits the server lacked, and reports the change of text to the
``on_change`` observers like a remote change.  The undo history is cleared then
(its steps name ops of the replaced replica; a fresh ``UndoManager`` with the same
settings takes over), so an undo after a resync never touches text typed before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from cowrite.engine import CowriteError, Document, Position, RawVersion, UndoManager, UndoResult
from cowrite.protocol import (
    Acked,
    ClientSession,
    Edit,
    ErrorCode,
    Event,
    Join,
    PongReceived,
    Presence,
    ProtocolError,
    PresenceChanged,
    ProtocolFailure,
    RemoteChange,
    Resynced,
    Role,
    ServerError,
    Welcomed,
    encode_frame,
)

from ..errors import ClientClosed, ClientError, FatalError, ReadOnlyError, StateFileError
from .storage import StateLock, StateWriter, encode_state, read_state, remove_stale_temporaries

__all__ = ["Client", "Peer", "State", "backoff_delay"]

log = logging.getLogger("cowrite.client")

State = Literal["offline", "syncing", "connected", "error", "closed"]
"""``offline``: no connection (connecting or waiting to retry); ``syncing``: connected,
joining or resending what the server lacked; ``connected``: joined and caught up;
``error``: stopped for good (see :attr:`Client.error`); ``closed``: :meth:`Client.close` ran."""

# ERROR codes after which reconnecting cannot help.
_FATAL = frozenset({ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND, ErrorCode.BAD_STATE, ErrorCode.BAD_FRAME})
# Refusals of one of our batches that resending would only repeat.
_REFUSED = frozenset({ErrorCode.BAD_OP, ErrorCode.CONFLICT, ErrorCode.FORBIDDEN, ErrorCode.TOO_LARGE})
_MAX_FRAME = 1 << 28  # a WELCOME carries the history the client lacks: allow large ones

_T = TypeVar("_T")


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt))``."""
    return rand() * min(cap, base * 2.0 ** min(attempt, 64))


@dataclass(frozen=True, slots=True)
class Peer:
    """Another connection's presence.  ``anchor``/``head`` are indices in the current text,
    resolved from ``cursor`` when this value was made (None: no cursor, or its
    characters have not arrived yet)."""

    agent: str
    user: str
    colour: str
    cursor: tuple[Position, Position] | None
    anchor: int | None
    head: int | None


def _ws_url(base: str, doc_id: str) -> str:
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"expected the server's URL (ws://host:port or http://host:port), not {base!r}")
    path = parts.path.rstrip("/") + "/ws/" + quote(doc_id, safe="")
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class Client:
    """A live, offline-capable replica of document ``doc_id`` on the server at ``url``.

    ``url`` is the server's base URL (``ws://host:port``; ``http://`` works too);
    ``token`` an access token, or a function returning one (called per connection,
    so it can refresh).  ``agent`` is this replica's agent id (random if None; with
    ``path`` it is stored and reused).  ``user_name``/``colour`` travel with the
    presence (the server replaces the name with the token's user).  ``undo``
    attaches an :class:`~cowrite.engine.UndoManager` to the local edits.

    Tuning (mostly for tests): ``backoff_base``/``backoff_cap`` (seconds) bound
    reconnect delays; ``flush_interval`` is the sending tick (a lone edit goes out
    at once, a burst within one tick in one batch); ``save_delay`` how long after a
    change the state file is written; ``keepalive`` the WebSocket ping interval;
    ``proxy`` is passed to ``websockets`` (True: from the environment, None: direct).
    ``digest_delay``/``digest_interval`` (seconds): the divergence check is sent that
    long after the client settles, and then that often while idle
    (``digest_interval=None`` turns it off).

    Use ``async with Client(...) as c:`` or :meth:`start` / :meth:`close`.  Edit with
    the methods here (they wake the sender), not on :attr:`doc` directly.
    """

    def __init__(
        self,
        url: str,
        doc_id: str,
        token: str | Callable[[], str],
        *,
        agent: str | None = None,
        user_name: str | None = None,
        colour: str | None = None,
        path: str | Path | None = None,
        undo: bool = True,
        read_only: bool = False,
        backoff_base: float = 0.1,
        backoff_cap: float = 5.0,
        flush_interval: float = 0.015,
        save_delay: float = 0.2,
        connect_timeout: float = 10.0,
        keepalive: float | None = 20.0,
        max_batch_ops: int = 512,
        proxy: str | Literal[True] | None = True,
        digest_delay: float = 1.0,
        digest_interval: float | None = 10.0,
    ) -> None:
        if backoff_base <= 0 or backoff_cap < backoff_base:
            raise ValueError("need 0 < backoff_base <= backoff_cap")
        if digest_delay < 0 or (digest_interval is not None and digest_interval <= 0):
            raise ValueError("need digest_delay >= 0 and digest_interval > 0 (or None)")
        if flush_interval < 0 or save_delay < 0:
            raise ValueError("flush_interval and save_delay must be >= 0")
        self.url = _ws_url(url, doc_id)
        self.doc_id = doc_id
        self.user_name = user_name or ""
        self.colour = colour or ""
        try:  # fields the protocol bounds: refuse them now, not in a reconnect loop later
            encode_frame(Join(doc_id, "a", {}))
            encode_frame(Presence("a", self.user_name, self.colour))
            if agent is not None:
                encode_frame(Presence(agent))
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None
        self.read_only = read_only
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.flush_interval = flush_interval
        self.save_delay = save_delay
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.max_batch_ops = max_batch_ops
        self.proxy = proxy
        self.digest_delay = digest_delay
        self.digest_interval = digest_interval
        self._token = token

        self._path = Path(path) if path is not None else None
        self._lock: StateLock | None = None
        self._writer_file: StateWriter | None = None
        self._doc = self._open_state(agent) if self._path is not None else Document(agent)
        self._me = self._doc.agent
        self._undo = UndoManager(self._doc) if undo else None

        self._state: State = "offline"
        self._error: ClientError | None = None
        self._started = False
        self._session: ClientSession | None = None
        self._ws: ClientConnection | None = None
        self._role: Role | None = None
        self._catchup: set[int] = set()  # batches resent at WELCOME, not acknowledged yet
        self._acked_seq = 0  # our ops with seq below this are durable on the server
        self._sent_end = 0  # our ops with seq below this are on the server or in flight
        self._cursor: tuple[Position, Position] | None = None
        self._cursor_dirty = False
        self._last_send = float("-inf")
        self._last_activity = float("-inf")  # time.monotonic() of the last edit or frame received
        self.resyncs = 0  # how many times the server replaced our replica (RESYNC)

        self._wake = asyncio.Event()  # something to send
        self._changed = asyncio.Event()  # pulsed when the sync state changes (see _notify)
        self._closing = asyncio.Event()
        self._save_wanted = asyncio.Event()
        self._save_lock = asyncio.Lock()
        self._saved_version = self._doc.version
        self._save_forced = False  # the replica was replaced: write it even at the same version
        self._saved_own_end = self._own_end()
        self._tasks: list[asyncio.Task[None]] = []

        self._change_cbs: list[Callable[[list[Edit]], None]] = []
        self._presence_cbs: list[Callable[[dict[str, Peer]], None]] = []
        self._state_cbs: list[Callable[[State], None]] = []

    # -- the state file -----------------------------------------------------------------

    def _open_state(self, agent: str | None) -> Document:
        path = self._path
        assert path is not None
        lock = StateLock(path)
        lock.acquire()
        try:
            remove_stale_temporaries(path)
            loaded = read_state(path)
            if loaded is not None:
                doc_id, doc = loaded
                if doc_id != self.doc_id:
                    raise StateFileError(f"{path} holds document {doc_id!r}, not {self.doc_id!r}")
                if agent is not None and agent != doc.agent:
                    raise StateFileError(f"{path} belongs to agent {doc.agent!r}, not {agent!r}")
            else:
                doc = Document(agent)
            writer = StateWriter(path)
            if loaded is None:  # fix the agent on disk before anything else happens
                writer.write(writer.next_gen(), encode_state(self.doc_id, doc))
        except BaseException:
            lock.release()
            raise
        self._lock = lock
        self._writer_file = writer
        return doc

    async def save(self) -> None:
        """Write the state file now (no-op without ``path``); :class:`StateFileError` if it fails."""
        if not await self._save():
            raise StateFileError(f"could not write the state file {self._path}")

    async def _save(self, *, blocking: bool = False) -> bool:
        writer = self._writer_file
        if writer is None:
            return True
        async with self._save_lock:
            doc = self._doc
            version, own_end = doc.version, self._own_end()
            forced = self._save_forced
            if version == self._saved_version and not forced:
                return True
            self._save_forced = False
            gen = writer.next_gen()
            data = encode_state(self.doc_id, doc)
            written = False
            try:
                if blocking:
                    writer.write(gen, data)
                else:
                    await asyncio.to_thread(writer.write, gen, data)
                written = True
            except OSError:
                log.exception("could not write the state file %s", writer.path)
                return False
            finally:
                if not written:  # failed, or cancelled (e.g. by close()) before it was known to be on disk
                    self._save_forced = self._save_forced or forced
            self._saved_version = version
            self._saved_own_end = max(self._saved_own_end, own_end)
            return True

    async def _write_ahead(self) -> None:
        """Make sure every op of ours is in the state file before any is sent."""
        if self._writer_file is None:
            return
        tries = 0
        while self._own_end() > self._saved_own_end:
            tries += 1
            # Edits made while a write runs in a thread need another round; from the
            # third round on write in this thread, so typing cannot starve sending.
            if not await self._save(blocking=tries > 2):
                return  # the error is logged; do not stop syncing over it

    async def _saver(self) -> None:
        while True:
            await self._save_wanted.wait()
            await asyncio.sleep(self.save_delay)
            self._save_wanted.clear()
            await self._save()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start syncing in the background (returns at once; see :meth:`synced`)."""
        if self._started:
            raise ClientError("this client was already started")
        if self._state == "closed":
            raise ClientClosed("this client is closed")
        self._started = True
        self._tasks.append(asyncio.create_task(self._run(), name=f"cowrite-client-{self._me}"))
        if self._writer_file is not None:
            self._tasks.append(asyncio.create_task(self._saver(), name=f"cowrite-client-save-{self._me}"))

    async def close(self, timeout: float = 2.0) -> None:
        """Stop: wait up to ``timeout`` s for unsent edits to be acknowledged if connected,
        disconnect, and write the state file.  Idempotent."""
        if self._state == "closed":
            return
        if self._state in ("connected", "syncing") and self._own_end() > self._acked_seq and timeout > 0:
            with contextlib.suppress(TimeoutError, ClientError):
                await self.synced(timeout)
        if self._started and self._writer_file is None and self._own_end() > self._acked_seq:
            log.warning("closing with %d unacknowledged ops and no state file: they are lost",
                        self._own_end() - self._acked_seq)
        self._closing.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        saved = True
        try:
            if self._writer_file is not None:
                saved = await self._save()
        finally:
            if self._lock is not None:
                self._lock.release()
            self._set_state("closed")
        if not saved:
            raise StateFileError(f"could not write the state file {self._path} on close")

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def synced(self, timeout: float | None = None) -> None:
        """Wait until connected and every local edit is acknowledged (durable on the server).

        Raises the :class:`FatalError` that stopped the client, :class:`ReadOnlyError` if
        the server made us a viewer and we hold edits it lacks, :class:`ClientClosed`,
        or ``TimeoutError`` after ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while True:
                if self._error is not None:
                    raise self._error
                if self._state == "closed":
                    raise ClientClosed("this client is closed")
                if not self._started:
                    raise ClientError("start() the client first")
                if self._state == "connected":
                    if self._own_end() <= self._acked_seq:
                        return
                    if self._role is Role.VIEWER:
                        raise ReadOnlyError("the server made this client a viewer; its local edits cannot be sent")
                await self._changed.wait()

    # -- reading ------------------------------------------------------------------------

    @property
    def doc(self) -> Document:
        """The local replica (read it; edit through the client's methods).

        A ``RESYNC`` replaces it with a new object: look it up again, do not keep it."""
        return self._doc

    @property
    def text(self) -> str:
        return self._doc.text

    @property
    def agent(self) -> str:
        return self._me

    @property
    def state(self) -> State:
        return self._state

    @property
    def error(self) -> ClientError | None:
        """Why the client stopped (state ``error``), else None."""
        return self._error

    @property
    def role(self) -> Role | None:
        """Our role as of the last WELCOME (None before the first)."""
        return self._role

    @property
    def acked_seq(self) -> int:
        """Our ops with ``seq`` below this are acknowledged (durable on the server)."""
        return self._acked_seq

    @property
    def pending(self) -> int:
        """How many of our ops (code points typed or deleted) the server has not acknowledged."""
        return self._own_end() - self._acked_seq

    @property
    def undo_manager(self) -> UndoManager | None:
        """The undo history of our edits (a new, empty one after a ``RESYNC``)."""
        return self._undo

    @property
    def presence(self) -> dict[str, Peer]:
        """The other connections' presence by agent (empty while offline)."""
        session = self._session
        if session is None:
            return {}
        return {agent: self._peer(p) for agent, p in session.presence.items()}

    @property
    def cursor(self) -> tuple[int, int] | None:
        """Our own cursor (anchor, head) in the current text, or None."""
        if self._cursor is None:
            return None
        anchor, head = (self._resolve(p) for p in self._cursor)
        if anchor is None or head is None:
            return None
        return anchor, head

    def _peer(self, p: Presence) -> Peer:
        anchor = head = None
        if p.cursor is not None:
            anchor, head = self._resolve(p.cursor[0]), self._resolve(p.cursor[1])
        return Peer(p.agent, p.user, p.colour, p.cursor, anchor, head)

    def _resolve(self, position: Position) -> int | None:
        try:
            return self._doc.resolve(position)
        except CowriteError:  # not arrived yet, or not a character
            return None

    def _own_end(self) -> int:
        return self._doc.oplog.cg.next_seq(self._me)

    # -- editing ------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self._state == "closed":
            raise ClientClosed("this client is closed")
        if self._error is not None:
            raise self._error
        if self.read_only or self._role is Role.VIEWER:
            raise ReadOnlyError("this client is a viewer of the document")

    def _edited(self) -> None:
        self._last_activity = time.monotonic()
        self._wake.set()
        if self._writer_file is not None:
            self._save_wanted.set()

    def insert(self, pos: int, text: str) -> None:
        """Insert ``text`` before code point ``pos`` (applied locally at once)."""
        self._check_writable()
        self._doc.insert(pos, text)
        self._edited()

    def delete(self, pos: int, length: int = 1) -> None:
        """Delete ``length`` code points at ``pos``."""
        self._check_writable()
        self._doc.delete(pos, length)
        self._edited()

    def replace(self, pos: int, length: int, text: str) -> None:
        """Replace ``length`` code points at ``pos`` with ``text`` (one undo step)."""
        self._check_writable()
        if self._undo is not None:
            with self._undo.group():
                self._doc.replace(pos, length, text)
        else:
            self._doc.replace(pos, length, text)
        self._edited()

    def undo(self) -> UndoResult | None:
        """Undo our last step (new ops; never touches others' text).  None if nothing to undo."""
        return self._undo_redo(redo=False)

    def redo(self) -> UndoResult | None:
        return self._undo_redo(redo=True)

    def _undo_redo(self, *, redo: bool) -> UndoResult | None:
        if self._undo is None:
            raise ClientError("this client was made with undo=False")
        self._check_writable()
        result = self._undo.redo() if redo else self._undo.undo()
        if result is not None:
            self._edited()
        return result

    def set_cursor(self, anchor: int | None, head: int | None = None) -> None:
        """Show our caret (``head`` None) or selection to the others; ``None`` hides it.

        Indices are converted to stable positions, so the cursor stays on the same
        characters while anyone edits.  Sent on the next tick (only the latest)."""
        if anchor is None:
            self._cursor = None
        else:
            a = self._doc.position(anchor)
            self._cursor = (a, a if head is None or head == anchor else self._doc.position(head))
        self._cursor_dirty = True
        self._wake.set()

    # -- observers ----------------------------------------------------------------------

    def on_change(self, callback: Callable[[list[Edit]], None]) -> Callable[[], None]:
        """Call ``callback(edits)`` after remote ops changed the text; returns an unsubscribe function.

        Edits are ``(0, pos, text)`` inserts and ``(1, pos, length)`` deletes, in order."""
        return _subscribe(self._change_cbs, callback)

    def on_presence(self, callback: Callable[[dict[str, Peer]], None]) -> Callable[[], None]:
        """Call ``callback(presence)`` (as :attr:`presence`) whenever another connection's
        presence changes, and when we go offline (empty)."""
        return _subscribe(self._presence_cbs, callback)

    def on_state(self, callback: Callable[[State], None]) -> Callable[[], None]:
        """Call ``callback(state)`` on every change of :attr:`state`."""
        return _subscribe(self._state_cbs, callback)

    def _emit(self, callbacks: list[Callable[[_T], None]], value: _T) -> None:
        for cb in list(callbacks):
            try:
                cb(value)
            except Exception:
                log.exception("a cowrite client callback raised")

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _set_state(self, state: State) -> None:
        if state != self._state:
            self._state = state
            self._emit(self._state_cbs, state)
        self._notify()

    def _fail(self, error: ClientError) -> None:
        log.error("cowrite client for %s stopped: %s", self.url, error)
        self._error = error
        self._set_state("error")

    # -- connection ---------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._closing.is_set():
            healthy = False
            try:
                healthy = await self._connect_once()
            except FatalError as exc:
                self._fail(exc)
                return
            except Exception:
                log.exception("connection to %s failed", self.url)
            if self._closing.is_set():
                return
            attempt = 0 if healthy else attempt + 1
            delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)

    async def _connect_once(self) -> bool:
        """One connection, until it ends.  True if it was joined and ended by the network
        (reconnect promptly), False if it failed (back off further)."""
        token = self._token() if callable(self._token) else self._token
        try:
            ws = await connect(
                self.url,
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=self.connect_timeout,
                ping_interval=self.keepalive,
                ping_timeout=self.keepalive,
                close_timeout=2,
                max_size=_MAX_FRAME,
                compression=None,
                proxy=self.proxy,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if 400 <= status < 500 and status not in (408, 425, 429):
                raise FatalError(None, f"the server refused the WebSocket with HTTP {status}") from None
            log.info("connecting to %s: HTTP %d; retrying", self.url, status)
            return False
        except InvalidURI as exc:
            raise FatalError(None, str(exc)) from None
        except Exception as exc:  # refused, unreachable, timed out, bad handshake: retry
            log.debug("connecting to %s failed: %r", self.url, exc)
            return False
        session = ClientSession(
            self._doc,
            self.doc_id,
            user=self.user_name,
            colour=self.colour,
            read_only=self.read_only,
            max_batch_ops=self.max_batch_ops,
        )
        self._ws, self._session = ws, session
        self._set_state("syncing")
        self._wake.set()  # JOIN
        writer = asyncio.create_task(self._writer(ws, session))
        digester = asyncio.create_task(self._digester(session)) if self.digest_interval is not None else None
        ok = True
        try:
            async for data in ws:
                self._last_activity = time.monotonic()
                if isinstance(data, str):
                    log.warning("the server sent a text frame; reconnecting")
                    ok = False
                    break
                if not self._handle(session, session.receive(data)) or session.closed:
                    ok = False
                    break
                self._wake.set()
        except ConnectionClosed:
            pass
        finally:
            for task in (writer, digester):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            had_presence = bool(session.presence)
            self._ws = self._session = None
            self._catchup.clear()
            with contextlib.suppress(Exception):
                await ws.close()
            if self._state not in ("error", "closed"):
                self._set_state("offline")
            if had_presence:
                nobody: dict[str, Peer] = {}
                self._emit(self._presence_cbs, nobody)
        return ok and session.welcomed

    async def _writer(self, ws: ClientConnection, session: ClientSession) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self._wake.wait()
                wait = self._last_send + self.flush_interval - loop.time()
                if wait > 0:  # coalesce a burst into one batch per tick
                    await asyncio.sleep(wait)
                self._wake.clear()
                await self._write_ahead()
                # No await between here and the sends' queueing: every op flushed is saved.
                if session.welcomed and not session.closed:
                    if session.can_write:
                        session.flush()
                        self._sent_end = self._own_end()
                        self._update_acked(session)
                    if self._cursor_dirty:
                        self._cursor_dirty = False
                        if self._cursor is None:
                            session.set_cursor(None)
                        else:
                            session.set_cursor(*self._cursor)
                frames = session.data_to_send()
                if frames:
                    self._last_send = loop.time()
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
        interval = self.digest_interval
        assert interval is not None
        sent_at = float("-inf")
        sent_version: RawVersion | None = None
        while True:
            now = time.monotonic()
            quiet = now - self._last_activity
            if quiet < self.digest_delay:
                await asyncio.sleep(self.digest_delay - quiet)
                continue
            version = self._doc.version
            if session.in_sync and (version != sent_version or now - sent_at >= interval):
                if session.send_digest():
                    sent_at, sent_version = now, version
                    self._wake.set()  # the writer sends it
            # Not in sync yet (something in flight): look again shortly.  Otherwise
            # the next digest is due after the interval, or after the next change.
            wait = sent_at + interval - now if sent_version == version else self.digest_delay
            await asyncio.sleep(max(wait, 0.05))

    def _update_acked(self, session: ClientSession) -> None:
        low = min((first for first, _ in session.unacked.values()), default=self._sent_end)
        if low > self._acked_seq:
            self._acked_seq = low
            self._notify()

    def _handle(self, session: ClientSession, events: list[Event]) -> bool:
        """Apply a frame's events; False to drop the connection (and reconnect)."""
        for ev in events:
            if isinstance(ev, Welcomed):
                self._welcomed(session, ev)
            elif isinstance(ev, RemoteChange):
                if ev.edits:
                    self._emit(self._change_cbs, ev.edits)
                    if self._writer_file is not None:
                        self._save_wanted.set()
            elif isinstance(ev, Acked):
                self._catchup.discard(ev.batch_id)
                self._update_acked(session)
                if self._state == "syncing" and not self._catchup:
                    self._set_state("connected")
            elif isinstance(ev, PresenceChanged):
                if self._presence_cbs:
                    self._emit(self._presence_cbs, self.presence)
            elif isinstance(ev, ServerError):
                err = ev.error
                if err.fatal and err.code in _FATAL:
                    raise FatalError(err.code, err.message)
                if err.batch_id is not None and err.code in _REFUSED:
                    raise FatalError(err.code, f"the server refused our edits: {err.message}")
                # A dropped frame (rate limit, size), an op the server could not place, a
                # server-side failure: our view of what it has is unreliable; join again.
                log.warning("server error %s (%s); reconnecting", err.code.name.lower(), err.message)
                return False
            elif isinstance(ev, ProtocolFailure):
                if not session.welcomed:
                    # Our replica and the server's cannot be merged (e.g. a state file older
                    # than what the server holds of our agent): retrying cannot change that.
                    raise FatalError(None, f"cannot join the server's document: {ev.message}")
                log.warning("protocol failure: %s; reconnecting", ev.message)
                return False
            elif isinstance(ev, Resynced):
                self._resynced(session, ev)
            elif isinstance(ev, PongReceived):
                pass
        return True

    def _resynced(self, session: ClientSession, ev: Resynced) -> None:
        """The server replaced our replica (our text differed from its own)."""
        self.resyncs += 1
        log.warning(
            "document %s: our text differed from the server's; replaced by the server's copy%s",
            self.doc_id,
            " (our unsent edits were typed again)" if ev.retyped else "",
        )
        old = self._undo
        self._doc = ev.doc
        if old is not None:  # its steps name ops of the old replica: start a fresh history
            old.detach()
            self._undo = UndoManager(ev.doc, capture_timeout=old.capture_timeout, clock=old.clock)
        if session.can_write:
            self._sent_end = self._own_end()  # the session resent whatever the server lacked
            self._update_acked(session)
        if self._writer_file is not None:
            self._save_forced = True  # the file holds the wrong text at the same version
            self._save_wanted.set()
        if ev.edits:
            self._emit(self._change_cbs, ev.edits)

    def _welcomed(self, session: ClientSession, ev: Welcomed) -> None:
        self._role = ev.role
        own_end = self._own_end()
        # We now hold every op of the server, so the ops not in the history of its
        # version are exactly what it lacks; ours among them are not durable there.
        try:
            lacking = [op.seq for op in self._doc.ops_since(ev.version) if op.agent == self._me]
        except CowriteError:  # pragma: no cover - the WELCOME's ops were just applied
            lacking = [first for first, _ in session.unacked.values()]
        low = min(lacking, default=own_end)
        if low < self._acked_seq:
            log.error("the server lost acknowledged ops of %s (has up to seq %d, acknowledged %d)",
                      self._me, low, self._acked_seq)
        self._acked_seq = low
        if session.can_write:
            self._sent_end = own_end  # what it lacked is in flight now
            self._update_acked(session)
        self._catchup = set(session.unacked)
        if self._cursor is not None:
            self._cursor_dirty = True  # announce it on the new connection
        if ev.edits:
            self._emit(self._change_cbs, ev.edits)
            if self._writer_file is not None:
                self._save_wanted.set()
        self._set_state("syncing" if self._catchup else "connected")


def _subscribe(callbacks: list[_T], callback: _T) -> Callable[[], None]:
    callbacks.append(callback)

    def unsubscribe() -> None:
        with contextlib.suppress(ValueError):
            callbacks.remove(callback)

    return unsubscribe
