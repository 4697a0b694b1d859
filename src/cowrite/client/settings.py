"""The client's tuning: how it reconnects, batches, saves and checks its replica.

``Client(url, doc_id, token, ..., settings=ClientSettings(flush_interval=0.05))``.
Every field has a default fit for an interactive editor; tests shorten the times.
A value out of range raises :class:`~cowrite.errors.ConfigError` when the settings
are made, not later in a reconnect loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from cowrite.protocol.client import DEFAULT_FRAME_BYTES, MIN_FRAME_BYTES

from ..errors import ConfigError

__all__ = ["ClientSettings"]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Tuning of a :class:`~cowrite.client.Client` (all times in seconds)."""

    backoff_base: float = 0.1
    """Reconnect delays are uniform in ``[0, min(backoff_cap, backoff_base * 2**rounds))``,
    ``rounds`` counting how often every server URL failed in a row (one URL: every attempt
    is a round; see :mod:`cowrite.client.failover`)."""
    backoff_cap: float = 5.0
    flush_interval: float = 0.015
    """The sending tick: a lone edit goes out at once, a burst within one tick in one batch."""
    save_delay: float = 0.2
    """How long after a change the state file is written."""
    connect_timeout: float = 10.0
    """Opening the WebSocket (TCP, TLS, upgrade) may take this long."""
    keepalive: float | None = 20.0
    """The WebSocket ping interval (and how long a ping may go unanswered); None: off."""
    max_batch_ops: int = 512
    """At most this many ops in one ``OPS`` frame."""
    max_frame_bytes: int = DEFAULT_FRAME_BYTES
    """At most this many bytes in one ``OPS`` frame (long inserts are cut to fit).
    Halved, down to ``min_frame_bytes``, each time the server refuses a frame as too large."""
    min_frame_bytes: int = 4096
    """The smallest frame budget: a batch this small refused as too large means the
    server cannot take the edits (its document or history limit), and the client stops."""
    proxy: str | Literal[True] | None = True
    """Passed to ``websockets``: True takes the proxy from the environment, None connects directly."""
    digest_delay: float = 1.0
    """The divergence check (``DIGEST``) is sent this long after the client settles ..."""
    digest_interval: float | None = 10.0
    """... and then this often while idle (None: never)."""
    max_recoveries: int = 3
    """Replacing the replica after a refusal is tried this many times in a row (with no
    batch acknowledged in between) before the client stops and keeps the edits."""

    def __post_init__(self) -> None:
        for name in ("backoff_base", "backoff_cap", "flush_interval", "save_delay", "connect_timeout", "digest_delay"):
            if not _number(getattr(self, name)):
                raise ConfigError(f"{name} must be a finite number of seconds, not {getattr(self, name)!r}")
        if self.backoff_base <= 0 or self.backoff_cap < self.backoff_base:
            raise ConfigError("need 0 < backoff_base <= backoff_cap")
        if self.flush_interval < 0 or self.save_delay < 0 or self.digest_delay < 0:
            raise ConfigError("flush_interval, save_delay and digest_delay must be >= 0")
        if self.connect_timeout <= 0:
            raise ConfigError("connect_timeout must be > 0")
        for name in ("keepalive", "digest_interval"):
            value = getattr(self, name)
            if value is not None and (not _number(value) or value <= 0):
                raise ConfigError(f"{name} must be a number of seconds > 0, or None")
        for name, low in (("max_batch_ops", 1), ("min_frame_bytes", MIN_FRAME_BYTES), ("max_recoveries", 1)):
            value = getattr(self, name)
            if type(value) is not int or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, not {value!r}")
        if type(self.max_frame_bytes) is not int or self.max_frame_bytes < self.min_frame_bytes:
            raise ConfigError("max_frame_bytes must be an integer >= min_frame_bytes")
        if self.proxy is not True and self.proxy is not None and not isinstance(self.proxy, str):
            raise ConfigError("proxy must be a URL, True (from the environment) or None (direct)")
