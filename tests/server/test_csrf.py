"""Cookie sign-ins and CSRF: what a signed-in account may do by cookie, and what another
site's page cannot make its browser do (the API, sign-in itself, the WebSocket).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from conftest import Harness
from cowrite.engine import Document
from cowrite.protocol import Welcome, decode_frame
from cowrite.protocol.client import ClientSession

PASSWORD = "correct horse battery"
EVIL = "https://evil.example"


def signed_in(h: Harness, username: str = "ada", *, admin: bool = False) -> tuple[str, str]:
    """A new account signed in by cookie in ``h.http``: (session id, CSRF token)."""
    h.accounts.sign_up(username, PASSWORD, admin=admin, mode="open")
    h.http.cookies.clear()
    r = h.http.post("/api/auth/signin", json={"username": username, "password": PASSWORD}, headers={"origin": "http://testserver"})
    assert r.status_code == 200, r.text
    return h.http.cookies["cowrite_session"], r.json()["csrf_token"]


def docs(h: Harness) -> list[str]:
    return [d.id for d in h.store.documents()]  # type: ignore[attr-defined]


# -- the API by cookie ------------------------------------------------------------------


def test_a_signed_in_account_reads_and_writes_by_cookie(harness: Harness) -> None:
    _, csrf = signed_in(harness)
    r = harness.http.post("/api/docs", json={"id": "notes"}, headers={"x-csrf-token": csrf})
    assert r.status_code == 201, r.text
    assert harness.http.get("/api/docs").json()["documents"][0]["id"] == "notes"
    r = harness.http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "hi"}, headers={"x-csrf-token": csrf})
    assert r.status_code == 200, r.text
    assert harness.http.get("/api/docs/notes/text").text == "hi"
    history = harness.http.get("/api/docs/notes/history").json()["changes"]
    assert history[0]["user"] == "ada" and history[0]["agent"] == "api:ada"


def test_editors_cannot_delete_and_admins_can(harness: Harness) -> None:
    harness.create("notes")
    _, csrf = signed_in(harness, "ada")
    r = harness.http.delete("/api/docs/notes", headers={"x-csrf-token": csrf})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    _, csrf = signed_in(harness, "boss", admin=True)
    assert harness.http.delete("/api/docs/notes", headers={"x-csrf-token": csrf}).status_code == 204
    assert docs(harness) == []


@pytest.mark.parametrize("header", [None, "", "wrong-token", "x" * 200])
def test_a_cookie_post_without_the_right_csrf_token_is_403_and_changes_nothing(harness: Harness, header: str | None) -> None:
    signed_in(harness)
    headers = {} if header is None else {"x-csrf-token": header}
    r = harness.http.post("/api/docs", json={"id": "notes"}, headers=headers)
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    assert docs(harness) == []


def test_another_accounts_csrf_token_does_not_work(harness: Harness) -> None:
    _, other = signed_in(harness, "eve")
    signed_in(harness, "ada")
    r = harness.http.post("/api/docs", json={"id": "notes"}, headers={"x-csrf-token": other})
    assert r.status_code == 403 and docs(harness) == []


def test_cookie_delete_and_edit_need_csrf_too(harness: Harness) -> None:
    harness.create("notes")
    signed_in(harness, "boss", admin=True)
    assert harness.http.delete("/api/docs/notes").status_code == 403
    r = harness.http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "evil"})
    assert r.status_code == 403
    assert docs(harness) == ["notes"] and harness.store.load("notes").text == ""  # type: ignore[attr-defined]


def test_a_cookie_post_from_another_origin_is_403_even_with_the_token(harness: Harness) -> None:
    _, csrf = signed_in(harness)
    for origin in (EVIL, "null", "http://testserver.evil.example", "http://testserver:8080"):
        r = harness.http.post("/api/docs", json={"id": "notes"}, headers={"x-csrf-token": csrf, "origin": origin})
        assert r.status_code == 403 and r.json()["error"] == "csrf", origin
    assert docs(harness) == []
    ok = harness.http.post("/api/docs", json={"id": "notes"}, headers={"x-csrf-token": csrf, "origin": "http://testserver"})
    assert ok.status_code == 201


def test_allow_origin_star_never_lets_another_site_use_the_cookie(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(allowed_origins=("*",))
    _, csrf = signed_in(h)
    r = h.http.post("/api/docs", json={"id": "notes"}, headers={"x-csrf-token": csrf, "origin": EVIL})
    assert r.status_code == 403


def test_an_origin_listed_by_name_may_use_the_cookie(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(allowed_origins=("https://app.example",))
    _, csrf = signed_in(h)
    r = h.http.post("/api/docs", json={"id": "notes"}, headers={"x-csrf-token": csrf, "origin": "https://app.example"})
    assert r.status_code == 201


def test_bearer_requests_need_no_csrf_token_even_with_a_cookie(harness: Harness) -> None:
    signed_in(harness)  # the cookie is there too; the token decides
    r = harness.http.post("/api/docs", json={"id": "notes"}, headers=harness.auth())
    assert r.status_code == 201
    r = harness.http.post(f"/api/docs/notes/edit?token={harness.token()}", json={"pos": 0, "insert": "x"})
    assert r.status_code == 200


def test_safe_requests_by_cookie_need_no_csrf_token(harness: Harness) -> None:
    harness.create("notes")
    signed_in(harness)
    harness.give("notes", "ada")
    assert harness.http.get("/api/docs/notes").status_code == 200
    assert harness.http.get("/api/docs/notes/snapshot").status_code == 200


# -- login CSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": EVIL},
        {"origin": "null"},
        {},  # neither Origin nor Referer: no proof it is our page
        {"referer": f"{EVIL}/login"},
        {"origin": EVIL, "referer": "http://testserver/"},
    ],
)
@pytest.mark.parametrize("path", ["/api/auth/signin", "/api/auth/signup"])
def test_sign_in_and_sign_up_from_another_site_are_403(make_harness: Callable[..., Harness], headers: dict[str, str], path: str) -> None:
    h = make_harness(signup="open")
    h.accounts.sign_up("ada", PASSWORD, mode="open")
    r = h.http.post(path, json={"username": "ada" if path.endswith("signin") else "bob", "password": PASSWORD}, headers=headers)
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    assert "set-cookie" not in r.headers
    assert h.accounts.count() == 1


def test_sign_in_with_a_same_origin_referer_and_no_origin_works(harness: Harness) -> None:
    harness.accounts.sign_up("ada", PASSWORD, mode="open")
    r = harness.http.post(
        "/api/auth/signin", json={"username": "ada", "password": PASSWORD}, headers={"referer": "http://testserver/d/x"}
    )
    assert r.status_code == 200


@pytest.mark.parametrize("kind", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"])
def test_sign_in_needs_a_json_content_type(harness: Harness, kind: str) -> None:
    """A form on another site can post these without asking; JSON it cannot."""
    harness.accounts.sign_up("ada", PASSWORD, mode="open")
    r = harness.http.post(
        "/api/auth/signin",
        content=b'{"username": "ada", "password": "correct horse battery"}',
        headers={"origin": "http://testserver", "content-type": kind},
    )
    assert r.status_code == 403 and r.json()["error"] == "csrf"


# -- the WebSocket by cookie ----------------------------------------------------------------


def _join(ws: Any, doc_id: str = "notes") -> tuple[ClientSession, Welcome]:
    s = ClientSession(Document("a1"), doc_id, user="a1")
    for f in s.data_to_send():
        ws.send_bytes(f)
    raw = ws.receive_bytes()
    msg = decode_frame(raw)
    s.receive(raw)
    assert isinstance(msg, Welcome), msg
    return s, msg


def test_the_websocket_takes_the_session_cookie(harness: Harness) -> None:
    harness.create("notes")
    sid, _ = signed_in(harness)
    harness.give("notes", "ada")
    with harness.http.websocket_connect("/ws/notes", headers={"cookie": f"cowrite_session={sid}", "origin": "http://testserver"}) as ws:
        s, _ = _join(ws)
        assert s.welcomed and s.can_write


def test_a_websocket_with_a_cookie_from_another_origin_is_refused(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(allowed_origins=("*",))  # '*' opens the socket to tokens, never to cookies
    h.create("notes")
    sid, _ = signed_in(h)
    with pytest.raises(WebSocketDisconnect):
        with h.http.websocket_connect("/ws/notes", headers={"cookie": f"cowrite_session={sid}", "origin": EVIL}) as ws:
            ws.receive_bytes()
    with h.http.websocket_connect(f"/ws/notes?token={h.token()}", headers={"origin": EVIL}) as ws:
        _join(ws)  # the token of a page allowed by '*' still works


def test_a_websocket_with_a_dead_cookie_is_unauthorized(harness: Harness) -> None:
    from cowrite.protocol import Error, ErrorCode

    harness.create("notes")
    with harness.http.websocket_connect("/ws/notes", headers={"cookie": "cowrite_session=made-up"}) as ws:
        err = decode_frame(ws.receive_bytes())
        assert isinstance(err, Error) and err.code == ErrorCode.UNAUTHORIZED and err.fatal
