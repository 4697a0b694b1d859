"""Who a request is: a token, or the account of a session cookie (with its CSRF check).

A request that carries a token (``Authorization: Bearer``, ``?token=``) is what the
token grants: an HS256 token exactly as before accounts, a personal access token
(``Bearer cwp_...``, :class:`~cowrite.accounts.Tokens`) its user within the token's
scope.  A browser never adds a token by itself, so such requests need no CSRF
defence.  What a caller may do to a document is :class:`~cowrite.server.access.Access`'s.  A request without one is the account of
its ``cowrite_session`` cookie, if that names a live session.  A browser attaches
the cookie to requests other sites make, so for those every unsafe request (any
method but GET/HEAD/OPTIONS) must also

* carry ``X-CSRF-Token`` equal to the session's CSRF token (which only our own
  pages can read, from ``GET /api/auth/me``), compared in constant time, and
* if it has an ``Origin``, come from this server's origin (:class:`Origins`).

Either failing is ``403 csrf``.  The rule sits here, where identity is decided, so
no route can accept a cookie without it.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Literal

from starlette.requests import HTTPConnection
from starlette.responses import Response

from ..accounts import Accounts, SessionInfo, TokenGrant, Tokens
from ..errors import AuthError, RequestError
from .access import PAT_PREFIX, token_from
from .auth import MAX_TOKEN_CHARS, Grant, verify_token
from .origins import Origins

__all__ = ["COOKIE", "CSRF_HEADER", "Caller", "Identities", "MAX_SESSION_ID_CHARS", "account_grant"]

COOKIE = "cowrite_session"
CSRF_HEADER = "x-csrf-token"
MAX_SESSION_ID_CHARS = 256
"""A session cookie longer than this is not looked up (ours are ~43 characters)."""
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAMESITE: Literal["lax"] = "lax"


def account_grant(info: SessionInfo) -> Grant:
    """Who the account of a live session is, in the shape a token grants it: every
    document (``"*"``) until the session expires.  Its role (``owner`` for an
    administrator, else ``editor``) is what it may do to documents it creates; on any
    other document it has the role its membership gives (:class:`~.access.Access`)."""
    return Grant(info.user, info.name or info.user, "*", "owner" if info.admin else "editor", int(info.expires_at))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: its grant (who, and for an HS256 token what it grants), for a
    cookie sign-in its session (id and info), for a personal access token the token's
    grant; ``admin``: an account that is an administrator (by cookie or token)."""

    grant: Grant
    session_id: str | None = None
    session: SessionInfo | None = None
    pat: TokenGrant | None = None
    admin: bool = False

    @property
    def via(self) -> str:
        """``"session"`` (cookie), ``"pat"`` (personal access token) or ``"token"`` (HS256)."""
        if self.session is not None:
            return "session"
        return "pat" if self.pat is not None else "token"

    @property
    def account(self) -> bool:
        """Whether the caller is an account (by cookie or personal access token)."""
        return self.session is not None or self.pat is not None


class Identities:
    """Resolves requests to callers for one server.  ``secure_cookies``: always mark the
    session cookie ``Secure`` (it is marked so anyway on a request that came over https)."""

    def __init__(
        self, secret: bytes, accounts: Accounts, origins: Origins, tokens: Tokens, *, secure_cookies: bool = False
    ) -> None:
        self.secret = secret
        self.accounts = accounts
        self.tokens = tokens
        self.origins = origins
        self.secure_cookies = secure_cookies

    # -- the cookie ------------------------------------------------------------------

    @staticmethod
    def session_id(conn: HTTPConnection) -> str | None:
        """The session id in the request's cookie, if it has a plausible one."""
        value = conn.cookies.get(COOKIE)
        if not value or len(value) > MAX_SESSION_ID_CHARS or not value.isascii() or not value.isprintable():
            return None
        return value

    async def session(self, conn: HTTPConnection) -> tuple[str, SessionInfo] | None:
        """The live session the request's cookie names (None: no cookie, or a dead one)."""
        sid = self.session_id(conn)
        if sid is None:
            return None
        info = await asyncio.to_thread(self.accounts.session, sid)
        return None if info is None else (sid, info)

    def set_cookie(self, response: Response, conn: HTTPConnection, session_id: str, info: SessionInfo, now: float) -> None:
        """Put a new session in the response's cookie: HttpOnly (no script reads it),
        SameSite=Lax (not sent on other sites' POSTs), Path=/, Secure over https, and
        gone from the browser when the session expires for good."""
        response.set_cookie(
            COOKIE,
            session_id,
            max_age=max(0, int(info.expires_at - now)),
            path="/",
            secure=self._secure(conn),
            httponly=True,
            samesite=_SAMESITE,
        )

    def clear_cookie(self, response: Response, conn: HTTPConnection) -> None:
        response.delete_cookie(COOKIE, path="/", secure=self._secure(conn), httponly=True, samesite=_SAMESITE)

    def _secure(self, conn: HTTPConnection) -> bool:
        return self.secure_cookies or conn.url.scheme in ("https", "wss")

    # -- who is it -------------------------------------------------------------------

    async def caller(self, conn: HTTPConnection) -> Caller:
        """The caller of a request or WebSocket upgrade: its token's grant, else its
        session's account (CSRF-checked if the request is unsafe), else AuthError."""
        token = token_from(conn.headers, conn.query_params)
        if token is not None and token.startswith(PAT_PREFIX):
            return await self._personal(token)
        if token is not None:
            return Caller(verify_token(self.secret, token))
        found = await self.session(conn)
        if found is None:
            raise AuthError("not signed in: sign in, or pass ?token=... or an 'Authorization: Bearer' header")
        sid, info = found
        method = conn.scope.get("method")
        if conn.scope["type"] == "http" and method not in _SAFE_METHODS:
            self.check_csrf(conn, info)
        return Caller(account_grant(info), sid, info, admin=info.admin)

    async def _personal(self, secret: str) -> Caller:
        """The caller of a personal access token: its user, if the token and the account
        are live (a revoked, expired or unknown token, or a disabled account: AuthError)."""
        if len(secret) > MAX_TOKEN_CHARS or not secret.isascii() or not secret.isprintable():
            raise AuthError("invalid personal access token")
        grant = await asyncio.to_thread(self.tokens.verify, secret)
        if grant is None:
            raise AuthError("invalid personal access token: unknown, revoked or expired")
        account = await asyncio.to_thread(self.accounts.account, grant.user)
        if account is None or account.disabled:
            raise AuthError("invalid personal access token: its account is disabled")
        expires = int(grant.expires_at) if grant.expires_at is not None else 2**62
        who = Grant(account.username, account.name or account.username, "*", grant.role, expires)
        return Caller(who, pat=grant, admin=account.admin)

    def check_csrf(self, conn: HTTPConnection, info: SessionInfo) -> None:
        """``403 csrf`` unless the request carries the session's CSRF token and, if it
        says where it comes from, comes from this server's pages."""
        if not self.origins.cookie_ok(conn.headers):
            raise RequestError(403, "csrf", "this request comes from another site's page")
        sent = conn.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), info.csrf_token.encode()):
            raise RequestError(403, "csrf", f"a request signed in by cookie needs the {CSRF_HEADER} header of its session")
