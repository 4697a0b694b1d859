"""The live ``SUGGESTIONS`` notice (``server/suggestions.py``): every socket of the
document hears of each create, save, accept, reject and withdrawal at once, with the
revision the list then reports; a socket on another server sharing the store hears of
it within the reconcile interval; and the revision is a function of the open rows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import FAST_HASHER, SECRET, Harness
from cowrite.accounts import Accounts
from cowrite.engine import MAX_SEQ, Document
from cowrite.protocol import decode_frame
from cowrite.protocol.messages import Suggestions
from cowrite.server import Limits, Server
from cowrite.server.suggestions import suggestions_revision
from cowrite.store import SQLiteStore
from cowrite.store.suggestions import SuggestionRecord
from test_doc_access import User, join, receive_within

DOC = "notes"
S = f"/api/docs/{DOC}/suggestions"


@pytest.fixture
def team(harness: Harness) -> dict[str, User]:
    """``olive`` owns DOC ("hello world"); cora comments, vic views."""
    users = {n: User(harness, n) for n in ("olive", "cora", "vic")}
    users["olive"].create(DOC)
    for name, role in (("cora", "commenter"), ("vic", "viewer")):
        harness.server.sharing.add_member(DOC, "olive", name, role)
    r = users["olive"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "insert": "hello world"})
    assert r.status_code == 200, r.text
    return users


def version_of(user: User) -> list[list[object]]:
    r = user.req("GET", f"/api/docs/{DOC}/snapshot")
    assert r.status_code == 200
    return [[a, s] for a, s in Document.decode(r.content).version]


def listed_revision(user: User) -> int:
    r = user.req("GET", S)
    assert r.status_code == 200, r.text
    revision: int = r.json()["revision"]
    return revision


def _next_suggestions(ws: Any, seconds: float = 10.0) -> Suggestions:
    deadline = time.monotonic() + seconds
    while True:
        message = receive_within(ws, max(0.1, deadline - time.monotonic()))
        assert message["type"] == "websocket.send", message
        msg = decode_frame(message["bytes"])
        if isinstance(msg, Suggestions):
            return msg


def test_sockets_of_the_document_hear_of_every_change(harness: Harness, team: dict[str, User]) -> None:
    cora, olive = team["cora"], team["olive"]
    with team["vic"].ws(DOC) as ws:
        join(ws, DOC, "vic-agent")
        empty = listed_revision(olive)
        seen = [empty]

        def heard() -> int:
            rev = _next_suggestions(ws).revision
            assert rev == listed_revision(olive)  # the list a page fetches then has that revision
            assert rev not in seen  # each change names a new set
            seen.append(rev)
            return rev

        r = cora.req("POST", S, {"version": version_of(cora), "text": "hello brave world"})
        assert r.status_code == 201, r.text
        first = r.json()["id"]
        heard()  # created
        time.sleep(0.01)  # a later save time
        r = cora.req("PUT", f"{S}/{first}", {"version": version_of(cora), "text": "hello brave new world"})
        assert r.status_code == 200, r.text
        heard()  # saved again
        r = olive.req("POST", f"{S}/{first}/accept")
        assert r.status_code == 200, r.text
        assert _next_suggestions(ws).revision == empty == listed_revision(olive)  # accepted: none open
        seen = [empty]
        r = cora.req("POST", S, {"version": version_of(cora), "text": "hello!"})
        second = r.json()["id"]
        heard()
        assert olive.req("DELETE", f"{S}/{second}").status_code == 204  # rejected
        assert _next_suggestions(ws).revision == empty
        r = cora.req("POST", S, {"version": version_of(cora), "text": "bye"})
        seen = [empty]
        heard()
        assert cora.req("DELETE", f"{S}/{r.json()['id']}").status_code == 204  # withdrawn
        assert _next_suggestions(ws).revision == empty


def test_a_refused_request_sends_no_notice(harness: Harness, team: dict[str, User]) -> None:
    with team["olive"].ws(DOC) as ws:
        join(ws, DOC, "olive-agent")
        r = team["vic"].req("POST", S, {"version": version_of(team["vic"]), "text": "nope"})
        assert r.status_code == 403
        r = team["cora"].req("POST", S, {"version": version_of(team["cora"]), "text": "hello there"})
        assert r.status_code == 201
        # the first notice is the accepted request's: the refused one sent none
        assert _next_suggestions(ws).revision == listed_revision(team["olive"])
        assert len(harness.store.suggestions(DOC)) == 1  # type: ignore[attr-defined]


def test_a_change_on_another_server_reaches_this_ones_sockets(tmp_path: Path, harness: Harness, team: dict[str, User]) -> None:
    """Two servers on one store: server B's socket hears of a suggestion made on server A
    (through B's periodic look at the open rows), though the page never asked B for the list."""
    store_b = SQLiteStore(harness.db)
    accounts_b = Accounts(store_b, hasher=FAST_HASHER)
    server_b = Server(store_b, SECRET, accounts=accounts_b, shared=True, limits=Limits(reconcile_seconds=0.2))
    try:
        with TestClient(server_b.app, base_url="http://testserver") as http_b:
            vic = team["vic"]
            http_b.cookies.clear()
            with http_b.websocket_connect(f"/ws/{DOC}", headers=vic.headers(csrf=False)) as ws:
                join(ws, DOC, "vic-on-b")
                empty = suggestions_revision([])
                r = team["cora"].req("POST", S, {"version": version_of(team["cora"]), "text": "hello brave world"})  # on server A
                assert r.status_code == 201, r.text
                deadline = time.monotonic() + 10
                while (rev := _next_suggestions(ws, max(0.1, deadline - time.monotonic())).revision) == empty:
                    pass  # B's first look may find the set before the change
                assert rev == suggestions_revision(harness.store.suggestions(DOC))  # type: ignore[attr-defined]
    finally:
        store_b.close()


def test_the_revision_names_the_set_of_open_rows() -> None:
    a = SuggestionRecord("a", "cora", b"x", 1.0, 2.0)
    b = SuggestionRecord("b", "eddie", b"y", 1.0, 3.0)
    assert suggestions_revision([a, b]) == suggestions_revision([b, a])
    assert suggestions_revision([a, b]) != suggestions_revision([a])
    assert suggestions_revision([a]) != suggestions_revision([SuggestionRecord("a", "cora", b"z", 1.0, 2.5)])  # saved again
    assert all(0 <= suggestions_revision(s) < MAX_SEQ for s in ([], [a], [a, b]))
