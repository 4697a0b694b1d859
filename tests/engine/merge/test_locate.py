"""Following characters from one version to another (``merge/locate.py``).

``locate(oplog, branch, indices, target)`` says, for characters named by index at
``branch``, whether each is still there at ``branch ∪ target``, its index there (a
deleted one's tombstone gap: how many survivors precede it in Fugue order) and
which walked deletes removed it.  Named cases, then random histories against the
reference (``reference_items``: every character ever typed, in Fugue order).
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import Document
from cowrite.engine.merge import locate
from cowrite.engine.oplog import OpLog
from cowrite.engine.reference import reference_items
from engine_helpers import hyp, sync
from sim import Sim
from test_convergence import action, run_actions


def lvs(doc: Document) -> tuple[int, ...]:
    return doc.branch.version


def where(
    oplog: OpLog, branch: tuple[int, ...], indices: list[int], target: tuple[int, ...]
) -> list[tuple[int, bool, list[int]]]:
    return [(f.pos, f.alive, f.deleters) for f in locate(oplog, branch, indices, target)]


def test_nothing_to_walk() -> None:
    a = Document("alice")
    a.insert(0, "hello")
    v = lvs(a)
    assert where(a.oplog, v, [0, 4], v) == [(0, True, []), (4, True, [])]
    assert where(a.oplog, v, [], v) == []
    a.insert(0, ">")
    assert where(a.oplog, lvs(a), [1], v) == [(1, True, [])]  # target in branch's past: nothing new


def test_sequential_edits_move_and_delete() -> None:
    a = Document("alice")
    a.insert(0, "hello")
    v = lvs(a)
    a.insert(0, "XX")  # LVs 5, 6
    a.delete(3, 1)  # LV 7 deletes "e"
    a.insert(3, "Y")  # typed at the tombstone's gap: right after "h", so before the tombstone
    assert a.text == "XXhYllo"
    got = where(a.oplog, v, [0, 1, 2, 4], lvs(a))
    assert got == [(2, True, []), (4, False, [7]), (4, True, []), (6, True, [])]


def test_concurrent_insert_at_a_tombstones_gap() -> None:
    """The README's example: bob types "red " where "fox" starts, alice deletes "fox"."""
    a = Document("alice")
    a.insert(0, "The fox")
    b = a.fork("bob")
    v = lvs(a)
    b.insert(4, "red ")
    a.delete(4, 3)
    sync(a, b)
    assert a.text == "The red "
    got = where(a.oplog, v, [3, 4, 6], lvs(a))
    dels = [a.oplog.cg.raw_to_lv("alice", s) for s in (7, 8, 9)]
    assert got == [(3, True, []), (8, False, [dels[0]]), (8, False, [dels[2]])]


def test_concurrent_deletes_of_one_character_both_count() -> None:
    a = Document("alice")
    a.insert(0, "abc")
    b, c = a.fork("bob"), a.fork("cy")
    v = lvs(a)
    b.delete(1, 1)
    c.delete(0, 2)
    a.insert(3, "!")
    b.merge(c)
    a.merge(b)
    assert a.text == "c!"
    cg = a.oplog.cg
    got = where(a.oplog, v, [1, 0, 1, 2], lvs(a))
    b_del, c_del0, c_del1 = cg.raw_to_lv("bob", 0), cg.raw_to_lv("cy", 0), cg.raw_to_lv("cy", 1)
    assert got[0] == got[2]  # the same character asked for twice
    assert got[0][:2] == (0, False) and sorted(got[0][2]) == sorted([b_del, c_del1])
    assert got[1] == (0, False, [c_del0])
    assert got[3] == (0, True, [])


