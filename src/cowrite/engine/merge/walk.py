"""The walk: replaying ops into the temporary CRDT state and emitting the new ones as edits.

Before each op the *prepare version* of the state is moved to the op's parents
(:meth:`Walk.move_to`: retreat the ops not in them, advance the ones that are),
then the op is applied there.  Each item also tracks whether it is deleted in
the *effect version* (everything walked so far), which is the branch text plus
what has been emitted; a new op is emitted at its effect position.  Concurrent
inserts at one place are ordered by the Fugue rule (:meth:`Walk.integrate`).
At critical points the state is thrown away, and a stretch with no concurrency
at all is applied to the text directly (:func:`direct`).

A walk can carry a :class:`Tracker` (``locate`` does): it follows chosen
characters through the walk.  The walk calls it at a few hooks and otherwise
knows nothing about it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ...errors import InvalidOpError
from ..causal_graph import Frontier
from ..oplog import DEL_BACK, DEL_FWD, INS, OpLog
from . import items
from .items import INSERTED, NO_ITEM, NYI, PLACEHOLDER_LEN, Span, State
from .plan import END, ROOT, Piece, critical_points

__all__ = ["CHECK", "Tracker", "Walk", "XfOp", "direct"]

XfOp = tuple[int, int, str | int]
"""A transformed edit for the branch text: ``(INS, pos, text)`` or ``(DEL_FWD, pos, length)``."""

CHECK = False
"""Tests: verify the state's cached counts after every walked piece."""


class Tracker(Protocol):
    """Follows characters through a walk (see ``locate.py``).

    While ``keys`` is None the tracked characters are described by index in the
    effect text and the state is a bare placeholder; otherwise ``keys[i]`` is the
    id of tracked character ``i``'s item in the state.
    """

    keys: list[int] | None

    def find(self, st: State) -> None:
        """Identify the characters (indices in the effect text) as items of ``st``."""

    def extract(self, st: State) -> None:
        """Read every character's index and liveness off ``st`` (before it is reset)."""

    def seed(self, st: State) -> None:
        """Put index-described characters into a fresh placeholder state."""

    def direct(self, kind: int, lv: int, pos: int, n: int) -> None:
        """Move index-described characters over one op run applied to the text."""

    def deleted(self, item: int, by: int) -> None:
        """Delete op ``by`` removed item ``item`` (a single-item span) in the state."""


def direct(
    oplog: OpLog,
    true_len: int,
    start: int,
    end: int,
    out: list[XfOp],
    ins_lvs: list[int] | None,
    on_op: Callable[[int, int, int, int], None] | None = None,
) -> int:
    """Append the edits of ops ``start..end`` (no concurrency) to ``out``, checking each
    against the text length, which starts at ``true_len``; return the length after them.
    ``on_op(kind, lv, pos, n)`` sees each op first (a tracker)."""
    for ps, pe, kind, pos, content in oplog.iter_ops(start, end):
        if on_op is not None:
            on_op(kind, ps, pos, pe - ps)
        if kind == INS:
            if pos > true_len:
                raise InvalidOpError(f"insert at {pos} past the end of a {true_len}-character document")
            out.append((INS, pos, content))
            if ins_lvs is not None:
                ins_lvs.append(ps)
            true_len += pe - ps
        else:
            ln = pe - ps
            if pos + ln > true_len:
                raise InvalidOpError(f"delete of {ln} at {pos} past the end of a {true_len}-character document")
            out.append((DEL_FWD, pos, ln))
            true_len -= ln
    return true_len


def _advance(frontier: Frontier, parents: Frontier, lv: int) -> Frontier:
    """The frontier after walking ``lv`` (made on ``parents``) on top of ``frontier``."""
    if frontier == parents:
        return (lv,)
    keep = [x for x in frontier if x not in parents]  # sorted, as the frontier is
    keep.append(lv)
    if len(keep) > 1 and keep[-2] > lv:  # pieces mostly come in LV order: rarely needed
        keep.sort()
    return tuple(keep)


