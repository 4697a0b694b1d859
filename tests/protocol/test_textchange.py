"""TextChange: canonical form, apply/compose/invert/transform laws, map_pos, edits, diff.

Sizes scale with ``COWRITE_HYPOTHESIS_EXAMPLES`` (default 100).
"""

from __future__ import annotations

import os
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowrite.protocol.textchange import (
    ChangeMismatch,
    Delete,
    Insert,
    Retain,
    TextChange,
    compose,
    compose_all,
    delete,
    diff,
    from_edit,
    from_edits,
    insert,
    retain,
    transform,
)

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "100"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None)

# Small alphabet (so diffs find matches) with astral characters and a combining mark.
ALPHABET = "ab c\n😀👍🏽é\u0301"
texts = st.text(alphabet=ALPHABET, max_size=30)


@st.composite
def change_over(draw: st.DrawFn, base: str, known: bool = True) -> TextChange:
    """A random change of ``base`` (sometimes stopping early: the implicit tail)."""
    ops: list[Retain | Insert | Delete] = []
    pos = 0
    while pos < len(base) and draw(st.integers(0, 9)) > 0:
        n = draw(st.integers(1, len(base) - pos))
        kind = draw(st.integers(0, 2))
        if kind == 0:
            ops.append(Retain(n))
        elif kind == 1:
            ops.append(Delete(base[pos : pos + n], n) if known else Delete(None, n))
        else:
            ops.append(Insert(draw(st.text(alphabet=ALPHABET, min_size=1, max_size=4))))
            continue
        pos += n
    if draw(st.booleans()):
        ops.append(Insert(draw(st.text(alphabet=ALPHABET, min_size=1, max_size=4))))
    return TextChange(ops)


