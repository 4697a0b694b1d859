"""Who a request is and how it is shown: shared by the WebSocket endpoint and the HTTP API.

The token of a request (header or query), the protocol role of a token's role,
the roles guests may be given, what a signed-in account may do
(:func:`account_grant`), and the colour of a user.  What a valid user id and
display name are is :mod:`cowrite.server.auth`'s (tokens carry them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from ..accounts import SessionInfo
from ..protocol import Role
from .auth import Grant

__all__ = ["GUEST_ROLES", "PALETTE", "account_grant", "account_role", "colour_for", "protocol_role", "token_from"]

GUEST_ROLES = ("none", "viewer", "editor", "owner")
"""What ``--guests`` may give anyone who opens the web editor (``none``: no guests)."""

PALETTE = (
    "#c0392b",  # red
    "#a04000",  # orange
    "#7d6608",  # ochre
    "#1e8449",  # green
    "#117a65",  # teal
    "#00838f",  # cyan
    "#1f618d",  # blue
    "#5b2c6f",  # purple
    "#8e44ad",  # violet
    "#c2185b",  # pink
    "#303f9f",  # indigo
    "#37474f",  # slate
)
"""Cursor and name colours: each has a contrast of at least 4.5 with white (WCAG AA),
so it reads as text on white and white text reads on it."""

_ROLES = {"owner": Role.OWNER, "editor": Role.EDITOR, "viewer": Role.VIEWER}


def protocol_role(role: str) -> Role:
    """The protocol's role for a token's role name."""
    return _ROLES[role]


def colour_for(user: str) -> str:
    """The colour of ``user`` (the same for a user id everywhere, every time)."""
    return PALETTE[hashlib.sha256(user.encode("utf-8", "surrogatepass")).digest()[0] % len(PALETTE)]


def token_from(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The request's token: ``Authorization: Bearer ...``, else ``?token=``."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return query.get("token")


def account_role(admin: bool) -> str:
    """The role a signed-in account has on every document: ``owner`` for an admin,
    ``editor`` for everyone else (what ``--guests editor`` gives guests).

    TEMPORARY, and the only place this rule is written: until per-document
    memberships exist (issue 12, per-document access), an account is trusted with
    every document.  Memberships replace this function; everything that asks what
    an account may do asks it (through :func:`account_grant`)."""
    return "owner" if admin else "editor"


def account_grant(info: SessionInfo) -> Grant:
    """What the account of a live session may do, in the shape a token grants it: every
    document (``"*"``), :func:`account_role`, until the session expires."""
    return Grant(info.user, info.name or info.user, "*", account_role(info.admin), int(info.expires_at))
