"""Sharing over HTTP: members and roles, link sharing, invite links, personal access
tokens, and the administrator's pages.  The rules are :class:`~cowrite.accounts.Sharing`'s
and :class:`~cowrite.accounts.Tokens`'s (who may manage a document is checked there:
its owners and administrators); this module is the HTTP around them.

Every route needs an account: the session cookie (every unsafe request with its
``X-CSRF-Token``, :meth:`Identities.caller`), or, for a document's routes, a personal
access token whose scope holds the document (managing it needs a token with the
``owner`` role).  HS256 tokens are not accounts: ``403 forbidden``.  Personal access
tokens and the administrator's routes take the session cookie only (a token cannot
make tokens).

=========================================================  ======================================
``GET /api/docs/{doc}/members``                            ``{"members": [{user, name, role, added_by, added_at}]}`` (members, admins)
``POST /api/docs/{doc}/members`` ``{user, role}``           add someone (201, the member)
``PATCH /api/docs/{doc}/members/{user}`` ``{role}``         change their role
``DELETE /api/docs/{doc}/members/{user}``                  remove them (204); their sockets close
``POST /api/docs/{doc}/transfer`` ``{to}``                  make ``to`` the owner (the old owner stays, an editor)
``GET /api/docs/{doc}/link``                               ``{role, key}`` (``key`` for its managers and those who have the link's role)
``PUT /api/docs/{doc}/link`` ``{role: "viewer"|"commenter"|"editor"|null, rotate?}``  link sharing on/off; ``rotate``: a new key
``GET /api/docs/{doc}/invites``                            ``{"invites": [...]}`` (managers)
``POST /api/docs/{doc}/invites`` ``{role, ttl?}``           ``201 {code, key, expires_at}``: the code is shown once
``DELETE /api/docs/{doc}/invites/{key}``                   revoke an invite (its key or code)
``POST /api/invites/redeem`` ``{code}``                     join the invite's document (the member; the web page's link is ``/d/{doc}?join=CODE``)
``GET /api/shared``                                        ``{"documents": [{id, role, title}]}``: documents shared with me (not owned)
``GET /api/tokens`` / ``POST`` ``{label, docs?, role?, ttl_days?}`` / ``DELETE /api/tokens/{id}``  personal access tokens; ``POST`` answers ``{secret, token}`` once
``GET /api/admin/users``                                   every account
``POST /api/admin/users/{user}/disable`` | ``enable``        (disabling ends its sessions)
``POST /api/admin/users/{user}/reset``                     a temporary password, shown once (every session of the user ends)
``GET /api/admin/documents``                               every document with its owner (null: none)
``GET /api/admin/users/{user}/tokens``                      someone's personal access tokens (no secrets)
``DELETE /api/admin/tokens/{id}``                           revoke anyone's token
=========================================================  ======================================

Refusals: ``400 bad_request`` (malformed input), ``403 forbidden`` (not allowed),
``404 not_found`` (no such account, member, invite or token), ``409 conflict`` (the
members changed meanwhile: retry), ``410 invite_refused`` (an invite unknown, expired,
revoked or used), as
``{"error": code, "message"}``; nothing is changed by a refused request.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import fields, is_dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..accounts import DOC_ROLES, LINK_ROLES, AccountError, Accounts, Sharing, Tokens, at_least, normalize_username
from ..errors import RequestError
from ..store import DocumentNotFound, check_doc_id
from .api import HttpApi, error_response, guarded, read_json
from .identity import Caller, Identities
from .metrics import Metrics

__all__ = ["SharingApi", "account_error_status"]

_NO_STORE = {"Cache-Control": "no-store"}
_TITLE_READS = 64  # ``GET /api/shared``: up to this many documents, a read each for its title
MAX_FIELD_CHARS = 512
"""Longest user name, role, code, key or label accepted in a body or a path."""
MAX_TOKEN_DOCS = 100
"""Most documents one personal access token may name."""
DEFAULT_INVITE_TTL = 7 * 86400
MAX_TTL = 366 * 86400

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]

# What each refusal of the accounts service is over HTTP, by the name of its class (an
# AccountError the table does not know is a 400, or a 404 if it is also a KeyError).
_BY_NAME: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "forbidden"),
    "SignUpRefused": (403, "forbidden"),
    "AccountNotFound": (404, "not_found"),
    "InviteNotFound": (404, "not_found"),
    "NotAMember": (404, "not_found"),
    "TokenNotFound": (404, "not_found"),
    "InvalidAccount": (400, "bad_request"),
    "AccountExists": (409, "conflict"),
    "ChangedMeanwhile": (409, "conflict"),
    "InviteRefused": (410, "invite_refused"),
}


def account_error_status(exc: AccountError) -> tuple[int, str]:
    """The HTTP status and error code of a refusal of the accounts service."""
    for cls in type(exc).__mro__:
        found = _BY_NAME.get(cls.__name__)
        if found is not None:
            return found
        if cls is AccountError:
            break
    if isinstance(exc, KeyError):
        return 404, "not_found"
    if isinstance(exc, ValueError):
        return 400, "bad_request"
    if isinstance(exc, PermissionError):
        return 403, "forbidden"
    return 400, "bad_request"


def _account_errors(method: Endpoint) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            return await method(request)
        except AccountError as exc:
            status, code = account_error_status(exc)
            return error_response(status, code, str(exc), headers=_NO_STORE)

    return endpoint


def _plain(value: Any) -> Any:
    """A record of the service as JSON: its fields (tuples as lists)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_FIELD_CHARS:
        raise RequestError(400, "bad_request", f"expected {key!r}: a string of 1..{MAX_FIELD_CHARS} characters")
    return value


