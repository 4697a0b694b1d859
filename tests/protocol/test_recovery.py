"""Refusals and recovery, sans-I/O: a fresh JOIN, the journal re-typed, frames under a budget."""

from __future__ import annotations

import random

import pytest

from cowrite.engine import Document, Op
from cowrite.errors import ConfigError
from cowrite.protocol import (
    Acked,
    ClientSession,
    Error,
    ErrorCode,
    Join,
    Journal,
    Ops,
    Recovered,
    Recovery,
    Resync,
    Resynced,
    Role,
    Room,
    ServerError,
    ServerSession,
    Welcome,
    decode_frame,
    parse_join,
    recovery_for,
    replica_journal,
)
from cowrite.protocol.client import split_op

BASE = "The quick brown fox jumps over the lazy dog."


def _replay(text: str, edits: list) -> str:
    for kind, pos, arg in edits:
        text = text[:pos] + arg + text[pos:] if kind == 0 else text[:pos] + text[pos + arg :]
    return text


class Net:
    """A room and synchronous delivery; each client's frames are submitted in order."""

    def __init__(self, text: str = BASE) -> None:
        seed = Document("seed")
        if text:
            seed.insert(0, text)
        self.room = Room("d", seed.copy())
        self.events: list = []

    def join(self, session: ClientSession, user: str = "u") -> ServerSession:
        [join, *rest] = session.data_to_send()
        server, sends = self.room.join(parse_join(join), user=user, role=Role.EDITOR)
        server.tag = session
        self.deliver(sends)
        for data in rest:
            self.submit(server, data)
        return server

    def submit(self, server: ServerSession, data: bytes) -> None:
        self.deliver(self.room.submit(server, data).commit())

    def deliver(self, sends: list) -> None:
        for s in sends:
            client = s.session.tag
            self.events += client.receive(s.data)
            for data in client.data_to_send():
                self.submit(s.session, data)

    def pump(self, session: ClientSession, server: ServerSession) -> None:
        session.flush()
        for data in session.data_to_send():
            self.submit(server, data)


class Typist:
    """A document and its journal, fed the way the asyncio client feeds them."""

    def __init__(self, agent: str) -> None:
        self.doc = Document(agent)
        self.journal = Journal()

    def type(self, pos: int, text: str) -> None:
        self.doc.insert(pos, text)
        self.journal.local(pos, "", text)

    def delete(self, pos: int, n: int) -> None:
        removed = self.doc.text[pos : pos + n]
        self.doc.delete(pos, n)
        self.journal.local(pos, removed, "")

    def session(self, **kw: object) -> ClientSession:
        return ClientSession(self.doc, "d", journal=self.journal, **kw)  # type: ignore[arg-type]


def test_a_fresh_join_gets_the_whole_document() -> None:
    net = Net()
    session = ClientSession(Document("a"), "d", fresh=True)
    [frame] = session.data_to_send()
    join = decode_frame(frame)
    assert join == Join("d", "a", {}, False, True)
    _, sends = net.room.join(parse_join(frame), user="u", role=Role.EDITOR)
    welcome = decode_frame(sends[0].data)
    assert isinstance(welcome, Welcome) and welcome.version == net.room.doc.version
    doc = Document.decode(welcome.patch)  # a CWD document, not a patch
    assert doc.text == BASE and doc.summary() == net.room.doc.summary()
    [ev] = session.receive(sends[0].data)
    assert isinstance(ev, Recovered) and ev.doc.text == BASE and ev.edits == [(0, 0, BASE)] and ev.retyped == []
    assert session.doc is ev.doc and session.in_sync


