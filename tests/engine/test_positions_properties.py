"""Properties of stable positions (``Document.position`` / ``resolve``, ``Position``).

``PosSim`` is ``sim.Sim`` (globally unique characters, random delivery orders,
partial syncs, offline stretches) plus positions placed on random characters of
random replicas.  After every edit and merge, on every replica that changed:

* a position on a character that is still there resolves to that character
  (assoc=1: its index; assoc=-1: its index + 1), whoever typed or deleted what
  around it, on every replica that has the character;
* a position on a deleted character resolves to its tombstone gap: the number of
  surviving characters before it in the Fugue order of ``reference_items``;
* a replica that does not have the character raises ``UnknownVersionError``.

At the end every tracked position is also resolved at past versions (from
``Document.changes()`` and versions replicas were at) against
``reference_items`` restricted to that version's history.

Sizes scale with ``COWRITE_HYPOTHESIS_EXAMPLES`` (default 200) and
``COWRITE_SIM_SEEDS`` (default 12).
"""

from __future__ import annotations

import json
import os
import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document, InvalidOpError, Position, UnknownVersionError
from cowrite.engine.ops import MAX_AGENT_LEN
from cowrite.engine.reference import reference_items
from sim import AGENT_NAMES, Sim
from test_convergence import run_actions as run_edit_actions

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "200"))
SIM_SEEDS = int(os.environ.get("COWRITE_SIM_SEEDS", "12"))

hyp = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

START, END = Position(None, 0, -1), Position(None, 0, 1)


def char_id(p: Position) -> tuple[str, int]:
    return (p.agent, p.seq)


class RefView:
    """``reference_items`` of a replica by character id: value, order, tombstone gap."""

    def __init__(self, doc: Document) -> None:
        cg = doc.oplog.cg
        self.char: dict[tuple[str, int], str] = {}
        self.gap: dict[tuple[str, int], int] = {}
        self.visible: list[tuple[str, int]] = []
        for lv, ch, dels in reference_items(doc.oplog):
            rid = cg.lv_to_raw(lv)
            self.char[rid] = ch
            self.gap[rid] = len(self.visible)
            if not dels:
                self.visible.append(rid)


def history(cg, lvs) -> set[int]:
    seen: set[int] = set()
    stack = list(lvs)
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(cg.parents_of(v))
    return seen


