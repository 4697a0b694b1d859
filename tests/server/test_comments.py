"""Comments over HTTP (``server/comments.py``), tried the way an attacker would.

Roles (a commenter comments but cannot edit the text, a viewer only reads, a stranger
gets nothing), authorship (nobody edits someone else's comment; only its author or
an owner deletes it), bad input of every kind (oversize, malformed anchors, bad and
unknown ids, replies to replies), detached anchors, and the live ``COMMENTS`` notice
to the document's sockets, on one server and across two servers sharing a store.
Every refusal leaves the stored comments as they were.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import FAST_HASHER, SECRET, Harness
from cowrite.accounts import Accounts
from cowrite.engine import Document, Position
from cowrite.engine.anchors import Anchor
from cowrite.protocol import decode_frame
from cowrite.protocol.messages import Comments
from cowrite.server import Limits, Server
from cowrite.store import SQLiteStore
from cowrite.store.comments import MAX_COMMENT_CHARS
from test_doc_access import User, join, receive_within

DOC = "notes"
C = f"/api/docs/{DOC}/comments"


@pytest.fixture
def team(harness: Harness) -> dict[str, User]:
    """``olive`` owns DOC ("hello brave new world"); eddie edits, cora comments, vic views,
    stranger has no access."""
    users = {n: User(harness, n) for n in ("olive", "eddie", "cora", "vic", "stranger")}
    users["olive"].create(DOC)
    for name, role in (("eddie", "editor"), ("cora", "commenter"), ("vic", "viewer")):
        harness.server.sharing.add_member(DOC, "olive", name, role)
    r = users["olive"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "insert": "hello brave new world"})
    assert r.status_code == 200, r.text
    return users


def server_doc(user: User) -> Document:
    r = user.req("GET", f"/api/docs/{DOC}/snapshot")
    assert r.status_code == 200
    return Document.decode(r.content)


def anchor_over(user: User, start: int, end: int) -> dict[str, Any]:
    return Anchor.over(server_doc(user), start, end).to_json()


def stored(h: Harness) -> list[Any]:
    return h.store.comments(DOC)  # type: ignore[attr-defined, no-any-return]


def start_thread(user: User, body: str = "is 'brave' right?", start: int = 6, end: int = 11) -> dict[str, Any]:
    r = user.req("POST", C, {"body": body, "anchor": anchor_over(user, start, end)})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_commenter_starts_a_thread_and_others_reply(harness: Harness, team: dict[str, User]) -> None:
    t = start_thread(team["cora"])
    assert t["quote"] == "brave" and t["range"] == [6, 11] and not t["detached"] and not t["resolved"]
    assert t["author"] == "cora" and t["name"] == "Cora Display" and t["thread"] == t["id"]
    r = team["eddie"].req("POST", C, {"body": "yes", "thread": t["id"]})
    assert r.status_code == 201, r.text
    reply = r.json()
    assert reply["thread"] == t["id"] and "anchor" not in reply
    listed = team["vic"].req("GET", C).json()  # a viewer reads them
    assert [c["id"] for c in listed["comments"]] == [t["id"], reply["id"]]
    assert listed["revision"] == 2


def test_a_commenter_cannot_edit_the_text(team: dict[str, User]) -> None:
    r = team["cora"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "insert": "x"})
    assert r.status_code == 403
    assert server_doc(team["olive"]).text == "hello brave new world"


def test_viewers_and_strangers_cannot_comment(harness: Harness, team: dict[str, User]) -> None:
    t = start_thread(team["cora"])
    before = stored(harness)
    anchor = anchor_over(team["olive"], 0, 5)
    for who in ("vic", "stranger"):
        assert team[who].req("POST", C, {"body": "me too", "anchor": anchor}).status_code == 403
        assert team[who].req("POST", C, {"body": "me too", "thread": t["id"]}).status_code == 403
        assert team[who].req("PATCH", f"{C}/{t['id']}", {"resolved": True}).status_code == 403
        assert team[who].req("DELETE", f"{C}/{t['id']}").status_code == 403
    assert team["stranger"].req("GET", C).status_code == 403
    assert team["stranger"].req("GET", "/api/docs/nope/comments").status_code == 403  # learns nothing
    assert stored(harness) == before


def test_only_the_author_edits_and_only_author_or_owner_deletes(harness: Harness, team: dict[str, User]) -> None:
    t = start_thread(team["cora"])
    r = team["eddie"].req("POST", C, {"body": "eddie's reply", "thread": t["id"]})
    reply = r.json()
    before = stored(harness)
    for who in ("eddie", "olive"):  # not even the owner rewrites someone's words
        assert team[who].req("PATCH", f"{C}/{t['id']}", {"body": "hijacked"}).status_code == 403
    assert team["cora"].req("DELETE", f"{C}/{reply['id']}").status_code == 403
    assert stored(harness) == before
    r = team["cora"].req("PATCH", f"{C}/{t['id']}", {"body": "is 'brave' the word?"})
    assert r.status_code == 200 and r.json()["body"] == "is 'brave' the word?" and r.json()["edited_at"] is not None
    assert team["eddie"].req("DELETE", f"{C}/{reply['id']}").status_code == 204  # its author
    r = team["eddie"].req("POST", C, {"body": "again", "thread": t["id"]})
    assert team["olive"].req("DELETE", f"{C}/{r.json()['id']}").status_code == 204  # an owner: any
    got = {c["id"]: c for c in team["vic"].req("GET", C).json()["comments"]}
    assert got[reply["id"]]["deleted"] and got[reply["id"]]["body"] == ""
    assert team["eddie"].req("PATCH", f"{C}/{reply['id']}", {"body": "back"}).status_code == 409


def test_resolve_and_reopen(harness: Harness, team: dict[str, User]) -> None:
    t = start_thread(team["cora"])
    r = team["eddie"].req("PATCH", f"{C}/{t['id']}", {"resolved": True})
    assert r.status_code == 200 and r.json()["resolved"]
    rev = harness.store.comments_revision(DOC)  # type: ignore[attr-defined]
    assert team["olive"].req("PATCH", f"{C}/{t['id']}", {"resolved": True}).status_code == 200  # again: no change
    assert harness.store.comments_revision(DOC) == rev  # type: ignore[attr-defined]
    r = team["cora"].req("PATCH", f"{C}/{t['id']}", {"resolved": False})
    assert r.status_code == 200 and not r.json()["resolved"]
    reply = team["cora"].req("POST", C, {"body": "r", "thread": t["id"]}).json()
    assert team["cora"].req("PATCH", f"{C}/{reply['id']}", {"resolved": True}).status_code == 400


def test_bad_input_is_refused_and_changes_nothing(harness: Harness, team: dict[str, User]) -> None:
    t = start_thread(team["cora"])
    reply = team["cora"].req("POST", C, {"body": "r", "thread": t["id"]}).json()
    before = stored(harness)
    good = anchor_over(team["olive"], 0, 5)
    unknown = Anchor(Position("nobody", 3, 1), Position("nobody", 4, -1)).to_json()
    cases: list[tuple[str, str, Any, int]] = [
        ("POST", C, {"body": "x" * (MAX_COMMENT_CHARS + 1), "anchor": good}, 400),
        ("POST", C, {"body": "", "anchor": good}, 400),
        ("POST", C, {"body": "   \n", "anchor": good}, 400),
        ("POST", C, {"body": 5, "anchor": good}, 400),
        ("POST", C, {"body": "hi"}, 400),
        ("POST", C, {"body": "hi", "anchor": good, "thread": t["id"]}, 400),
        ("POST", C, {"body": "hi", "anchor": good, "author": "olive"}, 400),
        ("POST", C, {"body": "hi", "anchor": {"start": good["start"]}}, 400),
        ("POST", C, {"body": "hi", "anchor": {"start": good["end"], "end": good["start"]}}, 400),
        ("POST", C, {"body": "hi", "anchor": "CWA..."}, 400),
        ("POST", C, {"body": "hi", "anchor": unknown}, 409),
        ("POST", C, {"body": "hi", "thread": "no-such-thread"}, 404),
        ("POST", C, {"body": "hi", "thread": reply["id"]}, 404),  # no replies to replies
        ("POST", C, {"body": "hi", "thread": "bad id!"}, 400),
        ("POST", C, {"body": "hi", "thread": 7}, 400),
        ("POST", C, [1, 2], 400),
        ("PATCH", f"{C}/{t['id']}", {}, 400),
        ("PATCH", f"{C}/{t['id']}", {"resolved": "yes"}, 400),
        ("PATCH", f"{C}/{t['id']}", {"body": "x" * (MAX_COMMENT_CHARS + 1)}, 400),
        ("PATCH", f"{C}/{t['id']}", {"author": "eddie"}, 400),
        ("PATCH", f"{C}/cUnknownId", {"body": "x"}, 404),
        ("PATCH", f"{C}/{'x' * 65}", {"body": "x"}, 400),
        ("DELETE", f"{C}/cUnknownId", None, 404),
        ("DELETE", f"{C}/%27%3B%20DROP%20TABLE%20comments%3B--", None, 400),
        ("GET", "/api/docs/bad%20id/comments", None, 400),
    ]
    for method, path, body, status in cases:
        r = team["cora"].req(method, path, body)
        assert r.status_code == status, (method, path, body, r.status_code, r.text)
        assert "error" in r.json()
    r = team["cora"].req("POST", C, None)  # no body at all
    assert r.status_code == 400
    assert stored(harness) == before


def test_a_deleted_range_shows_its_comment_detached_with_its_quote(harness: Harness, team: dict[str, User]) -> None:
    t = start_thread(team["cora"], start=12, end=15)  # "new"
    r = team["olive"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 11, "delete": 4})  # " new"
    assert r.status_code == 200
    (got,) = team["vic"].req("GET", C).json()["comments"]
    assert got["id"] == t["id"] and got["detached"] and got["range"] is None and got["quote"] == "new"
    r = team["olive"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "insert": ">> "})
    (got,) = team["vic"].req("GET", C).json()["comments"]
    assert got["detached"]  # text typed elsewhere does not bring it back
    anchor = anchor_over(team["olive"], 0, 2)
    team["olive"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "delete": 3})
    r = team["cora"].req("POST", C, {"body": "late", "anchor": anchor})  # its range is gone already
    assert r.status_code == 409


def test_sockets_of_the_document_hear_of_every_change(harness: Harness, team: dict[str, User]) -> None:
    with team["vic"].ws(DOC) as ws:
        join(ws, DOC, "vic-agent")
        t = start_thread(team["cora"])
        assert _next_comments(ws).revision == 1
        team["eddie"].req("PATCH", f"{C}/{t['id']}", {"resolved": True})
        assert _next_comments(ws).revision == 2
        team["cora"].req("DELETE", f"{C}/{t['id']}")
        assert _next_comments(ws).revision == 3


def _next_comments(ws: Any, seconds: float = 10.0) -> Comments:
    deadline = time.monotonic() + seconds
    while True:
        message = receive_within(ws, max(0.1, deadline - time.monotonic()))
        assert message["type"] == "websocket.send", message
        msg = decode_frame(message["bytes"])
        if isinstance(msg, Comments):
            return msg


def test_a_change_on_another_server_reaches_this_ones_sockets(tmp_path: Path, harness: Harness, team: dict[str, User]) -> None:
    """Two servers on one store: server B's socket hears of a comment made on server A
    (through B's periodic look at the store's comment revision), though the page never
    asked B for the list."""
    store_b = SQLiteStore(harness.db)
    accounts_b = Accounts(store_b, hasher=FAST_HASHER)
    server_b = Server(store_b, SECRET, accounts=accounts_b, shared=True, limits=Limits(reconcile_seconds=0.2))
    try:
        with TestClient(server_b.app, base_url="http://testserver") as http_b:
            vic = team["vic"]
            http_b.cookies.clear()
            with http_b.websocket_connect(f"/ws/{DOC}", headers=vic.headers(csrf=False)) as ws:
                join(ws, DOC, "vic-on-b")
                start_thread(team["cora"])  # on server A
                assert _next_comments(ws).revision == 1
    finally:
        store_b.close()


def test_comments_of_another_document_are_out_of_reach(harness: Harness, team: dict[str, User]) -> None:
    """IDOR: a comment id of a document the caller cannot comment on, tried through a
    document it can: not found, and nothing changes."""
    t = start_thread(team["cora"])
    team["vic"].create("vics")  # vic owns this one; on DOC vic only views
    for method, body in (("PATCH", {"resolved": True}), ("PATCH", {"body": "mine now"}), ("DELETE", None)):
        r = team["vic"].req(method, f"/api/docs/vics/comments/{t['id']}", body)
        assert r.status_code == 404, r.text
    r = team["vic"].req("POST", "/api/docs/vics/comments", {"body": "hi", "thread": t["id"]})
    assert r.status_code == 404
    assert [c.body for c in stored(harness)] == ["is 'brave' right?"] and not stored(harness)[0].resolved


def test_a_cookie_request_without_its_csrf_token_is_refused(harness: Harness, team: dict[str, User]) -> None:
    t = start_thread(team["cora"])
    before = stored(harness)
    anchor = anchor_over(team["olive"], 0, 5)
    assert team["cora"].req("POST", C, {"body": "x", "anchor": anchor}, csrf=False).status_code in (401, 403)
    assert team["cora"].req("PATCH", f"{C}/{t['id']}", {"body": "x"}, csrf=False).status_code in (401, 403)
    assert team["cora"].req("DELETE", f"{C}/{t['id']}", csrf=False).status_code in (401, 403)
    assert stored(harness) == before
