"""The frame around every document and patch (``codec/frame.py``): magic, version,
flags, deflate, CRC-32, and the inflated-size limit ``max_bytes``."""

from __future__ import annotations

import functools
import tracemalloc
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document, TooLargeError
from cowrite.engine.codec import FORMAT_VERSION, Reader, decode_document, decode_patch
from cowrite.engine.codec.frame import HEADER, TRAILER
from engine_helpers import hyp

from .helpers import action, fix_crc, oplog_columns, raw_frame, reframe, run_session, small_doc, varint


@pytest.mark.parametrize("version", [0, FORMAT_VERSION + 1, 255])
def test_unknown_format_version_raises_clearly(version: int) -> None:
    for data, decode in ((small_doc().encode(), decode_document), (small_doc().encode_patch(), decode_patch)):
        bad = reframe(data[:3] + bytes([version]) + data[4:])
        with pytest.raises(DecodeError, match="format version"):
            decode(bad)


def test_wrong_kind_and_non_bytes_raise() -> None:
    d = small_doc()
    with pytest.raises(DecodeError, match="patch"):
        decode_document(d.encode_patch())
    with pytest.raises(DecodeError, match="document"):
        decode_patch(d.encode())
    with pytest.raises(DecodeError):
        decode_document("CWD not bytes")  # type: ignore[arg-type]
    assert Document.decode(bytearray(d.encode())).text == d.text


def test_unknown_flags_and_deflate_bomb_raise() -> None:
    data = small_doc().encode()
    with pytest.raises(DecodeError, match="flags"):
        decode_document(reframe(data[:4] + b"\x80" + data[5:]))
    # a deflated body claiming an absurd uncompressed size is refused before inflating
    bomb = b"CWD" + bytes([FORMAT_VERSION, 1]) + b"\xff\xff\xff\xff\x0f" + zlib.compress(b"\0" * 1000)
    with pytest.raises(DecodeError, match="size"):
        decode_document(bomb + zlib.crc32(bomb).to_bytes(4, "little"))


# -- the inflated-size limit (max_bytes) -----------------------------------------------------
#
# A body over the caller's max_bytes is refused with TooLargeError (not DecodeError: the
# bytes may be fine, the caller just will not hold them), before anything is inflated.


def body_size(data: bytes) -> int:
    """The size of the body a frame carries (the inflated size of a deflated one)."""
    if data[4] & 1:
        return Reader(data, HEADER).uvar()
    return len(data) - HEADER - TRAILER


def frame_of(magic: bytes, claimed: int, packed: bytes) -> bytes:
    """A deflated frame claiming ``claimed`` inflated bytes, with a valid CRC."""
    return fix_crc(magic + bytes([FORMAT_VERSION, 1]) + varint(claimed) + packed)


def deflated_zeros(n: int) -> bytes:
    """``n`` zero bytes deflated, without ever holding them all."""
    c = zlib.compressobj(9)
    chunk = bytes(min(n, 1 << 20))
    parts = []
    left = n
    while left:
        k = min(left, len(chunk))
        parts.append(c.compress(chunk[:k]))
        left -= k
    parts.append(c.flush())
    return b"".join(parts)


@functools.lru_cache(maxsize=None)
def bomb(magic: bytes) -> bytes:
    """~127 KiB of deflated zeros that honestly claims (and would inflate to) 128 MiB."""
    return frame_of(magic, 128 << 20, deflated_zeros(128 << 20))


