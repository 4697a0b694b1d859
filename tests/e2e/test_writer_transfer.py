"""Export and import from the editor page (issue 15, item 6), in real Chromium.

Downloads as .txt, .md and .html from the File menu; a file picked from the disk
imported into the document (what differs is replaced, as ops: the other window sees
it arrive); a file that is not UTF-8 refused with the text untouched; a file as a new
document; a viewer may download but is offered no import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from integration.harness import ServerProcess, run, seed

from .writer_pages import CHROMIUM_ARGS, Page, open_page, settled, wait_for

SEED = "# Plan\n\nFirst *point*.\n<script>window.__pwned = 1</script>\n"


async def download(p: Page, button: str) -> tuple[str, str]:
    """Click File > ``button``; the file's suggested name and its text."""
    await p.page.click("#file-menu summary")
    async with p.page.expect_download() as info:
        await p.page.click(button)
    dl = await info.value
    path = await dl.path()
    return dl.suggested_filename, Path(path).read_text(encoding="utf-8")


async def pick(p: Page, button: str, file: Path) -> None:
    """Click File > ``button`` and choose ``file`` in the browser's picker."""
    await p.page.click("#file-menu summary")
    async with p.page.expect_file_chooser() as chooser:
        await p.page.click(button)
    await (await chooser.value).set_files(str(file))


async def notice(p: Page) -> str:
    return str(await p.page.evaluate("document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent"))


def test_export_and_import_from_the_editor(chromium_path: str, web_server: ServerProcess, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-writer-files"

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                # Ada's token is for every document: she may also create one from a file
                ada = await open_page(browser, web_server, doc_id, "Ada", token_doc="*")  # dialogs (the confirm) accepted
                bob = await open_page(browser, web_server, doc_id, "Bob")
                vic = await open_page(browser, web_server, doc_id, "Vic", role="viewer")
                await exports(ada)
                await viewer(vic)
                await imports(ada, bob)
                await new_document(ada)
                for p in (bob, vic):
                    assert p.errors == [], p.errors
                # (the refused import logs its 400: only errors of the page itself count)
                assert [e for e in ada.errors if e.startswith("pageerror")] == [], ada.errors
            finally:
                await browser.close()

    async def exports(ada: Page) -> None:
        assert await download(ada, "#export-md") == (f"{doc_id}.md", SEED)
        assert await download(ada, "#export-txt") == (f"{doc_id}.txt", SEED)
        name, page = await download(ada, "#export-html")
        assert name == f"{doc_id}.html"
        assert "<h1>Plan</h1>" in page and "<em>point</em>" in page
        assert "<script>window" not in page and "__pwned" not in page

    async def viewer(vic: Page) -> None:
        assert (await download(vic, "#export-md"))[1] == SEED  # a viewer may export
        await vic.page.click("#file-menu summary")
        assert await vic.page.is_hidden("#import-replace") and await vic.page.is_hidden("#import-append")
        await vic.page.click("#file-menu summary")

    async def imports(ada: Page, bob: Page) -> None:
        latin1 = tmp_path / "latin1.md"
        latin1.write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
        await pick(ada, "#import-replace", latin1)
        await wait_for("the refusal", lambda: _contains(notice(ada), "not UTF-8"))
        assert await web_server.atext(doc_id) == SEED

        new_text = "# Plan\n\nFirst *point*, revised 🦊.\n\nA second point.\n"
        good = tmp_path / "plan.md"
        good.write_text(new_text.replace("\n", "\r\n"), encoding="utf-8")  # Windows line endings, made \n
        await pick(ada, "#import-replace", good)
        await wait_for("Bob to see the import", lambda: _editor_is(bob, new_text))
        assert await settled([ada, bob], web_server, doc_id) == new_text
        assert any(d.startswith("confirm") for d in ada.dialogs), ada.dialogs
        assert "Imported plan.md" in await notice(ada)
        # an import is an edit like another: what Bob types meanwhile merges
        await bob.page.click(".cm-content")
        await bob.page.keyboard.press("Control+End")
        await bob.page.keyboard.type("Bob's line.")
        tail = tmp_path / "tail.txt"
        tail.write_text("Appended from a file.\n", encoding="utf-8")
        await pick(ada, "#import-append", tail)
        final = await wait_for(
            "the append and Bob's typing to meet",
            lambda: _text_if(settled([ada, bob], web_server, doc_id, timeout=2), lambda t: "Appended from a file." in t and "Bob's line." in t),
        )
        assert final.startswith(new_text) and final.count("Appended from a file.") == 1, final

    async def new_document(ada: Page) -> None:
        other = tmp_path / "Meeting notes.md"
        other.write_text("# Meeting\n\n- one\n- two\n", encoding="utf-8")
        await pick(ada, "#import-new", other)
        await ada.page.wait_for_url("**/d/Meeting-notes", timeout=20_000)
        await ada.page.wait_for_function("window.cowrite && window.cowrite.state() === 'connected'", timeout=20_000)
        assert await ada.page.evaluate("window.cowrite.view.state.doc.toString()") == "# Meeting\n\n- one\n- two\n"
        assert await web_server.atext("Meeting-notes") == "# Meeting\n\n- one\n- two\n"

    run(scenario(), timeout=150)


async def _contains(got: Any, part: str) -> bool:
    return part in await got


async def _editor_is(p: Page, text: str) -> bool:
    return bool(await p.page.evaluate("t => window.cowrite.view.state.doc.toString() === t", text))


async def _text_if(got: Any, ok: Any) -> str | None:
    try:
        text = await got
    except AssertionError:  # not settled yet
        return None
    return text if ok(text) else None
