"""Markdown in the browser editor (issue 15, item 4), in real Chromium.

The preview renders what people write and never runs what a hostile author wrote:
scripts, event handlers, ``javascript:``/``data:`` links, frames.  The page's CSP is
bypassed here, so only the sanitiser stands between the text and the page.  Find and
replace is an ordinary edit: a replace-all in one window shows in the other.
"""

from __future__ import annotations

from integration.harness import ServerProcess, run, seed

from .writer_pages import CHROMIUM_ARGS, Page, open_page, settled, wait_for

HOSTILE = """# Notes for **everyone**

<script>window.__pwned = 'script'</script>
<img src="data:image/png;base64,AAAA" onerror="window.__pwned = 'img'; alert('img')">
<a id="js-link" href="javascript:window.__pwned='link'">js link</a>
[md link](javascript:window.__pwned='md')
[data link](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX19wd25lZD0nZGF0YSc8L3NjcmlwdD4=)
<iframe src="javascript:parent.__pwned='iframe'"></iframe>
<iframe srcdoc="<script>parent.__pwned='srcdoc'</script>"></iframe>
<svg onload="window.__pwned='svg'"><circle r="5"></circle></svg>
<details open ontoggle="window.__pwned='toggle'"><summary>more</summary>hidden</details>
<div id="hover" onmouseover="window.__pwned='hover'" style="background:url(javascript:x)">hover me</div>
<form action="javascript:window.__pwned='form'"><button id="go">go</button></form>
<input autofocus onfocus="window.__pwned='focus'">
<object data="javascript:window.__pwned='object'"></object>
<math><mi xlink:href="javascript:window.__pwned='math'">m</mi></math>
<a href="  JaVaScRiPt:window.__pwned='spaced'">spaced</a>

A [real link](https://example.com/page) and `code`.
"""

# Everything in the preview that could run or navigate to code.
DANGERS = """(() => {
  const pane = document.getElementById('preview');
  const found = [];
  for (const el of pane.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (['script', 'iframe', 'svg', 'math', 'form', 'input', 'button', 'object', 'embed', 'style', 'base', 'meta', 'link'].includes(tag)) found.push(tag);
    for (const a of el.attributes) {
      const v = a.value.replace(/\\s+/g, '').toLowerCase();
      if (a.name.startsWith('on') || a.name === 'style' || a.name === 'srcdoc' || a.name.includes('href') && a.name !== 'href') found.push(`${tag}[${a.name}]`);
      // data: is inert as an image (it cannot run script), and the CSP allows it there
      const inert = tag === 'img' && a.name === 'src' && v.startsWith('data:image/');
      if ((a.name === 'href' || a.name === 'src' || a.name === 'action') && /^(javascript|vbscript|data):/.test(v) && !inert) found.push(`${tag}[${a.name}=${a.value}]`);
    }
  }
  return found;
})()"""


