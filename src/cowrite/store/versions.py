"""What a store checks of titles and named versions, and how it stores a version, for
every backend alike (one refusal, one message, whichever backend holds the record).

A version is stored as JSON ``[["agent", seq], ...]`` (the form of the HTTP API's
``?version=``), sorted, so the same frontier is always the same text in the table.
"""

from __future__ import annotations

import json

from ..engine import MAX_AGENT_LEN, MAX_SEQ
from ..errors import CorruptionError, InvalidArgument
from .base import MAX_NAMED_VERSION_HEADS, MAX_TITLE, MAX_VERSION_NAME, NamedVersionRecord
from .records import check_text, check_time

__all__ = ["check_named_version", "check_title", "check_version_name", "named_version_from_row", "version_json"]


def check_title(value: object) -> str:
    """A title: a string of 0..MAX_TITLE code points (``""``: no title)."""
    if not isinstance(value, str) or len(value) > MAX_TITLE:
        raise InvalidArgument(f"a title must be a string of at most {MAX_TITLE} characters")
    return value


def check_version_name(value: object) -> str:
    """A named version's name: 1..MAX_VERSION_NAME code points."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_VERSION_NAME:
        raise InvalidArgument(f"a version name must be a string of 1..{MAX_VERSION_NAME} characters")
    return value


def _check_version(value: object) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, tuple) or len(value) > MAX_NAMED_VERSION_HEADS:
        raise InvalidArgument(f"a version must be a tuple of at most {MAX_NAMED_VERSION_HEADS} (agent, seq) pairs")
    for item in value:
        if (
            not isinstance(item, tuple)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not 1 <= len(item[0]) <= MAX_AGENT_LEN
            or type(item[1]) is not int
            or not 0 <= item[1] < MAX_SEQ
        ):
            raise InvalidArgument(f"a version holds (agent, seq) pairs, not {item!r}")
    if list(value) != sorted(set(value)):
        raise InvalidArgument("a version's (agent, seq) pairs must be sorted and distinct")
    return value


def check_named_version(record: object) -> NamedVersionRecord:
    """``record`` if it is a well-formed :class:`NamedVersionRecord`, else InvalidArgument."""
    if not isinstance(record, NamedVersionRecord):
        raise InvalidArgument(f"expected a NamedVersionRecord, not {type(record).__name__}")
    check_version_name(record.name)
    _check_version(record.version)
    check_text("created_by", record.created_by)
    check_time("created_at", record.created_at)
    return record


def version_json(version: tuple[tuple[str, int], ...]) -> str:
    """The stored form of a (checked) version."""
    return json.dumps([[a, s] for a, s in version], ensure_ascii=False, separators=(",", ":"))


def named_version_from_row(doc_id: str, name: str, version: str, created_by: str, created_at: float) -> NamedVersionRecord:
    """A stored row back as a record; CorruptionError if its version column is not one."""
    try:
        raw = json.loads(version)
        value = tuple((str(a), int(s)) for a, s in raw if isinstance(a, str) and type(s) is int)
        if len(value) != len(raw):
            raise ValueError("not (agent, seq) pairs")
    except (ValueError, TypeError) as exc:
        raise CorruptionError(doc_id, "named version", f"named version {name!r}", f"not a version: {exc}") from None
    return NamedVersionRecord(doc_id, name, value, created_by, float(created_at))
