"""Tokens attacked from outside: forged, expired, stretched beyond their document or role.

HS256 tokens: a wrong secret, ``alg: none``, a payload whose role was raised after
signing, an expired one, a token for one document used on another (HTTP and WebSocket).
Link guests: a guest's token once the link is turned off, or turned down to viewer while
the guest's socket is open.  Personal tokens: they never mint more tokens, reach the
account routes, or write beyond their role through the writer's newer routes (titles,
comments, suggestions, versions, import).  Every refusal changes nothing.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from conftest import SECRET, Harness
from starlette.websockets import WebSocketDisconnect

from cowrite.protocol import Error, ErrorCode, Role, decode_frame
from test_doc_access import User, expect_closed, join, next_error, text_of


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "mallory", "name": "mallory", "doc": "*", "role": "owner", "aud": "cowrite", "iat": now, "exp": now + 600}
    claims.update(over)
    return claims


def _raised_role(token: str) -> str:
    """``token`` with its payload's role changed to owner, the signature kept."""
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "owner"
    return ".".join([head, _b64(json.dumps(claims).encode()), sig])


def forged(h: Harness) -> list[str]:
    viewer = h.token(user="vic", doc="a", role="viewer")
    return [
        jwt.encode(_claims(), b"w" * 40, algorithm="HS256"),  # wrong secret
        ".".join([_b64(b'{"alg":"none","typ":"JWT"}'), _b64(json.dumps(_claims()).encode()), ""]),
        ".".join([_b64(b'{"alg":"none"}'), _b64(json.dumps(_claims()).encode())]),
        jwt.encode(_claims(), SECRET, algorithm="HS512"),  # the right secret, another algorithm
        jwt.encode(_claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256"),  # expired
        jwt.encode(_claims(aud="other"), SECRET, algorithm="HS256"),
        _raised_role(viewer),
        viewer + "x",
    ]


@pytest.fixture
def doc_a(harness: Harness) -> Harness:
    harness.create("a")
    harness.create("b")
    r = harness.http.post("/api/docs/a/edit", json={"pos": 0, "insert": "secret"}, headers=harness.auth())
    assert r.status_code == 200
    return harness


def test_forged_tokens_are_refused_on_http_and_the_websocket(doc_a: Harness) -> None:
    h = doc_a
    for token in forged(h):
        auth = {"authorization": f"Bearer {token}"}
        assert h.http.get("/api/docs/a/text", headers=auth).status_code == 401, token
        assert h.http.post("/api/docs/a/edit", json={"pos": 0, "insert": "x"}, headers=auth).status_code == 401
        assert h.http.put("/api/docs/a/title", json={"title": "pwned"}, headers=auth).status_code == 401
        assert h.http.get(f"/api/docs/a/text?token={token}").status_code == 401
        refused(h, token)
    assert text_of(h, "a") == "secret"


def refused(h: Harness, token: str) -> None:
    """The socket of ``token`` on ``a`` is refused: closed at the upgrade, or a fatal ERROR
    before anything of the document."""
    try:
        with h.http.websocket_connect(f"/ws/a?token={token}") as ws:
            err = decode_frame(ws.receive_bytes())
    except WebSocketDisconnect:
        return
    assert isinstance(err, Error) and err.fatal, err
    assert err.code in (ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN) and "secret" not in err.message


def test_a_token_for_one_document_opens_no_other(doc_a: Harness) -> None:
    h = doc_a
    auth = h.auth(user="eve", doc="b", role="owner")
    for path in ("/api/docs/a/text", "/api/docs/a/history", "/api/docs/a/suggestions", "/api/docs/a/comments",
                 "/api/docs/a/versions", "/api/docs/a/title", "/api/docs/a/export?format=txt"):
        assert h.http.get(path, headers=auth).status_code == 403, path
    assert h.http.put("/api/docs/a/title", json={"title": "pwned"}, headers=auth).status_code == 403
    assert h.http.post("/api/docs/a/edit", json={"pos": 0, "insert": "x"}, headers=auth).status_code == 403
    assert h.http.delete("/api/docs/a", headers=auth).status_code == 403
    token = h.token(user="eve", doc="b", role="owner")
    refused(h, token)
    assert text_of(h, "a") == "secret"


def _guest(h: Harness, owner: User, doc: str, role: str) -> tuple[dict[str, str], str, str]:
    key = owner.req("PUT", f"/api/docs/{doc}/link", {"role": role}).json()["key"]
    h.http.cookies.clear()
    r = h.http.post("/api/session", json={"name": "Visitor", "doc": doc, "share": key})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    return {"authorization": f"Bearer {token}"}, key, token


def test_a_link_guest_loses_everything_once_the_link_is_off(harness: Harness) -> None:
    ada = User(harness, "ada")
    ada.create("a")
    auth, key, token = _guest(harness, ada, "a", "editor")
    assert harness.http.get(f"/api/docs/a/text?share={key}", headers=auth).status_code == 200
    with harness.http.websocket_connect(f"/ws/a?share={key}&token={token}") as ws:
        _, _, welcome = join(ws, "a", "visitor-1")
        assert welcome.role is Role.EDITOR
        assert ada.req("PUT", "/api/docs/a/link", {"role": None}).status_code == 200
        err = next_error(ws)
        assert err.code == ErrorCode.FORBIDDEN and err.fatal
    for path in ("/api/docs/a/text", "/api/docs/a/suggestions", "/api/docs/a/comments", "/api/docs/a/title"):
        assert harness.http.get(f"{path}?share={key}", headers=auth).status_code == 403, path
    assert harness.http.post(f"/api/docs/a/edit?share={key}", json={"pos": 0, "insert": "x"}, headers=auth).status_code == 403
    assert text_of(harness, "a") == ""


def test_a_link_turned_down_to_viewer_stops_the_guests_open_socket_writing(harness: Harness) -> None:
    ada = User(harness, "ada")
    ada.create("a")
    auth, key, token = _guest(harness, ada, "a", "editor")
    with harness.http.websocket_connect(f"/ws/a?share={key}&token={token}") as ws:
        _, _, welcome = join(ws, "a", "visitor-1")
        assert welcome.role is Role.EDITOR
        assert ada.req("PUT", "/api/docs/a/link", {"role": "viewer"}).status_code == 200
        # the socket is told to reconnect (with the viewer role) or closed: never left writing
        expect_closed(ws)
    assert harness.http.post(f"/api/docs/a/edit?share={key}", json={"pos": 0, "insert": "x"}, headers=auth).status_code == 403


def test_a_personal_token_mints_nothing_and_stays_within_its_role(harness: Harness) -> None:
    ada = User(harness, "ada")
    ada.create("a")
    assert ada.req("POST", "/api/docs/a/edit", {"pos": 0, "insert": "ada's"}).status_code == 200
    r = ada.req("POST", "/api/tokens", {"label": "ro", "docs": ["a"], "role": "viewer"})
    assert r.status_code == 201, r.text
    auth = {"authorization": f"Bearer {r.json()['secret']}"}
    h = harness
    h.http.cookies.clear()
    assert h.http.get("/api/docs/a/text", headers=auth).text == "ada's"
    # no new tokens, no account routes, no sharing
    assert h.http.post("/api/tokens", json={"label": "rw", "role": "owner"}, headers=auth).status_code in (401, 403)
    assert h.http.get("/api/tokens", headers=auth).status_code in (401, 403)
    assert h.http.post("/api/auth/password", json={"old": "x", "new": "y" * 20}, headers=auth).status_code in (401, 403)
    assert h.http.post("/api/docs/a/members", json={"user": "ada", "role": "owner"}, headers=auth).status_code in (401, 403)
    assert h.http.put("/api/docs/a/link", json={"role": "editor"}, headers=auth).status_code in (401, 403)
    # the writer's routes: a viewer token writes through none of them
    writes = [
        ("PUT", "/api/docs/a/title", {"title": "pwned"}),
        ("POST", "/api/docs/a/comments", {"anchor": {"start": 0, "end": 1}, "text": "x"}),
        ("POST", "/api/docs/a/suggestions", {"version": [], "text": "x"}),
        ("POST", "/api/docs/a/versions", {"name": "v1"}),
        ("POST", "/api/docs/a/restore", {"version": []}),
    ]
    for method, path, body in writes:
        r = h.http.request(method, path, json=body, headers=auth)
        assert r.status_code in (400, 403), (path, r.status_code, r.text)
        assert r.status_code == 403 or "forbidden" in r.text or path.endswith("versions"), (path, r.text)
    r = h.http.post("/api/docs/a/import", content=b"pwned", headers={**auth, "content-type": "text/markdown"})
    assert r.status_code in (400, 403, 415), r.text
    # another document of the same user: outside the token's scope
    ada.create("b")
    assert h.http.get("/api/docs/b/text", headers=auth).status_code == 403
    assert text_of(h, "a") == "ada's"
    assert h.http.get("/api/docs/a/title", headers=auth).json().get("title", "") == ""
