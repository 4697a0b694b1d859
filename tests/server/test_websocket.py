"""The WebSocket endpoint in-process: access, limits, origin, persist-before-ack."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conftest import SECRET, Harness
from cowrite.engine import Document, Op
from cowrite.engine import encode_patch
from cowrite.protocol import Ack, Error, ErrorCode, Ops, RemoteOps, Welcome, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession
from cowrite.server import Limits, Server
from cowrite.store import SQLiteStore, StoreError


def join(ws, doc: Document, doc_id: str = "notes") -> ClientSession:
    s = ClientSession(doc, doc_id, user=doc.agent)
    for f in s.data_to_send():
        ws.send_bytes(f)
    s.receive(ws.receive_bytes())
    assert s.welcomed
    return s


def url(h: Harness, doc_id: str = "notes", **kw: object) -> str:
    return f"/ws/{doc_id}?token={h.token(**kw)}"  # type: ignore[arg-type]


def next_msg(ws):
    return decode_frame(ws.receive_bytes())


def test_ack_means_durable_and_broadcast_follows(harness: Harness) -> None:
    h = harness
    h.create()
    a, b = Document("ann"), Document("bob")
    with h.http.websocket_connect(url(h, user="ann", role="editor")) as wa:
        sa = join(wa, a)
        with h.http.websocket_connect(url(h, user="bob", role="editor")) as wb:
            sb = join(wb, b)
            a.insert(0, "hello")
            sa.flush()
            for f in sa.data_to_send():
                wa.send_bytes(f)
            ack = next_msg(wa)
            assert isinstance(ack, Ack)
            # durable at the moment of the ACK: another store on the same file sees it
            other = SQLiteStore(h.db)
            try:
                assert other.load("notes").text == "hello"
            finally:
                other.close()
            remote = next_msg(wb)
            assert isinstance(remote, RemoteOps)
            sb.receive(encode_frame(remote))
            assert b.text == "hello"


def test_viewer_cannot_write_and_forged_agents_are_refused(harness: Harness) -> None:
    h = harness
    h.create()
    v = Document("viv")
    with h.http.websocket_connect(url(h, user="viv", role="viewer")) as ws:
        join(ws, v)
        v.insert(0, "nope")
        ws.send_bytes(encode_frame(Ops(1, encode_patch(v.ops_since(())))))
        err = next_msg(ws)
        assert isinstance(err, Error) and err.code == ErrorCode.FORBIDDEN and not err.fatal
    e = Document("eve")
    with h.http.websocket_connect(url(h, user="eve", role="editor")) as ws:
        join(ws, e)
        forged = Op.insert("ann", 0, (), 0, "I am ann")
        ws.send_bytes(encode_frame(Ops(1, encode_patch([forged]))))
        err = next_msg(ws)
        assert isinstance(err, Error) and err.code == ErrorCode.FORBIDDEN
        ws.send_bytes(b"\x01\xff garbage")  # the connection is still usable: bad frames get errors
        assert next_msg(ws).code == ErrorCode.BAD_FRAME
    assert h.http.get("/api/docs/notes/text", headers=h.auth()).text == ""


@pytest.mark.parametrize(
    "token_kw, code",
    [({"doc": "other"}, ErrorCode.FORBIDDEN), ({"ttl": -5}, ErrorCode.UNAUTHORIZED)],
    ids=["wrong-doc", "expired"],
)
def test_bad_tokens_get_a_fatal_error(harness: Harness, token_kw, code) -> None:
    h = harness
    h.create()
    if token_kw.get("ttl", 1) < 0:
        import time

        import jwt

        now = int(time.time())
        tok = jwt.encode({"sub": "x", "doc": "*", "role": "owner", "aud": "cowrite", "exp": now - 1}, SECRET, algorithm="HS256")
        path = f"/ws/notes?token={tok}"
    else:
        path = url(h, **token_kw)
    with h.http.websocket_connect(path) as ws:
        err = next_msg(ws)
        assert isinstance(err, Error) and err.code == code and err.fatal
        with pytest.raises(WebSocketDisconnect):
            ws.receive_bytes()


def test_missing_document_and_join_mismatch(harness: Harness) -> None:
    h = harness
    with h.http.websocket_connect(url(h, "ghost")) as ws:
        for f in ClientSession(Document("a"), "ghost").data_to_send():
            ws.send_bytes(f)
        assert next_msg(ws).code == ErrorCode.NOT_FOUND
    h.create()
    with h.http.websocket_connect(url(h)) as ws:
        for f in ClientSession(Document("a"), "elsewhere").data_to_send():
            ws.send_bytes(f)
        assert next_msg(ws).code == ErrorCode.BAD_STATE
    with h.http.websocket_connect(url(h)) as ws:
        ws.send_text("hello")
        assert next_msg(ws).code == ErrorCode.BAD_FRAME


def test_cross_site_origin_is_refused(harness: Harness) -> None:
    h = harness
    h.create()
    with pytest.raises(WebSocketDisconnect):
        with h.http.websocket_connect(url(h), headers={"origin": "https://evil.example"}) as ws:
            ws.receive_bytes()
    with h.http.websocket_connect(url(h), headers={"origin": "http://testserver"}) as ws:
        join(ws, Document("a"))


def test_limits_frame_size_and_rate(tmp_path: Path) -> None:
    limits = Limits(max_message_bytes=2000, messages_per_second=1, message_burst=3, max_doc_chars=50)
    h = Harness(tmp_path, limits)
    with h.http:
        h.create()
        d = Document("ann")
        with h.http.websocket_connect(url(h, user="ann", role="editor")) as ws:
            join(ws, d)
            ws.send_bytes(b"\x01\x08" + b"\x00" * 3000)
            assert next_msg(ws).code == ErrorCode.TOO_LARGE
            d.insert(0, "x" * 60)
            ws.send_bytes(encode_frame(Ops(1, encode_patch(d.ops_since(())))))
            assert next_msg(ws).code == ErrorCode.TOO_LARGE  # the document limit
            codes = []
            for i in range(4):
                ws.send_bytes(encode_frame(Ops(2 + i, encode_patch(d.ops_since(())))))
                codes.append(next_msg(ws).code)
            assert ErrorCode.RATE_LIMITED in codes
    h.store.close()


class FailingStore:
    """A store whose appends fail: nothing may be acknowledged or broadcast."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def append(self, *a, **kw):
        raise StoreError("disk full")


