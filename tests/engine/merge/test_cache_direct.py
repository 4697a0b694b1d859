"""The merge cache across direct merges (issue 14).

A remote op right on top of everything the server has is applied straight to the
text (``Document.add_ops``' direct path).  The cached walk survives it: to the walk
such ops are like local edits, caught up by the next merge, and a critical point
met while catching up starts the state over from a placeholder, so the cache
neither re-walks old concurrency nor grows without bound.
"""

from __future__ import annotations

import random

from cowrite.engine import Document
from cowrite.engine.merge import walk as walk_mod
from cowrite.engine.reference import reference_text


def concurrent_server() -> tuple[Document, Document, Document]:
    """A server that has merged two users' concurrent keystrokes (so it caches a walk)."""
    server = Document("server", clock=lambda: 0)
    ann, bo = Document("ann", clock=lambda: 0), Document("bo", clock=lambda: 0)
    for i in range(6):
        ann.insert(len(ann), "a")
        bo.insert(0, "b")
        server.add_ops(ann.ops_since(()))
        server.add_ops(bo.ops_since(()))
    assert server._merge_cache.walk is not None
    return server, ann, bo


def test_a_direct_merge_keeps_the_cached_walk_and_the_next_merge_continues_it() -> None:
    server, ann, bo = concurrent_server()
    cache = server._merge_cache
    walk = cache.walk
    bo.merge(server)
    v = bo.version
    bo.insert(2, "B")  # on top of everything the server has: the direct path
    server.add_ops(bo.ops_since(v))
    assert cache.walk is walk, "a direct merge dropped the cached walk"
    hits, misses = cache.hits, cache.misses
    ann.insert(1, "A")  # still concurrent with bo's news
    server.add_ops(ann.ops_since(()))
    assert (cache.hits, cache.misses) == (hits + 1, misses), "the next merge did not continue the cached walk"
    assert server.text == reference_text(server.oplog)
    for d in (ann, bo):
        d.merge(server)
        assert d.text == server.text


def test_catching_up_past_a_critical_point_starts_the_state_over() -> None:
    server, ann, bo = concurrent_server()
    cache = server._merge_cache
    assert cache.walk is not None
    before = len(cache.walk.st.starts)
    # ann and bo take turns: each hears everything, then types on top of it (direct)
    for k in range(20):
        d = (ann, bo)[k % 2]
        d.merge(server)
        v = d.version
        d.insert(k % (len(d) + 1), "c")
        server.add_ops(d.ops_since(v))
    assert cache.walk is not None and len(cache.walk.st.starts) == before  # not walked yet
    ann.insert(3, "A")  # concurrent with bo's last turn only
    server.add_ops(ann.ops_since(()))
    walk = cache.walk
    assert walk is not None
    # caught up from the critical version before bo's last turn, not from the first
    # concurrent stretch: the state holds that turn and ann's keystroke, on a placeholder
    assert len(walk.base) == 1 and walk.base[0] > 12
    assert len(walk.st.starts) <= 5, walk.st.starts
    walk.st.check()
    assert server.text == reference_text(server.oplog)
    bo.merge(server)
    ann.merge(server)
    assert ann.text == bo.text == server.text


def test_long_concurrent_sessions_with_direct_merges_stay_exact() -> None:
    """Three users who sync now and then: some keystrokes are direct, most concurrent;
    every state check passes and the server ends with the reference text."""
    rnd = random.Random(14)
    saved = walk_mod.CHECK
    walk_mod.CHECK = True
    try:
        server = Document("server", clock=lambda: 0)
        users = [Document(n, clock=lambda: 0) for n in ("ann", "bo", "cy")]
        sent = [server.version for _ in users]
        for step in range(400):
            i = rnd.randrange(3)
            u = users[i]
            if rnd.random() < 0.2 and len(u):
                pos = rnd.randrange(len(u))
                u.delete(pos, min(len(u) - pos, rnd.randint(1, 3)))
            else:
                u.insert(rnd.randint(0, len(u)), rnd.choice("xyz"))
            server.add_ops(u.ops_since(sent[i]))
            sent[i] = u.version
            if rnd.random() < 0.15:
                u.merge(server)
                sent[i] = u.version
        assert server._merge_cache.hits > 50
    finally:
        walk_mod.CHECK = saved
    assert server.text == reference_text(server.oplog)
    for u in users:
        u.merge(server)
        assert u.text == server.text
