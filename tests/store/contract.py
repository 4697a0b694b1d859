"""The contract every :class:`cowrite.store.Store` backend must pass.

A backend's test module subclasses :class:`StoreContract` (pytest collects the
subclass, e.g. ``class TestSQLiteContract(StoreContract)``) and provides a
``backend`` fixture: an object with the :class:`Backend` methods below, which
open the store under test and reach into its raw storage to damage it.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from cowrite.engine import Document, Op, encode_patch
from cowrite.store import (
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
    SchemaError,
    SessionRecord,
    SignUpRefused,
    Store,
    StoreError,
    TokenRecord,
    open_store,
)

from throttle_contract import ThrottleContract  # sign-in throttle counts
from versions_contract import VersionsContract  # titles and named versions

SRC = str(Path(__file__).resolve().parents[2] / "src")


class Backend(Protocol):
    url: str
    """``open_store(url)`` opens this store, from this process or another one."""

    def open(self) -> Store:
        """A new handle on the (same) store; may be called again after closing one."""

    def corrupt_log(self, doc_id: str, seq: int) -> None:
        """Flip one byte of the stored patch of log entry ``seq``."""

    def corrupt_snapshot(self, doc_id: str) -> None:
        """Flip one byte of the newest stored snapshot."""

    def delete_log_rows(self, doc_id: str, seqs: list[int]) -> None:
        """Remove log rows behind the store's back."""

    def set_schema_version(self, version: int) -> None:
        """Mark the storage as being of schema ``version``."""


# -- building real documents ------------------------------------------------------------

WORDS = ["hello", "wörld", "😀", "👩‍👩‍👧", "🇫🇷", "e\u0301", "日本語", " ", "\n", "x"]


def random_edits(doc: Document, rng: random.Random, n: int) -> None:
    for _ in range(n):
        if len(doc) and rng.random() < 0.3:
            pos = rng.randrange(len(doc))
            doc.delete(pos, rng.randint(1, min(3, len(doc) - pos)))
        else:
            doc.insert(rng.randint(0, len(doc)), rng.choice(WORDS))


def op_count(doc: Document, since: object) -> int:
    return sum(op.span for op in doc.ops_since(since))  # type: ignore[arg-type]


class Session:
    """A server replica plus clients that edit concurrently and sync through it.

    Every batch a client sends is applied to the server replica and appended to
    the store, like the real server does (apply, persist, acknowledge).
    """

    def __init__(self, store: Store, doc_id: str, agents: list[str], seed: int = 1) -> None:
        self.store = store
        self.doc_id = doc_id
        self.rng = random.Random(seed)
        self.server = Document("server")
        self.clients = [self.server.fork(a) for a in agents]
        self.synced = {c.agent: c.version for c in self.clients}
        self.seqs: list[int] = []

    def send(self, client: Document) -> int:
        since = self.synced[client.agent]
        patch = client.encode_patch(since)
        self.server.apply_patch(patch)
        seq = self.store.append(
            self.doc_id, patch, op_count=op_count(client, since), text_length=len(self.server)
        )
        self.seqs.append(seq)
        return seq

    def round(self, edits: int = 4) -> None:
        """Every client edits (concurrently: none sees the others), sends, then catches up."""
        for c in self.clients:
            random_edits(c, self.rng, edits)
        for c in self.clients:
            self.send(c)
        for c in self.clients:
            c.merge(self.server)
            self.synced[c.agent] = c.version


def assert_same(loaded: Document, live: Document) -> None:
    assert loaded.text == live.text
    assert sorted(loaded.version) == sorted(live.version)
    assert loaded.summary() == live.summary()
    assert len(loaded.oplog) == len(live.oplog)
    assert sorted(loaded.ops_missing_from(live.summary())) == []


def count_merged_ops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy: the number of op ids (spans) each ``Document.add_ops`` call receives."""
    calls: list[int] = []
    original = Document.add_ops

    def spy(self: Document, ops):  # type: ignore[no-untyped-def]
        ops = list(ops)
        calls.append(sum(op.span for op in ops))
        return original(self, ops)

    monkeypatch.setattr(Document, "add_ops", spy)
    return calls


CHILD = """
import os, signal, sys
from cowrite import Document
from cowrite.store import open_store
url, doc_id, n, die_after = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = open_store(url)
doc = Document("crash")
for i in range(n):
    since = doc.version
    doc.insert(len(doc), f"{i},")
    seq = store.append(doc_id, doc.encode_patch(since), op_count=len(f"{i},"))
    print(seq, i, flush=True)   # acknowledged: the entry must survive anything now
    if i + 1 == die_after:
        os.kill(os.getpid(), signal.SIGKILL)   # the very moment after an acknowledgement
