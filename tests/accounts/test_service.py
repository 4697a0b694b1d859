"""The accounts service (cowrite.accounts.service): every path an attacker would try."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import argon2
import pytest
from accounts_helpers import CHEAP, OTHER, PASSWORD, SQL_INJECTIONS, Argon2Calls, Clock

import cowrite.accounts
import cowrite.errors
from cowrite.accounts import (
    Account,
    AccountError,
    AccountExists,
    AccountNotFound,
    Accounts,
    InvalidAccount,
    InviteNotFound,
    Passwords,
    SessionInfo,
    SignInFailed,
    SignUpRefused,
    Throttle,
    Throttled,
    first_start_hint,
    secret_key,
)
from cowrite.errors import ConfigError
from cowrite.store import SQLiteStore

ADDR = "198.51.100.7"


class Revocations:
    def __init__(self, accounts: Accounts) -> None:
        self.calls: list[tuple[str, frozenset[str]]] = []
        accounts.on_revoke(lambda user, keys: self.calls.append((user, keys)))


@pytest.fixture
def revoked(accounts: Accounts) -> Revocations:
    return Revocations(accounts)


@pytest.fixture
def ada(accounts: Accounts) -> Account:
    return accounts.sign_up("Ada", PASSWORD, "Ada Lovelace", admin=True)


# -- sign-up -----------------------------------------------------------------------------


def test_sign_up_and_read_back(accounts: Accounts, store: SQLiteStore, clock: Clock) -> None:
    assert accounts.count() == 0
    made = accounts.sign_up("Ada", PASSWORD, "Ada Lovelace", admin=True)
    assert made == Account("ada", "Ada Lovelace", True, False, clock.now)
    bob = accounts.sign_up("bob", PASSWORD)
    assert bob.name == "bob" and not bob.admin
    assert accounts.account("ADA") == made
    assert accounts.account("nobody") is None
    assert accounts.account("guest-0123") is None
    assert accounts.accounts() == [made, bob]
    assert accounts.count() == 2
    assert store.user_names(["ada"]) == {"ada": "Ada Lovelace"}  # history views show the name
    assert "hash" not in repr(made) and "argon2" not in repr(store.account("ada"))
    with pytest.raises(InvalidAccount):
        accounts.account("not a name")


def test_sign_up_refusals_store_nothing(accounts: Accounts, ada: Account, argon2_calls: Argon2Calls) -> None:
    with pytest.raises(AccountExists, match="'ada' is taken"):
        accounts.sign_up("ADA", PASSWORD)  # case-insensitive: no look-alike twin
    for username, password, name, error in [
        ("guest-1234", PASSWORD, None, "reserved"),
        ("bad name", PASSWORD, None, "username"),
        ("\u212aelvin", PASSWORD, None, "ASCII"),
        ("bob", "short", None, "8..1024"),
        ("bob", "x" * 1025, None, "at most"),
        ("bob", "         ", None, "whitespace"),
        ("bob", PASSWORD, "evil\u202etxt", "bidirectional"),
        ("bob", PASSWORD, "", "1..256"),
    ]:
        with pytest.raises(InvalidAccount, match=error):
            accounts.sign_up(username, password, name)
    with pytest.raises(ConfigError, match="sign-up mode"):
        accounts.sign_up("bob", PASSWORD, mode="anyone")
    with pytest.raises(InvalidAccount):
        accounts.sign_up("bob", PASSWORD, admin="yes")  # type: ignore[arg-type]
    assert [a.username for a in accounts.accounts()] == ["ada"]
    assert argon2_calls.count("hash") == 0  # refused before any hashing


@pytest.mark.parametrize("name", ["admin", "Root", "owner", "cowrite", "system"])
def test_reserved_names_cannot_be_signed_up(accounts: Accounts, name: str) -> None:
    with pytest.raises(InvalidAccount, match="reserved"):
        accounts.sign_up(name, PASSWORD, mode="open")
    assert accounts.count() == 0


def test_sign_up_is_throttled_per_address_before_any_hashing(
    accounts: Accounts, clock: Clock, argon2_calls: Argon2Calls
) -> None:
    from cowrite.accounts import SIGNUPS_FREE

    for i in range(SIGNUPS_FREE):
        accounts.sign_up(f"user{i}", PASSWORD, address=ADDR)
    hashes = argon2_calls.count("hash")
    with pytest.raises(Throttled, match="sign-ups") as caught:
        accounts.sign_up("one-more", PASSWORD, address=ADDR)
    assert caught.value.retry_after > 0
    assert argon2_calls.count("hash") == hashes  # refused before the 64 MiB hash
    assert accounts.account("one-more") is None
    accounts.sign_up("elsewhere", PASSWORD, address="203.0.113.9")  # another address is not held up
    accounts.sign_up("from-the-cli", PASSWORD)  # no address (the command line): never throttled
    accounts.sign_in("user0", PASSWORD, ADDR)  # sign-in is counted apart
    clock.advance(caught.value.retry_after)
    accounts.sign_up("one-more", PASSWORD, address=ADDR)
    with pytest.raises(Throttled):  # and the next waits longer
        accounts.sign_up("two-more", PASSWORD, address=ADDR)


def test_sign_ups_refused_before_hashing_cost_nothing(accounts: Accounts, ada: Account) -> None:
    from cowrite.accounts import SIGNUPS_FREE

    for _ in range(SIGNUPS_FREE * 2):
        with pytest.raises(AccountExists):
            accounts.sign_up("ada", PASSWORD, address=ADDR)
        with pytest.raises(InvalidAccount):
            accounts.sign_up("bad name", PASSWORD, address=ADDR)
    accounts.sign_up("bob", PASSWORD, address=ADDR)
    with pytest.raises(InvalidAccount):
        accounts.sign_up("cy", PASSWORD, address=7)  # type: ignore[arg-type]


def test_closed_sign_up(accounts: Accounts) -> None:
    code = accounts.create_invite("ada")
    with pytest.raises(SignUpRefused, match="closed"):
        accounts.sign_up("bob", PASSWORD, mode="closed")
    with pytest.raises(SignUpRefused, match="closed"):
        accounts.sign_up("bob", PASSWORD, mode="closed", invite=code)
    assert accounts.count() == 0
    assert accounts.invites()[0].status == "open"


@pytest.mark.parametrize("injection", SQL_INJECTIONS)
def test_sql_injection_in_every_field(accounts: Accounts, store: SQLiteStore, db_path: Path, injection: str) -> None:
    with pytest.raises(InvalidAccount):
        accounts.sign_up(injection, PASSWORD)
    acct = accounts.sign_up("bob", injection + " pw", injection)  # name and password: stored literally
    assert acct.name == injection
    assert accounts.account("bob") == acct
    sid, info = accounts.sign_in("bob", injection + " pw", injection)  # the address too
    assert info.name == injection
    with pytest.raises(SignInFailed):
        accounts.sign_in(injection, PASSWORD, ADDR)
    assert accounts.session(injection) is None
    with pytest.raises(SignUpRefused):
        accounts.sign_up("cy", PASSWORD, invite=injection, mode="invite")
    with pytest.raises(InviteNotFound):
        accounts.revoke_invite(injection)
    accounts.sign_out(injection)
    assert accounts.session(sid) is not None
    with sqlite3.connect(db_path) as raw:  # every table still there, nothing else written
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"accounts", "sessions", "invites", "documents"} <= tables
        assert raw.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 1


# -- sign-in -----------------------------------------------------------------------------


def test_sign_in_makes_a_session(accounts: Accounts, ada: Account, clock: Clock, store: SQLiteStore) -> None:
    sid, info = accounts.sign_in("ADA", PASSWORD, ADDR)
    assert len(sid) == 43  # secrets.token_urlsafe(32): 256 random bits
    assert info == SessionInfo(
        key=secret_key(sid), user="ada", name="Ada Lovelace", admin=True, created_at=clock.now,
        expires_at=clock.now + accounts.session_absolute, csrf_token=info.csrf_token, last_seen=clock.now,
    )
    assert len(info.csrf_token) >= 43 and info.csrf_token != sid
    assert info.csrf_token not in repr(info)
    assert accounts.session(sid) == info
    assert store.session(info.key) is not None


def test_wrong_password_unknown_user_and_disabled_look_the_same(
    accounts: Accounts, ada: Account, argon2_calls: Argon2Calls
) -> None:
    accounts.sign_up("dis", PASSWORD)
    accounts.disable("dis")
    argon2_calls.calls.clear()
    messages = []
    for username, password in [("ada", "wrong password"), ("nobody", PASSWORD), ("dis", PASSWORD), ("bad name!", PASSWORD)]:
        before = argon2_calls.count("verify")
        with pytest.raises(SignInFailed) as info:
            accounts.sign_in(username, password, ADDR)
        messages.append(str(info.value))
        assert argon2_calls.count("verify") == before + 1, username  # the hasher ran, every time
    assert set(messages) == {"wrong username or password"}
    # the unknown user's verification used a hash with the same (costly) parameters
    for _, stored in argon2_calls.calls:
        assert argon2.extract_parameters(stored) == CHEAP


def test_throttled_per_account_before_any_hashing(
    accounts: Accounts, ada: Account, clock: Clock, argon2_calls: Argon2Calls
) -> None:
    for i in range(5):
        with pytest.raises(SignInFailed):
            accounts.sign_in("ada", "wrong password", f"10.0.0.{i}")  # five addresses: the account counts
    argon2_calls.calls.clear()
    with pytest.raises(Throttled) as info:
        accounts.sign_in("ada", PASSWORD, "192.0.2.1")  # even the right password must wait
    assert info.value.retry_after == pytest.approx(1)
    assert argon2_calls.calls == []  # checked before hashing: guessing costs the server nothing
    assert isinstance(info.value, AccountError)
    clock.advance(1)
    sid, _ = accounts.sign_in("ada", PASSWORD, "192.0.2.1")  # after the wait, it works
    assert accounts.session(sid) is not None
    for _ in range(4):  # and the success reset the account's count: four more failures are free
        with pytest.raises(SignInFailed):
            accounts.sign_in("ada", "wrong password", "192.0.2.2")
    with pytest.raises(SignInFailed):
        accounts.sign_in("ada", "wrong password", "192.0.2.2")
    with pytest.raises(Throttled):
        accounts.sign_in("ada", PASSWORD, "192.0.2.2")


def test_unknown_accounts_are_throttled_like_known_ones(accounts: Accounts, clock: Clock) -> None:
    """Otherwise the throttle itself would tell which usernames exist."""
    for i in range(5):
        with pytest.raises(SignInFailed):
            accounts.sign_in("nobody", PASSWORD, f"10.1.0.{i}")
    with pytest.raises(Throttled):
        accounts.sign_in("nobody", PASSWORD, "10.1.0.99")


def test_throttled_per_address(accounts: Accounts, clock: Clock, argon2_calls: Argon2Calls) -> None:
    accounts.sign_up("victim", PASSWORD)
    for i in range(20):  # a spray: one guess at each of 20 accounts
        with pytest.raises(SignInFailed):
            accounts.sign_in(f"user{i}", "Password1", "203.0.113.5")
    argon2_calls.calls.clear()
    with pytest.raises(Throttled):
        accounts.sign_in("victim", PASSWORD, "203.0.113.5")
    assert argon2_calls.calls == []
    accounts.sign_in("victim", PASSWORD, "203.0.113.6")  # the victim, elsewhere, is not locked out


def test_throttle_decays(accounts: Accounts, ada: Account, clock: Clock) -> None:
    for _ in range(5):
        with pytest.raises(SignInFailed):
            accounts.sign_in("ada", "wrong password", ADDR)
    with pytest.raises(Throttled):
        accounts.sign_in("ada", "wrong password", ADDR)
    clock.advance(6 * 3600)
    with pytest.raises(SignInFailed):  # forgotten: a failure, not a wait
        accounts.sign_in("ada", "wrong password", ADDR)
    accounts.sign_in("ada", PASSWORD, ADDR)


def test_session_fixation_is_impossible(accounts: Accounts, ada: Account, store: SQLiteStore) -> None:
    first, info1 = accounts.sign_in("ada", PASSWORD, ADDR)
    second, info2 = accounts.sign_in("ada", PASSWORD, ADDR)
    assert first != second and info1.key != info2.key and info1.csrf_token != info2.csrf_token
    ids = {accounts.sign_in("ada", PASSWORD, ADDR)[0] for _ in range(20)}
    assert len(ids) == 20 and first not in ids and second not in ids
    # nothing the client sends becomes a session: not a chosen id, not the stored key
    assert accounts.session("attacker-chosen-session-id") is None
    assert accounts.session(info1.key) is None
    assert accounts.session("") is None
    assert accounts.session("x" * 100_000) is None
    assert accounts.session(None) is None  # type: ignore[arg-type]
    assert len(store.sessions("ada")) == 22


def test_rehash_on_parameter_change(store: SQLiteStore, clock: Clock, argon2_calls: Argon2Calls) -> None:
    Accounts(store, hasher=Passwords(CHEAP), clock=clock).sign_up("ada", PASSWORD)
    old = store.account("ada")
    assert old is not None and argon2.extract_parameters(old.password_hash) == CHEAP
    upgraded = Accounts(store, hasher=Passwords(OTHER), clock=clock)
    upgraded.sign_in("ada", PASSWORD, ADDR)
    new = store.account("ada")
    assert new is not None and new.password_hash != old.password_hash
    assert argon2.extract_parameters(new.password_hash) == OTHER
    assert upgraded.hasher.verify(new.password_hash, PASSWORD)
    argon2_calls.calls.clear()
    upgraded.sign_in("ada", PASSWORD, ADDR)  # no second rehash
    assert argon2_calls.count("hash") == 0
    assert store.account("ada") == new


def test_a_rehash_never_overwrites_a_password_set_meanwhile(store: SQLiteStore, clock: Clock) -> None:
    Accounts(store, hasher=Passwords(CHEAP), clock=clock).sign_up("ada", PASSWORD)
    upgraded = Accounts(store, hasher=Passwords(OTHER), clock=clock)
    real_account = store.account

    def racing(username: str):  # type: ignore[no-untyped-def]
        record = real_account(username)
        store.set_password_hash(username, Passwords(CHEAP).hash("set by the admin"))  # lands after our read
        return record

    store.account = racing  # type: ignore[method-assign]
    upgraded.sign_in("ada", PASSWORD, ADDR)
    store.account = real_account  # type: ignore[method-assign]
    with pytest.raises(SignInFailed):
        upgraded.sign_in("ada", PASSWORD, ADDR)
    upgraded.sign_in("ada", "set by the admin", ADDR)


# -- sessions ----------------------------------------------------------------------------


def test_idle_expiry(accounts: Accounts, ada: Account, clock: Clock, store: SQLiteStore) -> None:
    sid, info = accounts.sign_in("ada", PASSWORD, ADDR)
    clock.advance(accounts.session_idle - 1)
    assert accounts.session(sid) is not None  # used: the idle timer starts again
    clock.advance(accounts.session_idle - 1)
    assert accounts.session(sid) is not None
    clock.advance(accounts.session_idle)
    assert accounts.session(sid) is None
    assert store.session(info.key) is None  # and it is gone from the store


def test_absolute_expiry_even_when_used(accounts: Accounts, ada: Account, clock: Clock) -> None:
    sid, info = accounts.sign_in("ada", PASSWORD, ADDR)
    while clock.now + 86400 < info.expires_at:
        clock.advance(86400)
        assert accounts.session(sid) is not None
    clock.advance(info.expires_at - clock.now)
    assert accounts.session(sid) is None


def test_session_use_is_written_at_most_once_a_minute(
    accounts: Accounts, ada: Account, clock: Clock, store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    touches: list[float] = []
    real = store.touch_session
    monkeypatch.setattr(store, "touch_session", lambda key, t: (touches.append(t), real(key, t))[1])
    sid, info = accounts.sign_in("ada", PASSWORD, ADDR)
    for _ in range(30):
        clock.advance(5)
        assert accounts.session(sid) is not None
    assert len(touches) == 2  # at 60 s and 120 s, of 150 s of reads every 5 s
    stored = store.session(info.key)
    assert stored is not None and stored.last_seen == touches[-1]
    assert accounts.session(sid).last_seen == touches[-1]  # type: ignore[union-attr]


def test_ended_sessions_are_purged_at_a_sign_in(accounts: Accounts, ada: Account, clock: Clock, store: SQLiteStore) -> None:
    for _ in range(3):
        accounts.sign_in("ada", PASSWORD, ADDR)
    clock.advance(accounts.session_idle + 3600)
    accounts.sign_in("ada", PASSWORD, ADDR)
    assert len(store.sessions("ada")) == 1
    assert len(accounts.sessions("ada")) == 1


def test_session_settings_are_checked(store: SQLiteStore) -> None:
    with pytest.raises(ConfigError):
        Accounts(store, session_idle=0)
    with pytest.raises(ConfigError):
        Accounts(store, session_idle=10, session_absolute=5)


# -- revocation --------------------------------------------------------------------------


def test_sign_out(accounts: Accounts, ada: Account, revoked: Revocations) -> None:
    sid, info = accounts.sign_in("ada", PASSWORD, ADDR)
    other, _ = accounts.sign_in("ada", PASSWORD, ADDR)
    accounts.sign_out(sid)
    assert accounts.session(sid) is None and accounts.session(other) is not None
    assert revoked.calls == [("ada", frozenset({info.key}))]
    accounts.sign_out(sid)  # again: nothing to revoke, nobody told
    accounts.sign_out("never-was")
    assert len(revoked.calls) == 1


def test_sign_out_everywhere(accounts: Accounts, ada: Account, revoked: Revocations) -> None:
    accounts.sign_up("bob", PASSWORD)
    mine = [accounts.sign_in("ada", PASSWORD, ADDR) for _ in range(3)]
    bobs, _ = accounts.sign_in("bob", PASSWORD, ADDR)
    accounts.sign_out_everywhere("Ada")
    assert all(accounts.session(sid) is None for sid, _ in mine)
    assert accounts.session(bobs) is not None
    assert revoked.calls == [("ada", frozenset(info.key for _, info in mine))]


@pytest.mark.parametrize("keep_by", ["id", "key"])
def test_change_password_keeps_only_the_callers_session(
    accounts: Accounts, ada: Account, revoked: Revocations, keep_by: str
) -> None:
    (mine, my_info), (other, other_info) = (accounts.sign_in("ada", PASSWORD, ADDR) for _ in range(2))
    keep = mine if keep_by == "id" else my_info.key
    accounts.change_password("ada", PASSWORD, "a new passphrase", keep_session=keep)
    assert accounts.session(mine) is not None
    assert accounts.session(other) is None
    assert revoked.calls == [("ada", frozenset({other_info.key}))]
    with pytest.raises(SignInFailed):
        accounts.sign_in("ada", PASSWORD, ADDR)
    accounts.sign_in("ada", "a new passphrase", ADDR)


def test_change_password_needs_the_old_one(accounts: Accounts, ada: Account, revoked: Revocations, clock: Clock) -> None:
    sid, _ = accounts.sign_in("ada", PASSWORD, ADDR)
    with pytest.raises(SignInFailed):
        accounts.change_password("ada", "not my password", "a new passphrase", keep_session=sid)
    with pytest.raises(InvalidAccount):
        accounts.change_password("ada", PASSWORD, "short", keep_session=sid)
    with pytest.raises(SignInFailed):
        accounts.change_password("nobody", PASSWORD, "a new passphrase")
    assert accounts.session(sid) is not None and revoked.calls == []
    accounts.sign_in("ada", PASSWORD, ADDR)  # unchanged
    for _ in range(5):  # guessing the old password through this door is throttled too
        with pytest.raises(SignInFailed):
            accounts.change_password("ada", "guess", "a new passphrase")
    with pytest.raises(Throttled):
        accounts.change_password("ada", PASSWORD, "a new passphrase")


def test_set_password_revokes_everything(accounts: Accounts, ada: Account, revoked: Revocations) -> None:
    infos = [accounts.sign_in("ada", PASSWORD, ADDR)[1] for _ in range(2)]
    accounts.set_password("ADA", "reset by admin")
    assert revoked.calls == [("ada", frozenset(i.key for i in infos))]
    accounts.sign_in("ada", "reset by admin", ADDR)
    with pytest.raises(AccountNotFound):
        accounts.set_password("nobody", "reset by admin")
    with pytest.raises(InvalidAccount):
        accounts.set_password("ada", "short")


def test_disable_and_enable(accounts: Accounts, ada: Account, revoked: Revocations, store: SQLiteStore) -> None:
    sid, info = accounts.sign_in("ada", PASSWORD, ADDR)
    accounts.disable("ada")
    assert accounts.session(sid) is None
    assert revoked.calls == [("ada", frozenset({info.key}))]
    assert accounts.account("ada").disabled  # type: ignore[union-attr]
    with pytest.raises(SignInFailed):
        accounts.sign_in("ada", PASSWORD, ADDR)
    accounts.enable("ada")
    assert accounts.session(sid) is None  # old sessions stay revoked
    accounts.sign_in("ada", PASSWORD, ADDR)
    with pytest.raises(AccountNotFound):
        accounts.disable("nobody")
    with pytest.raises(AccountNotFound):
        accounts.enable("nobody")


def test_a_disabled_account_is_refused_even_if_a_session_survived(
    accounts: Accounts, ada: Account, store: SQLiteStore
) -> None:
    sid, _ = accounts.sign_in("ada", PASSWORD, ADDR)
    store.update_account("ada", disabled=True)  # behind the service's back: sessions not deleted
    assert accounts.session(sid) is None


def test_a_failing_listener_does_not_stop_the_others(
    accounts: Accounts, ada: Account, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(user: str, keys: frozenset[str]) -> None:
        raise RuntimeError("listener bug")

    accounts.on_revoke(boom)
    after = Revocations(accounts)
    sid, _ = accounts.sign_in("ada", PASSWORD, ADDR)
    with caplog.at_level(logging.ERROR, logger="cowrite.accounts.service"):
        accounts.sign_out(sid)
    assert len(after.calls) == 1
    assert "on_revoke listener failed" in caplog.text
    assert accounts.session(sid) is None


# -- nothing secret at rest --------------------------------------------------------------


def test_secrets_are_stored_only_hashed(accounts: Accounts, ada: Account, store: SQLiteStore, db_path: Path) -> None:
    sids = [accounts.sign_in("ada", PASSWORD, ADDR)[0] for _ in range(3)]
    codes = [accounts.create_invite("ada") for _ in range(3)]
    accounts.sign_up("bob", "bobs secret password", invite=codes[0], mode="invite")
    secrets_ = [*sids, *codes, PASSWORD, "bobs secret password"]
    store.close()
    raw = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name))
    for secret in secrets_:
        assert secret.encode() not in raw, secret
    with sqlite3.connect(db_path) as conn:
        dump = "\n".join(conn.iterdump())
    for secret in secrets_:
        assert secret not in dump
    for sid in sids:
        assert secret_key(sid) in dump  # what is there instead: the SHA-256


# -- invites -----------------------------------------------------------------------------


def test_invite_only_sign_up(accounts: Accounts, clock: Clock, argon2_calls: Argon2Calls) -> None:
    with pytest.raises(SignUpRefused, match="needs an invite"):
        accounts.sign_up("bob", PASSWORD, mode="invite")
    with pytest.raises(SignUpRefused, match="not valid"):
        accounts.sign_up("bob", PASSWORD, mode="invite", invite="made-up-code")
    with pytest.raises(SignUpRefused, match="not valid"):
        accounts.sign_up("bob", PASSWORD, mode="invite", invite="y" * 10_000)
    assert argon2_calls.count("hash") == 0
    code = accounts.create_invite("ada", ttl=3600)
    bob = accounts.sign_up("bob", PASSWORD, mode="invite", invite=code)
    [info] = accounts.invites()
    assert (info.status, info.used_by, info.used_at, info.key) == ("used", "bob", clock.now, secret_key(code))
    assert bob.username == "bob"
    with pytest.raises(SignUpRefused, match="used"):  # single use
        accounts.sign_up("cy", PASSWORD, mode="invite", invite=code)
    assert accounts.count() == 1


def test_invites_expire_and_can_be_revoked(accounts: Accounts, clock: Clock) -> None:
    soon = accounts.create_invite("ada", ttl=60)
    later = accounts.create_invite("ada", ttl=7200)
    by_key = accounts.create_invite("ada")
    clock.advance(60)
    with pytest.raises(SignUpRefused, match="expired"):
        accounts.sign_up("bob", PASSWORD, mode="invite", invite=soon)
    accounts.revoke_invite(later)
    accounts.revoke_invite(secret_key(by_key))  # from the admin's list, which shows only keys
    for code in (later, by_key):
        with pytest.raises(SignUpRefused, match="revoked"):
            accounts.sign_up("bob", PASSWORD, mode="invite", invite=code)
    assert sorted(i.status for i in accounts.invites()) == ["expired", "revoked", "revoked"]
    with pytest.raises(InviteNotFound):
        accounts.revoke_invite("no-such-code")
    assert accounts.count() == 0


def test_a_failed_sign_up_does_not_use_the_invite(accounts: Accounts, ada: Account) -> None:
    code = accounts.create_invite("ada")
    with pytest.raises(AccountExists):
        accounts.sign_up("ada", PASSWORD, mode="invite", invite=code)
    with pytest.raises(InvalidAccount):
        accounts.sign_up("bob", "short", mode="invite", invite=code)
    assert accounts.invites()[0].status == "open"
    accounts.sign_up("bob", PASSWORD, mode="invite", invite=code)


def test_an_invite_given_in_open_mode_is_used_up(accounts: Accounts) -> None:
    code = accounts.create_invite("ada")
    accounts.sign_up("bob", PASSWORD, invite=code)
    assert accounts.invites()[0].used_by == "bob"
    with pytest.raises(SignUpRefused):
        accounts.sign_up("cy", PASSWORD, invite=code)


def test_invite_arguments(accounts: Accounts) -> None:
    for ttl in (0, -1, 366 * 86400, float("nan"), "60"):
        with pytest.raises(InvalidAccount):
            accounts.create_invite("ada", ttl=ttl)  # type: ignore[arg-type]
    for by in ("", "x" * 129, "a\nb"):
        with pytest.raises(InvalidAccount):
            accounts.create_invite(by)
    assert accounts.invites() == []
    a, b = accounts.create_invite("ada"), accounts.create_invite("ada")
    assert a != b and len(a) == 43


# -- odds and ends -----------------------------------------------------------------------


def test_first_start_hint(accounts: Accounts) -> None:
    hint = first_start_hint(accounts, db="team.db")
    assert hint is not None and "cowrite user add NAME --admin --db team.db" in hint
    assert "--db" not in (first_start_hint(accounts) or "")
    accounts.sign_up("ada", PASSWORD, admin=True)
    assert first_start_hint(accounts) is None


def test_set_name_and_admin(accounts: Accounts, ada: Account, store: SQLiteStore) -> None:
    assert accounts.set_name("ada", "Countess").name == "Countess"
    assert store.user_names(["ada"]) == {"ada": "Countess"}
    accounts.set_admin("ada", False)
    assert not accounts.account("ada").admin  # type: ignore[union-attr]
    with pytest.raises(InvalidAccount):
        accounts.set_name("ada", "\u202e")
    with pytest.raises(AccountNotFound):
        accounts.set_name("nobody", "x")
    with pytest.raises(AccountNotFound):
        accounts.set_admin("nobody", True)


def test_the_default_hasher_and_throttle(store: SQLiteStore, clock: Clock) -> None:
    a = Accounts(store, clock=clock)
    assert a.hasher.parameters == cowrite.accounts.RFC_9106
    assert isinstance(a.throttle, Throttle)
    assert isinstance(a.signup_throttle, Throttle) and a.signup_throttle is not a.throttle


def test_exports() -> None:
    mod = cowrite.accounts
    assert len(set(mod.__all__)) == len(mod.__all__)
    assert all(hasattr(mod, n) for n in mod.__all__)
    public = {n for n, v in vars(mod).items() if not n.startswith("_") and not isinstance(v, type(mod)) and n != "annotations"}
    assert public <= set(mod.__all__)
    for n in mod.__all__:
        obj = getattr(mod, n)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert obj.__module__ == "cowrite.errors" and n in (cowrite.errors.__doc__ or "")
            assert issubclass(obj, AccountError) or obj is AccountError
