"""Named examples for history: changes with agent and time, text at past versions, blame."""

from __future__ import annotations

from cowrite.engine import Authorship, Document
from engine_helpers import sync


class Wall:
    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_changes_list_agent_time_and_sizes_and_drive_a_time_slider():
    wa, wb = Wall(1_700_000_000), Wall(1_700_000_100)
    a = Document("alice", clock=wa)
    a.insert(0, "Hello")
    wa.t += 1
    a.insert(5, " world")
    b = Document.decode(a.encode(), "bob", clock=wb)
    b.delete(0, 6)
    b.insert(0, "Goodbye ")
    sync(a, b)
    ch = a.changes()
    assert [(c.agent, c.time, c.inserted, c.deleted) for c in ch] == [
        ("alice", 1_700_000_000, 5, 0),
        ("alice", 1_700_000_001, 6, 0),
        ("bob", 1_700_000_100, 8, 6),
    ]
    assert [a.text_at(c.version) for c in ch] == ["Hello", "Hello world", "Goodbye world"]
    assert ch[1].parents == ch[0].version
    # only what happened since a version, without walking the rest
    assert a.changes(since=ch[1].version) == ch[2:]
    assert a.changes(since=a.version) == []


def test_times_travel_with_ops():
    a = Document("alice", clock=Wall(1_234_567_890))
    a.insert(0, "x")
    b = Document("bob")
    b.apply_patch(a.encode_patch())
    assert b.changes()[0].time == 1_234_567_890


def test_blame_of_current_text_and_of_a_past_version():
    a = Document("alice")
    a.insert(0, "Hello world")
    b = a.fork("bob")
    b.insert(5, ", dear")
    a.delete(0, 1)
    a.insert(0, "J")
    sync(a, b)
    assert a.text == "Jello, dear world"
    assert a.blame() == [
        Authorship(0, 5, "alice"),
        Authorship(5, 11, "bob"),
        Authorship(11, 17, "alice"),
    ]
    assert b.blame() == a.blame()
    v = a.changes()[0].version
    assert a.blame(v) == [Authorship(0, 11, "alice")]
    # blame stays current through later local edits and merges
    b.insert(0, "¡")
    sync(a, b)
    runs = a.blame()
    assert runs[0] == Authorship(0, 1, "bob") and runs[-1].end == len(a.text)
    assert "".join(a.text[r.start : r.end] for r in runs) == a.text


def test_blame_of_empty_document():
    assert Document("a").blame() == []
