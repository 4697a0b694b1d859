"""The asyncio client: a full peer that keeps working offline and never drops an edit.

The client owns a :class:`~cowrite.engine.Document` (its replica) and, while the
server is reachable, one WebSocket with a :class:`~cowrite.protocol.ClientSession`
over it (``connection.py``).  Local edits apply to the replica at once; a writer
task sends them in ``OPS`` batches on a short tick.  When the connection drops the
replica keeps taking edits; the client reconnects with exponential backoff and
full jitter (to the next server, when given several) and joins again with its summary, so the server sends what the client
missed and the client sends what the server lacks (the replica *is* the queue).

Every edit the user makes (``insert``/``delete``/``replace``, undo, redo) is also
recorded in a :class:`~cowrite.protocol.Journal` as a plain text change, until the
server confirms the ops carrying it.  That is what survives when the replica
cannot: when the server refuses a batch as not fitting its history (``bad_op``,
``conflict``, ``unknown_parent``: the replica was corrupted), the client joins
again with a *fresh* JOIN, takes the server's whole document as its new replica,
and types the unconfirmed edits again on top of it, at the same places relative
to the text both still share.  Other refusals: ``rate_limited``/``internal`` --
reconnect with backoff (the summary exchange resends); ``too_large`` -- halve the
frame budget and resend, and if even a minimal batch is refused, stop and keep the
edits; ``unauthorized``/``forbidden``/``not_found`` (and being superseded) -- stop.
A stopped client keeps its text (:attr:`Client.text`), its state file, and the
edits the server lacks (:meth:`Client.unsent`).  Each of these is told to
:meth:`Client.on_notice` observers and logged.

With ``path`` the replica and its agent are kept in a state file (``storage.py``):

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
``on_change`` observers like a remote change.  Whenever the replica is replaced
the undo history is cleared (its steps name ops of the replaced replica; a fresh
``UndoManager`` with the same settings takes over), so an undo afterwards never
touches text typed before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar

from cowrite.engine import CowriteError, Document, Position, RawVersion, UndoManager, UndoResult
from cowrite.protocol import (
    Acked,
    ClientSession,
    Edit,
    Error,
    ErrorCode,
    Event,
    Join,
    Journal,
    Presence,
    PresenceChanged,
    ProtocolError,
    ProtocolFailure,
    Recovered,
    Recovery,
    RemoteChange,
    Resynced,
    Role,
    ServerError,
    Welcomed,
    encode_frame,
    recovery_for,
    replica_journal,
)
from cowrite.protocol.textchange import ChangeMismatch, Insert, compose_all

from ..errors import ClientClosed, ClientError, ConfigError, FatalError, ReadOnlyError, StateFileError
from .connection import Connection, Verdict, ws_url
from .edits import UserEdits
from .settings import ClientSettings
from .storage import StateFile

__all__ = ["Client", "Notice", "NoticeKind", "Peer", "State", "Unsent"]

log = logging.getLogger("cowrite.client")

State = Literal["offline", "syncing", "connected", "error", "closed"]
"""``offline``: no connection (connecting or waiting to retry); ``syncing``: connected,
joining or resending what the server lacked; ``connected``: joined and caught up;
``error``: stopped for good (see :attr:`Client.error`); ``closed``: :meth:`Client.close` ran."""

NoticeKind = Literal["refused", "recovered", "resynced", "retrying", "shrunk", "stopped"]
"""``refused``: the server refused our edits as not fitting its history; the client is
fetching its document to type them again.  ``recovered``: it did (the text may have
changed).  ``resynced``: our text differed from the server's and was replaced.
``retrying``: a transient refusal (rate limit, server failure); reconnecting.
``shrunk``: a frame was too large; smaller ones from now on.  ``stopped``: the client
stopped for good (:attr:`Client.error`); its unsent edits are kept (:meth:`Client.unsent`)."""

_T = TypeVar("_T")
_MESSAGE_TOO_BIG = 1009  # the WebSocket close code of a server whose size limit a frame broke
_OFFLINE_SEGMENT = 256  # offline, the journal's open segment is closed every this many of our ops


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should hear about: ``kind``, a sentence, the server's error code."""

    kind: NoticeKind
    message: str
    code: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class Unsent:
    """The user's edits the server has not confirmed (see :meth:`Client.unsent`).

    ``edits`` turn ``base`` (the text without them) into ``text`` (the text the user
    sees): ``(0, pos, text)`` inserts and ``(1, pos, length)`` deletes, each in the
    coordinates the previous one left."""

    text: str
    base: str
    edits: list[Edit]

    @property
    def empty(self) -> bool:
        return not self.edits

    @property
    def inserted(self) -> str:
        """Everything the edits type, in order."""
        return "".join(arg for kind, _, arg in self.edits if kind == 0 and isinstance(arg, str))


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