class Walk:
    """One merge walk over ``pieces`` from the critical version ``common``.

    ``text_len`` is the branch text's length (what new ops are checked against);
    emitted edits go to ``out``.  A walk kept in a ``MergeCache`` is run again
    with more pieces: the fields after ``tracker`` carry its progress.
    """

    __slots__ = (
        "oplog", "pieces", "version", "text_len", "out", "st", "offset",
        "lvs_out", "tracker", "base", "walked_frontier", "fresh", "offset_known",
    )

    def __init__(self, oplog: OpLog, pieces: list[Piece], common: Frontier, text_len: int, out: list[XfOp]) -> None:
        self.oplog = oplog
        self.pieces = pieces
        self.version: Frontier = common  # the prepare version of the state
        self.text_len = text_len
        self.out = out
        self.st = State()
        self.offset = -1  # effect_len - true effect length, once known
        self.lvs_out: list[int] | None = None
        self.tracker: Tracker | None = None
        # Carried from one run to the next when the walk is cached (MergeCache):
        self.base: Frontier = common  # the version the state's placeholder stands for
        self.walked_frontier: Frontier = common  # the frontier of everything walked
        self.fresh = True  # the state is a bare placeholder
        self.offset_known = False

    def run(self) -> None:
        pieces = self.pieces
        n = len(pieces)
        crit = critical_points(pieces)
        tracker = self.tracker
        walked_frontier = self.walked_frontier
        fresh = self.fresh
        offset_known = self.offset_known
        i = 0
        while i < n:
            s, e, par, emit = pieces[i]
            if emit and not offset_known:
                self.offset = self.st.effect_len - self.text_len
                offset_known = True
                if tracker is not None and not fresh:
                    tracker.find(self.st)
            ci = crit[i]
            at_critical = ci is not None and (
                (ci == ROOT and not walked_frontier) or (len(walked_frontier) == 1 and walked_frontier[0] == ci)
            )
            if at_critical and emit:
                if not fresh:
                    if tracker is not None:
                        tracker.extract(self.st)
                    true_len = self.st.effect_len - self.offset
                    self.st = State()
                    self.offset = PLACEHOLDER_LEN - true_len
                    fresh = True
                self.version = par
                self.base = par
                # a stretch with no concurrency: apply straight to the text
                nxt = crit[i + 1]
                if nxt is not None and (nxt == END or nxt == e - 1):
                    self.apply_direct(s, e)
                    walked_frontier = (e - 1,)
                    self.version = walked_frontier
                    self.base = walked_frontier
                    i += 1
                    continue
            elif at_critical and tracker is None:
                # Catching up on ops the branch has (a cached walk): past a critical
                # point nothing walked before matters, so the state starts over from
                # a placeholder, and the effect offset is measured again at the first
                # new op (the branch text is then exactly the effect text).
                if not fresh:
                    self.st = State()
                    fresh = True
                offset_known = False
                self.version = par
                self.base = par
                nxt = crit[i + 1]
                if nxt is not None and (nxt == END or nxt == e - 1):
                    # no concurrency until the next critical point: nothing to walk
                    walked_frontier = (e - 1,)
                    self.version = walked_frontier
                    self.base = walked_frontier
                    i += 1
                    continue
            if fresh and emit and tracker is not None:
                tracker.seed(self.st)
            fresh = False
            self.move_to(par)
            self.apply(s, e, emit)
            if CHECK:
                self.st.check()
            self.version = (e - 1,)
            walked_frontier = _advance(walked_frontier, par, e - 1)
            i += 1
        self.walked_frontier = walked_frontier
        self.fresh = fresh
        self.offset_known = offset_known
        if tracker is not None:
            tracker.extract(self.st)

    # -- direct application (no concurrency) ----------------------------------------

    def apply_direct(self, s: int, e: int) -> None:
        tracker = self.tracker
        true_len = direct(
            self.oplog, self.st.effect_len - self.offset, s, e, self.out, self.lvs_out,
            None if tracker is None else tracker.direct,
        )
        # the fresh placeholder now stands for the text after these ops
        self.offset = PLACEHOLDER_LEN - true_len

    # -- moving the prepare version ------------------------------------------------

    def move_to(self, target: Frontier) -> None:
        if self.version == target:
            return
        only_cur, only_target = self.oplog.cg.diff(self.version, target)
        for s, e in reversed(only_cur):
            self.retreat_advance(s, e, -1)
        for s, e in only_target:
            self.retreat_advance(s, e, 1)
        self.version = target

    def retreat_advance(self, start: int, end: int, step: int) -> None:
        st = self.st
        pieces = list(self.oplog.iter_ops(start, end))
        if step < 0:
            pieces.reverse()
        for s, e, kind, _pos, _content in pieces:
            if kind == INS:
                for span in st.spans_in(s, e):
                    # an insert is advanced from NYI / retreated from INSERTED
                    if step > 0:
                        span.state = INSERTED
                        span.chunk.visible += span.n
                        st.visible_len += span.n
                    else:
                        span.state = NYI
                        span.chunk.visible -= span.n
                        st.visible_len -= span.n
            else:
                for ts, te in st.delete_targets(s, e):
                    for span in st.spans_in(ts, te):
                        old = span.state
                        st.set_state(span, old + step)
                        if old == INSERTED:
                            st.visible_len -= span.n
                        elif span.state == INSERTED:
                            st.visible_len += span.n

    # -- applying ops at the prepare version -----------------------------------------

    def apply(self, s: int, e: int, emit: bool) -> None:
        for ps, pe, kind, pos, content in self.oplog.iter_ops(s, e):
            if kind == INS:
                self.insert(ps, pos, content, emit)
            else:
                self.delete(ps, pe, kind, pos, emit)

    def check_len(self, pos: int, n: int, emit: bool, what: str) -> None:
        if emit:
            true_len = self.st.visible_len - self.offset
            if pos + n > true_len:
                raise InvalidOpError(f"{what} at {pos} past the end of a {true_len}-character document")

    def find(self, pos: int) -> tuple[int, int, int]:
        """Cursor ``(ci, j)`` just after the ``pos``-th visible item (splitting a span
        if needed), and the effect position there."""
        st = self.st
        if pos == 0:
            return 0, 0, 0
        rem = pos  # visible items still to pass
        effect = 0
        ci = 0
        for ch in st.chunks:
            v = ch.visible
            if v < rem:  # the item is further on: skip the whole chunk
                rem -= v
                effect += ch.effect
                ci += 1
                continue
            j = 0
            for span in ch.spans:
                j += 1
                n = span.n
                if span.state == INSERTED:
                    if n >= rem:
                        if rem < n:
                            st.split_span(span, rem, j - 1)
                        if not span.deleted:
                            effect += rem
                        return ci, j, effect
                    rem -= n
                if not span.deleted:
                    effect += n
            ci += 1
        raise InvalidOpError(f"position {pos} past the end of the document")  # pragma: no cover

    def insert(self, lv: int, pos: int, content: str, emit: bool) -> None:
        st = self.st
        if emit:  # check_len, inline: the per-keystroke path
            true_len = st.visible_len - self.offset
            if pos > true_len:
                raise InvalidOpError(f"insert at {pos} past the end of a {true_len}-character document")
        if st.big:
            st.rebalance()
        ci, j, effect = self.find(pos)
        chunks = st.chunks
        left = chunks[ci].spans[j - 1] if j else chunks[ci - 1].spans[-1] if ci else None  # before(), inline
        origin_left = NO_ITEM if left is None else left.lv + left.n - 1
        # Fugue right parent: the next item that is not concurrent, if it has the same left origin
        origin_right = NO_ITEM
        concurrent = False  # the item right at the insert point is not yet inserted
        sci = ci
        sj = j
        spans = chunks[ci].spans
        while True:
            if sj == len(spans):
                if sci + 1 == len(chunks):
                    break
                sci += 1
                sj = 0
                spans = chunks[sci].spans
            nxt = spans[sj]
            if nxt.state != NYI:
                if nxt.origin_left == origin_left:
                    origin_right = nxt.lv
                break
            concurrent = True
            sj += 1
        if concurrent:
            ci, j, effect = self.integrate(lv, origin_left, origin_right, ci, j, effect)
        n = len(content)
        st.insert_span(ci, j, Span(lv, n, origin_left, origin_right, INSERTED, False))
        st.visible_len += n
        st.effect_len += n
        if emit:
            self.out.append((INS, effect, content))
            if self.lvs_out is not None:
                self.lvs_out.append(lv)

    def integrate(
        self, lv: int, origin_left: int, origin_right: int, ci: int, j: int, effect: int
    ) -> tuple[int, int, int]:
        """Fugue/YjsMod: where among concurrent items at cursor ``(ci, j)`` the new
        item goes (a cursor and its effect position)."""
        st = self.st
        chunks = st.chunks
        left = st.index_of(origin_left)  # the item before the insert point
        end = (len(chunks), 0, 0)
        right = end if origin_right == NO_ITEM else st.index_of(origin_right)
        cg = self.oplog.cg
        me = cg.lv_to_raw(lv)
        scanning = False
        sci = ci
        sj = j
        spans = chunks[sci].spans
        scan_effect = effect
        while True:
            if sj == len(spans):
                if sci + 1 == len(chunks):
                    break
                sci += 1
                sj = 0
                spans = chunks[sci].spans
            other = spans[sj]
            if other.state != NYI:
                break
            oleft = st.index_of(other.origin_left)
            if oleft < left:
                break
            if oleft == left:
                oright = end if other.origin_right == NO_ITEM else st.index_of(other.origin_right)
                if oright == right and me < cg.lv_to_raw(other.lv):
                    break
                scanning = oright < right
            if not other.deleted:
                scan_effect += other.n
            sj += 1
            if not scanning:
                ci = sci
                j = sj
                effect = scan_effect
        return ci, j, effect

    def delete(self, s: int, e: int, kind: int, pos: int, emit: bool) -> None:
        st = self.st
        n = e - s
        self.check_len(pos, n, emit, f"delete of {n}")
        if st.big:
            st.rebalance()
        ci, j, effect = self.find(pos)
        chunks = st.chunks
        ch = chunks[ci]
        remaining = n
        done = 0  # items deleted so far, in document order
        out = self.out
        tracker = self.tracker
        while remaining:
            if j == len(ch.spans):
                ci += 1
                ch = chunks[ci]
                j = 0
                while ch.visible == 0:  # nothing visible in the chunk: skip it whole
                    effect += ch.effect
                    ci += 1
                    ch = chunks[ci]
            span = ch.spans[j]
            if span.state != INSERTED:
                if not span.deleted:
                    effect += span.n
                j += 1
                continue
            k = span.n
            if k > remaining:
                st.split_span(span, remaining, j)
                k = remaining
            if kind == DEL_BACK:
                d0 = e - done - k
                st.add_delete_target(d0, k, span.lv + k - 1, items.DELETE_BACKWARD)
            else:
                d0 = s + done
                st.add_delete_target(d0, k, span.lv, items.DELETE_FORWARD)
            if k == 1 and tracker is not None and tracker.keys is not None:
                tracker.deleted(span.lv, d0)
            span.state = 1  # was INSERTED: now deleted once
            ch.visible -= k
            st.visible_len -= k
            if not span.deleted:
                span.deleted = True
                ch.effect -= k
                st.effect_len -= k
                if emit:
                    if out and out[-1][0] == DEL_FWD and out[-1][1] == effect:
                        out[-1] = (DEL_FWD, effect, out[-1][2] + k)  # type: ignore[operator]
                    else:
                        out.append((DEL_FWD, effect, k))
            done += k
            remaining -= k
            j += 1
