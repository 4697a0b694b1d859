"""The documents page names the documents shared with an account by their titles (what
``GET /api/shared`` now carries), in real Chromium against a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from integration.harness import ServerProcess, run

from .conftest import CHROMIUM_ARGS
from .test_sharing import PASSWORD, new_page, sign_up


def _account(srv: ServerProcess, username: str) -> dict[str, str]:
    """Sign ``username`` up over HTTP: the headers of its session (cookie, CSRF, origin)."""
    r = httpx.post(
        f"{srv.http}/api/auth/signup",
        json={"username": username, "password": PASSWORD},
        headers={"origin": srv.http},
        timeout=30,
        trust_env=False,
    )
    assert r.status_code == 201, r.text
    return {"cookie": f"cowrite_session={r.cookies['cowrite_session']}", "origin": srv.http, "x-csrf-token": r.json()["csrf_token"]}


def test_shared_with_me_shows_titles(chromium_path: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    srv = ServerProcess(tmp_path / "titles.db", args=("--signup", "open", "--guests", "none"))
    srv.start()

    async def scenario() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                await play(browser)
            finally:
                await browser.close()

    async def play(browser: Any) -> None:
        bob = await new_page(browser)
        await sign_up(bob, f"{srv.http}/", "bob", "Bob")
        ada = _account(srv, "ada")

        def call(method: str, path: str, body: Any) -> None:
            r = httpx.request(method, f"{srv.http}{path}", json=body, headers=ada, timeout=30, trust_env=False)
            assert r.status_code in (200, 201), r.text

        for doc in ("plan-q3", "untitled-doc"):
            call("POST", "/api/docs", {"id": doc})
            call("POST", f"/api/docs/{doc}/members", {"user": "bob", "role": "commenter"})
        call("PUT", "/api/docs/plan-q3/title", {"title": "Plan for <b>Q3</b>"})

        await bob.goto(f"{srv.http}/")
        titled = bob.locator('#shared-list li[data-doc="plan-q3"]')
        await titled.wait_for(timeout=20_000)
        assert await titled.locator(".doc-open").text_content() == "Plan for <b>Q3</b>"  # text, not markup
        assert await bob.locator("#shared-list b").count() == 0
        meta = await titled.locator(".muted").first.text_content() or ""
        assert "plan-q3" in meta and "can comment" in meta, meta
        plain = bob.locator('#shared-list li[data-doc="untitled-doc"] .doc-open')
        assert await plain.text_content() == "untitled-doc"  # no title: the id
        assert not bob.errors, bob.errors

    try:
        run(scenario(), timeout=120)
    finally:
        srv.kill()
