"""Summaries: every op id a replica has, in a form a peer can compare without our graph.

A frontier names a version only to a replica that has all of its ops.  A
reconnecting peer may lack some of ours and we some of its, so they exchange a
*summary* instead: ``{agent: [(first_seq, end_seq), ...]}``, each agent's known
seqs as sorted, disjoint, coalesced ranges.  From a peer's summary a replica
finds exactly the ops the peer lacks (:meth:`Document.ops_missing_from`).

A summary from the network is untrusted: :func:`normalize_summary` checks it and
brings it to its one canonical form (the form frames carry).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping

from ..errors import InvalidOpError
from .limits import MAX_AGENT_LEN, MAX_SEQ
from .ops import check_unicode

__all__ = ["Summary", "SummaryIds", "normalize_summary"]

Summary = dict[str, list[tuple[int, int]]]
"""Every op id a replica has: ``{agent: [(first_seq, end_seq), ...]}``."""


def normalize_summary(summary: object) -> Summary:
    """``summary`` checked, each agent's runs sorted and merged, agents without runs dropped.

    Raises :class:`InvalidOpError` saying what is wrong: not a mapping, an agent
    that is not a valid agent name, a run that is not ``0 <= first < end <= 2**53``.
    """
    if not isinstance(summary, Mapping):
        raise InvalidOpError("a summary maps agent names to lists of [first_seq, end_seq] ranges")
    out: Summary = {}
    for agent, runs in summary.items():
        if not isinstance(agent, str) or not agent or len(agent) > MAX_AGENT_LEN:
            raise InvalidOpError(f"a summary agent must be a non-empty string of at most {MAX_AGENT_LEN} characters")
        check_unicode("summary agent", agent)
        if not isinstance(runs, (list, tuple)):
            raise InvalidOpError(f"summary runs of {agent!r} must be a list of [first_seq, end_seq] ranges")
        pairs: list[tuple[int, int]] = []
        for r in runs:
            if (
                not isinstance(r, (list, tuple))
                or len(r) != 2
                or type(r[0]) is not int
                or type(r[1]) is not int
                or not 0 <= r[0] < r[1] <= MAX_SEQ
            ):
                raise InvalidOpError(f"bad summary range {r!r} for agent {agent!r}")
            pairs.append((r[0], r[1]))
        pairs.sort()
        merged: list[tuple[int, int]] = []
        for a, b in pairs:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        if merged:
            out[agent] = merged
    return out


class SummaryIds:
    """A (normalized) summary answering ``known_run`` like a causal graph does."""

    __slots__ = ("starts", "ends")

    def __init__(self, summary: Summary) -> None:
        self.starts: dict[str, list[int]] = {}
        self.ends: dict[str, list[int]] = {}
        for agent, runs in summary.items():
            self.starts[agent] = [s for s, _ in runs]
            self.ends[agent] = [e for _, e in runs]

    def known_run(self, agent: str, seq: int) -> tuple[int, int] | None:
        """``(-1, count)`` if ``(agent, seq)`` is known: count = known seqs from it on."""
        ss = self.starts.get(agent)
        if ss is None:
            return None
        i = bisect_right(ss, seq) - 1
        if i < 0 or seq >= self.ends[agent][i]:
            return None
        return -1, self.ends[agent][i] - seq
