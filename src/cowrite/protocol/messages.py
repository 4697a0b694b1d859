"""Protocol messages and their binary frames (see PROTOCOL.md).

``encode_frame(msg) -> bytes`` and ``decode_frame(data) -> Message``.  Decoding
never trusts its input: any bytes either decode to a valid message or raise
:class:`ProtocolError`.  Encoding checks field values too, so a sender cannot
produce a frame its peer would reject.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Union

from ..engine import MAX_AGENT_LEN, MAX_SEQ, DecodeError, InvalidOpError, Position, RawVersion, Summary
from ..engine import normalize_summary as _normalize
from ..engine.codec import Reader, write_uvar
from ..errors import ErrorCode, ProtocolError

__all__ = [
    "PROTOCOL_VERSION",
    "DIGEST_BYTES",
    "Ack",
    "Comments",
    "Digest",
    "Error",
    "Join",
    "Message",
    "MsgType",
    "Ops",
    "Ping",
    "Pong",
    "Presence",
    "RemoteOps",
    "Resync",
    "Role",
    "Suggestions",
    "Summary",
    "Welcome",
    "decode_frame",
    "encode_frame",
    "error_message",
    "normalize_summary",
    "text_digest",
]

PROTOCOL_VERSION = 1

MAX_UVAR = 2**64 - 1
MAX_DOC_ID_BYTES = 256
MAX_AGENT_CHARS = MAX_AGENT_LEN
MAX_AGENT_BYTES = 4 * MAX_AGENT_CHARS
MAX_USER_BYTES = 256
MAX_COLOUR_BYTES = 64
MAX_MESSAGE_BYTES = 4096
MAX_POSITION_BYTES = 1100
DIGEST_BYTES = 32  # SHA-256
JOIN_READ_ONLY = 1  # JOIN flag bit 0: the client wishes to be a viewer
JOIN_FRESH = 2  # JOIN flag bit 1: the client replaces its replica; send the whole document

class MsgType(IntEnum):
    JOIN = 0x01
    WELCOME = 0x02
    OPS = 0x03
    ACK = 0x04
    REMOTE_OPS = 0x05
    PRESENCE = 0x06
    ERROR = 0x07
    PING = 0x08
    PONG = 0x09
    DIGEST = 0x0A
    RESYNC = 0x0B
    COMMENTS = 0x0C
    SUGGESTIONS = 0x0D


class Role(IntEnum):
    OWNER = 0
    EDITOR = 1
    VIEWER = 2

    @property
    def can_write(self) -> bool:
        return self is not Role.VIEWER


@dataclass(frozen=True, slots=True)
class Join:
    """Open a connection to document ``doc_id`` as ``agent``.

    ``summary`` is every op id the client holds; the server answers with the ops it
    lacks.  ``fresh``: the client is replacing its replica (its ops do not fit the
    server's history), so the server sends its whole document instead; the summary
    must then be empty."""

    doc_id: str
    agent: str
    summary: Summary
    read_only: bool = False
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class Welcome:
    """The answer to ``Join``: the client's ``role``, the server's ``version`` and
    ``summary``, and ``patch``: the ops the client lacks (an engine patch), or for a
    fresh ``Join`` the server's whole document (``Document.encode()`` bytes)."""

    role: Role
    version: RawVersion
    summary: Summary
    patch: bytes


@dataclass(frozen=True, slots=True)
class Ops:
    batch_id: int
    patch: bytes


@dataclass(frozen=True, slots=True)
class Ack:
    batch_id: int
    version: RawVersion


@dataclass(frozen=True, slots=True)
class RemoteOps:
    patch: bytes


@dataclass(frozen=True, slots=True)
class Presence:
    agent: str
    user: str = ""
    colour: str = ""
    cursor: tuple[Position, Position] | None = None  # (anchor, head); None: no cursor
    gone: bool = False  # the connection left


@dataclass(frozen=True, slots=True)
class Error:
    code: ErrorCode
    message: str
    fatal: bool = False
    batch_id: int | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    nonce: int = 0


@dataclass(frozen=True, slots=True)
class Pong:
    nonce: int = 0


@dataclass(frozen=True, slots=True)
class Digest:
    """The client's check that its text is the server's: ``digest`` is the SHA-256 of
    the UTF-8 text of its document at ``version`` (a version the server has)."""

    version: RawVersion
    digest: bytes


@dataclass(frozen=True, slots=True)
class Resync:
    """The server's answer to a ``Digest`` that did not match: its whole document
    (``Document.encode()`` bytes) at ``version``, to replace the client's copy."""

    version: RawVersion
    document: bytes


@dataclass(frozen=True, slots=True)
class Comments:
    """Server to client: the document's comments changed; they are now at ``revision``
    (the store's counter of comment changes of that document).  The comments themselves
    travel over HTTP (``GET /api/docs/{doc}/comments``), which checks access again: this
    frame only says when to fetch, so a client that already holds ``revision`` skips it."""

    revision: int


@dataclass(frozen=True, slots=True)
class Suggestions:
    """Server to client: the document's open suggestions changed (one was made, saved,
    accepted, rejected or withdrawn); ``revision`` names the new set (a digest of the
    open rows, not a counter).  Like :class:`Comments` it only says when to fetch
    ``GET /api/docs/{doc}/suggestions``, so a client whose list has that ``revision``
    skips it."""

    revision: int


Message = Union[Join, Welcome, Ops, Ack, RemoteOps, Presence, Error, Ping, Pong, Digest, Resync, Comments, Suggestions]


# -- field checks shared by the encoder and decoder ------------------------------------


def _check_str(value: object, what: str, max_bytes: int, *, nonempty: bool = False) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a str, not {type(value).__name__}")
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(f"{what} is not valid Unicode (lone surrogates)") from None
    if len(raw) > max_bytes:
        raise ProtocolError(f"{what} is {len(raw)} bytes of UTF-8; the limit is {max_bytes}")
    if nonempty and not raw:
        raise ProtocolError(f"{what} must not be empty")
    return raw


def _check_agent(value: object, what: str = "agent") -> bytes:
    raw = _check_str(value, what, MAX_AGENT_BYTES, nonempty=True)
    assert isinstance(value, str)
    if len(value) > MAX_AGENT_CHARS:
        raise ProtocolError(f"{what} is {len(value)} characters; the limit is {MAX_AGENT_CHARS}")
    return raw


def _check_uint(value: object, what: str, limit: int = MAX_UVAR) -> int:
    if type(value) is not int or not 0 <= value <= limit:
        raise ProtocolError(f"{what} must be an integer in 0..{limit}, not {value!r}")
    return value


def normalize_summary(summary: Mapping[str, Sequence[Sequence[int]]]) -> Summary:
    """A summary with each agent's runs sorted and merged (the form frames carry);
    :class:`ProtocolError` if it is not a valid summary (see ``cowrite.engine.summary``)."""
    try:
        return _normalize(summary)
    except InvalidOpError as exc:
        raise ProtocolError(str(exc)) from exc


def _check_version(version: object) -> RawVersion:
    if not isinstance(version, tuple):
        raise ProtocolError("a version is a tuple of (agent, seq) pairs")
    for item in version:
        if not isinstance(item, tuple) or len(item) != 2:
            raise ProtocolError(f"bad version entry {item!r}")
        _check_agent(item[0], "version agent")
        _check_uint(item[1], "version seq", MAX_SEQ - 1)
    return version


# -- writer ------------------------------------------------------------------------------


class _Writer:
    __slots__ = ("out",)

    def __init__(self, mtype: MsgType) -> None:
        self.out = bytearray((PROTOCOL_VERSION, mtype))

    def uvar(self, v: int) -> None:
        write_uvar(self.out, v)

    def raw(self, b: bytes) -> None:
        self.uvar(len(b))
        self.out += b

    def version(self, version: RawVersion) -> None:
        self.uvar(len(version))
        for agent, seq in version:
            self.raw(agent.encode("utf-8"))
            self.uvar(seq)

    def summary(self, summary: Summary) -> None:
        self.uvar(len(summary))
        for agent, runs in summary.items():
            self.raw(agent.encode("utf-8"))
            self.uvar(len(runs))
            prev = 0
            for a, b in runs:
                self.uvar(a - prev)
                self.uvar(b - a)
                prev = b


def _check_bytes(value: object, what: str, limit: int | None = None) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise ProtocolError(f"{what} must be bytes, not {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise ProtocolError(f"{what} is {len(value)} bytes; the limit is {limit}")
    return bytes(value)


def encode_frame(msg: Message) -> bytes:
    """The frame for ``msg``; raises :class:`ProtocolError` if a field is invalid."""
    if isinstance(msg, Join):
        w = _Writer(MsgType.JOIN)
        w.raw(_check_str(msg.doc_id, "doc id", MAX_DOC_ID_BYTES, nonempty=True))
        w.raw(_check_agent(msg.agent))
        w.uvar((JOIN_READ_ONLY if msg.read_only else 0) | (JOIN_FRESH if msg.fresh else 0))
        summary = normalize_summary(msg.summary)
        if msg.fresh and summary:
            raise ProtocolError("a fresh JOIN carries an empty summary")
        w.summary(summary)
    elif isinstance(msg, Welcome):
        w = _Writer(MsgType.WELCOME)
        w.uvar(Role(msg.role))
        w.version(_check_version(msg.version))
        w.summary(normalize_summary(msg.summary))
        w.raw(_check_bytes(msg.patch, "patch"))
    elif isinstance(msg, Ops):
        w = _Writer(MsgType.OPS)
        w.uvar(_check_uint(msg.batch_id, "batch id", MAX_UVAR - 1))
        w.raw(_check_bytes(msg.patch, "patch"))
    elif isinstance(msg, Ack):
        w = _Writer(MsgType.ACK)
        w.uvar(_check_uint(msg.batch_id, "batch id", MAX_UVAR - 1))
        w.version(_check_version(msg.version))
    elif isinstance(msg, RemoteOps):
        w = _Writer(MsgType.REMOTE_OPS)
        w.raw(_check_bytes(msg.patch, "patch"))
    elif isinstance(msg, Presence):
        w = _Writer(MsgType.PRESENCE)
        w.raw(_check_agent(msg.agent))
        w.raw(_check_str(msg.user, "user name", MAX_USER_BYTES))
        w.raw(_check_str(msg.colour, "colour", MAX_COLOUR_BYTES))
        cursor = msg.cursor
        w.uvar((1 if cursor is not None else 0) | (2 if msg.gone else 0))
        if cursor is not None:
            if not isinstance(cursor, tuple) or len(cursor) != 2 or not all(isinstance(p, Position) for p in cursor):
                raise ProtocolError("a cursor is an (anchor, head) pair of Positions")
            for p in cursor:
                w.raw(_check_bytes(p.encode(), "position", MAX_POSITION_BYTES))
    elif isinstance(msg, Error):
        w = _Writer(MsgType.ERROR)
        w.uvar(ErrorCode(msg.code))
        w.uvar(1 if msg.fatal else 0)
        w.uvar(0 if msg.batch_id is None else _check_uint(msg.batch_id, "batch id", MAX_UVAR - 1) + 1)
        w.raw(_check_str(msg.message, "error message", MAX_MESSAGE_BYTES))
    elif isinstance(msg, Ping):
        w = _Writer(MsgType.PING)
        w.uvar(_check_uint(msg.nonce, "nonce"))
    elif isinstance(msg, Pong):
        w = _Writer(MsgType.PONG)
        w.uvar(_check_uint(msg.nonce, "nonce"))
    elif isinstance(msg, Digest):
        w = _Writer(MsgType.DIGEST)
        w.version(_check_version(msg.version))
        digest = _check_bytes(msg.digest, "digest", DIGEST_BYTES)
        if len(digest) != DIGEST_BYTES:
            raise ProtocolError(f"a digest is {DIGEST_BYTES} bytes (SHA-256), not {len(digest)}")
        w.raw(digest)
    elif isinstance(msg, Resync):
        w = _Writer(MsgType.RESYNC)
        w.version(_check_version(msg.version))
        w.raw(_check_bytes(msg.document, "document"))
    elif isinstance(msg, Comments):
        w = _Writer(MsgType.COMMENTS)
        w.uvar(_check_uint(msg.revision, "comments revision", MAX_SEQ - 1))
    elif isinstance(msg, Suggestions):
        w = _Writer(MsgType.SUGGESTIONS)
        w.uvar(_check_uint(msg.revision, "suggestions revision", MAX_SEQ - 1))
    else:
        raise ProtocolError(f"not a protocol message: {type(msg).__name__}")
    return bytes(w.out)


# -- reader ------------------------------------------------------------------------------


class _Reader(Reader):
    """The frame fields over the one varint reader: canonical varints (:meth:`Reader.uint`);
    every failure a DecodeError, which :func:`decode_frame` reports as a ProtocolError."""

    __slots__ = ()

    def items(self, what: str, min_bytes_each: int) -> int:
        """A count of items that each take at least ``min_bytes_each`` bytes of what is left."""
        n = self.uint(what)
        if n * min_bytes_each > self.left():
            raise DecodeError(f"truncated frame: {what} {n} exceeds the bytes left")
        return n

    def raw(self, what: str, limit: int | None = None) -> bytes:
        n = self.uint(f"length of {what}")
        if limit is not None and n > limit:
            raise DecodeError(f"{what} is {n} bytes; the limit is {limit}")
        if n > self.left():
            raise DecodeError(f"truncated frame: {what} needs {n} bytes, {self.left()} left")
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def text(self, what: str, limit: int, *, nonempty: bool = False) -> str:
        raw = self.raw(what, limit)
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{what} is not valid UTF-8") from None
        if nonempty and not s:
            raise DecodeError(f"{what} must not be empty")
        return s

    def agent(self, what: str = "agent") -> str:
        s = self.text(what, MAX_AGENT_BYTES, nonempty=True)
        if len(s) > MAX_AGENT_CHARS:
            raise DecodeError(f"{what} is {len(s)} characters; the limit is {MAX_AGENT_CHARS}")
        return s

    def version(self) -> RawVersion:
        n = self.items("version size", 2)
        out = []
        for _ in range(n):
            agent = self.agent("version agent")
            out.append((agent, self.uint("version seq", MAX_SEQ - 1)))
        return tuple(out)

    def summary(self) -> Summary:
        n = self.items("summary agents", 2)
        out: Summary = {}
        for _ in range(n):
            agent = self.agent("summary agent")
            if agent in out:
                raise DecodeError(f"summary names agent {agent!r} twice")
            k = self.items("summary runs", 2)
            if not k:
                raise DecodeError(f"summary agent {agent!r} has no runs")
            runs: list[tuple[int, int]] = []
            prev = 0
            for i in range(k):
                gap = self.uint("summary gap", MAX_SEQ)
                if i and not gap:
                    raise DecodeError("summary runs must be separated (gap >= 1)")
                length = self.uint("summary run length", MAX_SEQ)
                if not length:
                    raise DecodeError("summary run of length 0")
                first = prev + gap
                prev = first + length
                if prev > MAX_SEQ:
                    raise DecodeError("summary seq out of range")
                runs.append((first, prev))
            out[agent] = runs
        return out

    def flags(self, what: str, allowed: int) -> int:
        f = self.uint(what)
        if f & ~allowed:
            raise DecodeError(f"{what} has unknown bits set: {f:#x}")
        return f

    def position(self) -> Position:
        raw = self.raw("position", MAX_POSITION_BYTES)
        try:
            return Position.decode(raw)
        except (DecodeError, InvalidOpError) as exc:
            raise DecodeError(f"bad cursor position: {exc}") from None


def decode_frame(data: bytes | bytearray | memoryview, max_size: int | None = None) -> Message:
    """The message in one frame; raises :class:`ProtocolError` on any invalid input.

    ``max_size`` (bytes) makes larger frames fail with code ``TOO_LARGE``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"a frame is bytes, not {type(data).__name__}")
    buf = bytes(data)
    if max_size is not None and len(buf) > max_size:
        raise ProtocolError(f"frame of {len(buf)} bytes exceeds the limit of {max_size}", ErrorCode.TOO_LARGE)
    if len(buf) < 2:
        raise ProtocolError("truncated frame: shorter than its 2-byte header")
    if buf[0] != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {buf[0]} (this side speaks {PROTOCOL_VERSION})")
    try:
        mtype = MsgType(buf[1])
    except ValueError:
        raise ProtocolError(f"unknown message type {buf[1]:#04x}") from None
    r = _Reader(buf, 2)
    try:
        return _decode_body(r, mtype)
    except DecodeError as exc:  # a field the reader refused: the frame is bad
        raise ProtocolError(str(exc)) from exc


def _decode_body(r: _Reader, mtype: MsgType) -> Message:
    msg: Message
    if mtype is MsgType.JOIN:
        doc_id = r.text("doc id", MAX_DOC_ID_BYTES, nonempty=True)
        agent = r.agent()
        flags = r.flags("join flags", JOIN_READ_ONLY | JOIN_FRESH)
        summary = r.summary()
        if flags & JOIN_FRESH and summary:
            raise DecodeError("a fresh JOIN carries an empty summary")
        msg = Join(doc_id, agent, summary, bool(flags & JOIN_READ_ONLY), bool(flags & JOIN_FRESH))
    elif mtype is MsgType.WELCOME:
        code = r.uint("role")
        if code not in Role._value2member_map_:
            raise ProtocolError(f"unknown role {code}")
        role = Role(code)
        version = r.version()
        summary = r.summary()
        msg = Welcome(role, version, summary, r.raw("patch"))
    elif mtype is MsgType.OPS:
        batch = r.uint("batch id", MAX_UVAR - 1)
        msg = Ops(batch, r.raw("patch"))
    elif mtype is MsgType.ACK:
        batch = r.uint("batch id", MAX_UVAR - 1)
        msg = Ack(batch, r.version())
    elif mtype is MsgType.REMOTE_OPS:
        msg = RemoteOps(r.raw("patch"))
    elif mtype is MsgType.PRESENCE:
        agent = r.agent()
        user = r.text("user name", MAX_USER_BYTES)
        colour = r.text("colour", MAX_COLOUR_BYTES)
        flags = r.flags("presence flags", 3)
        cursor = (r.position(), r.position()) if flags & 1 else None
        msg = Presence(agent, user, colour, cursor, bool(flags & 2))
    elif mtype is MsgType.ERROR:
        code = r.uint("error code")
        if code not in ErrorCode._value2member_map_:
            raise ProtocolError(f"unknown error code {code}")
        flags = r.flags("error flags", 1)
        batch1 = r.uint("error batch id")
        text = r.text("error message", MAX_MESSAGE_BYTES)
        msg = Error(ErrorCode(code), text, bool(flags & 1), None if batch1 == 0 else batch1 - 1)
    elif mtype is MsgType.PING:
        msg = Ping(r.uint("nonce"))
    elif mtype is MsgType.PONG:
        msg = Pong(r.uint("nonce"))
    elif mtype is MsgType.DIGEST:
        version = r.version()
        digest = r.raw("digest", DIGEST_BYTES)
        if len(digest) != DIGEST_BYTES:
            raise ProtocolError(f"a digest is {DIGEST_BYTES} bytes (SHA-256), not {len(digest)}")
        msg = Digest(version, digest)
    elif mtype is MsgType.COMMENTS:
        msg = Comments(r.uint("comments revision", MAX_SEQ - 1))
    elif mtype is MsgType.SUGGESTIONS:
        msg = Suggestions(r.uint("suggestions revision", MAX_SEQ - 1))
    else:
        version = r.version()
        msg = Resync(version, r.raw("document"))
    if r.left():
        raise ProtocolError(f"{r.left()} trailing bytes after a {mtype.name} frame")
    return msg


def error_message(text: str) -> str:
    """``text`` cut to fit an ERROR frame (on a character boundary)."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= MAX_MESSAGE_BYTES:
        return raw.decode("utf-8")
    return raw[: MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "..."


def text_digest(text: str) -> bytes:
    """What a ``DIGEST`` carries: the SHA-256 of ``text`` as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).digest()
