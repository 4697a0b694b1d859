"""Per-user undo and redo that never touches anyone else's text.

An :class:`UndoManager` watches one replica's *local* edits (its agent is the
user) and groups them into undo steps: a burst of typing with no pause longer
than ``capture_timeout`` seconds, or everything inside one ``with um.group():``.
Remote edits are never recorded, so undo only ever reverses this user's work.

Undo does not rewind history.  It makes new, ordinary ops that sync like any
other edit, and it works on character ids, not indices, so it is right even
after other people have edited around (or inside) the text it reverses:

* Undoing an insert deletes the characters that step inserted *and that still
  exist* -- found by id, so text others typed inside or next to them stays.
* Undoing a delete types the deleted characters again where they were: at the
  position of their tombstones, i.e. between the same surviving neighbours,
  even if others have since edited around them.  Characters that someone else
  deleted too (concurrently) stay deleted: undo never brings back text another
  user removed.  A character the same step both typed and deleted is left alone.
* Each undo records what it did as a step on the redo stack (and each redo on
  the undo stack), so redo is the same machinery run backwards.  A new local
  edit clears the redo stack.

The result of undo/redo reports the selection to show: the re-typed text
selected, or a caret where text was removed.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Protocol

from ..errors import ConfigError, CowriteError
from .causal_graph import Frontier
from .idmap import IdMap
from .merge import locate
from .oplog import OpLog

__all__ = ["UndoHost", "UndoManager", "UndoResult"]


class UndoHost(Protocol):
    """What an :class:`UndoManager` needs of the replica it undoes on (a Document)."""

    @property
    def oplog(self) -> OpLog: ...

    @property
    def local_observer(self) -> object: ...

    def observe_local(self, observer: UndoManager | None) -> None: ...

    def id_map(self) -> IdMap: ...

    def insert(self, pos: int, text: str) -> None: ...

    def delete(self, pos: int, length: int = 1) -> None: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class UndoResult:
    """What an undo or redo did: the selection (``anchor``, ``head``) to restore."""

    anchor: int
    head: int


class _Ins:
    """This user inserted characters ``lv .. lv+n-1``."""

    __slots__ = ("lv", "n")

    def __init__(self, lv: int, n: int) -> None:
        self.lv = lv
        self.n = n


class _Del:
    """This user's delete ops ``lv .. lv+len(text)-1``, made at version ``parents``,
    removed ``text``: characters ``pos .. pos+len(text)-1`` of the text there,
    whose ids are the LV runs ``ids``.  ``left``/``right`` are the ids of the
    characters that were beside the deleted range right after the delete (-1: none)."""

    __slots__ = ("lv", "parents", "pos", "text", "ids", "left", "right")

    def __init__(
        self, lv: int, parents: Frontier, pos: int, text: str, ids: list[tuple[int, int]], left: int, right: int
    ) -> None:
        self.lv = lv
        self.parents = parents
        self.pos = pos
        self.text = text
        self.ids = ids
        self.left = left
        self.right = right


class _Step:
    __slots__ = ("recs", "time")

    def __init__(self, now: float) -> None:
        self.recs: list[_Ins | _Del] = []
        self.time = now


class _Selection:
    """The span touched by an undo, kept in the coordinates of the latest text."""

    __slots__ = ("lo", "hi", "typed")

    def __init__(self) -> None:
        self.lo = -1
        self.hi = -1
        self.typed = False  # anything re-typed (else the result is a caret)

    def result(self) -> UndoResult:
        return UndoResult(self.lo, self.hi if self.typed else self.lo)

    def inserted(self, pos: int, n: int) -> None:
        self.typed = True
        if self.lo < 0:
            self.lo, self.hi = pos, pos + n
            return
        if pos <= self.lo:
            self.lo += n
        if pos <= self.hi:
            self.hi += n
        self.lo = min(self.lo, pos)
        self.hi = max(self.hi, pos + n)

    def deleted(self, pos: int, n: int) -> None:
        if self.lo < 0:
            self.lo = self.hi = pos
            return

        def move(x: int) -> int:
            return x if x <= pos else pos if x <= pos + n else x - n

        self.lo = min(move(self.lo), pos)
        self.hi = max(move(self.hi), pos)


class UndoManager:
    """Undo/redo stacks for the local user of ``doc``.

    ``clock`` (seconds, monotonic) and ``capture_timeout`` decide grouping: an
    edit joins the previous step if it comes within ``capture_timeout`` of it.
    """

    def __init__(
        self,
        doc: UndoHost,
        *,
        capture_timeout: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if doc.local_observer is not None:
            raise CowriteError("this document already has an UndoManager")
        if capture_timeout < 0:
            raise ConfigError("capture_timeout must be >= 0")
        self.doc = doc
        self.capture_timeout = capture_timeout
        self.clock = clock
        self.undo_stack: list[_Step] = []
        self.redo_stack: list[_Step] = []
        self._recording: _Step | None = None  # the inverse being built by undo/redo
        self._sel: _Selection | None = None
        self._boundary = True  # the next edit starts a new step
        self._group_depth = 0
        # Re-typed characters are new characters.  redone[old] = new lets a later
        # undo of the step that typed ``old`` find the copy that stands for it now.
        self._redone: dict[int, int] = {}
        doc.observe_local(self)  # deleted characters are recorded by id from now on

    # -- public ----------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    @property
    def can_redo(self) -> bool:
        return bool(self.redo_stack)

    def stop_capturing(self) -> None:
        """End the current step: the next edit starts a new one."""
        self._boundary = True

    @contextmanager
    def group(self) -> Iterator[None]:
        """Every edit inside the block is one undo step (blocks may nest)."""
        if self._group_depth == 0:
            self._boundary = True
        self._group_depth += 1
        try:
            yield
        finally:
            self._group_depth -= 1
            if self._group_depth == 0:
                self._boundary = True

    def clear(self) -> None:
        self.undo_stack.clear()
        self.redo_stack.clear()
        self._redone.clear()
        self._boundary = True

    def detach(self) -> None:
        """Stop recording (the stacks are dropped)."""
        self.clear()
        self.doc.observe_local(None)

    def undo(self) -> UndoResult | None:
        """Reverse this user's last step that still has an effect; None if there is none."""
        return self._pop_and_run(self.undo_stack, self.redo_stack)

    def redo(self) -> UndoResult | None:
        """Re-apply the last undone step; None if there is nothing to redo."""
        return self._pop_and_run(self.redo_stack, self.undo_stack)

    # -- recording (called by Document for local edits) ------------------------------

    def _current(self) -> _Step:
        if self._recording is not None:
            return self._recording
        now = self.clock()
        self.redo_stack.clear()
        top = self.undo_stack[-1] if self.undo_stack else None
        if top is None or self._boundary or (self._group_depth == 0 and now - top.time > self.capture_timeout):
            top = _Step(now)
            self.undo_stack.append(top)
        self._boundary = False
        top.time = now
        return top

    def on_insert(self, lv: int, pos: int, n: int) -> None:
        if self._sel is not None:
            self._sel.inserted(pos, n)
        recs = self._current().recs
        last = recs[-1] if recs else None
        if isinstance(last, _Ins) and last.lv + last.n == lv:
            last.n += n
        else:
            recs.append(_Ins(lv, n))

    def on_delete(
        self, lv: int, parents: Frontier, pos: int, text: str, ids: list[tuple[int, int]], left: int, right: int
    ) -> None:
        if self._sel is not None:
            self._sel.deleted(pos, len(text))
        recs = self._current().recs
        left, right = self._outer_neighbours(recs, pos, left, right)
        last = recs[-1] if recs else None
        if isinstance(last, _Del) and parents == (last.lv + len(last.text) - 1,):
            if pos + len(text) == last.pos:  # backspace again
                last.pos = pos
                last.text = text + last.text
                last.ids = ids + last.ids
                last.left = left
                return
            if pos == last.pos:  # delete key again
                last.text += text
                last.ids += ids
                last.right = right
                return
        recs.append(_Del(lv, parents, pos, text, ids, left, right))

    _NEIGHBOUR_SCAN = 64

    def _outer_neighbours(self, recs: list[_Ins | _Del], pos: int, left: int, right: int) -> tuple[int, int]:
        """The nearest characters beside a delete that this step did not type.

        Undoing the step removes what it typed, so those are no use as bounds
        for re-typing; the next characters out (or their re-typed copies) are.
        """
        typed = [(r.lv, r.lv + r.n) for r in recs if isinstance(r, _Ins)]
        if not typed:
            return left, right
        ids = self.doc.id_map()

        def mine(lv: int) -> bool:
            return any(a <= lv < b for a, b in typed)

        i = pos - 1
        while left >= 0 and mine(left):
            i -= 1
            left = ids.lv_at(i) if i >= 0 and pos - i <= self._NEIGHBOUR_SCAN else -1
        j = pos
        while right >= 0 and mine(right):
            j += 1
            right = ids.lv_at(j) if j < len(ids) and j - pos <= self._NEIGHBOUR_SCAN else -1
        return left, right

    # -- running a step --------------------------------------------------------------

    def _pop_and_run(self, source: list[_Step], dest: list[_Step]) -> UndoResult | None:
        self._boundary = True
        while source:
            step = source.pop()
            inverse = _Step(self.clock())
            self._recording = inverse
            self._sel = sel = _Selection()
            try:
                self._run(step)
            finally:
                self._recording = None
                self._sel = None
            if inverse.recs:
                dest.append(inverse)
                self._boundary = True
                return sel.result()
        return None

    def _run(self, step: _Step) -> None:
        """Re-type what the step deleted, then delete what it typed.

        Re-typing first is safe: each deleted character goes back to its tombstone
        gap, which is defined by the surviving neighbours whatever happens to the
        step's own typing afterwards.  Deleting the typing last lets one pass over
        the character ids find every surviving character the step typed.
        """
        doc = self.doc
        typed = sorted((r.lv, r.lv + r.n) for r in step.recs if isinstance(r, _Ins))
        self._retype([r for r in step.recs if isinstance(r, _Del)], typed)
        if typed:
            for pos, n in reversed(doc.id_map().find_ranges(self._with_copies(typed))):  # last first: indices stay put
                doc.delete(pos, n)

    def _with_copies(self, typed: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """``typed`` plus the latest re-typed copy of every character in it."""
        redone = self._redone
        if not redone:
            return typed
        extra: list[int] = []
        for a, b in typed:
            keys = range(a, b) if b - a < len(redone) else [k for k in redone if a <= k < b]
            for lv in keys:
                if lv in redone:
                    while lv in redone:
                        lv = redone[lv]
                    extra.append(lv)
        if not extra:
            return typed
        merged: list[tuple[int, int]] = []
        for a, b in sorted(typed + [(x, x + 1) for x in extra]):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return merged

    def _retype(self, dels: list[_Del], typed: list[tuple[int, int]]) -> None:
        """Type again what the deletes ``dels`` (in the order they were made) removed.

        Every character goes to its tombstone's gap in the current text (found for
        all of them before anything is typed), bounded by the neighbours its delete
        recorded.  The characters bound for one gap are typed there as one run, in
        the order of their tombstones: they keep their order even when every
        character that was around them is gone.
        """
        doc = self.doc
        oplog = doc.oplog
        starts = [a for a, _ in typed]

        def typed_here(cid: int) -> bool:
            i = bisect_right(starts, cid) - 1
            return i >= 0 and cid < typed[i][1]

        heads = oplog.cg.heads
        redone = self._redone
        ids = doc.id_map()
        size = len(doc)
        # (gap, delete k, offset j in its text) of every character to type, the gap
        # in the text as it is before this undo types anything
        entries: list[tuple[int, int, int]] = []
        char_ids: list[list[int]] = [[] for _ in dels]
        retyped: list[list[int]] = [[] for _ in dels]  # the offsets j, per delete
        placed: dict[int, int] = {}  # character id -> the gap it goes to
        for k in range(len(dels) - 1, -1, -1):  # newest first: an older delete's neighbours may be a newer one's characters
            rec = dels[k]
            mine = range(rec.lv, rec.lv + len(rec.text))
            cids = char_ids[k] = [lv + i for lv, n in rec.ids for i in range(n)]
            # characters the same step typed and deleted: nothing to restore
            wanted = [j for j, cid in enumerate(cids) if not typed_here(cid)]
            if not wanted:
                continue
            found = locate(oplog, rec.parents, [rec.pos + j for j in wanted], heads)
            gaps: list[tuple[int, int]] = []
            for j, loc in zip(wanted, found):
                if loc.alive or any(d not in mine for d in loc.deleters):
                    continue  # still there, or someone else deleted it too
                gaps.append((j, loc.pos))
            if not gaps:
                continue
            # The tombstone gap is the place, but copies re-typed by earlier undos sit
            # before every tombstone at their gap, which can put them on the wrong side
            # of ours.  The neighbours recorded at delete time (their live copies, or
            # where this undo types them) bound the place exactly.
            lo, hi = 0, size
            for right, lv in ((False, rec.left), (True, rec.right)):
                if lv < 0:
                    continue
                while lv in redone:
                    lv = redone[lv]
                g = placed.get(lv)
                if g is None:
                    i = ids.index_of(lv)
                    if i is None:
                        continue
                    g = i if right else i + 1
                if right:
                    hi = g
                else:
                    lo = g
            if lo > hi:  # the neighbours were moved apart by concurrent edits
                lo, hi = 0, size
            for j, g in gaps:
                g = min(max(g, lo), hi)
                entries.append((g, k, j))
                retyped[k].append(j)
                placed[cids[j]] = g
        if not entries:
            return
        # Within one gap: the order of the tombstones.  One delete's are in the order
        # of its text.  For two deletes, the older one's characters are followed to
        # the newer one's version, where they are tombstones among the newer's text.
        followed: dict[tuple[int, int], dict[int, tuple[int, bool]]] = {}

        def order(a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
            if a[0] != b[0]:
                return a[0] - b[0]
            if a[1] == b[1]:
                return a[2] - b[2]
            flip = a[1] > b[1]
            if flip:
                a, b = b, a
            old, new = dels[a[1]], dels[b[1]]
            at = followed.get((a[1], b[1]))
            if at is None:
                js = retyped[a[1]]
                found = locate(oplog, old.parents, [old.pos + j for j in js], new.parents)
                at = followed[(a[1], b[1])] = {j: (loc.pos, loc.alive) for j, loc in zip(js, found)}
            pos, alive = at[a[2]]
            idx = new.pos + b[2]
            first = pos < idx or (pos == idx and not alive)  # a tombstone at gap g precedes character g
            return (1 if first else -1) if flip else (-1 if first else 1)

        entries.sort(key=cmp_to_key(order))
        shift = 0
        i = 0
        while i < len(entries):
            g = entries[i][0]
            e = i + 1
            while e < len(entries) and entries[e][0] == g:
                e += 1
            new = oplog.cg.next_lv
            doc.insert(g + shift, "".join(dels[k].text[j] for _, k, j in entries[i:e]))
            for n, (_, k, j) in enumerate(entries[i:e]):
                redone[char_ids[k][j]] = new + n
            shift += e - i
            i = e
