"""The collaboration server: WebSocket sync, HTTP API, web pages, metrics (Starlette on uvicorn).

``/ws/{doc_id}?token=...`` speaks the protocol of PROTOCOL.md (one binary
WebSocket message per frame).  The HTTP API under ``/api`` (``api.py``) uses the
same tokens (``Authorization: Bearer ...`` or ``?token=``).  The browser
editor's pages and files are ``web.py``'s.  This module only moves bytes and
enforces access and limits; sync logic is in ``cowrite.protocol`` and
durability in ``cowrite.store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..protocol import ErrorCode, ProtocolError
from ..protocol.server import Send, ServerSession, error_frame, parse_join
from ..store import CorruptionError, DocumentNotFound, InvalidDocumentId, Store
from . import web
from .api import GUEST_ROLES, HttpApi, protocol_role, token_from
from .auth import AuthError, verify_token
from .metrics import Metrics
from .rooms import Limits, RoomHandle, Rooms

__all__ = ["Server"]

log = logging.getLogger("cowrite.server")

_JOIN_TIMEOUT = 30.0
_OUTBOX_LIMIT = 10_000  # frames queued for one slow client before it is cut off


class _Bucket:
    """Token bucket: ``rate`` per second, up to ``burst``."""

    __slots__ = ("rate", "burst", "tokens", "at")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class _Connection:
    """One WebSocket: an outbox drained by a writer task, so a room never waits on a socket."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.outbox: asyncio.Queue[tuple[bytes, bool] | None] = asyncio.Queue()
        self.closing = False

    def send(self, data: bytes, close: bool = False) -> None:
        if self.closing:
            return
        if self.outbox.qsize() >= _OUTBOX_LIMIT:
            log.warning("client too slow: %d frames queued; disconnecting", _OUTBOX_LIMIT)
            close = True
            data = error_frame(ErrorCode.TOO_LARGE, "too many frames queued for this connection", fatal=True)
        self.outbox.put_nowait((data, close))
        if close:
            self.closing = True

    def finish(self) -> None:
        self.outbox.put_nowait(None)

    async def writer(self) -> None:
        try:
            while True:
                item = await self.outbox.get()
                if item is None:
                    return
                data, close = item
                await self.ws.send_bytes(data)
                if close:
                    await self.ws.close(1000)
                    return
        except Exception:  # the peer went away; the reader notices too
            return


def _deliver(sends: list[Send]) -> None:
    for s in sends:
        conn = s.session.tag
        if isinstance(conn, _Connection):
            conn.send(s.data, s.close)


