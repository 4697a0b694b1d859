"""Suggestions over HTTP (``server/suggestions.py``), tried the way an attacker would.

A commenter suggests, others see it inline (spans), an editor accepts (the text
changes, blame shows the suggester) or rejects (it disappears); edits made meanwhile
are kept.  Refusals: a viewer suggesting, a commenter or viewer accepting, a stranger
reading, someone changing or withdrawing another person's suggestion, a malformed,
oversize or foreign-agent patch, ops whose parents are another suggestion's, unknown
versions and ids, a second accept.  Every refusal leaves the document and the stored
suggestions as they were.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from conftest import Harness
from cowrite.engine import Document, decode_patch, encode_patch
from cowrite.engine.suggestions import make_suggestion
from test_doc_access import User, text_of

DOC = "notes"
S = f"/api/docs/{DOC}/suggestions"


@pytest.fixture
def team(harness: Harness) -> dict[str, User]:
    """``olive`` owns DOC ("hello world"); eddie edits, cora comments, vic views, stranger has no access."""
    users = {n: User(harness, n) for n in ("olive", "eddie", "cora", "vic", "stranger")}
    users["olive"].create(DOC)
    for name, role in (("eddie", "editor"), ("cora", "commenter"), ("vic", "viewer")):
        harness.server.sharing.add_member(DOC, "olive", name, role)
    r = users["olive"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "insert": "hello world"})
    assert r.status_code == 200, r.text
    return users


def server_doc(user: User) -> Document:
    r = user.req("GET", f"/api/docs/{DOC}/snapshot")
    assert r.status_code == 200
    return Document.decode(r.content)


def version_of(user: User) -> list[list[object]]:
    return [[a, s] for a, s in server_doc(user).version]


def suggest(user: User, text: str, version: list[list[object]] | None = None) -> dict[str, Any]:
    r = user.req("POST", S, {"version": version or version_of(user), "text": text})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def stored(h: Harness) -> list[Any]:
    return h.store.suggestions(DOC)  # type: ignore[attr-defined, no-any-return]


def inline(spans: list[dict[str, str]]) -> str:
    marks = {"same": "{}", "insert": "[+{}]", "delete": "[-{}]"}
    return "".join(marks[s["kind"]].format(s["text"]) for s in spans)


def test_suggest_show_accept_and_blame(harness: Harness, team: dict[str, User]) -> None:
    s = suggest(team["cora"], "hello brave world")  # a commenter may suggest
    assert s["author"] == "cora" and s["name"] == "Cora Display" and s["problem"] is None
    assert inline(s["spans"]) == "hello [+brave ]world"
    assert text_of(harness, DOC) == "hello world"  # not in the document until accepted
    listed = team["vic"].req("GET", S).json()  # a viewer sees it
    assert [x["id"] for x in listed["suggestions"]] == [s["id"]]
    assert listed["you"] == {"user": "vic", "role": "viewer", "can_suggest": False, "can_decide": False}
    # the document moves on meanwhile: the suggestion is shown on the new text
    r = team["eddie"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "insert": ">> "})
    assert r.status_code == 200, r.text
    listed = team["olive"].req("GET", S).json()
    assert inline(listed["suggestions"][0]["spans"]) == ">> hello [+brave ]world"
    r = team["eddie"].req("POST", f"{S}/{s['id']}/accept")
    assert r.status_code == 200, r.text
    assert r.json()["author"] == "cora"
    assert text_of(harness, DOC) == ">> hello brave world"  # both kept
    assert stored(harness) == []
    runs = team["olive"].req("GET", f"/api/docs/{DOC}/blame").json()["runs"]
    brave = [run for run in runs if run["start"] <= 9 < run["end"]]
    assert brave and brave[0]["user"] == "cora"
    # accepting again: gone
    assert team["eddie"].req("POST", f"{S}/{s['id']}/accept").status_code == 404
    assert text_of(harness, DOC) == ">> hello brave world"


def test_deletions_are_struck_and_reject_drops_it(harness: Harness, team: dict[str, User]) -> None:
    s = suggest(team["eddie"], "hello")
    assert inline(s["spans"]) == "hello[- world]"
    assert team["cora"].req("DELETE", f"{S}/{s['id']}").status_code == 403  # not hers, not an editor
    assert team["olive"].req("DELETE", f"{S}/{s['id']}").status_code == 204  # the owner rejects
    assert stored(harness) == [] and text_of(harness, DOC) == "hello world"
    assert team["olive"].req("DELETE", f"{S}/{s['id']}").status_code == 404


def test_author_changes_and_withdraws_own_suggestion(harness: Harness, team: dict[str, User]) -> None:
    s = suggest(team["cora"], "hello world!")
    v = version_of(team["cora"])
    r = team["cora"].req("PUT", f"{S}/{s['id']}", {"version": v, "text": "Hello world!"})
    assert r.status_code == 200, r.text
    assert inline(r.json()["spans"]) == "[-h][+H]ello world[+!]"
    assert r.json()["created_at"] == s["created_at"]
    assert team["cora"].req("DELETE", f"{S}/{s['id']}").status_code == 204  # withdrawn
    assert stored(harness) == []


def test_roles_and_forgery_are_refused(harness: Harness, team: dict[str, User]) -> None:
    s = suggest(team["cora"], "hello there")
    before = stored(harness)
    v = version_of(team["olive"])
    assert team["vic"].req("POST", S, {"version": v, "text": "x"}).status_code == 403
    assert team["stranger"].req("GET", S).status_code == 403
    assert team["stranger"].req("POST", S, {"version": v, "text": "x"}).status_code == 403
    for who in ("cora", "vic", "stranger"):
        assert team[who].req("POST", f"{S}/{s['id']}/accept").status_code == 403
    # an editor may not rewrite someone else's suggestion either
    r = team["eddie"].req("PUT", f"{S}/{s['id']}", {"version": v, "text": "evil"})
    assert r.status_code == 403
    assert team["cora"].req("POST", S, {"version": v, "text": "x"}, csrf=False).status_code == 403
    assert stored(harness) == before and text_of(harness, DOC) == "hello world"


def _patch_body(ops: list[Any]) -> dict[str, str]:
    return {"patch": base64.b64encode(encode_patch(ops)).decode()}


def test_bad_patches_and_bodies_change_nothing(harness: Harness, team: dict[str, User]) -> None:
    s = suggest(team["cora"], "hello big world")
    before = stored(harness)
    doc = server_doc(team["cora"])
    cora = team["cora"]
    own = make_suggestion(doc, doc.version, "hello, world", f"sugg:{s['id']}")
    foreign = make_suggestion(doc, doc.version, "hello, world", "olive-forged")
    # ops on top of the other suggestion's ops (not in the document): parents unknown
    other = make_suggestion(doc, doc.version, "hello big world", "sugg:zzz")
    branch = doc.copy()
    branch.add_ops(other)
    child = Document("sugg:" + s["id"])
    child.add_ops(branch.ops_since(()))
    child.insert(0, "!")
    on_other = child.ops_since(branch.version)
    bad: list[tuple[Any, int]] = [
        (_patch_body(foreign), 400),  # ops for another agent
        (_patch_body(on_other), 400),  # parents in another branch
        (_patch_body(own[1:]) if len(own) > 1 else {"patch": "AAAA"}, 400),
        ({"patch": "not base64!"}, 400),
        ({"patch": base64.b64encode(b"\x00garbage" * 10).decode()}, 400),  # malformed
        ({"patch": 12}, 400),
        ({"version": [["nobody", 3]], "text": "x"}, 404),  # unknown version
        ({"version": "x", "text": "x"}, 400),
        ({"version": [[a, q] for a, q in doc.version], "text": 5}, 400),
        ({"version": [[a, q] for a, q in doc.version], "text": "hello world"}, 400),  # no change
        ({}, 400),
    ]
    for body, status in bad:
        r = cora.req("PUT", f"{S}/{s['id']}", body)
        assert r.status_code == status, (body, r.text)
    huge = {"version": [[a, q] for a, q in doc.version], "text": "x" * (harness.server.limits.max_request_bytes + 10)}
    assert cora.req("PUT", f"{S}/{s['id']}", huge).status_code == 413
    assert cora.req("PUT", f"{S}/bad:id", {"patch": "AAAA"}).status_code == 400
    assert cora.req("PUT", f"{S}/nosuch", {"patch": "AAAA"}).status_code == 404
    assert stored(harness) == before and text_of(harness, DOC) == "hello world"
    # the same patch, well-formed and of the right agent, is taken
    r = cora.req("PUT", f"{S}/{s['id']}", _patch_body(own))
    assert r.status_code == 200, r.text
    assert inline(r.json()["spans"]) == "hello[+,] world"


def test_concurrent_main_edits_over_the_suggested_range(harness: Harness, team: dict[str, User]) -> None:
    """The suggestion deletes "world" while an editor deletes it too and types more:
    accepting merges like an offline peer's edits (nothing doubled, nothing lost)."""
    v = version_of(team["cora"])
    s = suggest(team["cora"], "hello there", v)
    r = team["eddie"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 6, "delete": 5, "insert": "earth"})
    assert r.status_code == 200, r.text
    listed = team["olive"].req("GET", S).json()["suggestions"][0]
    assert listed["problem"] is None
    # accepting is merging the branch: the same text as the engine's merge of its ops
    expected = server_doc(team["olive"])
    expected.add_ops(decode_patch(harness.store.suggestion(DOC, s["id"]).patch))  # type: ignore[attr-defined]
    r = team["olive"].req("POST", f"{S}/{s['id']}/accept")
    assert r.status_code == 200, r.text
    text = text_of(harness, DOC)
    assert text == expected.text
    assert "earth" in text and "world" not in text and text.startswith("hello ")


