"""A suggestion typed offline is never lost, in Chromium against a real ``cowrite serve``.

Ada's page loses the server (a cut :class:`Link`, as in test_offline_open.py).  She
types in the document, then suggests: her suggestion is made on a version the server
does not have yet.  The saving indicator counts it ("… and 1 suggestion kept on this
device"), and leaving the page asks first.  She reloads, still offline: the page comes
up from this device with her suggestion drawn where it was, in suggesting mode.  Bob,
online, types at the start meanwhile.  The server is back: Ada's edits go first, then
her suggestion, moved through Bob's typing; Bob's page shows it inline, Ada's says
"All changes saved", nothing is kept on the device any more, and leaving is not
questioned.
"""

from __future__ import annotations

import asyncio
from typing import Any

from integration.harness import ServerProcess, run, seed
from integration.netem import Link

from .conftest import CHROMIUM_ARGS
from .test_offline_open import _eval, open_doc, reload_offline, shell_kept
from .test_suggesting_mode import INLINE_JS
from .writer_pages import Page, open_page, settled, wait_for

DOC = "e2e-suggest-offline"
SEED = "alpha beta gamma."
KEPT_JS = "window.cowrite.offline.store.entries(`draft/${window.cowrite.docId}/`).then((e) => e.length)"


async def inline(p: Page) -> str:
    return str(await _eval(p.page, INLINE_JS))


async def saving_is(p: Page, state: str, text: str) -> bool:
    return await p.saving() == (state, text)


def test_a_suggestion_typed_offline_survives_a_reload_and_reaches_the_others(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    async def scenario() -> None:
        await seed(web_server, DOC, SEED)
        link = Link(web_server.port)
        await link.start()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                await play(browser, link)
            finally:
                await browser.close()
                await link.close()

    async def play(browser: Any, link: Link) -> None:
        ada = await open_doc(browser, link.http, DOC, "Ada", link=link)
        dialogs: list[str] = []
        stay = [True]  # the answer to the warning: stay on the page, or leave (a reload)

        async def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.type)
            await (dialog.dismiss() if stay[0] else dialog.accept())

        ada.page.on("dialog", on_dialog)
        await shell_kept(ada)
        await ada.page.wait_for_selector("#suggest-toggle:not([hidden])")

        # Into the tunnel: the document's own edit first, then a suggestion on top of it.
        link.cut()
        await wait_for("Ada offline", lambda: ada.page.evaluate("window.cowrite.state() === 'offline'"))
        await ada.page.evaluate(f"window.cowrite.view.focus(); window.cowrite.view.dispatch({{selection: {{anchor: {len(SEED)}}}}})")
        await ada.page.keyboard.type(" Tunnel.")
        await ada.page.focus("#suggest-toggle")
        await ada.page.keyboard.press("Enter")
        await ada.page.wait_for_selector("#suggest-toggle[aria-pressed=true]")
        await ada.page.evaluate("window.cowrite.view.focus(); window.cowrite.view.dispatch({selection: {anchor: 6, head: 10}})")
        await ada.page.keyboard.type("BETA")  # "beta" typed over
        assert await inline(ada) == "-beta|+BETA"
        assert await ada.page.evaluate("window.cowrite.view.state.doc.toString()") == SEED + " Tunnel."
        state, words = await wait_for("the count with the suggestion", lambda: _kept_words(ada))
        assert state == "offline" and words.endswith(" and 1 suggestion kept on this device"), words

        # Leaving now would leave the suggestion behind: the page asks (dismissed: it stays).
        await ada.page.close(run_before_unload=True)
        await wait_for("the beforeunload warning", lambda: _asked(dialogs))
        assert dialogs[-1] == "beforeunload" and not ada.page.is_closed()

        # Reloaded, still offline: the suggestion is there, where it was, still being typed.
        await wait_for("the draft on this device", lambda: ada.page.evaluate(KEPT_JS))
        stay[0] = False
        info = await reload_offline(ada)
        assert info["editorText"] == SEED + " Tunnel.", info
        await wait_for("the suggestion taken up", lambda: _inline_is(ada, "-beta|+BETA"), timeout=30)
        assert await ada.page.get_attribute("#suggest-toggle", "aria-pressed") == "true"
        assert await ada.page.evaluate("window.cowrite.suggestions.proposed()") == "alpha BETA gamma. Tunnel."
        state, words = await wait_for("the count after the reload", lambda: _kept_words(ada))
        assert state == "offline" and "1 suggestion kept on this device" in words, words
        assert await ada.page.evaluate(KEPT_JS) == 1

        # Bob, online, types at the start meanwhile.
        bob = await open_page(browser, web_server, DOC, "Bob")
        await bob.page.evaluate("window.cowrite.view.focus(); window.cowrite.view.dispatch({selection: {anchor: 0}})")
        await bob.page.keyboard.type("Bob: ")
        await wait_for("Bob's edit on the server", lambda: _server_is(web_server, "Bob: " + SEED))

        # Out of the tunnel: Ada's edit goes, then her suggestion, moved through Bob's typing.
        link.restore()
        text = await settled([ada, bob], web_server, DOC, timeout=60)
        assert text == "Bob: " + SEED + " Tunnel.", text
        await wait_for("the suggestion on the server", lambda: ada.page.evaluate("window.cowrite.suggestions.saved"), timeout=30)
        await wait_for("Bob sees it inline", lambda: _inline_is(bob, "-beta|+BETA"), timeout=30)
        await wait_for("Ada's own marks", lambda: _inline_is(ada, "-beta|+BETA"))
        assert await ada.page.evaluate("window.cowrite.suggestions.proposed()") == "Bob: alpha BETA gamma. Tunnel."
        assert await wait_for("All changes saved", lambda: saving_is(ada, "saved", "All changes saved"), timeout=30)
        assert await wait_for("nothing kept on the device", lambda: _none_kept(ada))
        card = ".suggestion:has(.suggestion-head:has-text('Ada'))"
        await bob.page.wait_for_selector(f"{card} .suggestion-diff ins:has-text('BETA')", timeout=20_000)

        # Everything on the server: leaving is not questioned.
        asked = len(dialogs)
        await ada.page.close(run_before_unload=True)
        await wait_for("the page to close", lambda: _closed(ada.page))
        assert len(dialogs) == asked, dialogs
        assert [e for e in ada.errors if e.startswith("pageerror")] == [], ada.errors
        assert not bob.errors, bob.errors
        await bob.close()

    run(scenario(), timeout=240)


