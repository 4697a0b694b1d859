"""Saving state you can trust (issue 15, item 7), in real Chromium over a breakable link.

"All changes saved" only once the server acknowledged every edit; "Saving…" while
edits are in flight; with the network cut, "Offline — N edits kept on this device"
counting the edits made since, and a warning before the page is left; the network
back, "All changes saved" again, with every edit on the server.
"""

from __future__ import annotations

from integration.harness import ServerProcess, run, seed

from .writer_pages import CHROMIUM_ARGS, open_page, settled, wait_for

SEED = "Draft.\n"


def test_the_indicator_counts_edits_kept_offline_and_says_saved_only_when_acknowledged(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-writer-saving"

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            ada = await open_page(browser, web_server, doc_id, "Ada", through_link=True, accept_dialogs=False)
            assert ada.link is not None
            try:
                assert await wait_for("saved at start", lambda: _is(ada, "saved", "All changes saved"))
                await ada.page.click(".cm-content")
                await ada.page.keyboard.press("Control+End")

                # a slow link: the edit is in flight for a while, and the page says so
                ada.link.latency = 1.0
                await ada.page.keyboard.type("x")
                assert await wait_for("Saving…", lambda: _is(ada, "saving", "Saving…"))
                assert await wait_for("saved once acknowledged", lambda: _is(ada, "saved", "All changes saved"), timeout=30)
                assert await web_server.atext(doc_id) == SEED + "x"
                ada.link.latency = 0.0

                # the network goes: every edit from now on is counted, none is lost
                ada.link.cut()
                await wait_for("the page to notice", lambda: ada.page.evaluate("window.cowrite.state() === 'offline'"))
                await ada.page.keyboard.type("abc")  # three keystrokes: three edits
                await ada.page.keyboard.insert_text(" pasted words")  # one paste: one edit
                await ada.page.keyboard.press("Backspace")  # one more
                assert await wait_for(
                    "the offline count",
                    lambda: _is(ada, "offline", "Offline — 5 edits kept on this device"),
                )
                # leaving now would leave them behind: the page asks first (dismissed: it stays)
                dialogs = len(ada.dialogs)
                await ada.page.close(run_before_unload=True)
                await wait_for("the beforeunload warning", lambda: _count(ada.dialogs, dialogs))
                assert ada.dialogs[-1].startswith("beforeunload"), ada.dialogs
                assert not ada.page.is_closed()
                assert await ada.page.evaluate("window.cowrite.info().editorText") == SEED + "xabc pasted word"
                assert await web_server.atext(doc_id) == SEED + "x"

                # the network is back: the edits go, and only then "All changes saved"
                ada.link.restore()
                assert await wait_for("saved after reconnecting", lambda: _is(ada, "saved", "All changes saved"), timeout=40)
                assert await settled([ada], web_server, doc_id) == SEED + "xabc pasted word"
                # nothing unsaved: leaving is not questioned
                dialogs = len(ada.dialogs)
                await ada.page.close(run_before_unload=True)
                await wait_for("the page to close", lambda: _closed(ada.page))
                assert len(ada.dialogs) == dialogs, ada.dialogs
                # (a cut network logs failed connections: only errors of the page itself count)
                assert [e for e in ada.errors if e.startswith("pageerror")] == [], ada.errors
            finally:
                await browser.close()
                await ada.link.close()

    run(scenario(), timeout=150)


async def _is(p: object, state: str, text: str) -> bool:
    return await p.saving() == (state, text)  # type: ignore[attr-defined, no-any-return]


async def _count(dialogs: list[str], before: int) -> bool:
    return len(dialogs) > before


async def _closed(page: object) -> bool:
    return bool(page.is_closed())  # type: ignore[attr-defined]
