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

from cowrite.engine import InvalidOpError

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


def test_idempotent_delivery():
    a = Document("alice")
    a.insert(0, "hello")
    b = Document("bob")
    ops = a.ops_since(())
    b.add_ops(ops)
    before = (b.text, b.version, len(b.oplog))
    assert b.add_ops(ops) == []
    assert b.add_ops(ops + ops) == []
    assert (b.text, b.version, len(b.oplog)) == before
    # partly known run: only the tail is new
    a.insert(5, " world")
    all_ops = a.ops_since(())
    b.add_ops(all_ops)
    b.add_ops(all_ops)
    assert b.text == a.text == "hello world"
    assert len(b.oplog) == len(a.oplog) == 11
    b.merge(a)
    assert b.text == "hello world"


def test_duplicate_delivery_of_concurrent_ops():
    a = Document("alice")
    a.insert(0, "xy")
    b = a.fork("bob")
    a.insert(1, "A")
    b.insert(1, "B")
    ops_b = b.ops_since(b.version[:0] + (("alice", 1),))
    assert [op.agent for op in ops_b] == ["bob"]
    a.add_ops(ops_b)
    t = a.text
    a.add_ops(ops_b)
    a.add_ops(b.ops_since(()))
    assert a.text == t == "xABy"


def test_text_at_old_versions():
    d = Document("alice")
    versions = [(d.version, d.text)]
    for word in ["one", " two", " three"]:
        d.insert(len(d), word)
        versions.append((d.version, d.text))
    d.delete(0, 4)
    versions.append((d.version, d.text))
    e = d.fork("bob")
    e.insert(0, "B")
    d.insert(len(d), "!")
    concurrent_d = d.version
    d.merge(e)
    versions.append((d.version, d.text))
    for v, t in versions:
        assert d.text_at(v) == t
    assert d.text_at(()) == ""
    assert d.text_at(concurrent_d) == "two three!"
    assert d.text_at(e.version) == "Btwo three"
    # a version that is not a head: the middle of a run
    assert d.text_at((("alice", 1),)) == "on"


def test_fork_independence():
    a = Document("alice")
    a.insert(0, "base")
    b = a.fork("bob")
    assert b.agent == "bob"
    assert b.text == "base" and b.version == a.version
    b.insert(4, "B")
    assert a.text == "base"
    a.delete(0, 1)
    assert b.text == "baseB"
    assert len(a.oplog) == 5 and len(b.oplog) == 5
    c = b.fork("carol")
    c.insert(0, "C")
    assert b.text == "baseB"
    assert a.text == "ase"
    sync_all([a, b, c])
    assert a.text == b.text == c.text == "Case" + "B"


def test_fork_refuses_its_own_agent():
    a = Document("alice")
    with pytest.raises(InvalidOpError):
        a.fork("alice")


def test_same_agent_on_two_replicas_is_detected_by_add_ops():
    # a copy keeps the agent and continues the same seq numbers; if both copies
    # edit, they produce conflicting (agent, seq) ids, which add_ops rejects
    from cowrite.engine import ConflictingOpError

    a = Document("alice")
    a.insert(0, "x")
    b = a.copy()
    a.insert(1, "A")
    b.insert(1, "B")
    with pytest.raises(ConflictingOpError):
        a.add_ops(b.ops_since(()))
    assert a.text == "xA"


def test_summary_lets_a_peer_send_exactly_what_is_missing_both_ways():
    """Reconnect with offline edits on both sides: each side's summary tells the
    other exactly which ops to send, although neither knows the other's frontier."""
    a = Document("alice")
    a.insert(0, "shared ")
    b = a.fork("bob")
    a.insert(7, "alice offline")
    b.insert(0, "bob offline ")
    b.delete(0, 4)
    to_b = a.ops_missing_from(b.summary())
    to_a = b.ops_missing_from(a.summary())
    assert {op.agent for op in to_b} == {"alice"} and {op.agent for op in to_a} == {"bob"}
    assert sum(op.span for op in to_b) == len("alice offline")
    b.add_ops(to_b)
    a.add_ops(to_a)
    assert a.text == b.text
    assert a.ops_missing_from(b.summary()) == [] and b.summary() == a.summary()


def test_summary_input_is_validated():
    a = Document("alice")
    a.insert(0, "x")
    for bad in [None, [], {"a": 3}, {"a": [[1]]}, {"a": [[2, 1]]}, {"a": [["0", 1]]}, {3: []}]:
        with pytest.raises(InvalidOpError):
            a.ops_missing_from(bad)
    assert a.ops_missing_from({}) == a.ops_since(())
    # overlapping / unsorted ranges are fine
    assert a.ops_missing_from({"alice": [[0, 1], [0, 1]]}) == []


def test_merges_during_a_long_concurrent_session_reuse_the_walk():
    """Three people typing without ever pausing: the server-side replica must not re-walk
    the whole session on every keystroke (the merge cache), and stays exact."""
    from cowrite.engine.reference import reference_text

    server = Document("server")
    users = [Document(n) for n in ("ann", "bo", "cy")]
    for step in range(60):
        for i, u in enumerate(users):
            u.insert(min(len(u.text), 3 * i), "abc"[i])
            server.add_ops(u.ops_since(()))  # every keystroke arrives on its own
        if step % 7 == 0:  # the users hear from each other only now and then
            for u in users:
                u.merge(server)
    assert server._merge_cache.hits > 100
    assert server.text == reference_text(server.oplog)
    for u in users:
        u.merge(server)
        assert u.text == server.text
