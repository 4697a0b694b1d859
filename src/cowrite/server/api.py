"""The HTTP API under ``/api``: documents, text, history, blame, snapshots, edits, sessions.

Every call needs a token (``Authorization: Bearer ...`` or ``?token=``) or the
session cookie of a signed-in account (:mod:`~cowrite.server.identity`, which also
holds the CSRF rule for cookies), except ``POST /api/session``, which hands out
guest tokens when the server lets guests in.  What a caller may do to a document
(``?share=KEY``: a link key of it) is :class:`~cowrite.server.access.Access`'s; a
caller without access gets ``403 forbidden`` whether the document exists or not.
An account sees in ``GET /api/docs`` only the documents it is a member of (an
administrator: all), and owns the documents it creates.  Errors are JSON
``{"error": code, "message": ...}`` with a fitting status.

Reads of a room's document take the room lock only to copy it (the lock is held
across a batch's durable commit, so the copy holds only durable ops) and do the
expensive part (a checkout at an old version, authorship, encoding) in a worker
thread on the copy.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ..engine import MAX_AGENT_LEN, MAX_SEQ, Authorship, CowriteError, Document, RawVersion, UnknownVersionError
from ..errors import ConfigError, DecodeError, InvalidArgument, RequestError, StoreError, TooLargeError
from ..protocol import ErrorCode
from ..protocol.server import Pending, Send, error_frame
from ..store import CorruptionError, DocumentExists, DocumentNotFound, InvalidDocumentId, Store, check_doc_id
from ..accounts import at_least
from .access import GUEST_ROLES, Access, DocAccess, colour_for, link_key_from, token_from
from .auth import AuthError, has_control_or_bidi, issue_token, verify_token
from .identity import Caller, Identities
from .bounds import loads
from .metrics import Metrics
from .rooms import Rooms

__all__ = ["GUEST_TTL", "HttpApi", "MAX_VERSION_CHARS", "check_guest_name", "error_response", "guarded", "parse_version", "read_json"]

log = logging.getLogger("cowrite.server")

GUEST_TTL = 12 * 3600
MAX_GUEST_NAME = 64
MAX_VERSION_CHARS = 16 << 10
"""Longest ``?version=`` accepted (a version names one op per concurrent head; uvicorn
refuses request heads over 16 KiB anyway)."""
_MAX_BODY_DEPTH = 8  # request bodies are flat JSON objects


def guarded(
    method: Callable[[Request], Coroutine[Any, Any, Response]], metrics: Metrics
) -> Callable[[Request], Awaitable[Response]]:
    """Map errors to JSON ``{"error": code, "message": ...}`` responses (a bug: logged,
    counted in ``cowrite_internal_errors_total``, ``500 internal``)."""

    async def endpoint(request: Request) -> Response:
        try:
            return await method(request)
        except RequestError as exc:
            return _error(exc.status, exc.code, exc.message)
        except AuthError as exc:
            return _error(401, "unauthorized", str(exc))
        except TooLargeError as exc:
            return _error(413, "too_large", str(exc))
        except InvalidDocumentId as exc:
            return _error(400, "bad_request", str(exc))
        except DocumentNotFound as exc:
            return _error(404, "not_found", str(exc))
        except UnknownVersionError as exc:
            return _error(404, "not_found", str(exc))
        except DocumentExists as exc:
            return _error(409, "exists", str(exc))
        except CorruptionError as exc:
            log.error("%s", exc)
            return _error(500, "corrupt", "the stored document failed verification")
        except InvalidArgument as exc:
            return _error(400, "bad_request", str(exc))
        except StoreError as exc:  # the store failed: nothing it was asked to write is durable
            log.warning("%s %s: %s", request.method, request.url.path, exc)
            return _error(503, "internal", "the server could not reach its storage; retry")
        except CowriteError as exc:
            return _error(400, "bad_request", str(exc))
        except Exception:  # a bug: visible in the log and the metrics, answered in the API's shape
            log.exception("internal error in %s %s", request.method, request.url.path)
            metrics.internal_errors.inc()
            return _error(500, "internal", "internal server error")

    return endpoint


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API's answer to a refused request: ``{"error": code, "message": ...}``."""
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


_error = error_response


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request's body as a JSON object (``400 bad_request`` otherwise)."""
    body = await request.body()  # at most max_bytes: the BodyLimit middleware stops it
    try:
        value = loads(body, max_bytes=max_bytes, max_depth=_MAX_BODY_DEPTH, what="the body")
    except DecodeError as exc:
        raise RequestError(400, "bad_request", f"the body must be a JSON object ({exc})") from None
    if not isinstance(value, dict):
        raise RequestError(400, "bad_request", "the body must be a JSON object")
    return value


