"""The client side of the protocol, sans-I/O: one :class:`ClientSession` per connection.

The session wraps the client's :class:`~cowrite.engine.Document` (which outlives
connections: it *is* the offline queue)::

    journal = Journal()                       # the user's unconfirmed edits (optional)
    session = ClientSession(doc, "doc-id", user="Ada", colour="#c33", journal=journal)
    send_all(session.data_to_send())          # JOIN
    for frame in incoming:
        for event in session.receive(frame):  # Welcomed, RemoteChange, Acked, ...
            ...
        send_all(session.data_to_send())
    doc.insert(0, "hi"); journal.local(0, "", "hi")
    session.flush(); send_all(session.data_to_send())

On reconnect make a new session over the same document: the JOIN/WELCOME summary
exchange finds every op either side lacks, so nothing unacknowledged is lost.

Refusals.  Any ``ERROR`` ends the session (its later frames are ignored: our ops
form one chain, so once a batch is refused or dropped every later batch in flight
is refused too).  :attr:`ClientSession.recovery` says what to do next
(:func:`recovery_for`): reconnect (``RETRY``), reconnect with smaller frames
(``SHRINK``), stop (``STOP``), or -- when the server refused our ops as not fitting
its history -- ``RESYNC``: reconnect with a *fresh* JOIN (``ClientSession(...,
fresh=True)``).  Its WELCOME carries the server's whole document; the session
replaces its replica with it and types the user's unconfirmed edits again on top
(from the :class:`~.journal.Journal`, at the same places relative to the text
both still share), event :class:`Recovered`.

Divergence check: when idle, :meth:`ClientSession.send_digest` sends the hash of
the text at a version the server has; if the server's text differs it answers
``RESYNC`` and the session replaces its document with the server's (event
:class:`Resynced`: ``session.doc`` is then a new object), keeping and resending
our own ops the server lacks (re-typed from the journal if they do not fit).

Frames are kept under a byte budget (``max_frame_bytes``): a long insert is cut
into several ops (:func:`split_op`), so no ``OPS`` frame is larger than the
budget unless a single character's op is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from ..engine import MAX_SEQ, CowriteError, Document, Op, Position, RawVersion, encode_patch
from ..errors import ConfigError, ErrorCode, ProtocolError
from .journal import Journal
from .messages import (
    Ack,
    Comments,
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
    Suggestions,
    Welcome,
    decode_frame,
    encode_frame,
    text_digest,
)
from .textchange import ChangeMismatch, Delete, Insert, Retain, TextChange, diff, from_edits

__all__ = [
    "DEFAULT_FRAME_BYTES",
    "MIN_FRAME_BYTES",
    "Acked",
    "ClientSession",
    "CommentsChanged",
    "SuggestionsChanged",
    "Edit",
    "Event",
    "PongReceived",
    "PresenceChanged",
    "ProtocolFailure",
    "Recovered",
    "Recovery",
    "RemoteChange",
    "Resynced",
    "ServerError",
    "Welcomed",
    "recovery_for",
    "replica_journal",
    "split_op",
]

Edit = tuple[int, int, str | int]
"""An edit applied to the text: ``(0, pos, text)`` insert or ``(1, pos, length)`` delete."""

DEFAULT_FRAME_BYTES = 256 * 1024
"""Default budget of one ``OPS`` frame: well under a server's usual 1 MiB frame limit."""
MIN_FRAME_BYTES = 1024
"""The smallest budget a session accepts (one op and the patch around it)."""

_OPS_OVERHEAD = 2 + 10 + 10  # frame header, batch id, patch length
_PATCH_OVERHEAD = 5 + 10 + 4 + 4 * 10  # patch header, deflate size, CRC, the block counts
_OP_OVERHEAD = 80  # worst case per op: agent run, seq, parents code, kind+length, position, time
_PARENT_OVERHEAD = 20  # per parent: agent index and seq
_AGENT_OVERHEAD = 3  # per agent named in a patch: its length


# -- events ------------------------------------------------------------------------------


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
    """The server refused something; the session is over (see :attr:`ClientSession.recovery`)."""

    error: Error


