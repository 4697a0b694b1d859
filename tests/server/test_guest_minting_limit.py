"""``POST /api/session`` hands each call a new guest identity, and each identity may hold
``Limits.max_sockets_per_user`` sockets: without a bound on minting, one address holds
as many sockets as it likes.  Each client address gets ``guest_sessions_per_minute``
identities at once, then one every 60 / that many seconds (``429 throttled`` with
``Retry-After`` meanwhile); other addresses are not affected, a forwarded-for header
from a peer that is no trusted proxy is not believed, and share-link guests count too.
The clock is injected: no test waits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from conftest import Harness
from cowrite.server import Limits
from cowrite.server.api import GuestMinting
from test_doc_access import User


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _guests(make_harness: Callable[..., Harness], **kw: object) -> tuple[Harness, Clock]:
    h = make_harness(**kw)
    clock = Clock()
    h.server.api.guest_minting.clock = clock
    return h, clock


def _mint(http: TestClient, **headers: str) -> tuple[int, str | None]:
    r = http.post("/api/session", json={"name": "Ada"}, headers=headers)
    if r.status_code == 200:
        assert r.json()["user"].startswith("guest-")
    else:
        assert r.status_code == 429 and r.json()["error"] == "throttled" and "token" not in r.json(), r.text
    return r.status_code, r.headers.get("retry-after")


def test_an_address_gets_its_burst_then_one_identity_per_interval(make_harness: Callable[..., Harness]) -> None:
    h, clock = _guests(make_harness, guests="editor")  # the default: 30 a minute
    assert h.server.limits.guest_sessions_per_minute == 30
    users = set()
    for _ in range(30):
        r = h.http.post("/api/session", json={"name": "Ada"})
        assert r.status_code == 200, r.text
        users.add(r.json()["user"])
    assert len(users) == 30
    assert _mint(h.http) == (429, "2")  # one every two seconds from now
    clock.now += 1.0
    assert _mint(h.http) == (429, "1")
    clock.now += 1.0
    assert _mint(h.http)[0] == 200
    assert _mint(h.http) == (429, "2")  # refusals took nothing, and so bought no time either
    # a minute of quiet fills the bucket again, and no more than full
    clock.now += 600.0
    assert [_mint(h.http)[0] for _ in range(31)] == [200] * 30 + [429]


def test_the_limit_is_a_limits_field(make_harness: Callable[..., Harness]) -> None:
    h, clock = _guests(make_harness, guests="editor", limits=Limits(guest_sessions_per_minute=2))
    assert [_mint(h.http)[0] for _ in range(3)] == [200, 200, 429]
    clock.now += 30.0
    assert [_mint(h.http)[0] for _ in range(2)] == [200, 429]


def test_other_addresses_are_not_affected_and_a_forwarded_header_is_not_believed(make_harness: Callable[..., Harness]) -> None:
    h, clock = _guests(make_harness, guests="editor", limits=Limits(guest_sessions_per_minute=3))
    assert [_mint(h.http)[0] for _ in range(4)] == [200, 200, 200, 429]
    # the same peer claiming to forward for another address: no trusted proxy, not believed
    assert _mint(h.http, **{"x-forwarded-for": "203.0.113.9"})[0] == 429
    other = TestClient(h.server.app, client=("198.51.100.7", 40000))
    assert [_mint(other)[0] for _ in range(4)] == [200, 200, 200, 429]
    third = TestClient(h.server.app, client=("2001:db8::1", 40000))
    assert _mint(third)[0] == 200
    assert _mint(h.http)[0] == 429  # and theirs gave the first address nothing back


def test_share_link_guests_are_counted_too(make_harness: Callable[..., Harness]) -> None:
    h, clock = _guests(make_harness, limits=Limits(guest_sessions_per_minute=2))  # guests: none
    olive = User(h, "olive")
    olive.create("notes")
    key = olive.req("PUT", "/api/docs/notes/link", {"role": "viewer"}).json()["key"]
    h.http.cookies.clear()
    body = {"name": "Visitor", "doc": "notes", "share": key}
    codes = [h.http.post("/api/session", json=body).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = h.http.post("/api/session", json=body)
    assert r.status_code == 429 and r.headers["retry-after"] == "30"
    clock.now += 30.0
    assert h.http.post("/api/session", json=body).status_code == 200


def test_addresses_are_forgotten_once_their_buckets_are_full_again() -> None:
    """The table of buckets holds only the addresses seen in about the last minute."""
    clock = Clock()
    minting = GuestMinting(6, clock=clock)
    for i in range(1000):
        assert minting.take(f"10.0.{i // 256}.{i % 256}") == 0.0
    assert len(minting._buckets) == 1000
    clock.now += 59.0
    assert minting.take("192.0.2.1") == 0.0
    assert len(minting._buckets) == 1001
    clock.now += 1.0
    assert minting.take("192.0.2.1") == 0.0
    assert len(minting._buckets) == 1  # only the address seen since
    for _ in range(4):
        assert minting.take("192.0.2.1") == 0.0
    # six at once, then one every ten seconds: a tenth of one came back in the second waited
    assert minting.take("192.0.2.1") == pytest.approx(9.0)