def test_the_preview_renders_markdown_and_never_runs_a_hostile_authors_code(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-writer-preview"

    async def scenario() -> None:
        await seed(web_server, doc_id, "")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_page(browser, web_server, doc_id, "Ada")
                bob = await open_page(browser, web_server, doc_id, "Bob")
                await bob.page.click("#preview-toggle")  # Bob reads what Ada types, rendered
                assert await bob.page.get_attribute("#preview-toggle", "aria-pressed") == "true"
                await ada.page.click("#preview-toggle")
                await ada.page.click(".cm-content")
                await ada.page.keyboard.insert_text(HOSTILE)  # one paste: the whole text
                await ada.page.keyboard.type("\nTyped *live*.")  # and key by key
                text = await settled([ada, bob], web_server, doc_id)
                assert text.endswith("Typed *live*.")
                for p in (ada, bob):
                    await wait_for(
                        f"{p.name}'s preview to show the text",
                        lambda p=p: p.page.evaluate("document.querySelector('#preview em')?.textContent === 'live'"),
                    )
                    await check_preview(p)
                # the preview follows edits: Bob's heading changes when Ada edits it
                await ada.page.evaluate("window.cowrite.view.focus()")  # the links clicked took the focus
                await ada.caret(0)
                await ada.page.keyboard.press("End")
                await ada.page.keyboard.type(" now")
                await wait_for("the heading in Bob's preview", lambda: bob.page.evaluate("document.querySelector('#preview h1')?.textContent === 'Notes for everyone now'"))
                # the preview is hidden again on a click, and stays out of the way
                await bob.page.click("#preview-toggle")
                assert await bob.page.is_hidden("#preview")
                for p in (ada, bob):
                    assert p.errors == [], p.errors
            finally:
                await browser.close()

    async def check_preview(p: Page) -> None:
        page = p.page
        # poke everything that could still fire: hover, click the links, wait a moment
        await page.hover("#preview #hover")
        for name in ("js link", "md link", "data link", "spaced"):
            handle = await page.query_selector(f"#preview a:text-is('{name}')")
            if handle is not None:  # a link without its href is plain text to click on
                await handle.click(modifiers=["Control"])  # a new tab if it navigated anywhere
        await page.wait_for_timeout(300)  # let any handler that got through run (none may)
        assert await page.evaluate("window.__pwned === undefined"), await page.evaluate("window.__pwned")
        assert p.dialogs == [], p.dialogs
        # rendered: a heading with bold text, the safe link kept (opening a new tab, no referrer)
        assert await page.evaluate("document.querySelector('#preview h1 strong')?.textContent") == "everyone"
        link = await page.evaluate("(() => { const a = [...document.querySelectorAll('#preview a')].find(a => a.textContent === 'real link'); return a && [a.getAttribute('href'), a.target, a.rel]; })()")
        assert link == ["https://example.com/page", "_blank", "noopener noreferrer nofollow"], link
        assert await page.evaluate(DANGERS) == []
        assert len(p.context.pages) == 1, "a link opened something"
        assert page.url.split("?")[0].endswith(f"/d/{doc_id}"), page.url

    run(scenario(), timeout=150)


def test_replace_all_in_one_window_shows_in_the_other(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-writer-replace"
    seed_text = "The cat sat.\nA cat and another cat.\nNo dogs here.\n"

    async def scenario() -> None:
        await seed(web_server, doc_id, seed_text)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_page(browser, web_server, doc_id, "Ada")
                bob = await open_page(browser, web_server, doc_id, "Bob")
                await ada.page.click(".cm-content")
                await ada.page.keyboard.press("Control+f")  # CodeMirror's search panel
                await ada.page.wait_for_selector(".cm-search input[name=search]")
                await ada.page.fill(".cm-search input[name=search]", "cat")
                await ada.page.fill(".cm-search input[name=replace]", "fox 🦊")
                await ada.page.click(".cm-search button[name=replaceAll]")
                want = seed_text.replace("cat", "fox 🦊")
                await wait_for("Bob to see the replacement", lambda: _editor_is(bob, want))
                assert await settled([ada, bob], web_server, doc_id) == want
                # it is an ordinary edit: Ada's undo takes it back, everywhere
                await ada.page.click(".cm-content")
                await ada.page.keyboard.press("Control+z")
                assert await wait_for("the undo to reach Bob", lambda: _editor_is(bob, seed_text))
                assert await settled([ada, bob], web_server, doc_id) == seed_text
                # the Find button opens the same panel
                await bob.page.click("#find")
                await bob.page.wait_for_selector(".cm-search input[name=search]")
                for p in (ada, bob):
                    assert p.errors == [], p.errors
            finally:
                await browser.close()

    run(scenario(), timeout=120)


async def _editor_is(p: Page, text: str) -> bool:
    return bool(await p.page.evaluate("t => window.cowrite.view.state.doc.toString() === t", text))
