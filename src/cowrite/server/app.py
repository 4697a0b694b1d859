"""The collaboration server: WebSocket sync, HTTP API, metrics (Starlette on uvicorn).

``/ws/{doc_id}?token=...`` speaks the protocol of PROTOCOL.md (one binary
WebSocket message per frame).  The HTTP API under ``/api`` uses the same
tokens (``Authorization: Bearer ...`` or ``?token=``).  This module only moves
bytes and enforces access and limits; sync logic is in ``cowrite.protocol`` and
durability in ``cowrite.store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..engine import CowriteError, Document, Op
from ..engine.encoding import encode_patch
from ..protocol import ErrorCode, Join, Ops, ProtocolError, Role, encode_frame
from ..protocol.server import Send, ServerSession, error_frame, parse_join
from ..store import CorruptionError, DocumentExists, DocumentNotFound, InvalidDocumentId, Store, check_doc_id
from .auth import AuthError, Grant, verify_token
from .metrics import Metrics
from .rooms import Limits, RoomHandle, Rooms

__all__ = ["Server"]

log = logging.getLogger("cowrite.server")

_ROLES = {"owner": Role.OWNER, "editor": Role.EDITOR, "viewer": Role.VIEWER}
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


def _token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return query.get("token")


class Server:
    """Everything one server process holds: store, rooms, metrics, settings."""

    def __init__(
        self,
        store: Store,
        secret: bytes,
        *,
        limits: Limits | None = None,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        self.store = store
        self.secret = secret
        self.limits = limits or Limits()
        self.allowed_origins = allowed_origins
        self.metrics = Metrics()
        self.rooms = Rooms(store, self.metrics, self.limits)
        self.app = Starlette(
            routes=[
                Route("/", self.index),
                Route("/health", self.health),
                Route("/metrics", self.metrics_endpoint),
                Route("/api/docs", self.list_docs, methods=["GET"]),
                Route("/api/docs", self.create_doc, methods=["POST"]),
                Route("/api/docs/{doc_id}", self.get_doc, methods=["GET"]),
                Route("/api/docs/{doc_id}", self.delete_doc, methods=["DELETE"]),
                Route("/api/docs/{doc_id}/text", self.get_text, methods=["GET"]),
                Route("/api/docs/{doc_id}/history", self.get_history, methods=["GET"]),
                Route("/api/docs/{doc_id}/edit", self.edit_doc, methods=["POST"]),
                WebSocketRoute("/ws/{doc_id}", self.websocket),
            ],
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
            grant = verify_token(self.secret, _token(ws.headers, ws.query_params))
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
            session, sends = await self.rooms.admit(handle, join, grant.user, _ROLES[grant.role], grant.name)
            session.tag = conn
            _deliver(sends)
        if not session.joined:
            return None, None
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

    def _grant(self, request: Request, doc_id: str | None = None) -> Grant:
        grant = verify_token(self.secret, _token(request.headers, request.query_params))
        if doc_id is None and grant.doc != "*":
            raise _HTTPError(403, "forbidden", "this needs a token for every document (doc '*')")
        if doc_id is not None and not grant.allows(doc_id):
            raise _HTTPError(403, "forbidden", f"your token does not grant document {doc_id!r}")
        return grant

    async def index(self, request: Request) -> Response:
        return PlainTextResponse(
            "cowrite collaboration server\n\n"
            "WebSocket sync:  /ws/{doc_id}?token=...   (see PROTOCOL.md)\n"
            "HTTP API:        /api/docs, /api/docs/{doc_id}[/text|/history|/edit]\n"
            "Health, metrics: /health, /metrics\n"
            "Tokens:          cowrite token --user NAME [--doc ID] [--role editor]\n"
        )

    async def health(self, request: Request) -> Response:
        try:
            await asyncio.to_thread(self.store.exists, "health-check")
        except Exception as exc:
            return JSONResponse({"status": "error", "store": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "rooms": len(self.rooms)})

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def list_docs(self, request: Request) -> Response:
        return await _guard(self._list_docs(request))

    async def _list_docs(self, request: Request) -> Response:
        self._grant(request)
        docs = await asyncio.to_thread(self.store.list)
        return JSONResponse({"documents": [_info(d) for d in docs]})

    async def create_doc(self, request: Request) -> Response:
        return await _guard(self._create_doc(request))

    async def _create_doc(self, request: Request) -> Response:
        grant = self._grant(request)
        if not grant.can_write:
            raise _HTTPError(403, "forbidden", "viewers cannot create documents")
        body = await _json(request)
        doc_id = body.get("id")
        info = await asyncio.to_thread(self.store.create, check_doc_id(doc_id))
        return JSONResponse(_info(info), status_code=201)

    async def get_doc(self, request: Request) -> Response:
        return await _guard(self._get_doc(request))

    async def _get_doc(self, request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        self._grant(request, doc_id)
        handle = await self.rooms.get(doc_id)
        doc = handle.room.doc
        return JSONResponse({"id": doc_id, "text": doc.text, "version": _version(doc), "length": len(doc)})

    async def delete_doc(self, request: Request) -> Response:
        return await _guard(self._delete_doc(request))

    async def _delete_doc(self, request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        grant = self._grant(request, doc_id)
        if not grant.is_owner:
            raise _HTTPError(403, "forbidden", "only an owner may delete a document")
        handle = self.rooms.loaded(doc_id)
        if handle is not None:
            async with handle.lock:
                for s in list(handle.room.sessions):
                    _deliver([Send(s, error_frame(ErrorCode.NOT_FOUND, "the document was deleted", fatal=True), True)])
                self.rooms.drop(doc_id)
        await asyncio.to_thread(self.store.delete, doc_id)
        return Response(status_code=204)

    async def get_text(self, request: Request) -> Response:
        return await _guard(self._get_text(request))

    async def _get_text(self, request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        self._grant(request, doc_id)
        handle = await self.rooms.get(doc_id)
        return PlainTextResponse(handle.room.doc.text)

    async def get_history(self, request: Request) -> Response:
        return await _guard(self._get_history(request))

    async def _get_history(self, request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        self._grant(request, doc_id)
        handle = await self.rooms.get(doc_id)
        changes = handle.room.doc.changes()
        return JSONResponse(
            {
                "changes": [
                    {
                        "agent": c.agent,
                        "start": c.start,
                        "end": c.end,
                        "time": c.time,
                        "inserted": c.inserted,
                        "deleted": c.deleted,
                        "version": [list(v) for v in c.version],
                    }
                    for c in changes
                ]
            }
        )

    async def edit_doc(self, request: Request) -> Response:
        return await _guard(self._edit_doc(request))

    async def _edit_doc(self, request: Request) -> Response:
        """Apply ``{"pos", "delete", "insert"}`` at the current text, as agent ``api:<user>``.

        It goes through the room like any client's batch: persisted, then
        broadcast to everyone connected.
        """
        doc_id = request.path_params["doc_id"]
        grant = self._grant(request, doc_id)
        if not grant.can_write:
            raise _HTTPError(403, "forbidden", "viewers cannot edit this document")
        body = await _json(request)
        pos, n_del, ins = body.get("pos"), body.get("delete", 0), body.get("insert", "")
        if type(pos) is not int or type(n_del) is not int or not isinstance(ins, str):
            raise _HTTPError(400, "bad_op", "expected {'pos': int, 'delete': int, 'insert': str}")
        handle = await self.rooms.get(doc_id)
        agent = f"api:{grant.user}"[:256]
        room = handle.room
        # One lock hold from reading the version to the durable commit: concurrent edits
        # of one user must not take the same seq (the second join superseded the first
        # session, whose batch was then dropped silently), and a room unloaded meanwhile
        # must not be written to.
        async with handle.lock:
            if not self.rooms.is_live(handle):
                raise _HTTPError(503, "internal", "the document is reloading; retry")
            base = room.doc
            seq = base.oplog.cg.next_seq(agent)
            parents = base.version
            now = int(time.time())
            ops: list[Op] = []
            if n_del:
                ops.append(Op.delete(agent, seq, parents, pos, n_del, time=now))
                parents = ((agent, seq + n_del - 1),)
                seq += n_del
            if ins:
                ops.append(Op.insert(agent, seq, parents, pos, ins, time=now))
            session, sends = await self.rooms.admit(handle, Join(doc_id, agent, base.summary()), grant.user, _ROLES[grant.role])
            if not session.joined:
                raise _HTTPError(403, "forbidden", f"agent {agent!r} belongs to another user")
            try:
                if ops:
                    frame = encode_frame(Ops(1, encode_patch(ops)))
                    pending = await self.rooms.run_locked(handle, lambda: room.submit(session, frame), _deliver)
                    if pending.error is not None:
                        raise _HTTPError(400, pending.error.code.name.lower(), pending.error.message)
            finally:
                if session.joined and not room.failed:
                    room.leave(session)  # an API session has no presence to announce
        return JSONResponse({"version": _version(room.doc), "length": len(room.doc)})


class _HTTPError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def _guard(coro: Any) -> Response:
    """Map errors to JSON ``{"error": code, "message": ...}`` responses."""
    try:
        result: Response = await coro
        return result
    except _HTTPError as exc:
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status)
    except AuthError as exc:
        return JSONResponse({"error": "unauthorized", "message": str(exc)}, status_code=401)
    except InvalidDocumentId as exc:
        return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)
    except DocumentNotFound as exc:
        return JSONResponse({"error": "not_found", "message": str(exc)}, status_code=404)
    except DocumentExists as exc:
        return JSONResponse({"error": "exists", "message": str(exc)}, status_code=409)
    except CorruptionError as exc:
        log.error("%s", exc)
        return JSONResponse({"error": "corrupt", "message": "the stored document failed verification"}, status_code=500)
    except CowriteError as exc:
        return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except Exception:
        raise _HTTPError(400, "bad_request", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _HTTPError(400, "bad_request", "the body must be a JSON object")
    return body


def _version(doc: Document) -> list[list[object]]:
    return [[a, s] for a, s in doc.version]


def _info(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "ops": d.ops_count,
        "length": d.text_length,
    }