def test_a_failed_commit_is_never_acknowledged(tmp_path: Path) -> None:
    inner = SQLiteStore(tmp_path / "f.db")
    inner.create("notes")
    server = Server(FailingStore(inner), SECRET)  # type: ignore[arg-type]
    with TestClient(server.app) as http:
        from cowrite.server import issue_token

        tok = issue_token(SECRET, "ann", role="editor")
        d = Document("ann")
        with http.websocket_connect(f"/ws/notes?token={tok}") as ws:
            join(ws, d)
            d.insert(0, "lost?")
            ws.send_bytes(encode_frame(Ops(1, encode_patch(d.ops_since(())))))
            err = next_msg(ws)
            assert isinstance(err, Error) and err.code == ErrorCode.INTERNAL and err.fatal
        assert inner.load("notes").text == ""
        # the room was dropped: a new connection sees only what is durable
        with http.websocket_connect(f"/ws/notes?token={tok}") as ws:
            s = ClientSession(Document("bob"), "notes")
            for f in s.data_to_send():
                ws.send_bytes(f)
            w = next_msg(ws)
            assert isinstance(w, Welcome)
    inner.close()


def test_an_agent_belongs_to_its_first_user_across_restarts(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    with h.http:
        h.create()
        with h.http.websocket_connect(url(h, user="ann", role="editor")) as ws:
            join(ws, Document("laptop-1"))
    h.store.close()
    h2 = Harness(tmp_path)  # a new server process on the same database
    with h2.http:
        with h2.http.websocket_connect(url(h2, user="mallory", role="editor")) as ws:
            for f in ClientSession(Document("laptop-1"), "notes").data_to_send():
                ws.send_bytes(f)
            err = next_msg(ws)
            assert isinstance(err, Error) and err.code == ErrorCode.FORBIDDEN and err.fatal
        with h2.http.websocket_connect(url(h2, user="ann", role="editor")) as ws:
            join(ws, Document("laptop-1"))
    assert h2.store.agent_owners("notes") == {"laptop-1": "ann"}
    h2.store.close()


def test_http_api_agents_are_reserved(harness: Harness) -> None:
    h = harness
    h.create()
    with h.http.websocket_connect(url(h, user="mallory", role="editor")) as ws:
        for f in ClientSession(Document("api:bob"), "notes").data_to_send():
            ws.send_bytes(f)
        err = next_msg(ws)
        assert isinstance(err, Error) and err.code == ErrorCode.FORBIDDEN and err.fatal
    r = h.http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "bob via http"}, headers=h.auth(user="bob", role="editor"))
    assert r.status_code == 200


