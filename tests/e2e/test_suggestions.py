"""Suggestions in real Chromium against a real ``cowrite serve --signup open --guests none``.

The owner writes a text and shares it with a second account as a *commenter*.  The
commenter switches the editor to suggesting mode and types and deletes in it: the
owner's page shows the suggestion inline (the deleted words struck, the inserted ones
marked) without the text changing.  The owner types elsewhere meanwhile: the
suggestion stays shown on the new text; the commenter edits her suggestion in the
editor; the owner's own suggesting mode leaves the document's text alone (what he
types there is a suggestion, and undo takes it back).  The owner accepts the
suggestion: both pages have the merged text (the owner's typing kept), and blame
names the commenter as the author of the accepted words.  A second suggestion is
rejected: it disappears from both pages and the text stays as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.harness import ServerProcess, run

from .conftest import CHROMIUM_ARGS
from .test_pages import acknowledged, editor_ready, wait_text
from .test_sharing import new_page, sign_up

WITHIN = 20_000  # ms: what "at once" may take on a loaded machine
INLINE_JS = (
    "[...document.querySelectorAll('.cm-content .cw-sugg-del, .cm-content .cw-sugg-ins')]"
    ".map(e => (e.classList.contains('cw-sugg-ins') ? '+' : '-') + e.textContent).join('|')"
)


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "suggestions.db", args=("--signup", "open", "--guests", "none"))
    srv.start()
    yield srv
    srv.kill()


async def wait_inline(page: Any, marks: str) -> None:
    """Wait until the editor's inline suggestion marks read ``marks`` (``-del|+ins``, in text order)."""
    try:
        await page.wait_for_function(f"m => ({INLINE_JS}) === m", arg=marks, timeout=WITHIN)
    except Exception:
        raise AssertionError(f"inline marks {await page.evaluate(INLINE_JS)!r}, expected {marks!r}") from None


async def start_suggesting(page: Any) -> None:
    await page.click("#suggest-toggle")
    await page.wait_for_selector("#suggest-toggle[aria-pressed=true]")


async def stop_suggesting(page: Any) -> None:
    """Leave suggesting mode once everything typed is saved (the suggestion stays open)."""
    await page.wait_for_function("() => window.cowrite.suggestions.saved", timeout=WITHIN)
    await page.click("#suggest-toggle")
    await page.wait_for_selector("#suggest-toggle[aria-pressed=false]")


async def select(page: Any, anchor: int, head: int | None = None) -> None:
    """Focus the editor and put the selection at UTF-16 offsets ``anchor``..``head``."""
    await page.evaluate("window.cowrite.view.focus()")
    head = anchor if head is None else head
    await page.evaluate(f"window.cowrite.view.dispatch({{selection: {{anchor: {anchor}, head: {head}}}}})")


