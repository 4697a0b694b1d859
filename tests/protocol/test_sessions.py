"""Client and server sessions driven directly: joins, writes, refusals, ordering, presence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import Document, Op, codec as encoding
from cowrite.protocol import (
    Ack,
    Acked,
    ClientSession,
    Digest,
    Error,
    ErrorCode,
    Event,
    Ops,
    Ping,
    Pong,
    PongReceived,
    Presence,
    PresenceChanged,
    ProtocolFailure,
    RemoteChange,
    RemoteOps,
    Resync,
    Resynced,
    Role,
    Room,
    Send,
    ServerError,
    ServerSession,
    Welcome,
    Welcomed,
    decode_frame,
    encode_frame,
    parse_join,
    text_digest,
)


class Harness:
    """A room, a store (list of persisted patches) and synchronous delivery."""

    def __init__(self, text: str = "") -> None:
        seed = Document("seed")
        if text:
            seed.insert(0, text)
        self.room = Room("d", seed.copy())
        self.store: list[bytes] = [seed.encode_patch()] if text else []
        self.log: list[str] = []  # what happened, in order
        self.events: dict[str, list[Event]] = {}

    def connect(self, doc: Document, *, user: str | None = None, role: Role = Role.EDITOR, read_only: bool = False) -> tuple[ClientSession, ServerSession]:
        client = ClientSession(doc, "d", user=user or doc.agent, colour="#abc", read_only=read_only)
        frames = client.data_to_send()
        session, sends = self.room.join(parse_join(frames[0]), user=user or doc.agent, role=role)
        session.tag = client
        self.events.setdefault(doc.agent, [])
        self.deliver(sends)
        return client, session

    def send(self, client: ClientSession, session: ServerSession) -> None:
        """Deliver everything the client has queued, and all the replies, to quiescence."""
        for data in client.data_to_send():
            self.submit(session, data)

    def submit(self, session: ServerSession, data: bytes) -> None:
        pending = self.room.submit(session, data)
        if pending.to_persist:
            self.store.append(pending.patch)
            self.log.append("persist")
        self.deliver(pending.commit())

    def deliver(self, sends: list[Send]) -> None:
        for s in sends:
            client = s.session.tag
            assert isinstance(client, ClientSession)
            msg = decode_frame(s.data)
            self.log.append(f"{type(msg).__name__}->{client.doc.agent}")
            self.events[client.doc.agent] += client.receive(s.data)
            for data in client.data_to_send():
                self.submit(s.session, data)

    def stored_doc(self) -> Document:
        d = Document("check")
        for p in self.store:
            d.apply_patch(p)
        return d


def test_join_welcome_edit_ack_broadcast() -> None:
    h = Harness("hello")
    a, b = Document("a"), Document("b")
    ca, sa = h.connect(a)
    cb, sb = h.connect(b)
    assert a.text == b.text == "hello"
    assert isinstance(h.events["a"][0], Welcomed) and h.events["a"][0].role is Role.EDITOR
    a.insert(5, " world")
    assert ca.flush() == 1 and ca.unacked
    h.send(ca, sa)
    assert not ca.unacked
    assert b.text == "hello world" == h.room.doc.text == h.stored_doc().text
    assert [type(e) for e in h.events["a"]][-1] is Acked
    assert isinstance(h.events["b"][-1], RemoteChange)
    assert h.events["b"][-1].edits == [(0, 5, " world")]
    assert ca.flush() == 0  # nothing new


def test_persist_comes_before_ack_and_broadcast() -> None:
    h = Harness()
    a, b = Document("a"), Document("b")
    ca, sa = h.connect(a)
    cb, sb = h.connect(b)
    a.insert(0, "x")
    ca.flush()
    [frame] = ca.data_to_send()
    pending = h.room.submit(sa, frame)
    # Nothing can be sent yet: the frames only exist once commit() is called.
    assert [op.agent for op in pending.to_persist] == ["a"]
    assert encoding.decode_patch(pending.patch) == pending.to_persist
    assert pending.version == h.room.doc.version
    with pytest.raises(RuntimeError):
        h.room.submit(sb, encode_frame(Ping(1)))  # one step at a time
    with pytest.raises(RuntimeError):
        h.room.join(parse_join(ClientSession(Document("c"), "d").data_to_send()[0]), user="c", role=Role.EDITOR)
    sends = pending.commit()
    kinds = [(type(decode_frame(s.data)).__name__, s.session.agent) for s in sends]
    assert kinds == [("Ack", "a"), ("RemoteOps", "b")]
    with pytest.raises(RuntimeError):
        pending.commit()
    # With the harness: persist is logged before the ACK and the REMOTE_OPS.
    h2 = Harness()
    a2, b2 = Document("a"), Document("b")
    ca2, sa2 = h2.connect(a2)
    h2.connect(b2)
    h2.log.clear()
    a2.insert(0, "y")
    ca2.flush()
    h2.send(ca2, sa2)
    assert h2.log == ["persist", "Ack->a", "RemoteOps->b"]


def test_abort_fails_the_room_and_acks_nothing() -> None:
    h = Harness()
    a, b = Document("a"), Document("b")
    ca, sa = h.connect(a)
    cb, sb = h.connect(b)
    a.insert(0, "x")
    ca.flush()
    pending = h.room.submit(sa, ca.data_to_send()[0])
    sends = pending.abort("disk full")
    assert {s.session.agent for s in sends} == {"a", "b"} and all(s.close for s in sends)
    for s in sends:
        msg = decode_frame(s.data)
        assert isinstance(msg, Error) and msg.code is ErrorCode.INTERNAL and msg.fatal
    assert h.room.failed and not h.room.sessions
    with pytest.raises(RuntimeError):
        h.room.submit(sa, encode_frame(Ping()))
    assert ca.unacked  # still unacknowledged: the next session resends it


def test_viewer_cannot_write_and_doc_is_unchanged() -> None:
    h = Harness("abc")
    v = Document("v")
    cv, sv = h.connect(v, role=Role.VIEWER)
    assert cv.role is Role.VIEWER and v.text == "abc"
    v.insert(0, "zzz")
    assert cv.flush() == 0  # a viewer client keeps its edits local
    # A hostile viewer sends OPS anyway.
    before = (h.room.doc.summary(), h.room.doc.text, len(h.store))
    h.submit(sv, encode_frame(Ops(1, encoding.encode_patch(v.ops_since(())[-1:]))))
    err = h.events["v"][-1]
    assert isinstance(err, ServerError) and err.error.code is ErrorCode.FORBIDDEN and not err.error.fatal
    assert err.error.batch_id == 1
    assert (h.room.doc.summary(), h.room.doc.text, len(h.store)) == before
    assert sv in h.room.sessions  # connection kept


def test_read_only_wish_makes_a_viewer() -> None:
    h = Harness()
    c, s = h.connect(Document("r"), read_only=True)
    assert c.role is Role.VIEWER and s.role is Role.VIEWER


def test_forged_agent_is_rejected_and_doc_unchanged() -> None:
    h = Harness("abc")
    a, m = Document("alice"), Document("mallory")
    ca, sa = h.connect(a)
    cm, sm = h.connect(m)
    forged = Op.insert("alice", 0, h.room.doc.version, 0, "EVIL")
    before = (h.room.doc.summary(), h.room.doc.text, len(h.store))
    h.submit(sm, encode_frame(Ops(9, encoding.encode_patch([forged]))))
    err = h.events["mallory"][-1]
    assert isinstance(err, ServerError) and err.error.code is ErrorCode.FORBIDDEN and err.error.batch_id == 9
    assert (h.room.doc.summary(), h.room.doc.text, len(h.store)) == before
    assert a.text == "abc" and len(h.events["alice"]) == 1  # alice saw nothing but her WELCOME
    # A batch mixing own and forged ops is refused as a whole.
    m.insert(0, "ok")
    mixed = m.ops_since(()) + [forged]
    h.submit(sm, encode_frame(Ops(10, encoding.encode_patch(mixed))))
    assert isinstance(h.events["mallory"][-1], ServerError)
    assert (h.room.doc.summary(), h.room.doc.text, len(h.store)) == before


def test_agent_belongs_to_its_first_user_and_reconnect_supersedes() -> None:
    h = Harness()
    a = Document("shared")
    ca, sa = h.connect(a, user="alice")
    # Another user may not join with alice's agent.
    cm, sm = h.connect(Document("shared"), user="mallory")
    assert sm.closed and sm not in h.room.sessions
    assert isinstance(h.events["shared"][-1], ServerError)
    assert cm.closed
    # The same user reconnecting replaces the old connection.
    ca2, sa2 = h.connect(a, user="alice")
    assert sa.closed and not sa.joined and h.room.sessions == [sa2]
    assert ca2.welcomed


def test_bad_batches_get_errors_and_change_nothing() -> None:
    h = Harness("abc")
    a = Document("a")
    ca, sa = h.connect(a)
    before = (h.room.doc.summary(), h.room.doc.text, len(h.store))

    def refused(frame: bytes) -> ErrorCode:
        # The server's answer itself (a client session ends at its first ERROR).
        pending = h.room.submit(sa, frame)
        assert not pending.to_persist
        [send] = pending.commit()
        err = decode_frame(send.data)
        assert isinstance(err, Error) and not err.fatal and send.session is sa
        assert (h.room.doc.summary(), h.room.doc.text, len(h.store)) == before
        assert sa in h.room.sessions
        return err.code

    assert refused(encode_frame(Ops(1, b"not a patch"))) is ErrorCode.BAD_OP
    assert refused(encode_frame(Ops(2, encoding.encode_patch([Op.insert("a", 0, (("ghost", 3),), 0, "x")])))) is ErrorCode.UNKNOWN_PARENT
    assert refused(encode_frame(Ops(3, encoding.encode_patch([Op.insert("a", 0, h.room.doc.version, 99, "x")])))) is ErrorCode.BAD_OP
    assert refused(b"\x01\x03garbage") is ErrorCode.BAD_FRAME
    assert refused(encode_frame(Ack(1, ()))) is ErrorCode.BAD_STATE
    # A conflicting op: same id, other content, after a good one is in.
    a.insert(0, "x")
    ca.flush()
    h.send(ca, sa)
    assert isinstance(h.events["a"][-1], Acked)
    good = a.ops_since(())[-1]
    before = (h.room.doc.summary(), h.room.doc.text, len(h.store))
    assert refused(encode_frame(Ops(5, encoding.encode_patch([Op.insert("a", 0, good.parents, 0, "y")])))) is ErrorCode.CONFLICT
    # An unknown protocol version is fatal.
    h.submit(sa, b"\x07\x01")
    assert sa.closed and sa not in h.room.sessions


def test_document_size_limit() -> None:
    h = Harness("abc")
    h.room.max_doc_len = 5
    a = Document("a")
    ca, sa = h.connect(a)
    a.insert(0, "too long")
    ca.flush()
    h.send(ca, sa)
    ev = h.events["a"][-1]
    assert isinstance(ev, ServerError) and ev.error.code is ErrorCode.TOO_LARGE
    assert h.room.doc.text == "abc"


def test_resent_ops_are_acked_but_not_persisted_or_broadcast_again() -> None:
    h = Harness()
    a, b = Document("a"), Document("b")
    ca, sa = h.connect(a)
    h.connect(b)
    a.insert(0, "x")
    ca.flush()
    [frame] = ca.data_to_send()
    h.submit(sa, frame)
    n_store, n_b = len(h.store), len(h.events["b"])
    h.submit(sa, frame)  # a duplicate (e.g. a retry); the client does not expect this ACK
    assert len(h.store) == n_store and len(h.events["b"]) == n_b
    assert isinstance(h.events["a"][-1], ProtocolFailure)  # ACK for a batch it no longer waits for


def test_offline_edits_both_sides_merge_on_reconnect() -> None:
    h = Harness("base")
    a, b = Document("a"), Document("b")
    ca, sa = h.connect(a)
    cb, sb = h.connect(b)
    # a goes offline with an edit in flight (sent, never acked); both sides keep editing.
    a.insert(4, "!")
    ca.flush()
    ca.data_to_send()  # lost in the network
    h.deliver(h.room.leave(sa))
    a.insert(0, "A:")
    b.insert(0, "B:")
    cb.flush()
    h.send(cb, sb)
    assert "B:" in h.room.doc.text and "A:" not in h.room.doc.text
    n = len(h.events["a"])
    ca2, sa2 = h.connect(a)  # a new session over the same document
    # The offline ops (including the lost batch) went out right after WELCOME and were acked.
    assert [type(e) for e in h.events["a"][n:]] == [Welcomed, Acked]
    assert not ca2.unacked
    assert a.text == b.text == h.room.doc.text == h.stored_doc().text
    assert "A:" in a.text and "B:" in a.text and "!" in a.text


def test_presence_is_relayed_with_the_servers_identity_and_cleared_on_leave() -> None:
    h = Harness("hello")
    a, b = Document("a"), Document("b")
    ca, sa = h.connect(a, user="Ada")
    cb, sb = h.connect(b, user="Bob")
    ca.set_cursor(a.position(1), a.position(3))
    h.send(ca, sa)
    ev = h.events["b"][-1]
    assert isinstance(ev, PresenceChanged)
    assert ev.presence.agent == "a" and ev.presence.user == "Ada" and ev.presence.colour == "#abc"
    assert ev.presence.cursor is not None and b.resolve(ev.presence.cursor[1]) == 3
    # A spoofed presence is re-labelled with the connection's own identity.
    h.submit(sb, encode_frame(Presence("a", "Ada", "#000", None)))
    ev = h.events["a"][-1]
    assert isinstance(ev, PresenceChanged) and ev.presence.agent == "b" and ev.presence.user == "Bob"
    # Presence is not document state.
    assert h.room.doc.text == "hello" and not h.store[1:]
    # A newcomer receives the current presence after WELCOME.
    c = Document("c")
    cc, sc = h.connect(c)
    assert [type(e) for e in h.events["c"]] == [Welcomed, PresenceChanged, PresenceChanged]
    assert set(cc.presence) == {"a", "b"}
    # Leaving clears it for the others.
    h.deliver(h.room.leave(sa))
    ev = h.events["c"][-1]
    assert isinstance(ev, PresenceChanged) and ev.presence.gone and ev.presence.agent == "a"
    assert set(cc.presence) == {"b"}


def test_ping_pong() -> None:
    h = Harness()
    c, s = h.connect(Document("a"))
    c.ping(42)
    h.send(c, s)
    assert h.events["a"][-1] == PongReceived(42)
    assert c.receive(encode_frame(Ping(7))) == []
    assert c.data_to_send() == [encode_frame(Pong(7))]


def test_client_rejects_nonsense_from_the_server() -> None:
    c = ClientSession(Document("a"), "d")
    assert isinstance(c.receive(encode_frame(RemoteOps(b""))), list)
    assert c.closed  # REMOTE_OPS before WELCOME
    c = ClientSession(Document("a"), "d")
    [ev] = c.receive(encode_frame(Welcome(Role.EDITOR, (), {}, b"bad patch")))
    assert isinstance(ev, ProtocolFailure) and c.closed
    c = ClientSession(Document("a"), "d")
    [ev] = c.receive(b"\x01\xff")
    assert isinstance(ev, ProtocolFailure)
    c = ClientSession(Document("a"), "d")
    [ev] = c.receive(encode_frame(Error(ErrorCode.UNAUTHORIZED, "no token", fatal=True)))
    assert isinstance(ev, ServerError) and c.closed


@given(st.lists(st.binary(max_size=80), max_size=8))
def test_fuzz_sessions_never_raise(frames: list[bytes]) -> None:
    h = Harness("abc")
    a = Document("a")
    ca, sa = h.connect(a)
    ca2 = ClientSession(Document("z"), "d")
    for f in frames:
        if not sa.joined:
            break
        h.room.submit(sa, f).commit()
        ca.receive(f)
        ca2.receive(f)
    assert h.room.doc.text == "abc"


@given(st.binary(max_size=80))
def test_fuzz_join_never_raises(data: bytes) -> None:
    room = Room("d", Document("s"))
    session, sends = room.join(data, user="u", role=Role.EDITOR)
    assert sends
    if not session.joined:
        assert session.closed and sends[-1].close


# -- divergence detection: DIGEST / RESYNC ---------------------------------------------


def _corrupted(good: Document, text: str, agent: str) -> Document:
    """A replica with ``good``'s op log and version but another text of the same length
    (what a merge bug would leave behind); built from document bytes, not a backdoor."""
    from cowrite.engine import encode_document

    doc = Document.decode(encode_document(good.oplog, text, good.branch.version), agent)
    assert doc.version == good.version and doc.text == text != good.text
    return doc


def _replay(text: str, edits: list) -> str:
    for kind, pos, arg in edits:
        text = text[:pos] + arg + text[pos:] if kind == 0 else text[:pos] + text[pos + arg :]
    return text


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_matching_digest_gets_no_answer() -> None:
    h = Harness("hello 🌍 world")
    h.room.clock = clock = _Clock()
    a = Document("a")
    ca, sa = h.connect(a)
    assert ca.in_sync and ca.send_digest()
    [frame] = ca.data_to_send()
    msg = decode_frame(frame)
    assert isinstance(msg, Digest) and msg.version == a.version and msg.digest == text_digest("hello 🌍 world")
    pending = h.room.submit(sa, frame)
    assert pending.divergence is None and pending.commit() == []
    # After an edit is acknowledged the client is at a server version again.
    a.insert(0, ">")
    ca.flush()
    assert not ca.in_sync and not ca.send_digest()  # a batch in flight
    h.send(ca, sa)
    assert ca.in_sync
    clock.now += 5
    ca.send_digest()
    [frame] = ca.data_to_send()
    pending = h.room.submit(sa, frame)
    assert pending.divergence is None and pending.commit() == []
    assert sa.last_digest == clock.now  # it was checked (not rate limited)


def test_in_sync_only_when_the_server_has_every_op() -> None:
    h = Harness("abc")
    a, b = Document("a"), Document("b")
    ca = ClientSession(a, "d")
    assert not ca.in_sync and not ca.send_digest()  # not joined
    ca, sa = h.connect(a)
    cb, sb = h.connect(b)
    assert ca.in_sync
    a.insert(0, "x")  # typed, not flushed
    assert not ca.in_sync
    ca.flush()
    assert not ca.in_sync  # in flight
    h.send(ca, sa)
    assert ca.in_sync
    b.insert(0, "y")
    cb.flush()
    h.send(cb, sb)  # remote ops move a's version without any op of its own
    assert a.text == "yxabc" and ca.in_sync
    v = Document("v")
    cv, sv = h.connect(v, role=Role.VIEWER)
    assert cv.in_sync
    v.insert(0, "local")
    cv.flush()
    assert not cv.in_sync  # a viewer's edits stay local for good
    # Ops of another agent the server lacks also keep a replica off the server's versions.
    c = Document("c")
    stranger = Document("stranger")
    stranger.insert(0, "?")
    c.merge(stranger)
    cc, sc = h.connect(c)
    assert cc.unsendable and not cc.in_sync


def test_corrupted_text_is_resynced_and_unacked_edits_survive() -> None:
    h = Harness("hello world")
    h.room.clock = _Clock()
    b = Document("b")
    cb, sb = h.connect(b)
    bad = _corrupted(h.room.doc, "jello world", "a")
    ca, sa = h.connect(bad)
    assert bad.text == "jello world" and ca.in_sync
    assert ca.send_digest()
    [digest] = ca.data_to_send()
    pending = h.room.submit(sa, digest)
    d = pending.divergence
    assert d is not None and (d.doc_id, d.agent, d.user) == ("d", "a", "a")
    assert d.version == bad.version == d.server_version
    resync = pending.commit()
    assert len(resync) == 1 and resync[0].session is sa
    msg = decode_frame(resync[0].data)
    assert isinstance(msg, Resync) and msg.version == h.room.doc.version
    # Before the RESYNC arrives the user types: one batch goes out, one edit is not sent yet.
    bad.insert(11, "!")
    ca.flush()
    [batch] = ca.data_to_send()
    bad.insert(0, ">")
    pending = h.room.submit(sa, batch)  # the server takes the batch after answering the digest
    h.store.append(pending.patch)
    later = pending.commit()
    old_text = bad.text
    assert old_text == ">jello world!"
    n = len(h.events["a"])
    # Each connection gets its frames in the server's order: b the batch's REMOTE_OPS,
    # a the RESYNC and then the batch's ACK.
    h.deliver([s for s in later if s.session is sb])
    h.deliver(resync + [s for s in later if s.session is sa])
    events = h.events["a"][n:]
    assert isinstance(events[0], Resynced)
    ev = events[0]
    assert ev.doc is ca.doc and ca.doc is not bad and ca.doc.agent == "a" and not ev.retyped
    assert ev.version == msg.version
    assert _replay(old_text, ev.edits) == ca.doc.text == ">hello world!"
    assert ev.edits == [(1, 1, 1), (0, 1, "h")]  # minimal: only the wrong character
    assert ca.resyncs == 1
    # Every keystroke reached the server, and everyone agrees.
    assert not ca.unacked and ca.in_sync
    assert ca.doc.text == h.room.doc.text == b.text == h.stored_doc().text == ">hello world!"
    # Now the texts match: the next digest (after the interval) gets no answer.
    h.room.clock.now += 5  # type: ignore[attr-defined]
    assert ca.send_digest()
    [digest] = ca.data_to_send()
    pending = h.room.submit(sa, digest)
    assert pending.divergence is None and pending.commit() == []


def test_digests_are_rate_limited_and_unknown_versions_ignored() -> None:
    h = Harness("hello")
    h.room.clock = clock = _Clock()
    a = Document("a")
    ca, sa = h.connect(a)
    wrong = encode_frame(Digest(a.version, text_digest("HELLO")))

    def answer(frame: bytes) -> list[Send]:
        return h.room.submit(sa, frame).commit()

    # Unknown versions are ignored and do not use up the connection's allowance.
    assert answer(encode_frame(Digest((("ghost", 3),), text_digest("x")))) == []
    assert answer(encode_frame(Digest(a.version + (("ghost", 0),), text_digest("x")))) == []
    assert sa.last_digest is None
    assert len(answer(wrong)) == 1  # checked: RESYNC
    clock.now += 4.9
    assert answer(wrong) == []  # too soon: ignored, no error
    clock.now += 0.1
    assert len(answer(wrong)) == 1
    assert sa in h.room.sessions and not sa.closed


def test_digest_of_an_older_version_is_checked_against_that_version() -> None:
    h = Harness("hello")
    h.room.clock = clock = _Clock()
    old_version, old_text = h.room.doc.version, h.room.doc.text
    a, b = Document("a"), Document("b")
    ca, sa = h.connect(a)
    cb, sb = h.connect(b)
    b.insert(5, " world")
    cb.flush()
    h.send(cb, sb)
    assert h.room.doc.version != old_version
    pending = h.room.submit(sa, encode_frame(Digest(old_version, text_digest(old_text))))
    assert pending.divergence is None and pending.commit() == []
    clock.now += 10
    pending = h.room.submit(sa, encode_frame(Digest(old_version, text_digest("hellO"))))
    assert pending.divergence is not None and pending.divergence.version == old_version
    [send] = pending.commit()
    msg = decode_frame(send.data)
    assert isinstance(msg, Resync) and msg.version == h.room.doc.version  # the whole current document
    assert Document.decode(msg.document).text == "hello world"


def test_resync_retypes_own_ops_that_do_not_fit_the_servers_history() -> None:
    # The server's seed typed "he" and deleted it; this replica's log claims those
    # ids typed "hell" (a corrupt op log).  Its own edit at 4 cannot be placed on
    # the server's empty text, so it is typed again (clamped) with a fresh seq.
    h = Harness()
    seed = Document("seed")
    seed.insert(0, "he")
    seed.delete(0, 2)
    h.room.doc.merge(seed)
    h.room.clock = _Clock()
    bad = Document("a")
    bad.add_ops([Op.insert("seed", 0, (), 0, "hell")])
    ca, sa = h.connect(bad)
    assert bad.version == h.room.doc.version and ca.in_sync
    ca.send_digest()
    [digest] = ca.data_to_send()
    pending = h.room.submit(sa, digest)
    resync = pending.commit()
    bad.insert(4, "X")
    ca.flush()
    [batch] = ca.data_to_send()
    refused = h.room.submit(sa, batch).commit()  # bad_op: position 4 in an empty text
    n = len(h.events["a"])
    h.deliver(resync + refused)
    events = h.events["a"][n:]
    assert isinstance(events[0], Resynced) and events[0].retyped
    # The refusal of the batch sent before the RESYNC is expected: its edit was typed
    # again, so the session goes on.
    assert not any(isinstance(e, ServerError) for e in events) and not ca.closed
    assert ca.doc.text == h.room.doc.text == "X"
    assert ca.doc.summary()["a"] == [(1, 2)]  # seq 0 was the refused op: never reused


def test_client_rejects_a_resync_that_does_not_match_its_version() -> None:
    h = Harness("abc")
    a = Document("a")
    ca, sa = h.connect(a)
    other = Document("o")
    other.insert(0, "zzz")
    [ev] = ca.receive(encode_frame(Resync(h.room.doc.version, other.encode())))
    assert isinstance(ev, ProtocolFailure) and ca.closed
    ca2, _ = h.connect(Document("a2"))
    [ev] = ca2.receive(encode_frame(Resync(h.room.doc.version, b"not a document")))
    assert isinstance(ev, ProtocolFailure)
    c = ClientSession(Document("c"), "d")
    [ev] = c.receive(encode_frame(Resync((), Document("x").encode())))
    assert isinstance(ev, ProtocolFailure)  # before WELCOME
