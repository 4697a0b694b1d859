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

The state is in memory, bounded: each table holds at most ``max_entries`` keys and
forgets the least recently failed first.

Sign-ups are throttled per address by a second ``Throttle`` of the accounts service
(:meth:`Throttle.address_attempt`): each one costs a 64 MiB argon2 hash, so a mass
sign-up from one address must back off too.  One process is enough for cowrite's
single server; a cluster would keep these counters in the shared store.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["Throttle", "address_key"]

_MAX_KEY = 128


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


@dataclass(slots=True)
class _Count:
    failures: float
    at: float
    """When ``failures`` was last updated."""
    until: float
    """No attempt before this time."""


class _Table:
    def __init__(self, free: int, owner: Throttle) -> None:
        self.free = free
        self.owner = owner
        self.entries: OrderedDict[str, _Count] = OrderedDict()

    def wait(self, key: str, now: float) -> float:
        entry = self.entries.get(key)
        if entry is None:
            return 0.0
        return min(max(0.0, entry.until - now), self.owner.max_delay)

    def fail(self, key: str, now: float) -> None:
        entry = self.entries.pop(key, None)
        failures = 1.0 if entry is None else self.owner.decayed(entry.failures, now - entry.at) + 1.0
        delay = 0.0
        if failures >= self.free - 1e-6:  # the decay of a few seconds must not let the 5th slip by
            delay = min(self.owner.max_delay, self.owner.base_delay * 2.0 ** max(0.0, failures - self.free))
        self.entries[key] = _Count(failures, now, now + delay)  # the most recent at the end
        while len(self.entries) > self.owner.max_entries:
            self.entries.popitem(last=False)


class Throttle:
    """Counts failed sign-ins and says how long the next attempt must wait.  Thread-safe.

    ``clock`` is Unix seconds (injectable for tests).
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
    ) -> None:
        if account_failures < 1 or address_failures < 1 or max_entries < 1:
            raise ConfigError("throttle: failure counts and max_entries must be at least 1")
        if not 0 < base_delay <= max_delay or half_life <= 0:
            raise ConfigError("throttle: need 0 < base_delay <= max_delay and half_life > 0")
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.half_life = float(half_life)
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts = _Table(account_failures, self)
        self._addresses = _Table(address_failures, self)

    def decayed(self, failures: float, elapsed: float) -> float:
        """``failures`` after ``elapsed`` seconds of decay (halved every ``half_life``)."""
        return float(failures * 0.5 ** (max(0.0, elapsed) / self.half_life))

    def retry_after(self, account: str, address: str | None) -> float:
        """Seconds before an attempt on ``account`` from ``address`` may run (0: now).
        ``address`` ``None``: the account alone counts (a request with no client address)."""
        now = self._clock()
        with self._lock:
            wait = self._accounts.wait(account[:_MAX_KEY], now)
            if address is not None:
                wait = max(wait, self._addresses.wait(address_key(address), now))
            return wait

    def failed(self, account: str, address: str | None) -> None:
        """Count a failed attempt against the account, and the address unless ``None``."""
        now = self._clock()
        with self._lock:
            self._accounts.fail(account[:_MAX_KEY], now)
            if address is not None:
                self._addresses.fail(address_key(address), now)

    def address_retry_after(self, address: str) -> float:
        """Seconds before the next attempt from ``address`` may run, counting the address
        alone (sign-ups: there is no account yet to count against)."""
        now = self._clock()
        with self._lock:
            return self._addresses.wait(address_key(address), now)

    def address_attempt(self, address: str) -> None:
        """Count an attempt against ``address`` alone (every sign-up costs a password hash,
        so each one counts, not only failures)."""
        now = self._clock()
        with self._lock:
            self._addresses.fail(address_key(address), now)

    def succeeded(self, account: str) -> None:
        """A sign-in succeeded: forget the account's failures (the address's stay)."""
        with self._lock:
            self._accounts.entries.pop(account[:_MAX_KEY], None)

    def __len__(self) -> int:
        """Keys remembered (both tables)."""
        with self._lock:
            return len(self._accounts.entries) + len(self._addresses.entries)
