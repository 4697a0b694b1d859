"""The sign-in throttle attacked: spellings of one account, headers, parallel guesses.

An attacker guessing one account's password tries to get more than its free failures:
by spelling the name another way (case, surrounding whitespace, look-alike Unicode), by
naming another address in ``X-Forwarded-For`` (the in-process server has no proxy: the
header must mean nothing), and by sending the guesses all at once, so that each is
checked before any failure is counted.  And while the store holding the counts is
down, no guess goes through uncounted (503).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import Harness
from cowrite.accounts import Throttle
from cowrite.errors import StoreError

ORIGIN = {"origin": "http://testserver"}
PASSWORD = "correct horse battery"


def signin(h: Harness, username: str, password: str, **headers: str) -> httpx.Response:
    return h.http.post("/api/auth/signin", json={"username": username, "password": password}, headers={**ORIGIN, **headers})


def throttled_harness(make_harness: Callable[..., Harness], **kw: float) -> Harness:
    h = make_harness(throttle=Throttle(**{"account_failures": 3, "address_failures": 1000, "base_delay": 60, **kw}))  # type: ignore[arg-type]
    h.accounts.sign_up("ada", PASSWORD, mode="open")
    return h


@pytest.mark.parametrize("spelling", ["ADA", "Ada", "aDa"])
def test_another_case_of_the_name_counts_against_the_same_account(make_harness: Callable[..., Harness], spelling: str) -> None:
    h = throttled_harness(make_harness)
    codes = [signin(h, name, f"guess {i}").status_code for i, name in enumerate(["ada", spelling, "ada", spelling, "ada"])]
    assert codes[:3] == [401, 401, 401] and 429 in codes[3:], codes
    assert signin(h, spelling, PASSWORD).status_code == 429  # the right password waits under any spelling


@pytest.mark.parametrize("spelling", [" ada", "ada ", "ada\t", "\uff41da", "\u0430da", "ada\u200b", "ada\u0000"])
def test_other_spellings_never_reach_the_account(make_harness: Callable[..., Harness], spelling: str) -> None:
    """Whitespace, full-width and Cyrillic look-alikes, invisible characters: not the
    account's name, so the right password fails too (no free guesses on a second key)."""
    h = throttled_harness(make_harness)
    for _ in range(3):
        assert signin(h, "ada", "wrong guess").status_code == 401
    r = signin(h, spelling, PASSWORD)
    assert r.status_code in (401, 429) and "set-cookie" not in r.headers, r.text


def test_a_forwarded_for_header_is_not_the_clients_address(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(throttle=Throttle(account_failures=1000, address_failures=3, base_delay=60))
    codes = [
        signin(h, f"victim{i}", "guess", **{"x-forwarded-for": f"198.51.100.{i}", "x-real-ip": f"198.51.100.{i}"}).status_code
        for i in range(6)
    ]
    assert codes[:3] == [401, 401, 401] and codes[-1] == 429, codes


def test_guesses_sent_all_at_once_get_no_more_than_the_free_ones_and_the_slots(make_harness: Callable[..., Harness]) -> None:
    h = throttled_harness(make_harness)
    slots = h.server.auth_api.hashing.slots
    with ThreadPoolExecutor(24) as pool:
        codes = list(pool.map(lambda i: signin(h, "ada", f"guess {i}").status_code, range(24)))
    tried = codes.count(401)
    assert set(codes) <= {401, 429}, codes
    # each guess is checked just before its hash, at most ``slots`` at a time: a burst
    # gets the free failures and at most the guesses already hashing when the last counted
    assert 3 <= tried <= 3 + slots, codes


class _DownCounts:
    def records(self, scope: str, keys: list[str]) -> dict[str, object]:
        raise StoreError("the store is down")

    def update(self, scope: str, key: str, change: object) -> None:
        raise StoreError("the store is down")

    def forget(self, before: float) -> None:
        raise StoreError("the store is down")


def test_while_the_counts_cannot_be_read_sign_in_is_503_even_with_the_right_password(make_harness: Callable[..., Harness]) -> None:
    throttle = Throttle()
    h = make_harness(throttle=throttle)
    h.accounts.sign_up("ada", PASSWORD, mode="open")
    throttle._counts = _DownCounts()  # type: ignore[assignment]
    for password in ("wrong guess", PASSWORD):
        r = signin(h, "ada", password)
        assert r.status_code == 503 and r.headers.get("retry-after"), r.text
        assert "set-cookie" not in r.headers
