"""The client's exceptions (all :class:`~cowrite.engine.CowriteError`)."""

from __future__ import annotations

from cowrite.engine import CowriteError
from cowrite.protocol import ErrorCode

__all__ = ["ClientClosed", "ClientError", "FatalError", "ReadOnlyError", "StateFileError"]


class ClientError(CowriteError):
    """Something the client cannot do (base class)."""


class FatalError(ClientError):
    """The server refused this client for good (``unauthorized``, ``forbidden``, ``not_found``,
    a refused edit, ...): the client stopped reconnecting.  ``code`` is the server's error code
    (``None`` for a refusal of the WebSocket upgrade itself, e.g. HTTP 404)."""

    def __init__(self, code: ErrorCode | None, message: str) -> None:
        name = code.name.lower() if code is not None else "refused"
        super().__init__(f"{name}: {message}")
        self.code = code
        self.message = message


class ReadOnlyError(ClientError):
    """The server made this client a viewer: its edits cannot be sent."""


class ClientClosed(ClientError):
    """The client was closed."""


class StateFileError(ClientError):
    """The client's state file is unreadable, belongs to another document or agent, or is in use."""
