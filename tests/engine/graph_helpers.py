"""Random causal graphs and a brute-force model of them, for the tests of
``causal_graph.py`` and of the merge's planning (``merge/plan.py``).

The model keeps, per LV, its agent, seq and parents, and computes every answer
the slow way: a version's history is the transitive closure of ``parents``, a
frontier is a set minus its ancestors.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from hypothesis import strategies as st

from cowrite.engine.causal_graph import CausalGraph

AGENTS = ["a", "bob", "ü", "日本"]


class Model:
    """The graph, one LV at a time, with brute-force answers."""

    def __init__(self) -> None:
        self.agent: list[str] = []
        self.seq: list[int] = []
        self.parents: list[tuple[int, ...]] = []
        self.anc: list[frozenset[int]] = []  # strict ancestors of each LV
        self.ids: dict[tuple[str, int], int] = {}
        self.by_agent: dict[str, set[int]] = {}

    def __len__(self) -> int:
        return len(self.agent)

    def add(self, agent: str, seq: int, n: int, parents: tuple[int, ...]) -> None:
        for i in range(n):
            lv = len(self.agent)
            par = parents if i == 0 else (lv - 1,)
            self.agent.append(agent)
            self.seq.append(seq + i)
            self.parents.append(par)
            self.anc.append(frozenset(self.history(par)))
            self.ids[(agent, seq + i)] = lv
            self.by_agent.setdefault(agent, set()).add(seq + i)

    def copy(self) -> Model:
        m = Model()
        m.agent, m.seq, m.parents, m.anc = self.agent[:], self.seq[:], self.parents[:], self.anc[:]
        m.ids = dict(self.ids)
        m.by_agent = {a: set(s) for a, s in self.by_agent.items()}
        return m

    def history(self, version: Iterable[int]) -> set[int]:
        out: set[int] = set()
        for v in version:
            out.add(v)
            out |= self.anc[v]
        return out

    def frontier(self, lvs: Iterable[int]) -> tuple[int, ...]:
        s = set(lvs)
        return tuple(sorted(v for v in s if not any(v in self.anc[w] for w in s)))

    def seqs(self, agent: str) -> set[int]:
        return self.by_agent.get(agent, set())

    def next_free(self, agent: str) -> int:
        used = self.seqs(agent)
        return max(used) + 1 if used else 0


def ranges_of(lvs: set[int]) -> list[tuple[int, int]]:
    """A set of LVs as ascending, disjoint, non-adjacent ``[start, end)`` ranges."""
    out: list[tuple[int, int]] = []
    for v in sorted(lvs):
        if out and out[-1][1] == v:
            out[-1] = (out[-1][0], v + 1)
        else:
            out.append((v, v + 1))
    return out


# -- random graphs ---------------------------------------------------------------------------

# (agent, ops in the run, parents: 0 heads / 1 the agent's last op / 2 a random version /
#  3 a new root, picks for the random version, seqs: 0-3 next / 4 leave a gap / 5 fill a gap)
step = st.tuples(
    st.integers(0, len(AGENTS) - 1),
    st.integers(1, 4),
    st.integers(0, 3),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=3),
    st.integers(0, 5),
    st.integers(1, 4),
)
Step = tuple[int, int, int, list[int], int, int]


def apply_steps(cg: CausalGraph, model: Model, steps: Sequence[Step], agents: Sequence[str] = AGENTS) -> None:
    for ai, n, pmode, picks, smode, gap in steps:
        agent = agents[ai % len(agents)]
        size = len(model)
        mine = [lv for lv in range(size) if model.agent[lv] == agent]
        if pmode == 0 or (pmode == 1 and not mine) or (pmode == 2 and not size):
            parents = model.frontier(range(size))
        elif pmode == 1:
            parents = (mine[-1],)
        elif pmode == 2:
            parents = model.frontier(p % size for p in picks)
        else:
            parents = ()
        used = model.seqs(agent)
        seq = model.next_free(agent)
        if smode == 4:
            seq += gap
        elif smode == 5:  # the lowest free stretch of n seqs below the highest used one
            for s in range(seq):
                if all(x not in used for x in range(s, s + n)):
                    seq = s
                    break
        assert cg.add(agent, seq, n, parents) == size
        model.add(agent, seq, n, parents)


def build(steps: Sequence[Step]) -> tuple[CausalGraph, Model]:
    cg = CausalGraph()
    model = Model()
    apply_steps(cg, model, steps)
    return cg, model


def random_version(model: Model, rnd: random.Random) -> tuple[int, ...]:
    n = len(model)
    if not n or rnd.random() < 0.1:
        return ()
    if rnd.random() < 0.2:
        return model.frontier(range(n))
    return model.frontier(rnd.randrange(n) for _ in range(rnd.randint(1, 3)))
