"""Sharing in real Chromium against a real ``cowrite serve --signup open --guests none``.

The owner signs up, creates a document, types, and shares it from the Share dialog with a
second account as a viewer: the second page shows "View only" and its editor cannot
type.  Upgraded to editor, the second page reconnects by itself, types, and both
converge.  Removed, the second page is disconnected (fatal ``forbidden``), what it types
then reaches nobody, and nothing of the owner's is lost.  Display names that are markup
are shown as text in the dialog, and no script of theirs runs.

A second scenario: an invite link made in the dialog signs a newcomer up and in, as a
commenter (read-only), and link sharing opens the document to a third account and to a
visitor without one (a link guest); turning it off disconnects both.  A third: the
tokens page (a token shown once, revoked) and the admin page (disable, enable, a
temporary password, owners).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.harness import ServerProcess, run

from .conftest import CHROMIUM_ARGS
from .test_pages import acknowledged, editor_ready, wait_text

PASSWORD = "a long enough password"
OWNER_NAME = '<img src=x onerror="window.pwned=1"> Ada'
BOB_NAME = "<script>window.pwned=2</script>Bob"


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "sharing.db", args=("--signup", "open", "--guests", "none"))
    srv.start()
    yield srv
    srv.kill()


async def new_page(browser: Any) -> Any:
    context = await browser.new_context(viewport={"width": 1100, "height": 700}, bypass_csp=True)
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


async def sign_up(page: Any, url: str, username: str, name: str) -> None:
    await page.goto(url)
    await page.wait_for_selector("#signin-form")
    if await page.locator("#signup-form[hidden]").count():
        await page.click("#signin-form .link-button")
    await page.wait_for_selector("#signup-form:not([hidden])")
    await page.fill("#signup-username", username)
    await page.fill("#signup-name", name)
    await page.fill("#signup-password", PASSWORD)
    await page.click("#signup-form button[type=submit]")
    await page.wait_for_selector("#whoami[data-state=account]")


async def read_only(page: Any) -> bool:
    return bool(await page.evaluate("window.cowrite.view.state.readOnly"))


def test_share_as_viewer_upgrade_to_editor_then_revoke(chromium_path: str, open_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    base = open_server.http

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                await play(browser)
            finally:
                await browser.close()

    async def play(browser: Any) -> None:
        owner = await new_page(browser)
        await sign_up(owner, f"{base}/", "ada", OWNER_NAME)
        await owner.fill("#new-doc-id", "plan")
        await owner.press("#new-doc-id", "Enter")
        await owner.wait_for_url(f"{base}/d/plan")
        await editor_ready(owner)
        await owner.click(".cm-content")
        await owner.keyboard.type("Owner text.")
        await acknowledged(owner)

        bob = await new_page(browser)
        await sign_up(bob, f"{base}/", "bob", BOB_NAME)
        # Not shared yet: bob sees nothing of it, and the editor says so.
        await bob.wait_for_selector("#shared-status:has-text('Nothing shared')")
        await bob.goto(f"{base}/d/plan")
        await bob.wait_for_selector("#notice:has-text('Not allowed')")
        assert "Owner text." not in (await bob.text_content("body") or "")

        # The owner shares it with bob, as a viewer.
        await owner.click("#share")
        await owner.wait_for_selector("#share-dialog[open] #share-members li[data-user=ada]")
        await owner.fill("#share-add-user", "bob")
        await owner.select_option("#share-add-role", "viewer")
        await owner.click("#share-add button[type=submit]")
        bob_row = "#share-members li[data-user=bob]"
        await owner.wait_for_selector(f"{bob_row}[data-role=viewer]")
        # Names that are markup are text: no element made of them, no script ran.
        assert await owner.text_content(f"{bob_row} .share-name") == BOB_NAME
        assert await owner.text_content("#share-members li[data-user=ada] .share-name") == OWNER_NAME
        assert await owner.locator("#share-dialog script, #share-dialog img").count() == 0
        assert await owner.evaluate("window.pwned") is None

        # Bob: "Shared with me" lists it; the editor is read-only and says "View only".
        await bob.goto(f"{base}/")
        await bob.wait_for_selector("#shared-list a.doc-open:has-text('plan')")
        await bob.click("#shared-list a.doc-open:has-text('plan')")
        await bob.wait_for_url(f"{base}/d/plan")
        await editor_ready(bob)
        await wait_text(bob, "Owner text.")
        await bob.wait_for_selector("#role-badge:not([hidden])")
        assert await read_only(bob)
        await bob.click(".cm-content")
        await bob.keyboard.type("nope")
        assert await bob.evaluate("window.cowrite.view.state.doc.toString()") == "Owner text."
        assert open_server.text("plan") == "Owner text."

        # Upgraded to editor: bob's page reconnects by itself with the new role and types.
        await owner.select_option(f"#role-bob", "editor")
        await owner.wait_for_selector(f"{bob_row}[data-role=editor]")
        await bob.wait_for_function(
            "!window.cowrite.view.state.readOnly && window.cowrite.state() === 'connected'", timeout=20_000
        )
        await bob.wait_for_selector("#role-badge[hidden]", state="attached")
        await bob.click(".cm-content")
        await bob.keyboard.press("End")
        await bob.keyboard.type(" Bob was here.")
        await acknowledged(bob)
        await wait_text(owner, "Owner text. Bob was here.")
        assert open_server.text("plan") == "Owner text. Bob was here."

        # Removed: bob's page is disconnected at once (forbidden) and sends nothing more.
        await owner.click(f"{bob_row} .share-remove")
        await owner.wait_for_selector(bob_row, state="detached")
        await bob.wait_for_function("window.cowrite.info().state === 'error'", timeout=10_000)
        assert "forbidden" in (await bob.get_attribute("#status", "title") or "")
        assert "no longer have access" in (await bob.text_content("#notice") or "")
        await bob.keyboard.type(" Too late.")
        # The owner goes on; the server holds all of the owner's text and nothing bob typed after.
        await owner.click("#share-close")
        await owner.wait_for_selector("#share-dialog", state="detached")
        await owner.click(".cm-content")
        await owner.keyboard.press("End")
        await owner.keyboard.type(" Still mine.")
        await acknowledged(owner)
        assert open_server.text("plan") == "Owner text. Bob was here. Still mine."
        assert await owner.evaluate("window.cowrite.view.state.doc.toString()") == "Owner text. Bob was here. Still mine."
        assert "Too late." in await bob.evaluate("window.cowrite.view.state.doc.toString()")  # kept on bob's screen
        status = await bob.evaluate(
            "fetch('/api/docs/plan/text', {credentials: 'same-origin'}).then(r => r.status)"
        )
        assert status == 403
        assert not owner.errors and not bob.errors, (owner.errors, bob.errors)
        assert await owner.evaluate("window.pwned") is None and await bob.evaluate("window.pwned") is None

    run(scenario(), timeout=240)


def test_an_invite_link_and_link_sharing(chromium_path: str, open_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    base = open_server.http

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                owner = await new_page(browser)
                await sign_up(owner, f"{base}/", "ada", "Ada")
                await owner.fill("#new-doc-id", "notes")
                await owner.press("#new-doc-id", "Enter")
                await editor_ready(owner)
                await owner.click(".cm-content")
                await owner.keyboard.type("Shared notes.")
                await acknowledged(owner)

                # An invite link for a commenter.
                await owner.click("#share")
                await owner.wait_for_selector("#share-dialog[open] #share-invite-make")
                await owner.select_option("#share-invite-role", "commenter")
                await owner.click("#share-invite-make")
                link = await (await owner.wait_for_selector("#share-invite-url")).input_value()
                assert link.startswith(f"{base}/d/notes?join=")
                await owner.wait_for_selector("#share-invite-list li")

                # A newcomer opens it: signs up first, lands in the document, read-only.
                grace = await new_page(browser)
                await sign_up(grace, link, "grace", "Grace")
                await editor_ready(grace)
                await wait_text(grace, "Shared notes.")
                await grace.wait_for_selector("#role-badge:not([hidden])")
                assert await read_only(grace)
                assert "join=" not in grace.url

                # Used once: a second account cannot use it.
                mallory = await new_page(browser)
                await sign_up(mallory, link, "mallory", "Mallory")
                await mallory.wait_for_selector("#notice:has-text('cannot be used')")

                # Link sharing: "anyone with the link can edit"; mallory (no member) uses it.
                await owner.select_option("#share-link-role", "editor")
                share = await (await owner.wait_for_selector("#share-link-url")).input_value()
                assert "?share=" in share
                await mallory.goto(share)
                await editor_ready(mallory)
                await wait_text(mallory, "Shared notes.")
                assert not await read_only(mallory)
                await mallory.click(".cm-content")
                await mallory.keyboard.press("End")
                await mallory.keyboard.type(" Via the link.")
                await acknowledged(mallory)
                await wait_text(owner, "Shared notes. Via the link.")

                # Someone without an account (the server lets no guests in) opens the link too.
                visitor = await new_page(browser)
                await visitor.goto(share)
                await visitor.wait_for_selector("#signin:has-text('with the link')")
                await visitor.fill("#signin-name", "Visitor <b>V</b>")
                await visitor.press("#signin-name", "Enter")
                await editor_ready(visitor)
                await wait_text(visitor, "Shared notes. Via the link.")
                await visitor.click(".cm-content")
                await visitor.keyboard.press("End")
                await visitor.keyboard.type(" Hi.")
                await acknowledged(visitor)
                await wait_text(owner, "Shared notes. Via the link. Hi.")

                # Link sharing off: the link's sockets are closed.
                await owner.select_option("#share-link-role", "")
                await owner.wait_for_selector("#share-link-url", state="detached")
                await mallory.wait_for_function("window.cowrite.info().state === 'error'", timeout=10_000)
                await visitor.wait_for_function("window.cowrite.info().state === 'error'", timeout=10_000)
                r = httpx.get(share.replace("/d/", "/api/docs/").replace("?share", "/text?share"), trust_env=False)
                assert r.status_code == 401  # no session here: the link alone, off, opens nothing
                assert open_server.text("notes") == "Shared notes. Via the link. Hi."
                assert not owner.errors and not grace.errors and not mallory.errors and not visitor.errors
            finally:
                await browser.close()

    run(scenario(), timeout=240)


def test_the_tokens_and_admin_pages(chromium_path: str, open_server: ServerProcess) -> None:
    from playwright.async_api import async_playwright

    from cowrite.accounts import Accounts
    from cowrite.store import SQLiteStore

    base = open_server.http
    store = SQLiteStore(open_server.db)
    try:  # what `cowrite user add boss --admin` does
        Accounts(store).sign_up("boss", PASSWORD, "The Admin", admin=True, mode="open")
    finally:
        store.close()

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                ada = await new_page(browser)
                await sign_up(ada, f"{base}/", "ada", OWNER_NAME)
                await ada.fill("#new-doc-id", "notes")
                await ada.press("#new-doc-id", "Enter")
                await editor_ready(ada)

                # A personal access token: shown once, works, is revoked from the page.
                await ada.goto(f"{base}/account")
                await ada.fill("#token-label", "my <b>script</b>")
                await ada.fill("#token-docs", "notes")
                await ada.select_option("#token-role", "viewer")
                await ada.click("#token-form button[type=submit]")
                secret = await (await ada.wait_for_selector("#token-secret")).input_value()
                assert secret.startswith("cwp_")
                await ada.wait_for_selector("#token-list li .token-label:has-text('my <b>script</b>')")
                assert await ada.locator("#token-list b").count() == 0
                auth = {"authorization": f"Bearer {secret}"}
                assert httpx.get(f"{base}/api/docs/notes/text", headers=auth, trust_env=False).status_code == 200
                await ada.click("#token-list li button.danger")
                await ada.wait_for_selector("#token-list li", state="detached")
                assert httpx.get(f"{base}/api/docs/notes/text", headers=auth, trust_env=False).status_code == 401
                assert await ada.locator("#admin-link").count() == 0

                # The admin page: accounts (names as text), disable, a temporary password, owners.
                admin = await new_page(browser)
                await admin.goto(f"{base}/")
                await admin.fill("#signin-username", "boss")
                await admin.fill("#signin-password", PASSWORD)
                await admin.click("#signin-form button[type=submit]")
                await admin.click("#admin-link")
                await admin.wait_for_url(f"{base}/admin")
                row = "#admin-users li[data-user=ada]"
                await admin.wait_for_selector(row)
                assert OWNER_NAME in (await admin.text_content(f"{row} .admin-user") or "")
                assert await admin.locator("#admin-users img").count() == 0
                assert "owner: ada" in (await admin.text_content("#admin-docs li[data-doc=notes]") or "")
                await admin.click(f"{row} button:has-text('Disable')")
                await admin.wait_for_selector(f"{row} button:has-text('Enable')")
                await admin.click(f"{row} button:has-text('Enable')")
                await admin.wait_for_selector(f"{row} button:has-text('Disable')")
                admin.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
                await admin.click(f"{row} button:has-text('Reset password')")
                temp = await (await admin.wait_for_selector("#admin-temp-password")).text_content()
                r = httpx.post(
                    f"{base}/api/auth/signin", json={"username": "ada", "password": temp}, headers={"origin": base}, trust_env=False
                )
                assert r.status_code == 200, r.text
                assert not ada.errors and not admin.errors and await ada.evaluate("window.pwned") is None
            finally:
                await browser.close()

    run(scenario(), timeout=240)


def test_on_an_invite_only_server_a_document_invite_signs_its_invitee_up(chromium_path: str, tmp_path: Path) -> None:
    """`--signup invite` (the default off loopback): nobody signs up without an invite, but
    the invite link an owner makes in the Share dialog is one -- no command line needed."""
    from playwright.async_api import async_playwright

    from cowrite.accounts import Accounts
    from cowrite.store import SQLiteStore

    srv = ServerProcess(tmp_path / "invite-only.db", args=("--signup", "invite", "--guests", "none"))
    with SQLiteStore(srv.db) as store:  # the first administrator, as `cowrite user add ada --admin` makes her
        Accounts(store).sign_up("ada", PASSWORD, "Ada", admin=True, mode="open")
    srv.start()
    base = srv.http

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                owner = await new_page(browser)
                await owner.goto(f"{base}/")
                await owner.wait_for_selector("#signin-form:not([hidden])")
                await owner.fill("#signin-username", "ada")
                await owner.fill("#signin-password", PASSWORD)
                await owner.click("#signin-form button[type=submit]")
                await owner.wait_for_selector("#whoami[data-state=account]")
                await owner.fill("#new-doc-id", "plans")
                await owner.press("#new-doc-id", "Enter")
                await editor_ready(owner)
                await owner.click(".cm-content")
                await owner.keyboard.type("Our plans.")
                await acknowledged(owner)
                await owner.click("#share")
                await owner.wait_for_selector("#share-dialog[open] #share-invite-make")
                await owner.select_option("#share-invite-role", "editor")
                await owner.click("#share-invite-make")
                link = await (await owner.wait_for_selector("#share-invite-url")).input_value()

                # The newcomer signs up with the link alone (its code fills the invite field).
                bea = await new_page(browser)
                await bea.goto(link)
                await bea.wait_for_selector("#signup-form:not([hidden])")
                await bea.fill("#signup-username", "bea")
                await bea.fill("#signup-name", "Bea")
                await bea.fill("#signup-password", PASSWORD)
                await bea.click("#signup-form button[type=submit]")
                await bea.wait_for_selector("#whoami[data-state=account]")
                await editor_ready(bea)
                await wait_text(bea, "Our plans.")
                assert not await read_only(bea)
                await bea.click(".cm-content")
                await bea.keyboard.press("Control+End")
                await bea.keyboard.type(" Agreed.")
                await acknowledged(bea)
                await wait_text(owner, "Our plans. Agreed.")
                assert not owner.errors and not bea.errors, (owner.errors, bea.errors)
            finally:
                await browser.close()

    try:
        run(scenario(), timeout=120)
        assert srv.text("plans") == "Our plans. Agreed."
    finally:
        srv.kill()
