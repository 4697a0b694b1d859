"""A batch small enough that it cannot break a limit is parsed once; a larger one is
counted (``patch_shape``) before it is decoded, so the limits still hold before
anything is built.  The room's answer is the same either way."""

from __future__ import annotations

from typing import Any

import pytest

import hostile_patches as hp
import cowrite.protocol.server as server_mod
from cowrite.engine import Document
from cowrite.protocol import Ack, Error, ErrorCode, Join, Ops, Role, decode_frame, encode_frame
from cowrite.protocol.server import Room, ServerSession
from cowrite.server import Limits


def _room(**limits: Any) -> tuple[Room, ServerSession]:
    lim = Limits(**limits)
    room = Room(
        "d",
        Document("server"),
        max_doc_len=lim.max_doc_chars,
        max_patch_bytes=lim.max_patch_bytes,
        max_batch_ops=lim.max_batch_ops,
        max_batch_meta_bytes=lim.max_batch_meta_bytes,
        max_history_ops=lim.max_history_ops,
        max_history_runs=lim.max_history_runs,
    )
    session, _ = room.join(Join("d", "a", {}), user="u", role=Role.EDITOR)
    return room, session


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"decode_patch": 0, "patch_shape": 0}
    for name in calls:
        real = getattr(server_mod, name)

        def counted(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls[_name] += 1
            return _real(*a, **kw)

        monkeypatch.setattr(server_mod, name, counted)
    return calls


def _answer(room: Room, session: ServerSession, patch: bytes) -> Any:
    pending = room.submit(session, encode_frame(Ops(7, patch)))
    sends = pending.commit()
    return decode_frame(sends[0].data)


def test_a_keystroke_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    room, session = _room()
    calls = _counting(monkeypatch)
    d = Document("a")
    d.insert(0, "x")
    assert isinstance(_answer(room, session, d.encode_patch()), Ack)
    assert calls == {"decode_patch": 1, "patch_shape": 0}
    assert room.doc.text == "x"


def test_a_batch_larger_than_the_smallest_limit_is_counted_first_and_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    room, session = _room(max_batch_ops=64)  # bodies of over 64 bytes could hold more runs
    calls = _counting(monkeypatch)
    d = Document("a")
    d.insert(0, "y" * 500)  # one run, a body of 500+ bytes
    assert isinstance(_answer(room, session, d.encode_patch()), Ack)
    assert calls["patch_shape"] == 1  # (the first decode refused the body by its size, building nothing)
    assert room.doc.text == "y" * 500


def test_a_small_deflated_patch_of_many_runs_is_refused_before_they_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    room, session = _room()
    calls = _counting(monkeypatch)
    patch = hp.many_ops(200_000)  # < 1000 bytes stating a body far over the 4096 bytes that cannot break a limit
    answer = _answer(room, session, patch)
    assert isinstance(answer, Error) and answer.code is ErrorCode.TOO_LARGE and answer.batch_id == 7
    assert "op runs" in answer.message
    assert calls["patch_shape"] == 1
    assert len(room.doc.oplog) == 0


def test_a_full_document_refuses_text_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    room, session = _room(max_doc_chars=3)
    d = Document("a")
    d.insert(0, "abc")
    assert isinstance(_answer(room, session, d.encode_patch()), Ack)
    calls = _counting(monkeypatch)
    d.insert(3, "d")
    answer = _answer(room, session, d.encode_patch(room.doc.version))
    assert isinstance(answer, Error) and answer.code is ErrorCode.TOO_LARGE and "3 characters" in answer.message
    assert calls == {"decode_patch": 0, "patch_shape": 1}
    assert room.doc.text == "abc"


def test_a_damaged_small_patch_is_a_bad_op_and_changes_nothing() -> None:
    room, session = _room()
    d = Document("a")
    d.insert(0, "x")
    patch = bytearray(d.encode_patch())
    patch[-6] ^= 0xFF
    answer = _answer(room, session, bytes(patch))
    assert isinstance(answer, Error) and answer.code is ErrorCode.BAD_OP and not answer.fatal
    assert len(room.doc.oplog) == 0