def parse_version(raw: str) -> RawVersion:
    """``?version=`` as JSON ``[["agent", seq], ...]``; RequestError 400 if malformed.

    Bounded before it is parsed: at most :data:`MAX_VERSION_CHARS`, nested two deep."""
    bad = RequestError(400, "bad_version", 'version must be JSON like [["agent", 12], ...] (agent: non-empty string, seq: integer >= 0)')
    try:
        value = loads(raw, max_bytes=MAX_VERSION_CHARS, max_depth=2, what="version")
    except TooLargeError:
        raise RequestError(400, "bad_version", f"version is longer than {MAX_VERSION_CHARS} bytes") from None
    except DecodeError:
        raise bad from None
    if not isinstance(value, list):
        raise bad
    out: list[tuple[str, int]] = []
    for item in value:
        if not isinstance(item, list) or len(item) != 2:
            raise bad
        agent, seq = item
        if not isinstance(agent, str) or not agent or type(seq) is not int or not 0 <= seq < MAX_SEQ:
            raise bad
        if len(agent) > MAX_AGENT_LEN:
            raise bad
        try:
            agent.encode("utf-8")
        except UnicodeEncodeError:
            raise bad from None
        out.append((agent, seq))
    return tuple(sorted(set(out)))


def _hostname(host: str) -> str | None:
    """The host name in a ``Host`` header (no port, no brackets, lower case)."""
    try:
        return urlsplit("//" + host).hostname
    except ValueError:
        return None


def check_guest_name(value: object) -> str:
    """A guest's display name: 1..64 characters once trimmed, no control characters."""
    if not isinstance(value, str):
        raise RequestError(400, "bad_name", "expected {'name': str}")
    name = value.strip()
    if not 1 <= len(name) <= MAX_GUEST_NAME:
        raise RequestError(400, "bad_name", f"a name is 1..{MAX_GUEST_NAME} characters")
    if has_control_or_bidi(name):
        raise RequestError(400, "bad_name", "a name may not contain control or bidirectional characters, nor invisible ones")
    return name


def raise_unless_committed(pending: Pending | None, what: str, *, refused: int = 400, too_large: int = 400) -> None:
    """Turn the outcome of an HTTP-made batch (``Rooms.run_locked``) into the answer: return
    if it was committed, else raise the :class:`RequestError` every HTTP edit route gives --
    500 for a bug (logged by the room), 503 when the store could not take it (the caller may
    retry: nothing was acknowledged), ``refused`` (``too_large`` for a size limit) for a
    batch the room refused, with the room's reason."""
    if pending is None or pending.bug is not None:
        raise RequestError(500, "internal", f"the server failed to apply {what} (a bug, logged there); retry")
    error = pending.error
    if error is None:
        return
    if error.code is ErrorCode.INTERNAL:
        raise RequestError(503, "internal", f"the server could not store {what}; retry")
    status = too_large if error.code is ErrorCode.TOO_LARGE else refused
    raise RequestError(status, error.code.name.lower(), error.message)


def _version_json(version: RawVersion) -> list[list[object]]:
    return [[a, s] for a, s in version]


def _info(d: Any, role: str | None = None) -> dict[str, Any]:
    out = {
        "id": d.id,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "ops": d.ops_count,
        "length": d.text_length,
        "title": d.title,
    }
    if role is not None:
        out["role"] = role
    return out


