"""Document.apply_edits (the one-pass path ``cowrite replay`` uses) builds exactly the
document that one ``delete``/``insert`` call per edit builds: same text, same op log,
same encoding -- on every real sequential trace and on generated ones -- and a bad
edit changes nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowrite import Document
from cowrite.errors import InvalidOpError, TraceError
from cowrite.replay import replay_file
from cowrite.traces import load_trace

TRACES = Path(os.environ.get("COWRITE_TRACES", Path(__file__).resolve().parents[3] / "shared" / "traces"))
SEQUENTIAL = sorted(TRACES.glob("sequential/*.json.gz"))

Edit = tuple[int, int, str]


def _fixed_clock() -> float:
    return 1_700_000_000.0


def one_by_one(doc: Document, edits: list[Edit]) -> None:
    for pos, ndel, ins in edits:
        if ndel:
            doc.delete(pos, ndel)
        if ins:
            doc.insert(pos, ins)


def columns(doc: Document) -> tuple[object, ...]:
    o = doc.oplog
    cg = o.cg
    return (
        o.op_starts, o.op_kinds, o.op_pos, o.op_lens, o.op_content, o.time_starts, o.time_values,
        cg.starts, cg.parents, cg.entry_agent, cg.entry_seq, cg.heads, cg.next_lv, doc.branch.version,
    )  # fmt: skip


def assert_same(a: Document, b: Document) -> None:
    assert a.text == b.text
    assert columns(a) == columns(b)
    assert a.encode() == b.encode()


@pytest.mark.skipif(not SEQUENTIAL, reason=f"no traces under {TRACES}")
@pytest.mark.parametrize("path", SEQUENTIAL, ids=lambda p: p.name.split(".")[0])
def test_every_sequential_trace_encodes_the_same_as_one_call_per_patch(path: Path) -> None:
    edits = load_trace(path).flat_patches()
    slow = Document("trace", clock=_fixed_clock)
    one_by_one(slow, edits)
    fast = Document("trace", clock=_fixed_clock)
    fast.apply_edits(edits)
    assert_same(fast, slow)
    assert replay_file(path).text == slow.text == load_trace(path).end_content


@st.composite
def edit_runs(draw: st.DrawFn, start_len: int = 0) -> list[Edit]:
    """Sequential edits that fit: typing runs, Backspace and Delete runs, jumps, replaces."""
    out: list[Edit] = []
    length = start_len
    cursor = 0
    alphabet = st.sampled_from("ab \n\u00e9\U0001f600")
    for _ in range(draw(st.integers(0, 60))):
        how = draw(st.sampled_from(["type", "type", "backspace", "delete", "jump", "replace", "noop"]))
        if how == "jump" or cursor > length:
            cursor = draw(st.integers(0, length))
        if how == "type":
            text = draw(st.text(alphabet, min_size=1, max_size=draw(st.sampled_from([1, 1, 3, 700]))))
            out.append((cursor, 0, text))
            cursor += len(text)
            length += len(text)
        elif how == "backspace" and cursor > 0:
            out.append((cursor - 1, 1, ""))
            cursor -= 1
            length -= 1
        elif how == "delete" and cursor < length:
            n = draw(st.integers(1, min(length - cursor, 600)))
            out.append((cursor, n, ""))
            length -= n
        elif how == "replace" and cursor < length:
            n = draw(st.integers(1, length - cursor))
            text = draw(st.text(alphabet, min_size=0, max_size=5))
            out.append((cursor, n, text))
            length += len(text) - n
            cursor += len(text)
        elif how == "noop":
            out.append((cursor, 0, ""))
    return out


def _prefilled(prefix: list[Edit], remote_first: bool) -> Document:
    """A document with some history already: local edits, and maybe a peer's op last."""
    doc = Document("me", clock=_fixed_clock)
    one_by_one(doc, prefix)
    if remote_first:
        other = Document("peer", clock=_fixed_clock)
        other.apply_patch(doc.encode_patch())
        other.insert(0, "P")
        doc.apply_patch(other.encode_patch(since=doc.version))
    return doc


