"""The PostgreSQL backend: the store contract, plus what only PostgreSQL has (several
servers on one database, lost connections, migrations under a lock, URLs).

Each test works in a schema of its own (the ``pg_url`` fixture of tests/conftest.py):
skipped without a PostgreSQL server, failed without one under CI=true.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from contract import StoreContract, assert_same, random_edits, op_count

from cowrite.engine import Document
from cowrite.store import ConflictingOps, CorruptionError, InvalidArgument, SchemaError, StoreError, open_store
from cowrite.store.postgres import PostgresStore
from cowrite.store.postgres import schema as schema_mod


class PostgresBackend:
    def __init__(self, url: str) -> None:
        self.url = url

    def open(self) -> PostgresStore:
        return PostgresStore(self.url)

    def raw(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def key(self, conn: psycopg.Connection[Any], doc_id: str) -> int:
        row = conn.execute("SELECT key FROM documents WHERE id = %s", (doc_id,)).fetchone()
        assert row is not None
        return int(row[0])

    def corrupt_log(self, doc_id: str, seq: int) -> None:
        with self.raw() as conn:
            key = self.key(conn, doc_id)
            row = conn.execute("SELECT patch FROM log WHERE doc_key = %s AND seq = %s", (key, seq)).fetchone()
            assert row is not None
            b = bytearray(row[0])
            b[len(b) // 2] ^= 0x01
            conn.execute("UPDATE log SET patch = %s WHERE doc_key = %s AND seq = %s", (bytes(b), key, seq))

    def corrupt_snapshot(self, doc_id: str) -> None:
        with self.raw() as conn:
            key = self.key(conn, doc_id)
            row = conn.execute(
                "SELECT seq, data FROM snapshots WHERE doc_key = %s ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
            assert row is not None
            b = bytearray(row[1])
            b[len(b) // 2] ^= 0x01
            conn.execute("UPDATE snapshots SET data = %s WHERE doc_key = %s AND seq = %s", (bytes(b), key, row[0]))

    def delete_log_rows(self, doc_id: str, seqs: list[int]) -> None:
        with self.raw() as conn:
            key = self.key(conn, doc_id)
            conn.execute("DELETE FROM log WHERE doc_key = %s AND seq = ANY(%s)", (key, seqs))

    def set_schema_version(self, version: int) -> None:
        with self.raw() as conn:
            conn.execute("UPDATE schema_version SET version = %s", (version,))


@pytest.fixture
def backend(pg_url: str) -> PostgresBackend:
    return PostgresBackend(pg_url)


class TestPostgresContract(StoreContract):
    pass


@pytest.fixture
def store(backend: PostgresBackend) -> Iterator[PostgresStore]:
    s = backend.open()
    yield s
    s.close()


# -- several servers on one database ------------------------------------------------------


def test_two_servers_appending_to_one_document_at_once(backend: PostgresBackend) -> None:
    """Two stores (two pools, as two servers have) append from many threads to one
    document: every append gets its own seq, the log is 1..N with no gap and none lost."""
    servers = [backend.open(), backend.open()]
    try:
        servers[0].create("doc")
        base = Document("base")
        base.insert(0, "start ")
        assert servers[1].append("doc", base.encode_patch(), op_count=6) == 1
        n, k = 8, 15
        writers = [base.fork(f"w{i}") for i in range(n)]
        seqs: list[list[int]] = [[] for _ in range(n)]
        errors: list[BaseException] = []
        barrier = threading.Barrier(n)

        def work(i: int) -> None:
            try:
                import random

                rng = random.Random(i)
                w, store = writers[i], servers[i % 2]
                barrier.wait()
                for _ in range(k):
                    since = w.version
                    random_edits(w, rng, 2)
                    seqs[i].append(store.append("doc", w.encode_patch(since), op_count=op_count(w, since)))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for own in seqs:
            assert own == sorted(own) and len(set(own)) == k
        assert sorted(s for own in seqs for s in own) == list(range(2, 2 + n * k))
        expected = base.copy()
        for w in writers:
            expected.merge(w)
        for store in servers:
            assert [seq for seq, _ in store.log_since("doc")] == list(range(1, 2 + n * k))
            assert_same(store.load("doc"), expected)
            assert store.info("doc").seq == 1 + n * k
    finally:
        for s in servers:
            s.close()


def test_a_retry_on_another_server_is_recognised(backend: PostgresBackend) -> None:
    """A batch re-sent to another server right after it was stored is the same entry."""
    with backend.open() as one, backend.open() as two:
        one.create("doc")
        d = Document("a")
        d.insert(0, "hi")
        patch = d.encode_patch()
        assert one.append("doc", patch, op_count=2) == 1
        assert two.append("doc", patch, op_count=2) == 1
        assert two.info("doc").ops_count == 2


def test_stores_opened_at_once_migrate_once(pg_url: str) -> None:
    """Servers starting together on an empty database: the advisory lock lets one migrate."""
    results: list[object] = [None] * 4

    def open_one(i: int) -> None:
        try:
            s = PostgresStore(pg_url)
            results[i] = s.schema_version
            s.close()
        except BaseException as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [schema_mod.SCHEMA_VERSION] * 4
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(schema_mod.SCHEMA_VERSION,)]


# -- lost connections -----------------------------------------------------------------------


def test_a_connection_lost_during_commit_is_an_error_never_an_ack(store: PostgresStore, backend: PostgresBackend) -> None:
    """The server process of the connection dies inside COMMIT (a deferred trigger kills
    it): append raises StoreError saying the outcome is unknown, and nothing is stored."""
    store.create("doc")
    with backend.raw() as conn:
        conn.execute(
            "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON log"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die()"
        )
    d = Document("a")
    d.insert(0, "lost?")
    with pytest.raises(StoreError, match="during COMMIT.*unknown") as e:
        store.append("doc", d.encode_patch(), op_count=5)
    assert "do not acknowledge" in str(e.value)
    with backend.raw() as conn:
        conn.execute("DROP TRIGGER die_at_commit ON log")
    assert store.info("doc").seq == 0 and store.log_since("doc") == []  # it died before the commit record
    assert store.append("doc", d.encode_patch(), op_count=5) == 1  # the pool replaced the connection
    assert store.load("doc").text == "lost?"


def test_an_error_before_commit_stores_nothing(store: PostgresStore, backend: PostgresBackend) -> None:
    store.create("doc")
    with backend.raw() as conn:
        conn.execute(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$"
        )
        conn.execute("CREATE TRIGGER boom BEFORE UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION boom()")
    d = Document("a")
    d.insert(0, "x")
    with pytest.raises(StoreError, match="disk on fire.*|nothing stored") as e:
        store.append("doc", d.encode_patch(), op_count=1)
    assert "nothing stored" in str(e.value) and "disk on fire" in str(e.value)
    with backend.raw() as conn:
        conn.execute("DROP TRIGGER boom ON documents")
        assert conn.execute("SELECT COUNT(*) FROM log").fetchone() == (0,)  # the log row went with it
    assert store.append("doc", d.encode_patch(), op_count=1) == 1


def test_a_commit_the_server_refuses_stores_nothing(store: PostgresStore, backend: PostgresBackend) -> None:
    """COMMIT answered with an error (a deferred check failed): known not stored, and said so."""
    store.create("doc")
    with backend.raw() as conn:
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON log"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    d = Document("a")
    d.insert(0, "x")
    with pytest.raises(StoreError, match="failed, nothing stored.*refused at commit"):
        store.append("doc", d.encode_patch(), op_count=1)
    with backend.raw() as conn:
        conn.execute("DROP TRIGGER refuse_at_commit ON log")
    assert store.info("doc").seq == 0
    assert store.append("doc", d.encode_patch(), op_count=1) == 1


def test_connections_killed_while_idle_are_replaced(backend: PostgresBackend) -> None:
    """A database restart (here: the pool's server processes terminated) costs no call an error."""
    with PostgresStore(backend.url, min_size=2, max_size=2) as store:
        store.create("doc")
        pool = store._pool
        assert pool is not None
        with pool.connection() as c1, pool.connection() as c2:
            pids = [c1.info.backend_pid, c2.info.backend_pid]
        with backend.raw() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        d = Document("a")
        d.insert(0, "still here")
        assert store.append("doc", d.encode_patch(), op_count=10) == 1
        assert store.load("doc").text == "still here"


# -- checksums and corruption ---------------------------------------------------------------


def test_a_snapshot_whose_seq_was_altered_fails_its_checksum(store: PostgresStore, backend: PostgresBackend) -> None:
    from contract import Session

    store.create("doc")
    s = Session(store, "doc", ["a", "b"])
    s.round()
    store.snapshot("doc", s.server.copy())  # covers seq 2
    s.round()
    with backend.raw() as conn:
        conn.execute("UPDATE snapshots SET seq = 4")  # would skip entries 3 and 4
    with pytest.raises(CorruptionError, match="snapshot seq 4: checksum mismatch"):
        store.load("doc")


def test_a_log_row_moved_to_another_seq_fails_its_checksum(store: PostgresStore, backend: PostgresBackend) -> None:
    from contract import Session

    store.create("doc")
    s = Session(store, "doc", ["a", "b"])
    s.round()
    s.round()  # 1..4
    with backend.raw() as conn:
        conn.execute("DELETE FROM log WHERE seq = 3")
        conn.execute("UPDATE log SET seq = 3 WHERE seq = 4")
        conn.execute("UPDATE documents SET last_seq = 3")
    with pytest.raises(CorruptionError, match="log seq 3: checksum mismatch") as e:
        store.load("doc")
    assert e.value.doc_id == "doc"


def test_log_rows_from_another_document_do_not_apply(store: PostgresStore, backend: PostgresBackend) -> None:
    """A log entry that conflicts with the snapshot is refused on append, and (had it got
    in behind the store's back) reported on load, not merged."""
    store.create("doc")
    a = Document("same-agent")
    a.insert(0, "abc")
    store.append("doc", a.encode_patch(), op_count=3)
    store.snapshot("doc", a)
    b = Document("same-agent")
    b.insert(0, "xyz")  # same op ids, other content
    with pytest.raises(ConflictingOps, match="same-agent:0"):
        store.append("doc", b.encode_patch(), op_count=3)
    assert store.info("doc").seq == 1
    with backend.raw() as conn:
        conn.execute("DELETE FROM op_runs")  # the index lost: the append is no longer checked
    store.append("doc", b.encode_patch(), op_count=3)
    with pytest.raises(CorruptionError, match="log seq 2: does not apply"):
        store.load("doc")


def test_the_checksums_are_the_sqlite_backends(store: PostgresStore, backend: PostgresBackend) -> None:
    """Rows copy between backends verbatim (a later copy-store needs no re-hashing)."""
    import hashlib

    store.create("doc")
    d = Document("a")
    d.insert(0, "hello")
    patch = d.encode_patch()
    store.append("doc", patch, op_count=5)
    with backend.raw() as conn:
        row = conn.execute("SELECT checksum FROM log").fetchone()
    assert row is not None
    assert bytes(row[0]) == hashlib.sha256(b"cowrite-log\0" + (1).to_bytes(8, "big") + patch).digest()


# -- bad input ------------------------------------------------------------------------------


def test_values_postgresql_cannot_hold_are_invalid_arguments(store: PostgresStore) -> None:
    store.create("doc")
    with pytest.raises(InvalidArgument):
        store.set_user_name("ann", "A\0nn")
    with pytest.raises(InvalidArgument):
        store.claim_agent("doc", "lap\0top", "ann")
    assert store.user_names(["ann", "a\0"]) == {} and store.account("a\0") is None
    assert store.agent_owners("doc") == {}


def test_bad_pool_settings_and_urls() -> None:
    for sizes in ((2, 1), (-1, 1), (0, 0)):
        with pytest.raises(InvalidArgument):
            PostgresStore("postgresql://127.0.0.1/x", min_size=sizes[0], max_size=sizes[1])
    with pytest.raises(InvalidArgument, match="URL"):
        PostgresStore("")
    with pytest.raises(InvalidArgument, match="bad PostgreSQL URL"):
        PostgresStore("postgresql://h/db?nonsense_option=1")


def test_an_unreachable_server_is_a_store_error_naming_it_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open PostgreSQL store") as e:
        PostgresStore("postgresql://ann:hunter2@127.0.0.1:1/db", timeout=1.0)
    assert "hunter2" not in str(e.value) and "127.0.0.1:1/db" in str(e.value)


# -- schema ---------------------------------------------------------------------------------


def test_reopening_is_idempotent(backend: PostgresBackend) -> None:
    for _ in range(3):
        with backend.open() as s:
            assert s.schema_version == schema_mod.SCHEMA_VERSION == len(schema_mod.MIGRATIONS)
            s.create(f"d{len(s.documents())}")
    with backend.open() as s:
        assert [d.id for d in s.documents()] == ["d0", "d1", "d2"]
    with backend.raw() as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(schema_mod.SCHEMA_VERSION,)]


