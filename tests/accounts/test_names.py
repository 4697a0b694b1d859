"""Usernames and display names (cowrite.accounts.names)."""

from __future__ import annotations

import re

import pytest
from accounts_helpers import SQL_INJECTIONS
from hypothesis import given
from hypothesis import strategies as st

from cowrite.accounts import (
    MAX_USERNAME,
    RESERVED_USERNAMES,
    InvalidAccount,
    check_display_name,
    check_new_username,
    has_control_or_bidi,
    normalize_username,
)
from cowrite.server import auth


@pytest.mark.parametrize("name", ["ada", "a", "0", "ada.lovelace", "a_b-c.d", "x" * MAX_USERNAME, "guestx", "guest"])
def test_valid_usernames(name: str) -> None:
    assert normalize_username(name) == name
    assert check_new_username(name) == name


@pytest.mark.parametrize("given_, expected", [("Ada", "ada"), ("ADA.LOVELACE", "ada.lovelace"), ("A_B-9", "a_b-9")])
def test_usernames_are_case_insensitive(given_: str, expected: str) -> None:
    assert normalize_username(given_) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "x" * (MAX_USERNAME + 1),
        " ada",
        "ada ",
        "ada lovelace",
        ".ada",
        "-ada",
        "_ada",
        "ada@example.org",
        "ada/../x",
        "ad\x00a",
        "ada\n",
        "\u212aelvin",  # KELVIN SIGN: str.lower() makes it an ASCII k
        "\u0130stanbul",  # İ: lower() makes it two characters
        "ａｄａ",  # fullwidth
        "аda",  # Cyrillic а
        "ada\u202e",
        "日本",
        *SQL_INJECTIONS,
    ],
)
def test_invalid_usernames_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(InvalidAccount) as info:
        normalize_username(bad)
    assert info.value.reason and isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [None, 7, b"ada", ["ada"]])
def test_usernames_must_be_strings(bad: object) -> None:
    with pytest.raises(InvalidAccount, match="must be a string"):
        normalize_username(bad)


@pytest.mark.parametrize("name", ["admin", "ADMIN", "Root", "owner", "cowrite", "system"])
def test_system_names_are_reserved_for_new_accounts(name: str) -> None:
    """``cowrite serve``'s owner token is user ``admin``: an account of that name would be it."""
    assert normalize_username(name) == name.lower() and name.lower() in RESERVED_USERNAMES
    with pytest.raises(InvalidAccount, match="reserved"):
        check_new_username(name)
    for near in (name.lower() + "1", "the-" + name.lower(), name.lower() + ".x"):
        assert check_new_username(near) == near  # only the names themselves


@pytest.mark.parametrize("name", ["guest-0123456789abcdef", "Guest-1", "guest-"])
def test_guest_names_are_reserved_for_new_accounts(name: str) -> None:
    assert normalize_username(name) == name.lower()  # looking one up is fine: it is just not an account
    with pytest.raises(InvalidAccount, match="reserved"):
        check_new_username(name)


@pytest.mark.parametrize("name", ["Ada", "Ada Lovelace 👩‍💻", "日本語の名前", "x" * 256, "O'Brien", *SQL_INJECTIONS])
def test_valid_display_names(name: str) -> None:
    assert check_display_name(name) == name


@pytest.mark.parametrize("bad", ["", "x" * 257, "a\x00b", "a\nb", "evil\u202etxt.exe", "a\u2066b", "a\u2028b", "\ud800", 5, None])
def test_invalid_display_names(bad: object) -> None:
    with pytest.raises(InvalidAccount):
        check_display_name(bad)


def test_the_server_shares_the_rules() -> None:
    """server.auth re-exports the one definition, and its token rules give the same reasons."""
    assert auth.has_control_or_bidi is has_control_or_bidi
    assert "has_control_or_bidi" in auth.__all__
    with pytest.raises(auth.AuthError, match="control or bidirectional"):
        auth.check_display_name("a\u202eb")
    assert auth.check_display_name("Ada") == "Ada"


_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@given(st.text(max_size=80))
def test_normalising_any_text(text: str) -> None:
    """Any input is either refused or turned into a canonical username: lowercase ASCII of the
    allowed form, a fixed point, and the same for every case spelling of the input."""
    try:
        name = normalize_username(text)
    except InvalidAccount:
        assert not (text.isascii() and _PATTERN.fullmatch(text.lower()))
        return
    assert _PATTERN.fullmatch(name)
    assert normalize_username(name) == name
    assert normalize_username(text.upper()) == normalize_username(text.swapcase()) == name
    assert name == text.lower() and len(name) == len(text)


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True))
def test_every_well_formed_name_is_accepted(text: str) -> None:
    name = normalize_username(text)
    assert name == text.lower()
    if not name.startswith("guest-") and name not in RESERVED_USERNAMES:
        assert check_new_username(text) == name
    else:
        with pytest.raises(InvalidAccount, match="reserved"):
            check_new_username(text)
