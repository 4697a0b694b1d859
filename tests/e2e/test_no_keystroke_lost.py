"""No keystroke is lost, in Chromium against a real ``cowrite serve``.

A page whose replica goes wrong and keeps being typed into, a server that refuses
batches for reasons of its own (a rate limit, a frame size, a document limit), a
page whose access is revoked: in every case what the user typed ends up on the
server where it was typed, or -- when the server will not take it -- stays on the
page and can be downloaded.  The corruptions are done from outside the app, on the
page's engine object, so no production code path can cause them.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from cowrite.server.auth import issue_token
from integration.harness import SECRET_BYTES, ServerProcess, run, seed

from .conftest import CHROMIUM_ARGS

SEED = "Line one is here.\nLine two is here.\n"
MID = SEED.index(" is here.")  # after "Line one"
LINE_TWO = SEED.index("Line two")


class Page:
    def __init__(self, name: str, page: Any, context: Any) -> None:
        self.name = name
        self.page = page
        self.context = context
        self.errors: list[str] = []
        self.console: list[str] = []

    async def info(self) -> dict[str, Any]:
        return dict(await self.page.evaluate("window.cowrite.info()"))

    async def notice(self) -> str:
        return str(await self.page.evaluate("document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent"))

    async def caret(self, index: int) -> None:
        """Put the caret at ``index`` (a UTF-16 offset; the texts here are BMP-only)."""
        await self.page.evaluate(f"window.cowrite.view.dispatch({{selection: {{anchor: {index}}}}})")


async def open_page(browser: Any, srv: ServerProcess, doc_id: str, name: str, *, token: str | None = None) -> Page:
    context = await browser.new_context(viewport={"width": 1000, "height": 500}, bypass_csp=True, accept_downloads=True)
    page = await context.new_page()
    p = Page(name, page, context)
    page.on("pageerror", lambda exc: p.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: p.console.append(f"{msg.type}: {msg.text}"))
    tok = token or issue_token(SECRET_BYTES, name.lower(), doc=doc_id, role="editor", ttl=3600, name=name)
    await page.goto(f"{srv.http}/d/{doc_id}?token={tok}")
    await page.wait_for_function("window.cowrite && window.cowrite.state() === 'connected'", timeout=30_000)
    await page.click(".cm-content")
    return p


async def settled(pages: list[Page], srv: ServerProcess, doc_id: str, timeout: float = 30.0) -> str:
    """Wait until every page is connected with nothing unconfirmed and shows the
    server's text in its editor and its engine; return that text."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        infos = [await p.info() for p in pages]
        server = await srv.atext(doc_id)
        texts = {i["text"] for i in infos} | {i["editorText"] for i in infos} | {server}
        quiet = all(i["state"] == "connected" and i["unacked"] == 0 and i.get("unconfirmed", 0) == 0 for i in infos)
        if len(texts) == 1 and quiet:
            return server
        if loop.time() > deadline:
            summary = {p.name: {k: i.get(k) for k in ("state", "unacked", "unconfirmed", "text", "editorText")} for p, i in zip(pages, infos)}
            raise AssertionError(
                f"pages did not settle with the server ({server!r}):\n{json.dumps(summary, indent=1, ensure_ascii=False)}"
            )
        await asyncio.sleep(0.05)  # poll interval, not a wait for sync


def is_subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


def no_page_errors(*pages: Page) -> None:
    for p in pages:
        assert not p.errors, f"{p.name}: {p.errors}"


