"""The rope (``rope.py``) against a plain ``str``: every edit, slice and length.

Chunks are at most 512 code points, so the histories here grow well past one
chunk and split, empty and rebuild chunks while the cached chunk hint is live.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine.rope import _MAX, Rope
from engine_helpers import hyp

TEXT = st.text("ab日👋\u0301\n", min_size=1, max_size=300)

# (insert?, where, how much, text)
edit = st.tuples(st.booleans(), st.floats(0, 1), st.integers(1, 700), TEXT)


def check(rope: Rope, model: str, rnd: random.Random) -> None:
    assert len(rope) == len(model)
    assert str(rope) == model and rope == model and rope == Rope(model)
    for _ in range(4):
        s = rnd.randint(0, len(model))
        e = rnd.randint(s, len(model) + 3)
        assert rope.slice(s, e) == model[s:e]
    assert rope.slice(5, 2) == ""
    assert all(0 < len(c) <= _MAX for c in rope._chunks) or rope._chunks == [""]


@hyp
@given(st.text("xy", max_size=1500), st.lists(edit, max_size=40), st.randoms(use_true_random=False))
def test_rope_matches_a_str(initial: str, edits: list[tuple[bool, float, int, str]], rnd: random.Random) -> None:
    rope = Rope(initial)
    model = initial
    check(rope, model, rnd)
    for is_insert, where, n, text in edits:
        if is_insert or not model:
            pos = int(where * len(model))
            rope.insert(pos, text)
            model = model[:pos] + text + model[pos:]
        else:
            pos = int(where * (len(model) - 1))
            k = min(n, len(model) - pos)
            assert rope.delete(pos, k) == model[pos : pos + k]
            model = model[:pos] + model[pos + k :]
        check(rope, model, rnd)


@hyp
@given(st.integers(0, 1500), st.lists(st.tuples(st.integers(-3, 3), st.booleans()), max_size=80))
def test_typing_and_backspacing_around_a_caret(size: int, keys: list[tuple[int, bool]]) -> None:
    """Edits near one another: the cached chunk hint is used and kept right."""
    rope = Rope("-" * size)
    model = "-" * size
    caret = size // 2
    for move, backspace in keys:
        caret = max(0, min(len(model), caret + move))
        if backspace and caret:
            assert rope.delete(caret - 1, 1) == model[caret - 1]
            model = model[: caret - 1] + model[caret:]
            caret -= 1
        else:
            rope.insert(caret, "k")
            model = model[:caret] + "k" + model[caret:]
            caret += 1
        assert len(rope) == len(model)
        assert rope.slice(max(0, caret - 3), caret + 3) == model[max(0, caret - 3) : caret + 3]
    assert str(rope) == model


def test_edits_at_chunk_boundaries() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(3 * _MAX))
    rope = Rope(text)
    model = text
    half = _MAX // 2
    for pos in (half, 2 * half, 0, len(model)):  # exactly at chunk starts and ends
        rope.insert(pos, "|")
        model = model[:pos] + "|" + model[pos:]
        assert str(rope) == model
    # a delete that starts at the end of a chunk and empties the next ones
    assert rope.delete(half, 3 * half) == model[half : 4 * half]
    model = model[:half] + model[4 * half :]
    assert str(rope) == model
    assert rope.delete(0, len(model)) == model
    assert str(rope) == "" and len(rope) == 0 and rope._chunks == [""]
    rope.insert(0, "again")
    assert str(rope) == "again"


def test_a_big_paste_is_split_into_chunks() -> None:
    rope = Rope("ab")
    big = "x" * (5 * _MAX + 3)
    rope.insert(1, big)
    assert str(rope) == "a" + big + "b"
    assert len(rope._chunks) > 5 and all(len(c) <= _MAX for c in rope._chunks)
    assert rope.slice(_MAX, _MAX + 4) == "xxxx"


def test_code_points_not_bytes_or_utf16() -> None:
    rope = Rope("👩\u200d💻e\u0301")
    assert len(rope) == 5
    rope.insert(1, "|")
    assert str(rope) == "👩|\u200d💻e\u0301"
    assert rope.delete(4, 1) == "e"


def test_empty_edits_and_values() -> None:
    rope = Rope()
    assert len(rope) == 0 and str(rope) == "" and rope == "" and repr(rope) == "Rope('')"
    rope.insert(0, "")
    assert rope.delete(0, 0) == "" and rope.delete(0, -1) == ""
    assert rope != "x" and rope != 3 and Rope("a") != Rope("b")
    with pytest.raises(TypeError):
        hash(rope)  # mutable: not hashable


@pytest.mark.parametrize("pos", [-1, 4, 100])
def test_positions_outside_the_text_raise(pos: int) -> None:
    rope = Rope("abc")
    rope._ci = -1  # no cached chunk: the search itself must refuse
    with pytest.raises(IndexError):
        rope.insert(pos, "x")
    assert str(rope) == "abc"
