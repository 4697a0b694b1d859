"""Differential test: the fast walker (incremental merges through Document, and a
fresh checkout) against the slow per-character ``reference_text`` after every merge."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_helpers import assert_consistent
from sim import Sim
from test_convergence import action, run_actions

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "200"))
DIFF_SEEDS = int(os.environ.get("COWRITE_DIFF_SEEDS", "150"))


def _random_history(seed: int) -> Sim:
    rng = random.Random(seed)
    n = rng.randint(2, 5)
    sim = Sim(n, check_reference_every_merge=True)
    for _ in range(rng.randint(10, 80)):
        i = rng.randrange(n)
        r = rng.random()
        a, b = rng.randrange(2**16), rng.randrange(2**16)
        if r < 0.4:
            sim.insert(i, a, rng.randint(1, 6))
        elif r < 0.47:
            sim.insert_backwards(i, a, rng.randint(2, 4))
        elif r < 0.67:
            sim.delete(i, a, b, backspace=rng.random() < 0.4)
        elif r < 0.95:
            sim.merge(i, rng.randrange(n), rng.randrange(5), b)
        else:
            sim.set_offline(i, i not in sim.offline)
    return sim


@pytest.mark.parametrize("chunk", range(10))
def test_walker_matches_reference_after_every_merge(chunk):
    for seed in range(chunk, DIFF_SEEDS, 10):
        try:
            sim = _random_history(seed)
            for d in sim.docs:
                assert_consistent(d)
            sim.final_check(seed)
        except AssertionError:
            print(f"differential seed {seed} failed")
            raise


@settings(max_examples=EXAMPLES, deadline=None)
@given(n_agents=st.integers(2, 4), actions=st.lists(action, max_size=40))
def test_walker_matches_reference_hypothesis(n_agents, actions):
    sim = Sim(n_agents, check_reference_every_merge=True)
    run_actions(sim, actions)
    for d in sim.docs:
        assert_consistent(d)


def test_text_at_every_version_matches_reference_prefix_replay():
    """text_at(v) equals the reference text of a replica that only has v's history."""
    from cowrite.engine import Document

    sim = _random_history(4242)
    d = sim.docs[0]
    sim.final_check(1)
    ops = d.ops_since(())
    replay = Document("replay")
    for op in ops:
        replay.add_ops([op])
        assert d.text_at(replay.version) == replay.text
        assert_consistent(replay)