@dataclass(frozen=True, slots=True)
class PongReceived:
    nonce: int


@dataclass(frozen=True, slots=True)
class CommentsChanged:
    """The document's comments changed (now at ``revision``): fetch them over HTTP."""

    revision: int


@dataclass(frozen=True, slots=True)
class SuggestionsChanged:
    """The document's open suggestions changed (now at ``revision``): fetch them over HTTP."""

    revision: int


@dataclass(frozen=True, slots=True)
class Resynced:
    """Our text differed from the server's at the same version (a ``DIGEST`` failed),
    and the server sent its whole document (at ``version``).

    The session now works on ``doc``, a new :class:`~cowrite.engine.Document` with
    the same agent: drop the old one and whatever was attached to it (an
    ``UndoManager``: its steps name ops of the old replica).  ``edits`` turn the
    text the user saw into the new text.  Our own ops the server lacked are in
    ``doc`` and are being sent again; ``retyped`` says they did not fit the
    server's history as they were, so the user's unconfirmed edits were typed again
    as new ops (from the journal), with seqs from ``seq_floor`` on.
    """

    version: RawVersion
    doc: Document
    edits: list[Edit]
    retyped: bool = False
    seq_floor: int = 0


@dataclass(frozen=True, slots=True)
class Recovered:
    """A fresh JOIN was answered: the session now works on ``doc``, a new
    :class:`~cowrite.engine.Document` (same agent) holding the server's whole
    document at ``version``, with the user's unconfirmed edits typed again on top
    (``retyped``, edits of the server's text; they are being sent).

    ``edits`` turn the text the user saw into the new text.  Drop the old replica
    and what was attached to it (an ``UndoManager``).  The new replica's own ops
    get seqs from ``seq_floor`` on (keep it with the document: seqs below it may
    name ops the old replica made)."""

    role: Role
    version: RawVersion
    doc: Document
    edits: list[Edit]
    retyped: list[Edit]
    seq_floor: int


@dataclass(frozen=True, slots=True)
class ProtocolFailure:
    """The server sent something this client cannot use: drop the connection and reconnect."""

    message: str


Event = (
    Welcomed
    | RemoteChange
    | Acked
    | PresenceChanged
    | ServerError
    | PongReceived
    | Resynced
    | Recovered
    | ProtocolFailure
    | CommentsChanged
    | SuggestionsChanged
)


# -- what to do after a refusal ----------------------------------------------------------


class Recovery(Enum):
    """What a client does after the server sent ``ERROR`` (see :func:`recovery_for`)."""

    RETRY = "retry"
    """Nothing is wrong with our ops (a rate limit, a server failure): reconnect with
    backoff; the JOIN/WELCOME summary exchange resends what the server lacks."""
    SHRINK = "shrink"
    """A frame was too large: reconnect and send smaller frames (halve the budget)."""
    RESYNC = "resync"
    """Our ops do not fit the server's history (a corrupted replica): reconnect with a
    fresh JOIN, take the server's document and type the unconfirmed edits again."""
    STOP = "stop"
    """Refused for good (no access, no such document, superseded): stop; keep the edits."""


_STOP_CODES = frozenset({ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND})
_RESYNC_CODES = frozenset({ErrorCode.BAD_OP, ErrorCode.CONFLICT, ErrorCode.UNKNOWN_PARENT})


def recovery_for(error: Error) -> Recovery:
    """What to do after ``error``.

    ``unauthorized``/``forbidden``/``not_found``, and any other fatal ``bad_state`` or
    ``bad_frame`` (superseded by another connection of our agent, a protocol
    version the server does not speak): stop.  ``bad_op``/``conflict``/
    ``unknown_parent`` for a batch: resync with a fresh JOIN.  ``too_large``:
    shrink.  Everything else (``rate_limited``, ``internal``, a non-fatal
    ``bad_state``/``bad_frame``): retry."""
    code = error.code
    if code in _STOP_CODES or (error.fatal and code in (ErrorCode.BAD_STATE, ErrorCode.BAD_FRAME)):
        return Recovery.STOP
    if code in _RESYNC_CODES and error.batch_id is not None:
        return Recovery.RESYNC
    if code is ErrorCode.TOO_LARGE and (error.batch_id is not None or not error.fatal):
        return Recovery.SHRINK
    return Recovery.RETRY