def test_polling_with_the_tag_gets_unchanged_until_something_moves(harness: Harness, team: dict[str, User]) -> None:
    first = team["vic"].req("GET", S).json()
    assert first["suggestions"] == [] and first["tag"]
    again = team["vic"].req("GET", f"{S}?since={first['tag']}").json()
    assert again == {"tag": first["tag"], "unchanged": True}
    s = suggest(team["cora"], "hello world, again")  # a new suggestion moves the tag
    moved = team["vic"].req("GET", f"{S}?since={first['tag']}").json()
    assert [x["id"] for x in moved["suggestions"]] == [s["id"]] and moved["tag"] != first["tag"]
    r = team["eddie"].req("POST", f"/api/docs/{DOC}/edit", {"pos": 0, "insert": "Oh, "})  # so does an edit
    assert r.status_code == 200, r.text
    edited = team["olive"].req("GET", f"{S}?since={moved['tag']}").json()
    assert inline(edited["suggestions"][0]["spans"]) == "Oh, hello world[+, again]"
    assert edited["you"]["can_decide"] is True  # the shared listing, with the caller's own rights


def test_nobody_joins_as_a_suggestions_agent(harness: Harness, team: dict[str, User]) -> None:
    """Agents of suggestions are listed to every reader, so the server reserves the
    ``sugg:`` names: an editor who joins as one is refused (fatal FORBIDDEN) and the
    suggestion stays acceptable, as its author made it."""
    from cowrite.protocol import ErrorCode
    from cowrite.protocol.client import ClientSession
    from cowrite.protocol.messages import Error, decode_frame

    s = suggest(team["cora"], "hello world?")
    before = text_of(harness, DOC)
    for agent in (s["agent"], "sugg:someone-elses"):
        with team["eddie"].ws(DOC) as ws:
            for frame in ClientSession(Document(agent), DOC).data_to_send():
                ws.send_bytes(frame)
            err = decode_frame(ws.receive_bytes())
            assert isinstance(err, Error) and err.code == ErrorCode.FORBIDDEN and err.fatal, err
    assert text_of(harness, DOC) == before
    r = team["olive"].req("POST", f"{S}/{s['id']}/accept")
    assert r.status_code == 200, r.text
    assert text_of(harness, DOC) == "hello world?"


