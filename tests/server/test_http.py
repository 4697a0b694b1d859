"""The HTTP API: documents, text, history, edits, health and metrics, with tokens."""

from __future__ import annotations

from conftest import Harness


def test_health_and_metrics(harness: Harness) -> None:
    assert harness.http.get("/health").json()["status"] == "ok"
    text = harness.http.get("/metrics").text
    for name in ("cowrite_connections", "cowrite_rooms", "cowrite_ops_total", "cowrite_commit_seconds_bucket"):
        assert name in text


def test_create_list_get_edit_history_delete(harness: Harness) -> None:
    h = harness
    h.create("notes")
    assert h.http.post("/api/docs", json={"id": "notes"}, headers=h.auth()).status_code == 409
    assert [d["id"] for d in h.http.get("/api/docs", headers=h.auth()).json()["documents"]] == ["notes"]
    r = h.http.post("/api/docs/notes/edit", json={"pos": 0, "insert": "Hello 👋 world"}, headers=h.auth(user="ann", role="editor"))
    assert r.status_code == 200, r.text
    assert r.json()["length"] == len("Hello 👋 world")
    r = h.http.post("/api/docs/notes/edit", json={"pos": 6, "delete": 2}, headers=h.auth(user="ann", role="editor"))
    assert r.status_code == 200, r.text
    assert h.http.get("/api/docs/notes/text", headers=h.auth()).text == "Hello world"
    doc = h.http.get("/api/docs/notes", headers=h.auth()).json()
    assert doc["text"] == "Hello world" and doc["version"] == [["api:ann", len("Hello 👋 world") + 1]]
    changes = h.http.get("/api/docs/notes/history", headers=h.auth()).json()["changes"]
    assert {c["agent"] for c in changes} == {"api:ann"}  # one change per agent per second
    assert (sum(c["inserted"] for c in changes), sum(c["deleted"] for c in changes)) == (13, 2)
    assert changes[-1]["version"] == doc["version"]
    assert h.http.delete("/api/docs/notes", headers=h.auth(role="editor")).status_code == 403
    assert h.http.delete("/api/docs/notes", headers=h.auth()).status_code == 204
    assert h.http.get("/api/docs/notes/text", headers=h.auth()).status_code == 404


def test_edits_survive_a_restart_of_the_server(harness: Harness, tmp_path) -> None:
    from cowrite.server import Server
    from cowrite.store import SQLiteStore
    from starlette.testclient import TestClient

    h = harness
    h.create("n")
    h.http.post("/api/docs/n/edit", json={"pos": 0, "insert": "durable"}, headers=h.auth())
    store2 = SQLiteStore(h.db)  # a second process's view of the same file
    try:
        with TestClient(Server(store2, b"s" * 40).app) as other:
            assert other.get("/api/docs/n/text", headers=h.auth()).text == "durable"
    finally:
        store2.close()


def test_bad_requests_get_clear_errors_and_change_nothing(harness: Harness) -> None:
    h = harness
    h.create("n")
    bad = [
        ("post", "/api/docs", {"id": "has space"}, 400),
        ("post", "/api/docs", {"nope": 1}, 400),
        ("post", "/api/docs/n/edit", {"pos": 5, "insert": "x"}, 400),
        ("post", "/api/docs/n/edit", {"pos": "0", "insert": "x"}, 400),
        ("post", "/api/docs/missing/edit", {"pos": 0, "insert": "x"}, 404),
        ("get", "/api/docs/missing/text", None, 404),
    ]
    for method, url, body, status in bad:
        r = getattr(h.http, method)(url, json=body, headers=h.auth()) if body is not None else h.http.get(url, headers=h.auth())
        assert r.status_code == status, (url, body, r.text)
        assert "error" in r.json()
    for raw in [b"not json", b"[1, 2]", b'{"pos": 0, "insert": "\\ud800"}']:  # the last: a lone surrogate
        r = h.http.post("/api/docs/n/edit", content=raw, headers=h.auth())
        assert r.status_code == 400, (raw, r.text)
    assert h.http.get("/api/docs/n/text", headers=h.auth()).text == ""


def test_access_rules(harness: Harness) -> None:
    h = harness
    h.create("a")
    h.create("b")
    assert h.http.get("/api/docs").status_code == 401
    assert h.http.get("/api/docs", headers={"authorization": "Bearer junk"}).status_code == 401
    assert h.http.get("/api/docs", headers=h.auth(doc="a")).status_code == 403  # listing needs doc '*'
    assert h.http.get("/api/docs/b/text", headers=h.auth(doc="a")).status_code == 403
    assert h.http.get("/api/docs/a/text", headers=h.auth(doc="a", role="viewer")).status_code == 200
    assert h.http.post("/api/docs/a/edit", json={"pos": 0, "insert": "x"}, headers=h.auth(doc="a", role="viewer")).status_code == 403
    assert h.http.post("/api/docs", json={"id": "c"}, headers=h.auth(role="viewer")).status_code == 403
    assert h.http.get("/api/docs/a/text", params={"token": h.token(doc="a")}).status_code == 200
