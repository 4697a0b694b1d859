"""Password rules and argon2id hashing (cowrite.accounts.passwords)."""

from __future__ import annotations

import unicodedata

import argon2
import pytest
from accounts_helpers import CHEAP, OTHER, Argon2Calls

from cowrite.accounts import MAX_PASSWORD, MIN_PASSWORD, RFC_9106, InvalidAccount, Passwords, check_password


def test_the_default_is_rfc_9106_second_recommendation() -> None:
    """argon2id, t=3, m=64 MiB, p=4: the RFC's option for memory-constrained servers."""
    p = Passwords()
    assert p.parameters == RFC_9106 == argon2.profiles.RFC_9106_LOW_MEMORY
    assert (p.parameters.type, p.parameters.time_cost, p.parameters.memory_cost, p.parameters.parallelism) == (
        argon2.Type.ID, 3, 65536, 4
    )
    stored = p.hash("a real password")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert argon2.extract_parameters(stored) == RFC_9106
    assert p.verify(stored, "a real password")


def test_only_argon2id() -> None:
    argon2i = argon2.Parameters(
        type=argon2.Type.I, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=8, parallelism=1
    )
    with pytest.raises(InvalidAccount, match="argon2id"):
        Passwords(argon2i)


def test_hash_and_verify(hasher: Passwords) -> None:
    stored = hasher.hash("correct horse")
    assert "correct horse" not in stored
    assert hasher.verify(stored, "correct horse")
    assert not hasher.verify(stored, "correct hors")
    assert not hasher.verify(stored, "Correct horse")
    assert not hasher.verify(stored, "correct horse ")
    assert hasher.hash("correct horse") != stored  # a random salt each time
    assert "correct" not in repr(hasher)


@pytest.mark.parametrize("length", [MIN_PASSWORD, 100, MAX_PASSWORD])
def test_length_bounds_accept(length: int, hasher: Passwords) -> None:
    password = ("ab" * length)[:length]
    assert hasher.verify(hasher.hash(password), password)


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("", "8..1024"),
        ("x" * (MIN_PASSWORD - 1), "8..1024"),
        ("x" * (MAX_PASSWORD + 1), "at most 1024"),
        ("x" * 10_000_000, "at most 1024"),
        (" " * 12, "whitespace"),
        ("\t\n \u00a0\u3000   ", "whitespace"),
        ("abcdefgh\ud800", "surrogate"),
        (None, "must be a string"),
        (b"bytes password", "must be a string"),
    ],
)
def test_bad_passwords_are_refused_before_hashing(bad: object, reason: str, hasher: Passwords, argon2_calls: Argon2Calls) -> None:
    with pytest.raises(InvalidAccount, match=reason):
        hasher.hash(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidAccount, match=reason):
        check_password(bad)
    assert argon2_calls.calls == []


def test_verifying_an_impossible_password_costs_nothing(hasher: Passwords, argon2_calls: Argon2Calls) -> None:
    """A megabyte 'password' at sign-in is refused without argon2 work (it cannot match anything)."""
    stored = hasher.hash("correct horse")
    argon2_calls.calls.clear()
    assert not hasher.verify(stored, "x" * (MAX_PASSWORD + 1))
    assert not hasher.verify(stored, 12345)  # type: ignore[arg-type]
    assert not hasher.verify(stored, "bad\udcff surrogate")
    hasher.burn("x" * 10_000)
    assert argon2_calls.calls == []


def test_passwords_are_nfkc_normalised(hasher: Passwords) -> None:
    composed = "caf\u00e9 au lait"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert hasher.verify(hasher.hash(composed), decomposed)
    assert hasher.verify(hasher.hash(decomposed), composed)
    assert check_password(decomposed) == composed


def test_needs_rehash_when_the_parameters_change() -> None:
    cheap, other = Passwords(CHEAP), Passwords(OTHER)
    stored = cheap.hash("correct horse")
    assert not cheap.needs_rehash(stored)
    assert other.needs_rehash(stored)
    assert other.verify(stored, "correct horse")  # old hashes still verify: parameters are in the hash
    assert other.needs_rehash("not a hash at all")


def test_a_stored_hash_that_is_not_argon2_verifies_nothing(hasher: Passwords, argon2_calls: Argon2Calls) -> None:
    for junk in ["", "plaintext-password", "$argon2id$v=19$m=8,t=1,p=1$broken", "$2b$12$" + "x" * 53]:
        argon2_calls.calls.clear()
        assert not hasher.verify(junk, "plaintext-password")
        assert argon2_calls.count("verify") >= 1  # still costs a verification (the dummy's)


def test_burn_does_a_real_verification_with_the_same_parameters(hasher: Passwords, argon2_calls: Argon2Calls) -> None:
    hasher.burn("some guess")
    hasher.burn("another guess")
    verifies = [h for kind, h in argon2_calls.calls if kind == "verify"]
    assert len(verifies) == 2
    assert verifies[0] == verifies[1]  # one dummy, made once
    assert argon2.extract_parameters(verifies[0]) == CHEAP == hasher.parameters
