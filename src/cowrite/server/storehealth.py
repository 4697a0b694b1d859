"""The store breaker: while the store does not answer, this server acknowledges nothing.

An acknowledgement promises that an op is durable, so it may only follow a commit the
store confirmed.  When the store fails (connection refused or lost, a timeout, the
database shutting down: :class:`~cowrite.errors.StoreUnavailable`, or a call that
did not return within ``Limits.store_timeout_seconds``) the breaker *opens*:

* the rooms refuse new work that needs the store (joins, HTTP requests, ``OPS``
  batches: a non-fatal ``ERROR internal``, which every client answers by keeping its
  edits and reconnecting with backoff, possibly to another server) and tell every
  connected client so (``on_open``), so that its clients go elsewhere at once instead
  of typing into a server that cannot store anything;
* ``GET /ready`` answers 503 ``{"store": "unavailable"}``, so a load balancer stops
  sending clients here;
* no other store call is started: against a database that swallows packets each one
  would hang a worker thread until the deadline.

A probe (one cheap read, in a thread of its own, cut off after
``Limits.store_probe_timeout_seconds``) runs every ``Limits.store_check_seconds``
while the breaker is closed (a black-holed database is noticed even when nobody
types) and every ``Limits.store_probe_seconds`` while it is open.  A probe that
fails opens the breaker; one that times out only if the one before it timed out too
(a single slow answer may be a long write holding the store).  Once it answers,
``recover`` runs (the rooms catch up from the store: other servers may have committed
meanwhile); only when that succeeded does the breaker close and acknowledging resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

from ..errors import StoreUnavailable
from ..store import Store
from .metrics import Metrics

__all__ = ["StoreHealth"]

log = logging.getLogger("cowrite.server")

PROBE_DOC = "health-check"
"""The document id the probe asks about (``store.exists``: one indexed read)."""

SLOW_PROBES = 2
"""Probes in a row that time out before the breaker opens (a failing probe opens it at once)."""


class StoreHealth:
    """The store breaker of one server (see the module docstring).  ``up`` is True
    while it is closed."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        check_seconds: float,
        probe_seconds: float,
        probe_timeout: float,
        slow_is_down: bool = True,
    ) -> None:
        self.store = store
        self.slow_is_down = slow_is_down
        """Whether probes that time out open the breaker (a network store: PostgreSQL).  A
        local file store (SQLite, one server) that is slow is busy, not gone: only its
        errors open it."""
        self.metrics = metrics
        self.check_seconds = check_seconds
        self.probe_seconds = probe_seconds
        self.probe_timeout = probe_timeout
        self.up = True
        self.opened = 0
        """How many times the breaker opened (logs, tests)."""
        self.reason = ""
        """Why it last opened (logged; never shown to clients: it may name hosts)."""
        self.on_open: Callable[[], None] | None = None
        """Called once each time the breaker opens (the rooms disconnect their clients)."""
        self.recover: Callable[[], Awaitable[bool]] | None = None
        """Run once the probe answers again; True if every room caught up (then the
        breaker closes), False to stay open and try again after the next probe."""
        self._probe: asyncio.Future[None] | None = None
        self._slow = 0  # probes in a row that did not answer in time
        self._failures = 0  # calls of failed(), ever (a failure during a catch-up keeps it open)

    def failed(self, exc: BaseException) -> None:
        """A store call failed as the store being unavailable: open the breaker."""
        self.reason = str(exc) or type(exc).__name__
        self._slow = 0
        self._failures += 1
        if self.up:
            self.up = False
            self.opened += 1
            self.metrics.store_up.set(0)
            self.metrics.store_breaker_opened.inc()
            log.warning("store unavailable (%s): acknowledging nothing until it answers again", self.reason)
            if self.on_open is not None:
                self.on_open()

    def refusal(self) -> StoreUnavailable:
        """The error to refuse work with while the breaker is open."""
        return StoreUnavailable("the store is unavailable; nothing can be stored now (retry)")

    async def probe(self) -> bool | None:
        """Whether the store answers one read: True; False if it failed (an error: the
        store is down); None if it did not answer within ``probe_timeout``.  The read
        runs in a thread of its own (never the loop's worker threads, which hung store
        calls may hold); while one is running, callers wait for that one (so a store that
        does not answer ties up one thread at most)."""
        fut = self._probe
        if fut is None or fut.done():
            fut = self._start_probe()
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.probe_timeout)
        except TimeoutError:
            log.debug("store probe: no answer within %g s", self.probe_timeout)
            return None
        except Exception as exc:
            log.debug("store probe failed: %s", exc)
            return False
        return True

    async def check(self) -> bool:
        """Probe now (also on ``GET /ready``) and open the breaker if the store failed, or
        did not answer ``SLOW_PROBES`` probes in a row (one slow answer may be a long
        write holding the store; two are an outage).  True while the breaker is closed."""
        if not self.up:
            return False
        answer = await self.probe()
        if answer is None:
            self._slow += 1
            if self.slow_is_down and self._slow >= SLOW_PROBES:
                self.failed(StoreUnavailable(f"the store did not answer {self._slow} probes of {self.probe_timeout:g} s"))
        elif answer is False:
            self.failed(StoreUnavailable("the store failed a probe"))
        else:
            self._slow = 0
        return self.up

    def _start_probe(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._probe = fut

        def settle(err: BaseException | None) -> None:
            if fut.done():
                return
            if err is None:
                fut.set_result(None)
            else:
                fut.set_exception(err)

        def work() -> None:
            err: BaseException | None = None
            try:
                self.store.exists(PROBE_DOC)
            except BaseException as exc:  # any failure is "does not answer"
                err = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, err)

        threading.Thread(target=work, name="cowrite-store-probe", daemon=True).start()
        return fut

    async def run(self) -> None:
        """Probe the store until cancelled; open and close the breaker accordingly."""
        while True:
            await asyncio.sleep(self.check_seconds if self.up else self.probe_seconds)
            if self.up:
                await self.check()
                continue
            if await self.probe() is not True:
                continue
            failures = self._failures  # a failure while catching up: stay open
            try:
                caught_up = True if self.recover is None else await self.recover()
            except Exception:
                log.exception("catching up after the store came back failed; trying again")
                caught_up = False
            if caught_up and not self.up and self._failures == failures:
                self.up = True
                self.metrics.store_up.set(1)
                log.warning("store answers again and every room caught up: acknowledging again")
