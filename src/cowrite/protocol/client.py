"""The client side of the protocol, sans-I/O: one :class:`ClientSession` per connection.

The session wraps the client's :class:`~cowrite.engine.Document` (which outlives
connections: it *is* the offline queue)::

    session = ClientSession(doc, "doc-id", user="Ada", colour="#c33")
    send_all(session.data_to_send())          # JOIN
    for frame in incoming:
        for event in session.receive(frame):  # Welcomed, RemoteChange, Acked, ...
            ...
        send_all(session.data_to_send())
    doc.insert(0, "hi"); session.flush(); send_all(session.data_to_send())

On reconnect make a new session over the same document: the JOIN/WELCOME summary
exchange finds every op either side lacks, so nothing unacknowledged is lost.

Divergence check: when idle, :meth:`ClientSession.send_digest` sends the hash of
the text at a version the server has; if the server's text differs it answers
``RESYNC`` and the session replaces its document with the server's (event
:class:`Resynced`: ``session.doc`` is then a new object), keeping and resending
our own ops the server lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import CowriteError, Document, Op, Position, RawVersion, encode_patch

from ..errors import ProtocolError
from .messages import (
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
    text_digest,
)

__all__ = [
    "Acked",
    "ClientSession",
    "Edit",
    "Event",
    "PongReceived",
    "PresenceChanged",
    "ProtocolFailure",
    "RemoteChange",
    "Resynced",
    "ServerError",
    "Welcomed",
]

Edit = tuple[int, int, str | int]
"""An edit applied to the text: ``(0, pos, text)`` insert or ``(1, pos, length)`` delete."""


@dataclass(frozen=True, slots=True)
class Welcomed:
    """Joined: ``edits`` brought the text up to the server's (``version``)."""

    role: Role
    version: RawVersion
    edits: list[Edit]


@dataclass(frozen=True, slots=True)
class RemoteChange:
    """Another connection's ops were merged; ``edits`` is what changed in the text."""

    edits: list[Edit]


@dataclass(frozen=True, slots=True)
class Acked:
    """Batch ``batch_id`` is durable on the server (at ``version``)."""

    batch_id: int
    version: RawVersion


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    presence: Presence


@dataclass(frozen=True, slots=True)
class ServerError:
    """The server refused something; if ``error.fatal`` it closes the connection."""

    error: Error


@dataclass(frozen=True, slots=True)
class PongReceived:
    nonce: int


@dataclass(frozen=True, slots=True)
class Resynced:
    """Our text differed from the server's at the same version (a ``DIGEST`` failed),
    and the server sent its whole document (at ``version``).

    The session now works on ``doc``, a new :class:`~cowrite.engine.Document` with
    the same agent: drop the old one and whatever was attached to it (an
    ``UndoManager``: its steps name ops of the old replica).  ``edits`` turn the
    text the user saw into the new text (one delete and one insert at most:
    common prefix and suffix kept).  Our own ops the server lacked are in ``doc``
    and are being sent again; ``retyped`` says they did not fit the server's
    history as they were and were typed again as new ops (positions clamped).
    """

    version: RawVersion
    doc: Document
    edits: list[Edit]
    retyped: bool = False


@dataclass(frozen=True, slots=True)
class ProtocolFailure:
    """The server sent something this client cannot use: drop the connection and reconnect."""

    message: str


Event = Welcomed | RemoteChange | Acked | PresenceChanged | ServerError | PongReceived | Resynced | ProtocolFailure


def text_edits(old: str, new: str) -> list[Edit]:
    """Edits turning ``old`` into ``new``: one delete and one insert at most (common
    prefix and suffix kept)."""
    n = min(len(old), len(new))
    start = 0
    while start < n and old[start] == new[start]:
        start += 1
    end = 0
    while end < n - start and old[len(old) - 1 - end] == new[len(new) - 1 - end]:
        end += 1
    edits: list[Edit] = []
    if len(old) - end > start:
        edits.append((1, start, len(old) - end - start))
    if len(new) - end > start:
        edits.append((0, start, new[start : len(new) - end]))
    return edits


