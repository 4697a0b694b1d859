"""A batch the store refuses because its op ids are stored with other content
(``ConflictingOps``: another server got them in first, e.g. one agent on two servers):
the sender is answered ``ERROR conflict`` for that batch (non-fatal: its client resyncs),
the room stays served, and nothing acknowledged to anyone is lost."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Harness
from cowrite.engine import Document, decode_patch
from cowrite.protocol import Ack, Error, ErrorCode, Ops, RemoteOps, Welcome, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession, Recovery, recovery_for
from cowrite.store import ConflictingOps, SQLiteStore


def url(h: Harness, user: str) -> str:
    return f"/ws/notes?token={h.token(user=user, role='editor')}"


def join(ws: Any, doc: Document) -> ClientSession:
    s = ClientSession(doc, "notes", user=doc.agent)
    for f in s.data_to_send():
        ws.send_bytes(f)
    s.receive(ws.receive_bytes())
    assert s.welcomed
    return s


def next_msg(ws: Any) -> Any:
    return decode_frame(ws.receive_bytes())


@pytest.fixture
def h(harness: Harness) -> Iterator[Harness]:
    harness.create()
    yield harness


def test_a_batch_the_store_refuses_is_answered_conflict_and_the_room_stays_served(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    ann, bob = Document("ann"), Document("bob")
    with h.http.websocket_connect(url(h, "ann")) as wa, h.http.websocket_connect(url(h, "bob")) as wb:
        join(wa, ann)
        join(wb, bob)
        bob.insert(0, "bob ")
        wb.send_bytes(encode_frame(Ops(1, bob.encode_patch())))
        assert isinstance(next_msg(wb), Ack)
        ann.apply_patch(next_msg(wa).patch)
        # Meanwhile another server stores ops of agent "ann" (her other tab, connected there).
        elsewhere = ann.copy()  # the same agent, on purpose
        elsewhere.insert(0, "tab two ")
        other_server = SQLiteStore(h.db)
        try:
            other_server.append("notes", elsewhere.encode_patch(ann.version), op_count=8)
        finally:
            other_server.close()
        # This tab types into the same op ids: the room takes them, the store refuses them.
        since = ann.version
        ann.insert(0, "tab one ")
        with caplog.at_level(logging.WARNING, "cowrite.server"):
            wa.send_bytes(encode_frame(Ops(2, ann.encode_patch(since))))
            err = next_msg(wa)
        assert isinstance(err, Error) and err.code is ErrorCode.CONFLICT, err
        assert not err.fatal and err.batch_id == 2
        assert recovery_for(err) is Recovery.RESYNC
        assert any("refused by the store" in r.getMessage() for r in caplog.records)
        # Bob never saw the refused ops; the reloaded room sends him what the store holds.
        news = next_msg(wb)
        assert isinstance(news, RemoteOps)
        bob.apply_patch(news.patch)
        assert bob.text == "tab two bob "
        # The room stays served: Bob writes and is acknowledged; Ann's connection hears it.
        mark = bob.version
        bob.insert(len(bob), "again")
        wb.send_bytes(encode_frame(Ops(2, bob.encode_patch(mark))))
        assert isinstance(next_msg(wb), Ack)
        moved = next_msg(wa)  # Ann's connection moved to the reloaded room: the stored ops ...
        assert isinstance(moved, RemoteOps)
        inserted = "".join(op.content for op in decode_patch(moved.patch))
        assert "tab two" in inserted and "tab one" not in inserted
        assert isinstance(next_msg(wa), RemoteOps)  # ... then Bob's new edit
    # Ann resyncs with a fresh JOIN and gets the stored document.
    with h.http.websocket_connect(url(h, "ann")) as wa:
        fresh = Document("ann")
        s = ClientSession(fresh, "notes", user="ann", fresh=True)
        for f in s.data_to_send():
            wa.send_bytes(f)
        welcome = next_msg(wa)
        assert isinstance(welcome, Welcome)
        s.receive(encode_frame(welcome))
        assert s.doc.text == "tab two bob again"
    store = SQLiteStore(h.db)
    try:
        assert store.load("notes").text == "tab two bob again"
    finally:
        store.close()
    metrics = h.http.get("/metrics").text
    assert 'cowrite_errors_total{code="conflict"} 1.0' in metrics
    assert "cowrite_internal_errors_total 0.0" in metrics


def test_conflicting_ops_is_a_store_error_and_an_engine_conflict() -> None:
    from cowrite.errors import ConflictingOpError, CowriteError, StoreError

    assert issubclass(ConflictingOps, StoreError) and issubclass(ConflictingOps, ConflictingOpError)
    assert issubclass(ConflictingOps, CowriteError)
