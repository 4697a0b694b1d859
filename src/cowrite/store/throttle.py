"""Sign-in throttle counters as a store holds them: the record, and what every backend checks.

The accounts service's :class:`~cowrite.accounts.Throttle` counts failed sign-ins per
account and per client address.  Several servers of a cluster answer the same
attacker (a load balancer spreads his guesses over all of them), so the counts live
in the store every server shares, never in one process: one row per ``(scope, key)``,
e.g. ``("signin:account", "ada")`` or ``("signin:address", "203.0.113.0")``.

The store knows nothing of the backoff rule.  :meth:`~cowrite.store.Store.update_throttle`
reads a row and writes what the caller's ``change`` makes of it in one transaction,
under a lock that every server's update of that row waits on, so two servers counting
a failure of one key at the same moment both count it.  The store checks only types
and bounds (:class:`~cowrite.errors.InvalidArgument`, nothing stored).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument

__all__ = [
    "MAX_THROTTLE_KEY",
    "MAX_THROTTLE_KEYS",
    "THROTTLE_COLS",
    "ThrottleChange",
    "ThrottleRecord",
    "check_throttle_key",
    "check_throttle_keys",
    "check_throttle_record",
    "check_throttle_scope",
    "throttle_from_row",
]

MAX_THROTTLE_KEY = 128
"""Longest scope or key (the throttle cuts longer usernames before counting them)."""
MAX_THROTTLE_KEYS = 64
"""Most keys one :meth:`~cowrite.store.Store.throttle_records` call reads."""

THROTTLE_COLS = "key, failures, failed_at, wait_until"
"""The column list every backend selects, in :func:`throttle_from_row`'s order."""


@dataclass(frozen=True, slots=True)
class ThrottleRecord:
    """How often one key failed lately: ``failures`` (decayed, as of ``at``) and the
    time before which no further attempt may run (``until``), both Unix seconds."""

    failures: float
    at: float
    until: float


ThrottleChange = Callable[[ThrottleRecord | None], ThrottleRecord | None]
"""What an update makes of a row: given the stored record (None: none), the record to
store (None: delete it)."""


def _check_name(what: str, value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_THROTTLE_KEY or "\0" in value:
        raise InvalidArgument(f"a throttle {what} is a string of 1..{MAX_THROTTLE_KEY} characters without NUL")
    return value


def check_throttle_scope(value: object) -> str:
    """A scope: which counter (``"signin:account"``, ``"signup:address"``, ...)."""
    return _check_name("scope", value)


def check_throttle_keys(keys: object) -> list[str]:
    """The keys of one read: a sequence of 0..64 valid keys (duplicates read once)."""
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Sequence):
        raise InvalidArgument("throttle keys are a sequence of strings")
    if len(keys) > MAX_THROTTLE_KEYS:
        raise InvalidArgument(f"at most {MAX_THROTTLE_KEYS} throttle keys at once")
    return sorted({_check_name("key", k) for k in keys})


def check_throttle_key(value: object) -> str:
    """One key: an account name or an address (1..128 characters, no NUL)."""
    return _check_name("key", value)


def _finite(what: str, value: object) -> None:
    if type(value) not in (int, float) or not math.isfinite(float(value)) or float(value) < 0:  # type: ignore[arg-type]
        raise InvalidArgument(f"a throttle record's {what} must be a finite, non-negative number, not {value!r}")


def check_throttle_record(record: object) -> ThrottleRecord:
    """``record`` if it is a well-formed throttle record."""
    if not isinstance(record, ThrottleRecord):
        raise InvalidArgument(f"a throttle change returns a ThrottleRecord or None, not {type(record).__name__}")
    _finite("failures", record.failures)
    _finite("at", record.at)
    _finite("until", record.until)
    return record


def throttle_from_row(row: tuple[Any, ...] | list[Any]) -> tuple[str, ThrottleRecord]:
    """A row of :data:`THROTTLE_COLS` as ``(key, record)`` (either backend's value types)."""
    return str(row[0]), ThrottleRecord(float(row[1]), float(row[2]), float(row[3]))
