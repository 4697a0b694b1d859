"""Keeping a merge's CRDT state for the next merge (``merge/cache.py``).

A cached walk must give exactly the edits a fresh walk gives; ``extends`` and
``resumable`` decide when continuing one is right and no dearer than starting over.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import Document, InvalidOpError, Op
from cowrite.engine import document as document_mod
from cowrite.engine.causal_graph import CausalGraph
from cowrite.engine.merge import MergeCache
from cowrite.engine.merge.cache import CATCH_UP, extends, resumable
from cowrite.engine.reference import reference_text
from engine_helpers import hyp


def test_merges_during_a_long_concurrent_session_reuse_the_walk():
    """Three people typing without ever pausing: the server-side replica must not re-walk
    the whole session on every keystroke (the merge cache), and stays exact."""
    server = Document("server")
    users = [Document(n) for n in ("ann", "bo", "cy")]
    for step in range(60):
        for i, u in enumerate(users):
            u.insert(min(len(u.text), 3 * i), "abc"[i])
            server.add_ops(u.ops_since(()))  # every keystroke arrives on its own
        if step % 7 == 0:  # the users hear from each other only now and then
            for u in users:
                u.merge(server)
    assert server._merge_cache.hits > 100
    assert server.text == reference_text(server.oplog)
    for u in users:
        u.merge(server)
        assert u.text == server.text


# -- a cached walk gives the same edits as a fresh one ------------------------------------

# (who: 0-2 a user, 3 the server; what: 0 type, 1 delete, 2 deliver to the server, 3 the
#  server's news to the user; where; how many; which part of the pending ops)
event = st.tuples(st.integers(0, 3), st.integers(0, 3), st.floats(0, 1), st.integers(1, 4), st.floats(0, 1))


def run_session(events: list[tuple[int, int, float, int, float]], direct: bool) -> tuple[Document, int]:
    saved = document_mod._DIRECT
    document_mod._DIRECT = direct
    try:
        server = Document("server", clock=lambda: 0)
        server.position(0)  # character ids kept in step: merges report the LVs they insert
        users = [Document(n, clock=lambda: 0) for n in ("ann", "bo", "cy")]
        for who, what, where, n, part in events:
            d = server if who == 3 else users[who]
            if what == 0 or (what == 1 and not len(d)):
                d.insert(int(where * len(d)), "xyz·"[who] * n)
            elif what == 1:
                pos = int(where * (len(d) - 1))
                d.delete(pos, min(n, len(d) - pos))
            elif who == 3:
                continue
            elif what == 2:  # the server gets a causal prefix of what it lacks from this user
                missing = d.ops_since(tuple(v for v in server.version if d.oplog.cg.raw_to_lv(*v) is not None))
                batch = missing[: max(1, int(part * len(missing)))]
                fresh = server.copy()  # no cached walk: every merge from scratch
                fresh._ids = None
                fresh.position(0)
                got = server.add_ops(batch)
                assert got == fresh.add_ops(batch), "a cached walk emitted other edits than a fresh one"
                assert server.text == fresh.text
                assert list(server.id_map().runs()) == list(fresh.id_map().runs())
            else:
                d.merge(server)
        for u in users:
            server.merge(u)
        assert server.text == reference_text(server.oplog)
        return server, server._merge_cache.hits
    finally:
        document_mod._DIRECT = saved


@hyp
@given(st.lists(event, max_size=50), st.booleans())
def test_a_cached_walk_gives_the_edits_of_a_fresh_one(
    events: list[tuple[int, int, float, int, float]], direct: bool
) -> None:
    run_session(events, direct)


def test_the_cache_is_used_by_such_sessions() -> None:
    rnd = random.Random(5)
    events = [(rnd.randrange(4), rnd.randrange(4), rnd.random(), rnd.randint(1, 4), rnd.random()) for _ in range(300)]
    for direct in (True, False):
        server, hits = run_session(events, direct)
        assert hits > 20, f"the cache was hardly used (direct={direct}): {hits} hits"


# -- extends / resumable ---------------------------------------------------------------------


def cache_at(base: tuple[int, ...], lv_end: int) -> MergeCache:
    cache = MergeCache()
    cache.walk = SimpleNamespace(base=base)  # type: ignore[assignment]  # all the checks read
    cache.lv_end = lv_end
    return cache


def graph() -> CausalGraph:
    """a: 0..2; b: 3..4 on 2; a: 5 on 2 (concurrent with b); c: 6 on (4, 5); a: 7 on 6.

    A cache is only ever in a state where every LV below its ``lv_end`` is in the
    history of its base or descends from it; the cases below keep to that."""
    cg = CausalGraph()
    cg.add("a", 0, 3, ())
    cg.add("b", 0, 2, (2,))
    cg.add("a", 3, 1, (2,))
    cg.add("c", 0, 1, (4, 5))
    cg.add("a", 4, 1, (6,))
    return cg


def test_extends() -> None:
    cg = graph()
    assert not extends(cg, MergeCache(), 7)  # nothing cached
    assert extends(cg, cache_at((6,), 7), 7)  # LV 7 sits on 6, the base
    assert extends(cg, cache_at((2,), 5), 5)  # 5, 6, 7 all hang off LVs at or after the base
    assert extends(cg, cache_at((), 3), 3)  # the empty base: everything descends from it
    assert not extends(cg, cache_at((4,), 5), 5)  # LV 5 is concurrent with the base (its parent 2 < 4)
    assert not extends(cg, cache_at((6,), 7), 6)  # the new ops start before the cached end
    assert not extends(cg, cache_at((6,), 7), 8)  # no new ops at all
    assert not extends(cg, cache_at((4, 5), 6), 6)  # a base of two LVs: no cheap answer
    cg.add("d", 0, 1, ())  # LV 8: a new root
    assert not extends(cg, cache_at((7,), 8), 8)
    assert extends(cg, cache_at((), 8), 8)


def test_extends_bounds_the_catch_up() -> None:
    cg = CausalGraph()
    cg.add("a", 0, CATCH_UP + 10, ())
    assert extends(cg, cache_at((0,), 1), CATCH_UP + 1)
    assert not extends(cg, cache_at((0,), 1), CATCH_UP + 2)


def test_resumable() -> None:
    cg = graph()
    spans = [(3, 8, 3)]
    assert resumable(cg, cache_at((6,), 7), (6,), spans, [(7, 8)])  # the same base
    assert resumable(cg, cache_at((2,), 7), (6,), spans, [(7, 8)])  # common descends from the base
    assert resumable(cg, cache_at((), 7), (6,), spans, [(7, 8)])
    assert not resumable(cg, cache_at((6,), 7), (2,), spans, [(7, 8)])  # common before the base
    assert not resumable(cg, cache_at((4,), 5), (5,), spans, [(5, 8)])  # concurrent with it
    assert not resumable(cg, cache_at((6,), 8), (6,), spans, [(7, 8)])  # cached past the new ops
    # catching up on more local ops than a fresh walk would walk: start over
    assert resumable(cg, cache_at((2,), 3), (2,), [(3, 8, 3)], [(7, 8)])
    assert not resumable(cg, cache_at((2,), 3), (6,), [(7, 8, 2)], [(7, 8)])


@pytest.mark.parametrize("direct", [True, False])
def test_a_failed_merge_drops_the_cache_and_the_next_is_exact(direct: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document_mod, "_DIRECT", direct)
    server = Document("server")
    a, b = Document("a"), Document("b")
    for i in range(5):
        a.insert(0, "a")
        b.insert(0, "b")
        server.add_ops(a.ops_since(()))
        server.add_ops(b.ops_since(()))
    assert server._merge_cache.walk is not None
    a.insert(0, "A")
    bad = [*a.ops_since(()), Op.insert("b", 5, (("b", 4),), 99, "!")]
    with pytest.raises(InvalidOpError):
        server.add_ops(bad)
    assert server._merge_cache.walk is None
    b.insert(1, "B")
    server.add_ops(a.ops_since(()) + b.ops_since(()))
    assert server.text == reference_text(server.oplog)
