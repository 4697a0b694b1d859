"""The throttle's counts in the store: two services on one store count together, and a
store that fails refuses the attempt (before any hashing) instead of skipping the count."""

from __future__ import annotations

from pathlib import Path

import pytest
from accounts_helpers import CHEAP, PASSWORD, Argon2Calls, Clock

from cowrite.accounts import Accounts, Passwords, Throttle
from cowrite.errors import SignInFailed, StoreError, StoreUnavailable, Throttled
from cowrite.store import SQLiteStore


def test_two_services_on_one_store_share_the_counts(db_path: Path, clock: Clock, argon2_calls: Argon2Calls) -> None:
    with SQLiteStore(db_path) as one, SQLiteStore(db_path) as two:
        a, b = (Accounts(s, hasher=Passwords(CHEAP), clock=clock) for s in (one, two))
        assert a.throttle.shared and b.signup_throttle.shared
        a.sign_up("ada", PASSWORD, mode="open")
        for i in range(5):
            with pytest.raises(SignInFailed):
                (a, b)[i % 2].sign_in("ada", f"guess {i}", "10.0.0.1")
        before = argon2_calls.count("verify")
        for service in (a, b):
            with pytest.raises(Throttled):
                service.sign_in("ada", PASSWORD, "10.0.0.2")  # the account, from any address
        assert argon2_calls.count("verify") == before
        clock.advance(1.01)
        b.sign_in("ada", PASSWORD, "10.0.0.2")
        assert a.throttle.retry_after("ada", None) == 0  # the success cleared it for both


def test_sign_ups_and_sign_ins_count_apart_on_one_store(store: SQLiteStore, clock: Clock) -> None:
    accounts = Accounts(store, hasher=Passwords(CHEAP), clock=clock)
    for i in range(10):
        accounts.sign_up(f"user{i}", PASSWORD, mode="open", address="10.0.0.9")
    with pytest.raises(Throttled):
        accounts.sign_up("user10", PASSWORD, mode="open", address="10.0.0.9")
    assert accounts.throttle.retry_after("someone", "10.0.0.9") == 0  # sign-ins from it are not slowed


def test_odd_keys_are_counted_not_refused(store: SQLiteStore, clock: Clock) -> None:
    """Usernames a store cannot hold as they are (NUL, lone surrogates, empty, huge) and a
    request without an address are still counted, each under a key of its own."""
    t = Throttle(clock=clock, store=store, account_failures=1, address_failures=100, half_life=1e9)
    for account in ("a\0b", "\ud800x", "", "é" * 10_000):
        t.failed(account, "")
        assert t.retry_after(account, "") > 0
    assert t.retry_after("ab", "") == 0


def test_a_failing_store_refuses_the_attempt_before_any_hashing(
    store: SQLiteStore, clock: Clock, argon2_calls: Argon2Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = Accounts(store, hasher=Passwords(CHEAP), clock=clock)
    accounts.sign_up("ada", PASSWORD, mode="open")
    before = len(argon2_calls.calls)

    def down(*args: object, **kw: object) -> None:
        raise StoreUnavailable("the database is restarting")

    monkeypatch.setattr(store, "throttle_records", down)
    for password in ("wrong", PASSWORD):
        with pytest.raises(StoreError):
            accounts.sign_in("ada", password, "10.0.0.1")
    with pytest.raises(StoreError):
        accounts.sign_up("newcomer", PASSWORD, mode="open", address="10.0.0.1")
    assert len(argon2_calls.calls) == before


def test_a_burst_in_real_time_is_throttled_at_its_fifth_failure(store: SQLiteStore, clock: Clock) -> None:
    """The counts decay while the burst goes on (a guess a second): the 5th failure still
    counts as the 5th, not as 4.99 that would let a 6th guess through at once."""
    t = Throttle(clock=clock, store=store)
    for _ in range(4):
        t.failed("ada", "10.0.0.1")
        clock.advance(1.0)
        assert t.retry_after("ada", "10.0.0.1") == 0
    t.failed("ada", "10.0.0.1")
    assert t.retry_after("ada", "10.0.0.1") == pytest.approx(1.0, rel=0.01)
