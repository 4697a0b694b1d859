"""A rope made from a long text keeps it as one chunk until its first edit (a
loaded document's text is often only read); the first edit of either kind splits
it, and from then on it behaves as a rope built chunk by chunk."""

from __future__ import annotations

import random

import pytest

from cowrite.engine.rope import _MAX, Rope


@pytest.mark.parametrize("first", ["insert", "delete", "slice"])
def test_a_long_text_is_split_on_its_first_edit(first: str) -> None:
    rnd = random.Random(first)
    text = "".join(rnd.choice("ab\n é👋") for _ in range(20 * _MAX + 7))
    rope = Rope(text)
    assert str(rope) == text and len(rope) == len(text)
    assert rope.slice(_MAX - 3, 5 * _MAX) == text[_MAX - 3 : 5 * _MAX]  # reading needs no split
    model = text
    if first == "insert":
        rope.insert(len(text) // 3, "XYZ")
        model = model[: len(text) // 3] + "XYZ" + model[len(text) // 3 :]
    elif first == "delete":
        assert rope.delete(100, 7 * _MAX) == model[100 : 100 + 7 * _MAX]
        model = model[:100] + model[100 + 7 * _MAX :]
    for _ in range(300):
        pos = rnd.randint(0, len(model))
        if rnd.random() < 0.5 or not model:
            s = rnd.choice(["q", "long " * rnd.randint(1, 200)])
            rope.insert(pos, s)
            model = model[:pos] + s + model[pos:]
        else:
            n = rnd.randint(0, min(3 * _MAX, len(model) - min(pos, len(model) - 1)))
            pos = min(pos, len(model) - 1)
            assert rope.delete(pos, n) == model[pos : pos + n]
            model = model[:pos] + model[pos + n :]
        assert len(rope) == len(model)
    assert str(rope) == model
    assert max(len(c) for c in rope._chunks) <= _MAX
