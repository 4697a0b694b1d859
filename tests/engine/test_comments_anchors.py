"""Comment anchors (``cowrite.engine.anchors.Anchor``): ranges that follow concurrent edits.

The property test runs three replicas that type (every character unique), delete,
merge in random orders and put anchors on random ranges.  For every anchor, on every
replica that has its characters:

* every character of the range that survives lies inside the resolved range;
* no character that was outside the range when the anchor was made is ever inside it;
* the anchor is detached (``None``) exactly when it has no character left inside --
  in particular never while one of its own characters survives;
* replicas that hold the same ops resolve it to the same text.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document, InvalidOpError, Position, UnknownVersionError
from cowrite.engine.anchors import Anchor

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "200"))


def test_anchor_follows_edits_around_and_inside() -> None:
    doc = Document("a")
    doc.insert(0, "the quick fox")
    anchor = Anchor.over(doc, 4, 9)  # "quick"
    assert anchor.resolve(doc) == (4, 9)
    doc.insert(0, ">> ")  # before it
    doc.insert(len(doc), "!")  # after it
    doc.insert(7, "[")  # exactly at its start: stays outside
    assert doc.text[slice(*anchor.resolve(doc))] == "quick"
    lo, hi = anchor.resolve(doc)
    doc.insert(hi, "]")  # exactly at its end: stays outside
    doc.insert(lo + 2, "-")  # inside it
    assert doc.text[slice(*anchor.resolve(doc))] == "qu-ick"
    doc.delete(lo, 2)  # its first characters
    assert doc.text[slice(*anchor.resolve(doc))] == "-ick"


def test_fully_deleted_range_is_detached_even_if_text_is_typed_there() -> None:
    doc = Document("a")
    doc.insert(0, "keep this part")
    anchor = Anchor.over(doc, 5, 9)
    doc.delete(4, 5)  # " this"
    assert anchor.resolve(doc) is None
    doc.insert(4, " that")  # new text at the same place is not the old range
    assert anchor.resolve(doc) is None
    assert doc.text == "keep that part"


def test_concurrent_delete_detaches_on_both_replicas() -> None:
    a = Document("a")
    a.insert(0, "hello world")
    b = a.fork("b")
    anchor = Anchor.over(a, 6, 11)
    b.delete(5, 6)
    a.insert(0, "¡")
    a.merge(b)
    b.merge(a)
    assert a.text == b.text == "¡hello"
    assert anchor.resolve(a) is None and anchor.resolve(b) is None


def test_resolve_at_a_past_version() -> None:
    doc = Document("a")
    doc.insert(0, "abc def")
    anchor = Anchor.over(doc, 4, 7)
    then = doc.version
    doc.delete(3, 4)
    assert anchor.resolve(doc) is None
    assert anchor.resolve(doc, then) == (4, 7)


def test_unknown_characters_raise() -> None:
    a = Document("a")
    a.insert(0, "xyz")
    anchor = Anchor.over(a, 0, 2)
    with pytest.raises(UnknownVersionError):
        anchor.resolve(Document("b"))


@pytest.mark.parametrize(
    ("start", "end"), [(0, 0), (2, 1), (-1, 2), (0, 4), (True, 2), (0, 2.0)]
)
def test_over_refuses_bad_ranges(start: object, end: object) -> None:
    doc = Document("a")
    doc.insert(0, "abc")
    with pytest.raises(InvalidOpError):
        Anchor.over(doc, start, end)  # type: ignore[arg-type]


def test_refuses_edges_and_wrong_sides() -> None:
    with pytest.raises(InvalidOpError):
        Anchor(Position(None, 0, -1), Position("a", 1, -1))
    with pytest.raises(InvalidOpError):
        Anchor(Position("a", 0, -1), Position("a", 1, -1))
    with pytest.raises(InvalidOpError):
        Anchor(Position("a", 0, 1), Position("a", 1, 1))


def test_wire_forms_round_trip_and_refuse_garbage() -> None:
    anchor = Anchor(Position("alice", 3, 1), Position("bob-ü", 1 << 40, -1))
    assert Anchor.decode(anchor.encode()) == anchor
    assert Anchor.from_json(anchor.to_json()) == anchor
    data = anchor.encode()
    for bad in [b"", b"CWA", data[:-len("bob-ü".encode())], b"CWB" + data[3:], data[:3] + b"\xff\xff\xff" + data[4:],
                data + b"x" * 2000, Anchor(Position("a", 0, 1), Position("a", 1, -1)).encode()[:-1]]:
        with pytest.raises(DecodeError):
            Anchor.decode(bad)
    for obj in [None, [], {"start": None}, {"start": {}, "end": {}}, {**anchor.to_json(), "x": 1},
                {"start": anchor.to_json()["end"], "end": anchor.to_json()["start"]}]:
        with pytest.raises(DecodeError):
            Anchor.from_json(obj)


# -- property: anchors follow concurrent edits -----------------------------------------

N = 3
actions = st.lists(
    st.one_of(
        st.tuples(st.just("ins"), st.integers(0, N - 1), st.integers(0, 1000), st.integers(1, 4)),
        st.tuples(st.just("del"), st.integers(0, N - 1), st.integers(0, 1000), st.integers(1, 6)),
        st.tuples(st.just("merge"), st.integers(0, N - 1), st.integers(0, N - 1)),
        st.tuples(st.just("anchor"), st.integers(0, N - 1), st.integers(0, 1000), st.integers(1, 8)),
    ),
    max_size=40,
)


class _Tracked:
    def __init__(self, anchor: Anchor, inside: set[str], outside: set[str]) -> None:
        self.anchor = anchor
        self.inside = inside
        self.outside = outside


def _check(doc: Document, t: _Tracked) -> None:
    try:
        found = t.anchor.resolve(doc)
    except UnknownVersionError:
        return  # this replica has not seen the anchored characters yet
    text = doc.text
    surviving = t.inside & set(text)
    if found is None:
        assert not surviving, f"detached while {sorted(surviving)} of its characters survive"
        return
    covered = set(text[found[0] : found[1]])
    assert covered, "a resolved range is never empty"
    assert surviving <= covered
    assert not (covered & t.outside), "a character outside the range moved into it"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_anchors_follow_concurrent_edits(steps: list[tuple]) -> None:
    docs = [Document(f"r{i}") for i in range(N)]
    docs[0].insert(0, "".join(chr(0x4E00 + k) for k in range(12)))
    for d in docs[1:]:
        d.merge(docs[0])
    counter = [12]
    tracked: list[_Tracked] = []
    for step in steps:
        kind, i = step[0], step[1]
        d = docs[i]
        if kind == "ins":
            s = "".join(chr(0x4E00 + counter[0] + k) for k in range(step[3]))
            counter[0] += step[3]
            d.insert(step[2] % (len(d) + 1), s)
        elif kind == "del" and len(d):
            pos = step[2] % len(d)
            d.delete(pos, min(step[3], len(d) - pos))
        elif kind == "merge":
            d.merge(docs[step[2]])
        elif kind == "anchor" and len(d):
            lo = step[2] % len(d)
            hi = min(len(d), lo + step[3])
            anchor = Anchor.over(d, lo, hi)
            assert anchor.resolve(d) == (lo, hi)
            t = _Tracked(anchor, set(d.text[lo:hi]), set(d.text[:lo]) | set(d.text[hi:]))
            tracked.append(t)
        for t in tracked:
            _check(d, t)
    for d in docs:
        for other in docs:
            d.merge(other)
    assert len({d.text for d in docs}) == 1
    for t in tracked:
        results = set()
        for d in docs:
            _check(d, t)
            found = t.anchor.resolve(d)
            results.add(None if found is None else d.text[found[0] : found[1]])
        assert len(results) == 1, f"replicas disagree on the anchored text: {results}"
