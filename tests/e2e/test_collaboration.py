"""Three people in one paragraph, in real Chromium, over a slow and breaking network.

What a user of Google Docs would check by hand, automated: everyone types into the
same sentence at once with network latency; one of them loses the network midway
and keeps typing; afterwards every window shows the same text, every keystroke is
there, each person's typing is one unbroken run, the emoji all survive, and each
person's Ctrl+Z takes back their own typing and nobody else's.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from cowrite.server.auth import issue_token
from integration.harness import SECRET_BYTES, ServerProcess, run, seed
from integration.netem import Link

from .conftest import CHROMIUM_ARGS

SEED_TEXT = "Once upon a time, the end.\nA second line stays as it is.\n"
GAP = SEED_TEXT.index("the end")  # everyone starts typing here, before "the end"

USERS = [
    # name, emoji in what they type, one-way latency of their link (seconds)
    ("Ada", "🦊", 0.06),
    ("Bob", "🐻", 0.09),
    ("Cy", "👍🏽", 0.12),  # thumbs up + skin-tone modifier: two code points, four UTF-16 units
]


def typed_by(name: str, emoji: str) -> str:
    """What ``name`` types: unique delimiters prove presence-once and contiguity by ``count``."""
    return f"<{name} says hi {emoji} and types on {emoji}{name}> "


class Peer:
    def __init__(self, name: str, page: Any, link: Link, context: Any) -> None:
        self.name = name
        self.page = page
        self.link = link
        self.context = context
        self.errors: list[str] = []

    async def info(self) -> dict[str, Any]:
        return dict(await self.page.evaluate("window.cowrite.info()"))

    async def text(self) -> str:
        return str(await self.page.evaluate("window.cowrite.doc.text"))


async def open_peer(browser: Any, srv: ServerProcess, doc_id: str, name: str, latency: float, role: str = "editor") -> Peer:
    link = Link(srv.port, latency)
    await link.start()
    # bypass_csp: Playwright evaluates test expressions with eval, which the page CSP forbids
    context = await browser.new_context(viewport={"width": 1000, "height": 420}, bypass_csp=True)
    page = await context.new_page()
    peer = Peer(name, page, link, context)
    page.on("pageerror", lambda exc: peer.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and peer.errors.append(f"console: {msg.text}"))
    tok = issue_token(SECRET_BYTES, name.lower(), doc=doc_id, role=role, ttl=3600, name=name)
    await page.goto(f"{link.http}/d/{doc_id}?token={tok}")
    await page.wait_for_function("window.cowrite && window.cowrite.state() === 'connected'", timeout=20_000)
    return peer


async def put_caret(peer: Peer, index: int) -> None:
    """Place the caret at code-point ``index`` (the seed text is BMP-only, so UTF-16 = code points)."""
    await peer.page.click(".cm-content")
    await peer.page.evaluate(f"window.cowrite.view.dispatch({{selection: {{anchor: {index}}}}})")


async def type_slowly(peer: Peer, text: str, rng: random.Random, on_half: Any = None) -> None:
    """Type ``text`` key by key with human pauses (30-90 ms); call ``on_half`` midway."""
    chars = list(text)  # code points: an emoji is typed as one character
    half = len(chars) // 2
    for i, ch in enumerate(chars):
        if i == half and on_half is not None:
            await on_half()
        await peer.page.keyboard.type(ch)
        await asyncio.sleep(rng.uniform(0.03, 0.09))


async def press_and_wait(peer: Peer, key: str) -> str:
    """Press ``key`` (an undo or redo) and wait until the page's text changed; return it."""
    before = await peer.text()
    await peer.page.keyboard.press(key)
    await peer.page.wait_for_function("t => window.cowrite.doc.text !== t", arg=before, timeout=10_000)
    return await peer.text()


