"""Versions in real Chromium, two people: name a version, diff it, restore it while the
other types offline, undo the restore; titles; "New document" in one click.

What a writer would check by hand: Ada opens the history, names the first draft,
compares it with now (Bob's deletion struck, his insertion marked, each in its
author's colour, the colours distinct), and restores it from the history page.  Bob,
offline at that moment, typed a line; when he is back both his line and the restored
draft are there in both windows and on the server.  Ada's Ctrl+Z takes the restore
back (Bob's line stays).  Ada gives the document a title; the documents list shows
it; "New document" opens a fresh document.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cowrite.server.auth import issue_token
from integration.harness import SECRET_BYTES, ServerProcess, run, seed

from .conftest import CHROMIUM_ARGS

DOC = "e2e-versions"
DRAFT = "The quick brown fox jumps over the dog.\n"


async def new_page(browser: Any, errors: list[str]) -> Any:
    # bypass_csp: Playwright evaluates test expressions with eval, which the page CSP forbids
    context = await browser.new_context(viewport={"width": 1100, "height": 700}, bypass_csp=True)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    return page


async def open_editor(page: Any, srv: ServerProcess, user: str, doc: str = "*") -> None:
    tok = issue_token(SECRET_BYTES, user.lower(), doc=doc, role="editor", ttl=3600, name=user)
    await page.goto(f"{srv.http}/d/{DOC}?token={tok}")
    await connected(page)


async def connected(page: Any) -> None:
    await page.wait_for_function("window.cowrite && window.cowrite.state() === 'connected'", timeout=20_000)


async def settled(pages: list[Any], srv: ServerProcess, timeout: float = 30.0) -> str:
    """Every page connected with nothing unacknowledged, showing the server's text."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        infos = [await p.evaluate("window.cowrite.info()") for p in pages]
        server = await srv.atext(DOC)
        texts = {i["text"] for i in infos} | {i["editorText"] for i in infos} | {server}
        if len(texts) == 1 and all(i["state"] == "connected" and i["unacked"] == 0 for i in infos):
            return server
        if loop.time() > deadline:
            raise AssertionError(f"pages did not settle on the server's text {server!r}: {json.dumps(infos, ensure_ascii=False)}")
        await asyncio.sleep(0.1)  # poll interval