# -- ops under a byte budget -------------------------------------------------------------


def split_op(op: Op, k: int) -> tuple[Op, Op]:
    """``op`` as two ops with the same effect: its first ``k`` single-character ops
    (seqs ``seq .. seq+k-1``) and the rest (from ``seq+k``, made on top of
    ``(agent, seq+k-1)``).  ``0 < k < op.span``."""
    if not 0 < k < op.span:
        raise ValueError(f"cannot split an op of span {op.span} at {k}")
    a, s = op.agent, op.seq
    rest_parents = ((a, s + k - 1),)
    if op.kind == "ins":
        return (
            Op.insert(a, s, op.parents, op.pos, op.content[:k], time=op.time),
            Op.insert(a, s + k, rest_parents, op.pos + k, op.content[k:], time=op.time),
        )
    if op.fwd:  # every op deleted the character at pos
        return (
            Op.delete(a, s, op.parents, op.pos, k, True, time=op.time),
            Op.delete(a, s + k, rest_parents, op.pos, op.length - k, True, time=op.time),
        )
    # Backspace: op i deleted pos + length - 1 - i, so the first k are the end of the range.
    return (
        Op.delete(a, s, op.parents, op.pos + op.length - k, k, False, time=op.time),
        Op.delete(a, s + k, rest_parents, op.pos, op.length - k, False, time=op.time),
    )


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _agent_cost(agent: str) -> int:
    return _utf8_len(agent) + _AGENT_OVERHEAD


def _meta_cost(op: Op) -> int:
    """An upper bound on what ``op`` adds to a patch besides its text and agent names."""
    return _OP_OVERHEAD + _PARENT_OVERHEAD * len(op.parents)


def _pieces(op: Op, room: int) -> Iterator[Op]:
    """``op``, an insert cut so that each piece's text is at most ``room`` bytes of UTF-8
    (at least one character per piece)."""
    content = op.content
    if op.kind != "ins" or _utf8_len(content) <= room:
        yield op
        return
    data = content.encode("utf-8")
    a, seq, pos = op.agent, op.seq, op.pos
    parents = op.parents
    c = b = 0  # characters and bytes of the content already cut off
    while c < len(content):
        piece = data[b : b + room].decode("utf-8", "ignore") or content[c]
        k = len(piece)
        yield Op.insert(a, seq + c, parents, pos + c, piece, time=op.time)
        parents = ((a, seq + c + k - 1),)
        c += k
        b += len(piece.encode("utf-8")) if not piece.isascii() else k


def _cut(ops: list[Op], cuts: Sequence[int]) -> list[list[Op]]:
    """``ops`` (one agent's, in seq order) in groups split at the seqs ``cuts`` (sorted):
    an op run spanning a cut is split there."""
    groups: list[list[Op]] = [[]]
    k = 0
    for op in ops:
        while k < len(cuts) and cuts[k] <= op.seq:
            if groups[-1]:
                groups.append([])
            k += 1
        while k < len(cuts) and cuts[k] < op.seq + op.span:
            head, op = split_op(op, cuts[k] - op.seq)
            groups[-1].append(head)
            groups.append([])
            k += 1
        groups[-1].append(op)
    return [g for g in groups if g]


