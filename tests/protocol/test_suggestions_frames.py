"""The ``SUGGESTIONS`` frame (0x0D): the server's notice that a document's open suggestions changed.

Its bytes are pinned (the JS side pins the same ones), its revision is bounded, a client
session turns it into ``SuggestionsChanged``, and a client may not send it."""

from __future__ import annotations

import pytest

from cowrite.engine import Document
from cowrite.protocol import ErrorCode, ProtocolError, Role, Room, decode_frame, encode_frame, parse_join
from cowrite.protocol.client import ClientSession, SuggestionsChanged
from cowrite.protocol.messages import MAX_SEQ, Comments, Error, MsgType, Suggestions


def test_bytes_are_pinned_and_round_trip() -> None:
    assert MsgType.SUGGESTIONS == 0x0D
    assert encode_frame(Suggestions(0)).hex() == "010d00"
    assert encode_frame(Suggestions(300)).hex() == "010dac02"
    for rev in (0, 1, 300, MAX_SEQ - 1):
        assert decode_frame(encode_frame(Suggestions(rev))) == Suggestions(rev)
    assert decode_frame(encode_frame(Suggestions(5))) != Comments(5)


@pytest.mark.parametrize("rev", [-1, MAX_SEQ, True, 1.0, "3", None])
def test_encoding_refuses_bad_revisions(rev: object) -> None:
    with pytest.raises(ProtocolError):
        encode_frame(Suggestions(rev))  # type: ignore[arg-type]


@pytest.mark.parametrize("hexframe", ["010d", "010d0000", "010d8000", "010d8080808080808080808001"])
def test_decoding_refuses_truncated_trailing_overlong_and_huge(hexframe: str) -> None:
    with pytest.raises(ProtocolError):
        decode_frame(bytes.fromhex(hexframe))


def _joined() -> tuple[Room, ClientSession, object]:
    room = Room("d", Document("seed"))
    client = ClientSession(Document("a"), "d", user="a", colour="#abc")
    session, sends = room.join(parse_join(client.data_to_send()[0]), user="a", role=Role.EDITOR)
    for s in sends:
        client.receive(s.data)
    return room, client, session


def test_client_session_reports_a_change() -> None:
    _, client, _ = _joined()
    assert client.receive(encode_frame(Suggestions(7))) == [SuggestionsChanged(7)]
    assert not client.closed


def test_before_welcome_it_is_a_protocol_failure() -> None:
    client = ClientSession(Document("a"), "d", user="a", colour="#abc")
    events = client.receive(encode_frame(Suggestions(1)))
    assert client.closed and type(events[0]).__name__ == "ProtocolFailure"


def test_a_client_may_not_send_it() -> None:
    room, _, session = _joined()
    pending = room.submit(session, encode_frame(Suggestions(1)))  # type: ignore[arg-type]
    frames = [decode_frame(s.data) for s in pending.commit()]
    assert any(isinstance(f, Error) and f.code is ErrorCode.BAD_STATE for f in frames)
