"""Suggesting mode in the editor itself, in real Chromium against a real ``cowrite serve``.

Two users on one document.  Bob switches his editor to suggesting mode and types and
deletes in the main editor while Ada types elsewhere in the text at the same time:
Bob's changes never enter the document, Ada's do.  Ada sees Bob's suggestion inline
(the struck words, the inserted ones) although neither page polls for suggestions
any more (their fallback poll is set to ten minutes: only the socket's SUGGESTIONS
frame can tell Ada's page).  Ada accepts it: both pages converge on the text with the
suggestion merged and her concurrent typing kept.  A second suggestion is rejected:
the text stays as it was (before that, Bob takes it up again on a fresh page and types
inside his own insertion).  Undo while suggesting takes back the suggestion's typing,
never the document's edits, which undo reaches again once out of suggesting mode.
"""

from __future__ import annotations

import time
from typing import Any

from integration.harness import ServerProcess, run, seed

from .conftest import CHROMIUM_ARGS
from .writer_pages import Page, open_page, settled, wait_for

DOC = "suggesting"
WITHIN = 20_000  # ms: what "at once" may take on a loaded machine
NO_POLL_MS = 600_000  # the fallback poll, pushed out of the test's reach
INLINE_JS = (
    "[...document.querySelectorAll('.cm-content .cw-sugg-del, .cm-content .cw-sugg-ins')]"
    ".map(e => (e.classList.contains('cw-sugg-ins') ? '+' : '-') + e.textContent).join('|')"
)
# what the editor shows: the text with the suggested insertions in it, line by line
SHOWN_JS = (
    "[...document.querySelectorAll('.cm-content .cm-line')].map(l => {"
    " const c = l.cloneNode(true); c.querySelectorAll('.cw-caret').forEach(e => e.remove()); return c.textContent;"
    " }).join('\\n')"
)  # (others' carets, with their names, left out)


async def inline(p: Page) -> str:
    return str(await p.page.evaluate(INLINE_JS))


async def wait_inline(p: Page, marks: str) -> None:
    """Wait until the editor's inline suggestion marks read ``marks`` (``-del|+ins``, in text order)."""
    try:
        await p.page.wait_for_function(f"m => ({INLINE_JS}) === m", arg=marks, timeout=WITHIN)
    except Exception:
        raise AssertionError(f"{p.name}: inline marks {await inline(p)!r}, expected {marks!r}") from None


async def editor_text(p: Page) -> str:
    return str(await p.page.evaluate("window.cowrite.view.state.doc.toString()"))


async def select(p: Page, anchor: int, head: int | None = None) -> None:
    await p.page.evaluate("window.cowrite.view.focus()")
    head = anchor if head is None else head
    await p.page.evaluate(f"window.cowrite.view.dispatch({{selection: {{anchor: {anchor}, head: {head}}}}})")


async def set_suggesting(p: Page, on: bool) -> None:
    """Press the toggle (from the keyboard: it is a button in the tab order) and wait for the mode."""
    if not on:
        await p.page.wait_for_function("() => window.cowrite.suggestions.saved", timeout=WITHIN)
    await p.page.focus("#suggest-toggle")
    await p.page.keyboard.press("Enter")
    await p.page.wait_for_selector(f"#suggest-toggle[aria-pressed={'true' if on else 'false'}]")


