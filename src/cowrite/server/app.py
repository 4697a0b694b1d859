"""The collaboration server: WebSocket sync, HTTP API, web pages, metrics (Starlette on uvicorn).

``/ws/{doc_id}?token=...`` speaks the protocol of PROTOCOL.md (one binary
WebSocket message per frame).  The HTTP API under ``/api`` (``api.py``) uses the
same tokens (``Authorization: Bearer ...`` or ``?token=``); without a token, both
take the session cookie of a signed-in account (``identity.py``; sign-in is
``signin.py``'s ``/api/auth``).  What a caller may do to a document is decided in
``access.py`` (memberships and links: :class:`~cowrite.accounts.Sharing`; sharing's
HTTP API is ``sharing_api.py``).  A socket signed in by cookie is closed (fatal
``unauthorized``) when its session ends, and a socket whose user lost access to its
document (fatal ``forbidden``) or got another role (non-fatal ``bad_state``: the
client joins again and gets the new role in WELCOME) as soon as that happens
(``live.py``).  The browser editor's pages
and files are ``web.py``'s.  This module only moves bytes and enforces access and
limits; sync logic is in ``cowrite.protocol``, accounts in ``cowrite.accounts``
and durability in ``cowrite.store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Mapping
from typing import Any

from prometheus_client import Counter

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope
from starlette.types import Send as ASGISend
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..accounts import SIGNUP_MODES, Accounts, Sharing, Tokens
from ..engine.suggestions import SUGGESTION_AGENT_PREFIX
from ..errors import ConfigError
from ..protocol import ErrorCode, ProtocolError
from ..protocol.messages import MsgType
from ..protocol.server import Send, ServerSession, error_frame, parse_join
from ..store import CorruptionError, DocumentNotFound, InvalidDocumentId, Store, StoreError
from . import web
from .access import GUEST_ROLES, Access, DocAccess, link_key_from, token_from
from .api import HttpApi
from .auth import AuthError
from .bounds import BodyLimit
from .comments import CommentsApi
from .fanout import Fanout
from .identity import Caller, Identities
from .live import DocSockets, LiveSessions
from .metrics import Metrics
from .origins import Origins
from .rooms import Limits, RoomHandle, Rooms
from .sharing_api import SharingApi
from .versions import VersionsApi
from .suggestions import SuggestionsApi
from .signin import AuthApi
from .storehealth import StoreHealth
from .transfer import Transfer

__all__ = ["Connection", "Server"]

log = logging.getLogger("cowrite.server")

_JOIN_TIMEOUT = 30.0
_PRESENCE = bytes([MsgType.PRESENCE])
_OPS = bytes([MsgType.OPS])
_STORE_DOWN = "this server cannot reach its store, so it cannot acknowledge edits; your edits are kept: retry"


class _StoreGate:
    """ASGI middleware: while the store breaker is open, ``/api/`` requests are answered
    503 at once instead of each waiting (in a worker thread) for a store that does not
    answer.  Pages, ``/health``, ``/ready`` and ``/metrics`` pass."""

    def __init__(self, app: ASGIApp, health: StoreHealth) -> None:
        self.app = app
        self.health = health

    async def __call__(self, scope: Scope, receive: Receive, send: ASGISend) -> None:
        if scope["type"] == "http" and not self.health.up and str(scope.get("path", "")).startswith("/api/"):
            body = {"error": "internal", "message": "the server cannot reach its storage; retry"}
            await JSONResponse(body, status_code=503, headers={"Retry-After": "1"})(scope, receive, send)
            return
        await self.app(scope, receive, send)


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


class _Resumed:
    """The rest of a coroutine started by hand (:meth:`Connection._write_now`) that
    suspended on ``waiting``: awaiting this runs it to its end, as ``await`` would have."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: object) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, None]:
        coro = self.coro
        step: Callable[[Any], Any] = coro.send
        arg: Any = None
        try:
            arg = yield self.waiting  # the future it waits for, to the awaiting task
        except BaseException as exc:  # noqa: BLE001 - e.g. a cancellation: into the coroutine
            step, arg = coro.throw, exc
        while True:
            try:
                waiting = step(arg)
            except StopIteration:
                return
            step = coro.send
            try:
                arg = yield waiting
            except BaseException as exc:  # noqa: BLE001
                step, arg = coro.throw, exc