def test_a_commenter_suggests_the_owner_accepts_one_and_rejects_another(chromium_path: str, open_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    base = open_server.http

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                await play(browser)
            finally:
                await browser.close()

    async def play(browser: Any) -> None:
        owner = await new_page(browser)
        owner.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
        await sign_up(owner, f"{base}/", "ada", "Ada")
        await owner.fill("#new-doc-id", "essay")
        await owner.press("#new-doc-id", "Enter")
        await owner.wait_for_url(f"{base}/d/essay")
        await editor_ready(owner)
        await owner.click(".cm-content")
        await owner.keyboard.type("The quick brown fox jumps.")
        await acknowledged(owner)

        await owner.click("#share")
        await owner.wait_for_selector("#share-dialog[open] #share-members li[data-user=ada]")
        cora = await new_page(browser)
        await sign_up(cora, f"{base}/", "cora", "Cora")
        await owner.fill("#share-add-user", "cora")
        await owner.select_option("#share-add-role", "commenter")
        await owner.click("#share-add button[type=submit]")
        await owner.wait_for_selector("#share-members li[data-user=cora][data-role=commenter]")
        await owner.keyboard.press("Escape")

        # The commenter suggests: the text does not change, the owner sees it inline.
        await cora.goto(f"{base}/d/essay")
        await editor_ready(cora)
        await wait_text(cora, "The quick brown fox jumps.")
        await cora.wait_for_selector("#suggest-toggle:not([hidden])")
        await start_suggesting(cora)
        await select(cora, 10, 16)  # "brown "
        await cora.keyboard.press("Backspace")
        await select(cora, 25)  # before "."
        await cora.keyboard.type(" high")
        assert await cora.evaluate("window.cowrite.suggestions.proposed()") == "The quick fox jumps high."
        await stop_suggesting(cora)
        assert await cora.evaluate("window.cowrite.view.state.doc.toString()") == "The quick brown fox jumps."
        assert open_server.text("essay") == "The quick brown fox jumps."
        await wait_inline(owner, "-brown |+ high")
        await wait_inline(cora, "-brown |+ high")  # the suggester sees it too, once out of the draft
        card = ".suggestion:has(.suggestion-head:has-text('Cora'))"
        await owner.wait_for_selector(f"{card} .suggestion-accept", timeout=WITHIN)
        assert await cora.locator(".suggestion-accept").count() == 0  # a commenter cannot accept

        # The owner types meanwhile: the suggestion is shown on the new text.
        await owner.evaluate("window.cowrite.view.focus()")
        await owner.evaluate("window.cowrite.view.dispatch({selection: {anchor: 0}})")
        await owner.keyboard.type("Yes! ")
        await acknowledged(owner)
        await wait_text(cora, "Yes! The quick brown fox jumps.")
        await wait_inline(owner, "-brown |+ high")
        await wait_inline(cora, "-brown |+ high")

        # The commenter edits her suggestion: taken up again, it is applied to the new text,
        # the caret right after her insertion.
        await cora.click(f"{card} .suggestion-edit")
        await cora.wait_for_selector("#suggest-toggle[aria-pressed=true]")
        assert await cora.evaluate("window.cowrite.suggestions.proposed()") == "Yes! The quick fox jumps high."
        for _ in "high":
            await cora.keyboard.press("Backspace")  # takes her own inserted letters back
        await cora.keyboard.type("very high")
        assert await cora.evaluate("window.cowrite.suggestions.proposed()") == "Yes! The quick fox jumps very high."
        await stop_suggesting(cora)
        await wait_inline(owner, "-brown |+ very high")

        # The owner's own suggesting mode: what he types is a suggestion, not the text; undo takes it back.
        await start_suggesting(owner)
        await select(owner, len("Yes! The quick brown fox jumps."))
        await owner.keyboard.type("zzz")
        assert await owner.evaluate("window.cowrite.view.state.doc.toString()") == "Yes! The quick brown fox jumps."
        await wait_inline(owner, "-brown |+ very high|+zzz")
        await owner.keyboard.press("Control+z")
        await wait_inline(owner, "-brown |+ very high")
        await stop_suggesting(owner)
        assert await owner.evaluate("window.cowrite.view.state.doc.toString()") == "Yes! The quick brown fox jumps."

        # Accept: both pages get the merged text, the marks go.
        await owner.click(f"{card} .suggestion-accept")
        await wait_text(owner, "Yes! The quick fox jumps very high.")
        await wait_text(cora, "Yes! The quick fox jumps very high.")
        await wait_inline(owner, "")
        await wait_inline(cora, "")

        # A second suggestion, rejected: gone from both pages, the text as it was.
        await start_suggesting(cora)
        await select(cora, len("Yes! The quick fox jumps very high."))
        await cora.keyboard.type(" Indeed.")
        await stop_suggesting(cora)
        await wait_inline(owner, "+ Indeed.")
        await owner.click(f"{card} .suggestion-reject")
        await wait_inline(owner, "")
        await wait_inline(cora, "")
        await owner.wait_for_selector(".suggestion", state="detached", timeout=WITHIN)
        await cora.wait_for_selector(".suggestion", state="detached", timeout=WITHIN)
        assert open_server.text("essay") == "Yes! The quick fox jumps very high."
        for page in (owner, cora):
            assert not page.errors, page.errors

    run(scenario(), timeout=180)
    # Blame: the accepted words are the commenter's.
    r = httpx.get(f"{base}/api/docs/essay/blame", headers=open_server._headers(), timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    text = "Yes! The quick fox jumps very high."
    high = text.index(" very high")
    by = [run["user"] for run in r.json()["runs"] if run["start"] <= high < run["end"]]
    assert by == ["cora"], r.json()["runs"]
    r = httpx.get(f"{base}/api/docs/essay/suggestions", headers=open_server._headers(), timeout=10, trust_env=False)
    assert r.status_code == 200 and r.json()["suggestions"] == [], r.text