"""


def key(i: int) -> str:
    """A well-formed session or invite key (what the accounts service stores: a SHA-256)."""
    return hashlib.sha256(f"secret {i}".encode()).hexdigest()


def account(username: str, *, name: str = "Someone", password_hash: str = "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
            admin: bool = False, created_at: float = 1.0) -> AccountRecord:
    return AccountRecord(username, name, password_hash, admin, False, created_at)


def session(user: str, i: int, *, t: float = 1.0) -> SessionRecord:
    return SessionRecord(key(i), user, f"csrf-{i}", t, t, t + 1000.0)


def invite(i: int, *, created_at: float = 1.0, expires_at: float = 1000.0) -> InviteRecord:
    return InviteRecord(key(i), "ada", created_at, expires_at)


def member(doc: str, user: str, role: str, *, at: float = 1.0, by: str = "ada") -> MemberRecord:
    return MemberRecord(doc, user, role, by, at)


def doc_invite(i: int, doc: str = "doc", role: str = "editor", *, created_at: float = 1.0,
               expires_at: float = 1000.0) -> DocInviteRecord:
    return DocInviteRecord(key(i), doc, role, "ada", created_at, expires_at)


def token(i: int, user: str = "ada", *, docs: tuple[str, ...] = ("*",), t: float = 1.0,
          label: str = "ci") -> TokenRecord:
    return TokenRecord(key(i), f"id{i}", user, label, docs, "editor", t, t + 1000.0)


class StoreContract(VersionsContract, ThrottleContract):
    """The tests.  Subclass with a ``backend`` fixture returning a :class:`Backend`."""

    @pytest.fixture
    def store(self, backend: Backend) -> Iterator[Store]:
        s = backend.open()
        try:
            yield s
        finally:
            s.close()

    # -- documents --------------------------------------------------------------------

    def test_is_a_store(self, store: Store) -> None:
        assert isinstance(store, Store)

    def test_user_names_latest_wins(self, store: Store) -> None:
        assert store.user_names(["ann", "bob"]) == {}
        store.set_user_name("ann", "Ann")
        store.set_user_name("bob", "Bob 🐻")
        store.set_user_name("ann", "Ann Lee")
        assert store.user_names(["ann", "bob", "cy"]) == {"ann": "Ann Lee", "bob": "Bob 🐻"}
        assert store.user_names([f"u{i}" for i in range(1200)] + ["bob"]) == {"bob": "Bob 🐻"}
        for user, name in (("", "x"), ("ann", ""), ("ann", "x" * 257)):
            with pytest.raises(InvalidArgument):
                store.set_user_name(user, name)
        assert store.user_names(["ann"]) == {"ann": "Ann Lee"}

    def test_agent_ownership_is_first_come_and_durable(self, store: Store) -> None:
        store.create("doc")
        assert store.agent_owners("doc") == {}
        assert store.claim_agent("doc", "laptop", "ann") == "ann"
        assert store.claim_agent("doc", "laptop", "mallory") == "ann"  # taken: the owner is returned
        assert store.claim_agent("doc", "phone", "bob") == "bob"
        assert store.agent_owners("doc") == {"laptop": "ann", "phone": "bob"}
        with pytest.raises(DocumentNotFound):
            store.claim_agent("nope", "a", "b")
        store.delete("doc")
        store.create("doc")
        assert store.agent_owners("doc") == {}  # a new document with the same id starts afresh

    def test_create_list_exists_delete(self, store: Store) -> None:
        assert store.documents() == []
        assert not store.exists("b")
        info = store.create("b")
        assert isinstance(info, DocInfo)
        assert (info.id, info.seq, info.ops_count, info.snapshot_seq, info.text_length) == ("b", 0, 0, 0, None)
        assert info.created_at == info.updated_at > 0
        store.create("a")
        assert [d.id for d in store.documents()] == ["a", "b"]
        assert store.exists("a") and store.exists("b")
        assert store.info("b") == info
        store.delete("b")
        assert not store.exists("b")
        assert [d.id for d in store.documents()] == ["a"]
        with pytest.raises(DocumentNotFound):
            store.info("b")

    def test_create_twice_and_missing_documents(self, store: Store) -> None:
        store.create("d")
        with pytest.raises(DocumentExists, match="'d'"):
            store.create("d")
        patch = Document("a").encode_patch()
        for call in (
            lambda: store.delete("nope"),
            lambda: store.load("nope"),
            lambda: store.info("nope"),
            lambda: store.append("nope", patch, op_count=0),
            lambda: store.log_since("nope", 0),
            lambda: store.snapshot("nope", Document("a")),
        ):
            with pytest.raises(DocumentNotFound, match="no document 'nope'"):
                call()

    @pytest.mark.parametrize("bad", ["", "a" * 129, "a/b", "../etc", "a b", "ü", "a\n", "a:b", None, 5, b"ab"])
    def test_document_ids_are_validated_everywhere(self, store: Store, bad: object) -> None:
        patch = Document("a").encode_patch()
        calls = [
            lambda: store.create(bad),  # type: ignore[arg-type]
            lambda: store.delete(bad),  # type: ignore[arg-type]
            lambda: store.exists(bad),  # type: ignore[arg-type]
            lambda: store.info(bad),  # type: ignore[arg-type]
            lambda: store.load(bad),  # type: ignore[arg-type]
            lambda: store.append(bad, patch, op_count=0),  # type: ignore[arg-type]
            lambda: store.snapshot(bad, Document("a")),  # type: ignore[arg-type]
            lambda: store.log_since(bad, 0),  # type: ignore[arg-type]
        ]
        for call in calls:
            with pytest.raises(InvalidDocumentId, match="document id"):
                call()
        assert store.documents() == []

    @pytest.mark.parametrize("good", ["a", "A-z_0.9", "a" * 128, "...", "-"])
    def test_valid_document_ids(self, store: Store, good: str) -> None:
        store.create(good)
        assert store.exists(good)
        assert store.load(good).text == ""

    def test_errors_are_cowrite_errors(self) -> None:
        from cowrite.engine import CowriteError

        for cls in (StoreError, DocumentNotFound, DocumentExists, CorruptionError, InvalidDocumentId, SchemaError):
            assert issubclass(cls, CowriteError)
            assert issubclass(cls, StoreError)
        assert issubclass(DocumentNotFound, KeyError)
        assert issubclass(InvalidDocumentId, ValueError)

    # -- append / load ----------------------------------------------------------------

    def test_empty_document_loads_empty(self, store: Store) -> None:
        store.create("e")
        doc = store.load("e", agent="me")
        assert (doc.text, doc.version, doc.agent, len(doc.oplog)) == ("", (), "me", 0)
        assert store.log_since("e") == []

    def test_round_trip_with_several_agents_concurrency_and_emoji(self, store: Store) -> None:
        store.create("doc")
        s = Session(store, "doc", ["alice", "bob", "carol"], seed=7)
        for _ in range(6):
            s.round()
        assert s.seqs == list(range(1, 19))
        assert any(ch in s.server.text for ch in "😀👩🇫")
        loaded = store.load("doc", agent="reader")
        assert_same(loaded, s.server)
        assert loaded.agent == "reader"
        info = store.info("doc")
        assert info.seq == 18 and info.snapshot_seq == 0
        assert info.ops_count == len(s.server.oplog)
        assert info.text_length == len(s.server)
        # the loaded replica is a working replica: it edits and merges on
        loaded.insert(0, "→")
        s.server.merge(loaded)
        assert s.server.text.startswith("→")

    def test_log_since(self, store: Store) -> None:
        store.create("doc")
        s = Session(store, "doc", ["a", "b"])
        s.round()
        s.round()
        log = store.log_since("doc", 0)
        assert [seq for seq, _ in log] == [1, 2, 3, 4]
        assert [seq for seq, _ in store.log_since("doc", 2)] == [3, 4]
        assert store.log_since("doc", 4) == []
        assert store.log_since("doc", 99) == []
        replica = Document("r")
        for _, patch in log:
            replica.apply_patch(patch)
        assert_same(replica, s.server)
        with pytest.raises(InvalidArgument):
            store.log_since("doc", -1)

    def test_append_rejects_what_it_could_not_load(self, store: Store) -> None:
        store.create("doc")
        good = Document("a").encode_patch()
        with pytest.raises(InvalidArgument, match="decode"):
            store.append("doc", b"not a patch", op_count=1)
        d = Document("a")
        d.insert(0, "hi")
        damaged = bytearray(d.encode_patch())
        damaged[len(damaged) // 2] ^= 0x40
        with pytest.raises(InvalidArgument):
            store.append("doc", bytes(damaged), op_count=2)
        with pytest.raises(InvalidArgument):
            store.append("doc", "text", op_count=1)  # type: ignore[arg-type]
        for bad in (-1, 1.5, None, True):
            with pytest.raises(InvalidArgument):
                store.append("doc", good, op_count=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            store.append("doc", good, op_count=0, text_length=-3)
        assert store.info("doc").seq == 0

    def test_reappending_a_patch_is_harmless(self, store: Store) -> None:
        store.create("doc")
        live = Document("a")
        live.insert(0, "one ")
        p1 = live.encode_patch()
        v = live.version
        live.insert(4, "two")
        p2 = live.encode_patch(v)
        assert store.append("doc", p1, op_count=4) == 1
        assert store.append("doc", p1, op_count=4) == 1  # a retry: the same entry
        assert store.append("doc", p2, op_count=3) == 2
        store.append("doc", p1, op_count=4)  # an old batch again: stored or not, harmless
        store.append("doc", live.encode_patch(), op_count=7)  # everything again
        assert_same(store.load("doc"), live)
        assert [seq for seq, _ in store.log_since("doc")] == list(range(1, store.info("doc").seq + 1))

    # -- op ids: (agent, seq) runs ----------------------------------------------------

    def test_an_exact_resend_of_stored_ops_stores_nothing(self, store: Store) -> None:
        store.create("doc")
        live = Document("a")
        live.insert(0, "one ")
        p1 = live.encode_patch()
        v = live.version
        live.insert(4, "two")
        assert store.append("doc", p1, op_count=4) == 1
        assert store.append("doc", live.encode_patch(v), op_count=3) == 2
        # the first batch again, split differently: the same ops, already held by entry 1
        split = encode_patch([Op.insert("a", 0, (), 0, "on"), Op.insert("a", 2, (("a", 1),), 2, "e ")])
        assert store.append("doc", split, op_count=4) == 1
        assert store.append("doc", live.encode_patch(), op_count=7, text_length=7) == 2  # everything
        info = store.info("doc")
        assert (info.seq, info.ops_count, info.text_length) == (2, 7, 7)
        assert_same(store.load("doc"), live)

    def test_a_resend_that_extends_stored_ops_is_stored(self, store: Store) -> None:
        store.create("doc")
        live = Document("a")
        live.insert(0, "hello")
        assert store.append("doc", live.encode_patch(), op_count=5) == 1
        live.insert(5, " you")
        live.delete(0, 1)
        assert store.append("doc", live.encode_patch(), op_count=10) == 2  # a:0..4 again, then new ops
        assert_same(store.load("doc"), live)
        # the new part is now stored too: a conflicting version of it is refused
        other = Document("a")
        other.insert(0, "hello")
        other.insert(5, " YOU")
        with pytest.raises(ConflictingOps, match="a:6"):
            store.append("doc", other.encode_patch(), op_count=9)
        assert store.info("doc").seq == 2
        assert_same(store.load("doc"), live)

    @pytest.mark.parametrize(
        "forged",
        [
            Op.insert("a", 0, (), 0, "hxllo"),  # other text
            Op.insert("a", 0, (), 1, "hello"),  # other position
            Op.insert("a", 0, (("b", 0),), 0, "hello"),  # other parents
            Op.delete("a", 2, (("a", 1),), 0, 2),  # a delete where inserts are stored
            Op.insert("a", 4, (("a", 3),), 4, "O!"),  # overlaps the end of the stored run
        ],
    )
    def test_conflicting_ops_are_refused_and_nothing_of_the_batch_is_stored(self, store: Store, forged: Op) -> None:
        store.create("doc")
        live = Document("a")
        b = Document("b")
        b.insert(0, "x")
        assert store.append("doc", b.encode_patch(), op_count=1) == 1
        live.insert(0, "hello")
        assert store.append("doc", live.encode_patch(), op_count=5) == 2
        live.merge(b)
        innocent = Op.insert("c", 0, (), 0, "new")  # ops of another agent in the same batch
        with pytest.raises(ConflictingOps) as err:
            store.append("doc", encode_patch([innocent, forged]), op_count=3 + forged.span)
        assert isinstance(err.value, StoreError) and "nothing of this batch was stored" in str(err.value)
        assert store.info("doc").seq == 2 and store.info("doc").ops_count == 6
        assert_same(store.load("doc"), live)
        # the innocent ops were not indexed either: they can still be appended on their own
        assert store.append("doc", encode_patch([innocent]), op_count=3) == 3

    def test_a_batch_naming_one_id_twice_with_other_content_is_refused(self, store: Store) -> None:
        store.create("doc")
        twice = encode_patch([Op.insert("a", 0, (), 0, "ab"), Op.insert("a", 1, (("a", 0),), 1, "c")])
        with pytest.raises(ConflictingOps, match="a:1"):
            store.append("doc", twice, op_count=3)
        assert store.info("doc").seq == 0

    def test_two_stores_appending_conflicting_ops_at_once_one_wins(self, backend: Backend) -> None:
        """Two servers (two store handles) commit the same op ids with other content at the
        same instant, for several documents: each time exactly one is stored, the other
        refused, and the document loads as the winner."""
        stores = [backend.open(), backend.open()]
        try:
            for r in range(6):
                stores[0].create(f"race{r}")
                docs = [Document("same"), Document("same")]
                docs[0].insert(0, f"first {r}")
                docs[1].insert(0, f"other {r}!")
                barrier = threading.Barrier(2)
                results: list[object] = [None, None]

                def work(i: int) -> None:
                    barrier.wait()
                    try:
                        results[i] = stores[i].append(f"race{r}", docs[i].encode_patch(), op_count=len(docs[i]))
                    except ConflictingOps as exc:
                        results[i] = exc

                threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                won = [i for i in range(2) if results[i] == 1]
                assert len(won) == 1, results
                assert isinstance(results[1 - won[0]], ConflictingOps)
                assert stores[1].info(f"race{r}").seq == 1
                assert stores[1 - won[0]].load(f"race{r}").text == docs[won[0]].text
        finally:
            for s in stores:
                s.close()

    def test_a_conflict_in_a_group_of_appends_refuses_only_that_one(self, store: Store) -> None:
        """Appends from many threads (SQLite commits them in groups): the conflicting ones are
        refused, every other one is stored."""
        store.create("doc")
        n = 8
        writers = [Document(f"w{i}") for i in range(n)]
        for i, w in enumerate(writers):
            w.insert(0, f"writer {i} ")
        forgers = [Document(f"w{i}") for i in range(n)]
        for i, f in enumerate(forgers):
            f.insert(0, f"forger {i} ")
        assert store.append("doc", writers[0].encode_patch(), op_count=9) == 1
        outcomes: dict[str, object] = {}
        barrier = threading.Barrier(2 * n - 1)

        def work(name: str, patch: bytes) -> None:
            barrier.wait()
            try:
                outcomes[name] = store.append("doc", patch, op_count=9)
            except ConflictingOps as exc:
                outcomes[name] = exc

        jobs = [(f"w{i}", writers[i].encode_patch()) for i in range(1, n)]
        jobs += [(f"f{i}", forgers[i].encode_patch()) for i in range(n)]
        threads = [threading.Thread(target=work, args=job) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert isinstance(outcomes["f0"], ConflictingOps)  # w0 was stored before
        for i in range(1, n):  # of each writer and its forger, exactly one got in
            got = [isinstance(outcomes[k], int) for k in (f"w{i}", f"f{i}")]
            assert sorted(got) == [False, True], (i, outcomes)
        info = store.info("doc")
        assert info.seq == n
        assert sorted(v for v in outcomes.values() if isinstance(v, int)) == list(range(2, n + 1))
        loaded = store.load("doc")
        assert len(loaded.oplog) == 9 * n

    def test_log_in_any_causal_permutation_loads(self, store: Store) -> None:
        """Two appends raced: a batch is logged before the batch it builds on."""
        store.create("doc")
        live = Document("a")
        live.insert(0, "ab")
        first = live.encode_patch()
        v = live.version
        live.insert(1, "😀")
        second = live.encode_patch(v)
        store.append("doc", second, op_count=1)
        store.append("doc", first, op_count=2)
        assert_same(store.load("doc"), live)

    # -- snapshots --------------------------------------------------------------------

    def test_snapshot_then_appends_then_load_equals_live(self, store: Store) -> None:
        store.create("doc")
        s = Session(store, "doc", ["alice", "bob", "carol"], seed=3)
        for _ in range(3):
            s.round()
        assert store.snapshot("doc", s.server.copy()) == 9
        assert_same(store.load("doc"), s.server)
        for _ in range(3):
            s.round()
        info = store.info("doc")
        assert (info.seq, info.snapshot_seq) == (18, 9)
        loaded = store.load("doc", agent="x")
        assert_same(loaded, s.server)
        assert loaded.text_at(s.server.version) == s.server.text
        # a second snapshot supersedes the first
        assert store.snapshot("doc", s.server) == 18
        assert store.info("doc").snapshot_seq == 18
        assert_same(store.load("doc"), s.server)

    def test_info_counts_the_snapshot_and_the_log_after_it(self, store: Store) -> None:
        """What a server needs to pace its snapshots: their size, and what loading replays."""
        store.create("doc")
        assert (store.info("doc").snapshot_bytes, store.info("doc").log_bytes_since_snapshot) == (0, 0)
        doc = Document("a")
        sizes = []
        for word in ("one ", "two ", "three "):
            v = doc.version
            doc.insert(len(doc), word)
            patch = doc.encode_patch(v)
            sizes.append(len(patch))
            store.append("doc", patch, op_count=len(word))
        assert store.info("doc").log_bytes_since_snapshot == sum(sizes)
        store.snapshot("doc", doc.copy())
        info = store.info("doc")
        assert info.snapshot_bytes == len(doc.encode()) and info.log_bytes_since_snapshot == 0
        v = doc.version
        doc.insert(0, "zero ")
        store.append("doc", doc.encode_patch(v), op_count=5)
        assert store.info("doc").log_bytes_since_snapshot == len(doc.encode_patch(v))
        assert [d.snapshot_bytes for d in store.documents()] == [info.snapshot_bytes]

    def test_load_starts_from_the_snapshot(self, store: Store, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
        store.create("doc")
        s = Session(store, "doc", ["alice", "bob"], seed=5)
        for _ in range(4):
            s.round()
        covered = store.snapshot("doc", s.server)
        before = len(s.server.oplog)
        s.round()
        after = len(s.server.oplog)
        calls = count_merged_ops(monkeypatch)
        assert_same(store.load("doc"), s.server)
        assert sum(calls) == after - before  # only what came after the snapshot was merged
        monkeypatch.undo()
        # the history before the snapshot is not even read
        backend.delete_log_rows("doc", list(range(1, covered + 1)))
        assert_same(store.load("doc"), s.server)

    def test_snapshot_of_a_document_ahead_of_the_log(self, store: Store) -> None:
        """The room applied a batch whose append is still under way."""
        store.create("doc")
        s = Session(store, "doc", ["a", "b"])
        s.round()
        c = s.clients[0]
        since = s.synced[c.agent]
        c.insert(0, "in flight ")
        patch = c.encode_patch(since)
        s.server.apply_patch(patch)  # applied, not yet logged
        assert store.snapshot("doc", s.server.copy()) == 2
        assert store.append("doc", patch, op_count=10) == 3
        assert_same(store.load("doc"), s.server)

    def test_snapshot_of_a_document_behind_the_log_covers_less(self, store: Store) -> None:
        """The snapshot copy was taken before the newest append: it covers what it holds."""
        store.create("doc")
        s = Session(store, "doc", ["a", "b"])
        s.round()
        old = s.server.copy()
        s.round()
        assert store.snapshot("doc", old) == 2
        assert store.info("doc").snapshot_seq == 2
        assert_same(store.load("doc"), s.server)
        assert store.snapshot("doc", s.server) == 4

    def test_snapshot_refuses_a_document_missing_stored_ops(self, store: Store) -> None:
        store.create("doc")
        s = Session(store, "doc", ["a"])
        s.round()
        store.snapshot("doc", s.server)
        stranger = Document("z")
        stranger.insert(0, "unrelated")
        with pytest.raises(StoreError, match="lacks ops"):
            store.snapshot("doc", stranger)
        assert_same(store.load("doc"), s.server)
        with pytest.raises(InvalidArgument):
            store.snapshot("doc", s.server.encode())  # type: ignore[arg-type]

    def test_snapshot_with_prune(self, store: Store) -> None:
        store.create("doc")
        s = Session(store, "doc", ["a", "b"])
        s.round()
        s.round()
        assert store.snapshot("doc", s.server, prune=True) == 4
        s.round()
        assert_same(store.load("doc"), s.server)
        assert [seq for seq, _ in store.log_since("doc", 4)] == [5, 6]
        with pytest.raises(HistoryPruned, match="before seq 5"):
            store.log_since("doc", 0)
        assert store.info("doc").seq == 6
        # everything again, pruned ops included: checked against the snapshot, nothing stored
        assert store.append("doc", s.server.encode_patch(), op_count=0) == 6
        assert store.info("doc").seq == 6
        s.round()
        assert store.info("doc").seq == 8
        assert_same(store.load("doc"), s.server)

    def test_reopen_keeps_everything(self, store: Store, backend: Backend) -> None:
        store.create("doc")
        s = Session(store, "doc", ["a", "b"])
        s.round()
        store.snapshot("doc", s.server)
        s.round()
        info = store.info("doc")
        store.close()
        again = backend.open()
        try:
            assert again.info("doc") == info
            assert_same(again.load("doc"), s.server)
        finally:
            again.close()

    def test_closed_store_refuses_calls(self, backend: Backend) -> None:
        s = backend.open()
        s.create("doc")
        s.close()
        s.close()  # idempotent
        for call in (lambda: s.documents(), lambda: s.load("doc"), lambda: s.create("x")):
            with pytest.raises(StoreError, match="closed"):
                call()
        with pytest.raises(StoreError, match="closed"):
            s.append("doc", Document("a").encode_patch(), op_count=0)

    def test_delete_removes_log_and_snapshots(self, store: Store) -> None:
        store.create("doc")
        s = Session(store, "doc", ["a"])
        s.round()
        store.snapshot("doc", s.server)
        s.round()
        store.delete("doc")
        store.create("doc")
        assert store.load("doc").text == ""
        assert store.log_since("doc") == []
        assert store.info("doc").seq == 0

    # -- corruption -------------------------------------------------------------------

    def _history(self, store: Store) -> Session:
        store.create("doc")
        s = Session(store, "doc", ["a", "b"], seed=11)
        for _ in range(3):
            s.round()  # seqs 1..6
        return s

    def test_flipped_byte_in_a_log_entry(self, store: Store, backend: Backend) -> None:
        self._history(store)
        backend.corrupt_log("doc", 3)
        with pytest.raises(CorruptionError, match="log seq 3") as e:
            store.load("doc")
        assert (e.value.doc_id, e.value.what, e.value.where) == ("doc", "log", "log seq 3")
        assert "'doc'" in str(e.value)
        with pytest.raises(CorruptionError, match="log seq 3"):
            store.log_since("doc", 0)
        assert [seq for seq, _ in store.log_since("doc", 3)] == [4, 5, 6]

    def test_flipped_byte_in_a_snapshot(self, store: Store, backend: Backend) -> None:
        s = self._history(store)
        store.snapshot("doc", s.server)
        backend.corrupt_snapshot("doc")
        with pytest.raises(CorruptionError, match="snapshot") as e:
            store.load("doc")
        assert e.value.what == "snapshot" and e.value.doc_id == "doc"
        with pytest.raises(CorruptionError):
            store.snapshot("doc", s.server)  # never built on a damaged snapshot
        assert [seq for seq, _ in store.log_since("doc")] == [1, 2, 3, 4, 5, 6]  # the log is intact

    def test_missing_middle_log_row_is_a_gap(self, store: Store, backend: Backend) -> None:
        self._history(store)
        backend.delete_log_rows("doc", [4])
        with pytest.raises(CorruptionError, match="log seq 4.*missing"):
            store.load("doc")
        with pytest.raises(CorruptionError, match="log seq 4"):
            store.log_since("doc", 2)

    def test_missing_newest_log_row_is_detected(self, store: Store, backend: Backend) -> None:
        self._history(store)
        backend.delete_log_rows("doc", [6])
        with pytest.raises(CorruptionError, match="log seq 6.*missing"):
            store.load("doc")

    def test_missing_row_after_a_snapshot_is_a_gap(self, store: Store, backend: Backend) -> None:
        s = self._history(store)
        store.snapshot("doc", s.server)
        s.round()  # 7, 8
        s.round()  # 9, 10
        backend.delete_log_rows("doc", [8])
        with pytest.raises(CorruptionError, match="log seq 8"):
            store.load("doc")
        with pytest.raises(CorruptionError, match="log seq 8"):
            store.snapshot("doc", s.server)

    def test_other_documents_are_unaffected_by_corruption(self, store: Store, backend: Backend) -> None:
        self._history(store)
        store.create("other")
        other = Session(store, "other", ["c"])
        other.round()
        backend.corrupt_log("doc", 1)
        assert_same(store.load("other"), other.server)
        assert [d.id for d in store.documents()] == ["doc", "other"]

    # -- durability and concurrency ---------------------------------------------------

    def test_every_acknowledged_append_survives_sigkill(self, store: Store, backend: Backend) -> None:
        store.create("crash")
        store.close()
        env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
        acked: list[tuple[int, int]] = []
        # 1: the child kills itself right after its 25th acknowledgement;
        # 2, 3: killed from outside while appending, after 5 / 40 acknowledgements were read
        for die_after, kill_after in ((25, 25), (0, 5), (0, 40)):
            start = len(acked)
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, backend.url, "crash", "100000", str(die_after)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert proc.stdout is not None
            for _ in range(kill_after):
                line = proc.stdout.readline()
                assert line, proc.stderr.read() if proc.stderr else ""
                acked.append(tuple(map(int, line.split())))  # type: ignore[arg-type]
            if not die_after:
                os.kill(proc.pid, signal.SIGKILL)  # mid-stream: it keeps appending until now
            rest, _ = proc.communicate()
            acked += [tuple(map(int, ln.split())) for ln in rest.splitlines() if ln.strip()]  # type: ignore[misc]
            assert proc.returncode == -signal.SIGKILL
            assert len(acked) - start >= kill_after
            if die_after:
                assert len(acked) - start == die_after
            # each run's child is a fresh "crash" replica whose op ids would clash with the
            # previous run's: check this run alone, then start the document over
            reopened = backend.open()
            try:
                log = dict(reopened.log_since("crash", 0))
                for seq, _ in acked[start:]:
                    assert seq in log, f"acknowledged seq {seq} lost"
                text = reopened.load("crash").text
                assert text.startswith("".join(f"{i}," for i in range(acked[-1][1] + 1)))
                reopened.delete("crash")
                reopened.create("crash")
            finally:
                reopened.close()

    def test_concurrent_appends_to_different_documents(self, store: Store) -> None:
        n = 6
        docs = [Document(f"agent{i}") for i in range(n)]
        for i in range(n):
            store.create(f"doc{i}")
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                rng = random.Random(i)
                doc = docs[i]
                for k in range(15):
                    since = doc.version
                    random_edits(doc, rng, 2)
                    assert store.append(f"doc{i}", doc.encode_patch(since), op_count=op_count(doc, since)) == k + 1
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for i in range(n):
            assert_same(store.load(f"doc{i}"), docs[i])
            assert store.info(f"doc{i}").seq == 15

    def test_concurrent_appends_to_one_document(self, store: Store) -> None:
        store.create("doc")
        base = Document("base")
        base.insert(0, "shared start ")
        assert store.append("doc", base.encode_patch(), op_count=13) == 1
        n, k = 6, 12
        writers = [base.fork(f"w{i}") for i in range(n)]
        seqs: list[list[int]] = [[] for _ in range(n)]
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                rng = random.Random(100 + i)
                w = writers[i]
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
            assert own == sorted(own)  # a writer's appends are logged in its order
        assert sorted(s for own in seqs for s in own) == list(range(2, 2 + n * k))
        expected = base.copy()
        for w in writers:
            expected.merge(w)
        assert_same(store.load("doc"), expected)
        assert store.info("doc").seq == 1 + n * k

    # -- accounts, sessions, invites --------------------------------------------------

    def test_accounts_round_trip(self, store: Store, backend: Backend) -> None:
        assert store.accounts() == [] and store.count_accounts() == 0 and store.account("ada") is None
        ada = account("ada", admin=True)
        store.add_account(ada)
        store.add_account(account("bob", name="Bob 🐻"))
        assert store.account("ada") == ada
        assert store.account("ADA") is None  # exact: normalising is the caller's job
        assert [a.username for a in store.accounts()] == ["ada", "bob"]
        assert store.count_accounts() == 2
        assert ada.password_hash not in repr(ada)
        with pytest.raises(AccountExists):
            store.add_account(account("ada", name="Impostor"))
        assert store.account("ada") == ada
        store.close()
        again = backend.open()
        try:
            assert again.account("ada") == ada and again.count_accounts() == 2
        finally:
            again.close()

    @pytest.mark.parametrize("text", ["a'; DROP TABLE accounts; --", "' OR '1'='1", 'x") --', "日本 🐻"])
    def test_account_text_is_stored_literally(self, store: Store, text: str) -> None:
        store.add_account(account(text, name=text))
        store.add_account(account("other"))
        assert store.account(text) == account(text, name=text)
        assert store.account("' OR '1'='1' --") is None
        assert store.count_accounts() == 2

    def test_account_records_are_checked(self, store: Store) -> None:
        for bad in [
            account(""),
            account("ada", name=""),
            account("ada", password_hash=""),
            AccountRecord("ada", "Ada", "h", "yes", False, 1.0),  # type: ignore[arg-type]
            AccountRecord("ada", "Ada", "h", False, False, float("nan")),
        ]:
            with pytest.raises(InvalidArgument):
                store.add_account(bad)
        with pytest.raises(InvalidArgument):
            store.add_account("ada")  # type: ignore[arg-type]
        assert store.count_accounts() == 0

    def test_update_account(self, store: Store) -> None:
        store.add_account(account("ada"))
        store.add_session(session("ada", 1))
        assert store.update_account("ada", name="Countess", admin=True) == []
        assert store.account("ada") == account("ada", name="Countess", admin=True)
        assert store.session(key(1)) is not None
        assert store.update_account("ada", disabled=True, revoke_sessions=True) == [key(1)]
        assert store.account("ada").disabled  # type: ignore[union-attr]
        assert store.session(key(1)) is None
        assert store.update_account("nobody", name="x") is None
        with pytest.raises(InvalidArgument):
            store.update_account("ada", admin=1)  # type: ignore[arg-type]

    def test_set_password_hash_is_a_compare_and_set(self, store: Store) -> None:
        store.add_account(account("ada", password_hash="$h1"))
        for i in (1, 2, 3):
            store.add_session(session("ada", i))
        assert store.set_password_hash("ada", "$h2", expected="$stale") is None
        assert store.account("ada").password_hash == "$h1"  # type: ignore[union-attr]
        assert store.set_password_hash("ada", "$h2", expected="$h1") == []  # no revocation asked
        assert len(store.sessions("ada")) == 3
        revoked = store.set_password_hash("ada", "$h3", revoke_sessions=True, keep_session=key(2))
        assert sorted(revoked or []) == [key(1), key(3)]
        assert [s.key for s in store.sessions("ada")] == [key(2)]
        assert store.account("ada").password_hash == "$h3"  # type: ignore[union-attr]
        assert store.set_password_hash("nobody", "$h") is None

    def test_sessions(self, store: Store) -> None:
        store.add_account(account("ada"))
        store.add_account(account("bob"))
        s1, s2, s3 = session("ada", 1, t=10.0), session("ada", 2, t=20.0), session("bob", 3)
        for s in (s1, s2, s3):
            store.add_session(s)
        assert store.session(key(1)) == s1 and store.session(key(9)) is None
        assert s1.csrf_token not in repr(s1)
        assert store.sessions("ada") == [s1, s2] and store.sessions("nobody") == []
        store.touch_session(key(1), 50.0)
        store.touch_session(key(1), 40.0)  # last_seen only moves forward
        store.touch_session(key(9), 50.0)  # gone: no error
        assert store.session(key(1)).last_seen == 50.0  # type: ignore[union-attr]
        assert store.delete_session(key(2)) == s2
        assert store.delete_session(key(2)) is None
        assert store.delete_sessions("ada") == [key(1)]
        assert store.delete_sessions("ada") == []
        assert store.session(key(3)) == s3

    def test_sessions_need_an_account_and_a_hashed_key(self, store: Store) -> None:
        store.add_account(account("ada"))
        with pytest.raises(InvalidArgument):
            store.add_session(session("nobody", 1))
        store.add_session(session("ada", 1))
        with pytest.raises(InvalidArgument):
            store.add_session(session("ada", 1))  # the key is taken
        raw_id = "d3JvbmctdGhpcy1pcy1hLXJhdy1zZXNzaW9uLWlk-xyz"
        for bad_key in (raw_id, key(1).upper(), key(1)[:-1], ""):
            with pytest.raises(InvalidArgument):
                store.add_session(SessionRecord(bad_key, "ada", "csrf", 1.0, 1.0, 2.0))
            with pytest.raises(InvalidArgument):
                store.session(bad_key)
        assert len(store.sessions("ada")) == 1

    def test_purge_sessions(self, store: Store) -> None:
        store.add_account(account("ada"))
        store.add_session(SessionRecord(key(1), "ada", "c", 0.0, 90.0, 1000.0))  # live
        store.add_session(SessionRecord(key(2), "ada", "c", 0.0, 10.0, 1000.0))  # idle
        store.add_session(SessionRecord(key(3), "ada", "c", 0.0, 99.0, 100.0))  # past its end
        assert store.purge_sessions(now=100.0, idle_before=50.0) == 2
        assert [s.key for s in store.sessions("ada")] == [key(1)]

    def test_invites(self, store: Store) -> None:
        assert store.invites() == [] and store.invite(key(1)) is None
        old, new = invite(1, created_at=10.0), invite(2, created_at=20.0)
        store.add_invite(old)
        store.add_invite(new)
        assert store.invites() == [new, old]  # newest first
        assert store.invite(key(1)) == old
        with pytest.raises(InvalidArgument):
            store.add_invite(invite(1))
        with pytest.raises(InvalidArgument):
            store.add_invite(InviteRecord("the-raw-invite-code", "ada", 1.0, 2.0))
        assert store.revoke_invite(key(1)) and store.invite(key(1)).revoked  # type: ignore[union-attr]
        assert not store.revoke_invite(key(9))

    def test_add_account_uses_up_its_invite_atomically(self, store: Store) -> None:
        store.add_invite(invite(1, expires_at=100.0))
        store.add_account(account("ada", created_at=50.0), invite=key(1))
        used = store.invite(key(1))
        assert used is not None and (used.used_by, used.used_at) == ("ada", 50.0)
        with pytest.raises(SignUpRefused):  # single use
            store.add_account(account("bob", created_at=60.0), invite=key(1))
        with pytest.raises(SignUpRefused):  # unknown
            store.add_account(account("bob", created_at=60.0), invite=key(2))
        store.add_invite(invite(3, expires_at=100.0))
        with pytest.raises(SignUpRefused):  # expired at `now`
            store.add_account(account("bob", created_at=60.0), invite=key(3), now=100.0)
        store.add_invite(invite(4, expires_at=1000.0))
        store.revoke_invite(key(4))
        with pytest.raises(SignUpRefused):  # revoked
            store.add_account(account("bob", created_at=60.0), invite=key(4))
        store.add_invite(invite(5, expires_at=1000.0))
        with pytest.raises(AccountExists):  # a taken name does not use the invite up
            store.add_account(account("ada", created_at=60.0), invite=key(5))
        assert store.invite(key(5)).used_by is None  # type: ignore[union-attr]
        assert [a.username for a in store.accounts()] == ["ada"]
        store.add_account(account("bob", created_at=60.0), invite=key(5))
        assert store.invite(key(5)).used_by == "bob"  # type: ignore[union-attr]

    def test_invites_race_for_one_account(self, store: Store) -> None:
        """Many threads redeem one invite at once: exactly one account is created."""
        store.add_invite(invite(1, expires_at=1e12))
        results: list[object] = [None] * 8

        def sign_up(i: int) -> None:
            try:
                store.add_account(account(f"user{i}"), invite=key(1))
                results[i] = "ok"
            except SignUpRefused as exc:
                results[i] = exc

        threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count("ok") == 1
        assert store.count_accounts() == 1

    # -- document access --------------------------------------------------------------

    def _people(self, store: Store, *names: str) -> None:
        for n in names:
            store.add_account(account(n))

    def test_members_are_a_compare_and_set(self, store: Store) -> None:
        self._people(store, "ada", "bob", "cy")
        store.create("doc")
        assert store.members("doc") == [] and store.members("nowhere") == [] and store.owners() == {}
        ada = member("doc", "ada", "owner", at=1.0)
        assert store.update_members("doc", expected={}, put=[ada])
        assert store.members("doc") == [ada]
        bob = member("doc", "bob", "viewer", at=2.0)
        assert not store.update_members("doc", expected={}, put=[bob])  # stale: ada is there
        assert not store.update_members("doc", expected={"ada": "editor"}, put=[bob])
        assert store.members("doc") == [ada]
        assert store.update_members("doc", expected={"ada": "owner"}, put=[bob])
        assert store.members("doc") == [ada, bob]  # oldest first
        bob2 = member("doc", "bob", "editor", at=2.0)
        assert store.update_members("doc", expected={"ada": "owner", "bob": "viewer"}, put=[bob2])
        assert store.memberships("bob") == [bob2] and store.memberships("nobody") == []
        assert store.owners() == {"doc": "ada"}
        # one transaction: the owner changes hands, both rows at once
        assert store.update_members(
            "doc", expected={"ada": "owner", "bob": "editor"},
            put=[member("doc", "bob", "owner", at=2.0), member("doc", "ada", "editor", at=1.0)],
        )
        assert store.owners() == {"doc": "bob"}
        assert store.update_members("doc", expected={"ada": "editor", "bob": "owner"}, remove=["ada"])
        assert [m.user for m in store.members("doc")] == ["bob"]
        assert store.memberships("ada") == []

    def test_member_changes_are_checked_and_store_nothing_on_error(self, store: Store) -> None:
        self._people(store, "ada")
        store.create("doc")
        store.create("other")
        with pytest.raises(DocumentNotFound):
            store.update_members("nowhere", expected={}, put=[member("nowhere", "ada", "owner")])
        with pytest.raises(InvalidArgument):  # members are accounts
            store.update_members("doc", expected={}, put=[member("doc", "ada", "owner"), member("doc", "ghost", "viewer")])
        with pytest.raises(InvalidArgument):  # a record of another document
            store.update_members("doc", expected={}, put=[member("other", "ada", "owner")])
        for bad in [member("doc", "", "owner"), member("doc", "ada", ""), MemberRecord("doc", "ada", "owner", "x", float("nan"))]:
            with pytest.raises(InvalidArgument):
                store.update_members("doc", expected={}, put=[bad])
        with pytest.raises(InvalidArgument):
            store.update_members("doc", expected={"ada": 1}, put=[])  # type: ignore[dict-item]
        with pytest.raises(InvalidArgument):
            store.update_members("doc", expected={}, remove="ada")  # a str is not a list of names
        with pytest.raises(InvalidDocumentId):
            store.update_members("../etc", expected={}, put=[])
        assert store.members("doc") == [] and store.members("other") == []

    @pytest.mark.parametrize("text", ["a'; DROP TABLE members; --", "' OR '1'='1", 'x") --', "日本 🐻"])
    def test_access_text_is_stored_literally(self, store: Store, text: str) -> None:
        self._people(store, text, "ada")
        store.create("doc")
        m = MemberRecord("doc", text, "owner", text, 1.0)
        assert store.update_members("doc", expected={}, put=[m])
        assert store.members("doc") == [m] and store.memberships(text) == [m]
        assert store.memberships("' OR '1'='1' --") == []
        store.add_token(token(1, text, label=text))
        assert store.tokens(text)[0].label == text and store.tokens("ada") == []
        link = LinkRecord("doc", "viewer", text, text, 1.0)
        assert store.set_link("doc", link) and store.link("doc") == link

    def test_links(self, store: Store) -> None:
        self._people(store, "ada")
        store.create("doc")
        assert store.link("doc") is None and store.link("nowhere") is None
        on = LinkRecord("doc", "viewer", "secret-key-1", "ada", 1.0)
        assert store.set_link("doc", on)
        assert store.link("doc") == on and "secret-key-1" not in repr(on)
        other = LinkRecord("doc", "editor", "secret-key-2", "ada", 2.0)
        assert store.set_link("doc", other) and store.link("doc") == other
        store.update_members("doc", expected={}, put=[member("doc", "ada", "owner")])
        assert not store.set_link("doc", None, expected={})  # the members changed
        assert store.link("doc") == other
        assert store.set_link("doc", None, expected={"ada": "owner"})
        assert store.link("doc") is None
        with pytest.raises(DocumentNotFound):
            store.set_link("nowhere", LinkRecord("nowhere", "viewer", "k", "ada", 1.0))
        with pytest.raises(InvalidArgument):
            store.set_link("doc", LinkRecord("other", "viewer", "k", "ada", 1.0))
        assert store.link("doc") is None

    def test_doc_invites(self, store: Store) -> None:
        self._people(store, "ada")
        store.create("doc")
        store.create("other")
        old, new = doc_invite(1, created_at=10.0), doc_invite(2, created_at=20.0)
        assert store.add_doc_invite(old) and store.add_doc_invite(new)
        assert store.add_doc_invite(doc_invite(3, "other"))
        assert store.doc_invites("doc") == [new, old] and store.doc_invite(key(1)) == old
        assert store.doc_invites("nowhere") == [] and store.doc_invite(key(9)) is None
        with pytest.raises(InvalidArgument):  # the key is taken (by any document)
            store.add_doc_invite(doc_invite(3, "doc"))
        with pytest.raises(InvalidArgument):
            store.add_doc_invite(DocInviteRecord("the-raw-invite-code", "doc", "viewer", "ada", 1.0, 2.0))
        with pytest.raises(DocumentNotFound):
            store.add_doc_invite(doc_invite(4, "nowhere"))
        store.update_members("doc", expected={}, put=[member("doc", "ada", "owner")])
        assert not store.add_doc_invite(doc_invite(5), expected={})  # the members changed
        assert store.doc_invite(key(5)) is None
        assert not store.revoke_doc_invite("doc", key(3))  # it is other's
        assert not store.revoke_doc_invite("doc", key(9))
        assert store.revoke_doc_invite("doc", key(1)) and store.doc_invite(key(1)).revoked  # type: ignore[union-attr]
        assert not store.doc_invite(key(3)).revoked  # type: ignore[union-attr]

    def test_redeeming_a_doc_invite_is_one_transaction(self, store: Store) -> None:
        self._people(store, "ada", "bob", "cy")
        store.create("doc")
        store.create("other")
        owner = {"ada": "owner"}
        store.update_members("doc", expected={}, put=[member("doc", "ada", "owner")])
        store.add_doc_invite(doc_invite(1, expires_at=100.0))
        bob = member("doc", "bob", "editor", at=50.0)
        assert not store.update_members("doc", expected={}, put=[bob], use_invite=key(1), now=50.0)
        assert store.doc_invite(key(1)).used_by is None  # type: ignore[union-attr]  # stale: not used up
        assert store.update_members("doc", expected=owner, put=[bob], use_invite=key(1), now=50.0)
        used = store.doc_invite(key(1))
        assert used is not None and (used.used_by, used.used_at) == ("bob", 50.0)
        after = {"ada": "owner", "bob": "editor"}
        cy = member("doc", "cy", "editor", at=60.0)
        with pytest.raises(InviteRefused):  # single use
            store.update_members("doc", expected=after, put=[cy], use_invite=key(1), now=60.0)
        with pytest.raises(InviteRefused):  # unknown
            store.update_members("doc", expected=after, put=[cy], use_invite=key(2), now=60.0)
        store.add_doc_invite(doc_invite(3, expires_at=100.0))
        with pytest.raises(InviteRefused):  # expired at now
            store.update_members("doc", expected=after, put=[cy], use_invite=key(3), now=100.0)
        store.add_doc_invite(doc_invite(4))
        store.revoke_doc_invite("doc", key(4))
        with pytest.raises(InviteRefused):  # revoked
            store.update_members("doc", expected=after, put=[cy], use_invite=key(4), now=60.0)
        store.add_doc_invite(doc_invite(5, "other"))
        with pytest.raises(InviteRefused):  # another document's invite
            store.update_members("doc", expected=after, put=[cy], use_invite=key(5), now=60.0)
        assert store.members("doc") == [member("doc", "ada", "owner"), bob]
        assert store.doc_invite(key(5)).used_by is None  # type: ignore[union-attr]
        store.add_doc_invite(doc_invite(6))
        for put in ([], [cy, member("doc", "ada", "editor")]):  # an invite adds exactly one member
            with pytest.raises(InvalidArgument):
                store.update_members("doc", expected=after, put=put, use_invite=key(6), now=60.0)
        with pytest.raises(InvalidArgument):  # using an invite needs the time it is used at
            store.update_members("doc", expected=after, put=[cy], use_invite=key(6))
        assert store.doc_invite(key(6)).used_by is None  # type: ignore[union-attr]

    def test_a_doc_invite_races_for_one_member(self, store: Store) -> None:
        """Many threads redeem one invite at once: exactly one of them becomes a member."""
        users = [f"user{i}" for i in range(8)]
        self._people(store, "ada", *users)
        store.create("doc")
        store.update_members("doc", expected={}, put=[member("doc", "ada", "owner")])
        store.add_doc_invite(doc_invite(1, expires_at=1e12))
        results: list[object] = [None] * 8

        def redeem(i: int) -> None:
            try:
                results[i] = store.update_members(
                    "doc", expected={"ada": "owner"}, put=[member("doc", users[i], "editor")], use_invite=key(1),
                    now=2.0,
                )
            except InviteRefused as exc:
                results[i] = exc

        threads = [threading.Thread(target=redeem, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 1
        assert len(store.members("doc")) == 2

    def test_deleting_a_document_deletes_its_access(self, store: Store) -> None:
        self._people(store, "ada", "bob")
        for d in ("doc", "kept"):
            store.create(d)
            store.update_members(d, expected={}, put=[member(d, "ada", "owner"), member(d, "bob", "viewer")])
            store.set_link(d, LinkRecord(d, "viewer", f"key-{d}", "ada", 1.0))
        store.add_doc_invite(doc_invite(1, "doc"))
        store.add_doc_invite(doc_invite(2, "kept"))
        store.delete("doc")
        assert store.members("doc") == [] and store.link("doc") is None and store.doc_invite(key(1)) is None
        assert [m.doc for m in store.memberships("bob")] == ["kept"]
        assert store.owners() == {"kept": "ada"}
        store.create("doc")  # a new document of the same id inherits nothing
        assert store.members("doc") == [] and store.link("doc") is None and store.doc_invites("doc") == []
        assert store.link("kept") is not None and store.doc_invite(key(2)) is not None

    def test_clear_access(self, store: Store) -> None:
        self._people(store, "ada", "bob")
        store.create("doc")
        ms = [member("doc", "ada", "owner", at=1.0), member("doc", "bob", "viewer", at=2.0)]
        store.update_members("doc", expected={}, put=ms)
        store.set_link("doc", LinkRecord("doc", "viewer", "k", "ada", 1.0))
        store.add_doc_invite(doc_invite(1))
        assert store.clear_access("doc") == ms
        assert store.members("doc") == [] and store.link("doc") is None and store.doc_invites("doc") == []
        assert store.exists("doc")  # the document itself stays
        assert store.clear_access("doc") == [] and store.clear_access("nowhere") == []

    # -- personal access tokens -------------------------------------------------------

    def test_tokens(self, store: Store, backend: Backend) -> None:
        self._people(store, "ada", "bob")
        t1, t2 = token(1, t=10.0, docs=("a", "b")), token(2, t=20.0)
        store.add_token(t2)
        store.add_token(t1)
        store.add_token(token(3, "bob"))
        assert store.tokens("ada") == [t1, t2] and store.tokens("nobody") == []  # oldest first
        assert store.token(key(1)) == t1 and store.token(key(9)) is None
        assert store.token_by_id("id1") == t1 and store.token_by_id("nope") is None
        assert key(1) not in repr(t1)
        store.touch_token(key(1), 50.0)
        store.touch_token(key(1), 40.0)  # only forward
        store.touch_token(key(9), 50.0)  # gone: no error
        assert store.token(key(1)).last_used == 50.0  # type: ignore[union-attr]
        assert store.revoke_token("id1") and store.token(key(1)).revoked  # type: ignore[union-attr]
        assert not store.revoke_token("nope")
        store.close()
        again = backend.open()
        try:
            assert again.token(key(2)) == t2 and again.token(key(1)).revoked  # type: ignore[union-attr]
        finally:
            again.close()

    def test_tokens_need_an_account_a_hashed_key_and_a_new_id(self, store: Store) -> None:
        self._people(store, "ada")
        with pytest.raises(InvalidArgument):
            store.add_token(token(1, "nobody"))
        store.add_token(token(1))
        with pytest.raises(InvalidArgument):
            store.add_token(token(1))  # key and id taken
        with pytest.raises(InvalidArgument):
            store.add_token(TokenRecord(key(2), "id1", "ada", "x", ("*",), "editor", 1.0, None))  # id taken
        for bad in [
            TokenRecord("cwp_the-raw-secret", "idx", "ada", "x", ("*",), "editor", 1.0, None),
            TokenRecord(key(3), "idx", "ada", "", ("*",), "editor", 1.0, None),
            TokenRecord(key(3), "idx", "ada", "x", (), "editor", 1.0, None),
            TokenRecord(key(3), "idx", "ada", "x", ["*"], "editor", 1.0, None),  # type: ignore[arg-type]
            TokenRecord(key(3), "idx", "ada", "x", ("*",), "editor", 1.0, float("inf")),
        ]:
            with pytest.raises(InvalidArgument):
                store.add_token(bad)
        with pytest.raises(InvalidArgument):
            store.token("cwp_the-raw-secret")
        assert len(store.tokens("ada")) == 1

    # -- schema -----------------------------------------------------------------------

    def test_storage_from_a_newer_version_is_refused(self, store: Store, backend: Backend) -> None:
        store.create("doc")
        store.close()
        backend.set_schema_version(10_000)
        with pytest.raises(SchemaError, match="newer"):
            backend.open()

    def test_open_store_url(self, backend: Backend) -> None:
        s = open_store(backend.url)
        try:
            s.create("via-url")
            assert s.exists("via-url")
        finally:
            s.close()