class Connection:
    """One WebSocket: an outbox drained by a writer task, so a room never waits on a socket.

    A frame sent while nothing is queued and the writer is idle is written at once
    (the socket's send is run by hand: it completes without waiting unless the
    transport is paused), which spares a wake-up of the writer task per frame; if
    it has to wait, the writer finishes it and later frames queue behind it.

    The outbox counts bytes.  A connection with more than ``max_bytes`` of frames
    queued is not reading them (or cannot keep up): it is cut off.  Its queue is
    dropped, a fatal ``ERROR too_large`` is all that is left to send, and
    ``on_cut_off`` (set by the handler) stops its reader.  A single frame larger
    than ``max_bytes`` is queued when nothing else is.

    A connection whose session ended is revoked (:meth:`revoke`): the same, with a fatal
    ``ERROR unauthorized``; a frame it sent that was not yet applied is not applied.
    """

    def __init__(self, ws: WebSocket, max_bytes: int) -> None:
        self.ws = ws
        self.max_bytes = max_bytes
        self.outbox: deque[tuple[bytes, bool]] = deque()
        self.queued = 0  # bytes in the outbox
        self.closing = False
        self.cut_off = False
        self.revoked = False
        self.reading = False  # the handler is waiting for the peer's next frame
        self.on_cut_off: Callable[[], object] | None = None  # stops the reader (cut off or revoked)
        self._wakeup = asyncio.Event()
        self._finished = False
        self._idle = False  # the writer waits for frames, and none is queued or being written
        self._stalled: _Resumed | Exception | None = None  # a direct write that must wait (or failed): written next
        self._stalled_bytes = 0
        self.unwatch: Callable[[], None] = lambda: None  # stops watching its session (cookie sign-ins)
        self.unwatch_doc: Callable[[], None] = lambda: None  # stops watching its access to the document
        self.access_checked = asyncio.Event()  # cleared while a change of its access is checked
        self.access_checked.set()
        self.draining = False  # the server is shutting down: read no more frames
        self.close_code = 1000  # the WebSocket close code the writer ends with

    def send(self, data: bytes, close: bool = False) -> None:
        if self.closing:
            return
        if self._idle and not close:
            self._write_now(data)
            return
        if self.outbox and self.queued + len(data) > self.max_bytes:
            self._cut_off()
            return
        self.outbox.append((data, close))
        self.queued += len(data)
        self._wakeup.set()
        if close:
            self.closing = True

    def _write_now(self, data: bytes) -> None:
        """Write ``data`` from here, without the writer task (it is idle).  A send that
        must wait (the peer reads slowly) or fails is handed to the writer, which
        finishes it (or meets its error) before anything queued after it."""
        coro = self.ws.send_bytes(data)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return
        except Exception as exc:  # the writer reports it and stops, as for its own sends
            self._stalled = exc
        else:
            self._stalled = _Resumed(coro, waiting)
            self._stalled_bytes = len(data)
            self.queued += len(data)
        self._idle = False
        self._wakeup.set()

    def _cut_off(self) -> None:
        log.warning(
            "client too slow: %d bytes of frames queued (limit %d); disconnecting it", self.queued, self.max_bytes
        )
        self.outbox.clear()
        err = error_frame(ErrorCode.TOO_LARGE, f"more than {self.max_bytes} bytes queued for this connection", fatal=True)
        self.outbox.append((err, True))
        self.queued = len(err)
        self.closing = self.cut_off = True
        self._wakeup.set()
        if self.on_cut_off is not None:
            self.on_cut_off()

    def revoke(self, reason: str, code: ErrorCode = ErrorCode.UNAUTHORIZED, *, fatal: bool = True) -> None:
        """The session this connection was signed in with ended, or its access to the
        document changed: tell the peer (by default a fatal ``unauthorized``), close, and
        stop reading its frames (one not yet applied is not applied)."""
        if self.closing:
            return
        self.revoked = True
        self.send(error_frame(code, reason, fatal=fatal), close=True)
        if self.on_cut_off is not None:
            self.on_cut_off()

    def finish(self) -> None:
        """Nothing more will be queued: the writer ends once the outbox is empty."""
        self._finished = True
        self._wakeup.set()

    def drain(self) -> None:
        """The server is shutting down: read no more frames (one being handled still
        reaches its commit, and its ACK is sent), then close with 1012 (service restart)
        once everything queued is written, so the client reconnects at once, elsewhere."""
        if self.draining:
            return
        self.draining = True
        self.close_code = 1012
        if self.on_cut_off is not None:
            self.on_cut_off()  # stops the reader if it is waiting for a frame

    async def writer(self) -> None:
        try:
            while True:
                stalled = self._stalled
                if stalled is not None:
                    self._stalled = None
                    if isinstance(stalled, Exception):
                        raise stalled
                    await stalled
                    self.queued = max(0, self.queued - self._stalled_bytes)
                    self._stalled_bytes = 0
                    continue
                if not self.outbox:
                    if self._finished:
                        if self.draining:  # tell the client to go elsewhere at once
                            with contextlib.suppress(Exception):  # it may have gone already
                                await self.ws.close(self.close_code)
                        return
                    self._wakeup.clear()
                    self._idle = not self.closing
                    try:
                        await self._wakeup.wait()
                    finally:
                        self._idle = False
                    continue
                data, close = self.outbox.popleft()
                self.queued -= len(data)
                await self.ws.send_bytes(data)
                if close:
                    await self.ws.close(self.close_code)
                    return
        except WebSocketDisconnect:  # the peer went away; the reader notices too
            log.debug("writing to a closed connection", exc_info=True)
        except Exception:
            log.exception("writing to a connection failed")