def test_versions_restore_diff_and_titles(chromium_path: str, web_server: ServerProcess, artifacts: Any) -> None:
    from playwright.async_api import async_playwright

    async def scenario() -> None:
        await seed(web_server, DOC, DRAFT)
        errors: list[str] = []
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            ada, bob = await new_page(browser, errors), await new_page(browser, errors)
            try:
                await open_editor(ada, web_server, "Ada")
                await open_editor(bob, web_server, "Bob", doc=DOC)
                # Bob rewrites: "quick" -> "slow"
                at = DRAFT.index("quick")
                await bob.evaluate(f"window.cowrite.view.dispatch({{changes: {{from: {at}, to: {at + 5}, insert: 'slow'}}}})")
                assert await settled([ada, bob], web_server) == DRAFT.replace("quick", "slow")

                # -- Ada's history page: name the first draft, compare it with now ----------
                await ada.goto(f"{web_server.http}/d/{DOC}/history")
                await ada.wait_for_selector("#history-text .blame")
                await ada.evaluate(
                    "(() => { const s = document.getElementById('history-slider'); s.value = '1';"
                    " s.dispatchEvent(new Event('input')); })()"
                )
                await ada.wait_for_function(
                    "t => document.getElementById('history-text').textContent === t", arg=DRAFT, timeout=10_000
                )
                await ada.fill("#version-name", "First draft")
                await ada.click("#version-save")
                await ada.wait_for_selector("#named-versions li[data-name='First draft']")
                await ada.select_option("#history-compare", "now")
                await ada.wait_for_selector("#history-text[data-mode='diff'] ins.diff-ins")
                # from the draft to now: "quick" deleted (the seeder's), "slow" inserted (Bob's)
                deleted = await ada.eval_on_selector_all("#history-text del", "els => els.map(e => e.textContent)")
                inserted = await ada.eval_on_selector_all("#history-text ins", "els => els.map(e => [e.textContent, e.dataset.user])")
                assert deleted == ["quick"] and inserted == [["slow", "bob"]], (deleted, inserted)
                colours = await ada.eval_on_selector_all(
                    "#history-legend .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)"
                )
                assert len(colours) == 2 and len(set(colours)) == 2, colours  # the seeder and Bob, apart
                await ada.screenshot(path=str(artifacts / "versions-diff.png"))

                # -- restore the draft while Bob is offline and typing --------------------------
                await bob.evaluate("window.cowrite.goOffline()")
                await bob.evaluate("window.cowrite.view.dispatch({changes: {from: window.cowrite.view.state.doc.length, insert: 'Bob was offline.'}})")
                await ada.select_option("#history-compare", "")
                await ada.click("#named-versions .version-jump")  # jump to the named version
                await ada.wait_for_function(
                    "t => document.getElementById('history-text').textContent === t", arg=DRAFT, timeout=10_000
                )
                await ada.click("#history-restore")
                await connected(ada)
                await ada.wait_for_function(
                    "t => window.cowrite.doc.text === t && window.cowrite.info().unacked === 0", arg=DRAFT, timeout=15_000
                )
                assert "restore" not in ada.url  # a reload does not restore again
                await bob.evaluate("window.cowrite.goOnline()")
                merged = await settled([ada, bob], web_server)
                assert merged == DRAFT + "Bob was offline.", merged

                # -- Ada's undo takes the restore back, in one step, and only it ----------------
                await ada.click(".cm-content")
                await ada.keyboard.press("Control+z")
                undone = DRAFT.replace("quick", "slow") + "Bob was offline."
                await ada.wait_for_function("t => window.cowrite.doc.text === t", arg=undone, timeout=10_000)
                assert await settled([ada, bob], web_server) == undone

                # -- a title, shown to Bob and in the documents list ----------------------------
                await ada.fill("#title-input", "Fox notes")
                await ada.keyboard.press("Enter")
                await ada.wait_for_function("document.title.startsWith('Fox notes')", timeout=10_000)
                await bob.reload()
                await connected(bob)
                await bob.wait_for_function(
                    "document.getElementById('title-input')?.value === 'Fox notes'", timeout=10_000
                )
                await ada.goto(f"{web_server.http}/")
                await ada.wait_for_selector(f"#doc-list li[data-doc='{DOC}'] .doc-open")
                shown = await ada.text_content(f"#doc-list li[data-doc='{DOC}'] .doc-open")
                assert shown == "Fox notes", shown

                # -- a viewer sees the named versions, but nothing to change them with -------
                vic = await new_page(browser, errors)
                tok = issue_token(SECRET_BYTES, "vic", doc=DOC, role="viewer", ttl=3600, name="Vic")
                await vic.goto(f"{web_server.http}/d/{DOC}/history?token={tok}")
                await vic.wait_for_selector("#named-versions li[data-name='First draft'] .version-jump")
                await vic.wait_for_function("document.getElementById('history-restore').hidden", timeout=10_000)
                assert await vic.eval_on_selector(".version-form", "el => el.hidden")
                assert await vic.query_selector("#named-versions .version-delete") is None

                # -- "New document": one click, a fresh document opened ------------------------
                await ada.click("#new-doc-quick")
                await ada.wait_for_url(lambda url: "/d/doc-" in url, timeout=15_000)
                await connected(ada)
                new_id = await ada.evaluate("window.cowrite.docId")
                assert new_id.startswith("doc-") and new_id != DOC
                assert await web_server.atext(new_id) == ""
                assert not errors, errors
            finally:
                await browser.close()

    run(scenario(), timeout=150)
