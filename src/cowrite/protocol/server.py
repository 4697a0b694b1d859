"""The server side of the protocol, sans-I/O: a :class:`Room` per document.

A room holds the authoritative :class:`~cowrite.engine.Document` of one document and
the :class:`ServerSession` of every connection to it.  The I/O layer (WebSocket
server) only moves bytes and talks to the store::

    join = parse_join(first_frame)                 # doc id: find/load the room
    session, sends = room.join(join, user=u, role=r)
    ...
    pending = room.submit(session, frame)          # validated, applied in memory
    if pending.to_persist:
        store.append(room.doc_id, pending.patch)   # commit durably (fsync) here
    sends = pending.commit()                       # ACK to sender, REMOTE_OPS to others
    # (if the store failed instead: sends = pending.abort(); drop the room)
    ...
    sends = room.leave(session)                    # connection closed

A ``DIGEST`` whose hash differs from the room's text at that version is answered
with ``RESYNC`` (the whole document); ``pending.divergence`` then says so, for the
I/O layer's log and metrics.

In-process callers (the HTTP API) edit with :meth:`Room.edit`, which takes the
path of a client's batch (the same checks and limits, a ``Pending`` to persist
before its commit, ``REMOTE_OPS`` to every connection).

A bug (any exception that is not a :class:`~cowrite.errors.CowriteError`) while a
frame is handled is not relabelled: the room answers the sender ``ERROR
internal`` (not fatal, with the batch id), sets ``pending.bug`` to the exception
and marks itself ``failed``, since its document may be inconsistent.  The I/O
layer logs it, loads the document again from the store and moves the
connections over with :meth:`Room.adopt`.

Every ``sends`` is a list of :class:`Send` (session, bytes, close-after) to
write in order.  One room handles one step at a time: between ``submit`` and
``commit``/``abort`` call nothing on the room but :meth:`Room.leave` (the
I/O layer serialises a room's frames, e.g. with one lock per room).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

from ..engine import (
    CausalGraph,
    ConflictingOpError,
    CowriteError,
    Document,
    InvalidOpError,
    Op,
    RawVersion,
    TooLargeError,
    UnknownParentError,
    UnknownVersionError,
    decode_patch,
    encode_patch,
    patch_shape,
)
from ..errors import ErrorCode, ProtocolError
from .messages import (
    PROTOCOL_VERSION,
    Ack,
    Digest,
    Error,
    Join,
    Message,
    Ops,
    Ping,
    Pong,
    Presence,
    RemoteOps,
    Resync,
    Role,
    Welcome,
    decode_frame,
    encode_frame,
    error_message,
    text_digest,
)

__all__ = ["Divergence", "Pending", "Room", "Send", "ServerSession", "error_frame", "parse_join", "patch_shape"]


def error_frame(code: ErrorCode, message: str, *, fatal: bool = False, batch_id: int | None = None) -> bytes:
    """An ``ERROR`` frame (e.g. for the I/O layer's own refusals: auth, rate limits)."""
    return encode_frame(Error(code, error_message(message), fatal, batch_id))


def parse_join(data: bytes, max_size: int | None = None) -> Join:
    """The ``JOIN`` that must open a connection; :class:`ProtocolError` otherwise.

    An error's ``code`` says how to answer (``error_frame(e.code, str(e), fatal=True)``).
    """
    msg = decode_frame(data, max_size)
    if not isinstance(msg, Join):
        raise ProtocolError(f"the first frame must be JOIN, not {type(msg).__name__}", ErrorCode.BAD_STATE)
    return msg


def _all_new_as_sent(cg: CausalGraph, ops: list[Op], start_lv: int) -> bool:
    """Whether ``ops`` (just added from LV ``start_lv`` on) were all new, were added in the
    order given (so they are in causal order), and name their parents as the log
    stores them (no redundant parent): then their patch bytes say exactly what the
    log gained, and can be stored and relayed as they are."""
    lv = start_lv
    for op in ops:
        if cg.raw_to_lv(op.agent, op.seq) != lv:
            return False
        if len(op.parents) > 1 and len(cg.parents_of(lv)) != len(op.parents):
            return False
        lv += op.span
    return lv == cg.next_lv


class _DocFull(Exception):
    """A batch would insert more text than the document has room for (never escapes a Room)."""


class ServerSession:
    """One connection's state in a room.  Created by :meth:`Room.join`."""

    __slots__ = ("room", "agent", "user", "name", "role", "joined", "closed", "presence", "tag", "last_digest")

    def __init__(self, room: Room, agent: str, user: str, role: Role, name: str | None = None) -> None:
        self.room = room
        self.agent = agent
        self.user = user  # the stable user id: agents belong to it
        self.name = name or user  # what other people see next to this user's cursor
        self.role = role
        self.joined = False  # True while the room counts this connection as a member
        self.closed = False  # a fatal error was sent: close the connection after it
        self.presence: Presence | None = None
        self.tag: object = None  # free for the I/O layer (e.g. its connection object)
        self.last_digest: float | None = None  # room clock time of the last DIGEST checked

    def __repr__(self) -> str:
        return f"<ServerSession agent={self.agent!r} user={self.user!r} role={self.role.name}>"


@dataclass(frozen=True, slots=True)
class Divergence:
    """A client's text differed from the room's at the same version (it got ``RESYNC``)."""

    doc_id: str
    agent: str
    user: str
    version: RawVersion  # the version the client checked
    server_version: RawVersion  # the room's version, sent in the RESYNC


@dataclass(frozen=True, slots=True)
class Send:
    """Write ``data`` to ``session``'s connection; then close it if ``close``."""

    session: ServerSession
    data: bytes
    close: bool = False


class Pending:
    """The outcome of one incoming frame, held back until its ops are durable.

    ``to_persist`` (new ops, causal order; ``patch`` is the same as engine patch
    bytes) must be committed to the store *before* :meth:`commit`, which returns
    the ACK for the sender and the REMOTE_OPS for everyone else.  With nothing to
    persist, call :meth:`commit` at once.  ``error`` is the refusal sent, if any
    (for logs and metrics), ``divergence`` a failed ``DIGEST`` check answered with
    ``RESYNC`` (log it, count it).  ``bug`` is the exception of a bug met while
    handling the frame (the room is then ``failed``: load it again and
    :meth:`Room.adopt` its connections); ``batch_id`` the batch the frame carried.
    ``session`` is None for an in-process edit (:meth:`Room.edit`).
    """

    __slots__ = (
        "room", "session", "to_persist", "patch", "version", "error", "divergence", "bug", "batch_id", "_sends", "_done",
    )

    def __init__(
        self,
        room: Room,
        session: ServerSession | None,
        sends: list[Send],
        to_persist: list[Op] | None = None,
        patch: bytes = b"",
        error: Error | None = None,
        divergence: Divergence | None = None,
        version: RawVersion | None = None,
        *,
        bug: Exception | None = None,
        batch_id: int | None = None,
    ) -> None:
        self.room = room
        self.session = session
        self.to_persist: list[Op] = to_persist or []
        self.patch = patch
        self.version: RawVersion = room.doc.version if version is None else version
        self.error = error
        self.divergence = divergence
        self.bug = bug
        self.batch_id = batch_id
        self._sends = sends
        self._done = False

    def _settle(self) -> None:
        if self._done:
            raise RuntimeError("this Pending was already committed or aborted")
        self._done = True
        self.room.settled(self)

    def commit(self) -> list[Send]:
        """The frames to send now that ``to_persist`` is durable."""
        self._settle()
        return [s for s in self._sends if s.close or s.session.joined]  # skip who left meanwhile

    def abort(self, reason: str = "the server could not store the ops") -> list[Send]:
        """The store failed: nothing is acknowledged and the room is unusable.

        The room's document holds ops that are not durable, so every connection
        gets a fatal ``ERROR internal`` and the I/O layer must drop the room and
        load it again from the store; clients reconnect and resend.
        """
        self._settle()
        self.error = Error(ErrorCode.INTERNAL, error_message(reason), True, self.batch_id)
        return self.room.fail(reason)

    def broken(self, bug: Exception) -> list[Send]:
        """A bug after :meth:`Room.submit` (in the I/O layer or the store, e.g. an
        exception that is not a ``StoreError``): nothing is acknowledged, the sender
        gets a non-fatal ``ERROR internal`` with its batch id, and the room is
        ``failed`` (what is durable is unknown: load it again and adopt its
        connections; they resend what the store lacks)."""
        self._settle()
        self.bug = bug
        self.room.failed = True
        if self.session is None:
            return []
        err = Error(ErrorCode.INTERNAL, _BUG_MESSAGE, False, self.batch_id)
        self.error = err
        return [Send(self.session, encode_frame(err))]


_BUG_MESSAGE = "the server failed while handling this frame (a bug, logged there); send it again"


class Room:
    """The authoritative replica of one document and its connections.

    ``agent_owners`` maps agent -> user (seed it from the store, persist what
    :meth:`join` adds; a server claims an agent durably *before* it joins, and
    records the owner here).  An agent belongs to the first user who joined with it.
    ``max_doc_len`` (code points) refuses batches that could make the text longer.
    ``digest_interval`` (seconds of ``clock``) is how often one connection may have a
    ``DIGEST`` checked; digests that come sooner are ignored.

    Limits on one ``OPS`` batch (``None``: none), checked before its patch is decoded:
    ``max_patch_bytes`` (its body, inflated), ``max_batch_ops`` (op runs) and
    ``max_batch_meta_bytes`` (the patch before its inserted text).  Limits on the
    document's history, checked before a batch is applied: ``max_history_ops``
    (every character ever inserted or deleted) and ``max_history_runs`` (op runs in
    the log: what memory grows with).  Refusals are ``ERROR too_large`` and change
    nothing.
    """

    DIGEST_CACHE = 8  # digests of recent versions kept (clients at one version ask alike)

    def __init__(
        self,
        doc_id: str,
        doc: Document,
        *,
        agent_owners: MutableMapping[str, str] | None = None,
        max_doc_len: int | None = None,
        digest_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        max_patch_bytes: int | None = None,
        max_batch_ops: int | None = None,
        max_batch_meta_bytes: int | None = None,
        max_history_ops: int | None = None,
        max_history_runs: int | None = None,
    ) -> None:
        self.doc_id = doc_id
        self.doc = doc
        self.agent_owners: MutableMapping[str, str] = {} if agent_owners is None else agent_owners
        self.max_doc_len = max_doc_len
        self.max_patch_bytes = max_patch_bytes
        self.max_batch_ops = max_batch_ops
        self.max_batch_meta_bytes = max_batch_meta_bytes
        self.max_history_ops = max_history_ops
        self.max_history_runs = max_history_runs
        self.sessions: list[ServerSession] = []
        self.failed = False  # the document cannot be trusted: load it again from the store
        self.digest_interval = digest_interval
        self.clock = clock
        self._pending: Pending | None = None
        self._digests: OrderedDict[RawVersion, bytes] = OrderedDict()

    def __repr__(self) -> str:
        return f"<Room {self.doc_id!r} sessions={len(self.sessions)} failed={self.failed}>"

    def _check_idle(self) -> None:
        if self._pending is not None:
            raise RuntimeError("commit or abort the room's outstanding Pending first")
        if self.failed:
            raise RuntimeError("this room failed; load it again from the store")

    # -- membership ------------------------------------------------------------------

    def join(
        self, join: Join | bytes, *, user: str, role: Role, name: str | None = None
    ) -> tuple[ServerSession, list[Send]]:
        """Admit a connection: WELCOME (and the others' presence), or a fatal ERROR.

        ``user`` and ``role`` come from the connection's verified token.  If the
        join is refused the session is returned closed and not a member.
        """
        self._check_idle()
        if not isinstance(join, Join):
            try:
                join = parse_join(join)
            except ProtocolError as exc:
                s = ServerSession(self, "?", user, Role.VIEWER)
                s.closed = True
                return s, [Send(s, error_frame(exc.code, str(exc), fatal=True), True)]
        role = Role(role)
        if join.read_only:
            role = Role.VIEWER
        session = ServerSession(self, join.agent, user, role, name)

        def refuse(code: ErrorCode, message: str) -> tuple[ServerSession, list[Send]]:
            session.closed = True
            return session, [Send(session, error_frame(code, message, fatal=True), True)]

        if join.doc_id != self.doc_id:
            return refuse(ErrorCode.NOT_FOUND, f"this room is {self.doc_id!r}, not {join.doc_id!r}")
        owner = self.agent_owners.get(join.agent)
        if owner is not None and owner != user:
            return refuse(ErrorCode.FORBIDDEN, f"agent {join.agent!r} belongs to another user")
        try:
            missing = [] if join.fresh else self.doc.ops_missing_from(join.summary)
        except CowriteError as exc:  # cannot happen for a decoded summary; never crash
            return refuse(ErrorCode.BAD_FRAME, f"bad summary: {exc}")
        self.agent_owners.setdefault(join.agent, user)
        sends: list[Send] = []
        for old in [s for s in self.sessions if s.agent == join.agent]:
            sends += self._drop(old, ErrorCode.BAD_STATE, "superseded by a new connection with the same agent")
        # A fresh JOIN replaces the client's replica: the whole document, not a patch.
        payload = self.doc.encode() if join.fresh else encode_patch(missing)
        welcome = Welcome(role, self.doc.version, self.doc.summary(), payload)
        sends.append(Send(session, encode_frame(welcome)))
        for other in self.sessions:
            if other.presence is not None:
                sends.append(Send(session, encode_frame(other.presence)))
        session.joined = True
        self.sessions.append(session)
        return session, sends

    def leave(self, session: ServerSession) -> list[Send]:
        """The connection closed: the others learn that its presence is gone."""
        if not session.joined:
            return []
        session.joined = False
        self.sessions.remove(session)
        gone = Presence(session.agent, session.name, "", None, True)
        return self._broadcast(session, encode_frame(gone))

    def remote_presence(self, presence: Presence) -> list[Send]:
        """The presence of a connection to another server (relayed by it; or gone: it
        left, or its server stopped refreshing it) for every connection here.

        A connection here with the same agent wins: it is not sent the other's presence,
        and a *gone* is not sent while it shows a presence of its own."""
        if presence.gone and any(s.agent == presence.agent and s.presence is not None for s in self.sessions):
            return []
        data = encode_frame(presence)
        return [Send(s, data) for s in self.sessions if s.agent != presence.agent]

    def _drop(self, session: ServerSession, code: ErrorCode, message: str) -> list[Send]:
        sends = [Send(session, error_frame(code, message, fatal=True), True)]
        sends += self.leave(session)
        session.closed = True
        return sends

    def settled(self, pending: Pending) -> None:
        """``pending`` was committed or aborted: the room takes the next step."""
        if self._pending is pending:
            self._pending = None

    def fail(self, reason: str, *, fatal: bool = True) -> list[Send]:
        """The room's document can no longer be trusted (ops not durable): every
        connection gets ``ERROR internal`` (fatal unless ``fatal=False``) and is
        closed; the I/O layer drops the room."""
        self.failed = True
        sends: list[Send] = []
        for s in list(self.sessions):
            s.joined = False
            s.closed = True
            sends.append(Send(s, error_frame(ErrorCode.INTERNAL, reason, fatal=fatal), True))
        self.sessions.clear()
        return sends

    def adopt(self, old: Room, since: RawVersion) -> list[Send]:
        """Take over the connections of ``old``, a room of the same document that
        ``failed`` and was loaded again from the store as this one.

        They stay connected: each is sent ``REMOTE_OPS`` of what this room holds
        beyond ``since`` (the version every connection of ``old`` had been sent: its
        version before the failed step), if anything.  A connection whose agent the
        store does not give to its user (which cannot happen if agents are claimed
        before they join), or all of them if ``since`` is not in this document, is
        closed with a non-fatal ``ERROR internal`` instead (its client reconnects).
        """
        self._check_idle()
        if old.doc_id != self.doc_id:
            raise ValueError(f"room {self.doc_id!r} cannot adopt the connections of {old.doc_id!r}")
        moving = [s for s in old.sessions if s.joined and not s.closed]
        old.sessions.clear()
        old.failed = True
        try:
            missing = self.doc.ops_since(since)
        except CowriteError:
            missing = None
        news = None if not missing else encode_frame(RemoteOps(encode_patch(missing)))
        sends: list[Send] = []
        for s in moving:
            if missing is None or self.agent_owners.get(s.agent) != s.user:
                s.joined = False
                s.closed = True
                sends.append(Send(s, error_frame(ErrorCode.INTERNAL, "the document was reloaded; reconnect"), True))
                continue
            s.room = self
            self.sessions.append(s)
            if news is not None:
                sends.append(Send(s, news))
        return sends

    def apply_remote(self, patch: bytes) -> list[Send]:
        """Merge ops committed elsewhere (another server, read back from the store's log or
        relayed by it): the ops this room lacked go to every connection as ``REMOTE_OPS``.

        Call it only between steps (no outstanding Pending).  Ops the room already holds
        change nothing (nothing is sent if all are known).  A patch that does not decode or
        apply raises (a :class:`~cowrite.errors.CowriteError`, or a bug): the room is then
        ``failed``, since its document may be half-changed; load it again from the store.
        """
        self._check_idle()
        doc = self.doc
        cg = doc.oplog.cg
        before = doc.version
        start_lv = cg.next_lv
        try:
            ops = decode_patch(patch)
            doc.add_ops(ops)
            if cg.next_lv == start_lv:
                return []
            data = patch if _all_new_as_sent(cg, ops, start_lv) else encode_patch(doc.ops_since(before))
        except BaseException:
            self.failed = True
            raise
        return self._broadcast(None, encode_frame(RemoteOps(data)))

    def _broadcast(self, sender: ServerSession | None, data: bytes) -> list[Send]:
        return [Send(s, data) for s in self.sessions if s is not sender]

    # -- frames ----------------------------------------------------------------------

    def submit(self, session: ServerSession, data: bytes, max_size: int | None = None) -> Pending:
        """Handle one frame from a joined connection.  See :class:`Pending`."""
        self._check_idle()
        try:
            pending = self._handle(session, data, max_size)
        except Exception as exc:  # a bug: refusals are CowriteErrors, answered in _handle
            pending = self._broken(session, exc, None)
        self._pending = pending
        return pending

    def edit(self, user: str, agent: str, pos: int, delete: int = 0, insert: str = "", *, at: int | None = None) -> Pending:
        """An edit by an in-process caller (e.g. the HTTP API): delete ``delete``
        characters at ``pos`` of the current text, then insert ``insert`` there, as
        ``agent``, which must belong to ``user`` in :attr:`agent_owners` (claim it
        durably first).  ``at``: the ops' time (Unix seconds; default now).

        It takes the path of a client's batch: the same checks and limits, a
        :class:`Pending` (without a session: no ACK) whose ops must be persisted
        before :meth:`Pending.commit`, ``REMOTE_OPS`` for every connection, and a
        refusal in ``pending.error``.  Arguments that make no op (a negative count,
        a lone surrogate) raise :class:`InvalidOpError`; nothing is changed.
        """
        self._check_idle()
        if self.agent_owners.get(agent) != user:
            err = Error(ErrorCode.FORBIDDEN, error_message(f"agent {agent!r} does not belong to user {user!r}"), False, None)
            pending = Pending(self, None, [], error=err)
        else:
            doc = self.doc
            seq = doc.oplog.cg.next_seq(agent)
            parents = doc.version
            when = int(time.time()) if at is None else at
            ops: list[Op] = []
            if delete:
                ops.append(Op.delete(agent, seq, parents, pos, delete, time=when))
                parents = ((agent, seq + delete - 1),)
                seq += delete
            if insert:
                ops.append(Op.insert(agent, seq, parents, pos, insert, time=when))
            try:
                pending = self._apply(None, ops, None, None)
            except Exception as exc:  # a bug
                pending = self._broken(None, exc, None)
        self._pending = pending
        return pending

    def edit_ops(self, user: str, agent: str, ops: list[Op]) -> Pending:
        """Many edits by an in-process caller as one batch (e.g. restoring a version):
        ``ops`` made by ``agent`` (which must belong to ``user``, as for :meth:`edit`) on
        top of this room's document, e.g. on a fork of it.  The path of :meth:`edit`:
        the same checks and limits, one batch to persist, a refusal in ``pending.error``."""
        self._check_idle()
        if self.agent_owners.get(agent) != user or any(op.agent != agent for op in ops):
            err = Error(ErrorCode.FORBIDDEN, error_message(f"ops of agent {agent!r} only, which must belong to user {user!r}"), False, None)
            pending = Pending(self, None, [], error=err)
        else:
            try:
                pending = self._apply(None, list(ops), None, None)
            except Exception as exc:  # a bug
                pending = self._broken(None, exc, None)
        self._pending = pending
        return pending

    def _broken(self, session: ServerSession | None, exc: Exception, batch: int | None) -> Pending:
        """A bug while handling a frame: the sender gets a non-fatal ``ERROR internal``;
        the document may be half-changed, so the room is failed until reloaded."""
        self.failed = True
        err = Error(ErrorCode.INTERNAL, _BUG_MESSAGE, False, batch)
        sends = [] if session is None else [Send(session, encode_frame(err))]
        return Pending(self, session, sends, error=err, bug=exc, batch_id=batch)

    def _refuse(
        self,
        session: ServerSession,
        code: ErrorCode,
        message: str,
        *,
        fatal: bool = False,
        batch_id: int | None = None,
    ) -> Pending:
        err = Error(code, error_message(message), fatal, batch_id)
        if fatal:
            sends = self._drop(session, code, err.message)
            sends[0] = Send(session, encode_frame(err), True)
        else:
            sends = [Send(session, encode_frame(err))]
        return Pending(self, session, sends, error=err, batch_id=batch_id)

    def _handle(self, session: ServerSession, data: bytes, max_size: int | None) -> Pending:
        if not session.joined or session.room is not self:
            return Pending(self, session, [])  # a closed or superseded connection: ignore
        try:
            msg: Message = decode_frame(data, max_size)
        except ProtocolError as exc:
            fatal = len(data) >= 1 and data[0] != PROTOCOL_VERSION
            return self._refuse(session, exc.code, str(exc), fatal=fatal)
        if isinstance(msg, Ops):
            try:
                return self._ops(session, msg)
            except Exception as exc:  # a bug: answered with the batch id
                return self._broken(session, exc, msg.batch_id)
        if isinstance(msg, Presence):
            p = Presence(session.agent, session.name, msg.colour, msg.cursor, msg.gone)
            session.presence = None if msg.gone else p
            return Pending(self, session, self._broadcast(session, encode_frame(p)))
        if isinstance(msg, Ping):
            return Pending(self, session, [Send(session, encode_frame(Pong(msg.nonce)))])
        if isinstance(msg, Pong):
            return Pending(self, session, [])
        if isinstance(msg, Digest):
            return self._digest(session, msg)
        return self._refuse(session, ErrorCode.BAD_STATE, f"a client may not send {type(msg).__name__} now")

    def _ops(self, session: ServerSession, msg: Ops) -> Pending:
        batch = msg.batch_id
        if not session.role.can_write:
            return self._refuse(session, ErrorCode.FORBIDDEN, "viewers cannot edit this document", batch_id=batch)
        try:
            ops = self._decode_batch(msg.patch)
        except TooLargeError as exc:
            return self._refuse(session, ErrorCode.TOO_LARGE, f"batch refused: {exc}", batch_id=batch)
        except _DocFull:
            return self._refuse(
                session, ErrorCode.TOO_LARGE, f"the document may not exceed {self.max_doc_len} characters", batch_id=batch
            )
        except CowriteError as exc:
            return self._refuse(session, ErrorCode.BAD_OP, f"bad patch: {exc}", batch_id=batch)
        for op in ops:
            if op.agent != session.agent:
                return self._refuse(
                    session,
                    ErrorCode.FORBIDDEN,
                    f"this connection writes as agent {session.agent!r}, not {op.agent!r}",
                    batch_id=batch,
                )
        return self._apply(session, ops, batch, msg.patch)

    def _small_body(self) -> int:
        """The largest patch body (inflated) that cannot break a batch limit, whatever it
        holds: every op run takes a byte of it at least, and so does every byte of
        metadata and of inserted text.  0: any body may (e.g. the document is full)."""
        bound = self.max_patch_bytes
        for limit in (self.max_batch_ops, self.max_batch_meta_bytes):
            if limit is not None and (bound is None or limit < bound):
                bound = limit
        if self.max_doc_len is not None:
            # Inserted text takes at most 4 bytes a character: 4x the room left is never over.
            room = 4 * max(0, self.max_doc_len - len(self.doc))
            if bound is None or room < bound:
                bound = room
        return -1 if bound is None else bound

    def _decode_batch(self, patch: bytes) -> list[Op]:
        """The ops of a batch's patch, its limits checked before anything is built.

        A body no larger than :meth:`_small_body` cannot break a limit, so such a patch
        (a keystroke's, nearly always) is decoded at once: the decoder refuses a larger
        body (the stated inflated size of a deflated one) before inflating or building
        anything, and only then is the patch counted (:func:`patch_shape`: a few KiB of
        deflated patch can make millions of ops) and decoded with the real limits.
        Raises TooLargeError or :class:`_DocFull` (over a limit), else a CowriteError
        (not a patch)."""
        small = self._small_body()
        if small < 0:  # no limit at all
            return decode_patch(patch)
        if small > 0:
            try:
                return decode_patch(patch, max_bytes=small)
            except TooLargeError:
                pass  # larger than that: count it first
        inflated = len(patch) * 1040  # deflate inflates at most ~1032x: "no limit" for a count
        _, content = patch_shape(
            patch,
            max_body=self.max_patch_bytes if self.max_patch_bytes is not None else inflated,
            max_meta=self.max_batch_meta_bytes if self.max_batch_meta_bytes is not None else inflated,
            max_ops=self.max_batch_ops if self.max_batch_ops is not None else inflated,
        )
        # Inserted text takes at most 4 bytes a character: more than 4x the room left is over for sure.
        if self.max_doc_len is not None and content > 4 * max(0, self.max_doc_len - len(self.doc)):
            raise _DocFull
        return decode_patch(patch, max_bytes=self.max_patch_bytes)

    def _apply(self, session: ServerSession | None, ops: list[Op], batch: int | None, raw: bytes | None) -> Pending:
        """Check ``ops`` against the limits and merge them: the ACK (to ``session``, if
        any) and the REMOTE_OPS to the others, held in a Pending.  ``raw``: the
        patch bytes they came in, relayed as they are when they say exactly what
        the log gained."""

        def refuse(code: ErrorCode, message: str) -> Pending:
            if session is None:
                return Pending(self, None, [], error=Error(code, error_message(message), False, None))
            return self._refuse(session, code, message, batch_id=batch)

        doc = self.doc
        if self.max_batch_ops is not None and len(ops) > self.max_batch_ops:
            return refuse(ErrorCode.TOO_LARGE, f"a batch may carry at most {self.max_batch_ops} op runs, not {len(ops)}")
        if self.max_doc_len is not None:
            grows = sum(len(op.content) for op in ops)
            if len(doc) + grows > self.max_doc_len:
                return refuse(ErrorCode.TOO_LARGE, f"the document may not exceed {self.max_doc_len} characters")
        cg = doc.oplog.cg
        if self.max_history_ops is not None and cg.next_lv + sum(op.span for op in ops) > self.max_history_ops:
            return refuse(
                ErrorCode.TOO_LARGE,
                f"the document's history may not exceed {self.max_history_ops} ops "
                f"(characters ever inserted or deleted; it has {cg.next_lv})",
            )
        if self.max_history_runs is not None and len(doc.oplog.op_starts) + len(ops) > self.max_history_runs:
            return refuse(
                ErrorCode.TOO_LARGE,
                f"the document's history may not exceed {self.max_history_runs} op runs (it has {len(doc.oplog.op_starts)})",
            )
        before = doc.version
        start_lv = cg.next_lv
        try:
            doc.add_ops(ops)
        except UnknownParentError as exc:
            return refuse(ErrorCode.UNKNOWN_PARENT, str(exc))
        except ConflictingOpError as exc:
            return refuse(ErrorCode.CONFLICT, str(exc))
        except InvalidOpError as exc:
            return refuse(ErrorCode.BAD_OP, str(exc))
        except CowriteError as exc:
            return refuse(ErrorCode.BAD_OP, f"ops rejected: {exc}")
        new: list[Op]
        patch = b""
        if cg.next_lv == start_lv:
            new = []
        elif raw is not None and _all_new_as_sent(cg, ops, start_lv):
            new, patch = ops, raw  # what was accepted is exactly what came: pass the bytes on
        else:
            new = doc.ops_since(before)
            patch = encode_patch(new)
        version = doc.version
        sends = [] if session is None else [Send(session, encode_frame(Ack(0 if batch is None else batch, version)))]
        if new:
            sends += self._broadcast(session, encode_frame(RemoteOps(patch)))
        return Pending(self, session, sends, new, patch, version=version, batch_id=batch)

    def _digest(self, session: ServerSession, msg: Digest) -> Pending:
        """Check a client's text hash; on a mismatch send it the whole document."""
        now = self.clock()
        last = session.last_digest
        if last is not None and now - last < self.digest_interval:
            return Pending(self, session, [])  # rate limited: ignored, not an error
        expected = self._digest_at(msg.version)
        if expected is None:
            return Pending(self, session, [])  # a version this room does not (fully) know
        session.last_digest = now
        if expected == msg.digest:
            return Pending(self, session, [])
        doc = self.doc
        resync = Resync(doc.version, doc.encode())
        divergence = Divergence(self.doc_id, session.agent, session.user, msg.version, doc.version)
        return Pending(self, session, [Send(session, encode_frame(resync))], divergence=divergence)

    def _digest_at(self, version: RawVersion) -> bytes | None:
        """The digest of the room's text at ``version``, or None if it is not known here."""
        key = tuple(sorted(version))
        cache = self._digests
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            return found
        doc = self.doc
        if key == doc.version:
            text = doc.text
        else:
            try:
                text = doc.text_at(key)
            except UnknownVersionError:
                return None
        found = text_digest(text)
        cache[key] = found
        if len(cache) > self.DIGEST_CACHE:
            cache.popitem(last=False)
        return found
