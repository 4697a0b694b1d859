"""Offline copies that last, in Chromium against a real ``cowrite serve``: once a document
is kept on this device the page asks the browser to keep the site's storage; with the
server gone the documents page lists what this device holds (by title, marked "on this
device") instead of an error, the history page says it needs the server, and a copy
not opened for over 30 days is evicted -- unless unsent edits hold it.

"No server" is a cut :class:`Link`, as in test_offline_open.py.
"""

from __future__ import annotations

from typing import Any

import httpx

from cowrite.server.auth import issue_token
from integration.harness import SECRET_BYTES, ServerProcess, run, seed, token
from integration.netem import Link

from .conftest import CHROMIUM_ARGS
from .test_offline_open import _eval, shell_kept
from .writer_pages import Page, wait_for

SEED = "Notes for the journey.\n"
DAY_MS = 24 * 3600 * 1000

# The device's store, read and written from the page as the app does (offline.js: the
# "offline" object store of IndexedDB "cowrite").
IDB_KEYS = """(async () => {
    const db = await new Promise((ok, fail) => { const r = indexedDB.open('cowrite'); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
    const keys = await new Promise((ok, fail) => { const q = db.transaction('offline', 'readonly').objectStore('offline').getAllKeys(); q.onsuccess = () => ok(q.result); q.onerror = () => fail(q.error); });
    db.close();
    return keys;
})()"""
IDB_PUT = """([key, value]) => (async () => {
    const db = await new Promise((ok, fail) => { const r = indexedDB.open('cowrite'); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
    await new Promise((ok, fail) => { const tx = db.transaction('offline', 'readwrite'); tx.objectStore('offline').put(value, key); tx.oncomplete = ok; tx.onerror = () => fail(tx.error); });
    db.close();
    return true;
})()"""


async def keys(page: Any) -> list[str] | None:
    found = await _eval(page, IDB_KEYS)
    return None if found is None else list(found)


async def connected(page: Any) -> bool:
    return bool(await _eval(page, "!!window.cowrite && window.cowrite.state && window.cowrite.state() === 'connected'"))


async def copy_stored(page: Any) -> bool:
    return bool(await _eval(page, "window.cowrite && window.cowrite.offline && window.cowrite.offline.copy.load().then((e) => e !== null)"))