class PosSim(Sim):
    def __init__(self, n_agents: int, *, check_every_edit: bool = True) -> None:
        super().__init__(n_agents)
        self.tracked: list[tuple[Position, str]] = []  # (position, its character's value)
        self.snapshots: list[tuple] = []  # versions some replica was at
        self.check_every_edit = check_every_edit
        self.resolved = 0  # positions checked (to see the test does something)

    # -- placing and checking ---------------------------------------------------------

    def place(self, i: int, raw: int) -> None:
        d = self.docs[i]
        assert d.position(0, -1) == START and d.position(len(d), 1) == END
        assert d.resolve(START) == 0 and d.resolve(END) == len(d)
        if not len(d):
            return
        idx = raw % len(d)
        c = d.text[idx]
        before = d.position(idx, 1)  # the gap before c, tied to c
        after = d.position(idx + 1, -1)  # the gap after c, tied to c
        assert char_id(before) == char_id(after)
        assert (before.assoc, after.assoc) == (1, -1)
        ref = RefView(d)
        assert ref.visible[idx] == char_id(before) and ref.char[char_id(before)] == c
        assert d.resolve(before) == idx and d.resolve(after) == idx + 1
        for p in (before, after):
            assert Position.decode(p.encode()) == p
            assert Position.from_json(json.loads(json.dumps(p.to_json()))) == p
        self.tracked += [(before, c), (after, c)]
        self.log.append(f"{d.agent}: positions on {c!r} at {idx}")

    def snapshot(self, i: int) -> None:
        self.snapshots.append(self.docs[i].version)

    def check(self, d: Document) -> None:
        text = d.text
        cg = d.oplog.cg
        ref: RefView | None = None
        for p, c in self.tracked:
            if cg.raw_to_lv(p.agent, p.seq) is None:
                with pytest.raises(UnknownVersionError):
                    d.resolve(p)
                continue
            k = text.find(c)
            if k >= 0:
                expected = k + (1 if p.assoc == -1 else 0)
            else:
                ref = ref or RefView(d)
                expected = ref.gap[char_id(p)]
            got = d.resolve(p)
            assert got == expected, (
                f"{d.agent}: {p} on {c!r} ({'alive' if k >= 0 else 'deleted'}) resolved to {got}, "
                f"expected {expected}\n  " + "\n  ".join(self.log[-12:])
            )
            self.resolved += 1
        assert d.resolve(START) == 0 and d.resolve(END) == len(text)

    def check_past_versions(self, d: Document, rng: random.Random, n_versions: int = 5, n_positions: int = 10) -> None:
        """Resolve positions at past versions against the reference restricted to them."""
        cg = d.oplog.cg
        items = reference_items(d.oplog)
        versions = [ch.version for ch in d.changes()] + self.snapshots
        tracked = rng.sample(self.tracked, min(n_positions, len(self.tracked)))
        for v in rng.sample(versions, min(n_versions, len(versions))):
            hist = history(cg, [cg.raw_to_lv(a, s) for a, s in v])
            visible_at_v = [
                (lv, ch) for lv, ch, dels in items if lv in hist and not any(x in hist for x in dels)
            ]
            text_v = d.text_at(v)
            assert text_v == "".join(ch for _, ch in visible_at_v)
            assert d.resolve(START, v) == 0 and d.resolve(END, v) == len(text_v)
            for p, c in tracked:
                lv = cg.raw_to_lv(p.agent, p.seq)
                if lv not in hist:
                    with pytest.raises(UnknownVersionError):
                        d.resolve(p, v)
                    continue
                before = 0  # survivors at v that precede the character
                alive = False
                for ilv, _, dels in items:
                    if ilv == lv:
                        alive = not any(x in hist for x in dels)
                        break
                    if ilv in hist and not any(x in hist for x in dels):
                        before += 1
                expected = before + (1 if alive and p.assoc == -1 else 0)
                assert d.resolve(p, v) == expected, f"{p} on {c!r} at {v}"
                if alive:
                    assert text_v[before] == c
                self.resolved += 1

    # -- the Sim actions, checked -----------------------------------------------------

    def insert(self, i: int, pos_raw: int, n: int) -> None:
        super().insert(i, pos_raw, n)
        if self.check_every_edit:
            self.check(self.docs[i])

    def delete(self, i: int, pos_raw: int, len_raw: int, backspace: bool = False) -> None:
        super().delete(i, pos_raw, len_raw, backspace)
        if self.check_every_edit:
            self.check(self.docs[i])

    def merge(self, r: int, s: int, method: int, seed: int) -> None:
        n = self.merges
        super().merge(r, s, method, seed)
        if self.merges != n:
            self.check(self.docs[r])
            if method % 5 == 4:
                self.check(self.docs[s])

    def finish(self, seed: int) -> None:
        """Sync everyone (``Sim.final_check``), then check every replica, a decoded
        copy, the explicit current version, and past versions."""
        self.final_check(seed)
        rng = random.Random(seed)
        d = self.docs[0]
        copy = Document.decode(d.encode(), "reloaded")
        for doc in self.docs + [copy]:
            self.check(doc)
        for p, _ in self.tracked:
            assert d.resolve(p, d.version) == d.resolve(p) == copy.resolve(p)
        self.check_past_versions(d, rng)


# (kind, agent, other, a, b): kinds 0-11 are test_convergence's edits, merges and
# offline switches; 12-14 place a tracked position (12, 13) or snapshot a version (14)
action = st.tuples(
    st.integers(0, 14),
    st.integers(0, 4),
    st.integers(0, 4),
    st.one_of(st.integers(0, 3), st.integers(0, 2**16)),
    st.integers(0, 2**16),
)


