"""The browser editor's pages and static files.

``/`` (documents; ``/account`` and ``/admin`` are the same page, which renders the
account or admin page by path), ``/d/{doc_id}`` (editor) and ``/d/{doc_id}/history`` serve
plain HTML pages from the package's ``static`` folder; they load
``/static/app.js`` (an ES module that renders by ``location.pathname``) and
``/static/app.css``.  Pages carry a Content-Security-Policy that allows only
this server's scripts (no inline script, no eval) and connections to this
server (its WebSocket included), so text from a document can never run as code.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..store import MAX_DOC_ID_LEN, InvalidDocumentId, check_doc_id

__all__ = ["STATIC_DIR", "SecurityHeaders", "page_headers", "routes"]

STATIC_DIR = Path(__file__).with_name("static")

_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")

_NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not found - cowrite</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="page"><h1>Not found</h1><p>{message}</p><p><a href="/">All documents</a></p></main></body></html>
"""


def page_headers(host: str | None) -> dict[str, str]:
    """Headers for an HTML page served from ``host`` (the request's Host header)."""
    connect = "'self'"
    # 'self' covers ws:/wss: to the same host in current browsers; older ones need it spelt out.
    if host and _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    # Scripts: only this server's files, no inline code, no eval.  Styles may be inline:
    # CodeMirror 6 puts its theme in <style> elements it creates at run time.
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src {connect}; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",  # a ?token= in the address never leaks to other sites
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    }


def _page(request: Request, name: str) -> Response:
    headers = page_headers(request.headers.get("host"))
    path = STATIC_DIR / name
    if not path.is_file():
        return HTMLResponse(
            _NOT_FOUND.format(message="The web editor is not installed in this build of cowrite."),
            status_code=404,
            headers=headers,
        )
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=headers)


def _not_a_document(request: Request) -> Response:
    message = f"That is not a document address: document ids are 1..{MAX_DOC_ID_LEN} characters of A-Z a-z 0-9 . _ -"
    return HTMLResponse(_NOT_FOUND.format(message=message), status_code=404, headers=page_headers(request.headers.get("host")))


def _doc_page(request: Request, name: str) -> Response:
    try:
        check_doc_id(request.path_params["doc_id"])
    except InvalidDocumentId:
        return _not_a_document(request)
    return _page(request, name)


async def not_found(request: Request) -> Response:
    return _not_a_document(request)


async def index(request: Request) -> Response:
    return _page(request, "index.html")


async def account_page(request: Request) -> Response:
    return _page(request, "index.html")  # the app renders the account or admin page by path


async def editor(request: Request) -> Response:
    return _doc_page(request, "editor.html")


async def history(request: Request) -> Response:
    return _doc_page(request, "history.html")


# The worker may fetch only this server and load no script but its own.
_WORKER_CSP = "default-src 'self'; object-src 'none'; base-uri 'none'"


async def service_worker(request: Request) -> Response:
    """The service worker.  ``no-cache``: a deploy's new worker (and with it the new app
    shell) is found at the next page load, not when some HTTP cache lets it go."""
    path = STATIC_DIR / "sw.js"
    if not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": _WORKER_CSP, "Service-Worker-Allowed": "/"}
    return FileResponse(path, media_type="text/javascript; charset=utf-8", headers=headers)


def routes() -> list[BaseRoute]:
    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/account", account_page, methods=["GET", "HEAD"]),
        Route("/admin", account_page, methods=["GET", "HEAD"]),
        Route("/d/{doc_id}", editor, methods=["GET", "HEAD"]),
        Route("/d/{doc_id}/history", history, methods=["GET", "HEAD"]),
        Route("/d/{rest:path}", not_found, methods=["GET", "HEAD"]),  # e.g. an id with a '/'
        Route("/sw.js", service_worker, methods=["GET", "HEAD"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
    ]


class SecurityHeaders:
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` on every HTTP response, and the
    page headers (CSP, no framing, no referrer) on every HTML response that has none -- the
    pages' files are also reachable as ``/static/*.html``, which the routes above do not serve."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                html = any(k.lower() == b"content-type" and v.lower().startswith(b"text/html") for k, v in headers)
                if html and b"content-security-policy" not in names:
                    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
                    for name, value in page_headers(host).items():
                        if name.lower().encode() not in names:
                            headers.append((name.lower().encode(), value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
