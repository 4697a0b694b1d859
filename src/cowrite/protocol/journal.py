"""The journal of the user's own edits that the server has not confirmed yet.

Why: "no keystroke is ever dropped".  When the server refuses a client's ops
(its replica was corrupted and made ops that do not fit the server's history),
the replica is replaced by a fresh copy of the server's document, and the user's
unacknowledged typing would go with it.  The journal keeps that typing as plain
text changes of the text the user sees -- independent of the replica and its
ops -- so :meth:`Journal.rebase` can type it again on the new copy, at the same
places relative to the text both sides still share.  ``web/src/protocol/journal.js``
is the same code in JS.

Design: the edits are kept as *segments*, each a :class:`~.textchange.TextChange`
from the text before it to the text after it; composed in order they turn the
text without the unconfirmed edits (:meth:`Journal.base`) into the text the user
sees.  A segment is closed when its edits were sent (:meth:`Journal.flushed`
tags it with the op seq they end below) and dropped when the server confirms
those ops.  A change that is not the user's (:meth:`Journal.remote`) happened
*after* every segment; it is moved underneath them, newest segment first
(segment ``S`` and change ``R`` become ``R'`` then ``S'`` with the same result,
``S'`` = the inverse of ``S`` transformed over ``R``, inverted), so each segment
stays exact: a remote delete of the user's typing removes it from the journal, a
remote insert inside it splits it.  Positions are code points.

An edit the replica refused (``in_replica=False``) goes in a *pinned* segment of
its own, which only :meth:`Journal.rebase` drops; a confirmed segment behind it is
moved underneath it the same way and dropped, so it is never typed twice.

Before :meth:`Journal.rebase`, tell :meth:`Journal.confirmed` what of ours the
server's copy holds (the next seq of our agent in it): an op the server has but
never acknowledged would otherwise be typed again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .textchange import (
    Component,
    Delete,
    Edit,
    Insert,
    Retain,
    TextChange,
    compose,
    compose_all,
    diff,
    from_edit,
    from_edits,
    transform,
)

__all__ = ["Journal", "Rebased", "Segment"]


@dataclass(slots=True)
class Segment:
    """Edits of one flush (or the ones not flushed yet): ``change`` turns the text
    before them into the text after them.

    ``seq_end``: the ops carrying them are below this seq of our agent (``None``:
    not sent yet).  ``pinned``: they were not applied to the replica (so no op
    carries them), and only :meth:`Journal.rebase` may drop them."""

    change: TextChange
    seq_end: int | None = None
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class Rebased:
    """What :meth:`Journal.rebase` gives the caller.

    ``on_server`` turns the server's text into ``text`` (make them as new local
    ops on the new replica); ``on_view`` turns the text the user saw into the
    same ``text`` (for an editor showing it)."""

    on_server: list[Edit]
    on_view: list[Edit]
    text: str


def _swap(seg: TextChange, later: TextChange) -> tuple[TextChange, TextChange]:
    """``(later', seg')`` with ``later'`` then ``seg'`` equal to ``seg`` then ``later``.

    ``later'`` is over ``seg``'s base.  ``seg'`` is the inverse of ``seg``
    transformed over ``later``, inverted: it keeps ``seg``'s own texts (all known),
    minus what ``later`` deleted of them, split where ``later`` inserted inside."""
    back, moved = transform(seg.invert(), later)
    return moved, back.invert()


def _marks(user: TextChange) -> tuple[list[tuple[int, int]], list[int]]:
    """The spans of the base ``user`` deletes, and the base positions it inserts at."""
    spans: list[tuple[int, int]] = []
    points: list[int] = []
    pos = 0
    for op in user.ops:
        if isinstance(op, Insert):
            points.append(pos)
        else:
            if isinstance(op, Delete):
                spans.append((pos, pos + op.length))
            pos += op.length
    return spans, points


def _slide_deletes(aligned: TextChange, base: str, user: TextChange) -> TextChange:
    """``aligned`` (a diff of ``base``) with each span it only deletes slid, within
    repeated text, to where it covers most of what ``user`` deletes, then has the
    fewest of ``user``'s inserts strictly inside it (ties: nearest to where the
    diff put it, then leftmost).

    Why: a deleted run inside repeated text can sit at several places
    ("hello cruel world" -> "hello world" deletes " cruel" or "cruel ").  If the
    server lost the text the user deleted, the diff must delete *those*
    characters, or the user's delete and the server's together take out one
    character too many; and a character the user typed should not be stranded
    inside a span the server deleted when the span can sit next to it."""
    spans, points = _marks(user)
    if not spans and not points:
        return aligned
    gaps: list[_Gap] = []  # the canonical form's gaps, each after the characters kept before it
    kept, after_delete = 0, False
    for op in aligned.ops:
        if isinstance(op, Retain):
            kept, after_delete = op.length, False
        elif isinstance(op, Delete):
            gaps.append(_Gap(kept, op.length, ""))
            kept, after_delete = 0, True
        elif after_delete:
            gaps[-1].inserted = op.text
            after_delete = False
        else:
            gaps.append(_Gap(kept, 0, op.text))
            kept = 0
    pos = 0
    for k, gap in enumerate(gaps):
        pos += gap.kept
        if gap.deleted and not gap.inserted:
            room = gaps[k + 1].kept if k + 1 < len(gaps) else len(base) - pos - gap.deleted
            t = _best_slide(base, pos, pos + gap.deleted, gap.kept, room, spans, points)
            gap.kept += t
            if k + 1 < len(gaps):
                gaps[k + 1].kept -= t
            pos += t
        pos += gap.deleted
    ops: list[Component] = []
    pos = 0
    for gap in gaps:
        pos += gap.kept
        ops += [Retain(gap.kept), Delete(base[pos : pos + gap.deleted], gap.deleted), Insert(gap.inserted)]
        pos += gap.deleted
    return TextChange(ops)


@dataclass(slots=True)
class _Gap:
    kept: int
    deleted: int
    inserted: str


def _best_slide(
    base: str, s: int, e: int, room_left: int, room_right: int, spans: list[tuple[int, int]], points: list[int]
) -> int:
    """The shift of the deleted run ``base[s:e]`` chosen by :func:`_slide_deletes`."""
    left = 0
    while left < room_left and base[s - 1 - left] == base[e - 1 - left]:
        left += 1
    right = 0
    while right < room_right and base[s + right] == base[e + right]:
        right += 1
    lo0, hi0 = s - left, e + right
    near = [(a, b) for a, b in spans if a < hi0 and b > lo0]
    near_points = [p for p in points if lo0 < p < hi0]
    if (left == 0 and right == 0) or (not near and not near_points):
        return 0
    width = hi0 - lo0
    covered = [0] * (width + 1)  # covered[i]: user-deleted characters in base[lo0 : lo0 + i]
    marks = [0] * width
    for a, b in near:
        for i in range(max(a, lo0), min(b, hi0)):
            marks[i - lo0] = 1
    for i in range(width):
        covered[i + 1] = covered[i] + marks[i]
    below = [0] * (width + 1)  # below[i]: user insert positions < lo0 + i
    for p in near_points:
        below[p - lo0 + 1] += 1
    for i in range(width):
        below[i + 1] += below[i]
    best, best_score = 0, (covered[e - lo0] - covered[s - lo0], below[s - lo0 + 1] - below[e - lo0])
    for t in range(-left, right + 1):
        lo, hi = s + t - lo0, e + t - lo0
        score = (covered[hi] - covered[lo], below[lo + 1] - below[hi])  # (cover, -inserts inside)
        if score > best_score or (score == best_score and (abs(t), t) < (abs(best), best)):
            best, best_score = t, score
    return best


class Journal:
    """The user's own edits the server has not confirmed, as text changes of the
    text the user sees (see the module docstring)."""

    __slots__ = ("_segments",)

    def __init__(self) -> None:
        self._segments: list[Segment] = []  # oldest first; the unsent ones at the end

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The segments, oldest first (copies: changing them does not change the journal)."""
        return tuple(Segment(s.change, s.seq_end, s.pinned) for s in self._segments)

    @property
    def empty(self) -> bool:
        """Whether no edit is waiting for the server (identity segments are never kept)."""
        return not self._segments

    def local(self, pos: int, deleted: str, inserted: str, *, in_replica: bool = True) -> None:
        """The user replaced ``deleted`` (the exact text that was there) at ``pos``
        by ``inserted``, in the text the user sees.

        ``in_replica=False``: the edit could not be applied to the local replica
        (its engine refused it), so no op will carry it: it goes in a segment of its
        own that :meth:`confirmed` never drops, only :meth:`rebase`.

        Cost: one compose with the open segment, O(places edited since the last
        flush) -- typing next to the previous keystroke extends the same insert."""
        if not isinstance(deleted, str) or not isinstance(inserted, str):
            raise TypeError("local() needs the deleted and inserted texts as str")
        if not deleted and not inserted:
            return
        change = from_edit(pos, deleted, inserted)
        pinned = not in_replica
        segs = self._segments
        last = segs[-1] if segs else None
        if last is not None and last.seq_end is None and last.pinned == pinned:
            last.change = compose(last.change, change)
            if last.change.is_identity:
                segs.pop()
        else:
            segs.append(Segment(change, None, pinned))

    def remote(self, edits: Iterable[Edit]) -> None:
        """The visible text changed by ``edits`` that are not the user's (remote ops
        merged, a catch-up), each in the coordinates the previous one left: keep
        the segments in the coordinates of the new text.  O(1) when empty."""
        if not self._segments:
            return
        change = from_edits(edits)
        if change.is_identity:
            return
        for seg in reversed(self._segments):
            change, seg.change = _swap(seg.change, change)
        self._segments = [s for s in self._segments if not s.change.is_identity]

    def flushed(self, seq_end: int) -> None:
        """Every local edit recorded so far went into our agent's ops below
        ``seq_end``, which were sent: close the open segments with that tag."""
        for seg in self._segments:
            if seg.seq_end is None:
                seg.seq_end = seq_end

    def confirmed(self, seq_end: int) -> None:
        """The server holds every op of ours below ``seq_end`` (an ACK): forget the
        edits they carried.  Calls may come in any order (a smaller one is a no-op).

        A confirmed segment behind a pinned one (an edit the replica refused) is
        moved underneath it, as in :meth:`remote`, and then dropped: kept, it would
        be typed again at the next rebase over a server text that already has it."""
        kept: list[Segment] = []
        for seg in self._segments:
            if seg.seq_end is None or seg.seq_end > seq_end or seg.pinned:
                kept.append(seg)
                continue
            change = seg.change
            for older in reversed(kept):
                change, older.change = _swap(older.change, change)
        self._segments = [s for s in kept if not s.change.is_identity]

    def base(self, view: str) -> str:
        """``view`` (the text the user sees now) without the unconfirmed edits;
        :class:`~.textchange.ChangeMismatch` if the journal does not fit ``view``."""
        return self._combined().invert().apply(view)

    def rebase(self, view: str, server: str) -> Rebased:
        """The replica is being replaced by the server's copy, whose text is ``server``:
        the user's unconfirmed edits, placed on it.

        ``diff(base(view), server)`` lines the two texts up (its pure deletes slid
        onto what the user deleted, see :func:`_slide_deletes`); the user's edits are
        transformed over it (where both insert at one place the server's text comes
        first), so they land at the same places relative to the text both share: a
        server that lost the end of the text still gets the typing at its new end,
        a user's delete of text the server no longer has is a no-op, garbage in the
        replica is left behind.  Afterwards the journal holds exactly the re-typed
        edits, as one unflushed segment over ``server``."""
        user = self._combined()
        base = user.invert().apply(view)
        aligned = _slide_deletes(diff(base, server), base, user)
        on_view, on_server = transform(aligned, user)
        text = on_server.apply(server)
        self._segments = [] if on_server.is_identity else [Segment(on_server)]
        return Rebased(on_server.to_edits(), on_view.to_edits(), text)

    def _combined(self) -> TextChange:
        return compose_all(s.change for s in self._segments)
