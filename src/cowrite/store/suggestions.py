"""Suggestions as a store holds them: the record, and what every backend checks of it.

A suggestion (:mod:`cowrite.engine.suggestions`) is a patch of ops by the agent
``sugg:<id>`` that is *not* in the document's log: it lives in its own table until
it is accepted (its ops then go into the log like any edit, and the row is deleted)
or rejected (the row is deleted).  Each save replaces the whole patch: a suggestion
is always re-made from scratch at a version of the document, so there is nothing
to append to.  The author never changes (a save by someone else is refused), so a
suggestion cannot be taken over through the store.

The store checks only types and bounds (:class:`~cowrite.errors.InvalidArgument`);
whether the patch applies, and who may do what, is the server's to decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument

__all__ = [
    "MAX_SUGGESTION_BYTES",
    "MAX_SUGGESTION_ID_CHARS",
    "SUGGESTION_COLS",
    "SuggestionRecord",
    "check_suggestion_id",
    "check_suggestion_record",
    "suggestion_from_row",
]

MAX_SUGGESTION_BYTES = 1 << 20
"""Largest patch a suggestion may hold (the server's request bound is lower)."""
MAX_SUGGESTION_ID_CHARS = 64
_MAX_AUTHOR = 256

SUGGESTION_COLS = "id, author, patch, created_at, updated_at"
"""The column list every backend selects, in :func:`suggestion_from_row`'s order."""


@dataclass(frozen=True, slots=True)
class SuggestionRecord:
    """One open suggestion of a document: ``patch`` is its ops (the patch codec)."""

    id: str
    author: str
    patch: bytes
    created_at: float
    updated_at: float


def check_suggestion_id(value: object) -> str:
    """An id the server made: 1..64 ASCII letters, digits, ``-`` or ``_`` (it is
    part of an agent name, ``sugg:<id>``, so never a ``:``)."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_SUGGESTION_ID_CHARS
        or not value.isascii()
        or not all(ch.isalnum() or ch in "-_" for ch in value)
    ):
        raise InvalidArgument(f"a suggestion id is 1..{MAX_SUGGESTION_ID_CHARS} ASCII letters, digits, '-' or '_'")
    return value


def _check_time(what: str, value: object) -> None:
    if type(value) not in (int, float) or not math.isfinite(float(value)) or float(value) < 0:  # type: ignore[arg-type]
        raise InvalidArgument(f"{what} must be a finite, non-negative number")


def check_suggestion_record(s: object) -> SuggestionRecord:
    """``s`` if it is a well-formed suggestion record."""
    if not isinstance(s, SuggestionRecord):
        raise InvalidArgument(f"expected a SuggestionRecord, not {type(s).__name__}")
    check_suggestion_id(s.id)
    if not isinstance(s.author, str) or not 1 <= len(s.author) <= _MAX_AUTHOR:
        raise InvalidArgument(f"a suggestion's author is a user id of 1..{_MAX_AUTHOR} characters")
    if not isinstance(s.patch, bytes) or not 1 <= len(s.patch) <= MAX_SUGGESTION_BYTES:
        raise InvalidArgument(f"a suggestion's patch is 1..{MAX_SUGGESTION_BYTES} bytes")
    _check_time("created_at", s.created_at)
    _check_time("updated_at", s.updated_at)
    return s


def suggestion_from_row(row: tuple[Any, ...] | list[Any]) -> SuggestionRecord:
    """A row of :data:`SUGGESTION_COLS` as a record (either backend's value types)."""
    return SuggestionRecord(
        id=str(row[0]), author=str(row[1]), patch=bytes(row[2]), created_at=float(row[3]), updated_at=float(row[4])
    )