class Client:
    """A live, offline-capable replica of document ``doc_id`` on the server at ``url``.

    ``url`` is the server's base URL (``ws://host:port``; ``http://`` works too), or a
    list of them: the servers of a cluster (any serves any document), tried in that
    order; when a connection fails or drops the client moves on to the next one and
    resends what was not acknowledged (see :mod:`cowrite.client.failover`).
    ``token`` an access token, or a function returning one (called per connection,
    so it can refresh).  ``agent`` is this replica's agent id (random if None; with
    ``path`` it is stored and reused).  ``user_name``/``colour`` travel with the
    presence (the server replaces the name with the token's user).  ``undo``
    attaches an :class:`~cowrite.engine.UndoManager` to the local edits.
    ``read_only`` joins as a viewer.  ``settings`` tunes reconnects, batching,
    saving and the divergence check (:class:`ClientSettings`).

    Use ``async with Client(...) as c:`` or :meth:`start` / :meth:`close`.  Edit with
    the methods here (they wake the sender and journal the edit), not on :attr:`doc`
    directly.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        doc_id: str,
        token: str | Callable[[], str],
        *,
        agent: str | None = None,
        user_name: str | None = None,
        colour: str | None = None,
        path: str | Path | None = None,
        undo: bool = True,
        read_only: bool = False,
        settings: ClientSettings | None = None,
    ) -> None:
        if settings is None:
            settings = ClientSettings()
        elif not isinstance(settings, ClientSettings):
            raise ConfigError(f"settings must be a ClientSettings, not {type(settings).__name__}")
        self.settings = settings
        bases = [url] if isinstance(url, str) else list(url)
        if not bases or not all(isinstance(base, str) for base in bases):
            raise ConfigError(f"expected the server's URL or a non-empty list of URLs, not {url!r}")
        self.urls: tuple[str, ...] = tuple(ws_url(base, doc_id) for base in bases)
        """The document's WebSocket URL on each server, in the order they are tried."""
        if len(set(self.urls)) != len(self.urls):
            raise ConfigError(f"the same server is listed twice in {bases!r}")
        self.doc_id = doc_id
        self.user_name = user_name or ""
        self.colour = colour or ""
        try:  # fields the protocol bounds: refuse them now, not in a reconnect loop later
            encode_frame(Join(doc_id, "a", {}))
            encode_frame(Presence("a", self.user_name, self.colour))
            if agent is not None:
                encode_frame(Presence(agent))
        except ProtocolError as exc:
            raise ConfigError(str(exc)) from None
        self.read_only = read_only
        self._token = token

        self._path = Path(path) if path is not None else None
        self._file = StateFile(self._path, doc_id) if self._path is not None else None
        self._seq_floor = 0  # our ops get seqs from here on (a replaced replica used those below)
        self._acked_seq = 0  # our ops with seq below this are durable on the server
        self._journal_from = 0  # the journal's oldest edits are in our ops from this seq on
        self._journal_closed = 0  # our seq when the client last closed the journal's open segment
        if self._file is not None:
            stored = self._file.open(agent)
            doc = stored.doc
            self._seq_floor = stored.seq_floor
            self._acked_seq = self._journal_from = stored.acked_seq
            # What the server may lack of a stored replica: journal it, so that a
            # refusal can still type it again.
            self._journal = replica_journal(doc, stored.acked_seq)
        else:
            doc = Document(agent)
            self._journal = Journal()
        self._doc = doc
        self._me = doc.agent
        self._edits = UserEdits(doc, self._journal)
        self._undo = UndoManager(self._edits) if undo else None

        self._state: State = "offline"
        self._error: ClientError | None = None
        self._started = False
        self._session: ClientSession | None = None
        self._role: Role | None = None
        self._catchup: set[int] = set()  # batches resent at WELCOME, not acknowledged yet
        self._sent_end = 0  # our ops with seq below this are on the server or in flight
        self._fresh = False  # the next connection joins fresh (the server refused our ops)
        self._refusal: Error | None = None  # the refusal that made it so
        self._recoveries_in_row = 0  # replica replacements with no batch acknowledged since
        self._frame_budget = settings.max_frame_bytes
        self._cursor: tuple[Position, Position] | None = None
        self._cursor_dirty = False
        self._last_activity = float("-inf")  # time.monotonic() of the last edit or frame received
        self.resyncs = 0
        """How many times the server replaced our replica after a failed divergence check."""
        self.recoveries = 0
        """How many times our replica was replaced after the server refused our ops."""
        self.retries = 0
        """How many connections ended in a transient refusal (rate limit, server failure, size)."""
        self.notices: list[Notice] = []
        """The latest notices (at most 100), oldest first."""

        self._wake = asyncio.Event()  # something to send
        self._changed = asyncio.Event()  # pulsed when the sync state changes (see _notify)
        self._closing = asyncio.Event()
        self._save_wanted = asyncio.Event()
        self._connection = Connection(_Link(self), self.urls, settings, wake=self._wake, closing=self._closing)
        self._tasks: list[asyncio.Task[None]] = []

        self._change_cbs: list[Callable[[list[Edit]], None]] = []
        self._presence_cbs: list[Callable[[dict[str, Peer]], None]] = []
        self._state_cbs: list[Callable[[State], None]] = []
        self._notice_cbs: list[Callable[[Notice], None]] = []

    @property
    def url(self) -> str:
        """The WebSocket URL in use: of the open connection, or of the next attempt."""
        return self._connection.url

    # -- the state file -----------------------------------------------------------------

    async def save(self) -> None:
        """Write the state file now (no-op without ``path``); :class:`StateFileError` if it fails."""
        if not await self._save():
            raise StateFileError(f"could not write the state file {self._path}")

    async def _save(self, *, blocking: bool = False) -> bool:
        file = self._file
        if file is None:
            return True
        return await file.save(
            self._doc, seq_floor=self._seq_floor, acked_seq=self._acked_seq, own_end=self._own_end(), blocking=blocking
        )

    async def _write_ahead(self) -> None:
        """Make sure every op of ours is in the state file before any is sent."""
        file = self._file
        if file is None:
            return
        tries = 0
        while self._own_end() > file.saved_own_end:
            tries += 1
            # Edits made while a write runs in a thread need another round; from the
            # third round on write in this thread, so typing cannot starve sending.
            if not await self._save(blocking=tries > 2):
                return  # the error is logged; do not stop syncing over it

    async def _saver(self) -> None:
        while True:
            await self._save_wanted.wait()
            await asyncio.sleep(self.settings.save_delay)
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
        self._tasks.append(asyncio.create_task(self._connection.run(), name=f"cowrite-client-{self._me}"))
        if self._file is not None:
            self._tasks.append(asyncio.create_task(self._saver(), name=f"cowrite-client-save-{self._me}"))

    async def close(self, timeout: float = 2.0) -> None:
        """Stop: wait up to ``timeout`` s for unsent edits to be acknowledged if connected,
        disconnect, and write the state file.  Idempotent."""
        if self._state == "closed":
            return
        if self._state in ("connected", "syncing") and self._own_end() > self._acked_seq and timeout > 0:
            with contextlib.suppress(TimeoutError, ClientError):
                await self.synced(timeout)
        if self._started and self._file is None and not self._journal.empty:
            log.warning("closing with unconfirmed edits and no state file: they are lost (see Client.unsent)")
        self._closing.set()
        await self._connection.disconnect()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        saved = True
        try:
            if self._file is not None:
                saved = await self._save()
        finally:
            if self._file is not None:
                self._file.close()
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

        A ``RESYNC`` or a recovery replaces it with a new object: look it up again, do not keep it."""
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
    def frame_budget(self) -> int:
        """The largest ``OPS`` frame the client sends now (halved on ``too_large`` refusals)."""
        return self._frame_budget

    @property
    def undo_manager(self) -> UndoManager | None:
        """The undo history of our edits (a new, empty one after the replica is replaced)."""
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

    def unsent(self) -> Unsent:
        """The edits the user made that the server has not confirmed (yet), with the text.

        After the client stopped (:attr:`error`) these are what the server never got:
        ``unsent().text`` is the text the user sees, ``unsent().edits`` what they
        typed and deleted on top of ``unsent().base``."""
        view = self._doc.text
        journal = self._journal
        change = compose_all(s.change for s in journal.segments)
        try:
            base = journal.base(view)
        except ChangeMismatch:  # the replica's text was changed behind the journal's back
            inserted = "".join(c.text for c in change.ops if isinstance(c, Insert))
            return Unsent(view, view, [(0, 0, inserted)] if inserted else [])
        return Unsent(view, base, change.to_edits())

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
        return max(self._doc.oplog.cg.next_seq(self._me), self._seq_floor)

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
        if self._file is not None:
            self._save_wanted.set()
        session = self._session
        if session is None or not session.welcomed or session.closed:
            # Offline the edits pile up for one flush: close the journal's segment now and
            # then, so that each fits in one batch when they are sent (see ClientSession).
            end = self._own_end()
            if end - self._journal_closed >= _OFFLINE_SEGMENT:
                self._journal.flushed(end)
                self._journal_closed = end

    def insert(self, pos: int, text: str) -> None:
        """Insert ``text`` before code point ``pos`` (applied locally at once)."""
        self._check_writable()
        self._edits.insert(pos, text)
        self._edited()

    def delete(self, pos: int, length: int = 1) -> None:
        """Delete ``length`` code points at ``pos``."""
        self._check_writable()
        self._edits.delete(pos, length)
        self._edited()

    def replace(self, pos: int, length: int, text: str) -> None:
        """Replace ``length`` code points at ``pos`` with ``text`` (one undo step)."""
        self._check_writable()
        if self._undo is not None:
            with self._undo.group():
                self._edits.replace(pos, length, text)
        else:
            self._edits.replace(pos, length, text)
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
        result = self._undo.redo() if redo else self._undo.undo()  # edits through self._edits: journaled
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
        """Call ``callback(edits)`` after the text changed other than by our edits (remote
        ops, a catch-up, a replaced replica); returns an unsubscribe function.

        Edits are ``(0, pos, text)`` inserts and ``(1, pos, length)`` deletes, in order."""
        return _subscribe(self._change_cbs, callback)

    def on_presence(self, callback: Callable[[dict[str, Peer]], None]) -> Callable[[], None]:
        """Call ``callback(presence)`` (as :attr:`presence`) whenever another connection's
        presence changes, and when we go offline (empty)."""
        return _subscribe(self._presence_cbs, callback)

    def on_state(self, callback: Callable[[State], None]) -> Callable[[], None]:
        """Call ``callback(state)`` on every change of :attr:`state`."""
        return _subscribe(self._state_cbs, callback)

    def on_notice(self, callback: Callable[[Notice], None]) -> Callable[[], None]:
        """Call ``callback(notice)`` when something happened the user should hear about:
        edits refused and typed again, the replica replaced, a retry, a stop (:class:`Notice`)."""
        return _subscribe(self._notice_cbs, callback)

    def _emit(self, callbacks: list[Callable[[_T], None]], value: _T) -> None:
        for cb in list(callbacks):
            try:
                cb(value)
            except Exception:
                log.exception("a cowrite client callback raised")

    def _notice(self, kind: NoticeKind, message: str, code: ErrorCode | None = None) -> None:
        notice = Notice(kind, message, code)
        log.log(logging.ERROR if kind == "stopped" else logging.WARNING, "document %s: %s", self.doc_id, message)
        self.notices.append(notice)
        del self.notices[:-100]
        self._emit(self._notice_cbs, notice)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _set_state(self, state: State) -> None:
        if state != self._state:
            self._state = state
            self._emit(self._state_cbs, state)
        self._notify()

    def _fail(self, error: FatalError) -> None:
        unsent = self.unsent()
        kept = f"; {len(unsent.edits)} unsent edits are kept (Client.unsent)" if unsent.edits else ""
        if self._file is not None:
            kept += f" and in {self._file.path}" if unsent.edits else ""
            self._save_wanted.set()
        self._error = error
        self._notice("stopped", f"stopped syncing: {error}{kept}", error.code)
        self._set_state("error")

    # -- the connection's view of the client (see _Link) ---------------------------------

    def _open_session(self) -> ClientSession:
        session = ClientSession(
            self._doc,
            self.doc_id,
            user=self.user_name,
            colour=self.colour,
            read_only=self.read_only,
            max_batch_ops=self.settings.max_batch_ops,
            max_frame_bytes=self._frame_budget,
            journal=self._journal,
            fresh=self._fresh,
            seq_floor=self._seq_floor,
            journal_from=self._journal_from,
        )
        self._session = session
        self._set_state("syncing")
        return session

    def _received(self, session: ClientSession, data: bytes) -> Verdict:
        self._last_activity = time.monotonic()
        verdict = self._handle(session, session.receive(data))
        if verdict is Verdict.CONTINUE and session.closed:
            return Verdict.RECONNECT
        return verdict

    async def _prepare(self, session: ClientSession) -> None:
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

    def _closed_session(self, session: ClientSession) -> None:
        had_presence = bool(session.presence)
        self._journal_from = session.journal_from
        self._seq_floor = max(self._seq_floor, session.seq_floor)
        self._session = None
        self._catchup.clear()
        if self._state not in ("error", "closed"):
            self._set_state("offline")
        if had_presence:
            nobody: dict[str, Peer] = {}
            self._emit(self._presence_cbs, nobody)

    # -- events -------------------------------------------------------------------------

    def _update_acked(self, session: ClientSession) -> None:
        low = min((first for first, _ in session.unacked.values()), default=self._sent_end)
        if low > self._acked_seq:
            self._acked_seq = low
            self._notify()

    def _handle(self, session: ClientSession, events: list[Event]) -> Verdict:
        """Apply a frame's events; anything but CONTINUE drops the connection."""
        for ev in events:
            if isinstance(ev, Welcomed):
                self._joined(session, ev.role, ev.version, ev.edits)
            elif isinstance(ev, RemoteChange):
                if ev.edits:
                    self._emit(self._change_cbs, ev.edits)
                    if self._file is not None:
                        self._save_wanted.set()
            elif isinstance(ev, Acked):
                self._recoveries_in_row = 0
                self._catchup.discard(ev.batch_id)
                self._update_acked(session)
                if self._state == "syncing" and not self._catchup:
                    self._set_state("connected")
            elif isinstance(ev, PresenceChanged):
                if self._presence_cbs:
                    self._emit(self._presence_cbs, self.presence)
            elif isinstance(ev, ServerError):
                return self._refused(session, ev.error)
            elif isinstance(ev, ProtocolFailure):
                if not session.welcomed:
                    if session.fresh:
                        raise FatalError(None, f"cannot load the server's document: {ev.message}")
                    # Our replica and the server's cannot be merged (e.g. a state file
                    # older than what the server holds of our agent): take the server's.
                    return self._resync_needed(None, f"cannot merge the server's document: {ev.message}")
                log.warning("protocol failure: %s; reconnecting", ev.message)
                return Verdict.BACK_OFF
            elif isinstance(ev, Resynced):
                self._resynced(session, ev)
            elif isinstance(ev, Recovered):
                self._recovered(session, ev)
        return Verdict.CONTINUE

    def _refused(self, session: ClientSession, err: Error) -> Verdict:
        """The server refused something (the session is over): what next."""
        what = f"{err.code.name.lower()}: {err.message}"
        action = recovery_for(err)
        if action is Recovery.STOP:
            raise FatalError(err.code, err.message)
        if action is Recovery.RESYNC:
            return self._resync_needed(err, f"the server refused our edits ({what})")
        self.retries += 1
        if action is Recovery.SHRINK and session.refused_bytes:
            return self._shrink(session.refused_bytes, err.message)
        self._notice("retrying", f"the server could not take a frame ({what}); reconnecting", err.code)
        return Verdict.BACK_OFF

    def _shrink(self, size: int, why: str) -> Verdict:
        """A frame of ``size`` bytes was refused as too large: send smaller ones, or stop
        if it was as small as they get (the server cannot take the edits at all)."""
        floor = self.settings.min_frame_bytes
        if size <= floor:
            raise FatalError(
                ErrorCode.TOO_LARGE,
                f"the server refused our edits as too large ({why}), even in a frame of {size} bytes: "
                "it cannot take them",
            )
        self._frame_budget = max(floor, min(self._frame_budget, size) // 2)
        self._notice("shrunk", f"a frame of {size} bytes was too large ({why}); sending frames of "
                     f"at most {self._frame_budget} bytes from now on", ErrorCode.TOO_LARGE)
        return Verdict.RECONNECT

    def _dropped(self, session: ClientSession, close_code: int | None) -> Verdict:
        if close_code == _MESSAGE_TOO_BIG and session.largest_in_flight:
            self.retries += 1
            return self._shrink(session.largest_in_flight, "the server closed the connection: message too big")
        return Verdict.RECONNECT

    def _resync_needed(self, err: Error | None, why: str) -> Verdict:
        if self._recoveries_in_row >= self.settings.max_recoveries:
            raise FatalError(
                None if err is None else err.code,
                f"{why}, again after {self._recoveries_in_row} fresh copies of its document",
            )
        self._fresh = True
        self._refusal = err
        self._notice("refused", f"{why}; fetching the server's copy to type them again", None if err is None else err.code)
        return Verdict.RECONNECT

    def _replace(self, doc: Document) -> None:
        """Work on ``doc`` from now on (the server's copy): fresh undo history, saved soon."""
        old = self._undo
        self._doc = doc
        self._edits = UserEdits(doc, self._journal)
        if old is not None:  # its steps name ops of the old replica: start a fresh history
            old.detach()
            self._undo = UndoManager(self._edits, capture_timeout=old.capture_timeout, clock=old.clock)
        if self._file is not None:
            self._file.force()  # the file may hold other text at the same version
            self._save_wanted.set()

    def _resynced(self, session: ClientSession, ev: Resynced) -> None:
        """The server replaced our replica (our text differed from its own)."""
        self.resyncs += 1
        self._seq_floor = max(self._seq_floor, ev.seq_floor)
        self._replace(ev.doc)
        if session.can_write:
            self._sent_end = self._own_end()  # the session resent whatever the server lacked
            self._update_acked(session)
        if ev.edits:
            self._emit(self._change_cbs, ev.edits)
        self._notice(
            "resynced",
            "our text differed from the server's; replaced by the server's copy"
            + (" (our unconfirmed edits were typed again)" if ev.retyped else ""),
        )

    def _recovered(self, session: ClientSession, ev: Recovered) -> None:
        """A fresh JOIN was answered: the replica is the server's copy, our edits retyped."""
        self.recoveries += 1
        self._recoveries_in_row += 1
        self._fresh = False
        self._seq_floor = max(self._seq_floor, ev.seq_floor)
        self._replace(ev.doc)
        self._joined(session, ev.role, ev.version, ev.edits)
        err, self._refusal = self._refusal, None
        why = "the server refused our edits" if err is None else f"the server refused our edits ({err.code.name.lower()})"
        chars = sum(len(arg) if isinstance(arg, str) else arg for _, _, arg in ev.retyped)
        typed = f"typed our unconfirmed edits again ({chars} characters)" if ev.retyped else "nothing of ours was missing"
        self._notice("recovered", f"{why}: replaced our copy of the document by the server's and {typed}",
                     None if err is None else err.code)

    def _joined(self, session: ClientSession, role: Role, version: RawVersion, edits: list[Edit]) -> None:
        self._role = role
        own_end = self._own_end()
        # We now hold every op of the server, so the ops not in the history of its
        # version are exactly what it lacks; ours among them are not durable there.
        try:
            lacking = [op.seq for op in self._doc.ops_since(version) if op.agent == self._me]
        except CowriteError:  # pragma: no cover - the WELCOME's ops were just applied
            lacking = [first for first, _ in session.unacked.values()]
        low = min(lacking, default=own_end)
        if low < self._acked_seq and not session.fresh:
            log.error("the server lost acknowledged ops of %s (has up to seq %d, acknowledged %d)",
                      self._me, low, self._acked_seq)
        self._acked_seq = low
        if session.can_write:
            self._sent_end = own_end  # what it lacked is in flight now
            self._update_acked(session)
        self._catchup = set(session.unacked)
        if self._cursor is not None:
            self._cursor_dirty = True  # announce it on the new connection
        if edits:
            self._emit(self._change_cbs, edits)
            if self._file is not None:
                self._save_wanted.set()
        self._set_state("syncing" if self._catchup else "connected")


class _Link:
    """The client as its :class:`~.connection.Connection` sees it (the ``Host`` protocol)."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def last_activity(self) -> float:
        return self._client._last_activity

    @property
    def version(self) -> RawVersion:
        return self._client._doc.version

    def token(self) -> str:
        token = self._client._token
        return token() if callable(token) else token

    def open_session(self) -> ClientSession:
        return self._client._open_session()

    def received(self, session: ClientSession, data: bytes) -> Verdict:
        return self._client._received(session, data)

    async def prepare(self, session: ClientSession) -> None:
        await self._client._prepare(session)

    def dropped(self, session: ClientSession, close_code: int | None) -> Verdict:
        return self._client._dropped(session, close_code)

    def closed_session(self, session: ClientSession) -> None:
        self._client._closed_session(session)

    def stopped(self, error: FatalError) -> None:
        self._client._fail(error)


def _subscribe(callbacks: list[_T], callback: _T) -> Callable[[], None]:
    callbacks.append(callback)

    def unsubscribe() -> None:
        with contextlib.suppress(ValueError):
            callbacks.remove(callback)

    return unsubscribe
