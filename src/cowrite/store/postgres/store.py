"""``PostgresStore``: the store contract on PostgreSQL, for several servers sharing one database.

Same records, checksums, errors and corruption checks as :class:`~cowrite.store.SQLiteStore`
(the verification code is shared with it, so both backends judge damage alike).  What
differs is how writers are ordered, since several processes on several machines write
at once:

* **The log order is decided by PostgreSQL.**  An append locks its document's row
  (``SELECT ... FOR UPDATE``), reads ``last_seq`` there, inserts ``last_seq + 1`` and
  raises ``last_seq``, all in one transaction: two servers appending to one document
  at the same instant queue on that row lock and get consecutive seqs, and
  ``PRIMARY KEY (doc_key, seq)`` guards the rule anyway.  A retry of the newest entry
  (same bytes) is recognised under the same lock and returns its seq, like SQLite.
* **Op ids are checked under that lock too** (:mod:`cowrite.store.runs`, the
  ``op_runs`` index): a batch whose ``(agent, seq)`` ids are stored with other content
  is refused with :class:`ConflictingOps` and nothing of it is stored, so of two servers
  committing conflicting ops for one agent at once exactly one wins.
* **Every other change to a document** (snapshot, members, link, invites, delete)
  takes the same row lock first, so a compare-and-set reads what it then writes.
* **Reads run in one REPEATABLE READ, READ ONLY transaction**: one consistent view,
  as SQLite's read transaction gives (the newest seq and the log rows agree).
* **Durability**: ``synchronous_commit = on`` is set on every connection, and a call
  returns only after its ``COMMIT`` returned.  If the connection is lost during the
  ``COMMIT`` the outcome is unknown: that is a :class:`StoreUnavailable` saying so
  (never an acknowledgement); the pool then replaces the broken connection.
* **A dead, stopped or partitioned database is an error within seconds**, never a hang
  for the OS's TCP timeouts: libpq's ``connect_timeout``, TCP keepalives and
  ``tcp_user_timeout`` (unless the URL sets them), the pool's ``timeout`` for a free
  connection, and on every session ``statement_timeout`` (a query, lock waits
  included) and ``idle_in_transaction_session_timeout`` (a server cut off in the
  middle of a transaction must not hold a document's row lock, and so stall every
  other server's commits to it, for longer than that).  Losing the database
  (connection refused or lost, a timeout, the database shutting down) is
  :class:`StoreUnavailable`, so a server can tell an outage from a refusal.

Connections come from a :class:`psycopg_pool.ConnectionPool` (thread-safe; each call
holds one connection for one transaction).  Constraint violations that a race can
cause map to the same errors as SQLite's checks (:class:`DocumentExists`,
:class:`AccountExists`, :class:`InvalidArgument`); a value PostgreSQL cannot store
(e.g. a NUL character in a text) is :class:`InvalidArgument`, nothing stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from ...engine import CowriteError, Document, Op, UnknownParentError, decode_patch
from ..base import (
    MAX_USER_NAME,
    AccountExists,
    AccountRecord,
    CorruptionError,
    DocInfo,
    DocInviteRecord,
    DocumentExists,
    DocumentNotFound,
    HistoryPruned,
    InvalidArgument,
    InviteRecord,
    InviteRefused,
    LinkRecord,
    MemberRecord,
    NamedVersionRecord,
    SessionRecord,
    SignUpRefused,
    Store,
    StoreError,
    TokenRecord,
    check_doc_id,
)
from ...errors import StoreUnavailable

# The record checks, checksums and log verification are the SQLite backend's, shared on
# purpose: both backends must refuse the same input and report the same damage.
from ..records import (
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
from ..sqlite import (
    _LOG_TAG,
    _SNAPSHOT_TAG,
    SQLiteStore,
    _digest,
    _version_json,
)
from ..runs import Range, batch_runs, check_batch, covers_entry
from ..suggestions import (
    SUGGESTION_COLS,
    SuggestionRecord,
    check_suggestion_id,
    check_suggestion_record,
    suggestion_from_row,
)
from ..comments import (
    COMMENT_COLS,
    CommentRecord,
    check_comment,
    check_comment_id,
    check_thread_of,
    comment_from_row,
    updated,
)
from ..throttle import (
    THROTTLE_COLS,
    ThrottleChange,
    ThrottleRecord,
    check_throttle_key,
    check_throttle_keys,
    check_throttle_record,
    check_throttle_scope,
    throttle_from_row,
)
from ..versions import check_named_version, check_title, check_version_name, named_version_from_row, version_json
from .schema import migrate, overlapping

__all__ = ["PostgresStore"]

Conn = psycopg.Connection[TupleRow]

_verified_log = SQLiteStore._verified_log
_apply_log = SQLiteStore._apply_log
_decode_snapshot = SQLiteStore._decode_snapshot

_ACCOUNT_COLS = "username, name, password_hash, admin, disabled, created_at"
_SESSION_COLS = "key, user_id, csrf_token, created_at, last_seen, expires_at"
_INVITE_COLS = "key, created_by, created_at, expires_at, used_by, used_at, revoked"
_MEMBER_COLS = "d.id, m.user_id, m.role, m.added_by, m.added_at"
_DOC_INVITE_COLS = "i.key, d.id, i.role, i.created_by, i.created_at, i.expires_at, i.used_by, i.used_at, i.revoked"
_TOKEN_COLS = "key, id, user_id, label, docs, role, created_at, expires_at, last_used, revoked"

_INFO_SQL = """
    SELECT d.id, d.created_at, d.updated_at, d.last_seq, d.ops_count, COALESCE(s.seq, 0), d.text_length,
           COALESCE(octet_length(s.data), 0),
           COALESCE((SELECT SUM(octet_length(l.patch)) FROM log l
                     WHERE l.doc_key = d.key AND l.seq > COALESCE(s.seq, 0)), 0)::bigint,
           d.title
    FROM documents d
    LEFT JOIN LATERAL (SELECT seq, data FROM snapshots WHERE doc_key = d.key ORDER BY seq DESC LIMIT 1) s ON true
"""


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


def _token(row: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(row[0], row[1], row[2], row[3], tuple(row[4]), row[5], row[6], row[7], row[8], bool(row[9]))


def _redacted(url: str) -> str:
    """The URL as it may be shown: host, port, database, user; never the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://?"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


_NETWORK_DEFAULTS = {
    # A dead or partitioned database must become an error within seconds, not hang a
    # commit (and the room waiting on it) for the OS's TCP timeouts of many minutes.
    "connect_timeout": "3",  # libpq counts whole seconds, at least 2
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
    "tcp_user_timeout": "5000",  # ms of unacknowledged data before the connection fails
}