CORRUPTIONS = {
    # the engine's text is longer than the editor's: found at the next keystroke
    "longer": "window.cowrite.doc.rope.insert(0, 'GARBAGE ', 8)",
    # shorter: the next keystroke is past the engine's end, so the engine refuses it
    "shorter": "window.cowrite.doc.rope.delete(0, 30)",
    # the lengths agree again, but an op made on the wrong text goes out at once: the
    # server must refuse the batch as bad_op (a delete past the end of its text)
    "bad_op": """(() => {
        const d = window.cowrite.doc;
        d.rope.insert(0, 'GARBAGE ', 8);
        d.ids = null;  // its character ids are built again from the op log on demand
        d.delete(d.length - 8, 8);
        window.cowrite.connection.flush();
    })()""",
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupted_replica_that_keeps_typing_loses_nothing(chromium_path: str, web_server: ServerProcess, corruption: str) -> None:
    from playwright.async_api import async_playwright

    doc_id = f"e2e-corrupt-{corruption.replace('_', '-')}"

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_page(browser, web_server, doc_id, "Ada")
                bob = await open_page(browser, web_server, doc_id, "Bob")
                await ada.caret(MID)
                await bob.caret(LINE_TWO)
                await ada.page.evaluate(CORRUPTIONS[corruption])
                assert await ada.page.evaluate("window.cowrite.doc.text") != SEED, "the corruption took"

                async def ada_types() -> None:
                    # at once, before any digest could give the corruption away
                    await ada.page.keyboard.type("[mid]")
                    await ada.page.keyboard.press("Control+End")
                    await ada.page.keyboard.type("[end]")

                async def bob_types() -> None:
                    await bob.page.keyboard.type("(B)")

                await asyncio.gather(ada_types(), bob_types())
                text = await settled([ada, bob], web_server, doc_id)
                assert text == "Line one[mid] is here.\n(B)Line two is here.\n[end]", "\n".join(ada.console)
                assert "GARBAGE" not in await ada.page.evaluate("window.cowrite.doc.text")
                # Ada was told; Bob, whose text nobody touched, was not.
                assert "re-applied" in await ada.notice()
                assert await bob.notice() == ""
                assert (await ada.info()).get("recoveries", 0) >= 1
                # Typing goes on normally on the new replica, and so does undo: it takes
                # back Ada's typing since the new copy (how much of it is one undo step
                # depends on timing: the edits typed again on the copy are not undoable)
                # and never Bob's.
                await ada.page.keyboard.type("!")
                assert await settled([ada, bob], web_server, doc_id) == text + "!"
                await ada.page.keyboard.press("Control+z")
                undone = await settled([ada, bob], web_server, doc_id)
                assert "!" not in undone and is_subsequence(undone, text), undone
                assert undone.startswith("Line one") and " is here.\n(B)Line two is here.\n" in undone, undone
                no_page_errors(ada, bob)
            finally:
                await browser.close()

    run(scenario(), timeout=120)


def random_text(n: int, seed_: int) -> str:
    rng = random.Random(seed_)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(n))


REFUSING_SERVERS = {
    # a frame over the server's size limit: halve the frame budget until it fits
    "too_large": ("--limit", "max_message_bytes=8192"),
    # frames faster than the server takes them: reconnect with backoff and resend
    "rate_limited": ("--limit", "messages_per_second=4", "--limit", "message_burst=6"),
}


@pytest.mark.parametrize("refusal", sorted(REFUSING_SERVERS))
def test_a_batch_refused_for_a_server_side_reason_loses_nothing(chromium_path: str, tmp_path: Path, refusal: str) -> None:
    from playwright.async_api import async_playwright

    srv = ServerProcess(tmp_path / "limits.db", args=REFUSING_SERVERS[refusal])
    srv.start()
    doc_id = f"e2e-refused-{refusal.replace('_', '-')}"

    async def scenario() -> None:
        await seed(srv, doc_id, SEED)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_page(browser, srv, doc_id, "Ada")
                await ada.page.keyboard.press("Control+End")
                if refusal == "too_large":
                    typed = random_text(40_000, 7)  # deflates to far more than 8 KiB
                    await ada.page.keyboard.insert_text(typed)  # one paste
                else:
                    typed = "every key of this line is its own batch, many per second"
                    await ada.page.keyboard.type(typed, delay=5)
                text = await settled([ada], srv, doc_id, timeout=60)
                assert text == SEED + typed
                why = "too large" if refusal == "too_large" else "rate_limited"
                warned = [m for m in ada.console if why in m]
                assert warned, f"the server never refused anything: {ada.console}"
                assert (await ada.info()).get("recoveries", 0) == 0, "nothing needed a fresh copy"
                assert await ada.notice() == ""
                no_page_errors(ada)
            finally:
                await browser.close()

    try:
        run(scenario(), timeout=150)
    finally:
        srv.kill()


