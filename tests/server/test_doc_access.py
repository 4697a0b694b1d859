"""Per-document access over HTTP and WebSocket (issue 12, part D): who may read, write and
manage each document, tried the way an attacker would.

Privilege escalation (an editor managing, a commenter or viewer writing over HTTP and
WebSocket), IDOR (listing, reading and managing others' documents), link sharing (on,
off, rotated), invites (used, revoked, expired), personal access tokens (scope, role cap,
revoked), live effect on open sockets (removed: closed; downgraded: reconnects with the
new role), hostile strings in every field.  Every refusal leaves everything as it was.

In-process (Starlette's TestClient) over a real SQLite store and the real services.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from conftest import Harness
from cowrite.engine import Document, encode_patch
from cowrite.protocol import Ack, Error, ErrorCode, Ops, Role, Welcome, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession, Recovery, recovery_for

PASSWORD = "correct horse battery"
ORIGIN = "http://testserver"
WITHIN = 5.0
HOSTILE = [
    "x' OR '1'='1",
    "'; DROP TABLE members; --",
    'a"); DELETE FROM accounts; --',
    "1 UNION SELECT key FROM links",
    "<script>alert(1)</script>",
    "%00",
    "../../etc/passwd",
    "ada\u202e",
]


class User:
    """An account signed in by its own session (cookie header + CSRF token)."""

    def __init__(self, h: Harness, name: str, *, admin: bool = False) -> None:
        self.h = h
        self.name = name
        if h.accounts.account(name) is None:
            h.accounts.sign_up(name, PASSWORD, f"{name.title()} Display", admin=admin, mode="open")
        self.sid, info = h.accounts.sign_in(name, PASSWORD, "10.0.0.1")
        self.csrf = info.csrf_token

    def headers(self, csrf: bool = True) -> dict[str, str]:
        out = {"cookie": f"cowrite_session={self.sid}", "origin": ORIGIN}
        if csrf:
            out["x-csrf-token"] = self.csrf
        return out

    def req(self, method: str, path: str, body: Any = None, *, csrf: bool = True) -> Any:
        self.h.http.cookies.clear()
        kw: dict[str, Any] = {"headers": self.headers(csrf)}
        if body is not None:
            kw["json"] = body
        return self.h.http.request(method, path, **kw)

    def create(self, doc: str) -> None:
        r = self.req("POST", "/api/docs", {"id": doc})
        assert r.status_code == 201, r.text

    def ws(self, doc: str, query: str = "") -> Any:
        self.h.http.cookies.clear()
        return self.h.http.websocket_connect(f"/ws/{doc}{query}", headers=self.headers(csrf=False))


def members(h: Harness, doc: str) -> dict[str, str]:
    return {m.user: m.role for m in h.server.sharing.members(doc)}


def text_of(h: Harness, doc: str) -> str:
    return h.store.load(doc).text  # type: ignore[attr-defined, no-any-return]


def receive_within(ws: Any, seconds: float = WITHIN) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        with anyio.fail_after(seconds):
            message: dict[str, Any] = await ws._send_rx.receive()
            return message

    result: dict[str, Any] = ws.portal.call(get)
    return result


def join(ws: Any, doc_id: str, agent: str) -> tuple[Document, ClientSession, Welcome]:
    doc = Document(agent)
    s = ClientSession(doc, doc_id, user=agent)
    for f in s.data_to_send():
        ws.send_bytes(f)
    raw = ws.receive_bytes()
    msg = decode_frame(raw)
    assert isinstance(msg, Welcome), msg
    s.receive(raw)
    return doc, s, msg


def type_and_ack(ws: Any, doc: Document, s: ClientSession, text: str) -> None:
    doc.insert(len(doc.text), text)
    s.flush()
    for f in s.data_to_send():
        ws.send_bytes(f)
    while True:
        message = receive_within(ws)
        assert message["type"] == "websocket.send", message
        s.receive(message["bytes"])
        if isinstance(decode_frame(message["bytes"]), Ack):
            return


def next_error(ws: Any) -> Error:
    """The next ERROR the socket gets (presence and others skipped), within seconds."""
    deadline = time.monotonic() + WITHIN
    while True:
        message = receive_within(ws, max(0.1, deadline - time.monotonic()))
        assert message["type"] == "websocket.send", message
        msg = decode_frame(message["bytes"])
        if isinstance(msg, Error):
            return msg


def expect_closed(ws: Any) -> None:
    while True:
        message = receive_within(ws)
        if message["type"] == "websocket.close":
            return


@pytest.fixture
def world(harness: Harness) -> tuple[Harness, User, User, User]:
    """ada owns ``a`` (text "ada's"), bob owns ``b``; carol has nothing."""
    ada, bob, carol = User(harness, "ada"), User(harness, "bob"), User(harness, "carol")
    ada.create("a")
    assert ada.req("POST", "/api/docs/a/edit", {"pos": 0, "insert": "ada's"}).status_code == 200
    bob.create("b")
    return harness, ada, bob, carol


PER_DOC_READS = ["", "/text", "/history", "/blame", "/snapshot", "/members", "/link"]


# -- ownership, listing, IDOR --------------------------------------------------------------


def test_the_creator_owns_a_document_and_lists_only_its_own(world: Any) -> None:
    h, ada, bob, carol = world
    assert members(h, "a") == {"ada": "owner"}
    listed = ada.req("GET", "/api/docs").json()["documents"]
    assert [(d["id"], d["role"]) for d in listed] == [("a", "owner")]
    assert [d["id"] for d in carol.req("GET", "/api/docs").json()["documents"]] == []
    assert carol.req("GET", "/api/shared").json() == {"documents": []}
    root = User(h, "boss", admin=True)
    assert sorted(d["id"] for d in root.req("GET", "/api/docs").json()["documents"]) == ["a", "b"]


@pytest.mark.parametrize("path", PER_DOC_READS)
def test_nobody_reads_anothers_document(world: Any, path: str) -> None:
    h, ada, bob, carol = world
    for who in (bob, carol):
        r = who.req("GET", f"/api/docs/a{path}")
        assert r.status_code == 403 and r.json()["error"] == "forbidden", (path, r.text)
        assert "ada's" not in r.text
    # A document that does not exist answers the same: nothing learnt about which exist.
    r = carol.req("GET", f"/api/docs/nothing-here{path}")
    assert r.status_code == 403


def test_nobody_writes_or_deletes_anothers_document(world: Any) -> None:
    h, ada, bob, carol = world
    assert bob.req("POST", "/api/docs/a/edit", {"pos": 0, "insert": "evil"}).status_code == 403
    assert bob.req("DELETE", "/api/docs/a").status_code == 403
    assert text_of(h, "a") == "ada's" and h.store.exists("a")  # type: ignore[attr-defined]


def test_the_websocket_refuses_a_non_member(world: Any) -> None:
    h, ada, bob, carol = world
    with carol.ws("a") as ws:
        err = decode_frame(ws.receive_bytes())
        assert isinstance(err, Error) and err.code == ErrorCode.FORBIDDEN and err.fatal
        assert "ada's" not in err.message


def test_the_owner_of_one_document_cannot_manage_another(world: Any) -> None:
    h, ada, bob, carol = world
    before = members(h, "b")
    tries = [
        ("GET", "/api/docs/b/members", None),
        ("POST", "/api/docs/b/members", {"user": "ada", "role": "editor"}),
        ("PATCH", "/api/docs/b/members/bob", {"role": "viewer"}),
        ("DELETE", "/api/docs/b/members/bob", None),
        ("POST", "/api/docs/b/transfer", {"to": "ada"}),
        ("PUT", "/api/docs/b/link", {"role": "editor"}),
        ("GET", "/api/docs/b/invites", None),
        ("POST", "/api/docs/b/invites", {"role": "editor"}),
    ]
    for method, path, body in tries:
        r = ada.req(method, path, body)
        assert r.status_code == 403 and r.json()["error"] == "forbidden", (method, path, r.text)
    assert members(h, "b") == before
    assert h.server.sharing.link("b").role is None


# -- roles -----------------------------------------------------------------------------------


def test_roles_read_and_write_as_they_should(world: Any) -> None:
    h, ada, bob, carol = world
    r = ada.req("POST", "/api/docs/a/members", {"user": "bob", "role": "viewer"})
    assert r.status_code == 201 and r.json()["role"] == "viewer" and r.json()["name"] == "Bob Display"
    assert bob.req("GET", "/api/docs/a/text").text == "ada's"
    assert bob.req("GET", "/api/shared").json() == {"documents": [{"id": "a", "role": "viewer", "title": ""}]}
    assert [(d["id"], d["role"]) for d in bob.req("GET", "/api/docs").json()["documents"]] == [("a", "viewer"), ("b", "owner")]
    for role in ("viewer", "commenter"):
        assert ada.req("PATCH", "/api/docs/a/members/bob", {"role": role}).status_code == 200
        r = bob.req("POST", "/api/docs/a/edit", {"pos": 0, "insert": "no"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden", role
        assert bob.req("DELETE", "/api/docs/a").status_code == 403
    assert text_of(h, "a") == "ada's"
    assert ada.req("PATCH", "/api/docs/a/members/bob", {"role": "editor"}).status_code == 200
    assert bob.req("POST", "/api/docs/a/edit", {"pos": 5, "insert": "+bob"}).status_code == 200
    assert bob.req("DELETE", "/api/docs/a").status_code == 403  # editors do not delete
    assert text_of(h, "a") == "ada's+bob"
    listed = ada.req("GET", "/api/docs/a/members").json()["members"]
    assert [(m["user"], m["role"]) for m in listed] == [("ada", "owner"), ("bob", "editor")]


@pytest.mark.parametrize("role", ["viewer", "commenter"])
def test_a_viewer_or_commenter_cannot_write_over_the_websocket(world: Any, role: str) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", role)
    with bob.ws("a") as ws:
        doc, s, welcome = join(ws, "a", "bob-1")
        assert welcome.role is Role.VIEWER and not s.can_write
        base = doc.version
        doc.insert(0, "forged ")
        ws.send_bytes(encode_frame(Ops(1, encode_patch(doc.ops_since(base)))))
        err = next_error(ws)
        assert err.code == ErrorCode.FORBIDDEN
    assert text_of(h, "a") == "ada's"


def test_an_editor_cannot_manage_the_document(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "editor")
    h.give("a", "carol", "viewer")
    before = members(h, "a")
    tries = [
        ("POST", "/api/docs/a/members", {"user": "carol", "role": "editor"}),
        ("PATCH", "/api/docs/a/members/bob", {"role": "owner"}),
        ("PATCH", "/api/docs/a/members/carol", {"role": "editor"}),
        ("PATCH", "/api/docs/a/members/ada", {"role": "viewer"}),
        ("DELETE", "/api/docs/a/members/ada", None),
        ("DELETE", "/api/docs/a/members/carol", None),
        ("POST", "/api/docs/a/transfer", {"to": "bob"}),
        ("PUT", "/api/docs/a/link", {"role": "editor"}),
        ("POST", "/api/docs/a/invites", {"role": "editor"}),
        ("GET", "/api/docs/a/invites", None),
        ("DELETE", "/api/docs/a", None),
    ]
    for method, path, body in tries:
        r = bob.req(method, path, body)
        assert r.status_code in (400, 403), (method, path, r.text)
    assert members(h, "a") == before
    assert h.server.sharing.link("a").role is None and text_of(h, "a") == "ada's"
    # A member may leave, though.
    assert carol.req("DELETE", "/api/docs/a/members/carol").status_code == 204
    assert "carol" not in members(h, "a")


def test_the_owner_transfers_and_stays_an_editor(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "viewer")
    r = ada.req("POST", "/api/docs/a/transfer", {"to": "bob"})
    assert r.status_code == 200, r.text
    assert members(h, "a") == {"bob": "owner", "ada": "editor"}
    assert ada.req("PATCH", "/api/docs/a/members/bob", {"role": "viewer"}).status_code == 403
    assert ada.req("DELETE", "/api/docs/a").status_code == 403
    assert bob.req("DELETE", "/api/docs/a/members/bob").status_code == 403  # the owner cannot leave


def test_the_owner_cannot_be_removed_or_demoted_and_nobody_unknown_is_added(world: Any) -> None:
    h, ada, bob, carol = world
    assert ada.req("PATCH", "/api/docs/a/members/ada", {"role": "viewer"}).status_code == 403
    assert ada.req("DELETE", "/api/docs/a/members/ada").status_code == 403
    r = ada.req("POST", "/api/docs/a/members", {"user": "nobody", "role": "editor"})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = ada.req("PATCH", "/api/docs/a/members/carol", {"role": "viewer"})
    assert r.status_code == 404
    r = ada.req("POST", "/api/docs/a/members", {"user": "bob", "role": "owner"})
    assert r.status_code in (400, 403)
    assert members(h, "a") == {"ada": "owner"}


def test_sharing_needs_the_csrf_token_and_an_account(world: Any) -> None:
    h, ada, bob, carol = world
    r = ada.req("POST", "/api/docs/a/members", {"user": "bob", "role": "editor"}, csrf=False)
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    h.http.cookies.clear()
    r = h.http.post("/api/docs/a/members", json={"user": "bob", "role": "editor"}, headers=h.auth())
    assert r.status_code == 403  # an HS256 token is not an account
    assert members(h, "a") == {"ada": "owner"}


def test_deleting_a_document_forgets_its_sharing(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "editor")
    assert ada.req("DELETE", "/api/docs/a").status_code == 204
    assert bob.req("GET", "/api/shared").json() == {"documents": []}
    carol.create("a")  # someone else makes a document of the same name: bob has no access to it
    assert members(h, "a") == {"carol": "owner"}
    assert bob.req("GET", "/api/docs/a/text").status_code == 403


# -- link sharing ------------------------------------------------------------------------------


def test_link_sharing_on_off_and_rotated(world: Any) -> None:
    h, ada, bob, carol = world
    assert carol.req("GET", "/api/docs/a/text?share=guess").status_code == 403
    r = ada.req("PUT", "/api/docs/a/link", {"role": "viewer"})
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    key = r.json()["key"]
    assert ada.req("GET", "/api/docs/a/link").json()["key"] == key
    assert carol.req("GET", f"/api/docs/a/text?share={key}").text == "ada's"
    assert carol.req("GET", f"/api/docs/a/text?share={key}x").status_code == 403
    assert carol.req("POST", f"/api/docs/a/edit?share={key}", {"pos": 0, "insert": "x"}).status_code == 403
    assert carol.req("GET", f"/api/docs/b/text?share={key}").status_code == 403  # a's key opens only a
    # A link holder does not see members nor manage anything.
    assert carol.req("GET", f"/api/docs/a/members?share={key}").status_code == 403
    assert ada.req("PUT", "/api/docs/a/link", {"role": "editor"}).json()["key"] == key
    assert carol.req("POST", f"/api/docs/a/edit?share={key}", {"pos": 5, "insert": "!"}).status_code == 200
    # A token of another document (a guest's, say) gets the link's role too.
    guest = h.token(user="guest-1234", doc="elsewhere", role="viewer")
    h.http.cookies.clear()
    assert h.http.get(f"/api/docs/a/text?share={key}", headers={"authorization": f"Bearer {guest}"}).status_code == 200
    assert h.http.get("/api/docs/a/text", headers={"authorization": f"Bearer {guest}"}).status_code == 403
    new = ada.req("PUT", "/api/docs/a/link", {"role": "editor", "rotate": True}).json()["key"]
    assert new != key
    assert carol.req("GET", f"/api/docs/a/text?share={key}").status_code == 403
    assert carol.req("GET", f"/api/docs/a/text?share={new}").status_code == 200
    assert ada.req("PUT", "/api/docs/a/link", {"role": None}).json() == {"doc": "a", "role": None, "key": None}
    assert carol.req("GET", f"/api/docs/a/text?share={new}").status_code == 403
    assert text_of(h, "a") == "ada's!"


def test_a_viewer_member_does_not_learn_an_editor_link(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "viewer")
    ada.req("PUT", "/api/docs/a/link", {"role": "editor"})
    r = bob.req("GET", "/api/docs/a/link")
    assert r.status_code == 200 and r.json()["role"] == "editor" and r.json()["key"] is None


def test_the_websocket_takes_a_link_key(world: Any) -> None:
    h, ada, bob, carol = world
    key = ada.req("PUT", "/api/docs/a/link", {"role": "viewer"}).json()["key"]
    with carol.ws("a", f"?share={key}") as ws:
        _, s, welcome = join(ws, "a", "carol-1")
        assert welcome.role is Role.VIEWER
        # The link is turned off: the socket is closed, fatal forbidden.
        assert ada.req("PUT", "/api/docs/a/link", {"role": None}).status_code == 200
        err = next_error(ws)
        assert err.code == ErrorCode.FORBIDDEN and err.fatal
        expect_closed(ws)


# -- invites ---------------------------------------------------------------------------------


def test_an_invite_is_used_once(world: Any) -> None:
    h, ada, bob, carol = world
    r = ada.req("POST", "/api/docs/a/invites", {"role": "commenter"})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r = bob.req("POST", "/api/invites/redeem", {"code": code})
    assert r.status_code == 200 and r.json()["role"] == "commenter"
    assert members(h, "a")["bob"] == "commenter"
    r = carol.req("POST", "/api/invites/redeem", {"code": code})
    assert r.status_code == 410 and r.json()["error"] == "invite_refused"
    assert "carol" not in members(h, "a")
    invites = ada.req("GET", "/api/docs/a/invites").json()["invites"]
    assert [i["status"] for i in invites] == ["used"] and "code" not in invites[0]
    assert carol.req("POST", "/api/invites/redeem", {"code": "made-up"}).status_code == 410


def test_a_revoked_invite_is_refused(world: Any) -> None:
    h, ada, bob, carol = world
    code = ada.req("POST", "/api/docs/a/invites", {"role": "editor"}).json()["code"]
    key = ada.req("GET", "/api/docs/a/invites").json()["invites"][0]["key"]
    assert bob.req("DELETE", f"/api/docs/a/invites/{key}").status_code == 403  # not bob's to revoke
    assert ada.req("DELETE", f"/api/docs/a/invites/{key}").status_code == 204
    assert ada.req("DELETE", "/api/docs/a/invites/" + "0" * 64).status_code == 404
    r = carol.req("POST", "/api/invites/redeem", {"code": code})
    assert r.status_code == 410 and "revoked" in r.json()["message"]
    assert "carol" not in members(h, "a")


def test_an_expired_invite_is_refused(make_harness: Callable[..., Harness]) -> None:
    now = [1_000_000.0]
    h = make_harness(clock=lambda: now[0])
    ada, carol = User(h, "ada"), User(h, "carol")
    ada.create("a")
    code = ada.req("POST", "/api/docs/a/invites", {"role": "editor", "ttl": 3600}).json()["code"]
    now[0] += 3601
    carol = User(h, "carol")  # a fresh session (the old one idled out)
    r = carol.req("POST", "/api/invites/redeem", {"code": code})
    assert r.status_code == 410 and "expired" in r.json()["message"]
    assert members(h, "a") == {"ada": "owner"}


def test_redeeming_needs_a_signed_in_account(world: Any) -> None:
    h, ada, bob, carol = world
    code = ada.req("POST", "/api/docs/a/invites", {"role": "editor"}).json()["code"]
    h.http.cookies.clear()
    assert h.http.post("/api/invites/redeem", json={"code": code}).status_code == 401
    assert h.http.post("/api/invites/redeem", json={"code": code}, headers=h.auth()).status_code == 403
    assert bob.req("POST", "/api/invites/redeem", {"code": code}, csrf=False).status_code == 403
    assert members(h, "a") == {"ada": "owner"}


# -- personal access tokens --------------------------------------------------------------------


def bearer(h: Harness, secret: str, method: str, path: str, body: Any = None) -> Any:
    h.http.cookies.clear()
    kw: dict[str, Any] = {"headers": {"authorization": f"Bearer {secret}"}}
    if body is not None:
        kw["json"] = body
    return h.http.request(method, path, **kw)


def test_a_personal_token_is_capped_by_its_scope_and_role(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("b", "ada", "viewer")
    r = ada.req("POST", "/api/tokens", {"label": "script", "docs": ["a"], "role": "viewer"})
    assert r.status_code == 201, r.text
    secret, info = r.json()["secret"], r.json()["token"]
    assert secret.startswith("cwp_") and info["docs"] == ["a"] and "secret" not in info
    assert bearer(h, secret, "GET", "/api/docs/a/text").text == "ada's"
    assert bearer(h, secret, "POST", "/api/docs/a/edit", {"pos": 0, "insert": "x"}).status_code == 403
    assert bearer(h, secret, "GET", "/api/docs/b/text").status_code == 403  # out of scope
    assert bearer(h, secret, "GET", "/api/docs").status_code == 403  # not every document
    # An editor token on every document: still only a viewer where ada is one.
    wide = ada.req("POST", "/api/tokens", {"label": "wide", "docs": ["*"], "role": "editor"}).json()["secret"]
    assert bearer(h, wide, "POST", "/api/docs/a/edit", {"pos": 5, "insert": "!"}).status_code == 200
    assert bearer(h, wide, "GET", "/api/docs/b/text").status_code == 200
    assert bearer(h, wide, "POST", "/api/docs/b/edit", {"pos": 0, "insert": "x"}).status_code == 403
    assert bearer(h, wide, "DELETE", "/api/docs/a").status_code == 403  # an editor token does not delete
    assert [d["id"] for d in bearer(h, wide, "GET", "/api/docs").json()["documents"]] == ["a", "b"]
    # A token cannot make tokens, nor manage sharing without the owner role.
    assert bearer(h, wide, "POST", "/api/tokens", {"label": "more"}).status_code == 403
    assert bearer(h, wide, "POST", "/api/docs/a/members", {"user": "carol", "role": "editor"}).status_code == 403
    assert text_of(h, "a") == "ada's!" and text_of(h, "b") == ""
    # Revoked: refused.
    tid = info["id"]
    assert bob.req("DELETE", f"/api/tokens/{tid}").status_code == 404  # not bob's
    assert ada.req("DELETE", f"/api/tokens/{tid}").status_code == 204
    assert bearer(h, secret, "GET", "/api/docs/a/text").status_code == 401
    assert [t["revoked"] for t in ada.req("GET", "/api/tokens").json()["tokens"]] == [True, False]


def test_a_personal_token_on_the_websocket(world: Any) -> None:
    h, ada, bob, carol = world
    secret = ada.req("POST", "/api/tokens", {"label": "bot", "docs": ["a"], "role": "viewer"}).json()["secret"]
    with h.http.websocket_connect(f"/ws/a?token={secret}") as ws:
        _, s, welcome = join(ws, "a", "ada-bot")
        assert welcome.role is Role.VIEWER
    with h.http.websocket_connect(f"/ws/b?token={secret}") as ws:
        err = decode_frame(ws.receive_bytes())
        assert isinstance(err, Error) and err.code == ErrorCode.FORBIDDEN
    with h.http.websocket_connect("/ws/a?token=cwp_" + "x" * 43) as ws:
        err = decode_frame(ws.receive_bytes())
        assert isinstance(err, Error) and err.code == ErrorCode.UNAUTHORIZED


def test_a_disabled_accounts_token_stops_working(world: Any) -> None:
    h, ada, bob, carol = world
    secret = ada.req("POST", "/api/tokens", {"label": "bot"}).json()["secret"]
    assert bearer(h, secret, "GET", "/api/docs/a/text").status_code == 200
    h.accounts.disable("ada")
    assert bearer(h, secret, "GET", "/api/docs/a/text").status_code == 401


# -- the live effect on open sockets -------------------------------------------------------------


def test_a_removed_members_socket_is_closed_at_once(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "editor")
    with bob.ws("a") as ws:
        doc, s, _ = join(ws, "a", "bob-1")
        type_and_ack(ws, doc, s, " and bob's")
        started = time.monotonic()
        assert ada.req("DELETE", "/api/docs/a/members/bob").status_code == 204
        err = next_error(ws)
        assert err.code == ErrorCode.FORBIDDEN and err.fatal
        assert recovery_for(err) is Recovery.STOP  # the client stops and keeps its text
        expect_closed(ws)
        assert time.monotonic() - started < WITHIN
    assert text_of(h, "a") == "ada's and bob's"  # what was acknowledged stays
    assert len(h.server.doc_sockets) == 0 or wait_for(lambda: len(h.server.doc_sockets) == 0)


def wait_for(cond: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WITHIN
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return True


def test_edits_a_removed_member_sends_are_not_applied(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "editor")
    with bob.ws("a") as ws:
        doc, s, _ = join(ws, "a", "bob-1")
        base = doc.version
        h.server.sharing.remove_member("a", "ada", "bob")
        doc.insert(0, "too late ")
        ws.send_bytes(encode_frame(Ops(7, encode_patch(doc.ops_since(base)))))
        err = next_error(ws)
        assert err.code == ErrorCode.FORBIDDEN
    assert text_of(h, "a") == "ada's"


def test_a_downgraded_editor_reconnects_as_a_viewer(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "editor")
    with bob.ws("a") as ws:
        _, s, welcome = join(ws, "a", "bob-1")
        assert welcome.role is Role.EDITOR
        assert ada.req("PATCH", "/api/docs/a/members/bob", {"role": "viewer"}).status_code == 200
        err = next_error(ws)
        assert not err.fatal and recovery_for(err) is Recovery.RETRY
        expect_closed(ws)
    with bob.ws("a") as ws:  # what the client does: join again
        _, s, welcome = join(ws, "a", "bob-1")
        assert welcome.role is Role.VIEWER and not s.can_write
    # Upgraded again: the same, the other way.
    with bob.ws("a") as ws:
        join(ws, "a", "bob-1")
        ada.req("PATCH", "/api/docs/a/members/bob", {"role": "editor"})
        assert recovery_for(next_error(ws)) is Recovery.RETRY


def test_a_change_that_keeps_the_protocol_role_leaves_the_socket_open(world: Any) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "viewer")
    h.give("a", "carol", "editor")
    with bob.ws("a") as ws, carol.ws("a") as other:
        join(ws, "a", "bob-1")
        doc, s, _ = join(other, "a", "carol-1")
        ada.req("PATCH", "/api/docs/a/members/bob", {"role": "commenter"})  # both read-only
        ada.req("POST", "/api/docs/a/members", {"user": "boss2", "role": "viewer"})  # nobody: 404
        type_and_ack(other, doc, s, "!")  # carol's socket was not touched either
    assert text_of(h, "a") == "ada's!"


def test_a_change_made_by_another_process_is_found_by_the_recheck(make_harness: Callable[..., Harness]) -> None:
    from cowrite.accounts import Accounts, Sharing
    from cowrite.server import Limits
    from cowrite.store import SQLiteStore

    h = make_harness(limits=Limits(session_check_seconds=0.2))
    ada, bob = User(h, "ada"), User(h, "bob")
    ada.create("a")
    h.give("a", "bob", "editor")
    with bob.ws("a") as ws:
        join(ws, "a", "bob-1")
        other = SQLiteStore(h.db)
        try:
            Sharing(other, Accounts(other)).remove_member("a", "ada", "bob")
        finally:
            other.close()
        err = next_error(ws)
        assert err.code == ErrorCode.FORBIDDEN and err.fatal


# -- hostile input --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_strings_in_every_field_change_nothing(world: Any, bad: str) -> None:
    h, ada, bob, carol = world
    h.give("a", "bob", "viewer")
    before = members(h, "a")
    enc = bad.replace("%", "%25").replace("/", "%2F")
    tries = [
        ("POST", "/api/docs/a/members", {"user": bad, "role": "editor"}),
        ("POST", "/api/docs/a/members", {"user": "carol", "role": bad}),
        ("PATCH", f"/api/docs/a/members/{enc}", {"role": "editor"}),
        ("PATCH", "/api/docs/a/members/bob", {"role": bad}),
        ("DELETE", f"/api/docs/a/members/{enc}", None),
        ("POST", "/api/docs/a/transfer", {"to": bad}),
        ("PUT", "/api/docs/a/link", {"role": bad}),
        ("PUT", "/api/docs/a/link", {"role": "viewer", "rotate": bad}),
        ("POST", "/api/docs/a/invites", {"role": bad}),
        ("DELETE", f"/api/docs/a/invites/{enc}", None),
        ("POST", "/api/invites/redeem", {"code": bad}),
        ("POST", "/api/tokens", {"label": "ok", "docs": [bad]}),
        ("POST", "/api/tokens", {"label": "ok", "role": bad}),
        ("DELETE", f"/api/tokens/{enc}", None),
        ("GET", f"/api/docs/{enc}/members", None),
        ("POST", "/api/docs", {"id": bad}),
    ]
    for method, path, body in tries:
        r = ada.req(method, path, body)
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
        if "/" not in bad:  # (a "/" in a path segment makes another path, which no route has)
            assert r.headers["content-type"].startswith("application/json"), (method, path)
            assert "error" in r.json()
    assert members(h, "a") == before and h.server.sharing.link("a").role is None
    assert ada.req("GET", "/api/tokens").json()["tokens"] == []
    assert carol.req("GET", f"/api/docs/a/text?share={enc}").status_code == 403
    assert sorted(d.id for d in h.store.documents()) == ["a", "b"]  # type: ignore[attr-defined]


def test_a_hostile_label_is_stored_as_text(world: Any) -> None:
    h, ada, bob, carol = world
    r = ada.req("POST", "/api/tokens", {"label": "x' OR '1'='1 <b>"})
    assert r.status_code == 201
    assert ada.req("GET", "/api/tokens").json()["tokens"][0]["label"] == "x' OR '1'='1 <b>"


@pytest.mark.parametrize(
    "body",
    [[], "x", 1, {"user": 1, "role": "editor"}, {"user": "bob"}, {"user": "bob", "role": None}, {"user": "b" * 600, "role": "viewer"}],
)
def test_malformed_bodies_are_400(world: Any, body: Any) -> None:
    h, ada, bob, carol = world
    r = ada.req("POST", "/api/docs/a/members", body)
    assert r.status_code == 400 and r.json()["error"] == "bad_request", r.text
    assert members(h, "a") == {"ada": "owner"}


# -- administration --------------------------------------------------------------------------------


def test_the_admin_routes_are_for_admins_only(world: Any) -> None:
    h, ada, bob, carol = world
    for method, path in [
        ("GET", "/api/admin/users"),
        ("GET", "/api/admin/documents"),
        ("POST", "/api/admin/users/bob/disable"),
        ("POST", "/api/admin/users/bob/reset"),
        ("POST", "/api/admin/users/bob/enable"),
        ("GET", "/api/admin/users/bob/tokens"),
        ("DELETE", "/api/admin/tokens/anything"),
    ]:
        r = ada.req(method, path)
        assert r.status_code == 403, (method, path)
        h.http.cookies.clear()
        assert h.http.request(method, path, headers=h.auth()).status_code == 403  # an owner token is no admin
    assert not h.accounts.account("bob").disabled


def test_an_admin_lists_disables_enables_and_resets(world: Any) -> None:
    h, ada, bob, carol = world
    root = User(h, "boss", admin=True)
    users = root.req("GET", "/api/admin/users").json()["users"]
    assert {u["username"] for u in users} == {"ada", "bob", "carol", "boss"}
    assert all("password" not in str(sorted(u)) for u in users)
    docs = root.req("GET", "/api/admin/documents").json()["documents"]
    assert {(d["id"], d["owner"]) for d in docs} == {("a", "ada"), ("b", "bob")}
    assert root.req("POST", "/api/admin/users/bob/disable", csrf=False).status_code == 403  # CSRF
    assert root.req("POST", "/api/admin/users/bob/disable").status_code == 204
    assert h.accounts.account("bob").disabled and h.accounts.session(bob.sid) is None
    assert root.req("POST", "/api/admin/users/bob/enable").status_code == 204
    assert root.req("POST", "/api/admin/users/boss/disable").status_code == 409  # not yourself
    assert root.req("POST", "/api/admin/users/nobody/disable").status_code == 404
    r = root.req("POST", "/api/admin/users/carol/reset")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    password = r.json()["password"]
    assert h.accounts.session(carol.sid) is None  # her sessions ended
    h.accounts.sign_in("carol", password, "10.0.0.2")
    # The admin owns every document.
    assert root.req("GET", "/api/docs/a/text").text == "ada's"
    assert root.req("POST", "/api/docs/a/members", {"user": "carol", "role": "viewer"}).status_code == 201


def test_an_admin_lists_and_revokes_someones_token_and_nobody_else_can(world: Any) -> None:
    h, ada, bob, carol = world
    root = User(h, "boss", admin=True)
    made = ada.req("POST", "/api/tokens", {"label": "leaked", "docs": ["a"], "role": "editor"}).json()
    secret, tid = made["secret"], made["token"]["id"]
    with h.http.websocket_connect(f"/ws/a?token={secret}") as ws:
        join(ws, "a", "ada-script")
        # Not an admin: bob can neither list ada's tokens nor revoke one, by either route.
        assert bob.req("GET", "/api/admin/users/ada/tokens").status_code == 403
        assert bob.req("DELETE", f"/api/admin/tokens/{tid}").status_code == 403
        assert bob.req("DELETE", f"/api/tokens/{tid}").status_code == 404
        # A token, even ada's own, is no admin session.
        assert bearer(h, secret, "DELETE", f"/api/admin/tokens/{tid}").status_code == 403
        listed = root.req("GET", "/api/admin/users/ada/tokens")
        assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
        tokens = listed.json()["tokens"]
        assert [t["id"] for t in tokens] == [tid] and "secret" not in str(tokens) and secret not in listed.text
        assert root.req("GET", "/api/admin/users/nobody/tokens").status_code == 404
        assert root.req("DELETE", f"/api/admin/tokens/{tid}", csrf=False).status_code == 403  # CSRF
        assert root.req("DELETE", "/api/admin/tokens/no-such-token").status_code == 404
        assert root.req("DELETE", f"/api/admin/tokens/{tid}").status_code == 204
        err = next_error(ws)  # the revoked token's socket is closed at once
        assert err.code == ErrorCode.FORBIDDEN and err.fatal
    h.http.cookies.clear()
    assert bearer(h, secret, "GET", "/api/docs/a/text").status_code == 401
    assert [t["revoked"] for t in ada.req("GET", "/api/tokens").json()["tokens"]] == [True]


# -- link guests (no account, guests off) -------------------------------------------------------


def test_a_link_guest_gets_the_links_role_and_only_while_the_link_holds(world: Any) -> None:
    h, ada, bob, carol = world  # the harness lets no guests in (guests="none")
    h.http.cookies.clear()
    r = h.http.post("/api/session", json={"name": "Visitor", "doc": "a", "share": "guess"})
    assert r.status_code == 403
    assert h.http.post("/api/session", json={"name": "Visitor"}).status_code == 403  # no guests
    key = ada.req("PUT", "/api/docs/a/link", {"role": "commenter"}).json()["key"]
    h.http.cookies.clear()
    r = h.http.post("/api/session", json={"name": "Visitor", "doc": "a", "share": key})
    assert r.status_code == 200 and r.json()["role"] == "commenter", r.text
    auth = {"authorization": f"Bearer {r.json()['token']}"}
    # The token alone opens nothing: not a, not the list, not b.
    assert h.http.get("/api/docs/a/text", headers=auth).status_code == 403
    assert h.http.get("/api/docs", headers=auth).status_code == 403
    assert h.http.get(f"/api/docs/b/text?share={key}", headers=auth).status_code == 403
    assert h.http.post("/api/docs", json={"id": "mine"}, headers=auth).status_code == 403
    # With the key: the link's role (a commenter reads, does not write).
    assert h.http.get(f"/api/docs/a/text?share={key}", headers=auth).text == "ada's"
    assert h.http.post(f"/api/docs/a/edit?share={key}", json={"pos": 0, "insert": "x"}, headers=auth).status_code == 403
    with h.http.websocket_connect(f"/ws/a?share={key}", headers=auth) as ws:
        _, s, welcome = join(ws, "a", "visitor-1")
        assert welcome.role is Role.VIEWER
        ada.req("PUT", "/api/docs/a/link", {"role": "commenter", "rotate": True})
        err = next_error(ws)
        assert err.code == ErrorCode.FORBIDDEN and err.fatal
    assert h.http.get(f"/api/docs/a/text?share={key}", headers=auth).status_code == 403
    assert text_of(h, "a") == "ada's"


@pytest.mark.parametrize("body", [{"name": "V", "doc": "a", "share": 5}, {"name": "V", "doc": "../x", "share": "k"}, {"name": "", "doc": "a", "share": "k"}, {"doc": "a", "share": "k"}])
def test_malformed_link_guest_requests_are_refused(world: Any, body: dict[str, Any]) -> None:
    h, ada, bob, carol = world
    ada.req("PUT", "/api/docs/a/link", {"role": "editor"})
    h.http.cookies.clear()
    r = h.http.post("/api/session", json=body)
    assert r.status_code in (400, 403) and "token" not in r.json()