def _retype(doc: Document, ops: list[Op], seq: int) -> None:
    """Make ``ops`` (our own, causal order) again as new ops of ``doc``'s agent from
    ``seq`` on, one after the other on top of ``doc``, positions clamped to its text."""
    me = doc.agent
    length = len(doc)
    parents = doc.version
    out: list[Op] = []
    for op in ops:
        pos = min(op.pos, length)
        if op.kind == "ins":
            new = Op.insert(me, seq, parents, pos, op.content, time=op.time)
            length += len(op.content)
        else:
            n = min(op.length, length - pos)
            if n <= 0:
                continue
            new = Op.delete(me, seq, parents, pos, n, time=op.time)
            length -= n
        out.append(new)
        seq += new.span
        parents = ((me, seq - 1),)
    doc.add_ops(out)


class ClientSession:
    """The protocol state of one connection of ``doc`` to document ``doc_id``.

    Local edits go straight into ``doc``; :meth:`flush` turns the ones not yet sent
    into ``OPS`` batches (up to ``max_batch_ops`` ops each).  ``unacked`` maps each
    batch id in flight to the (first_seq, end_seq) of this agent's ops in it.
    """

    def __init__(
        self,
        doc: Document,
        doc_id: str,
        *,
        user: str = "",
        colour: str = "",
        read_only: bool = False,
        max_batch_ops: int = 512,
    ) -> None:
        if max_batch_ops < 1:
            raise ValueError("max_batch_ops must be at least 1")
        self.doc = doc
        self.doc_id = doc_id
        self.user = user
        self.colour = colour
        self.read_only = read_only
        self.max_batch_ops = max_batch_ops
        self.role: Role | None = None  # known after WELCOME
        self.closed = False  # fatal error or protocol failure: reconnect with a new session
        self.unacked: dict[int, tuple[int, int]] = {}
        self.unsendable: list[Op] = []  # other agents' ops the server lacks (it would refuse them)
        self.presence: dict[str, Presence] = {}  # others' presence, by agent
        self.resyncs = 0  # how many RESYNCs replaced the document
        self._local_only = False  # some of our ops can never be sent (viewer, refused batch)
        self._own_end = 0  # our agent's next seq when ops were last flushed
        self._next_batch = 1
        self._flushed: RawVersion | None = None  # doc version at the last flush (None: not joined)
        self._out: list[bytes] = [encode_frame(Join(doc_id, doc.agent, doc.summary(), read_only))]

    @property
    def welcomed(self) -> bool:
        return self._flushed is not None

    @property
    def can_write(self) -> bool:
        return self.role is not None and self.role.can_write

    @property
    def in_sync(self) -> bool:
        """Whether, as far as this session knows, the server has every op of ``doc``
        (joined; no batch in flight; no local edit unsent; no op it lacks): then the
        document's version is one of the server's versions."""
        if not self.welcomed or self.closed or self.unacked or self.unsendable or self._local_only:
            return False
        doc = self.doc
        return doc.oplog.cg.next_seq(doc.agent) == self._own_end

    def data_to_send(self) -> list[bytes]:
        """The frames to send, in order (and forget them)."""
        out, self._out = self._out, []
        return out

    # -- outgoing --------------------------------------------------------------------

    def flush(self) -> int:
        """Queue ``OPS`` for local edits not sent yet; returns how many batches.

        Does nothing before ``WELCOME``, for viewers, or once closed: the edits stay
        in the document and the next session sends them.
        """
        if self._flushed is None or self.closed:
            return 0
        doc = self.doc
        if doc.version == self._flushed:
            return 0
        me = doc.agent
        ops = [op for op in doc.ops_since(self._flushed) if op.agent == me]
        self._flushed = doc.version
        return self._send_ops(ops)

    def _send_ops(self, ops: list[Op]) -> int:
        self._own_end = self.doc.oplog.cg.next_seq(self.doc.agent)
        if ops and not self.can_write:
            self._local_only = True  # a viewer's edits stay local: never in sync again
        if not ops or not self.can_write:
            return 0
        n = 0
        step = self.max_batch_ops
        for i in range(0, len(ops), step):
            chunk = ops[i : i + step]
            batch = self._next_batch
            self._next_batch += 1
            self.unacked[batch] = (min(op.seq for op in chunk), max(op.seq + op.span for op in chunk))
            self._out.append(encode_frame(Ops(batch, encode_patch(chunk))))
            n += 1
        return n

    def set_cursor(self, anchor: Position | None, head: Position | None = None) -> None:
        """Queue this client's presence: a selection (anchor, head), a caret, or none."""
        cursor = None if anchor is None else (anchor, anchor if head is None else head)
        self._out.append(encode_frame(Presence(self.doc.agent, self.user, self.colour, cursor)))

    def ping(self, nonce: int = 0) -> None:
        self._out.append(encode_frame(Ping(nonce)))

    def send_digest(self) -> bool:
        """Queue a ``DIGEST`` of the text if :attr:`in_sync` (else do nothing); True if queued.

        The server answers only if the text differs from its own (``RESYNC``).  Call
        it when idle; the server ignores digests that come too often."""
        if not self.in_sync:
            return False
        doc = self.doc
        self._out.append(encode_frame(Digest(doc.version, text_digest(doc.text))))
        return True

    # -- incoming --------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Handle one frame from the server; never raises on bad input."""
        if self.closed:
            return []
        try:
            msg = decode_frame(data)
        except ProtocolError as exc:
            return self._fail(f"bad frame from the server: {exc}")
        try:
            return self._handle(msg)
        except CowriteError as exc:  # the server's ops do not merge: our replica is intact
            return self._fail(f"could not apply the server's ops: {exc}")

    def _fail(self, message: str) -> list[Event]:
        self.closed = True
        return [ProtocolFailure(message)]

    def _handle(self, msg: Message) -> list[Event]:
        if isinstance(msg, Welcome):
            if self.welcomed:
                return self._fail("a second WELCOME")
            edits = self.doc.apply_patch(msg.patch)
            self.role = msg.role
            # What the server lacks, from its summary: our own ops we send; others'
            # ops it would refuse from us (they are someone else's to send).
            lacking = self.doc.ops_missing_from(msg.summary)
            own = [op for op in lacking if op.agent == self.doc.agent]
            self.unsendable = [op for op in lacking if op.agent != self.doc.agent]
            self._flushed = self.doc.version
            self._send_ops(own)
            return [Welcomed(msg.role, msg.version, list(edits))]
        if isinstance(msg, Resync) and self.welcomed:
            return self._resync(msg)
        if not self.welcomed:
            if isinstance(msg, Error):
                if msg.fatal:
                    self.closed = True
                return [ServerError(msg)]
            return self._fail(f"{type(msg).__name__} before WELCOME")
        if isinstance(msg, RemoteOps):
            return [RemoteChange(list(self.doc.apply_patch(msg.patch)))]
        if isinstance(msg, Ack):
            if self.unacked.pop(msg.batch_id, None) is None:
                return self._fail(f"ACK for unknown batch {msg.batch_id}")
            return [Acked(msg.batch_id, msg.version)]
        if isinstance(msg, Presence):
            if msg.gone:
                self.presence.pop(msg.agent, None)
            else:
                self.presence[msg.agent] = msg
            return [PresenceChanged(msg)]
        if isinstance(msg, Error):
            if msg.batch_id is not None:
                self.unacked.pop(msg.batch_id, None)  # refused for good: resending cannot help
                self._local_only = True
            if msg.fatal:
                self.closed = True
            return [ServerError(msg)]
        if isinstance(msg, Ping):
            self._out.append(encode_frame(Pong(msg.nonce)))
            return []
        if isinstance(msg, Pong):
            return [PongReceived(msg.nonce)]
        return self._fail(f"a server may not send {type(msg).__name__}")

    def _resync(self, msg: Resync) -> list[Event]:
        """Replace the document with the server's; keep (and resend) our ops it lacks."""
        old = self.doc
        me = old.agent
        # The new replica keeps the old one's clock (op times; tests fix it).
        new = Document.decode(msg.document, me, clock=old.clock)
        server_version = new.version
        if server_version != tuple(sorted(msg.version)):
            return self._fail("a RESYNC whose version is not its document's")
        server_summary = new.summary()
        missing = old.ops_missing_from(server_summary)
        retyped = False
        try:
            new.add_ops(missing)  # all-or-nothing: on failure ``new`` is the server's copy
        except CowriteError:
            # Our ops do not fit the server's history (they were made on a text that
            # was wrong): type them again as new ops, with seqs the old replica never used.
            own = [op for op in missing if op.agent == me]
            _retype(new, own, old.oplog.cg.next_seq(me))
            retyped = bool(own)
        lacking = new.ops_missing_from(server_summary)
        self.doc = new
        self.unsendable = [op for op in lacking if op.agent != me]
        self._local_only = False
        self._flushed = new.version
        self.resyncs += 1
        # Batches in flight keep their ids: their ACKs still come.  What the server
        # lacks is sent again (ops it already has are accepted silently).
        self._send_ops([op for op in lacking if op.agent == me])
        return [Resynced(server_version, new, text_edits(old.text, new.text), retyped)]
