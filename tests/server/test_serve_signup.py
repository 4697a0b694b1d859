"""``cowrite serve``'s sign-up and cookie flags, on a real process: the defaults by host
(open on loopback, invite elsewhere), ``--signup``, ``--secure-cookies``, and the
first-start hint on a database with no accounts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from integration.harness import ServerProcess

PASSWORD = "correct horse battery"


def config(srv: ServerProcess) -> dict[str, object]:
    r = httpx.get(f"{srv.http}/api/auth/config", timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize(
    ("host", "args", "signup", "guests"),
    [
        ("127.0.0.1", (), "open", True),
        ("0.0.0.0", (), "invite", False),
        ("0.0.0.0", ("--signup", "closed"), "closed", False),
        ("127.0.0.1", ("--signup", "invite", "--guests", "editor"), "invite", True),
    ],
)
def test_signup_mode_by_host_and_flag(tmp_path: Path, host: str, args: tuple[str, ...], signup: str, guests: bool) -> None:
    srv = ServerProcess(tmp_path / "s.db", host=host, args=args)
    srv.start()
    try:
        got = config(srv)
        assert got["signup"] == signup and got["guests"] is guests and got["signed_in"] is False
        log = srv.log_text()
        assert f"sign-up: {signup}" in log
        assert "no accounts yet" in log and "cowrite user add" in log
    finally:
        srv.kill()


def test_secure_cookies_flag_marks_the_cookie_secure(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "s.db", args=("--secure-cookies",))
    srv.start()
    try:
        body = {"username": "ada", "password": PASSWORD}
        r = httpx.post(f"{srv.http}/api/auth/signup", json=body, headers={"origin": srv.http}, timeout=30, trust_env=False)
        assert r.status_code == 201, r.text
        cookie = r.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    finally:
        srv.kill()
