"""Comments as a store holds them: the record, and what every backend checks of it.

A comment belongs to one document and to one *thread*: the thread's first comment
carries the anchor (``Anchor.encode()`` bytes, see :mod:`cowrite.engine.anchors`) and
the text it covered when it was made (``quote``, shown once that text is gone), and
the resolved flag; replies name the first comment as their ``thread`` and carry
neither.  Deleting a comment keeps its row (a thread's replies still hang on it)
with the body blanked, so nothing about a deletion depends on the order in which
servers see it.

Every change of a document's comments gives the changed row the document's next
*revision* (1, 2, ...; the store serialises the changes of one document), so
``comments_revision`` -- the highest one -- tells a server whether anything changed
since it last looked, which is how servers that share a store notice each other's
comment changes (:mod:`cowrite.server.comments`).

The store checks only types and bounds (:class:`~cowrite.errors.InvalidArgument`)
and the thread rules that need its rows; who may do what is the server's to decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ..errors import InvalidArgument

__all__ = [
    "COMMENT_COLS",
    "MAX_COMMENT_CHARS",
    "MAX_COMMENT_ID_CHARS",
    "MAX_QUOTE_CHARS",
    "CommentRecord",
    "check_body",
    "check_comment",
    "check_comment_id",
    "check_thread_of",
    "updated",
    "comment_from_row",
]

MAX_COMMENT_CHARS = 10_000
"""Longest comment body (code points)."""
MAX_QUOTE_CHARS = 2_000
"""Longest quote of the anchored text kept with a thread (a longer range is cut)."""
MAX_COMMENT_ID_CHARS = 64
_MAX_AUTHOR = 256
_MAX_ANCHOR = 1024

COMMENT_COLS = "id, thread, author, body, anchor, quote, created_at, edited_at, resolved, deleted, rev"
"""The column list every backend selects, in :func:`comment_from_row`'s order."""


@dataclass(frozen=True, slots=True)
class CommentRecord:
    """One comment of a document.  ``thread == id`` for a thread's first comment."""

    id: str
    thread: str
    author: str
    body: str
    created_at: float
    anchor: bytes = b""
    """The thread's anchor (first comment only; empty for a reply)."""
    quote: str = ""
    """The anchored text when the thread was started (first comment only)."""
    edited_at: float | None = None
    resolved: bool = False
    deleted: bool = False
    rev: int = 0
    """The document's comment revision of this row's last change (set by the store)."""

    @property
    def is_thread(self) -> bool:
        return self.thread == self.id


def check_comment_id(value: object, what: str = "a comment id") -> str:
    """An id the server made: 1..64 printable ASCII characters."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_COMMENT_ID_CHARS
        or not value.isascii()
        or not value.isprintable()
        or " " in value
    ):
        raise InvalidArgument(f"{what} is 1..{MAX_COMMENT_ID_CHARS} printable ASCII characters without spaces")
    return value


def _check_time(what: str, value: object, optional: bool = False) -> None:
    if optional and value is None:
        return
    if type(value) not in (int, float) or not math.isfinite(float(value)) or float(value) < 0:  # type: ignore[arg-type]
        raise InvalidArgument(f"{what} must be a finite, non-negative number")


def check_body(value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > MAX_COMMENT_CHARS or (not value and not allow_empty):
        raise InvalidArgument(f"a comment is a string of 1..{MAX_COMMENT_CHARS} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("a comment must be valid Unicode (no lone surrogates)") from None
    return value


def check_comment(c: object) -> CommentRecord:
    """``c`` if it is a well-formed new comment (not deleted, revision 0)."""
    if not isinstance(c, CommentRecord):
        raise InvalidArgument(f"expected a CommentRecord, not {type(c).__name__}")
    check_comment_id(c.id)
    check_comment_id(c.thread, "a thread id")
    if not isinstance(c.author, str) or not 1 <= len(c.author) <= _MAX_AUTHOR:
        raise InvalidArgument(f"a comment's author is a user id of 1..{_MAX_AUTHOR} characters")
    check_body(c.body)
    _check_time("created_at", c.created_at)
    _check_time("edited_at", c.edited_at, optional=True)
    if type(c.resolved) is not bool or c.deleted is not False or c.rev != 0:
        raise InvalidArgument("a new comment is not deleted, has no revision yet, and resolved is a bool")
    if not isinstance(c.anchor, bytes) or not isinstance(c.quote, str):
        raise InvalidArgument("anchor is bytes and quote a string")
    if c.is_thread:
        if not 1 <= len(c.anchor) <= _MAX_ANCHOR or len(c.quote) > MAX_QUOTE_CHARS:
            raise InvalidArgument(f"a thread has an anchor of 1..{_MAX_ANCHOR} bytes and a quote of at most {MAX_QUOTE_CHARS} characters")
        check_body(c.quote, allow_empty=True)
    elif c.anchor or c.quote or c.resolved:
        raise InvalidArgument("a reply has no anchor, quote or resolved flag of its own (its thread has)")
    return c


def comment_from_row(row: tuple[Any, ...] | list[Any]) -> CommentRecord:
    """A row of :data:`COMMENT_COLS` as a record (either backend's value types)."""
    return CommentRecord(
        id=str(row[0]),
        thread=str(row[1]),
        author=str(row[2]),
        body=str(row[3]),
        anchor=bytes(row[4]),
        quote=str(row[5]),
        created_at=float(row[6]),
        edited_at=None if row[7] is None else float(row[7]),
        resolved=bool(row[8]),
        deleted=bool(row[9]),
        rev=int(row[10]),
    )


def check_thread_of(reply: CommentRecord, thread: CommentRecord | None) -> None:
    """A reply may join only a thread of the same document that is not deleted."""
    if thread is None or not thread.is_thread:
        raise InvalidArgument(f"no thread {reply.thread!r} on this document to reply to")
    if thread.deleted:
        raise InvalidArgument("this thread was deleted; it takes no replies")


def updated(
    current: CommentRecord, *, body: str | None, resolved: bool | None, delete: bool, now: float
) -> CommentRecord:
    """``current`` after one update (its ``rev`` unchanged: the store sets the next one,
    unless nothing changed: then it is ``current`` itself, e.g. a thread two people
    resolved at once); :class:`InvalidArgument` for an update that is malformed, changes a
    deleted comment, or resolves a reply."""
    if body is not None:
        check_body(body)
    if resolved is not None and type(resolved) is not bool:
        raise InvalidArgument("resolved must be a bool")
    if type(delete) is not bool:
        raise InvalidArgument("delete must be a bool")
    _check_time("now", now)
    if current.deleted:
        raise InvalidArgument("this comment was deleted; it cannot be changed")
    if resolved is not None and not current.is_thread:
        raise InvalidArgument("only a thread is resolved or reopened, not a reply")
    if delete:
        return replace(current, body="", deleted=True, edited_at=float(now))
    new = current
    if body is not None and body != current.body:
        new = replace(new, body=body, edited_at=float(now))
    if resolved is not None and resolved != current.resolved:
        new = replace(new, resolved=resolved)
    return new
