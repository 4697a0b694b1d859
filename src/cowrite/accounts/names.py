"""Usernames and display names: what they may hold, checked once, here.

A **username** is the user id of an account: the ``sub`` of its tokens, the owner of
its agents in the store, what history and logs show.  It is 1..64 characters of
lowercase ASCII ``[a-z0-9][a-z0-9._-]*``, so it reads as what it is (no homoglyphs,
no bidirectional tricks, nothing a URL, a shell or a log line must escape) and two
spellings can never name one account.  Input is case-insensitive: ``Ada`` is ``ada``.
Only ASCII is lowercased -- ``str.lower`` maps the Kelvin sign ``K`` to ``k`` and
``İ`` to two characters, which would let a second spelling in.  Names starting with
``guest-`` are reserved: guests get ``guest-<hex>`` ids (``cowrite.server``), and an
account must not inherit a guest's agents.  So are :data:`RESERVED_USERNAMES`
(``admin``, ``root``, ...): ``cowrite serve`` prints an owner token whose user id is
``admin``, and an account of that name would share its identity (its agents, its
documents); the others read as the system speaking.

A **display name** is what people see: 1..256 characters of any script, without
control characters or bidirectional embeddings, overrides and isolates (which would
reorder the text around them in someone else's history view).

Token user ids (``cowrite token --user``) predate accounts and are wider: any
printable text, checked by ``cowrite.server.auth.check_user_id``.  The two share
:func:`has_control_or_bidi` and :func:`display_name_problem`, defined here.
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import InvalidAccount
from ..store.base import MAX_USER_NAME

__all__ = [
    "GUEST_PREFIX",
    "MAX_DISPLAY_NAME",
    "MAX_USERNAME",
    "RESERVED_USERNAMES",
    "check_display_name",
    "check_new_username",
    "display_name_problem",
    "has_control_or_bidi",
    "normalize_username",
]

MAX_USERNAME = 64
MAX_DISPLAY_NAME = MAX_USER_NAME
GUEST_PREFIX = "guest-"
RESERVED_USERNAMES = frozenset({"admin", "root", "owner", "cowrite", "system"})
"""Usernames no account may take (looking them up still works: :func:`normalize_username`)."""
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_JOINERS = frozenset("\u200c\u200d")
"""Format characters names need: ZWNJ (Persian, Indic scripts) and ZWJ (emoji sequences)."""
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
"""Hangul fillers: letters by category that show as nothing (a favourite blank name)."""


def has_control_or_bidi(text: str) -> bool:
    """Whether ``text`` holds a control character, a lone surrogate, a line or paragraph
    separator, a bidirectional embedding, override, isolate or mark (which reorder the
    text around them), or a character that shows as nothing (a format character but the
    joiners, e.g. a zero-width space; a Hangul filler): shown to others, a name must read
    as what it is."""
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI_CONTROLS or ch in _BLANK_LETTERS:
            return True
        if category == "Cf" and ch not in _JOINERS:
            return True
    return False


def display_name_problem(value: object) -> str | None:
    """Why ``value`` is not a valid display name, or ``None`` if it is (callers raise their
    own error type with this reason: tokens an ``AuthError``, accounts an ``InvalidAccount``)."""
    if not isinstance(value, str):
        return f"a display name must be a string, not {type(value).__name__}"
    if not 1 <= len(value) <= MAX_DISPLAY_NAME:
        return f"a display name has 1..{MAX_DISPLAY_NAME} characters, not {len(value)}"
    if has_control_or_bidi(value):
        return "a display name may not contain control or bidirectional characters, nor invisible ones"
    if not value.strip():
        return "a display name may not be blank"
    return None


def check_display_name(value: object) -> str:
    """``value`` if it is a valid display name, else :class:`InvalidAccount` with the reason."""
    problem = display_name_problem(value)
    if problem is not None:
        raise InvalidAccount(problem)
    assert isinstance(value, str)
    return value


def normalize_username(value: object) -> str:
    """The username ``value`` spells (lowercased), or :class:`InvalidAccount` saying why it is none.

    Reserved names pass: this is for looking accounts up.  Creating one uses
    :func:`check_new_username`.
    """
    if not isinstance(value, str):
        raise InvalidAccount(f"a username must be a string, not {type(value).__name__}")
    if not 1 <= len(value) <= MAX_USERNAME:
        raise InvalidAccount(f"a username has 1..{MAX_USERNAME} characters, not {len(value)}")
    if not value.isascii():
        raise InvalidAccount("a username may hold only ASCII letters, digits and . _ -")
    name = value.lower()
    if _USERNAME.fullmatch(name) is None:
        raise InvalidAccount("a username is letters a-z, digits and . _ -, starting with a letter or a digit")
    return name


def check_new_username(value: object) -> str:
    """:func:`normalize_username`, refusing the reserved names too (``guest-...`` and
    :data:`RESERVED_USERNAMES`)."""
    name = normalize_username(value)
    if name.startswith(GUEST_PREFIX):
        raise InvalidAccount(f"usernames starting with {GUEST_PREFIX!r} are reserved for guests")
    if name in RESERVED_USERNAMES:
        raise InvalidAccount(f"the username {name!r} is reserved")
    return name
