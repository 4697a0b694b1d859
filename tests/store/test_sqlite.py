"""The SQLite backend: the store contract, plus what only SQLite has (pragmas, migrations, URLs)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract import Session, StoreContract, assert_same

from cowrite.engine import Document
from cowrite.store import (
    ConflictingOps,
    CorruptionError,
    InvalidArgument,
    SchemaError,
    SQLiteStore,
    StoreError,
    UnsupportedBackend,
    open_store,
)
from cowrite.store import sqlite as sqlite_mod


class SQLiteBackend:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"  # path is absolute: sqlite:////tmp/...

    def open(self) -> SQLiteStore:
        return SQLiteStore(self.path)

    def raw(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def key(self, conn: sqlite3.Connection, doc_id: str) -> int:
        key: int = conn.execute("SELECT key FROM documents WHERE id = ?", (doc_id,)).fetchone()[0]
        return key

    def corrupt_log(self, doc_id: str, seq: int) -> None:
        with self.raw() as conn:
            key = self.key(conn, doc_id)
            (blob,) = conn.execute("SELECT patch FROM log WHERE doc_key = ? AND seq = ?", (key, seq)).fetchone()
            b = bytearray(blob)
            b[len(b) // 2] ^= 0x01
            conn.execute("UPDATE log SET patch = ? WHERE doc_key = ? AND seq = ?", (bytes(b), key, seq))

    def corrupt_snapshot(self, doc_id: str) -> None:
        with self.raw() as conn:
            key = self.key(conn, doc_id)
            seq, blob = conn.execute(
                "SELECT seq, data FROM snapshots WHERE doc_key = ? ORDER BY seq DESC LIMIT 1", (key,)
            ).fetchone()
            b = bytearray(blob)
            b[len(b) // 2] ^= 0x01
            conn.execute("UPDATE snapshots SET data = ? WHERE doc_key = ? AND seq = ?", (bytes(b), key, seq))

    def delete_log_rows(self, doc_id: str, seqs: list[int]) -> None:
        with self.raw() as conn:
            key = self.key(conn, doc_id)
            conn.executemany("DELETE FROM log WHERE doc_key = ? AND seq = ?", [(key, s) for s in seqs])

    def set_schema_version(self, version: int) -> None:
        with self.raw() as conn:
            conn.execute("UPDATE schema_version SET version = ?", (version,))


@pytest.fixture
def backend(tmp_path: Path) -> SQLiteBackend:
    return SQLiteBackend(tmp_path / "cowrite.db")


class TestSQLiteContract(StoreContract):
    pass


@pytest.fixture
def store(backend: SQLiteBackend) -> Iterator[SQLiteStore]:
    s = backend.open()
    yield s
    s.close()


# -- SQLite specifics -------------------------------------------------------------------


def test_durability_pragmas(store: SQLiteStore) -> None:
    assert store.pragmas() == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 10_000}
    assert store.schema_version == sqlite_mod.SCHEMA_VERSION == len(sqlite_mod.MIGRATIONS)


def _behind_a_commit(store: SQLiteStore, backend: SQLiteBackend, appends: list[tuple[str, bytes]]) -> list[object]:
    """Run ``appends`` (doc id, patch) in threads while a commit is in progress: another
    connection holds the write lock, so the store's first commit (of doc "blocker")
    waits on it and the others queue up.  Returns each append's seq or exception."""
    results: list[object] = [None] * len(appends)
    blocker = Document("blocker")
    blocker.insert(0, "b")
    outside = backend.raw()
    outside.execute("BEGIN IMMEDIATE")  # hold the database's write lock
    try:
        first = threading.Thread(target=lambda: store.append("blocker", blocker.encode_patch(), op_count=1))
        first.start()
        deadline = time.monotonic() + 10
        while store.commit_stats().committing != 1 and time.monotonic() < deadline:
            time.sleep(0.001)

        def append(i: int) -> None:
            try:
                results[i] = store.append(appends[i][0], appends[i][1], op_count=1)
            except Exception as exc:
                results[i] = exc

        threads = [threading.Thread(target=append, args=(i,)) for i in range(len(appends))]
        for t in threads:
            t.start()
        while store.commit_stats().queued < len(appends) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert store.commit_stats().queued == len(appends)
    finally:
        outside.execute("COMMIT")
        outside.close()
    first.join()
    for t in threads:
        t.join()
    return results


