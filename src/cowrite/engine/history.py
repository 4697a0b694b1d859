"""History: the list of changes, and who wrote what (authorship, "blame").

Both read the op log directly.  ``changes`` costs O(graph entries and op runs
since the given version) and never looks further back; ``authorship`` reads the
character ids of one version of the text (see ``idmap.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .idmap import IdMap
from .oplog import INS, OpLog
from .ops import RawVersion

__all__ = ["Authorship", "Change", "authorship", "changes"]


@dataclass(frozen=True, slots=True)
class Change:
    """One agent's consecutive ops made in the same second (a typing burst).

    ``version`` is the document version right after the change (give it to
    ``Document.text_at`` for a time slider); ``parents`` the one it was made on.
    ``time`` is Unix time in seconds, 0 when the op's author did not record it.
    """

    agent: str
    start: int  # first seq
    end: int  # one past the last seq
    time: int
    parents: RawVersion
    version: RawVersion
    inserted: int  # characters inserted
    deleted: int  # characters deleted


@dataclass(frozen=True, slots=True)
class Authorship:
    """Characters ``start .. end-1`` of the text were typed by ``agent``."""

    start: int
    end: int
    agent: str


def changes(oplog: OpLog, since: Sequence[int] = ()) -> list[Change]:
    cg = oplog.cg
    _, ranges = cg.diff(since, cg.heads)
    out: list[Change] = []
    for rs, re_ in ranges:
        for s, e, parents in cg.iter_range(rs, re_):
            e_idx = cg.entry_of(s)
            agent = cg.agents[cg.entry_agent[e_idx]]
            seq0 = cg.entry_seq[e_idx] + s - cg.starts[e_idx]
            raw_parents = cg.frontier_to_raw(parents)
            for ts, te, t in oplog.time_runs(s, e):
                ins = dels = 0
                for os_, oe, kind, _pos, _content in oplog.iter_ops(ts, te):
                    if kind == INS:
                        ins += oe - os_
                    else:
                        dels += oe - os_
                a = seq0 + ts - s
                b = seq0 + te - s
                out.append(Change(agent, a, b, t, raw_parents, ((agent, b - 1),), ins, dels))
                raw_parents = ((agent, b - 1),)
    return out


def authorship(oplog: OpLog, ids: IdMap) -> list[Authorship]:
    cg = oplog.cg
    out: list[Authorship] = []
    pos = 0
    for lv, n in ids.runs():
        end_lv = lv + n
        while lv < end_lv:
            e_idx = cg.entry_of(lv)
            stop = min(end_lv, cg.entry_end(e_idx))
            agent = cg.agents[cg.entry_agent[e_idx]]
            k = stop - lv
            if out and out[-1].agent == agent and out[-1].end == pos:
                out[-1] = Authorship(out[-1].start, pos + k, agent)
            else:
                out.append(Authorship(pos, pos + k, agent))
            pos += k
            lv = stop
    return out
