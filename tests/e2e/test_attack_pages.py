"""The pages attacked in real Chromium against a real server: hostile titles and names,
framing, and a redirect after sign-in.

Ada (an account whose display name is markup) shares a document whose title is markup
with Bob and suggests a change to it; Bob opens the documents page, the editor and the
history page.  Nothing of it may run: ``window.pwned`` stays unset and no element the
markup would have made exists -- with the page's CSP bypassed, so only the app's own
escaping stands between the text and the page.  Then, with the CSP on: another site
cannot frame the pages (``frame-ancestors 'none'``), and signing in from a page
address with ``?next=`` elsewhere stays on this server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from integration.harness import ServerProcess, run

from .conftest import CHROMIUM_ARGS
from .test_sharing import PASSWORD, new_page, sign_up

EVIL = '<img src=x onerror="window.pwned=1"><svg onload="window.pwned=2"></svg><script>window.pwned=3</script>'
EVIL_NAME = '<img src=x onerror="window.pwned=4">'
PWNED = "() => window.pwned === undefined && !document.querySelector('img[src=\"x\"], svg[onload], script:not([src])')"


def _account(srv: ServerProcess, username: str, name: str) -> dict[str, str]:
    r = httpx.post(
        f"{srv.http}/api/auth/signup",
        json={"username": username, "password": PASSWORD, "name": name},
        headers={"origin": srv.http},
        timeout=30,
        trust_env=False,
    )
    assert r.status_code == 201, r.text
    return {"cookie": f"cowrite_session={r.cookies['cowrite_session']}", "origin": srv.http, "x-csrf-token": r.json()["csrf_token"]}


def test_hostile_titles_and_names_never_run(chromium_path: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    srv = ServerProcess(tmp_path / "attack.db", args=("--signup", "open", "--guests", "none"))
    srv.start()
    doc = "evil-doc"

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                await play(browser)
            finally:
                await browser.close()

    async def play(browser: Any) -> None:
        bob = await new_page(browser)  # CSP bypassed
        await sign_up(bob, f"{srv.http}/", "bob", "Bob")
        ada = _account(srv, "ada", EVIL_NAME)

        def call(method: str, path: str, body: Any) -> Any:
            r = httpx.request(method, f"{srv.http}{path}", json=body, headers=ada, timeout=30, trust_env=False)
            assert r.status_code in (200, 201), r.text
            return r.json()

        call("POST", "/api/docs", {"id": doc})
        call("POST", f"/api/docs/{doc}/edit", {"pos": 0, "insert": "hello world"})
        call("PUT", f"/api/docs/{doc}/title", {"title": EVIL})
        call("POST", f"/api/docs/{doc}/members", {"user": "bob", "role": "editor"})
        call("POST", f"/api/docs/{doc}/versions", {"name": '<img src=x onerror="window.pwned=5">'})
        snapshot = httpx.get(f"{srv.http}/api/docs/{doc}/suggestions", headers=ada, timeout=30, trust_env=False).json()
        call("POST", f"/api/docs/{doc}/suggestions", {"version": snapshot["version"], "text": "hello " + EVIL})

        await bob.goto(f"{srv.http}/")
        shared = bob.locator(f'#shared-list li[data-doc="{doc}"] .doc-open')
        await shared.wait_for(timeout=20_000)
        assert await shared.text_content() == EVIL  # shown as text
        assert await bob.evaluate(PWNED), "the documents page ran the title"

        await bob.goto(f"{srv.http}/d/{doc}")
        await bob.wait_for_selector(".cm-content", timeout=20_000)
        await bob.wait_for_function("() => document.title.includes('pwned')", timeout=20_000)  # the title arrived
        await bob.wait_for_function("() => document.body.textContent.includes('onerror=\"window.pwned=4\"')", timeout=20_000)
        assert await bob.evaluate(PWNED), "the editor ran the title, the name or the suggestion"

        await bob.goto(f"{srv.http}/d/{doc}/history")
        await bob.wait_for_function("() => document.getElementById('doc-title')?.textContent.includes('window.pwned')", timeout=20_000)
        await bob.wait_for_function("() => document.body.textContent.includes('window.pwned=5')", timeout=20_000)  # the version's name
        assert await bob.evaluate(PWNED), "the history page ran the title or the version's name"
        assert not [e for e in bob.errors if "pwned" in e], bob.errors

    try:
        run(scenario(), timeout=150)
    finally:
        srv.kill()


def test_another_site_cannot_frame_the_pages_and_next_does_not_redirect(chromium_path: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    srv = ServerProcess(tmp_path / "frame.db", args=("--signup", "open", "--guests", "none"))
    srv.start()
    _account(srv, "carol", "Carol")
    other = srv.http.replace("127.0.0.1", "localhost")  # another origin, the same server

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context()  # CSP on
                page = await context.new_page()
                await page.goto(f"{other}/static/missing-page-for-framing")  # any page of the other origin
                await page.evaluate(
                    """(src) => new Promise((done) => {
                        const f = document.createElement('iframe');
                        f.src = src; f.onload = () => done(); f.onerror = () => done();
                        document.body.appendChild(f);
                    })""",
                    f"{srv.http}/",
                )
                framed = [f for f in page.frames if f != page.main_frame]
                assert framed, page.frames
                for f in framed:  # blocked: an error page, never the app
                    assert not f.url.startswith(srv.http) or not await _has_app(f), f.url

                await page.goto(f"{srv.http}/?next=https://evil.example/&redirect=//evil.example/&return_to=https://evil.example/")
                await page.wait_for_selector("#signin-form")
                await page.fill("#signin-username", "carol")
                await page.fill("#signin-password", PASSWORD)
                await page.click("#signin-form button[type=submit]")
                await page.wait_for_selector("#whoami[data-state=account]", timeout=20_000)
                assert page.url.startswith(f"{srv.http}/"), page.url
            finally:
                await browser.close()

    try:
        run(scenario(), timeout=120)
    finally:
        srv.kill()


async def _has_app(frame: Any) -> bool:
    try:
        return bool(await frame.evaluate("() => !!document.querySelector('script[src*=app]')"))
    except Exception:  # a blocked frame is another origin's error page: not readable
        return False