def _batches(ops: list[Op], max_ops: int, max_frame: int, cuts: Sequence[int] = ()) -> Iterator[list[Op]]:
    """``ops`` in chunks of at most ``max_ops`` ops whose ``OPS`` frame is at most
    ``max_frame`` bytes (by an upper bound on the encoding; long inserts are cut).

    ``cuts`` are the seqs where the journal's segments begin: the ops between two
    cuts go into one chunk when they fit in one, so that a batch the server refuses
    never leaves it holding part of a segment (see :meth:`ClientSession._retype`)."""
    budget = max_frame - _OPS_OVERHEAD - _PATCH_OVERHEAD
    chunk: list[Op] = []
    agents: set[str] = set()
    size = 0

    def cost_of(piece: Op, seen: set[str]) -> tuple[int, set[str]]:
        new = {piece.agent, *(p[0] for p in piece.parents)} - seen
        return _meta_cost(piece) + _utf8_len(piece.content) + sum(_agent_cost(n) for n in new), new

    for group in _cut(ops, cuts) if cuts else [ops]:
        pieces: list[Op] = []
        for op in group:
            names = {op.agent, *(p[0] for p in op.parents)}
            fixed = _meta_cost(op) + sum(_agent_cost(n) for n in names)
            pieces += _pieces(op, max(budget - fixed, 1))
        if chunk and cuts:  # the whole group in this chunk, or it starts the next one
            whole, seen = 0, set(agents)
            for piece in pieces:
                cost, new = cost_of(piece, seen)
                whole += cost
                seen |= new
            if len(chunk) + len(pieces) > max_ops or size + whole > budget:
                yield chunk
                chunk, agents, size = [], set(), 0
        for piece in pieces:
            cost, new = cost_of(piece, agents)
            if chunk and (len(chunk) >= max_ops or size + cost > budget):
                yield chunk
                chunk, agents, size = [], set(), 0
                cost, new = cost_of(piece, agents)
            chunk.append(piece)
            agents |= new
            size += cost
    if chunk:
        yield chunk


# -- the journal and replacement replicas ------------------------------------------------


def _text_without(doc: Document, own: list[Op]) -> str:
    """The text of ``doc`` without the ops ``own`` (our agent's ops the server lacks: no
    other op of ``doc`` is made on top of them)."""
    if not own:
        return doc.text
    runs = [(op.seq, op.seq + op.span) for op in own]
    me = own[0].agent

    def inside(agent: str, seq: int) -> bool:
        return agent == me and any(s <= seq < e for s, e in runs)

    heads = [item for item in doc.version if not inside(*item)]
    for op in own:
        heads += [p for p in op.parents if not inside(*p)]
    return doc.text_at(heads)


def _own_change(doc: Document, own: list[Op]) -> TextChange | None:
    """What ``own`` (our agent's ops the server lacks) did to ``doc``'s text, as the
    engine made it: every other op of ``doc`` replayed on a scratch replica, then
    ``own`` merged on top.  Why not a diff of the text without them and the text: past
    ``DIFF_MAX_D`` characters a diff is one replaced span, so edits far apart would
    also "retype" all the text between them, which rebased over the server's copy is
    then there twice.  None if the replay is not ``doc``'s text (a corrupted replica:
    only a diff can say what to type again then) or the ops do not replay."""
    if not own:
        return None
    me = own[0].agent
    runs = sorted((op.seq, op.seq + op.span) for op in own)
    rest: list[Op] = []
    for op in doc.ops_since(None):
        if op.agent != me:
            rest.append(op)
            continue
        # cut our op runs where ``own`` begins and ends; keep the pieces outside it
        for start, end in runs:
            for cut in (start, end):
                if op.seq < cut < op.seq + op.span:
                    head, op = split_op(op, cut - op.seq)
                    if not any(s <= head.seq < e for s, e in runs):
                        rest.append(head)
        if not any(s <= op.seq < e for s, e in runs):
            rest.append(op)
    scratch = Document(me, clock=doc.clock)
    try:
        scratch.add_ops(rest)
        base = scratch.text
        edits = scratch.add_ops(own)
    except CowriteError:
        return None
    return from_edits(edits, base) if scratch.text == doc.text else None


def _feed(journal: Journal, change: TextChange) -> None:
    """Record ``change`` (deletes carrying their text) in ``journal`` as local edits."""
    pos = 0
    for comp in change.ops:
        if isinstance(comp, Retain):
            pos += comp.length
        elif isinstance(comp, Delete):
            assert comp.text is not None
            journal.local(pos, comp.text, "")
        elif isinstance(comp, Insert):
            journal.local(pos, "", comp.text)
            pos += comp.length