def test_a_critical_version_in_between_resets_the_state() -> None:
    """A concurrent stretch, a merge everyone builds on, then more concurrency: the tracked
    characters (one already deleted) are carried across the reset of the walk's state."""
    a = Document("alice")
    a.insert(0, "abcdef")
    b = a.fork("bob")
    v = lvs(a)
    a.delete(2, 1)  # "c"
    b.insert(3, "X")  # concurrently, right after "c"
    sync(a, b)  # a critical version: both have everything
    assert a.text == "abXdef"
    a.insert(2, "1")  # at the tombstone of "c" again, concurrently
    b.insert(2, "2")
    b.delete(0, 1)
    sync(a, b)
    got = where(a.oplog, v, [0, 2, 3, 5], lvs(a))
    items = [(lv, ch, dels) for lv, ch, dels in reference_items(a.oplog)]
    order = [ch for _, ch, _ in items]
    assert "".join(ch for _, ch, d in items if not d) == a.text
    c_gap = sum(1 for _, ch, d in items[: order.index("c")] if not d)
    assert got[1][:2] == (c_gap, False)
    assert got[0][:2] == (0, False)
    assert got[2] == (a.text.index("d"), True, []) and got[3] == (a.text.index("f"), True, [])


def test_target_not_a_descendant_of_branch() -> None:
    """The result is at ``branch ∪ target``: here both sides' edits count."""
    a = Document("alice")
    a.insert(0, "abc")
    b = a.fork("bob")
    a.insert(0, "A")  # alice's branch: "Aabc"
    b.delete(0, 1)  # bob: "bc"
    a.merge(b)
    cg = a.oplog.cg
    alice_v = (cg.raw_to_lv("alice", 3),)
    bob_v = (cg.raw_to_lv("bob", 0),)
    assert where(a.oplog, alice_v, [0, 1, 2], bob_v) == [(0, True, []), (1, False, [bob_v[0]]), (1, True, [])]


# -- random histories against the reference ---------------------------------------------------


def history(doc: Document, version: tuple[int, ...]) -> set[int]:
    cg = doc.oplog.cg
    seen: set[int] = set()
    stack = list(version)
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(cg.parents_of(v))
    return seen


def check_locate(doc: Document, branch: tuple[int, ...], target: tuple[int, ...], rnd: random.Random) -> int:
    items = reference_items(doc.oplog)
    hb = history(doc, branch)
    ht = hb | history(doc, target)
    at_branch = [(k, it) for k, it in enumerate(items) if it[0] in hb and not any(d in hb for d in it[2])]
    if not at_branch:
        return 0
    indices = [rnd.randrange(len(at_branch)) for _ in range(rnd.randint(1, 6))]
    got = locate(doc.oplog, branch, indices, target)
    for i, f in zip(indices, got):
        k, (lv, _, dels) = at_branch[i]
        alive = not any(d in ht for d in dels)
        gap = sum(1 for lv2, _, d2 in items[:k] if lv2 in ht and not any(d in ht for d in d2))
        assert (f.pos, f.alive) == (gap, alive), f"index {i} (LV {lv}): got {(f.pos, f.alive)}, expected {(gap, alive)}"
        assert sorted(f.deleters) == sorted(d for d in dels if d in ht and d not in hb)
    return len(indices)


@hyp
@given(n_agents=st.integers(2, 4), actions=st.lists(action, min_size=5, max_size=40), seed=st.integers(0, 2**16))
def test_locate_matches_the_reference(n_agents: int, actions: list[tuple[int, int, int, int, int]], seed: int) -> None:
    sim = Sim(n_agents)
    run_actions(sim, actions)
    rnd = random.Random(seed)
    docs = sim.docs
    d = docs[0]
    for other in docs[1:]:
        d.merge(other)
    versions = [c.version for c in d.changes()] + [o.version for o in docs]
    cg = d.oplog.cg

    def pick() -> tuple[int, ...]:
        return cg.reduce([cg.raw_to_lv(a, s) for a, s in rnd.choice(versions)]) if versions else ()  # type: ignore[misc]

    for _ in range(4):
        check_locate(d, pick(), lvs(d), rnd)  # to the current version
        check_locate(d, pick(), pick(), rnd)  # to any other one
