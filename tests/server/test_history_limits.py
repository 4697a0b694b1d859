"""Snapshots follow the work appended, and a document's history has a limit.

A snapshot rewrites the whole document, so one per batch of 2000 characters (the
old rule) lets small batches on a big document cost the server O(document) each.
Now a snapshot is written once the bytes (and entries) appended since the last
one reach a fraction of its size: amortised O(what is appended).  And history
cannot grow without bound: a batch past ``max_history_ops`` / ``max_history_runs``
is refused (``too_large``, naming the limit) and changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from conftest import SECRET, Harness
from cowrite.engine import Document
from cowrite.protocol import Ack, Error, ErrorCode, Ops, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession
from cowrite.server import Limits, Server, issue_token
from cowrite.store import SQLiteStore


class CountingStore:
    """Records the size of every snapshot written."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner
        self.snapshots: list[int] = []
        self.appended = 0
        self.entries = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def append(self, doc_id: str, patch: bytes, **kw: Any) -> int:
        self.appended += len(patch)
        self.entries += 1
        return self.inner.append(doc_id, patch, **kw)

    def snapshot(self, doc_id: str, doc: Document, **kw: Any) -> int:
        seq = self.inner.snapshot(doc_id, doc, **kw)
        self.snapshots.append(len(doc.encode()))  # what it wrote
        return seq


def _client(http: TestClient, user: str = "ann") -> tuple[Any, Document, ClientSession]:
    ws = http.websocket_connect(f"/ws/notes?token={issue_token(SECRET, user, role='editor')}")
    ws.__enter__()
    doc = Document(user)
    s = ClientSession(doc, "notes", user=user)
    for f in s.data_to_send():
        ws.send_bytes(f)
    s.receive(ws.receive_bytes())
    assert s.welcomed
    return ws, doc, s


def _edit(ws: Any, doc: Document, batch: int, change: Callable[[Document], None]) -> Any:
    before = doc.version
    change(doc)
    ws.send_bytes(encode_frame(Ops(batch, doc.encode_patch(before))))
    return decode_frame(ws.receive_bytes())


def test_small_batches_on_a_big_document_do_not_snapshot_it_each_time(tmp_path: Path) -> None:
    inner = SQLiteStore(tmp_path / "s.db")
    inner.create("notes")
    seed = Document("seed")
    rng = random.Random(1)
    seed.insert(0, "".join(rng.choice("abcdefghij klmnop\n") for _ in range(1_000_000)))
    inner.append("notes", seed.encode_patch(), op_count=len(seed))
    inner.snapshot("notes", seed)
    big = len(seed.encode())
    store = CountingStore(inner)
    with TestClient(Server(store, SECRET).app) as http:  # type: ignore[arg-type]
        ws, doc, _ = _client(http)
        try:
            for i in range(30):  # 2000 characters in, 2000 out: the text does not grow
                assert isinstance(_edit(ws, doc, 2 * i + 1, lambda d: d.insert(len(d), "x" * 2000)), Ack)
                assert isinstance(_edit(ws, doc, 2 * i + 2, lambda d: d.delete(len(d) - 2000, 2000)), Ack)
        finally:
            ws.__exit__(None, None, None)
        work = store.appended + 256 * store.entries  # the default snapshot_entry_bytes
        written_while_editing = sum(store.snapshots)
        assert written_while_editing <= work / 0.5, (  # the default snapshot_ratio
            f"{len(store.snapshots)} snapshots of ~{big} bytes for {store.appended} bytes appended"
        )
    inner.close()


def test_snapshots_cost_amortised_what_is_appended_and_bound_what_loading_replays(tmp_path: Path) -> None:
    lim = Limits(snapshot_min_entries=4, snapshot_entry_bytes=64, snapshot_ratio=0.5)
    inner = SQLiteStore(tmp_path / "a.db")
    inner.create("notes")
    store = CountingStore(inner)
    rng = random.Random(7)
    with TestClient(Server(store, SECRET, limits=lim).app) as http:  # type: ignore[arg-type]
        ws, doc, _ = _client(http)
        try:
            for i in range(300):
                n = rng.choice([1, 1, 1, 5, 40, 800])
                answer = _edit(ws, doc, i + 1, lambda d: d.insert(rng.randint(0, len(d)), "y" * n))
                assert isinstance(answer, Ack)
                info = inner.info("notes")
                # what a load would replay stays within a fraction of the snapshot (plus one step)
                pending = info.log_bytes_since_snapshot + lim.snapshot_entry_bytes * (info.seq - info.snapshot_seq)
                assert pending <= lim.snapshot_ratio * info.snapshot_bytes + 800 + 64 or info.seq - info.snapshot_seq < 4
        finally:
            ws.__exit__(None, None, None)
    work = store.appended + lim.snapshot_entry_bytes * store.entries
    assert store.snapshots, "some snapshots were written"
    # each snapshot costs its size; their sum is at most 1/ratio x the work, plus the last one
    assert sum(store.snapshots) <= work / lim.snapshot_ratio + max(store.snapshots)
    assert SQLiteStore(tmp_path / "a.db").load("notes").text == doc.text


def _refused(answer: Any, limit: str) -> None:
    assert isinstance(answer, Error) and answer.code is ErrorCode.TOO_LARGE and not answer.fatal, answer
    assert limit in answer.message, answer.message


def test_history_past_its_limit_is_refused_and_changes_nothing(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=Limits(max_history_ops=50))
    h.create()
    ws, doc, _ = _client(h.http)
    try:
        assert isinstance(_edit(ws, doc, 1, lambda d: d.insert(0, "a" * 30)), Ack)
        _refused(_edit(ws, doc, 2, lambda d: d.insert(30, "b" * 30)), "history may not exceed 50 ops")
    finally:
        ws.__exit__(None, None, None)
    assert h.http.get("/api/docs/notes/text", headers=h.auth()).text == "a" * 30
    bob = h.auth(user="bob", role="editor")
    r = h.http.post("/api/docs/notes/edit", json={"pos": 0, "delete": 25}, headers=bob)  # deletes count too
    assert r.status_code == 400 and r.json()["error"] == "too_large" and "50 ops" in r.json()["message"]
    r = h.http.post("/api/docs/notes/edit", json={"pos": 0, "delete": 20}, headers=bob)
    assert r.status_code == 200, r.text  # 30 + 20 = 50: at the limit, not past it
    assert h.http.get("/api/docs/notes/text", headers=h.auth()).text == "a" * 10
    assert SQLiteStore(h.db).info("notes").ops_count == 50


def test_history_runs_past_their_limit_are_refused(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=Limits(max_history_runs=10))
    h.create()
    ws, doc, _ = _client(h.http)
    try:

        def scattered(d: Document) -> None:
            for _ in range(12):  # each at the start: a run each
                d.insert(0, "z")

        _refused(_edit(ws, doc, 1, scattered), "10 op runs")
    finally:
        ws.__exit__(None, None, None)
    assert h.http.get("/api/docs/notes/text", headers=h.auth()).text == ""
