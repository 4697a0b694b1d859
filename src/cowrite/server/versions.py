"""Versions over HTTP: restore a past version, named versions, the diff between two
versions, and document titles.

=========================================================  ======================================
``POST /api/docs/{doc}/restore`` ``{version}``              make the text what it was at ``version``, as new ops (editors)
``GET /api/docs/{doc}/versions``                           ``{"versions": [{name, version, created_by, created_by_name, created_at}]}``
``POST /api/docs/{doc}/versions`` ``{name, version?}``      label a version (default: the current one); ``201`` (editors)
``DELETE /api/docs/{doc}/versions/{name}``                 remove a label (editors)
``GET /api/docs/{doc}/diff?from=V&to=V``                   ``{"from", "to", "spans": [{kind, text, agent, user, name}]}`` (``to``: now by default)
``GET /api/docs/{doc}/title`` / ``PUT`` ``{title}``         the title (``""``: none) and the caller's role; setting it needs edit rights
=========================================================  ======================================

Restoring is not a rollback (:func:`cowrite.engine.restore`): the server diffs the text
now against the text at ``version`` and makes the edits as ops of the caller's HTTP
agent (``api:<user>``), in one batch through the room like any edit -- persisted,
then broadcast -- so people typing meanwhile, or offline, merge with it instead of
being overwritten.  A browser restores through its own session instead (the same
diff in JS), so its user's undo takes the restore back.

Reading (versions, diff, title) needs any role on the document; changing (restore,
labels, title) needs ``editor`` or ``owner``.  Refusals are the API's usual
``{"error", "message"}``: ``400`` malformed, ``403`` not allowed, ``404`` no such
document, version or label, ``409 exists`` a label of that name is there already.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..engine import DiffSpan, Document, RawVersion, restore, version_diff
from ..errors import RequestError
from ..store import MAX_TITLE, MAX_VERSION_NAME, NamedVersionRecord
from .access import DocAccess
from .api import HttpApi, guarded, parse_version, raise_unless_committed, read_json
from .auth import has_control_or_bidi
from .metrics import Metrics

__all__ = ["VersionsApi"]

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


def _version_json(version: RawVersion) -> list[list[object]]:
    return [[a, s] for a, s in version]


def _body_version(value: object, what: str = "version") -> RawVersion:
    """A version given in a JSON body: ``[["agent", seq], ...]``, checked as ``?version=`` is."""
    if not isinstance(value, list):
        raise RequestError(400, "bad_version", f'{what} must be a list like [["agent", 12], ...]')
    return parse_version(json.dumps(value))


def _clean_text(value: object, what: str, max_len: int, *, empty: bool) -> str:
    """A title or label: trimmed, no control, bidirectional or invisible characters."""
    if not isinstance(value, str):
        raise RequestError(400, "bad_request", f"expected {{{what!r}: str}}")
    text = value.strip()
    if not empty and not text:
        raise RequestError(400, "bad_request", f"a {what} may not be empty")
    if len(text) > max_len:
        raise RequestError(400, "bad_request", f"a {what} is at most {max_len} characters")
    if has_control_or_bidi(text):
        raise RequestError(400, "bad_request", f"a {what} may not contain control, bidirectional or invisible characters")
    return text


class VersionsApi:
    """The routes above, on the documents, rooms and identities of ``api``."""

    def __init__(self, api: HttpApi, *, max_request_bytes: int = 256 << 10) -> None:
        self.api = api
        self.store = api.store
        self.rooms = api.rooms
        self.max_request_bytes = max_request_bytes

    def routes(self, metrics: Metrics) -> list[BaseRoute]:
        def g(method: Endpoint) -> Callable[[Request], Awaitable[Response]]:
            return guarded(method, metrics)

        d = "/api/docs/{doc_id}"
        return [
            Route(f"{d}/restore", g(self.restore), methods=["POST"]),
            Route(f"{d}/versions", g(self.list_versions), methods=["GET"]),
            Route(f"{d}/versions", g(self.add_version), methods=["POST"]),
            Route(f"{d}/versions/{{name:path}}", g(self.delete_version), methods=["DELETE"]),  # a name may hold "/"
            Route(f"{d}/diff", g(self.diff), methods=["GET"]),
            Route(f"{d}/title", g(self.get_title), methods=["GET"]),
            Route(f"{d}/title", g(self.set_title), methods=["PUT"]),
        ]

    async def _writer(self, request: Request) -> tuple[str, DocAccess]:
        doc_id: str = request.path_params["doc_id"]
        grant = await self.api.doc_access(request, doc_id)
        if not grant.can_write:
            raise RequestError(403, "forbidden", f"a {grant.role} cannot change this document")
        return doc_id, grant

    async def _reader(self, request: Request) -> str:
        doc_id: str = request.path_params["doc_id"]
        await self.api.doc_access(request, doc_id)
        return doc_id

    # -- restore ---------------------------------------------------------------------------

    async def restore(self, request: Request) -> Response:
        """Restore ``{"version"}``: ``{"version", "length", "edits"}`` (the new version,
        the text's length, how many changed places the restore made)."""
        doc_id, grant = await self._writer(request)
        body = await read_json(request, self.max_request_bytes)
        version = _body_version(body.get("version"))
        await self.api.remember_name(grant.user, grant.name)
        agent = self.api.api_agent(grant.user)
        user = grant.user
        # The lock is held from the fork to the commit: nothing merges into the room
        # meanwhile, so the ops are made on exactly its current text.
        async with self.rooms.locked(doc_id) as handle:
            if await self.rooms.claim(handle, agent, user) != user:
                raise RequestError(403, "forbidden", f"agent {agent!r} belongs to another user")
            room = handle.room
            scratch = room.doc.fork(agent)
            edits = await asyncio.to_thread(restore, scratch, version)  # UnknownVersionError: 404
            if not edits:
                doc = room.doc
                return JSONResponse({"version": _version_json(doc.version), "length": len(doc), "edits": 0})
            ops = scratch.ops_since(room.doc.version)
            pending = await self.rooms.run_locked(handle, lambda: room.edit_ops(user, agent, ops))
            raise_unless_committed(pending, "the restore")
            doc = handle.room.doc
            return JSONResponse({"version": _version_json(doc.version), "length": len(doc), "edits": len(edits)})

    # -- named versions ----------------------------------------------------------------------

    async def list_versions(self, request: Request) -> Response:
        doc_id = await self._reader(request)
        records = await asyncio.to_thread(self.store.named_versions, doc_id)
        names = await self.api._names_of({r.created_by for r in records})
        return JSONResponse(
            {
                "versions": [
                    {
                        "name": r.name,
                        "version": _version_json(r.version),
                        "created_by": r.created_by,
                        "created_by_name": names.get(r.created_by),
                        "created_at": r.created_at,
                    }
                    for r in records
                ]
            }
        )

    async def add_version(self, request: Request) -> Response:
        """Label ``{"name", "version"?}`` (the version must be one the document has)."""
        doc_id, grant = await self._writer(request)
        body = await read_json(request, self.max_request_bytes)
        name = _clean_text(body.get("name"), "name", MAX_VERSION_NAME, empty=False)
        doc, _ = await self.api._copy(doc_id)
        if body.get("version") is None:
            version = tuple(sorted(doc.version))
        else:
            version = _body_version(body.get("version"))
            await asyncio.to_thread(_check_known, doc, version)
        await self.api.remember_name(grant.user, grant.name)
        record = NamedVersionRecord(doc_id, name, version, grant.user, time.time())
        if not await asyncio.to_thread(self.store.add_named_version, record):
            raise RequestError(409, "exists", f"this document has a version named {name!r} already")
        return JSONResponse(
            {"name": name, "version": _version_json(version), "created_by": grant.user, "created_at": record.created_at},
            status_code=201,
        )

    async def delete_version(self, request: Request) -> Response:
        doc_id, _ = await self._writer(request)
        name = request.path_params["name"]
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_VERSION_NAME:
            raise RequestError(400, "bad_request", f"a version name is 1..{MAX_VERSION_NAME} characters")
        if not await asyncio.to_thread(self.store.delete_named_version, doc_id, name):
            raise RequestError(404, "not_found", f"this document has no version named {name!r}")
        return Response(status_code=204)

    # -- diff --------------------------------------------------------------------------------

    async def diff(self, request: Request) -> Response:
        """The spans from ``?from=`` (default: the empty document) to ``?to=`` (default: now)."""
        doc_id = await self._reader(request)
        raw_from, raw_to = request.query_params.get("from"), request.query_params.get("to")
        start = () if raw_from is None else parse_version(raw_from)
        doc, owners = await self.api._copy(doc_id)
        end = doc.version if raw_to is None else parse_version(raw_to)
        spans = await asyncio.to_thread(version_diff, doc, start, end)
        names = await self.api._names_of({owners[s.agent] for s in spans if s.agent in owners})

        def span(s: DiffSpan) -> dict[str, object]:
            user = owners.get(s.agent or "")
            return {"kind": s.kind, "text": s.text, "agent": s.agent, "user": user, "name": names.get(user or "")}

        return JSONResponse(
            {"from": _version_json(start), "to": _version_json(tuple(end)), "spans": [span(s) for s in spans]}
        )

    # -- titles ------------------------------------------------------------------------------

    async def get_title(self, request: Request) -> Response:
        """``{"id", "title", "role"}``: the caller's role too, so a page shows only what
        the caller may do (the server checks again on every change)."""
        doc_id: str = request.path_params["doc_id"]
        grant = await self.api.doc_access(request, doc_id)
        info = await asyncio.to_thread(self.store.info, doc_id)
        return JSONResponse({"id": doc_id, "title": info.title, "role": grant.role})

    async def set_title(self, request: Request) -> Response:
        doc_id, _ = await self._writer(request)
        body = await read_json(request, self.max_request_bytes)
        title = _clean_text(body.get("title"), "title", MAX_TITLE, empty=True)
        await asyncio.to_thread(self.store.set_title, doc_id, title)
        return JSONResponse({"id": doc_id, "title": title})


def _check_known(doc: Document, version: RawVersion) -> None:
    """UnknownVersionError (a 404) unless ``doc`` has every op ``version`` names."""
    doc.ops_since(version)
