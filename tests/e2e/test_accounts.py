"""Accounts in real Chromium against a real ``cowrite serve --signup invite``.

A newcomer opens an invite link, creates an account (with a display name that is
markup, shown as text), lands on the documents page, creates a document and types;
signing out ends the session on the server, which closes the editor's socket, and
the page says it is signed out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cowrite.accounts import Accounts
from cowrite.store import SQLiteStore
from integration.harness import ServerProcess, run

from .conftest import CHROMIUM_ARGS
from .test_pages import acknowledged, editor_ready

HOSTILE_NAME = '<img src=x onerror="alert(1)"> Ada'
PASSWORD = "a long enough password"


@pytest.fixture
def invite_server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "accounts.db", args=("--signup", "invite", "--guests", "none"))
    srv.start()
    yield srv
    srv.kill()


def make_invite(db: Path) -> str:
    """What an admin does (``cowrite user invite``): an invite in the server's database."""
    store = SQLiteStore(db)
    try:
        return Accounts(store).create_invite("admin")
    finally:
        store.close()


def test_sign_up_by_invite_write_then_sign_out_closes_the_socket(chromium_path: str, invite_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    base = invite_server.http
    code = make_invite(invite_server.db)

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                await play(browser)
            finally:
                await browser.close()

    async def play(browser: Any) -> None:
        context = await browser.new_context(viewport={"width": 1000, "height": 600}, bypass_csp=True)
        page = await context.new_page()
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda d: dialogs.append(d.message))

        # The invite link opens the sign-up form with the code filled in.
        await page.goto(f"{base}/?invite={code}")
        await page.wait_for_selector("#signup-form:not([hidden])")
        assert await page.input_value("#signup-invite") == code
        await page.fill("#signup-username", "ada")
        await page.fill("#signup-name", HOSTILE_NAME)
        await page.fill("#signup-password", PASSWORD)
        await page.click("#signup-form button[type=submit]")

        # Signed in, on the documents page; the name is text, not markup.
        await page.wait_for_selector("#whoami[data-state=account]")
        assert await page.text_content("#whoami .whoami-name") == HOSTILE_NAME
        assert await page.locator("#whoami img").count() == 0
        assert "invite=" not in page.url
        assert "cowrite_session" not in await page.evaluate("document.cookie")  # HttpOnly
        await page.wait_for_selector("#new-doc-id")

        # Create a document and type into it.
        await page.fill("#new-doc-id", "notes")
        await page.press("#new-doc-id", "Enter")
        await page.wait_for_url(f"{base}/d/notes")
        await editor_ready(page)
        await page.click(".cm-content")
        await page.keyboard.type("Hello from an account.")
        await acknowledged(page)
        assert invite_server.text("notes") == "Hello from an account."
        history = httpx.get(f"{base}/api/docs/notes/history", headers=invite_server._headers(), trust_env=False).json()
        assert {c["user"] for c in history["changes"]} == {"ada"}

        # Sign out: the server ends the session and closes this page's socket.
        await page.click("#sign-out")
        await page.wait_for_selector("#whoami[data-state=signed-out]")
        await page.wait_for_function("window.cowrite.info().state === 'error'", timeout=10_000)
        assert "unauthorized" in (await page.get_attribute("#status", "title") or "")
        assert "session ended" in (await page.text_content("#notice") or "")
        # The text stays on screen and on the server; the cookie no longer signs in.
        assert await page.evaluate("window.cowrite.view.state.doc.toString()") == "Hello from an account."
        status = await page.evaluate("fetch('/api/auth/me', {credentials: 'same-origin'}).then(r => r.status)")
        assert status == 401
        assert invite_server.text("notes") == "Hello from an account."

        # Back on the documents page: the sign-in form, and the account signs in again.
        await page.goto(f"{base}/")
        await page.wait_for_selector("#signin-form:not([hidden])")
        await page.fill("#signin-username", "ada")
        await page.fill("#signin-password", "not the password")
        await page.click("#signin-form button[type=submit]")
        await page.wait_for_selector("#signin-error:not([hidden])")
        assert "wrong username or password" in (await page.text_content("#signin-error") or "")
        await page.fill("#signin-password", PASSWORD)
        await page.click("#signin-form button[type=submit]")
        await page.wait_for_selector("a.doc-open:has-text('notes')")
        assert not errors and not dialogs, (errors, dialogs)
        await context.close()

    run(scenario(), timeout=180)


def test_an_admin_invites_someone_from_the_documents_page(chromium_path: str, invite_server: ServerProcess) -> None:
    """No command line past the first admin: the admin makes the link, the newcomer uses it."""
    from playwright.async_api import async_playwright

    base = invite_server.http
    store = SQLiteStore(invite_server.db)
    try:  # what `cowrite user add boss --admin` does
        Accounts(store).sign_up("boss", PASSWORD, "The Admin", admin=True, mode="open")
    finally:
        store.close()

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                admin = await (await browser.new_context(bypass_csp=True)).new_page()
                await admin.goto(f"{base}/")
                await admin.fill("#signin-username", "boss")
                await admin.fill("#signin-password", PASSWORD)
                await admin.click("#signin-form button[type=submit]")
                await admin.click("#invite-button")
                link = await (await admin.wait_for_selector("#invite-link")).input_value()
                assert link.startswith(f"{base}/?invite=")

                newcomer = await (await browser.new_context(bypass_csp=True)).new_page()
                await newcomer.goto(link)
                await newcomer.fill("#signup-username", "grace")
                await newcomer.fill("#signup-password", PASSWORD)
                await newcomer.click("#signup-form button[type=submit]")
                await newcomer.wait_for_selector("#whoami[data-state=account]")
                assert await newcomer.text_content("#whoami .whoami-name") == "grace"
                assert await newcomer.locator("#invite-button").count() == 0  # not an admin

                # The link worked once: a third browser cannot use it again.
                third = await (await browser.new_context(bypass_csp=True)).new_page()
                await third.goto(link)
                await third.fill("#signup-username", "mallory")
                await third.fill("#signup-password", PASSWORD)
                await third.click("#signup-form button[type=submit]")
                await third.wait_for_selector("#signup-error:not([hidden])")
                assert "invite" in (await third.text_content("#signup-error") or "")
            finally:
                await browser.close()

    run(scenario(), timeout=180)
