"""The browser editor's pages and static files, their headers, and guest sessions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import SECRET, Harness

from cowrite.server import verify_token
from cowrite.server.access import PALETTE, colour_for
from cowrite.server.web import STATIC_DIR

PAGES = [("/", "index.html"), ("/d/notes", "editor.html"), ("/d/my-doc_2.v1/history", "history.html")]


@pytest.mark.parametrize("url,name", PAGES)
def test_pages_are_the_static_html_files_with_security_headers(harness: Harness, url: str, name: str) -> None:
    r = harness.http.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.content == (STATIC_DIR / name).read_bytes()
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no inline scripts, no eval
    assert directives["style-src"] == "'self' 'unsafe-inline'"  # CodeMirror's run-time <style> elements
    assert directives["connect-src"].split() == ["'self'", "ws://testserver", "wss://testserver"]
    assert directives["frame-ancestors"] == "'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"  # ?token= never leaks in a Referer


def test_pages_load_the_app_bundle(harness: Harness) -> None:
    for url, _ in PAGES:
        html = harness.http.get(url).text
        assert 'src="/static/app.js"' in html and 'href="/static/app.css"' in html


def test_page_routes_reject_invalid_document_ids(harness: Harness) -> None:
    for url in ["/d/has%20space", "/d/" + "x" * 300, "/d/%C3%A9t%C3%A9/history", "/d/a%2Fb"]:
        r = harness.http.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("text/html")
        assert "Not found" in r.text and "has space" not in r.text  # the id is not echoed back
        assert "content-security-policy" in r.headers
    assert harness.http.get("/d/").status_code == 404
    assert harness.http.get("/d/a/b/c").status_code == 404
    assert harness.http.get("/d/a/history/x").headers["content-type"].startswith("text/html")


def test_static_files(harness: Harness) -> None:
    r = harness.http.get("/static/editor.html")
    assert r.status_code == 200 and r.content == (STATIC_DIR / "editor.html").read_bytes()
    assert r.headers["x-content-type-options"] == "nosniff"
    assert harness.http.get("/static/no-such-file.js").status_code == 404
    for sneaky in ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"]:
        r = harness.http.get(sneaky)
        assert r.status_code == 404 or "class Server" not in r.text, sneaky


def test_app_bundle_is_served_as_javascript_and_css(harness: Harness) -> None:
    js = harness.http.get("/static/app.js")
    assert js.status_code == 200, "the front end's build output static/app.js is missing"
    assert js.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    css = harness.http.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_api_health_and_websocket_routes_are_unchanged(harness: Harness) -> None:
    assert harness.http.get("/health").json()["status"] == "ok"
    assert "cowrite_connections" in harness.http.get("/metrics").text
    assert harness.http.get("/api/docs").status_code == 401
    assert harness.http.get("/api/docs").headers["x-content-type-options"] == "nosniff"


# -- guest sessions ------------------------------------------------------------------


def test_no_guests_by_default(harness: Harness) -> None:
    r = harness.http.post("/api/session", json={"name": "Ada"})
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden" and "cowrite token" in r.json()["message"]


@pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
def test_guest_sessions(make_harness: Callable[..., Harness], role: str) -> None:
    h = make_harness(guests=role)
    r = h.http.post("/api/session", json={"name": "  Ada 🌍  "})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Ada 🌍" and body["role"] == role
    assert body["user"].startswith("guest-") and body["colour"] == colour_for(body["user"]) in PALETTE
    grant = verify_token(SECRET, body["token"])
    assert (grant.user, grant.name, grant.doc, grant.role) == (body["user"], "Ada 🌍", "*", role)
    assert h.store.user_names([body["user"]]) == {body["user"]: "Ada 🌍"}  # type: ignore[attr-defined]
    assert 11 * 3600 < body["expires"] - __import__("time").time() <= 12 * 3600
    # Two guests with the same name are two users.
    other = h.http.post("/api/session", json={"name": "Ada 🌍"}).json()
    assert other["user"] != body["user"]
    # The token works on the API with the guest's role, and says who it is.
    auth = {"authorization": f"Bearer {body['token']}"}
    who = h.http.get("/api/session", headers=auth).json()
    assert who == {
        "user": body["user"],
        "name": "Ada 🌍",
        "role": role,
        "doc": "*",
        "colour": body["colour"],
        "expires": grant.expires,
        "guest": True,
    }
    created = h.http.post("/api/docs", json={"id": "guest-doc"}, headers=auth)
    assert created.status_code == (403 if role == "viewer" else 201)
    assert h.http.get("/api/docs", headers=auth).status_code == 200


def test_guest_names_are_validated(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(guests="editor")
    for bad in [None, "", "   ", "x" * 65, 42, ["Ada"], "Ada\nLovelace", "a\x00b", "evil\u202eoverride"]:
        r = h.http.post("/api/session", json={"name": bad})
        assert r.status_code == 400, bad
        assert r.json()["error"] == "bad_name"
    assert h.http.post("/api/session", json={"name": "x" * 64}).status_code == 200
    assert h.http.post("/api/session", json={"name": "👩‍💻" * 10}).status_code == 200  # ZWJ sequences are fine
    assert h.http.post("/api/session", content=b"not json").status_code == 400
    assert h.http.post("/api/session", content=b'{"name": "\\ud800"}').status_code == 400


def test_guest_hosts_stop_dns_rebinding(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(guests="owner", guest_hosts=("localhost", "127.0.0.1", "::1"))
    for host in ["127.0.0.1:8000", "localhost", "LOCALHOST:80", "[::1]:8000"]:
        assert h.http.post("/api/session", json={"name": "Ada"}, headers={"host": host}).status_code == 200, host
    for host in ["evil.example:8000", "testserver", "127.0.0.1.evil.example", "", "[bad"]:
        r = h.http.post("/api/session", json={"name": "Ada"}, headers={"host": host})
        assert r.status_code == 403, host
        assert "own address" in r.json()["message"]


def test_get_session_needs_a_valid_token(harness: Harness) -> None:
    assert harness.http.get("/api/session").status_code == 401
    assert harness.http.get("/api/session", headers={"authorization": "Bearer junk"}).status_code == 401
    tok = harness.token(user="bob", doc="notes", role="viewer")
    who = harness.http.get("/api/session", params={"token": tok}).json()
    assert (who["user"], who["doc"], who["role"], who["guest"]) == ("bob", "notes", "viewer", False)
    assert who["colour"] == colour_for("bob")


def test_colours_are_stable_and_spread() -> None:
    assert colour_for("alice") == colour_for("alice")
    assert len({colour_for(f"guest-{i}") for i in range(200)}) == len(PALETTE)

    def luminance(colour: str) -> float:  # WCAG 2 relative luminance
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    for c in PALETTE:  # readable as text on white, and white text on it (WCAG AA)
        assert (1.0 + 0.05) / (luminance(c) + 0.05) >= 4.5, c
