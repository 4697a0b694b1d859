"""The inline view of a suggestion (``engine/suggestions.py``) follows its ops, not a diff
of the two texts: a word typed over shows struck with the new word after it, letters
struck one by one join into one run, text the suggestion inserts and deletes again is
not shown, and others' edits made meanwhile are kept text -- while the kept and struck
runs still spell the document and the kept and inserted ones the accepted text."""

from __future__ import annotations

from cowrite.engine import Document
from cowrite.engine.suggestions import suggestion_agent, suggestion_view

AGENT = suggestion_agent("t1")


def _runs(doc: Document, branch: Document) -> list[tuple[str, str]]:
    ops = [op for op in branch.ops_since() if op.agent == AGENT]
    spans = suggestion_view(doc, ops, AGENT)
    accepted = doc.copy()
    accepted.add_ops(ops)
    assert "".join(s.text for s in spans if s.kind != "insert") == doc.text
    assert "".join(s.text for s in spans if s.kind != "delete") == accepted.text
    assert all(s.agent == (None if s.kind == "same" else AGENT) for s in spans)
    return [(s.kind, s.text) for s in spans]


def _doc(text: str) -> Document:
    doc = Document("alice", clock=lambda: 1)
    doc.insert(0, text)
    return doc


def test_a_replaced_word_and_struck_letters_read_as_typed() -> None:
    doc = _doc("alpha beta gamma delta.")
    branch = Document.decode(doc.encode(), AGENT)
    branch.delete(11, 6)  # "gamma ", from the end first, as the browser does
    branch.insert(10, "BETA")
    branch.delete(6, 4)  # "beta"
    # a text diff would read this as "beta gamma" struck and "BETA" inserted
    assert _runs(doc, branch) == [("same", "alpha "), ("delete", "beta"), ("insert", "BETA"), ("same", " "), ("delete", "gamma "), ("same", "delta.")]


def test_others_edits_meanwhile_are_kept_and_an_insertion_deleted_again_is_not_shown() -> None:
    doc = _doc("abc")
    branch = Document.decode(doc.encode(), AGENT)
    branch.insert(1, "XY")
    branch.delete(2, 1)  # the "Y" it inserted
    branch.delete(2, 1)  # "b"
    doc.insert(3, "!")  # someone else, meanwhile
    assert _runs(doc, branch) == [("same", "a"), ("insert", "X"), ("delete", "b"), ("same", "c!")]


def test_an_empty_document_and_an_insertion_between_struck_runs() -> None:
    empty = Document("alice", clock=lambda: 1)
    branch = Document.decode(empty.encode(), AGENT)
    branch.insert(0, "new")
    assert _runs(empty, branch) == [("insert", "new")]
    doc = _doc("abcdef")
    branch = Document.decode(doc.encode(), AGENT)
    branch.delete(3, 2)  # "de"
    branch.insert(3, "X")
    branch.delete(1, 2)  # "bc"
    # the insertion comes after the struck runs around its place
    assert _runs(doc, branch) == [("same", "a"), ("delete", "bcde"), ("insert", "X"), ("same", "f")]