def lcs(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def kept(c: TextChange, base: str) -> int:
    return len(base) - sum(op.length for op in c.ops if isinstance(op, Delete))


def canonical(c: TextChange) -> bool:
    ops = c.ops
    if ops and isinstance(ops[-1], Retain):
        return False
    for i, op in enumerate(ops):
        if op.length <= 0:
            return False
        if i and type(ops[i - 1]) is type(op):
            return False
        if isinstance(op, Delete) and i and isinstance(ops[i - 1], Insert):
            return False
    return True


# -- named cases ------------------------------------------------------------------


def test_canonical_form_merges_and_orders_components() -> None:
    c = TextChange([retain(2), retain(1), insert("x"), delete("ab"), insert("y"), delete("c"), retain(4)])
    assert c.ops == (Retain(3), Delete("abc", 3), Insert("xy"))
    assert TextChange([insert("x"), delete("ab")]) == TextChange([delete("ab"), insert("x")])
    assert TextChange([retain(5)]).is_identity and TextChange([retain(0), insert("")]).is_identity
    assert TextChange([delete("ab"), delete(2)]).ops == (Delete(None, 4),)  # one unknown piece: unknown
    with pytest.raises(ValueError):
        Delete("abc", 2)
    with pytest.raises(ValueError):
        TextChange([Retain(-1)])


def test_apply_checks_the_change_fits() -> None:
    c = from_edit(2, "cd", "X")
    assert c.apply("abcdef") == "abXef"
    assert c.apply("abcd") == "abX"  # past the change the text is kept, however long
    with pytest.raises(ChangeMismatch, match="deletes 'cd'"):
        c.apply("abzzef")
    with pytest.raises(ChangeMismatch, match="reaches position 4"):
        c.apply("abc")
    assert from_edit(2, 2, "X").apply("abzzef") == "abXef"  # length only: any text there


def test_unknown_delete_text_needs_with_text_to_invert() -> None:
    c = from_edits([(1, 1, 2), (0, 1, "Q")])
    assert c.ops == (Retain(1), Delete(None, 2), Insert("Q"))
    with pytest.raises(ChangeMismatch, match="unknown text"):
        c.invert()
    filled = c.with_text("abcd")
    assert filled.ops == (Retain(1), Delete("bc", 2), Insert("Q"))
    assert filled.invert().apply("aQd") == "abcd"
    with pytest.raises(ChangeMismatch):
        filled.with_text("azzd")
    assert from_edits([(1, 1, 2)], base="abcd") == from_edit(1, "bc", "")


def test_compose_merges_typing_and_backspace() -> None:
    c = from_edit(3, "", "h")
    for i, ch in enumerate("ello"):
        c = compose(c, from_edit(4 + i, "", ch))
    assert c.ops == (Retain(3), Insert("hello"))
    c = compose(c, from_edit(7, "o", ""))  # backspace over own typing
    assert c.ops == (Retain(3), Insert("hell"))
    c = compose(c, from_edit(2, "z", ""))  # and one character before it
    assert c.ops == (Retain(2), Delete("z", 1), Insert("hell"))
    with pytest.raises(ChangeMismatch, match="deletes 'x' where the first inserted 'h'"):
        compose(c, from_edit(2, "x", ""))


def test_transform_tie_breaks() -> None:
    a, b = from_edit(1, "", "A"), from_edit(1, "", "B")
    a2, b2 = transform(a, b)
    assert b2.apply(a.apply("xy")) == "xABy" == a2.apply(b.apply("xy"))  # a first
    b3, a3 = transform(b, a)
    assert a3.apply(b.apply("xy")) == "xBAy"
    # an insert where the other side's replacement starts stays before the new text
    r, i = from_edit(1, "bc", "X"), from_edit(1, "", "Y")
    r2, i2 = transform(r, i)
    assert i2.apply(r.apply("abcd")) == "aYXd" == r2.apply(i.apply("abcd"))
    i3, r3 = transform(i, r)
    assert r3.apply(i.apply("abcd")) == "aYXd"
    # both delete the same text: it goes once; deleting inside the other's insert is untouched
    d1, d2 = from_edit(1, "bcd", ""), from_edit(2, "cde", "")
    x1, x2 = transform(d1, d2)
    assert x2.apply(d1.apply("abcdef")) == "af" == x1.apply(d2.apply("abcdef"))


def test_map_pos() -> None:
    c = TextChange([retain(2), delete("cd"), insert("XYZ"), retain(1), insert("!")])  # ab|cd->XYZ|e|+!|f
    # the edges of the replaced span stay outside it; inside it (3) and at the insert (5) assoc decides
    assert [c.map_pos(p) for p in range(7)] == [0, 1, 2, 2, 5, 6, 8]
    assert [c.map_pos(p, 1) for p in range(7)] == [0, 1, 2, 5, 5, 7, 8]
    assert from_edit(0, "", "ab").map_pos(0) == 0 and from_edit(0, "", "ab").map_pos(0, 1) == 2
    assert from_edit(1, "x", "").map_pos(5) == 4  # past the change: shifted
    with pytest.raises(ValueError):
        c.map_pos(-1)


def test_edits_round_trip() -> None:
    c = TextChange([retain(1), delete("bc"), insert("XY"), retain(2), delete("f"), insert("😀")])
    edits = c.to_edits()
    assert edits == [(1, 1, 2), (0, 1, "XY"), (1, 5, 1), (0, 5, "😀")]
    assert from_edits(edits, base="abcdefg") == c
    assert from_edits([]) == TextChange()
    with pytest.raises(ValueError):
        from_edits([(2, 0, "x")])
    with pytest.raises(ValueError):
        from_edits([(1, 0, "x")])


def test_diff_keeps_shared_text() -> None:
    d = diff("GARBAGE hello world", "hello world!")
    assert d.ops == (Delete("GARBAGE ", 8), Retain(11), Insert("!"))
    assert diff("same", "same").is_identity
    assert diff("", "new") == from_edit(0, "", "new")
    assert diff("old", "") == from_edit(0, "old", "")
    assert diff("kitten", "sitting").apply("kitten") == "sitting"
    assert kept(diff("kitten", "sitting"), "kitten") == 4  # k-i-t-t-e-n / s-i-t-t-i-n-g: "ittn"
    # astral characters are one position each
    d = diff("a😀b👍🏽c", "a😁b👍🏿c")
    assert d.ops == (Retain(1), Delete("😀", 1), Insert("😁"), Retain(2), Delete("🏽", 1), Insert("🏿"))


def test_diff_past_the_cap_is_one_replaced_span() -> None:
    # the middle "1b2c3" -> "9b9c9" needs 6 edits
    d = diff("xa1b2c3y", "xa9b9c9y", max_d=5)
    assert d.ops == (Retain(2), Delete("1b2c3", 5), Insert("9b9c9"))
    assert diff("xa1b2c3y", "xa9b9c9y", max_d=6).ops[:4] == (Retain(2), Delete("1", 1), Insert("9"), Retain(1))


def _scattered(n: int, edits: int, seed: int) -> tuple[str, str]:
    rng = random.Random(seed)
    text = "".join(rng.choice("abcdefghij klmnop\n😀") for _ in range(n))
    chars = list(text)
    for _ in range(edits):
        p = rng.randrange(len(chars))
        chars[p : p + rng.randrange(4)] = list(rng.choice(["", "X", "YZ", "👍🏽"]))
    return text, "".join(chars)


def test_diff_of_a_long_text_with_scattered_edits_is_fast() -> None:
    old, new = _scattered(200_000, 12, 7)
    start = time.perf_counter()
    d = diff(old, new)
    elapsed = time.perf_counter() - start
    assert d.apply(old) == new
    assert sum(op.length for op in d.ops if isinstance(op, Delete)) <= 3 * 12
    assert elapsed < 0.5, f"diff took {elapsed:.3f}s"  # about 1 ms on a laptop


# -- properties -------------------------------------------------------------------


@SETTINGS
@given(st.data(), texts)
def test_compose_applies_both(data: st.DataObject, x: str) -> None:
    a = data.draw(change_over(x))
    y = a.apply(x)
    b = data.draw(change_over(y))
    c = compose(a, b)
    assert canonical(c)
    assert c.apply(x) == b.apply(y)
    z = b.apply(y)
    cc = data.draw(change_over(z))
    assert compose(compose(a, b), cc) == compose(a, compose(b, cc)) == compose_all([a, b, cc])


@SETTINGS
@given(st.data(), texts)
def test_invert_undoes(data: st.DataObject, x: str) -> None:
    a = data.draw(change_over(x))
    assert canonical(a) and canonical(a.invert())
    assert a.invert().apply(a.apply(x)) == x
    assert a.invert().invert() == a
    assert compose(a, a.invert()).apply(x) == x


@SETTINGS
@given(st.data(), texts)
def test_transform_converges(data: st.DataObject, x: str) -> None:
    a = data.draw(change_over(x, known=data.draw(st.booleans())))
    b = data.draw(change_over(x, known=data.draw(st.booleans())))
    a2, b2 = transform(a, b)
    assert canonical(a2) and canonical(b2)
    assert b2.apply(a.apply(x)) == a2.apply(b.apply(x))
    assert compose(a, b2).apply(x) == compose(b, a2).apply(x)
    assert transform(a, TextChange()) == (a, TextChange())
    # every inserted character survives, in order
    def ins(c: TextChange) -> str:
        return "".join(op.text for op in c.ops if isinstance(op, Insert))

    assert ins(a2) == ins(a) and ins(b2) == ins(b)


@SETTINGS
@given(st.data(), texts)
def test_map_pos_follows_kept_characters(data: st.DataObject, x: str) -> None:
    a = data.draw(change_over(x))
    y = a.apply(x)
    for assoc in (-1, 1):
        mapped = [a.map_pos(p, assoc) for p in range(len(x) + 1)]
        assert mapped == sorted(mapped) and all(0 <= p <= len(y) for p in mapped)
    # a kept character is right after its left edge mapped with assoc > 0, right
    # before its right edge mapped with assoc < 0
    kept_at: list[int] = []
    pos = 0
    for op in a.ops:
        if isinstance(op, Retain):
            kept_at.extend(range(pos, pos + op.length))
        if not isinstance(op, Insert):
            pos += op.length
    kept_at.extend(range(pos, len(x)))
    for i in kept_at:
        assert y[a.map_pos(i, 1)] == x[i]
        assert a.map_pos(i + 1, -1) == a.map_pos(i, 1) + 1


@SETTINGS
@given(st.data(), texts)
def test_edits_round_trip_property(data: st.DataObject, x: str) -> None:
    a = data.draw(change_over(x))
    assert from_edits(a.to_edits(), base=x) == a
    assert from_edits(a.to_edits()).apply(x) == a.apply(x)


@SETTINGS
@given(texts, texts)
def test_diff_is_a_shortest_edit(a: str, b: str) -> None:
    d = diff(a, b)
    assert canonical(d)
    assert d.apply(a) == b
    assert kept(d, a) == lcs(a, b)  # a longest common subsequence is kept
    deleted = sum(op.length for op in d.ops if isinstance(op, Delete))
    inserted = sum(op.length for op in d.ops if isinstance(op, Insert))
    assert deleted + inserted <= len(a) + len(b)
    assert deleted - inserted == len(a) - len(b)
    assert d.invert().apply(b) == a


@SETTINGS
@given(st.data(), texts)
def test_diff_of_a_change_is_no_bigger_than_it(data: st.DataObject, x: str) -> None:
    a = data.draw(change_over(x))
    y = a.apply(x)
    d = diff(x, y)
    assert d.apply(x) == y
    def size(c: TextChange) -> int:
        return sum(op.length for op in c.ops if not isinstance(op, Retain))

    assert size(d) <= size(a)
    capped = diff(x, y, max_d=data.draw(st.integers(0, 4)))
    assert capped.apply(x) == y and canonical(capped)