def test_a_refused_batch_ends_the_session_and_a_fresh_join_retypes_the_edits() -> None:
    net = Net()
    t = Typist("a")
    s1 = t.session()
    server1 = net.join(s1)
    assert t.doc.text == BASE
    t.doc.branch.text.insert(0, "GARBAGE ")  # corrupted: the text no longer matches the ops
    t.type(len(t.doc.text), " It")  # placed past the server's end
    s1.flush()
    first = s1.data_to_send()
    t.type(len(t.doc.text), " was")
    s1.flush()
    second = s1.data_to_send()
    for data in first + second:
        pending = net.room.submit(server1, data)
        sends = pending.commit()
        net.deliver(sends)
    errors = [e for e in net.events if isinstance(e, ServerError)]
    assert len(errors) == 1 and errors[0].error.code is ErrorCode.BAD_OP  # the second one is ignored
    assert s1.closed and s1.recovery is Recovery.RESYNC and net.room.doc.text == BASE
    # Typing goes on while the client reconnects.
    t.type(len(t.doc.text), " sunny")
    view = t.doc.text
    old_end = t.doc.oplog.cg.next_seq("a")
    net.deliver(net.room.leave(server1))
    s2 = t.session(fresh=True)
    net.events.clear()
    net.join(s2)
    rec = [e for e in net.events if isinstance(e, Recovered)]
    assert len(rec) == 1
    ev = rec[0]
    want = BASE + " It was sunny"
    assert ev.doc is s2.doc and ev.doc.text == want and _replay(view, ev.edits) == want
    assert ev.retyped == [(0, len(BASE), " It was sunny")]
    assert ev.seq_floor == old_end and min(op.seq for op in ev.doc.ops_since(ev.version)) == old_end
    assert any(isinstance(e, Acked) for e in net.events)
    assert net.room.doc.text == want and s2.in_sync and t.journal.empty
    t.doc = s2.doc


def test_remote_edits_made_while_the_client_recovers_keep_their_place() -> None:
    net = Net()
    t = Typist("a")
    s1 = t.session()
    server1 = net.join(s1)
    b = ClientSession(Document("b"), "d")
    server_b = net.join(b, "v")
    t.doc.branch.text.insert(0, "GARBAGE ")
    t.type(len(t.doc.text), " It")
    net.pump(s1, server1)
    assert s1.recovery is Recovery.RESYNC
    net.deliver(net.room.leave(server1))
    # While a is away: b types at the start and deletes a word a's typing does not touch.
    b.doc.insert(0, ">> ")
    b.doc.delete(b.doc.text.index("quick "), len("quick "))
    net.pump(b, server_b)
    t.type(len(t.doc.text), " was")
    s2 = t.session(fresh=True)
    net.join(s2)
    want = ">> The brown fox jumps over the lazy dog. It was"
    assert s2.doc.text == net.room.doc.text == b.doc.text == want
    t.doc = s2.doc
    t.type(0, "[")  # and typing goes on, journaled on the new replica
    net.pump(s2, s2_server := net.room.sessions[-1])
    assert s2_server.agent == "a" and net.room.doc.text == "[" + want and t.journal.empty


def test_recovery_without_a_journal_derives_the_edits_from_the_ops() -> None:
    net = Net()
    doc = Document("a")
    s1 = ClientSession(doc, "d")
    server1 = net.join(s1)
    doc.branch.text.insert(0, "GARBAGE ")
    doc.insert(len(doc.text), " ok")
    s1.flush()
    for data in s1.data_to_send():
        net.submit(server1, data)
    assert s1.recovery is Recovery.RESYNC
    net.deliver(net.room.leave(server1))
    s2 = ClientSession(doc, "d", fresh=True)
    net.join(s2)
    # Nothing tells a corrupted text from typing here: the difference between the
    # replica's text and what its ops on the server give is typed again, all of it.
    assert s2.doc.text == net.room.doc.text == "GARBAGE " + BASE + " ok"


def test_split_op_keeps_what_the_op_did() -> None:
    base = Document("s")
    base.insert(0, "0123456789")
    for make in (
        lambda d: d.insert(3, "abcdef"),
        lambda d: d.delete(2, 6),  # forward: one run deleting at 2
    ):
        whole = base.fork("w")
        make(whole)
        [op] = whole.ops_since(base.version)
        for k in range(1, op.span):
            a, b = split_op(op, k)
            assert (a.seq, b.seq, b.parents) == (op.seq, op.seq + k, (("w", op.seq + k - 1),))
            assert a.span + b.span == op.span
            parts = base.fork("p")
            parts.add_ops([a, b])
            assert parts.text == whole.text
            # a replica holding the run whole accepts the halves as known (idempotent)
            again = whole.fork("q")
            assert again.add_ops([a, b]) == [] and again.text == whole.text
    backspace = Op.delete("w", 0, base.version, 2, 5, False)  # deletes 6, 5, 4, 3, 2
    whole = base.fork("x")
    whole.add_ops([backspace])
    assert whole.text == "01789"
    for k in range(1, 5):
        a, b = split_op(backspace, k)
        parts = base.fork("y")
        parts.add_ops([a, b])
        assert parts.text == "01789" and not a.fwd and not b.fwd
    with pytest.raises(ValueError):
        split_op(backspace, 0)