def _deliver(sends: list[Send]) -> None:
    for s in sends:
        conn = s.session.tag
        if isinstance(conn, Connection):
            conn.send(s.data, s.close)


class Server:
    """Everything one server process holds: store, rooms, metrics, settings.

    ``guests`` is the role of the guest tokens ``POST /api/session`` hands out to
    anyone who types a name (``"none"``: no guests; pages then need ``?token=``),
    ``guest_hosts`` the host names they are handed out on (empty: any; see
    :class:`~cowrite.server.api.HttpApi`).  ``signup`` is who may create an account
    (``open``, ``invite``: with an invite code, ``closed``); ``accounts`` the accounts
    service (default: one on ``store``); ``secure_cookies`` marks the session cookie
    ``Secure`` even on plain-http requests (behind a proxy that ends TLS and does not
    say so; over https it is always marked).

    Several servers on one store: ``shared`` (the store is shared with other servers, e.g.
    PostgreSQL) makes rooms catch up from the store's log before a join, an HTTP request
    or a snapshot, and polls it every ``Limits.poll_seconds``; ``redis_url`` adds commit
    notices through Redis pub/sub (channel ``<redis_prefix>:commits``), polling then
    only while Redis is down (``fanout.py``).
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
        signup: str = "invite",
        accounts: Accounts | None = None,
        sharing: Sharing | None = None,
        tokens: Tokens | None = None,
        secure_cookies: bool = False,
        shared: bool = False,
        redis_url: str | None = None,
        server_id: str | None = None,
        redis_prefix: str = "cowrite",
    ) -> None:
        if guests not in GUEST_ROLES:
            raise ConfigError(f"guests must be one of {', '.join(GUEST_ROLES)}, not {guests!r}")
        if signup not in SIGNUP_MODES:
            raise ConfigError(f"signup must be one of {', '.join(SIGNUP_MODES)}, not {signup!r}")
        self.store = store
        self.secret = secret
        self.limits = limits or Limits()
        self.allowed_origins = allowed_origins
        self.origins = Origins(allowed_origins)
        self.guests = guests
        self.signup = signup
        self.accounts = accounts if accounts is not None else Accounts(store)
        clock = self.accounts.clock
        self.sharing = sharing if sharing is not None else Sharing(store, self.accounts, clock=clock)
        self.tokens = tokens if tokens is not None else Tokens(store, self.accounts, clock=clock)
        self.access = Access(self.sharing)
        self.identities = Identities(secret, self.accounts, self.origins, self.tokens, secure_cookies=secure_cookies)
        self.live = LiveSessions(self.accounts, self.limits.session_check_seconds)
        self.doc_sockets = DocSockets(self.limits.session_check_seconds)
        self.sharing.on_change(self.doc_sockets.changed)
        # a revoked token or a disabled account: the user's token sockets are checked at once
        self.tokens.on_revoke(self.doc_sockets.user_changed)
        self.accounts.on_revoke(lambda user, _keys: self.doc_sockets.user_changed(user))
        self.metrics = Metrics()
        self._frame_counters: dict[int, Counter] = {}
        """``metrics.frames`` by frame type byte (-1: too short), looked up once per type
        rather than per frame (``labels()`` costs several times the ``inc()``)."""
        self.rooms = Rooms(store, self.metrics, self.limits, _deliver, shared=shared or redis_url is not None)
        self.fanout: Fanout | None = None
        if self.rooms.shared:
            self.fanout = Fanout(
                self.rooms, self.metrics, self.limits, redis_url=redis_url, server_id=server_id, prefix=redis_prefix
            )
            self.rooms.api_agent_suffix = "~" + self.fanout.server_id
        self.draining = False
        """SIGTERM: the server is closing its connections (:meth:`drain`); ``/ready`` is 503."""
        self._live: set[Connection] = set()  # joined connections (drained on shutdown)
        self.presence = None if self.fanout is None else self.fanout.presence
        """Presence across servers (with ``redis_url``): ``presence.py``."""
        self.api = HttpApi(
            store,
            self.rooms,
            secret,
            self.identities,
            self.access,
            guests=guests,
            guest_hosts=guest_hosts,
            max_request_bytes=self.limits.max_request_bytes,
        )
        self.auth_api = AuthApi(
            self.accounts,
            self.identities,
            self.origins,
            self.api,
            signup=signup,
            max_request_bytes=self.limits.max_request_bytes,
        )
        self.sharing_api = SharingApi(
            self.accounts,
            self.sharing,
            self.tokens,
            self.identities,
            self.api,
            max_request_bytes=self.limits.max_request_bytes,
        )
        self.transfer = Transfer(self.api)  # export and import of files (transfer.py)
        self.comments = CommentsApi(  # comments on a text range (comments.py)
            store, self.rooms, self.api, clock=self.accounts.clock, max_request_bytes=self.limits.max_request_bytes
        )
        self.versions_api = VersionsApi(self.api, max_request_bytes=self.limits.max_request_bytes)
        """Restore, named versions, diffs and titles: ``versions.py``."""
        self.suggestions_api = SuggestionsApi(self.api, max_request_bytes=self.limits.max_request_bytes)
        """Suggestions: edits on a branch, accepted or rejected (``suggestions.py``)."""
        if self.fanout is not None:  # comment and suggestion changes through Redis at once
            fanout = self.fanout
            fanout.on_change.update(comments=self.comments.notify, suggestions=self.suggestions_api.notify)
            self.comments.announce = lambda doc_id, rev: fanout.publish_change(doc_id, "comments", rev)
            self.suggestions_api.announce = lambda doc_id, rev: fanout.publish_change(doc_id, "suggestions", rev)
        self.app = Starlette(
            routes=[
                Route("/health", self.health),
                Route("/ready", self.ready),
                Route("/metrics", self.metrics_endpoint),
                *self.api.routes(),
                *self.auth_api.routes(self.metrics),
                *self.sharing_api.routes(self.metrics),
                *self.versions_api.routes(self.metrics),
                *self.comments.routes(self.metrics),
                *self.suggestions_api.routes(self.metrics),
                *self.transfer.routes(self.metrics),
                WebSocketRoute("/ws/{doc_id}", self.websocket),
                *web.routes(),
            ],
            middleware=[
                Middleware(web.SecurityHeaders),
                Middleware(BodyLimit, max_bytes=self.limits.max_request_bytes),
                Middleware(_StoreGate, health=self.rooms.health),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(self._reap()),
            asyncio.create_task(self.live.run()),
            asyncio.create_task(self.doc_sockets.run()),
            asyncio.create_task(self.rooms.health.run()),
        ]
        if self.fanout is not None:
            tasks.append(asyncio.create_task(self.fanout.run()))
        if self.rooms.shared:  # other servers' comment and suggestion changes reach this one's sockets
            tasks.append(asyncio.create_task(self.comments.run(self.limits.reconcile_seconds)))
            tasks.append(asyncio.create_task(self.suggestions_api.run(self.limits.reconcile_seconds)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.rooms.close()

    async def drain(self, timeout: float | None = None) -> None:
        """Shut down gently (on SIGTERM, before the sockets are closed; see ``drain.py``):
        ``/ready`` answers 503 and new JOINs are refused; every joined connection stops
        reading frames, a frame already being handled reaches its commit and its ACK is
        sent, then the connection is closed with 1012 (service restart: its client
        reconnects at once, to another server if it can, and resends what was not
        acknowledged).  Returns once every joined connection has closed, or after
        ``timeout`` (default ``Limits.drain_seconds``)."""
        self.draining = True
        live = list(self._live)
        log.warning("draining: closing %d connection(s) once their commits are acknowledged", len(live))
        for conn in live:
            conn.drain()
        deadline = asyncio.get_running_loop().time() + (self.limits.drain_seconds if timeout is None else timeout)
        while self._live and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        if self._live:
            log.warning("draining: %d connection(s) still open after the deadline", len(self._live))

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.limits.idle_unload_seconds / 4))
            try:
                await self.rooms.unload_idle()
            except Exception:  # pragma: no cover - keep reaping
                log.exception("unloading idle rooms failed")

    # -- WebSocket -------------------------------------------------------------------

    def _origin_ok(self, headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> bool:
        """Browsers send Origin; a page from another site must not use a user's token,
        nor ride on a session cookie (``'*'`` never lets it: :class:`Origins`).
        Clients that send no Origin (programs) are not browsers and are let through."""
        if token_from(headers, query or {}) is not None:
            return self.origins.token_ok(headers)
        return self.origins.cookie_ok(headers)

    async def websocket(self, ws: WebSocket) -> None:
        if not self._origin_ok(ws.headers, ws.query_params):
            await ws.close(code=1008)  # before accept: the upgrade is refused with 403
            return
        await ws.accept()
        conn = Connection(ws, self.limits.max_outbox_bytes)
        writer = asyncio.create_task(conn.writer())
        self.metrics.connections.inc()
        try:
            handle, session = await self._join(ws, conn)
            if handle is not None and session is not None:
                serving = asyncio.create_task(self._member(ws, conn, handle, session))
                self._live.add(conn)
                serving.add_done_callback(lambda _: self._live.discard(conn))

                def stop_reading() -> None:
                    # Only while it waits for a frame: never in the middle of a room step
                    # (which must reach its commit); busy, it sees ``closing`` next.
                    if conn.reading:
                        serving.cancel()

                conn.on_cut_off = stop_reading  # a connection cut off (or revoked) stops reading too
                if self.draining:  # joined while the server began to shut down
                    conn.drain()
                try:
                    await serving
                except asyncio.CancelledError:
                    if not (conn.cut_off or conn.revoked or conn.draining):
                        raise
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("connection failed")
            self.metrics.internal_errors.inc()
            conn.send(error_frame(ErrorCode.INTERNAL, "internal server error; reconnect"), close=True)
        finally:
            conn.unwatch()
            conn.unwatch_doc()
            if conn.cut_off:
                writer.cancel()  # it may wait for ever on a peer that does not read
            else:
                conn.finish()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self.metrics.connections.dec()

    async def _member(self, ws: WebSocket, conn: Connection, handle: RoomHandle, session: ServerSession) -> None:
        """A joined connection, until it ends: its frames, then leaving the room."""
        handle.connections += 1
        try:
            await self.api.remember_name(session.user, session.name)
            await self._serve(ws, conn, handle, session)
        finally:
            handle.connections -= 1
            handle.idle_since = time.monotonic()
            if session.joined:
                async with handle.lock:
                    room = session.room  # the room it is in now (a reload moves it)
                    if session.joined and not room.failed:
                        _deliver(room.leave(session))
            if self.presence is not None:  # gone on the other servers too
                self.presence.left(handle.doc_id, session)

    def _refuse(self, conn: Connection, code: ErrorCode, message: str, *, fatal: bool = True) -> tuple[None, None]:
        """Refuse a connection before it joined: an ERROR, then close.  Not ``fatal``:
        the client may retry (e.g. the document is reloading)."""
        self.metrics.errors.labels(code=code.name.lower()).inc()
        conn.send(error_frame(code, message, fatal=fatal), close=True)
        return None, None

    async def _join(self, ws: WebSocket, conn: Connection) -> tuple[RoomHandle | None, ServerSession | None]:
        doc_id = ws.path_params["doc_id"]
        if self.draining:
            conn.close_code = 1012
            return self._refuse(conn, ErrorCode.INTERNAL, "this server is shutting down; reconnect", fatal=False)
        if not self.rooms.health.up:  # before the sign-in and access lookups, which need the store too
            return self._refuse(conn, ErrorCode.INTERNAL, _STORE_DOWN, fatal=False)
        try:
            caller = await self.identities.caller(ws)
        except AuthError as exc:
            return self._refuse(conn, ErrorCode.UNAUTHORIZED, str(exc))
        except StoreError as exc:
            log.warning("looking up a session failed: %s", exc)
            return self._refuse(conn, ErrorCode.INTERNAL, "the server could not check your sign-in; retry", fatal=False)
        if caller.session is not None and caller.session_id is not None:
            def revoke(reason: str) -> None:
                self.metrics.errors.labels(code="unauthorized").inc()
                conn.revoke(reason)

            conn.unwatch = self.live.watch(caller.session.key, caller.session_id, revoke)
        grant = caller.grant
        link_key = link_key_from(ws.query_params)
        try:
            access = await asyncio.to_thread(self.access.access, caller, doc_id, link_key)
        except StoreError as exc:
            log.warning("looking up the access to %r failed: %s", doc_id, exc)
            return self._refuse(conn, ErrorCode.INTERNAL, "the server could not check your access; retry", fatal=False)
        if access is None:
            return self._refuse(conn, ErrorCode.FORBIDDEN, f"you have no access to document {doc_id!r}")
        if self.doc_sockets.held_by(grant.user) >= self.limits.max_sockets_per_user:
            return self._refuse(
                conn,
                ErrorCode.RATE_LIMITED,
                f"you have {self.limits.max_sockets_per_user} connections open to this server already; close some tabs",
                fatal=False,
            )
        conn.unwatch_doc = self._watch_access(conn, caller, doc_id, link_key, access)
        try:
            first = await asyncio.wait_for(self._receive(ws), _JOIN_TIMEOUT)
        except asyncio.TimeoutError:
            return self._refuse(conn, ErrorCode.BAD_STATE, "no JOIN within 30 seconds")
        if first is None or conn.revoked:
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
        if join.agent.startswith(SUGGESTION_AGENT_PREFIX):
            # A suggestion's ops are made by its own agent, listed to everyone who reads
            # the document: a client typing as one would take it over (and block its accept).
            return self._refuse(conn, ErrorCode.FORBIDDEN, f"agents named '{SUGGESTION_AGENT_PREFIX}...' are reserved for suggestions")
        try:
            async with self.rooms.locked(doc_id) as handle:
                session, sends = await self.rooms.admit(handle, join, grant.user, access.protocol, grant.name)
                session.tag = conn
                _deliver(sends)
                if self.presence is not None and session.joined:  # other servers' connections
                    _deliver(self.presence.joined(doc_id, session))
        except (DocumentNotFound, InvalidDocumentId):
            return self._refuse(conn, ErrorCode.NOT_FOUND, f"no document {doc_id!r}")
        except CorruptionError as exc:
            log.error("%s", exc)
            return self._refuse(conn, ErrorCode.INTERNAL, "the stored document failed verification; not served")
        except StoreError as exc:  # the store failed to load the room or to claim the agent
            log.warning("joining %r failed: %s", doc_id, exc)
            return self._refuse(conn, ErrorCode.INTERNAL, "the server could not open the document; retry", fatal=False)
        if not session.joined:
            return None, None
        return handle, session

    def _watch_access(self, conn: Connection, caller: Caller, doc_id: str, link_key: str | None, access: DocAccess) -> Callable[[], None]:
        """Close ``conn`` when its caller's access to ``doc_id`` ends (fatal ``forbidden``:
        the client stops, keeping its text) or its role changes (non-fatal ``bad_state``:
        the client joins again, and WELCOME brings the new role)."""

        def react(role: str | None) -> None:
            if role is None:
                self.metrics.errors.labels(code="forbidden").inc()
                conn.revoke(f"you no longer have access to document {doc_id!r}", ErrorCode.FORBIDDEN)
            else:
                self.metrics.errors.labels(code="bad_state").inc()
                conn.revoke(f"your role on document {doc_id!r} is now {role}; reconnecting", ErrorCode.BAD_STATE, fatal=False)

        return self.doc_sockets.watch(
            doc_id,
            caller.grant.user,
            caller.via,
            access.protocol,
            lambda: self.access.role(caller, doc_id, link_key),
            react,
            conn.access_checked,
        )

    async def _receive(self, ws: WebSocket) -> bytes | str | None:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return None
        data = msg.get("bytes")
        if data is not None:
            return bytes(data)
        return str(msg.get("text") or "")

    async def _serve(self, ws: WebSocket, conn: Connection, handle: RoomHandle, session: ServerSession) -> None:
        limits = self.limits
        bucket = _Bucket(limits.messages_per_second, limits.message_burst)
        while not session.closed and not conn.closing and not conn.draining:
            conn.reading = True
            try:
                data = await self._receive(ws)
            finally:
                conn.reading = False
            if data is None:
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
            kind = data[1] if len(data) > 1 else -1
            counter = self._frame_counters.get(kind)
            if counter is None:
                counter = self._frame_counters[kind] = self.metrics.frames.labels(type=str(kind) if kind >= 0 else "short")
            counter.inc()
            if not conn.access_checked.is_set():  # a change of its access is being checked
                await conn.access_checked.wait()
                if conn.revoked:
                    return
            async with handle.lock:
                # (A room being reloaded after a bug is live again once its lock is free.)
                if not self.rooms.is_live(handle):
                    conn.send(error_frame(ErrorCode.INTERNAL, "the document was unloaded; reconnect"), True)
                    return
                if data[1:2] == _OPS and not self.rooms.health.up:  # nothing could be acknowledged
                    self.metrics.errors.labels(code="internal").inc()
                    conn.send(error_frame(ErrorCode.INTERNAL, _STORE_DOWN), True)
                    return
                if conn.revoked:  # the session ended (or access changed) while this frame waited
                    return
                await self.rooms.run_locked(handle, lambda: handle.room.submit(session, data, limits.max_message_bytes))
                if self.presence is not None and data[1:2] == _PRESENCE and session.joined:
                    self.presence.local(handle.doc_id, session)  # to the other servers (coalesced)

    # -- HTTP ------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        try:
            await asyncio.to_thread(self.store.exists, "health-check")
        except Exception:  # the reason goes to the log, not to anyone who asks (hosts, paths)
            log.warning("health check: the store does not answer", exc_info=True)
            return JSONResponse({"status": "error", "store": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "rooms": len(self.rooms)})

    async def ready(self, request: Request) -> Response:
        """Readiness for a load balancer: 200 while the store answers (Redis down included:
        ``fanout`` says ``polling``), 503 ``{"store": "unavailable"}`` while the store
        breaker is open (nothing would be acknowledged here: ``storehealth.py``) and 503
        ``{"status": "draining"}`` while the server shuts down.  ``fanout``: ``none`` (one
        server), ``polling`` (a shared store without Redis, or Redis down) or ``redis``;
        ``server``: the cluster's name for this server (``--server-id``), in cluster mode."""
        fanout = "none"
        named: dict[str, str] = {}
        if self.fanout is not None:
            fanout = "redis" if self.fanout.healthy else "polling"
            named["server"] = self.fanout.server_id
        if self.draining:
            return JSONResponse({"status": "draining", "fanout": fanout, **named}, status_code=503)
        # The store breaker's probe (a thread of its own, cut off after a deadline): asking
        # the store in a worker thread here would tie one up per check against a database
        # that swallows packets, and a load balancer checks often.
        if not await self.rooms.health.check():
            return JSONResponse({"status": "unready", "store": "unavailable", "fanout": fanout, **named}, status_code=503)
        return JSONResponse({"status": "ready", "rooms": len(self.rooms), "fanout": fanout, **named})

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")
