"""The comment and suggestion notices of ``fanout.py``: their format, and what a
received one may and may not cause (nothing from Redis is trusted)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cowrite.server.fanout import MAX_CHANGE_NOTICE, Fanout, decode_change, encode_change
from cowrite.server.metrics import Metrics
from cowrite.server.rooms import Limits, Rooms
from cowrite.store import SQLiteStore


def test_change_notice_round_trip() -> None:
    data = encode_change("srv-1", "doc.a", "suggestions", 12345)
    assert decode_change(data) == ("srv-1", "doc.a", "suggestions", 12345)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"srv doc comments",
        b"srv doc comments 1 2",
        b"srv doc comments x",
        b"srv doc comments -3",
        b"srv doc comments " + b"9" * 30,
        b"srv doc likes 1",
        b"srv  comments 1",
        b"\xffsrv doc comments 1",
        b"srv doc comments 1" + b"0" * MAX_CHANGE_NOTICE,
    ],
)
def test_a_malformed_change_notice_is_refused(data: bytes) -> None:
    with pytest.raises((ValueError, UnicodeDecodeError)):
        decode_change(data)


def _fanout(tmp_path: Path, *, loaded: set[str], redis: bool = True) -> tuple[Fanout, list[tuple[str, str, int]]]:
    rooms = Rooms(SQLiteStore(tmp_path / "db"), Metrics(), Limits(), lambda sends: None, shared=True)
    rooms.loaded = lambda doc_id: object() if doc_id in loaded else None  # type: ignore[method-assign,assignment,return-value]
    f = Fanout(rooms, rooms.metrics, Limits(), redis_url="redis://fake/0" if redis else None, server_id="me", prefix="t")
    told: list[tuple[str, str, int]] = []
    f.on_change["comments"] = lambda doc_id, rev: told.append(("comments", doc_id, rev))
    f.on_change["suggestions"] = lambda doc_id, rev: told.append(("suggestions", doc_id, rev))
    return f, told


def test_another_servers_change_notifies_the_loaded_document_only(tmp_path: Path) -> None:
    f, told = _fanout(tmp_path, loaded={"d"})
    ch = f.changes_channel.encode()
    for data in [
        encode_change("other", "d", "comments", 3),
        encode_change("other", "d", "suggestions", 99),
        encode_change("me", "d", "comments", 4),  # our own: our sockets were told already
        encode_change("other", "elsewhere", "comments", 5),  # not loaded here
        b"not a notice",
        "other d comments 7".encode("utf-16"),
    ]:
        f._handle({"type": "message", "channel": ch, "data": data})
    f._handle({"type": "message", "channel": ch, "data": "a str, not bytes"})
    assert told == [("comments", "d", 3), ("suggestions", "d", 99)]


def test_a_failing_notify_does_not_stop_the_listener(tmp_path: Path) -> None:
    f, told = _fanout(tmp_path, loaded={"d"})

    def broken(doc_id: str, revision: int) -> None:
        raise RuntimeError("boom")

    f.on_change["comments"] = broken
    ch = f.changes_channel.encode()
    f._handle({"type": "message", "channel": ch, "data": encode_change("other", "d", "comments", 1)})
    f._handle({"type": "message", "channel": ch, "data": encode_change("other", "d", "suggestions", 2)})
    assert told == [("suggestions", "d", 2)]


def test_publishing_a_change_queues_it_on_the_notices_channel(tmp_path: Path) -> None:
    f, _ = _fanout(tmp_path, loaded=set())
    f.publish_change("d", "comments", 8)
    assert f._queue.get_nowait() == ("t:notices", b"me d comments 8")
    without, _ = _fanout(tmp_path, loaded=set(), redis=False)
    without.publish_change("d", "comments", 8)
    assert without._queue.empty()


def test_publishing_never_blocks_when_the_queue_is_full(tmp_path: Path) -> None:
    f, _ = _fanout(tmp_path, loaded=set())
    f._queue = asyncio.Queue(1)
    f.publish_change("d", "comments", 1)
    f.publish_change("d", "comments", 2)  # dropped: the other servers' look at the store covers it
    assert f._queue.qsize() == 1
