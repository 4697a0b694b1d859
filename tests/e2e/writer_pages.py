"""Pages of the writer's E2E tests (tests/e2e/test_writer_*.py): a browser window on a
document signed in with a token for one user, optionally through a breakable link."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cowrite.server.auth import issue_token
from integration.harness import SECRET_BYTES, ServerProcess
from integration.netem import Link

from .conftest import CHROMIUM_ARGS

__all__ = ["CHROMIUM_ARGS", "Page", "open_page", "settled", "wait_for"]


class Page:
    def __init__(self, name: str, page: Any, context: Any, link: Link | None) -> None:
        self.name = name
        self.page = page
        self.context = context
        self.link = link
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    async def info(self) -> dict[str, Any]:
        return dict(await self.page.evaluate("window.cowrite.info()"))

    async def saving(self) -> tuple[str, str]:
        """The saving indicator: (its state, its words)."""
        got = await self.page.evaluate("[document.getElementById('saving').dataset.saving, document.getElementById('saving').textContent]")
        return str(got[0]), str(got[1])

    async def caret(self, index: int) -> None:
        """Put the caret at UTF-16 offset ``index``."""
        await self.page.evaluate(f"window.cowrite.view.dispatch({{selection: {{anchor: {index}}}}})")

    async def close(self) -> None:
        await self.context.close()
        if self.link is not None:
            await self.link.close()


async def open_page(
    browser: Any,
    srv: ServerProcess,
    doc_id: str,
    name: str,
    *,
    role: str = "editor",
    through_link: bool = False,
    accept_dialogs: bool = True,
    token_doc: str | None = None,
) -> Page:
    """A page of ``doc_id`` signed in as ``name`` (user ``name.lower()``), connected.

    ``bypass_csp``: Playwright's evaluate needs it -- and it makes the sanitising tests
    stricter, since the page's CSP no longer stops an inline handler that got through.
    ``token_doc``: the document its token grants (default ``doc_id``; ``"*"``: all)."""
    link = None
    base = srv.http
    if through_link:
        link = Link(srv.port)
        await link.start()
        base = link.http
    context = await browser.new_context(viewport={"width": 1300, "height": 700}, bypass_csp=True, accept_downloads=True)
    page = await context.new_page()
    p = Page(name, page, context, link)
    page.on("pageerror", lambda exc: p.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and p.errors.append(f"console: {msg.text}"))

    async def on_dialog(dialog: Any) -> None:
        p.dialogs.append(f"{dialog.type}: {dialog.message}")
        if accept_dialogs:
            await dialog.accept()
        else:
            await dialog.dismiss()

    page.on("dialog", on_dialog)
    tok = issue_token(SECRET_BYTES, name.lower(), doc=token_doc or doc_id, role=role, ttl=3600, name=name)
    await page.goto(f"{base}/d/{doc_id}?token={tok}")
    await page.wait_for_function("window.cowrite && window.cowrite.state() === 'connected'", timeout=30_000)
    return p


async def wait_for(what: str, predicate: Any, timeout: float = 20.0) -> Any:
    """Poll the async ``predicate`` until it returns something truthy; return it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        last = await predicate()
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        await asyncio.sleep(0.05)  # poll interval


async def settled(pages: list[Page], srv: ServerProcess, doc_id: str, timeout: float = 30.0) -> str:
    """Wait until every page is connected, nothing unacknowledged, showing the server's text."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        infos = [await p.info() for p in pages]
        server = await srv.atext(doc_id)
        texts = {i["text"] for i in infos} | {i["editorText"] for i in infos} | {server}
        if len(texts) == 1 and all(i["state"] == "connected" and i["unacked"] == 0 for i in infos):
            return server
        if loop.time() > deadline:
            summary = {p.name: {k: i.get(k) for k in ("state", "unacked", "text", "editorText")} for p, i in zip(pages, infos)}
            raise AssertionError(f"pages did not settle with the server ({server!r}):\n{json.dumps(summary, indent=1, ensure_ascii=False)}")
        await asyncio.sleep(0.05)  # poll interval
