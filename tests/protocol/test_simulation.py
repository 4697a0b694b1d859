"""Clients and a room over an in-memory network: random delivery, disconnects, crashes, refusals.

Each connection is two FIFO queues (WebSocket is ordered); the scheduler picks at
random which queue delivers next, so frames of different connections interleave
arbitrarily and a client edits while its frames are in flight.  Disconnects drop
whatever is in flight; clients keep editing offline and reconnect with a new
``ClientSession`` over the same document.  The server "crashes" too: its room is
rebuilt from what the store persisted, and every connection drops.

The server also refuses batches at random, with every code a real one sends:
``bad_op``/``conflict``/``unknown_parent`` (the batch is not applied), ``internal``
and ``too_large`` with or without the batch id, ``rate_limited`` (the frame
dropped), and now and then ``forbidden``/``unauthorized`` (fatal).  Each client
does what :func:`~cowrite.protocol.recovery_for` says, as the asyncio client does:
reconnect, with a fresh JOIN after a refusal of its ops (the journal typed again
on the server's document), with smaller frames after ``too_large``, or stop.

Checked throughout: an ACKed batch and every op a client receives is already
durable (persist before ack/broadcast); a client that says it is in sync (and
would send a DIGEST) holds only durable ops, and no DIGEST ever mismatches.
Checked at the end: every replica that did not stop and the store converge on the
same ops and text; every acknowledged op is durable; every character any client
typed is in the converged text, or was deleted by a client that saw it, or (for a
stopped client) is in its unsent edits and its text; and no character is there twice.

Every character typed is unique (a counter over a large block of code points), so
"is in the text" means exactly that keystroke.  ``COWRITE_SIM_SEEDS`` sets how many
seeds run (default 10).
"""

from __future__ import annotations

import os
import random
from collections import deque
from dataclasses import dataclass, field

import pytest

from cowrite.engine import Document
from cowrite.protocol import (
    MsgType,
    Acked,
    ClientSession,
    Error,
    ErrorCode,
    Event,
    Journal,
    Ops,
    ProtocolFailure,
    Recovered,
    Recovery,
    RemoteChange,
    Resynced,
    Role,
    Room,
    Send,
    ServerError,
    ServerSession,
    Welcomed,
    decode_frame,
    error_frame,
    parse_join,
)
from cowrite.protocol.client import MIN_FRAME_BYTES
from cowrite.protocol.textchange import Insert, compose_all

SEEDS = int(os.environ.get("COWRITE_SIM_SEEDS", "10"))
DOC_ID = "sim-doc"
FIRST_CHAR = 0x4E00  # typed characters are FIRST_CHAR, FIRST_CHAR + 1, ...

# (code, with the batch id, fatal), weighted by how often each is injected
REFUSALS = [
    (ErrorCode.BAD_OP, True, False),
    (ErrorCode.CONFLICT, True, False),
    (ErrorCode.UNKNOWN_PARENT, True, False),
    (ErrorCode.INTERNAL, True, False),
    (ErrorCode.INTERNAL, False, True),  # a store failure drops the room
    (ErrorCode.RATE_LIMITED, False, False),
    (ErrorCode.TOO_LARGE, False, False),  # the frame over the limit
    (ErrorCode.TOO_LARGE, True, False),  # the document's limit
]
STOPS = [(ErrorCode.FORBIDDEN, False, True), (ErrorCode.UNAUTHORIZED, False, True)]


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
    refused: bool = False  # an injected refusal: the server may refuse what follows too


@dataclass(eq=False)
class Peer:
    """What outlives a client's connections: its replica, journal, seq floor, budget."""

    doc: Document
    journal: Journal = field(default_factory=Journal)
    seq_floor: int = 0
    frame_bytes: int = 64 * 1024
    batch_ops: int = 512
    fresh: bool = False  # the next JOIN is fresh (the server refused our ops)
    stopped: bool = False  # refused for good: never reconnects
    journal_from: int = 0  # carried from session to session, as the client does
    closed_at: int = 0  # our seq when the journal's open segment was last closed offline


