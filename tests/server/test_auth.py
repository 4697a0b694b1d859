"""Tokens: signature, algorithm, expiry, audience and claims are all checked."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from cowrite.errors import ConfigError
from cowrite.server.auth import AuthError, issue_token, load_secret, verify_token

SECRET = b"k" * 40


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    c: dict[str, object] = {"sub": "ann", "doc": "*", "role": "editor", "aud": "cowrite", "iat": now, "exp": now + 60}
    c.update(over)
    return c


def test_a_good_token_grants_what_it_says() -> None:
    g = verify_token(SECRET, issue_token(SECRET, "ann", doc="d1", role="viewer", name="Ann"))
    assert (g.user, g.name, g.doc, g.role) == ("ann", "Ann", "d1", "viewer")
    assert g.allows("d1") and not g.allows("d2") and not g.can_write


# Tokens are made when each test runs (not at collection): the suite may take longer than their expiry.
@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda: None, "no token"),
        (lambda: "", "no token"),
        (lambda: "a.b", "invalid token"),
        (lambda: jwt.encode(_claims(), b"x" * 40, algorithm="HS256"), "signature"),
        (lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.", "algorithm"),
        (lambda: jwt.encode(_claims(), SECRET, algorithm="HS512"), "algorithm"),
        (lambda: jwt.encode(_claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256"), "expired"),
        (lambda: jwt.encode(_claims(aud="someone-else"), SECRET, algorithm="HS256"), "audience"),
        (lambda: jwt.encode({k: v for k, v in _claims().items() if k != "exp"}, SECRET, algorithm="HS256"), "exp"),
        (lambda: jwt.encode(_claims(role="admin"), SECRET, algorithm="HS256"), "malformed"),
        (lambda: jwt.encode(_claims(sub=3), SECRET, algorithm="HS256"), "invalid"),
    ],
    ids=["none", "empty", "garbage", "bad-signature", "alg-none", "alg-hs512", "expired", "audience", "no-exp", "bad-role", "bad-sub"],
)
def test_bad_tokens_are_refused_with_a_reason(make, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        verify_token(SECRET, make())


def test_issue_refuses_bad_arguments() -> None:
    for kw in ({"role": "root"}, {"ttl": 0}):
        with pytest.raises(AuthError):
            issue_token(SECRET, "ann", **kw)  # type: ignore[arg-type]


def test_secret_file_is_created_once_and_private(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("COWRITE_SECRET", raising=False)
    db = tmp_path / "x.db"
    s1 = load_secret(None, beside=db)
    assert load_secret(None, beside=db) == s1 and len(s1) >= 32
    assert (tmp_path / "x.db.secret").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        load_secret("short")


BAD_USERS = ["", " ", " ann", "ann ", "a\nb", "a\x00b", "a\u202eb", "\u200b", "\u2066x", "x" * 129, "\ud800"]
BAD_USER_IDS = ["empty", "space", "leading", "trailing", "newline", "nul", "rlo", "zwsp", "isolate", "129-chars", "surrogate"]


@pytest.mark.parametrize("user", BAD_USERS, ids=BAD_USER_IDS)
def test_a_token_whose_user_id_is_not_valid_is_refused_when_verified(user: str) -> None:
    """Signed with the right secret (a buggy or older issuer): still refused."""
    tok = jwt.encode(_claims(sub=user), SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="malformed|invalid"):
        verify_token(SECRET, tok)


@pytest.mark.parametrize("user", BAD_USERS, ids=BAD_USER_IDS)
def test_no_token_is_issued_for_a_user_id_that_is_not_valid(user: str) -> None:
    with pytest.raises(AuthError):
        issue_token(SECRET, user)


@pytest.mark.parametrize("user", ["ann", "guest-0123456789abcdef", "ada@example.org", "Ada Lovelace", "日本", "\U0001f469", "x" * 128])
def test_valid_user_ids(user: str) -> None:
    assert verify_token(SECRET, issue_token(SECRET, user)).user == user


@pytest.mark.parametrize("name", ["", "a\nb", "a\u202eb", "x" * 257], ids=["empty", "newline", "rlo", "257-chars"])
def test_a_token_whose_display_name_is_not_valid_is_refused(name: str) -> None:
    tok = jwt.encode(_claims(name=name), SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="malformed"):
        verify_token(SECRET, tok)
    with pytest.raises(AuthError):
        issue_token(SECRET, "ann", name=name)


def test_a_display_name_may_hold_emoji_sequences() -> None:
    assert verify_token(SECRET, issue_token(SECRET, "ann", name="Ann 👩‍💻")).name == "Ann 👩‍💻"


def test_an_overlong_token_is_refused_unread() -> None:
    with pytest.raises(AuthError, match="longer than"):
        verify_token(SECRET, "a" * 10_000)


def test_a_token_header_nested_deeply_never_reaches_the_json_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The header is parsed before the signature is checked; json.loads recurses."""
    seen: list[int] = []
    real = json.loads

    def spy(s: str | bytes, *a: object, **kw: object) -> object:
        seen.append(len(s))
        return real(s, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "loads", spy)
    header = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).rstrip(b"=").decode()
    with pytest.raises(AuthError):
        verify_token(SECRET, f"{header}.{_b64(_claims())}.c2ln")
    assert all(n < 100 for n in seen), seen
