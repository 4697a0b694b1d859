"""The same promise on a real ``cowrite serve`` process and a real WebSocket client: a
socket signed in by cookie is closed within seconds when its session ends, whether the
server ended it (sign out everywhere) or another process did (an admin disabling the
account on the same database, found by the periodic re-check)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cowrite.accounts import Accounts, Sharing
from cowrite.engine import Document
from cowrite.protocol import Error, ErrorCode, Welcome, decode_frame
from cowrite.protocol.client import ClientSession
from cowrite.store import SQLiteStore
from integration.harness import ServerProcess, run

PASSWORD = "correct horse battery"


def sign_up(srv: ServerProcess, username: str) -> tuple[str, str]:
    """A new account on the server, signed in: (session id, CSRF token)."""
    r = httpx.post(
        f"{srv.http}/api/auth/signup",
        json={"username": username, "password": PASSWORD},
        headers={"origin": srv.http},
        timeout=30,
        trust_env=False,
    )
    assert r.status_code == 201, r.text
    store = SQLiteStore(srv.db)  # the account owns `notes` (made by an owner token, so ownerless)
    try:
        Sharing(store, Accounts(store)).create_owner("notes", username)
    finally:
        store.close()
    return r.cookies["cowrite_session"], r.json()["csrf_token"]


async def joined_then_revoked(srv: ServerProcess, sid: str, revoke: object, within: float) -> Error:
    """Join ``notes`` by cookie, run ``revoke()``, and return the ERROR the socket gets
    before it closes (TimeoutError if it is not closed ``within`` seconds)."""
    headers = {"Cookie": f"cowrite_session={sid}", "Origin": srv.http}
    async with connect(f"{srv.url}/ws/notes", additional_headers=headers) as ws:
        s = ClientSession(Document("ada-1"), "notes", user="ada-1")
        for f in s.data_to_send():
            await ws.send(f)
        assert isinstance(decode_frame(await ws.recv()), Welcome)
        await asyncio.to_thread(revoke)  # type: ignore[arg-type]
        error: Error | None = None
        async with asyncio.timeout(within):
            try:
                while True:
                    msg = decode_frame(await ws.recv())
                    if isinstance(msg, Error):
                        error = msg
            except ConnectionClosed:
                pass
        assert error is not None, "closed without an ERROR"
        return error


def test_sign_out_everywhere_closes_a_real_socket(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "live.db")
    srv.start()
    try:
        srv.create_doc("notes")
        sid, csrf = sign_up(srv, "ada")

        def sign_out_everywhere() -> None:
            r = httpx.post(
                f"{srv.http}/api/auth/signout-all",
                headers={"x-csrf-token": csrf, "origin": srv.http},
                cookies={"cowrite_session": sid},
                timeout=10,
                trust_env=False,
            )
            assert r.status_code == 204, r.text

        err = run(joined_then_revoked(srv, sid, sign_out_everywhere, within=5.0))
        assert err.code == ErrorCode.UNAUTHORIZED and err.fatal
    finally:
        srv.kill()


def test_an_account_disabled_by_another_process_loses_its_socket(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "live.db", args=("--limit", "session_check_seconds=1"))
    srv.start()
    try:
        srv.create_doc("notes")
        sid, _ = sign_up(srv, "ada")

        def disable_elsewhere() -> None:  # what `cowrite user disable ada` does
            store = SQLiteStore(srv.db)
            try:
                Accounts(store).disable("ada")
            finally:
                store.close()

        err = run(joined_then_revoked(srv, sid, disable_elsewhere, within=5.0))
        assert err.code == ErrorCode.UNAUTHORIZED and err.fatal
    finally:
        srv.kill()
