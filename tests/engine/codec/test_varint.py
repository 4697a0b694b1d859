"""LEB128 varints and the bounds-checked reader (``codec/varint.py``): the one number
codec of every cowrite format.  Every failure is a DecodeError saying what is wrong,
and the reader never reads past the end it was given."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import DecodeError
from cowrite.engine.codec.varint import MAX_UINT64, Reader, write_block, write_svar, write_uvar, zigzag
from cowrite.engine.limits import MAX_VARINT_BYTES
from engine_helpers import hyp


def uvar_bytes(v: int) -> bytes:
    out = bytearray()
    write_uvar(out, v)
    return bytes(out)


# -- writing ------------------------------------------------------------------------------


def test_known_encodings() -> None:
    assert uvar_bytes(0) == b"\x00"
    assert uvar_bytes(1) == b"\x01"
    assert uvar_bytes(127) == b"\x7f"
    assert uvar_bytes(128) == b"\x80\x01"
    assert uvar_bytes(300) == b"\xac\x02"
    assert uvar_bytes(2**64 - 1) == b"\xff" * 9 + b"\x01"
    assert len(uvar_bytes(2**70 - 1)) == MAX_VARINT_BYTES == 10
    assert [zigzag(v) for v in (0, -1, 1, -2, 2, -(2**63), 2**63 - 1)] == [0, 1, 2, 3, 4, 2**64 - 1, 2**64 - 2]
    out = bytearray()
    write_svar(out, -1)
    write_svar(out, 63)
    write_svar(out, -64)
    write_svar(out, 64)
    assert bytes(out) == b"\x01\x7e\x7f\x80\x01"
    out = bytearray()
    write_block(out, b"abc")
    write_block(out, bytearray())
    assert bytes(out) == b"\x03abc\x00"


# -- uvar: any encoding of a value, at most 10 bytes -----------------------------------------


@hyp
@given(st.integers(0, 2**70 - 1))
def test_uvar_round_trips(v: int) -> None:
    data = uvar_bytes(v) + b"\xff"  # a trailing byte must not be read
    r = Reader(data)
    assert r.uvar() == v and r.left() == 1


def test_uvar_length_limit() -> None:
    assert Reader(b"\xff" * 9 + b"\x7f").uvar() == 2**70 - 1  # 10 bytes: the longest accepted
    with pytest.raises(DecodeError, match=r"^malformed number: varint longer than 10 bytes$"):
        Reader(b"\xff" * 10 + b"\x01").uvar()
    with pytest.raises(DecodeError, match="longer than 10 bytes"):
        Reader(b"\x80" * 10 + b"\x00").uvar()  # even an overlong zero
    # a caller may ask for fewer (positions allow 9)
    assert Reader(b"\x80" * 8 + b"\x01").uvar(max_bytes=9) == 2**56
    with pytest.raises(DecodeError, match="longer than 9 bytes"):
        Reader(b"\x80" * 9 + b"\x01").uvar(max_bytes=9)


def test_uvar_accepts_overlong_encodings() -> None:
    """Documents, patches and positions take any encoding of a value (frames do not: uint)."""
    assert Reader(b"\x80\x00").uvar() == 0
    assert Reader(b"\x81\x80\x80\x00").uvar() == 1


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff", b"\x80" * 9])
def test_uvar_truncated(data: bytes) -> None:
    with pytest.raises(DecodeError, match=r"^truncated data: a number runs past the end of its block$"):
        Reader(data).uvar()


def test_reads_stop_at_the_readers_end_not_the_buffer_end() -> None:
    buf = b"\x05\x80\x01\x07"
    r = Reader(buf, 1, 2)  # only the byte 0x80: the 0x01 after it is not ours
    with pytest.raises(DecodeError, match="truncated"):
        r.uvar()
    assert r.pos == 1  # a failed read does not move the cursor
    r = Reader(buf, 1, 3)
    assert r.uvar() == 128 and r.left() == 0
    r.done("it")


@hyp
@given(st.integers(-(2**69), 2**69 - 1))
def test_svar_round_trips_large_and_negative_values(v: int) -> None:
    out = bytearray()
    write_svar(out, v)
    assert Reader(bytes(out)).svar() == v
    assert zigzag(v) >= 0 and (zigzag(v) & 1) == (v < 0)


def test_svar_beyond_ten_bytes_is_refused() -> None:
    out = bytearray()
    write_svar(out, -(2**69) - 1)  # zigzag needs 71 bits: 11 bytes
    with pytest.raises(DecodeError, match="longer than 10 bytes"):
        Reader(bytes(out)).svar()


# -- uint: canonical only, 64 bits, a limit ------------------------------------------------


@hyp
@given(st.integers(0, MAX_UINT64))
def test_uint_round_trips(v: int) -> None:
    r = Reader(uvar_bytes(v))
    assert r.uint("n") == v and r.left() == 0


def test_uint_is_canonical_only() -> None:
    assert Reader(b"\x00").uint("n") == 0
    for data in (b"\x80\x00", b"\xff\x00", b"\x80\x80\x00", b"\x81\x80\x00"):
        with pytest.raises(DecodeError, match=r"^n: overlong varint$"):
            Reader(data).uint("n")


def test_uint_64_bit_bound() -> None:
    assert Reader(b"\xff" * 9 + b"\x01").uint("n") == MAX_UINT64
    for last in (b"\x02", b"\x7f", b"\x81"):  # 2**64 and more, or an 11th byte
        with pytest.raises(DecodeError, match=r"^n: varint larger than 64 bits$"):
            Reader(b"\xff" * 9 + last + b"\x00").uint("n")
    with pytest.raises(DecodeError, match="overlong"):
        Reader(b"\xff" * 9 + b"\x00").uint("n")  # a 10th byte of 0


def test_uint_limit() -> None:
    assert Reader(uvar_bytes(1000)).uint("frame length", 1000) == 1000
    with pytest.raises(DecodeError, match=r"^frame length is 1001; the limit is 1000$"):
        Reader(uvar_bytes(1001)).uint("frame length", 1000)
    with pytest.raises(DecodeError, match="the limit is 0"):
        Reader(b"\x01").uint("n", 0)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff\xff"])
def test_uint_truncated(data: bytes) -> None:
    with pytest.raises(DecodeError, match=r"^truncated frame: the seq ends early$"):
        Reader(data).uint("the seq")


# -- count, take, block, done ------------------------------------------------------------------


def test_count() -> None:
    r = Reader(b"\x03abc")
    assert r.count("agents") == 3
    with pytest.raises(DecodeError, match=r"^corrupt data: 4 agents claimed but only room for 3$"):
        Reader(b"\x04abc").count("agents")
    assert Reader(b"\x05").count("runs", limit=5) == 5  # a limit instead of the bytes left
    with pytest.raises(DecodeError, match=r"^corrupt data: 6 runs claimed but only room for 5$"):
        Reader(b"\x06" + b"x" * 10).count("runs", limit=5)
    with pytest.raises(DecodeError, match="claimed"):
        Reader(b"\xff" * 9 + b"\x7f").count("ops")  # 2**70: never allocated


def test_take() -> None:
    r = Reader(b"abcdef", 1, 4)
    assert r.take(0) == b"" and r.take(2) == b"bc" and r.left() == 1
    with pytest.raises(DecodeError, match=r"^truncated data: a block runs past the end$"):
        r.take(2)
    assert r.take(1) == b"d" and r.left() == 0


def test_block() -> None:
    r = Reader(b"\x02ab\x01c\x05xy")
    b = r.block()
    assert (b.pos, b.end, r.pos) == (1, 3, 3)
    assert b.take(2) == b"ab"
    with pytest.raises(DecodeError, match="truncated"):
        b.uvar()  # the block ends here even though the buffer goes on
    c = r.block()
    assert c.take(1) == b"c"
    with pytest.raises(DecodeError, match=r"^truncated data: a block runs past the end$"):
        r.block()  # claims 5 bytes, 2 are left


def test_done() -> None:
    r = Reader(b"\x01\x02\x03")
    r.uvar()
    with pytest.raises(DecodeError, match=r"^corrupt data: 2 unexpected bytes after the header$"):
        r.done("the header")
    r.take(2)
    r.done("the header")


@hyp
@given(st.binary(max_size=24))
def test_random_bytes_give_values_or_decode_errors(data: bytes) -> None:
    """Nothing but DecodeError escapes a read, and a read never passes the end."""
    reads = (lambda r: r.uvar(), lambda r: r.svar(), lambda r: r.uint("n"), lambda r: r.block(), lambda r: r.count("x"))
    for read in reads:
        r = Reader(data, 0, len(data) // 2 + 1 if data else 0)
        try:
            while True:
                read(r)
                assert r.pos <= r.end
        except DecodeError:
            assert r.pos <= r.end