def test_a_document_at_its_size_limit_keeps_the_edits_on_the_page(chromium_path: str, tmp_path: Path) -> None:
    """Even a minimal batch is refused (too_large: the document limit): the page stops
    sending, keeps the text, says so, offers it for download, and still receives."""
    from playwright.async_api import async_playwright

    srv = ServerProcess(tmp_path / "small.db", args=("--limit", f"max_doc_chars={len(SEED)}"))
    srv.start()
    doc_id = "e2e-held"

    async def scenario() -> None:
        await seed(srv, doc_id, SEED)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_page(browser, srv, doc_id, "Ada")
                bob = await open_page(browser, srv, doc_id, "Bob")
                await ada.page.keyboard.press("Control+End")
                await ada.page.keyboard.type("far more than ten characters")
                await ada.page.wait_for_function("window.cowrite.state() === 'held'", timeout=30_000)
                assert "cannot take your edits" in await ada.notice()
                assert await ada.page.evaluate("window.cowrite.view.state.doc.toString()") == SEED + "far more than ten characters"
                assert await srv.atext(doc_id) == SEED
                async with ada.page.expect_download() as download:
                    await ada.page.click("#download-unsent")
                saved = Path(await (await download.value).path()).read_text(encoding="utf-8")
                assert saved == SEED + "far more than ten characters"
                # Still receiving: Bob's edit (a delete: the document may not grow) shows up.
                await bob.page.keyboard.press("Control+Home")
                await bob.page.keyboard.press("Delete")
                await ada.page.wait_for_function(
                    "window.cowrite.view.state.doc.toString().startsWith('ine one')", timeout=30_000
                )
                assert await ada.page.evaluate("window.cowrite.view.state.doc.toString()") == SEED[1:] + "far more than ten characters"
                no_page_errors(ada, bob)
            finally:
                await browser.close()

    try:
        run(scenario(), timeout=120)
    finally:
        srv.kill()


REVOCATIONS = {
    # the token now names another document: forbidden
    "forbidden": lambda doc_id: issue_token(SECRET_BYTES, "ada", doc="another-doc", role="editor", ttl=3600, name="Ada"),
    # the token is no longer valid (signed with a secret the server does not have): unauthorized
    "unauthorized": lambda doc_id: issue_token(b"r" * 32, "ada", doc=doc_id, role="editor", ttl=3600, name="Ada"),
}


@pytest.mark.parametrize("revocation", sorted(REVOCATIONS))
def test_a_revoked_page_keeps_its_unsent_text_visible_and_downloadable(
    chromium_path: str, web_server: ServerProcess, revocation: str
) -> None:
    from playwright.async_api import async_playwright

    doc_id = f"e2e-revoked-{revocation}"

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_page(browser, web_server, doc_id, "Ada")
                await ada.page.keyboard.press("Control+End")
                await ada.page.keyboard.type("Saved.")
                assert await settled([ada], web_server, doc_id) == SEED + "Saved."
                await ada.page.evaluate("window.cowrite.goOffline()")
                await ada.page.keyboard.type(" Not sent yet.")
                revoked = REVOCATIONS[revocation](doc_id)
                await ada.page.evaluate(
                    "tok => { const a = JSON.parse(localStorage.getItem('cowrite.auth')); a.token = tok;"
                    " localStorage.setItem('cowrite.auth', JSON.stringify(a)); window.cowrite.goOnline(); }",
                    revoked,
                )
                await ada.page.wait_for_function("window.cowrite.state() === 'error'", timeout=30_000)
                want = SEED + "Saved. Not sent yet."
                assert await ada.page.evaluate("window.cowrite.view.state.doc.toString()") == want
                assert await web_server.atext(doc_id) == SEED + "Saved."
                assert revocation in await ada.notice()
                async with ada.page.expect_download() as download:
                    await ada.page.click("#download-unsent")
                got = await download.value
                assert got.suggested_filename == f"{doc_id}-unsent.txt"
                assert Path(await got.path()).read_text(encoding="utf-8") == want
                # The tab's copy stays on this device (persist.js: IndexedDB, written in the background).
                key = f"tab/{doc_id}/" + await ada.page.evaluate("window.cowrite.agent")
                await ada.page.wait_for_function("k => window.cowrite.offline.store.get(k).then((e) => e !== null)", arg=key, timeout=10_000)
                no_page_errors(ada)
            finally:
                await browser.close()

    run(scenario(), timeout=120)
