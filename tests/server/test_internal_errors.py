"""Bugs while a frame is handled: logged with a traceback, counted, answered ``ERROR
internal`` (not fatal, with the batch id); the room is reloaded from the store and
its other connections keep working in it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import SECRET, Harness
from cowrite.engine import Document
from cowrite.protocol import Ack, Error, ErrorCode, Ops, RemoteOps, Welcome, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession
from cowrite.server import Server, issue_token
from cowrite.store import SQLiteStore, StoreError


def url(h: Harness, user: str) -> str:
    return f"/ws/notes?token={h.token(user=user, role='editor')}"


def join(ws: Any, doc: Document) -> ClientSession:
    s = ClientSession(doc, "notes", user=doc.agent)
    for f in s.data_to_send():
        ws.send_bytes(f)
    s.receive(ws.receive_bytes())
    assert s.welcomed
    return s


def send_ops(ws: Any, doc: Document, batch: int, since: tuple = ()) -> None:
    ws.send_bytes(encode_frame(Ops(batch, doc.encode_patch(since))))


def next_msg(ws: Any) -> Any:
    return decode_frame(ws.receive_bytes())


def internal_errors(h: Harness) -> float:
    text = h.http.get("/metrics").text
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith("cowrite_internal_errors_total "))


class Fault:
    """Make ``Document.<name>`` raise RuntimeError on its next ``times`` calls from the
    server's rooms (``after``: once the real method has run, leaving its effect)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, *, after: bool = False, times: int = 1) -> None:
        real = getattr(Document, name)
        self.left = times

        def faulty(doc: Document, *a: Any, **kw: Any) -> Any:
            if self.left and sys._getframe(1).f_globals.get("__name__") == "cowrite.protocol.server":
                self.left -= 1
                if after:
                    real(doc, *a, **kw)
                raise RuntimeError(f"planted bug in {name}")
            return real(doc, *a, **kw)

        monkeypatch.setattr(Document, name, faulty)


@pytest.fixture
def h(harness: Harness) -> Iterator[Harness]:
    harness.create()
    yield harness