async def converged(peers: list[Peer], srv: ServerProcess, doc_id: str, timeout: float = 30.0) -> str:
    """Wait until every page shows (engine and CodeMirror) the server's text, all connected."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        infos = [await p.info() for p in peers]
        server_text = await srv.atext(doc_id)
        texts = {i["text"] for i in infos} | {i["editorText"] for i in infos} | {server_text}
        if len(texts) == 1 and all(i["state"] == "connected" and i["unacked"] == 0 for i in infos):
            return server_text
        if loop.time() > deadline:
            summary = {p.name: {k: i[k] for k in ("state", "unacked", "text", "editorText")} for p, i in zip(peers, infos)}
            raise AssertionError(f"pages did not converge with the server ({server_text!r}):\n{json.dumps(summary, indent=1, ensure_ascii=False)}")
        await asyncio.sleep(0.1)  # poll interval


def test_three_browsers_one_paragraph(chromium_path: str, web_server: ServerProcess, artifacts: Any) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-paragraph"
    rng = random.Random(6)

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED_TEXT)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            peers = [await open_peer(browser, web_server, doc_id, name, lat) for name, _, lat in USERS]
            try:
                await play(browser, peers)
            finally:
                for p in peers:
                    if p.errors:
                        print(f"{p.name}: {p.errors}")
                await browser.close()
                for p in peers:
                    await p.link.close()

    async def play(browser: Any, peers: list[Peer]) -> None:
        runs = {name: typed_by(name, emoji) for name, emoji, _ in USERS}
        for p in peers:
            assert await p.text() == SEED_TEXT
            await put_caret(p, GAP)

        bob = peers[1]

        async def bob_loses_network() -> None:
            bob.link.cut()
            await bob.page.wait_for_function("window.cowrite.state() === 'offline'", timeout=10_000)

        # Everyone types at once; Bob goes offline halfway and keeps typing.
        await asyncio.gather(
            *(type_slowly(p, runs[p.name], rng, bob_loses_network if p is bob else None) for p in peers)
        )
        assert (await bob.info())["state"] == "offline"
        # The others settle with the server while Bob is still offline; then he is back.
        await converged([p for p in peers if p is not bob], web_server, doc_id)
        assert (await bob.info())["state"] == "offline"
        bob.link.restore()  # back online: the page reconnects on its own and merges

        text = await converged(peers, web_server, doc_id)
        for name, run in runs.items():
            assert text.count(run) == 1, f"{name}'s typing is not one contiguous run in {text!r}"
        rest = text
        for run in runs.values():
            rest = rest.replace(run, "")
        assert rest == SEED_TEXT, "the text around the typing changed"
        for _, emoji, _ in USERS:
            assert text.count(emoji) == 2

        # A fourth window sees the three others' cursors: the screenshot artifact.
        dee = await open_peer(browser, web_server, doc_id, "Dee", 0.0, role="viewer")
        try:
            for p in peers:  # move each caret a little so its presence is fresh
                await p.page.keyboard.press("ArrowLeft")
            await dee.page.wait_for_function("document.querySelectorAll('.cw-caret').length === 3", timeout=10_000)
            labels = await dee.page.eval_on_selector_all(".cw-caret-label", "els => els.map(e => e.textContent)")
            assert sorted(labels) == ["Ada", "Bob", "Cy"]
            colours = await dee.page.eval_on_selector_all(
                ".cw-caret", "els => els.map(e => getComputedStyle(e).getPropertyValue('--cw-c').trim())"
            )
            assert len(set(colours)) == 3 and all(colours), f"carets must be told apart: {colours}"
            await dee.page.screenshot(path=str(artifacts / "e2e-three-remote-cursors.png"))
        finally:
            await dee.context.close()
            await dee.link.close()

        # Each user's undo removes their own typing and nothing else.
        expected = text
        for p in peers:
            run = runs[p.name]
            await p.page.click(".cm-content")
            for _ in range(12):  # typing pauses may have split it into several undo steps
                now = await press_and_wait(p, "Control+z")
                assert all(r in now for n, r in runs.items() if n != p.name and r in expected), (
                    f"{p.name}'s undo touched someone else's text: {now!r}"
                )
                if now == expected.replace(run, ""):
                    break
            expected = expected.replace(run, "")
            got = await converged(peers, web_server, doc_id)
            assert got == expected, f"after {p.name}'s undo"
        assert expected == SEED_TEXT

        # Redo brings Cy's run back, whole.
        cy = peers[2]
        for _ in range(12):
            # KeyZ with Shift: the key a real browser reports is "Z", as CodeMirror expects
            if runs["Cy"] in await press_and_wait(cy, "Control+Shift+KeyZ"):
                break
        got = await converged(peers, web_server, doc_id)
        assert got.count(runs["Cy"]) == 1 and got.replace(runs["Cy"], "") == SEED_TEXT
        for p in peers:
            assert not [e for e in p.errors if "pageerror" in e], p.errors

    run(scenario(), timeout=240)
