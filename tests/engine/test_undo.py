"""Named examples for per-user undo/redo (engine/undo.py)."""

from __future__ import annotations

import pytest

from cowrite.engine import Document, UndoManager, UndoResult
from engine_helpers import assert_consistent, sync, sync_all


class Clock:
    """A hand-driven monotonic clock, so undo grouping is deterministic."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def tick(self, dt: float = 1.0) -> None:
        self.t += dt


def user(agent: str, clock: Clock | None = None) -> tuple[Document, UndoManager, Clock]:
    clock = clock or Clock()
    doc = Document(agent, clock=lambda: 1_800_000_000)
    return doc, UndoManager(doc, clock=clock), clock


def test_undo_with_nothing_to_undo_is_a_no_op():
    a, ua, _ = user("alice")
    assert ua.undo() is None and ua.redo() is None
    b = Document("bob")
    b.insert(0, "bob's text")
    a.merge(b)
    assert ua.undo() is None  # nothing of alice's
    assert a.text == "bob's text" and not ua.can_undo


def test_typing_within_the_pause_is_one_step_and_a_pause_starts_another():
    a, ua, clock = user("alice")
    for i, ch in enumerate("hello"):
        a.insert(i, ch)
        clock.tick(0.1)
    clock.tick(2)
    a.insert(5, " world")
    assert ua.undo() == UndoResult(5, 5)
    assert a.text == "hello"
    assert ua.undo() == UndoResult(0, 0)
    assert a.text == ""
    assert ua.undo() is None


def test_explicit_group_is_one_step_whatever_the_pauses():
    a, ua, clock = user("alice")
    a.insert(0, "keep ")
    clock.tick(5)
    with ua.group():
        a.insert(5, "one")
        clock.tick(10)
        a.insert(8, " two")
        a.delete(0, 1)
    clock.tick(0.1)
    a.insert(len(a.text), "!")  # after the group: a step of its own
    assert a.text == "eep one two!"
    ua.undo()
    assert a.text == "eep one two"
    ua.undo()
    assert a.text == "keep "


def test_stop_capturing_splits_a_burst():
    a, ua, _ = user("alice")
    a.insert(0, "ab")
    ua.stop_capturing()
    a.insert(2, "cd")
    ua.undo()
    assert a.text == "ab"


def test_undo_my_insert_after_someone_typed_in_its_middle():
    a, ua, _ = user("alice")
    b, ub, _ = user("bob")
    a.insert(0, "Hello world")
    sync(a, b)
    b.insert(5, " there,")  # inside alice's text
    b.insert(0, ">")  # and beside it
    sync(a, b)
    assert a.text == ">Hello there, world"
    ua.undo()
    assert a.text == "> there,"  # only alice's characters went
    sync(a, b)
    assert b.text == a.text == "> there,"
    assert ub.undo() is not None  # bob's own last step is still his to undo
    assert ua.redo() is not None
    sync(a, b)
    assert a.text == b.text
    for d in (a, b):
        assert_consistent(d)


def test_undo_my_delete_after_someone_deleted_a_neighbour():
    a, ua, clock = user("alice")
    b, _, _ = user("bob")
    a.insert(0, "one two three")
    clock.tick(5)
    sync(a, b)
    a.delete(4, 4)  # "two "
    sync(a, b)
    b.delete(0, 4)  # bob deletes the left neighbour "one "
    b.insert(len(b.text), "!")
    sync(a, b)
    assert a.text == "three!"
    assert ua.undo() == UndoResult(0, 4)
    assert a.text == "two three!"
    sync(a, b)
    assert b.text == "two three!"


def test_undo_delete_puts_text_back_between_its_surviving_neighbours():
    a, ua, clock = user("alice")
    b, _, _ = user("bob")
    a.insert(0, "abcXYZdef")
    clock.tick(5)
    sync(a, b)
    a.delete(3, 3)  # XYZ
    b.insert(3, "123")  # concurrently bob types exactly there
    b.insert(len(b.text), "456")  # ...and after "def"
    sync(a, b)
    merged = a.text
    assert merged == "abc123def456"
    ua.undo()
    # XYZ comes back in its Fugue place relative to bob's concurrent "123"
    assert a.text.replace("XYZ", "") == merged
    assert a.text.startswith("abc") and "XYZ" in a.text
    sync(a, b)
    assert a.text == b.text
    assert_consistent(b)


def test_undo_delete_never_restores_what_someone_else_deleted_too():
    a, ua, clock = user("alice")
    b, _, _ = user("bob")
    a.insert(0, "0123456789")
    clock.tick(5)
    sync(a, b)
    a.delete(2, 5)  # 23456
    b.delete(4, 4)  # 4567, concurrently: 4,5,6 deleted by both
    sync(a, b)
    assert a.text == "0189"
    ua.undo()
    assert a.text == "012389"  # 2 and 3 were only alice's deletes; 4,5,6 stay gone (bob)
    sync(a, b)
    assert b.text == a.text


def test_three_users_each_undo_their_last_step_concurrently():
    users = [user(n) for n in ("ann", "bo", "cy")]
    docs = [u[0] for u in users]
    docs[0].insert(0, "The fox.")
    sync_all(docs)
    for u in users:
        u[2].tick(5)
    users[0][0].insert(4, "quick ")  # "The quick fox."
    users[1][0].insert(7, " jumps")  # "The fox jumps."
    users[2][0].delete(0, 4)  # "fox."
    sync_all(docs)
    assert len({d.text for d in docs}) == 1
    assert docs[0].text == "quick fox jumps."
    for u in users:  # each undoes concurrently, before hearing from the others
        assert u[1].undo() is not None
    sync_all(docs)
    assert {d.text for d in docs} == {"The fox."}
    for d in docs:
        assert_consistent(d)
    for u in users:  # and redo, concurrently
        assert u[1].redo() is not None
    sync_all(docs)
    assert {d.text for d in docs} == {"quick fox jumps."}


def test_new_local_edit_clears_redo():
    a, ua, clock = user("alice")
    a.insert(0, "abc")
    ua.undo()
    assert ua.can_redo
    a.insert(0, "x")
    assert not ua.can_redo and ua.redo() is None


def test_remote_edits_do_not_clear_redo_and_are_never_undone():
    a, ua, _ = user("alice")
    b, _, _ = user("bob")
    a.insert(0, "abc")
    ua.undo()
    b.insert(0, "B")
    a.merge(b)
    assert ua.can_redo
    ua.redo()
    assert sorted(a.text) == sorted("abcB")
    assert ua.undo() is not None and a.text == "B"
    assert ua.undo() is None and a.text == "B"


def test_undo_redo_are_ordinary_ops_that_sync():
    a, ua, _ = user("alice")
    b = Document("bob")
    a.insert(0, "hello")
    ua.undo()
    ua.redo()
    ua.undo()
    b.apply_patch(a.encode_patch())
    assert b.text == a.text == ""
    assert Document.decode(a.encode()).text == ""
    assert [op.agent for op in a.ops_since(())] == ["alice"] * len(a.ops_since(()))


def test_backspace_burst_is_one_step_and_comes_back_whole():
    a, ua, clock = user("alice")
    a.insert(0, "hello world")
    clock.tick(5)
    for i in range(5):  # backspace "world"
        a.delete(len(a.text) - 1)
        clock.tick(0.1)
    assert a.text == "hello "
    assert ua.undo() == UndoResult(6, 11)
    assert a.text == "hello world"
    assert ua.redo() == UndoResult(6, 6)
    assert a.text == "hello "


def test_delete_key_burst_and_selection_delete():
    a, ua, clock = user("alice")
    a.insert(0, "abcdefgh")
    clock.tick(5)
    a.delete(2)
    a.delete(2)
    a.delete(2)
    clock.tick(5)
    a.delete(0, 2)
    assert a.text == "fgh"
    ua.undo()
    assert a.text == "abfgh"
    ua.undo()
    assert a.text == "abcdefgh"


def test_typed_and_backspaced_in_one_step_leaves_nothing_behind():
    a, ua, _ = user("alice")
    a.insert(0, "helo")
    a.delete(3)
    a.delete(2)
    a.insert(2, "llo")
    assert a.text == "hello"
    ua.undo()
    assert a.text == ""
    ua.redo()
    assert a.text == "hello"


def test_replace_is_undone_as_one_step():
    a, ua, clock = user("alice")
    a.insert(0, "colour")
    clock.tick(5)
    a.replace(0, 6, "color")
    ua.undo()
    assert a.text == "colour"
    ua.redo()
    assert a.text == "color"


def test_undo_with_emoji_and_combining_marks():
    a, ua, clock = user("alice")
    b, ub, _ = user("bob")
    a.insert(0, "e\u0301👩‍🚀")
    clock.tick(5)
    sync(a, b)
    b.insert(2, "🎉")
    a.delete(0, 2)
    sync(a, b)
    assert a.text == "🎉👩‍🚀"
    ua.undo()
    ub.undo()
    sync(a, b)
    assert a.text == b.text == "e\u0301👩‍🚀"


def test_undo_after_reload_of_other_replica_and_offline_merge():
    a, ua, clock = user("alice")
    a.insert(0, "draft")
    clock.tick(5)
    b = Document.decode(a.encode(), "bob")
    b.insert(5, " (bob)")
    a.insert(0, "My ")  # offline on both sides
    a.merge(b)
    assert a.text == "My draft (bob)"
    ua.undo()
    assert a.text == "draft (bob)"
    ua.undo()
    assert a.text == " (bob)"


def test_second_undo_manager_on_one_document_is_refused():
    from cowrite.engine import CowriteError

    a, ua, _ = user("alice")
    with pytest.raises(CowriteError):
        UndoManager(a)
    ua.detach()
    UndoManager(a)


def test_redo_of_many_steps_in_order():
    a, ua, clock = user("alice")
    texts = [""]
    for w in ["one ", "two ", "three"]:
        a.insert(len(a.text), w)
        texts.append(a.text)
        clock.tick(5)
    while ua.undo():
        pass
    assert a.text == ""
    for t in texts[1:]:
        ua.redo()
        assert a.text == t
