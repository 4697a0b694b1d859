"""The inline layout of a suggestion (``_runs`` in ``engine/suggestions.py``) against a
slow model that is obviously right: the text one character at a time, each kept,
inserted or struck.  An insertion at visible position ``p`` goes right before the
``p``-th visible character (after the struck ones before it), or at the very end; a
deletion strikes the kept characters it covers and drops the inserted ones.  The
layout keeps its runs in a tree to lay out many ops fast; it must read exactly as
this model does, for any edits, including deletions that span text struck before."""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import Document
from cowrite.engine.merge import XfOp
from cowrite.engine.oplog import DEL_FWD, INS
from cowrite.engine.suggestions import _merged, _runs, suggestion_agent, suggestion_view
from cowrite.errors import InvalidOpError

AGENT = suggestion_agent("prop")

Kind = Literal["same", "insert", "delete"]


def slow_runs(text: str, edits: list[XfOp]) -> list[tuple[str, str]]:
    """The layout, one character at a time; ``(kind, text)`` runs of one kind joined."""
    chars: list[tuple[Kind, str]] = [("same", c) for c in text]

    def index_of_visible(pos: int) -> int:
        """Where visible character ``pos`` is in ``chars`` (``len(chars)`` past the end)."""
        seen = 0
        for i, (kind, _) in enumerate(chars):
            if kind != "delete":
                if seen == pos:
                    return i
                seen += 1
        if seen != pos:
            raise InvalidOpError("past the end")
        return len(chars)

    for kind, pos, arg in edits:
        if kind == INS:
            i = index_of_visible(pos)
            chars[i:i] = [("insert", c) for c in str(arg)]
            continue
        for _ in range(int(arg)):
            i = index_of_visible(pos)
            if i == len(chars):
                raise InvalidOpError("past the end")
            if chars[i][0] == "same":
                chars[i] = ("delete", chars[i][1])
            else:
                del chars[i]
    out: list[tuple[str, str]] = []
    for kind, c in chars:
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + c)
        else:
            out.append((kind, c))
    return out


@st.composite
def texts_and_edits(draw: st.DrawFn) -> tuple[str, list[XfOp]]:
    """A text and edits that fit it, each at a position in the visible text then."""
    text = draw(st.text("abc", max_size=12))
    visible = len(text)
    edits: list[XfOp] = []
    for _ in range(draw(st.integers(0, 25))):
        pos = draw(st.integers(0, visible))
        if visible > pos and draw(st.booleans()):
            length = draw(st.integers(1, min(visible - pos, 6)))
            edits.append((DEL_FWD, pos, length))
            visible -= length
        else:
            inserted = draw(st.text("XYZ", min_size=1, max_size=3))
            edits.append((INS, pos, inserted))
            visible += len(inserted)
    return text, edits


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(texts_and_edits())
def test_the_layout_reads_as_the_character_model(case: tuple[str, list[XfOp]]) -> None:
    text, edits = case
    spans = _runs(text, edits, AGENT)
    assert [(s.kind, s.text) for s in spans] == slow_runs(text, edits)
    assert all(s.agent == (None if s.kind == "same" else AGENT) for s in spans)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(texts_and_edits(), st.integers(1, 4), st.booleans())
def test_an_edit_past_the_end_is_refused_by_both(case: tuple[str, list[XfOp]], past: int, delete: bool) -> None:
    text, edits = case
    visible = sum(len(t) for kind, t in slow_runs(text, edits) if kind != "delete")
    bad: XfOp = (DEL_FWD, visible - 1 + past, 2) if delete and visible else (INS, visible + past, "Q")
    with pytest.raises(InvalidOpError):
        slow_runs(text, [*edits, bad])
    with pytest.raises(InvalidOpError):
        _runs(text, [*edits, bad], AGENT)


@st.composite
def branch_edits(draw: st.DrawFn) -> list[tuple[bool, int, int, str]]:
    """Edits as ``(on the suggestion?, position seed, length, text)``: the suggestion's
    and, meanwhile, the main document's, interleaved."""
    return draw(
        st.lists(
            st.tuples(st.booleans(), st.integers(0, 1 << 16), st.integers(0, 4), st.text("xyz", max_size=3)),
            max_size=20,
        )
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.text("abcd", max_size=15), branch_edits())
def test_a_suggestion_made_while_the_document_moved_lays_out_as_the_model(base: str, edits: list[tuple[bool, int, int, str]]) -> None:
    """End to end: the edits a merge makes of a suggestion's ops, laid out both ways."""
    doc = Document("alice", clock=lambda: 1)
    if base:
        doc.insert(0, base)
    branch = Document.decode(doc.encode(), AGENT)
    for on_branch, seed, length, inserted in edits:
        target = branch if on_branch else doc
        pos = seed % (len(target.text) + 1)
        target.delete(pos, min(length, len(target.text) - pos))
        if inserted:
            target.insert(pos, inserted)
    ops = [op for op in branch.ops_since() if op.agent == AGENT]
    _, merged = _merged(doc, ops, AGENT)
    spans = suggestion_view(doc, ops, AGENT)
    assert [(s.kind, s.text) for s in spans] == slow_runs(doc.text, merged)
    accepted = doc.copy()
    accepted.add_ops(ops)
    assert "".join(s.text for s in spans if s.kind != "insert") == doc.text
    assert "".join(s.text for s in spans if s.kind != "delete") == accepted.text


def test_many_scattered_edits_lay_out_without_a_deep_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of one-character edits cutting one long kept run into pieces: the
    layout's tree stays shallow (its walks recurse) even when that run is ranked above
    every other, and the runs still spell both texts."""
    import random

    import cowrite.engine.suggestions as module

    ranks = random.Random(7).random
    first = [True]

    def rank() -> float:
        if first[0]:
            first[0] = False
            return 1.0
        return ranks()

    monkeypatch.setattr(module, "_rank", rank)
    text = "abcdefghij" * 500
    final = text
    edits: list[XfOp] = []
    for i in range(1, 20001):
        if i % 3:
            pos = (i * 7919) % (len(final) + 1)
            edits.append((INS, pos, "z"))
            final = final[:pos] + "z" + final[pos:]
        else:
            pos = (i * 104729) % len(final)
            edits.append((DEL_FWD, pos, 1))
            final = final[:pos] + final[pos + 1 :]
    spans = _runs(text, edits, AGENT)
    assert "".join(s.text for s in spans if s.kind != "insert") == text
    assert "".join(s.text for s in spans if s.kind != "delete") == final
    assert all(a.kind != b.kind for a, b in zip(spans, spans[1:]))
