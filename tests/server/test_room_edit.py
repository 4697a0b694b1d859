"""In-process edits (the HTTP API) take the path of a client's batch: ``Room.edit``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import Harness
from cowrite.engine import Document, InvalidOpError
from cowrite.protocol import ErrorCode, Join, RemoteOps, Role, decode_frame
from cowrite.protocol.server import Room

SERVER = Path(__file__).parents[2] / "src" / "cowrite" / "server"


def _room(text: str = "hello", **limits: int) -> tuple[Room, list]:
    seed = Document("seed")
    seed.insert(0, text)
    room = Room("d", seed, agent_owners={"api:ann": "ann"}, **limits)  # type: ignore[arg-type]
    sessions = [room.join(Join("d", f"peer-{i}", {}), user=f"u{i}", role=Role.EDITOR)[0] for i in range(2)]
    return room, sessions


def test_an_edit_is_persisted_then_broadcast_to_every_connection() -> None:
    room, sessions = _room()
    pending = room.edit("ann", "api:ann", 5, 0, " world", at=1_700_000_000)
    assert pending.error is None and pending.session is None
    assert [op.agent for op in pending.to_persist] == ["api:ann"] and pending.patch
    sends = pending.commit()
    assert {s.session for s in sends} == set(sessions)  # no ACK: there is no sender connection
    assert all(isinstance(decode_frame(s.data), RemoteOps) for s in sends)
    assert room.doc.text == "hello world" and pending.version == room.doc.version


def test_an_edit_needs_the_agent_to_belong_to_the_user_and_changes_nothing_otherwise() -> None:
    room, _ = _room()
    before = room.doc.version
    pending = room.edit("mallory", "api:ann", 0, 0, "x")
    assert pending.error is not None and pending.error.code is ErrorCode.FORBIDDEN
    assert pending.commit() == [] and room.doc.version == before
    pending = room.edit("bob", "api:bob", 0, 0, "x")  # not claimed at all: claim it durably first
    assert pending.error is not None and pending.error.code is ErrorCode.FORBIDDEN
    pending.commit()


def test_an_edit_has_the_limits_of_a_batch() -> None:
    room, _ = _room(max_doc_len=8)
    pending = room.edit("ann", "api:ann", 0, 0, "too long")
    assert pending.error is not None and pending.error.code is ErrorCode.TOO_LARGE
    pending.commit()
    room, _ = _room(max_history_ops=7)
    pending = room.edit("ann", "api:ann", 0, 3)
    assert pending.error is not None and pending.error.code is ErrorCode.TOO_LARGE and "history" in pending.error.message
    pending.commit()
    assert room.doc.text == "hello"


def test_an_edit_outside_the_text_is_refused_and_a_malformed_one_raises() -> None:
    room, _ = _room()
    pending = room.edit("ann", "api:ann", 99, 0, "x")
    assert pending.error is not None and pending.error.code is ErrorCode.BAD_OP
    pending.commit()
    with pytest.raises(InvalidOpError):
        room.edit("ann", "api:ann", 0, -1)
    assert room.doc.text == "hello"
    pending = room.edit("ann", "api:ann", 0, 1)  # the room is still usable
    assert pending.error is None
    pending.commit()


def test_the_http_api_edits_through_room_edit(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []
    real = Room.edit

    def spy(self: Room, *a: object, **kw: object):  # type: ignore[no-untyped-def]
        calls.append(a)
        return real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Room, "edit", spy)
    harness.create("n")
    r = harness.http.post("/api/docs/n/edit", json={"pos": 0, "insert": "hi"}, headers=harness.auth(user="ann", role="editor"))
    assert r.status_code == 200
    assert calls == [("ann", "api:ann", 0, 0, "hi")]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_the_http_api_does_not_speak_the_protocol_as_a_client() -> None:
    api = _imports(SERVER / "api.py")
    for name in ("Join", "Ops", "encode_frame", "encode_patch", "Op"):
        assert not any(i.endswith("." + name) for i in api), f"api.py imports {name}"
    app = _imports(SERVER / "app.py")
    assert {i for i in app if i.startswith("api.")} == {"api.HttpApi"}  # access helpers live in access.py
