"""The frame around every encoded document and patch: magic, version, flags, deflate, CRC-32.

Layout::

    magic (3 bytes: b"CWD" document / b"CWP" patch)
    format version (1 byte, currently 2; version 1 is still read)
    flags (1 byte: bit 0 = body is zlib-deflated)
    [uvarint raw body length, only if deflated]
    body
    CRC-32 (zlib.crc32, 4 bytes little-endian) of everything before it

A deflated body states its inflated size up front, which lets a reader refuse a
body larger than it is willing to hold *before* inflating anything: without that
a 127 KiB frame of zeros inflates to 128 MiB.  Deflate is used only when it wins,
so a keystroke's patch is never compressed.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from ...errors import DecodeError, TooLargeError
from ..limits import MAX_DEFLATE_RATIO
from .varint import Reader, write_uvar

__all__ = [
    "DOC_MAGIC",
    "FORMAT_VERSION",
    "HEADER",
    "PATCH_MAGIC",
    "READ_VERSIONS",
    "TRAILER",
    "Frame",
    "body_prefix",
    "body_reader",
    "frame",
    "open_frame",
    "unframe",
]

DOC_MAGIC = b"CWD"
PATCH_MAGIC = b"CWP"
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
"""Every version ever written must stay readable."""
FLAG_DEFLATE = 1
KNOWN_FLAGS = FLAG_DEFLATE
HEADER = 5
"""Bytes before the body of a plain frame: magic + version + flags."""
TRAILER = 4
"""The CRC-32 after the body."""
DEFLATE_MIN = 96
"""Bodies shorter than this are not even tried with deflate (a keystroke's patch)."""

_WHAT = {DOC_MAGIC: "document", PATCH_MAGIC: "patch"}


def frame(magic: bytes, body: bytes | bytearray) -> bytes:
    """Header, (deflated if smaller) body, CRC-32."""
    packed = zlib.compress(bytes(body), 9) if len(body) >= DEFLATE_MIN else b""
    out = bytearray(magic)
    out.append(FORMAT_VERSION)
    if packed and len(packed) + 4 < len(body):
        out.append(FLAG_DEFLATE)
        write_uvar(out, len(body))
        out += packed
    else:
        out.append(0)
        out += body
    out += zlib.crc32(out).to_bytes(4, "little")
    return bytes(out)


def check_body_size(what: str, n: int, max_bytes: int | None) -> None:
    """Refuse a body of ``n`` bytes over ``max_bytes`` (``what``: "cowrite patch", ...)."""
    if max_bytes is not None and n > max_bytes:
        raise TooLargeError(f"{what} body of {n} bytes is over the limit of {max_bytes}")


class Frame(NamedTuple):
    """A checked frame whose body has not been inflated yet (see :func:`open_frame`)."""

    data: bytes
    """The whole frame (kept, not copied: a lazily read body is inflated from it later)."""
    version: int
    deflated: bool
    start: int
    """Where the body (or its deflated stream) begins in ``data``; it ends before the CRC."""
    size: int
    """The body's size in bytes (a deflated body's inflated size)."""

    @property
    def what(self) -> str:
        return _WHAT[self.data[:3]]


def unframe(data: object, magic: bytes, max_bytes: int | None = None) -> tuple[Reader, int]:
    """Check magic, version, flags and CRC; return a reader over the (inflated) body and the version.

    ``max_bytes`` bounds the body (the inflated size of a deflated one):
    :class:`TooLargeError` before anything is inflated.
    """
    f = open_frame(data, magic, max_bytes)
    return body_reader(f), f.version


def open_frame(data: object, magic: bytes, max_bytes: int | None = None) -> Frame:
    """Check magic, version, flags, CRC and the body's size; inflate nothing yet.

    Every check of :func:`unframe` that needs no inflating happens here, in the same
    order and with the same errors; :func:`body_reader` or :func:`body_prefix` then
    read the body.  Integrity (the CRC-32 of the whole frame) is checked here, so
    damage anywhere in the frame is found before anything is read from it.
    """
    what = _WHAT[magic]
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"expected bytes, not {type(data).__name__}")
    data = bytes(data)
    other = PATCH_MAGIC if magic == DOC_MAGIC else DOC_MAGIC
    if data[:3] == other:
        raise DecodeError(f"not a cowrite {what}: these bytes are a cowrite {_WHAT[other]}")
    if data[:3] != magic:
        raise DecodeError(f"not a cowrite {what}: bad magic bytes")
    if len(data) < HEADER + TRAILER:
        raise DecodeError(f"truncated cowrite {what}: only {len(data)} bytes")
    version = data[3]
    if version not in READ_VERSIONS:
        raise DecodeError(
            f"unsupported cowrite {what} format version {version} "
            f"(this build reads versions {READ_VERSIONS[0]} to {READ_VERSIONS[-1]})"
        )
    crc = int.from_bytes(data[-TRAILER:], "little")
    if zlib.crc32(data[:-TRAILER]) != crc:
        raise DecodeError(f"corrupt cowrite {what}: checksum mismatch (truncated or damaged)")
    flags = data[4]
    if flags & ~KNOWN_FLAGS:
        raise DecodeError(f"unsupported cowrite {what}: unknown flags {flags:#x}")
    r = Reader(data, HEADER, len(data) - TRAILER)
    if not flags & FLAG_DEFLATE:
        check_body_size(f"cowrite {what}", r.left(), max_bytes)
        return Frame(data, version, False, HEADER, r.left())
    raw_len = r.uvar()
    if raw_len > r.left() * MAX_DEFLATE_RATIO:
        raise DecodeError(f"corrupt cowrite {what}: implausible uncompressed size {raw_len}")
    check_body_size(f"cowrite {what}", raw_len, max_bytes)
    return Frame(data, version, True, r.pos, raw_len)


def body_reader(f: Frame) -> Reader:
    """A reader over the whole body of ``f``: the frame's bytes, or the body inflated
    to exactly its stated size (DecodeError if the stream does not hold exactly that)."""
    end = len(f.data) - TRAILER
    if not f.deflated:
        return Reader(f.data, f.start, end)
    what = f.what
    d = zlib.decompressobj()
    try:
        # max_length 0 would mean "no limit": a body claiming 0 bytes may still inflate
        # to ~1000x its size, so it is allowed one byte (which then fails the size check)
        body = d.decompress(memoryview(f.data)[f.start : end], f.size or 1)
    except zlib.error as exc:
        raise DecodeError(f"corrupt cowrite {what}: bad compressed body ({exc})") from None
    if len(body) != f.size or not d.eof or d.unconsumed_tail or d.unused_data:
        raise DecodeError(f"corrupt cowrite {what}: compressed body does not match its size")
    return Reader(body)


def body_prefix(f: Frame, n: int) -> bytes:
    """The first ``min(n, size)`` bytes of the body of ``f``, inflating no more of it
    than that: how a document's head is read without touching its history.  Only
    what it inflates is checked; the rest of the stream is checked by
    :func:`body_reader` when the whole body is read."""
    n = min(n, f.size)
    if not f.deflated:
        return f.data[f.start : f.start + n]
    if n == 0:
        return b""
    try:
        prefix = zlib.decompressobj().decompress(memoryview(f.data)[f.start : len(f.data) - TRAILER], n)
    except zlib.error as exc:
        raise DecodeError(f"corrupt cowrite {f.what}: bad compressed body ({exc})") from None
    if len(prefix) != n:
        raise DecodeError(f"corrupt cowrite {f.what}: compressed body does not match its size")
    return prefix