def replica_journal(doc: Document, since_seq: int) -> Journal:
    """A journal of what ``doc``'s own ops from seq ``since_seq`` on did to its text.

    For a replica whose edits were not journaled as they were made (one loaded from
    a state file: the edits since its last acknowledgement may not be on the
    server).  The edits are found by a diff of the text without those ops and the
    text with them, so they are as the text shows them, not keystroke by keystroke;
    they are marked sent (a WELCOME then confirms what the server has)."""
    me = doc.agent
    summary = doc.summary()
    runs = [(s, min(e, since_seq)) for s, e in summary.get(me, []) if s < since_seq]
    known = {a: r for a, r in summary.items() if a != me}
    if runs:
        known[me] = runs
    own = [op for op in doc.ops_missing_from(known) if op.agent == me]
    journal = Journal()
    if own:
        _feed(journal, diff(_text_without(doc, own), doc.text))
        journal.flushed(doc.oplog.cg.next_seq(me))
    return journal


def _reset(journal: Journal) -> None:
    """Empty ``journal`` (its API has no reset: close every segment, confirm them all)."""
    journal.flushed(MAX_SEQ)
    journal.confirmed(MAX_SEQ)


def _apply_local(doc: Document, edits: list[Edit]) -> None:
    for kind, pos, arg in edits:
        if kind == 0:
            assert isinstance(arg, str)
            doc.insert(pos, arg)
        else:
            assert isinstance(arg, int)
            doc.delete(pos, arg)


