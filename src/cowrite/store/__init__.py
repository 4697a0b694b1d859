"""Durable document storage for the collaboration server.

``open_store("sqlite:///cowrite.db")`` (or a plain path) returns a :class:`Store`;
``open_store("postgresql://user@host/db")`` a :class:`~cowrite.store.postgres.PostgresStore`
(several servers sharing one database); see :mod:`cowrite.store.base` for the contract
every backend keeps and :mod:`cowrite.store.sqlite` for the default backend.
"""

from __future__ import annotations

import os

from ..errors import StoreUnavailable
from .base import (
    MAX_DOC_ID_LEN,
    MAX_TITLE,
    MAX_VERSION_NAME,
    AccountExists,
    AccountRecord,
    ConflictingOps,
    CorruptionError,
    DocInfo,
    DocInviteRecord,
    DocumentExists,
    DocumentNotFound,
    HistoryPruned,
    InvalidArgument,
    InvalidDocumentId,
    InviteRecord,
    InviteRefused,
    LinkRecord,
    MemberRecord,
    NamedVersionRecord,
    SchemaError,
    SessionRecord,
    SignUpRefused,
    Store,
    StoreError,
    TokenRecord,
    UnsupportedBackend,
    check_doc_id,
)
from .sqlite import SQLiteStore

__all__ = [
    "MAX_DOC_ID_LEN",
    "MAX_TITLE",
    "MAX_VERSION_NAME",
    "AccountExists",
    "AccountRecord",
    "ConflictingOps",
    "CorruptionError",
    "DocInfo",
    "DocInviteRecord",
    "DocumentExists",
    "DocumentNotFound",
    "HistoryPruned",
    "InvalidArgument",
    "InvalidDocumentId",
    "InviteRecord",
    "InviteRefused",
    "LinkRecord",
    "MemberRecord",
    "NamedVersionRecord",
    "SQLiteStore",
    "SchemaError",
    "SessionRecord",
    "SignUpRefused",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TokenRecord",
    "UnsupportedBackend",
    "check_doc_id",
    "open_store",
]


def open_store(url_or_path: str | os.PathLike[str]) -> Store:
    """Open the store a URL or path names.

    * ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (SQLAlchemy's
      convention: the path is what follows ``sqlite:///``), or a plain file path:
      :class:`SQLiteStore`, created if missing.
    * ``postgresql://...``, ``postgres://...`` or ``postgresql+psycopg://...``: a libpq
      connection URI, :class:`~cowrite.store.postgres.PostgresStore` (tables created or
      migrated in the connection's current schema).
    """
    target = os.fspath(url_or_path)
    if not isinstance(target, str):
        raise InvalidArgument(f"a store URL or path must be a str, not {type(target).__name__}")
    scheme, sep, rest = target.partition("://")
    if not sep:
        if not target:
            raise InvalidArgument("empty store path")
        return SQLiteStore(target)
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise InvalidArgument(f"{target!r}: write sqlite:///relative.db or sqlite:////absolute/path.db")
        path = rest[1:]
        if path == ":memory:":
            raise InvalidArgument("an in-memory SQLite store is not durable: give a file path")
        return SQLiteStore(path)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from .postgres import PostgresStore  # on demand: psycopg only for PostgreSQL URLs

        return PostgresStore(target)
    raise UnsupportedBackend(
        f"unknown store URL scheme {scheme!r}: use sqlite:///path, postgresql://user@host/db or a file path"
    )
