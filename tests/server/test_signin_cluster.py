"""Sign-in throttling across a cluster: two servers on one PostgreSQL count one attacker once.

An attacker behind a load balancer reaches every server; with per-process counts he
would get N servers' worth of guesses.  Here two in-process servers (Starlette's
TestClient, the real accounts service) share one PostgreSQL schema, and the guesses
alternate between them, as a balancer would spread them.  Every refusal is checked
to cost no password hash, and a store that cannot be reached refuses sign-in (503)
rather than letting guesses through uncounted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Harness
from cowrite.accounts import Passwords
from cowrite.store.postgres import PostgresStore
from tests.integration.blackhole import BlackholeRelay

ORIGIN = {"origin": "http://testserver"}
PASSWORD = "correct horse battery"


class Clock:
    """Unix seconds that move only when the test says so (both servers read it)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Hashes:
    """Counts the accounts service's password work (verify, burn, hash) while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        for name in ("verify", "burn", "hash"):
            real = getattr(Passwords, name)

            def spy(self_: Passwords, *args: Any, _real: Any = real, **kw: Any) -> Any:
                self.n += 1
                return _real(self_, *args, **kw)

            monkeypatch.setattr(Passwords, name, spy)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def servers(pg_url: str, tmp_path: Path, clock: Clock) -> Iterator[list[Harness]]:
    """Two servers, each with its own pool on the same PostgreSQL schema."""
    made: list[Harness] = []
    try:
        for i in range(2):
            where = tmp_path / f"s{i}"
            where.mkdir()
            h = Harness(where, store=PostgresStore(pg_url), clock=clock)
            h.http.__enter__()
            made.append(h)
        made[0].accounts.sign_up("ada", PASSWORD, mode="open")
        yield made
    finally:
        for h in made:
            h.http.__exit__(None, None, None)
            h.close()


def signin(h: Harness, username: str = "ada", password: str = PASSWORD) -> httpx.Response:
    return h.http.post("/api/auth/signin", json={"username": username, "password": password}, headers=ORIGIN)


def test_wrong_passwords_spread_over_two_servers_are_throttled_as_one(
    servers: list[Harness], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = Hashes(monkeypatch)
    codes = [signin(servers[i % 2], "ada", f"guess {i}").status_code for i in range(5)]
    assert codes == [401] * 5 and hashes.n == 5  # the free failures, counted on both servers together
    for h in servers:  # the 6th guess waits, whichever server it reaches
        r = signin(h, "ada", "guess 6")
        assert r.status_code == 429 and r.json()["error"] == "throttled", r.text
        assert int(r.headers["retry-after"]) >= 1
    # the right password while throttled: refused, without hashing it
    r = signin(servers[1])
    assert r.status_code == 429 and "set-cookie" not in r.headers
    assert hashes.n == 5
    # the wait runs out: the right password works on the other server and clears the count
    clock.now += 1.5
    r = signin(servers[0])
    assert r.status_code == 200, r.text
    assert signin(servers[1], "ada", "one more wrong").status_code == 401  # counting starts afresh


def test_the_backoff_doubles_on_the_shared_count(servers: list[Harness], clock: Clock) -> None:
    waits = []
    for i in range(8):
        h = servers[i % 2]
        r = signin(h, "ada", f"guess {i}")
        while r.status_code == 429:  # wait exactly as long as told, then guess again elsewhere
            clock.now += float(r.headers["retry-after"])
            r = signin(h, "ada", f"guess {i}")
        assert r.status_code == 401
        waits.append(servers[(i + 1) % 2].accounts.throttle.retry_after("ada", "testclient"))
    assert waits[:4] == [0, 0, 0, 0]
    assert waits[4:] == pytest.approx([1, 2, 4, 8], rel=0.05)  # (less the decay of the waits)


def test_an_address_spraying_accounts_over_two_servers_is_throttled_as_one(
    servers: list[Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 failures from one address (a few per account, on both servers) slow that address
    down everywhere, for accounts it has not tried yet too."""
    for i in range(20):
        assert signin(servers[i % 2], f"victim{i % 7}", "guess").status_code == 401
    hashes = Hashes(monkeypatch)
    for h in servers:
        r = signin(h, "fresh-account", "guess")
        assert r.status_code == 429 and r.json()["error"] == "throttled"
        assert signin(h).status_code == 429  # even ada's right password, from this address
    assert hashes.n == 0


def test_sign_up_floods_are_counted_across_servers(servers: list[Harness], clock: Clock) -> None:
    for h in servers:
        h.server.auth_api.signup = "open"
    made = 0
    for i in range(30):
        r = servers[i % 2].http.post(
            "/api/auth/signup", json={"username": f"flood{i}", "password": PASSWORD}, headers=ORIGIN
        )
        if r.status_code == 429:
            break
        assert r.status_code == 201, r.text
        made += 1
    assert made == 10, made  # SIGNUPS_FREE for the two servers together, not each


def test_a_store_that_cannot_be_reached_refuses_sign_in_rather_than_allowing_it(
    pg_url: str, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = BlackholeRelay(5432)
    relay.start()
    h: Harness | None = None
    relay_open = True
    try:
        url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
        assert url != pg_url
        h = Harness(tmp_path, store=PostgresStore(url, timeout=1.0, min_size=0), clock=clock)
        h.http.__enter__()
        h.accounts.sign_up("ada", PASSWORD, mode="open")
        assert signin(h).status_code == 200
        relay.close()  # the database is gone: connections cut, new ones refused
        relay_open = False
        hashes = Hashes(monkeypatch)
        for password in ("a wrong guess", PASSWORD):
            r = signin(h, "ada", password)
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "unavailable" and "failed attempts" in r.json()["message"]
            assert int(r.headers["retry-after"]) >= 1 and "set-cookie" not in r.headers
        assert hashes.n == 0  # refused before any password work
    finally:
        if relay_open:
            relay.close()
        if h is not None:
            h.http.__exit__(None, None, None)
            h.close()


def test_a_throttle_failure_after_the_check_is_a_refusal_too(
    servers: list[Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count is read, the password is wrong, and then the failure cannot be recorded:
    the answer is 503, never a 401 that would let the guess go uncounted silently."""
    from cowrite.errors import StoreUnavailable

    store = servers[0].store

    def down(*args: object, **kw: object) -> None:
        raise StoreUnavailable("the database went away")

    monkeypatch.setattr(store, "update_throttle", down)
    r = signin(servers[0], "ada", "a wrong guess")
    assert r.status_code == 503 and r.json()["error"] == "unavailable"