@settings(max_examples=150, deadline=None)
@given(prefix=edit_runs(), data=st.data(), remote_first=st.booleans(), split=st.booleans())
def test_generated_sequential_traces_match_one_call_per_edit(
    prefix: list[Edit], data: st.DataObject, remote_first: bool, split: bool
) -> None:
    slow = _prefilled(prefix, remote_first)
    fast = _prefilled(prefix, remote_first)
    assert_same(fast, slow)
    edits = data.draw(edit_runs(len(slow.text)))
    one_by_one(slow, edits)
    if split:  # two batches: the second continues the first's op runs
        half = len(edits) // 2
        fast.apply_edits(edits[:half])
        fast.apply_edits(iter(edits[half:]))
    else:
        fast.apply_edits(edits)
    assert_same(fast, slow)


def test_a_bad_edit_changes_nothing_and_says_which() -> None:
    doc = Document("me", clock=_fixed_clock)
    doc.apply_edits([(0, 0, "hello"), (5, 0, " world")])
    before = doc.encode()
    bad: list[object] = [
        [(0, 0, "x"), (99, 0, "z")],  # past the end
        [(0, 0, "x"), (0, 20, "")],  # deletes more than there is
        [(0, 0, "x"), (-1, 0, "y")],
        [(0, 0, "x"), (0, -1, "")],
        [(0, 0, "x"), (0, 0, "\ud800")],  # a lone surrogate
        [(0, 0, "x"), (True, 0, "y")],
        [(0, 0, "x"), (0, 0)],
        [(0, 0, "x"), "abc"],
        [(0, 0, "x"), None],
    ]
    for edits in bad:
        with pytest.raises(InvalidOpError, match="^edit 1: "):
            doc.apply_edits(edits)  # type: ignore[arg-type]
        assert doc.encode() == before and doc.text == "hello world"

    def failing() -> Iterator[object]:
        yield (0, 0, "x")
        raise TraceError("the source broke")

    with pytest.raises(TraceError, match="the source broke"):
        doc.apply_edits(failing())  # type: ignore[arg-type]
    assert doc.encode() == before
    doc.apply_edits([])
    doc.apply_edits([(3, 0, "")])
    assert doc.encode() == before


def test_with_character_ids_and_undo_the_edits_go_one_by_one() -> None:
    from cowrite.engine.undo import UndoManager

    edits: list[Edit] = [(0, 0, "hello"), (5, 0, " world"), (4, 1, "O"), (10, 1, "")]
    slow = Document("me", clock=_fixed_clock)
    one_by_one(slow, edits)
    fast = Document("me", clock=_fixed_clock)
    fast.id_map()
    fast.apply_edits(edits)
    assert_same(fast, slow)
    assert list(fast.id_map().runs()) == list(slow.id_map().runs())
    with pytest.raises(InvalidOpError, match="^edit 1: "):
        fast.apply_edits([(0, 0, "x"), (99, 0, "y")])
    assert_same(fast, slow)
    undo = UndoManager(fast)
    fast.apply_edits([(0, 0, "ab")])
    assert fast.text == "ab" + slow.text
    undo.undo()
    assert fast.text == slow.text


def test_replay_file_errors_are_the_loaders(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    p.write_text('{"txns": [{"patches": [[0, 0, "ab"]]}, {"patches": [[1, 0, "x"], [0, "a", ""]]}]}')
    with pytest.raises(TraceError, match=r"^txn 1: bad patch \[0, 'a', ''\]"):
        replay_file(p)
    p.write_text('{"txns": [{"patches": [[0, 0, "ab"]]}, {"patches": [[1, 0, "x"], [9, 0, "y"]]}]}')
    with pytest.raises(InvalidOpError, match=r"^txn 1: edit 2: "):
        replay_file(p)
    p.write_text('{"txns": [{"patches": [[0, 0, "ab"]]}, {"nopatches": 1}]}')
    with pytest.raises(TraceError, match="^txn 1: expected an object"):
        replay_file(p)
