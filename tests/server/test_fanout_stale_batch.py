"""A stale part of a batch another server already stored must not make a room skip ops.

The sequence, as it can happen in a cluster: a client's batch reaches server A over a
connection the client has already given up on (its frames are still queued there), while
the client, reconnected to server C, resent those ops together with the next ones as one
batch, which C stored first, as log entry 1.  A then handles the stale batch: every op
of it is already stored, so the store adds nothing.  If the store answered "entry 1"
for it, A would take its room to hold entry 1 (it holds only part of it) and publish
the stale batch as entry 1; server B would apply it as entry 1 and skip the rest.  The
next entry, whose parents are in the skipped part, would then not apply on A nor on B
("log entry 2 of 'd' does not apply to the loaded room": an UnknownParentError, an
internal error, a reload).

Two "servers" (Rooms on their own store objects) on one SQLite file or one PostgreSQL
schema; the third one's appends are made on the store directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cowrite.engine import Document
from cowrite.protocol import Join, Ops, Role, encode_frame
from cowrite.protocol.server import Send
from cowrite.server.metrics import Metrics
from cowrite.server.rooms import Limits, Rooms
from cowrite.store import Store, open_store

DOC = "d"


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "shared.db")
    else:
        yield request.getfixturevalue("pg_url")


class Node:
    """One server's Rooms on its own store object, its notices kept instead of published."""

    def __init__(self, url: str) -> None:
        self.store = open_store(url)
        self.sent: list[Send] = []
        self.notices: list[tuple[str, int, bytes]] = []
        self.metrics = Metrics()
        self.rooms = Rooms(self.store, self.metrics, Limits(), self.sent.extend, shared=True)
        self.rooms.on_commit = lambda d, s, p: self.notices.append((d, s, p))

    def internal_errors(self) -> float:
        value: float = self.metrics.internal_errors._value.get()  # type: ignore[attr-defined]
        return value

    def text(self) -> str:
        handle = self.rooms.loaded(DOC)
        assert handle is not None
        return handle.room.doc.text

    def seq(self) -> int:
        handle = self.rooms.loaded(DOC)
        assert handle is not None
        return handle.seq


def test_a_stale_part_of_a_stored_batch_does_not_make_rooms_skip_ops(url: str) -> None:
    import asyncio

    async def main() -> None:
        third: Store = open_store(url)
        third.create(DOC)
        a, b = Node(url), Node(url)
        try:
            ha = await a.rooms.get(DOC)
            await b.rooms.get(DOC)
            client = Document("c")
            client.insert(0, "ab")
            stale = client.encode_patch()  # the batch still queued on server A
            client.insert(2, "c")
            assert third.append(DOC, client.encode_patch(), op_count=3) == 1  # the resend, stored by C
            session, _ = ha.room.join(Join(DOC, "c", {}), user="u", role=Role.EDITOR)
            pending = await a.rooms.run(ha, lambda: ha.room.submit(session, encode_frame(Ops(1, stale))))
            assert pending is not None and pending.error is None  # acknowledged: the ops are durable
            for notice in a.notices:  # B hears of A's commit
                await b.rooms.notified(*notice)
            # C stores an edit made after "abc" (its parent is c:2, the op A's batch lacked)
            other = Document("e")
            other.apply_patch(client.encode_patch())
            before = other.version
            other.insert(3, "!")
            seq = third.append(DOC, other.encode_patch(before), op_count=1)
            await b.rooms.notified(DOC, seq, other.encode_patch(before))
            await a.rooms.catch_up_all()
            await b.rooms.catch_up_all()
            truth = third.load(DOC).text
            assert truth == "abc!"
            for node in (a, b):
                assert node.internal_errors() == 0, "an entry did not apply: the room had skipped ops"
                assert node.text() == truth
                assert node.seq() == third.info(DOC).seq
            assert third.load(DOC).text == truth  # the log loads as it did
        finally:
            for node in (a, b):
                await node.rooms.close()
                node.store.close()
            third.close()

    asyncio.run(main())
