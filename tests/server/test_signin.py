"""Sign-up, sign-in and sessions over HTTP (``/api/auth``): modes, cookie flags, enumeration,
throttling, fixation, sign-out, password changes, hostile usernames and names.

In-process (Starlette's TestClient, ``http://testserver``) over a real SQLite store and
the real accounts service (argon2id at its cheapest parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest

from conftest import Harness
from cowrite.accounts import Throttle

ORIGIN = {"origin": "http://testserver"}
PASSWORD = "correct horse battery"


def signup(h: Harness, username: str = "ada", password: str = PASSWORD, **body: Any) -> httpx.Response:
    return h.http.post("/api/auth/signup", json={"username": username, "password": password, **body}, headers=ORIGIN)


def signin(h: Harness, username: str = "ada", password: str = PASSWORD, **headers: str) -> httpx.Response:
    return h.http.post(
        "/api/auth/signin", json={"username": username, "password": password}, headers={**ORIGIN, **headers}
    )


def session_cookie(r: httpx.Response) -> Any:
    """The ``cowrite_session`` morsel the response sets (parsed by the standard library)."""
    for raw in r.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(raw)
        if "cowrite_session" in jar:
            return jar["cowrite_session"]
    raise AssertionError(f"no cowrite_session cookie in {r.headers.get_list('set-cookie')}")


def add_account(h: Harness, username: str = "ada", *, admin: bool = False, name: str | None = None) -> None:
    h.accounts.sign_up(username, PASSWORD, name, admin=admin, mode="open")


def me(h: Harness, sid: str | None = None) -> httpx.Response:
    cookies = None if sid is None else {"cowrite_session": sid}
    if cookies is not None:
        h.http.cookies.clear()
    return h.http.get("/api/auth/me", cookies=cookies)


# -- sign-up modes ----------------------------------------------------------------------


def test_open_signup_creates_the_account_and_signs_it_in(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(signup="open")
    r = signup(h, "Ada", name="Ada Lovelace")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["user"] == "ada" and body["name"] == "Ada Lovelace" and body["role"] == "editor" and not body["admin"]
    assert r.headers["cache-control"] == "no-store"
    assert session_cookie(r).value
    who = h.http.get("/api/auth/me")
    assert who.status_code == 200 and who.json()["user"] == "ada"
    assert who.json()["csrf_token"] == body["csrf_token"]
    assert h.http.get("/api/auth/config").json() == {
        "signup": "open",
        "guests": False,
        "guest_role": "none",
        "signed_in": True,
    }
    assert signup(h, "ada").status_code == 409  # taken (usernames are case-insensitive)


def test_closed_signup_is_refused_and_stores_nothing(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(signup="closed")
    r = signup(h)
    assert r.status_code == 403 and r.json()["error"] == "signup_refused"
    assert "set-cookie" not in r.headers
    assert h.accounts.count() == 0


def test_invite_signup_needs_a_valid_unused_invite(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(signup="invite")
    for invite in (None, "", "not-a-real-invite"):
        r = signup(h, invite=invite) if invite is not None else signup(h)
        assert r.status_code == 403 and r.json()["error"] == "signup_refused", r.text
    assert h.accounts.count() == 0
    code = h.accounts.create_invite("admin")
    r = signup(h, "ada", invite=code)
    assert r.status_code == 201, r.text
    h.http.cookies.clear()
    again = signup(h, "bob", invite=code)  # used up
    assert again.status_code == 403 and again.json()["error"] == "signup_refused"
    revoked = h.accounts.create_invite("admin")
    h.accounts.revoke_invite(revoked)
    assert signup(h, "bob", invite=revoked).status_code == 403
    assert [a.username for a in h.accounts.accounts()] == ["ada"]


def test_default_signup_mode_is_invite(tmp_path: Any) -> None:
    from cowrite.server import Server
    from cowrite.store import SQLiteStore

    store = SQLiteStore(tmp_path / "d.db")
    try:
        assert Server(store, b"s" * 40).signup == "invite"
    finally:
        store.close()


@pytest.mark.parametrize("mode", ["sometimes", "", "OPEN"])
def test_an_unknown_signup_mode_is_a_config_error(tmp_path: Any, mode: str) -> None:
    from cowrite.errors import ConfigError
    from cowrite.server import Server
    from cowrite.store import SQLiteStore

    store = SQLiteStore(tmp_path / "d.db")
    try:
        with pytest.raises(ConfigError):
            Server(store, b"s" * 40, signup=mode)
    finally:
        store.close()


# -- cookies ------------------------------------------------------------------------------


def test_the_session_cookie_is_httponly_samesite_lax_and_lasts_the_absolute_expiry(harness: Harness) -> None:
    add_account(harness)
    r = signin(harness)
    assert r.status_code == 200, r.text
    c = session_cookie(r)
    assert c["httponly"] is True
    assert c["samesite"].lower() == "lax"
    assert c["path"] == "/"
    assert not c["secure"]  # plain http, no --secure-cookies
    assert abs(int(c["max-age"]) - harness.accounts.session_absolute) <= 5
    assert len(c.value) >= 40  # 256 random bits
    assert c.value not in r.text  # the id is only in the cookie, never in the body


def test_the_cookie_is_secure_over_https(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(base_url="https://testserver")
    add_account(h)
    r = h.http.post(
        "/api/auth/signin", json={"username": "ada", "password": PASSWORD}, headers={"origin": "https://testserver"}
    )
    assert r.status_code == 200, r.text
    assert session_cookie(r)["secure"] is True


def test_secure_cookies_marks_it_secure_on_plain_http(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(secure_cookies=True)
    add_account(h)
    r = signin(h)
    assert r.status_code == 200 and session_cookie(r)["secure"] is True


def test_a_garbage_or_huge_cookie_is_simply_not_signed_in(harness: Harness) -> None:
    for value in (b"x" * 5000, b"nonsense", "\u00e9t\u00e9".encode(), b"a\x01b"):
        harness.http.cookies.clear()
        r = harness.http.get("/api/auth/me", headers={"cookie": b"cowrite_session=" + value})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        r = harness.http.get("/api/docs", headers={"cookie": b"cowrite_session=" + value})
        assert r.status_code == 401


# -- sign-in failures -------------------------------------------------------------------


def test_wrong_password_and_unknown_user_get_the_same_answer(harness: Harness) -> None:
    add_account(harness)
    wrong = signin(harness, "ada", "not the password")
    unknown = signin(harness, "nobody-here", PASSWORD)
    malformed = signin(harness, "NOT A USERNAME!", PASSWORD)
    for r in (wrong, unknown, malformed):
        assert r.status_code == 401
        assert "set-cookie" not in r.headers
    assert wrong.json() == unknown.json() == malformed.json()
    assert wrong.json()["error"] == "signin_failed"


def test_a_disabled_account_cannot_sign_in_and_looks_like_a_wrong_password(harness: Harness) -> None:
    add_account(harness)
    harness.accounts.disable("ada")
    r = signin(harness)
    assert r.status_code == 401 and r.json() == signin(harness, "ada", "not the password").json()


def test_repeated_failures_are_throttled_with_retry_after(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(throttle=Throttle(account_failures=3, address_failures=50, base_delay=30))
    add_account(h)
    codes = [signin(h, "ada", f"wrong password {i}").status_code for i in range(5)]
    assert codes[:2] == [401, 401] and codes[-1] == 429, codes  # a few tries, then a wait
    r = signin(h)  # even the right password waits: the attacker learns nothing by trying it
    assert r.status_code == 429 and r.json()["error"] == "throttled"
    assert 30 <= int(r.headers["retry-after"]) <= 900  # backoff from base_delay, capped: never a lockout
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ada"},
        {"password": PASSWORD},
        {"username": ["ada"], "password": PASSWORD},
        {"username": "ada", "password": 12345678},
        {"username": None, "password": None},
    ],
)
def test_malformed_sign_in_bodies_are_400(harness: Harness, body: dict[str, Any]) -> None:
    r = harness.http.post("/api/auth/signin", json=body, headers=ORIGIN)
    assert r.status_code == 400 and r.json()["error"] == "bad_request"


def test_a_body_that_is_not_json_is_400(harness: Harness) -> None:
    r = harness.http.post(
        "/api/auth/signin", content=b"{nope", headers={**ORIGIN, "content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"] == "bad_request"


# -- fixation, sign-out -----------------------------------------------------------------


def test_a_cookie_planted_before_sign_in_is_not_the_session_after(harness: Harness) -> None:
    add_account(harness)
    harness.http.cookies.set("cowrite_session", "planted-by-an-attacker-0123456789abcdef0123456")
    r = signin(harness)
    new = session_cookie(r).value
    assert new != "planted-by-an-attacker-0123456789abcdef0123456"
    assert me(harness, "planted-by-an-attacker-0123456789abcdef0123456").status_code == 401
    assert me(harness, new).status_code == 200


def test_signing_in_again_ends_the_session_the_request_came_with(harness: Harness) -> None:
    add_account(harness)
    add_account(harness, "eve")
    first = session_cookie(signin(harness)).value
    harness.http.cookies.clear()
    harness.http.cookies.set("cowrite_session", first)
    second = session_cookie(signin(harness, "eve")).value
    assert second != first
    assert me(harness, first).status_code == 401  # the old session is dead, not just replaced
    assert me(harness, second).json()["user"] == "eve"


def test_sign_out_ends_the_session_and_clears_the_cookie(harness: Harness) -> None:
    add_account(harness)
    body = signin(harness).json()
    sid = harness.http.cookies["cowrite_session"]
    refused = harness.http.post("/api/auth/signout")  # no CSRF token: another site cannot sign you out
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    assert me(harness, sid).status_code == 200
    r = harness.http.post("/api/auth/signout", headers={"x-csrf-token": body["csrf_token"]}, cookies={"cowrite_session": sid})
    assert r.status_code == 204
    cleared = session_cookie(r)
    assert cleared.value == "" and cleared["max-age"] == "0"
    assert me(harness, sid).status_code == 401
    assert harness.http.get("/api/docs", cookies={"cowrite_session": sid}).status_code == 401
    harness.http.cookies.clear()
    assert harness.http.post("/api/auth/signout").status_code == 204  # signed out already: nothing to end


def test_sign_out_everywhere_ends_every_session_of_the_account(harness: Harness) -> None:
    add_account(harness)
    add_account(harness, "bob")
    sessions = [harness.accounts.sign_in("ada", PASSWORD, "10.0.0.1")[0] for _ in range(2)]
    bob = harness.accounts.sign_in("bob", PASSWORD, "10.0.0.2")[0]
    csrf = me(harness, sessions[0]).json()["csrf_token"]
    r = harness.http.post("/api/auth/signout-all", headers={"x-csrf-token": csrf}, cookies={"cowrite_session": sessions[0]})
    assert r.status_code == 204 and session_cookie(r).value == ""
    assert [me(harness, s).status_code for s in sessions] == [401, 401]
    assert me(harness, bob).status_code == 200  # someone else's session is untouched


def test_signout_all_and_password_need_a_session(harness: Harness) -> None:
    for path in ("/api/auth/signout-all", "/api/auth/password"):
        r = harness.http.post(path, json={"old": "a", "new": "b"})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"


# -- password change --------------------------------------------------------------------


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(harness: Harness) -> None:
    add_account(harness)
    other = harness.accounts.sign_in("ada", PASSWORD, "10.0.0.1")[0]
    body = signin(harness).json()
    sid = harness.http.cookies["cowrite_session"]
    csrf = {"x-csrf-token": body["csrf_token"]}
    wrong = harness.http.post("/api/auth/password", json={"old": "not it at all", "new": "a new password"}, headers=csrf)
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_password"
    assert me(harness, other).status_code == 200  # a wrong old password changes nothing
    weak = harness.http.post("/api/auth/password", json={"old": PASSWORD, "new": "short"}, headers=csrf, cookies={"cowrite_session": sid})
    assert weak.status_code == 400 and weak.json()["error"] == "bad_account"
    no_csrf = harness.http.post("/api/auth/password", json={"old": PASSWORD, "new": "a new password"}, cookies={"cowrite_session": sid})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"] == "csrf"
    r = harness.http.post(
        "/api/auth/password", json={"old": PASSWORD, "new": "a new password"}, headers=csrf, cookies={"cowrite_session": sid}
    )
    assert r.status_code == 204, r.text
    assert me(harness, other).status_code == 401
    assert me(harness, sid).status_code == 200
    harness.http.cookies.clear()
    assert signin(harness).status_code == 401
    assert signin(harness, "ada", "a new password").status_code == 200


# -- hostile input ------------------------------------------------------------------------

SQL = [
    "' OR '1'='1",
    "ada' --",
    "x'); DROP TABLE accounts; --",
    "ada\" OR 1=1 --",
    "%' OR username LIKE '%",
]


@pytest.mark.parametrize("username", SQL)
def test_sql_in_a_username_is_refused_at_sign_up_and_fails_sign_in(make_harness: Callable[..., Harness], username: str) -> None:
    h = make_harness(signup="open")
    add_account(h)
    r = signup(h, username)
    assert r.status_code == 400 and r.json()["error"] == "bad_account"
    r = signin(h, username)
    assert r.status_code == 401 and r.json()["error"] == "signin_failed"
    assert [a.username for a in h.accounts.accounts()] == ["ada"]
    assert signin(h).status_code == 200  # the table is still there


@pytest.mark.parametrize(
    "name",
    [
        "'); DELETE FROM accounts; --",
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(document.cookie)">',
        "Robert'); DROP TABLE sessions;--",
    ],
)
def test_hostile_display_names_are_stored_and_returned_verbatim_as_json(
    make_harness: Callable[..., Harness], name: str
) -> None:
    h = make_harness(signup="open")
    r = signup(h, "mallory", name=name)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert h.http.get("/api/auth/me").json()["name"] == name
    assert h.accounts.account("mallory") is not None and h.accounts.account("mallory").name == name  # type: ignore[union-attr]
    assert h.accounts.count() == 1


@pytest.mark.parametrize("name", ["bidi \u202eevil", "new\nline", "x" * 300])
def test_display_names_that_would_mislead_are_refused(make_harness: Callable[..., Harness], name: str) -> None:
    h = make_harness(signup="open")
    r = signup(h, "mallory", name=name)
    assert r.status_code == 400 and r.json()["error"] == "bad_account"
    assert h.accounts.count() == 0


def test_a_guest_id_cannot_be_signed_up(make_harness: Callable[..., Harness]) -> None:
    """Guests are ``guest-<hex>`` (visible in history): an account must not take one over."""
    h = make_harness(signup="open")
    r = signup(h, "guest-0123456789abcdef")
    assert r.status_code == 400 and r.json()["error"] == "bad_account"


# -- invites made by an admin ----------------------------------------------------------------


def test_an_admin_makes_an_invite_that_signs_someone_up(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(signup="invite")
    add_account(h, "boss", admin=True)
    csrf = signin(h, "boss").json()["csrf_token"]
    assert h.http.post("/api/auth/invites").status_code == 403  # no CSRF token
    r = h.http.post("/api/auth/invites", headers={"x-csrf-token": csrf})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert r.json()["expires_at"] > h.accounts.clock() + 86400
    h.http.cookies.clear()
    assert signup(h, "newcomer", invite=code).status_code == 201


def test_only_admins_make_invites(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(signup="invite")
    assert h.http.post("/api/auth/invites").status_code == 401
    add_account(h, "ada")
    csrf = signin(h, "ada").json()["csrf_token"]
    r = h.http.post("/api/auth/invites", headers={"x-csrf-token": csrf})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert h.accounts.invites() == []
    h.http.cookies.clear()
    r = h.http.post("/api/auth/invites", headers=h.auth())  # an owner token is not an admin account
    assert r.status_code == 401