_LOST = (psycopg.OperationalError, psycopg.InterfaceError)
"""What psycopg raises when the database cannot be reached or used: refused, lost, timed
out (``statement_timeout``), shutting down, out of connections."""


def _connect_kwargs(url: str) -> dict[str, Any]:
    """Autocommit connections (transactions are explicit), with the network defaults above
    for what the URL does not set itself."""
    given = conninfo_to_dict(url)
    kwargs: dict[str, Any] = {k: v for k, v in _NETWORK_DEFAULTS.items() if k not in given}
    kwargs["autocommit"] = True
    return kwargs


def _libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy's spelling) as libpq reads it."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower().startswith("postgresql+"):
        return "postgresql://" + rest
    return url


class PostgresStore(Store):
    """A :class:`~cowrite.store.Store` in a PostgreSQL database (the tables of the
    connection's current schema, created or migrated on open).

    ``url`` is a libpq connection URI (``postgresql://user@host:5432/db``; query
    parameters such as ``?options=-csearch_path%3Dmyschema`` pass through).
    ``min_size``/``max_size`` bound the connection pool; ``timeout`` is how long a
    call waits for a connection (and the open for the first one), in seconds;
    ``statement_timeout`` how long one statement may run (lock waits included) and
    ``idle_in_transaction_timeout`` how long the database keeps a transaction whose
    client went silent, both in seconds (migrations on open are not cut off).
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
        statement_timeout: float = 10.0,
        idle_in_transaction_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise InvalidArgument("PostgresStore needs a postgresql:// URL")
        if type(min_size) is not int or type(max_size) is not int or not 0 <= min_size <= max_size or max_size < 1:
            raise InvalidArgument(f"pool sizes must be ints with 0 <= min_size <= max_size >= 1, not {min_size}, {max_size}")
        self.url = _libpq_url(url)
        self._shown = _redacted(self.url)
        self._clock = clock
        self._timeout = timeout
        for name, value in (("statement_timeout", statement_timeout), ("idle_in_transaction_timeout", idle_in_transaction_timeout)):
            if type(value) not in (int, float) or not 0 < value < 86400:
                raise InvalidArgument(f"{name} must be a number of seconds in (0, 86400), not {value!r}")
        self._session_settings = (
            f"SET statement_timeout TO {round(statement_timeout * 1000)};"
            f" SET idle_in_transaction_session_timeout TO {round(idle_in_transaction_timeout * 1000)}"
        )
        where = f"PostgreSQL store {self._shown}"
        try:
            conninfo_to_dict(self.url)
        except psycopg.Error as exc:
            raise InvalidArgument(f"bad PostgreSQL URL {self._shown}: {exc}") from None
        self._pool: psycopg_pool.ConnectionPool[Conn] | None = None
        pool: psycopg_pool.ConnectionPool[Conn] = psycopg_pool.ConnectionPool(
            self.url,
            min_size=min_size,
            max_size=max_size,
            kwargs=_connect_kwargs(self.url),
            configure=self._configure,
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=timeout,
            name="cowrite-store",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=timeout)
            with pool.connection(timeout=timeout) as conn:
                conn.execute("SET statement_timeout TO 0")  # a migration may take long: not cut off
                self.schema_version = migrate(conn, where)
                conn.execute(self._session_settings)
        except BaseException as exc:
            pool.close()
            if isinstance(exc, psycopg_pool.PoolTimeout):
                raise StoreUnavailable(f"cannot open {where}: no connection within {timeout:g} s ({exc})") from exc
            if isinstance(exc, _LOST):
                raise StoreUnavailable(f"cannot open {where}: {exc}") from exc
            if isinstance(exc, psycopg.Error):
                raise StoreError(f"cannot open {where}: {exc}") from exc
            raise
        self._pool = pool

    def _configure(self, conn: Conn) -> None:
        # Durability must not depend on the server's or role's default settings.
        conn.execute("SET synchronous_commit TO on")
        conn.execute(self._session_settings)

    def __repr__(self) -> str:
        return f"<PostgresStore {self._shown}{' closed' if self._pool is None else ''}>"

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        pool = self._pool
        if pool is None:
            raise StoreError(f"{self!r} is closed")
        try:
            with pool.connection(timeout=self._timeout) as conn:
                yield conn
        except psycopg_pool.PoolTimeout as exc:
            raise StoreUnavailable(f"{self!r}: no database connection within {self._timeout:g} s: {exc}") from exc
        except psycopg_pool.PoolClosed as exc:
            raise StoreError(f"{self!r} is closed") from exc

    def _read(self, fn: Callable[[Conn], Any]) -> Any:
        """Run ``fn`` in one REPEATABLE READ, READ ONLY transaction (a consistent view)."""
        try:
            with self._connection() as conn:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                try:
                    result = fn(conn)
                except BaseException:
                    self._rollback(conn)
                    raise
                conn.execute("ROLLBACK")  # read only: nothing to commit
                return result
        except psycopg.DataError as exc:
            raise InvalidArgument(f"{self!r}: a value PostgreSQL cannot take: {exc}") from exc
        except _LOST as exc:
            raise StoreUnavailable(f"{self!r}: read failed, the database is unavailable: {exc}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"{self!r}: read failed: {exc}") from exc

    def _write(self, fn: Callable[[Conn], Any], what: str = "write") -> Any:
        """Run ``fn`` in one READ COMMITTED transaction; durably committed when this returns.

        An error before ``COMMIT``, or one ``COMMIT`` itself reports (a deferred constraint),
        rolls everything back ("nothing stored"); losing the connection during ``COMMIT``
        leaves the outcome unknown, and the error says so.
        """
        committing = False
        try:
            with self._connection() as conn:
                conn.execute("BEGIN")
                try:
                    result = fn(conn)
                    committing = True
                    conn.execute("COMMIT")
                except BaseException:
                    if not committing:
                        self._rollback(conn)
                    raise
                return result
        except psycopg.Error as exc:
            if committing and isinstance(exc, _LOST):
                raise StoreUnavailable(
                    f"{self!r}: {what}: the connection failed during COMMIT, so whether it was stored is "
                    f"unknown (do not acknowledge it; read the store again): {exc}"
                ) from exc
            if isinstance(exc, psycopg.DataError):
                raise InvalidArgument(f"{self!r}: {what}: a value PostgreSQL cannot take, nothing stored: {exc}") from exc
            if isinstance(exc, _LOST):
                raise StoreUnavailable(f"{self!r}: {what} failed, the database is unavailable, nothing stored: {exc}") from exc
            raise StoreError(f"{self!r}: {what} failed, nothing stored: {exc}") from exc

    @staticmethod
    def _rollback(conn: Conn) -> None:
        """End a failed transaction, if the connection still can (else the pool drops it)."""
        if not conn.closed and conn.info.transaction_status in (
            psycopg.pq.TransactionStatus.INTRANS,
            psycopg.pq.TransactionStatus.INERROR,
        ):
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                pass

    @staticmethod
    def _doc_row(conn: Conn, doc_id: str, *, lock: bool = False) -> tuple[int, int, int]:
        """``(key, last_seq, log_start)`` of a document (its row locked with ``lock``), or
        DocumentNotFound."""
        sql = "SELECT key, last_seq, log_start FROM documents WHERE id = %s"
        row = conn.execute(sql + " FOR UPDATE" if lock else sql, (doc_id,)).fetchone()
        if row is None:
            raise DocumentNotFound(doc_id)
        return row[0], row[1], row[2]

    # -- documents ---------------------------------------------------------------------

    def create(self, doc_id: str) -> DocInfo:
        doc_id = check_doc_id(doc_id)
        now = self._clock()

        def fn(conn: Conn) -> DocInfo:
            row = conn.execute(
                "INSERT INTO documents (id, created_at, updated_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING RETURNING key",
                (doc_id, now, now),
            ).fetchone()
            if row is None:
                raise DocumentExists(doc_id)
            return DocInfo(doc_id, now, now, 0, 0, 0, None)

        result: DocInfo = self._write(fn)
        return result

    def delete(self, doc_id: str) -> None:
        doc_id = check_doc_id(doc_id)

        def fn(conn: Conn) -> None:
            if conn.execute("DELETE FROM documents WHERE id = %s", (doc_id,)).rowcount == 0:
                raise DocumentNotFound(doc_id)  # the rest (log, snapshots, access) by ON DELETE CASCADE

        self._write(fn)

    def agent_owners(self, doc_id: str) -> dict[str, str]:
        doc_id = check_doc_id(doc_id)

        def fn(conn: Conn) -> dict[str, str]:
            key = self._doc_row(conn, doc_id)[0]
            rows = conn.execute("SELECT agent, user_id FROM agents WHERE doc_key = %s", (key,)).fetchall()
            return {a: u for a, u in rows}

        result: dict[str, str] = self._read(fn)
        return result

    def claim_agent(self, doc_id: str, agent: str, user: str) -> str:
        doc_id = check_doc_id(doc_id)
        if not isinstance(agent, str) or not agent or not isinstance(user, str) or not user:
            raise InvalidArgument("agent and user must be non-empty strings")
        now = self._clock()

        def fn(conn: Conn) -> str:
            key = self._doc_row(conn, doc_id)[0]
            conn.execute(
                "INSERT INTO agents (doc_key, agent, user_id, created_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (doc_key, agent) DO NOTHING",
                (key, agent, user, now),
            )
            # a separate statement: it sees a claim another server committed meanwhile
            row = conn.execute("SELECT user_id FROM agents WHERE doc_key = %s AND agent = %s", (key, agent)).fetchone()
            if row is None:  # pragma: no cover - the insert or a committed claim put it there
                raise StoreError(f"document {doc_id!r}: agent {agent!r} has no owner after claiming it")
            return str(row[0])

        result: str = self._write(fn)
        return result

    def set_user_name(self, user: str, name: str) -> None:
        if not isinstance(user, str) or not user or not isinstance(name, str) or not name:
            raise InvalidArgument("user and name must be non-empty strings")
        if len(name) > MAX_USER_NAME:
            raise InvalidArgument(f"a user name is at most {MAX_USER_NAME} characters")
        now = self._clock()
        self._write(
            lambda conn: conn.execute(
                # unchanged names cost no write: a user joins far more often than they rename
                "INSERT INTO users (user_id, name, updated_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at"
                " WHERE users.name IS DISTINCT FROM excluded.name",
                (user, name, now),
            )
        )

    def user_names(self, users: Iterable[str]) -> dict[str, str]:
        wanted = sorted({u for u in users if isinstance(u, str) and "\0" not in u})
        if not wanted:
            return {}
        rows = self._read(
            lambda conn: conn.execute("SELECT user_id, name FROM users WHERE user_id = ANY(%s)", (wanted,)).fetchall()
        )
        return {u: n for u, n in rows}

    def exists(self, doc_id: str) -> bool:
        doc_id = check_doc_id(doc_id)
        found: bool = self._read(
            lambda conn: conn.execute("SELECT 1 FROM documents WHERE id = %s", (doc_id,)).fetchone() is not None
        )
        return found

    def info(self, doc_id: str) -> DocInfo:
        doc_id = check_doc_id(doc_id)
        row = self._read(lambda conn: conn.execute(_INFO_SQL + " WHERE d.id = %s", (doc_id,)).fetchone())
        if row is None:
            raise DocumentNotFound(doc_id)
        return _info(row)

    def documents(self) -> list[DocInfo]:
        rows = self._read(lambda conn: conn.execute(_INFO_SQL + " ORDER BY d.id COLLATE \"C\"").fetchall())
        return [_info(r) for r in rows]

    # -- the log -----------------------------------------------------------------------

    def append(self, doc_id: str, patch: bytes, *, op_count: int, text_length: int | None = None) -> int:
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
        runs, twice = batch_runs(ops)
        now = self._clock()

        def fn(conn: Conn) -> int:
            # The row lock orders every append to this document, across all servers.
            key, last, _ = self._doc_row(conn, doc_id, lock=True)
            if last:
                prev = conn.execute("SELECT patch FROM log WHERE doc_key = %s AND seq = %s", (key, last)).fetchone()
                if prev is not None and bytes(prev[0]) == patch:  # a retry of the newest entry: already durable
                    conn.execute(
                        "UPDATE documents SET updated_at = %s, text_length = COALESCE(%s, text_length) WHERE key = %s",
                        (now, text_length, key),
                    )
                    return last
            # checked under the row lock: no other server can store these ids meanwhile
            fresh, held_at = check_batch(
                doc_id, ops, runs, twice, overlapping(conn, key, runs), lambda seqs: self._stored_ops(conn, doc_id, key, seqs)
            )
            added = op_count
            if held_at is not None:  # every op already stored, identically: nothing to add
                if covers_entry(runs, held_at, self._entry_runs(conn, key, held_at), lambda r: overlapping(conn, key, r)):
                    conn.execute(
                        "UPDATE documents SET updated_at = %s, text_length = COALESCE(%s, text_length) WHERE key = %s",
                        (now, text_length, key),
                    )
                    return held_at
                added = 0  # a part of a stored entry: an entry of its own, no new ops (runs.py)
            seq = last + 1
            conn.execute(
                "INSERT INTO log (doc_key, seq, patch, checksum, op_count, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (key, seq, patch, _digest(_LOG_TAG, seq, patch), added, now),
            )
            for agent, start, end in fresh:
                conn.execute(
                    "INSERT INTO op_runs (doc_key, agent, seq_start, seq_end, log_seq) VALUES (%s, %s, %s, %s, %s)",
                    (key, agent, start, end, seq),
                )
            conn.execute(
                "UPDATE documents SET last_seq = %s, ops_count = ops_count + %s, updated_at = %s,"
                " text_length = COALESCE(%s, text_length) WHERE key = %s",
                (seq, added, now, text_length, key),
            )
            return seq

        seq: int = self._write(fn, f"append to {doc_id!r}")
        return seq

    @staticmethod
    def _entry_runs(conn: Conn, key: int, seq: int) -> list[Range] | None:
        """The op runs of log entry ``seq`` (None: pruned, or it does not decode)."""
        row = conn.execute("SELECT patch FROM log WHERE doc_key = %s AND seq = %s", (key, seq)).fetchone()
        if row is None:
            return None
        try:
            return batch_runs(decode_patch(bytes(row[0])))[0]
        except CowriteError:
            return None

    @staticmethod
    def _stored_ops(conn: Conn, doc_id: str, key: int, seqs: list[int]) -> list[Op]:
        """The ops of log entries ``seqs`` (verified), from the snapshot for pruned ones."""
        ops: list[Op] = []
        rows = {
            int(r[0]): (bytes(r[1]), bytes(r[2]))
            for r in conn.execute(
                "SELECT seq, patch, checksum FROM log WHERE doc_key = %s AND seq = ANY(%s)", (key, seqs)
            ).fetchall()
        }
        for seq in seqs:
            row = rows.get(seq)
            if row is None:
                continue
            if _digest(_LOG_TAG, seq, row[0]) != row[1]:
                raise CorruptionError(doc_id, "log", f"log seq {seq}", "checksum mismatch")
            try:
                ops += decode_patch(row[0])
            except CowriteError as exc:
                raise CorruptionError(doc_id, "log", f"log seq {seq}", f"does not decode: {exc}") from exc
        if len(rows) < len(seqs):  # pruned entries: their ops are in the snapshot
            snap = conn.execute(
                "SELECT seq, data, checksum FROM snapshots WHERE doc_key = %s ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
            if snap is not None:
                ops += _decode_snapshot(doc_id, (snap[0], bytes(snap[1]), bytes(snap[2])), None).ops_since()
        return ops

    def log_since(self, doc_id: str, seq: int = 0) -> list[tuple[int, bytes]]:
        doc_id = check_doc_id(doc_id)
        check_count("seq", seq)

        def fn(conn: Conn) -> tuple[int, int, list[tuple[int, bytes, bytes]]]:
            key, last, log_start = self._doc_row(conn, doc_id)
            rows = conn.execute(
                "SELECT seq, patch, checksum FROM log WHERE doc_key = %s AND seq > %s ORDER BY seq", (key, seq)
            ).fetchall()
            return last, log_start, [(r[0], bytes(r[1]), bytes(r[2])) for r in rows]

        last, log_start, rows = self._read(fn)
        if seq + 1 < log_start and seq < last:
            raise HistoryPruned(doc_id, log_start)
        return _verified_log(doc_id, rows, seq, last)

    # -- loading -----------------------------------------------------------------------

    def load(self, doc_id: str, agent: str | None = None) -> Document:
        doc_id = check_doc_id(doc_id)

        def fn(conn: Conn) -> tuple[int, int, tuple[Any, ...] | None, list[tuple[int, bytes, bytes]]]:
            key, last, log_start = self._doc_row(conn, doc_id)
            snap = conn.execute(
                "SELECT seq, data, checksum FROM snapshots WHERE doc_key = %s ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
            base = snap[0] if snap is not None else 0
            rows = conn.execute(
                "SELECT seq, patch, checksum FROM log WHERE doc_key = %s AND seq > %s ORDER BY seq", (key, base)
            ).fetchall()
            snap_t = None if snap is None else (snap[0], bytes(snap[1]), bytes(snap[2]))
            return last, log_start, snap_t, [(r[0], bytes(r[1]), bytes(r[2])) for r in rows]

        last, log_start, snap, rows = self._read(fn)
        if snap is None:
            if log_start != 1:
                raise CorruptionError(doc_id, "snapshot", "snapshots", f"missing, yet the log before seq {log_start} was pruned")
            doc = Document(agent)
            base = 0
        else:
            base = snap[0]
            doc = _decode_snapshot(doc_id, snap, agent)
            if base > last:
                raise CorruptionError(doc_id, "snapshot", f"snapshot seq {base}", f"covers beyond the newest log seq {last}")
        _apply_log(doc_id, doc, _verified_log(doc_id, rows, base, last))
        return doc

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

        def fn(conn: Conn) -> int:
            key, last, _ = self._doc_row(conn, doc_id, lock=True)  # no append slips in meanwhile
            prev = conn.execute(
                "SELECT seq, data, checksum, version FROM snapshots WHERE doc_key = %s ORDER BY seq DESC LIMIT 1",
                (key,),
            ).fetchone()
            covers = 0
            if prev is not None:
                # never replace a snapshot we cannot vouch for: it may hold ops doc lacks
                covers = prev[0]
                blob, checksum = bytes(prev[1]), bytes(prev[2])
                prev_version = prev[3]
                if prev_version is None:
                    prev_version = _version_json(_decode_snapshot(doc_id, (covers, blob, checksum), None))
                elif _digest(_SNAPSHOT_TAG, covers, blob) != checksum:
                    raise CorruptionError(doc_id, "snapshot", f"snapshot seq {covers}", "checksum mismatch")
                for agent, seq in json.loads(prev_version):
                    if check.oplog.cg.raw_to_lv(agent, seq) is None:
                        raise StoreError(
                            f"document {doc_id!r}: refusing a snapshot that lacks ops of the stored one "
                            f"(e.g. {agent}:{seq}); it would lose them"
                        )
            rows = conn.execute(
                "SELECT seq, patch, checksum FROM log WHERE doc_key = %s AND seq > %s ORDER BY seq", (key, covers)
            ).fetchall()
            log = [(r[0], bytes(r[1]), bytes(r[2])) for r in rows]
            # the longest run of entries after the stored snapshot that doc already holds
            for seq, patch in _verified_log(doc_id, log, covers, last):
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
            conn.execute("DELETE FROM snapshots WHERE doc_key = %s", (key,))
            conn.execute(
                "INSERT INTO snapshots (doc_key, seq, data, checksum, created_at, version, text_length)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (key, covers, data, _digest(_SNAPSHOT_TAG, covers, data), now, version, text_length),
            )
            if prune and covers:
                conn.execute("DELETE FROM log WHERE doc_key = %s AND seq <= %s", (key, covers))
                conn.execute("UPDATE documents SET log_start = GREATEST(log_start, %s) WHERE key = %s", (covers + 1, key))
            # doc's length is the text's only if doc holds the whole log (or nothing better is known)
            conn.execute(
                "UPDATE documents SET updated_at = %s,"
                " text_length = CASE WHEN %s OR text_length IS NULL THEN %s ELSE text_length END WHERE key = %s",
                (now, covers == last, text_length, key),
            )
            return covers

        result: int = self._write(fn, f"snapshot of {doc_id!r}")
        return result

    # -- titles and named versions ------------------------------------------------------

    def set_title(self, doc_id: str, title: str) -> None:
        doc_id = check_doc_id(doc_id)
        title = check_title(title)

        def fn(conn: Conn) -> None:
            if conn.execute("UPDATE documents SET title = %s WHERE id = %s", (title, doc_id)).rowcount == 0:
                raise DocumentNotFound(doc_id)

        self._write(fn)

    def add_named_version(self, record: NamedVersionRecord) -> bool:
        check_named_version(record)
        doc_id = check_doc_id(record.doc)

        def fn(conn: Conn) -> bool:
            key = self._doc_row(conn, doc_id)[0]
            row = conn.execute(
                "INSERT INTO named_versions (doc_key, name, version, created_by, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (doc_key, name) DO NOTHING RETURNING 1",
                (key, record.name, version_json(record.version), record.created_by, record.created_at),
            ).fetchone()
            return row is not None

        done: bool = self._write(fn)
        return done

    def named_versions(self, doc_id: str) -> list[NamedVersionRecord]:
        doc_id = check_doc_id(doc_id)
        rows = self._read(
            lambda conn: conn.execute(
                "SELECT v.name, v.version, v.created_by, v.created_at FROM named_versions v"
                " JOIN documents d ON d.key = v.doc_key WHERE d.id = %s"
                " ORDER BY v.created_at, v.name COLLATE \"C\"",
                (doc_id,),
            ).fetchall()
        )
        return [named_version_from_row(doc_id, *row) for row in rows]

    def delete_named_version(self, doc_id: str, name: str) -> bool:
        doc_id = check_doc_id(doc_id)
        name = check_version_name(name)

        def fn(conn: Conn) -> bool:
            cur = conn.execute(
                "DELETE FROM named_versions WHERE name = %s AND doc_key = (SELECT key FROM documents WHERE id = %s)",
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

        def fn(conn: Conn) -> None:
            if conn.execute("SELECT 1 FROM accounts WHERE username = %s", (account.username,)).fetchone():
                raise AccountExists(account.username)
            if invite is not None:
                # a racing redemption waits on the row lock, then sees used_by set: 0 rows
                used = conn.execute(
                    "UPDATE invites SET used_by = %s, used_at = %s"
                    " WHERE key = %s AND used_by IS NULL AND NOT revoked AND expires_at > %s",
                    (account.username, at, invite, at),
                ).rowcount
                if used != 1:
                    raise SignUpRefused("this invite is unknown, revoked, used or expired")
            try:
                conn.execute(
                    f"INSERT INTO accounts ({_ACCOUNT_COLS}) VALUES (%s, %s, %s, %s, %s, %s)",
                    (account.username, account.name, account.password_hash, account.admin, account.disabled,
                     account.created_at),
                )
            except pg_errors.UniqueViolation:
                raise AccountExists(account.username) from None  # taken meanwhile by another server

        self._write(fn)

    def account(self, username: str) -> AccountRecord | None:
        if not isinstance(username, str):
            raise InvalidArgument(f"a username must be a str, not {type(username).__name__}")
        if "\0" in username:
            return None
        row = self._read(
            lambda conn: conn.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE username = %s", (username,)).fetchone()
        )
        return None if row is None else account_from_row(row)

    def accounts(self) -> list[AccountRecord]:
        rows = self._read(
            lambda conn: conn.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY username COLLATE \"C\"").fetchall()
        )
        return [account_from_row(r) for r in rows]

    def count_accounts(self) -> int:
        rows = self._read(lambda conn: conn.execute("SELECT COUNT(*) FROM accounts").fetchall())
        return int(rows[0][0])

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

        def fn(conn: Conn) -> list[str] | None:
            found = conn.execute(
                "UPDATE accounts SET name = COALESCE(%s, name), admin = COALESCE(%s, admin),"
                " disabled = COALESCE(%s, disabled) WHERE username = %s",
                (name, admin, disabled, username),
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

        def fn(conn: Conn) -> list[str] | None:
            if expected is None:
                found = conn.execute(
                    "UPDATE accounts SET password_hash = %s WHERE username = %s", (password_hash, username)
                ).rowcount
            else:  # a compare-and-set: a racing change waits on the row lock, then fails the check
                found = conn.execute(
                    "UPDATE accounts SET password_hash = %s WHERE username = %s AND password_hash = %s",
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

        def fn(conn: Conn) -> None:
            if conn.execute("SELECT 1 FROM accounts WHERE username = %s", (session.user,)).fetchone() is None:
                raise InvalidArgument(f"no account {session.user!r} to add a session to")
            try:
                conn.execute(
                    f"INSERT INTO sessions ({_SESSION_COLS}) VALUES (%s, %s, %s, %s, %s, %s)",
                    (session.key, session.user, session.csrf_token, session.created_at, session.last_seen,
                     session.expires_at),
                )
            except pg_errors.UniqueViolation:
                raise InvalidArgument("a session with this key exists") from None
            except pg_errors.ForeignKeyViolation:
                raise InvalidArgument(f"no account {session.user!r} to add a session to") from None

        self._write(fn)

    def session(self, key: str) -> SessionRecord | None:
        check_key(key)
        row = self._read(lambda conn: conn.execute(f"SELECT {_SESSION_COLS} FROM sessions WHERE key = %s", (key,)).fetchone())
        return None if row is None else session_from_row(row)

    def sessions(self, user: str) -> list[SessionRecord]:
        check_text("user", user)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE user_id = %s ORDER BY created_at, key COLLATE \"C\"", (user,)
            ).fetchall()
        )
        return [session_from_row(r) for r in rows]

    def touch_session(self, key: str, last_seen: float) -> None:
        check_key(key)
        check_time("last_seen", last_seen)
        self._write(
            lambda conn: conn.execute(
                "UPDATE sessions SET last_seen = %s WHERE key = %s AND last_seen < %s", (last_seen, key, last_seen)
            )
        )

    def delete_session(self, key: str) -> SessionRecord | None:
        check_key(key)
        row = self._write(
            lambda conn: conn.execute(f"DELETE FROM sessions WHERE key = %s RETURNING {_SESSION_COLS}", (key,)).fetchone()
        )
        return None if row is None else session_from_row(row)

    def delete_sessions(self, user: str, *, keep: str | None = None) -> list[str]:
        check_text("user", user)
        if keep is not None:
            check_key(keep)
        result: list[str] = self._write(lambda conn: self._delete_sessions(conn, user, keep))
        return result

    @staticmethod
    def _delete_sessions(conn: Conn, user: str, keep: str | None) -> list[str]:
        rows = conn.execute(
            "DELETE FROM sessions WHERE user_id = %s AND key IS DISTINCT FROM %s RETURNING key", (user, keep)
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def purge_sessions(self, *, now: float, idle_before: float) -> int:
        check_time("now", now)
        check_time("idle_before", idle_before)
        n: int = self._write(
            lambda conn: conn.execute(
                "DELETE FROM sessions WHERE expires_at <= %s OR last_seen < %s", (now, idle_before)
            ).rowcount
        )
        return n

    # -- invites -----------------------------------------------------------------------

    def add_invite(self, invite: InviteRecord) -> None:
        check_invite(invite)

        def fn(conn: Conn) -> None:
            try:
                conn.execute(
                    f"INSERT INTO invites ({_INVITE_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (invite.key, invite.created_by, invite.created_at, invite.expires_at, invite.used_by,
                     invite.used_at, invite.revoked),
                )
            except pg_errors.UniqueViolation:
                raise InvalidArgument("an invite with this key exists") from None

        self._write(fn)

    def invite(self, key: str) -> InviteRecord | None:
        check_key(key)
        row = self._read(lambda conn: conn.execute(f"SELECT {_INVITE_COLS} FROM invites WHERE key = %s", (key,)).fetchone())
        return None if row is None else invite_from_row(row)

    def invites(self) -> list[InviteRecord]:
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_INVITE_COLS} FROM invites ORDER BY created_at DESC, key COLLATE \"C\""
            ).fetchall()
        )
        return [invite_from_row(r) for r in rows]

    def revoke_invite(self, key: str) -> bool:
        check_key(key)
        found: bool = self._write(
            lambda conn: conn.execute("UPDATE invites SET revoked = true WHERE key = %s", (key,)).rowcount == 1
        )
        return found

    # -- document access ---------------------------------------------------------------

    @staticmethod
    def _roles(conn: Conn, key: int) -> dict[str, str]:
        rows = conn.execute("SELECT user_id, role FROM members WHERE doc_key = %s", (key,)).fetchall()
        return {u: r for u, r in rows}

    def members(self, doc_id: str) -> list[MemberRecord]:
        doc_id = check_doc_id(doc_id)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_MEMBER_COLS} FROM members m JOIN documents d ON d.key = m.doc_key"
                " WHERE d.id = %s ORDER BY m.added_at, m.user_id COLLATE \"C\"",
                (doc_id,),
            ).fetchall()
        )
        return [member_from_row(r) for r in rows]

    def memberships(self, user: str) -> list[MemberRecord]:
        check_text("user", user)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_MEMBER_COLS} FROM members m JOIN documents d ON d.key = m.doc_key"
                " WHERE m.user_id = %s ORDER BY d.id COLLATE \"C\"",
                (user,),
            ).fetchall()
        )
        return [member_from_row(r) for r in rows]

    def owners(self) -> dict[str, str]:
        rows = self._read(
            lambda conn: conn.execute(
                "SELECT d.id, m.user_id FROM members m JOIN documents d ON d.key = m.doc_key"
                " WHERE m.role = 'owner' ORDER BY d.id COLLATE \"C\", m.user_id COLLATE \"C\""
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

        def fn(conn: Conn) -> bool:
            key = self._doc_row(conn, doc_id, lock=True)[0]  # the compare and the set, under one lock
            if self._roles(conn, key) != want:
                return False
            for m in puts:
                if conn.execute("SELECT 1 FROM accounts WHERE username = %s", (m.user,)).fetchone() is None:
                    raise InvalidArgument(f"no account {m.user!r} to make a member")
            if use_invite is not None:
                used = conn.execute(
                    "UPDATE doc_invites SET used_by = %s, used_at = %s WHERE key = %s AND doc_key = %s"
                    " AND used_by IS NULL AND NOT revoked AND expires_at > %s",
                    (puts[0].user, now, use_invite, key, now),
                ).rowcount
                if used != 1:
                    raise InviteRefused("this invite is unknown, revoked, used or expired")
            if removes:
                conn.execute("DELETE FROM members WHERE doc_key = %s AND user_id = ANY(%s)", (key, removes))
            for m in puts:
                try:
                    conn.execute(
                        "INSERT INTO members (doc_key, user_id, role, added_by, added_at) VALUES (%s, %s, %s, %s, %s)"
                        " ON CONFLICT (doc_key, user_id) DO UPDATE SET role = excluded.role,"
                        " added_by = excluded.added_by, added_at = excluded.added_at",
                        (key, m.user, m.role, m.added_by, m.added_at),
                    )
                except pg_errors.ForeignKeyViolation:
                    raise InvalidArgument(f"no account {m.user!r} to make a member") from None
            return True

        done: bool = self._write(fn)
        return done

    def clear_access(self, doc_id: str) -> list[MemberRecord]:
        doc_id = check_doc_id(doc_id)

        def fn(conn: Conn) -> list[MemberRecord]:
            row = conn.execute("SELECT key FROM documents WHERE id = %s FOR UPDATE", (doc_id,)).fetchone()
            if row is None:
                return []
            key = row[0]
            gone = [
                member_from_row(r)
                for r in conn.execute(
                    f"SELECT {_MEMBER_COLS} FROM members m JOIN documents d ON d.key = m.doc_key"
                    " WHERE m.doc_key = %s ORDER BY m.added_at, m.user_id COLLATE \"C\"",
                    (key,),
                ).fetchall()
            ]
            conn.execute("DELETE FROM members WHERE doc_key = %s", (key,))
            conn.execute("DELETE FROM links WHERE doc_key = %s", (key,))
            conn.execute("DELETE FROM doc_invites WHERE doc_key = %s", (key,))
            return gone

        result: list[MemberRecord] = self._write(fn)
        return result

    def link(self, doc_id: str) -> LinkRecord | None:
        doc_id = check_doc_id(doc_id)
        row = self._read(
            lambda conn: conn.execute(
                "SELECT d.id, l.role, l.key, l.set_by, l.set_at FROM links l JOIN documents d ON d.key = l.doc_key"
                " WHERE d.id = %s",
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

        def fn(conn: Conn) -> bool:
            key = self._doc_row(conn, doc_id, lock=True)[0]
            if want is not None and self._roles(conn, key) != want:
                return False
            conn.execute("DELETE FROM links WHERE doc_key = %s", (key,))
            if link is not None:
                conn.execute(
                    "INSERT INTO links (doc_key, role, key, set_by, set_at) VALUES (%s, %s, %s, %s, %s)",
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

        def fn(conn: Conn) -> bool:
            key = self._doc_row(conn, doc_id, lock=True)[0]
            if want is not None and self._roles(conn, key) != want:
                return False
            try:
                conn.execute(
                    "INSERT INTO doc_invites (key, doc_key, role, created_by, created_at, expires_at, used_by, used_at,"
                    " revoked) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (invite.key, key, invite.role, invite.created_by, invite.created_at, invite.expires_at,
                     invite.used_by, invite.used_at, invite.revoked),
                )
            except pg_errors.UniqueViolation:
                raise InvalidArgument("a document invite with this key exists") from None
            return True

        done: bool = self._write(fn)
        return done

    def doc_invite(self, key: str) -> DocInviteRecord | None:
        check_key(key)
        row = self._read(
            lambda conn: conn.execute(
                f"SELECT {_DOC_INVITE_COLS} FROM doc_invites i JOIN documents d ON d.key = i.doc_key WHERE i.key = %s",
                (key,),
            ).fetchone()
        )
        return None if row is None else doc_invite_from_row(row)

    def doc_invites(self, doc_id: str) -> list[DocInviteRecord]:
        doc_id = check_doc_id(doc_id)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_DOC_INVITE_COLS} FROM doc_invites i JOIN documents d ON d.key = i.doc_key"
                " WHERE d.id = %s ORDER BY i.created_at DESC, i.key COLLATE \"C\"",
                (doc_id,),
            ).fetchall()
        )
        return [doc_invite_from_row(r) for r in rows]

    def revoke_doc_invite(self, doc_id: str, key: str) -> bool:
        doc_id = check_doc_id(doc_id)
        check_key(key)
        found: bool = self._write(
            lambda conn: conn.execute(
                "UPDATE doc_invites SET revoked = true WHERE key = %s"
                " AND doc_key = (SELECT key FROM documents WHERE id = %s)",
                (key, doc_id),
            ).rowcount
            == 1
        )
        return found

    # -- personal access tokens --------------------------------------------------------

    def add_token(self, token: TokenRecord) -> None:
        check_token(token)

        def fn(conn: Conn) -> None:
            if conn.execute("SELECT 1 FROM accounts WHERE username = %s", (token.user,)).fetchone() is None:
                raise InvalidArgument(f"no account {token.user!r} to give a token to")
            try:
                conn.execute(
                    f"INSERT INTO tokens ({_TOKEN_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (token.key, token.id, token.user, token.label, list(token.docs), token.role, token.created_at,
                     token.expires_at, token.last_used, token.revoked),
                )
            except pg_errors.UniqueViolation:
                raise InvalidArgument("a token with this key or id exists") from None
            except pg_errors.ForeignKeyViolation:
                raise InvalidArgument(f"no account {token.user!r} to give a token to") from None

        self._write(fn)

    def token(self, key: str) -> TokenRecord | None:
        check_key(key)
        row = self._read(lambda conn: conn.execute(f"SELECT {_TOKEN_COLS} FROM tokens WHERE key = %s", (key,)).fetchone())
        return None if row is None else _token(row)

    def token_by_id(self, token_id: str) -> TokenRecord | None:
        check_text("token_id", token_id)
        if "\0" in token_id:
            return None
        row = self._read(
            lambda conn: conn.execute(f"SELECT {_TOKEN_COLS} FROM tokens WHERE id = %s", (token_id,)).fetchone()
        )
        return None if row is None else _token(row)

    def tokens(self, user: str) -> list[TokenRecord]:
        check_text("user", user)
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {_TOKEN_COLS} FROM tokens WHERE user_id = %s ORDER BY created_at, id COLLATE \"C\"", (user,)
            ).fetchall()
        )
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        check_text("token_id", token_id)
        found: bool = self._write(
            lambda conn: conn.execute("UPDATE tokens SET revoked = true WHERE id = %s", (token_id,)).rowcount == 1
        )
        return found

    def touch_token(self, key: str, last_used: float) -> None:
        check_key(key)
        check_time("last_used", last_used)
        self._write(
            lambda conn: conn.execute(
                "UPDATE tokens SET last_used = %s WHERE key = %s AND (last_used IS NULL OR last_used < %s)",
                (last_used, key, last_used),
            )
        )

    # -- comments (checks and rules: store/comments.py) ---------------------------------

    @staticmethod
    def _comment_row(conn: Conn, key: int, comment_id: str) -> CommentRecord | None:
        row = conn.execute(
            f"SELECT {COMMENT_COLS} FROM comments WHERE doc_key = %s AND id = %s", (key, comment_id)
        ).fetchone()
        return None if row is None else comment_from_row(row)

    @staticmethod
    def _next_comment_rev(conn: Conn, key: int, *, lock: bool = True) -> int:
        """The document's next comment revision; ``lock`` first serialises the comment
        changes of the document across servers (until the transaction ends), so revisions
        are given, and committed, in order."""
        if lock:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('cowrite-comments:' || current_schema() || ':' || %s::text, 0))",
                (key,),
            )
        row = conn.execute("SELECT COALESCE(MAX(rev), 0) FROM comments WHERE doc_key = %s", (key,)).fetchone()
        return int(row[0]) + 1 if row is not None else 1

    def add_comment(self, doc_id: str, comment: CommentRecord) -> CommentRecord:
        doc_id = check_doc_id(doc_id)
        c = check_comment(comment)

        def fn(conn: Conn) -> CommentRecord:
            key = self._doc_row(conn, doc_id)[0]
            rev = self._next_comment_rev(conn, key)
            if self._comment_row(conn, key, c.id) is not None:
                raise InvalidArgument(f"comment {c.id!r} exists")
            if not c.is_thread:
                check_thread_of(c, self._comment_row(conn, key, c.thread))
            stored = replace(c, rev=rev)
            conn.execute(
                f"INSERT INTO comments (doc_key, {COMMENT_COLS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (key, stored.id, stored.thread, stored.author, stored.body, stored.anchor, stored.quote,
                 stored.created_at, stored.edited_at, stored.resolved, False, stored.rev),
            )
            return stored

        result: CommentRecord = self._write(fn, "add comment")
        return result

    def comments(self, doc_id: str) -> list[CommentRecord]:
        doc_id = check_doc_id(doc_id)

        def fn(conn: Conn) -> list[CommentRecord]:
            key = self._doc_row(conn, doc_id)[0]
            rows = conn.execute(
                f"SELECT {COMMENT_COLS} FROM comments WHERE doc_key = %s ORDER BY created_at, id", (key,)
            ).fetchall()
            return [comment_from_row(r) for r in rows]

        result: list[CommentRecord] = self._read(fn)
        return result

    def comment(self, doc_id: str, comment_id: str) -> CommentRecord | None:
        doc_id = check_doc_id(doc_id)
        check_comment_id(comment_id)

        def fn(conn: Conn) -> CommentRecord | None:
            row = conn.execute("SELECT key FROM documents WHERE id = %s", (doc_id,)).fetchone()
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

        def fn(conn: Conn) -> CommentRecord | None:
            key = self._doc_row(conn, doc_id)[0]
            rev = self._next_comment_rev(conn, key)  # locks first: the row read next is current
            current = self._comment_row(conn, key, comment_id)
            if current is None:
                return None
            new = updated(current, body=body, resolved=resolved, delete=delete, now=now)
            if new == current:
                return current
            new = replace(new, rev=rev)
            conn.execute(
                "UPDATE comments SET body = %s, edited_at = %s, resolved = %s, deleted = %s, rev = %s"
                " WHERE doc_key = %s AND id = %s",
                (new.body, new.edited_at, new.resolved, new.deleted, new.rev, key, comment_id),
            )
            return new

        result: CommentRecord | None = self._write(fn, "update comment")
        return result

    def comments_revision(self, doc_id: str) -> int:
        doc_id = check_doc_id(doc_id)

        def fn(conn: Conn) -> int:
            key = self._doc_row(conn, doc_id)[0]
            return self._next_comment_rev(conn, key, lock=False) - 1

        result: int = self._read(fn)
        return result

    # -- suggestions (checks: store/suggestions.py) ---------------------------------------

    def put_suggestion(self, doc_id: str, suggestion: SuggestionRecord) -> SuggestionRecord:
        doc_id = check_doc_id(doc_id)
        s = check_suggestion_record(suggestion)

        def fn(conn: Conn) -> SuggestionRecord:
            key = self._doc_row(conn, doc_id)[0]
            # One statement: two servers saving the same suggestion at once cannot
            # both insert, and a save by another author changes nothing.
            row = conn.execute(
                f"INSERT INTO suggestions (doc_key, {SUGGESTION_COLS}) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (doc_key, id) DO UPDATE SET patch = EXCLUDED.patch, updated_at = EXCLUDED.updated_at"
                " WHERE suggestions.author = EXCLUDED.author"
                f" RETURNING {SUGGESTION_COLS}",
                (key, s.id, s.author, s.patch, s.created_at, s.updated_at),
            ).fetchone()
            if row is None:
                raise InvalidArgument(f"suggestion {s.id!r} is another author's")
            return suggestion_from_row(row)

        result: SuggestionRecord = self._write(fn, "save suggestion")
        return result

    def suggestions(self, doc_id: str) -> list[SuggestionRecord]:
        doc_id = check_doc_id(doc_id)

        def fn(conn: Conn) -> list[SuggestionRecord]:
            key = self._doc_row(conn, doc_id)[0]
            rows = conn.execute(
                f"SELECT {SUGGESTION_COLS} FROM suggestions WHERE doc_key = %s ORDER BY created_at, id COLLATE \"C\"",
                (key,),
            ).fetchall()
            return [suggestion_from_row(r) for r in rows]

        result: list[SuggestionRecord] = self._read(fn)
        return result

    def suggestion(self, doc_id: str, suggestion_id: str) -> SuggestionRecord | None:
        doc_id = check_doc_id(doc_id)
        check_suggestion_id(suggestion_id)

        def fn(conn: Conn) -> SuggestionRecord | None:
            row = conn.execute(
                f"SELECT {SUGGESTION_COLS} FROM suggestions"
                " WHERE doc_key = (SELECT key FROM documents WHERE id = %s) AND id = %s",
                (doc_id, suggestion_id),
            ).fetchone()
            return None if row is None else suggestion_from_row(row)

        result: SuggestionRecord | None = self._read(fn)
        return result

    def delete_suggestion(self, doc_id: str, suggestion_id: str) -> bool:
        doc_id = check_doc_id(doc_id)
        check_suggestion_id(suggestion_id)

        def fn(conn: Conn) -> bool:
            cur = conn.execute(
                "DELETE FROM suggestions WHERE id = %s AND doc_key = (SELECT key FROM documents WHERE id = %s)",
                (suggestion_id, doc_id),
            )
            return cur.rowcount > 0

        done: bool = self._write(fn, "delete suggestion")
        return done

    # -- lifetime ----------------------------------------------------------------------

    # -- sign-in throttling ------------------------------------------------------------

    def throttle_records(self, scope: str, keys: Sequence[str]) -> dict[str, ThrottleRecord]:
        check_throttle_scope(scope)
        wanted = check_throttle_keys(keys)
        if not wanted:
            return {}
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {THROTTLE_COLS} FROM throttle WHERE scope = %s AND key = ANY(%s)", (scope, wanted)
            ).fetchall()
        )
        return dict(throttle_from_row(r) for r in rows)

    def update_throttle(self, scope: str, key: str, change: ThrottleChange) -> ThrottleRecord | None:
        check_throttle_scope(scope)
        check_throttle_key(key)

        def fn(conn: Conn) -> ThrottleRecord | None:
            while True:
                # The row lock makes every server's update of this key wait for ours.
                row = conn.execute(
                    f"SELECT {THROTTLE_COLS} FROM throttle WHERE scope = %s AND key = %s FOR UPDATE", (scope, key)
                ).fetchone()
                new = change(None if row is None else throttle_from_row(row)[1])
                if new is not None:
                    check_throttle_record(new)
                if row is not None:
                    if new is None:
                        conn.execute("DELETE FROM throttle WHERE scope = %s AND key = %s", (scope, key))
                    else:
                        conn.execute(
                            "UPDATE throttle SET failures = %s, failed_at = %s, wait_until = %s WHERE scope = %s AND key = %s",
                            (float(new.failures), float(new.at), float(new.until), scope, key),
                        )
                    return new
                if new is None:
                    return None
                inserted = conn.execute(
                    "INSERT INTO throttle (scope, key, failures, failed_at, wait_until) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (scope, key) DO NOTHING RETURNING key",
                    (scope, key, float(new.failures), float(new.at), float(new.until)),
                ).fetchone()
                if inserted is not None:
                    return new
                # another server inserted this key meanwhile: lock its row and count on top of it

        result: ThrottleRecord | None = self._write(fn, "throttle update")
        return result

    def purge_throttle(self, *, before: float) -> int:
        check_time("before", before)
        n: int = self._write(
            lambda conn: conn.execute(
                "DELETE FROM throttle WHERE failed_at < %s AND wait_until <= %s", (before, before)
            ).rowcount,
            "throttle purge",
        )
        return n

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
