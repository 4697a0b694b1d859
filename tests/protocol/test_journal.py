"""Journal: named cases, and a model check over random local/remote/flush/ack/rebase scripts.

Sizes scale with ``COWRITE_HYPOTHESIS_EXAMPLES`` (default 100).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowrite.protocol.journal import Journal, Rebased
from cowrite.protocol.textchange import ChangeMismatch, Delete, Insert, compose_all, diff, from_edit, from_edits

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "100"))


def apply_edits(text: str, edits: list[tuple[int, int, str | int]]) -> str:
    """The engine's way: each edit in the coordinates the previous one left."""
    for kind, pos, what in edits:
        if kind == 0:
            assert isinstance(what, str)
            text = text[:pos] + what + text[pos:]
        else:
            assert isinstance(what, int) and pos + what <= len(text)
            text = text[:pos] + text[pos + what :]
    return text


def check(j: Journal, view: str) -> str:
    """The journal's segments, applied one by one to its base, give ``view``."""
    text = base = j.base(view)
    for seg in j.segments:
        assert not seg.change.is_identity
        text = seg.change.apply(text)
    assert text == view
    return base


def rebase(j: Journal, view: str, server: str) -> Rebased:
    r = j.rebase(view, server)
    assert apply_edits(server, r.on_server) == r.text == apply_edits(view, r.on_view)
    if r.on_server:
        assert len(j.segments) == 1 and j.segments[0].seq_end is None and not j.segments[0].pinned
        assert j.base(r.text) == server
    else:
        assert j.empty
    return r


class Typist:
    """A view plus the journal fed the way an editor would."""

    def __init__(self, text: str) -> None:
        self.view = text
        self.j = Journal()

    def type(self, pos: int, text: str, in_replica: bool = True) -> None:
        for i, ch in enumerate(text):
            self.j.local(pos + i, "", ch, in_replica=in_replica)
            self.view = self.view[: pos + i] + ch + self.view[pos + i :]

    def delete(self, pos: int, n: int, in_replica: bool = True) -> None:
        self.j.local(pos, self.view[pos : pos + n], "", in_replica=in_replica)
        self.view = self.view[:pos] + self.view[pos + n :]

    def remote(self, edits: list[tuple[int, int, str | int]]) -> None:
        self.j.remote(edits)
        self.view = apply_edits(self.view, edits)


# -- named cases ------------------------------------------------------------------


def test_typing_at_the_end_after_someone_deleted_the_end() -> None:
    # the deletion arrives as a remote change
    t = Typist("hello world")
    t.type(11, "!!")
    t.remote([(1, 5, 6)])  # " world" went
    assert t.view == "hello!!" and check(t.j, t.view) == "hello"
    assert rebase(t.j, t.view, "hello").text == "hello!!"
    # the replica never heard of it: the server's text is shorter than the base
    t = Typist("hello world")
    t.type(11, "!!")
    r = rebase(t.j, t.view, "hello")
    assert r.text == "hello!!" and r.on_server == [(0, 5, "!!")] and r.on_view == [(1, 5, 6)]


def test_users_delete_of_text_someone_else_also_deleted() -> None:
    t = Typist("hello cruel world")
    t.delete(5, 6)  # " cruel"
    t.type(11, "!")
    assert t.view == "hello world!" and check(t.j, t.view) == "hello cruel world"
    r = rebase(t.j, t.view, "hello world")  # the server lost " cruel" too
    assert r.text == "hello world!" and r.on_server == [(0, 11, "!")] and r.on_view == []
    # the diff alone would delete "cruel " (after the common prefix "hello "); it is slid
    # onto the user's " cruel", or the two deletes would take both spaces
    assert diff("hello cruel world", "hello world").ops[1] == Delete("cruel ", 6)
    t = Typist("hello cruel world")
    t.delete(6, 6)  # "cruel "
    assert rebase(t.j, t.view, "hello world").on_server == []
    # a character typed at the end of the lost word is not stranded inside the deleted span
    t = Typist("hello cruel world")
    t.type(11, "X")
    assert rebase(t.j, t.view, "hello world").text == "helloX world"
    # overlapping, not equal: the user deleted "cruel w", another user " cruel"
    t = Typist("hello cruel world")
    t.delete(6, 7)
    r = rebase(t.j, t.view, "hello world")
    assert r.text == "hello orld" and r.on_server == [(1, 6, 1)]


