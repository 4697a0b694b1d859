"""Sign-in backoff per account and per address (cowrite.accounts.throttle)."""

from __future__ import annotations

import pytest
from accounts_helpers import Clock

from cowrite.accounts import Throttle
from cowrite.accounts.throttle import address_key
from cowrite.errors import ConfigError


def fail(t: Throttle, clock: Clock, account: str, address: str, times: int) -> None:
    """Fail ``times`` times, each as soon as the throttle lets the attempt through."""
    for _ in range(times):
        clock.advance(t.retry_after(account, address))
        t.failed(account, address)


def test_a_few_failures_are_free_then_the_wait_doubles(clock: Clock) -> None:
    t = Throttle(clock=clock, half_life=1e9)
    for _ in range(4):
        t.failed("ada", "10.0.0.1")
        assert t.retry_after("ada", "10.0.0.1") == 0
    waits = []
    for _ in range(6):
        t.failed("ada", "10.0.0.1")
        waits.append(t.retry_after("ada", "10.0.0.1"))
        clock.advance(waits[-1])
    assert waits == pytest.approx([1, 2, 4, 8, 16, 32])
    # the account is throttled from any address; the address only for this account (so far)
    clock.advance(-10)
    assert t.retry_after("ada", "192.0.2.9") == pytest.approx(10)
    assert t.retry_after("bob", "10.0.0.1") == 0


def test_the_wait_is_capped_never_a_lockout(clock: Clock) -> None:
    t = Throttle(clock=clock, max_delay=900, half_life=1e9)
    fail(t, clock, "ada", "10.0.0.1", 40)
    assert t.retry_after("ada", "10.0.0.1") == pytest.approx(900)
    clock.advance(900)
    assert t.retry_after("ada", "10.0.0.1") == 0  # the victim can always try again
    clock.advance(-1e6)  # a clock set back does not make the wait longer than the cap
    assert t.retry_after("ada", "10.0.0.1") == 900


def test_per_address_across_accounts(clock: Clock) -> None:
    """One address spraying many accounts (a few guesses each) is slowed down as a whole."""
    t = Throttle(clock=clock, account_failures=5, address_failures=20, half_life=1e9)
    for i in range(19):
        t.failed(f"user{i}", "203.0.113.7")
    assert t.retry_after("fresh", "203.0.113.7") == 0
    t.failed("user19", "203.0.113.7")
    assert t.retry_after("fresh", "203.0.113.7") == pytest.approx(1)
    assert t.retry_after("fresh", "203.0.113.8") == 0  # another address is not affected
    assert t.retry_after("user0", "198.51.100.1") == 0  # nor the accounts, from elsewhere


def test_success_resets_the_account_but_not_the_address(clock: Clock) -> None:
    t = Throttle(clock=clock, account_failures=5, address_failures=8, half_life=1e9)
    fail(t, clock, "ada", "10.0.0.1", 7)
    assert t.retry_after("ada", "10.0.0.2") > 0
    t.succeeded("ada")
    assert t.retry_after("ada", "10.0.0.2") == 0
    t.failed("ada", "10.0.0.2")
    assert t.retry_after("ada", "10.0.0.2") == 0  # counting starts afresh
    # the attacker's own address keeps its count: signing in to his account does not clear it
    t.failed("mallory", "10.0.0.1")
    assert t.retry_after("someone", "10.0.0.1") > 0


def test_counts_decay_with_time(clock: Clock) -> None:
    t = Throttle(clock=clock, half_life=600)
    fail(t, clock, "ada", "10.0.0.1", 8)
    assert t.retry_after("ada", "10.0.0.1") > 0
    clock.advance(600 * 10)  # ten half-lives: 8 failures are now ~0.008
    assert t.retry_after("ada", "10.0.0.1") == 0
    t.failed("ada", "10.0.0.1")
    assert t.retry_after("ada", "10.0.0.1") == 0  # not throttled again by one new failure
    # one half-life later 10 failures count as ~5; one more makes ~6: a wait of ~2 s again
    t2 = Throttle(clock=clock, half_life=600, max_delay=900)
    fail(t2, clock, "bob", "10.0.0.9", 10)
    clock.advance(600 - t2.retry_after("bob", "10.0.0.9"))
    t2.failed("bob", "10.0.0.9")
    assert 1 < t2.retry_after("bob", "10.0.0.9") < 2.5


def test_memory_is_bounded_oldest_forgotten(clock: Clock) -> None:
    t = Throttle(clock=clock, max_entries=3, account_failures=1, address_failures=1, half_life=1e9)
    for i in range(100):
        t.failed(f"user{i}", f"10.0.0.{i}")
    assert len(t) == 6  # 3 accounts + 3 addresses
    assert t.retry_after("user99", "x") > 0
    assert t.retry_after("user0", "x") == 0  # forgotten
    # a long account key is cut, not stored whole
    t.failed("a" * 100_000, "b" * 100_000)
    assert t.retry_after("a" * 100_000, "b" * 100_000) > 0


def test_ipv6_counts_per_64(clock: Clock) -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1" == address_key("192.0.2.1")
    assert address_key("[2001:db8::1]") == "2001:db8::/64"
    assert address_key("testclient") == "testclient"
    t = Throttle(clock=clock, address_failures=2, account_failures=100, half_life=1e9)
    t.failed("a", "2001:db8:1:2::1")
    t.failed("b", "2001:db8:1:2::2")
    assert t.retry_after("c", "2001:db8:1:2::3") > 0  # one host rotating through its /64


def test_without_an_address_only_the_account_counts(clock: Clock) -> None:
    t = Throttle(clock=clock, account_failures=5, address_failures=1, half_life=1e9)
    t.failed("ada", None)
    assert t.retry_after("bob", None) == 0
    assert t.retry_after("bob", "") == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"account_failures": 0}, {"address_failures": 0}, {"max_entries": 0}, {"base_delay": 0}, {"base_delay": 10, "max_delay": 5}, {"half_life": 0}],
)
def test_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        Throttle(**kwargs)  # type: ignore[arg-type]


def test_an_address_alone_counts_every_attempt(clock: Clock) -> None:
    """Sign-ups: no account to count against, and each attempt counts (each costs a hash)."""
    t = Throttle(address_failures=3, base_delay=2.0, clock=clock)
    for _ in range(2):
        assert t.address_retry_after("198.51.100.7") == 0
        t.address_attempt("198.51.100.7")
    assert t.address_retry_after("198.51.100.7") == 0
    t.address_attempt("198.51.100.7")
    assert t.address_retry_after("198.51.100.7") == 2.0
    assert t.address_retry_after("198.51.100.8") == 0  # another address
    assert t.retry_after("anyone", None) == 0  # no account was charged
    clock.advance(2.0)
    t.address_attempt("198.51.100.7")
    assert 3.9 < t.address_retry_after("198.51.100.7") <= 4.0  # doubled (less a little decay)
    t.address_attempt("2001:db8::1")
    assert t.address_retry_after("2001:db8::2") == t.address_retry_after("2001:db8::1")  # the /64