def test_frames_stay_under_the_budget_and_the_server_takes_them() -> None:
    net = Net("")
    t = Typist("a")
    s = t.session(max_frame_bytes=2048, max_batch_ops=50)
    server = net.join(s)
    rng = random.Random(4)
    paste = "".join(rng.choice("ab😀ü文") for _ in range(20_000))
    t.type(0, paste)
    for i in range(120):  # and many small ops
        t.type(rng.randrange(len(t.doc.text) + 1), "xyz"[i % 3])
    s.flush()
    frames = s.data_to_send()
    assert len(frames) > len(paste.encode()) // 2048
    assert all(len(f) <= 2048 for f in frames)
    assert all(len(decode_frame(f).patch) > 0 for f in frames)  # type: ignore[union-attr]
    for f in frames:
        net.submit(server, f)
    assert net.room.doc.text == t.doc.text and not s.unacked and t.journal.empty
    with pytest.raises(ConfigError):
        ClientSession(Document("z"), "d", max_frame_bytes=100)


def test_a_too_large_refusal_says_how_big_the_frame_was() -> None:
    net = Net()
    net.room.max_doc_len = len(BASE) + 3
    t = Typist("a")
    s = t.session()
    server = net.join(s)
    t.type(0, "too long")
    s.flush()
    [frame] = s.data_to_send()
    net.submit(server, frame)
    assert s.recovery is Recovery.SHRINK and s.refused_bytes == len(frame)
    assert not t.journal.empty  # kept: nothing was confirmed


@pytest.mark.parametrize(
    "code,fatal,batch,want",
    [
        (ErrorCode.BAD_OP, False, 3, Recovery.RESYNC),
        (ErrorCode.CONFLICT, False, 3, Recovery.RESYNC),
        (ErrorCode.UNKNOWN_PARENT, False, 3, Recovery.RESYNC),
        (ErrorCode.RATE_LIMITED, False, None, Recovery.RETRY),
        (ErrorCode.INTERNAL, False, 3, Recovery.RETRY),
        (ErrorCode.INTERNAL, True, None, Recovery.RETRY),
        (ErrorCode.TOO_LARGE, False, None, Recovery.SHRINK),
        (ErrorCode.TOO_LARGE, False, 3, Recovery.SHRINK),
        (ErrorCode.TOO_LARGE, True, None, Recovery.RETRY),  # cut off for reading too slowly
        (ErrorCode.TOO_LARGE, True, 3, Recovery.SHRINK),
        (ErrorCode.UNAUTHORIZED, True, None, Recovery.STOP),
        (ErrorCode.FORBIDDEN, True, None, Recovery.STOP),
        (ErrorCode.FORBIDDEN, False, 3, Recovery.STOP),
        (ErrorCode.NOT_FOUND, True, None, Recovery.STOP),
        (ErrorCode.BAD_STATE, True, None, Recovery.STOP),  # superseded
        (ErrorCode.BAD_STATE, False, None, Recovery.RETRY),
        (ErrorCode.BAD_FRAME, True, None, Recovery.STOP),
    ],
)
def test_what_each_refusal_means(code: ErrorCode, fatal: bool, batch: int | None, want: Recovery) -> None:
    assert recovery_for(Error(code, "x", fatal, batch)) is want


def test_a_rate_limited_session_ignores_what_follows() -> None:
    t = Typist("a")
    net = Net()
    s = t.session()
    net.join(s)
    t.type(0, "a")
    s.flush()
    s.data_to_send()
    from cowrite.protocol import encode_frame

    [ev] = s.receive(encode_frame(Error(ErrorCode.RATE_LIMITED, "slow down")))
    assert isinstance(ev, ServerError) and s.closed and s.recovery is Recovery.RETRY
    assert s.receive(encode_frame(Error(ErrorCode.UNKNOWN_PARENT, "its parent was dropped", False, 2))) == []
    assert s.recovery is Recovery.RETRY


