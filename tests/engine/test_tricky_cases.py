"""Named examples of the classic hard cases, each with its exact converged text.

Expected texts follow Fugue (FugueMax) ordering: concurrent inserts at the same
place with the same left origin and right parent are ordered by ``(agent, seq)``,
smallest first, and a run typed by one user is never interleaved with another's.
Each example is also checked against ``reference_text`` and a fresh ``checkout``.
"""

from __future__ import annotations

import itertools
import random

import pytest

from cowrite.engine import Document
from engine_helpers import assert_consistent, sync, sync_all


def _three_way(order):
    base = Document("alice")
    base.insert(0, "Hello world")
    docs = {"alice": base, "bob": base.fork("bob"), "carol": base.fork("carol")}
    docs["alice"].insert(5, " alice")
    docs["bob"].insert(5, " bob")
    docs["carol"].insert(5, " carol")
    # merge in the given order, pairwise, then bring everyone up to date
    first, *rest = order
    for name in rest:
        docs[first].merge(docs[name])
        assert_consistent(docs[first])
    for name in rest:
        docs[name].merge(docs[first])
        assert_consistent(docs[name])
    return docs


@pytest.mark.parametrize("order", list(itertools.permutations(["alice", "bob", "carol"])))
def test_three_users_type_at_same_position(order):
    docs = _three_way(order)
    expected = "Hello alice bob carol world"
    for d in docs.values():
        assert d.text == expected


def test_three_users_chain_of_pairwise_merges():
    base = Document("alice")
    base.insert(0, "Hello world")
    a, b, c = base, base.fork("bob"), base.fork("carol")
    a.insert(5, " alice")
    b.insert(5, " bob")
    c.insert(5, " carol")
    c.merge(b)
    assert c.text == "Hello bob carol world"
    b.merge(a)
    assert b.text == "Hello alice bob world"
    a.merge(c)
    assert a.text == "Hello alice bob carol world"
    b.merge(c)
    c.merge(b)
    for d in (a, b, c):
        assert d.text == "Hello alice bob carol world"
        assert_consistent(d)


def test_tie_break_is_by_agent_not_by_who_merges():
    # "zed" sorts after "amy" even though zed typed first and merges last
    z = Document("zed")
    z.insert(0, "[]")
    a = z.fork("amy")
    z.insert(1, "ZZ")
    a.insert(1, "AA")
    z.merge(a)
    a.merge(z)
    assert z.text == a.text == "[AAZZ]"


def test_delete_races_type_inside():
    a = Document("alice")
    a.insert(0, "The quick brown fox")
    b = a.fork("bob")
    a.delete(4, len("quick "))
    assert a.text == "The brown fox"
    b.insert(7, "XYZ")  # "The quiXYZck brown fox"
    assert b.text == "The quiXYZck brown fox"
    sync(a, b)
    assert a.text == b.text == "The XYZbrown fox"
    assert_consistent(a)
    assert_consistent(b)


def test_delete_races_type_at_both_edges_of_deleted_range():
    a = Document("alice")
    a.insert(0, "The quick brown fox")
    b = a.fork("bob")
    a.delete(4, 6)
    b.insert(10, ">")  # right after "quick "
    b.insert(4, "<")  # right before "quick "
    assert b.text == "The <quick >brown fox"
    sync(a, b)
    assert a.text == b.text == "The <>brown fox"
    assert_consistent(a)


def _type_backwards(doc, pos, word):
    for ch in reversed(word):
        doc.insert(pos, ch)


def test_backwards_typing_concurrently_not_interleaved():
    a = Document("alice")
    a.insert(0, "Hello world")
    b = a.fork("bob")
    _type_backwards(a, 5, "abc")
    _type_backwards(b, 5, "xyz")
    assert a.text == "Helloabc world"
    assert b.text == "Helloxyz world"
    sync(a, b)
    assert a.text == b.text == "Helloabcxyz world"
    assert_consistent(a)


def test_backwards_typing_long_words_three_users():
    base = Document("u1")
    base.insert(0, "<>")
    docs = [base, base.fork("u2"), base.fork("u3")]
    words = ["abcdefgh", "ijklmnop", "qrstuvwx"]
    for d, w in zip(docs, words):
        _type_backwards(d, 1, w)
    # deliver in a scrambled order
    docs[2].merge(docs[0])
    docs[1].merge(docs[2])
    docs[0].merge(docs[1])
    sync_all(docs)
    assert {d.text for d in docs} == {"<" + "".join(words) + ">"}
    for d in docs:
        assert_consistent(d)


def test_forward_and_backward_typing_mixed():
    a = Document("alice")
    a.insert(0, "..")
    b = a.fork("bob")
    for i, ch in enumerate("fwd"):  # forward, char by char
        a.insert(1 + i, ch)
    _type_backwards(b, 1, "back")
    sync(a, b)
    assert a.text == b.text
    t = a.text
    assert "fwd" in t and "back" in t
    assert sorted(t) == sorted("..fwdback")
    assert t == ".fwdback."
    assert_consistent(a)


def test_concurrent_deletes_of_same_text():
    a = Document("alice")
    a.insert(0, "keep DELETE keep")
    b = a.fork("bob")
    c = a.fork("carol")
    a.delete(5, 7)
    b.delete(5, 7)
    c.delete(4, 8)  # overlapping: " DELETE " minus the final space
    sync_all([a, b, c])
    assert a.text == b.text == c.text == "keepkeep"
    for d in (a, b, c):
        assert_consistent(d)