def test_appends_waiting_for_a_commit_are_committed_together(store: SQLiteStore, backend: SQLiteBackend) -> None:
    """Group commit: appends queued behind a commit in progress share the next transaction."""
    store.create("blocker")
    for i in range(5):
        store.create(f"d{i}")
    docs = [Document(f"a{i}") for i in range(5)]
    for d in docs:
        d.insert(0, "x")
    before = store.commit_stats().commits
    results = _behind_a_commit(store, backend, [(f"d{i}", d.encode_patch()) for i, d in enumerate(docs)])
    assert results == [1] * 5
    stats = store.commit_stats()
    assert stats.commits == before + 2  # the blocker's, then one for all five
    assert (stats.queued, stats.committing) == (0, 0)
    for i in range(5):
        assert store.load(f"d{i}").text == "x"


def test_a_failed_group_commit_stores_nothing_and_fails_every_append(store: SQLiteStore, backend: SQLiteBackend) -> None:
    for doc_id in ("blocker", "a", "b"):
        store.create(doc_id)
    d = Document("x")
    d.insert(0, "hi")
    good = d.encode_patch()
    with backend.raw() as conn:
        key_b = backend.key(conn, "b")
        conn.execute(
            f"CREATE TRIGGER boom BEFORE INSERT ON log WHEN NEW.doc_key = {key_b}"
            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    results = _behind_a_commit(store, backend, [("a", good), ("missing", good), ("b", good)])
    assert isinstance(results[0], StoreError) and "disk on fire" in str(results[0]) and "nothing stored" in str(results[0])
    assert isinstance(results[1], StoreError) and "missing" in str(results[1])
    assert isinstance(results[2], StoreError) and "disk on fire" in str(results[2])
    assert store.info("a").seq == 0  # "a" shared the failed transaction: not stored either
    with backend.raw() as conn:
        conn.execute("DROP TRIGGER boom")
    assert store.append("a", good, op_count=2) == 1


def test_a_blob_with_a_matching_checksum_that_does_not_decode(store: SQLiteStore, backend: SQLiteBackend) -> None:
    """Garbage written with a valid checksum (e.g. by a buggy older version) is still caught."""
    store.create("doc")
    d = Document("a")
    d.insert(0, "hello")
    store.append("doc", d.encode_patch(), op_count=5)
    junk = b"CWP\x02\x00garbage"
    with backend.raw() as conn:
        conn.execute("UPDATE log SET patch = ?, checksum = ? WHERE seq = 1", (junk, v1_checksum(b"log", 1, junk)))
    with pytest.raises(CorruptionError, match="log seq 1: does not decode"):
        store.load("doc")


def test_a_snapshot_whose_seq_was_altered_fails_its_checksum(store: SQLiteStore, backend: SQLiteBackend) -> None:
    store.create("doc")
    s = Session(store, "doc", ["a", "b"])
    s.round()
    store.snapshot("doc", s.server.copy())  # covers seq 2
    s.round()
    with backend.raw() as conn:
        conn.execute("UPDATE snapshots SET seq = 4")  # would skip entries 3 and 4
    with pytest.raises(CorruptionError, match="snapshot seq 4: checksum mismatch"):
        store.load("doc")


def test_log_rows_from_another_document_do_not_apply(store: SQLiteStore, backend: SQLiteBackend) -> None:
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


def test_files_that_are_not_usable(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(tmp_path / "no" / "such" / "dir.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(junk)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(SchemaError, match="not a cowrite store"):
        SQLiteStore(foreign)
    with pytest.raises(InvalidArgument):
        SQLiteStore(":memory:")


def test_two_handles_on_one_file(backend: SQLiteBackend) -> None:
    """Two processes (here: two handles) may share a database; seqs stay consecutive."""
    with backend.open() as one, backend.open() as two:
        one.create("doc")
        d = Document("a")
        for i in range(10):
            since = d.version
            d.insert(len(d), str(i))
            assert (one if i % 2 else two).append("doc", d.encode_patch(since), op_count=1) == i + 1
        assert_same(two.load("doc"), d)


# -- migrations -------------------------------------------------------------------------


def v1_checksum(kind: bytes, seq: int, blob: bytes) -> bytes:
    """The checksum format, written out here so that changing it without a migration fails."""
    tag = b"cowrite-log\0" if kind == b"log" else b"cowrite-snapshot\0"
    return hashlib.sha256(tag + seq.to_bytes(8, "big") + blob).digest()


V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE documents (
    key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE log (
    doc_key INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE, seq INTEGER NOT NULL,
    patch BLOB NOT NULL, checksum BLOB NOT NULL, op_count INTEGER NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (doc_key, seq));
CREATE TABLE snapshots (
    doc_key INTEGER NOT NULL REFERENCES documents(key) ON DELETE CASCADE, seq INTEGER NOT NULL,
    data BLOB NOT NULL, checksum BLOB NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (doc_key, seq));
"""


def make_v1_database(path: Path) -> Document:
    """A version-1 database written by hand: one document, snapshot at seq 2, log 1..3."""
    live = Document("alice")
    patches = []
    for word in ["Hello", " wörld", " 😀"]:
        since = live.version
        live.insert(len(live), word)
        patches.append(live.encode_patch(since))
    snapshot = None
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO documents VALUES (1, 'old', 100.0, 200.0, 3)")
    replica = Document("server")
    for seq, p in enumerate(patches, 1):
        conn.execute(
            "INSERT INTO log VALUES (1, ?, ?, ?, ?, 150.0)", (seq, p, v1_checksum(b"log", seq, p), len(p))
        )
        replica.apply_patch(p)
        if seq == 2:
            snapshot = replica.encode()
            conn.execute(
                "INSERT INTO snapshots VALUES (1, 2, ?, ?, 160.0)", (snapshot, v1_checksum(b"snapshot", 2, snapshot))
            )
    conn.close()
    return live


def raw_append(path: Path, doc_id: str, patch: bytes, *, op_count: int, text_length: int | None = None) -> int:
    """Append as a store of schema version 2..6 did (no op_runs index), behind the store's back."""
    with sqlite3.connect(path, isolation_level=None) as conn:
        key, last = conn.execute("SELECT key, last_seq FROM documents WHERE id = ?", (doc_id,)).fetchone()
        seq = last + 1
        conn.execute(
            "INSERT INTO log (doc_key, seq, patch, checksum, op_count, created_at) VALUES (?, ?, ?, ?, ?, 1.0)",
            (key, seq, patch, sqlite_mod._digest(sqlite_mod._LOG_TAG, seq, patch), op_count),
        )
        conn.execute(
            "UPDATE documents SET last_seq = ?, ops_count = ops_count + ?, text_length = COALESCE(?, text_length)"
            " WHERE key = ?",
            (seq, op_count, text_length, key),
        )
    return int(seq)


def test_version_0_empty_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # an empty SQLite file: version 0
    with SQLiteStore(path) as s:
        assert s.schema_version == sqlite_mod.SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(sqlite_mod.SCHEMA_VERSION,)]


def test_version_0_table_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "zero.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (0)")
    with SQLiteStore(path) as s:
        s.create("new")
        assert s.documents()[0].id == "new"


def test_version_1_database_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    live = make_v1_database(path)
    with SQLiteStore(path) as s:
        assert s.schema_version == sqlite_mod.SCHEMA_VERSION
        info = s.info("old")
        assert (info.seq, info.snapshot_seq, info.created_at, info.updated_at) == (3, 2, 100.0, 200.0)
        assert info.ops_count == sum(len(p) for _, p in s.log_since("old"))  # backfilled from the log
        assert info.text_length is None
        assert_same(s.load("old"), live)
        # a v1 snapshot (no stored version) is still checked when a new one is written
        stranger = Document("zed")
        stranger.insert(0, "?")
        with pytest.raises(StoreError, match="lacks ops"):
            s.snapshot("old", stranger)
        assert s.snapshot("old", live, prune=True) == 3
        assert s.info("old").text_length == len(live)
        since = live.version
        live.insert(0, ">")
        assert s.append("old", live.encode_patch(since), op_count=1) == 4
        assert_same(s.load("old"), live)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(sqlite_mod.SCHEMA_VERSION,)]


def test_future_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (?)", (sqlite_mod.SCHEMA_VERSION + 1,))
        conn.execute("CREATE TABLE documents (whatever TEXT)")
    v = sqlite_mod.SCHEMA_VERSION
    with pytest.raises(SchemaError, match=f"schema version {v + 1}, newer than this cowrite supports \\({v}\\)"):
        SQLiteStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(v + 1,)]


