"""``cowrite serve --guests``: who may get a guest session, and what the server says at startup."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .harness import ServerProcess


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*args: str, host: str = "127.0.0.1") -> ServerProcess:
        srv = ServerProcess(tmp_path / f"s{len(started)}.db", host=host, args=args)
        started.append(srv)
        srv.start()
        return srv

    yield start
    for srv in started:
        srv.kill()


def _guest(srv: ServerProcess, name: str = "Ada") -> httpx.Response:
    return httpx.post(f"{srv.http}/api/session", json={"name": name}, timeout=10, trust_env=False)


def test_loopback_default_is_owner_guests(serve: Callable[..., ServerProcess]) -> None:
    srv = serve()
    r = _guest(srv)
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "owner" and r.json()["name"] == "Ada"
    log = srv.log_text()
    assert "guests: anyone who opens the page and types a name gets role owner (the default on a loopback address)" in log
    assert f"cowrite: open http://127.0.0.1:{srv.port}/ in a browser" in log
    # The guest's token works on the API and the page is there to open.
    tok = r.json()["token"]
    created = httpx.post(f"{srv.http}/api/docs", json={"id": "by-guest"}, headers={"Authorization": f"Bearer {tok}"}, timeout=10, trust_env=False)
    assert created.status_code == 201
    page = httpx.get(f"{srv.http}/d/by-guest", timeout=10, trust_env=False)
    assert page.status_code == 200 and "content-security-policy" in page.headers
    # A page of another site whose name was re-bound to 127.0.0.1 gets no token.
    rebound = httpx.post(
        f"{srv.http}/api/session", json={"name": "Eve"}, headers={"Host": f"evil.example:{srv.port}"}, timeout=10, trust_env=False
    )
    assert rebound.status_code == 403
    local = httpx.post(
        f"{srv.http}/api/session", json={"name": "Ada"}, headers={"Host": f"localhost:{srv.port}"}, timeout=10, trust_env=False
    )
    assert local.status_code == 200


def test_explicit_guest_roles(serve: Callable[..., ServerProcess]) -> None:
    srv = serve("--guests", "viewer")
    r = _guest(srv)
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    assert "gets role viewer (--guests)" in srv.log_text()


def test_no_guests(serve: Callable[..., ServerProcess]) -> None:
    srv = serve("--guests", "none")
    r = _guest(srv)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    log = srv.log_text()
    assert "guests: none" in log
    assert f"cowrite: open http://127.0.0.1:{srv.port}/?token=" in log  # a link that signs in


def test_non_loopback_host_defaults_to_no_guests(serve: Callable[..., ServerProcess]) -> None:
    srv = serve(host="0.0.0.0")
    assert _guest(srv).status_code == 403
    assert "guests: none" in srv.log_text()
