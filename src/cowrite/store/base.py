"""The storage contract: the :class:`Store` protocol, its records and its errors.

A store keeps, per document, an **append-only log** of acknowledged batches
(engine patch bytes, numbered ``seq`` = 1, 2, 3, ... without gaps) and
**snapshots** (``Document.encode()`` bytes: history *and* current text) each
covering the log up to some ``seq``.  Loading decodes the newest snapshot (no
history replay) and applies the log entries after it.

Guarantees every backend gives (``tests/store/contract.py`` checks them):

* ``append`` returns only once the entry is durable: after a crash (even
  ``SIGKILL`` right after it returned) it is there.  Acknowledge only after it.
* Every stored blob carries a checksum verified on read.  A mismatch, a blob the
  engine cannot decode or apply, or a gap in the log raises
  :class:`CorruptionError` naming the document and the row: a wrong document is
  never served.
* Methods are synchronous and thread-safe; an asyncio server calls them from a
  worker thread (``await asyncio.to_thread(store.append, ...)``).

Errors: the :class:`~cowrite.errors.StoreError` branch of the one tree in
:mod:`cowrite.errors` (re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

from ..engine import Document
from ..errors import (
    CorruptionError,
    DocumentExists,
    DocumentNotFound,
    HistoryPruned,
    InvalidArgument,
    InvalidDocumentId,
    SchemaError,
    StoreError,
    UnsupportedBackend,
)

__all__ = [
    "CorruptionError",
    "DocInfo",
    "DocumentExists",
    "DocumentNotFound",
    "HistoryPruned",
    "InvalidArgument",
    "InvalidDocumentId",
    "MAX_DOC_ID_LEN",
    "MAX_USER_NAME",
    "SchemaError",
    "Store",
    "StoreError",
    "UnsupportedBackend",
    "check_doc_id",
]

MAX_DOC_ID_LEN = 128
MAX_USER_NAME = 256  # code points, like the protocol's PRESENCE user name
_DOC_ID = re.compile(r"[A-Za-z0-9._-]{1,%d}" % MAX_DOC_ID_LEN)


def check_doc_id(doc_id: object) -> str:
    """``doc_id`` if it is a valid document id, else :class:`InvalidDocumentId`."""
    if not isinstance(doc_id, str):
        raise InvalidDocumentId(f"a document id must be a str, not {type(doc_id).__name__}")
    if _DOC_ID.fullmatch(doc_id) is None:
        shown = doc_id if len(doc_id) <= 40 else doc_id[:40] + "..."
        raise InvalidDocumentId(
            f"bad document id {shown!r} ({len(doc_id)} chars): "
            f"use 1..{MAX_DOC_ID_LEN} characters of A-Z a-z 0-9 . _ -"
        )
    return doc_id


@dataclass(frozen=True, slots=True)
class DocInfo:
    """What a store knows about a document without loading it."""

    id: str
    created_at: float
    """Unix seconds."""
    updated_at: float
    """Unix seconds of the last create/append/snapshot."""
    seq: int
    """The newest log entry's seq (0: nothing appended yet)."""
    ops_count: int
    """Sum of ``op_count`` over the appends (a deduplicated re-append counts once)."""
    snapshot_seq: int
    """The log seq the newest snapshot covers (0: no snapshot)."""
    text_length: int | None
    """Code points in the text as last reported (by ``append(text_length=)`` or a
    snapshot); ``None`` if never reported."""
    snapshot_bytes: int = 0
    """Size of the newest snapshot (0: no snapshot)."""
    log_bytes_since_snapshot: int = 0
    """Bytes of the log entries after the newest snapshot (what loading replays)."""


@runtime_checkable
class Store(Protocol):
    """Durable storage of documents: an append-only op log plus snapshots.

    Every method is synchronous and safe to call from several threads at once.
    Document ids are checked by :func:`check_doc_id` everywhere.  A store is a
    context manager (``with open_store(url) as store: ...`` closes it).
    """

    def create(self, doc_id: str) -> DocInfo:
        """Create an empty document.  :class:`DocumentExists` if the id is taken."""
        ...

    def delete(self, doc_id: str) -> None:
        """Remove a document with its log and snapshots.  :class:`DocumentNotFound`."""
        ...

    def agent_owners(self, doc_id: str) -> dict[str, str]:
        """``{agent: user}``: who owns each agent that has joined this document."""
        ...

    def claim_agent(self, doc_id: str, agent: str, user: str) -> str:
        """Give ``agent`` to ``user`` unless someone owns it already; returns the owner (durably)."""
        ...

    def set_user_name(self, user: str, name: str) -> None:
        """Remember ``user``'s display name (1..MAX_USER_NAME characters; the latest wins)."""
        ...

    def user_names(self, users: Iterable[str]) -> dict[str, str]:
        """``{user: name}`` for those of ``users`` whose name is known."""
        ...

    def exists(self, doc_id: str) -> bool:
        ...

    def info(self, doc_id: str) -> DocInfo:
        """One document's :class:`DocInfo`.  :class:`DocumentNotFound`."""
        ...

    def documents(self) -> list[DocInfo]:
        """Every document, ordered by id."""
        ...

    def load(self, doc_id: str, agent: str | None = None) -> Document:
        """The document: newest snapshot decoded (no replay) + the log after it applied.

        ``agent`` is the agent of the returned replica (random if ``None``).
        Raises :class:`DocumentNotFound` or :class:`CorruptionError`.
        """
        ...

    def append(self, doc_id: str, patch: bytes, *, op_count: int, text_length: int | None = None) -> int:
        """Log one acknowledged batch (engine patch bytes); durable when this returns.

        Returns the entry's seq.  The patch must decode (``InvalidArgument``
        otherwise): nothing unreadable is ever stored.  Re-appending the bytes of
        the newest entry (a retry) returns its seq and stores nothing; any other
        repeat is stored and harmless, since applying known ops is a no-op.
        ``op_count`` (ops in the patch) and ``text_length`` (the text's length
        after the batch, if known) only feed :class:`DocInfo`.  Entries of one
        document are logged in the order the calls enter the store; loading
        tolerates any causal-order permutation anyway.
        """
        ...

    def snapshot(self, doc_id: str, doc: Document, *, prune: bool = False) -> int:
        """Store ``doc.encode()`` as the document's newest snapshot; returns the seq it covers.

        The covered seq is the longest run of log entries after the previous
        snapshot that ``doc`` already contains (checked by applying them to the
        decoded snapshot, so a snapshot can never lose an appended op); ``doc``
        may hold more ops than the log (e.g. a batch still being appended).
        ``doc`` must contain the previous snapshot (:class:`StoreError`
        otherwise) and must not be mutated during the call: from asyncio, pass
        ``doc.copy()``.  Log entries it covers are kept as history unless
        ``prune``; older snapshots are dropped (each one holds the whole history).
        """
        ...

    def log_since(self, doc_id: str, seq: int = 0) -> list[tuple[int, bytes]]:
        """The log entries after ``seq``, as ``(seq, patch)`` in seq order, verified.

        :class:`HistoryPruned` if some of them were pruned.
        """
        ...

    def close(self) -> None:
        """Release the store; further calls raise :class:`StoreError`.  Idempotent."""
        ...

    # A backend that subclasses Store explicitly inherits these (and mypy then checks
    # that it implements every method above).
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