def test_failed_migration_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v1.db"
    live = make_v1_database(path)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE documents ADD COLUMN half_done INTEGER")
        raise RuntimeError("step failed midway")

    monkeypatch.setattr(sqlite_mod, "MIGRATIONS", [sqlite_mod.MIGRATIONS[0], broken])
    with pytest.raises(SchemaError, match="migration to schema version 2 failed: step failed midway"):
        SQLiteStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        columns = [r[1] for r in conn.execute("PRAGMA table_info(documents)")]
        assert "half_done" not in columns
    monkeypatch.undo()
    with SQLiteStore(path) as s:
        assert_same(s.load("old"), live)


def test_version_4_database_gains_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database of today's users (documents, agents, display names, no accounts) opens with
    everything it had, and empty accounts, sessions and invites tables."""
    from cowrite.store import AccountRecord, InviteRecord, SessionRecord

    path = tmp_path / "v4.db"
    monkeypatch.setattr(sqlite_mod, "MIGRATIONS", sqlite_mod.MIGRATIONS[:4])
    live = Document("alice")
    live.insert(0, "Hello")
    with SQLiteStore(path) as s:
        assert s.schema_version == 4
        s.create("notes")
    raw_append(path, "notes", live.encode_patch(), op_count=5, text_length=5)
    with SQLiteStore(path) as s:
        s.claim_agent("notes", "alice", "ann")
        s.set_user_name("ann", "Ann")
    monkeypatch.undo()
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "accounts" not in tables and "users" in tables
    with SQLiteStore(path) as s:
        assert s.schema_version == sqlite_mod.SCHEMA_VERSION
        assert_same(s.load("notes"), live)
        assert s.agent_owners("notes") == {"alice": "ann"}
        assert s.user_names(["ann"]) == {"ann": "Ann"}
        assert s.accounts() == [] and s.invites() == []
        key = hashlib.sha256(b"x").hexdigest()
        s.add_invite(InviteRecord(key, "ann", 1.0, 1e12))
        s.add_account(AccountRecord("ann", "Ann", "$argon2id$...", True, False, 2.0), invite=key)
        s.add_session(SessionRecord(key, "ann", "csrf", 2.0, 2.0, 3.0))
        assert s.sessions("ann")[0].user == "ann"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(sqlite_mod.SCHEMA_VERSION,)]
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM accounts WHERE username = 'ann'")  # sessions go with their account
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)


def test_version_5_database_gains_document_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database of the first accounts release (documents, accounts, sessions, invites) opens
    with all of it, its documents ownerless, and working members, links, invites and tokens."""
    from cowrite.store import AccountRecord, DocInviteRecord, InviteRecord, LinkRecord, MemberRecord, TokenRecord

    path = tmp_path / "v5.db"
    monkeypatch.setattr(sqlite_mod, "MIGRATIONS", sqlite_mod.MIGRATIONS[:5])
    live = Document("alice")
    live.insert(0, "Hello")
    key = hashlib.sha256(b"x").hexdigest()
    with SQLiteStore(path) as s:
        assert s.schema_version == 5
        s.create("notes")
    raw_append(path, "notes", live.encode_patch(), op_count=5, text_length=5)
    with SQLiteStore(path) as s:
        s.add_account(AccountRecord("ann", "Ann", "$argon2id$...", True, False, 2.0))
        s.add_invite(InviteRecord(key, "ann", 1.0, 1e12))
    monkeypatch.undo()
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "accounts" in tables and not {"members", "links", "doc_invites", "tokens"} & tables
    with SQLiteStore(path) as s:
        assert s.schema_version == sqlite_mod.SCHEMA_VERSION
        assert_same(s.load("notes"), live)
        assert s.account("ann") is not None and s.invite(key) is not None
        assert s.members("notes") == [] and s.owners() == {} and s.link("notes") is None
        assert s.update_members("notes", expected={}, put=[MemberRecord("notes", "ann", "owner", "ann", 3.0)])
        assert s.set_link("notes", LinkRecord("notes", "viewer", "k" * 43, "ann", 3.0))
        assert s.add_doc_invite(DocInviteRecord(key, "notes", "editor", "ann", 3.0, 1e12))
        s.add_token(TokenRecord(key, "t1", "ann", "ci", ("notes",), "viewer", 3.0, None))
        assert s.owners() == {"notes": "ann"} and s.tokens("ann")[0].docs == ("notes",)
        s.delete("notes")
        assert s.doc_invite(key) is None and s.owners() == {}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(sqlite_mod.SCHEMA_VERSION,)]
        for table in ("members", "links", "doc_invites"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)


