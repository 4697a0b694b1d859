"""LEB128 varints and a bounds-checked reader: the one number codec of every cowrite format.

Every cowrite encoding -- documents, patches, positions and protocol frames -- is
made of unsigned LEB128 varints (7 bits a byte, low first, high bit = "more"),
zigzag-coded signed varints (so small negative deltas stay one byte), and
length-prefixed blocks.  They are written and read here and nowhere else.

The reader never trusts its input: every failure is a :class:`DecodeError` with a
reason, and it never reads past the end it was given.  Two readings exist
because the formats were specified with two rules:

* :meth:`Reader.uvar` (documents, patches, positions): at most 10 bytes (values
  up to 2**70; callers bound them further), any encoding of a value accepted;
* :meth:`Reader.uint` (protocol frames): canonical only (no overlong encodings,
  so a frame has exactly one byte form), at most 64 bits, and at most ``limit``.
"""

from __future__ import annotations

from ...errors import DecodeError, TruncatedError
from ..limits import MAX_VARINT_BYTES

__all__ = ["MAX_UINT64", "Reader", "write_block", "write_svar", "write_uvar", "zigzag"]

MAX_UINT64 = 2**64 - 1


def write_uvar(out: bytearray, v: int) -> None:
    """Append ``v`` (>= 0) as an LEB128 varint."""
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def zigzag(v: int) -> int:
    """Signed ``v`` as the unsigned number zigzag coding writes (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...)."""
    return (v << 1) if v >= 0 else ((-v << 1) - 1)


def write_svar(out: bytearray, v: int) -> None:
    """Append signed ``v`` zigzag-coded, so small negative deltas stay one byte."""
    write_uvar(out, zigzag(v))


def write_block(out: bytearray, data: bytes | bytearray) -> None:
    """Append a length-prefixed block."""
    write_uvar(out, len(data))
    out += data


class Reader:
    """A bounds-checked cursor over ``buf[pos:end]``; every failure is a DecodeError."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def left(self) -> int:
        return self.end - self.pos

    def uvar(self, max_bytes: int = MAX_VARINT_BYTES) -> int:
        """The next varint (of at most ``max_bytes`` bytes)."""
        buf = self.buf
        pos = self.pos
        end = self.end
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise TruncatedError("truncated data: a number runs past the end of its block")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
            if shift >= 7 * max_bytes:
                raise DecodeError(f"malformed number: varint longer than {max_bytes} bytes")
        self.pos = pos
        return result

    def svar(self) -> int:
        """The next zigzag-coded signed varint."""
        v = self.uvar()
        return (v >> 1) ^ -(v & 1)

    def uint(self, what: str, limit: int = MAX_UINT64) -> int:
        """The next varint in its canonical (shortest) form, at most 64 bits and ``limit``;
        ``what`` names it in the error."""
        buf = self.buf
        end = self.end
        v = 0
        shift = 0
        while True:
            if self.pos >= end:
                raise TruncatedError(f"truncated frame: {what} ends early")
            b = buf[self.pos]
            self.pos += 1
            if shift == 63 and b > 1:
                raise DecodeError(f"{what}: varint larger than 64 bits")
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                if b == 0 and shift:
                    raise DecodeError(f"{what}: overlong varint")
                break
            shift += 7
        if v > limit:
            raise DecodeError(f"{what} is {v}; the limit is {limit}")
        return v

    def count(self, what: str, limit: int | None = None) -> int:
        """A count of items that each take at least one byte of this reader (or at most ``limit``)."""
        n = self.uvar()
        bound = self.left() if limit is None else limit
        if n > bound:
            raise DecodeError(f"corrupt data: {n} {what} claimed but only room for {bound}")
        return n

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        if n > self.left():
            raise TruncatedError("truncated data: a block runs past the end")
        p = self.pos
        self.pos = p + n
        return self.buf[p : p + n]

    def block(self) -> Reader:
        """A reader over the next length-prefixed block (and skip it here)."""
        n = self.uvar()
        if n > self.left():
            raise TruncatedError("truncated data: a block runs past the end")
        r = Reader(self.buf, self.pos, self.pos + n)
        self.pos += n
        return r

    def done(self, what: str) -> None:
        """Everything was read: trailing bytes are corruption."""
        if self.pos != self.end:
            raise DecodeError(f"corrupt data: {self.end - self.pos} unexpected bytes after {what}")