class Server:
    """Everything one server process holds: store, rooms, metrics, settings.

    ``guests`` is the role of the guest tokens ``POST /api/session`` hands out to
    anyone who types a name (``"none"``: no guests; pages then need ``?token=``),
    ``guest_hosts`` the host names they are handed out on (empty: any; see
    :class:`~cowrite.server.api.HttpApi`).
    """

    def __init__(
        self,
        store: Store,
        secret: bytes,
        *,
        limits: Limits | None = None,
        allowed_origins: tuple[str, ...] = (),
        guests: str = "none",
        guest_hosts: tuple[str, ...] = (),
    ) -> None:
        if guests not in GUEST_ROLES:
            raise ValueError(f"guests must be one of {', '.join(GUEST_ROLES)}, not {guests!r}")
        self.store = store
        self.secret = secret
        self.limits = limits or Limits()
        self.allowed_origins = allowed_origins
        self.guests = guests
        self.metrics = Metrics()
        self.rooms = Rooms(store, self.metrics, self.limits)
        self.api = HttpApi(store, self.rooms, secret, _deliver, guests=guests, guest_hosts=guest_hosts)
        self.app = Starlette(
            routes=[
                Route("/health", self.health),
                Route("/metrics", self.metrics_endpoint),
                *self.api.routes(),
                WebSocketRoute("/ws/{doc_id}", self.websocket),
                *web.routes(),
            ],
            middleware=[Middleware(web.SecurityHeaders)],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        reaper = asyncio.create_task(self._reap())
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await self.rooms.close()

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.limits.idle_unload_seconds / 4))
            try:
                await self.rooms.unload_idle()
            except Exception:  # pragma: no cover - keep reaping
                log.exception("unloading idle rooms failed")

    # -- WebSocket -------------------------------------------------------------------

    def _origin_ok(self, headers: Mapping[str, str]) -> bool:
        """Browsers send Origin; a page from another site must not use a user's token.
        Clients that send no Origin (programs) are not browsers and are let through."""
        origin = headers.get("origin")
        if origin is None:
            return True
        if "*" in self.allowed_origins or origin in self.allowed_origins:
            return True
        return urlsplit(origin).netloc == headers.get("host", "")

    async def websocket(self, ws: WebSocket) -> None:
        if not self._origin_ok(ws.headers):
            await ws.close(code=1008)  # before accept: the upgrade is refused with 403
            return
        await ws.accept()
        conn = _Connection(ws)
        writer = asyncio.create_task(conn.writer())
        self.metrics.connections.inc()
        handle: RoomHandle | None = None
        session: ServerSession | None = None
        try:
            handle, session = await self._join(ws, conn)
            if handle is None or session is None:
                return
            handle.connections += 1
            try:
                await self._serve(ws, conn, handle, session)
            finally:
                handle.connections -= 1
                handle.idle_since = time.monotonic()
                if session.joined and not handle.room.failed:
                    async with handle.lock:
                        if session.joined and not handle.room.failed:
                            _deliver(handle.room.leave(session))
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("connection failed")
            conn.send(error_frame(ErrorCode.INTERNAL, "internal server error", fatal=True), close=True)
        finally:
            conn.finish()
            await writer
            self.metrics.connections.dec()

    def _refuse(self, conn: _Connection, code: ErrorCode, message: str) -> tuple[None, None]:
        self.metrics.errors.labels(code=code.name.lower()).inc()
        conn.send(error_frame(code, message, fatal=True), close=True)
        return None, None

    async def _join(self, ws: WebSocket, conn: _Connection) -> tuple[RoomHandle | None, ServerSession | None]:
        doc_id = ws.path_params["doc_id"]
        try:
            grant = verify_token(self.secret, token_from(ws.headers, ws.query_params))
        except AuthError as exc:
            return self._refuse(conn, ErrorCode.UNAUTHORIZED, str(exc))
        if not grant.allows(doc_id):
            return self._refuse(conn, ErrorCode.FORBIDDEN, f"your token does not grant document {doc_id!r}")
        try:
            first = await asyncio.wait_for(self._receive(ws), _JOIN_TIMEOUT)
        except asyncio.TimeoutError:
            return self._refuse(conn, ErrorCode.BAD_STATE, "no JOIN within 30 seconds")
        if first is None:
            return None, None
        if isinstance(first, str):
            return self._refuse(conn, ErrorCode.BAD_FRAME, "frames are binary WebSocket messages")
        if len(first) > self.limits.max_message_bytes:
            return self._refuse(conn, ErrorCode.TOO_LARGE, f"frames are limited to {self.limits.max_message_bytes} bytes")
        try:
            join = parse_join(first, self.limits.max_message_bytes)
        except ProtocolError as exc:
            return self._refuse(conn, exc.code, str(exc))
        if join.doc_id != doc_id:
            return self._refuse(conn, ErrorCode.BAD_STATE, f"JOIN names {join.doc_id!r} on the socket of {doc_id!r}")
        if join.agent.startswith("api:"):
            return self._refuse(conn, ErrorCode.FORBIDDEN, "agents named 'api:...' are reserved for the HTTP API")
        try:
            handle = await self.rooms.get(doc_id)
        except (DocumentNotFound, InvalidDocumentId):
            return self._refuse(conn, ErrorCode.NOT_FOUND, f"no document {doc_id!r}")
        except CorruptionError as exc:
            log.error("%s", exc)
            return self._refuse(conn, ErrorCode.INTERNAL, "the stored document failed verification; not served")
        async with handle.lock:
            # Failed, or unloaded by the idle reaper while we waited for the lock: joining
            # that room would leave this connection in a room nobody else is in.
            if not self.rooms.is_live(handle):
                return self._refuse(conn, ErrorCode.INTERNAL, "the document is reloading; retry")
            session, sends = await self.rooms.admit(handle, join, grant.user, protocol_role(grant.role), grant.name)
            session.tag = conn
            _deliver(sends)
        if not session.joined:
            return None, None
        await self.api.remember_name(grant.user, grant.name)
        return handle, session

    async def _receive(self, ws: WebSocket) -> bytes | str | None:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return None
        data = msg.get("bytes")
        if data is not None:
            return bytes(data)
        return str(msg.get("text") or "")

    async def _serve(self, ws: WebSocket, conn: _Connection, handle: RoomHandle, session: ServerSession) -> None:
        limits = self.limits
        bucket = _Bucket(limits.messages_per_second, limits.message_burst)
        while not session.closed and not conn.closing:
            data = await self._receive(ws)
            if data is None:
                return
            if not self.rooms.is_live(handle):
                conn.send(error_frame(ErrorCode.INTERNAL, "the document was unloaded; reconnect", fatal=True), True)
                return
            if isinstance(data, str):
                self.metrics.errors.labels(code="bad_frame").inc()
                conn.send(error_frame(ErrorCode.BAD_FRAME, "frames are binary WebSocket messages"))
                continue
            if len(data) > limits.max_message_bytes:
                self.metrics.errors.labels(code="too_large").inc()
                conn.send(error_frame(ErrorCode.TOO_LARGE, f"frames are limited to {limits.max_message_bytes} bytes"))
                continue
            if not bucket.take():
                self.metrics.errors.labels(code="rate_limited").inc()
                conn.send(error_frame(ErrorCode.RATE_LIMITED, f"more than {limits.messages_per_second:g} frames per second"))
                continue
            self.metrics.frames.labels(type=str(data[1]) if len(data) > 1 else "short").inc()
            await self.rooms.run(handle, lambda: handle.room.submit(session, data, limits.max_message_bytes), _deliver)

    # -- HTTP ------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        try:
            await asyncio.to_thread(self.store.exists, "health-check")
        except Exception as exc:
            return JSONResponse({"status": "error", "store": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "rooms": len(self.rooms)})

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")