def test_remote_insert_inside_the_users_unconfirmed_word() -> None:
    t = Typist("ab")
    t.type(1, "hello")
    t.remote([(0, 4, "XY")])  # between "hel" and "lo"
    assert t.view == "ahelXYlob"
    (seg,) = t.j.segments
    assert [op for op in seg.change.ops if isinstance(op, Insert)] == [Insert("hel"), Insert("lo")]
    assert check(t.j, t.view) == "aXYb"
    assert rebase(t.j, t.view, "aXYb").text == "ahelXYlob"  # server == base: the view exactly
    t.type(9, "z")
    assert rebase(t.j, t.view, "aXYb").text == "ahelXYlobz"


def test_remote_delete_of_the_users_typing_removes_it() -> None:
    t = Typist("ab")
    t.type(1, "xyz")
    t.j.flushed(3)
    t.remote([(1, 1, 3)])  # someone deleted all of it (the ops reached them, the ACK not us)
    assert t.view == "ab" and t.j.empty
    t = Typist("ab")
    t.type(1, "xyz")
    t.remote([(1, 2, 1)])  # just the "y"
    assert check(t.j, t.view) == "ab"
    assert [op for op in t.j.segments[0].change.ops if isinstance(op, Insert)] == [Insert("xz")]


def test_server_text_comes_first_where_both_inserted() -> None:
    t = Typist("ab")
    t.type(1, "X")
    r = rebase(t.j, t.view, "aYb")
    assert r.text == "aYXb" and r.on_server == [(0, 2, "X")] and r.on_view == [(0, 1, "Y")]


def test_typing_after_corruption_leaves_the_garbage_behind() -> None:
    shared = "The quick brown fox jumps over the lazy dog."
    t = Typist("GARBAGE " + shared)
    t.type(len(t.view), "typed")
    r = rebase(t.j, t.view, shared)
    assert r.text == shared + "typed"
    assert r.on_server == [(0, len(shared), "typed")]
    assert r.on_view == [(1, 0, 8)]
    # garbage in two places and typing between them
    t = Typist("The quick ##brown fox jumps @@over the lazy dog.")
    t.type(22, "red ")
    assert t.view == "The quick ##brown fox red jumps @@over the lazy dog."
    assert rebase(t.j, t.view, shared).text == "The quick brown fox red jumps over the lazy dog."


def test_astral_characters_are_one_position() -> None:
    t = Typist("a😀b")
    t.type(2, "👋🏽")  # two code points: hand + skin tone
    assert t.view == "a😀👋🏽b"
    t.remote([(0, 1, "🎉")])
    assert t.view == "a🎉😀👋🏽b" and check(t.j, t.view) == "a🎉😀b"
    t.delete(1, 1, in_replica=True)  # the user deletes the 🎉
    assert check(t.j, t.view) == "a🎉😀b"
    r = rebase(t.j, t.view, "𝔘a🎉😀b")
    assert r.text == "𝔘a😀👋🏽b" and r.on_server == [(1, 2, 1), (0, 3, "👋🏽")]


def test_empty_journal() -> None:
    j = Journal()
    assert j.empty and j.base("anything") == "anything"
    j.remote([(0, 0, "x")])  # nothing to move: ignored
    j.flushed(4)
    j.confirmed(4)
    r = j.rebase("hello world", "hello there world")
    assert r.on_server == [] and r.on_view == diff("hello world", "hello there world").to_edits()
    assert r.text == "hello there world" and j.empty


def test_confirmed_in_any_order() -> None:
    t = Typist("")
    t.type(0, "ab")
    t.j.flushed(2)
    t.type(2, "cd")
    t.j.flushed(4)
    t.type(4, "ef")
    t.j.flushed(6)
    t.type(6, "g")  # not sent
    assert [s.seq_end for s in t.j.segments] == [2, 4, 6, None]
    t.j.confirmed(4)
    assert [s.seq_end for s in t.j.segments] == [6, None] and check(t.j, t.view) == "abcd"
    t.j.confirmed(2)  # late, smaller: nothing
    t.j.confirmed(3)
    assert [s.seq_end for s in t.j.segments] == [6, None]
    t.j.confirmed(100)
    assert [s.seq_end for s in t.j.segments] == [None] and check(t.j, t.view) == "abcdef"
    t.j.flushed(7)
    t.j.confirmed(6)
    assert not t.j.empty
    t.j.confirmed(7)
    assert t.j.empty and t.j.base(t.view) == t.view


