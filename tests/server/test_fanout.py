"""Rooms of two "servers" on one store (in one process): catch-up from the log, commit
notices, snapshots not confused by entries others appended.  No Redis here; the real
processes and services are ``tests/integration/test_cluster.py``'s."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cowrite.protocol import Join, RemoteOps, Role, decode_frame
from cowrite.protocol.server import Room, Send
from cowrite.server.fanout import decode_notice, encode_notice
from cowrite.server.metrics import Metrics
from cowrite.server.rooms import Limits, Rooms
from cowrite.store import SQLiteStore

DOC = "d"


class Node:
    """One server's Rooms on its own store object (the same database file)."""

    def __init__(self, path: Path, **limits: int) -> None:
        self.store = SQLiteStore(path)
        self.sent: list[Send] = []
        self.notices: list[tuple[str, int, bytes]] = []
        self.rooms = Rooms(self.store, Metrics(), Limits(**limits), self.sent.extend, shared=True)  # type: ignore[arg-type]
        self.rooms.on_commit = lambda d, s, p: self.notices.append((d, s, p))

    async def edit(self, user: str, pos: int, text: str) -> None:
        """An edit as the HTTP API makes it (``locked``: caught up first)."""
        async with self.rooms.locked(DOC) as h:
            await self.rooms.claim(h, f"api:{user}", user)
            pending = await self.rooms.run_locked(h, lambda: h.room.edit(user, f"api:{user}", pos, 0, text))
            assert pending is not None and pending.error is None

    async def frame(self, user: str, pos: int, text: str) -> None:
        """An edit as a WebSocket frame is handled: the room's lock only, no catch-up first."""
        h = await self.rooms.get(DOC)
        async with h.lock:
            await self.rooms.claim(h, f"api:{user}", user)
            pending = await self.rooms.run_locked(h, lambda: h.room.edit(user, f"api:{user}", pos, 0, text))
            assert pending is not None and pending.error is None

    def text(self) -> str:
        h = self.rooms.loaded(DOC)
        assert h is not None
        return h.room.doc.text


def test_notice_round_trip() -> None:
    assert decode_notice(encode_notice("s1", "doc.x", 7, b"\x00\n patch")) == ("s1", "doc.x", 7, b"\x00\n patch")
    assert decode_notice(encode_notice("s1", "d", 1, None)) == ("s1", "d", 1, None)
    for bad in (b"", b"s1 d 0 1\n", b"s1 d x 1\n", b"s1 d 3 2\n", b"s1 d 3\n"):
        with pytest.raises(ValueError):
            decode_notice(bad)


def test_rooms_catch_up_from_the_log_and_through_notices(tmp_path: Path) -> None:
    async def main() -> None:
        SQLiteStore(tmp_path / "db").create(DOC)
        a, b = Node(tmp_path / "db"), Node(tmp_path / "db")
        await a.edit("ann", 0, "hello")
        async with b.rooms.locked(DOC) as hb:  # loads it
            sess, _ = hb.room.join(Join(DOC, "peer", {}), user="u", role=Role.EDITOR)
        assert b.text() == "hello"
        await a.edit("ann", 5, " world")  # b learns it by the notice (with the patch)
        doc_id, seq, patch = a.notices[-1]
        assert (doc_id, seq) == (DOC, 2)
        await b.rooms.notified(doc_id, seq, patch)
        assert b.text() == "hello world"
        assert any(s.session is sess and isinstance(decode_frame(s.data), RemoteOps) for s in b.sent)
        await a.edit("ann", 0, ">")  # seq 3: its notice is lost
        await a.edit("ann", 0, ">")  # seq 4: a gap for b, caught up from the store
        await b.rooms.notified(*a.notices[-1])
        assert b.text() == ">>hello world" and b.rooms.loaded(DOC).seq == 4  # type: ignore[union-attr]
        await b.edit("bob", 0, "[")  # b's own append shows no gap
        await a.edit("ann", 0, "]")  # a's shows one (b's entry 5): a catches up at once
        assert "[" in a.text() and "]" in a.text()
        await b.rooms.catch_up_all()  # reconciliation
        assert a.text() == b.text() == SQLiteStore(tmp_path / "db").load(DOC).text
        assert b.rooms.metrics.fanout_gaps._value.get() >= 1  # type: ignore[attr-defined]

    asyncio.run(main())


