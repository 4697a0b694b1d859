"""The SQLite backend: one database file, WAL journal, ``synchronous=FULL``.

Schema (version 8)::

    schema_version(version)                       one row
    documents(key PK, id UNIQUE, created_at, updated_at,
              last_seq,       newest log seq (0: empty log)
              ops_count,      sum of appended op counts          [v2]
              text_length,    last reported text length or NULL  [v2]
              log_start)      lowest seq not pruned (1: none)    [v2]
    log(doc_key FK, seq, patch, checksum, op_count, created_at)   PK (doc_key, seq)
    snapshots(doc_key FK, seq, data, checksum, created_at,
              version,        JSON frontier of the snapshot      [v2]
              text_length)                                       [v2]
    agents(doc_key FK, agent, user, created_at)   PK (doc_key, agent)  [v3]
    users(user PK, name, updated_at)              display names         [v4]
    accounts(username PK, name, password_hash, admin, disabled, created_at)   [v5]
    sessions(key PK, user FK accounts ON DELETE CASCADE, csrf_token,
             created_at, last_seen, expires_at)   key = SHA-256 hex of the id   [v5]
    invites(key PK, created_by, created_at, expires_at,
            used_by, used_at, revoked)            key = SHA-256 hex of the code [v5]
    members(doc_key FK, user FK accounts, role, added_by, added_at)
                                                  PK (doc_key, user)            [v6]
    links(doc_key PK FK, role, key, set_by, set_at)   the share link             [v6]
    doc_invites(key PK, doc_key FK, role, created_by, created_at, expires_at,
                used_by, used_at, revoked)        key = SHA-256 hex of the code [v6]
    tokens(key PK, id UNIQUE, user FK accounts, label, docs (JSON list), role,
           created_at, expires_at, last_used, revoked)  key = SHA-256 of the secret [v6]
    op_runs(doc_key FK, agent, seq_start, seq_end, log_seq)
                                                  PK (doc_key, agent, seq_end)  [v7]
                                                  the (agent, seq) runs each log entry
                                                  brought first (cowrite.store.runs)
    documents.title                               the title for people, '' if none  [v8]
    named_versions(doc_key FK, name, version (JSON frontier), created_by, created_at)
                                                  PK (doc_key, name)            [v8]

Every ``doc_key`` column references ``documents(key) ON DELETE CASCADE``: deleting a
document deletes its log, snapshots, agents, members, link, invites and op runs in one statement.

An append is checked against ``op_runs`` in its write transaction (see
:mod:`cowrite.store.runs`): ops stored with other content are refused
(:class:`ConflictingOps`, nothing of the batch stored; other appends of the same
group commit go on), a batch whose ops are all stored already is not stored again
(its seq is the newest entry holding them), and one that extends stored ops is stored
with only its new ids indexed.

``checksum`` is SHA-256 over a tag, the row's seq and the blob, so a blob that
changed, or a row whose seq changed, fails verification.  A document's log is
``seq`` = ``log_start`` .. ``last_seq`` without gaps; only the newest snapshot
is kept.

Concurrency: **one connection behind one lock**.  SQLite admits one writer at a
time anyway, so per-thread connections would only add lock contention between
them; with one connection, appends that arrive while a commit is being
fsynced queue up and the next thread to get the lock commits all of them in
one transaction (group commit: one fsync acknowledges many batches).  Reads
hold the lock only to fetch rows; checksums and decoding run outside it.
Other processes may open the same file: ``BEGIN IMMEDIATE`` and the busy
timeout serialise them, and seqs are read inside the write transaction.

Migrations: :data:`MIGRATIONS` is the ordered list of schema steps; opening a
database runs the missing ones, each in its own transaction (SQLite DDL is
transactional, so a failed step leaves the previous version intact).  A
database from a newer cowrite is refused with :class:`SchemaError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..engine import CowriteError, Document, Op, UnknownParentError, decode_patch

from .records import (
    account_from_row,
    check_account,
    check_count,
    check_doc_invite,
    check_doc_invite_fields,
    check_expected,
    check_flag,
    check_invite,
    check_key,
    check_member,
    check_session,
    check_text,
    check_time,
    check_token,
    doc_invite_from_row,
    invite_from_row,
    member_from_row,
    session_from_row,
)
from .runs import Range, RunRow, batch_runs, check_batch, covers_entry, new_ranges
from .versions import check_named_version, check_title, check_version_name, named_version_from_row, version_json
from .suggestions import SUGGESTION_COLS, SuggestionRecord, check_suggestion_id, check_suggestion_record, suggestion_from_row
from .throttle import (
    THROTTLE_COLS,
    ThrottleChange,
    ThrottleRecord,
    check_throttle_key,
    check_throttle_keys,
    check_throttle_record,
    check_throttle_scope,
    throttle_from_row,
)
from .comments import (
    COMMENT_COLS,
    CommentRecord,
    check_comment,
    check_comment_id,
    check_thread_of,
    comment_from_row,
    updated,
)
from .base import (
    AccountExists,
    AccountRecord,
    ConflictingOps,
    CorruptionError,
    DocInfo,
    DocInviteRecord,
    DocumentExists,
    DocumentNotFound,
    HistoryPruned,
    MAX_USER_NAME,
    InvalidArgument,
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
    check_doc_id,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "CommitStats", "SQLiteStore"]


# -- checksums ------------------------------------------------------------------------

_LOG_TAG = b"cowrite-log\0"
_SNAPSHOT_TAG = b"cowrite-snapshot\0"


def _digest(tag: bytes, seq: int, blob: bytes) -> bytes:
    h = hashlib.sha256(tag)
    h.update(seq.to_bytes(8, "big"))
    h.update(blob)
    return h.digest()


# -- migrations -----------------------------------------------------------------------


def _run(conn: sqlite3.Connection, statements: str) -> None:
    # not executescript(): it COMMITs first, and a migration must be one transaction
    for stmt in statements.split(";"):
        if stmt.strip():
            conn.execute(stmt)


def _m1_initial(conn: sqlite3.Connection) -> None:
    """The first layout: documents, the append-only log, snapshots."""
    _run(
        conn,
        """
        CREATE TABLE documents (
            key        INTEGER PRIMARY KEY,
            id         TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            last_seq   INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE log (
            doc_key    INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            seq        INTEGER NOT NULL,
            patch      BLOB NOT NULL,
            checksum   BLOB NOT NULL,
            op_count   INTEGER NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (doc_key, seq)
        );
        CREATE TABLE snapshots (
            doc_key    INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            seq        INTEGER NOT NULL,
            data       BLOB NOT NULL,
            checksum   BLOB NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (doc_key, seq)
        )
        """,
    )


def _m2_stats_and_pruning(conn: sqlite3.Connection) -> None:
    """Cheap listings (op count, text length) and log pruning behind a snapshot.

    Snapshots from v1 keep ``version = NULL``; it is read from the blob when needed.
    """
    _run(
        conn,
        """
        ALTER TABLE documents ADD COLUMN ops_count INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE documents ADD COLUMN text_length INTEGER;
        ALTER TABLE documents ADD COLUMN log_start INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE snapshots ADD COLUMN version TEXT;
        ALTER TABLE snapshots ADD COLUMN text_length INTEGER;
        UPDATE documents SET ops_count = (SELECT COALESCE(SUM(op_count), 0) FROM log WHERE log.doc_key = documents.key)
        """,
    )


def _m3_agent_owners(conn: sqlite3.Connection) -> None:
    """Which user each agent of a document belongs to (no client may write as another's agent)."""
    _run(
        conn,
        """
        CREATE TABLE agents (
            doc_key    INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            agent      TEXT NOT NULL,
            user       TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (doc_key, agent)
        )
        """,
    )


def _m4_user_names(conn: sqlite3.Connection) -> None:
    """Display names of users (the last one each presented), for history and authorship views."""
    _run(
        conn,
        """
        CREATE TABLE users (
            user       TEXT PRIMARY KEY,
            name       TEXT NOT NULL,
            updated_at REAL NOT NULL
        )
        """,
    )


def _m5_accounts(conn: sqlite3.Connection) -> None:
    """Accounts, their sessions and sign-up invites (cowrite.accounts).  Sessions and invites
    are keyed by the SHA-256 of their secret; the ``users`` table of v4 stays as it is."""
    _run(
        conn,
        """
        CREATE TABLE accounts (
            username      TEXT PRIMARY KEY,
            name          TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            admin         INTEGER NOT NULL DEFAULT 0,
            disabled      INTEGER NOT NULL DEFAULT 0,
            created_at    REAL NOT NULL
        );
        CREATE TABLE sessions (
            key        TEXT PRIMARY KEY,
            user       TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
            csrf_token TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen  REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX sessions_by_user ON sessions (user);
        CREATE TABLE invites (
            key        TEXT PRIMARY KEY,
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_by    TEXT,
            used_at    REAL,
            revoked    INTEGER NOT NULL DEFAULT 0
        )
        """,
    )


def _m6_document_access(conn: sqlite3.Connection) -> None:
    """Per-document members, share links, document invites and personal access tokens.
    Documents of earlier versions get no members (the admin page lists them as ownerless)."""
    _run(
        conn,
        """
        CREATE TABLE members (
            doc_key  INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            user     TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
            role     TEXT NOT NULL,
            added_by TEXT NOT NULL,
            added_at REAL NOT NULL,
            PRIMARY KEY (doc_key, user)
        );
        CREATE INDEX members_by_user ON members (user);
        CREATE TABLE links (
            doc_key INTEGER PRIMARY KEY REFERENCES documents(key) ON DELETE CASCADE,
            role    TEXT NOT NULL,
            key     TEXT NOT NULL,
            set_by  TEXT NOT NULL,
            set_at  REAL NOT NULL
        );
        CREATE TABLE doc_invites (
            key        TEXT PRIMARY KEY,
            doc_key    INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            role       TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_by    TEXT,
            used_at    REAL,
            revoked    INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX doc_invites_by_doc ON doc_invites (doc_key);
        CREATE TABLE tokens (
            key        TEXT PRIMARY KEY,
            id         TEXT NOT NULL UNIQUE,
            user       TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
            label      TEXT NOT NULL,
            docs       TEXT NOT NULL,
            role       TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL,
            last_used  REAL,
            revoked    INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX tokens_by_user ON tokens (user)
        """,
    )


def _m7_op_runs(conn: sqlite3.Connection) -> None:
    """The index of the op ids each log entry brought (see :mod:`cowrite.store.runs`),
    backfilled from the stored log (and the snapshot, for a pruned log)."""
    _run(
        conn,
        """
        CREATE TABLE op_runs (
            doc_key   INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            agent     TEXT NOT NULL,
            seq_start INTEGER NOT NULL,
            seq_end   INTEGER NOT NULL,
            log_seq   INTEGER NOT NULL,
            PRIMARY KEY (doc_key, agent, seq_end)
        ) WITHOUT ROWID
        """,
    )
    for key, log_start in conn.execute("SELECT key, log_start FROM documents ORDER BY key").fetchall():
        if log_start > 1:  # the pruned entries' ops are in the snapshot
            snap = conn.execute(
                "SELECT data FROM snapshots WHERE doc_key = ? ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
            if snap is not None:
                try:
                    ops = Document.decode(snap[0]).ops_since()
                except CowriteError:
                    ops = []  # a damaged snapshot: loading reports it
                _index_entry(conn, key, log_start - 1, batch_runs(ops)[0])
        for seq, patch in conn.execute(
            "SELECT seq, patch FROM log WHERE doc_key = ? ORDER BY seq", (key,)
        ).fetchall():
            try:
                ops = decode_patch(patch)
            except CowriteError:
                continue  # a damaged entry: loading reports it
            _index_entry(conn, key, seq, batch_runs(ops)[0])


def _overlapping(conn: sqlite3.Connection, key: int, runs: list[Range]) -> list[RunRow]:
    """The stored op_runs rows of document ``key`` that overlap ``runs`` (indexed)."""
    rows: list[RunRow] = []
    for agent, start, end in runs:
        rows += conn.execute(
            "SELECT agent, seq_start, seq_end, log_seq FROM op_runs"
            " WHERE doc_key = ? AND agent = ? AND seq_end > ? AND seq_start < ?",
            (key, agent, start, end),
        ).fetchall()
    return rows


def _entry_runs(conn: sqlite3.Connection, key: int, seq: int) -> list[Range] | None:
    """The op runs of log entry ``seq`` (None: pruned, or it does not decode)."""
    row = conn.execute("SELECT patch FROM log WHERE doc_key = ? AND seq = ?", (key, seq)).fetchone()
    if row is None:
        return None
    try:
        return batch_runs(decode_patch(row[0]))[0]
    except CowriteError:
        return None


def _index_entry(conn: sqlite3.Connection, key: int, seq: int, runs: list[Range]) -> None:
    """Index the part of ``runs`` (log entry ``seq``'s) that no stored row covers yet."""
    for agent, start, end in new_ranges(runs, _overlapping(conn, key, runs)):
        conn.execute(
            "INSERT INTO op_runs (doc_key, agent, seq_start, seq_end, log_seq) VALUES (?, ?, ?, ?, ?)",
            (key, agent, start, end, seq),
        )


def _m8_titles_and_named_versions(conn: sqlite3.Connection) -> None:
    """Document titles (a name for people, separate from the id in URLs) and named
    versions: a label a user puts on one version (frontier) of a document."""
    _run(
        conn,
        """
        ALTER TABLE documents ADD COLUMN title TEXT NOT NULL DEFAULT '';
        CREATE TABLE named_versions (
            doc_key    INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            version    TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (doc_key, name)
        )
        """,
    )


def _m9_comments(conn: sqlite3.Connection) -> None:
    """Comments on a text range (:mod:`cowrite.store.comments`): threads and replies,
    each change numbered by the document's comment revision (``rev``)."""
    _run(
        conn,
        """
        CREATE TABLE comments (
            doc_key    INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            id         TEXT NOT NULL,
            thread     TEXT NOT NULL,
            author     TEXT NOT NULL,
            body       TEXT NOT NULL,
            anchor     BLOB NOT NULL,
            quote      TEXT NOT NULL,
            created_at REAL NOT NULL,
            edited_at  REAL,
            resolved   INTEGER NOT NULL DEFAULT 0,
            deleted    INTEGER NOT NULL DEFAULT 0,
            rev        INTEGER NOT NULL,
            PRIMARY KEY (doc_key, id)
        );
        CREATE INDEX comments_by_rev ON comments (doc_key, rev)
        """,
    )


def _m10_suggestions(conn: sqlite3.Connection) -> None:
    """Suggestions (:mod:`cowrite.store.suggestions`): a patch of ops on a branch of
    the document, outside its log until accepted."""
    _run(
        conn,
        """
        CREATE TABLE suggestions (
            doc_key    INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            id         TEXT NOT NULL,
            author     TEXT NOT NULL,
            patch      BLOB NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (doc_key, id)
        )
        """,
    )


def _m11_throttle(conn: sqlite3.Connection) -> None:
    """Sign-in throttle counts (:mod:`cowrite.store.throttle`), in the store so that every
    process serving it counts the same failures."""
    _run(
        conn,
        """
        CREATE TABLE throttle (
            scope      TEXT NOT NULL,
            key        TEXT NOT NULL,
            failures   REAL NOT NULL,
            failed_at  REAL NOT NULL,
            wait_until REAL NOT NULL,
            PRIMARY KEY (scope, key)
        );
        CREATE INDEX throttle_by_time ON throttle (failed_at)
        """,
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1_initial,
    _m2_stats_and_pruning,
    _m3_agent_owners,
    _m4_user_names,
    _m5_accounts,
    _m6_document_access,
    _m7_op_runs,
    _m8_titles_and_named_versions,
    _m9_comments,
    _m10_suggestions,
    _m11_throttle,
]
"""Schema steps in order: ``MIGRATIONS[i]`` takes a database from version i to i + 1.
Append new steps; never edit a released one."""

SCHEMA_VERSION = len(MIGRATIONS)


def _read_version(conn: sqlite3.Connection) -> int:
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1 or type(rows[0][0]) is not int or rows[0][0] < 0:
        raise SchemaError(f"schema_version must hold one non-negative integer, found {rows!r}")
    version: int = rows[0][0]
    return version


def _migrate(conn: sqlite3.Connection, migrations: list[Callable[[sqlite3.Connection], None]], where: str) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if has_table is None:
            others = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            if others:
                raise SchemaError(
                    f"{where} is not a cowrite store: it has tables {others} but no schema_version table"
                )
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        version = _read_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if version > len(migrations):
        raise SchemaError(
            f"{where} has schema version {version}, newer than this cowrite supports "
            f"({len(migrations)}): upgrade cowrite to open it"
        )
    for target in range(version + 1, len(migrations) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _read_version(conn) < target:  # another process may have done it meanwhile
                migrations[target - 1](conn)
                conn.execute("UPDATE schema_version SET version = ?", (target,))
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, SchemaError) or not isinstance(exc, Exception):
                raise
            raise SchemaError(f"{where}: migration to schema version {target} failed: {exc}") from exc
    return len(migrations)


# -- the store ------------------------------------------------------------------------


class _Append:
    """One append waiting for a group commit."""

    __slots__ = ("doc_id", "patch", "ops", "op_count", "text_length", "seq", "error", "done")

    def __init__(self, doc_id: str, patch: bytes, ops: list[Op], op_count: int, text_length: int | None) -> None:
        self.doc_id = doc_id
        self.patch = patch
        self.ops = ops
        self.op_count = op_count
        self.text_length = text_length
        self.seq = 0
        self.error: BaseException | None = None
        self.done = False


@dataclass(frozen=True, slots=True)
class CommitStats:
    """How appends have been committed (:meth:`SQLiteStore.commit_stats`)."""

    commits: int
    """Group-commit transactions run (each one fsync)."""
    appends: int
    """Appends they carried."""
    queued: int
    """Appends waiting now for the next group commit."""
    committing: int
    """Appends in the group commit being written now."""


def _version_json(doc: Document) -> str:
    return json.dumps([[agent, seq] for agent, seq in doc.version], separators=(",", ":"))


def _token(row: tuple[Any, ...]) -> TokenRecord:
    docs = json.loads(row[4])
    return TokenRecord(row[0], row[1], row[2], row[3], tuple(docs), row[5], row[6], row[7], row[8], bool(row[9]))


_ACCOUNT_COLS = "username, name, password_hash, admin, disabled, created_at"
_SESSION_COLS = "key, user, csrf_token, created_at, last_seen, expires_at"
_INVITE_COLS = "key, created_by, created_at, expires_at, used_by, used_at, revoked"
_MEMBER_COLS = "d.id, m.user, m.role, m.added_by, m.added_at"
_DOC_INVITE_COLS = "i.key, d.id, i.role, i.created_by, i.created_at, i.expires_at, i.used_by, i.used_at, i.revoked"
_TOKEN_COLS = "key, id, user, label, docs, role, created_at, expires_at, last_used, revoked"


class SQLiteStore(Store):
    """A :class:`~cowrite.store.Store` in one SQLite database file (created if missing)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            raise InvalidArgument(f"SQLiteStore needs a file path, not {self.path!r}")
        self._clock = clock
        self._lock = threading.Lock()  # guards the connection
        self._qlock = threading.Lock()  # guards the append queue
        self._queue: list[_Append] = []
        self._commits = 0  # group-commit statistics (under self._lock)
        self._committed = 0
        self._committing = 0
        where = f"SQLite store {self.path!r}"
        try:
            conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {where}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{where}: cannot switch to WAL journal mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")  # the WAL is fsynced at every commit
            conn.execute("PRAGMA foreign_keys = ON")
            self.schema_version = _migrate(conn, MIGRATIONS, where)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open {where}: {exc}") from exc
            raise
        self._conn: sqlite3.Connection | None = conn

    def __repr__(self) -> str:
        return f"<SQLiteStore {self.path!r}{' closed' if self._conn is None else ''}>"

    # -- diagnostics -------------------------------------------------------------------

    def pragmas(self) -> dict[str, object]:
        """The connection's durability settings: ``journal_mode``, ``synchronous``
        (2 = FULL), ``foreign_keys`` and ``busy_timeout`` (ms)."""
        with self._lock:
            conn = self._db()
            names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            return {n: conn.execute(f"PRAGMA {n}").fetchone()[0] for n in names}

    def commit_stats(self) -> CommitStats:
        """Group commit at work: transactions, the appends they carried, and what waits."""
        with self._qlock:
            queued = len(self._queue)
        return CommitStats(self._commits, self._committed, queued, self._committing)

    # -- plumbing ----------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """The connection; call with ``self._lock`` held."""
        if self._conn is None:
            raise StoreError(f"{self!r} is closed")
        return self._conn

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` in one read transaction (a consistent view) under the lock."""
        with self._lock:
            conn = self._db()
            try:
                conn.execute("BEGIN")
                try:
                    return fn(conn)
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"{self!r}: read failed: {exc}") from exc

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` in one write transaction under the lock; committed durably on return."""
        with self._lock:
            conn = self._db()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self!r}: cannot start a write: {exc}") from exc
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self!r}: write failed, nothing stored: {exc}") from exc
                raise
            return result

    @staticmethod
    def _doc_row(conn: sqlite3.Connection, doc_id: str) -> tuple[int, int, int]:
        """``(key, last_seq, log_start)`` of a document, or DocumentNotFound."""
        row = conn.execute("SELECT key, last_seq, log_start FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise DocumentNotFound(doc_id)
        return row[0], row[1], row[2]

    _SNAPSHOT_SEQ = "COALESCE((SELECT MAX(s.seq) FROM snapshots s WHERE s.doc_key = d.key), 0)"
    _INFO_SQL = f"""
        SELECT d.id, d.created_at, d.updated_at, d.last_seq, d.ops_count, {_SNAPSHOT_SEQ}, d.text_length,
               COALESCE((SELECT length(s.data) FROM snapshots s WHERE s.doc_key = d.key ORDER BY s.seq DESC LIMIT 1), 0),
               COALESCE((SELECT SUM(length(l.patch)) FROM log l WHERE l.doc_key = d.key AND l.seq > {_SNAPSHOT_SEQ}), 0),
               d.title
        FROM documents d
    """

    @staticmethod
    def _info(row: tuple[Any, ...]) -> DocInfo:
        return DocInfo(
            id=row[0],
            created_at=row[1],
            updated_at=row[2],
            seq=row[3],
            ops_count=row[4],
            snapshot_seq=row[5],
            text_length=row[6],
            snapshot_bytes=row[7],
            log_bytes_since_snapshot=row[8],
            title=row[9],
        )

    # -- documents ---------------------------------------------------------------------

    def create(self, doc_id: str) -> DocInfo:
        doc_id = check_doc_id(doc_id)
        now = self._clock()

        def fn(conn: sqlite3.Connection) -> DocInfo:
            if conn.execute("SELECT 1 FROM documents WHERE id = ?", (doc_id,)).fetchone() is not None:
                raise DocumentExists(doc_id)
            conn.execute("INSERT INTO documents (id, created_at, updated_at) VALUES (?, ?, ?)", (doc_id, now, now))
            return DocInfo(doc_id, now, now, 0, 0, 0, None)

        result: DocInfo = self._write(fn)
        return result

    def delete(self, doc_id: str) -> None:
        doc_id = check_doc_id(doc_id)

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,)).rowcount == 0:
                raise DocumentNotFound(doc_id)  # the rest (log, snapshots, access) by ON DELETE CASCADE

        self._write(fn)

    def agent_owners(self, doc_id: str) -> dict[str, str]:
        doc_id = check_doc_id(doc_id)

        def fn(conn: sqlite3.Connection) -> dict[str, str]:
            key = self._doc_row(conn, doc_id)[0]
            return {a: u for a, u in conn.execute("SELECT agent, user FROM agents WHERE doc_key = ?", (key,))}

        result: dict[str, str] = self._read(fn)
        return result

    def claim_agent(self, doc_id: str, agent: str, user: str) -> str:
        doc_id = check_doc_id(doc_id)
        if not isinstance(agent, str) or not agent or not isinstance(user, str) or not user:
            raise InvalidArgument("agent and user must be non-empty strings")
        now = self._clock()

        def fn(conn: sqlite3.Connection) -> str:
            key = self._doc_row(conn, doc_id)[0]
            conn.execute(
                "INSERT OR IGNORE INTO agents (doc_key, agent, user, created_at) VALUES (?, ?, ?, ?)",
                (key, agent, user, now),
            )
            row = conn.execute("SELECT user FROM agents WHERE doc_key = ? AND agent = ?", (key, agent)).fetchone()
            return str(row[0])

        result: str = self._write(fn)
        return result

    def set_user_name(self, user: str, name: str) -> None:
        if not isinstance(user, str) or not user or not isinstance(name, str) or not name:
            raise InvalidArgument("user and name must be non-empty strings")
        if len(name) > MAX_USER_NAME:
            raise InvalidArgument(f"a user name is at most {MAX_USER_NAME} characters")
        now = self._clock()

        def fn(conn: sqlite3.Connection) -> None:
            # Unchanged names cost no write: a user joins far more often than they rename.
            conn.execute(
                "INSERT INTO users (user, name, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at "
                "WHERE users.name != excluded.name",
                (user, name, now),
            )

        self._write(fn)

    def user_names(self, users: Iterable[str]) -> dict[str, str]:
        wanted = sorted({u for u in users if isinstance(u, str)})

        def fn(conn: sqlite3.Connection) -> dict[str, str]:
            out: dict[str, str] = {}
            for i in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                out.update(conn.execute(f"SELECT user, name FROM users WHERE user IN ({marks})", chunk).fetchall())
            return out

        result: dict[str, str] = self._read(fn)
        return result

    def exists(self, doc_id: str) -> bool:
        doc_id = check_doc_id(doc_id)
        found: bool = self._read(
            lambda conn: conn.execute("SELECT 1 FROM documents WHERE id = ?", (doc_id,)).fetchone() is not None
        )
        return found

    def info(self, doc_id: str) -> DocInfo:
        doc_id = check_doc_id(doc_id)
        row = self._read(lambda conn: conn.execute(self._INFO_SQL + " WHERE d.id = ?", (doc_id,)).fetchone())
        if row is None:
            raise DocumentNotFound(doc_id)
        return self._info(row)

    def documents(self) -> list[DocInfo]:
        rows = self._read(lambda conn: conn.execute(self._INFO_SQL + " ORDER BY d.id").fetchall())
        return [self._info(r) for r in rows]

    # -- the log -----------------------------------------------------------------------

    def append(self, doc_id: str, patch: bytes, *, op_count: int, text_length: int | None = None) -> int:
        req = self._prepare(doc_id, patch, op_count, text_length)
        self._commit_queued([req])
        if req.error is not None:
            raise req.error
        return req.seq

    def append_batch(self, appends: Sequence[tuple[str, bytes, int, int | None]]) -> list[int | BaseException]:
        """Several appends ``(doc_id, patch, op_count, text_length)``, of any documents, in
        one durable transaction (with whatever other threads' appends are queued): one
        fsync for all.  Entries of one document are appended in the order given.

        For a caller that gathers the appends of many rooms and connections itself (the
        server's one writer thread) instead of one thread per append meeting here.  Each
        item's outcome is its seq, or the exception :meth:`append` would have raised for
        it alone (an item refused up front, or by the store, does not stop the others;
        a failed transaction fails every item in it); every seq returned is durable."""
        outcomes: list[_Append | BaseException] = []
        for doc_id, patch, op_count, text_length in appends:
            try:
                outcomes.append(self._prepare(doc_id, patch, op_count, text_length))
            except CowriteError as exc:
                outcomes.append(exc)
        self._commit_queued([r for r in outcomes if isinstance(r, _Append)])
        return [r if isinstance(r, BaseException) else (r.error if r.error is not None else r.seq) for r in outcomes]

    def _prepare(self, doc_id: str, patch: bytes, op_count: int, text_length: int | None) -> _Append:
        """Check one append's arguments and decode its patch (before any lock is taken)."""
        doc_id = check_doc_id(doc_id)
        if not isinstance(patch, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"a patch must be bytes, not {type(patch).__name__}")
        patch = bytes(patch)
        check_count("op_count", op_count)
        check_count("text_length", text_length, optional=True)
        try:
            ops = decode_patch(patch)
        except CowriteError as exc:
            raise InvalidArgument(f"not storing a patch that does not decode: {exc}") from exc
        return _Append(doc_id, patch, ops, op_count, text_length)

    def _commit_queued(self, reqs: list[_Append]) -> None:
        """Queue ``reqs`` and return once they are committed (or failed): whoever gets the
        connection first commits everything queued so far in one transaction."""
        if not reqs:
            return
        with self._qlock:
            self._queue += reqs
        with self._lock:
            if not all(r.done for r in reqs):  # lead a group commit of everything queued so far
                with self._qlock:
                    batch, self._queue = self._queue, []
                self._committing = len(batch)
                try:
                    self._commit_appends(batch)
                finally:
                    self._commits += 1
                    self._committed += len(batch)
                    self._committing = 0

    def _commit_appends(self, batch: list[_Append]) -> None:
        """Write ``batch`` in one transaction (lock held).  Never raises: errors go to each request."""
        try:
            conn = self._db()
            now = self._clock()
            conn.execute("BEGIN IMMEDIATE")
            try:
                # doc_id -> [key, last_seq, last_patch, ops added, text_length]
                docs: dict[str, list[Any]] = {}
                for req in batch:
                    st = docs.get(req.doc_id)
                    if st is None:
                        row = conn.execute(
                            "SELECT key, last_seq FROM documents WHERE id = ?", (req.doc_id,)
                        ).fetchone()
                        if row is None:
                            req.error = DocumentNotFound(req.doc_id)
                            continue
                        key, last = row
                        prev = conn.execute(
                            "SELECT patch FROM log WHERE doc_key = ? AND seq = ?", (key, last)
                        ).fetchone()
                        st = docs[req.doc_id] = [key, last, prev[0] if prev else None, 0, None]
                    if st[2] == req.patch:  # a retry of the newest entry: already durable
                        req.seq = st[1]
                        if req.text_length is not None:
                            st[4] = req.text_length
                        continue
                    runs, twice = batch_runs(req.ops)
                    try:
                        fresh, held_at = check_batch(
                            req.doc_id,
                            req.ops,
                            runs,
                            twice,
                            _overlapping(conn, st[0], runs),
                            lambda seqs: self._stored_ops(conn, req.doc_id, st[0], seqs),
                        )
                    except (ConflictingOps, CorruptionError) as exc:  # refused before it wrote anything
                        req.error = exc
                        continue
                    if req.text_length is not None:
                        st[4] = req.text_length
                    op_count = req.op_count
                    if held_at is not None:  # every op already stored, identically: nothing to add
                        if covers_entry(
                            runs, held_at, _entry_runs(conn, st[0], held_at), lambda r: _overlapping(conn, st[0], r)
                        ):
                            req.seq = held_at
                            continue
                        op_count = 0  # a part of a stored entry: an entry of its own, no new ops (runs.py)
                    seq = st[1] + 1
                    conn.execute(
                        "INSERT INTO log (doc_key, seq, patch, checksum, op_count, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (st[0], seq, req.patch, _digest(_LOG_TAG, seq, req.patch), op_count, now),
                    )
                    for agent, start, end in fresh:
                        conn.execute(
                            "INSERT INTO op_runs (doc_key, agent, seq_start, seq_end, log_seq) VALUES (?, ?, ?, ?, ?)",
                            (st[0], agent, start, end, seq),
                        )
                    st[1], st[2] = seq, req.patch
                    st[3] += op_count
                    req.seq = seq
                for key, last, _, added, text_length in docs.values():
                    conn.execute(
                        "UPDATE documents SET last_seq = ?, ops_count = ops_count + ?, updated_at = ?,"
                        " text_length = COALESCE(?, text_length) WHERE key = ?",
                        (last, added, now, text_length, key),
                    )
                conn.execute("COMMIT")
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
        except BaseException as exc:
            for req in batch:
                if not isinstance(req.error, (DocumentNotFound, ConflictingOps, CorruptionError)):
                    req.seq = 0
                    err = StoreError(f"append to {req.doc_id!r} failed, nothing stored: {exc}")
                    err.__cause__ = exc
                    req.error = err
        finally:
            for req in batch:
                req.done = True

    def _stored_ops(self, conn: sqlite3.Connection, doc_id: str, key: int, seqs: list[int]) -> list[Op]:
        """The ops of log entries ``seqs`` (verified), from the snapshot for pruned ones."""
        ops: list[Op] = []
        pruned = False
        for seq in seqs:
            row = conn.execute("SELECT patch, checksum FROM log WHERE doc_key = ? AND seq = ?", (key, seq)).fetchone()
            if row is None:
                pruned = True
                continue
            if not isinstance(row[0], bytes) or _digest(_LOG_TAG, seq, row[0]) != row[1]:
                raise CorruptionError(doc_id, "log", f"log seq {seq}", "checksum mismatch")
            try:
                ops += decode_patch(row[0])
            except CowriteError as exc:
                raise CorruptionError(doc_id, "log", f"log seq {seq}", f"does not decode: {exc}") from exc
        if pruned:
            snap = conn.execute(
                "SELECT seq, data, checksum FROM snapshots WHERE doc_key = ? ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
            if snap is not None:
                ops += self._decode_snapshot(doc_id, snap, None).ops_since()
        return ops

    def log_since(self, doc_id: str, seq: int = 0) -> list[tuple[int, bytes]]:
        doc_id = check_doc_id(doc_id)
        check_count("seq", seq)

        def fn(conn: sqlite3.Connection) -> tuple[int, int, list[tuple[int, bytes, bytes]]]:
            key, last, log_start = self._doc_row(conn, doc_id)
            rows = conn.execute(
                "SELECT seq, patch, checksum FROM log WHERE doc_key = ? AND seq > ? ORDER BY seq", (key, seq)
            ).fetchall()
            return last, log_start, rows

        last, log_start, rows = self._read(fn)
        if seq + 1 < log_start and seq < last:
            raise HistoryPruned(doc_id, log_start)
        return self._verified_log(doc_id, rows, seq, last)

    @staticmethod
    def _verified_log(
        doc_id: str, rows: list[tuple[int, bytes, bytes]], after: int, last: int
    ) -> list[tuple[int, bytes]]:
        """Rows ``after + 1 .. last`` exactly, checksums verified."""
        out: list[tuple[int, bytes]] = []
        expect = after + 1
        for seq, patch, checksum in rows:
            if seq != expect:
                if seq > last:
                    raise CorruptionError(doc_id, "log", f"log seq {seq}", f"entry beyond the newest seq {last}")
                raise CorruptionError(doc_id, "log", f"log seq {expect}", f"entry missing (gap before seq {seq})")
            if not isinstance(patch, bytes) or _digest(_LOG_TAG, seq, patch) != checksum:
                raise CorruptionError(doc_id, "log", f"log seq {seq}", "checksum mismatch")
            out.append((seq, patch))
            expect += 1
        if expect <= last:
            raise CorruptionError(doc_id, "log", f"log seq {expect}", f"entry missing (log ends before seq {last})")
        return out

    # -- loading -----------------------------------------------------------------------

    def load(self, doc_id: str, agent: str | None = None) -> Document:
        doc_id = check_doc_id(doc_id)

        def fn(conn: sqlite3.Connection) -> tuple[int, int, tuple[Any, ...] | None, list[Any]]:
            key, last, log_start = self._doc_row(conn, doc_id)
            snap = conn.execute(
                "SELECT seq, data, checksum FROM snapshots WHERE doc_key = ? ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
            base = snap[0] if snap is not None else 0
            rows = conn.execute(
                "SELECT seq, patch, checksum FROM log WHERE doc_key = ? AND seq > ? ORDER BY seq", (key, base)
            ).fetchall()
            return last, log_start, snap, rows

        last, log_start, snap, rows = self._read(fn)
        if snap is None:
            if log_start != 1:
                raise CorruptionError(doc_id, "snapshot", "snapshots", f"missing, yet the log before seq {log_start} was pruned")
            doc = Document(agent)
            base = 0
        else:
            base = snap[0]
            doc = self._decode_snapshot(doc_id, snap, agent)
            if base > last:
                raise CorruptionError(doc_id, "snapshot", f"snapshot seq {base}", f"covers beyond the newest log seq {last}")
        entries = self._verified_log(doc_id, rows, base, last)
        self._apply_log(doc_id, doc, entries)
        return doc

    @staticmethod
    def _decode_snapshot(doc_id: str, snap: tuple[Any, ...], agent: str | None) -> Document:
        seq, data, checksum = snap[0], snap[1], snap[2]
        where = f"snapshot seq {seq}"
        if not isinstance(data, bytes) or _digest(_SNAPSHOT_TAG, seq, data) != checksum:
            raise CorruptionError(doc_id, "snapshot", where, "checksum mismatch")
        try:
            return Document.decode(data, agent)
        except CowriteError as exc:
            raise CorruptionError(doc_id, "snapshot", where, f"does not decode: {exc}") from exc

    @staticmethod
    def _apply_log(doc_id: str, doc: Document, entries: list[tuple[int, bytes]]) -> None:
        """Merge the verified entries into ``doc``, all at once (any causal order is fine)."""
        if not entries:
            return
        decoded: list[tuple[int, list[Op]]] = []
        for seq, patch in entries:
            try:
                decoded.append((seq, decode_patch(patch)))
            except CowriteError as exc:
                raise CorruptionError(doc_id, "log", f"log seq {seq}", f"does not decode: {exc}") from exc
        try:
            doc.add_ops([op for _, ops in decoded for op in ops])
            return
        except CowriteError:
            pass
        # Find the entry to blame (add_ops left doc unchanged).  Rare path.
        pending: list[tuple[int, list[Op]]] = []
        for seq, ops in decoded:
            try:
                doc.add_ops([op for _, p in pending for op in p] + ops)
                pending = []
            except UnknownParentError:
                pending.append((seq, ops))
            except CowriteError as exc:
                raise CorruptionError(doc_id, "log", f"log seq {seq}", f"does not apply: {exc}") from exc
        if pending:
            raise CorruptionError(
                doc_id, "log", f"log seq {pending[0][0]}", "ops whose parents are in neither the snapshot nor the log"
            )
        raise CorruptionError(doc_id, "log", f"log seq {decoded[0][0]}..{decoded[-1][0]}", "does not apply")

    # -- snapshots ---------------------------------------------------------------------

    def snapshot(self, doc_id: str, doc: Document, *, prune: bool = False) -> int:
        doc_id = check_doc_id(doc_id)
        if not isinstance(doc, Document):
            raise InvalidArgument(f"snapshot takes a Document, not {type(doc).__name__}")
        data = doc.encode()
        text_length = len(doc)
        try:
            check = Document.decode(data)  # what load will see; the log entries are tried on it
        except CowriteError as exc:
            raise StoreError(f"document {doc_id!r}: its encoding does not decode, not storing it: {exc}") from exc
        if check.text != doc.text:
            raise StoreError(f"document {doc_id!r}: its encoding decodes to another text, not storing it")
        version = _version_json(check)
        now = self._clock()

        def fn(conn: sqlite3.Connection) -> int:
            key, last, _ = self._doc_row(conn, doc_id)
            prev = conn.execute(
                "SELECT seq, data, checksum, version FROM snapshots WHERE doc_key = ? ORDER BY seq DESC LIMIT 1",
                (key,),
            ).fetchone()
            covers = 0
            if prev is not None:
                # never replace a snapshot we cannot vouch for: it may hold ops doc lacks
                covers = prev[0]
                prev_version = prev[3]
                if prev_version is None:  # a snapshot from schema v1: read its version from the blob
                    prev_version = _version_json(self._decode_snapshot(doc_id, prev, None))
                elif _digest(_SNAPSHOT_TAG, covers, prev[1]) != prev[2]:
                    raise CorruptionError(doc_id, "snapshot", f"snapshot seq {covers}", "checksum mismatch")
                for agent, seq in json.loads(prev_version):
                    if check.oplog.cg.raw_to_lv(agent, seq) is None:
                        raise StoreError(
                            f"document {doc_id!r}: refusing a snapshot that lacks ops of the stored one "
                            f"(e.g. {agent}:{seq}); it would lose them"
                        )
            rows = conn.execute(
                "SELECT seq, patch, checksum FROM log WHERE doc_key = ? AND seq > ? ORDER BY seq", (key, covers)
            ).fetchall()
            # the longest run of entries after the stored snapshot that doc already holds
            for seq, patch in self._verified_log(doc_id, rows, covers, last):
                n = len(check.oplog)
                try:
                    check.apply_patch(patch)
                except UnknownParentError:
                    break
                except CowriteError as exc:
                    raise CorruptionError(doc_id, "log", f"log seq {seq}", f"does not apply: {exc}") from exc
                if len(check.oplog) != n:
                    break
                covers = seq
            conn.execute("DELETE FROM snapshots WHERE doc_key = ?", (key,))
            conn.execute(
                "INSERT INTO snapshots (doc_key, seq, data, checksum, created_at, version, text_length)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, covers, data, _digest(_SNAPSHOT_TAG, covers, data), now, version, text_length),
            )
            if prune and covers:
                conn.execute("DELETE FROM log WHERE doc_key = ? AND seq <= ?", (key, covers))
                conn.execute("UPDATE documents SET log_start = MAX(log_start, ?) WHERE key = ?", (covers + 1, key))
            # doc's length is the text's only if doc holds the whole log (or nothing better is known)
            conn.execute(
                "UPDATE documents SET updated_at = ?,"
                " text_length = CASE WHEN ? OR text_length IS NULL THEN ? ELSE text_length END WHERE key = ?",
                (now, covers == last, text_length, key),
            )
            return covers

        result: int = self._write(fn)
        return result

    # -- titles and named versions ------------------------------------------------------

    def set_title(self, doc_id: str, title: str) -> None:
        doc_id = check_doc_id(doc_id)
        title = check_title(title)

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("UPDATE documents SET title = ? WHERE id = ?", (title, doc_id)).rowcount == 0:
                raise DocumentNotFound(doc_id)

        self._write(fn)

    def add_named_version(self, record: NamedVersionRecord) -> bool:
        check_named_version(record)
        doc_id = check_doc_id(record.doc)

        def fn(conn: sqlite3.Connection) -> bool:
            key = self._doc_row(conn, doc_id)[0]
            if conn.execute(
                "SELECT 1 FROM named_versions WHERE doc_key = ? AND name = ?", (key, record.name)
            ).fetchone() is not None:
                return False
            conn.execute(
                "INSERT INTO named_versions (doc_key, name, version, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                (key, record.name, version_json(record.version), record.created_by, record.created_at),
            )
            return True

        done: bool = self._write(fn)
        return done

    def named_versions(self, doc_id: str) -> list[NamedVersionRecord]:
        doc_id = check_doc_id(doc_id)
        rows = self._read(
            lambda conn: conn.execute(
                "SELECT v.name, v.version, v.created_by, v.created_at FROM named_versions v"
                " JOIN documents d ON d.key = v.doc_key WHERE d.id = ? ORDER BY v.created_at, v.name",
                (doc_id,),
            ).fetchall()
        )
        return [named_version_from_row(doc_id, *row) for row in rows]

    def delete_named_version(self, doc_id: str, name: str) -> bool:
        doc_id = check_doc_id(doc_id)
        name = check_version_name(name)

        def fn(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM named_versions WHERE name = ? AND doc_key = (SELECT key FROM documents WHERE id = ?)",
                (name, doc_id),
            )
            return cur.rowcount > 0

        done: bool = self._write(fn)
        return done

    # -- accounts ----------------------------------------------------------------------

    def add_account(self, account: AccountRecord, *, invite: str | None = None, now: float | None = None) -> None:
        check_account(account)
        if invite is not None:
            check_key(invite)
        check_time("now", now, optional=True)
        at = account.created_at if now is None else now

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM accounts WHERE username = ?", (account.username,)).fetchone():
                raise AccountExists(account.username)
            if invite is not None:
                used = conn.execute(
                    "UPDATE invites SET used_by = ?, used_at = ?"
                    " WHERE key = ? AND used_by IS NULL AND revoked = 0 AND expires_at > ?",
                    (account.username, at, invite, at),
                ).rowcount
                if used != 1:
                    raise SignUpRefused("this invite is unknown, revoked, used or expired")
            conn.execute(
                f"INSERT INTO accounts ({_ACCOUNT_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                (account.username, account.name, account.password_hash, int(account.admin),
                 int(account.disabled), account.created_at),
            )

        self._write(fn)

    def account(self, username: str) -> AccountRecord | None:
        if not isinstance(username, str):
            raise InvalidArgument(f"a username must be a str, not {type(username).__name__}")
        row = self._read(
            lambda conn: conn.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE username = ?", (username,)).fetchone()
        )
        return None if row is None else account_from_row(row)

    def accounts(self) -> list[AccountRecord]:
        rows = self._read(lambda conn: conn.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY username").fetchall())
        return [account_from_row(r) for r in rows]

    def count_accounts(self) -> int:
        n: int = self._read(lambda conn: conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0])
        return n

    def update_account(
        self,
        username: str,
        *,
        name: str | None = None,
        admin: bool | None = None,
        disabled: bool | None = None,
        revoke_sessions: bool = False,
    ) -> list[str] | None:
        check_text("username", username)
        check_text("name", name, optional=True)
        check_flag("admin", admin, optional=True)
        check_flag("disabled", disabled, optional=True)
        check_flag("revoke_sessions", revoke_sessions)

        def fn(conn: sqlite3.Connection) -> list[str] | None:
            found = conn.execute(
                "UPDATE accounts SET name = COALESCE(?, name), admin = COALESCE(?, admin),"
                " disabled = COALESCE(?, disabled) WHERE username = ?",
                (name, None if admin is None else int(admin), None if disabled is None else int(disabled), username),
            ).rowcount
            if not found:
                return None
            return self._delete_sessions(conn, username, None) if revoke_sessions else []

        result: list[str] | None = self._write(fn)
        return result

    def set_password_hash(
        self,
        username: str,
        password_hash: str,
        *,
        expected: str | None = None,
        revoke_sessions: bool = False,
        keep_session: str | None = None,
    ) -> list[str] | None:
        check_text("username", username)
        check_text("password_hash", password_hash)
        check_text("expected", expected, optional=True)
        check_flag("revoke_sessions", revoke_sessions)
        if keep_session is not None:
            check_key(keep_session)

        def fn(conn: sqlite3.Connection) -> list[str] | None:
            if expected is None:
                found = conn.execute(
                    "UPDATE accounts SET password_hash = ? WHERE username = ?", (password_hash, username)
                ).rowcount
            else:
                found = conn.execute(
                    "UPDATE accounts SET password_hash = ? WHERE username = ? AND password_hash = ?",
                    (password_hash, username, expected),
                ).rowcount
            if not found:
                return None
            return self._delete_sessions(conn, username, keep_session) if revoke_sessions else []

        result: list[str] | None = self._write(fn)
        return result

    # -- sessions ----------------------------------------------------------------------

    def add_session(self, session: SessionRecord) -> None:
        check_session(session)

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM accounts WHERE username = ?", (session.user,)).fetchone() is None:
                raise InvalidArgument(f"no account {session.user!r} to add a session to")
            if conn.execute("SELECT 1 FROM sessions WHERE key = ?", (session.key,)).fetchone() is not None:
                raise InvalidArgument("a session with this key exists")
            conn.execute(
                f"INSERT INTO sessions ({_SESSION_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                (session.key, session.user, session.csrf_token, session.created_at, session.last_seen,
                 session.expires_at),
            )

        self._write(fn)

    def session(self, key: str) -> SessionRecord | None:
        check_key(key)
        row = self._read(lambda conn: conn.execute(f"SELECT {_SESSION_COLS} FROM sessions WHERE key = ?", (key,)).fetchone())
        return None if row is None else session_from_row(row)

    def sessions(self, user: str) -> list[SessionRecord]:
        check_text("user", user)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE user = ? ORDER BY created_at, key", (user,)
            ).fetchall()
        )
        return [session_from_row(r) for r in rows]

    def touch_session(self, key: str, last_seen: float) -> None:
        check_key(key)
        check_time("last_seen", last_seen)
        self._write(
            lambda conn: conn.execute(
                "UPDATE sessions SET last_seen = ? WHERE key = ? AND last_seen < ?", (last_seen, key, last_seen)
            )
        )

    def delete_session(self, key: str) -> SessionRecord | None:
        check_key(key)

        def fn(conn: sqlite3.Connection) -> SessionRecord | None:
            row = conn.execute(f"SELECT {_SESSION_COLS} FROM sessions WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM sessions WHERE key = ?", (key,))
            return session_from_row(row)

        result: SessionRecord | None = self._write(fn)
        return result

    def delete_sessions(self, user: str, *, keep: str | None = None) -> list[str]:
        check_text("user", user)
        if keep is not None:
            check_key(keep)
        result: list[str] = self._write(lambda conn: self._delete_sessions(conn, user, keep))
        return result

    @staticmethod
    def _delete_sessions(conn: sqlite3.Connection, user: str, keep: str | None) -> list[str]:
        keys = [
            str(r[0])
            for r in conn.execute("SELECT key FROM sessions WHERE user = ? ORDER BY key", (user,))
            if r[0] != keep
        ]
        conn.executemany("DELETE FROM sessions WHERE key = ?", [(k,) for k in keys])
        return keys

    def purge_sessions(self, *, now: float, idle_before: float) -> int:
        check_time("now", now)
        check_time("idle_before", idle_before)
        n: int = self._write(
            lambda conn: conn.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR last_seen < ?", (now, idle_before)
            ).rowcount
        )
        return n

    # -- invites -----------------------------------------------------------------------

    def add_invite(self, invite: InviteRecord) -> None:
        check_invite(invite)

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM invites WHERE key = ?", (invite.key,)).fetchone() is not None:
                raise InvalidArgument("an invite with this key exists")
            conn.execute(
                f"INSERT INTO invites ({_INVITE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (invite.key, invite.created_by, invite.created_at, invite.expires_at, invite.used_by,
                 invite.used_at, int(invite.revoked)),
            )

        self._write(fn)

    def invite(self, key: str) -> InviteRecord | None:
        check_key(key)
        row = self._read(lambda conn: conn.execute(f"SELECT {_INVITE_COLS} FROM invites WHERE key = ?", (key,)).fetchone())
        return None if row is None else invite_from_row(row)

    def invites(self) -> list[InviteRecord]:
        rows = self._read(
            lambda conn: conn.execute(f"SELECT {_INVITE_COLS} FROM invites ORDER BY created_at DESC, key").fetchall()
        )
        return [invite_from_row(r) for r in rows]

    def revoke_invite(self, key: str) -> bool:
        check_key(key)
        found: bool = self._write(
            lambda conn: conn.execute("UPDATE invites SET revoked = 1 WHERE key = ?", (key,)).rowcount == 1
        )
        return found

    # -- document access ---------------------------------------------------------------

    @staticmethod
    def _roles(conn: sqlite3.Connection, key: int) -> dict[str, str]:
        return {u: r for u, r in conn.execute("SELECT user, role FROM members WHERE doc_key = ?", (key,))}

    def members(self, doc_id: str) -> list[MemberRecord]:
        doc_id = check_doc_id(doc_id)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_MEMBER_COLS} FROM members m JOIN documents d ON d.key = m.doc_key"
                " WHERE d.id = ? ORDER BY m.added_at, m.user",
                (doc_id,),
            ).fetchall()
        )
        return [member_from_row(r) for r in rows]

    def memberships(self, user: str) -> list[MemberRecord]:
        check_text("user", user)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_MEMBER_COLS} FROM members m JOIN documents d ON d.key = m.doc_key"
                " WHERE m.user = ? ORDER BY d.id",
                (user,),
            ).fetchall()
        )
        return [member_from_row(r) for r in rows]

    def owners(self) -> dict[str, str]:
        rows = self._read(
            lambda conn: conn.execute(
                "SELECT d.id, m.user FROM members m JOIN documents d ON d.key = m.doc_key"
                " WHERE m.role = 'owner' ORDER BY d.id, m.user"
            ).fetchall()
        )
        return {doc: user for doc, user in rows}

    def update_members(
        self,
        doc_id: str,
        *,
        expected: Mapping[str, str],
        put: Sequence[MemberRecord] = (),
        remove: Sequence[str] = (),
        use_invite: str | None = None,
        now: float | None = None,
    ) -> bool:
        doc_id = check_doc_id(doc_id)
        want = check_expected(expected)
        puts = [check_member(doc_id, m) for m in put]
        if isinstance(remove, str) or not all(isinstance(u, str) for u in remove):
            raise InvalidArgument("remove is a sequence of usernames")
        removes = list(remove)
        if use_invite is not None:
            check_key(use_invite)
            if len(puts) != 1:
                raise InvalidArgument("an invite adds exactly one member")
            check_time("now", now)
        else:
            check_time("now", now, optional=True)

        def fn(conn: sqlite3.Connection) -> bool:
            key = self._doc_row(conn, doc_id)[0]
            if self._roles(conn, key) != want:
                return False
            for m in puts:
                if conn.execute("SELECT 1 FROM accounts WHERE username = ?", (m.user,)).fetchone() is None:
                    raise InvalidArgument(f"no account {m.user!r} to make a member")
            if use_invite is not None:
                used = conn.execute(
                    "UPDATE doc_invites SET used_by = ?, used_at = ? WHERE key = ? AND doc_key = ?"
                    " AND used_by IS NULL AND revoked = 0 AND expires_at > ?",
                    (puts[0].user, now, use_invite, key, now),
                ).rowcount
                if used != 1:
                    raise InviteRefused("this invite is unknown, revoked, used or expired")
            conn.executemany("DELETE FROM members WHERE doc_key = ? AND user = ?", [(key, u) for u in removes])
            conn.executemany(
                "INSERT INTO members (doc_key, user, role, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (doc_key, user) DO UPDATE SET role = excluded.role,"
                " added_by = excluded.added_by, added_at = excluded.added_at",
                [(key, m.user, m.role, m.added_by, m.added_at) for m in puts],
            )
            return True

        done: bool = self._write(fn)
        return done

    def clear_access(self, doc_id: str) -> list[MemberRecord]:
        doc_id = check_doc_id(doc_id)

        def fn(conn: sqlite3.Connection) -> list[MemberRecord]:
            row = conn.execute("SELECT key FROM documents WHERE id = ?", (doc_id,)).fetchone()
            if row is None:
                return []
            key = row[0]
            gone = [
                member_from_row(r)
                for r in conn.execute(
                    f"SELECT {_MEMBER_COLS} FROM members m JOIN documents d ON d.key = m.doc_key"
                    " WHERE m.doc_key = ? ORDER BY m.added_at, m.user",
                    (key,),
                )
            ]
            for table in ("members", "links", "doc_invites"):
                conn.execute(f"DELETE FROM {table} WHERE doc_key = ?", (key,))
            return gone

        result: list[MemberRecord] = self._write(fn)
        return result

    def link(self, doc_id: str) -> LinkRecord | None:
        doc_id = check_doc_id(doc_id)
        row = self._read(
            lambda conn: conn.execute(
                "SELECT d.id, l.role, l.key, l.set_by, l.set_at FROM links l JOIN documents d ON d.key = l.doc_key"
                " WHERE d.id = ?",
                (doc_id,),
            ).fetchone()
        )
        return None if row is None else LinkRecord(row[0], row[1], row[2], row[3], row[4])

    def set_link(self, doc_id: str, link: LinkRecord | None, *, expected: Mapping[str, str] | None = None) -> bool:
        doc_id = check_doc_id(doc_id)
        want = None if expected is None else check_expected(expected)
        if link is not None:
            if not isinstance(link, LinkRecord) or link.doc != doc_id:
                raise InvalidArgument(f"set_link takes a LinkRecord of {doc_id!r} or None")
            check_text("role", link.role)
            check_text("key", link.key)
            check_text("set_by", link.set_by)
            check_time("set_at", link.set_at)

        def fn(conn: sqlite3.Connection) -> bool:
            key = self._doc_row(conn, doc_id)[0]
            if want is not None and self._roles(conn, key) != want:
                return False
            conn.execute("DELETE FROM links WHERE doc_key = ?", (key,))
            if link is not None:
                conn.execute(
                    "INSERT INTO links (doc_key, role, key, set_by, set_at) VALUES (?, ?, ?, ?, ?)",
                    (key, link.role, link.key, link.set_by, link.set_at),
                )
            return True

        done: bool = self._write(fn)
        return done

    def add_doc_invite(self, invite: DocInviteRecord, *, expected: Mapping[str, str] | None = None) -> bool:
        check_doc_invite(invite)
        doc_id = check_doc_id(invite.doc)
        want = None if expected is None else check_expected(expected)
        check_doc_invite_fields(invite)

        def fn(conn: sqlite3.Connection) -> bool:
            key = self._doc_row(conn, doc_id)[0]
            if want is not None and self._roles(conn, key) != want:
                return False
            if conn.execute("SELECT 1 FROM doc_invites WHERE key = ?", (invite.key,)).fetchone() is not None:
                raise InvalidArgument("a document invite with this key exists")
            conn.execute(
                "INSERT INTO doc_invites (key, doc_key, role, created_by, created_at, expires_at, used_by, used_at,"
                " revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (invite.key, key, invite.role, invite.created_by, invite.created_at, invite.expires_at,
                 invite.used_by, invite.used_at, int(invite.revoked)),
            )
            return True

        done: bool = self._write(fn)
        return done

    def doc_invite(self, key: str) -> DocInviteRecord | None:
        check_key(key)
        row = self._read(
            lambda conn: conn.execute(
                f"SELECT {_DOC_INVITE_COLS} FROM doc_invites i JOIN documents d ON d.key = i.doc_key WHERE i.key = ?",
                (key,),
            ).fetchone()
        )
        return None if row is None else doc_invite_from_row(row)

    def doc_invites(self, doc_id: str) -> list[DocInviteRecord]:
        doc_id = check_doc_id(doc_id)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_DOC_INVITE_COLS} FROM doc_invites i JOIN documents d ON d.key = i.doc_key"
                " WHERE d.id = ? ORDER BY i.created_at DESC, i.key",
                (doc_id,),
            ).fetchall()
        )
        return [doc_invite_from_row(r) for r in rows]

    def revoke_doc_invite(self, doc_id: str, key: str) -> bool:
        doc_id = check_doc_id(doc_id)
        check_key(key)
        found: bool = self._write(
            lambda conn: conn.execute(
                "UPDATE doc_invites SET revoked = 1 WHERE key = ?"
                " AND doc_key = (SELECT key FROM documents WHERE id = ?)",
                (key, doc_id),
            ).rowcount
            == 1
        )
        return found

    # -- personal access tokens --------------------------------------------------------

    def add_token(self, token: TokenRecord) -> None:
        check_token(token)
        docs = json.dumps(list(token.docs), separators=(",", ":"))

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM accounts WHERE username = ?", (token.user,)).fetchone() is None:
                raise InvalidArgument(f"no account {token.user!r} to give a token to")
            if conn.execute("SELECT 1 FROM tokens WHERE key = ? OR id = ?", (token.key, token.id)).fetchone():
                raise InvalidArgument("a token with this key or id exists")
            conn.execute(
                f"INSERT INTO tokens ({_TOKEN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (token.key, token.id, token.user, token.label, docs, token.role, token.created_at,
                 token.expires_at, token.last_used, int(token.revoked)),
            )

        self._write(fn)

    def token(self, key: str) -> TokenRecord | None:
        check_key(key)
        row = self._read(lambda conn: conn.execute(f"SELECT {_TOKEN_COLS} FROM tokens WHERE key = ?", (key,)).fetchone())
        return None if row is None else _token(row)

    def token_by_id(self, token_id: str) -> TokenRecord | None:
        check_text("token_id", token_id)
        row = self._read(
            lambda conn: conn.execute(f"SELECT {_TOKEN_COLS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
        )
        return None if row is None else _token(row)

    def tokens(self, user: str) -> list[TokenRecord]:
        check_text("user", user)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_TOKEN_COLS} FROM tokens WHERE user = ? ORDER BY created_at, id", (user,)
            ).fetchall()
        )
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        check_text("token_id", token_id)
        found: bool = self._write(
            lambda conn: conn.execute("UPDATE tokens SET revoked = 1 WHERE id = ?", (token_id,)).rowcount == 1
        )
        return found

    def touch_token(self, key: str, last_used: float) -> None:
        check_key(key)
        check_time("last_used", last_used)
        self._write(
            lambda conn: conn.execute(
                "UPDATE tokens SET last_used = ? WHERE key = ? AND (last_used IS NULL OR last_used < ?)",
                (last_used, key, last_used),
            )
        )

    # -- comments (checks and rules: store/comments.py) ---------------------------------

    @staticmethod
    def _comment_row(conn: sqlite3.Connection, key: int, comment_id: str) -> CommentRecord | None:
        row = conn.execute(f"SELECT {COMMENT_COLS} FROM comments WHERE doc_key = ? AND id = ?", (key, comment_id)).fetchone()
        return None if row is None else comment_from_row(row)

    @staticmethod
    def _next_comment_rev(conn: sqlite3.Connection, key: int) -> int:
        row = conn.execute("SELECT COALESCE(MAX(rev), 0) FROM comments WHERE doc_key = ?", (key,)).fetchone()
        return int(row[0]) + 1

    def add_comment(self, doc_id: str, comment: CommentRecord) -> CommentRecord:
        doc_id = check_doc_id(doc_id)
        c = check_comment(comment)

        def fn(conn: sqlite3.Connection) -> CommentRecord:
            key = self._doc_row(conn, doc_id)[0]
            if self._comment_row(conn, key, c.id) is not None:
                raise InvalidArgument(f"comment {c.id!r} exists")
            if not c.is_thread:
                check_thread_of(c, self._comment_row(conn, key, c.thread))
            stored = replace(c, rev=self._next_comment_rev(conn, key))
            conn.execute(
                f"INSERT INTO comments (doc_key, {COMMENT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, stored.id, stored.thread, stored.author, stored.body, stored.anchor, stored.quote,
                 stored.created_at, stored.edited_at, int(stored.resolved), 0, stored.rev),
            )
            return stored

        result: CommentRecord = self._write(fn)
        return result

    def comments(self, doc_id: str) -> list[CommentRecord]:
        doc_id = check_doc_id(doc_id)

        def fn(conn: sqlite3.Connection) -> list[CommentRecord]:
            key = self._doc_row(conn, doc_id)[0]
            rows = conn.execute(
                f"SELECT {COMMENT_COLS} FROM comments WHERE doc_key = ? ORDER BY created_at, id", (key,)
            ).fetchall()
            return [comment_from_row(r) for r in rows]

        result: list[CommentRecord] = self._read(fn)
        return result

    def comment(self, doc_id: str, comment_id: str) -> CommentRecord | None:
        doc_id = check_doc_id(doc_id)
        check_comment_id(comment_id)

        def fn(conn: sqlite3.Connection) -> CommentRecord | None:
            row = conn.execute("SELECT key FROM documents WHERE id = ?", (doc_id,)).fetchone()
            return None if row is None else self._comment_row(conn, row[0], comment_id)

        result: CommentRecord | None = self._read(fn)
        return result

    def update_comment(
        self,
        doc_id: str,
        comment_id: str,
        *,
        body: str | None = None,
        resolved: bool | None = None,
        delete: bool = False,
        now: float,
    ) -> CommentRecord | None:
        doc_id = check_doc_id(doc_id)
        check_comment_id(comment_id)

        def fn(conn: sqlite3.Connection) -> CommentRecord | None:
            key = self._doc_row(conn, doc_id)[0]
            current = self._comment_row(conn, key, comment_id)
            if current is None:
                return None
            new = updated(current, body=body, resolved=resolved, delete=delete, now=now)
            if new == current:
                return current
            new = replace(new, rev=self._next_comment_rev(conn, key))
            conn.execute(
                "UPDATE comments SET body = ?, edited_at = ?, resolved = ?, deleted = ?, rev = ?"
                " WHERE doc_key = ? AND id = ?",
                (new.body, new.edited_at, int(new.resolved), int(new.deleted), new.rev, key, comment_id),
            )
            return new

        result: CommentRecord | None = self._write(fn)
        return result

    def comments_revision(self, doc_id: str) -> int:
        doc_id = check_doc_id(doc_id)

        def fn(conn: sqlite3.Connection) -> int:
            key = self._doc_row(conn, doc_id)[0]
            return self._next_comment_rev(conn, key) - 1

        result: int = self._read(fn)
        return result

    # -- suggestions (checks: store/suggestions.py) ---------------------------------------

    @staticmethod
    def _suggestion_row(conn: sqlite3.Connection, key: int, suggestion_id: str) -> SuggestionRecord | None:
        row = conn.execute(
            f"SELECT {SUGGESTION_COLS} FROM suggestions WHERE doc_key = ? AND id = ?", (key, suggestion_id)
        ).fetchone()
        return None if row is None else suggestion_from_row(row)

    def put_suggestion(self, doc_id: str, suggestion: SuggestionRecord) -> SuggestionRecord:
        doc_id = check_doc_id(doc_id)
        s = check_suggestion_record(suggestion)

        def fn(conn: sqlite3.Connection) -> SuggestionRecord:
            key = self._doc_row(conn, doc_id)[0]
            current = self._suggestion_row(conn, key, s.id)
            if current is None:
                conn.execute(
                    f"INSERT INTO suggestions (doc_key, {SUGGESTION_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (key, s.id, s.author, s.patch, s.created_at, s.updated_at),
                )
                return s
            if current.author != s.author:
                raise InvalidArgument(f"suggestion {s.id!r} is another author's")
            conn.execute(
                "UPDATE suggestions SET patch = ?, updated_at = ? WHERE doc_key = ? AND id = ?",
                (s.patch, s.updated_at, key, s.id),
            )
            return replace(s, created_at=current.created_at)

        result: SuggestionRecord = self._write(fn)
        return result

    def suggestions(self, doc_id: str) -> list[SuggestionRecord]:
        doc_id = check_doc_id(doc_id)

        def fn(conn: sqlite3.Connection) -> list[SuggestionRecord]:
            key = self._doc_row(conn, doc_id)[0]
            rows = conn.execute(
                f"SELECT {SUGGESTION_COLS} FROM suggestions WHERE doc_key = ? ORDER BY created_at, id", (key,)
            ).fetchall()
            return [suggestion_from_row(r) for r in rows]

        result: list[SuggestionRecord] = self._read(fn)
        return result

    def suggestion(self, doc_id: str, suggestion_id: str) -> SuggestionRecord | None:
        doc_id = check_doc_id(doc_id)
        check_suggestion_id(suggestion_id)

        def fn(conn: sqlite3.Connection) -> SuggestionRecord | None:
            row = conn.execute("SELECT key FROM documents WHERE id = ?", (doc_id,)).fetchone()
            return None if row is None else self._suggestion_row(conn, row[0], suggestion_id)

        result: SuggestionRecord | None = self._read(fn)
        return result

    def delete_suggestion(self, doc_id: str, suggestion_id: str) -> bool:
        doc_id = check_doc_id(doc_id)
        check_suggestion_id(suggestion_id)

        def fn(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM suggestions WHERE id = ? AND doc_key = (SELECT key FROM documents WHERE id = ?)",
                (suggestion_id, doc_id),
            )
            return cur.rowcount > 0

        done: bool = self._write(fn)
        return done

    # -- sign-in throttling ------------------------------------------------------------

    def throttle_records(self, scope: str, keys: Sequence[str]) -> dict[str, ThrottleRecord]:
        check_throttle_scope(scope)
        wanted = check_throttle_keys(keys)
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {THROTTLE_COLS} FROM throttle WHERE scope = ? AND key IN ({marks})", (scope, *wanted)
            ).fetchall()
        )
        return dict(throttle_from_row(r) for r in rows)

    def update_throttle(self, scope: str, key: str, change: ThrottleChange) -> ThrottleRecord | None:
        check_throttle_scope(scope)
        check_throttle_key(key)

        def fn(conn: sqlite3.Connection) -> ThrottleRecord | None:
            # BEGIN IMMEDIATE holds the database's write lock: no other process updates meanwhile
            row = conn.execute(f"SELECT {THROTTLE_COLS} FROM throttle WHERE scope = ? AND key = ?", (scope, key)).fetchone()
            new = change(None if row is None else throttle_from_row(row)[1])
            if new is None:
                conn.execute("DELETE FROM throttle WHERE scope = ? AND key = ?", (scope, key))
                return None
            check_throttle_record(new)
            conn.execute(
                "INSERT INTO throttle (scope, key, failures, failed_at, wait_until) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (scope, key) DO UPDATE SET failures = excluded.failures,"
                " failed_at = excluded.failed_at, wait_until = excluded.wait_until",
                (scope, key, float(new.failures), float(new.at), float(new.until)),
            )
            return new

        result: ThrottleRecord | None = self._write(fn)
        return result

    def purge_throttle(self, *, before: float) -> int:
        check_time("before", before)
        n: int = self._write(
            lambda conn: conn.execute(
                "DELETE FROM throttle WHERE failed_at < ? AND wait_until <= ?", (before, before)
            ).rowcount
        )
        return n

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
