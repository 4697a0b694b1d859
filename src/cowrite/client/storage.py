"""The client's state file: one document replica (history + text) and its agent.

Layout (all integers big-endian)::

    b"CWCLIENT"  u8 format (1)
    u16 length, UTF-8 document id
    u16 length, UTF-8 agent
    Document.encode() bytes
    u32 CRC-32 of everything before it

Written atomically: a temporary file beside the target is written, fsynced and
renamed over it, then the directory is fsynced; a crash leaves either the old or
the new file, never a torn one.  A lock file (``<path>.lock``, ``flock``) keeps two
clients from using the same state (and so the same agent) at once.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from typing import IO

from cowrite.engine import CowriteError, Document

from ..errors import StateFileError

__all__ = ["StateLock", "StateWriter", "atomic_write", "decode_state", "encode_state", "read_state", "remove_stale_temporaries"]

MAGIC = b"CWCLIENT"
FORMAT = 1


def encode_state(doc_id: str, doc: Document) -> bytes:
    ident = doc_id.encode("utf-8")
    agent = doc.agent.encode("utf-8")
    out = bytearray(MAGIC)
    out += struct.pack(">BH", FORMAT, len(ident)) + ident
    out += struct.pack(">H", len(agent)) + agent
    out += doc.encode()
    out += struct.pack(">I", zlib.crc32(out))
    return bytes(out)


def decode_state(data: bytes, where: str = "state file") -> tuple[str, str, bytes]:
    """``(doc_id, agent, document bytes)``; :class:`StateFileError` if ``data`` is not intact."""
    if len(data) < len(MAGIC) + 9 or not data.startswith(MAGIC):
        raise StateFileError(f"{where}: not a cowrite client state file")
    body, (crc,) = data[:-4], struct.unpack(">I", data[-4:])
    if zlib.crc32(body) != crc:
        raise StateFileError(f"{where}: checksum mismatch (the file is corrupt)")
    i = len(MAGIC)
    fmt, n = struct.unpack_from(">BH", body, i)
    if fmt != FORMAT:
        raise StateFileError(f"{where}: format {fmt} is not supported (this version reads {FORMAT})")
    i += 3
    try:
        doc_id = body[i : i + n].decode("utf-8")
        i += n
        (n,) = struct.unpack_from(">H", body, i)
        i += 2
        agent = body[i : i + n].decode("utf-8")
    except (UnicodeDecodeError, struct.error):
        raise StateFileError(f"{where}: malformed header") from None
    i += n
    if not agent or i > len(body):
        raise StateFileError(f"{where}: malformed header")
    return doc_id, agent, body[i:]


def read_state(path: Path) -> tuple[str, Document] | None:
    """``(doc_id, document)`` from ``path`` (the document's agent is the stored one); None if absent."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    doc_id, agent, raw = decode_state(data, str(path))
    try:
        return doc_id, Document.decode(raw, agent)
    except CowriteError as exc:
        raise StateFileError(f"{path}: the stored document does not decode: {exc}") from None


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
