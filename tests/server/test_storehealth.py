"""The store breaker (``storehealth.py``) and what the rooms do while it is open.

A store that can be made to fail (``StoreUnavailable``) or to hang (a call that never
returns until released: a black-holed database) wraps a real SQLite store.  The real
PostgreSQL outages are ``tests/integration/test_cluster_outage.py``'s.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cowrite.errors import ErrorCode, StoreUnavailable
from cowrite.protocol import Error, Join, Role, decode_frame
from cowrite.protocol.server import Send
from cowrite.server.metrics import Metrics
from cowrite.server.rooms import Limits, Rooms
from cowrite.server.storehealth import StoreHealth
from cowrite.store import SQLiteStore

DOC = "d"
FAST = {
    "store_check_seconds": 0.05,
    "store_probe_seconds": 0.05,
    "store_probe_timeout_seconds": 0.2,
    "store_timeout_seconds": 0.3,
}


class FlakyStore:
    """A SQLite store whose every call can be made to fail or to hang."""

    def __init__(self, path: Path) -> None:
        self.real = SQLiteStore(path)
        self.mode = "ok"
        self.release = threading.Event()  # lets hung calls go on (and fail)
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.mode == "hang":
                self.release.wait(30)
                raise StoreUnavailable("released after hanging")
            if self.mode == "down":
                raise StoreUnavailable("connection refused")
            return attr(*args, **kwargs)

        return call


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def health(store: Any) -> StoreHealth:
    return StoreHealth(store, Metrics(), check_seconds=0.05, probe_seconds=0.05, probe_timeout=0.2)


def test_a_failing_probe_opens_the_breaker_and_recovery_closes_it(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "db")
    h = health(store)
    opened: list[bool] = []
    recovered: list[bool] = []
    h.on_open = lambda: opened.append(True)

    async def recover() -> bool:
        recovered.append(store.mode == "ok")
        return len(recovered) >= 2  # the first catch-up "fails": the breaker must stay open

    h.recover = recover

    async def main() -> None:
        task = asyncio.create_task(h.run())
        try:
            assert h.up and await h.check()
            store.mode = "down"
            await until(lambda: not h.up, "the breaker to open")
            assert opened == [True] and h.opened == 1 and h.metrics.store_up._value.get() == 0
            await asyncio.sleep(0.3)  # more failed probes: it opened once
            assert opened == [True] and not recovered
            store.mode = "ok"
            await until(lambda: h.up, "the breaker to close")
            assert recovered == [True, True]  # closed only after a catch-up succeeded
            assert h.metrics.store_up._value.get() == 1 and h.metrics.store_breaker_opened._value.get() == 1
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())


def test_one_slow_probe_is_not_an_outage_two_are(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "db")
    h = health(store)

    async def main() -> None:
        store.mode = "hang"
        assert await h.check()  # one probe without an answer: maybe a long write
        calls = store.calls
        assert not await h.check()  # the same probe, still no answer: open
        assert store.calls == calls  # no second thread was started against a hung store
        assert "did not answer" in h.reason
        store.release.set()

    asyncio.run(main())


def test_a_slow_local_store_is_busy_not_down(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "db")
    h = StoreHealth(store, Metrics(), check_seconds=0.05, probe_seconds=0.05, probe_timeout=0.1, slow_is_down=False)

    async def main() -> None:
        store.mode = "hang"
        for _ in range(4):
            assert await h.check()
        store.release.set()
        await until(lambda: h._probe is not None and h._probe.done(), "the hung probe to end")
        store.mode = "down"
        assert not await h.check()  # an error still opens it

    asyncio.run(main())


def test_a_failure_while_catching_up_keeps_the_breaker_open(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "db")
    h = health(store)

    async def recover() -> bool:
        h.failed(StoreUnavailable("lost again"))  # the store failed during the catch-up
        return True

    h.recover = recover

    async def main() -> None:
        h.failed(StoreUnavailable("down"))
        task = asyncio.create_task(h.run())
        try:
            await asyncio.sleep(0.4)
            assert not h.up
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())


def _rooms(store: Any, sent: list[Send], **limits: Any) -> Rooms:
    return Rooms(store, Metrics(), Limits(**{**FAST, **limits}), sent.extend, shared=True)


def _frames(sends: list[Send]) -> list[tuple[Any, bool]]:
    return [(decode_frame(s.data), s.close) for s in sends]


def test_a_hung_commit_is_never_acknowledged_and_opens_the_breaker(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "db")
    store.real.create(DOC)
    sent: list[Send] = []
    rooms = _rooms(store, sent)

    async def main() -> None:
        async with rooms.locked(DOC) as handle:
            session, sends = await rooms.admit(handle, Join(DOC, "ann-1", {}), "ann", Role.EDITOR)
            await rooms.claim(handle, "api:ann", "ann")
            sent.clear()
            store.mode = "hang"
            pending = await rooms.run_locked(handle, lambda: handle.room.edit("ann", "api:ann", 0, 0, "lost?"))
        assert pending is not None and pending.error is not None and pending.error.code is ErrorCode.INTERNAL
        assert not rooms.health.up and "did not answer within" in rooms.health.reason
        assert rooms.loaded(DOC) is None  # dropped: its document held ops that are not durable
        # the session was told (fatal for this room, but not a refusal for good: clients retry)
        kinds = _frames(sent)
        assert kinds and all(isinstance(m, Error) and m.code is ErrorCode.INTERNAL and close for m, close in kinds)
        # while open nothing needing the store is started
        calls = store.calls
        with pytest.raises(StoreUnavailable):
            async with rooms.locked(DOC):
                pass
        assert store.calls == calls
        store.release.set()

    asyncio.run(main())
    store.mode = "ok"
    assert store.real.load(DOC).text == ""  # the hung commit never happened (and was never acknowledged)


def test_breaker_opening_closes_every_connection_and_recovery_catches_up(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "db")
    store.real.create(DOC)
    sent: list[Send] = []
    rooms = _rooms(store, sent)
    other_sent: list[Send] = []
    other = Rooms(SQLiteStore(tmp_path / "db"), Metrics(), Limits(), other_sent.extend, shared=True)

    async def main() -> None:
        async with rooms.locked(DOC) as handle:
            for agent in ("ann-1", "bob-1"):
                _, sends = await rooms.admit(handle, Join(DOC, agent, {}), agent[:3], Role.EDITOR)
            await rooms.claim(handle, "api:ann", "ann")
            await rooms.run_locked(handle, lambda: handle.room.edit("ann", "api:ann", 0, 0, "one "))
        sent.clear()
        task = asyncio.create_task(rooms.health.run())
        try:
            store.mode = "down"
            await until(lambda: not rooms.health.up, "the breaker to open")
            closing = _frames(sent)
            assert len(closing) == 2  # both connections: a non-fatal ERROR internal, then closed
            assert all(isinstance(m, Error) and m.code is ErrorCode.INTERNAL and not m.fatal and c for m, c in closing)
            # another server commits while this one cannot read the store
            async with other.locked(DOC) as oh:
                await other.claim(oh, "api:bob~other", "bob")
                await other.run_locked(oh, lambda: oh.room.edit("bob", "api:bob~other", 4, 0, "two"))
            handle = rooms.loaded(DOC)
            assert handle is not None and handle.room.doc.text == "one "  # still loaded, behind
            store.mode = "ok"
            await until(lambda: rooms.health.up, "the breaker to close")
            assert handle.room.doc.text == "one two"  # caught up before acknowledging again
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())


# -- the server: WebSockets, /ready and the HTTP API while the breaker is open ----------


def test_server_while_the_store_is_down(tmp_path: Path) -> None:
    import time

    from conftest import Harness
    from test_session_sockets import join as ws_join
    from test_session_sockets import receive_within, type_and_ack

    store = FlakyStore(tmp_path / "db")
    h = Harness(tmp_path, limits=Limits(**FAST), store=store)

    def wait_ready(status: int) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            r = h.http.get("/ready")
            if r.status_code == status:
                body: dict[str, Any] = r.json()
                return body
            assert time.monotonic() < deadline, r.text
            time.sleep(0.02)

    with h.http:  # runs the lifespan: the breaker's probe
        h.create("notes")
        url = f"/ws/notes?token={h.token()}"
        with h.http.websocket_connect(url) as ws:
            doc, s = ws_join(ws, "ada-1")
            type_and_ack(ws, doc, s, "kept")
            store.mode = "down"
            first = receive_within(ws)  # the breaker opened: told, then closed
            err = decode_frame(first["bytes"])
            assert isinstance(err, Error) and err.code is ErrorCode.INTERNAL and not err.fatal, err
            assert receive_within(ws)["type"] == "websocket.close"
        assert wait_ready(503) == {"status": "unready", "store": "unavailable", "fanout": "none"}
        r = h.http.get("/api/docs/notes/text", headers=h.auth())
        assert r.status_code == 503 and r.json()["error"] == "internal"
        with h.http.websocket_connect(url) as ws:  # refused before its JOIN: retry later
            err = decode_frame(receive_within(ws)["bytes"])
            assert isinstance(err, Error) and err.code is ErrorCode.INTERNAL and not err.fatal, err
        store.mode = "ok"
        assert wait_ready(200)["status"] == "ready"
        with h.http.websocket_connect(url) as ws:
            doc, s = ws_join(ws, "ada-2")
            assert doc.text == "kept"
            type_and_ack(ws, doc, s, "!")
        assert h.http.get("/api/docs/notes/text", headers=h.auth()).text == "kept!"
    h.close()
