"""Access tokens never reach a log.

Browsers pass their token as ``?token=...`` (a WebSocket cannot carry an
``Authorization`` header), and uvicorn prints request targets with their query
string: in its access log (``uvicorn.access``) and in its WebSocket lines
(``uvicorn.error``: ``"WebSocket /ws/notes?token=..." [accepted]``, and the
handshake at debug level).  :class:`RedactTokens` is a logging filter that
replaces the value of every ``token=`` / ``access_token=`` parameter in a record
with ``[redacted]``, and of ``share=`` (a document's link key), ``join=`` (a
document invite's code) and ``invite=`` (a sign-up invite's code, ``/?invite=``), which
open documents or make accounts as well; :func:`redact_tokens_in_logs`
installs it.

``cowrite serve`` installs it on its handlers.  A program that serves
``Server.app`` with its own uvicorn (or another ASGI server) should call
:func:`redact_tokens_in_logs` once its logging is configured, or add a
:class:`RedactTokens` to its log handlers.  cowrite's own log lines never
include a token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

__all__ = ["RedactTokens", "redact", "redact_tokens_in_logs"]

_SECRET_NAMES = frozenset({"token", "access_token", "share", "join", "invite"})
"""Query parameters whose value opens a document or makes an account."""

_PARAM = re.compile(r"((?:^|[?&;\s\"'/])([^=&;#?\s\"'/]{1,256})=)([^&;#\s\"']*)")
"""``name=value`` after a separator; the name is matched loosely (percent escapes and
all) and decoded before it is compared, as the server decodes it."""

REDACTED = "[redacted]"

LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "cowrite")
"""The loggers that print request targets (uvicorn's), and cowrite's own."""


def redact(text: str) -> str:
    """``text`` with the value of every ``token=`` (``share=``, ``join=``, ...) query
    parameter replaced, however its name is percent-encoded."""
    if "=" not in text:
        return text
    return _PARAM.sub(_blank_secret, text)


def _blank_secret(m: re.Match[str]) -> str:
    # The server reads ``?%74oken=`` or ``?tok%65n=`` as ``token`` (query names are
    # percent-decoded), so the log must too, or such a request prints its token.
    name = unquote_plus(m.group(2)).lower()
    return m.group(1) + REDACTED if name in _SECRET_NAMES else m.group(0)


def _scrub(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """A logging filter that blanks ``token=`` values in a record's message and
    arguments (arguments are scrubbed one by one, so formatters that read them,
    like uvicorn's access formatter, keep working)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_scrub(a) for a in args)
        elif isinstance(args, dict):
            record.args = {k: _scrub(v) for k, v in args.items()}
        return True


def redact_tokens_in_logs(loggers: Iterable[str] = LOGGERS) -> RedactTokens:
    """Install one :class:`RedactTokens` on ``loggers`` and on every handler they (and
    the root logger) have now; returns it.  Idempotent."""
    flt = next((f for f in logging.getLogger().filters if isinstance(f, RedactTokens)), None) or RedactTokens()
    targets: list[logging.Filterer] = [logging.getLogger()]
    for name in loggers:
        targets.append(logging.getLogger(name))
    for logger in list(targets):
        if isinstance(logger, logging.Logger):
            targets.extend(logger.handlers)
    for t in targets:
        if not any(isinstance(f, RedactTokens) for f in t.filters):
            t.addFilter(flt)
    return flt
