"""The merge's temporary CRDT state: items (characters) as spans, in document order.

While a merge walks concurrent history it needs, for a while, what a CRDT keeps
for ever: every character as an item with its origins, whether it is visible at
the version being prepared, and whether it is deleted in the effect version.
This module holds that state and nothing else:

* :class:`Span` -- a run of items inserted by consecutive LVs;
* :class:`Chunk` -- consecutive spans with their visible lengths summed, so a
  search by position skips whole chunks;
* :class:`State` -- the chunks in document order, an index from LV to span, and
  the targets of the delete ops walked (which items each delete removed).

A state starts as one *placeholder* span that stands for the whole document at
the critical version the walk starts from: its characters are never needed,
only that they have positions.  Placeholder items have ids from
:data:`PLACEHOLDER` up, which no real LV reaches.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterator

__all__ = [
    "CHUNK_MAX",
    "DELETE_BACKWARD",
    "DELETE_FORWARD",
    "INSERTED",
    "NYI",
    "NO_ITEM",
    "PLACEHOLDER",
    "PLACEHOLDER_LEN",
    "Chunk",
    "Span",
    "State",
    "before",
    "counts",
]

NYI = -1
"""``Span.state``: not yet inserted at the prepare version."""
INSERTED = 0
"""``Span.state``: visible at the prepare version; ``k >= 1``: deleted ``k`` times there."""

NO_ITEM = -1
"""An origin that is no item: the document start (left) or end (right)."""

PLACEHOLDER = 1 << 62
"""Ids of placeholder items: never a real LV."""
PLACEHOLDER_LEN = 1 << 40
"""The placeholder's length: longer than any document, so every position fits in it."""

CHUNK_MAX = 32
"""Spans a chunk may hold before it is cut into halves (tests make it tiny)."""

DELETE_FORWARD = 1
DELETE_BACKWARD = -1
"""How a delete record maps its ops to its targets (see :meth:`State.add_delete_target`)."""


class Span:
    """A run of items (characters) inserted by consecutive LVs ``lv .. lv + n - 1``.

    ``origin_left`` is the left origin of the first item (each later item's is its
    predecessor); ``origin_right`` is the Fugue right parent of the first item
    (every later item's is :data:`NO_ITEM`).  ``state`` is the items' state at the
    prepare version (:data:`NYI`, :data:`INSERTED` or a delete count), ``deleted``
    whether they are deleted in the effect version.  ``chunk`` is the chunk that
    holds the span (set when the span is placed).
    """

    __slots__ = ("lv", "n", "origin_left", "origin_right", "state", "deleted", "chunk")

    chunk: Chunk

    def __init__(self, lv: int, n: int, origin_left: int, origin_right: int, state: int, deleted: bool) -> None:
        self.lv = lv
        self.n = n
        self.origin_left = origin_left
        self.origin_right = origin_right
        self.state = state
        self.deleted = deleted

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return (
            f"<{self.lv}+{self.n} left={self.origin_left} right={self.origin_right}"
            f" state={self.state} deleted={self.deleted}>"
        )


class Chunk:
    """Consecutive spans of the state, with their visible lengths summed.

    ``visible``: items visible at the prepare version (spans with ``state ==
    INSERTED``); ``effect``: items visible at the effect version (spans not
    ``deleted``).  ``idx`` is the chunk's index in ``State.chunks``.
    """

    __slots__ = ("spans", "visible", "effect", "idx")

    def __init__(self, spans: list[Span], idx: int) -> None:
        self.spans = spans
        self.idx = idx
        for span in spans:
            span.chunk = self
        self.visible, self.effect = counts(spans)


def counts(spans: list[Span]) -> tuple[int, int]:
    """(items visible at the prepare version, items visible at the effect version)."""
    visible = 0
    effect = 0
    for span in spans:
        if span.state == INSERTED:
            visible += span.n
        if not span.deleted:
            effect += span.n
    return visible, effect


