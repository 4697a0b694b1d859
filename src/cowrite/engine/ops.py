"""Ops as plain data: what peers exchange and what the op log stores.

An :class:`Op` is a *run* of single-character ops made by one agent with
consecutive seqs, each made on top of the previous one; the first is made on top of
``parents``.  A typed word is one ``Op``; so is a selection deleted at once.

* ``kind == "ins"``: character ``i`` of ``content`` was inserted at ``pos + i``.
* ``kind == "del"`` and ``fwd``: each of the ``length`` ops deleted the character at
  ``pos`` (the Delete key, or a range deleted at once).
* ``kind == "del"`` and not ``fwd``: op ``i`` deleted the character at
  ``pos + length - 1 - i`` (Backspace held down).

Positions are Unicode code points in the document as it was at the op's parents.

``time`` is when the run's ops were made: Unix time in whole seconds, ``0`` when
unknown.  It is metadata, not identity: it plays no part in merging, and a run
whose ops were made at different times is sent as several ops, one per time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidOpError
from .limits import MAX_AGENT_LEN, MAX_SEQ, MAX_TIME

__all__ = ["Op", "RawVersion", "check_time", "check_unicode", "validate_op"]

RawVersion = tuple[tuple[str, int], ...]
"""A version on the wire: the sorted ``(agent, seq)`` ids of its frontier."""

@dataclass(frozen=True, slots=True)
class Op:
    agent: str
    seq: int
    parents: RawVersion
    kind: Literal["ins", "del"]
    pos: int
    content: str = ""
    length: int = 0
    fwd: bool = True
    time: int = 0

    def __post_init__(self) -> None:
        validate_op(self)

    @property
    def span(self) -> int:
        """How many single-character ops (seqs) this run holds."""
        return len(self.content) if self.kind == "ins" else self.length

    @staticmethod
    def insert(agent: str, seq: int, parents: RawVersion, pos: int, content: str, *, time: int = 0) -> Op:
        return Op(agent, seq, tuple(parents), "ins", pos, content, len(content), True, time)

    @staticmethod
    def delete(
        agent: str, seq: int, parents: RawVersion, pos: int, length: int, fwd: bool = True, *, time: int = 0
    ) -> Op:
        return Op(agent, seq, tuple(parents), "del", pos, "", length, fwd, time)


def check_unicode(label: str, text: str) -> None:
    """Reject lone surrogates: such a str is not Unicode and could never be stored."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidOpError(f"{label} contains lone surrogates; it is not valid Unicode") from None


def _bad(msg: str) -> InvalidOpError:
    return InvalidOpError(msg)


def check_time(time: object) -> int:
    """A valid op time: an int Unix time in whole seconds, ``0 <= time < 2**53`` (0 = unknown)."""
    if type(time) is not int or not 0 <= time < MAX_TIME:
        raise _bad(f"time must be an integer Unix time in seconds in 0..2**53-1 (0 = unknown), not {time!r}")
    return time


def validate_op(op: Op) -> None:
    """Structural checks that need no document: types, signs, sizes."""
    if not isinstance(op.agent, str) or not op.agent or len(op.agent) > MAX_AGENT_LEN:
        raise _bad(f"agent must be a non-empty string of at most {MAX_AGENT_LEN} characters")
    if type(op.seq) is not int or op.seq < 0:
        raise _bad(f"seq must be a non-negative integer, not {op.seq!r}")
    if type(op.pos) is not int or op.pos < 0:
        raise _bad(f"pos must be a non-negative integer, not {op.pos!r}")
    if not isinstance(op.parents, tuple):
        raise _bad("parents must be a tuple of (agent, seq) pairs")
    for p in op.parents:
        if (
            not isinstance(p, tuple)
            or len(p) != 2
            or not isinstance(p[0], str)
            or type(p[1]) is not int
            or p[1] < 0
        ):
            raise _bad(f"bad parent {p!r}: expected an (agent, seq) pair")
    if op.kind == "ins":
        if not isinstance(op.content, str) or not op.content:  # checked before any str method
            raise _bad("an insert needs non-empty string content")
        if op.length != len(op.content):
            raise _bad("an insert's length must equal len(content)")
        if not op.fwd:
            raise _bad("inserts are always forward")
    elif op.kind == "del":
        if type(op.length) is not int or op.length <= 0:
            raise _bad(f"a delete needs a positive length, not {op.length!r}")
        if op.content != "":
            raise _bad("a delete carries no content")
    else:
        raise _bad(f"kind must be 'ins' or 'del', not {op.kind!r}")
    if op.seq + op.span > MAX_SEQ:
        raise _bad("seq out of range")
    check_time(op.time)
    check_unicode("agent", op.agent)
    check_unicode("content", op.content)