class GuestMinting:
    """How many guest identities each client address may still be handed: a token
    bucket per address, ``per_minute`` full, refilled at ``per_minute`` a minute.

    Why: every guest identity may hold ``Limits.max_sockets_per_user`` sockets, so an
    address minting identities at will holds as many sockets (and rooms' presence) as
    it likes.  The buckets live in this server's memory: a restart refills them and a
    cluster of k servers hands an address k times as many.  That bounds what one
    address costs each server, which is all this is for; it is no guard against
    guessing (a share link's key is unguessable, and a counter for that would have to
    be shared by the servers).  An address is forgotten once its bucket would be full
    again, so the table holds only addresses seen within the last minute or so."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        """address -> (tokens left, when counted), least recently touched first."""

    def take(self, address: str) -> float:
        """Take one identity for ``address``: 0.0, or the seconds until it may have one
        (and nothing is taken)."""
        now = self.clock()
        buckets = self._buckets
        refill = self.burst / self.rate  # seconds an empty bucket takes to fill
        while buckets:  # forget the addresses whose buckets are full again, oldest first
            oldest = next(iter(buckets))
            if now - buckets[oldest][1] < refill:
                break
            del buckets[oldest]
        tokens, at = buckets.pop(address, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
        if tokens < 1.0:
            buckets[address] = (tokens, now)
            return (1.0 - tokens) / self.rate
        buckets[address] = (tokens - 1.0, now)
        return 0.0


class HttpApi:
    """The ``/api`` routes of one server.  ``guests`` is the role of guest tokens
    handed out by ``POST /api/session`` (``"none"``: no guests); ``guest_hosts``, if
    not empty, the only host names (``Host`` header) they are handed out on: a
    server on a loopback address lists its loopback names, so a web page that
    re-binds its own domain name to 127.0.0.1 (DNS rebinding) gets no token.
    ``max_request_bytes`` bounds the JSON bodies it parses (the server's
    :class:`~cowrite.server.bounds.BodyLimit` stops longer ones before they are read)."""

    def __init__(
        self,
        store: Store,
        rooms: Rooms,
        secret: bytes,
        identities: Identities,
        access: Access,
        *,
        guests: str = "none",
        guest_hosts: tuple[str, ...] = (),
        max_request_bytes: int = 256 << 10,
    ) -> None:
        if guests not in GUEST_ROLES:
            raise ConfigError(f"guests must be one of {', '.join(GUEST_ROLES)}, not {guests!r}")
        self.guest_hosts = frozenset(h.lower().strip("[]") for h in guest_hosts)
        self.store = store
        self.rooms = rooms
        self.secret = secret
        self.identities = identities
        self.access = access
        self.sharing = access.sharing
        self.guests = guests
        self.max_request_bytes = max_request_bytes
        self._names: dict[str, str] = {}  # user -> the display name last stored
        self.guest_minting = GuestMinting(rooms.limits.guest_sessions_per_minute)
        """Guest identities each client address may still be handed (``POST /api/session``)."""

    def routes(self) -> list[BaseRoute]:
        metrics = self.rooms.metrics

        def g(method: Callable[[Request], Coroutine[Any, Any, Response]]) -> Callable[[Request], Awaitable[Response]]:
            return guarded(method, metrics)

        return [
            Route("/api/session", g(self.create_session), methods=["POST"]),
            Route("/api/session", g(self.get_session), methods=["GET"]),
            Route("/api/docs", g(self.list_docs), methods=["GET"]),
            Route("/api/docs", g(self.create_doc), methods=["POST"]),
            Route("/api/docs/{doc_id}", g(self.get_doc), methods=["GET"]),
            Route("/api/docs/{doc_id}", g(self.delete_doc), methods=["DELETE"]),
            Route("/api/docs/{doc_id}/text", g(self.get_text), methods=["GET"]),
            Route("/api/docs/{doc_id}/history", g(self.get_history), methods=["GET"]),
            Route("/api/docs/{doc_id}/blame", g(self.get_blame), methods=["GET"]),
            Route("/api/docs/{doc_id}/snapshot", g(self.get_snapshot), methods=["GET"]),
            Route("/api/docs/{doc_id}/edit", g(self.edit_doc), methods=["POST"]),
        ]

    # -- helpers -----------------------------------------------------------------------

    async def _caller(self, request: Request) -> Caller:
        """The caller of a request that is not about one document (listing, creating):
        an account, or a token for every document."""
        caller = await self.identities.caller(request)
        if not caller.account and caller.grant.doc != "*":
            raise RequestError(403, "forbidden", "this needs a token for every document (doc '*')")
        if caller.pat is not None and "*" not in caller.pat.docs:
            raise RequestError(403, "forbidden", "this needs a personal access token for every document (scope '*')")
        return caller

    async def path_doc_access(self, request: Request, *, at_least_role: str | None = None, doing: str = "") -> tuple[str, DocAccess]:
        """The request's ``{doc_id}`` (checked) and what the caller may do to it; with
        ``at_least_role``, ``403`` unless the caller's role is at least that (``doing``
        says what was refused, e.g. "comment on this document")."""
        doc_id = check_doc_id(request.path_params["doc_id"])
        access = await self.doc_access(request, doc_id)
        if at_least_role is not None and not at_least(access.role, at_least_role):
            raise RequestError(403, "forbidden", f"a {access.role} cannot {doing}")
        return doc_id, access

    async def doc_access(self, request: Request, doc_id: str) -> DocAccess:
        """What the caller may do to ``doc_id``; ``403 forbidden`` if nothing (whether the
        document exists or not: a caller without access learns nothing about it)."""
        caller = await self.identities.caller(request)
        return await self.access_of(caller, doc_id, link_key_from(request.query_params))

    async def access_of(self, caller: Caller, doc_id: str, link_key: str | None) -> DocAccess:
        found = await asyncio.to_thread(self.access.access, caller, doc_id, link_key)
        if found is None:
            raise RequestError(403, "forbidden", f"you have no access to document {doc_id!r}")
        return found

    async def _granted_doc(self, request: Request) -> str:
        """The requested document's id, once the caller may read it (access is checked
        first, so a caller without it learns nothing about which documents exist)."""
        doc_id: str = request.path_params["doc_id"]
        await self.doc_access(request, doc_id)
        return doc_id

    async def _copy(self, doc_id: str) -> tuple[Document, dict[str, str]]:
        """A copy of the room's document (durable ops only) and its agents' owners."""
        async with self.rooms.locked(doc_id) as handle:
            return handle.room.doc.copy(), dict(handle.room.agent_owners)

    def api_agent(self, user: str) -> str:
        """The agent of ``user``'s edits made over HTTP: ``api:<user>``, plus ``~<server id>``
        in a cluster (servers never share an agent, whose seqs each counts on its own)."""
        suffix = self.rooms.api_agent_suffix
        return f"api:{user}"[: MAX_AGENT_LEN - len(suffix)] + suffix

    async def remember_name(self, user: str, name: str) -> None:
        """Store ``user``'s display name (for history and authorship) if it changed."""
        if self._names.get(user) == name:
            return
        try:
            await asyncio.to_thread(self.store.set_user_name, user, name)
        except CowriteError as exc:  # a name is a nicety: never fail a join over it
            log.warning("could not store the name of user %r: %s", user, exc)
            return
        if len(self._names) >= 100_000:
            self._names.clear()
        self._names[user] = name

    async def _names_of(self, users: set[str]) -> dict[str, str]:
        return await asyncio.to_thread(self.store.user_names, users) if users else {}

    def _version_param(self, request: Request) -> RawVersion | None:
        raw = request.query_params.get("version")
        return None if raw is None else parse_version(raw)

    # -- sessions ----------------------------------------------------------------------

    def guests_here(self, request: Request) -> bool:
        """Whether ``POST /api/session`` hands out guest tokens at this request's address."""
        if self.guests == "none":
            return False
        return not self.guest_hosts or _hostname(request.headers.get("host", "")) in self.guest_hosts

    def _minting_refused(self, request: Request) -> Response | None:
        """``429 throttled`` if the request's address has had its guest identities for
        now (one is taken otherwise).  The address is the peer's, or the one a trusted
        proxy forwarded (``--trusted-proxy``): a header anyone may send is not believed."""
        address = request.client.host if request.client else ""
        wait = self.guest_minting.take(address)
        if not wait:
            return None
        return error_response(
            429,
            "throttled",
            "too many guest sessions from this address: retry later",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )

    async def create_session(self, request: Request) -> Response:
        """A guest token for a name: ``{"token", "user", "name", "role", "colour"}``.

        With ``{"doc", "share"}`` too (a document's share link), on any server, also one
        that lets no guests in: a *link guest*'s token, which grants no document by
        itself (its ``doc`` is ``""``) and is good only together with a valid link key of
        the document (sent as ``?share=`` with every request): turning the link off or
        rotating it ends its access at once.  ``403`` if the link is not valid."""
        if self.guests == "none":
            try:
                link_body = await read_json(request, self.max_request_bytes)
            except RequestError:
                link_body = {}
            if link_body.get("share") is not None:
                return await self._link_guest(request, link_body)
            raise RequestError(
                403,
                "forbidden",
                "this server does not let guests in: ask for a link with a token (made with `cowrite token`)",
            )
        if self.guest_hosts and _hostname(request.headers.get("host", "")) not in self.guest_hosts:
            raise RequestError(
                403,
                "forbidden",
                "guest sessions are handed out only at this server's own address "
                f"({', '.join(sorted(self.guest_hosts))})",
            )
        body = await read_json(request, self.max_request_bytes)
        if body.get("share") is not None:
            return await self._link_guest(request, body)
        name = check_guest_name(body.get("name"))
        refused = self._minting_refused(request)
        if refused is not None:
            return refused
        user = "guest-" + secrets.token_hex(8)
        token = issue_token(self.secret, user, doc="*", role=self.guests, ttl=GUEST_TTL, name=name)
        await self.remember_name(user, name)
        return JSONResponse(
            {
                "token": token,
                "user": user,
                "name": name,
                "role": self.guests,
                "colour": colour_for(user),
                "expires": int(time.time()) + GUEST_TTL,
            }
        )

    async def _link_guest(self, request: Request, body: dict[str, Any]) -> Response:
        """A link guest's token (see :meth:`create_session`)."""
        refused = RequestError(
            403,
            "forbidden",
            "this server does not let guests in: sign in, or ask for a link with a token (made with `cowrite token`)",
        )
        doc, key = body.get("doc"), body.get("share")
        if doc is None or key is None:
            raise refused
        if self.guest_hosts and _hostname(request.headers.get("host", "")) not in self.guest_hosts:
            raise RequestError(403, "forbidden", "guest sessions are handed out only at this server's own address")
        doc_id = check_doc_id(doc)
        throttled = self._minting_refused(request)  # before the store is asked about the link
        if throttled is not None:
            return throttled
        link = key if isinstance(key, str) else None
        role = await asyncio.to_thread(self.access.link_role, doc_id, link)
        if role is None:
            raise RequestError(403, "forbidden", "this share link does not open the document (it was turned off or replaced)")
        name = check_guest_name(body.get("name"))
        user = "guest-" + secrets.token_hex(8)
        token = issue_token(self.secret, user, doc="", role="viewer", ttl=GUEST_TTL, name=name)
        await self.remember_name(user, name)
        return JSONResponse(
            {
                "token": token,
                "user": user,
                "name": name,
                "role": role,
                "doc": doc_id,
                "colour": colour_for(user),
                "expires": int(time.time()) + GUEST_TTL,
            }
        )

    async def get_session(self, request: Request) -> Response:
        """Who the request's token is."""
        grant = verify_token(self.secret, token_from(request.headers, request.query_params))
        return JSONResponse(
            {
                "user": grant.user,
                "name": grant.name,
                "role": grant.role,
                "doc": grant.doc,
                "colour": colour_for(grant.user),
                "expires": grant.expires,
                "guest": grant.user.startswith("guest-"),
            }
        )

    # -- documents ---------------------------------------------------------------------

    async def list_docs(self, request: Request) -> Response:
        """Every document for a token of every document or an administrator; for any
        other account, the documents it is a member of (with its ``role``)."""
        caller = await self._caller(request)
        docs = await asyncio.to_thread(self.store.documents)
        if not caller.account or caller.admin:
            role = "owner" if caller.admin else None
            return JSONResponse({"documents": [_info(d, role) for d in docs]})
        mine = dict(await asyncio.to_thread(self.sharing.documents_of, caller.grant.user))
        return JSONResponse({"documents": [_info(d, mine[d.id]) for d in docs if d.id in mine]})

    async def create_doc(self, request: Request) -> Response:
        """A new document; an account that creates it is its owner."""
        caller = await self._caller(request)
        if not caller.grant.can_write:
            raise RequestError(403, "forbidden", "viewers cannot create documents")
        body = await read_json(request, self.max_request_bytes)
        doc_id = check_doc_id(body.get("id"))
        info = await asyncio.to_thread(self.store.create, doc_id)
        if caller.account:
            try:
                await asyncio.to_thread(self.sharing.create_owner, doc_id, caller.grant.user)
            except BaseException:  # an ownerless document made by an account: undo it
                await asyncio.to_thread(self.store.delete, doc_id)
                raise
        return JSONResponse(_info(info, "owner" if caller.account else None), status_code=201)

    async def get_doc(self, request: Request) -> Response:
        doc_id = await self._granted_doc(request)
        async with self.rooms.locked(doc_id) as handle:  # durable ops only
            doc = handle.room.doc
            body = {"id": doc_id, "text": doc.text, "version": _version_json(doc.version), "length": len(doc)}
        return JSONResponse(body)

    async def delete_doc(self, request: Request) -> Response:
        doc_id = request.path_params["doc_id"]
        grant = await self.doc_access(request, doc_id)
        if not grant.is_owner:
            raise RequestError(403, "forbidden", "only an owner may delete a document")
        handle = self.rooms.loaded(doc_id)
        if handle is not None:
            async with handle.lock:
                for s in list(handle.room.sessions):
                    self.rooms.deliver([Send(s, error_frame(ErrorCode.NOT_FOUND, "the document was deleted", fatal=True), True)])
                self.rooms.drop(doc_id)
        await asyncio.to_thread(self.store.delete, doc_id)
        await asyncio.to_thread(self.sharing.forget, doc_id)
        return Response(status_code=204)

    async def get_text(self, request: Request) -> Response:
        """The text now, or at ``?version=[[agent, seq], ...]``."""
        doc_id = await self._granted_doc(request)
        version = self._version_param(request)
        if version is None:
            async with self.rooms.locked(doc_id) as handle:  # durable ops only
                text = handle.room.doc.text
            return PlainTextResponse(text)
        doc, _ = await self._copy(doc_id)
        if version == doc.version:
            return PlainTextResponse(doc.text)
        return PlainTextResponse(await asyncio.to_thread(doc.text_at, version))

    async def get_history(self, request: Request) -> Response:
        doc, owners = await self._copy(await self._granted_doc(request))
        changes = await asyncio.to_thread(doc.changes)
        names = await self._names_of({owners[c.agent] for c in changes if c.agent in owners})
        return JSONResponse(
            {
                "changes": [
                    {
                        "agent": c.agent,
                        "user": owners.get(c.agent),
                        "name": names.get(owners.get(c.agent, "")),
                        "start": c.start,
                        "end": c.end,
                        "time": c.time,
                        "inserted": c.inserted,
                        "deleted": c.deleted,
                        "version": _version_json(c.version),
                    }
                    for c in changes
                ]
            }
        )

    async def get_blame(self, request: Request) -> Response:
        """Who typed each character: ``{"version", "runs": [{"start", "end", "agent", "user", "name"}]}``
        (code-point offsets into the text now, or at ``?version=``; ``user`` owns the
        agent, ``name`` is that user's display name; either may be null)."""
        doc_id = await self._granted_doc(request)
        version = self._version_param(request)
        doc, owners = await self._copy(doc_id)
        at = doc.version if version is None else version
        runs = await asyncio.to_thread(doc.blame, at)
        names = await self._names_of({owners[r.agent] for r in runs if r.agent in owners})

        def run(r: Authorship) -> dict[str, object]:
            user = owners.get(r.agent)
            return {"start": r.start, "end": r.end, "agent": r.agent, "user": user, "name": names.get(user or "")}

        return JSONResponse({"version": _version_json(at), "runs": [run(r) for r in runs]})

    async def get_snapshot(self, request: Request) -> Response:
        """The whole document (``Document.encode()`` bytes: text and op log), what a
        browser loads before it joins with that document's summary."""
        doc, _ = await self._copy(await self._granted_doc(request))
        data = await asyncio.to_thread(doc.encode)
        return Response(data, media_type="application/octet-stream", headers={"Cache-Control": "no-store"})

    async def edit_doc(self, request: Request) -> Response:
        """Apply ``{"pos", "delete", "insert"}`` at the current text, as agent ``api:<user>``.

        It goes through the room like any client's batch (:meth:`Room.edit`): the
        same checks and limits, persisted, then broadcast to everyone connected.
        """
        doc_id = request.path_params["doc_id"]
        grant = await self.doc_access(request, doc_id)
        if not grant.can_write:
            raise RequestError(403, "forbidden", f"a {grant.role} cannot edit this document")
        await self.remember_name(grant.user, grant.name)
        body = await read_json(request, self.max_request_bytes)
        pos, n_del, ins = body.get("pos"), body.get("delete", 0), body.get("insert", "")
        if type(pos) is not int or type(n_del) is not int or not isinstance(ins, str):
            raise RequestError(400, "bad_op", "expected {'pos': int, 'delete': int, 'insert': str}")
        agent = self.api_agent(grant.user)
        user = grant.user
        # One lock hold from claiming the agent to the durable commit: concurrent edits
        # of one user must not take the same seq, and a room unloaded meanwhile must
        # not be written to.
        async with self.rooms.locked(doc_id) as handle:
            if await self.rooms.claim(handle, agent, user) != user:
                raise RequestError(403, "forbidden", f"agent {agent!r} belongs to another user")
            room = handle.room
            pending = await self.rooms.run_locked(handle, lambda: room.edit(user, agent, pos, n_del, ins))
            raise_unless_committed(pending, "the edit")
            doc = handle.room.doc
            return JSONResponse({"version": _version_json(doc.version), "length": len(doc)})
