"""The user's edits: applied to the replica and recorded in the journal, in one place.

Every edit the user makes reaches the replica through a :class:`UserEdits`:
the client's ``insert``/``delete``/``replace``, and undo and redo, because the
client gives its :class:`~cowrite.engine.UndoManager` a ``UserEdits`` as the
document to undo on (the engine's ``UndoHost`` protocol: what an undo manager
needs of a replica).  So the :class:`~cowrite.protocol.Journal` sees each edit
exactly as it was applied -- position, the text it removed, the text it typed --
with no diff of the text before and after, and no second observer slot on the
document (``Document.observe_local`` is the undo manager's).

Cost per keystroke: the edit, plus one journal compose; a delete first reads the
text it removes from the rope (``O(log n + removed)``).
"""

from __future__ import annotations

from cowrite.engine import Document, OpLog, UndoManager
from cowrite.protocol import Journal

__all__ = ["UserEdits"]


class UserEdits:
    """``doc`` as the user edits it: every change also goes into ``journal``."""

    __slots__ = ("doc", "journal", "id_map")

    def __init__(self, doc: Document, journal: Journal) -> None:
        self.doc = doc
        self.journal = journal
        self.id_map = doc.id_map  # the character ids an undo manager works on

    def insert(self, pos: int, text: str) -> None:
        self.doc.insert(pos, text)  # validates; raises before anything is recorded
        if text:
            self.journal.local(pos, "", text)

    def delete(self, pos: int, length: int = 1) -> None:
        doc = self.doc
        removed = doc.branch.text.slice(pos, pos + length) if type(pos) is int and type(length) is int else ""
        doc.delete(pos, length)
        if removed:
            self.journal.local(pos, removed, "")

    def replace(self, pos: int, length: int, text: str) -> None:
        doc = self.doc
        removed = doc.branch.text.slice(pos, pos + length) if type(pos) is int and type(length) is int else ""
        doc.replace(pos, length, text)
        self.journal.local(pos, removed, text)

    # -- what an UndoManager needs besides insert/delete (the engine's UndoHost) -------

    @property
    def oplog(self) -> OpLog:
        return self.doc.oplog

    @property
    def local_observer(self) -> object:
        return self.doc.local_observer

    def observe_local(self, observer: UndoManager | None) -> None:
        self.doc.observe_local(observer)

    def __len__(self) -> int:
        return len(self.doc)