@functools.lru_cache(maxsize=None)
def samples() -> dict[tuple[str, bool], bytes]:
    """A document and a patch, each plain and deflated."""
    small = small_doc()
    big = Document("big", clock=lambda: 0)
    for i in range(300):
        big.insert(len(big), "typing on and on, ")
        if i % 7 == 0:
            big.delete(len(big) // 2, 3)
    out = {
        ("document", False): raw_frame(small.encode()),
        ("document", True): big.encode(),
        ("patch", False): small.encode_patch(),
        ("patch", True): big.encode_patch(),
    }
    for (kind, deflated), data in out.items():
        assert bool(data[4] & 1) == deflated, (kind, deflated)
    return out


def decode_any(kind: str, data: bytes, max_bytes: int | None) -> object:
    """What a decoder makes of ``data``, as comparable values."""
    if kind == "patch":
        return decode_patch(data, max_bytes=max_bytes)
    ol, text, version = decode_document(data, max_bytes=max_bytes)
    return oplog_columns(ol), ol.time_starts, ol.time_values, text, version


def assert_too_large(exc: pytest.ExceptionInfo[TooLargeError], kind: str, n: int, limit: int) -> None:
    assert type(exc.value) is TooLargeError and not isinstance(exc.value, DecodeError)
    assert str(exc.value) == f"cowrite {kind} body of {n} bytes is over the limit of {limit}"


@pytest.mark.parametrize("deflated", [False, True])
@pytest.mark.parametrize("kind", ["document", "patch"])
def test_a_body_over_the_limit_is_too_large(kind: str, deflated: bool) -> None:
    data = samples()[(kind, deflated)]
    n = body_size(data)
    whole = decode_any(kind, data, None)
    for limit in (n, n + 1, 10 * n):  # at or under the limit: exactly as without one
        assert decode_any(kind, data, limit) == whole
    for limit in (n - 1, n // 2, 0):
        with pytest.raises(TooLargeError) as exc:
            decode_any(kind, data, limit)
        assert_too_large(exc, kind, n, limit)
    for as_type in (bytearray, memoryview):  # other bytes-like inputs take the same checks
        assert decode_any(kind, as_type(data), n) == whole  # type: ignore[arg-type]
        with pytest.raises(TooLargeError):
            decode_any(kind, as_type(data), n - 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("deflated", [False, True])
def test_document_decode_and_apply_patch_take_the_limit(deflated: bool) -> None:
    data = samples()[("document", deflated)]
    n = body_size(data)
    d = Document.decode(data, "reader", max_bytes=n)
    assert d.text == Document.decode(data).text
    with pytest.raises(TooLargeError) as exc:
        Document.decode(data, "reader", max_bytes=n - 1)
    assert_too_large(exc, "document", n, n - 1)
    patch = samples()[("patch", deflated)]
    n = body_size(patch)
    peer = Document("peer")
    peer.insert(0, "mine")
    before = (peer.text, peer.version, len(peer.oplog), peer.summary())
    with pytest.raises(TooLargeError) as pexc:
        peer.apply_patch(patch, max_bytes=n - 1)
    assert_too_large(pexc, "patch", n, n - 1)
    assert (peer.text, peer.version, len(peer.oplog), peer.summary()) == before
    peer.apply_patch(patch, max_bytes=n)
    other = Document("other")
    other.insert(0, "mine")
    other.apply_patch(patch)
    assert peer.text.replace("mine", "") == other.text.replace("mine", "")


class InflateSpy:
    """Records every zlib.decompressobj() and the max_length of every decompress() call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.objects = 0
        self.max_lengths: list[int] = []
        real = zlib.decompressobj
        spy = self

        class Wrapped:
            def __init__(self, *args: object, **kw: object) -> None:
                spy.objects += 1
                self._d = real(*args, **kw)  # type: ignore[arg-type]

            def decompress(self, data: bytes, max_length: int = 0) -> bytes:
                spy.max_lengths.append(max_length)
                return self._d.decompress(data, max_length)

            def __getattr__(self, name: str) -> object:
                return getattr(self._d, name)

        monkeypatch.setattr(zlib, "decompressobj", Wrapped)


@pytest.mark.parametrize("kind", ["document", "patch"])
def test_the_limit_is_checked_before_anything_is_inflated(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = samples()[(kind, True)]
    n = body_size(data)
    spy = InflateSpy(monkeypatch)
    with pytest.raises(TooLargeError):
        decode_any(kind, data, n - 1)
    assert spy.objects == 0 and spy.max_lengths == []
    decode_any(kind, data, n)
    assert spy.objects == 1 and spy.max_lengths == [n]  # and never more than the claimed size


@pytest.mark.parametrize("magic", [b"CWD", b"CWP"])
def test_a_deflate_bomb_is_refused_without_inflating_it(magic: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ~127 KiB frame of deflated zeros claiming 128 MiB: refused at a 1 MiB limit with
    far less memory than inflating it would take, and without inflating at all."""
    data = bomb(magic)
    assert 120 << 10 < len(data) < 135 << 10
    kind = "document" if magic == b"CWD" else "patch"
    spy = InflateSpy(monkeypatch)
    decoders = [lambda: decode_any(kind, data, 1 << 20)]
    if kind == "document":
        decoders.append(lambda: Document.decode(data, "x", max_bytes=1 << 20))
    else:
        decoders.append(lambda: Document("x").apply_patch(data, max_bytes=1 << 20))
    for decode in decoders:
        tracemalloc.start()
        try:
            with pytest.raises(TooLargeError) as exc:
                decode()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert_too_large(exc, kind, 128 << 20, 1 << 20)
        assert peak < 4 << 20, f"refusing the bomb took {peak} bytes"
    assert spy.objects == 0


@pytest.mark.parametrize("magic", [b"CWD", b"CWP"])
@pytest.mark.parametrize("claimed", [0, 1, 100])
def test_a_body_claiming_less_than_it_inflates_to_is_bounded(
    magic: bytes, claimed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 MiB of zeros deflated, claiming 0, 1 or 100 bytes: refused as corrupt after
    inflating at most the claim (plus one byte for a claim of 0: zlib takes max_length 0
    as "no limit", which once let a body claiming 0 bytes inflate to ~1000x its size)."""
    data = frame_of(magic, claimed, deflated_zeros(16 << 20))
    kind = "document" if magic == b"CWD" else "patch"
    spy = InflateSpy(monkeypatch)
    for limit in (None, 1 << 20):
        tracemalloc.start()
        try:
            with pytest.raises(DecodeError, match="does not match its size") as exc:
                decode_any(kind, data, limit)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert type(exc.value) is DecodeError
        assert peak < 1 << 20, f"a body claiming {claimed} bytes took {peak} bytes to refuse"
    assert spy.max_lengths == [max(claimed, 1)] * 2 and 0 not in spy.max_lengths


def test_an_empty_deflated_body_claiming_zero_is_still_corrupt() -> None:
    """Zero bytes deflated claiming 0: inflating one byte finds nothing, the stream ends,
    and the (empty) body then fails to parse as a patch: a DecodeError, not a hang."""
    data = frame_of(b"CWP", 0, zlib.compress(b""))
    with pytest.raises(DecodeError):
        decode_patch(data)
    with pytest.raises(DecodeError):
        decode_patch(data, max_bytes=0)


@hyp
@given(st.lists(action, max_size=30), st.integers(-50, 50), st.booleans())
def test_at_or_under_the_limit_everything_decodes_as_without(
    actions: list[tuple[object, ...]], slack: int, plain: bool
) -> None:
    for d in run_session(actions)[:2]:
        for kind, data in (("document", d.encode()), ("patch", d.encode_patch())):
            if plain:
                data = raw_frame(data)
            n = body_size(data)
            limit = n + slack
            whole = decode_any(kind, data, None)
            if limit >= n:
                assert decode_any(kind, data, limit) == whole
            else:
                with pytest.raises(TooLargeError) as exc:
                    decode_any(kind, data, limit)
                assert_too_large(exc, kind, n, limit)
