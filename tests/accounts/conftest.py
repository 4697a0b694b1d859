"""Fixtures for the accounts tests: a real SQLite store, a clock the test moves, cheap argon2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts_helpers import CHEAP, Argon2Calls, Clock

from cowrite.accounts import Accounts, Passwords, Throttle
from cowrite.store import SQLiteStore


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cowrite.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db_path) as s:
        yield s


@pytest.fixture
def hasher() -> Passwords:
    return Passwords(CHEAP)


@pytest.fixture
def accounts(store: SQLiteStore, hasher: Passwords, clock: Clock) -> Accounts:
    return Accounts(store, hasher=hasher, clock=clock, throttle=Throttle(clock=clock))


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> Argon2Calls:
    return Argon2Calls(monkeypatch)
