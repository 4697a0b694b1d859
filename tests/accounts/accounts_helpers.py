"""Helpers shared by the accounts tests: cheap argon2 parameters, a clock the test moves,
a spy on the real argon2 calls, and hostile strings."""

from __future__ import annotations

import argon2
import pytest

# argon2id like the default, but cheap enough for hundreds of hashes per test run
CHEAP = argon2.Parameters(
    type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=8, parallelism=1
)
OTHER = argon2.Parameters(
    type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2, memory_cost=16, parallelism=1
)
PASSWORD = "correct horse battery"


class Clock:
    """Unix seconds that move only when the test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Argon2Calls:
    """Every real argon2 verification and hash made while installed: ``(kind, hash)``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str]] = []
        verify, hash_ = argon2.PasswordHasher.verify, argon2.PasswordHasher.hash

        def spy_verify(hasher: argon2.PasswordHasher, stored: str | bytes, password: str | bytes) -> bool:
            self.calls.append(("verify", str(stored)))
            return verify(hasher, stored, password)

        def spy_hash(hasher: argon2.PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
            result = hash_(hasher, password, salt=salt)
            self.calls.append(("hash", result))
            return result

        monkeypatch.setattr(argon2.PasswordHasher, "verify", spy_verify)
        monkeypatch.setattr(argon2.PasswordHasher, "hash", spy_hash)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


SQL_INJECTIONS = [
    "a'; DROP TABLE accounts; --",
    "robert'); DELETE FROM sessions; --",
    "' OR '1'='1",
    'x" OR ""="',
    "ada' --",
    "1; SELECT * FROM accounts",
]
