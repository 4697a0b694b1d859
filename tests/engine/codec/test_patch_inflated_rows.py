"""A deflated version-2 patch (a whole history, one agent's blob in a bulk load) is
inflated once and read by the fast body reader (``patch.rows_inflated``).  It must
answer exactly as the general decoder does: the same ops, or the same error, on
valid and forged bodies alike.
"""

from __future__ import annotations

import random
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document, TooLargeError, encode_patch
from cowrite.engine.codec import decode_patch
from cowrite.engine.codec import patch as patch_codec

from .helpers import action, fix_crc, mutate, run_session, varint


def deflated(body: bytes) -> bytes:
    """A version-2 patch frame holding ``body`` deflated (whatever its size)."""
    return fix_crc(b"CWP" + bytes([2, 1]) + varint(len(body)) + zlib.compress(body, 9))


def body_of(data: bytes) -> bytes:
    """The body of a patch frame, inflated if it is deflated."""
    body = data[5:-4]
    if data[4] & 1:
        i = 0
        while body[i] & 0x80:
            i += 1
        body = zlib.decompress(body[i + 1 :])
    return body


def verdict(decode: object, data: bytes, max_bytes: int | None) -> object:
    try:
        return decode(data, max_bytes)  # type: ignore[operator]
    except (DecodeError, TooLargeError) as exc:
        return type(exc)


def assert_agrees(data: bytes, max_bytes: int | None = None) -> None:
    general = verdict(patch_codec.decode_general, data, max_bytes)
    assert verdict(lambda d, m: decode_patch(d, max_bytes=m), data, max_bytes) == general
    rows = verdict(lambda d, m: patch_codec.decode_patch_rows(d, max_bytes=m), data, max_bytes)
    assert rows == verdict(patch_codec.rows_general, data, max_bytes)


def history() -> bytes:
    a = Document("alice", clock=lambda: 1_700_000_000)
    a.insert(0, "héllo wörld 👋 " * 20)
    b = a.fork("bob")
    a.delete(3, 40)
    b.insert(7, "日本語 " * 10)
    for i in range(30):
        b.delete(len(b) - 1 - i, 1)  # Backspace held down
    a.merge(b)
    a.insert(1, "x")
    return a.encode_patch()


def test_a_deflated_history_is_read_by_the_fast_reader() -> None:
    data = history()
    assert data[4] & 1
    got = patch_codec.rows_inflated(data)
    assert got == patch_codec.rows_general(data)
    assert decode_patch(data) == patch_codec.decode_general(data)
    n = len(body_of(data))
    for limit in (None, n, n - 1, 0):
        assert_agrees(data, limit)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=40))
def test_deflated_random_patches_agree(actions: list[tuple[object, ...]]) -> None:
    ops = run_session(actions)[0].ops_since(())
    assert_agrees(deflated(body_of(encode_patch(ops))))


@settings(max_examples=1000)
@given(st.randoms(use_true_random=False), st.booleans())
def test_forged_deflated_patches_agree(rnd: random.Random, in_body: bool) -> None:
    """A forged body deflated under a valid CRC, or damaged deflate bytes."""
    data = history()
    if in_body:
        bad = deflated(mutate(body_of(data), rnd))
    else:
        bad = fix_crc(mutate(data[:-4], rnd))
    assert_agrees(bad)
    assert_agrees(bad, 1 << 10)
