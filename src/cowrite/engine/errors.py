"""The one exception tree of cowrite.

Every error the engine raises on bad input is a :class:`CowriteError`, so callers
(server, client, CLI) can catch one type and know the document was left untouched::

    CowriteError
     ├── InvalidOpError        an op that cannot apply at its parents (bad position/length,
     │                         empty content, malformed fields)
     ├── UnknownParentError    an op names a parent version this document has never seen
     ├── ConflictingOpError    an (agent, seq) already known with different content/parents
     ├── UnknownVersionError   a version (frontier) names ops this document does not have
     └── DecodeError           bytes that are not a valid cowrite encoding (truncated,
                               corrupted, wrong checksum, unsupported format version)
"""

from __future__ import annotations

__all__ = [
    "CowriteError",
    "InvalidOpError",
    "UnknownParentError",
    "ConflictingOpError",
    "UnknownVersionError",
    "DecodeError",
]


class CowriteError(Exception):
    """Base of every error cowrite raises deliberately."""


class InvalidOpError(CowriteError, ValueError):
    """An op is malformed or does not fit the document at its parent version."""


class UnknownParentError(CowriteError, KeyError):
    """An op's parents include an (agent, seq) this document does not have yet.

    Delivery must be causal: send the missing ops first (or hold this op until they
    arrive).  ``missing`` lists the unknown ids.
    """

    def __init__(self, message: str, missing: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class ConflictingOpError(CowriteError, ValueError):
    """An (agent, seq) is already known with different content: a buggy or forged peer."""


class UnknownVersionError(CowriteError, KeyError):
    """A version names ops that this document does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


class DecodeError(CowriteError, ValueError):
    """Bytes could not be decoded as a cowrite document or patch."""
