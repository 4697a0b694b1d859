"""Live authorship colours in the editor (issue 15, item 5), in real Chromium.

Two people type into a document someone else wrote; with "Authors" on, every
character on screen is tinted by who typed it -- their own, the other's (arriving
live), and the original author's (who is not there: the page asks the server who
that agent belongs to).  Each user has one colour on every page, and no two share one.
"""

from __future__ import annotations

from typing import Any

from integration.harness import ServerProcess, run, seed

from .writer_pages import CHROMIUM_ARGS, Page, open_page, settled, wait_for

SEED = "Seeded text, written before.\nSecond line.\n"

# The editor's text as shown, and who each shown character is attributed to
# ("-": no authorship mark); remote carets' name labels are not text.
SHOWN = """(() => {
  const chars = [], authors = [];
  const lines = document.querySelectorAll('.cm-content .cm-line');
  lines.forEach((line, i) => {
    const walk = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    let n;
    while ((n = walk.nextNode())) {
      if (n.parentElement.closest('.cw-caret, [contenteditable=false]')) continue;
      const mark = n.parentElement.closest('.cw-author');
      for (const ch of n.data) { chars.push(ch); authors.push(mark ? mark.dataset.author || '?' : '-'); }
    }
    if (i < lines.length - 1) { chars.push('\\n'); authors.push('\\n'); }
  });
  return {text: chars.join(''), authors};
})()"""

COLOUR_OF = """user => {
  const el = document.querySelector(`.cw-author[data-author="${user}"]`);
  return el ? getComputedStyle(el).backgroundColor : null;
}"""


async def attributed(p: Page, text: str) -> list[str] | None:
    """Who each character is attributed to on ``p``'s screen, once it shows ``text``."""
    shown = await p.page.evaluate(SHOWN)
    return list(shown["authors"]) if shown["text"] == text else None


def expected(text: str, parts: list[tuple[str, str]]) -> list[str]:
    """The attribution of ``text``: each (substring, user) of ``parts`` marks its characters; newlines count too."""
    who = ["seeder"] * len(text)
    for part, user in parts:
        i = text.index(part)
        who[i : i + len(part)] = [user] * len(part)
    return ["\n" if ch == "\n" else u for ch, u in zip(text, who)]


def test_authorship_colours_follow_typing_live(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-writer-authors"

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_page(browser, web_server, doc_id, "Ada")
                bob = await open_page(browser, web_server, doc_id, "Bob")
                for p in (ada, bob):
                    await p.page.click("#authors-toggle")
                    assert await p.page.get_attribute("#authors-toggle", "aria-pressed") == "true"
                # before anyone types: all of it is the seeder's (learnt from the server)
                for p in (ada, bob):
                    want = expected(SEED, [])
                    await wait_for(f"{p.name} to show the seeder's text", lambda p=p: attributed(p, SEED), timeout=20)
                    assert await wait_for(f"{p.name}'s colours", lambda p=p: _equal(attributed(p, SEED), want))
                await ada.page.click(".cm-content")
                await ada.caret(SEED.index("written"))
                await ada.page.keyboard.type("[ada 🦊] ")
                await bob.page.click(".cm-content")
                await bob.page.keyboard.press("Control+End")
                await bob.page.keyboard.type("[bob typed this]")
                text = await settled([ada, bob], web_server, doc_id)
                parts = [("[ada 🦊] ", "ada"), ("[bob typed this]", "bob")]
                want = expected(text, parts)
                for p in (ada, bob):  # the others' typing shows in their colour as it arrives
                    await wait_for(f"{p.name}'s colours after typing", lambda p=p: _equal(attributed(p, text), want))
                # one colour per user, the same on both pages; three users, three colours
                colours = {}
                for p in (ada, bob):
                    colours[p.name] = {u: await p.page.evaluate(COLOUR_OF, u) for u in ("ada", "bob", "seeder")}
                assert colours["Ada"] == colours["Bob"], colours
                assert len(set(colours["Ada"].values())) == 3 and None not in colours["Ada"].values(), colours
                # an edit in the middle of someone else's run splits it, live
                await bob.caret(text.index("text,") + 2)
                await bob.page.keyboard.type("B")
                text2 = await settled([ada, bob], web_server, doc_id)
                want2 = expected(text2, [*parts, ("B", "bob")])
                assert text2.index("B") == text.index("text,") + 2
                await wait_for("Ada to see Bob's letter in his colour", lambda: _equal(attributed(ada, text2), want2))
                # off: no tint at all
                await ada.page.click("#authors-toggle")
                await wait_for("the colours to go", lambda: ada.page.evaluate("document.querySelectorAll('.cw-author').length === 0"))
                for p in (ada, bob):
                    assert p.errors == [], p.errors
            finally:
                await browser.close()

    run(scenario(), timeout=120)


async def _equal(got: Any, want: list[str]) -> bool:
    return (await got) == want
