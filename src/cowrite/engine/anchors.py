"""Anchors: a range of text named by its first and last characters (what a comment hangs on).

A comment made on "the quick" at indices 4..13 must stay on those words while
others type before, inside or after them, and must still say *where* they were
once they are gone.  An :class:`Anchor` is two :class:`~cowrite.engine.positions.Position`
values: ``start`` tied to the range's first character (``assoc=1``: the gap just
before it) and ``end`` tied to its last one (``assoc=-1``: the gap just after it).
So text typed exactly at either edge stays outside the range, text typed between
its characters is inside it, and every replica resolves an anchor to the same
indices (positions resolve alike everywhere).

When every character of the range has been deleted both ends resolve to the same
gap: :meth:`Anchor.resolve` then answers ``None`` -- the anchor is *detached*
(whoever shows it shows the quoted original text instead of a highlight).  The
wire form (:meth:`Anchor.encode`) is ``CWA`` + uvarint length of the encoded
start + encoded start + encoded end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DecodeError, InvalidOpError
from .codec.varint import Reader, write_uvar
from .positions import Position

if TYPE_CHECKING:  # document imports positions; anchors only need its methods
    from .document import Document
    from .ops import RawVersion

__all__ = ["MAX_ANCHOR_BYTES", "Anchor"]

_MAGIC = b"CWA"
MAX_ANCHOR_BYTES = 1024
"""Longest encoded anchor accepted (two positions with agents of at most 64 characters
take well under 600 bytes)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """The range from ``start`` (before its character) to ``end`` (after its character)."""

    start: Position
    end: Position

    def __post_init__(self) -> None:
        if not isinstance(self.start, Position) or not isinstance(self.end, Position):
            raise InvalidOpError("an anchor is two Positions")
        if self.start.agent is None or self.end.agent is None:
            raise InvalidOpError("an anchor names characters, not the document's edges")
        if self.start.assoc != 1 or self.end.assoc != -1:
            raise InvalidOpError("an anchor starts before its first character (assoc 1) and ends after its last (assoc -1)")

    @classmethod
    def over(cls, doc: Document, start: int, end: int) -> Anchor:
        """The anchor of code points ``start..end`` (end exclusive) of ``doc``'s text now."""
        if type(start) is not int or type(end) is not int or not 0 <= start < end <= len(doc):
            raise InvalidOpError(f"an anchor covers a non-empty range inside 0..{len(doc)}, not {start!r}..{end!r}")
        return cls(doc.position(start, 1), doc.position(end, -1))

    def resolve(
        self, doc: Document, version: RawVersion | Iterable[tuple[str, int]] | None = None
    ) -> tuple[int, int] | None:
        """``(start, end)`` indices in ``doc``'s text (now, or at ``version``), or ``None``
        when no character of the range is left (detached).  Raises
        :class:`~cowrite.engine.UnknownVersionError` if the document lacks a character
        the anchor names (its ops have not arrived)."""
        if version is not None:
            version = tuple(version)
        lo = doc.resolve(self.start, version)
        hi = doc.resolve(self.end, version)
        return (lo, hi) if hi > lo else None

    # -- wire forms ------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.to_json(), "end": self.end.to_json()}

    @classmethod
    def from_json(cls, obj: Any) -> Anchor:
        if not isinstance(obj, dict) or set(obj) != {"start", "end"}:
            raise DecodeError("an anchor is an object with exactly start and end")
        try:
            return cls(Position.from_json(obj["start"]), Position.from_json(obj["end"]))
        except InvalidOpError as exc:
            raise DecodeError(f"bad anchor: {exc}") from None

    def encode(self) -> bytes:
        head = self.start.encode()
        out = bytearray(_MAGIC)
        write_uvar(out, len(head))
        out += head
        out += self.end.encode()
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Anchor:
        if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_ANCHOR_BYTES or bytes(data[:3]) != _MAGIC:
            raise DecodeError("not an encoded cowrite anchor")
        buf = bytes(data)
        r = Reader(buf, 3)
        try:
            n = r.uvar(max_bytes=2)
        except DecodeError:
            raise DecodeError("truncated anchor") from None
        i = r.pos
        if n < 5 or i + n >= len(buf):
            raise DecodeError("truncated anchor")
        start = Position.decode(buf[i : i + n])
        end = Position.decode(buf[i + n :])
        try:
            return cls(start, end)
        except InvalidOpError as exc:
            raise DecodeError(f"bad anchor: {exc}") from None