def test_presence_shows_the_token_name_and_cannot_be_spoofed(harness: Harness) -> None:
    from cowrite.protocol import Presence

    h = harness
    h.create()
    from cowrite.server import issue_token

    ta = issue_token(SECRET, "u-1", role="editor", name="Ada Lovelace")
    tb = issue_token(SECRET, "u-2", role="editor", name="Bob")
    a, b = Document("ada-laptop"), Document("bob-laptop")
    with h.http.websocket_connect(f"/ws/notes?token={ta}") as wa, h.http.websocket_connect(f"/ws/notes?token={tb}") as wb:
        join(wa, a)
        join(wb, b)
        wa.send_bytes(encode_frame(Presence("someone-else", "Mallory", "#c33", None, False)))
        p = next_msg(wb)
        assert isinstance(p, Presence)
        assert (p.agent, p.user, p.colour) == ("ada-laptop", "Ada Lovelace", "#c33")


def test_a_joined_users_display_name_is_stored_for_history(harness: Harness) -> None:
    from cowrite.server import issue_token

    h = harness
    h.create()
    tok = issue_token(SECRET, "user-9", doc="notes", role="editor", name="Grace Hopper")
    with h.http.websocket_connect(f"/ws/notes?token={tok}") as ws:
        a = Document("grace-laptop")
        s = join(ws, a)
        a.insert(0, "hi")
        s.flush()
        for f in s.data_to_send():
            ws.send_bytes(f)
        assert isinstance(next_msg(ws), Ack)
    assert h.store.user_names(["user-9"]) == {"user-9": "Grace Hopper"}  # type: ignore[attr-defined]
    [change] = h.http.get("/api/docs/notes/history", headers=h.auth()).json()["changes"]
    assert (change["agent"], change["user"], change["name"]) == ("grace-laptop", "user-9", "Grace Hopper")


class ClaimFailsOnce:
    """A store whose first ``claim_agent`` fails (the disk, say): nothing is claimed."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner
        self.failed = False

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def claim_agent(self, *a, **kw):
        if not self.failed:
            self.failed = True
            raise StoreError("disk full")
        return self.inner.claim_agent(*a, **kw)


def test_a_failed_agent_claim_leaves_no_owner_in_memory_and_the_retry_claims_it(tmp_path: Path) -> None:
    inner = SQLiteStore(tmp_path / "c.db")
    inner.create("notes")
    server = Server(ClaimFailsOnce(inner), SECRET)  # type: ignore[arg-type]
    from cowrite.server import issue_token

    with TestClient(server.app) as http:
        tok = issue_token(SECRET, "ann", role="editor")
        with http.websocket_connect(f"/ws/notes?token={tok}") as ws:
            for f in ClientSession(Document("laptop"), "notes").data_to_send():
                ws.send_bytes(f)
            err = next_msg(ws)
        handle = server.rooms.loaded("notes")
        assert handle is not None and "laptop" not in handle.room.agent_owners
        assert isinstance(err, Error) and err.code == ErrorCode.INTERNAL and not err.fatal  # retry later
        with http.websocket_connect(f"/ws/notes?token={tok}") as ws:
            join(ws, Document("laptop"))
        assert inner.agent_owners("notes") == {"laptop": "ann"}  # durable, not only in memory
        mallory = issue_token(SECRET, "mallory", role="editor")
        with http.websocket_connect(f"/ws/notes?token={mallory}") as ws:
            for f in ClientSession(Document("laptop"), "notes").data_to_send():
                ws.send_bytes(f)
            err = next_msg(ws)
            assert isinstance(err, Error) and err.code == ErrorCode.FORBIDDEN and err.fatal
    inner.close()
