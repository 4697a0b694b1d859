"""The protocol's error type and the error codes of ``ERROR`` frames."""

from __future__ import annotations

from enum import IntEnum

from cowrite.engine import CowriteError

__all__ = ["ErrorCode", "ProtocolError"]


class ErrorCode(IntEnum):
    """Why the server refused something (the ``code`` of an ``ERROR`` frame)."""

    BAD_FRAME = 1  # not a valid frame of this protocol version
    BAD_OP = 2  # a patch that does not decode or ops the engine rejects
    UNKNOWN_PARENT = 3  # ops whose parents the server does not have
    CONFLICT = 4  # an (agent, seq) the server knows with other content
    FORBIDDEN = 5  # a viewer writing, a forged agent, an agent owned by another user
    RATE_LIMITED = 6
    TOO_LARGE = 7  # frame, batch or document over a limit
    NOT_FOUND = 8  # no such document
    UNAUTHORIZED = 9  # no valid token
    BAD_STATE = 10  # a frame that is not allowed now (e.g. OPS before JOIN), superseded
    INTERNAL = 11  # the server failed (e.g. the store); retry later


class ProtocolError(CowriteError, ValueError):
    """Bytes that are not a valid frame, or a field value that cannot be sent.

    ``code`` is the :class:`ErrorCode` to answer with (``BAD_FRAME`` unless said).
    """

    def __init__(self, message: str, code: ErrorCode = ErrorCode.BAD_FRAME) -> None:
        super().__init__(message)
        self.code = code
