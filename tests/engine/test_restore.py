"""Restoring a version as new ops, the text diff behind it, and the diff view by author.

Properties (hypothesis): the diff is exact and minimal; after ``restore(v)`` the text
is ``text_at(v)`` when nothing is concurrent; a concurrent edit survives the merge
with a restore, on every replica alike; undo returns to the text before the restore,
and redo to the restored one.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowrite.engine import (
    DiffSpan,
    Document,
    InvalidOpError,
    TextEdit,
    UndoManager,
    UnknownVersionError,
    restore,
    text_diff,
    version_diff,
)
from cowrite.engine.textdiff import apply_edits

ALPHABET = "ab \n😀é\u0301🇫🇷"
texts = st.text(alphabet=ALPHABET, max_size=40)


def lcs(a: str, b: str) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b):
            cur = row[j + 1]
            row[j + 1] = prev + 1 if x == y else max(row[j + 1], row[j])
            prev = cur
    return row[len(b)]


def check_shape(old: str, edits: list[TextEdit]) -> None:
    at = 0
    for e in edits:
        assert e.pos >= at and e.delete >= 0 and (e.delete or e.insert)
        at = e.pos + e.delete
    assert at <= len(old)


@settings(max_examples=300, deadline=None)
@given(texts, texts)
def test_diff_is_exact_and_minimal(old: str, new: str) -> None:
    edits = text_diff(old, new)
    check_shape(old, edits)
    assert apply_edits(old, edits) == new
    cost = sum(e.delete + len(e.insert) for e in edits)
    assert cost == len(old) + len(new) - 2 * lcs(old, new)


@settings(max_examples=200, deadline=None)
@given(texts, texts, st.integers(1, 4))
def test_diff_past_its_distance_bound_is_still_exact(old: str, new: str, bound: int) -> None:
    edits = text_diff(old, new, max_distance=bound)
    check_shape(old, edits)
    assert apply_edits(old, edits) == new


def test_diff_of_long_texts_by_lines() -> None:
    lines = [f"line {i} of the text, with some words\n" for i in range(3000)]
    old = "".join(lines)
    changed = list(lines)
    for i in range(0, 3000, 2):  # 1500 changed lines: past a character pass's bound
        changed[i] = changed[i].replace("words", "wordz")
    new = "".join(changed)
    edits = text_diff(old, new)
    assert apply_edits(old, edits) == new
    assert sum(e.delete + len(e.insert) for e in edits) == 2 * 1500  # one character each way per line


def test_diff_refuses_what_is_not_text() -> None:
    with pytest.raises(InvalidOpError):
        text_diff("a", b"b")  # type: ignore[arg-type]


# -- restore ------------------------------------------------------------------------------

actions = st.lists(
    st.tuples(st.integers(0, 2), st.booleans(), st.floats(0, 1), st.text(alphabet="xyz😀\n", min_size=1, max_size=5)),
    min_size=1,
    max_size=25,
)


def edit(doc: Document, insert: bool, where: float, text: str) -> None:
    pos = int(where * len(doc))
    if insert or not len(doc):
        doc.insert(pos, text)
    else:
        pos = min(pos, len(doc) - 1)
        doc.delete(pos, min(len(text), len(doc) - pos))


def history(steps: list[tuple[int, bool, float, str]]) -> Document:
    """Three replicas editing, merging now and then; returns the first with everything."""
    docs = [Document("alice"), Document("bob"), Document("carol")]
    for i, (who, insert, where, text) in enumerate(steps):
        edit(docs[who], insert, where, text)
        if i % 4 == 3:
            for d in docs[1:]:
                docs[0].merge(d)
            for d in docs[1:]:
                d.merge(docs[0])
    for d in docs[1:]:
        docs[0].merge(d)
    return docs[0]


@settings(max_examples=150, deadline=None)
@given(actions, st.data())
def test_restore_makes_the_text_of_the_version(steps: list[tuple[int, bool, float, str]], data: st.DataObject) -> None:
    doc = history(steps)
    versions = [c.version for c in doc.changes()] + [()]
    version = data.draw(st.sampled_from(versions))
    target = doc.text_at(version)
    me = doc.fork("dave")
    before = len(me.oplog)
    edits = restore(me, version)
    assert me.text == target
    assert (len(me.oplog) > before) == bool(edits)
    assert all(op.agent == "dave" for op in me.ops_since(doc.version))  # new ops, by the restorer
    other = doc.fork("erin")
    other.merge(me)
    assert other.text == target  # the restore syncs as ordinary ops


@settings(max_examples=150, deadline=None)
@given(actions, st.data(), st.floats(0, 1), st.text(alphabet="QRS", min_size=1, max_size=6))
def test_a_concurrent_insert_survives_a_restore(
    steps: list[tuple[int, bool, float, str]], data: st.DataObject, where: float, typed: str
) -> None:
    doc = history(steps)
    version = data.draw(st.sampled_from([c.version for c in doc.changes()] + [()]))
    restorer, typist = doc.fork("dave"), doc.fork("erin")
    restore(restorer, version)
    typist.insert(int(where * len(typist)), typed)  # meanwhile, not knowing of the restore
    restorer.merge(typist)
    typist.merge(restorer)
    assert restorer.text == typist.text
    assert typed in restorer.text  # QRS appear nowhere else: it is exactly what was typed
    assert restorer.text.replace(typed, "", 1) == doc.text_at(version)


@settings(max_examples=150, deadline=None)
@given(actions, st.data())
def test_undo_takes_a_restore_back_in_one_step(steps: list[tuple[int, bool, float, str]], data: st.DataObject) -> None:
    doc = history(steps)
    version = data.draw(st.sampled_from([c.version for c in doc.changes()] + [()]))
    me = doc.fork("dave")
    um = UndoManager(me, capture_timeout=1e9, clock=lambda: 0.0)
    me.insert(0, "mine ")  # an earlier step of the same user: undo must stop before it
    now = me.text
    edits = restore(me, version, undo=um)
    assert me.text == doc.text_at(version)
    if not edits:
        return
    assert um.undo() is not None
    assert me.text == now
    assert um.redo() is not None
    assert me.text == doc.text_at(version)


def test_a_concurrent_delete_stays_deleted() -> None:
    alice = Document("alice")
    alice.insert(0, "one two three")
    v1 = alice.version
    alice.insert(13, " four")  # "one two three four"
    bob = alice.fork("bob")
    restore(alice, v1)  # drops " four"
    bob.delete(4, 4)  # meanwhile: "one three four"
    alice.merge(bob)
    bob.merge(alice)
    assert alice.text == bob.text == "one three"


def test_restoring_an_unknown_version_changes_nothing() -> None:
    doc = Document("alice")
    doc.insert(0, "hello")
    with pytest.raises(UnknownVersionError):
        restore(doc, [("nobody", 3)])
    assert doc.text == "hello" and len(doc.oplog) == 5


def test_restore_needs_the_documents_own_undo_manager() -> None:
    doc, other = Document("alice"), Document("bob")
    doc.insert(0, "hello")
    v = doc.version
    doc.insert(5, "!")
    with pytest.raises(InvalidOpError):
        restore(doc, v, undo=UndoManager(other))
    assert doc.text == "hello!"


def test_restoring_the_current_version_makes_no_ops() -> None:
    doc = Document("alice")
    doc.insert(0, "hello")
    assert restore(doc, doc.version) == [] and len(doc.oplog) == 5


# -- the diff view --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(actions, st.data())
def test_version_diff_covers_both_texts(steps: list[tuple[int, bool, float, str]], data: st.DataObject) -> None:
    doc = history(steps)
    versions = [c.version for c in doc.changes()] + [()]
    a, b = data.draw(st.sampled_from(versions)), data.draw(st.sampled_from(versions))
    spans = version_diff(doc, a, b)
    assert "".join(s.text for s in spans if s.kind != "delete") == doc.text_at(b)
    assert "".join(s.text for s in spans if s.kind != "insert") == doc.text_at(a)
    assert all(s.text for s in spans)
    assert all(s.agent in ("alice", "bob", "carol") for s in spans)


def test_version_diff_names_the_authors() -> None:
    alice = Document("alice")
    alice.insert(0, "hello world")
    v1 = alice.version
    bob = alice.fork("bob")
    bob.delete(5, 6)
    bob.insert(5, "!?")
    assert version_diff(bob, v1, bob.version) == [
        DiffSpan("same", "hello", "alice"),
        DiffSpan("delete", " world", "alice"),  # a change's deleted text comes before its new text
        DiffSpan("insert", "!?", "bob"),
    ]
    assert version_diff(bob, bob.version, v1) == [
        DiffSpan("same", "hello", "alice"),
        DiffSpan("delete", "!?", "bob"),
        DiffSpan("insert", " world", "alice"),
    ]
