"""Divergence detection and repair, and documents of 100,000+ characters, in Chromium.

A replica whose text silently went wrong (a bug, a bit flip, a bad extension) must
not stay wrong: peers exchange a digest of their text at a version, the server
spots the mismatch, logs and counts it, and sends its copy, which the page adopts
without losing what its user typed.  The corruption here is done from outside the
app, on the page's engine object, so no production code path can cause it.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from cowrite.server.auth import issue_token
from integration.harness import SECRET_BYTES, ServerProcess, run, seed

from .conftest import CHROMIUM_ARGS


async def open_editor(browser: Any, srv: ServerProcess, doc_id: str, name: str) -> Any:
    context = await browser.new_context(viewport={"width": 1000, "height": 500}, bypass_csp=True)
    page = await context.new_page()
    tok = issue_token(SECRET_BYTES, name.lower(), doc=doc_id, role="editor", ttl=3600, name=name)
    await page.goto(f"{srv.http}/d/{doc_id}?token={tok}")
    await page.wait_for_function("window.cowrite && window.cowrite.state() === 'connected'", timeout=30_000)
    return page


async def until(page: Any, expr: str, timeout: float = 30.0) -> None:
    await page.wait_for_function(expr, timeout=timeout * 1000)


async def agree(page: Any, writer: Any, srv: ServerProcess, doc_id: str, timeout: float = 30.0) -> str:
    """Wait until the page's editor, the Python client and the server hold one text; return it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        shown = await page.evaluate("window.cowrite.view.state.doc.toString()")
        server = await srv.atext(doc_id)
        if shown == writer.text == server:
            return str(shown)
        if loop.time() > deadline:
            raise AssertionError(f"page ({len(shown)}), client ({len(writer.text)}) and server ({len(server)}) differ")
        await asyncio.sleep(0.05)  # poll interval


def divergences(srv: ServerProcess) -> float:
    text = httpx.get(f"{srv.http}/metrics", trust_env=False).text
    for line in text.splitlines():
        if line.startswith("cowrite_divergences_total"):
            return float(line.split()[-1])
    raise AssertionError("no cowrite_divergences_total in /metrics")


def test_corrupted_page_is_repaired_from_the_server(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-repair"

    async def scenario() -> None:
        await seed(web_server, doc_id, "Every replica must hold the same text.\n")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                page = await open_editor(browser, web_server, doc_id, "Ada")
                await page.click(".cm-content")
                await page.keyboard.press("Control+End")
                await page.keyboard.type("Acknowledged before.")
                await until(page, "window.cowrite.info().state === 'connected' && window.cowrite.info().unacked === 0")
                before = divergences(web_server)
                # Corrupt the engine's text behind its back (no op, same version).
                await page.evaluate("window.cowrite.doc.rope.insert(0, 'GARBAGE ', 8)")
                assert (await page.evaluate("window.cowrite.doc.text")).startswith("GARBAGE ")
                # The next digest (at most ~10 s away) gives it away; the page adopts the server's copy.
                await until(page, "!window.cowrite.doc.text.includes('GARBAGE')")
                want = "Every replica must hold the same text.\nAcknowledged before."
                await until(page, f"window.cowrite.view.state.doc.toString() === {want!r}")
                assert divergences(web_server) >= before + 1
                # Typing goes on normally on the repaired replica.
                await page.keyboard.press("Control+End")
                await page.keyboard.type(" And after.")
                await until(page, "window.cowrite.info().state === 'connected' && window.cowrite.info().unacked === 0")
                want += " And after."
                assert await page.evaluate("window.cowrite.doc.text") == want
                assert web_server.text(doc_id) == want
            finally:
                await browser.close()

    run(scenario(), timeout=120)


def test_large_document_loads_and_syncs(chromium_path: str, web_server: ServerProcess) -> None:
    """120,000 characters with a long history: loading reads the snapshot, edits flow both ways."""
    from playwright.async_api import async_playwright

    from integration.harness import client

    doc_id = "e2e-large"
    rng = random.Random(120)
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "🦊", "consectetur", "adipiscing", "elit"]
    body = " ".join(rng.choice(words) for _ in range(20_000))[:120_000] + "\n"

    async def scenario() -> None:
        await seed(web_server, doc_id, body)
        writer = client(web_server, doc_id, "writer")
        await writer.start()
        await writer.synced(30)
        assert writer.text == body
        for _ in range(300):  # history: scattered edits after the bulk insert
            writer.insert(rng.randrange(len(writer.text)), "x")
        await writer.synced(30)
        expected = writer.text
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                page = await open_editor(browser, web_server, doc_id, "Ada")
                assert await page.evaluate("window.cowrite.doc.length") == len(expected)
                assert await page.evaluate("window.cowrite.view.state.doc.toString()") == expected
                # Type at the start (all 120k characters shift) and at the end.
                await page.click(".cm-content")
                await page.keyboard.press("Control+Home")
                await page.keyboard.type("START ")
                await page.keyboard.press("Control+End")
                await page.keyboard.type(" END")
                # Remote edits in the middle arrive while the page types.
                writer.insert(len(writer.text) // 2, "<middle>")
                want_len = len(expected) + len("START ") + len(" END") + len("<middle>")
                await until(page, f"window.cowrite.doc.length === {want_len} && window.cowrite.info().unacked === 0")
                await writer.synced(30)
                text = await agree(page, writer, web_server, doc_id)
                assert text.startswith("START ") and text.endswith(" END") and "<middle>" in text
            finally:
                await browser.close()
                await writer.close()

    run(scenario(), timeout=180)
