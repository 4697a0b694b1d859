"""Hostile input for both encodings: every truncation, bit flip, mutation and random body.

Decoding never trusts the bytes: any input either decodes to a consistent value
or raises :class:`DecodeError` (or :class:`TooLargeError` when a limit is passed).
Nothing here catches more than those: any other exception (an ``IndexError``, a
``KeyError``, a ``RecursionError`` ...) escapes and fails the test, because it is a bug.
"""

from __future__ import annotations

import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowrite.engine import DecodeError, TooLargeError
from cowrite.engine.codec import FORMAT_VERSION, decode_document, decode_patch

from .helpers import check_decode_is_safe, fix_crc, mutate, raw_frame, sample


@pytest.mark.parametrize("timed", [False, True])
@pytest.mark.parametrize("kind", ["document", "patch"])
def test_every_truncation_raises(kind: str, timed: bool) -> None:
    enc = sample(kind, timed)
    for data in (enc, raw_frame(enc)):
        for n in range(len(data)):
            with pytest.raises(DecodeError):
                (decode_document if kind == "document" else decode_patch)(data[:n])


@pytest.mark.parametrize("timed", [False, True])
@pytest.mark.parametrize("kind", ["document", "patch"])
def test_every_single_bit_flip_is_caught(kind: str, timed: bool) -> None:
    data = sample(kind, timed)
    decode = decode_document if kind == "document" else decode_patch
    for i in range(len(data) * 8):
        bad = bytearray(data)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(DecodeError):
            decode(bytes(bad))


@settings(max_examples=300)
@given(st.randoms(use_true_random=False), st.sampled_from(["document", "patch"]), st.booleans())
def test_random_mutations_never_crash(rnd: random.Random, kind: str, timed: bool) -> None:
    data = sample(kind, timed)
    bad = mutate(data, rnd)
    if bad != data:  # the CRC catches these
        with pytest.raises(DecodeError):
            (decode_document if kind == "document" else decode_patch)(bad)


@settings(max_examples=1000)
@given(st.randoms(use_true_random=False), st.sampled_from(["document", "patch"]), st.booleans(), st.booleans())
def test_forged_mutations_with_valid_crc_never_crash(rnd: random.Random, kind: str, raw: bool, timed: bool) -> None:
    """Mutate the structure and fix the CRC: the parser itself must hold up."""
    data = sample(kind, timed)
    if raw:
        data = raw_frame(data)
    bad = mutate(data[:-4], rnd)
    check_decode_is_safe(bad + zlib.crc32(bad).to_bytes(4, "little"), kind)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_random_bytes_raise(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_document(data)
    with pytest.raises(DecodeError):
        decode_patch(data)


@settings(max_examples=500)
@given(st.binary(max_size=300), st.sampled_from([b"CWD", b"CWP"]), st.integers(0, 1), st.sampled_from([1, FORMAT_VERSION]))
def test_random_bodies_with_valid_header_and_crc_never_crash(body: bytes, magic: bytes, flags: int, version: int) -> None:
    data = magic + bytes([version, flags]) + body
    data += zlib.crc32(data).to_bytes(4, "little")
    check_decode_is_safe(data, "document" if magic == b"CWD" else "patch")


@settings(max_examples=500)
@given(
    st.randoms(use_true_random=False),
    st.sampled_from(["document", "patch"]),
    st.booleans(),
    st.booleans(),
    st.integers(0, 400),
)
def test_forged_mutations_with_a_limit_raise_only_documented_errors(
    rnd: random.Random, kind: str, raw: bool, timed: bool, max_bytes: int
) -> None:
    """With ``max_bytes`` the decoders may also refuse with TooLargeError, and only when the
    body really is over the limit; anything else is a DecodeError or a usable result."""
    data = sample(kind, timed)
    if raw:
        data = raw_frame(data)
    bad = fix_crc(mutate(data[:-4], rnd))
    check_decode_is_safe(bad, kind, max_bytes)
    decode = decode_document if kind == "document" else decode_patch
    try:
        decode(bad, max_bytes=max_bytes)
    except TooLargeError as exc:
        n = int(str(exc).split(" body of ")[1].split(" bytes")[0])
        assert n > max_bytes
    except DecodeError:
        pass