def test_a_snapshot_does_not_skip_entries_appended_by_others(tmp_path: Path) -> None:
    """A room that snapshots must not take the store's newest seq as its own (it would then
    skip the other servers' entries it has not applied yet)."""

    async def main() -> None:
        SQLiteStore(tmp_path / "db").create(DOC)
        a = Node(tmp_path / "db", snapshot_min_entries=1)
        b = Node(tmp_path / "db", snapshot_min_entries=1)
        await a.edit("ann", 0, "a")
        await b.edit("bob", 0, "b")  # loads b at seq 1, appends 2
        for i in range(6):  # interleaved, notices never delivered: gaps, catch-ups, snapshots
            await a.frame("ann", 0, str(i))
            await b.frame("bob", 0, chr(ord("A") + i))
        await a.rooms.catch_up_all()
        await b.rooms.catch_up_all()
        stored = SQLiteStore(tmp_path / "db").load(DOC).text
        assert a.text() == b.text() == stored and len(stored) == 14
        assert a.rooms.metrics.internal_errors._value.get() == 0  # type: ignore[attr-defined]
        assert b.rooms.metrics.internal_errors._value.get() == 0  # type: ignore[attr-defined]

    asyncio.run(main())


def test_apply_remote_sends_only_what_the_room_lacked() -> None:
    from cowrite.engine import Document, encode_patch

    src = Document("x")
    src.insert(0, "abc")
    room = Room(DOC, Document("server"))
    s, _ = room.join(Join(DOC, "peer", {}), user="u", role=Role.EDITOR)
    patch = encode_patch(src.ops_since(()))
    sends = room.apply_remote(patch)
    assert [x.session for x in sends] == [s] and room.doc.text == "abc"
    assert room.apply_remote(patch) == []  # known: nothing sent
    with pytest.raises(Exception):
        room.apply_remote(b"\xffnot a patch")
    assert room.failed


def test_an_entry_appended_during_a_snapshot_is_not_skipped(tmp_path: Path) -> None:
    """Another server appends while this one snapshots: the room's seq must stay what it
    applied, not become the store's newest (then that entry would never reach it)."""
    from cowrite.engine import Document, encode_patch

    async def main() -> None:
        SQLiteStore(tmp_path / "db").create(DOC)
        a = Node(tmp_path / "db", snapshot_min_entries=1)
        other = SQLiteStore(tmp_path / "db")
        outsider = Document("outsider")
        outsider.insert(0, "X")
        snapshot = a.store.snapshot
        appended: list[int] = []

        def snapshot_then_other_appends(doc_id: str, doc: Document, *, prune: bool = False) -> int:
            covered = snapshot(doc_id, doc, prune=prune)
            if not appended:  # once, between the snapshot and the info read after it
                appended.append(other.append(DOC, encode_patch(outsider.ops_since(())), op_count=1))
            return covered

        a.store.snapshot = snapshot_then_other_appends  # type: ignore[method-assign]
        await a.frame("ann", 0, "a")
        await a.frame("ann", 0, "b")
        await a.rooms.catch_up_all()
        stored = SQLiteStore(tmp_path / "db").load(DOC).text
        assert appended and "X" in stored and a.text() == stored

    asyncio.run(main())


def test_ready_on_one_server(harness: object) -> None:
    """``/ready``: 200 with ``fanout: none`` on a single server, 503 once the store fails."""
    h = harness
    r = h.http.get("/ready")  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.json()["fanout"] == "none" and r.json()["status"] == "ready"
    h.store.close()  # type: ignore[attr-defined]
    r = h.http.get("/ready")  # type: ignore[attr-defined]
    assert r.status_code == 503 and r.json()["status"] == "unready"
