"""The Eg-walker merge: transform ops from the event graph into edits on a branch.

See ``README.md`` beside this file for the algorithm with worked examples.  In short:

1. Find the last *critical version* ``c`` shared by the branch and the ops to merge
   (``CausalGraph.find_conflicting``).  Everything after ``c`` must be walked.
2. Build a temporary CRDT state.  It starts as one *placeholder* span that stands
   for the document at ``c`` (we never need its contents, only its length).
3. Walk the ops since ``c``: first those the branch already has (to rebuild the
   state; nothing is emitted), then the new ones.  Before each op, *retreat* and
   *advance* ops so the state shows the document at the op's parents (its
   "prepare" version); then apply the op there.  Each item also tracks whether it
   is deleted in the *effect* version (everything walked so far), which is the
   branch text plus what we have emitted; new ops are emitted in effect positions.
4. Concurrent inserts at the same place are ordered by the Fugue rule (FugueMax /
   YjsMod): scan the concurrent items after the insert point, using their left and
   right origins, breaking ties by ``(agent, seq)``.
5. Whenever the walk passes a critical version again, the state is thrown away and
   replaced by a fresh placeholder; a run of ops between two critical versions is
   applied to the text directly, with no CRDT work at all.  Sequential history,
   the common case, therefore costs O(1) per run.

The state is discarded after the merge: the steady state of a document is its text
and its op log, nothing else.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Callable, Iterator, Sequence

from .causal_graph import ONLY_B, CausalGraph, Frontier
from .errors import InvalidOpError
from .oplog import DEL_BACK, INS, OpLog

__all__ = ["Located", "MergeCache", "XfOp", "direct_edits", "locate", "merge_ops"]

NYI = -1  # not yet inserted at the prepare version
INSERTED = 0  # visible at the prepare version; >= 1: deleted that many times

_PH = 1 << 62  # ids of placeholder items: never real LVs
_BIG = 1 << 40  # placeholder length: longer than any document

XfOp = tuple[int, int, str | int]
"""A transformed edit for the branch text: (INS, pos, text) or (DEL_FWD, pos, length)."""


class _Span:
    """A run of items (characters) inserted by consecutive LVs.

    ``ol`` is the left origin of the first item (each later item's is its
    predecessor); ``orr`` is the Fugue right parent of the first item (every later
    item's is "none", -1).  ``cur`` is the state at the prepare version, ``dead``
    whether the items are deleted in the effect version.  ``chunk`` is the chunk of
    the state that holds the span (set when the span is placed).
    """

    __slots__ = ("lv", "n", "ol", "orr", "cur", "dead", "chunk")

    chunk: _Chunk

    def __init__(self, lv: int, n: int, ol: int, orr: int, cur: int, dead: bool) -> None:
        self.lv = lv
        self.n = n
        self.ol = ol
        self.orr = orr
        self.cur = cur
        self.dead = dead

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<{self.lv}+{self.n} ol={self.ol} orr={self.orr} cur={self.cur} dead={self.dead}>"


_CHUNK_MAX = 128  # spans a chunk may hold before it is cut into halves
_CHECK = False  # tests: verify the state's cached counts after every walked piece


class _Chunk:
    """Consecutive spans of the state, with their visible lengths summed.

    ``cur``: items visible at the prepare version (spans with ``cur == INSERTED``);
    ``eff``: items visible at the effect version (spans not ``dead``).  Searches by
    position skip a whole chunk by these.  ``idx`` is the chunk's index in
    ``_State.chunks``.
    """

    __slots__ = ("spans", "cur", "eff", "idx")

    def __init__(self, spans: list[_Span], idx: int) -> None:
        self.spans = spans
        self.idx = idx
        for span in spans:
            span.chunk = self
        self.cur, self.eff = _counts(spans)


def _counts(spans: list[_Span]) -> tuple[int, int]:
    cur = 0
    eff = 0
    for span in spans:
        if span.cur == INSERTED:
            cur += span.n
        if not span.dead:
            eff += span.n
    return cur, eff


class _State:
    """The temporary CRDT: spans in document order, indexed by LV.

    Document order is a list of chunks, each a list of spans (see :class:`_Chunk`).
    A place in it is a *cursor* ``(ci, j)``: before span ``j`` of chunk ``ci``
    (``j`` may be the chunk's length: after its last span).  Splitting a span or
    inserting one only grows its chunk; an oversized chunk is cut in two by
    :meth:`rebalance`, which moves spans between chunks and so invalidates cursors:
    it runs only at the start of an operation, never while a cursor is held.
    """

    __slots__ = ("chunks", "big", "starts", "by_start", "del_starts", "dels", "cur_len", "eff_len")

    def __init__(self) -> None:
        ph = _Span(_PH, _BIG, -1, -1, INSERTED, False)
        self.chunks: list[_Chunk] = [_Chunk([ph], 0)]
        self.big: list[_Chunk] = []  # chunks that grew past _CHUNK_MAX
        self.starts: list[int] = [_PH]  # sorted span start LVs
        self.by_start: dict[int, _Span] = {_PH: ph}
        self.del_starts: list[int] = []  # sorted first LVs of delete-target records
        self.dels: dict[int, tuple[int, int, int]] = {}  # d0 -> (k, t0, step)
        self.cur_len = _BIG  # visible length at the prepare version (incl. placeholder)
        self.eff_len = _BIG  # visible length at the effect version (incl. placeholder)

    # -- document order ------------------------------------------------------------

    def spans(self) -> Iterator[_Span]:
        """Every span, in document order."""
        for ch in self.chunks:
            yield from ch.spans

    def insert_span(self, ci: int, j: int, span: _Span) -> None:
        """Place a new span at cursor ``(ci, j)`` (``cur_len``/``eff_len`` are the caller's)."""
        ch = self.chunks[ci]
        ch.spans.insert(j, span)
        span.chunk = ch
        if span.cur == INSERTED:
            ch.cur += span.n
        if not span.dead:
            ch.eff += span.n
        if len(ch.spans) > _CHUNK_MAX:
            self.big.append(ch)
        insort(self.starts, span.lv)
        self.by_start[span.lv] = span

    def set_cur(self, span: _Span, cur: int) -> None:
        """Set ``span.cur``, keeping its chunk's count (``cur_len`` is the caller's)."""
        was = span.cur == INSERTED
        span.cur = cur
        if was != (cur == INSERTED):
            span.chunk.cur += span.n if not was else -span.n

    def rebalance(self) -> None:
        """Cut every chunk that grew past ``_CHUNK_MAX`` into chunks of half that."""
        if not self.big:
            return
        chunks = self.chunks
        low = len(chunks)
        half = max(1, _CHUNK_MAX // 2)
        for ch in self.big:
            spans = ch.spans
            if len(spans) <= _CHUNK_MAX:
                continue  # listed twice, or already cut
            i = chunks.index(ch)
            ch.spans = spans[:half]
            ch.cur, ch.eff = _counts(ch.spans)
            chunks[i + 1 : i + 1] = [_Chunk(spans[k : k + half], 0) for k in range(half, len(spans), half)]
            low = min(low, i)
        self.big = []
        for k in range(low, len(chunks)):
            chunks[k].idx = k

    def check(self) -> None:
        """Debugging aid (tests): recompute every cached count and link and compare."""
        cur_len = 0
        eff_len = 0
        lvs = []
        for k, ch in enumerate(self.chunks):
            assert ch.spans, "empty chunk"
            assert ch.idx == k, f"chunk {k} thinks it is {ch.idx}"
            for span in ch.spans:
                assert span.chunk is ch, f"{span} does not know its chunk"
                assert self.by_start[span.lv] is span
                lvs.append(span.lv)
            assert (ch.cur, ch.eff) == _counts(ch.spans), f"chunk {k}: counts {(ch.cur, ch.eff)} != {_counts(ch.spans)}"
            cur_len += ch.cur
            eff_len += ch.eff
        assert sorted(lvs) == self.starts, "span starts out of step"
        assert cur_len == self.cur_len, f"cur_len {self.cur_len} != {cur_len}"
        assert eff_len == self.eff_len, f"eff_len {self.eff_len} != {eff_len}"

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
        self._split_span(span, k, span.chunk.spans.index(span))

    def _split_span(self, span: _Span, k: int, j: int) -> _Span:
        """Cut ``span`` (span ``j`` of its chunk) after ``k`` items; returns the second part."""
        lv = span.lv + k
        ol = -1 if span.lv >= _PH else lv - 1
        second = _Span(lv, span.n - k, ol, -1, span.cur, span.dead)
        span.n = k
        ch = span.chunk
        ch.spans.insert(j + 1, second)  # both parts in one chunk: its counts stay right
        second.chunk = ch
        if len(ch.spans) > _CHUNK_MAX:
            self.big.append(ch)
        insort(self.starts, lv)
        self.by_start[lv] = second
        return second

    def spans_in(self, start: int, end: int) -> list[_Span]:
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
        sorts in document order."""
        if lv == -1:
            return (-1, 0, 0)
        i = bisect_right(self.starts, lv) - 1
        span = self.by_start[self.starts[i]]
        ch = span.chunk
        return ch.idx, ch.spans.index(span), lv - span.lv

    # -- delete targets ------------------------------------------------------------

    def add_del_target(self, d0: int, k: int, t0: int, step: int) -> None:
        insort(self.del_starts, d0)
        self.dels[d0] = (k, t0, step)

    def del_targets(self, start: int, end: int) -> list[tuple[int, int]]:
        """Target LV ranges of the deletes ``[start, end)``."""
        ds = self.del_starts
        i = bisect_right(ds, start) - 1
        if i < 0:
            i = 0
        out = []
        while i < len(ds) and ds[i] < end:
            d0 = ds[i]
            k, t0, step = self.dels[d0]
            a = max(start, d0)
            b = min(end, d0 + k)
            if a < b:
                if step == 1:
                    out.append((t0 + a - d0, t0 + b - d0))
                else:
                    out.append((t0 - (b - 1 - d0), t0 - (a - d0) + 1))
            i += 1
        return out


class MergeCache:
    """The CRDT state of the last merge, kept for the next one (see :func:`merge_ops`).

    While people keep typing concurrently there is no recent critical version, so
    each merge would re-walk everything since the last one.  Keeping the walker's
    state lets the next merge walk only what was added since: the local edits made
    in between (as ops the branch has) and the new remote ops.
    """

    __slots__ = ("walk", "lv_end", "hits", "misses")

    def __init__(self) -> None:
        self.walk: _Walk | None = None
        self.lv_end = 0  # every LV below this has been walked into ``walk``
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self.walk = None


def merge_ops(
    oplog: OpLog,
    text_len: int,
    branch: Sequence[int],
    merge: Sequence[int],
    ins_lvs: list[int] | None = None,
    cache: MergeCache | None = None,
    new_start: int | None = None,
) -> tuple[list[XfOp], Frontier]:
    """Edits that bring a branch at version ``branch`` (text length ``text_len``) to
    ``branch ∪ merge``, and that version.

    If ``ins_lvs`` is given, the first LV of every emitted insert is appended to it
    (one entry per ``INS`` edit; the inserted characters have consecutive LVs), so a
    caller can keep a map from text positions to character ids.

    ``cache`` (optional) keeps the walker's state between merges of one branch.
    The caller promises that every op already in the log before the first op of
    ``merge`` that the branch lacks is in the branch (true for a document, whose
    branch is always at the log's heads between merges).  On any error the
    caller must ``cache.clear()``.  ``new_start`` (with ``cache``): the new ops are
    exactly the LVs from there to the end of the log; it lets a merge that only
    extends the cached walk skip looking for the critical version.

    Raises :class:`InvalidOpError` (and returns nothing) if a new op does not fit
    the document at its parents; the caller then rolls the op log back.
    """
    out: list[XfOp] = []
    cg = oplog.cg
    new_version = cg.reduce(tuple(branch) + tuple(merge))
    if cache is not None and new_start is not None and _extends(cg, cache, new_start):
        new = [(new_start, cg.next_lv)]
    else:
        common, spans = cg.find_conflicting(branch, merge)
        new = [(s, e) for s, e, f in spans if f == ONLY_B]
        if not new:
            return out, new_version
        if cache is not None and cache.walk is not None and not _resumable(cg, cache, common, spans, new):
            cache.walk = None
    if cache is not None and cache.walk is not None:
        cache.hits += 1
        walk = cache.walk
        pieces: list[tuple[int, int, Frontier, bool]] = []
        for ps, pe, par in cg.iter_range(cache.lv_end, new[0][0]):
            pieces.append((ps, pe, par, False))
        for s, e in new:
            for ps, pe, par in cg.iter_range(s, e):
                pieces.append((ps, pe, par, True))
        walk.pieces = pieces
        walk.out = out
        walk.text_len = text_len
    else:
        if cache is not None:
            cache.misses += 1
        walk = _plan_pieces(oplog, text_len, common, spans, out)
    walk.lvs_out = ins_lvs
    walk.run()
    walk.lvs_out = None
    if cache is not None:
        cache.walk = walk
        cache.lv_end = cg.next_lv
    return out, new_version


def direct_edits(oplog: OpLog, text_len: int, start: int, end: int, ins_lvs: list[int] | None = None) -> list[XfOp]:
    """The edits of ops ``start..end`` when they follow one another on top of a branch
    of ``text_len`` characters: the first op's parents are the branch's version, each
    later op's parent is the op before it.  No concurrency, so no walk: each op is its
    own edit, checked against the text length (as :meth:`_Walk._apply_direct` does).

    Raises :class:`InvalidOpError` if an op does not fit; the caller rolls back.
    """
    out: list[XfOp] = []
    _direct(oplog, text_len, start, end, out, ins_lvs)
    return out


def _direct(
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
    ``on_op(kind, lv, pos, n)`` sees each op first (the walker's probes)."""
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
            out.append((1, pos, ln))
            true_len -= ln
    return true_len


_CATCH_UP = 64  # local ops a cached walk may replay without checking it is worth it


def _extends(cg: CausalGraph, cache: MergeCache, new_start: int) -> bool:
    """Whether ops ``new_start..`` certainly continue the cached walk.

    Every LV the cached walk holds descends from its base (a critical version), and
    so does every later LV whose parents are all at or after the base.  If that
    holds for the new ops, the merge needs nothing before the base: no search for
    the critical version is needed.  Only for a small catch-up of local ops.
    """
    walk = cache.walk
    if walk is None or not cache.lv_end <= new_start < cg.next_lv or new_start - cache.lv_end > _CATCH_UP:
        return False
    base = walk.base
    if len(base) > 1:
        return False
    floor = base[0] if base else -1
    for _, _, par in cg.iter_range(new_start, cg.next_lv):
        for p in par:
            if p < floor:
                return False
        if not par and floor >= 0:
            return False
    return True


def _resumable(
    cg: CausalGraph, cache: MergeCache, common: Frontier, spans: list[tuple[int, int, int]], new: list[tuple[int, int]]
) -> bool:
    """Whether continuing the cached walk is right and no dearer than a fresh one."""
    walk = cache.walk
    assert walk is not None
    if cache.lv_end > new[0][0]:
        return False
    fresh_cost = sum(e - s for s, e, _ in spans)
    if new[0][0] - cache.lv_end > fresh_cost:
        return False  # more local typing to catch up on than a fresh walk needs
    # the cached state starts at ``walk.base``; the merge needs everything since
    # ``common``: fine if ``common`` descends from (or is) the base
    base = walk.base
    return tuple(base) == tuple(common) or not cg.diff(base, common)[0]


class Located:
    """Where a tracked character ended up: see :func:`locate`."""

    __slots__ = ("pos", "alive", "deleters")

    def __init__(self, pos: int, alive: bool) -> None:
        self.pos = pos
        self.alive = alive
        self.deleters: list[int] = []  # LVs of the delete ops (walked) that hit it

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Located pos={self.pos} alive={self.alive} deleters={self.deleters}>"


_UNCHECKED_LEN = 1 << 39  # a text length that makes every length check pass


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
    walk = _plan(oplog, _UNCHECKED_LEN, branch, target, [])
    if walk is not None and found:
        walk.probes = found
        walk.run()
    return found


def _plan(
    oplog: OpLog, text_len: int, branch: Sequence[int], merge: Sequence[int], out: list[XfOp]
) -> _Walk | None:
    common, spans = oplog.cg.find_conflicting(branch, merge)
    if not any(f == ONLY_B for _, _, f in spans):
        return None
    return _plan_pieces(oplog, text_len, common, spans, out)


def _plan_pieces(
    oplog: OpLog, text_len: int, common: Frontier, spans: list[tuple[int, int, int]], out: list[XfOp]
) -> _Walk:
    cg = oplog.cg
    # Pieces to walk, in a topological order: first what the branch has, then the rest.
    pieces: list[tuple[int, int, Frontier, bool]] = []
    for s, e, f in spans:
        if f != ONLY_B:
            for ps, pe, par in cg.iter_range(s, e):
                pieces.append((ps, pe, par, False))
    for s, e, f in spans:
        if f == ONLY_B:
            for ps, pe, par in cg.iter_range(s, e):
                pieces.append((ps, pe, par, True))
    return _Walk(oplog, pieces, common, text_len, out)


class _Walk:
    __slots__ = (
        "oplog", "pieces", "version", "text_len", "out", "st", "offset",
        "lvs_out", "probes", "probe_keys", "marker",
        "base", "walked_frontier", "fresh", "offset_known",
    )

    def __init__(
        self,
        oplog: OpLog,
        pieces: list[tuple[int, int, Frontier, bool]],
        common: Frontier,
        text_len: int,
        out: list[XfOp],
    ) -> None:
        self.oplog = oplog
        self.pieces = pieces
        self.version: Frontier = common  # the prepare version of the state
        self.text_len = text_len
        self.out = out
        self.st = _State()
        self.offset = -1  # eff_len - true effect length, once known
        self.lvs_out: list[int] | None = None
        # Tracked characters (locate): while ``probe_keys`` is None they are
        # described by index (pos, alive) in the effect text and the state is a
        # bare placeholder; otherwise probe_keys[i] is the id of probe i's item.
        self.probes: list[Located] = []
        self.probe_keys: list[int] | None = None
        self.marker = _PH  # ids for tombstone markers count down from here
        # Carried from one run to the next when the walk is cached (MergeCache):
        self.base: Frontier = common  # the version the state's placeholder stands for
        self.walked_frontier: Frontier = common  # the frontier of everything walked
        self.fresh = True  # the state is a bare placeholder
        self.offset_known = False

    def run(self) -> None:
        pieces = self.pieces
        n = len(pieces)
        # External parents of every suffix: a critical point before piece i is where
        # they are exactly the frontier of what has been walked.
        crit: list[int | None] = [None] * (n + 1)
        ext: set[int] = set()
        for i in range(n - 1, -1, -1):
            s, e, par, _ = pieces[i]
            if ext:
                ext = {x for x in ext if not s <= x < e}
            ext.update(par or (-1,))  # -1: the empty version (a root op)
            crit[i] = next(iter(ext)) if len(ext) == 1 else None
        crit[n] = -3  # the end: always a critical point
        walked_frontier = self.walked_frontier
        fresh = self.fresh
        offset_known = self.offset_known
        i = 0
        while i < n:
            s, e, par, emit = pieces[i]
            if emit and not offset_known:
                self.offset = self.st.eff_len - self.text_len
                offset_known = True
                if self.probes and not fresh:
                    self._probes_find()
            ci = crit[i]
            at_critical = ci is not None and (
                (ci == -1 and not walked_frontier) or (len(walked_frontier) == 1 and walked_frontier[0] == ci)
            )
            if at_critical and emit:
                if not fresh:
                    if self.probe_keys is not None:
                        self._probes_extract()
                    true_len = self.st.eff_len - self.offset
                    self.st = _State()
                    self.offset = _BIG - true_len
                    fresh = True
                self.version = par
                self.base = par
                # a stretch with no concurrency: apply straight to the text
                nxt = crit[i + 1]
                if nxt is not None and (nxt == -3 or nxt == e - 1):
                    self._apply_direct(s, e)
                    walked_frontier = (e - 1,)
                    self.version = walked_frontier
                    self.base = walked_frontier
                    i += 1
                    continue
            if fresh and emit and self.probes and self.probe_keys is None:
                self._probes_seed()
            fresh = False
            self._move_to(par)
            self._apply(s, e, emit)
            if _CHECK:
                self.st.check()
            self.version = (e - 1,)
            walked_frontier = _advance(walked_frontier, par, e - 1)
            i += 1
        self.walked_frontier = walked_frontier
        self.fresh = fresh
        self.offset_known = offset_known
        if self.probe_keys is not None:
            self._probes_extract()

    # -- tracked characters (locate) -------------------------------------------------

    def _probes_find(self) -> None:
        """Identify the probes (indices in the effect text) as items of the state."""
        st = self.st
        keys = []
        for p in self.probes:
            st.rebalance()
            eff = 0
            for ch in st.chunks:
                if eff + ch.eff <= p.pos:
                    eff += ch.eff
                    continue
                j = 0
                while True:
                    span = ch.spans[j]
                    if not span.dead:
                        if eff + span.n > p.pos:
                            k = p.pos - eff
                            if k:
                                span = st._split_span(span, k, j)
                                j += 1
                            if span.n > 1:
                                st._split_span(span, 1, j)
                            keys.append(span.lv)
                            break
                        eff += span.n
                    j += 1
                break
            else:  # pragma: no cover - probes name characters of the text
                raise IndexError(f"probe {p.pos} past the end of the text")
        self.probe_keys = keys

    def _probes_extract(self) -> None:
        """Read every probe's index and liveness off the state (before a reset)."""
        keys = self.probe_keys
        assert keys is not None
        where: dict[int, int] = {}
        for j, k in enumerate(keys):
            where.setdefault(k, j)
        eff = 0
        for span in self.st.spans():
            j = where.get(span.lv, -1) if span.n == 1 else -1
            if j >= 0:
                for jj in range(j, len(keys)):
                    if keys[jj] == span.lv:
                        self.probes[jj].pos = eff
                        self.probes[jj].alive = not span.dead
            if not span.dead:
                eff += span.n
        self.probe_keys = None

    def _probes_seed(self) -> None:
        """Put index-described probes into a fresh placeholder state.

        A live probe is placeholder character ``pos``.  A deleted one becomes a
        dead marker item just before placeholder character ``pos``: later inserts
        at that gap go right after their left neighbour, so before the marker,
        exactly as they would go before the real tombstone.
        """
        st = self.st
        keys = []
        for p in self.probes:
            if p.alive:
                sp = st.spans_in(_PH + p.pos, _PH + p.pos + 1)
                keys.append(sp[0].lv)
            else:
                if p.pos:
                    st.split(_PH + p.pos)
                st.rebalance()
                self.marker -= 1
                m = _Span(self.marker, 1, -1, -1, 1, True)
                ci = j = 0
                if p.pos:
                    nxt = st.by_start[_PH + p.pos]
                    ci = nxt.chunk.idx
                    j = nxt.chunk.spans.index(nxt)
                st.insert_span(ci, j, m)
                keys.append(m.lv)
        self.probe_keys = keys

    def _probes_direct(self, kind: int, lv: int, pos: int, n: int) -> None:
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

    # -- direct application (no concurrency) ----------------------------------------

    def _apply_direct(self, s: int, e: int) -> None:
        on_op = self._probes_direct if self.probes else None
        true_len = _direct(self.oplog, self.st.eff_len - self.offset, s, e, self.out, self.lvs_out, on_op)
        # the fresh placeholder now stands for the text after these ops
        self.offset = _BIG - true_len

    # -- moving the prepare version ------------------------------------------------

    def _move_to(self, target: Frontier) -> None:
        if self.version == target:
            return
        only_cur, only_target = self.oplog.cg.diff(self.version, target)
        for s, e in reversed(only_cur):
            self._retreat_advance(s, e, -1)
        for s, e in only_target:
            self._retreat_advance(s, e, 1)
        self.version = target

    def _retreat_advance(self, start: int, end: int, step: int) -> None:
        st = self.st
        pieces = list(self.oplog.iter_ops(start, end))
        if step < 0:
            pieces.reverse()
        for s, e, kind, _pos, _content in pieces:
            if kind == INS:
                for span in st.spans_in(s, e):
                    # an insert is advanced from NYI / retreated from INSERTED
                    if step > 0:
                        span.cur = INSERTED
                        span.chunk.cur += span.n
                        st.cur_len += span.n
                    else:
                        span.cur = NYI
                        span.chunk.cur -= span.n
                        st.cur_len -= span.n
            else:
                targets = st.del_targets(s, e)
                for ts, te in targets:
                    for span in st.spans_in(ts, te):
                        old = span.cur
                        st.set_cur(span, old + step)
                        if old == INSERTED:
                            st.cur_len -= span.n
                        elif span.cur == INSERTED:
                            st.cur_len += span.n

    # -- applying ops at the prepare version -----------------------------------------

    def _apply(self, s: int, e: int, emit: bool) -> None:
        for ps, pe, kind, pos, content in self.oplog.iter_ops(s, e):
            if kind == INS:
                self._insert(ps, pos, content, emit)
            else:
                self._delete(ps, pe, kind, pos, emit)

    def _check_len(self, pos: int, n: int, emit: bool, what: str) -> None:
        if emit:
            true_len = self.st.cur_len - self.offset
            if pos + n > true_len:
                raise InvalidOpError(f"{what} at {pos} past the end of a {true_len}-character document")

    def _find(self, pos: int) -> tuple[int, int, int]:
        """Cursor ``(ci, j)`` just after the ``pos``-th visible item (splitting a span
        if needed), and the effect position there."""
        st = self.st
        if pos == 0:
            return 0, 0, 0
        cur = 0
        eff = 0
        for ci, ch in enumerate(st.chunks):
            if cur + ch.cur < pos:  # the item is further on: skip the whole chunk
                cur += ch.cur
                eff += ch.eff
                continue
            for j, span in enumerate(ch.spans):
                if span.cur == INSERTED:
                    n = span.n
                    if cur + n >= pos:
                        k = pos - cur
                        if k < n:
                            st._split_span(span, k, j)
                        if not span.dead:
                            eff += k
                        return ci, j + 1, eff
                    cur += n
                if not span.dead:
                    eff += span.n
        raise InvalidOpError(f"position {pos} past the end of the document")  # pragma: no cover

    def _insert(self, lv: int, pos: int, content: str, emit: bool) -> None:
        st = self.st
        self._check_len(pos, 0, emit, "insert")
        if st.big:
            st.rebalance()
        ci, j, eff = self._find(pos)
        chunks = st.chunks
        left = _before(chunks, ci, j)
        ol = -1 if left is None else left.lv + left.n - 1
        # Fugue right parent: the next item that is not concurrent, if it has the same left origin
        orr = -1
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
            if nxt.cur != NYI:
                if nxt.ol == ol:
                    orr = nxt.lv
                break
            concurrent = True
            sj += 1
        if concurrent:
            ci, j, eff = self._integrate(lv, ol, orr, ci, j, eff)
        n = len(content)
        st.insert_span(ci, j, _Span(lv, n, ol, orr, INSERTED, False))
        st.cur_len += n
        st.eff_len += n
        if emit:
            self.out.append((INS, eff, content))
            if self.lvs_out is not None:
                self.lvs_out.append(lv)

    def _integrate(self, lv: int, ol: int, orr: int, ci: int, j: int, eff: int) -> tuple[int, int, int]:
        """Fugue/YjsMod: where among concurrent items at cursor ``(ci, j)`` the new
        item goes (a cursor and its effect position)."""
        st = self.st
        chunks = st.chunks
        left = st.index_of(ol)  # the item before the insert point
        end = (len(chunks), 0, 0)
        right = end if orr == -1 else st.index_of(orr)
        cg = self.oplog.cg
        me = cg.lv_to_raw(lv)
        scanning = False
        sci = ci
        sj = j
        spans = chunks[sci].spans
        scan_eff = eff
        while True:
            if sj == len(spans):
                if sci + 1 == len(chunks):
                    break
                sci += 1
                sj = 0
                spans = chunks[sci].spans
            other = spans[sj]
            if other.cur != NYI:
                break
            oleft = st.index_of(other.ol)
            if oleft < left:
                break
            if oleft == left:
                oright = end if other.orr == -1 else st.index_of(other.orr)
                if oright == right and me < cg.lv_to_raw(other.lv):
                    break
                scanning = oright < right
            if not other.dead:
                scan_eff += other.n
            sj += 1
            if not scanning:
                ci = sci
                j = sj
                eff = scan_eff
        return ci, j, eff

    def _delete(self, s: int, e: int, kind: int, pos: int, emit: bool) -> None:
        st = self.st
        n = e - s
        self._check_len(pos, n, emit, f"delete of {n}")
        if st.big:
            st.rebalance()
        ci, j, eff = self._find(pos)
        chunks = st.chunks
        ch = chunks[ci]
        remaining = n
        done = 0  # items deleted so far, in document order
        out = self.out
        while remaining:
            if j == len(ch.spans):
                ci += 1
                ch = chunks[ci]
                j = 0
                while ch.cur == 0:  # nothing visible in the chunk: skip it whole
                    eff += ch.eff
                    ci += 1
                    ch = chunks[ci]
            span = ch.spans[j]
            if span.cur != INSERTED:
                if not span.dead:
                    eff += span.n
                j += 1
                continue
            k = span.n
            if k > remaining:
                st._split_span(span, remaining, j)
                k = remaining
            if kind == DEL_BACK:
                d0 = e - done - k
                st.add_del_target(d0, k, span.lv + k - 1, -1)
            else:
                d0 = s + done
                st.add_del_target(d0, k, span.lv, 1)
            if k == 1 and self.probe_keys is not None and span.lv in self.probe_keys:
                for jj, key in enumerate(self.probe_keys):
                    if key == span.lv:
                        self.probes[jj].deleters.append(d0)
            span.cur = 1  # was INSERTED
            ch.cur -= k
            st.cur_len -= k
            if not span.dead:
                span.dead = True
                ch.eff -= k
                st.eff_len -= k
                if emit:
                    if out and out[-1][0] == 1 and out[-1][1] == eff:
                        out[-1] = (1, eff, out[-1][2] + k)  # type: ignore[operator]
                    else:
                        out.append((1, eff, k))
            done += k
            remaining -= k
            j += 1


def _before(chunks: list[_Chunk], ci: int, j: int) -> _Span | None:
    """The span just before cursor ``(ci, j)`` (None at the document start)."""
    if j:
        return chunks[ci].spans[j - 1]
    if ci:
        return chunks[ci - 1].spans[-1]
    return None


def _advance(frontier: Frontier, parents: Frontier, lv: int) -> Frontier:
    if frontier == parents:
        return (lv,)
    return tuple(sorted([x for x in frontier if x not in parents] + [lv]))