def test_edits_not_in_the_replica_survive_confirmed() -> None:
    t = Typist("ab")
    t.type(1, "x")  # in the replica
    t.type(2, "Q", in_replica=False)  # refused by the replica's engine
    t.type(3, "y")  # in the replica again
    assert [(s.pinned, s.seq_end) for s in t.j.segments] == [(False, None), (True, None), (False, None)]
    t.j.flushed(2)
    t.j.confirmed(2)
    # x and y are on the server; Q is kept (y was moved underneath it, then dropped)
    (seg,) = t.j.segments
    assert seg.pinned and check(t.j, t.view) == "axyb"
    r = rebase(t.j, t.view, "axyb")  # the server has x and y once, not twice
    assert r.text == "axQyb" and r.on_server == [(0, 2, "Q")]
    assert not t.j.segments[0].pinned  # re-typed as new ops: ordinary now


def test_pinned_edit_typed_over_later() -> None:
    t = Typist("ab")
    t.type(1, "QR", in_replica=False)
    t.delete(2, 1)  # the user deletes the R again (in the replica: it was not there)
    t.type(2, "z")
    t.j.flushed(1)
    t.j.confirmed(1)
    assert t.view == "aQzb" and check(t.j, t.view) == "azb"
    assert rebase(t.j, t.view, "azb").text == "aQzb"


def test_typing_then_backspace_leaves_nothing() -> None:
    t = Typist("abc")
    t.type(1, "xy")
    t.delete(2, 1)
    t.delete(1, 1)
    assert t.j.empty and t.view == "abc"
    t.delete(0, 1)  # a real delete, then typed back: kept as a replacement (harmless to re-type)
    t.type(0, "a")
    assert [s.change for s in t.j.segments] == [from_edit(0, "a", "a")]
    assert rebase(t.j, t.view, "abc").text == "abc"


def test_journal_that_does_not_fit_the_view_raises() -> None:
    t = Typist("abc")
    t.type(3, "xyz")
    with pytest.raises(ChangeMismatch):
        t.j.base("abcxy")
    with pytest.raises(ChangeMismatch):
        t.j.rebase("ab", "ab")
    t.j.local(4, "y", "")  # a delete of the y...
    with pytest.raises(ChangeMismatch):
        t.j.local(4, "q", "")  # ...and of a "q" where the user typed "z"
    with pytest.raises(ValueError):
        t.j.local(-1, "", "x")


def test_keystrokes_are_cheap_on_a_long_text() -> None:
    t = Typist("x" * 1_000_000)
    t.j.remote([(0, 10, "yy")])
    start = time.perf_counter()
    for i in range(2000):
        t.j.local(500_000 + i, "", "a")
    elapsed = time.perf_counter() - start
    (seg,) = t.j.segments
    assert len(seg.change.ops) == 2  # one retain, one insert of all 2000 characters
    assert elapsed < 1.0, f"{elapsed:.3f}s for 2000 keystrokes"


# -- the model check --------------------------------------------------------------


@dataclass
class Model:
    """Every character is unique, so we know where each came from.

    ``typed[c]``: user character ``c`` was typed in group ``g``; ``deleted[c]``:
    the user deleted ``c`` in group ``g``.  A group is ``[tag, pinned]`` (``tag``:
    the seq_end it was flushed with, None until then)."""

    view: str
    confirmed: int = -1
    typed: dict[str, list[object]] = field(default_factory=dict)
    deleted: dict[str, list[object]] = field(default_factory=dict)
    open: dict[bool, list[object]] = field(default_factory=dict)
    groups: list[list[object]] = field(default_factory=list)

    def group(self, pinned: bool) -> list[object]:
        g = self.open.get(pinned)
        if g is None:
            g = self.open[pinned] = [None, pinned]
            self.groups.append(g)
        return g

    def unconfirmed(self, g: list[object] | None) -> bool:
        if g is None:
            return False
        tag, pinned = g
        return bool(pinned) or tag is None or (isinstance(tag, int) and tag > self.confirmed)


