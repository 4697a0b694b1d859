"""Per-document access on a real ``cowrite serve`` with the real Python client: a member
whose role is lowered reconnects by itself and gets the new role; a removed member's
client stops (``forbidden``) with its text and unsent edits kept; the owner loses nothing.

The member connects with a personal access token (what an integration uses), so the
token's cap and the user's own role both count.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from cowrite.errors import ErrorCode, FatalError
from cowrite.protocol import Role
from integration.harness import ServerProcess, client, run, wait_until

PASSWORD = "correct horse battery"


class Account:
    """An account signed up on the server over HTTP, with its cookie and CSRF token."""

    def __init__(self, srv: ServerProcess, username: str) -> None:
        self.srv = srv
        self.http = httpx.Client(base_url=srv.http, trust_env=False, timeout=30, headers={"origin": srv.http})
        r = self.http.post("/api/auth/signup", json={"username": username, "password": PASSWORD})
        assert r.status_code == 201, r.text
        self.http.headers["x-csrf-token"] = r.json()["csrf_token"]

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self.http.request(method, path, json=body)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return None if r.status_code == 204 else r.json()


def test_a_lowered_member_reconnects_as_viewer_and_a_removed_one_stops(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "sharing.db", args=("--signup", "open"))
    srv.start()
    ada = bob = None
    try:
        ada, bob = Account(srv, "ada"), Account(srv, "bob")
        ada.call("POST", "/api/docs", {"id": "notes"}, 201)
        ada.call("POST", "/api/docs/notes/edit", {"pos": 0, "insert": "Ada's text."})
        ada.call("POST", "/api/docs/notes/members", {"user": "bob", "role": "editor"}, 201)
        secret = bob.call("POST", "/api/tokens", {"label": "bot", "docs": ["notes"], "role": "editor"}, 201)["secret"]

        async def scenario() -> None:
            c = client(srv, "notes", "bob", tok=secret)
            async with c:
                await wait_until(lambda: c.role is Role.EDITOR and c.text == "Ada's text.", what="bob joined")
                c.insert(len(c.text), " Bob's.")
                await c.synced()
                assert await srv.atext("notes") == "Ada's text. Bob's."

                # Lowered to viewer: the client reconnects by itself and is read-only.
                await asyncio.to_thread(ada.call, "PATCH", "/api/docs/notes/members/bob", {"role": "viewer"})
                await wait_until(lambda: c.role is Role.VIEWER and c.state == "connected", what="bob a viewer")
                assert c.text == "Ada's text. Bob's."

                # Back to editor, then removed: the client stops, keeping what it has.
                await asyncio.to_thread(ada.call, "PATCH", "/api/docs/notes/members/bob", {"role": "editor"})
                await wait_until(lambda: c.role is Role.EDITOR and c.state == "connected", what="bob an editor again")
                await asyncio.to_thread(ada.call, "DELETE", "/api/docs/notes/members/bob", None, 204)
                await wait_until(lambda: c.error is not None, what="bob's client stopped")
                assert isinstance(c.error, FatalError) and c.error.code is ErrorCode.FORBIDDEN
                assert c.text == "Ada's text. Bob's."
            assert await srv.atext("notes") == "Ada's text. Bob's."

        run(scenario(), timeout=60)
        # The token is capped by bob's own role: none now.
        r = httpx.get(f"{srv.http}/api/docs/notes/text", headers={"authorization": f"Bearer {secret}"}, trust_env=False)
        assert r.status_code == 403
    finally:
        for a in (ada, bob):
            if a is not None:
                a.http.close()
        srv.kill()
