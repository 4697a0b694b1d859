"""Clients and a room over an in-memory network: random delivery, disconnects, crashes.

Each connection is two FIFO queues (WebSocket is ordered); the scheduler picks at
random which queue delivers next, so frames of different connections interleave
arbitrarily and a client edits while its frames are in flight.  Disconnects drop
whatever is in flight; clients keep editing offline and reconnect with a new
``ClientSession`` over the same document.  The server "crashes" too: its room is
rebuilt from what the store persisted, and every connection drops.

Checked throughout: an ACKed batch and every op a client receives is already
durable (persist before ack/broadcast); a client that says it is in sync (and
would send a DIGEST) holds only durable ops, and no DIGEST ever mismatches.  Checked at the end: every replica and the
store converge on the same ops and text, and no op any client typed is lost.

``COWRITE_SIM_SEEDS`` sets how many seeds run (default 10).
"""

from __future__ import annotations

import os
import random
from collections import deque
from dataclasses import dataclass, field

import pytest

from cowrite.engine import Document
from cowrite.protocol import (
    Acked,
    ClientSession,
    Event,
    ProtocolFailure,
    RemoteChange,
    Resynced,
    Role,
    Room,
    Send,
    ServerError,
    ServerSession,
    Welcomed,
    parse_join,
)

SEEDS = int(os.environ.get("COWRITE_SIM_SEEDS", "10"))
DOC_ID = "sim-doc"


def covered(a: dict[str, list[tuple[int, int]]], b: dict[str, list[tuple[int, int]]]) -> bool:
    """Every op id of summary ``a`` is in summary ``b``."""
    for agent, runs in a.items():
        have = b.get(agent, [])
        for s, e in runs:
            if not any(hs <= s and e <= he for hs, he in have):
                return False
    return True


@dataclass(eq=False)
class Conn:
    client: ClientSession
    up: deque[bytes] = field(default_factory=deque)
    down: deque[bytes] = field(default_factory=deque)
    server: ServerSession | None = None
    closing: bool = False  # the server closes it once ``down`` is delivered


