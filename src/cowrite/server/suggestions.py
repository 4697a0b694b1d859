"""Suggestions over HTTP: edits on a branch of the document, shown inline, accepted or rejected.

=====================================================================  ==========================================
``GET /api/docs/{doc}/suggestions[?since=tag]``                        ``{tag, version, text_length, you, suggestions}`` (anyone with access)
``POST /api/docs/{doc}/suggestions`` ``{version, text}``               suggest that the text at ``version`` read ``text`` (201)
``POST /api/docs/{doc}/suggestions`` ``{id, patch}``                   the same as ops the client made, agent ``sugg:<id>`` (201)
``PUT /api/docs/{doc}/suggestions/{id}`` ``{version, text}|{patch}``   replace your own suggestion's edits
``POST /api/docs/{doc}/suggestions/{id}/accept``                       merge it into the document as ordinary ops (editors)
``DELETE /api/docs/{doc}/suggestions/{id}``                            reject it (editors) or withdraw your own (204)
=====================================================================  ==========================================

What a suggestion is (:mod:`cowrite.engine.suggestions`): ops of the agent
``sugg:<id>`` whose parents are versions of the document, kept in the store's
suggestions table, *not* in the document's log.  ``{version, text}`` is the simple way
to suggest: the text at ``version`` (a version the server has) edited into ``text``;
the server makes the ops at ``version`` (a minimal diff), so they merge with
everything typed since.  ``{patch}`` (base64) is for a client that makes the ops
itself -- the browser's suggesting mode does, so the suggestion is what was typed, not
a diff's reading of it: it picks the suggestion's ``id`` (so it knows the agent;
``409 exists`` if taken), and the patch must hold the whole suggestion -- all ops of its agent, seqs
from 0, parents in the document or in the patch; anything else (another agent's ops, another
suggestion's parents, a malformed or oversize patch) is a ``400`` and nothing is stored.

Each listed suggestion has ``spans``: the server's text now, in runs ``same``,
``insert`` (the suggestion adds it) and ``delete`` (it removes it), computed by merging
the document and the suggestion in a scratch replica and reading what its ops insert
and delete there -- so a suggestion stays right however the document moved on.  The ``same`` and ``delete`` runs spell the text at
``version`` (the response's), which a client compares with its own before marking it inline.

Accepting adds the suggestion's ops to the document through the room (persisted, then
broadcast, like any edit); the agent is claimed for the suggester, so blame shows them
as the author.  Then the row is dropped.  A suggestion accepted already (its agent
has ops in the document) is a ``409``, never applied twice.

Who may do what: reading needs any role; suggesting needs ``commenter`` or stronger
(a commenter may propose text, as in the editors people know; a viewer gets ``403``);
changing or withdrawing a suggestion only its author; accepting and rejecting
``editor`` or ``owner``.  Browsers fetch the list with ``?since=`` the last ``tag``:
unchanged, the answer is a store read and no merge; changed, the listing is computed
once per document and version and shared by every tab.

Live: after every create, save, accept, reject or withdrawal the document's loaded
room sends ``SUGGESTIONS(revision)`` (PROTOCOL.md) to each of its sockets, whose
clients fetch the list again.  The revision is derived from the open rows themselves
(:func:`suggestions_revision`: a digest of their ids, authors and save times), so it
needs nothing the store does not keep already.  Servers sharing a store learn of each
other's changes the way comments do: at once through a Redis notice
(:attr:`SuggestionsApi.announce`, ``fanout.py``), and every ``Limits.reconcile_seconds``
this server reads the rows of each document it has sockets on and tells those sockets
when the revision moved (in case a notice is lost).  Browsers still poll slowly too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..accounts import at_least
from ..engine import MAX_SEQ, DecodeError, Document, InvalidOpError, Op, RawVersion, decode_patch, encode_patch
from ..engine.suggestions import check_suggestion, make_suggestion, suggestion_agent, suggestion_view
from ..errors import RequestError
from ..protocol.messages import Suggestions, encode_frame
from ..protocol.server import Send
from ..store import InvalidArgument
from ..store.suggestions import MAX_SUGGESTION_BYTES, SuggestionRecord, check_suggestion_id
from .access import DocAccess
from .api import HttpApi, guarded, parse_version, raise_unless_committed, read_json
from .metrics import Metrics
from .revisions import poll_revisions

__all__ = ["MAX_OPEN_SUGGESTIONS", "MAX_SUGGESTION_OPS", "SuggestionsApi", "suggestions_revision"]

log = logging.getLogger("cowrite.server.suggestions")

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]

MAX_OPEN_SUGGESTIONS = 50
"""Open suggestions a document may have at once: each listing merges every one of them."""
MAX_SUGGESTION_OPS = 2000
"""Ops (runs of contiguous typing or striking) one suggestion may hold.  A listing
merges and lays out every open suggestion again after each change to the document,
in O(n log n) for n ops, and a patch of 40,000 one-character ops is under 100 KiB
(about half a second to show, at every listing).  Measured: 50 open suggestions of
2,000 scattered one-character ops each list in about a second (``GET`` over HTTP,
in-process, a 2,400-character document; ~18 ms a suggestion), which is the bound
this keeps.  Typed in the browser, a suggestion has an op per place it changes: a
few dozen, rarely hundreds."""


def _version_json(version: RawVersion) -> list[list[object]]:
    return [[a, s] for a, s in version]


def suggestions_revision(records: list[SuggestionRecord]) -> int:
    """A number naming the set of open suggestions ``records`` (their ids, authors and
    save times, in any order): every save stamps a new ``updated_at`` and an accept,
    reject or withdrawal drops a row, so each change moves it.  A digest rather than a
    counter, because the rows are all the store keeps; < ``MAX_SEQ`` (a frame's uvar)."""
    state = sorted((r.id, r.author, r.updated_at) for r in records)
    digest = hashlib.sha256(json.dumps(state).encode()).digest()
    return int.from_bytes(digest[:8], "big") % MAX_SEQ


def _suggestion_id(request: Request) -> str:
    try:
        return check_suggestion_id(request.path_params["id"])
    except InvalidArgument as exc:
        raise RequestError(400, "bad_request", str(exc)) from None


class SuggestionsApi:
    """The routes above, on the documents, rooms and identities of ``api``."""

    def __init__(self, api: HttpApi, *, max_request_bytes: int = 256 << 10) -> None:
        self.api = api
        self.store = api.store
        self.rooms = api.rooms
        self.max_patch_bytes = min(max_request_bytes, MAX_SUGGESTION_BYTES)
        self.max_request_bytes = max_request_bytes
        self._cache: dict[str, tuple[str, dict[str, Any]]] = {}
        """doc -> (tag, listing without ``you``): tabs polling one document share one merge."""
        self._watched: dict[str, int] = {}
        """doc -> the suggestions revision its sockets (on this server) were told of last."""
        self.announce: Callable[[str, int], None] | None = None
        """``(doc_id, revision)`` of each change made here, for the other servers (``fanout.py``)."""
        self._create_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        """doc -> the lock of :meth:`_creating` (gone once no create holds or waits for it)."""

    def routes(self, metrics: Metrics) -> list[BaseRoute]:
        def g(method: Endpoint) -> Callable[[Request], Awaitable[Response]]:
            return guarded(method, metrics)

        d = "/api/docs/{doc_id}/suggestions"
        return [
            Route(d, g(self.list_suggestions), methods=["GET"]),
            Route(d, g(self.create), methods=["POST"]),
            Route(f"{d}/{{id}}", g(self.update), methods=["PUT"]),
            Route(f"{d}/{{id}}", g(self.delete), methods=["DELETE"]),
            Route(f"{d}/{{id}}/accept", g(self.accept), methods=["POST"]),
        ]

    # -- helpers -----------------------------------------------------------------------------

    async def _access(self, request: Request, *, suggest: bool = False) -> tuple[str, DocAccess]:
        return await self.api.path_doc_access(
            request, at_least_role="commenter" if suggest else None, doing="suggest changes to this document"
        )

    async def _existing(self, doc_id: str, suggestion_id: str) -> SuggestionRecord:
        found = await asyncio.to_thread(self.store.suggestion, doc_id, suggestion_id)
        if found is None:
            raise RequestError(404, "not_found", f"this document has no open suggestion {suggestion_id!r}")
        return found

    def _ops_of(self, body: dict[str, Any], doc: Document, agent: str) -> list[Op]:
        """The suggestion's ops from a request body, checked against ``doc`` (run in a
        worker thread: diffing and merging are CPU work)."""
        if "patch" in body:
            raw = body["patch"]
            if not isinstance(raw, str):
                raise RequestError(400, "bad_request", "patch must be a base64 string")
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise RequestError(400, "bad_request", "patch is not valid base64") from None
            try:
                ops = decode_patch(data, max_bytes=self.max_patch_bytes)
            except DecodeError as exc:
                raise RequestError(400, "bad_patch", f"the patch does not decode: {exc}") from None
        else:
            text = body.get("text")
            version = body.get("version")
            if not isinstance(text, str) or not isinstance(version, list):
                raise RequestError(400, "bad_request", 'expected {"version": [["agent", seq], ...], "text": str} or {"patch": base64}')
            base = parse_version(json.dumps(version))  # UnknownVersionError below: 404
            ops = make_suggestion(doc, base, text, agent)
        if not ops:
            raise RequestError(400, "no_change", "the suggestion changes nothing")
        if len(ops) > MAX_SUGGESTION_OPS:
            raise RequestError(413, "too_large", f"a suggestion holds at most {MAX_SUGGESTION_OPS} ops, not {len(ops)}: suggest in parts")
        try:
            check_suggestion(doc, ops, agent)
        except InvalidOpError as exc:
            raise RequestError(400, "bad_suggestion", str(exc)) from None
        return ops

    async def _save(self, body: dict[str, Any], doc_id: str, grant: DocAccess, suggestion_id: str, created_at: float) -> SuggestionRecord:
        agent = suggestion_agent(suggestion_id)
        doc, _ = await self.api._copy(doc_id)
        ops = await asyncio.to_thread(self._ops_of, body, doc, agent)
        patch = encode_patch(ops)
        if len(patch) > self.max_patch_bytes:
            raise RequestError(413, "too_large", f"a suggestion is at most {self.max_patch_bytes} bytes of ops")
        await self.api.remember_name(grant.user, grant.name)
        record = SuggestionRecord(suggestion_id, grant.user, patch, created_at, time.time())
        try:
            return await asyncio.to_thread(self.store.put_suggestion, doc_id, record)
        except InvalidArgument as exc:
            raise RequestError(403, "forbidden", str(exc)) from None

    def _view(self, doc: Document, record: SuggestionRecord) -> tuple[list[dict[str, object]] | None, str | None]:
        """The inline spans of one suggestion on ``doc``, or why it no longer applies."""
        agent = suggestion_agent(record.id)
        try:
            spans = suggestion_view(doc, decode_patch(record.patch), agent)
        except (InvalidOpError, DecodeError) as exc:
            return None, str(exc)
        return [{"kind": s.kind, "text": s.text} for s in spans], None

    async def _one(self, doc: Document, record: SuggestionRecord, names: dict[str, str]) -> dict[str, object]:
        spans, problem = await asyncio.to_thread(self._view, doc, record)
        return {
            "id": record.id,
            "agent": suggestion_agent(record.id),
            "author": record.author,
            "name": names.get(record.author),
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "spans": spans,
            "problem": problem,
        }

    # -- telling the sockets -----------------------------------------------------------------

    def notify(self, doc_id: str, revision: int) -> None:
        """Tell every socket of the document on this server that its open suggestions
        are now at ``revision`` (they fetch the list again)."""
        self._watched[doc_id] = revision
        handle = self.rooms.loaded(doc_id)
        if handle is None:
            return
        frame = encode_frame(Suggestions(revision))
        self.rooms.deliver([Send(s, frame) for s in list(handle.room.sessions) if s.joined and not s.closed])

    async def _changed(self, doc_id: str) -> None:
        """After a change to the rows: read them and notify (a failed read is left to
        :meth:`run` on a cluster, and to the browsers' slow poll)."""
        try:
            records = await asyncio.to_thread(self.store.suggestions, doc_id)
        except Exception as exc:  # the change is committed; only the notice is late
            log.warning("reading the suggestions of %r after a change failed: %s", doc_id, exc)
            return
        revision = suggestions_revision(records)
        self.notify(doc_id, revision)
        if self.announce is not None:  # the other servers' sockets need not wait for their look
            self.announce(doc_id, revision)

    async def run(self, interval: float) -> None:
        """Tell this server's sockets of other servers' suggestion changes by polling the
        store every ``interval`` seconds (the fallback to Redis notices: ``revisions.py``)."""
        await poll_revisions(
            self.rooms, self._watched, interval,
            lambda doc_id: suggestions_revision(self.store.suggestions(doc_id)), self.notify, "suggestions",
        )

    # -- routes ------------------------------------------------------------------------------

    @staticmethod
    def _tag(version: RawVersion, records: list[SuggestionRecord]) -> str:
        """What a listing depends on: the document's version and the rows' ids, authors and saves."""
        state = [sorted(version), [(r.id, r.author, r.updated_at) for r in records]]
        return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:24]

    async def list_suggestions(self, request: Request) -> Response:
        """The list; with ``?since=<tag>`` (the ``tag`` of the last one) just
        ``{"tag", "unchanged": true}`` when nothing it depends on moved -- what a polling
        browser gets almost always, for a store read and no merging."""
        doc_id, grant = await self._access(request)
        records = await asyncio.to_thread(self.store.suggestions, doc_id)
        async with self.rooms.locked(doc_id) as handle:
            version = handle.room.doc.version
        tag = self._tag(version, records)
        if request.query_params.get("since") == tag:
            return JSONResponse({"tag": tag, "unchanged": True})
        cached = self._cache.get(doc_id)
        if cached is None or cached[0] != tag:
            doc, _ = await self.api._copy(doc_id)
            tag = self._tag(doc.version, records)
            names = await self.api._names_of({r.author for r in records})
            listed = [await self._one(doc, r, names) for r in records]
            cached = (tag, {"version": _version_json(doc.version), "text_length": len(doc), "suggestions": listed})
            if len(self._cache) >= 1024:
                self._cache.clear()
            self._cache[doc_id] = cached
        you = {
            "user": grant.user,
            "role": grant.role,
            "can_suggest": at_least(grant.role, "commenter"),
            "can_decide": grant.can_write,
        }
        return JSONResponse({"tag": cached[0], "revision": suggestions_revision(records), **cached[1], "you": you})

    async def _room_for_one_more(self, doc_id: str) -> None:
        if len(await asyncio.to_thread(self.store.suggestions, doc_id)) >= MAX_OPEN_SUGGESTIONS:
            raise RequestError(409, "too_many", f"this document has {MAX_OPEN_SUGGESTIONS} open suggestions: accept or reject some first")

    def _creating(self, doc_id: str) -> asyncio.Lock:
        """The lock a new suggestion of ``doc_id`` is counted and stored under: creates sent
        at once would otherwise all count the rows before any is stored, and pass the bound."""
        lock = self._create_locks.get(doc_id)
        if lock is None:
            lock = self._create_locks[doc_id] = asyncio.Lock()
        return lock

    async def create(self, request: Request) -> Response:
        doc_id, grant = await self._access(request, suggest=True)
        await self._room_for_one_more(doc_id)  # before reading the body: a full document refuses at once
        body = await read_json(request, self.max_request_bytes)
        chosen = body.get("id")
        if chosen is None:
            suggestion_id = secrets.token_hex(8)
        else:  # a client that makes its own ops names the agent first: sugg:<id>
            try:
                suggestion_id = check_suggestion_id(chosen)
            except InvalidArgument as exc:
                raise RequestError(400, "bad_request", str(exc)) from None
        async with self._creating(doc_id):
            await self._room_for_one_more(doc_id)
            if chosen is not None and await asyncio.to_thread(self.store.suggestion, doc_id, suggestion_id) is not None:
                raise RequestError(409, "exists", f"this document has a suggestion {suggestion_id!r} already")
            record = await self._save(body, doc_id, grant, suggestion_id, time.time())
        await self._changed(doc_id)
        doc, _ = await self.api._copy(doc_id)
        one = await self._one(doc, record, {grant.user: grant.name})
        return JSONResponse(one, status_code=201)

    async def update(self, request: Request) -> Response:
        doc_id, grant = await self._access(request, suggest=True)
        suggestion_id = _suggestion_id(request)
        current = await self._existing(doc_id, suggestion_id)
        if current.author != grant.user:
            raise RequestError(403, "forbidden", "only its author can change a suggestion")
        body = await read_json(request, self.max_request_bytes)
        record = await self._save(body, doc_id, grant, suggestion_id, current.created_at)
        await self._changed(doc_id)
        doc, _ = await self.api._copy(doc_id)
        return JSONResponse(await self._one(doc, record, {grant.user: grant.name}))

    async def delete(self, request: Request) -> Response:
        """Reject (an editor or owner) or withdraw (the author)."""
        doc_id, grant = await self._access(request)
        suggestion_id = _suggestion_id(request)
        current = await self._existing(doc_id, suggestion_id)
        if not grant.can_write and current.author != grant.user:
            raise RequestError(403, "forbidden", f"a {grant.role} cannot reject another person's suggestion")
        if not await asyncio.to_thread(self.store.delete_suggestion, doc_id, suggestion_id):
            raise RequestError(404, "not_found", f"this document has no open suggestion {suggestion_id!r}")
        await self._changed(doc_id)
        return Response(status_code=204)

    async def accept(self, request: Request) -> Response:
        """Merge the suggestion's ops into the document: ``{"version", "length"}`` after."""
        doc_id, grant = await self._access(request)
        if not grant.can_write:
            raise RequestError(403, "forbidden", f"a {grant.role} cannot accept suggestions")
        suggestion_id = _suggestion_id(request)
        agent = suggestion_agent(suggestion_id)
        # The lock is held from reading the row to the commit: two accepts of one
        # suggestion on this server are one after the other, and the second finds the
        # agent's ops in the document (another server's accept too, once caught up).
        async with self.rooms.locked(doc_id) as handle:
            record = await self._existing(doc_id, suggestion_id)
            room = handle.room
            if room.doc.oplog.cg.next_seq(agent) != 0:
                # Its agent has ops in the document: accepted already (the row outlived
                # its accept: drop it) -- or an editor typed as that agent (the agent is
                # theirs then, not the suggester's: refuse, keep the row).  Nothing is applied.
                if room.agent_owners.get(agent) == record.author:
                    await asyncio.to_thread(self.store.delete_suggestion, doc_id, suggestion_id)
                    await self._changed(doc_id)
                    raise RequestError(409, "conflict", "this suggestion was accepted already")
                raise RequestError(409, "conflict", f"agent {agent!r} has another user's ops in the document")
            try:
                ops = decode_patch(record.patch)
                await asyncio.to_thread(check_suggestion, room.doc, ops, agent)
            except (InvalidOpError, DecodeError) as exc:
                raise RequestError(409, "conflict", f"the suggestion no longer applies: {exc}") from None
            if await self.rooms.claim(handle, agent, record.author) != record.author:
                raise RequestError(409, "conflict", f"agent {agent!r} belongs to another user")
            pending = await self.rooms.run_locked(handle, lambda: room.edit_ops(record.author, agent, ops))
            raise_unless_committed(pending, "the accepted suggestion", refused=409, too_large=409)
            doc = handle.room.doc
            version, length = doc.version, len(doc)
        # The ops are durable in the log: the row goes (if this fails, the next accept
        # finds them there and answers 409, and a reject removes it).
        await asyncio.to_thread(self.store.delete_suggestion, doc_id, suggestion_id)
        await self._changed(doc_id)
        return JSONResponse({"version": _version_json(version), "length": length, "author": record.author})