def test_version_6_database_gains_the_op_runs_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database from before the op id check opens with every log entry (and the pruned
    ones, from the snapshot) indexed: conflicting resends are refused from then on, exact
    ones accepted, and a document it had already poisoned still opens (its load fails)."""
    path = tmp_path / "v6.db"
    monkeypatch.setattr(sqlite_mod, "MIGRATIONS", sqlite_mod.MIGRATIONS[:6])
    live = Document("alice")
    live.insert(0, "Hello")
    first = live.encode_patch()
    with SQLiteStore(path) as s:
        assert s.schema_version == 6
        s.create("notes")
        s.create("bad")
    raw_append(path, "notes", first, op_count=5)
    with SQLiteStore(path) as s:
        assert s.snapshot("notes", live, prune=True) == 1
    since = live.version
    live.insert(5, " world")
    second = live.encode_patch(since)
    raw_append(path, "notes", second, op_count=6)
    raw_append(path, "notes", first, op_count=5)  # an old resend, stored by v6
    x, y = Document("same"), Document("same")
    x.insert(0, "abc")
    y.insert(0, "xyz")
    raw_append(path, "bad", x.encode_patch(), op_count=3)
    raw_append(path, "bad", y.encode_patch(), op_count=3)  # what v6 let in
    monkeypatch.undo()
    with SQLiteStore(path) as s:
        assert s.schema_version == sqlite_mod.SCHEMA_VERSION
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
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT agent, seq_start, seq_end, log_seq FROM op_runs ORDER BY doc_key, agent, seq_start").fetchall()
    assert rows == [("alice", 0, 5, 1), ("alice", 5, 11, 2), ("alice", 11, 12, 4), ("same", 0, 3, 1)]


# -- open_store -------------------------------------------------------------------------


def test_open_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///rel.db") as s:
        assert isinstance(s, SQLiteStore)
    assert (tmp_path / "rel.db").exists()
    with open_store(f"sqlite:///{tmp_path / 'abs.db'}") as s:
        assert s.path == str(tmp_path / "abs.db")
    with open_store("plain.db") as s:
        assert isinstance(s, SQLiteStore)
    with open_store(tmp_path / "pathlike.db") as s:
        assert isinstance(s, SQLiteStore)
    with pytest.raises(UnsupportedBackend, match="unknown store URL scheme 'redis'"):
        open_store("redis://localhost")
    assert issubclass(UnsupportedBackend, NotImplementedError)
    for bad in ("", "sqlite://", "sqlite:///", "sqlite:///:memory:"):
        with pytest.raises(InvalidArgument):
            open_store(bad)


def test_version_7_database_gains_titles_and_named_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database from before titles and named versions opens with its documents untitled
    and without named versions, and both work from then on."""
    from cowrite.store import NamedVersionRecord

    path = tmp_path / "v7.db"
    monkeypatch.setattr(sqlite_mod, "MIGRATIONS", sqlite_mod.MIGRATIONS[:7])
    live = Document("alice")
    live.insert(0, "Hello")
    with SQLiteStore(path) as s:
        assert s.schema_version == 7
        s.create("notes")
        s.append("notes", live.encode_patch(), op_count=5, text_length=5)
    monkeypatch.undo()
    with SQLiteStore(path) as s:
        assert s.schema_version == sqlite_mod.SCHEMA_VERSION
        assert_same(s.load("notes"), live)
        assert s.info("notes").title == "" and s.named_versions("notes") == []
        s.set_title("notes", "Greetings")
        record = NamedVersionRecord("notes", "first", tuple(sorted(live.version)), "ann", 1.0)
        assert s.add_named_version(record)
    with SQLiteStore(path) as s:
        assert s.info("notes").title == "Greetings" and s.named_versions("notes") == [record]