def test_open_suggestions_are_bounded_and_bad_text_is_refused(harness: Harness, team: dict[str, User], monkeypatch: pytest.MonkeyPatch) -> None:
    from cowrite.server import suggestions as module

    monkeypatch.setattr(module, "MAX_OPEN_SUGGESTIONS", 2)
    suggest(team["cora"], "hello world 1")
    suggest(team["eddie"], "hello world 2")
    v = version_of(team["cora"])
    r = team["cora"].req("POST", S, {"version": v, "text": "hello world 3"})
    assert r.status_code == 409 and r.json()["error"] == "too_many"
    assert len(stored(harness)) == 2
    monkeypatch.setattr(module, "MAX_OPEN_SUGGESTIONS", 50)
    cora = team["cora"]
    harness.http.cookies.clear()
    raw = json.dumps({"version": v, "text": "hello \ud800"}).encode()  # a lone surrogate, escaped
    r = harness.http.post(S, content=raw, headers={**cora.headers(), "content-type": "application/json"})
    assert r.status_code == 400 and "surrogate" in r.json()["message"].lower(), r.text
    assert len(stored(harness)) == 2 and text_of(harness, DOC) == "hello world"


def test_a_client_that_makes_its_own_ops_names_the_suggestion(harness: Harness, team: dict[str, User]) -> None:
    doc = server_doc(team["cora"])
    ops = make_suggestion(doc, doc.version, "hello world.", "sugg:mine-1")
    r = team["cora"].req("POST", S, {"id": "mine-1", **_patch_body(ops)})
    assert r.status_code == 201, r.text
    assert r.json()["agent"] == "sugg:mine-1" and inline(r.json()["spans"]) == "hello world[+.]"
    # the id is taken now (by anyone), and ids that cannot be part of an agent are refused
    again = make_suggestion(doc, doc.version, "hello world!", "sugg:mine-1")
    assert team["eddie"].req("POST", S, {"id": "mine-1", **_patch_body(again)}).status_code == 409
    assert team["cora"].req("POST", S, {"id": "a:b", **_patch_body(again)}).status_code == 400
    # a patch for a random id the server would pick cannot be of the right agent
    assert team["cora"].req("POST", S, _patch_body(again)).status_code == 400
    assert [s.id for s in stored(harness)] == ["mine-1"]
    assert team["olive"].req("POST", f"{S}/mine-1/accept").status_code == 200
    assert text_of(harness, DOC) == "hello world."