def test_a_bug_in_a_batch_is_logged_counted_answered_and_the_room_reloaded(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ann, bob = Document("ann"), Document("bob")
    with h.http.websocket_connect(url(h, "ann")) as wa, h.http.websocket_connect(url(h, "bob")) as wb:
        join(wa, ann)
        join(wb, bob)
        ann.insert(0, "hello")
        send_ops(wa, ann, 1)
        assert isinstance(next_msg(wa), Ack)
        bob.apply_patch(next_msg(wb).patch)
        before = ann.version
        Fault(monkeypatch, "add_ops", after=True)  # the merge "succeeds", then blows up
        ann.insert(5, " world")
        with caplog.at_level(logging.ERROR, "cowrite.server"):
            send_ops(wa, ann, 2, before)
            err = next_msg(wa)
        assert isinstance(err, Error) and err.code is ErrorCode.INTERNAL
        assert not err.fatal and err.batch_id == 2
        bug = [r for r in caplog.records if r.exc_info and "planted bug in add_ops" in str(r.exc_info[1])]
        assert len(bug) == 1 and "reloading it from the store" in bug[0].getMessage()
        assert internal_errors(h) == 1
        # Bob's connection moved to the reloaded room: it writes, and Ann (moved too) hears it.
        mark = bob.version
        bob.insert(0, ">> ")
        send_ops(wb, bob, 1, mark)
        ack = next_msg(wb)
        assert isinstance(ack, Ack), ack
        assert isinstance(next_msg(wa), RemoteOps)  # not " world": it was never stored
        # Ann sends the refused batch again: the reloaded room lacks it, so it is stored now
        # (a room that kept the half-applied ops would have acknowledged it without storing it).
        send_ops(wa, ann, 3, before)
        assert isinstance(next_msg(wa), Ack)
    store = SQLiteStore(h.db)
    try:
        assert store.load("notes").text == ">> hello world"
    finally:
        store.close()


def test_a_bug_in_a_join_answers_internal_and_the_others_keep_working(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ann = Document("ann")
    with h.http.websocket_connect(url(h, "ann")) as wa:
        join(wa, ann)
        Fault(monkeypatch, "ops_missing_from")
        with caplog.at_level(logging.ERROR, "cowrite.server"), h.http.websocket_connect(url(h, "carol")) as wc:
            for f in ClientSession(Document("carol"), "notes").data_to_send():
                wc.send_bytes(f)
            err = next_msg(wc)
            assert isinstance(err, Error) and err.code is ErrorCode.INTERNAL and not err.fatal
        assert any(r.exc_info and "ops_missing_from" in str(r.exc_info[1]) for r in caplog.records)
        assert internal_errors(h) == 1
        ann.insert(0, "still here")
        send_ops(wa, ann, 1)
        assert isinstance(next_msg(wa), Ack)
        with h.http.websocket_connect(url(h, "carol")) as wc:  # carol's retry joins
            s = ClientSession(Document("carol"), "notes")
            for f in s.data_to_send():
                wc.send_bytes(f)
            assert isinstance(next_msg(wc), Welcome)


class FlakyStore:
    """A store whose next append raises something that is not a StoreError (a bug)."""

    def __init__(self, inner: SQLiteStore, error: Exception) -> None:
        self.inner = inner
        self.error: Exception | None = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def append(self, *a: Any, **kw: Any) -> int:
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        return self.inner.append(*a, **kw)


def test_a_bug_in_the_store_is_answered_internal_and_what_is_durable_wins(tmp_path: Path) -> None:
    inner = SQLiteStore(tmp_path / "s.db")
    inner.create("notes")
    store = FlakyStore(inner, TypeError("a bug in the store"))
    server = Server(store, SECRET)  # type: ignore[arg-type]
    tok = {u: issue_token(SECRET, u, role="editor") for u in ("ann", "bob")}
    with TestClient(server.app) as http:
        ann, bob = Document("ann"), Document("bob")
        with http.websocket_connect(f"/ws/notes?token={tok['ann']}") as wa, http.websocket_connect(
            f"/ws/notes?token={tok['bob']}"
        ) as wb:
            join(wa, ann)
            join(wb, bob)
            ann.insert(0, "first")
            send_ops(wa, ann, 1)
            err = next_msg(wa)
            assert isinstance(err, Error) and err.code is ErrorCode.INTERNAL and not err.fatal and err.batch_id == 1
            bob.insert(0, "b")
            send_ops(wb, bob, 1)
            assert isinstance(next_msg(wb), Ack)  # bob never noticed
            assert isinstance(next_msg(wa), RemoteOps)  # bob's, to ann, in the reloaded room
            send_ops(wa, ann, 2)  # ann's retry
            assert isinstance(next_msg(wa), Ack)
        assert sorted(inner.load("notes").text) == sorted("firstb")
    inner.close()


def test_a_bug_in_an_http_edit_is_a_500_in_the_api_shape(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    Fault(monkeypatch, "add_ops", after=True)
    r = h.http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "lost"}, headers=h.auth(user="ann", role="editor"))
    assert r.status_code == 500 and r.json()["error"] == "internal"
    assert internal_errors(h) == 1
    r = h.http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "kept"}, headers=h.auth(user="ann", role="editor"))
    assert r.status_code == 200, r.text
    assert h.http.get("/api/docs/notes/text", headers=h.auth()).text == "kept"


def test_an_http_edit_the_store_could_not_keep_is_not_reported_done(tmp_path: Path) -> None:
    inner = SQLiteStore(tmp_path / "s.db")
    inner.create("notes")
    store = FlakyStore(inner, StoreError("disk full"))
    server = Server(store, SECRET)  # type: ignore[arg-type]
    auth = {"authorization": f"Bearer {issue_token(SECRET, 'ann', role='editor')}"}
    with TestClient(server.app) as http:
        r = http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "lost"}, headers=auth)
        assert r.status_code == 503 and r.json()["error"] == "internal", r.text
        r = http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "kept"}, headers=auth)
        assert r.status_code == 200, r.text
        assert http.get("/api/docs/notes/text", headers=auth).text == "kept"
    inner.close()
