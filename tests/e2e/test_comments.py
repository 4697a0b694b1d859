"""Comments in real Chromium against a real ``cowrite serve --signup open --guests none``.

The owner writes a text and shares it with a second account as a *commenter*.  The
commenter cannot type into the text, but selects a word, presses "Comment" and writes
one: the owner's page shows the thread at once (the socket's COMMENTS notice) and
highlights the word.  The owner types before and inside the word: the highlight follows
it.  They reply to each other, the commenter edits her own comment (the owner gets no
Edit button on it), the owner resolves and reopens the thread.  Then the owner deletes
the word: on both pages the thread moves to "Detached" with the quote of the word,
still there, never lost.
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
from .test_sharing import new_page, read_only, sign_up

WITHIN = 20_000  # ms: what "at once" may take on a loaded machine
MARKS_JS = (  # the highlighted texts, without the remote cursors' widgets drawn inside them
    "[...document.querySelectorAll('.cm-content .cw-comment')].map(e => { const c = e.cloneNode(true);"
    " c.querySelectorAll('[contenteditable=false], .cm-widgetBuffer, .cw-caret').forEach(w => w.remove());"
    " return c.textContent; })"
)


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "comments.db", args=("--signup", "open", "--guests", "none"))
    srv.start()
    yield srv
    srv.kill()


async def marked(page: Any) -> list[str]:
    """The texts highlighted as commented in the editor."""
    texts: list[str] = await page.evaluate(
        MARKS_JS
    )
    return texts


async def wait_marked(page: Any, text: str) -> None:
    try:
        await page.wait_for_function(
            f"t => ({MARKS_JS}).join('') === t",
            arg=text,
            timeout=WITHIN,
        )
    except Exception:
        raise AssertionError(f"highlighted {await marked(page)!r}, expected {text!r}") from None


async def select(page: Any, start: int, end: int) -> None:
    await page.evaluate("([a, b]) => window.cowrite.view.dispatch({selection: {anchor: a, head: b}})", [start, end])


def test_comment_threads_follow_the_text_and_survive_its_deletion(chromium_path: str, open_server: ServerProcess) -> None:
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

        # The commenter: read-only text, but a Comment button for a selection.
        await cora.goto(f"{base}/d/essay")
        await editor_ready(cora)
        await wait_text(cora, "The quick brown fox jumps.")
        assert await read_only(cora)
        await cora.click(".cm-content")
        await cora.keyboard.type("nope")
        assert open_server.text("essay") == "The quick brown fox jumps."
        await cora.wait_for_selector("#comment-add:not([hidden])")
        assert await cora.is_disabled("#comment-add")  # nothing selected
        await select(cora, 4, 9)  # "quick"
        await cora.click("#comment-add")
        await cora.fill("#comment-new-body", "Is 'quick' the right word?")
        await cora.click("#comment-submit")
        await cora.wait_for_selector(".comment-thread[data-kind=open] .comment-body:has-text('right word')")
        await wait_marked(cora, "quick")

        # The owner sees it without reloading, highlighted, and the highlight follows edits.
        thread = ".comment-thread[data-kind=open]"
        await owner.wait_for_selector(f"{thread} .comment-body:has-text('right word')", timeout=WITHIN)
        await wait_marked(owner, "quick")
        await owner.evaluate("window.cowrite.view.focus()")
        await select(owner, 0, 0)
        await owner.keyboard.type("Yes! ")
        await select(owner, 11, 11)  # between "qu" and "ick" (after "Yes! The ")
        await owner.keyboard.type("-")
        await acknowledged(owner)
        await wait_marked(owner, "qu-ick")
        await wait_marked(cora, "qu-ick")
        assert await owner.text_content(f"{thread} .comment-quote") == "quick"

        # Replies both ways; only the author may edit.
        await owner.fill(f"{thread} .comment-reply-body", "Maybe 'swift'?")
        await owner.click(f"{thread} .comment-reply button[type=submit]")
        await cora.wait_for_selector(f"{thread} .comment-body:has-text('swift')", timeout=WITHIN)
        cora_comment = f"{thread} .comment:has(.comment-body:has-text('right word'))"
        assert await owner.locator(f"{cora_comment} .comment-edit-button").count() == 0
        assert await owner.locator(f"{cora_comment} .comment-delete").count() == 1  # an owner may delete
        await cora.click(f"{cora_comment} .comment-edit-button")
        await cora.fill(f"{thread} .comment-edit-body", "Is 'quick' the best word?")
        await cora.click(f"{thread} .comment-edit button[type=submit]")
        await owner.wait_for_selector(f"{thread} .comment-body:has-text('best word')", timeout=WITHIN)
        await owner.wait_for_selector(f"{thread} .comment-head:has-text('edited')")

        # Resolve (the commenter), then reopen (the owner).
        await cora.click(f"{thread} .comment-resolve")
        await owner.wait_for_selector(".comment-group.resolved .comment-thread", state="attached", timeout=WITHIN)
        await wait_marked(owner, "")  # resolved threads are not highlighted
        await owner.click(".comment-group.resolved > summary")
        await owner.click(".comment-group.resolved .comment-resolve")
        await cora.wait_for_selector(f"{thread} .comment-body:has-text('swift')", timeout=WITHIN)
        await wait_marked(cora, "qu-ick")

        # The owner deletes the word: the thread is detached, with its quote, on both pages.
        await owner.evaluate("window.cowrite.view.focus()")
        await select(owner, 9, 16)  # "qu-ick "
        await owner.keyboard.press("Delete")
        await acknowledged(owner)
        await wait_text(cora, "Yes! The brown fox jumps.")
        for page in (owner, cora):
            detached = ".comment-thread[data-kind=detached]"
            await page.wait_for_selector(f"{detached} .comment-body:has-text('best word')", timeout=WITHIN)
            assert await page.text_content(f"{detached} .comment-quote") == "quick"
            assert await page.locator(f"{detached} .comment-body:has-text('swift')").count() == 1
            await wait_marked(page, "")
            assert not page.errors, page.errors

    run(scenario(), timeout=180)
    # Stored durably: what a fresh reader of the API gets.
    r = httpx.get(f"{base}/api/docs/essay/comments", headers=open_server._headers(), timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    found = r.json()["comments"]
    assert [c["body"] for c in found] == ["Is 'quick' the best word?", "Maybe 'swift'?"]
    assert found[0]["detached"] and found[0]["quote"] == "quick" and not found[0]["resolved"]
