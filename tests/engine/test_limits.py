"""Every numeric bound of the engine (``limits.py``) is enforced with the same edge by
every entry point that takes the value: the last valid value passes, the next fails."""

from __future__ import annotations

import zlib

import pytest

from cowrite.engine import (
    MAX_AGENT_LEN,
    MAX_SEQ,
    MAX_TIME,
    DecodeError,
    Document,
    InvalidOpError,
    Op,
    Position,
    decode_patch,
    encode_patch,
    normalize_summary,
)
from cowrite.engine.codec.frame import frame, unframe
from cowrite.engine.codec.varint import Reader
from cowrite.engine.limits import MAX_DEFLATE_RATIO, MAX_VARINT_BYTES
from cowrite.engine.ops import check_time

LONGEST = "ü" * MAX_AGENT_LEN


def test_the_bounds() -> None:
    assert MAX_SEQ == MAX_TIME == 2**53  # the largest integers a JavaScript number holds exactly
    assert MAX_AGENT_LEN == 256 and MAX_VARINT_BYTES == 10


def test_agent_names_everywhere() -> None:
    for agent in (LONGEST, "x"):
        assert Document(agent).agent == agent
        assert Op.insert(agent, 0, (), 0, "x").agent == agent
        assert normalize_summary({agent: [(0, 1)]}) == {agent: [(0, 1)]}
        assert Position(agent, 0).agent == agent
        d = Document(agent)
        d.insert(0, "hi")
        assert decode_patch(d.encode_patch())[0].agent == agent
        assert Document.decode(d.encode()).version == ((agent, 1),)
    for agent in (LONGEST + "ü", ""):
        for make in (
            lambda: Document(agent),
            lambda: Op.insert(agent, 0, (), 0, "x"),
            lambda: normalize_summary({agent: [(0, 1)]}),
            lambda: Position(agent, 0),
        ):
            with pytest.raises(InvalidOpError):
                make()


def test_seqs_everywhere() -> None:
    top = Op.insert("a", MAX_SEQ - 2, (("a", MAX_SEQ - 3),), 0, "xy")  # seqs up to 2**53 - 1
    assert decode_patch(encode_patch([top])) == [top]
    assert normalize_summary({"a": [(MAX_SEQ - 1, MAX_SEQ)]}) == {"a": [(MAX_SEQ - 1, MAX_SEQ)]}
    assert Position("a", MAX_SEQ - 1).seq == MAX_SEQ - 1
    with pytest.raises(InvalidOpError):
        Op.insert("a", MAX_SEQ - 1, (), 0, "xy")
    with pytest.raises(InvalidOpError):
        normalize_summary({"a": [(0, MAX_SEQ + 1)]})
    with pytest.raises(InvalidOpError):
        Position("a", MAX_SEQ)
    # (decoders refusing seqs past the bound: the forgeries in codec/test_patch.py)


def test_times_everywhere() -> None:
    assert check_time(MAX_TIME - 1) == MAX_TIME - 1
    op = Op.insert("a", 0, (), 0, "x", time=MAX_TIME - 1)
    assert decode_patch(encode_patch([op]))[0].time == MAX_TIME - 1
    with pytest.raises(InvalidOpError):
        Op.insert("a", 0, (), 0, "x", time=MAX_TIME)
    with pytest.raises(InvalidOpError):
        Document("a", clock=lambda: float(MAX_TIME))


def test_varints_everywhere() -> None:
    assert Reader(b"\xff" * (MAX_VARINT_BYTES - 1) + b"\x7f").uvar() == 2 ** (7 * MAX_VARINT_BYTES) - 1
    with pytest.raises(DecodeError):
        Reader(b"\xff" * MAX_VARINT_BYTES + b"\x01").uvar()


def test_deflate_ratio() -> None:
    """A deflated body claiming more than MAX_DEFLATE_RATIO times its size is a lie,
    refused before inflating; up to that ratio the claim is checked by inflating."""
    body = bytes(200_000)
    data = frame(b"CWP", body)
    assert data[4] & 1
    r, _ = unframe(data, b"CWP")
    assert r.left() == len(body)
    packed = data[5 + 3 : -4]  # after the 3-byte varint of 200000
    assert len(packed) * MAX_DEFLATE_RATIO >= len(body)

    def forged(claim: int) -> bytes:
        out = bytearray(b"CWP\x02\x01")
        v = claim
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
        out += packed
        return bytes(out) + zlib.crc32(out).to_bytes(4, "little")

    with pytest.raises(DecodeError, match="implausible uncompressed size"):
        unframe(forged(len(packed) * MAX_DEFLATE_RATIO + 1), b"CWP")
    with pytest.raises(DecodeError, match="does not match its size"):
        unframe(forged(len(packed) * MAX_DEFLATE_RATIO), b"CWP")  # plausible, but wrong
