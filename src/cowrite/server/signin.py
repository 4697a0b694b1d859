"""``/api/auth``: sign-up, sign-in, sign-out, password change, who am I, and the pages' settings.

The rules (passwords, throttling, sessions) are :class:`~cowrite.accounts.Accounts`'s;
this module is the HTTP around them, and the cookie:

* Sign-in and sign-up answer with a *new* session in the ``cowrite_session`` cookie
  and revoke the session the request came in with, if any: a session id planted in a
  browser before sign-in (session fixation) is never the one signed in.
* They have no session yet, so no CSRF token: they need a JSON body (another site's
  form cannot send one without asking first) and an ``Origin`` -- or, without one, a
  ``Referer`` -- of this server (:meth:`Origins.login_ok`), or ``403 csrf``.  That
  keeps other sites from signing a browser in as their own account (login CSRF).
* Everything else here needs the session of the cookie and its ``X-CSRF-Token``
  (:meth:`Identities.check_csrf`, the rule every cookie-authenticated unsafe request
  of the API meets through :meth:`Identities.caller`).

A failed sign-in is ``401 signin_failed`` with one message whatever was wrong;
too many failures are ``429 throttled`` with ``Retry-After``.  The failure counts are in
the store every server shares; while it cannot be reached, sign-in, sign-up and password
changes are ``503 unavailable`` with ``Retry-After`` (refused, never let through
uncounted).  Bodies are
``{"user", "name", "admin", "role", "colour", "csrf_token", "created_at", "expires_at"}``
(``/me``, sign-in, sign-up) and never cached.  An admin makes sign-up invites with
``POST /api/auth/invites`` (the documents page has a button for it).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..accounts import SIGNUP_MODES, Accounts, SessionInfo
from ..errors import (
    AccountExists,
    AccountNotFound,
    ConfigError,
    InvalidAccount,
    InvalidArgument,
    RequestError,
    SignInFailed,
    SignUpRefused,
    StoreError,
    Throttled,
)
from .access import colour_for
from .api import HttpApi, error_response, guarded, read_json
from .identity import Identities, account_grant
from .metrics import Metrics
from .origins import Origins

__all__ = ["AuthApi", "HashingGate"]

T = TypeVar("T")

_NO_STORE = {"Cache-Control": "no-store"}
INVITE_TTL = 7 * 86400
"""How long an invite made on the documents page can be used (a week)."""

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]

HASHING_SLOTS = 2
"""Password hashes (sign-in, sign-up, password change) run at most this many at a time."""
HASHING_QUEUE = 64
"""Requests that may wait for a slot; beyond, ``429 throttled`` at once."""
STORE_RETRY_AFTER = 5
"""``Retry-After`` (seconds) of a sign-in refused because the store is unavailable."""

log = logging.getLogger(__name__)


class HashingGate:
    """At most ``slots`` password hashes at once, ``queue`` more waiting (else :class:`Throttled`).

    Each argon2id hash takes 64 MiB and a worker thread of the event loop's pool -- the pool
    every store call of the server uses too.  Throttling counts *failures* per address, so a
    flood of correct sign-ins (or of failures from many addresses) would otherwise fill the
    pool and stall every document, socket and page of the server; waiting here costs a
    coroutine, not a thread."""

    def __init__(self, slots: int = HASHING_SLOTS, queue: int = HASHING_QUEUE) -> None:
        if slots < 1 or queue < 0:
            raise ConfigError("the hashing gate needs slots >= 1 and queue >= 0")
        self.slots = slots
        self.queue = queue
        self.waiting = 0
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:  # (one per event loop: tests start several)
            self._sem, self._loop = asyncio.Semaphore(self.slots), loop
        return self._sem

    async def run(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """``fn(*args, **kw)`` in a worker thread, once a slot is free."""
        sem = self._semaphore()
        if sem.locked() and self.waiting >= self.queue:
            raise Throttled(1.0, "sign-ins at once: the server is busy")
        self.waiting += 1
        try:
            await sem.acquire()
        finally:
            self.waiting -= 1
        try:
            task = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kw))
        except BaseException:
            sem.release()
            raise

        def done(t: asyncio.Future[T]) -> None:
            sem.release()  # when the hash is done, not when a caller gave up waiting for it
            if not t.cancelled():
                t.exception()  # (retrieved: a caller that went away does not leave it unread)

        task.add_done_callback(done)
        return await asyncio.shield(task)


def _account_errors(method: Endpoint) -> Endpoint:
    """Answer the accounts service's refusals with their HTTP status (in the API's shape)."""

    async def endpoint(request: Request) -> Response:
        try:
            return await method(request)
        except Throttled as exc:
            wait = max(1, math.ceil(exc.retry_after))
            return error_response(429, "throttled", str(exc), headers={"Retry-After": str(wait)})
        except SignInFailed as exc:
            return error_response(401, "signin_failed", str(exc))
        except InvalidAccount as exc:
            return error_response(400, "bad_account", str(exc))
        except AccountExists as exc:
            return error_response(409, "exists", str(exc))
        except SignUpRefused as exc:
            return error_response(403, "signup_refused", str(exc))
        except AccountNotFound as exc:
            return error_response(404, "not_found", str(exc))
        except InvalidArgument:
            raise  # a request the store refused: the API's 400, not an outage
        except StoreError as exc:
            # Failed attempts cannot be counted, nor the count read: refuse, do not guess.
            log.warning("%s %s refused: the store is unavailable: %s", request.method, request.url.path, exc)
            return error_response(
                503,
                "unavailable",
                "not possible right now: the server cannot reach its storage, where failed attempts are counted; retry shortly",
                headers={"Retry-After": str(STORE_RETRY_AFTER)},
            )

    return endpoint


def _required(body: dict[str, Any], key: str) -> str:
    """``body[key]``, a string (``400 bad_request`` otherwise)."""
    value = body.get(key)
    if not isinstance(value, str):
        raise RequestError(400, "bad_request", f"expected {key!r}: a string")
    return value


def _optional(body: dict[str, Any], key: str) -> str | None:
    """``body[key]`` if it is a non-empty string, ``None`` if absent, null or empty."""
    value = body.get(key)
    if value is None or value == "":
        return None
    return _required(body, key)


class AuthApi:
    """The ``/api/auth`` routes of one server.  ``signup`` is one of :data:`SIGNUP_MODES`;
    ``api`` is the server's :class:`HttpApi` (guest settings, display names)."""

    def __init__(
        self,
        accounts: Accounts,
        identities: Identities,
        origins: Origins,
        api: HttpApi,
        *,
        signup: str = "invite",
        max_request_bytes: int = 256 << 10,
    ) -> None:
        if signup not in SIGNUP_MODES:
            raise ConfigError(f"signup must be one of {', '.join(SIGNUP_MODES)}, not {signup!r}")
        self.accounts = accounts
        self.identities = identities
        self.origins = origins
        self.api = api
        self.signup = signup
        self.max_request_bytes = max_request_bytes
        self.hashing = HashingGate()

    def routes(self, metrics: Metrics) -> list[BaseRoute]:
        def g(method: Endpoint) -> Callable[[Request], Awaitable[Response]]:
            return guarded(_account_errors(method), metrics)

        return [
            Route("/api/auth/config", g(self.config), methods=["GET"]),
            Route("/api/auth/me", g(self.me), methods=["GET"]),
            Route("/api/auth/signup", g(self.sign_up), methods=["POST"]),
            Route("/api/auth/signin", g(self.sign_in), methods=["POST"]),
            Route("/api/auth/signout", g(self.sign_out), methods=["POST"]),
            Route("/api/auth/signout-all", g(self.sign_out_all), methods=["POST"]),
            Route("/api/auth/password", g(self.change_password), methods=["POST"]),
            Route("/api/auth/invites", g(self.create_invite), methods=["POST"]),
        ]

    # -- helpers -----------------------------------------------------------------------

    def _login_request(self, request: Request) -> None:
        """Sign-in and sign-up come from this server's pages, as JSON (see the module)."""
        if not self.origins.login_ok(request.headers):
            raise RequestError(403, "csrf", "sign-in and sign-up are accepted only from this server's own pages")
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind != "application/json":
            raise RequestError(403, "csrf", "sign-in and sign-up take a JSON body (Content-Type: application/json)")

    @staticmethod
    def _me(info: SessionInfo) -> dict[str, Any]:
        return {
            "user": info.user,
            "name": info.name or info.user,
            "admin": info.admin,
            "role": account_grant(info).role,
            "colour": colour_for(info.user),
            "csrf_token": info.csrf_token,
            "created_at": info.created_at,
            "expires_at": info.expires_at,
        }

    async def _signed_in(self, request: Request) -> tuple[str, SessionInfo]:
        """The session of a POST that needs one, CSRF-checked; ``401`` if it has none."""
        found = await self.identities.session(request)
        if found is None:
            raise RequestError(401, "unauthorized", "not signed in")
        self.identities.check_csrf(request, found[1])
        return found

    async def _start_session(self, request: Request, username: str, password: str, status: int = 200) -> Response:
        """Sign in, end the session the request came with, answer with the new cookie."""
        address = request.client.host if request.client else ""
        sid, info = await self.hashing.run(self.accounts.sign_in, username, password, address)
        old = self.identities.session_id(request)
        if old is not None and old != sid:
            await asyncio.to_thread(self.accounts.sign_out, old)  # no fixation: the old id is dead
        await self.api.remember_name(info.user, info.name or info.user)
        response = JSONResponse(self._me(info), status_code=status, headers=_NO_STORE)
        self.identities.set_cookie(response, request, sid, info, self.accounts.clock())
        return response

    # -- routes ------------------------------------------------------------------------

    async def config(self, request: Request) -> Response:
        """What the sign-in page offers: ``{"signup": mode, "guests": bool, "guest_role",
        "signed_in": bool}`` (``signed_in``: the cookie names a live session, so the page
        asks ``/me`` only then, and a signed-out page logs no failed request)."""
        here = self.api.guests_here(request)
        signed_in = await self.identities.session(request) is not None
        return JSONResponse(
            {"signup": self.signup, "guests": here, "guest_role": self.api.guests if here else "none", "signed_in": signed_in},
            headers=_NO_STORE,
        )

    async def me(self, request: Request) -> Response:
        """Who the session cookie is; ``401`` when not signed in."""
        found = await self.identities.session(request)
        if found is None:
            return error_response(401, "unauthorized", "not signed in", headers=_NO_STORE)
        return JSONResponse(self._me(found[1]), headers=_NO_STORE)

    async def sign_up(self, request: Request) -> Response:
        """``{"username", "password", "name"?, "invite"?}``: a new account, signed in (201)."""
        self._login_request(request)
        body = await read_json(request, self.max_request_bytes)
        username, password = _required(body, "username"), _required(body, "password")
        name, invite = _optional(body, "name"), _optional(body, "invite")
        # the client's address: sign-ups back off per address (each one costs a 64 MiB hash)
        address = request.client.host if request.client else ""
        await self.hashing.run(
            self.accounts.sign_up, username, password, name, invite=invite, mode=self.signup, address=address
        )
        return await self._start_session(request, username, password, status=201)

    async def sign_in(self, request: Request) -> Response:
        """``{"username", "password"}``: a new session in the cookie."""
        self._login_request(request)
        body = await read_json(request, self.max_request_bytes)
        return await self._start_session(request, _required(body, "username"), _required(body, "password"))

    async def sign_out(self, request: Request) -> Response:
        """End this session (its sockets close) and clear the cookie.  Without a live
        session there is nothing to end: the cookie is cleared all the same."""
        found = await self.identities.session(request)
        if found is not None:
            self.identities.check_csrf(request, found[1])  # else any site could sign you out
            await asyncio.to_thread(self.accounts.sign_out, found[0])
        response = Response(status_code=204, headers=_NO_STORE)
        self.identities.clear_cookie(response, request)
        return response

    async def sign_out_all(self, request: Request) -> Response:
        """End every session of this account, this one included."""
        _, info = await self._signed_in(request)
        await asyncio.to_thread(self.accounts.sign_out_everywhere, info.user)
        response = Response(status_code=204, headers=_NO_STORE)
        self.identities.clear_cookie(response, request)
        return response

    async def change_password(self, request: Request) -> Response:
        """``{"old", "new"}``: every other session of the account ends; this one stays.
        A wrong old password is ``403 wrong_password`` (the session is still good)."""
        sid, info = await self._signed_in(request)
        body = await read_json(request, self.max_request_bytes)
        old, new = _required(body, "old"), _required(body, "new")
        try:
            await self.hashing.run(self.accounts.change_password, info.user, old, new, keep_session=sid)
        except SignInFailed:
            raise RequestError(403, "wrong_password", "the current password is wrong") from None
        return Response(status_code=204, headers=_NO_STORE)

    async def create_invite(self, request: Request) -> Response:
        """An admin's new sign-up invite: ``201 {"code", "expires_at"}`` (the page makes
        the ``/?invite=CODE`` link).  The code is shown this once; the store keeps its hash."""
        _, info = await self._signed_in(request)
        if not info.admin:
            raise RequestError(403, "forbidden", "only an administrator may invite people")
        now = self.accounts.clock()
        code = await asyncio.to_thread(self.accounts.create_invite, info.user, ttl=INVITE_TTL)
        return JSONResponse({"code": code, "expires_at": now + INVITE_TTL}, status_code=201, headers=_NO_STORE)