class Chars:
    def __init__(self) -> None:
        self.n = 0

    def new(self, k: int) -> str:
        out = []
        for _ in range(k):
            self.n += 1
            out.append(chr(0x1F300 + self.n) if self.n % 3 == 0 else chr(0x4E00 + self.n))
        return "".join(out)


def expected_inserts(m: Model) -> str:
    return "".join(c for c in m.view if m.unconfirmed(m.typed.get(c)))


def in_order(a: str, b: str) -> bool:
    """The characters ``a`` and ``b`` share are in the same order in both."""
    sa, sb = set(a), set(b)
    return [c for c in a if c in sb] == [c for c in b if c in sa]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_journal_model(data: st.DataObject) -> None:
    chars = Chars()
    m = Model(chars.new(data.draw(st.integers(0, 12))))
    j = Journal()
    seq = 0
    for _ in range(data.draw(st.integers(1, 40))):
        what = data.draw(st.sampled_from(["local"] * 4 + ["remote"] * 2 + ["flush", "ack", "rebase"]))
        if what == "local":
            pos = data.draw(st.integers(0, len(m.view)))
            n = data.draw(st.integers(0, min(3, len(m.view) - pos)))
            ins = chars.new(data.draw(st.integers(0 if n else 1, 3)))
            pinned = data.draw(st.integers(0, 9)) == 0
            j.local(pos, m.view[pos : pos + n], ins, in_replica=not pinned)
            g = m.group(pinned)
            for c in m.view[pos : pos + n]:
                m.deleted[c] = g
            for c in ins:
                m.typed[c] = g
            m.view = m.view[:pos] + ins + m.view[pos + n :]
        elif what == "remote":
            edits: list[tuple[int, int, str | int]] = []
            text = m.view
            for _ in range(data.draw(st.integers(1, 3))):
                pos = data.draw(st.integers(0, len(text)))
                if data.draw(st.booleans()) and pos < len(text):
                    n = data.draw(st.integers(1, len(text) - pos))
                    edits.append((1, pos, n))
                    text = text[:pos] + text[pos + n :]
                else:
                    s = chars.new(data.draw(st.integers(1, 3)))
                    edits.append((0, pos, s))
                    text = text[:pos] + s + text[pos:]
            j.remote(edits)
            m.view = text
        elif what == "flush":
            seq += data.draw(st.integers(1 if m.open else 0, 3))  # new ops, new seqs
            j.flushed(seq)
            for g in m.open.values():
                g[0] = seq
            m.open.clear()
        elif what == "ack":
            acked = data.draw(st.integers(0, seq))
            j.confirmed(acked)
            m.confirmed = max(m.confirmed, acked)
        else:
            base = j.base(m.view)
            server = base
            for _ in range(data.draw(st.integers(0, 3))):  # what the replica missed, or garbage it had
                pos = data.draw(st.integers(0, len(server)))
                n = data.draw(st.integers(0, len(server) - pos))
                server = server[:pos] + chars.new(data.draw(st.integers(0, 2))) + server[pos + n :]
            user = compose_all(s.change for s in j.segments)
            r = rebase(j, m.view, server)
            assert in_order(m.view, r.text)  # every shared character keeps its place
            if server == base:
                assert r.text == m.view
            # no keystroke dropped: every unconfirmed typed character is there, in order
            change = from_edits(r.on_server, base=server)
            assert "".join(op.text for op in change.ops if isinstance(op, Insert)) == expected_inserts(m)
            assert "".join(op.text for op in user.ops if isinstance(op, Insert)) == expected_inserts(m)
            # and every unconfirmed delete of a character the server still has is done again
            gone = {c for op in change.ops if isinstance(op, Delete) and op.text for c in op.text}
            assert gone == {c for c in server if m.unconfirmed(m.deleted.get(c))}
            # from now on the journal holds the re-typed edits as one new group
            fresh: list[object] = [None, False]
            m.groups, m.open = [fresh], {False: fresh}
            m.typed = {c: fresh for c in expected_inserts(m)}
            m.deleted = {c: fresh for c in gone}
            m.view = r.text
        base = check(j, m.view)
        assert in_order(m.view, base)
        # the journal inserts exactly the unconfirmed typed characters still visible
        user = compose_all(s.change for s in j.segments)
        assert "".join(op.text for op in user.ops if isinstance(op, Insert)) == expected_inserts(m)
        if j.empty:
            assert user.is_identity and base == m.view
