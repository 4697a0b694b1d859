"""Open offline, in Chromium against a real ``cowrite serve``: a document opened once
opens again with no server -- the service worker serves the app shell, the editor
reads the document from this device's IndexedDB -- takes edits, keeps them across a
reload, and merges them with what others typed meanwhile once the server is back.

"No server" is a cut :class:`Link`: the page was loaded through the relay, so its
page loads, API calls and socket all fail as they would with the server gone (the
relay refuses new connections and resets live ones).  The pages run with the
server's CSP (no ``bypass_csp``), so the policy is shown to allow the worker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from cowrite.server.auth import issue_token
from integration.harness import SECRET_BYTES, ServerProcess, run, seed, token
from integration.netem import Link

from .conftest import CHROMIUM_ARGS
from .writer_pages import Page, settled, wait_for

SEED = "Written before the train left.\n"
KEPT = re.compile(r"^Offline — (\d+) edits? kept on this device$")


async def _eval(page: Any, expression: str) -> Any:
    """``page.evaluate`` for polling across a navigation: None while the page is being
    replaced (its old context is gone, the new one not up yet)."""
    from playwright.async_api import Error

    try:
        return await page.evaluate(expression)
    except Error as exc:
        if "Execution context was destroyed" in str(exc) or "navigat" in str(exc):
            return None
        raise


async def open_doc(browser: Any, base: str, doc_id: str, name: str, *, role: str = "editor", link: Link | None = None) -> Page:
    """A page of ``doc_id`` at ``base`` signed in with a token for ``name``, connected."""
    context = await browser.new_context(viewport={"width": 1200, "height": 700}, service_workers="allow")
    page = await context.new_page()
    p = Page(name, page, context, link)
    page.on("pageerror", lambda exc: p.errors.append(f"pageerror: {exc}"))
    tok = issue_token(SECRET_BYTES, name.lower(), doc=doc_id, role=role, ttl=3600, name=name)
    await page.goto(f"{base}/d/{doc_id}?token={tok}")
    # polled from here: wait_for_function evaluates strings, which the page's CSP forbids
    await wait_for("the page to connect", lambda: _eval(page, "!!window.cowrite && window.cowrite.state() === 'connected'"), timeout=30)
    return p


async def shell_kept(p: Page) -> None:
    """Wait until the service worker controls the page with the shell cached, and the
    device's copy of the document is stored (the page writes it once in sync)."""
    await wait_for(
        "the service worker to control the page",
        lambda: p.page.evaluate("navigator.serviceWorker.controller !== null"),
        timeout=30,
    )
    await wait_for(
        "the app shell in the cache",
        lambda: p.page.evaluate(
            """(async () => {
                const names = (await caches.keys()).filter((n) => n.startsWith('cowrite-shell-'));
                if (names.length !== 1) return false;
                const urls = (await (await caches.open(names[0])).keys()).map((r) => new URL(r.url).pathname);
                return ['/static/editor.html', '/static/app.js', '/static/app.css'].every((u) => urls.includes(u));
            })()"""
        ),
        timeout=30,
    )
    await wait_for(
        "the device's copy of the document",
        lambda: p.page.evaluate("window.cowrite.offline.copy.load().then((e) => e !== null)"),
        timeout=30,
    )


async def reload_offline(p: Page) -> dict[str, Any]:
    """Reload the page with the server unreachable; the editor is up from the cache."""
    await p.page.reload()
    await wait_for("the editor, offline", lambda: _eval(p.page, "!!(window.cowrite && window.cowrite.offline)"), timeout=30)
    info = await p.info()
    assert info["state"] == "offline", info
    return info


async def cached_urls(p: Page) -> list[str]:
    return list(
        await p.page.evaluate(
            """(async () => {
                const out = [];
                for (const name of await caches.keys()) {
                    for (const r of await (await caches.open(name)).keys()) out.push(r.url);
                }
                return out;
            })()"""
        )
    )


