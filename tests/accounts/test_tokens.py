"""Personal access tokens (cowrite.accounts.tokens): shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

from pathlib import Path

import pytest
from accounts_helpers import PASSWORD, SQL_INJECTIONS, Clock

from cowrite.accounts import (
    TOKEN_PREFIX,
    AccessDenied,
    AccountNotFound,
    Accounts,
    InvalidAccount,
    TokenGrant,
    TokenInfo,
    TokenNotFound,
    Tokens,
    secret_key,
)
from cowrite.accounts.tokens import MAX_TOKENS_PER_USER
from cowrite.store import SQLiteStore

DAY = 86400.0


@pytest.fixture
def tokens(store: SQLiteStore, accounts: Accounts, clock: Clock) -> Tokens:
    accounts.sign_up("ada", PASSWORD)
    accounts.sign_up("bob", PASSWORD)
    accounts.sign_up("boss", PASSWORD, admin=True)
    return Tokens(store, accounts, clock=clock)


def test_a_token_is_shown_once_and_verifies(tokens: Tokens, clock: Clock) -> None:
    secret, info = tokens.create("Ada", "CI bot")
    assert secret.startswith(TOKEN_PREFIX) and len(secret) == len(TOKEN_PREFIX) + 43
    assert info == TokenInfo(info.id, "ada", "CI bot", ("*",), "editor", clock.now, clock.now + 90 * DAY, None, False)
    assert secret not in repr(info)
    assert tokens.verify(secret) == TokenGrant("ada", ("*",), "editor", clock.now + 90 * DAY, info.id)
    assert [t.id for t in tokens.tokens("ada")] == [info.id] and tokens.tokens("bob") == []
    other, _ = tokens.create("ada", "CI bot")  # same label, new secret
    assert other != secret and len(tokens.tokens("ada")) == 2


def test_the_secret_is_nowhere_in_the_database(tokens: Tokens, store: SQLiteStore, db_path: Path) -> None:
    secret, info = tokens.create("ada", "deploy", docs=("notes",))
    assert tokens.verify(secret) is not None
    store.close()
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert secret.encode() not in stored and secret[len(TOKEN_PREFIX):].encode() not in stored
    assert secret_key(secret).encode() in stored and info.id.encode() in stored


@pytest.mark.parametrize(
    "bogus",
    ["", "cwp_", "cwp_" + "A" * 43, "xyz_" + "A" * 43, "cwp_" + "A" * 44, "Bearer cwp_x", "a" * 10_000, None, 7,
     *SQL_INJECTIONS],
)
def test_anything_else_verifies_to_none(tokens: Tokens, bogus: object) -> None:
    tokens.create("ada", "ci")
    assert tokens.verify(bogus) is None  # type: ignore[arg-type]


def test_a_token_reaches_only_its_documents_and_at_most_its_role(tokens: Tokens) -> None:
    secret, _ = tokens.create("ada", "one doc", docs=("a", "b", "a"), role="viewer")
    grant = tokens.verify(secret)
    assert grant is not None and grant.docs == ("a", "b")  # duplicates dropped
    assert grant.covers("a") and not grant.covers("c") and not grant.covers("*")
    assert grant.role_on("c", "owner") is None  # a token for doc A used for doc B
    assert grant.role_on("a", "owner") == "viewer"  # capped by the token's role
    assert grant.role_on("a", None) is None  # and by the user's own
    every = tokens.verify(tokens.create("ada", "all", role="owner")[0])
    assert every is not None and every.covers("anything")
    assert every.role_on("x", "commenter") == "commenter"  # never more than the user has


def test_revoked_expired_and_disabled_tokens_verify_to_none(tokens: Tokens, accounts: Accounts, clock: Clock) -> None:
    revoked, r = tokens.create("ada", "revoked")
    short, _ = tokens.create("ada", "short", ttl=60)
    forever, f = tokens.create("ada", "forever", ttl=None)
    tokens.revoke("ada", r.id)
    assert tokens.verify(revoked) is None
    clock.advance(59)
    assert tokens.verify(short) is not None
    clock.advance(1)
    assert tokens.verify(short) is None
    assert f.expires_at is None
    clock.advance(10 * 365 * DAY)
    assert tokens.verify(forever) is not None
    accounts.disable("ada")
    assert tokens.verify(forever) is None  # a disabled user's token opens nothing
    accounts.enable("ada")
    assert tokens.verify(forever) is not None
    listed = {t.label: t for t in tokens.tokens("ada")}
    assert listed["revoked"].revoked and not listed["forever"].revoked


def test_last_used_is_written_at_most_once_a_minute(tokens: Tokens, clock: Clock, store: SQLiteStore) -> None:
    secret, info = tokens.create("ada", "ci")
    start = clock.now
    tokens.verify(secret)
    assert tokens.tokens("ada")[0].last_used == start
    clock.advance(30)
    tokens.verify(secret)
    assert tokens.tokens("ada")[0].last_used == start
    clock.advance(30)
    tokens.verify(secret)
    assert tokens.tokens("ada")[0].last_used == start + 60


def test_only_its_user_or_an_admin_revokes_a_token(tokens: Tokens, accounts: Accounts) -> None:
    secret, info = tokens.create("ada", "ci")
    for user, kw in (("bob", {}), ("boss", {})):  # boss without saying so is just a user
        with pytest.raises(TokenNotFound):
            tokens.revoke(user, info.id, **kw)
    with pytest.raises(AccessDenied):
        tokens.revoke("bob", info.id, by_admin=True)  # claiming to be an admin is checked
    assert tokens.verify(secret) is not None
    tokens.revoke("boss", info.id, by_admin=True)
    assert tokens.verify(secret) is None
    tokens.revoke("ada", info.id)  # again: no error
    for bogus in ("nope", "", "x" * 100, *SQL_INJECTIONS):
        with pytest.raises(TokenNotFound):
            tokens.revoke("ada", bogus)
    accounts.disable("boss")
    with pytest.raises(AccessDenied):
        tokens.revoke("boss", info.id, by_admin=True)


def test_bad_tokens_are_refused_and_nothing_is_stored(tokens: Tokens, accounts: Accounts) -> None:
    for kw in [
        {"docs": ()},
        {"docs": ["a"]},
        {"docs": ("*", "a")},
        {"docs": ("../etc",)},
        {"docs": ("a'; DROP TABLE tokens; --",)},
        {"docs": ("",)},
        {"docs": tuple(f"d{i}" for i in range(101))},
        {"role": "admin"},
        {"role": "Owner"},
        {"ttl": 0},
        {"ttl": -5},
        {"ttl": float("nan")},
        {"ttl": 100 * 365 * DAY},
        {"ttl": "90"},
    ]:
        with pytest.raises(InvalidAccount):
            tokens.create("ada", "ci", **kw)  # type: ignore[arg-type]
    for label in ("", "x" * 101, "line\nbreak", "evil\u202eexe", None):
        with pytest.raises(InvalidAccount):
            tokens.create("ada", label)  # type: ignore[arg-type]
    with pytest.raises(AccountNotFound):
        tokens.create("ghost", "ci")
    with pytest.raises(InvalidAccount):
        tokens.create("not a name", "ci")
    accounts.disable("bob")
    with pytest.raises(AccessDenied):
        tokens.create("bob", "ci")
    assert tokens.tokens("ada") == [] and tokens.tokens("bob") == []


@pytest.mark.parametrize("label", SQL_INJECTIONS + ["<script>alert(1)</script>", "日本 🐻"])
def test_labels_are_stored_literally(tokens: Tokens, label: str) -> None:
    tokens.create("ada", label)
    assert [t.label for t in tokens.tokens("ada")] == [label]


def test_an_account_holds_a_bounded_number_of_tokens(tokens: Tokens) -> None:
    made = [tokens.create("ada", f"t{i}", ttl=None)[1] for i in range(MAX_TOKENS_PER_USER)]
    with pytest.raises(InvalidAccount, match="at most"):
        tokens.create("ada", "one more")
    tokens.revoke("ada", made[0].id)
    tokens.create("ada", "one more")
