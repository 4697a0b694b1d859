"""The PostgreSQL schema and its migrations (one job: get a database to the current layout).

Schema (version 3; the same records as SQLite's version 8, PostgreSQL types)::

    schema_version(version)                        one row
    documents(key PK identity, id UNIQUE, created_at, updated_at,
              last_seq,        newest log seq (0: empty log); the row every append locks
              ops_count, text_length,
              log_start)       lowest seq not pruned (1: none)
    log(doc_key FK, seq, patch bytea, checksum bytea, op_count, created_at)  PK (doc_key, seq)
    snapshots(doc_key FK, seq, data bytea, checksum bytea, created_at, version, text_length)
    agents(doc_key FK, agent, user_id, created_at)     PK (doc_key, agent)
    users(user_id PK, name, updated_at)                 display names
    accounts(username PK, name, password_hash, admin, disabled, created_at)
    sessions(key PK, user_id FK accounts ON DELETE CASCADE, csrf_token, created_at, last_seen, expires_at)
    invites(key PK, created_by, created_at, expires_at, used_by, used_at, revoked)
    members(doc_key FK, user_id FK accounts, role, added_by, added_at)   PK (doc_key, user_id)
    links(doc_key PK FK, role, key, set_by, set_at)
    doc_invites(key PK, doc_key FK, role, created_by, created_at, expires_at, used_by, used_at, revoked)
    tokens(key PK, id UNIQUE, user_id FK accounts, label, docs text[], role,
           created_at, expires_at, last_used, revoked)
    op_runs(doc_key FK, agent, seq_start, seq_end, log_seq)  PK (doc_key, agent, seq_end)   [v2]
                                       the (agent, seq) runs each log entry brought first
    documents.title                                  the title for people, '' if none   [v3]
    named_versions(doc_key FK, name, version (JSON frontier), created_by, created_at)
                                                     PK (doc_key, name)                 [v3]

Times are ``double precision`` Unix seconds, so records round-trip exactly as the
SQLite backend returns them.  ``user`` is a reserved word in PostgreSQL: those
columns are ``user_id``.  Every ``doc_key`` references ``documents(key) ON DELETE
CASCADE``, so deleting a document is one statement.

The tables live in the connection's ``current_schema()`` (the first schema of its
``search_path``), so one database can hold several stores, e.g. one per test.

Migrations: :data:`MIGRATIONS` is the ordered list of steps.  Opening a store runs
the missing ones, each in its own transaction (PostgreSQL DDL is transactional, so
a failed step leaves the previous version), under a transaction-scoped advisory
lock so that two servers starting at once never run a step twice.  A database
from a newer cowrite is refused with :class:`SchemaError`.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg.rows import TupleRow

from ...engine import CowriteError, Document, decode_patch
from ...errors import SchemaError
from ..runs import Range, RunRow, batch_runs, new_ranges

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "index_entry", "migrate", "overlapping"]

Migration = Callable[[psycopg.Connection[TupleRow]], None]


def _run(conn: psycopg.Connection[TupleRow], statements: str) -> None:
    for stmt in statements.split(";"):
        if stmt.strip():
            conn.execute(stmt.encode())  # bytes: a literal statement, never a format string


def _m1_initial(conn: psycopg.Connection[TupleRow]) -> None:
    """Everything the SQLite backend had at its version 6: documents, log, snapshots,
    agents, user names, accounts, sessions, invites, document access and tokens."""
    _run(
        conn,
        """
        CREATE TABLE documents (
            key         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id          text NOT NULL UNIQUE,
            created_at  double precision NOT NULL,
            updated_at  double precision NOT NULL,
            last_seq    bigint NOT NULL DEFAULT 0,
            ops_count   bigint NOT NULL DEFAULT 0,
            text_length bigint,
            log_start   bigint NOT NULL DEFAULT 1
        ) WITH (fillfactor = 70);
        CREATE TABLE log (
            doc_key    bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            seq        bigint NOT NULL,
            patch      bytea NOT NULL,
            checksum   bytea NOT NULL,
            op_count   bigint NOT NULL,
            created_at double precision NOT NULL,
            PRIMARY KEY (doc_key, seq)
        );
        CREATE TABLE snapshots (
            doc_key     bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            seq         bigint NOT NULL,
            data        bytea NOT NULL,
            checksum    bytea NOT NULL,
            created_at  double precision NOT NULL,
            version     text,
            text_length bigint,
            PRIMARY KEY (doc_key, seq)
        );
        CREATE TABLE agents (
            doc_key    bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            agent      text NOT NULL,
            user_id    text NOT NULL,
            created_at double precision NOT NULL,
            PRIMARY KEY (doc_key, agent)
        );
        CREATE TABLE users (
            user_id    text PRIMARY KEY,
            name       text NOT NULL,
            updated_at double precision NOT NULL
        );
        CREATE TABLE accounts (
            username      text PRIMARY KEY,
            name          text NOT NULL,
            password_hash text NOT NULL,
            admin         boolean NOT NULL DEFAULT false,
            disabled      boolean NOT NULL DEFAULT false,
            created_at    double precision NOT NULL
        );
        CREATE TABLE sessions (
            key        text PRIMARY KEY,
            user_id    text NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
            csrf_token text NOT NULL,
            created_at double precision NOT NULL,
            last_seen  double precision NOT NULL,
            expires_at double precision NOT NULL
        );
        CREATE INDEX sessions_by_user ON sessions (user_id);
        CREATE TABLE invites (
            key        text PRIMARY KEY,
            created_by text NOT NULL,
            created_at double precision NOT NULL,
            expires_at double precision NOT NULL,
            used_by    text,
            used_at    double precision,
            revoked    boolean NOT NULL DEFAULT false
        );
        CREATE TABLE members (
            doc_key  bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            user_id  text NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
            role     text NOT NULL,
            added_by text NOT NULL,
            added_at double precision NOT NULL,
            PRIMARY KEY (doc_key, user_id)
        );
        CREATE INDEX members_by_user ON members (user_id);
        CREATE TABLE links (
            doc_key bigint PRIMARY KEY REFERENCES documents(key) ON DELETE CASCADE,
            role    text NOT NULL,
            key     text NOT NULL,
            set_by  text NOT NULL,
            set_at  double precision NOT NULL
        );
        CREATE TABLE doc_invites (
            key        text PRIMARY KEY,
            doc_key    bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            role       text NOT NULL,
            created_by text NOT NULL,
            created_at double precision NOT NULL,
            expires_at double precision NOT NULL,
            used_by    text,
            used_at    double precision,
            revoked    boolean NOT NULL DEFAULT false
        );
        CREATE INDEX doc_invites_by_doc ON doc_invites (doc_key);
        CREATE TABLE tokens (
            key        text PRIMARY KEY,
            id         text NOT NULL UNIQUE,
            user_id    text NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
            label      text NOT NULL,
            docs       text[] NOT NULL,
            role       text NOT NULL,
            created_at double precision NOT NULL,
            expires_at double precision,
            last_used  double precision,
            revoked    boolean NOT NULL DEFAULT false
        );
        CREATE INDEX tokens_by_user ON tokens (user_id)
        """,
    )


def _m2_op_runs(conn: psycopg.Connection[TupleRow]) -> None:
    """The index of the op ids each log entry brought (see :mod:`cowrite.store.runs`),
    backfilled from the stored log (and the snapshot, for a pruned log)."""
    _run(
        conn,
        """
        CREATE TABLE op_runs (
            doc_key   bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            agent     text NOT NULL,
            seq_start bigint NOT NULL,
            seq_end   bigint NOT NULL,
            log_seq   bigint NOT NULL,
            PRIMARY KEY (doc_key, agent, seq_end)
        )
        """,
    )
    for key, log_start in conn.execute("SELECT key, log_start FROM documents ORDER BY key").fetchall():
        if log_start > 1:  # the pruned entries' ops are in the snapshot
            snap = conn.execute(
                "SELECT data FROM snapshots WHERE doc_key = %s ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
            if snap is not None:
                try:
                    ops = Document.decode(bytes(snap[0])).ops_since()
                except CowriteError:
                    ops = []  # a damaged snapshot: loading reports it
                index_entry(conn, key, log_start - 1, batch_runs(ops)[0])
        for seq, patch in conn.execute(
            "SELECT seq, patch FROM log WHERE doc_key = %s ORDER BY seq", (key,)
        ).fetchall():
            try:
                ops = decode_patch(bytes(patch))
            except CowriteError:
                continue  # a damaged entry: loading reports it
            index_entry(conn, key, seq, batch_runs(ops)[0])


def overlapping(conn: psycopg.Connection[TupleRow], key: int, runs: list[Range]) -> list[RunRow]:
    """The stored op_runs rows of document ``key`` that overlap ``runs`` (indexed)."""
    rows: list[RunRow] = []
    for agent, start, end in runs:
        for r in conn.execute(
            "SELECT agent, seq_start, seq_end, log_seq FROM op_runs"
            " WHERE doc_key = %s AND agent = %s AND seq_end > %s AND seq_start < %s",
            (key, agent, start, end),
        ).fetchall():
            rows.append((str(r[0]), int(r[1]), int(r[2]), int(r[3])))
    return rows


def index_entry(conn: psycopg.Connection[TupleRow], key: int, seq: int, runs: list[Range]) -> None:
    """Index the part of ``runs`` (log entry ``seq``'s) that no stored row covers yet."""
    for agent, start, end in new_ranges(runs, overlapping(conn, key, runs)):
        conn.execute(
            "INSERT INTO op_runs (doc_key, agent, seq_start, seq_end, log_seq) VALUES (%s, %s, %s, %s, %s)",
            (key, agent, start, end, seq),
        )


def _m3_titles_and_named_versions(conn: psycopg.Connection[TupleRow]) -> None:
    """Document titles and named versions (SQLite's step 8)."""
    _run(
        conn,
        """
        ALTER TABLE documents ADD COLUMN title text NOT NULL DEFAULT '';
        CREATE TABLE named_versions (
            doc_key    bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            name       text NOT NULL,
            version    text NOT NULL,
            created_by text NOT NULL,
            created_at double precision NOT NULL,
            PRIMARY KEY (doc_key, name)
        )
        """,
    )


def _m4_comments(conn: psycopg.Connection[TupleRow]) -> None:
    """Comments on a text range (SQLite's step 9; :mod:`cowrite.store.comments`)."""
    _run(
        conn,
        """
        CREATE TABLE comments (
            doc_key    bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            id         text NOT NULL,
            thread     text NOT NULL,
            author     text NOT NULL,
            body       text NOT NULL,
            anchor     bytea NOT NULL,
            quote      text NOT NULL,
            created_at double precision NOT NULL,
            edited_at  double precision,
            resolved   boolean NOT NULL DEFAULT false,
            deleted    boolean NOT NULL DEFAULT false,
            rev        bigint NOT NULL,
            PRIMARY KEY (doc_key, id)
        );
        CREATE INDEX comments_by_rev ON comments (doc_key, rev)
        """,
    )


def _m5_suggestions(conn: psycopg.Connection[TupleRow]) -> None:
    """Suggestions (SQLite's step 10; :mod:`cowrite.store.suggestions`)."""
    _run(
        conn,
        """
        CREATE TABLE suggestions (
            doc_key    bigint NOT NULL REFERENCES documents(key) ON DELETE CASCADE,
            id         text NOT NULL,
            author     text NOT NULL,
            patch      bytea NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            PRIMARY KEY (doc_key, id)
        )
        """,
    )


def _m6_throttle(conn: psycopg.Connection[TupleRow]) -> None:
    """Sign-in throttle counts (SQLite's step 11; :mod:`cowrite.store.throttle`): every
    server of a cluster counts the same failures."""
    _run(
        conn,
        """
        CREATE TABLE throttle (
            scope      text NOT NULL,
            key        text NOT NULL,
            failures   double precision NOT NULL,
            failed_at  double precision NOT NULL,
            wait_until double precision NOT NULL,
            PRIMARY KEY (scope, key)
        );
        CREATE INDEX throttle_by_time ON throttle (failed_at)
        """,
    )


MIGRATIONS: list[Migration] = [
    _m1_initial,
    _m2_op_runs,
    _m3_titles_and_named_versions,
    _m4_comments,
    _m5_suggestions,
    _m6_throttle,
]
"""Schema steps in order: ``MIGRATIONS[i]`` takes a database from version i to i + 1.
Append new steps; never edit a released one."""

SCHEMA_VERSION = len(MIGRATIONS)

_LOCK = "SELECT pg_advisory_xact_lock(hashtext('cowrite-migrate:' || current_schema()))"


def _read_version(conn: psycopg.Connection[TupleRow]) -> int:
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1 or type(rows[0][0]) is not int or rows[0][0] < 0:
        raise SchemaError(f"schema_version must hold one non-negative integer, found {rows!r}")
    version: int = rows[0][0]
    return version


def migrate(conn: psycopg.Connection[TupleRow], where: str, migrations: list[Migration] | None = None) -> int:
    """Bring the schema of ``conn`` (an autocommit connection) to the newest version; returns it.

    :class:`SchemaError` for a database of a newer cowrite, a schema holding other
    tables but no ``schema_version``, or a step that failed (its transaction rolled back).
    """
    steps = MIGRATIONS if migrations is None else migrations
    with conn.transaction():
        conn.execute(_LOCK)
        row = conn.execute("SELECT current_schema()").fetchone()
        if row is None or row[0] is None:
            raise SchemaError(f"{where}: no schema to create tables in (check the search_path)")
        schema = str(row[0])
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
                (schema,),
            )
        ]
        if "schema_version" not in tables:
            if tables:
                raise SchemaError(
                    f"{where} is not a cowrite store: schema {schema!r} has tables {tables} but no schema_version table"
                )
            conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        version = _read_version(conn)
    if version > len(steps):
        raise SchemaError(
            f"{where} has schema version {version}, newer than this cowrite supports "
            f"({len(steps)}): upgrade cowrite to open it"
        )
    for target in range(version + 1, len(steps) + 1):
        try:
            with conn.transaction():
                conn.execute(_LOCK)
                if _read_version(conn) < target:  # another server may have done it meanwhile
                    steps[target - 1](conn)
                    conn.execute("UPDATE schema_version SET version = %s", (target,))
        except SchemaError:
            raise
        except Exception as exc:  # psycopg.Error or a step's own; its transaction rolled back
            raise SchemaError(f"{where}: migration to schema version {target} failed: {exc}") from exc
    return len(steps)