class Sim:
    def __init__(self, seed: int, n_clients: int, *, refuse: float = 0.0, batch_ops: int = 512) -> None:
        self.rng = random.Random(seed)
        self.durable = Document("store")  # what the store holds
        self.owners: dict[str, str] = {}  # persisted agent ownership
        self.room = self._load_room()
        self.peers = [Peer(Document(f"c{i}"), batch_ops=batch_ops) for i in range(n_clients)]
        self.conns: list[Conn | None] = [None] * n_clients
        self.refuse = refuse  # the share of OPS frames refused
        self.persists = 0
        self.acks = 0
        self.crashes = 0
        self.digests = 0
        self.refusals: dict[ErrorCode, int] = {}
        self.recoveries = 0
        self.next_char = FIRST_CHAR
        self.typed: list[tuple[int, str]] = []  # (client, character), every keystroke
        self.deleted: set[str] = set()  # characters a client deleted where it saw them
        self.acked: list[tuple[str, int, int]] = []  # (agent, first, end) of every ACK

    @property
    def docs(self) -> list[Document]:
        return [p.doc for p in self.peers]

    def _load_room(self) -> Room:
        return Room(DOC_ID, self.durable.copy(), agent_owners=self.owners, digest_interval=0)

    # -- network ---------------------------------------------------------------------

    def connect(self, i: int) -> None:
        assert self.conns[i] is None
        peer = self.peers[i]
        if peer.stopped:
            return
        client = ClientSession(
            peer.doc,
            DOC_ID,
            user=f"user{i}",
            colour="#123456",
            journal=peer.journal,
            fresh=peer.fresh,
            seq_floor=peer.seq_floor,
            max_frame_bytes=peer.frame_bytes,
            max_batch_ops=peer.batch_ops,
            journal_from=peer.journal_from,
        )
        conn = Conn(client)
        conn.up.extend(client.data_to_send())
        self.conns[i] = conn

    def disconnect(self, i: int) -> None:
        conn = self.conns[i]
        assert conn is not None
        self.conns[i] = None
        self.peers[i].journal_from = conn.client.journal_from
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
        if self.refuse and data[1] == MsgType.OPS and self.rng.random() < self.refuse:
            self.inject_refusal(conn, data)
            return
        pending = self.room.submit(conn.server, data)
        # After an injected refusal the client's later batches build on ops the server
        # never took: the real refusals of them are expected (and ignored by the client).
        assert pending.error is None or conn.refused, pending.error
        assert pending.divergence is None, pending.divergence
        if pending.to_persist:
            self.durable.apply_patch(pending.patch)  # "fsync"
            self.persists += 1
            if self.rng.random() < 0.02:  # crash after persisting, before any ACK went out
                self.crash()
                return
        self.route(pending.commit())

    def inject_refusal(self, conn: Conn, data: bytes) -> None:
        """Refuse an OPS frame as a real server would (nothing of it is applied)."""
        rng = self.rng
        code, with_batch, fatal = rng.choice(STOPS if rng.random() < 0.03 else REFUSALS)
        self.refusals[code] = self.refusals.get(code, 0) + 1
        msg = decode_frame(data)
        assert isinstance(msg, Ops) and conn.server is not None
        frame = error_frame(code, f"injected {code.name.lower()}", fatal=fatal, batch_id=msg.batch_id if with_batch else None)
        conn.refused = True
        sends = [Send(conn.server, frame, fatal)]
        if fatal:
            sends += self.room.leave(conn.server)
        self.route(sends)

    def deliver_down(self, i: int) -> None:
        conn = self.conns[i]
        assert conn is not None and conn.down
        client = conn.client
        peer = self.peers[i]
        in_flight = dict(client.unacked)
        welcomed = client.welcomed
        events = client.receive(conn.down.popleft())
        self.check_events(client, in_flight, events)
        for ev in events:
            if isinstance(ev, (Recovered, Resynced)):
                peer.doc = ev.doc
                peer.seq_floor = ev.seq_floor
            if isinstance(ev, Recovered):
                peer.fresh = False
                self.recoveries += 1
        conn.up.extend(client.data_to_send())
        if client.closed:  # what the asyncio client does next
            recovery = client.recovery
            if recovery is Recovery.STOP:
                peer.stopped = True
            elif recovery is Recovery.RESYNC or (recovery is None and not welcomed and not client.fresh):
                peer.fresh = True  # refused ops, or a replica that does not merge: a fresh copy
            elif recovery is Recovery.SHRINK:
                peer.frame_bytes = max(4 * MIN_FRAME_BYTES, peer.frame_bytes // 2)
            self.disconnect(i)
        elif conn.closing and not conn.down:
            self.disconnect(i)

    def check_events(self, client: ClientSession, in_flight: dict[int, tuple[int, int]], events: list[Event]) -> None:
        durable = self.durable.summary()
        me = client.doc.agent
        for ev in events:
            assert not isinstance(ev, (ProtocolFailure, Resynced)), ev
            if isinstance(ev, ServerError):
                assert ev.error.message.startswith("injected"), ev  # the server refuses nothing itself
            if isinstance(ev, Acked):
                self.acks += 1
                first, end = in_flight[ev.batch_id]
                assert covered({me: [(first, end)]}, durable), "ACK before the batch was durable"
                self.acked.append((me, first, end))
            if isinstance(ev, (RemoteChange, Welcomed, Recovered)):
                others = {a: r for a, r in client.doc.summary().items() if a != me}
                assert covered(others, durable), "a client saw ops that are not durable"

    def crash(self) -> None:
        self.crashes += 1
        for peer, conn in zip(self.peers, self.conns):
            if conn is not None:
                peer.journal_from = conn.client.journal_from
        self.conns = [None] * len(self.conns)  # every connection drops, frames in flight lost
        self.room = self._load_room()

    # -- actors ------------------------------------------------------------------------

    def edit(self, i: int) -> None:
        """A keystroke (or a few), into the replica and the journal, as the client does."""
        peer, rng = self.peers[i], self.rng
        if peer.stopped:
            return  # a stopped client takes no edits
        doc = peer.doc
        n = len(doc)
        if n and rng.random() < 0.35:
            pos = rng.randrange(n)
            k = rng.randint(1, min(4, n - pos))
            removed = doc.branch.text.slice(pos, pos + k)
            doc.delete(pos, k)
            peer.journal.local(pos, removed, "")
            self.deleted.update(removed)
        else:
            k = rng.randint(1, 4)
            text = "".join(chr(c) for c in range(self.next_char, self.next_char + k))
            self.next_char += k
            pos = rng.randint(0, n)
            doc.insert(pos, text)
            peer.journal.local(pos, "", text)
            self.typed += [(i, ch) for ch in text]
        conn = self.conns[i]
        if conn is None or not conn.client.welcomed or conn.client.closed:
            end = doc.oplog.cg.next_seq(doc.agent)  # offline: close the journal's segment now and then
            if end - peer.closed_at >= 6:
                peer.journal.flushed(end)
                peer.closed_at = end

    def step(self) -> None:
        rng = self.rng
        n = len(self.docs)
        i = rng.randrange(n)
        conn = self.conns[i]
        r = rng.random()
        if r < 0.25:
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
        self.refuse = 0.0  # the network heals: everything left goes through
        for _ in range(100_000):
            for i, c in enumerate(self.conns):  # (a crash may strike while settling too)
                if c is None and not self.peers[i].stopped:
                    self.connect(i)
            for i, c in enumerate(self.conns):
                if c is not None and c.client.welcomed:
                    c.client.flush()
                    c.up.extend(c.client.data_to_send())
            busy = [i for i, c in enumerate(self.conns) if c is not None and (c.up or c.down)]
            if not busy and all(c is not None or p.stopped for c, p in zip(self.conns, self.peers)):
                return
            if not busy:
                continue
            i = self.rng.choice(busy)
            c = self.conns[i]
            assert c is not None
            if c.up and (not c.down or self.rng.random() < 0.5):
                self.deliver_up(i)
            else:
                self.deliver_down(i)
        raise AssertionError("the network never went quiet")


def unsent_inserted(peer: Peer) -> str:
    """What a client's journal still has to type (its ``Client.unsent().inserted``)."""
    change = compose_all(seg.change for seg in peer.journal.segments)
    return "".join(c.text for c in change.ops if isinstance(c, Insert))


def check_converged(sim: Sim, typed_summaries: list[dict[str, list[tuple[int, int]]]]) -> None:
    room = sim.room.doc
    live = [i for i, p in enumerate(sim.peers) if not p.stopped]
    assert all(sim.conns[i] is not None and sim.conns[i].client.welcomed and not sim.conns[i].client.unacked for i in live)  # type: ignore[union-attr]
    for i in live:
        doc = sim.peers[i].doc
        assert doc.summary() == room.summary(), f"client {i} has other ops than the server"
        assert doc.text == room.text
        assert sim.peers[i].journal.empty, f"client {i} still holds unconfirmed edits"
        if not sim.refusals:  # without refusals no replica is replaced: every op any client made is kept
            assert covered(typed_summaries[i], room.summary()), f"ops of client {i} were lost"
    assert sim.durable.summary() == room.summary()  # everything in the room is persisted
    assert sim.durable.text == room.text
    durable = sim.durable.summary()
    for agent, first, end in sim.acked:  # every acknowledged op is durable
        assert covered({agent: [(first, end)]}, durable), f"acknowledged ops {agent}:{first}..{end} were lost"
    # No keystroke dropped, none doubled.
    text = room.text
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    doubled = [ch for ch, n in counts.items() if n > 1]
    assert not doubled, f"characters typed once are there {len(doubled)} times over"
    for i, ch in sim.typed:
        if ch in counts or ch in sim.deleted:
            continue
        peer = sim.peers[i]
        assert peer.stopped, f"client {i}'s keystroke {ch!r} was lost"
        assert ch in unsent_inserted(peer) and ch in peer.doc.text, f"stopped client {i} lost {ch!r}"


@pytest.mark.parametrize("seed", range(SEEDS))
def test_simulation_converges_and_loses_nothing(seed: int) -> None:
    sim = Sim(seed, n_clients=3 + seed % 3)
    for _ in range(400):
        sim.step()
    typed = [doc.summary() for doc in sim.docs]  # every op ever made, by every client
    sim.settle()
    check_converged(sim, typed)
    assert sim.persists > 0 and sim.acks > 0
    for c in sim.conns:  # settled: everyone is at a server version with the server's text
        assert c is not None and c.client.in_sync and c.client.send_digest()
        sim.route(sim.room.submit(c.server, c.client.data_to_send()[0]).commit())  # type: ignore[arg-type]
        assert not c.down  # no RESYNC


def refusing_sim(seed: int) -> Sim:
    """A fifth of the OPS frames refused; on odd seeds batches of two ops, so that what
    one flush sends is split over batches (and a refusal can cut through it)."""
    return Sim(2000 + seed, n_clients=3 + seed % 3, refuse=0.2, batch_ops=2 if seed % 2 else 512)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_simulation_with_refusals_drops_no_keystroke(seed: int) -> None:
    """The server refuses a share of the batches with every code; the clients recover
    as the asyncio client does.  Nothing typed is lost, nothing is typed twice."""
    sim = refusing_sim(seed)
    for _ in range(800):
        sim.step()
    typed = [doc.summary() for doc in sim.docs]
    sim.settle()
    check_converged(sim, typed)
    for i, c in enumerate(sim.conns):
        if not sim.peers[i].stopped:
            assert c is not None and c.client.in_sync and c.client.send_digest()
            sim.route(sim.room.submit(c.server, c.client.data_to_send()[0]).commit())  # type: ignore[arg-type]
            assert not c.down  # no RESYNC: the replicas that were replaced have the server's text


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


def test_simulation_exercises_every_refusal_and_recovery() -> None:
    """Across the seeds every refusal is injected, replicas are replaced, and some clients stop."""
    refusals: dict[ErrorCode, int] = {}
    recoveries = stopped = 0
    for seed in range(SEEDS):
        sim = refusing_sim(seed)
        for _ in range(800):
            sim.step()
        sim.settle()
        for code, n in sim.refusals.items():
            refusals[code] = refusals.get(code, 0) + n
        recoveries += sim.recoveries
        stopped += sum(p.stopped for p in sim.peers)
    assert {code for code, _, _ in REFUSALS} <= set(refusals), refusals
    assert recoveries > SEEDS and stopped > 0, (recoveries, stopped)
