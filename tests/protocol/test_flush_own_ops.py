"""``ClientSession.flush`` finds our unsent ops by their seqs; it must send exactly the
ops of ours that are not in the history of the last flushed version (the others' ops
merged meanwhile are not ours to send), in causal order, whatever was merged in between."""

from __future__ import annotations

import random

import pytest

from cowrite.engine import Document, Op, decode_patch
from cowrite.protocol import Ops, Role, decode_frame
from cowrite.protocol.client import ClientSession
from cowrite.protocol.server import Room


def _own_since_flush(session: ClientSession) -> list[Op]:
    """What the last flush left to send, by the definition: ours, not in its version's history."""
    doc = session.doc
    assert session._flushed is not None
    return [op for op in doc.ops_since(session._flushed) if op.agent == doc.agent]


def _sent_ops(frames: list[bytes]) -> list[Op]:
    out: list[Op] = []
    for f in frames:
        msg = decode_frame(f)
        assert isinstance(msg, Ops)
        out += decode_patch(msg.patch)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_flush_sends_exactly_our_ops_since_the_last_flush(seed: int) -> None:
    rng = random.Random(seed)
    room = Room("d", Document("server"))
    clients: list[ClientSession] = []
    for i in range(3):
        s = ClientSession(Document(f"a{i}"), "d", user=f"u{i}", max_batch_ops=rng.choice([1, 3, 512]))
        [join] = s.data_to_send()
        session, sends = room.join(join, user=f"u{i}", role=Role.EDITOR)
        session.tag = s
        for send in sends:
            s.receive(send.data)
        clients.append(s)
    inbox: list[tuple[ClientSession, bytes]] = []  # frames to clients, delivered late and out of step
    for _ in range(300):
        c = rng.choice(clients)
        action = rng.random()
        if action < 0.45:
            doc = c.doc
            if len(doc) and rng.random() < 0.3:
                pos = rng.randrange(len(doc))
                doc.delete(pos, min(rng.randint(1, 3), len(doc) - pos))
            else:
                doc.insert(rng.randint(0, len(doc)), rng.choice(["x", "yz", "héllo"]))
        elif action < 0.7:
            expected = _own_since_flush(c)
            c.flush()
            frames = c.data_to_send()
            assert _sent_ops(frames) == expected
            for f in frames:
                session = next(s for s in room.sessions if s.tag is c)
                pending = room.submit(session, f)
                inbox += [(send.session.tag, send.data) for send in pending.commit()]
        elif inbox:
            target = inbox[rng.randrange(len(inbox))][0]  # some connection, late and out of step...
            first = next(i for i, (t, _) in enumerate(inbox) if t is target)  # ...its frames in order
            target, data = inbox.pop(first)
            target.receive(data)
            assert not target.closed
    for c in clients:
        expected = _own_since_flush(c)
        c.flush()
        assert _sent_ops(c.data_to_send()) == expected
