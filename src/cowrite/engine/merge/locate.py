"""Following characters from one version to another: where did they go, are they still there?

Cursors, undo and blame need character identity, which Eg-walker's steady state
(text + op log) does not keep.  :func:`locate` recovers it on demand with one
merge walk that carries a :class:`Probes` tracker: in stretches with no
concurrency the tracked characters are moved by index arithmetic; in concurrent
stretches they are items of the walk's CRDT state, so Fugue decides where they
are; across a reset of the state (a critical version) they are read off by index
and put into the fresh state again, a deleted one as a *tombstone marker*.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..oplog import DEL_BACK, INS, OpLog
from .items import NO_ITEM, PLACEHOLDER, Span, State
from .plan import find_plan, pieces_since
from .walk import Walk

__all__ = ["Located", "Probes", "locate"]


class Located:
    """Where a tracked character ended up: see :func:`locate`."""

    __slots__ = ("pos", "alive", "deleters")

    def __init__(self, pos: int, alive: bool) -> None:
        self.pos = pos
        self.alive = alive
        self.deleters: list[int] = []  # LVs of the delete ops (walked) that hit it

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Located pos={self.pos} alive={self.alive} deleters={self.deleters}>"


UNCHECKED_LEN = 1 << 39
"""A text length that makes every length check pass (the ops are already in the log)."""


def locate(oplog: OpLog, branch: Sequence[int], indices: Sequence[int], target: Sequence[int]) -> list[Located]:
    """Follow characters from version ``branch`` to ``branch ∪ target``.

    ``indices`` name characters of the text at ``branch`` (which must exist there).
    For each, the result says whether it is still there and its index (``pos``) in
    the text at the new version; a deleted character's ``pos`` is where its
    tombstone lies in the Fugue order, i.e. how many surviving characters precede
    it.  ``deleters`` lists every walked delete op that removed it (concurrent
    deletes of one character each count).

    Costs one Eg-walker merge from ``branch`` to ``target``: proportional to the
    ops walked, with stretches that have no concurrency handled as plain index
    arithmetic.  Ops are trusted (they are already in the op log).
    """
    found = [Located(i, True) for i in indices]
    plan = find_plan(oplog.cg, branch, target)
    if plan is not None and found:
        common, spans = plan
        walk = Walk(oplog, pieces_since(oplog.cg, spans), common, UNCHECKED_LEN, [])
        walk.tracker = Probes(found)
        walk.run()
    return found


class Probes:
    """The :class:`~cowrite.engine.merge.walk.Tracker` of :func:`locate`.

    While ``keys`` is None every probe is described by index (``pos``, ``alive``)
    in the effect text; otherwise ``keys[i]`` is the id of probe ``i``'s item.
    """

    __slots__ = ("probes", "keys", "marker")

    def __init__(self, probes: list[Located]) -> None:
        self.probes = probes
        self.keys: list[int] | None = None
        self.marker = PLACEHOLDER  # ids for tombstone markers count down from here

    def find(self, st: State) -> None:
        """Identify the probes (indices in the effect text) as items of the state."""
        keys = []
        for p in self.probes:
            st.rebalance()
            effect = 0
            for ch in st.chunks:
                if effect + ch.effect <= p.pos:
                    effect += ch.effect
                    continue
                j = 0
                while True:
                    span = ch.spans[j]
                    if not span.deleted:
                        if effect + span.n > p.pos:
                            k = p.pos - effect
                            if k:
                                span = st.split_span(span, k, j)
                                j += 1
                            if span.n > 1:
                                st.split_span(span, 1, j)
                            keys.append(span.lv)
                            break
                        effect += span.n
                    j += 1
                break
            else:  # pragma: no cover - probes name characters of the text
                raise IndexError(f"probe {p.pos} past the end of the text")
        self.keys = keys

    def extract(self, st: State) -> None:
        """Read every probe's index and liveness off the state (before a reset)."""
        keys = self.keys
        if keys is None:
            return
        where: dict[int, int] = {}
        for j, k in enumerate(keys):
            where.setdefault(k, j)
        effect = 0
        for span in st.spans():
            j = where.get(span.lv, -1) if span.n == 1 else -1
            if j >= 0:
                for jj in range(j, len(keys)):
                    if keys[jj] == span.lv:
                        self.probes[jj].pos = effect
                        self.probes[jj].alive = not span.deleted
            if not span.deleted:
                effect += span.n
        self.keys = None

    def seed(self, st: State) -> None:
        """Put index-described probes into a fresh placeholder state.

        A live probe is placeholder character ``pos``.  A deleted one becomes a
        dead marker item just before placeholder character ``pos``: later inserts
        at that gap go right after their left neighbour, so before the marker,
        exactly as they would go before the real tombstone.
        """
        if self.keys is not None:
            return
        keys = []
        for p in self.probes:
            if p.alive:
                sp = st.spans_in(PLACEHOLDER + p.pos, PLACEHOLDER + p.pos + 1)
                keys.append(sp[0].lv)
            else:
                if p.pos:
                    st.split(PLACEHOLDER + p.pos)
                st.rebalance()
                self.marker -= 1
                m = Span(self.marker, 1, NO_ITEM, NO_ITEM, 1, True)
                ci = j = 0
                if p.pos:
                    nxt = st.by_start[PLACEHOLDER + p.pos]
                    ci = nxt.chunk.idx
                    j = nxt.chunk.spans.index(nxt)
                st.insert_span(ci, j, m)
                keys.append(m.lv)
        self.keys = keys

    def direct(self, kind: int, lv: int, pos: int, n: int) -> None:
        """Move index-described probes over one op run applied to the text."""
        for p in self.probes:
            if kind == INS:
                if pos <= p.pos:
                    p.pos += n
            elif p.pos >= pos:
                if p.pos >= pos + n:
                    p.pos -= n
                else:
                    if p.alive:
                        p.alive = False
                        k = p.pos - pos
                        p.deleters.append(lv + k if kind != DEL_BACK else lv + n - 1 - k)
                    p.pos = pos

    def deleted(self, item: int, by: int) -> None:
        """Delete op ``by`` removed ``item``: note it on every probe that is that item."""
        keys = self.keys
        if keys is None or item not in keys:
            return
        for jj, key in enumerate(keys):
            if key == item:
                self.probes[jj].deleters.append(by)
