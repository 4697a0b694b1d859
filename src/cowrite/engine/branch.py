"""A branch: the text of a document at one version, moved forward by merging.

The steady state of a document is a branch (text + version) and the op log.  A
branch never stores CRDT metadata: merging walks the op log only as far back as
the ops being merged are concurrent with what the branch already has.
"""

from __future__ import annotations

from collections.abc import Sequence

from .causal_graph import Frontier
from ..errors import InvalidOpError
from .oplog import INS, OpLog
from .rope import Rope
from .merge import XfOp, merge_ops

__all__ = ["Branch"]


class Branch:
    __slots__ = ("text", "version")

    def __init__(self, text: str = "", version: Frontier = ()) -> None:
        self.text = Rope(text)
        self.version: Frontier = version

    def __len__(self) -> int:
        return len(self.text)

    def __str__(self) -> str:
        return str(self.text)

    def merge(self, oplog: OpLog, version: Sequence[int] | None = None) -> list[XfOp]:
        """Bring in every op in the history of ``version`` (default: all of ``oplog``).

        Returns the edits applied to the text, in order (for editors and cursors).
        Raises :class:`~cowrite.errors.InvalidOpError` and changes nothing if an op
        does not fit the document at its parents.
        """
        target = oplog.cg.heads if version is None else tuple(version)
        xf, new_version = merge_ops(oplog, len(self.text), self.version, target)
        check_fits(xf, len(self.text))
        apply_xf(self.text, xf)
        self.version = new_version
        return xf

    def copy(self) -> Branch:
        b = Branch.__new__(Branch)
        b.text = Rope(str(self.text))
        b.version = self.version
        return b


def check_fits(xf: list[XfOp], text_len: int) -> None:
    """Raise InvalidOpError unless every edit of ``xf`` fits a text of ``text_len``.

    A merge of valid ops on a consistent document always fits.  A loaded document
    is not replayed (its text is trusted), so a forged one whose history does not
    fit its text would make a merge emit edits past the end: refused here, before
    any text changes, instead of failing halfway through.
    """
    n = text_len
    for kind, pos, arg in xf:
        if kind == INS:
            if not 0 <= pos <= n:
                raise InvalidOpError(f"a merged insert at {pos} does not fit the {n}-character text: the history does not fit the text")
            n += len(arg)  # type: ignore[arg-type]
        else:
            if not (0 <= pos and pos + arg <= n):  # type: ignore[operator]
                raise InvalidOpError(f"a merged delete at {pos} does not fit the {n}-character text: the history does not fit the text")
            n -= arg  # type: ignore[operator]


def apply_xf(text: Rope, xf: list[XfOp]) -> None:
    for kind, pos, arg in xf:
        if kind == INS:
            text.insert(pos, arg)  # type: ignore[arg-type]
        else:
            text.delete(pos, arg)  # type: ignore[arg-type]


def checkout(oplog: OpLog, version: Sequence[int] | None = None) -> Branch:
    """A fresh branch at ``version``: the text there, computed from the op log."""
    b = Branch()
    b.merge(oplog, version)
    return b