def run_actions(sim: PosSim, actions) -> None:
    n = len(sim.docs)
    for kind, i, j, a, b in actions:
        if kind <= 11:
            run_edit_actions(sim, [(kind, i, j, a, b)])
        elif kind <= 13:
            sim.place(i % n, a)
        else:
            sim.snapshot(i % n)


# -- positions stay on their character ---------------------------------------------------


@hyp
@given(n_agents=st.integers(2, 4), actions=st.lists(action, min_size=20, max_size=60), seed=st.integers(0, 2**16))
def test_positions_follow_their_character(n_agents, actions, seed):
    """Alive: on the character; deleted: at its tombstone gap; unknown: raises.
    Checked after every edit and merge, then at past versions after a full sync."""
    sim = PosSim(n_agents)
    run_actions(sim, actions)
    sim.finish(seed)


@hyp
@given(
    n_agents=st.integers(2, 4),
    base=st.integers(1, 10),
    words=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4), st.booleans()), min_size=1, max_size=8),
    pos=st.integers(0, 2**16),
    seed=st.integers(0, 2**16),
)
def test_positions_at_a_spot_everyone_types_at(n_agents, base, words, pos, seed):
    """Positions tied to the characters on both sides of one gap, then everyone
    types exactly there concurrently (and some delete the neighbours): an assoc=1
    position stays before all of it, assoc=-1 after."""
    sim = PosSim(n_agents)
    sim.insert(0, 0, base)
    for i in range(1, n_agents):
        sim.merge(i, 0, 0, 0)
    p = pos % (base + 1)
    d = sim.docs[0]
    if p < base:
        sim.place(0, p)  # tied to the character after the gap
    if p > 0:
        sim.place(0, p - 1)  # tied to the character before it
    for who, n, backwards in words:
        who %= n_agents
        if backwards:
            sim.insert_backwards(who, p, n)
        else:
            sim.insert(who, p, n)
    if len(d) and seed % 3 == 0:
        sim.delete(seed % n_agents, p, 0)
    sim.finish(seed)


@pytest.mark.parametrize("seed", range(SIM_SEEDS))
def test_seeded_position_simulation(seed):
    """150-250 actions with offline stretches; checked after every merge."""
    rng = random.Random(seed)
    n_agents = 2 + seed % 3
    sim = PosSim(n_agents, check_every_edit=False)
    offline_until = [0] * n_agents
    for t in range(rng.randint(150, 250)):
        for i in range(n_agents):
            if t >= offline_until[i] and i in sim.offline:
                sim.set_offline(i, False)
        i = rng.randrange(n_agents)
        r = rng.random()
        a, b = rng.randrange(2**16), rng.randrange(2**16)
        if r < 0.35:
            sim.insert(i, a, rng.choice([1, 1, 2, 3, 8]))
        elif r < 0.4:
            sim.insert_backwards(i, a, rng.randint(2, 5))
        elif r < 0.6:
            sim.delete(i, a, b, backspace=rng.random() < 0.3)
        elif r < 0.7:
            sim.place(i, a)
        elif r < 0.72:
            sim.snapshot(i)
        elif r < 0.97:
            sim.merge(i, rng.randrange(n_agents), rng.randrange(5), b)
        else:
            sim.set_offline(i, True)
            offline_until[i] = t + rng.randint(20, 100)
    try:
        sim.finish(seed)
    except AssertionError:
        print(f"seed {seed} failed; last actions:\n  " + "\n  ".join(sim.log[-20:]))
        raise
    assert sim.resolved > 0


# -- errors -------------------------------------------------------------------------------