def test_a_document_opened_once_opens_offline_takes_edits_and_merges_when_the_server_is_back(
    chromium_path: str, web_server: ServerProcess
) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-offline-open"

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED)
        link = Link(web_server.port)
        await link.start()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await open_doc(browser, link.http, doc_id, "Ada", link=link)
                await shell_kept(ada)
                assert (await ada.page.evaluate("window.cowrite.offline.kind")) == "indexeddb"

                # The train enters the tunnel: no server.  Reloading shows the editor, not
                # the browser's error page, with the document from this device.
                link.cut()
                info = await reload_offline(ada)
                assert info["editorText"] == SEED and info["text"] == SEED
                assert "copy kept on this device" in await ada.page.evaluate("document.getElementById('notice').textContent")
                assert await ada.page.evaluate("window.cowrite.view.state.readOnly") is False
                assert await ada.saving() == ("offline", "Offline — no unsaved edits")

                # Ada writes offline; the indicator counts what is kept here.
                await ada.page.click(".cm-content")
                await ada.page.keyboard.press("Control+End")
                await ada.page.keyboard.type("Tunnel notes.")
                state, words = await wait_for("the offline count", lambda: _kept(ada))
                assert state == "offline" and int(KEPT.match(words).group(1)) >= 1, words

                # She reloads again, still offline: what the closed page left unsent is
                # there, counted as kept on this device.
                await wait_for(
                    "the tab's copy in IndexedDB",
                    lambda: ada.page.evaluate(
                        "window.cowrite.offline.store.entries(`tab/${window.cowrite.docId}/`).then((e) => e.length > 0)"
                    ),
                )
                info = await reload_offline(ada)
                assert info["editorText"] == SEED + "Tunnel notes.", info
                state, words = await wait_for("the offline count after a reload", lambda: _kept(ada))
                assert int(KEPT.match(words).group(1)) >= 1, words
                await ada.page.click(".cm-content")
                await ada.page.keyboard.press("Control+End")
                await ada.page.keyboard.type(" More.")

                # Meanwhile Bob, who has a connection, edits the same document.
                bob = await open_doc(browser, web_server.http, doc_id, "Bob")
                await bob.page.click(".cm-content")
                await bob.page.keyboard.press("Control+Home")
                await bob.page.keyboard.type("Bob: ")
                await wait_for("Bob's edit on the server", lambda: _server_has(web_server, doc_id, "Bob: "))

                # Out of the tunnel: Ada's page connects, sends what it kept, merges Bob's.
                link.restore()
                text = await settled([ada, bob], web_server, doc_id, timeout=60)
                assert text == "Bob: " + SEED + "Tunnel notes. More.", text
                assert await wait_for("All changes saved", lambda: _saved(ada), timeout=30)
                assert await ada.page.evaluate("document.getElementById('notice').hidden"), "the offline notice is gone"

                # Nothing with a credential in its URL was cached: only the shell's files.
                urls = await cached_urls(ada)
                assert urls and all("token" not in u and "?" not in u and "/api/" not in u for u in urls), urls
                for p in (ada, bob):
                    assert not p.errors, f"{p.name}: {p.errors}"
            finally:
                await browser.close()
                await link.close()

    run(scenario(), timeout=240)


