"""The op log: every op a replica knows, run-length encoded, plus its causal graph.

The op log is append-only.  Ops are stored as runs in parallel columns (start LV,
kind, position, content) so a typed word costs one row, not one per character.
Kinds: ``INS`` (char i at pos+i), ``DEL_FWD`` (every op deletes at pos) and
``DEL_BACK`` (op i deletes pos+len-1-i, i.e. Backspace).

Op times (Unix seconds, 0 = unknown) are a column of their own, run-length
encoded independently of the op runs: ``time_starts[i]`` is the first LV of the
i-th time run and ``time_values[i]`` its time.  A run starts only where an op's
time differs from the previous LV's, so a typed word made within one second
costs one row, and the two columns tile LVs ``0..len`` (both empty iff the log is).
Times are metadata: they are never compared when a known op is re-delivered.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from ..errors import ConflictingOpError, InvalidOpError, UnknownVersionError
from .causal_graph import CausalGraph, Frontier
from .ops import Op, RawVersion, check_time

Row = tuple[str, int, RawVersion, int, int, int]
"""A decoded op: (agent, seq, parents, kind, pos, span), as ``codec.patch`` reads it."""

__all__ = ["DEL_BACK", "DEL_FWD", "INS", "KnownIds", "OpLog", "copy_oplog", "ops_unknown_to"]

INS = 0
DEL_FWD = 1
DEL_BACK = 2


class OpLog:
    """Append-only, run-length encoded log of ops with their causal graph."""

    __slots__ = ("cg", "op_starts", "op_kinds", "op_pos", "op_content", "op_lens", "time_starts", "time_values")

    def __init__(self) -> None:
        self.cg = CausalGraph()
        self.op_starts: list[int] = []
        self.op_kinds: list[int] = []
        self.op_pos: list[int] = []
        self.op_lens: list[int] = []
        self.op_content: list[str] = []  # "" for deletes
        self.time_starts: list[int] = []  # first LV of each time run (0 first)
        self.time_values: list[int] = []  # Unix seconds of each time run (0 = unknown)

    def __len__(self) -> int:
        return self.cg.next_lv

    @property
    def heads(self) -> Frontier:
        return self.cg.heads

    # -- appending -----------------------------------------------------------------

    def _push_ops(self, lv: int, kind: int, pos: int, n: int, content: str) -> None:
        """Append a run of ops to the columns, extending the last run when it continues."""
        starts = self.op_starts
        if starts:
            lk = self.op_kinds[-1]
            ll = self.op_lens[-1]
            if starts[-1] + ll == lv:
                lp = self.op_pos[-1]
                if kind == INS:
                    if lk == INS and lp + ll == pos:
                        self.op_lens[-1] = ll + n
                        self.op_content[-1] += content
                        return
                elif lk != INS:
                    if kind == DEL_FWD and lk == DEL_FWD and lp == pos:
                        self.op_lens[-1] = ll + n
                        return
                    # Backspace: the new ops delete just before the last run's start
                    back_ok = lk == DEL_BACK or ll == 1
                    if back_ok and (kind == DEL_BACK or n == 1) and pos + n == lp:
                        self.op_kinds[-1] = DEL_BACK
                        self.op_pos[-1] = pos
                        self.op_lens[-1] = ll + n
                        return
        starts.append(lv)
        # One delete is a Delete-key delete: each delete run has one form, so a run
        # cut back to one op by a rollback (truncate) is stored as it was before.
        self.op_kinds.append(DEL_FWD if kind == DEL_BACK and n == 1 else kind)
        self.op_pos.append(pos)
        self.op_lens.append(n)
        self.op_content.append(content)

    def _push_time(self, lv: int, time: int) -> None:
        """Record that the ops from ``lv`` (the new tail of the log) were made at ``time``."""
        values = self.time_values
        if not values or values[-1] != time:
            self.time_starts.append(lv)
            values.append(time)

    def add_local(
        self, agent: str, seq: int, kind: int, pos: int, n: int, content: str, parents: Frontier, time: int
    ) -> int:
        """The unchecked core of add_insert/add_delete, for a Document's own edits: it
        has validated everything already (``seq`` is new for ``agent``, ``pos`` fits
        the text at ``parents``); this is the per-keystroke path.  Returns the first LV."""
        cg = self.cg
        lv = cg.add(agent, seq, n, parents)
        self._push_ops(lv, kind, pos, n, content)
        values = self.time_values
        if not values or values[-1] != time:
            self.time_starts.append(lv)
            values.append(time)
        return lv

    def add_insert(
        self, agent: str, pos: int, content: str, parents: Frontier | None = None, *, time: int = 0
    ) -> int:
        """Record a new insert by ``agent`` made at ``parents`` (default: the heads).

        Returns its first LV.  ``time`` is when it was made (Unix seconds, 0 =
        unknown).  Validity of ``pos`` against the text is the caller's job (a
        branch checks it before it records a local edit; a merge checks remote ops).
        """
        if not content:
            raise InvalidOpError("cannot insert empty text")
        check_time(time)
        cg = self.cg
        lv = cg.add(agent, cg.next_seq(agent), len(content), cg.heads if parents is None else parents)
        self._push_ops(lv, INS, pos, len(content), content)
        self._push_time(lv, time)
        return lv

    def add_delete(
        self,
        agent: str,
        pos: int,
        length: int,
        parents: Frontier | None = None,
        fwd: bool = True,
        *,
        time: int = 0,
    ) -> int:
        if length <= 0:
            raise InvalidOpError("delete length must be positive")
        check_time(time)
        cg = self.cg
        lv = cg.add(agent, cg.next_seq(agent), length, cg.heads if parents is None else parents)
        self._push_ops(lv, DEL_FWD if fwd else DEL_BACK, pos, length, "")
        self._push_time(lv, time)
        return lv

    def add_remote(self, op: Op) -> tuple[int, int] | None:
        """Add a (structurally valid) op from a peer.  Returns the new LV range, if any.

        Ids already known are checked against what is stored: identical is a no-op
        (delivery is idempotent), different raises :class:`ConflictingOpError`.  A
        run that is partly known adds only its unknown tail.  ``op.time`` is
        metadata, not identity: it is stored for the new tail only, and a known op
        re-delivered with another time is not a conflict (the first time stays).  Raises
        :class:`~cowrite.errors.UnknownParentError` if a parent is unknown.
        """
        cg = self.cg
        n = op.span
        skip = 0
        if op.seq >= cg.next_seq(op.agent):
            # The usual case: past every seq of the agent we know, so nothing of it is
            # known and no known op lies beyond it (seq runs are kept sorted).
            lv = cg.add(op.agent, op.seq, n, cg.raw_to_frontier(op.parents))
            if op.kind == "ins":
                self._push_ops(lv, INS, op.pos, n, op.content)
            else:
                self._push_ops(lv, DEL_FWD if op.fwd else DEL_BACK, op.pos, n, "")
            self._push_time(lv, op.time)
            return lv, lv + n
        known = cg.known_run(op.agent, op.seq)
        if known is not None:
            _, avail = known
            skip = min(avail, n)
            self._check_same(op, skip)
            if skip == n:
                return None
            lv_prev = cg.raw_to_lv(op.agent, op.seq + skip - 1)
            assert lv_prev is not None
            parents: Frontier = (lv_prev,)
        else:
            nxt = cg.next_known_seq(op.agent, op.seq)
            if nxt is not None and nxt < op.seq + n:
                raise ConflictingOpError(
                    f"op {op.agent}:{op.seq}+{n} overlaps known ops from seq {nxt} out of order"
                )
            parents = cg.raw_to_frontier(op.parents)
        # the tail after a known prefix must not run into other known ops either
        if skip:
            nxt = cg.next_known_seq(op.agent, op.seq + skip - 1)
            if nxt is not None and nxt < op.seq + n:
                raise ConflictingOpError(f"op {op.agent}:{op.seq}+{n} overlaps known ops out of order")
        m = n - skip
        lv = cg.add(op.agent, op.seq + skip, m, parents)
        if op.kind == "ins":
            self._push_ops(lv, INS, op.pos + skip, m, op.content[skip:])
        elif op.fwd:
            self._push_ops(lv, DEL_FWD, op.pos, m, "")
        else:
            self._push_ops(lv, DEL_BACK, op.pos, m, "")
        self._push_time(lv, op.time)
        return lv, lv + m

    def add_row(
        self, agent: str, seq: int, raw_parents: RawVersion, kind: int, pos: int, n: int, content: str, time: int
    ) -> Frontier | None:
        """Add a decoded op run (a row of ``codec.decode_patch_rows``, its fields checked
        by the decoder) straight to the columns, if it is what :meth:`add_remote` calls
        the usual case: past every seq its agent has here, its parents known.  Then this
        does exactly what ``add_remote`` does with the row's op, minus building it, and
        returns the op's parents (LVs).  Otherwise (a re-delivered op, a parent not yet
        known) it adds nothing and returns None: ``add_remote`` decides.
        """
        cg = self.cg
        if seq < cg.next_seq(agent):
            return None
        if len(raw_parents) == 1:
            lv = cg.raw_to_lv(*raw_parents[0])
            if lv is None:
                return None
            parents: Frontier = (lv,)
        else:
            lvs = []
            for pa, ps in raw_parents:
                lv_p = cg.raw_to_lv(pa, ps)
                if lv_p is None:
                    return None
                lvs.append(lv_p)
            parents = cg.frontier_of(lvs)  # what raw_to_frontier makes of them
        lv = cg.add(agent, seq, n, parents)
        self._push_ops(lv, kind, pos, n, content)
        values = self.time_values
        if not values or values[-1] != time:
            self.time_starts.append(lv)
            values.append(time)
        return parents

    def _check_same(self, op: Op, count: int) -> None:
        """A re-delivered op must match what we stored, or a peer is lying."""
        cg = self.cg
        first = cg.raw_to_lv(op.agent, op.seq)
        assert first is not None
        if cg.frontier_to_raw(cg.parents_of(first)) != tuple(sorted(op.parents)):
            raise ConflictingOpError(f"op {op.agent}:{op.seq} already known with other parents")
        i = 0
        while i < count:  # the known ops may sit in several LV runs
            lv0 = cg.raw_to_lv(op.agent, op.seq + i)
            assert lv0 is not None
            run = cg.known_run(op.agent, op.seq + i)
            e_idx = cg.entry_of(lv0)
            take = min(count - i, cg.entry_end(e_idx) - lv0)
            assert run is not None and take > 0
            if i:  # a run claims each op was made on top of the one before it
                prev = cg.raw_to_lv(op.agent, op.seq + i - 1)
                if cg.parents_of(lv0) != (prev,):
                    raise ConflictingOpError(f"op {op.agent}:{op.seq + i} already known with other parents")
            for s, e, kind, pos, content in self.iter_ops(lv0, lv0 + take):
                k = e - s
                if op.kind == "ins":
                    same = kind == INS and pos == op.pos + i and content == op.content[i : i + k]
                elif op.fwd:
                    same = (kind == DEL_FWD or k == 1) and pos == op.pos
                else:
                    same = (kind == DEL_BACK or k == 1) and pos == op.pos + op.length - i - k
                if not same:
                    raise ConflictingOpError(f"op {op.agent}:{op.seq} already known with other content")
                i += k

    def truncate(self, lv: int, heads: Frontier) -> None:
        """Drop every op from ``lv`` on (roll back a merge that failed validation)."""
        starts = self.op_starts
        while starts and starts[-1] >= lv:
            starts.pop()
            self.op_kinds.pop()
            self.op_pos.pop()
            self.op_lens.pop()
            self.op_content.pop()
        if starts and starts[-1] + self.op_lens[-1] > lv:
            k = lv - starts[-1]
            if self.op_kinds[-1] == INS:
                self.op_content[-1] = self.op_content[-1][:k]
            elif self.op_kinds[-1] == DEL_BACK:
                self.op_pos[-1] += self.op_lens[-1] - k
                if k == 1:
                    self.op_kinds[-1] = DEL_FWD
            self.op_lens[-1] = k
        tstarts = self.time_starts
        while tstarts and tstarts[-1] >= lv:
            tstarts.pop()
            self.time_values.pop()
        self.cg.truncate(lv, heads)

    # -- reading -------------------------------------------------------------------

    def iter_ops(self, start: int, end: int) -> Iterator[tuple[int, int, int, int, str]]:
        """Runs ``(lv_start, lv_end, kind, pos, content)`` covering ``[start, end)``.

        Runs cut by the range are trimmed: positions and content are adjusted so each
        yielded run means exactly its own ops.
        """
        starts = self.op_starts
        i = bisect_right(starts, start) - 1
        n = len(starts)
        while start < end:
            s = starts[i]
            ln = self.op_lens[i]
            e = s + ln
            stop = e if e < end else end
            kind = self.op_kinds[i]
            pos = self.op_pos[i]
            k0 = start - s
            k1 = stop - s
            if kind == INS:
                content = self.op_content[i]
                if k0 or k1 != ln:
                    yield start, stop, INS, pos + k0, content[k0:k1]
                else:
                    yield start, stop, INS, pos, content
            elif kind == DEL_FWD:
                yield start, stop, DEL_FWD, pos, ""
            else:
                yield start, stop, DEL_BACK, pos + ln - k1, ""
            start = stop
            i += 1
            if i >= n:
                break

    def time_of(self, lv: int) -> int:
        """When op ``lv`` was made: Unix seconds, 0 if unknown."""
        if not 0 <= lv < self.cg.next_lv:
            raise UnknownVersionError(f"local version {lv} does not exist")
        return self.time_values[bisect_right(self.time_starts, lv) - 1]

    def time_runs(self, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """Pieces ``(lv_start, lv_end, time)`` covering ``[start, end)``, cut at time changes."""
        starts = self.time_starts
        values = self.time_values
        start = max(start, 0)
        end = min(end, self.cg.next_lv)
        if start >= end:
            return
        i = bisect_right(starts, start) - 1
        n = len(starts)
        while start < end:
            stop = starts[i + 1] if i + 1 < n else end
            if stop > end:
                stop = end
            yield start, stop, values[i]
            start = stop
            i += 1

    def ops_between(self, ranges: Iterable[tuple[int, int]]) -> list[Op]:
        """The ops in LV ``ranges`` as wire :class:`Op` runs (ids, not LVs).

        A run is cut where its ops' time changes, so every Op has one ``time``.
        """
        cg = self.cg
        out: list[Op] = []
        agents = cg.agents
        for rs, re_ in ranges:
            for s, e, parents in cg.iter_range(rs, re_):
                raw_parents = cg.frontier_to_raw(parents)
                e_idx = cg.entry_of(s)
                agent = agents[cg.entry_agent[e_idx]]
                seq0 = cg.entry_seq[e_idx] + s - cg.starts[e_idx]
                for ts, te, time in self.time_runs(s, e):
                    for s2, e2, kind, pos, content in self.iter_ops(ts, te):
                        seq = seq0 + s2 - s
                        n = e2 - s2
                        if kind == INS:
                            out.append(Op(agent, seq, raw_parents, "ins", pos, content, n, True, time))
                        else:
                            fwd = kind == DEL_FWD or n == 1
                            out.append(Op(agent, seq, raw_parents, "del", pos, "", n, fwd, time))
                        raw_parents = ((agent, seq + n - 1),)
        return out

    def ops_since(self, frontier: Sequence[int]) -> list[Op]:
        """Every op not in the history of ``frontier``, in causal order."""
        _, only_new = self.cg.diff(frontier, self.cg.heads)
        return self.ops_between(only_new)


def copy_oplog(src: OpLog) -> OpLog:
    """An independent copy (fork) of an op log; O(runs), no per-character work."""
    dst = OpLog()
    dst.cg = src.cg.copy()
    dst.op_starts = src.op_starts[:]
    dst.op_kinds = src.op_kinds[:]
    dst.op_pos = src.op_pos[:]
    dst.op_lens = src.op_lens[:]
    dst.op_content = src.op_content[:]
    dst.time_starts = src.time_starts[:]
    dst.time_values = src.time_values[:]
    return dst


class KnownIds(Protocol):
    """What :func:`ops_unknown_to` asks of a peer's ids: a causal graph or a summary."""

    def known_run(self, agent: str, seq: int) -> tuple[int, int] | None: ...


def ops_unknown_to(src: OpLog, known: KnownIds) -> list[Op]:
    """The ops of ``src`` whose ids ``known`` does not have, in causal order.

    Within one graph entry the known ids are always a prefix (an op is only ever
    known together with its parents), so one lookup per entry suffices.
    """
    cg = src.cg
    ranges: list[tuple[int, int]] = []
    agents = cg.agents
    for e, s in enumerate(cg.starts):
        end = cg.entry_end(e)
        agent = agents[cg.entry_agent[e]]
        seq = cg.entry_seq[e]
        k = known.known_run(agent, seq)
        skip = 0 if k is None else min(k[1], end - s)
        if s + skip < end:
            if ranges and ranges[-1][1] == s + skip:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((s + skip, end))
    return src.ops_between(ranges)
