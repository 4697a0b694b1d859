"""Documents as files: export as ``.txt``, ``.md`` or ``.html``, import a ``.txt``/``.md`` file.

========================================================  ==========================================
``GET /api/docs/{doc}/export?format=txt|md|html``          the text as a download (``Content-Disposition``)
``POST /api/docs/{doc}/import?mode=replace|append|new``    the request body (a UTF-8 file) into the document
========================================================  ==========================================

Export needs read access (a viewer may export); ``html`` is the text rendered as
markdown (markdown-it-py, CommonMark with tables and strikethrough), sanitised with
nh3 (no scripts, no event handlers, no ``javascript:``/``data:`` links, no frames),
in a small standalone page whose own Content-Security-Policy forbids scripts too.

Import takes the file's bytes as the body: at most the server's
``max_request_bytes`` (the :class:`~cowrite.server.bounds.BodyLimit` refuses more with
``413``), UTF-8 (a leading BOM is dropped; anything else that is not UTF-8 is ``400
bad_encoding``), line endings made ``\\n`` (the editor's).  It is applied as ordinary ops
by agent ``api:<user>``, through the room like any client's batch (persisted, then
broadcast), so people editing at the same time merge with it instead of being
overwritten:

* ``replace`` (the default): the document's text becomes the file's.  Only what
  differs is changed (the common start and end are kept), so the authorship of
  unchanged text survives, and text others type meanwhile outside the replaced span
  is kept.  Needs edit rights.
* ``append``: the file goes at the end (after a line break if the text does not end
  with one).  Needs edit rights.
* ``new``: creates ``doc`` with the file's text (``409 exists`` if there is one); the
  same rights as ``POST /api/docs``, and an account that imports owns the document.

A refused import changes nothing (a new document whose text could not be stored is
deleted again).
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import nh3
from markdown_it import MarkdownIt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..engine.textdiff import replace_span
from ..errors import RequestError
from ..store import check_doc_id
from .access import DocAccess
from .api import HttpApi, guarded, raise_unless_committed
from .metrics import Metrics

__all__ = ["EXPORT_FORMATS", "IMPORT_MODES", "Transfer", "decode_upload", "render_markdown", "standalone_html"]

EXPORT_FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
IMPORT_MODES = ("replace", "append", "new")

# Raw HTML in markdown is allowed (people write <kbd>, <details>) and then sanitised,
# like the browser's preview does (marked + DOMPurify): one rule for both.
_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(["table", "strikethrough"])

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:">
<meta name="generator" content="cowrite">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; line-height: 1.55; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2125; }}
pre, code {{ font-family: ui-monospace, monospace; background: #f5f6f8; border-radius: 4px; }}
pre {{ padding: 0.75rem; overflow-x: auto; }}
blockquote {{ margin-left: 0; padding-left: 1rem; border-left: 3px solid #dde1e6; color: #5e6770; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #dde1e6; padding: 0.25rem 0.5rem; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def render_markdown(text: str) -> str:
    """``text`` as sanitised HTML: markdown rendered, then cleaned by nh3 (its allow-list
    of tags and attributes: no ``script``/``style`` (their content dropped too), no
    ``iframe``/``object``/forms, no ``on*`` handlers or ``style`` attributes, only
    safe URL schemes -- so no ``javascript:`` nor ``data:`` links)."""
    return nh3.clean(_MARKDOWN.render(text), link_rel="noopener noreferrer")


def standalone_html(title: str, text: str) -> str:
    """A page that opens on its own (from disk, no server): ``text`` rendered by
    :func:`render_markdown`, with a little CSS and a CSP that runs no script."""
    return _PAGE.format(title=html.escape(title), body=render_markdown(text))


def decode_upload(body: bytes) -> str:
    """An uploaded file as the text to import: strict UTF-8 (``400 bad_encoding``
    otherwise), a leading BOM dropped, ``\\r\\n`` and ``\\r`` made ``\\n``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(
            400, "bad_encoding", f"the file is not UTF-8 text (byte {exc.start} is invalid); save it as UTF-8 and try again"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise RequestError(400, "bad_encoding", "the file holds NUL characters: it is not a text file")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def append_span(old: str, new: str) -> tuple[int, int, str]:
    """The edit that adds ``new`` at the end of ``old`` (on a line of its own)."""
    if not new:
        return len(old), 0, ""
    sep = "\n" if old and not old.endswith("\n") else ""
    return len(old), 0, sep + new


class Transfer:
    """The export and import routes, on the API's access rules and rooms."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self.rooms = api.rooms

    def routes(self, metrics: Metrics) -> list[BaseRoute]:
        def g(method: Callable[[Request], Coroutine[Any, Any, Response]]) -> Callable[[Request], Awaitable[Response]]:
            return guarded(method, metrics)

        return [
            Route("/api/docs/{doc_id}/export", g(self.export), methods=["GET"]),
            Route("/api/docs/{doc_id}/import", g(self.import_file), methods=["POST"]),
        ]

    async def export(self, request: Request) -> Response:
        doc_id: str = request.path_params["doc_id"]
        fmt = request.query_params.get("format", "txt")
        if fmt not in EXPORT_FORMATS:
            raise RequestError(400, "bad_request", f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt[:32]!r}")
        await self.api.doc_access(request, doc_id)  # any role may read, so any may export
        async with self.rooms.locked(doc_id) as handle:  # durable ops only
            text = handle.room.doc.text
        body = await asyncio.to_thread(standalone_html, doc_id, text) if fmt == "html" else text
        # Document ids are A-Z a-z 0-9 . _ -: safe inside the quoted file name as they are.
        headers = {"Content-Disposition": f'attachment; filename="{doc_id}.{fmt}"', "Cache-Control": "no-store"}
        return Response(body, media_type=EXPORT_FORMATS[fmt], headers=headers)

    async def import_file(self, request: Request) -> Response:
        doc_id = check_doc_id(request.path_params["doc_id"])
        mode = request.query_params.get("mode", "replace")
        if mode not in IMPORT_MODES:
            raise RequestError(400, "bad_request", f"mode must be one of {', '.join(IMPORT_MODES)}, not {mode[:32]!r}")
        if mode == "new":
            return await self._import_new(request, doc_id)
        grant = await self.api.doc_access(request, doc_id)
        if not grant.can_write:
            raise RequestError(403, "forbidden", f"a {grant.role} cannot import into this document")
        text = decode_upload(await request.body())  # at most max_request_bytes: BodyLimit
        span = replace_span if mode == "replace" else append_span
        result = await self._apply(grant, doc_id, lambda old: span(old, text))
        return JSONResponse({"id": doc_id, "mode": mode, **result})

    async def _import_new(self, request: Request, doc_id: str) -> Response:
        caller = await self.api._caller(request)  # the rights of POST /api/docs
        if not caller.grant.can_write:
            raise RequestError(403, "forbidden", "viewers cannot create documents")
        text = decode_upload(await request.body())  # checked before anything is created
        store, sharing = self.api.store, self.api.sharing
        await asyncio.to_thread(store.create, doc_id)
        try:
            if caller.account:
                await asyncio.to_thread(sharing.create_owner, doc_id, caller.grant.user)
            grant = DocAccess(caller.grant.user, caller.grant.name, doc_id, "owner", caller.via)
            result = await self._apply(grant, doc_id, lambda old: (0, len(old), text))
        except BaseException:  # nothing half-made is left behind
            handle = self.rooms.loaded(doc_id)
            if handle is not None:
                async with handle.lock:
                    self.rooms.drop(doc_id)
            await asyncio.to_thread(store.delete, doc_id)
            await asyncio.to_thread(sharing.forget, doc_id)
            raise
        return JSONResponse({"id": doc_id, "mode": "new", **result}, status_code=201)

    async def _apply(self, grant: DocAccess, doc_id: str, edit_for: Callable[[str], tuple[int, int, str]]) -> dict[str, Any]:
        """Apply ``edit_for(current text)`` as agent ``api:<user>``, the way
        :meth:`HttpApi.edit_doc` applies an edit (one lock hold from computing the edit
        to its durable commit, so it is made on the very text it changes)."""
        await self.api.remember_name(grant.user, grant.name)
        agent = self.api.api_agent(grant.user)
        user = grant.user
        async with self.rooms.locked(doc_id) as handle:
            room = handle.room
            pos, delete, insert = edit_for(room.doc.text)
            if delete or insert:
                if await self.rooms.claim(handle, agent, user) != user:
                    raise RequestError(403, "forbidden", f"agent {agent!r} belongs to another user")
                pending = await self.rooms.run_locked(handle, lambda: room.edit(user, agent, pos, delete, insert))
                raise_unless_committed(pending, "the import", too_large=413)
            doc = handle.room.doc
            return {
                "version": [[a, s] for a, s in doc.version],
                "length": len(doc),
                "deleted": delete,
                "inserted": len(insert),
            }
