"""Document.add_ops's direct path: ops that follow one another on top of the document's
version are applied as they are, without a merge walk.  It must give exactly what the
walk gives (edits, text, version, character ids, later merges) and refuse the same ops.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import CowriteError, Document, InvalidOpError, Op
from cowrite.engine import document as document_mod
from cowrite.engine.oplog import ops_unknown_to

ALPHABET = "ab \né日👋"

# (actor, kind, x, y): kind 0 insert, 1 delete, 2 deliver some of what replica y lacks from x
step = st.tuples(st.integers(0, 2), st.integers(0, 2), st.floats(0, 1), st.integers(0, 6))


def replay(steps: list[tuple[int, int, float, int]], direct: bool) -> tuple[list[object], list[Document]]:
    """Run ``steps`` on three replicas (two with character ids built); return everything
    add_ops returned (or the error it raised) and the replicas."""
    saved = document_mod._DIRECT
    document_mod._DIRECT = direct
    try:
        docs = [Document(name, clock=lambda: 1_700_000_000) for name in ("alice", "bob", "carol")]
        docs[0].position(0)  # character ids kept in step from the start
        trace: list[object] = []
        for actor, kind, x, y in steps:
            d = docs[actor]
            if kind == 0:
                d.insert(int(x * len(d)), ALPHABET[y % len(ALPHABET)] * (1 + y % 3))
            elif kind == 1:
                if len(d):
                    pos = int(x * (len(d) - 1))
                    d.delete(pos, min(1 + y % 3, len(d) - pos))
            else:
                dst = docs[y % 3]
                if dst is d:
                    continue
                missing = ops_unknown_to(d.oplog, dst.oplog.cg)
                take = missing[: max(1, int(x * len(missing)))] if missing else []
                trace.append(dst.add_ops(take))  # a causally closed prefix
                if y % 2:
                    docs[1].position(0)  # build bob's ids midway
        return trace, docs
    finally:
        document_mod._DIRECT = saved


def snapshot(d: Document) -> object:
    ids = d._ids
    return (
        d.text,
        d.version,
        d.ops_since(()),
        None if ids is None else [ids.lv_at(i) for i in range(len(ids))],
        d.blame() if len(d) else [],
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=60))
def test_direct_path_equals_the_merge_walk(steps: list[tuple[int, int, float, int]]) -> None:
    fast_trace, fast_docs = replay(steps, True)
    slow_trace, slow_docs = replay(steps, False)
    assert fast_trace == slow_trace
    for a, b in zip(fast_docs, slow_docs):
        assert snapshot(a) == snapshot(b)
    # and everything still converges afterwards (merge caches left behind are sound)
    for docs in (fast_docs, slow_docs):
        for a in docs:
            for b in docs:
                b.merge(a)
    assert len({d.text for d in fast_docs + slow_docs}) == 1


def test_direct_path_is_taken_for_a_remote_keystroke(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = document_mod.direct_edits

    def spy(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(document_mod, "direct_edits", spy)
    a, b = Document("a"), Document("b")
    a.insert(0, "hello")
    b.apply_patch(a.encode_patch())
    v = a.version
    a.insert(5, "!")
    a.delete(0, 1)
    assert b.apply_patch(a.encode_patch(v)) == [(0, 5, "!"), (1, 0, 1)]
    assert b.text == a.text == "ello!"
    assert len(calls) == 2
    # concurrent: the walk, not the direct path
    v = a.version
    b.insert(0, "B")
    a.insert(0, "A")
    assert b.apply_patch(a.encode_patch(v)) == [(0, 0, "A")]
    assert len(calls) == 2


@pytest.mark.parametrize("direct", [True, False])
def test_direct_path_refuses_what_the_walk_refuses(direct: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document_mod, "_DIRECT", direct)
    base = Document("a")
    base.insert(0, "abc")
    top = base.version
    bad = [
        [Op.insert("x", 0, top, 4, "z")],  # past the end
        [Op.delete("x", 0, top, 2, 2)],  # delete past the end
        [Op.delete("x", 0, top, 0, 4, fwd=False)],
        [Op.insert("x", 0, top, 3, "zz"), Op.delete("x", 2, (("x", 1),), 0, 6)],  # second op past the end
    ]
    for ops in bad:
        d = base.copy()
        d.position(0)
        before = snapshot(d)
        with pytest.raises(InvalidOpError):
            d.add_ops(ops)
        assert snapshot(d) == before
        d.insert(0, "ok")  # still usable
    good = [Op.insert("x", 0, top, 3, "zz"), Op.delete("x", 2, (("x", 1),), 0, 5, fwd=False)]
    d = base.copy()
    assert d.add_ops(good) == [(0, 3, "zz"), (1, 0, 5)]
    assert d.text == ""


def test_direct_path_long_random_typing_matches_walk() -> None:
    """Five replicas typing and exchanging keystrokes one at a time, like the load bench."""
    results = []
    for direct in (True, False):
        saved = document_mod._DIRECT
        document_mod._DIRECT = direct
        try:
            r = random.Random(7)
            docs = [Document(f"c{i}", clock=lambda: 0) for i in range(5)]
            inbox: list[list[list[Op]]] = [[] for _ in docs]
            edits: list[object] = []
            for _ in range(600):
                i = r.randrange(5)
                d = docs[i]
                if inbox[i] and r.random() < 0.6:
                    edits.append(d.add_ops(inbox[i].pop(0)))
                    continue
                v = d.version
                if len(d) and r.random() < 0.2:
                    d.delete(r.randrange(len(d)), 1)
                else:
                    d.insert(r.randrange(len(d) + 1), r.choice("xyz "))
                sent = d.ops_since(v)
                for j in range(5):
                    if j != i:
                        inbox[j].append(sent)
            for i, d in enumerate(docs):
                while inbox[i]:
                    edits.append(d.add_ops(inbox[i].pop(0)))
            results.append((edits, [snapshot(d) for d in docs]))
        finally:
            document_mod._DIRECT = saved
    assert results[0] == results[1]
    assert len({s[0] for s in results[0][1]}) == 1  # type: ignore[index]


def test_errors_roll_back_on_either_path() -> None:
    d = Document("a")
    d.insert(0, "ab")
    with pytest.raises(CowriteError):
        d.add_ops([Op.insert("b", 0, d.version, 9, "x")])
    assert d.text == "ab" and len(d.oplog) == 2
