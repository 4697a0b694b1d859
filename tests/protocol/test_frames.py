"""Frames: every message round-trips; any other bytes are a ProtocolError, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import CowriteError, Document, Position
from cowrite.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Digest,
    Comments,
    Error,
    ErrorCode,
    Join,
    Message,
    MsgType,
    Ops,
    Ping,
    Pong,
    Presence,
    ProtocolError,
    RemoteOps,
    Resync,
    Role,
    Welcome,
    decode_frame,
    encode_frame,
    text_digest,
)
from cowrite.protocol.messages import Suggestions


def _doc() -> Document:
    d = Document("alice", clock=lambda: 1_700_000_000)
    d.insert(0, "héllo wörld 🌍")
    d.delete(2, 3)
    e = d.fork("bob")
    e.insert(1, "BOB")
    d.insert(0, ">")
    d.merge(e)
    return d


DOC = _doc()
PATCH = DOC.encode_patch()
SUMMARY = DOC.summary()
POS = (DOC.position(2), DOC.position(5, -1))

EXAMPLES: list[Message] = [
    Join("doc-1", "alice", SUMMARY),
    Join("ドキュメント", "a" * 256, {}, read_only=True),
    Join("doc-1", "alice", {}, fresh=True),
    Join("doc-1", "alice", {}, read_only=True, fresh=True),
    Welcome(Role.OWNER, DOC.version, SUMMARY, PATCH),
    Welcome(Role.VIEWER, (), {}, b""),
    Ops(1, PATCH),
    Ops(2**64 - 2, b""),
    Ack(7, DOC.version),
    RemoteOps(PATCH),
    Presence("alice", "Ada", "#ff0000", POS),
    Presence("bob", "", "", None),
    Presence("bob", "Bob", "", (Position(None, 0, 1), Position(None, 0, -1))),
    Presence("bob", "Bob", "", None, gone=True),
    Error(ErrorCode.FORBIDDEN, "no", fatal=True, batch_id=0),
    Error(ErrorCode.INTERNAL, "", fatal=False, batch_id=None),
    Ping(0),
    Pong(2**64 - 1),
    Digest(DOC.version, text_digest(DOC.text)),
    Digest((), bytes(32)),
    Resync(DOC.version, DOC.encode()),
    Resync((), b""),
    Comments(3),
    Suggestions(3),
]
FRAMES = [encode_frame(m) for m in EXAMPLES]


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: Message) -> None:
    frame = encode_frame(msg)
    assert frame[0] == PROTOCOL_VERSION
    assert decode_frame(frame) == msg
    assert encode_frame(decode_frame(frame)) == frame


def test_every_type_is_covered() -> None:
    assert {f[1] for f in FRAMES} == {t.value for t in MsgType}


def test_patch_inside_frames_is_the_engine_patch() -> None:
    msg = decode_frame(encode_frame(RemoteOps(PATCH)))
    assert isinstance(msg, RemoteOps)
    other = Document("x")
    other.apply_patch(msg.patch)
    assert other.text == DOC.text


def test_summary_is_normalised() -> None:
    msg = decode_frame(encode_frame(Join("d", "a", {"a": [(5, 9), (0, 3), (3, 4)], "b": []})))
    assert isinstance(msg, Join)
    assert msg.summary == {"a": [(0, 4), (5, 9)]}


_agent = st.text(min_size=1, max_size=20)  # hypothesis never draws lone surrogates
_seq = st.integers(0, 2**53 - 1)
_version = st.lists(st.tuples(_agent, _seq), max_size=4).map(tuple)
_runs = st.lists(st.tuples(st.integers(0, 2**40), st.integers(1, 2**40)), min_size=1, max_size=4).map(
    lambda rs: [(a, a + n) for a, n in rs]
)
_summary = st.dictionaries(_agent, _runs, max_size=4)
_position = st.one_of(
    st.builds(Position, _agent, _seq, st.sampled_from([1, -1])),
    st.sampled_from([Position(None, 0, 1), Position(None, 0, -1)]),
)
_text = st.text(max_size=40)
_colour = st.text(max_size=16)  # at most 64 bytes of UTF-8, the field's limit
_messages = st.one_of(
    st.builds(Join, _agent, _agent, _summary, st.booleans()),
    st.builds(Join, _agent, _agent, st.just({}), st.booleans(), st.just(True)),  # fresh
    st.builds(Welcome, st.sampled_from(list(Role)), _version, _summary, st.binary(max_size=50)),
    st.builds(Ops, st.integers(0, 2**64 - 2), st.binary(max_size=50)),
    st.builds(Ack, st.integers(0, 2**64 - 2), _version),
    st.builds(RemoteOps, st.binary(max_size=50)),
    st.builds(Presence, _agent, _text, _colour, st.none() | st.tuples(_position, _position), st.booleans()),
    st.builds(Error, st.sampled_from(list(ErrorCode)), _text, st.booleans(), st.none() | st.integers(0, 2**64 - 2)),
    st.builds(Ping, st.integers(0, 2**64 - 1)),
    st.builds(Pong, st.integers(0, 2**64 - 1)),
    st.builds(Digest, _version, st.binary(min_size=32, max_size=32)),
    st.builds(Resync, _version, st.binary(max_size=50)),
)


@given(_messages)
def test_round_trip_generated(msg: Message) -> None:
    from cowrite.protocol import normalize_summary

    frame = encode_frame(msg)
    back = decode_frame(frame)
    if isinstance(msg, (Join, Welcome)):
        assert type(back) is type(msg)
        assert back.summary == normalize_summary(msg.summary)
        assert encode_frame(back) == frame
    else:
        assert back == msg


# -- malformed frames -------------------------------------------------------------------


def _raises(data: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_frame(data)
    assert str(info.value)
    return info.value


def test_every_truncation_is_rejected() -> None:
    for frame in FRAMES:
        for n in range(len(frame)):
            _raises(frame[:n])


def test_trailing_bytes_are_rejected() -> None:
    for frame in FRAMES:
        assert "trailing" in str(_raises(frame + b"\x00"))


def test_unknown_version_and_type() -> None:
    assert "version" in str(_raises(bytes([2, 1]) + FRAMES[0][2:]))
    assert "version" in str(_raises(bytes([0, 8, 0])))
    assert "type" in str(_raises(bytes([1, 0])))
    assert "type" in str(_raises(bytes([1, 0x0E, 0])))
    assert "type" in str(_raises(bytes([1, 0xFF])))


def test_oversize_and_bad_fields() -> None:
    def join_frame(doc: bytes, agent: bytes, flags: int = 0, rest: bytes = b"\x00") -> bytes:
        return bytes([1, MsgType.JOIN, len(doc)]) + doc + bytes([len(agent)]) + agent + bytes([flags]) + rest

    assert decode_frame(join_frame(b"d", b"a")) == Join("d", "a", {})
    assert "doc id" in str(_raises(bytes([1, 1]) + b"\x81\x02" + b"x" * 257 + b"\x01a\x00\x00"))
    assert "doc id" in str(_raises(join_frame(b"", b"a")))  # empty
    assert "agent" in str(_raises(join_frame(b"d", b"")))
    assert "UTF-8" in str(_raises(join_frame(b"d", b"\xff")))
    assert "UTF-8" in str(_raises(join_frame(b"d", b"\xed\xa0\x80")))  # an encoded surrogate
    assert "bits" in str(_raises(join_frame(b"d", b"a", flags=4)))
    assert decode_frame(join_frame(b"d", b"a", flags=2)) == Join("d", "a", {}, fresh=True)
    assert decode_frame(join_frame(b"d", b"a", flags=3)) == Join("d", "a", {}, True, True)
    assert "fresh" in str(_raises(join_frame(b"d", b"a", flags=2, rest=b"\x01\x01a\x01\x00\x01")))
    assert "characters" in str(_raises(bytes([1, MsgType.PRESENCE, 0xD8, 0x04]) + "é".encode() * 300 + b"\x00\x00\x00"))
    # summary: count larger than the bytes left, empty run, seq out of range, agent twice
    assert "summary" in str(_raises(join_frame(b"d", b"a", rest=b"\xff\x7f")))
    assert "length 0" in str(_raises(join_frame(b"d", b"a", rest=b"\x01\x01a\x01\x00\x00")))
    big = b"\x80\x80\x80\x80\x80\x80\x80\x10"  # 2**53
    assert "range" in str(_raises(join_frame(b"d", b"a", rest=b"\x01\x01a\x01\x01" + big)))
    assert "twice" in str(_raises(join_frame(b"d", b"a", rest=b"\x02\x01a\x01\x00\x01\x01a\x01\x00\x01")))
    assert "gap" in str(_raises(join_frame(b"d", b"a", rest=b"\x01\x01a\x02\x00\x01\x00\x01")))
    # varints: overlong, over 64 bits
    assert "overlong" in str(_raises(bytes([1, MsgType.PING, 0x80, 0x00])))
    assert "64 bits" in str(_raises(bytes([1, MsgType.PING]) + b"\xff" * 9 + b"\x02"))
    assert decode_frame(bytes([1, MsgType.PING]) + b"\xff" * 9 + b"\x01") == Ping(2**64 - 1)
    # enums
    assert "role" in str(_raises(bytes([1, MsgType.WELCOME, 3, 0, 0, 0])))
    assert "error code" in str(_raises(bytes([1, MsgType.ERROR, 99, 0, 0, 0])))
    assert "error code" in str(_raises(bytes([1, MsgType.ERROR, 0, 0, 0, 0])))
    # positions in presence
    assert "position" in str(_raises(bytes([1, MsgType.PRESENCE, 1, 97, 0, 0, 1, 3]) + b"xyz" + b"\x00"))
    # frame size limit
    err = pytest.raises(ProtocolError, decode_frame, FRAMES[4], max_size=10).value
    assert err.code is ErrorCode.TOO_LARGE


def test_digest_and_resync_frames_are_strict() -> None:
    digest = bytes(range(32))
    frame = encode_frame(Digest((("alice", 3),), digest))
    assert frame == bytes([1, MsgType.DIGEST, 1, 5]) + b"alice" + bytes([3, 32]) + digest
    assert decode_frame(frame) == Digest((("alice", 3),), digest)
    head = bytes([1, MsgType.DIGEST, 0])  # empty version
    assert decode_frame(head + bytes([32]) + digest) == Digest((), digest)
    assert "32 bytes" in str(_raises(head + bytes([31]) + digest[:31]))  # short hash
    assert "32 bytes" in str(_raises(head + bytes([0])))
    assert "limit" in str(_raises(head + bytes([33]) + digest + b"x"))  # long hash
    assert "trailing" in str(_raises(head + bytes([32]) + digest + b"x"))
    assert "version seq" in str(_raises(bytes([1, MsgType.DIGEST, 1, 1]) + b"a" + b"\x80\x80\x80\x80\x80\x80\x80\x10"))
    assert "agent" in str(_raises(bytes([1, MsgType.DIGEST, 1, 0, 0, 32]) + digest))  # empty agent
    # RESYNC: a version, then the document bytes (checked by the engine when used)
    doc = DOC.encode()
    frame = encode_frame(Resync(DOC.version, doc))
    msg = decode_frame(frame)
    assert isinstance(msg, Resync) and Document.decode(msg.document).text == DOC.text
    assert "truncated" in str(_raises(bytes([1, MsgType.RESYNC, 0, 5]) + b"abc"))
    assert "truncated" in str(_raises(bytes([1, MsgType.RESYNC, 2, 1]) + b"a\x01"))


def test_text_digest_is_sha256_of_utf8() -> None:
    import hashlib

    assert text_digest("héllo 🌍") == hashlib.sha256("héllo 🌍".encode()).digest()
    assert len(text_digest("")) == 32


def test_encoder_refuses_what_the_decoder_would() -> None:
    bad: list[Message] = [
        Join("", "a", {}),
        Join("d", "", {}),
        Join("d", "a" * 257, {}),
        Join("d", "a", {"a": [(3, 3)]}),
        Join("d", "\ud800", {}),
        Join("d", "a", {"a": [(0, 1)]}, fresh=True),  # a fresh JOIN carries no summary
        Ops(-1, b""),
        Ops(2**64 - 1, b""),
        Ack(1, (("a", 2**53),)),
        Presence("a", "u" * 257),
        Error(ErrorCode.BAD_OP, "x" * 5000),
        Ping(2**64),
        Digest((), b""),
        Digest((), bytes(31)),
        Digest((), bytes(33)),
        Digest((("a", 2**53),), bytes(32)),
        Resync((("", 1),), b""),
        Resync((), "not bytes"),  # type: ignore[arg-type]
    ]
    for m in bad:
        with pytest.raises(ProtocolError):
            encode_frame(m)
    with pytest.raises(ProtocolError):
        encode_frame("not a message")  # type: ignore[arg-type]


def test_protocol_error_is_a_cowrite_error() -> None:
    assert issubclass(ProtocolError, CowriteError)


# -- fuzzing -----------------------------------------------------------------------------


def _decode_or_protocol_error(data: bytes) -> None:
    try:
        msg = decode_frame(data)
    except ProtocolError:
        return
    # Whatever decodes can be sent again, and means the same; frames are canonical
    # (no overlong varints), so the bytes come back too, except a position inside a
    # PRESENCE, whose own encoding accepts an overlong seq.
    again = encode_frame(msg)
    assert decode_frame(again) == msg
    if not isinstance(msg, Presence):
        assert again == bytes(data)


@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    _decode_or_protocol_error(data)


@given(st.binary(max_size=60))
def test_fuzz_random_bodies(body: bytes) -> None:
    for t in range(0, 13):
        _decode_or_protocol_error(bytes([1, t]) + body)


@given(st.sampled_from(FRAMES), st.lists(st.integers(0, 10**6), min_size=1, max_size=4), st.integers(0, 7))
def test_fuzz_bit_flips(frame: bytes, where: list[int], bit: int) -> None:
    data = bytearray(frame)
    for w in where:
        data[w % len(data)] ^= 1 << bit
    _decode_or_protocol_error(bytes(data))
