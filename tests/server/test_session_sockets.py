"""A WebSocket signed in by session cookie ends when its session does: sign-out everywhere,
a disabled account, a password change (at once, by the accounts service's callback) or a
session gone where no callback reaches (by the periodic re-check).  What the server
acknowledged stays; what is sent after the end is not applied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import anyio

from conftest import Harness
from cowrite.engine import Document, encode_patch
from cowrite.protocol import Ack, Error, ErrorCode, Ops, Welcome, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession
from cowrite.server import Limits
from cowrite.store import SQLiteStore

WITHIN = 5.0  # seconds a revoked socket may stay open
PASSWORD = "correct horse battery"


def receive_within(ws: Any, seconds: float = WITHIN) -> dict[str, Any]:
    """The socket's next message, or TimeoutError after ``seconds`` (never a hang)."""

    async def get() -> dict[str, Any]:
        with anyio.fail_after(seconds):
            message: dict[str, Any] = await ws._send_rx.receive()
            return message

    result: dict[str, Any] = ws.portal.call(get)
    return result


def sign_in(h: Harness, username: str = "ada") -> tuple[str, str]:
    """A session of ``username`` (created if needed): (session id, CSRF token)."""
    if h.accounts.account(username) is None:
        h.accounts.sign_up(username, PASSWORD, mode="open")
        if h.store.exists("notes"):  # type: ignore[attr-defined]
            h.give("notes", username)
    sid, info = h.accounts.sign_in(username, PASSWORD, "10.0.0.1")
    return sid, info.csrf_token


def connect(h: Harness, sid: str, doc_id: str = "notes") -> Any:
    return h.http.websocket_connect(f"/ws/{doc_id}", headers={"cookie": f"cowrite_session={sid}", "origin": "http://testserver"})


def join(ws: Any, agent: str = "ada-1", doc_id: str = "notes") -> tuple[Document, ClientSession]:
    doc = Document(agent)
    s = ClientSession(doc, doc_id, user=agent)
    for f in s.data_to_send():
        ws.send_bytes(f)
    raw = ws.receive_bytes()
    assert isinstance(decode_frame(raw), Welcome)
    s.receive(raw)
    return doc, s


def type_and_ack(ws: Any, doc: Document, s: ClientSession, text: str) -> None:
    doc.insert(len(doc.text), text)
    s.flush()
    for f in s.data_to_send():
        ws.send_bytes(f)
    while True:  # presence of others may come first
        message = receive_within(ws)
        assert message["type"] == "websocket.send", message
        s.receive(message["bytes"])
        if isinstance(decode_frame(message["bytes"]), Ack):
            return


def expect_revoked(ws: Any) -> Error:
    """The socket gets a fatal ``unauthorized`` within seconds, then is closed."""
    started = time.monotonic()
    first = receive_within(ws)
    assert first["type"] == "websocket.send", first
    err = decode_frame(first["bytes"])
    assert isinstance(err, Error) and err.code == ErrorCode.UNAUTHORIZED and err.fatal, err
    closed = receive_within(ws)
    assert closed["type"] == "websocket.close", closed
    assert time.monotonic() - started < WITHIN
    return err


def text_of(h: Harness, doc_id: str = "notes") -> str:
    return h.store.load(doc_id).text  # type: ignore[attr-defined, no-any-return]


def test_sign_out_everywhere_closes_the_open_socket_and_keeps_what_was_acknowledged(harness: Harness) -> None:
    harness.create("notes")
    sid, csrf = sign_in(harness)
    with connect(harness, sid) as ws:
        doc, s = join(ws)
        type_and_ack(ws, doc, s, "hello")
        r = harness.http.post(
            "/api/auth/signout-all", headers={"x-csrf-token": csrf}, cookies={"cowrite_session": sid}
        )
        assert r.status_code == 204
        err = expect_revoked(ws)
        assert "session" in err.message
    assert text_of(harness) == "hello"
    assert len(harness.server.live) == 0  # nothing left watched


def test_sign_out_closes_only_that_sessions_sockets(harness: Harness) -> None:
    harness.create("notes")
    sid, csrf = sign_in(harness)
    other, _ = sign_in(harness)  # the same account on another device
    with connect(harness, sid) as ws, connect(harness, other) as ws2:
        join(ws, "ada-1")
        doc2, s2 = join(ws2, "ada-2")
        r = harness.http.post("/api/auth/signout", headers={"x-csrf-token": csrf}, cookies={"cowrite_session": sid})
        assert r.status_code == 204
        expect_revoked(ws)
        type_and_ack(ws2, doc2, s2, "still here")  # the other device goes on
    assert text_of(harness) == "still here"


def test_disabling_the_account_from_another_thread_closes_its_sockets(harness: Harness) -> None:
    harness.create("notes")
    sid, _ = sign_in(harness)
    with connect(harness, sid) as ws:
        join(ws)
        t = threading.Thread(target=harness.accounts.disable, args=("ada",))
        t.start()
        t.join()
        expect_revoked(ws)


def test_a_password_change_closes_the_other_sessions_sockets(harness: Harness) -> None:
    harness.create("notes")
    mine, csrf = sign_in(harness)
    other, _ = sign_in(harness)
    with connect(harness, other) as ws, connect(harness, mine) as ws_mine:
        join(ws, "ada-2")
        doc, s = join(ws_mine, "ada-1")
        r = harness.http.post(
            "/api/auth/password",
            json={"old": PASSWORD, "new": "an entirely new one"},
            headers={"x-csrf-token": csrf},
            cookies={"cowrite_session": mine},
        )
        assert r.status_code == 204, r.text
        expect_revoked(ws)
        type_and_ack(ws_mine, doc, s, "mine stays")


def test_edits_sent_after_the_revocation_are_not_applied(harness: Harness) -> None:
    harness.create("notes")
    sid, _ = sign_in(harness)
    with connect(harness, sid) as ws:
        doc, s = join(ws)
        type_and_ack(ws, doc, s, "kept")
        base = doc.version
        harness.accounts.sign_out(sid)
        doc.insert(len(doc.text), " and this is not")
        ws.send_bytes(encode_frame(Ops(99, encode_patch(doc.ops_since(base)))))
        expect_revoked(ws)
    assert text_of(harness) == "kept"


def test_a_session_ended_where_no_callback_reaches_is_found_by_the_recheck(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=Limits(session_check_seconds=0.2))
    h.create("notes")
    sid, _ = sign_in(h)
    with connect(h, sid) as ws:
        join(ws)
        # Another process (`cowrite user disable`) disables the account on the same database:
        other = SQLiteStore(h.db)
        try:
            from cowrite.accounts import Accounts

            Accounts(other).disable("ada")
        finally:
            other.close()
        expect_revoked(ws)


def test_a_socket_that_closes_by_itself_is_no_longer_watched(harness: Harness) -> None:
    harness.create("notes")
    sid, _ = sign_in(harness)
    with connect(harness, sid) as ws:
        join(ws)
        assert len(harness.server.live) == 1
    deadline = time.monotonic() + WITHIN
    while len(harness.server.live) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(harness.server.live) == 0
    harness.accounts.sign_out(sid)  # nothing to close: no error


def test_token_sockets_are_not_touched_by_revocations(harness: Harness) -> None:
    harness.create("notes")
    sid, _ = sign_in(harness)
    with harness.http.websocket_connect(f"/ws/notes?token={harness.token(user='ada', role='editor')}") as ws:
        doc, s = join(ws)
        harness.accounts.sign_out_everywhere("ada")
        type_and_ack(ws, doc, s, "a token is its own grant")