def _role(value: object, allowed: tuple[str, ...], what: str = "role") -> str:
    if not isinstance(value, str) or value not in allowed:
        raise RequestError(400, "bad_request", f"{what} must be one of {', '.join(allowed)}")
    return value


def _path(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    if not value or len(value) > MAX_FIELD_CHARS:
        raise RequestError(400, "bad_request", f"{name} must be 1..{MAX_FIELD_CHARS} characters")
    return value


def _ttl(body: dict[str, Any], key: str, scale: float, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if type(value) not in (int, float) or not 0 < value * scale <= MAX_TTL:
        raise RequestError(400, "bad_request", f"{key} must be a positive number, at most a year")
    return float(value * scale)


class SharingApi:
    """The sharing, token and administration routes of one server (see the module)."""

    def __init__(
        self,
        accounts: Accounts,
        sharing: Sharing,
        tokens: Tokens,
        identities: Identities,
        api: HttpApi,
        *,
        max_request_bytes: int = 256 << 10,
    ) -> None:
        self.accounts = accounts
        self.sharing = sharing
        self.tokens = tokens
        self.identities = identities
        self.api = api
        self.max_request_bytes = max_request_bytes

    def routes(self, metrics: Metrics) -> list[BaseRoute]:
        def g(method: Endpoint) -> Callable[[Request], Awaitable[Response]]:
            return guarded(_account_errors(method), metrics)

        d = "/api/docs/{doc_id}"
        return [
            Route(f"{d}/members", g(self.members), methods=["GET"]),
            Route(f"{d}/members", g(self.add_member), methods=["POST"]),
            Route(f"{d}/members/{{user}}", g(self.set_role), methods=["PATCH"]),
            Route(f"{d}/members/{{user}}", g(self.remove_member), methods=["DELETE"]),
            Route(f"{d}/transfer", g(self.transfer), methods=["POST"]),
            Route(f"{d}/link", g(self.get_link), methods=["GET"]),
            Route(f"{d}/link", g(self.set_link), methods=["PUT"]),
            Route(f"{d}/invites", g(self.invites), methods=["GET"]),
            Route(f"{d}/invites", g(self.create_invite), methods=["POST"]),
            Route(f"{d}/invites/{{key}}", g(self.revoke_invite), methods=["DELETE"]),
            Route("/api/invites/redeem", g(self.redeem), methods=["POST"]),
            Route("/api/shared", g(self.shared), methods=["GET"]),
            Route("/api/tokens", g(self.list_tokens), methods=["GET"]),
            Route("/api/tokens", g(self.create_token), methods=["POST"]),
            Route("/api/tokens/{token_id}", g(self.revoke_token), methods=["DELETE"]),
            Route("/api/admin/users", g(self.admin_users), methods=["GET"]),
            Route("/api/admin/users/{user}/disable", g(self.admin_disable), methods=["POST"]),
            Route("/api/admin/users/{user}/enable", g(self.admin_enable), methods=["POST"]),
            Route("/api/admin/users/{user}/reset", g(self.admin_reset), methods=["POST"]),
            Route("/api/admin/documents", g(self.admin_documents), methods=["GET"]),
            Route("/api/admin/users/{user}/tokens", g(self.admin_tokens), methods=["GET"]),
            Route("/api/admin/tokens/{token_id}", g(self.admin_revoke_token), methods=["DELETE"]),
        ]

    # -- who -------------------------------------------------------------------------

    async def _account(self, request: Request, *, session_only: bool = False) -> Caller:
        """The caller, if it is an account (``session_only``: by its cookie)."""
        caller = await self.identities.caller(request)
        if caller.session is None and (session_only or caller.pat is None):
            raise RequestError(403, "forbidden", "this needs you signed in (a token is not an account)")
        return caller

    async def _on_doc(self, request: Request, *, manage: bool = False) -> tuple[Caller, str]:
        """The caller and the document of a document's route: an account with access to
        it (through a token: in its scope; ``manage``: a token with the owner role).
        Whether the account may manage the document is the service's to say."""
        caller = await self._account(request)
        doc_id = check_doc_id(request.path_params["doc_id"])
        if caller.pat is not None:
            if "*" not in caller.pat.docs and doc_id not in caller.pat.docs:
                raise RequestError(403, "forbidden", f"your token does not grant document {doc_id!r}")
            if manage and caller.pat.role != "owner":
                raise RequestError(403, "forbidden", "managing a document takes a token with the owner role")
        await self.api.access_of(caller, doc_id, None)  # a member (or an admin): else 403
        return caller, doc_id

    async def _admin(self, request: Request) -> Caller:
        caller = await self._account(request, session_only=True)
        if not caller.admin:
            raise RequestError(403, "forbidden", "only an administrator may do this")
        return caller

    async def _body(self, request: Request) -> dict[str, Any]:
        return await read_json(request, self.max_request_bytes)

    # -- members ---------------------------------------------------------------------

    async def members(self, request: Request) -> Response:
        _, doc_id = await self._on_doc(request)
        found = await asyncio.to_thread(self.sharing.members, doc_id)
        return JSONResponse({"members": _plain(found)}, headers=_NO_STORE)

    async def add_member(self, request: Request) -> Response:
        caller, doc_id = await self._on_doc(request, manage=True)
        body = await self._body(request)
        user = _text(body, "user")
        role = _role(body.get("role"), DOC_ROLES)
        member = await asyncio.to_thread(self.sharing.add_member, doc_id, caller.grant.user, user, role)
        return JSONResponse(_plain(member), status_code=201, headers=_NO_STORE)

    async def set_role(self, request: Request) -> Response:
        caller, doc_id = await self._on_doc(request, manage=True)
        user = _path(request, "user")
        role = _role((await self._body(request)).get("role"), DOC_ROLES)
        member = await asyncio.to_thread(self.sharing.set_role, doc_id, caller.grant.user, user, role)
        return JSONResponse(_plain(member), headers=_NO_STORE)

    async def remove_member(self, request: Request) -> Response:
        caller, doc_id = await self._on_doc(request, manage=True)
        user = _path(request, "user")
        await asyncio.to_thread(self.sharing.remove_member, doc_id, caller.grant.user, user)
        return Response(status_code=204, headers=_NO_STORE)

    async def transfer(self, request: Request) -> Response:
        caller, doc_id = await self._on_doc(request, manage=True)
        to = _text(await self._body(request), "to")
        await asyncio.to_thread(self.sharing.transfer, doc_id, caller.grant.user, to)
        found = await asyncio.to_thread(self.sharing.members, doc_id)
        return JSONResponse({"members": _plain(found)}, headers=_NO_STORE)

    # -- the link ----------------------------------------------------------------------

    async def get_link(self, request: Request) -> Response:
        """The link's role; its key only for those who manage the document."""
        caller, doc_id = await self._on_doc(request)
        info = await asyncio.to_thread(self.sharing.link, doc_id, caller.grant.user)
        key = info.key
        if key is not None and caller.pat is not None and info.role is not None:
            # A token is capped by its role: what its user could see, a viewer token must not
            # (an editor link's key would open the document to it as an editor).
            access = await self.api.access_of(caller, doc_id, None)
            if not at_least(access.role, info.role):
                key = None
        return JSONResponse({"doc": doc_id, "role": info.role, "key": key}, headers=_NO_STORE)

    async def set_link(self, request: Request) -> Response:
        caller, doc_id = await self._on_doc(request, manage=True)
        body = await self._body(request)
        raw = body.get("role")
        role = None if raw is None else _role(raw, LINK_ROLES, "the link's role")
        rotate = body.get("rotate", False)
        if type(rotate) is not bool:
            raise RequestError(400, "bad_request", "rotate must be true or false")
        info = await asyncio.to_thread(self.sharing.set_link, doc_id, caller.grant.user, role, rotate=rotate)
        return JSONResponse({"doc": doc_id, "role": info.role, "key": info.key}, headers=_NO_STORE)

    # -- invites -----------------------------------------------------------------------

    async def invites(self, request: Request) -> Response:
        caller, doc_id = await self._on_doc(request, manage=True)
        found = await asyncio.to_thread(self.sharing.invites, doc_id, caller.grant.user)
        return JSONResponse({"invites": _plain(found)}, headers=_NO_STORE)

    async def create_invite(self, request: Request) -> Response:
        caller, doc_id = await self._on_doc(request, manage=True)
        body = await self._body(request)
        role = _role(body.get("role"), DOC_ROLES)
        ttl = _ttl(body, "ttl", 1, DEFAULT_INVITE_TTL)
        now = self.accounts.clock()
        code = await asyncio.to_thread(self.sharing.create_invite, doc_id, caller.grant.user, role, ttl=ttl)
        return JSONResponse({"code": code, "doc": doc_id, "role": role, "expires_at": now + ttl}, status_code=201, headers=_NO_STORE)

    async def revoke_invite(self, request: Request) -> Response:
        caller, doc_id = await self._on_doc(request, manage=True)
        key = _path(request, "key")
        await asyncio.to_thread(self.sharing.revoke_invite, doc_id, caller.grant.user, key)
        return Response(status_code=204, headers=_NO_STORE)

    async def redeem(self, request: Request) -> Response:
        """``{code}``: the signed-in account joins the invite's document with its role."""
        caller = await self._account(request, session_only=True)
        code = _text(await self._body(request), "code")
        member = await asyncio.to_thread(self.sharing.redeem_invite, code, caller.grant.user)
        return JSONResponse(_plain(member), headers=_NO_STORE)

    async def shared(self, request: Request) -> Response:
        """The documents shared with the caller: those it is a member of but does not own."""
        caller = await self._account(request, session_only=True)
        found = await asyncio.to_thread(self.sharing.documents_of, caller.grant.user)
        shared = [(doc, role) for doc, role in found if role != "owner"]
        titles = await asyncio.to_thread(self._titles, {doc for doc, _ in shared})
        docs = [{"id": doc, "role": role, "title": titles.get(doc, "")} for doc, role in shared]
        return JSONResponse({"documents": docs}, headers=_NO_STORE)

    def _titles(self, docs: set[str]) -> dict[str, str]:
        """The titles of ``docs``: one read per document for the usual few, else one read of
        the store's document list (what ``GET /api/docs`` makes).  A membership whose
        document is gone has no title."""
        store = self.api.store
        if len(docs) > _TITLE_READS:
            return {d.id: d.title for d in store.documents() if d.id in docs}
        out: dict[str, str] = {}
        for doc in docs:
            try:
                out[doc] = store.info(doc).title
            except DocumentNotFound:
                continue
        return out

    # -- personal access tokens ----------------------------------------------------------

    async def list_tokens(self, request: Request) -> Response:
        caller = await self._account(request, session_only=True)
        found = await asyncio.to_thread(self.tokens.tokens, caller.grant.user)
        return JSONResponse({"tokens": _plain(found)}, headers=_NO_STORE)

    async def create_token(self, request: Request) -> Response:
        """``{label, docs?: ["*"] | [doc, ...], role?, ttl_days?}``: ``201 {secret, token}``;
        the secret is shown this once (the store keeps its hash)."""
        caller = await self._account(request, session_only=True)
        body = await self._body(request)
        label = _text(body, "label")
        raw_docs = body.get("docs", ["*"])
        if not isinstance(raw_docs, list) or not 1 <= len(raw_docs) <= MAX_TOKEN_DOCS:
            raise RequestError(400, "bad_request", f"docs must be a list of 1..{MAX_TOKEN_DOCS} document ids, or ['*']")
        docs = tuple(d if d == "*" else check_doc_id(d) for d in raw_docs)
        role = _role(body.get("role", "editor"), DOC_ROLES)
        kw: dict[str, Any] = {}
        if body.get("ttl_days") is not None:
            kw["ttl"] = _ttl(body, "ttl_days", 86400, 0)
        secret, info = await asyncio.to_thread(self.tokens.create, caller.grant.user, label, docs=docs, role=role, **kw)
        return JSONResponse({"secret": secret, "token": _plain(info)}, status_code=201, headers=_NO_STORE)

    async def revoke_token(self, request: Request) -> Response:
        caller = await self._account(request, session_only=True)
        token_id = _path(request, "token_id")
        await asyncio.to_thread(self.tokens.revoke, caller.grant.user, token_id)
        return Response(status_code=204, headers=_NO_STORE)

    # -- administration ------------------------------------------------------------------

    async def admin_users(self, request: Request) -> Response:
        await self._admin(request)
        found = await asyncio.to_thread(self.accounts.accounts)
        return JSONResponse({"users": _plain(found)}, headers=_NO_STORE)

    async def admin_disable(self, request: Request) -> Response:
        caller = await self._admin(request)
        user = _path(request, "user")
        if normalize_username(user) == caller.grant.user:
            raise RequestError(409, "conflict", "you cannot disable your own account")
        await asyncio.to_thread(self.accounts.disable, user)
        return Response(status_code=204, headers=_NO_STORE)

    async def admin_enable(self, request: Request) -> Response:
        await self._admin(request)
        await asyncio.to_thread(self.accounts.enable, _path(request, "user"))
        return Response(status_code=204, headers=_NO_STORE)

    async def admin_reset(self, request: Request) -> Response:
        """A new, random temporary password for the user (shown this once; every session
        of theirs ends).  The admin hands it over; the user changes it after signing in."""
        caller = await self._admin(request)
        user = _path(request, "user")
        if normalize_username(user) == caller.grant.user:
            raise RequestError(409, "conflict", "change your own password on the account page")
        password = secrets.token_urlsafe(15)
        await asyncio.to_thread(self.accounts.set_password, user, password)
        return JSONResponse({"user": normalize_username(user), "password": password}, headers=_NO_STORE)

    async def admin_tokens(self, request: Request) -> Response:
        """Someone's personal access tokens (no secrets: only ids, labels, scopes, dates),
        so an administrator can find the one to revoke, e.g. after a leak."""
        await self._admin(request)
        user = _path(request, "user")
        if await asyncio.to_thread(self.accounts.account, user) is None:
            raise RequestError(404, "not_found", "no such account")
        found = await asyncio.to_thread(self.tokens.tokens, user)
        return JSONResponse({"user": normalize_username(user), "tokens": _plain(found)}, headers=_NO_STORE)

    async def admin_revoke_token(self, request: Request) -> Response:
        """Revoke anyone's token (its open sockets close at once, as when its owner does)."""
        caller = await self._admin(request)
        token_id = _path(request, "token_id")
        await asyncio.to_thread(self.tokens.revoke, caller.grant.user, token_id, by_admin=True)
        return Response(status_code=204, headers=_NO_STORE)

    async def admin_documents(self, request: Request) -> Response:
        await self._admin(request)
        docs = await asyncio.to_thread(self.api.store.documents)
        owners = await asyncio.to_thread(self.sharing.owners)
        return JSONResponse(
            {
                "documents": [
                    {"id": d.id, "owner": owners.get(d.id), "updated_at": d.updated_at, "length": d.text_length}
                    for d in docs
                ]
            },
            headers=_NO_STORE,
        )
