"""Convergence, intention preservation and order independence under random histories.

Hypothesis drives short histories (shrinkable); seeded simulations drive long ones
with agents offline for hundreds of ops.  Sizes scale with environment variables:

* ``COWRITE_HYPOTHESIS_EXAMPLES`` (default 200): examples per hypothesis test.
* ``COWRITE_SIM_SEEDS`` (default 12): number of seeded long simulations.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import AGENT_NAMES, Sim

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "200"))
SIM_SEEDS = int(os.environ.get("COWRITE_SIM_SEEDS", "12"))

hyp = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# (kind, agent, other, a, b): interpreted modulo the current state
action = st.tuples(
    st.integers(0, 11),
    st.integers(0, 4),
    st.integers(0, 4),
    # small values hit the same positions (ties) far more often than uniform ones
    st.one_of(st.integers(0, 3), st.integers(0, 2**16)),
    st.integers(0, 2**16),
)


def run_actions(sim: Sim, actions) -> None:
    n = len(sim.docs)
    for kind, i, j, a, b in actions:
        i %= n
        j %= n
        if kind <= 3:
            sim.insert(i, a, 1 + b % 6)
        elif kind == 4:
            sim.insert(i, a, 1)
        elif kind == 5:
            sim.insert_backwards(i, a, 1 + b % 4)
        elif kind <= 7:
            sim.delete(i, a, b, backspace=kind == 7)
        elif kind <= 10:
            sim.merge(i, j, a, b)
        else:
            sim.set_offline(i, i not in sim.offline)


@hyp
@given(n_agents=st.integers(2, 5), actions=st.lists(action, max_size=60))
def test_random_histories_converge(n_agents, actions):
    sim = Sim(n_agents)
    run_actions(sim, actions)
    sim.final_check()


@hyp
@given(
    names=st.lists(st.sampled_from(AGENT_NAMES + ["A", "aa", "a\u0301", "\U0001f600"]), min_size=2, max_size=4, unique=True),
    actions=st.lists(action, max_size=40),
)
def test_random_histories_converge_any_agent_names(names, actions):
    sim = Sim(len(names), names=names)
    run_actions(sim, actions)
    sim.final_check()


@hyp
@given(
    n_agents=st.integers(2, 4),
    base=st.integers(1, 12),
    words=st.lists(st.tuples(st.integers(0, 4), st.integers(1, 6), st.booleans()), min_size=2, max_size=8),
    pos=st.integers(0, 2**16),
)
def test_concurrent_typing_at_one_spot(n_agents, base, words, pos):
    """Everyone types at the same place with no merges in between: a worst case for ties."""
    sim = Sim(n_agents)
    sim.insert(0, 0, base)
    for i in range(1, n_agents):
        sim.merge(i, 0, 0, 0)
    p = pos % (base + 1)
    for who, n, backwards in words:
        who %= n_agents
        if backwards:
            sim.insert_backwards(who, p, n)
        else:
            sim.insert(who, p, n)
    text = sim.final_check()
    # each agent's text typed at p (forwards or backwards) ends up as one block
    for i in range(n_agents):
        base_, limit = __import__("sim").ALPHABETS[i]
        mine = [k for k, c in enumerate(text) if base_ <= ord(c) <= limit and c not in sim.runs[0]]
        if mine:
            assert mine == list(range(mine[0], mine[0] + len(mine))), f"agent {i} interleaved: {text!r}"


def _long_sim(seed: int, n_agents: int, steps: int) -> Sim:
    rng = random.Random(seed)
    sim = Sim(n_agents)
    offline_until = [0] * n_agents
    for t in range(steps):
        for i in range(n_agents):
            if t >= offline_until[i] and i in sim.offline:
                sim.set_offline(i, False)
        if rng.random() < 0.01:
            i = rng.randrange(n_agents)
            sim.set_offline(i, True)
            offline_until[i] = t + rng.randint(100, 400)
        i = rng.randrange(n_agents)
        r = rng.random()
        a, b = rng.randrange(2**16), rng.randrange(2**16)
        if r < 0.45:
            sim.insert(i, a, rng.choice([1, 1, 1, 2, 3, 5, 12]))
        elif r < 0.5:
            sim.insert_backwards(i, a, rng.randint(2, 6))
        elif r < 0.75:
            sim.delete(i, a, b, backspace=rng.random() < 0.3)
        elif r < 0.97:
            sim.merge(i, rng.randrange(n_agents), rng.randrange(5), b)
        else:
            sim.set_offline(i, True)
            offline_until[i] = t + rng.randint(50, 300)
    return sim


@pytest.mark.parametrize("seed", range(SIM_SEEDS))
def test_seeded_long_simulation(seed):
    rng = random.Random(seed)
    n_agents = 2 + seed % 4
    sim = _long_sim(seed, n_agents, steps=rng.randint(300, 700))
    try:
        sim.final_check(seed)
    except AssertionError:
        print(f"seed {seed} failed; last actions:\n  " + "\n  ".join(sim.log[-20:]))
        raise


def test_offline_agent_for_hundreds_of_ops():
    rng = random.Random(99)
    sim = Sim(3)
    sim.insert(0, 0, 20)
    sim.merge(1, 0, 0, 0)
    sim.merge(2, 0, 0, 0)
    sim.set_offline(2, True)
    for t in range(500):
        i = rng.randrange(3)
        if rng.random() < 0.7:
            sim.insert(i, rng.randrange(2**16), rng.randint(1, 4))
        else:
            sim.delete(i, rng.randrange(2**16), rng.randrange(2**16))
        if i != 2 and rng.random() < 0.2:
            sim.merge(0, 1, rng.randrange(5), t)
            sim.merge(1, 0, rng.randrange(5), t)
    assert len(sim.docs[2].oplog) > 200
    sim.set_offline(2, False)
    sim.final_check(7)
