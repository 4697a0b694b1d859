"""Stable positions: cursors, selections and anchors that survive concurrent edits.

An index such as "caret at 42" is only meaningful at one version: as soon as
someone types earlier in the text it points at the wrong place.  A
:class:`Position` instead names a *character* by its id ``(agent, seq)`` (the op
that inserted it) and says on which side of that character the gap is:

* ``assoc=1``: the gap just before the character (the position is tied to the
  character that follows it).  Text inserted exactly at the gap, by anyone, goes
  before the position, so a position on the last character stays on it.
* ``assoc=-1``: the gap just after the character (tied to the one before it).
  Text inserted at the gap goes after the position.

``agent is None`` names a document edge: ``assoc=-1`` is the start, ``assoc=1``
the end.  When the character is deleted the position does not jump to some
index chosen by whoever resolves it: it stays where the character's tombstone
lies, between the same surviving neighbours, which every replica computes
alike.  Positions are plain values, encodable for the wire with
:meth:`Position.encode` (bytes) or :meth:`Position.to_json` (a dict).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import DecodeError, InvalidOpError
from .codec.varint import Reader, write_uvar
from .limits import MAX_AGENT_LEN, MAX_SEQ
from .ops import check_unicode

__all__ = ["Position"]

_MAGIC = b"CWC"


@dataclass(frozen=True, slots=True)
class Position:
    agent: str | None
    seq: int
    assoc: int = 1

    def __post_init__(self) -> None:
        if self.assoc not in (1, -1) or type(self.assoc) is not int:
            raise InvalidOpError(f"assoc must be 1 or -1, not {self.assoc!r}")
        if type(self.seq) is not int or not 0 <= self.seq < MAX_SEQ:
            raise InvalidOpError(f"seq must be a non-negative integer, not {self.seq!r}")
        if self.agent is not None:
            if not isinstance(self.agent, str) or not self.agent or len(self.agent) > MAX_AGENT_LEN:
                raise InvalidOpError(f"agent must be None or a non-empty string of at most {MAX_AGENT_LEN} characters")
            check_unicode("agent", self.agent)
        elif self.seq != 0:
            raise InvalidOpError("a document-edge position has seq 0")

    # -- wire forms ------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "seq": self.seq, "assoc": self.assoc}

    @classmethod
    def from_json(cls, obj: Any) -> Position:
        if not isinstance(obj, dict) or set(obj) != {"agent", "seq", "assoc"}:
            raise DecodeError("a position is an object with exactly agent, seq and assoc")
        try:
            return cls(obj["agent"], obj["seq"], obj["assoc"])
        except InvalidOpError as exc:
            raise DecodeError(f"bad position: {exc}") from None

    def encode(self) -> bytes:
        """``CWC`` + assoc byte (0: -1, 1: +1) + uvarint seq + UTF-8 agent (empty: edge)."""
        out = bytearray(_MAGIC)
        out.append(1 if self.assoc == 1 else 0)
        write_uvar(out, self.seq)
        if self.agent is not None:
            out += self.agent.encode("utf-8")
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Position:
        if not isinstance(data, (bytes, bytearray)) or len(data) < 5 or bytes(data[:3]) != _MAGIC:
            raise DecodeError("not an encoded cowrite position")
        if data[3] > 1:
            raise DecodeError(f"bad position side byte {data[3]}")
        assoc = 1 if data[3] else -1
        r = Reader(bytes(data), 4)
        try:
            seq = r.uvar(max_bytes=9)
        except DecodeError:
            raise DecodeError("truncated or overlong position seq") from None
        i = r.pos
        try:
            agent = bytes(data[i:]).decode("utf-8") if i < len(data) else None
            return cls(agent, seq, assoc)
        except (UnicodeDecodeError, InvalidOpError) as exc:
            raise DecodeError(f"bad position: {exc}") from None