class Sim:
    def __init__(self, seed: int, n_clients: int) -> None:
        self.rng = random.Random(seed)
        self.durable = Document("store")  # what the store holds
        self.owners: dict[str, str] = {}  # persisted agent ownership
        self.room = self._load_room()
        self.docs = [Document(f"c{i}") for i in range(n_clients)]
        self.conns: list[Conn | None] = [None] * n_clients
        self.persists = 0
        self.acks = 0
        self.crashes = 0
        self.digests = 0

    def _load_room(self) -> Room:
        return Room(DOC_ID, self.durable.copy(), agent_owners=self.owners, digest_interval=0)

    # -- network ---------------------------------------------------------------------

    def connect(self, i: int) -> None:
        assert self.conns[i] is None
        client = ClientSession(self.docs[i], DOC_ID, user=f"user{i}", colour="#123456")
        conn = Conn(client)
        conn.up.extend(client.data_to_send())
        self.conns[i] = conn

    def disconnect(self, i: int) -> None:
        conn = self.conns[i]
        assert conn is not None
        self.conns[i] = None
        if conn.server is not None:
            self.route(self.room.leave(conn.server))

    def route(self, sends: list[Send]) -> None:
        for s in sends:
            conn = s.session.tag
            assert isinstance(conn, Conn)
            if any(c is conn for c in self.conns):  # not already dropped
                conn.down.append(s.data)
                if s.close:
                    conn.closing = True

    def deliver_up(self, i: int) -> None:
        conn = self.conns[i]
        assert conn is not None and conn.up
        data = conn.up.popleft()
        if conn.closing:
            return
        if conn.server is None:
            session, sends = self.room.join(parse_join(data), user=f"user{i}", role=Role.EDITOR)
            session.tag = conn
            conn.server = session
            self.route(sends)
            return
        pending = self.room.submit(conn.server, data)
        assert pending.error is None, pending.error
        assert pending.divergence is None, pending.divergence
        if pending.to_persist:
            self.durable.apply_patch(pending.patch)  # "fsync"
            self.persists += 1
            if self.rng.random() < 0.02:  # crash after persisting, before any ACK went out
                self.crash()
                return
        self.route(pending.commit())

    def deliver_down(self, i: int) -> None:
        conn = self.conns[i]
        assert conn is not None and conn.down
        client = conn.client
        in_flight = dict(client.unacked)
        events = client.receive(conn.down.popleft())
        self.check_events(client, in_flight, events)
        conn.up.extend(client.data_to_send())
        if conn.closing and not conn.down:
            self.disconnect(i)

    def check_events(self, client: ClientSession, in_flight: dict[int, tuple[int, int]], events: list[Event]) -> None:
        durable = self.durable.summary()
        me = client.doc.agent
        for ev in events:
            assert not isinstance(ev, (ProtocolFailure, ServerError, Resynced)), ev
            if isinstance(ev, Acked):
                self.acks += 1
                first, end = in_flight[ev.batch_id]
                assert covered({me: [(first, end)]}, durable), "ACK before the batch was durable"
            if isinstance(ev, (RemoteChange, Welcomed)):
                others = {a: r for a, r in client.doc.summary().items() if a != me}
                assert covered(others, durable), "a client saw ops that are not durable"

    def crash(self) -> None:
        self.crashes += 1
        self.conns = [None] * len(self.conns)  # every connection drops, frames in flight lost
        self.room = self._load_room()

    # -- actors ------------------------------------------------------------------------

    def edit(self, i: int) -> None:
        doc, rng = self.docs[i], self.rng
        n = len(doc)
        if n and rng.random() < 0.35:
            pos = rng.randrange(n)
            doc.delete(pos, rng.randint(1, min(4, n - pos)))
        else:
            text = "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 4)))
            doc.insert(rng.randint(0, n), text if i % 2 else text.upper())

    def step(self) -> None:
        rng = self.rng
        n = len(self.docs)
        i = rng.randrange(n)
        conn = self.conns[i]
        r = rng.random()
        if r < 0.30:
            self.edit(i)
            if conn is not None and rng.random() < 0.7:
                conn.client.flush()
                conn.up.extend(conn.client.data_to_send())
        elif r < 0.50:
            if conn is not None and conn.up:
                self.deliver_up(i)
        elif r < 0.75:
            if conn is not None and conn.down:
                self.deliver_down(i)
        elif r < 0.78:
            if conn is not None:
                self.disconnect(i)
        elif r < 0.88:
            if conn is None:
                self.connect(i)
        elif r < 0.90:
            if conn is not None and conn.client.in_sync:
                assert covered(self.docs[i].summary(), self.durable.summary()), "in sync with ops not durable"
                assert conn.client.send_digest()
                conn.up.extend(conn.client.data_to_send())
                self.digests += 1
        elif r < 0.93:
            if conn is not None and conn.client.welcomed:
                doc = self.docs[i]
                conn.client.set_cursor(doc.position(rng.randint(0, len(doc))))
                conn.up.extend(conn.client.data_to_send())
        elif r < 0.932:
            self.crash()

    def settle(self) -> None:
        for _ in range(100_000):
            for i, c in enumerate(self.conns):  # (a crash may strike while settling too)
                if c is None:
                    self.connect(i)
            for i, c in enumerate(self.conns):
                if c is not None and c.client.welcomed:
                    c.client.flush()
                    c.up.extend(c.client.data_to_send())
            busy = [i for i, c in enumerate(self.conns) if c is not None and (c.up or c.down)]
            if not busy:
                return
            i = self.rng.choice(busy)
            c = self.conns[i]
            assert c is not None
            if c.up and (not c.down or self.rng.random() < 0.5):
                self.deliver_up(i)
            else:
                self.deliver_down(i)
        raise AssertionError("the network never went quiet")


@pytest.mark.parametrize("seed", range(SEEDS))
def test_simulation_converges_and_loses_nothing(seed: int) -> None:
    sim = Sim(seed, n_clients=3 + seed % 3)
    for _ in range(400):
        sim.step()
    typed = [doc.summary() for doc in sim.docs]  # every op ever made, by every client
    sim.settle()
    room = sim.room.doc
    assert all(c is not None and c.client.welcomed and not c.client.unacked for c in sim.conns)
    for i, doc in enumerate(sim.docs):
        assert covered(typed[i], room.summary()), f"ops of client {i} were lost"
        assert doc.summary() == room.summary()
        assert doc.text == room.text
    assert sim.durable.summary() == room.summary()  # everything in the room is persisted
    assert sim.durable.text == room.text
    assert sim.persists > 0 and sim.acks > 0
    for c in sim.conns:  # settled: everyone is at a server version with the server's text
        assert c is not None and c.client.in_sync and c.client.send_digest()
        sim.route(sim.room.submit(c.server, c.client.data_to_send()[0]).commit())  # type: ignore[arg-type]
        assert not c.down  # no RESYNC


def test_simulation_exercises_crashes_and_offline_edits() -> None:
    """The random mix does reach the interesting cases (so the seeds above mean something)."""
    crashes = digests = 0
    for seed in range(SEEDS):
        sim = Sim(1000 + seed, 4)
        for _ in range(400):
            sim.step()
        crashes += sim.crashes
        digests += sim.digests
        sim.settle()
    assert crashes > 0 and digests > 0