def test_a_viewer_stays_read_only_offline(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    doc_id = "e2e-offline-viewer"

    async def scenario() -> None:
        await seed(web_server, doc_id, SEED)
        link = Link(web_server.port)
        await link.start()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                vic = await open_doc(browser, link.http, doc_id, "Vic", role="viewer", link=link)
                await shell_kept(vic)
                await wait_for(
                    "the viewer's role in the device's copy",
                    lambda: vic.page.evaluate("window.cowrite.offline.copy.load().then((e) => e && e.canWrite === false)"),
                )
                link.cut()
                info = await reload_offline(vic)
                assert info["editorText"] == SEED
                assert await vic.page.evaluate("window.cowrite.view.state.readOnly") is True
                assert await vic.saving() == ("readonly", "View only")
                await vic.page.click(".cm-content")
                await vic.page.keyboard.type("no")
                assert (await vic.info())["editorText"] == SEED, "a viewer's keys change nothing offline either"
                link.restore()
                await wait_for("the viewer reconnected", lambda: _state_is(vic, "connected"), timeout=60)
                assert await web_server.atext(doc_id) == SEED
                assert not vic.errors, vic.errors
            finally:
                await browser.close()
                await link.close()

    run(scenario(), timeout=180)


async def _kept(p: Page) -> tuple[str, str] | None:
    state, words = await p.saving()
    return (state, words) if KEPT.match(words) else None


async def _saved(p: Page) -> bool:
    return await p.saving() == ("saved", "All changes saved")


async def _state_is(p: Page, state: str) -> bool:
    return bool((await p.info())["state"] == state)


async def _server_has(srv: ServerProcess, doc_id: str, text: str) -> bool:
    return text in await srv.atext(doc_id)


def test_an_account_opens_its_document_offline_and_syncs_by_its_session_when_back(chromium_path: str, tmp_path: Path) -> None:
    """Signed in with an account (a session cookie, no token): offline, the account last
    signed in on this device stands in; back online, the cookie carries the edits."""
    from playwright.async_api import async_playwright

    from .test_sharing import sign_up

    srv = ServerProcess(tmp_path / "accounts.db", args=("--signup", "open", "--guests", "none"))
    srv.start()
    doc_id = "e2e-offline-account"

    async def scenario() -> None:
        link = Link(srv.port)
        await link.start()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1200, "height": 700}, service_workers="allow")
                page = await context.new_page()
                ada = Page("Ada", page, context, link)
                page.on("pageerror", lambda exc: ada.errors.append(f"pageerror: {exc}"))
                await sign_up(page, f"{link.http}/", "ada", "Ada Lovelace")
                await page.fill("#new-doc-id", doc_id)
                await page.press("#new-doc-id", "Enter")
                await wait_for("the new document's editor", lambda: _state_is_safe(ada, "connected"), timeout=30)
                await page.click(".cm-content")
                await page.keyboard.type("Online.")
                await wait_for("the edit saved", lambda: _saved(ada), timeout=30)
                await shell_kept(ada)

                link.cut()
                info = await reload_offline(ada)
                assert info["editorText"] == "Online.", info
                assert await page.text_content("#whoami .whoami-name") == "Ada Lovelace"
                assert await page.locator("#signin-page").count() == 0, "no sign-in page offline"
                await page.click(".cm-content")
                await page.keyboard.press("Control+End")
                await page.keyboard.type(" Offline.")
                await wait_for("the offline count", lambda: _kept(ada))

                link.restore()
                await wait_for("All changes saved", lambda: _saved(ada), timeout=60)
                assert await srv.atext(doc_id) == "Online. Offline."
                # The account is the server's again, CSRF token and all: an unsafe request
                # (saving the title) goes through.
                await page.click("#title-input")
                await page.fill("#title-input", "Train notes")
                await page.press("#title-input", "Enter")
                await wait_for("the title on the server", lambda: _title_is(srv, doc_id, "Train notes"), timeout=30)
                assert not ada.errors, ada.errors
            finally:
                await browser.close()
                await link.close()

    try:
        run(scenario(), timeout=180)
    finally:
        srv.kill()


async def _state_is_safe(p: Page, state: str) -> bool:
    return bool(await _eval(p.page, f"!!window.cowrite && window.cowrite.state() === {state!r}"))


async def _title_is(srv: ServerProcess, doc_id: str, title: str) -> bool:
    async with httpx.AsyncClient(trust_env=False) as c:
        r = await c.get(f"{srv.http}/api/docs/{doc_id}/title", headers={"Authorization": f"Bearer {token()}"}, timeout=10)
    return r.status_code == 200 and r.json().get("title") == title