def test_a_schema_with_foreign_tables_is_refused(backend: PostgresBackend) -> None:
    with backend.raw() as conn:
        conn.execute("CREATE TABLE users (name text)")
    with pytest.raises(SchemaError, match="not a cowrite store"):
        backend.open()
    with backend.raw() as conn:  # untouched
        assert conn.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone() == (1,)


def test_a_missing_schema_is_refused(postgres_admin_url: str) -> None:
    sep = "&" if "?" in postgres_admin_url else "?"
    with pytest.raises(SchemaError, match="no schema"):
        PostgresStore(f"{postgres_admin_url}{sep}options=-csearch_path%3Dcw_no_such_schema")


def test_a_new_migration_step_runs_once_and_a_failed_one_changes_nothing(
    backend: PostgresBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    with backend.open() as s:
        s.create("doc")

    def step(conn: psycopg.Connection[Any]) -> None:
        conn.execute("ALTER TABLE documents ADD COLUMN color text")

    def broken(conn: psycopg.Connection[Any]) -> None:
        conn.execute("CREATE TABLE half_done (x int)")
        raise RuntimeError("step failed halfway")

    n = len(schema_mod.MIGRATIONS)
    monkeypatch.setattr(schema_mod, "MIGRATIONS", [*schema_mod.MIGRATIONS, step, broken])
    with pytest.raises(SchemaError, match=f"migration to schema version {n + 2} failed: step failed halfway"):
        backend.open()
    with backend.raw() as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (n + 1,)
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
    monkeypatch.setattr(schema_mod, "MIGRATIONS", [*schema_mod.MIGRATIONS[: n + 1]])
    with backend.open() as s:
        assert s.schema_version == n + 1 and s.exists("doc")


def _raw_append(backend: PostgresBackend, doc_id: str, patch: bytes, op_count: int) -> int:
    """Append as a store of schema version 1 did (no op_runs index), behind the store's back."""
    from cowrite.store import sqlite as sqlite_mod

    with backend.raw() as conn:
        row = conn.execute("SELECT key, last_seq FROM documents WHERE id = %s", (doc_id,)).fetchone()
        assert row is not None
        key, seq = int(row[0]), int(row[1]) + 1
        conn.execute(
            "INSERT INTO log (doc_key, seq, patch, checksum, op_count, created_at) VALUES (%s, %s, %s, %s, %s, 1.0)",
            (key, seq, patch, sqlite_mod._digest(sqlite_mod._LOG_TAG, seq, patch), op_count),
        )
        conn.execute(
            "UPDATE documents SET last_seq = %s, ops_count = ops_count + %s WHERE key = %s", (seq, op_count, key)
        )
    return seq


def test_version_1_database_gains_the_op_runs_index(backend: PostgresBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database from before the op id check opens with every log entry (and the pruned
    ones, from the snapshot) indexed: conflicting resends are refused from then on, exact
    ones accepted, and a document it had already poisoned still opens (its load fails)."""
    monkeypatch.setattr(schema_mod, "MIGRATIONS", schema_mod.MIGRATIONS[:1])
    live = Document("alice")
    live.insert(0, "Hello")
    first = live.encode_patch()
    with backend.open() as s:
        assert s.schema_version == 1
        s.create("notes")
        s.create("bad")
    _raw_append(backend, "notes", first, 5)
    with backend.open() as s:
        assert s.snapshot("notes", live, prune=True) == 1
    since = live.version
    live.insert(5, " world")
    _raw_append(backend, "notes", live.encode_patch(since), 6)
    _raw_append(backend, "notes", first, 5)  # an old resend, stored by version 1
    x, y = Document("same"), Document("same")
    x.insert(0, "abc")
    y.insert(0, "xyz")
    _raw_append(backend, "bad", x.encode_patch(), 3)
    _raw_append(backend, "bad", y.encode_patch(), 3)  # what version 1 let in
    monkeypatch.undo()
    with backend.open() as s:
        assert s.schema_version == schema_mod.SCHEMA_VERSION
        assert_same(s.load("notes"), live)
        other = Document("alice")
        other.insert(0, "Jello")  # alice:0..4, pruned: read from the snapshot
        with pytest.raises(ConflictingOps, match="alice:0"):
            s.append("notes", other.encode_patch(), op_count=5)
        other = Document("alice")
        other.apply_patch(first)
        v = other.version
        other.insert(5, "!there")  # alice:5..10, in log entry 2
        with pytest.raises(ConflictingOps, match="alice:5"):
            s.append("notes", other.encode_patch(v), op_count=6)
        assert s.append("notes", live.encode_patch(), op_count=0) == 2  # everything, exactly: nothing new
        assert s.info("notes").seq == 3
        since = live.version
        live.insert(0, ">")
        assert s.append("notes", live.encode_patch(since), op_count=1) == 4
        assert_same(s.load("notes"), live)
        with pytest.raises(CorruptionError):
            s.load("bad")
    with backend.raw() as conn:
        rows = conn.execute(
            "SELECT agent, seq_start, seq_end, log_seq FROM op_runs ORDER BY doc_key, agent, seq_start"
        ).fetchall()
    assert rows == [("alice", 0, 5, 1), ("alice", 5, 11, 2), ("alice", 11, 12, 4), ("same", 0, 3, 1)]


# -- URLs and the command line --------------------------------------------------------------


def test_open_store_postgresql_urls(pg_url: str) -> None:
    scheme, rest = pg_url.split("://", 1)
    for url in (pg_url, f"postgres://{rest}", f"postgresql+psycopg://{rest}"):
        with open_store(url) as s:
            assert isinstance(s, PostgresStore)
            assert "closed" not in repr(s)
        assert "closed" in repr(s)


def test_serve_on_postgresql_needs_a_shared_secret(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A secret file beside the database cannot exist for PostgreSQL (and each server
    would make its own): serve refuses to start without --secret or $COWRITE_SECRET."""
    from cowrite.cli import main

    monkeypatch.delenv("COWRITE_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--db", pg_url, "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "--secret" in err and "COWRITE_SECRET" in err and "PostgreSQL" in err
    assert os.listdir(tmp_path) == []  # no secret file, no SQLite file made anywhere
    assert main(["token", "--user", "ann", "--db", pg_url]) == 1
    assert "COWRITE_SECRET" in capsys.readouterr().err
    assert main(["serve", "--db", pg_url, "--secret", "short"]) == 1  # still at least 32 bytes
    assert "32 bytes" in capsys.readouterr().err
    secret = "a-secret-every-server-shares-0123456789"
    assert main(["token", "--user", "ann", "--db", pg_url, "--secret", secret]) == 0
    from cowrite.server import verify_token

    assert verify_token(secret.encode(), capsys.readouterr().out.strip()).user == "ann"
    monkeypatch.setenv("COWRITE_SECRET", secret)
    assert main(["token", "--user", "bob", "--db", pg_url]) == 0
    assert os.listdir(tmp_path) == []


def test_version_2_database_gains_titles_and_named_versions(backend: PostgresBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database from before titles and named versions opens with its documents untitled
    and without named versions, and both work from then on."""
    from cowrite.store import NamedVersionRecord

    monkeypatch.setattr(schema_mod, "MIGRATIONS", schema_mod.MIGRATIONS[:2])
    live = Document("alice")
    live.insert(0, "Hello")
    with backend.open() as s:
        assert s.schema_version == 2
        s.create("notes")
        s.append("notes", live.encode_patch(), op_count=5, text_length=5)
    monkeypatch.undo()
    with backend.open() as s:
        assert s.schema_version == schema_mod.SCHEMA_VERSION
        assert_same(s.load("notes"), live)
        assert s.info("notes").title == "" and s.named_versions("notes") == []
        s.set_title("notes", "Greetings")
        record = NamedVersionRecord("notes", "first", tuple(sorted(live.version)), "ann", 1.0)
        assert s.add_named_version(record)
    with backend.open() as s:
        assert s.info("notes").title == "Greetings" and s.named_versions("notes") == [record]
