"""The causal graph: who made each op, and which ops it was made on top of.

Every op a document knows gets a *local version* (LV): its index in this
replica's op log, 0, 1, 2, ...  LVs are private to a replica; on the wire an op is
named by its ``(agent, seq)`` id.  LVs are assigned in causal order, so the LV
order is always a topological order of the graph.

The graph is run-length encoded: an *entry* is a run of LVs ``[start, end)`` made
by one agent with consecutive seqs, where every op after the first has the
previous op as its only parent.  A typing run of a thousand characters is one
entry, so graph walks cost per run, not per character.

A *frontier* (a version) is a sorted tuple of LVs none of which is an ancestor of
another: the heads of a set of ops closed under "parent of".  ``()`` is the empty
document.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence

from ..errors import UnknownParentError, UnknownVersionError

__all__ = ["CausalGraph", "Frontier", "RawId", "ONLY_A", "ONLY_B", "SHARED"]

RawId = tuple[str, int]
Frontier = tuple[int, ...]

ONLY_A = 1
ONLY_B = 2
SHARED = 3


class CausalGraph:
    """Run-length encoded event graph with (agent, seq) <-> LV mapping."""

    __slots__ = (
        "starts",
        "parents",
        "entry_agent",
        "entry_seq",
        "agents",
        "agent_index",
        "_seq_starts",
        "_seq_ends",
        "_seq_lvs",
        "heads",
        "next_lv",
    )

    def __init__(self) -> None:
        self.starts: list[int] = []  # first LV of each entry
        self.parents: list[Frontier] = []  # parents of each entry's first LV
        self.entry_agent: list[int] = []  # agent index of each entry
        self.entry_seq: list[int] = []  # seq of each entry's first LV
        self.agents: list[str] = []
        self.agent_index: dict[str, int] = {}
        # per agent: sorted runs of seqs -> LVs
        self._seq_starts: list[list[int]] = []
        self._seq_ends: list[list[int]] = []
        self._seq_lvs: list[list[int]] = []
        self.heads: Frontier = ()
        self.next_lv = 0

    def copy(self) -> CausalGraph:
        """An independent copy; O(entries)."""
        c = CausalGraph()
        c.starts = self.starts[:]
        c.parents = self.parents[:]
        c.entry_agent = self.entry_agent[:]
        c.entry_seq = self.entry_seq[:]
        c.agents = self.agents[:]
        c.agent_index = dict(self.agent_index)
        c._seq_starts = [x[:] for x in self._seq_starts]
        c._seq_ends = [x[:] for x in self._seq_ends]
        c._seq_lvs = [x[:] for x in self._seq_lvs]
        c.heads = self.heads
        c.next_lv = self.next_lv
        return c

    # -- agents and ids ------------------------------------------------------------

    def agent_id(self, agent: str) -> int:
        """The index of ``agent``, registering it on first use."""
        i = self.agent_index.get(agent)
        if i is None:
            i = self.agent_index[agent] = len(self.agents)
            self.agents.append(agent)
            self._seq_starts.append([])
            self._seq_ends.append([])
            self._seq_lvs.append([])
        return i

    def next_seq(self, agent: str) -> int:
        """The first seq ``agent`` has not used yet in this graph."""
        i = self.agent_index.get(agent)
        if i is None or not self._seq_ends[i]:
            return 0
        return self._seq_ends[i][-1]

    def entry_of(self, lv: int) -> int:
        """Index of the entry containing ``lv``."""
        return bisect_right(self.starts, lv) - 1

    def entry_end(self, e: int) -> int:
        starts = self.starts
        return starts[e + 1] if e + 1 < len(starts) else self.next_lv

    def lv_to_raw(self, lv: int) -> RawId:
        if not 0 <= lv < self.next_lv:
            raise UnknownVersionError(f"local version {lv} does not exist")
        e = bisect_right(self.starts, lv) - 1
        return self.agents[self.entry_agent[e]], self.entry_seq[e] + lv - self.starts[e]

    def raw_to_lv(self, agent: str, seq: int) -> int | None:
        """The LV of ``(agent, seq)``, or ``None`` if unknown."""
        a = self.agent_index.get(agent)
        if a is None:
            return None
        ss = self._seq_starts[a]
        i = bisect_right(ss, seq) - 1
        if i < 0 or seq >= self._seq_ends[a][i]:
            return None
        return self._seq_lvs[a][i] + seq - ss[i]

    def known_run(self, agent: str, seq: int) -> tuple[int, int] | None:
        """If ``(agent, seq)`` is known: (its LV, how many seqs from it on are known).

        The count spans adjacent seq runs, even where their LVs are not contiguous.
        """
        a = self.agent_index.get(agent)
        if a is None:
            return None
        ss = self._seq_starts[a]
        se = self._seq_ends[a]
        i = bisect_right(ss, seq) - 1
        if i < 0 or seq >= se[i]:
            return None
        end = se[i]
        j = i + 1
        while j < len(ss) and ss[j] == end:
            end = se[j]
            j += 1
        return self._seq_lvs[a][i] + seq - ss[i], end - seq

    def summary(self) -> dict[str, list[tuple[int, int]]]:
        """Every known id, as ``{agent: [(first_seq, end_seq), ...]}`` (coalesced, sorted).

        Unlike a frontier, a summary can be compared by a peer that lacks some of
        our ops: it is how a reconnecting replica says what it has.
        """
        out: dict[str, list[tuple[int, int]]] = {}
        for a, agent in enumerate(self.agents):
            runs: list[tuple[int, int]] = []
            for s, e in zip(self._seq_starts[a], self._seq_ends[a]):
                if runs and runs[-1][1] == s:
                    runs[-1] = (runs[-1][0], e)
                else:
                    runs.append((s, e))
            if runs:
                out[agent] = runs
        return out

    def next_known_seq(self, agent: str, seq: int) -> int | None:
        """The smallest known seq of ``agent`` greater than ``seq``, if any."""
        a = self.agent_index.get(agent)
        if a is None:
            return None
        ss = self._seq_starts[a]
        i = bisect_right(ss, seq)
        if i and seq + 1 < self._seq_ends[a][i - 1]:  # inside a known run: the next seq
            return seq + 1
        return ss[i] if i < len(ss) else None

    def raw_to_frontier(self, ids: Iterable[RawId]) -> Frontier:
        """LVs of raw ids; raises :class:`UnknownParentError` for unknown ones."""
        out: list[int] = []
        missing: list[RawId] = []
        for agent, seq in ids:
            lv = self.raw_to_lv(agent, seq)
            if lv is None:
                missing.append((agent, seq))
            else:
                out.append(lv)
        if missing:
            raise UnknownParentError(
                f"unknown parent version(s): {', '.join(f'{a}:{s}' for a, s in missing[:5])}",
                tuple(missing),
            )
        return self.frontier_of(out)

    def frontier_of(self, lvs: list[int]) -> Frontier:
        """The frontier of known LVs ``lvs`` (an op's parents, as a peer named them)."""
        if len(lvs) <= 1:
            return tuple(lvs)
        heads = self.heads
        for lv in lvs:
            if lv not in heads:
                return self.reduce(lvs)
        # a merge op made on our current heads (the usual one): part of a frontier
        # is a frontier, so no graph walk is needed to drop ancestors
        return tuple(sorted(set(lvs)))

    def frontier_to_raw(self, frontier: Iterable[int]) -> tuple[RawId, ...]:
        return tuple(sorted(self.lv_to_raw(lv) for lv in frontier))

    def parents_of(self, lv: int) -> Frontier:
        e = bisect_right(self.starts, lv) - 1
        return self.parents[e] if self.starts[e] == lv else (lv - 1,)

    # -- growing -------------------------------------------------------------------

    def add(self, agent: str, seq: int, n: int, parents: Frontier) -> int:
        """Append ``n`` ops by ``agent`` starting at ``seq`` on top of ``parents``.

        The caller has checked that the ids are new and the parents known.
        Returns the first new LV.
        """
        lv = self.next_lv
        a = self.agent_index.get(agent)
        if a is None:
            a = self.agent_id(agent)
        starts = self.starts
        if (
            starts
            and self.entry_agent[-1] == a
            and len(parents) == 1
            and parents[0] == lv - 1
            and self.entry_seq[-1] + lv - starts[-1] == seq
        ):
            pass  # extends the last entry
        else:
            starts.append(lv)
            self.parents.append(parents)
            self.entry_agent.append(a)
            self.entry_seq.append(seq)
        ss, se, sl = self._seq_starts[a], self._seq_ends[a], self._seq_lvs[a]
        if se and se[-1] == seq and sl[-1] + seq - ss[-1] == lv:
            se[-1] = seq + n
        elif not ss or ss[-1] < seq:
            ss.append(seq)
            se.append(seq + n)
            sl.append(lv)
        else:  # out-of-order seqs for this agent (allowed, just rare)
            i = bisect_right(ss, seq)
            ss.insert(i, seq)
            se.insert(i, seq + n)
            sl.insert(i, lv)
        self.next_lv = lv + n
        # advance the heads
        heads = self.heads
        if heads == parents:
            self.heads = (lv + n - 1,)
        else:
            self.heads = tuple(sorted([h for h in heads if h not in parents] + [lv + n - 1]))
        return lv

    def truncate(self, lv: int, heads: Frontier) -> None:
        """Forget every LV >= ``lv``, restoring ``heads`` (roll back a failed append)."""
        if lv >= self.next_lv:
            return
        starts = self.starts
        while starts and starts[-1] >= lv:
            starts.pop()
            self.parents.pop()
            self.entry_agent.pop()
            self.entry_seq.pop()
        for a in range(len(self.agents)):
            ss, se, sl = self._seq_starts[a], self._seq_ends[a], self._seq_lvs[a]
            for i in range(len(sl) - 1, -1, -1):
                if sl[i] >= lv:
                    del ss[i], se[i], sl[i]
                elif sl[i] + se[i] - ss[i] > lv:
                    se[i] = ss[i] + lv - sl[i]
        # An agent is registered with its first op, so one left without ops came with
        # the rolled-back ops (the newest registrations): forget it too.
        while self.agents and not self._seq_starts[-1]:
            del self.agent_index[self.agents.pop()]
            self._seq_starts.pop()
            self._seq_ends.pop()
            self._seq_lvs.pop()
        self.next_lv = lv
        self.heads = heads

    # -- walking -------------------------------------------------------------------

    def iter_range(self, start: int, end: int) -> Iterator[tuple[int, int, Frontier]]:
        """Pieces ``(s, e, parents_of_s)`` of the graph covering ``[start, end)``."""
        starts = self.starts
        i = bisect_right(starts, start) - 1
        n = len(starts)
        while start < end:
            e_start = starts[i]
            e_end = starts[i + 1] if i + 1 < n else self.next_lv
            stop = e_end if e_end < end else end
            yield start, stop, (self.parents[i] if start == e_start else (start - 1,))
            start = stop
            i += 1

    def diff(self, a: Sequence[int], b: Sequence[int]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Ranges of LVs in the history of ``a`` but not ``b``, and vice versa.

        Both lists are ascending ``[start, end)`` ranges.  Walks back only as far as
        the two versions differ.
        """
        if tuple(a) == tuple(b):
            return [], []
        only_a: list[tuple[int, int]] = []
        only_b: list[tuple[int, int]] = []
        heap: list[tuple[int, int]] = []  # (-lv, flag)
        for v in a:
            heap.append((-v, ONLY_A))
        for v in b:
            heap.append((-v, ONLY_B))
        heapq.heapify(heap)
        unshared = len(heap)
        heappop = heapq.heappop  # local names: the walk calls diff once per piece it moves to
        heappush = heapq.heappush
        starts = self.starts
        parents = self.parents
        while unshared:
            nv, flag = heappop(heap)
            if flag != SHARED:
                unshared -= 1
            v = -nv
            while heap and heap[0][0] == nv:
                _, f2 = heappop(heap)
                if f2 != SHARED:
                    unshared -= 1
                flag |= f2
            e = bisect_right(starts, v) - 1
            s = starts[e]
            # consume queue items inside [s, v]
            while heap and -heap[0][0] >= s:
                nv2, f2 = heappop(heap)
                if f2 != SHARED:
                    unshared -= 1
                v2 = -nv2
                if f2 | flag != flag:
                    if flag == ONLY_A:
                        only_a.append((v2 + 1, v + 1))
                    elif flag == ONLY_B:
                        only_b.append((v2 + 1, v + 1))
                    v = v2
                    flag |= f2
            if flag == ONLY_A:
                only_a.append((s, v + 1))
            elif flag == ONLY_B:
                only_b.append((s, v + 1))
            for p in parents[e]:
                heappush(heap, (-p, flag))
                if flag != SHARED:
                    unshared += 1
        return _merge_ranges(only_a), _merge_ranges(only_b)

    def find_conflicting(
        self, a: Sequence[int], b: Sequence[int]
    ) -> tuple[Frontier, list[tuple[int, int, int]]]:
        """The last common *critical* version of ``a`` and ``b``, and the spans since it.

        Walks back from both versions until every path collapses into one point ``c``.
        Every op since ``c`` (in the history of either version) is returned as
        ascending ``(start, end, flag)`` spans with flag ONLY_A, ONLY_B or SHARED.
        Every returned op has all of ``c`` in its history, which is what lets the
        merge start from a placeholder standing for the document at ``c``.
        """
        if not a and tuple(b) == self.heads:
            # from the empty version to everything (a first load, a checkout): the walk
            # below would visit every entry only to find that; the root sorts last
            return (), [(0, self.next_lv, ONLY_B)] if self.next_lv else []
        spans: list[tuple[int, int, int]] = []
        # heap items: (negated descending version, flag); the root sorts last
        heap: list[tuple[tuple[int, ...], int]] = [(_key(a), ONLY_A), (_key(b), ONLY_B)]
        heapq.heapify(heap)
        starts = self.starts
        parents = self.parents
        common: Frontier
        while True:
            key, flag = heapq.heappop(heap)
            if key == _ROOT:
                common = ()
                break
            while heap and heap[0][0] == key:
                if heapq.heappop(heap)[1] != flag:
                    flag = SHARED
            if not heap:
                common = tuple(sorted(-x for x in key))
                break
            for x in key[1:]:
                heapq.heappush(heap, ((x,), flag))
            t = -key[0]
            e = bisect_right(starts, t) - 1
            e_start = starts[e]
            end = t + 1
            while heap:
                pkey, pflag = heap[0]
                if pkey[0] <= -e_start:  # the next point lies inside this entry
                    heapq.heappop(heap)
                    plast = -pkey[0]
                    if plast + 1 < end:
                        spans.append((plast + 1, end, flag))
                        end = plast + 1
                    if pflag != flag:
                        flag = SHARED
                    for x in pkey[1:]:
                        heapq.heappush(heap, ((x,), pflag))
                else:
                    spans.append((e_start, end, flag))
                    heapq.heappush(heap, (_key(parents[e]), flag))
                    break
            else:
                common = (end - 1,)
                break
        return common, _merge_spans(spans)

    def reduce(self, lvs: Iterable[int]) -> Frontier:
        """The frontier of a set of LVs: drop every LV that is an ancestor of another."""
        vs = sorted(set(lvs))
        if len(vs) <= 1:
            return tuple(vs)
        keep = set(vs)
        low = vs[0]
        heap = [(-v, True) for v in vs]  # (negated lv, is an input)
        heapq.heapify(heap)
        inputs_left = len(vs)
        starts = self.starts
        parents = self.parents
        while heap and inputs_left > 0:
            nv, is_input = heapq.heappop(heap)
            reached = not is_input
            inputs_left -= is_input
            while heap and heap[0][0] == nv:
                is2 = heapq.heappop(heap)[1]
                inputs_left -= is2
                reached |= not is2
            v = -nv
            if reached:
                keep.discard(v)
            e = bisect_right(starts, v) - 1
            s = starts[e]
            while heap and -heap[0][0] >= s:  # inside this entry: ancestors of v
                nv2, is2 = heapq.heappop(heap)
                inputs_left -= is2
                keep.discard(-nv2)
            for p in parents[e]:
                if p >= low:
                    heapq.heappush(heap, (-p, False))
        return tuple(sorted(keep))




_ROOT = (1,)  # heap key of the empty version: sorts after every real version


def _key(version: Sequence[int]) -> tuple[int, ...]:
    return tuple(-x for x in sorted(version, reverse=True)) if version else _ROOT


def _merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort descending-found ranges ascending and join adjacent ones."""
    ranges.sort()
    out: list[tuple[int, int]] = []
    for s, e in ranges:
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _merge_spans(spans: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    spans.sort()
    out: list[tuple[int, int, int]] = []
    for s, e, f in spans:
        if out and out[-1][1] == s and out[-1][2] == f:
            out[-1] = (out[-1][0], e, f)
        else:
            out.append((s, e, f))
    return out