def before(chunks: list[Chunk], ci: int, j: int) -> Span | None:
    """The span just before cursor ``(ci, j)`` (None at the document start)."""
    if j:
        return chunks[ci].spans[j - 1]
    if ci:
        return chunks[ci - 1].spans[-1]
    return None


class State:
    """The temporary CRDT: spans in document order, indexed by LV.

    Document order is a list of chunks, each a list of spans (see :class:`Chunk`).
    A place in it is a *cursor* ``(ci, j)``: before span ``j`` of chunk ``ci``
    (``j`` may be the chunk's length: after its last span).  Splitting a span or
    inserting one only grows its chunk; an oversized chunk is cut in two by
    :meth:`rebalance`, which moves spans between chunks and so invalidates cursors:
    it runs only at the start of an operation, never while a cursor is held.
    """

    __slots__ = ("chunks", "big", "starts", "by_start", "del_starts", "dels", "visible_len", "effect_len")

    def __init__(self) -> None:
        ph = Span(PLACEHOLDER, PLACEHOLDER_LEN, NO_ITEM, NO_ITEM, INSERTED, False)
        self.chunks: list[Chunk] = [Chunk([ph], 0)]
        self.big: list[Chunk] = []  # chunks that grew past CHUNK_MAX
        self.starts: list[int] = [PLACEHOLDER]  # sorted span start LVs
        self.by_start: dict[int, Span] = {PLACEHOLDER: ph}
        self.del_starts: list[int] = []  # sorted first LVs of delete-target records
        self.dels: dict[int, tuple[int, int, int]] = {}  # d0 -> (k, t0, direction)
        self.visible_len = PLACEHOLDER_LEN  # visible length at the prepare version (incl. placeholder)
        self.effect_len = PLACEHOLDER_LEN  # visible length at the effect version (incl. placeholder)

    # -- document order ------------------------------------------------------------

    def spans(self) -> Iterator[Span]:
        """Every span, in document order."""
        for ch in self.chunks:
            yield from ch.spans

    def insert_span(self, ci: int, j: int, span: Span) -> None:
        """Place a new span at cursor ``(ci, j)`` (``visible_len``/``effect_len`` are the caller's)."""
        ch = self.chunks[ci]
        ch.spans.insert(j, span)
        span.chunk = ch
        if span.state == INSERTED:
            ch.visible += span.n
        if not span.deleted:
            ch.effect += span.n
        if len(ch.spans) > CHUNK_MAX:
            self.big.append(ch)
        insort(self.starts, span.lv)
        self.by_start[span.lv] = span

    def set_state(self, span: Span, state: int) -> None:
        """Set ``span.state``, keeping its chunk's count (``visible_len`` is the caller's)."""
        was = span.state == INSERTED
        span.state = state
        if was != (state == INSERTED):
            span.chunk.visible += span.n if not was else -span.n

    def rebalance(self) -> None:
        """Cut every chunk that grew past ``CHUNK_MAX`` into chunks of half that."""
        if not self.big:
            return
        chunks = self.chunks
        low = len(chunks)
        half = max(1, CHUNK_MAX // 2)
        for ch in self.big:
            spans = ch.spans
            if len(spans) <= CHUNK_MAX:
                continue  # listed twice, or already cut
            i = chunks.index(ch)
            ch.spans = spans[:half]
            ch.visible, ch.effect = counts(ch.spans)
            chunks[i + 1 : i + 1] = [Chunk(spans[k : k + half], 0) for k in range(half, len(spans), half)]
            low = min(low, i)
        self.big = []
        for k in range(low, len(chunks)):
            chunks[k].idx = k

    def check(self) -> None:
        """Debugging aid (tests): recompute every cached count and link and compare."""
        visible_len = 0
        effect_len = 0
        lvs = []
        for k, ch in enumerate(self.chunks):
            assert ch.spans, "empty chunk"
            assert ch.idx == k, f"chunk {k} thinks it is {ch.idx}"
            for span in ch.spans:
                assert span.chunk is ch, f"{span} does not know its chunk"
                assert self.by_start[span.lv] is span
                lvs.append(span.lv)
            got = (ch.visible, ch.effect)
            assert got == counts(ch.spans), f"chunk {k}: counts {got} != {counts(ch.spans)}"
            visible_len += ch.visible
            effect_len += ch.effect
        assert sorted(lvs) == self.starts, "span starts out of step"
        assert visible_len == self.visible_len, f"visible_len {self.visible_len} != {visible_len}"
        assert effect_len == self.effect_len, f"effect_len {self.effect_len} != {effect_len}"

    # -- lookup by LV --------------------------------------------------------------

    def split(self, lv: int) -> None:
        """Make sure a span starts at ``lv`` (if ``lv`` is inside a span)."""
        if self.big:
            self.rebalance()
        starts = self.starts
        i = bisect_right(starts, lv) - 1
        s0 = starts[i]
        if s0 == lv:
            return
        span = self.by_start[s0]
        k = lv - s0
        if k >= span.n:
            return
        self.split_span(span, k, span.chunk.spans.index(span))

    def split_span(self, span: Span, k: int, j: int) -> Span:
        """Cut ``span`` (span ``j`` of its chunk) after ``k`` items; returns the second part."""
        lv = span.lv + k
        origin_left = NO_ITEM if span.lv >= PLACEHOLDER else lv - 1
        second = Span(lv, span.n - k, origin_left, NO_ITEM, span.state, span.deleted)
        span.n = k
        ch = span.chunk
        ch.spans.insert(j + 1, second)  # both parts in one chunk: its counts stay right
        second.chunk = ch
        if len(ch.spans) > CHUNK_MAX:
            self.big.append(ch)
        insort(self.starts, lv)
        self.by_start[lv] = second
        return second

    def spans_in(self, start: int, end: int) -> list[Span]:
        """The spans holding items ``[start, end)``, split so they fit exactly."""
        self.split(start)
        self.split(end)
        starts = self.starts
        i = bisect_right(starts, start) - 1
        out = []
        by_start = self.by_start
        while i < len(starts) and starts[i] < end:
            out.append(by_start[starts[i]])
            i += 1
        return out

    def index_of(self, lv: int) -> tuple[int, int, int]:
        """(chunk index, span index in the chunk, offset) of item ``lv``: a key that
        sorts in document order (:data:`NO_ITEM` sorts first)."""
        if lv == NO_ITEM:
            return (-1, 0, 0)
        i = bisect_right(self.starts, lv) - 1
        span = self.by_start[self.starts[i]]
        ch = span.chunk
        return ch.idx, ch.spans.index(span), lv - span.lv

    # -- delete targets ------------------------------------------------------------

    def add_delete_target(self, d0: int, k: int, t0: int, direction: int) -> None:
        """Delete ops ``d0 .. d0 + k - 1`` removed items ``t0, t0 + direction, ...``:
        :data:`DELETE_FORWARD` (the Delete key: targets ascend with the ops) or
        :data:`DELETE_BACKWARD` (Backspace: they descend)."""
        insort(self.del_starts, d0)
        self.dels[d0] = (k, t0, direction)

    def delete_targets(self, start: int, end: int) -> list[tuple[int, int]]:
        """Target LV ranges of the deletes ``[start, end)``."""
        ds = self.del_starts
        i = bisect_right(ds, start) - 1
        if i < 0:
            i = 0
        out = []
        while i < len(ds) and ds[i] < end:
            d0 = ds[i]
            k, t0, direction = self.dels[d0]
            a = max(start, d0)
            b = min(end, d0 + k)
            if a < b:
                if direction == DELETE_FORWARD:
                    out.append((t0 + a - d0, t0 + b - d0))
                else:
                    out.append((t0 - (b - 1 - d0), t0 - (a - d0) + 1))
            i += 1
        return out
