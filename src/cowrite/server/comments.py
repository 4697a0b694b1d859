"""Comments on a text range over HTTP, and telling every socket of the document when they change.

=============================================================  ==========================================
``GET /api/docs/{doc}/comments``                               ``{revision, comments: [...], you: {user, role, can_comment}}`` (anyone with access)
``POST /api/docs/{doc}/comments`` ``{body, anchor}``            start a thread on a range (201, the comment)
``POST /api/docs/{doc}/comments`` ``{body, thread}``            reply to a thread (201)
``PATCH /api/docs/{doc}/comments/{id}`` ``{body?, resolved?}``  edit your own comment; resolve or reopen a thread
``DELETE /api/docs/{doc}/comments/{id}``                       delete your own comment (an owner: any) (204)
=============================================================  ==========================================

Who may do what: reading takes any access to the document; writing takes the
``commenter`` role or stronger (a ``viewer`` gets ``403``); editing a comment's body
only its author; deleting it its author or an owner of the document; resolving or
reopening a thread anyone who may comment (as in the editors people know).  A body
is 1..:data:`~cowrite.store.comments.MAX_COMMENT_CHARS` characters.  Bad input is a
``400``, an unknown comment a ``404``, and a refused request changes nothing.

An anchor is ``{start, end}`` of stable positions (:class:`~cowrite.engine.anchors.Anchor`):
the client makes it from its replica.  The server checks it against the document
(``409 conflict`` while the characters it names have not reached the server -- the
client retries once its edits are acknowledged -- or once the range is deleted) and
keeps the text it covers as the thread's ``quote``.  Each listed thread has its
``range`` in the server's text now, ``null`` when its text is gone (*detached*:
shown with its quote, never dropped).

Live: after every change the document's loaded room sends ``COMMENTS(revision)``
(PROTOCOL.md) to each of its sockets, whose clients fetch the list again.  Servers
that share a store (a cluster) with Redis hear of each other's changes at once: a
change made here is also published as a notice (:attr:`CommentsApi.announce`,
``fanout.py``), and another server's notice goes through :meth:`CommentsApi.notify`.
Notices may be lost, so polling stays underneath: every ``Limits.reconcile_seconds``
this server reads the comment revision of each document it has sockets on, and tells
those sockets when it moved (without Redis, the only way a change crosses servers).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..accounts import at_least
from ..engine import DecodeError, Document, InvalidOpError, UnknownVersionError
from ..engine.anchors import Anchor
from ..errors import RequestError
from ..protocol.messages import Comments, encode_frame
from ..protocol.server import Send
from ..store import InvalidArgument, Store
from ..store.comments import MAX_COMMENT_CHARS, MAX_QUOTE_CHARS, CommentRecord, check_comment_id
from .access import DocAccess, colour_for
from .api import HttpApi, guarded, read_json
from .metrics import Metrics
from .revisions import poll_revisions
from .rooms import Rooms

__all__ = ["MAX_COMMENTS_PER_DOC", "CommentsApi"]


MAX_COMMENTS_PER_DOC = 5_000
"""Comments (replies included, deleted ones too) one document may hold."""
_NO_STORE = {"Cache-Control": "no-store"}

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


def _body(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_COMMENT_CHARS:
        raise RequestError(400, "bad_request", f"a comment is 1..{MAX_COMMENT_CHARS} characters (not only spaces)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, "bad_request", "a comment must be valid Unicode") from None
    return value


def _resolve(anchor: Anchor, doc: Document) -> tuple[int, int] | None:
    """The anchor's range in ``doc``, or ``None`` (detached, or naming characters this
    document does not have: then it is shown detached too, with its quote)."""
    try:
        return anchor.resolve(doc)
    except (UnknownVersionError, InvalidOpError):
        return None


def _comment_id(request: Request) -> str:
    try:
        return check_comment_id(request.path_params["comment_id"])
    except InvalidArgument as exc:
        raise RequestError(400, "bad_request", str(exc)) from None


class CommentsApi:
    """The comment routes of one server, and the notices to its sockets (see the module)."""

    def __init__(
        self,
        store: Store,
        rooms: Rooms,
        api: HttpApi,
        *,
        clock: Callable[[], float] = time.time,
        max_request_bytes: int = 256 << 10,
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.api = api
        self.clock = clock
        self.max_request_bytes = max_request_bytes
        self._watched: dict[str, int] = {}  # doc -> the newest comment revision its sockets were told of
        self.announce: Callable[[str, int], None] | None = None
        """``(doc_id, revision)`` of each change made here, for the other servers (``fanout.py``)."""
        self._add_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        """doc -> the lock of :meth:`_adding` (gone once no add holds or waits for it)."""

    def routes(self, metrics: Metrics) -> list[BaseRoute]:
        def g(method: Endpoint) -> Callable[[Request], Awaitable[Response]]:
            return guarded(method, metrics)

        d = "/api/docs/{doc_id}/comments"
        return [
            Route(d, g(self.list_comments), methods=["GET"]),
            Route(d, g(self.add_comment), methods=["POST"]),
            Route(d + "/{comment_id}", g(self.change_comment), methods=["PATCH"]),
            Route(d + "/{comment_id}", g(self.delete_comment), methods=["DELETE"]),
        ]

    # -- helpers -----------------------------------------------------------------------

    async def _access(self, request: Request, *, comment: bool = False) -> tuple[str, DocAccess]:
        return await self.api.path_doc_access(
            request, at_least_role="commenter" if comment else None, doing="comment on this document"
        )

    async def _room_for_one_more(self, doc_id: str) -> None:
        if len(await asyncio.to_thread(self.store.comments, doc_id)) >= MAX_COMMENTS_PER_DOC:
            raise RequestError(413, "too_large", f"a document holds at most {MAX_COMMENTS_PER_DOC} comments")

    def _adding(self, doc_id: str) -> asyncio.Lock:
        """The lock a new comment of ``doc_id`` is counted and stored under: comments sent
        at once would otherwise all count the rows before any is stored, and pass
        :data:`MAX_COMMENTS_PER_DOC`.  Per server: servers sharing a store may each let
        one more in at the same moment, a bound of a few over, not an unbounded one."""
        lock = self._add_locks.get(doc_id)
        if lock is None:
            lock = self._add_locks[doc_id] = asyncio.Lock()
        return lock

    async def _existing(self, doc_id: str, comment_id: str) -> CommentRecord:
        found = await asyncio.to_thread(self.store.comment, doc_id, comment_id)
        if found is None:
            raise RequestError(404, "not_found", f"no comment {comment_id!r} on document {doc_id!r}")
        return found

    async def _spans(self, doc_id: str, comments: list[CommentRecord]) -> dict[str, tuple[int, int] | None]:
        """Where each thread's anchor is in the room's text now (``None``: detached).
        Resolved on the room's own document under its lock (durable ops only, and no
        copy of a long text per request: a position resolves in about log n)."""
        threads = [(c.id, Anchor.decode(c.anchor)) for c in comments if c.is_thread]
        if not threads:
            return {}
        async with self.rooms.locked(doc_id) as handle:
            doc = handle.room.doc
            return {cid: _resolve(anchor, doc) for cid, anchor in threads}

    async def _json(self, doc_id: str, comments: list[CommentRecord]) -> list[dict[str, Any]]:
        spans = await self._spans(doc_id, comments)
        authors = {c.author for c in comments}
        names = await asyncio.to_thread(self.store.user_names, authors) if authors else {}
        return [self._one(c, spans.get(c.id), names) for c in comments]

    @staticmethod
    def _one(c: CommentRecord, span: tuple[int, int] | None, names: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": c.id,
            "thread": c.thread,
            "author": c.author,
            "name": names.get(c.author),
            "colour": colour_for(c.author),
            "body": c.body,
            "created_at": c.created_at,
            "edited_at": c.edited_at,
            "deleted": c.deleted,
        }
        if c.is_thread:
            out.update(
                anchor=Anchor.decode(c.anchor).to_json(),
                quote=c.quote,
                resolved=c.resolved,
                range=None if span is None else list(span),
                detached=span is None,
            )
        return out

    def notify(self, doc_id: str, revision: int, *, moved: bool = False) -> None:
        """Tell every socket of the document (on this server) that its comments are now at
        ``revision`` (``moved``: what the store says now, even if lower -- the document
        was deleted and made again)."""
        self._watched[doc_id] = revision if moved else max(revision, self._watched.get(doc_id, 0))
        handle = self.rooms.loaded(doc_id)
        if handle is None:
            return
        frame = encode_frame(Comments(revision))
        self.rooms.deliver([Send(s, frame) for s in list(handle.room.sessions) if s.joined and not s.closed])

    def _changed_here(self, doc_id: str, revision: int) -> None:
        """A change made on this server: tell its sockets at once, and the other servers
        (whose sockets would otherwise wait for their next look at the store)."""
        self.notify(doc_id, revision)
        if self.announce is not None:
            self.announce(doc_id, revision)

    # -- routes ------------------------------------------------------------------------

    async def list_comments(self, request: Request) -> Response:
        doc_id, access = await self._access(request)
        revision = await asyncio.to_thread(self.store.comments_revision, doc_id)
        found = await asyncio.to_thread(self.store.comments, doc_id)
        revision = max(revision, max((c.rev for c in found), default=0))  # two reads: the newer
        comments = await self._json(doc_id, found)
        return JSONResponse(
            {
                "doc": doc_id,
                "revision": revision,
                "comments": comments,
                "you": {"user": access.user, "role": access.role, "can_comment": at_least(access.role, "commenter")},
            },
            headers=_NO_STORE,
        )

    async def add_comment(self, request: Request) -> Response:
        """``{body, anchor: {start, end}}`` starts a thread, ``{body, thread}`` replies."""
        doc_id, access = await self._access(request, comment=True)
        data = await read_json(request, self.max_request_bytes)
        if set(data) - {"body", "anchor", "thread"}:
            raise RequestError(400, "bad_request", "a comment is {body, anchor} (a thread) or {body, thread} (a reply)")
        body = _body(data.get("body"))
        raw_anchor, thread = data.get("anchor"), data.get("thread")
        if (raw_anchor is None) == (thread is None):
            raise RequestError(400, "bad_request", "give either anchor (a new thread) or thread (a reply)")
        await self.api.remember_name(access.user, access.name)
        await self._room_for_one_more(doc_id)  # a full document refuses before any anchor is resolved
        comment_id = "c" + secrets.token_urlsafe(12)
        now = self.clock()
        if thread is not None:
            if not isinstance(thread, str):
                raise RequestError(400, "bad_request", "thread is the id of a thread's first comment")
            try:
                check_comment_id(thread, "thread")
            except InvalidArgument as exc:
                raise RequestError(400, "bad_request", str(exc)) from None
            parent = await asyncio.to_thread(self.store.comment, doc_id, thread)
            if parent is None or not parent.is_thread:
                raise RequestError(404, "not_found", f"no thread {thread!r} on document {doc_id!r}")
            if parent.deleted:
                raise RequestError(409, "conflict", "this thread was deleted; it takes no replies")
            record = CommentRecord(comment_id, thread, access.user, body, now)
        else:
            try:
                anchor = Anchor.from_json(raw_anchor)
            except DecodeError as exc:
                raise RequestError(400, "bad_request", f"anchor: {exc}") from None
            async with self.rooms.locked(doc_id) as handle:
                doc = handle.room.doc
                try:
                    span = anchor.resolve(doc)
                except UnknownVersionError:
                    raise RequestError(
                        409, "conflict", "the commented text has not reached the server yet; retry once your edits are saved"
                    ) from None
                except InvalidOpError as exc:
                    raise RequestError(400, "bad_request", f"anchor: {exc}") from None
                if span is None:
                    raise RequestError(409, "conflict", "the commented text was deleted meanwhile")
                quote = doc.text[span[0] : min(span[1], span[0] + MAX_QUOTE_CHARS)]
            if span[1] - span[0] > MAX_QUOTE_CHARS:
                quote = quote[: MAX_QUOTE_CHARS - 1] + "…"
            record = CommentRecord(comment_id, comment_id, access.user, body, now, anchor=anchor.encode(), quote=quote)
        async with self._adding(doc_id):
            await self._room_for_one_more(doc_id)  # again: others may have been stored since
            try:
                stored = await asyncio.to_thread(self.store.add_comment, doc_id, record)
            except InvalidArgument as exc:  # the thread was deleted meanwhile
                raise RequestError(409, "conflict", str(exc)) from None
        self._changed_here(doc_id, stored.rev)
        (out,) = await self._json(doc_id, [stored])
        return JSONResponse(out, status_code=201, headers=_NO_STORE)

    async def change_comment(self, request: Request) -> Response:
        """``{body}`` (its author only) and/or ``{resolved}`` (a thread; anyone who may comment)."""
        doc_id, access = await self._access(request, comment=True)
        comment_id = _comment_id(request)
        data = await read_json(request, self.max_request_bytes)
        if not data or set(data) - {"body", "resolved"}:
            raise RequestError(400, "bad_request", "change a comment with {body} and/or {resolved}")
        body = None if "body" not in data else _body(data["body"])
        resolved = data.get("resolved")
        if "resolved" in data and type(resolved) is not bool:
            raise RequestError(400, "bad_request", "resolved must be true or false")
        current = await self._existing(doc_id, comment_id)
        if body is not None and current.author != access.user:
            raise RequestError(403, "forbidden", "only its author may edit a comment")
        if current.deleted:
            raise RequestError(409, "conflict", "this comment was deleted")
        if resolved is not None and not current.is_thread:
            raise RequestError(400, "bad_request", "resolve or reopen the thread, not a reply")
        try:
            stored = await asyncio.to_thread(
                lambda: self.store.update_comment(doc_id, comment_id, body=body, resolved=resolved, now=self.clock())
            )
        except InvalidArgument as exc:
            raise RequestError(409, "conflict", str(exc)) from None
        if stored is None:
            raise RequestError(404, "not_found", f"no comment {comment_id!r} on document {doc_id!r}")
        if stored.rev != current.rev:
            self._changed_here(doc_id, stored.rev)
        (out,) = await self._json(doc_id, [stored])
        return JSONResponse(out, headers=_NO_STORE)

    async def delete_comment(self, request: Request) -> Response:
        doc_id, access = await self._access(request, comment=True)
        comment_id = _comment_id(request)
        current = await self._existing(doc_id, comment_id)
        if current.author != access.user and not access.is_owner:
            raise RequestError(403, "forbidden", "only its author or an owner of the document may delete a comment")
        if current.deleted:
            return Response(status_code=204, headers=_NO_STORE)
        try:
            stored = await asyncio.to_thread(
                lambda: self.store.update_comment(doc_id, comment_id, delete=True, now=self.clock())
            )
        except InvalidArgument:  # deleted meanwhile
            return Response(status_code=204, headers=_NO_STORE)
        if stored is not None:
            self._changed_here(doc_id, stored.rev)
        return Response(status_code=204, headers=_NO_STORE)

    # -- other servers' changes ----------------------------------------------------------

    async def run(self, interval: float) -> None:
        """Tell this server's sockets of other servers' comment changes by polling the
        store every ``interval`` seconds (the fallback to Redis notices: ``revisions.py``);
        what the store says is the revision, even if lower (``moved``)."""
        await poll_revisions(
            self.rooms, self._watched, interval, self.store.comments_revision,
            lambda doc_id, revision: self.notify(doc_id, revision, moved=True), "comment revision",
        )
