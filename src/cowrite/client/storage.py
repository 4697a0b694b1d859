"""The client's state file: one document replica (history + text), its agent, and
what the client knows of its own ops.

Layout (all integers big-endian)::

    b"CWCLIENT"  u8 format (2; format 1 is still read)
    u16 length, UTF-8 document id
    u16 length, UTF-8 agent
    u64 seq floor      (format 2) the agent's next op gets at least this seq
    u64 acked seq      (format 2) the agent's ops below this seq are on the server
    Document.encode() bytes
    u32 CRC-32 of everything before it

The seq floor outlives replicas: after the replica was replaced by the server's
copy, seqs the old one used must never name other ops.  The acked seq bounds the
edits the server may lack, so a restarted client knows which edits to keep in its
journal (see :mod:`cowrite.protocol.journal`).

Written atomically: a temporary file beside the target is written, fsynced and
renamed over it, then the directory is fsynced; a crash leaves either the old or
the new file, never a torn one.  A lock file (``<path>.lock``, ``flock``) keeps two
clients from using the same state (and so the same agent) at once.
:class:`StateFile` is all of that for one client.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cowrite.engine import CowriteError, Document, RawVersion

from ..errors import StateFileError

__all__ = [
    "StateFile",
    "StateLock",
    "StateWriter",
    "StoredState",
    "atomic_write",
    "decode_state",
    "encode_state",
    "load_state",
    "read_state",
    "remove_stale_temporaries",
]

log = logging.getLogger("cowrite.client")

MAGIC = b"CWCLIENT"
FORMAT = 2
READ_FORMATS = (1, 2)
_MAX_U64 = 2**64 - 1


@dataclass(frozen=True, slots=True)
class StoredState:
    """What a state file holds."""

    doc_id: str
    doc: Document
    seq_floor: int = 0
    acked_seq: int = 0


def encode_state(doc_id: str, doc: Document, *, seq_floor: int = 0, acked_seq: int = 0) -> bytes:
    ident = doc_id.encode("utf-8")
    agent = doc.agent.encode("utf-8")
    out = bytearray(MAGIC)
    out += struct.pack(">BH", FORMAT, len(ident)) + ident
    out += struct.pack(">H", len(agent)) + agent
    out += struct.pack(">QQ", min(seq_floor, _MAX_U64), min(acked_seq, _MAX_U64))
    out += doc.encode()
    out += struct.pack(">I", zlib.crc32(out))
    return bytes(out)


def _decode(data: bytes, where: str) -> tuple[str, str, int, int, bytes]:
    if len(data) < len(MAGIC) + 9 or not data.startswith(MAGIC):
        raise StateFileError(f"{where}: not a cowrite client state file")
    body, (crc,) = data[:-4], struct.unpack(">I", data[-4:])
    if zlib.crc32(body) != crc:
        raise StateFileError(f"{where}: checksum mismatch (the file is corrupt)")
    i = len(MAGIC)
    fmt, n = struct.unpack_from(">BH", body, i)
    if fmt not in READ_FORMATS:
        raise StateFileError(f"{where}: format {fmt} is not supported (this version reads {READ_FORMATS})")
    i += 3
    floor = acked = 0
    try:
        doc_id = body[i : i + n].decode("utf-8")
        i += n
        (n,) = struct.unpack_from(">H", body, i)
        i += 2
        agent = body[i : i + n].decode("utf-8")
        i += n
        if fmt >= 2:
            floor, acked = struct.unpack_from(">QQ", body, i)
            i += 16
    except (UnicodeDecodeError, struct.error):
        raise StateFileError(f"{where}: malformed header") from None
    if not agent or i > len(body):
        raise StateFileError(f"{where}: malformed header")
    return doc_id, agent, floor, acked, body[i:]


def decode_state(data: bytes, where: str = "state file") -> tuple[str, str, bytes]:
    """``(doc_id, agent, document bytes)``; :class:`StateFileError` if ``data`` is not intact."""
    doc_id, agent, _, _, raw = _decode(data, where)
    return doc_id, agent, raw


def load_state(path: Path) -> StoredState | None:
    """What ``path`` holds (the document's agent is the stored one); None if absent."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    doc_id, agent, floor, acked, raw = _decode(data, str(path))
    try:
        doc = Document.decode(raw, agent)
    except CowriteError as exc:
        raise StateFileError(f"{path}: the stored document does not decode: {exc}") from None
    doc.reserve_seqs(floor)
    return StoredState(doc_id, doc, floor, acked)


def read_state(path: Path) -> tuple[str, Document] | None:
    """``(doc_id, document)`` from ``path`` (the document's agent is the stored one); None if absent."""
    state = load_state(path)
    return None if state is None else (state.doc_id, state.doc)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new content."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened elsewhere
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files a crashed writer left beside ``path`` (call with the lock held)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            stale.unlink()
        except OSError:  # pragma: no cover
            pass


class StateWriter:
    """Writes generations of a state file from worker threads, newest wins.

    ``gen = writer.next_gen()`` is taken when the bytes are encoded; :meth:`write`
    skips a generation older than one already written, so a slow (or abandoned)
    write can never replace a newer file with an older one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._next = 0
        self._written = 0

    def next_gen(self) -> int:
        self._next += 1
        return self._next

    def write(self, gen: int, data: bytes) -> None:
        with self._lock:
            if gen <= self._written:
                return  # a newer state is already on disk
            atomic_write(self.path, data)
            self._written = gen


class StateLock:
    """An exclusive, non-blocking lock on ``<path>.lock`` for as long as it is held."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        f = open(self.path, "ab")
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            self._file = f
            return
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise StateFileError(f"{self.path}: another client is using this state file") from None
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None


class StateFile:
    """One client's state file at ``path``: held locked from :meth:`open` to :meth:`close`,
    written in generations (newest wins), and the bookkeeping of what it holds."""

    def __init__(self, path: Path, doc_id: str) -> None:
        self.path = path
        self.doc_id = doc_id
        self._lock = StateLock(path)
        self._writer = StateWriter(path)
        self._save_lock = asyncio.Lock()
        self._saved_version: RawVersion | None = None
        self._saved_marks = (0, 0)  # (seq floor, acked seq) last written
        self._forced = False
        self.saved_own_end = 0
        """Our agent's ops below this seq are in the file (write-ahead: nothing above is sent)."""

    def open(self, agent: str | None) -> StoredState:
        """Lock the file and read it (or create it, with a new document of ``agent``)."""
        path = self.path
        self._lock.acquire()
        try:
            remove_stale_temporaries(path)
            state = load_state(path)
            if state is not None:
                if state.doc_id != self.doc_id:
                    raise StateFileError(f"{path} holds document {state.doc_id!r}, not {self.doc_id!r}")
                if agent is not None and agent != state.doc.agent:
                    raise StateFileError(f"{path} belongs to agent {state.doc.agent!r}, not {agent!r}")
            else:  # fix the agent on disk before anything else happens
                state = StoredState(self.doc_id, Document(agent))
                self._writer.write(self._writer.next_gen(), encode_state(self.doc_id, state.doc))
        except BaseException:
            self._lock.release()
            raise
        doc = state.doc
        self._saved_version = doc.version
        self._saved_marks = (state.seq_floor, state.acked_seq)
        self.saved_own_end = max(doc.oplog.cg.next_seq(doc.agent), state.seq_floor)
        return state

    def close(self) -> None:
        self._lock.release()

    def force(self) -> None:
        """The replica was replaced: the next save writes even at the same version."""
        self._forced = True

    async def save(self, doc: Document, *, seq_floor: int, acked_seq: int, own_end: int, blocking: bool = False) -> bool:
        """Write ``doc`` (and the seq marks) if they changed since the last write; False if
        writing failed (logged).  ``blocking`` writes in this thread (else in a worker thread)."""
        async with self._save_lock:
            version = doc.version
            forced = self._forced
            marks = (seq_floor, acked_seq)
            if version == self._saved_version and marks == self._saved_marks and not forced:
                return True
            self._forced = False
            writer = self._writer
            gen = writer.next_gen()
            data = encode_state(self.doc_id, doc, seq_floor=seq_floor, acked_seq=acked_seq)
            written = False
            try:
                if blocking:
                    writer.write(gen, data)
                else:
                    await asyncio.to_thread(writer.write, gen, data)
                written = True
            except OSError:
                log.exception("could not write the state file %s", self.path)
                return False
            finally:
                if not written:  # failed, or cancelled (e.g. by close()) before it was known to be on disk
                    self._forced = self._forced or forced
            self._saved_version = version
            self._saved_marks = marks
            self.saved_own_end = max(self.saved_own_end, own_end)
            return True
