"""Sign-in throttling: exponential backoff per account and per client address.

Online password guessing is slowed down on two keys at once: the account (one
victim, guessed from many addresses) and the address (one attacker spraying many
accounts).  Each key counts its failures; once a key has ``free`` of them, every
further failure makes the next attempt wait ``base_delay * 2 ** (failures - free)``
seconds, capped at ``max_delay`` (15 minutes by default).  Counts decay by half
every ``half_life`` seconds, so an idle key is forgotten, and a successful sign-in
clears the *account's* count (not the address's: an attacker must not reset his own
counter by signing in to an account of his between guesses).

It is backoff, never a lockout: at worst a victim whose account is being attacked
waits ``max_delay`` for one attempt, and the attacker gains nothing from making
the wait longer.  An IPv6 address counts as its /64 (what one host usually gets).

Where the counts live decides what an attacker gains from more servers.  With a
``store`` (what :class:`~cowrite.accounts.Accounts` passes: SQLite for one server,
PostgreSQL for a cluster) they are rows of the store (:mod:`cowrite.store.throttle`),
so every server behind a load balancer reads and raises the same counts, and guesses
spread over N servers are slowed down as if they all hit one.  Each failure is one
read-modify-write under the row's lock, so two servers counting at the same moment both
count.  A store that cannot be reached is an error (a
:class:`~cowrite.errors.StoreError`), never "no failures yet": the attempt is refused
(the server answers 503), so an outage does not open the door to unlimited guesses.
Rows untouched for :data:`FORGET_HALF_LIVES` half-lives (their count has decayed to
nothing) are purged now and then.  Without a store (tests, a throwaway service) the
counts are in memory, bounded: each table holds at most ``max_entries`` keys and
forgets the least recently failed first.

Sign-ups are throttled per address by a second ``Throttle`` of the accounts service
(:meth:`Throttle.address_attempt`, its own ``name``): each one costs a 64 MiB argon2
hash, so a mass sign-up from one address must back off too.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from ..errors import ConfigError, StoreError
from ..store.base import Store
from ..store.throttle import ThrottleChange, ThrottleRecord

__all__ = ["FORGET_HALF_LIVES", "Throttle", "address_key"]

_MAX_KEY = 128
FORGET_HALF_LIVES = 20
"""A stored count untouched for this many half-lives (decayed to a millionth) is purged."""
PURGE_INTERVAL = 3600.0
"""Seconds between two purges of forgotten counts from the store (at a failure)."""
_NO_KEY = "(none)"

log = logging.getLogger(__name__)


def address_key(address: str) -> str:
    """The key an address is counted under: an IPv6 address's /64, an IPv4 address as is,
    anything else (a test client's name) cut to 128 characters."""
    text = address[:_MAX_KEY] if isinstance(address, str) else ""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _stored_key(key: str) -> str:
    """``key`` as a store can hold it: at most 128 characters, valid UTF-8 without NUL,
    never empty (a request without a client address, an empty username)."""
    text = key[:_MAX_KEY].encode("utf-8", "replace").decode("utf-8").replace("\0", "\ufffd")
    return text or _NO_KEY


class _Counts(Protocol):
    """Where a throttle's counts live: in memory, or in the store every server shares."""

    def records(self, scope: str, keys: list[str]) -> dict[str, ThrottleRecord]: ...

    def update(self, scope: str, key: str, change: ThrottleChange) -> None: ...

    def forget(self, before: float) -> None: ...


class _MemoryCounts:
    """The counts of one process, bounded: at most ``max_entries`` keys per scope, the
    least recently failed forgotten first."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self.tables: dict[str, OrderedDict[str, ThrottleRecord]] = {}

    def records(self, scope: str, keys: list[str]) -> dict[str, ThrottleRecord]:
        with self._lock:
            table = self.tables.get(scope)
            if table is None:
                return {}
            return {k: table[k] for k in keys if k in table}

    def update(self, scope: str, key: str, change: ThrottleChange) -> None:
        with self._lock:
            table = self.tables.setdefault(scope, OrderedDict())
            new = change(table.pop(key, None))
            if new is None:
                return
            table[key] = new  # the most recent at the end
            while len(table) > self.max_entries:
                table.popitem(last=False)

    def forget(self, before: float) -> None:
        pass  # bounded by max_entries instead

    def __len__(self) -> int:
        with self._lock:
            return sum(len(t) for t in self.tables.values())


class _StoreCounts:
    """The counts in the store, shared by every server that uses it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def records(self, scope: str, keys: list[str]) -> dict[str, ThrottleRecord]:
        return self.store.throttle_records(scope, keys)

    def update(self, scope: str, key: str, change: ThrottleChange) -> None:
        self.store.update_throttle(scope, key, change)

    def forget(self, before: float) -> None:
        self.store.purge_throttle(before=before)


class Throttle:
    """Counts failed sign-ins and says how long the next attempt must wait.  Thread-safe.

    ``store``: keep the counts there, shared by every server of the store (else in this
    process's memory, at most ``max_entries`` keys per table).  ``name`` tells two
    throttles on one store apart (sign-ins, sign-ups).  ``clock`` is Unix seconds
    (injectable for tests).  With a store, every method may raise the store's
    :class:`~cowrite.errors.StoreError`: refuse the attempt then.
    """

    def __init__(
        self,
        *,
        account_failures: int = 5,
        address_failures: int = 20,
        base_delay: float = 1.0,
        max_delay: float = 900.0,
        half_life: float = 1800.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        name: str = "signin",
    ) -> None:
        if account_failures < 1 or address_failures < 1 or max_entries < 1:
            raise ConfigError("throttle: failure counts and max_entries must be at least 1")
        if not 0 < base_delay <= max_delay or half_life <= 0:
            raise ConfigError("throttle: need 0 < base_delay <= max_delay and half_life > 0")
        if not isinstance(name, str) or not 1 <= len(name) <= 32 or ":" in name:
            raise ConfigError("throttle: a name is 1..32 characters without ':'")
        self.account_failures = account_failures
        self.address_failures = address_failures
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.half_life = float(half_life)
        self.max_entries = max_entries
        self._clock = clock
        self._memory: _MemoryCounts | None = None
        self._counts: _Counts
        if store is None:
            self._memory = self._counts = _MemoryCounts(max_entries)
        else:
            self._counts = _StoreCounts(store)
        self._accounts = f"{name}:account"
        self._addresses = f"{name}:address"
        self._purge_lock = threading.Lock()
        self._purged_at = float("-inf")

    @property
    def shared(self) -> bool:
        """Whether the counts are in a store (shared by its servers), not in memory."""
        return self._memory is None

    def decayed(self, failures: float, elapsed: float) -> float:
        """``failures`` after ``elapsed`` seconds of decay (halved every ``half_life``)."""
        return float(failures * 0.5 ** (max(0.0, elapsed) / self.half_life))

    # -- the rule ----------------------------------------------------------------------

    def _wait(self, record: ThrottleRecord | None, now: float) -> float:
        if record is None:
            return 0.0
        return min(max(0.0, record.until - now), self.max_delay)

    def _failure(self, free: int, now: float) -> ThrottleChange:
        """One more failure of a key that is let through ``free`` failures."""

        def change(record: ThrottleRecord | None) -> ThrottleRecord:
            failures = 1.0 if record is None else self.decayed(record.failures, now - record.at) + 1.0
            delay = 0.0
            # compared rounded: the decay during the seconds of a burst (a few millionths of a
            # failure per second) must not let the 5th failure slip by as "4.9999"
            if failures >= free - 0.5:
                delay = min(self.max_delay, self.base_delay * 2.0 ** max(0.0, failures - free))
            return ThrottleRecord(failures, now, now + delay)

        return change

    def _waits(self, keys: list[tuple[str, str]], now: float) -> float:
        """The longest wait of ``(scope, key)`` pairs."""
        wait = 0.0
        by_scope: dict[str, list[str]] = {}
        for scope, key in keys:
            by_scope.setdefault(scope, []).append(key)
        for scope, wanted in by_scope.items():
            for record in self._counts.records(scope, wanted).values():
                wait = max(wait, self._wait(record, now))
        return wait

    def _fail(self, keys: list[tuple[str, str, int]], now: float) -> None:
        for scope, key, free in keys:
            self._counts.update(scope, key, self._failure(free, now))
        with self._purge_lock:
            due = now - self._purged_at >= PURGE_INTERVAL
            if due:
                self._purged_at = now
        if due:
            try:
                self._counts.forget(now - FORGET_HALF_LIVES * self.half_life)
            except StoreError as exc:  # housekeeping only: the failures above are counted
                log.warning("purging old sign-in throttle counts failed: %s", exc)

    # -- what the accounts service asks --------------------------------------------------

    def retry_after(self, account: str, address: str | None) -> float:
        """Seconds before an attempt on ``account`` from ``address`` may run (0: now).
        ``address`` ``None``: the account alone counts (a request with no client address)."""
        keys = [(self._accounts, _stored_key(account))]
        if address is not None:
            keys.append((self._addresses, _stored_key(address_key(address))))
        return self._waits(keys, self._clock())

    def failed(self, account: str, address: str | None) -> None:
        """Count a failed attempt against the account, and the address unless ``None``."""
        keys = [(self._accounts, _stored_key(account), self.account_failures)]
        if address is not None:
            keys.append((self._addresses, _stored_key(address_key(address)), self.address_failures))
        self._fail(keys, self._clock())

    def address_retry_after(self, address: str) -> float:
        """Seconds before the next attempt from ``address`` may run, counting the address
        alone (sign-ups: there is no account yet to count against)."""
        return self._waits([(self._addresses, _stored_key(address_key(address)))], self._clock())

    def address_attempt(self, address: str) -> None:
        """Count an attempt against ``address`` alone (every sign-up costs a password hash,
        so each one counts, not only failures)."""
        self._fail([(self._addresses, _stored_key(address_key(address)), self.address_failures)], self._clock())

    def succeeded(self, account: str) -> None:
        """A sign-in succeeded: forget the account's failures (the address's stay)."""
        self._counts.update(self._accounts, _stored_key(account), lambda _: None)

    def __len__(self) -> int:
        """Keys remembered in memory (both tables; 0 when the counts are in a store)."""
        return 0 if self._memory is None else len(self._memory)
