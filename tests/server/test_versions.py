"""Versions over HTTP: restore as new ops, named versions, the diff view, titles; with roles."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from conftest import Harness
from cowrite.engine import Document
from cowrite.protocol import Ack, RemoteOps, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession

ANN = {"user": "ann", "role": "editor", "doc": "n"}


def edit(h: Harness, user: str, **body: object) -> dict[str, Any]:
    r = h.http.post("/api/docs/n/edit", json=body, headers=h.auth(user=user, role="editor"))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def text(h: Harness, version: object = None) -> str:
    params = {} if version is None else {"version": json.dumps(version)}
    r = h.http.get("/api/docs/n/text", params=params, headers=h.auth())
    assert r.status_code == 200, r.text
    return r.text


def drafts(h: Harness) -> tuple[list[list[object]], list[list[object]]]:
    """Document "n": ann writes a first draft (v1), bob rewrites its end (v2)."""
    h.create("n")
    v1 = edit(h, "ann", pos=0, insert="The quick brown fox 🦊 jumps.")["version"]
    edit(h, "bob", pos=4, delete=5)
    v2 = edit(h, "bob", pos=4, insert="slow")["version"]
    assert text(h) == "The slow brown fox 🦊 jumps."
    return v1, v2


def test_restore_makes_the_old_text_with_new_ops_of_the_caller(harness: Harness) -> None:
    h = harness
    v1, v2 = drafts(h)
    r = h.http.post("/api/docs/n/restore", json={"version": v1}, headers=h.auth(**ANN))
    assert r.status_code == 200, r.text
    assert r.json()["edits"] >= 1 and r.json()["length"] == len("The quick brown fox 🦊 jumps.")
    assert text(h) == text(h, v1) == "The quick brown fox 🦊 jumps."
    changes = h.http.get("/api/docs/n/history", headers=h.auth()).json()["changes"]
    assert changes[-1]["agent"] == "api:ann" and changes[-1]["user"] == "ann"  # a change like any other
    assert text(h, v2) == "The slow brown fox 🦊 jumps."  # history is kept: v2 still reads
    again = h.http.post("/api/docs/n/restore", json={"version": v1}, headers=h.auth(**ANN))
    assert again.json()["edits"] == 0  # already that text: no ops
    # and the restore is durable: a reopened store has it
    assert h.store.load("n").text == "The quick brown fox 🦊 jumps."  # type: ignore[attr-defined]


def test_an_edit_concurrent_with_a_restore_survives(harness: Harness) -> None:
    h = harness
    v1, _ = drafts(h)
    bob = Document("bob-tab")
    with h.http.websocket_connect(f"/ws/n?token={h.token(user='bob', role='editor', doc='n')}") as ws:
        session = ClientSession(bob, "n", user="bob")
        for f in session.data_to_send():
            ws.send_bytes(f)
        while not session.welcomed or bob.text != "The slow brown fox 🦊 jumps.":
            session.receive(ws.receive_bytes())
        bob.insert(len(bob), " QQQ")  # typed before the restore reaches bob
        r = h.http.post("/api/docs/n/restore", json={"version": v1}, headers=h.auth(**ANN))
        assert r.status_code == 200, r.text
        session.flush()
        for f in session.data_to_send():
            ws.send_bytes(f)
        acked = False
        while not acked or bob.text != text(h):
            frame = ws.receive_bytes()
            acked = acked or isinstance(decode_frame(frame), Ack)
            session.receive(frame)
    assert text(h) == "The quick brown fox 🦊 jumps. QQQ" == bob.text


def test_restore_needs_edit_rights_and_a_known_version(harness: Harness) -> None:
    h = harness
    v1, _ = drafts(h)
    before = text(h)
    for role in ("viewer",):  # (a commenter cannot write either: DocAccess.can_write)
        r = h.http.post("/api/docs/n/restore", json={"version": v1}, headers=h.auth(user="vic", role=role, doc="n"))
        assert r.status_code == 403, r.text
    r = h.http.post("/api/docs/n/restore", json={"version": v1}, headers=h.auth(user="eve", role="editor", doc="other"))
    assert r.status_code == 403
    r = h.http.post("/api/docs/n/restore", json={"version": [["nobody", 3]]}, headers=h.auth(**ANN))
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    for bad in (None, "v1", [["ann"]], [["ann", -1]], {"a": 1}):
        r = h.http.post("/api/docs/n/restore", json={"version": bad}, headers=h.auth(**ANN))
        assert r.status_code == 400, (bad, r.text)
    assert text(h) == before


def test_restoring_the_empty_version_clears_the_text(harness: Harness) -> None:
    h = harness
    drafts(h)
    r = h.http.post("/api/docs/n/restore", json={"version": []}, headers=h.auth(**ANN))
    assert r.status_code == 200, r.text
    assert text(h) == ""


# -- named versions ---------------------------------------------------------------------------


def test_named_versions_label_list_jump_and_delete(harness: Harness) -> None:
    h = harness
    v1, v2 = drafts(h)
    r = h.http.post("/api/docs/n/versions", json={"name": "  First draft ", "version": v1}, headers=h.auth(**ANN))
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "First draft" and r.json()["version"] == v1
    r = h.http.post("/api/docs/n/versions", json={"name": "Now"}, headers=h.auth(user="bob", role="editor", doc="n"))
    assert r.status_code == 201 and r.json()["version"] == v2  # default: the current version
    r = h.http.post("/api/docs/n/versions", json={"name": "First draft", "version": v2}, headers=h.auth(**ANN))
    assert r.status_code == 409 and r.json()["error"] == "exists"
    listed = h.http.get("/api/docs/n/versions", headers=h.auth(user="vic", role="viewer", doc="n"))
    assert listed.status_code == 200
    versions = listed.json()["versions"]
    assert [(v["name"], v["version"], v["created_by"]) for v in versions] == [("First draft", v1, "ann"), ("Now", v2, "bob")]
    assert text(h, versions[0]["version"]) == "The quick brown fox 🦊 jumps."  # jump: the text at it
    assert h.http.delete("/api/docs/n/versions/Now", headers=h.auth(user="vic", role="viewer", doc="n")).status_code == 403
    assert h.http.delete("/api/docs/n/versions/Now", headers=h.auth(**ANN)).status_code == 204
    assert h.http.delete("/api/docs/n/versions/Now", headers=h.auth(**ANN)).status_code == 404
    assert [v["name"] for v in h.http.get("/api/docs/n/versions", headers=h.auth()).json()["versions"]] == ["First draft"]
    odd = "v1/2 ✓ 50%"
    assert h.http.post("/api/docs/n/versions", json={"name": odd}, headers=h.auth(**ANN)).status_code == 201
    assert h.http.delete(f"/api/docs/n/versions/{quote(odd, safe='')}", headers=h.auth(**ANN)).status_code == 204
    assert [v["name"] for v in h.http.get("/api/docs/n/versions", headers=h.auth()).json()["versions"]] == ["First draft"]


def test_bad_labels_are_refused_and_store_nothing(harness: Harness) -> None:
    h = harness
    v1, _ = drafts(h)
    for role in ("viewer",):  # (a commenter cannot write either: DocAccess.can_write)
        r = h.http.post("/api/docs/n/versions", json={"name": "x"}, headers=h.auth(user="vic", role=role, doc="n"))
        assert r.status_code == 403
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": 5}, {"name": "a\u202eb"}, {"name": "ok", "version": "v"}):
        r = h.http.post("/api/docs/n/versions", json=body, headers=h.auth(**ANN))
        assert r.status_code == 400, (body, r.text)
    r = h.http.post("/api/docs/n/versions", json={"name": "ghost", "version": [["nobody", 1]]}, headers=h.auth(**ANN))
    assert r.status_code == 404
    assert h.http.get("/api/docs/n/versions", headers=h.auth()).json()["versions"] == []


# -- the diff view --------------------------------------------------------------------------


def test_the_diff_marks_inserted_and_deleted_text_by_author(harness: Harness) -> None:
    h = harness
    v1, v2 = drafts(h)
    r = h.http.get("/api/docs/n/diff", params={"from": json.dumps(v1), "to": json.dumps(v2)}, headers=h.auth(user="vic", role="viewer", doc="n"))
    assert r.status_code == 200, r.text
    spans = [(s["kind"], s["text"], s["user"]) for s in r.json()["spans"]]
    assert spans == [
        ("same", "The ", "ann"),
        ("delete", "quick", "ann"),
        ("insert", "slow", "bob"),
        ("same", " brown fox 🦊 jumps.", "ann"),
    ]
    now = h.http.get("/api/docs/n/diff", params={"from": json.dumps(v1)}, headers=h.auth()).json()
    assert now["to"] == v2 and [s["kind"] for s in now["spans"]] == ["same", "delete", "insert", "same"]
    everything = h.http.get("/api/docs/n/diff", headers=h.auth()).json()["spans"]
    assert {s["kind"] for s in everything} == {"insert"}  # from the empty document
    assert h.http.get("/api/docs/n/diff", params={"from": "[[\"nobody\", 1]]"}, headers=h.auth()).status_code == 404
    assert h.http.get("/api/docs/n/diff", params={"from": "nope"}, headers=h.auth()).status_code == 400
    assert h.http.get("/api/docs/n/diff", headers=h.auth(user="eve", role="editor", doc="other")).status_code == 403


# -- titles -----------------------------------------------------------------------------------


def test_a_title_is_set_by_editors_and_read_by_everyone(harness: Harness) -> None:
    h = harness
    h.create("n")
    assert h.http.get("/api/docs/n/title", headers=h.auth()).json() == {"id": "n", "title": "", "role": "owner"}
    r = h.http.put("/api/docs/n/title", json={"title": "  Notes for Friday 📅 "}, headers=h.auth(**ANN))
    assert r.status_code == 200 and r.json()["title"] == "Notes for Friday 📅"
    assert h.http.get("/api/docs/n/title", headers=h.auth(user="vic", role="viewer", doc="n")).json() == {
        "id": "n",
        "title": "Notes for Friday 📅",
        "role": "viewer",
    }
    docs = h.http.get("/api/docs", headers=h.auth()).json()["documents"]
    assert [(d["id"], d["title"]) for d in docs] == [("n", "Notes for Friday 📅")]
    r = h.http.put("/api/docs/n/title", json={"title": "x"}, headers=h.auth(user="vic", role="viewer", doc="n"))
    assert r.status_code == 403
    for bad in ({"title": "x" * 201}, {"title": None}, {"title": "a\nb"}, {}):
        r = h.http.put("/api/docs/n/title", json=bad, headers=h.auth(**ANN))
        assert r.status_code == 400, (bad, r.text)
    assert h.http.get("/api/docs/n/title", headers=h.auth()).json()["title"] == "Notes for Friday 📅"
    assert h.http.put("/api/docs/n/title", json={"title": ""}, headers=h.auth(**ANN)).json()["title"] == ""


@pytest.mark.parametrize("path", ["/api/docs/n/title", "/api/docs/n/versions", "/api/docs/n/diff"])
def test_nobody_without_access_reads_versions(harness: Harness, path: str) -> None:
    h = harness
    h.create("n")
    assert h.http.get(path).status_code == 401
    assert h.http.get(path, headers=h.auth(user="eve", role="owner", doc="other")).status_code == 403


def test_room_edit_ops_takes_only_the_callers_agent_and_the_limits_of_a_batch() -> None:
    from cowrite.protocol import ErrorCode
    from cowrite.protocol.server import Room

    seed = Document("seed")
    seed.insert(0, "hello")
    room = Room("d", seed, agent_owners={"api:ann": "ann"}, max_doc_len=12)  # type: ignore[arg-type]
    scratch = room.doc.fork("api:ann")
    scratch.insert(5, " world")
    ops = scratch.ops_since(room.doc.version)
    pending = room.edit_ops("mallory", "api:ann", ops)  # not mallory's agent
    assert pending.error is not None and pending.error.code is ErrorCode.FORBIDDEN
    pending.commit()
    other = room.doc.fork("bob")
    other.insert(0, "x")
    pending = room.edit_ops("ann", "api:ann", other.ops_since(room.doc.version))  # ops of another agent
    assert pending.error is not None and pending.error.code is ErrorCode.FORBIDDEN
    pending.commit()
    big = room.doc.fork("api:ann")
    big.insert(0, "far too long")
    pending = room.edit_ops("ann", "api:ann", big.ops_since(room.doc.version))
    assert pending.error is not None and pending.error.code is ErrorCode.TOO_LARGE
    pending.commit()
    assert room.doc.text == "hello"
    pending = room.edit_ops("ann", "api:ann", ops)
    assert pending.error is None and [op.agent for op in pending.to_persist] == ["api:ann"]
    pending.commit()
    assert room.doc.text == "hello world"