def test_device_copies_last_list_offline_and_go_when_unused(chromium_path: str, web_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    srv = web_server
    doc_id, other = "e2e-lasting-kept", "e2e-lasting-unused"

    async def scenario() -> None:
        await seed(srv, doc_id, SEED)
        await seed(srv, other, "Opened once, long ago.\n")
        r = httpx.put(
            f"{srv.http}/api/docs/{doc_id}/title",
            json={"title": "Train notes"},
            headers={"Authorization": f"Bearer {token()}"},
            timeout=10,
            trust_env=False,
        )
        assert r.status_code == 200, r.text
        link = Link(srv.port)
        await link.start()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1200, "height": 700}, service_workers="allow")
                page = await context.new_page()
                ada = Page("Ada", page, context, link)
                page.on("pageerror", lambda exc: ada.errors.append(f"pageerror: {exc}"))
                # a token for every document, so the documents page lists them online
                tok = issue_token(SECRET_BYTES, "ada", doc="*", role="editor", ttl=3600, name="Ada")

                # Online: both documents opened once, so this device keeps a copy of each.
                await page.goto(f"{link.http}/d/{other}?token={tok}")
                await wait_for("the page to connect", lambda: connected(page), timeout=30)
                await shell_kept(ada)
                # The copy is stored: the browser was asked to keep the site's storage.
                asked = await wait_for(
                    "the request to keep this site's storage",
                    lambda: page.evaluate(
                        "navigator.storage.persisted().then((p) => p || localStorage.getItem('cowrite.persist.asked'))"
                    ),
                )
                assert asked is True or '"granted"' in str(asked), asked
                await page.goto(f"{link.http}/d/{doc_id}")
                await wait_for("the second document to connect", lambda: connected(page), timeout=30)
                await wait_for("its device copy", lambda: copy_stored(page), timeout=30)
                await wait_for(
                    "both opens noted",
                    lambda: _has(page, [f"seen/{doc_id}/ada", f"seen/{other}/ada"]),
                )

                # The documents page online: the server's list, by title.
                await page.goto(f"{link.http}/")
                row = page.locator(f'#doc-list li[data-doc="{doc_id}"]')
                await row.wait_for(timeout=20_000)
                assert (await row.locator(".doc-open").text_content()) == "Train notes"
                await wait_for("the listing kept for offline", lambda: _has(page, ["list/ada"]))

                # The server goes.  Ada writes in one document offline: unsent edits.
                link.cut()
                await page.goto(f"{link.http}/d/{doc_id}")
                await wait_for("the editor, offline", lambda: _eval(page, "!!(window.cowrite && window.cowrite.offline)"), timeout=30)
                await page.click(".cm-content")
                await page.keyboard.press("Control+End")
                await page.keyboard.type("Tunnel.")
                await wait_for("the tab's unsent copy", lambda: _has_prefix(page, f"tab/{doc_id}/"))

                # Both copies were last opened 40 days ago; the day's sweep has not run yet.
                old = await page.evaluate("Date.now()") - 40 * DAY_MS
                for d in (doc_id, other):
                    await page.evaluate(IDB_PUT, [f"seen/{d}/ada", {"v": 1, "at": old}])
                await page.evaluate("localStorage.removeItem('cowrite.persist.swept')")

                # The documents page with no server: no raw error, this device's documents.
                await page.goto(f"{link.http}/")
                await page.locator("#doc-list li[data-device]").first.wait_for(timeout=20_000)
                status = await page.locator("#docs-status").text_content()
                assert "kept on this device" in (status or ""), status
                assert "Cannot reach the server (" not in (status or ""), status
                # The unused copy is evicted; the one with unsent edits stays, whatever its age.
                await wait_for("the unused copy evicted", lambda: _lacks(page, f"copy/{other}/ada"))
                found = await keys(page) or []
                assert f"copy/{doc_id}/ada" in found and any(k.startswith(f"tab/{doc_id}/") for k in found), found
                await page.reload()
                await page.locator("#doc-list li[data-device]").first.wait_for(timeout=20_000)
                listed = await page.locator("#doc-list li").evaluate_all("(els) => els.map((e) => e.dataset.doc)")
                assert listed == [doc_id], listed
                kept = page.locator(f'#doc-list li[data-doc="{doc_id}"]')
                assert (await kept.locator(".doc-open").text_content()) == "Train notes"
                meta = await kept.locator(".device-mark").text_content() or ""
                assert "on this device" in meta and "edits not yet sent" in meta, meta

                # It opens from the list, offline, with what was typed.
                await kept.locator(".doc-open").click()
                await wait_for("the editor from the list", lambda: _eval(page, "!!(window.cowrite && window.cowrite.offline)"), timeout=30)
                info = dict(await page.evaluate("window.cowrite.info()"))
                assert info["state"] == "offline" and info["editorText"] == SEED + "Tunnel.", info

                # The history page says clearly that it needs the server.
                await page.goto(f"{link.http}/d/{doc_id}/history")
                box = page.locator("#history-offline")
                await box.wait_for(timeout=20_000)
                assert "History needs the server" in (await box.text_content() or "")
                assert await page.locator("#history-offline-editor").get_attribute("href") == f"/d/{doc_id}"

                # Back online, the edits kept on this device reach the server.
                link.restore()
                await page.goto(f"{link.http}/d/{doc_id}")
                await wait_for("the page to reconnect", lambda: connected(page), timeout=60)
                await wait_for("the offline edit on the server", lambda: _server_has(srv, doc_id, "Tunnel."), timeout=60)
                assert not ada.errors, ada.errors
            finally:
                await browser.close()
                await link.close()

    run(scenario(), timeout=240)


async def _has(page: Any, wanted: list[str]) -> bool:
    found = await keys(page)
    return found is not None and all(k in found for k in wanted)


async def _has_prefix(page: Any, prefix: str) -> bool:
    found = await keys(page)
    return found is not None and any(k.startswith(prefix) for k in found)


async def _lacks(page: Any, key: str) -> bool:
    found = await keys(page)
    return found is not None and key not in found


async def _server_has(srv: ServerProcess, doc_id: str, text: str) -> bool:
    return text in await srv.atext(doc_id)
