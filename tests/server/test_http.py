"""The HTTP API: documents, text, history, edits, health and metrics, with tokens."""

from __future__ import annotations

import pytest
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


# -- snapshot, text at a version, blame, users in history ----------------------------------


def _two_authors(h: Harness) -> None:
    """Document "n": ann types "Hello world", then bob (a user of another agent) edits."""
    import json

    h.create("n")
    r = h.http.post("/api/docs/n/edit", json={"pos": 0, "insert": "Hello world"}, headers=h.auth(user="ann", role="editor"))
    assert r.status_code == 200, r.text
    r = h.http.post("/api/docs/n/edit", json={"pos": 5, "insert": ", 🌍"}, headers=h.auth(user="bob", role="editor"))
    assert r.status_code == 200, r.text
    assert json.dumps(r.json()["version"])


def test_snapshot_is_the_document_bytes(harness: Harness) -> None:
    from cowrite.engine import Document

    h = harness
    _two_authors(h)
    r = h.http.get("/api/docs/n/snapshot", headers=h.auth(doc="n", role="viewer"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["cache-control"] == "no-store"
    doc = Document.decode(r.content, "browser")
    room = h.server.rooms.loaded("n")
    assert room is not None
    assert doc.text == "Hello, 🌍 world" == room.room.doc.text
    assert doc.version == room.room.doc.version and doc.summary() == room.room.doc.summary()
    # A browser that loaded it joins with its summary: nothing to send but what changed since.
    assert room.room.doc.ops_missing_from(doc.summary()) == []
    assert h.http.get("/api/docs/n/snapshot").status_code == 401
    assert h.http.get("/api/docs/n/snapshot", headers=h.auth(doc="other")).status_code == 403
    assert h.http.get("/api/docs/missing/snapshot", headers=h.auth()).status_code == 404


def test_text_at_a_version(harness: Harness) -> None:
    import json

    h = harness
    _two_authors(h)
    changes = h.http.get("/api/docs/n/history", headers=h.auth()).json()["changes"]
    first = changes[0]["version"]
    assert first == [["api:ann", 10]]

    def text(version: object) -> tuple[int, str]:
        r = h.http.get("/api/docs/n/text", params={"version": json.dumps(version)}, headers=h.auth())
        return r.status_code, r.text

    assert text(first) == (200, "Hello world")
    assert text([]) == (200, "")
    assert text(changes[-1]["version"]) == (200, "Hello, 🌍 world")
    assert text([["api:ann", 4]]) == (200, "Hello")  # any version, not only change ends
    assert h.http.get("/api/docs/n/text", headers=h.auth()).text == "Hello, 🌍 world"
    for bad in ["nope", "{}", '[["a"]]', '[["a", -1]]', '[["", 1]]', '[["a", 1.5]]', '[["a", "1"]]', '[[1, 1]]', "[1]"]:
        r = h.http.get("/api/docs/n/text", params={"version": bad}, headers=h.auth())
        assert r.status_code == 400, bad
        assert r.json()["error"] == "bad_version"
    status, body = text([["api:ann", 99]])
    assert status == 404 and json.loads(body)["error"] == "not_found"
    assert text([["ghost", 0]])[0] == 404
    r = h.http.get("/api/docs/missing/text", params={"version": "[]"}, headers=h.auth())
    assert r.status_code == 404
    assert h.http.get("/api/docs/n/text", params={"version": "[]"}).status_code == 401  # the token comes first


def test_blame_names_agents_and_their_users(harness: Harness) -> None:
    import json

    h = harness
    _two_authors(h)
    r = h.http.get("/api/docs/n/blame", headers=h.auth(doc="n", role="viewer"))
    assert r.status_code == 200, r.text
    runs = r.json()["runs"]
    assert runs == [
        {"start": 0, "end": 5, "agent": "api:ann", "user": "ann", "name": "ann"},
        {"start": 5, "end": 8, "agent": "api:bob", "user": "bob", "name": "bob"},  # ", 🌍": code points, the emoji is one
        {"start": 8, "end": 14, "agent": "api:ann", "user": "ann", "name": "ann"},
    ]
    assert r.json()["version"] == h.http.get("/api/docs/n", headers=h.auth()).json()["version"]
    old = h.http.get("/api/docs/n/blame", params={"version": json.dumps([["api:ann", 10]])}, headers=h.auth()).json()
    assert old["runs"] == [{"start": 0, "end": 11, "agent": "api:ann", "user": "ann", "name": "ann"}]
    assert h.http.get("/api/docs/n/blame", params={"version": "[["}, headers=h.auth()).status_code == 400
    assert h.http.get("/api/docs/n/blame", params={"version": '[["x", 0]]'}, headers=h.auth()).status_code == 404
    assert h.http.get("/api/docs/n/blame", headers=h.auth(doc="other")).status_code == 403
    assert h.http.get("/api/docs/missing/blame", headers=h.auth()).status_code == 404
    # An empty document has no runs.
    h.create("empty")
    assert h.http.get("/api/docs/empty/blame", headers=h.auth()).json()["runs"] == []


def test_history_names_the_user_of_each_change(harness: Harness) -> None:
    h = harness
    _two_authors(h)
    changes = h.http.get("/api/docs/n/history", headers=h.auth()).json()["changes"]
    assert [(c["agent"], c["user"], c["name"]) for c in changes] == [("api:ann", "ann", "ann"), ("api:bob", "bob", "bob")]
    assert set(changes[0]) == {"agent", "user", "name", "start", "end", "time", "inserted", "deleted", "version"}


def test_history_user_is_null_for_agents_without_a_known_owner(harness: Harness) -> None:
    from cowrite.engine import Document

    h = harness
    h.create("imported")
    doc = Document("old-tool")
    doc.insert(0, "from before agents had owners")
    h.store.append("imported", doc.encode_patch(), op_count=len(doc))  # type: ignore[attr-defined]
    changes = h.http.get("/api/docs/imported/history", headers=h.auth()).json()["changes"]
    assert [(c["agent"], c["user"], c["name"]) for c in changes] == [("old-tool", None, None)]
    runs = h.http.get("/api/docs/imported/blame", headers=h.auth()).json()["runs"]
    assert runs == [{"start": 0, "end": len(doc), "agent": "old-tool", "user": None, "name": None}]


def test_history_and_blame_show_the_latest_display_name_of_each_user(harness: Harness) -> None:
    from cowrite.server import issue_token

    from conftest import SECRET

    h = harness
    h.create("named")

    def edit(name: str, text: str) -> None:
        tok = issue_token(SECRET, "u-17", doc="named", role="editor", name=name)
        r = h.http.post("/api/docs/named/edit", json={"pos": 0, "insert": text}, headers={"authorization": f"Bearer {tok}"})
        assert r.status_code == 200, r.text

    edit("Ada", "one ")
    changes = h.http.get("/api/docs/named/history", headers=h.auth()).json()["changes"]
    assert [(c["user"], c["name"]) for c in changes] == [("u-17", "Ada")]
    edit("Ada Lovelace", "two ")  # the same user under a new name: the latest wins everywhere
    changes = h.http.get("/api/docs/named/history", headers=h.auth()).json()["changes"]
    assert {(c["user"], c["name"]) for c in changes} == {("u-17", "Ada Lovelace")}
    runs = h.http.get("/api/docs/named/blame", headers=h.auth()).json()["runs"]
    assert [(r["user"], r["name"]) for r in runs] == [("u-17", "Ada Lovelace")]
    assert h.store.user_names(["u-17"]) == {"u-17": "Ada Lovelace"}  # type: ignore[attr-defined]


# -- untrusted values: bounded before they are parsed ---------------------------------------

import json as _json

import pytest

DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    "value",
    [
        DEEP,
        '[["a", 1], ' + "[" * 5000 + "]" * 5000 + "]",
        '{"a": ' * 3000 + "1" + "}" * 3000,
        "[[" + '"a", 1],[' * 2500 + '"a", 1]]',  # 25 KB: over the length limit
        '[["' + "a" * 300 + '", 1]]',  # an agent longer than agents may be
        "[" + "1" * 5000 + "]",  # an integer too long to convert
        '[["a", 1e400]]',
        '[["a", true]]',
        '[["a", null]]',
        '[{"a": 1}]',
        '[["a", 1, 2]]',
        '"[]"',
        "NaN",
        "[[\"a\", 1]",
        "\x00",
        "",
    ],
    ids=[
        "nested-5000", "nested-inside", "objects-3000", "too-long", "long-agent", "huge-int", "float-inf",
        "bool-seq", "null-seq", "object-item", "triple", "string", "nan", "unclosed", "nul", "empty",
    ],
)
@pytest.mark.parametrize("endpoint", ["text", "blame"])
def test_a_malformed_version_is_a_400_with_a_reason_never_a_500(harness: Harness, value: str, endpoint: str) -> None:
    h = harness
    h.create("n")
    r = h.http.get(f"/api/docs/n/{endpoint}", params={"version": value}, headers=h.auth())
    assert r.status_code == 400, r.text[:300]
    assert r.json()["error"] == "bad_version" and r.json()["message"]


def test_a_version_is_never_handed_to_the_recursive_json_parser_deeply_nested(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = _json.loads

    def spy(s, *a, **kw):  # type: ignore[no-untyped-def]
        seen.append(s if isinstance(s, str) else s.decode("utf-8", "replace"))
        return real(s, *a, **kw)

    monkeypatch.setattr(_json, "loads", spy)
    h = harness
    h.create("n")
    h.http.get("/api/docs/n/text", params={"version": "[" * 500 + "]" * 500}, headers=h.auth())
    h.http.post("/api/docs", content=b'{"id": ' + b"[" * 500 + b"]" * 500 + b"}", headers=h.auth())
    assert not any(s.count("[") > 16 for s in seen), [s[:40] for s in seen]


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"id": ' * 30_000, b'{"id": "' + b"x" * 1000 + b'"', b"\xff\xfe", b"", b'"just a string"', b"1" * 5000],
    ids=["nested-array", "nested-object", "unclosed", "not-utf8", "empty", "string", "huge-int"],
)
def test_a_malformed_json_body_is_a_400(harness: Harness, body: bytes) -> None:
    h = harness
    for url in ("/api/docs", "/api/docs/n/edit"):
        r = h.http.post(url, content=body, headers={**h.auth(), "content-type": "application/json"})
        assert r.status_code in (400, 404), (url, r.text[:200])
        assert r.json()["error"] in ("bad_request", "not_found")
    h.create("n")
    r = h.http.post("/api/docs/n/edit", content=body, headers=h.auth())
    assert r.status_code == 400 and r.json()["error"] == "bad_request", r.text[:200]


def test_a_body_over_the_cap_is_a_413_in_the_api_shape(make_harness) -> None:  # type: ignore[no-untyped-def]
    from cowrite.server import Limits

    h = make_harness(limits=Limits(max_request_bytes=1000), guests="editor")
    r = h.http.post("/api/session", content=b'{"name": "' + b"a" * 2000 + b'"}')
    assert r.status_code == 413 and r.json() == {"error": "too_large", "message": "request bodies are limited to 1000 bytes"}
    r = h.http.post("/api/session", json={"name": "Ada"})
    assert r.status_code == 200
    r = h.http.post("/api/docs", content=(b"x" * 600 for _ in range(3)), headers=h.auth())  # chunked
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_health_and_ready_do_not_tell_why_the_store_failed(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unauthenticated probe learns that the store is down, not its host, path or driver message."""

    def down(doc_id: str) -> bool:
        raise OSError("could not connect to server at db.internal.example:5432 as cowrite_admin")

    monkeypatch.setattr(harness.store, "exists", down)
    for path in ("/health", "/ready"):
        r = harness.http.get(path)
        assert r.status_code == 503
        assert "db.internal" not in r.text and "cowrite_admin" not in r.text
        assert r.json()["store"] == "unavailable"