def test_a_failed_digest_retypes_from_the_journal() -> None:
    """A RESYNC whose ops do not fit: the user's edits land where they were typed
    relative to the shared text, not at clamped positions."""
    from cowrite.engine import encode_document

    net = Net("hello world")
    net.room.clock = lambda: 1000.0  # type: ignore[method-assign]
    t = Typist("a")
    s = t.session()
    server = net.join(s)
    good = t.doc
    # the replica claims the seed typed other text (a corrupt op log), same version
    bad = Document.decode(encode_document(good.oplog, "hello WORLD", good.branch.version), "a")
    t.doc = bad
    s.doc = bad
    t.type(6, "big ")  # "hello big WORLD"
    view = bad.text
    resync = Resync(net.room.doc.version, net.room.doc.encode())
    from cowrite.protocol import encode_frame

    [ev] = s.receive(encode_frame(resync))
    assert isinstance(ev, Resynced)
    # its ops fit by id here (the text was wrong, not the log): kept, not retyped
    assert not ev.retyped and ev.doc.text == "hello big world" and _replay(view, ev.edits) == ev.doc.text
    for data in s.data_to_send():
        net.submit(server, data)
    assert net.room.doc.text == "hello big world"


def test_replica_journal_holds_what_the_server_may_lack() -> None:
    doc = Document("a")
    doc.insert(0, "hello")
    acked = doc.oplog.cg.next_seq("a")
    other = doc.fork("b")
    other.insert(5, " world")
    doc.merge(other)
    doc.insert(0, ">> ")
    doc.delete(3, 1)  # ">> ello world"
    j = replica_journal(doc, acked)
    assert j.base(doc.text) == "hello world"
    assert replica_journal(doc, doc.oplog.cg.next_seq("a")).empty
    # "hello" is under b's op: certainly on the server, whatever since_seq says
    assert replica_journal(doc, 0).base(doc.text) == "hello world"


def _letters(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def test_a_segment_the_server_took_part_of_is_typed_again_exactly_not_by_a_diff() -> None:
    """A flush too large for one batch, of which the server took the first and refused
    the second (conflict: a fresh JOIN), while another user changed more text than a
    diff aligns.  What our ops the server lacks did is typed again as the engine made it:
    a diff of the replica's text would replace the whole span between our edits, and
    rebased over the other user's changes (one replaced span too) it typed that span's
    text a second time."""
    mid = " ".join(f"w{i}" for i in range(40))
    net = Net(f"<{mid}>")
    t = Typist("a")
    s1 = t.session(max_frame_bytes=1024)
    server1 = net.join(s1)
    b = ClientSession(Document("b"), "d")
    server_b = net.join(b, "v")
    paste = _letters(3000, 1)
    t.type(1, paste)
    t.type(len(t.doc.text) - 1, "[tail]")
    view = t.doc.text
    s1.flush()
    frames = s1.data_to_send()
    assert len(frames) >= 4, "one flush, one segment, several batches"
    net.submit(server1, frames[0])
    second = decode_frame(frames[1])
    assert isinstance(second, Ops)
    from cowrite.protocol import encode_frame

    # the server refuses the second batch (a conflict in its store, say)
    s1.receive(encode_frame(Error(ErrorCode.CONFLICT, "refused", False, second.batch_id)))
    assert s1.recovery is Recovery.RESYNC
    held = net.room.doc.text
    assert len(f"<{mid}>") < len(held) < len(view), "the server holds part of the paste"
    net.deliver(net.room.leave(server1))
    # Meanwhile b inserts more than a diff aligns, inside the text between a's edits.
    b.doc.insert(b.doc.text.index(" w10 "), _letters(1100, 2))
    b.doc.insert(b.doc.text.index(" w30 "), _letters(1100, 3))
    net.pump(b, server_b)
    took = len(held) - len(mid) - 2  # the paste's characters the server took
    want = "<" + paste + b.doc.text[1 + took : -1] + "[tail]>"
    s2 = t.session(fresh=True, max_frame_bytes=1024)
    net.join(s2)
    assert s2.doc.text == net.room.doc.text == want
    assert net.room.doc.text.count(" w20 ") == 1, "nothing typed twice"
    assert b.doc.text == want and t.journal.empty