class ClientSession:
    """The protocol state of one connection of ``doc`` to document ``doc_id``.

    Local edits go straight into ``doc`` (and, if there is one, into ``journal``:
    the caller records them there); :meth:`flush` turns the ones not yet sent into
    ``OPS`` batches of at most ``max_batch_ops`` ops and ``max_frame_bytes`` bytes.
    ``unacked`` maps each batch id in flight to the (first_seq, end_seq) of this
    agent's ops in it.

    ``journal`` (optional) is kept up to date by the session with everything but
    the local edits: remote changes, flushes, acknowledgements, replacements.  It
    is what a recovery types again.  Without one, the session takes the difference
    between the replica's text and the text of its ops the server has as the user's
    unconfirmed edits when it needs them (a corrupted text is then typed again too:
    nothing tells it from typing).

    ``fresh``: join asking for the server's whole document (after a ``RESYNC``
    refusal, :attr:`recovery`); the replica is replaced on WELCOME (event
    :class:`Recovered`).  ``seq_floor``: our ops get seqs from here on at least
    (seqs a replaced replica used; see :attr:`Recovered.seq_floor`).
    ``journal_from``: the seq the ops of the journal's oldest segment start at (the
    last session's :attr:`journal_from`).
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
        max_frame_bytes: int = DEFAULT_FRAME_BYTES,
        journal: Journal | None = None,
        fresh: bool = False,
        seq_floor: int = 0,
        journal_from: int = 0,
    ) -> None:
        if type(max_batch_ops) is not int or max_batch_ops < 1:
            raise ConfigError("max_batch_ops must be an integer of at least 1")
        if type(max_frame_bytes) is not int or max_frame_bytes < MIN_FRAME_BYTES:
            raise ConfigError(f"max_frame_bytes must be an integer of at least {MIN_FRAME_BYTES}")
        if type(seq_floor) is not int or not 0 <= seq_floor <= MAX_SEQ:
            raise ConfigError(f"seq_floor must be an integer in 0..{MAX_SEQ}")
        self.doc = doc
        self.doc_id = doc_id
        self.user = user
        self.colour = colour
        self.read_only = read_only
        self.max_batch_ops = max_batch_ops
        self.max_frame_bytes = max_frame_bytes
        self.journal = journal
        self.fresh = fresh
        self.seq_floor = seq_floor
        self.journal_from = journal_from
        """The seq our ops carrying the journal's oldest segment start at (at most):
        carry it from session to session, like ``seq_floor``."""
        doc.reserve_seqs(seq_floor)
        self.role: Role | None = None  # known after WELCOME
        self.closed = False  # an ERROR, or a protocol failure: reconnect with a new session
        self.refusal: Error | None = None  # the ERROR that ended the session
        self.unacked: dict[int, tuple[int, int]] = {}
        self.unsendable: list[Op] = []  # other agents' ops the server lacks (it would refuse them)
        self.presence: dict[str, Presence] = {}  # others' presence, by agent
        self.resyncs = 0  # how many RESYNCs replaced the document
        self.refused_bytes = 0  # bytes of the OPS frame the ERROR that ended the session was about
        self._sizes: dict[int, int] = {}  # bytes of each OPS frame in flight, by batch id
        self._local_only = False  # some of our ops can never be sent (viewer)
        self._own_end = 0  # our agent's next seq when ops were last flushed
        self._next_batch = 1
        self._stale_below = 0  # batches below this id were sent before a RESYNC
        self._flushed: RawVersion | None = None  # doc version at the last flush (None: not joined)
        summary = {} if fresh else doc.summary()
        self._out: list[bytes] = [encode_frame(Join(doc_id, doc.agent, summary, read_only, fresh))]

    @property
    def welcomed(self) -> bool:
        return self._flushed is not None

    @property
    def can_write(self) -> bool:
        return self.role is not None and self.role.can_write

    @property
    def recovery(self) -> Recovery | None:
        """What to do now that the server refused something (None: no refusal)."""
        return None if self.refusal is None else recovery_for(self.refusal)

    @property
    def largest_in_flight(self) -> int:
        """Bytes of the largest ``OPS`` frame not acknowledged yet (0: none)."""
        return max(self._sizes.values(), default=0)

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
        ops = self._unflushed_own_ops()
        self._flushed = doc.version
        return self._send_ops(ops)

    def _unflushed_own_ops(self) -> list[Op]:
        """Our agent's ops from seq ``_own_end`` on, in causal order: what :meth:`flush` sends.

        Every op of ours below ``_own_end`` was in the document at the last flush (in the
        history of ``_flushed``), and every later one was not, so they are found by their
        seqs: the others' ops merged since the last flush (with five people typing, four
        of every five ops) are not built only to be dropped."""
        doc = self.doc
        oplog = doc.oplog
        cg = oplog.cg
        me = doc.agent
        seq, end = self._own_end, cg.next_seq(me)
        ranges: list[tuple[int, int]] = []
        while seq < end:
            lv = cg.raw_to_lv(me, seq)
            if lv is None:  # seqs never used (reserved past a replaced replica's)
                known = cg.next_known_seq(me, seq)
                if known is None:
                    break
                seq = known
                continue
            stop = min(cg.entry_end(cg.entry_of(lv)), lv + end - seq)  # one run of LVs
            ranges.append((lv, stop))
            seq += stop - lv
        ranges.sort()
        return oplog.ops_between(ranges)

    def _send_ops(self, ops: list[Op]) -> int:
        self._own_end = self.doc.oplog.cg.next_seq(self.doc.agent)
        if ops and not self.can_write:
            self._local_only = True  # a viewer's edits stay local: never in sync again
        if not ops or not self.can_write:
            return 0
        n = 0
        journal = self.journal
        cuts = sorted({seg.seq_end for seg in journal.segments if seg.seq_end is not None}) if journal else []
        for chunk in _batches(ops, self.max_batch_ops, self.max_frame_bytes, cuts):
            for patch, first, end in self._patches(chunk):
                batch = self._next_batch
                self._next_batch += 1
                self.unacked[batch] = (first, end)
                frame = encode_frame(Ops(batch, patch))
                self._out.append(frame)
                self._sizes[batch] = len(frame)
                n += 1
        if self.journal is not None:
            self.journal.flushed(self._own_end)
        return n

    def _patches(self, chunk: list[Op]) -> list[tuple[bytes, int, int]]:
        """``(patch, first seq, end seq)`` for ``chunk``: halved while its frame would be
        over the budget (the bound :func:`_batches` uses makes that a safety net)."""
        patch = encode_patch(chunk)
        if len(patch) + _OPS_OVERHEAD > self.max_frame_bytes and len(chunk) > 1:
            half = len(chunk) // 2
            return self._patches(chunk[:half]) + self._patches(chunk[half:])
        return [(patch, min(op.seq for op in chunk), max(op.seq + op.span for op in chunk))]

    def _confirm(self, seq: int) -> None:
        """The server holds our ops below ``seq``: the journal forgets their edits."""
        journal = self.journal
        if journal is None:
            return
        dropped = [g.seq_end for g in journal.segments if g.seq_end is not None and g.seq_end <= seq and not g.pinned]
        if dropped:
            self.journal_from = max(self.journal_from, *dropped)
        journal.confirmed(seq)

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
            return self._welcome_fresh(msg) if self.fresh else self._welcome(msg)
        if isinstance(msg, Resync) and self.welcomed:
            return self._resync(msg)
        if isinstance(msg, Error):
            return self._error(msg)
        if not self.welcomed:
            return self._fail(f"{type(msg).__name__} before WELCOME")
        if isinstance(msg, RemoteOps):
            edits = list(self.doc.apply_patch(msg.patch))
            if self.journal is not None and edits:
                self.journal.remote(edits)
            return [RemoteChange(edits)]
        if isinstance(msg, Ack):
            sent = self.unacked.pop(msg.batch_id, None)
            self._sizes.pop(msg.batch_id, None)
            if sent is None:
                return self._fail(f"ACK for unknown batch {msg.batch_id}")
            self._confirm(sent[1])
            return [Acked(msg.batch_id, msg.version)]
        if isinstance(msg, Presence):
            if msg.gone:
                self.presence.pop(msg.agent, None)
            else:
                self.presence[msg.agent] = msg
            return [PresenceChanged(msg)]
        if isinstance(msg, Ping):
            self._out.append(encode_frame(Pong(msg.nonce)))
            return []
        if isinstance(msg, Pong):
            return [PongReceived(msg.nonce)]
        if isinstance(msg, Comments):
            return [CommentsChanged(msg.revision)]
        if isinstance(msg, Suggestions):
            return [SuggestionsChanged(msg.revision)]
        return self._fail(f"a server may not send {type(msg).__name__}")

    def _error(self, msg: Error) -> list[Event]:
        sizes = self._sizes
        if msg.batch_id is not None:
            sent = self.unacked.pop(msg.batch_id, None)
            size = sizes.pop(msg.batch_id, 0)
            if sent is not None and msg.batch_id < self._stale_below and not msg.fatal:
                # Sent before a RESYNC replaced the replica: its ops were re-added (and
                # sent again, where a real refusal shows) or typed again as new ops.
                return []
            self.refused_bytes = size
        else:  # a frame dropped whole (rate limit, frame size): the largest in flight, if any
            self.refused_bytes = self.largest_in_flight
        self.closed = True
        self.refusal = msg
        return [ServerError(msg)]

    def _welcome(self, msg: Welcome) -> list[Event]:
        doc = self.doc
        edits = list(doc.apply_patch(msg.patch))
        self.role = msg.role
        # What the server lacks, from its summary: our own ops we send; others'
        # ops it would refuse from us (they are someone else's to send).
        lacking = doc.ops_missing_from(msg.summary)
        me = doc.agent
        own = [op for op in lacking if op.agent == me]
        self.unsendable = [op for op in lacking if op.agent != me]
        if self.journal is not None and edits:
            self.journal.remote(edits)
        self._confirm(min((op.seq for op in own), default=doc.oplog.cg.next_seq(me)))
        self._flushed = doc.version
        self._send_ops(own)
        return [Welcomed(msg.role, msg.version, edits)]

    def _welcome_fresh(self, msg: Welcome) -> list[Event]:
        """Replace the replica with the server's document; type the unconfirmed edits again."""
        old = self.doc
        me = old.agent
        new = Document.decode(msg.patch, me, clock=old.clock)
        server_version = new.version
        if server_version != tuple(sorted(msg.version)):
            return self._fail("a fresh WELCOME whose version is not its document's")
        self.role = msg.role
        own = [op for op in old.ops_missing_from(new.summary()) if op.agent == me]
        edits, retyped = self._retype(old, new, own)
        self.doc = new
        self.unsendable = []
        self._flushed = new.version
        self._send_ops([op for op in new.ops_since(server_version) if op.agent == me])
        return [Recovered(msg.role, server_version, new, edits, retyped, self.seq_floor)]

    def _resync(self, msg: Resync) -> list[Event]:
        """Replace the document with the server's; keep (and resend) our ops it lacks."""
        old = self.doc
        me = old.agent
        # The new replica keeps the old one's clock (op times; tests fix it).
        new = Document.decode(msg.document, me, clock=old.clock)
        server_version = new.version
        if server_version != tuple(sorted(msg.version)):
            return self._fail("a RESYNC whose version is not its document's")
        new.reserve_seqs(self.seq_floor)
        server_summary = new.summary()
        missing = old.ops_missing_from(server_summary)
        retyped = False
        try:
            new.add_ops(missing)  # all-or-nothing: on failure ``new`` is the server's copy
            edits = diff(old.text, new.text).to_edits()
            if self.journal is not None and edits:
                self.journal.remote(edits)  # our edits are in both texts: only the rest moves
        except CowriteError:
            # Our ops do not fit the server's history (they were made on a text that
            # was wrong): type the user's edits again as new ops.
            own = [op for op in missing if op.agent == me]
            others = [op for op in missing if op.agent != me]
            if others:
                try:
                    new.add_ops(others)
                except CowriteError:
                    pass  # someone else's to send
            edits, _ = self._retype(old, new, own)
            retyped = True
        lacking = new.ops_missing_from(server_summary)
        self.doc = new
        self.unsendable = [op for op in lacking if op.agent != me]
        self._local_only = False
        self._flushed = new.version
        self._stale_below = self._next_batch
        self.resyncs += 1
        # Batches in flight keep their ids: their ACKs still come.  What the server
        # lacks is sent again (ops it already has are accepted silently).
        self._send_ops([op for op in lacking if op.agent == me])
        return [Resynced(server_version, new, edits, retyped, self.seq_floor)]

    def _retype(self, old: Document, new: Document, own: list[Op]) -> tuple[list[Edit], list[Edit]]:
        """Type the user's unconfirmed edits again on ``new`` (the server's copy, which
        has none of ``own``, our ops of ``old`` it lacks), as new local ops with seqs
        ``old`` never used.  Returns the edits turning ``old``'s text into ``new``'s
        and the edits made on ``new``; the journal then holds the latter.

        The journal knows where the user typed relative to the text both sides share,
        even when the replica's text was corrupted, so its edits are typed again --
        unless the server holds part of a segment (it took some batches of the ops
        carrying the segment and refused the rest: a segment too large for one
        batch), which the journal cannot express; then, as without a journal, the
        edits are what ``own`` did to the text: as the engine made them when the
        replica's text is its ops' (:func:`_own_change`), else a diff."""
        me = old.agent
        floor = max(self.seq_floor, old.oplog.cg.next_seq(me))
        new.reserve_seqs(floor)
        self.seq_floor = floor
        view, server = old.text, new.text
        low = min((op.seq for op in own), default=floor)
        journal = self.journal
        rebased = None
        if journal is not None:
            self._confirm(low)
            if journal.empty or self.journal_from >= low:
                try:
                    rebased = journal.rebase(view, server)
                except ChangeMismatch:
                    rebased = None  # the journal does not fit the replica's text: use its ops
        if rebased is None:
            derived = Journal()
            exact = _own_change(old, own)
            _feed(derived, exact if exact is not None else diff(_text_without(old, own), view))
            rebased = derived.rebase(view, server)
            if journal is not None:
                _reset(journal)
                _feed(journal, from_edits(rebased.on_server, server))
        self.journal_from = max(floor, new.oplog.cg.next_seq(me))  # where the re-typed ops start
        _apply_local(new, rebased.on_server)
        return rebased.on_view, rebased.on_server
