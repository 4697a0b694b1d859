"""Restoring a past version, and the differences between two versions, by author.

Restoring is not a rollback.  :func:`restore` computes the edits that take the text
now to the text at the old version (:func:`~cowrite.engine.textdiff.text_diff`, minimal in
characters) and makes them as *local ops of the restoring replica's agent*, exactly as
if its user had typed them.  So the restore syncs like any edit: a concurrent or
offline edit by someone else merges with it instead of being overwritten (their
inserted text survives; what they deleted stays deleted), and the restoring user's
undo takes it back in one step (per-user undo: ``undo.py``).

:func:`version_diff` is what a diff view shows between versions ``a`` and ``b``: the
text of ``b`` in runs that are unchanged, inserted (since ``a``) or deleted (there in
``a``, not in ``b``), each run with the agent that typed its characters (blame at
``b`` for kept and inserted text, at ``a`` for deleted text).  It is a diff of the
texts: text deleted and typed again identically shows as unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidOpError
from .document import Document
from .history import Authorship
from .ops import RawVersion
from .textdiff import TextEdit, text_diff
from .undo import UndoManager

__all__ = ["DiffSpan", "restore", "version_diff"]

Version = RawVersion | Iterable[tuple[str, int]]


def restore(doc: Document, version: Version, *, undo: UndoManager | None = None) -> list[TextEdit]:
    """Make ``doc``'s text what it was at ``version``, with new local ops; returns the edits.

    ``version`` is any version ``doc`` knows (``UnknownVersionError`` otherwise, and
    nothing changes).  With ``undo`` (the UndoManager of ``doc``), the restore is one
    undo step.  Nothing is made if the text is already the old one.
    """
    target = doc.text_at(version)
    edits = text_diff(doc.text, target)
    if not edits:
        return []
    if undo is not None:
        if undo.doc is not doc:
            raise InvalidOpError("undo must be the UndoManager of the document restored")
        undo.stop_capturing()
        with undo.group():
            _apply(doc, edits)
        undo.stop_capturing()
    else:
        _apply(doc, edits)
    return edits


def _apply(doc: Document, edits: list[TextEdit]) -> None:
    # From the end, so that each edit's position in the old text is still right.
    for e in reversed(edits):
        if e.delete:
            doc.delete(e.pos, e.delete)
        if e.insert:
            doc.insert(e.pos, e.insert)


@dataclass(frozen=True, slots=True)
class DiffSpan:
    """A run of the diff view: ``text`` that is ``kind`` between the two versions,
    typed by ``agent`` (``None`` if no blame run covers it)."""

    kind: Literal["same", "insert", "delete"]
    text: str
    agent: str | None


def _authors(runs: list[Authorship], start: int, end: int) -> list[tuple[int, int, str | None]]:
    """Cut ``start..end`` into pieces by the blame runs: ``(start, end, agent)``."""
    out: list[tuple[int, int, str | None]] = []
    at = start
    for r in runs:
        if r.end <= at:
            continue
        if r.start >= end:
            break
        if r.start > at:
            out.append((at, r.start, None))
            at = r.start
        stop = min(r.end, end)
        out.append((at, stop, r.agent))
        at = stop
        if at >= end:
            break
    if at < end:
        out.append((at, end, None))
    return out


def version_diff(doc: Document, a: Version, b: Version) -> list[DiffSpan]:
    """The diff view from version ``a`` to version ``b`` (see the module docstring)."""
    old, new = doc.text_at(a), doc.text_at(b)
    old_blame, new_blame = doc.blame(a), doc.blame(b)
    spans: list[DiffSpan] = []

    def add(kind: Literal["same", "insert", "delete"], text: str, runs: list[Authorship], start: int, end: int) -> None:
        for s, e, agent in _authors(runs, start, end):
            piece = text[s:e]
            last = spans[-1] if spans else None
            if last is not None and last.kind == kind and last.agent == agent:
                spans[-1] = DiffSpan(kind, last.text + piece, agent)
            else:
                spans.append(DiffSpan(kind, piece, agent))

    at_old = at_new = 0
    for e in text_diff(old, new):
        add("same", new, new_blame, at_new, at_new + e.pos - at_old)
        at_new += e.pos - at_old
        if e.delete:
            add("delete", old, old_blame, e.pos, e.pos + e.delete)
        if e.insert:
            add("insert", new, new_blame, at_new, at_new + len(e.insert))
            at_new += len(e.insert)
        at_old = e.pos + e.delete
    add("same", new, new_blame, at_new, len(new))
    return spans
