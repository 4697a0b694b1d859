"""A real ``cowrite serve`` takes the client's address from the connection, not from
headers the client writes: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` sent straight
to it (no proxy is configured) change nothing.

An attacker who could name a fresh address in each request would never meet the
per-address sign-in backoff (spraying many accounts from one machine), and one who
could claim ``https`` would get cookies marked for a scheme the connection is not.
The server is reached at 127.0.0.1, which is where a default-trusting proxy setup
would believe such headers.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from .harness import ServerProcess


def _signin(base: str, username: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/auth/signin",
        json={"username": username, "password": "not the password"},
        headers={"origin": base, **headers},
        timeout=30,
        trust_env=False,
    )


def test_a_spoofed_forwarded_for_does_not_escape_the_address_backoff(server: ServerProcess) -> None:
    """Every guess names another account and another forwarded address; after the
    address's free failures (20) the connection's address waits all the same."""
    codes = []
    for i in range(26):
        r = _signin(server.http, f"victim{i}", **{"x-forwarded-for": f"203.0.113.{i + 1}"})
        codes.append(r.status_code)
        if r.status_code == 429:
            break
    assert 429 in codes, codes
    assert set(codes[:20]) == {401}, codes


def test_a_spoofed_forwarded_proto_does_not_make_the_request_https(server: ServerProcess) -> None:
    r = _signin(server.http, "ada", **{"x-forwarded-proto": "https"})
    assert r.status_code == 401
    r = httpx.post(
        f"{server.http}/api/auth/signup",
        json={"username": "ada", "password": "correct horse battery"},
        headers={"origin": server.http, "x-forwarded-proto": "https"},
        timeout=30,
        trust_env=False,
    )
    assert r.status_code == 201, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "secure" not in cookie.split(";")[1:] and "; secure" not in cookie, cookie


def test_a_trusted_proxy_forwards_the_clients_addresses(tmp_path: Path) -> None:
    """Behind a load balancer named with ``--trusted-proxy``, each client's address is its
    own (the backoff of one does not fall on the others); a server that trusts another
    address still ignores what this connection claims."""
    trusting = ServerProcess(tmp_path / "trusting.db", args=("--trusted-proxy", "127.0.0.1"))
    trusting.start()
    try:
        codes = [_signin(trusting.http, f"victim{i}", **{"x-forwarded-for": f"203.0.113.{i + 1}"}).status_code for i in range(26)]
        assert set(codes) == {401}, codes  # 26 addresses, one failure each: none waits
    finally:
        trusting.kill()
    elsewhere = ServerProcess(tmp_path / "elsewhere.db", args=("--trusted-proxy", "10.9.9.9"))
    elsewhere.start()
    try:
        codes = []
        for i in range(26):
            codes.append(_signin(elsewhere.http, f"victim{i}", **{"x-forwarded-for": f"203.0.113.{i + 1}"}).status_code)
            if codes[-1] == 429:
                break
        assert 429 in codes, codes
    finally:
        elsewhere.kill()