def test_resolve_errors():
    a, b = Document("a"), Document("b")
    a.insert(0, "hello")
    b.merge(a)
    b.insert(5, "!")
    b.delete(0, 1)
    on_bang = b.position(4)
    assert b.resolve(on_bang) == 4
    with pytest.raises(UnknownVersionError):
        a.resolve(on_bang)  # a does not have "!"
    with pytest.raises(UnknownVersionError):
        b.resolve(on_bang, a.version)  # nor had b at that version
    with pytest.raises(UnknownVersionError):
        b.resolve(Position("nobody", 0))
    with pytest.raises(UnknownVersionError):
        b.resolve(on_bang, [("nobody", 3)])
    delete_op = [op for op in b.ops_since(()) if op.kind == "del"][0]
    with pytest.raises(InvalidOpError):
        b.resolve(Position(delete_op.agent, delete_op.seq))  # a delete op is not a character
    with pytest.raises(InvalidOpError):
        b.resolve(("b", 0, 1))  # type: ignore[arg-type]
    for bad in (-1, len(b) + 1, 1.0, None):
        with pytest.raises(InvalidOpError):
            b.position(bad)  # type: ignore[arg-type]
    for bad in (0, 2, True, None):
        with pytest.raises(InvalidOpError):
            b.position(0, bad)  # type: ignore[arg-type]


# -- wire forms ---------------------------------------------------------------------------

agents = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12),
    st.text("ab", min_size=MAX_AGENT_LEN - 1, max_size=MAX_AGENT_LEN),
    st.sampled_from(AGENT_NAMES),
)
positions = st.one_of(
    st.builds(Position, agents, st.integers(0, 2**53 - 1), st.sampled_from([1, -1])),
    st.builds(Position, st.none(), st.just(0), st.sampled_from([1, -1])),
)


@hyp
@given(p=positions)
def test_position_round_trips(p):
    data = p.encode()
    assert isinstance(data, bytes)
    assert Position.decode(data) == p
    assert Position.decode(bytearray(data)) == p
    obj = p.to_json()
    assert Position.from_json(obj) == p
    assert Position.from_json(json.loads(json.dumps(obj))) == p


@hyp
@example(data=b"CWC\x01\x00")  # seq 0, no agent: the document end
@example(data=b"CWC\x01\x01")  # an edge with seq 1
@example(data=b"CWC\x00" + b"\xff" * 10 + b"\x01a")  # overlong seq
@example(data=b"CWC\x01\x80\x80\x80\x80\x80\x80\x80\x80\x10a")  # seq 2**60
@example(data=b"CWC\x01\x00\xed\xa0\x80")  # a lone surrogate in UTF-8
@example(data=b"CWC\x01\x00" + b"a" * (MAX_AGENT_LEN + 1))
@example(data=b"CWC\x02\x00a")
@given(
    data=st.one_of(
        st.binary(max_size=24),
        st.builds(lambda side, rest: b"CWC" + bytes([side]) + rest, st.integers(0, 3), st.binary(max_size=20)),
        st.builds(lambda p, cut: p.encode()[:cut], positions, st.integers(0, 30)),
    )
)
def test_decode_random_bytes(data):
    """Random bytes decode to a Position (which then round-trips) or raise DecodeError."""
    try:
        p = Position.decode(data)
    except DecodeError:
        return
    assert isinstance(p, Position)
    assert Position.decode(p.encode()) == p


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@hyp
@given(
    obj=st.one_of(
        json_values,
        st.fixed_dictionaries({"agent": json_values | agents, "seq": json_values, "assoc": json_values}),
        st.fixed_dictionaries(
            {"agent": agents | st.none(), "seq": st.integers(-2, 2**54), "assoc": st.sampled_from([1, -1, 0, 1.0, True])}
        ),
    )
)
def test_from_json_random_objects(obj):
    """Any JSON-ish value gives a Position (which then round-trips) or DecodeError."""
    try:
        p = Position.from_json(obj)
    except DecodeError:
        return
    assert Position.from_json(p.to_json()) == p


@pytest.mark.parametrize("data", [None, "CWC\x01\x00a", 42, [67, 87, 67, 1, 0]])
def test_decode_rejects_non_bytes(data):
    with pytest.raises(DecodeError):
        Position.decode(data)