async def _kept_words(p: Page) -> tuple[str, str] | None:
    state, words = await p.saving()
    return (state, words) if "suggestion" in words else None


async def _inline_is(p: Page, marks: str) -> bool:
    return await inline(p) == marks


async def _asked(dialogs: list[str]) -> bool:
    await asyncio.sleep(0)
    return bool(dialogs)


async def _none_kept(p: Page) -> bool:
    return await _eval(p.page, KEPT_JS) == 0


async def _server_is(srv: ServerProcess, text: str) -> bool:
    return bool(await srv.atext(DOC) == text)


async def _closed(page: Any) -> bool:
    return bool(page.is_closed())


def test_a_suggestion_not_yet_saved_when_its_tab_is_closed_is_sent_by_the_next_page(chromium_path: str, web_server: ServerProcess) -> None:
    """The tab is closed before its suggestion reached the server (here: every save of
    it fails); the next page of the same user takes it up and sends it, once."""
    from playwright.async_api import async_playwright

    doc_id = "e2e-suggest-closed-tab"

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_page(browser, web_server, doc_id, "Ada")
                await ada.page.wait_for_selector("#suggest-toggle:not([hidden])")

                async def refuse_saves(route: Any) -> None:
                    if route.request.method in ("POST", "PUT"):
                        await route.abort()
                    else:
                        await route.continue_()

                await ada.page.route("**/api/docs/*/suggestions**", refuse_saves)
                await ada.page.focus("#suggest-toggle")
                await ada.page.keyboard.press("Enter")
                await ada.page.wait_for_selector("#suggest-toggle[aria-pressed=true]")
                await ada.page.evaluate(f"window.cowrite.view.focus(); window.cowrite.view.dispatch({{selection: {{anchor: {len(SEED)}}}}})")
                await ada.page.keyboard.type(" More")
                await wait_for("a save refused", lambda: ada.page.evaluate("window.cowrite.suggestions.status.startsWith('Not saved yet')"))
                assert await ada.page.evaluate("window.cowrite.suggestions.saved") is False
                assert await ada.saving() == ("saving", "Saving…")  # online, yet not "All changes saved"
                await ada.page.close(run_before_unload=True)  # the warning is accepted: the tab goes
                await wait_for("the tab to close", lambda: _closed(ada.page))

                page = await ada.context.new_page()
                await page.goto(f"{web_server.http}/d/{doc_id}")
                again = Page("Ada again", page, ada.context, None)
                await wait_for("the next page connected", lambda: _eval(page, "!!window.cowrite && window.cowrite.state() === 'connected'"), timeout=30)
                await wait_for("the suggestion taken up and saved", lambda: _eval(page, "window.cowrite.suggestions.list.length === 1 && window.cowrite.suggestions.saved"), timeout=30)
                listed = await page.evaluate("window.cowrite.suggestions.list.map((s) => s.spans.filter((x) => x.kind === 'insert').map((x) => x.text).join(''))")
                assert listed == [" More"], listed
                assert await page.evaluate("window.cowrite.suggestions.proposed()") == SEED + " More"
                assert await wait_for("nothing kept on the device", lambda: _none_kept(again))
                assert await wait_for("All changes saved", lambda: saving_is(again, "saved", "All changes saved"))
                assert await web_server.atext(doc_id) == SEED  # a suggestion: the text itself is as it was
                assert [e for e in ada.errors if e.startswith("pageerror")] == [], ada.errors
            finally:
                await browser.close()

    run(scenario(), timeout=120)