def test_concurrent_identical_deletes_do_not_eat_neighbours():
    a = Document("alice")
    a.insert(0, "abcdef")
    b = a.fork("bob")
    a.delete(2, 2)
    b.delete(2, 2)
    sync(a, b)
    assert a.text == b.text == "abef"
    # both then delete one more char: only neighbours they saw
    a.delete(0, 1)
    b.delete(3, 1)
    sync(a, b)
    assert a.text == b.text == "be"
    assert_consistent(a)


def test_concurrent_backspace_and_delete_key_same_range():
    a = Document("alice")
    a.insert(0, "0123456789")
    b = a.fork("bob")
    for i in range(6, 2, -1):  # backspace over "3456" from the right
        a.delete(i, 1)
    for _ in range(4):  # delete key over "3456" from the left
        b.delete(3, 1)
    assert a.text == b.text == "012789"
    sync(a, b)
    assert a.text == b.text == "012789"
    assert_consistent(a)


def test_insert_at_start_and_end_concurrently():
    a = Document("alice")
    a.insert(0, "middle")
    b = a.fork("bob")
    a.insert(0, "A<")
    b.insert(0, "B<")
    a.insert(len(a.text), ">A")
    b.insert(len(b.text), ">B")
    sync(a, b)
    assert a.text == b.text == "A<B<middle>A>B"
    assert_consistent(a)


def test_insert_into_empty_document_concurrently():
    a = Document("alice")
    b = Document("bob")
    b.insert(0, "bob")
    a.insert(0, "alice")
    sync(a, b)
    assert a.text == b.text == "alicebob"
    assert_consistent(a)


@pytest.mark.parametrize(
    "text",
    [
        "👩\u200d💻🎉",
        "e\u0301a\u0300",
        "漢字かな交じり文",
        "mixed 👍🏽 e\u0301 中文 \U0010ffff",
    ],
)
def test_unicode_round_trip_code_point_positions(text):
    a = Document("alice")
    a.insert(0, text)
    assert a.text == text
    assert len(a) == len(text)  # code points, not UTF-16 units or bytes
    b = a.fork("bob")
    # insert between every code point, splitting ZWJ sequences and combining marks
    a.insert(1, "|")
    b.insert(len(text) - 1, "#")
    sync(a, b)
    exp = text[:1] + "|" + text[1:]
    exp = exp[: len(exp) - 1] + "#" + exp[len(exp) - 1 :] if len(text) > 1 else exp + "#"
    assert a.text == b.text == exp
    # deleting one code point removes exactly one
    a.delete(2, 1)
    assert len(a.text) == len(exp) - 1
    assert a.text == exp[:2] + exp[3:]
    b.merge(a)
    assert b.text == a.text
    assert_consistent(a)


def test_emoji_concurrent_edits():
    a = Document("alice")
    a.insert(0, "🎉🎉")
    b = a.fork("bob")
    a.insert(1, "👩\u200d💻")
    b.delete(0, 1)
    b.insert(1, "e\u0301")
    sync(a, b)
    assert a.text == b.text == "👩\u200d💻🎉e\u0301"
    assert_consistent(a)
    assert a.text.encode("utf-8").decode("utf-8") == a.text


def test_long_offline_branch_merged_late():
    rng = random.Random(1234)
    a = Document("alice")
    a.insert(0, "shared base text. " * 5)
    b = a.fork("bob")
    expected_a = a.text
    # bob goes offline and makes 400 edits; alice makes 300 meanwhile
    for who, n, alphabet in ((b, 400, "klmnp"), (a, 300, "AEIOU")):
        for _ in range(n):
            L = len(who)
            if L and rng.random() < 0.3:
                p = rng.randrange(L)
                who.delete(p, rng.randint(1, min(5, L - p)))
            else:
                who.insert(rng.randint(0, L), "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))))
    assert expected_a != a.text
    a_only, b_only = a.text, b.text
    sync(a, b)
    assert a.text == b.text
    assert_consistent(a)
    assert_consistent(b)
    # every character surviving in the merge came from one of the two sides
    assert set(a.text) <= set(a_only) | set(b_only)
    # each side's characters that survived its own edits and weren't deleted by
    # the other side are still there: ones the other side never saw are all kept
    assert [c for c in a.text if c in "AEIOU"] == [c for c in a_only if c in "AEIOU"]
    assert [c for c in a.text if c in "klmnp"] == [c for c in b_only if c in "klmnp"]


def test_merge_of_merges():
    a = Document("a")
    a.insert(0, "0")
    b, c = a.fork("b"), a.fork("c")
    a.insert(1, "A")
    b.insert(1, "B")
    c.insert(1, "C")
    a.merge(b)  # a: 0AB
    assert a.text == "0AB"
    c.merge(a)  # c: 0ABC
    assert c.text == "0ABC"
    b.insert(0, "b")  # b concurrent with both merges
    b.merge(c)
    assert b.text == "b0ABC"
    a.insert(len(a), "a")  # after a's merge of b, before it saw c
    a.merge(b)
    c.merge(a)
    b.merge(a)
    assert a.text == b.text == c.text == "b0ABaC"
    for d in (a, b, c):
        assert_consistent(d)
    assert a.version == b.version == c.version
