"""Document roles and their order, defined once.

``owner`` > ``editor`` > ``commenter`` > ``viewer``: each may do what the weaker ones may.
An owner manages the document's sharing; an editor writes; a commenter may comment (a
later issue) but not edit; a viewer reads.  A share link gives one of :data:`LINK_ROLES`
(never ownership), and so does a document invite.
"""

from __future__ import annotations

from ..errors import InvalidAccount

__all__ = [
    "DOC_ROLES",
    "INVITE_ROLES",
    "LINK_ROLES",
    "at_least",
    "check_role",
    "stronger",
    "weaker",
]

DOC_ROLES = ("owner", "editor", "commenter", "viewer")
"""Every role a person can have on a document, strongest first."""
LINK_ROLES = ("viewer", "commenter", "editor")
"""What link sharing can give anyone holding the link (off is ``None``)."""
INVITE_ROLES = ("editor", "commenter", "viewer")
"""What a document invite can make its user (ownership moves only by a transfer)."""

_RANK = {role: len(DOC_ROLES) - i for i, role in enumerate(DOC_ROLES)}  # owner 4 .. viewer 1


def check_role(role: object, allowed: tuple[str, ...] = DOC_ROLES, what: str = "a role") -> str:
    """``role`` if it is one of ``allowed``, else :class:`InvalidAccount` naming them."""
    if not isinstance(role, str) or role not in allowed:
        shown = repr(role) if isinstance(role, str) and len(role) <= 40 else type(role).__name__
        raise InvalidAccount(f"{what} is one of {', '.join(allowed)}, not {shown}")
    return role


def _rank(role: str | None) -> int:
    return 0 if role is None else _RANK[role]


def stronger(a: str | None, b: str | None) -> str | None:
    """The stronger of two roles (``None``, no access, is the weakest)."""
    return a if _rank(a) >= _rank(b) else b


def weaker(a: str | None, b: str | None) -> str | None:
    """The weaker of two roles (``None`` if either is): what a token capped at ``a`` may do
    for a user whose own role is ``b``."""
    return a if _rank(a) <= _rank(b) else b


def at_least(role: str | None, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (``at_least("editor", "viewer")``)."""
    return _rank(role) >= _rank(needed)