def test_suggesting_by_typing_while_another_types_then_accept_reject_and_undo(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                await play(browser)
            finally:
                await browser.close()

    async def play(browser: Any) -> None:
        await seed(web_server, DOC, "alpha beta gamma delta.")
        ada = await open_page(browser, web_server, DOC, "Ada")
        bob = await open_page(browser, web_server, DOC, "Bob")
        assert await settled([ada, bob], web_server, DOC) == "alpha beta gamma delta."
        for p in (ada, bob):
            await p.page.evaluate(f"window.cowrite.suggestions.pollEvery({NO_POLL_MS})")
            # (a string evaluating to a function is called by Playwright: end on a number)
            await p.page.evaluate("window.heard = 0; window.cowrite.connection.on('suggestions', () => window.heard++); 0")
            await p.page.wait_for_selector("#suggest-toggle:not([hidden])")
        assert await bob.page.get_attribute("#suggest-toggle", "aria-pressed") == "false"

        # Bob suggests by typing in the editor while Ada types at the end of the text.
        await set_suggesting(bob, True)
        await select(bob, 6, 10)  # "beta", typed over
        await bob.page.keyboard.type("BETA")
        await select(bob, 17)  # after "gamma ": Backspace strikes it letter by letter
        await ada.page.evaluate("window.cowrite.view.focus()")
        await ada.caret(len("alpha beta gamma delta."))
        for _ in "gamma ":
            await bob.page.keyboard.press("Backspace")
            await ada.page.keyboard.type("~")
        await ada.page.keyboard.type(" epsilon")
        assert await editor_text(bob) != "" and "BETA" not in await editor_text(bob)  # never in the document
        await bob.page.wait_for_function("() => window.cowrite.suggestions.saved", timeout=WITHIN)
        saved_at = time.monotonic()
        await wait_inline(ada, "-beta|+BETA|-gamma ")
        print(f"suggestion shown on the other page {time.monotonic() - saved_at:.3f} s after it was saved")
        assert await ada.page.evaluate("window.heard") >= 1  # told by the socket: the poll is ten minutes away
        await wait_inline(bob, "-beta|+BETA|-gamma ")  # his own, drawn the same way
        typed = "alpha beta gamma delta.~~~~~~ epsilon"
        assert await settled([ada, bob], web_server, DOC) == typed  # Ada's typing is in, Bob's is not
        assert await bob.page.evaluate(SHOWN_JS) == "alpha betaBETA gamma delta.~~~~~~ epsilon"  # nothing typed leaked into the text shown
        assert await bob.page.evaluate("window.cowrite.suggestions.proposed()") == "alpha BETA delta.~~~~~~ epsilon"

        # Leaving suggesting mode keeps the suggestion open; Ada accepts it.
        await set_suggesting(bob, False)
        await wait_inline(bob, "-beta|+BETA|-gamma ")
        card = ".suggestion:has(.suggestion-head:has-text('Bob'))"
        await ada.page.click(f"{card} .suggestion-accept", timeout=WITHIN)
        merged = "alpha BETA delta.~~~~~~ epsilon"
        await wait_for("both pages with the merged text", lambda: _texts_are([ada, bob], merged))
        assert await settled([ada, bob], web_server, DOC) == merged
        await wait_inline(ada, "")
        await wait_inline(bob, "")

        # A second suggestion, rejected: the text stays as it was.
        await set_suggesting(bob, True)
        await select(bob, len(merged))
        await bob.page.keyboard.type("!!!")
        await wait_inline(ada, "+!!!")
        await set_suggesting(bob, False)
        # taken up again from a fresh page (Edit on his card): the same suggestion, edited
        await bob.page.reload()
        await bob.page.wait_for_function("window.cowrite && window.cowrite.state() === 'connected'", timeout=30_000)
        await bob.page.click(f"{card} .suggestion-edit", timeout=WITHIN)
        await bob.page.wait_for_selector("#suggest-toggle[aria-pressed=true]")
        await bob.page.keyboard.type("?")  # the caret is right after his insertion
        await bob.page.keyboard.press("ArrowLeft")  # into it ...
        await bob.page.keyboard.press("ArrowLeft")
        await bob.page.keyboard.press("ArrowLeft")
        await bob.page.keyboard.type("¿")  # ... and typing there edits it
        assert await bob.page.locator(".cw-sugg-own .cw-sugg-caret").count() == 1  # the caret drawn inside it
        await wait_inline(ada, "+!¿!!?")
        assert await editor_text(bob) == merged
        await select(bob, 0)  # elsewhere: the caret drawn inside is gone ...
        assert await bob.page.locator(".cw-sugg-caret").count() == 0
        box = await bob.page.locator(".cw-sugg-own").bounding_box()
        await bob.page.mouse.click(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2)  # ... a click on it: back at its end
        await bob.page.keyboard.press("ArrowLeft")
        await bob.page.keyboard.press("Backspace")  # the "!" before the caret
        await wait_inline(ada, "+!¿!?")
        await set_suggesting(bob, False)
        assert await ada.page.locator(".suggestion").count() == 1
        await ada.page.click(f"{card} .suggestion-reject", timeout=WITHIN)
        await wait_inline(ada, "")
        await wait_inline(bob, "")
        await bob.page.wait_for_selector(".suggestion", state="detached", timeout=WITHIN)
        assert await settled([ada, bob], web_server, DOC) == merged

        # Undo while suggesting is the suggestion's; the document's edit waits for Undo out of it.
        await select(bob, 0)
        await bob.page.keyboard.type("Hi ")  # a document edit, in Bob's undo history
        with_hi = "Hi " + merged
        assert await settled([ada, bob], web_server, DOC) == with_hi
        await set_suggesting(bob, True)
        await select(bob, len(with_hi))
        await bob.page.keyboard.type(" xyz")
        await wait_inline(ada, "+ xyz")
        await bob.page.keyboard.press("Control+z")
        await wait_inline(bob, "")
        await bob.page.keyboard.press("Control+z")  # nothing left in the suggestion: the document stays
        await bob.page.keyboard.press("Control+Shift+z")  # redo: the suggestion's typing again
        await wait_inline(bob, "+ xyz")
        await bob.page.keyboard.press("Control+z")
        await wait_inline(bob, "")
        await wait_inline(ada, "")  # emptied, it is withdrawn
        assert await editor_text(bob) == with_hi
        await set_suggesting(bob, False)
        assert await settled([ada, bob], web_server, DOC) == with_hi
        await bob.page.evaluate("window.cowrite.view.focus()")  # the toggle had the focus
        await bob.page.keyboard.press("Control+z")  # out of suggesting mode: the document's undo
        await wait_for("Bob's edit undone on the server", lambda: _server_is(web_server, merged))
        assert await settled([ada, bob], web_server, DOC) == merged
        for p in (ada, bob):
            assert not p.errors, (p.name, p.errors)
            await p.close()

    run(scenario(), timeout=240)


async def _texts_are(pages: list[Page], text: str) -> bool:
    return all([await editor_text(p) == text for p in pages])


async def _server_is(srv: ServerProcess, text: str) -> bool:
    return bool(await srv.atext(DOC) == text)
