"""Suggestions as branches of the event graph (engine/suggestions.py).

Properties: the ops :func:`make_suggestion` makes turn the text at the base version
into the suggested text; however the main document moved on meanwhile, the inline
view spells the main text (kept + deleted runs) and the accepted text (kept +
inserted runs), and accepting (adding the ops) is the same as merging the
suggester's branch -- a replica that typed the edits at the base version -- so
concurrent main edits are all kept.  Refusals: ops of another agent, gaps in the
seqs, parents outside the document, a suggestion accepted already.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowrite.engine import Document, InvalidOpError
from cowrite.engine.suggestions import check_suggestion, make_suggestion, suggestion_agent, suggestion_view

TEXT = st.text(alphabet="ab \n", max_size=12)
EDIT = st.tuples(st.booleans(), st.integers(0, 30), st.integers(1, 4), TEXT)


def _edit(doc: Document, edit: tuple[bool, int, int, str]) -> None:
    insert, at, n, text = edit
    if insert or not len(doc):
        doc.insert(at % (len(doc) + 1), text or "x")
    else:
        pos = at % len(doc)
        doc.delete(pos, min(n, len(doc) - pos))


@settings(max_examples=150, deadline=None)
@given(start=TEXT, suggested=TEXT, meanwhile=st.lists(EDIT, max_size=5))
def test_view_and_accept_agree_with_merging_the_branch(start: str, suggested: str, meanwhile: list[tuple[bool, int, int, str]]) -> None:
    main = Document("alice", clock=lambda: 1)
    main.insert(0, start)
    base = main.version
    agent = suggestion_agent("s1")
    carol = main.fork("carol")  # goes offline at the base version and types
    carol.insert(0, "C")
    ops = make_suggestion(main, base, suggested, agent)
    # the suggester's branch: a replica at the base version typing the same change
    branch = main.fork("bob")
    branch.add_ops(ops)
    assert branch.text == suggested
    for e in meanwhile:
        _edit(main, e)
    spans = suggestion_view(main, ops, agent)
    assert "".join(s.text for s in spans if s.kind != "insert") == main.text
    accepted = main.copy()
    accepted.add_ops(ops)
    assert "".join(s.text for s in spans if s.kind != "delete") == accepted.text
    merged = main.copy()
    merged.merge(branch)
    assert accepted.text == merged.text
    assert check_suggestion(main, ops, agent).text == accepted.text
    # an offline peer who had the base version: its edits converge with the accept, in either order
    one = accepted.copy()
    one.merge(carol)
    two = main.copy()
    two.merge(carol)
    two.add_ops(ops)
    assert one.text == two.text and one.text.count("C") == 1 + main.text.count("C")
    # blame: every character the suggestion inserted and still there is the suggester's
    kept = {r.agent for r in accepted.blame()}
    assert kept <= {"alice", agent}


def test_made_at_the_base_version_not_the_current_one() -> None:
    main = Document("alice")
    main.insert(0, "hello world")
    base = main.version
    main.insert(0, ">> ")  # meanwhile
    ops = make_suggestion(main, base, "hello brave world", "sugg:x")
    assert all(op.agent == "sugg:x" for op in ops) and ops[0].seq == 0
    assert dict(ops[0].parents) == dict(base)
    main.add_ops(ops)
    assert main.text == ">> hello brave world"


def test_no_change_is_no_ops_and_unknown_versions_are_refused() -> None:
    main = Document("alice")
    main.insert(0, "same")
    assert make_suggestion(main, main.version, "same", "sugg:x") == []
    from cowrite.engine import UnknownVersionError

    with pytest.raises(UnknownVersionError):
        make_suggestion(main, [("nobody", 4)], "x", "sugg:x")


def test_refusals_change_nothing() -> None:
    main = Document("alice")
    main.insert(0, "hello world")
    before = (main.text, main.version)
    ops = make_suggestion(main, main.version, "hello big wide world", "sugg:x")
    with pytest.raises(InvalidOpError, match="all by"):
        check_suggestion(main, ops, "sugg:y")
    if len(ops) > 1:
        with pytest.raises(InvalidOpError, match="without gaps"):
            check_suggestion(main, ops[1:], "sugg:x")
    other = make_suggestion(main, main.version, "hello world!", "sugg:o")
    branch = main.copy()
    branch.add_ops(other)
    on_other = Document("sugg:x")
    on_other.add_ops(branch.ops_since(()))
    on_other.insert(0, "?")
    with pytest.raises(InvalidOpError, match="does not apply"):
        check_suggestion(main, on_other.ops_since(branch.version), "sugg:x")
    assert (main.text, main.version) == before
    main.add_ops(ops)
    with pytest.raises(InvalidOpError, match="accepted"):
        check_suggestion(main, ops, "sugg:x")
    with pytest.raises(InvalidOpError):
        suggestion_agent("a:b")
