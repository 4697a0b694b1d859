"""Which server the client connects to next, and how long it waits first.

Any server of a cluster serves any document, so a client given several server URLs
can use whichever answers.  The rules, kept apart from the network loop so they can
be checked without one:

* The URLs are tried in the order given, starting with the first.
* A failed attempt (refused, unreachable, timed out, or dropped before the JOIN was
  answered, or refused with a back-off such as a rate limit) moves on to the next
  URL.  A *round* is one failed attempt at every URL; the wait before each attempt
  is :func:`backoff_delay` of the number of rounds that failed in a row (full
  jitter), so no URL is tried twice before every other one was, and a cluster that
  is down entirely is asked less and less often, up to ``cap``.
* A joined connection that the server or the network ends also moves on to the
  next URL (its server may be gone: a killed server's port refuses at once, but a
  partitioned one would hang for ``connect_timeout``), after a short jitter so that
  a dead server's clients do not all arrive at the next one in the same instant.
  The rounds count from zero again: the cluster was reachable a moment ago.
* A reconnect the client asks for itself (a fresh JOIN, a smaller frame budget)
  stays on the same URL: that server is fine.
* A joined connection the server ends with a refusal to back off from (a rate
  limit, a store outage: ``ERROR internal``) counts as a failed attempt of a fresh
  round: the next URL, after a short delay for several URLs, a longer one for one.

A server that comes back is used again: every URL is tried once per round, and a
client that loses its server walks on through the list, back to the earlier ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from ..errors import ConfigError

__all__ = ["Failover", "backoff_delay"]


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt))``."""
    return rand() * min(cap, base * 2.0 ** min(attempt, 64))


class Failover:
    """The client's position in its list of server URLs and its backoff (see the module
    docstring).  ``rand`` draws the jitter (seed it to make the delays reproducible)."""

    __slots__ = ("_base", "_cap", "_index", "_rand", "_tried", "_urls", "rounds")

    def __init__(
        self, urls: Sequence[str], base: float, cap: float, rand: Callable[[], float] = random.random
    ) -> None:
        if isinstance(urls, str) or not urls:
            raise ConfigError("expected a non-empty list of server URLs")
        self._urls = tuple(urls)
        self._base = base
        self._cap = cap
        self._rand = rand
        self._index = 0
        self._tried = 0  # failed attempts in the current round
        self.rounds = 0
        """Rounds (one failed attempt at every URL) that failed in a row."""

    @property
    def urls(self) -> tuple[str, ...]:
        return self._urls

    @property
    def url(self) -> str:
        """The URL of the next attempt (of the current connection while one is open)."""
        return self._urls[self._index]

    def joined(self) -> None:
        """A connection to :attr:`url` was joined (the server answered the JOIN): the
        cluster was reachable, so however that connection ends, rounds count from zero."""
        self._tried = 0
        self.rounds = 0

    def failed(self) -> float:
        """The attempt at :attr:`url` failed: move to the next URL; the delay to wait first."""
        self._advance()
        self._tried += 1
        if self._tried >= len(self._urls):
            self._tried = 0
            self.rounds += 1
        return self._delay()

    def dropped(self) -> float:
        """A joined connection to :attr:`url` was ended by the server or the network:
        move to the next URL, backoff from zero; the (short) delay to wait first."""
        self._advance()
        self._tried = 0
        self.rounds = 0
        return self._delay()

    def reconnect(self) -> float:
        """The client drops a healthy connection on purpose: the same URL again, soon."""
        self._tried = 0
        self.rounds = 0
        return self._delay()

    def _advance(self) -> None:
        self._index = (self._index + 1) % len(self._urls)

    def _delay(self) -> float:
        return backoff_delay(self.rounds, self._base, self._cap, self._rand)
