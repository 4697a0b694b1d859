"""Who a request is and what it may do to which document: the one place access is decided.

A request's *effective role* on a document (:meth:`Access.role`) is one of
:data:`~cowrite.accounts.DOC_ROLES` (``owner`` > ``editor`` > ``commenter`` >
``viewer``), or ``None`` (no access: ``403 forbidden`` / a fatal ``forbidden``):

* an HS256 token (``?token=`` or ``Authorization: Bearer`` JWT, also what guests get
  from ``POST /api/session``): the token's role on the document it grants (or every
  document), as before accounts;
* a personal access token (``Authorization: Bearer cwp_...``): the lower of the
  token's role and the user's own role on the document, and only on documents in
  the token's scope;
* the session cookie of an account: its membership of the document
  (:meth:`Sharing.role_with_link`, which also counts a valid ``?share=`` link key);
  an administrator is the owner of every document.

Anyone with a valid ``?share=`` link key of a document also gets the link's role on
it (the higher of that and what they have otherwise), which is how guests use a
shared link.  A *link guest* (someone without an account, on a server that lets no
guests in, who opened a share link: ``POST /api/session`` with ``{doc, share}``) holds
an HS256 token for document ``""``, which grants nothing but what a valid link key
gives: turning the link off or rotating it ends that access at once.  The protocol knows three roles: ``owner`` and ``editor`` write,
``commenter`` and ``viewer`` read (:func:`protocol_role`).

Also here: the token of a request (header or query), the roles guests may be given,
and the colour of a user.  What a valid user id and display name are is
:mod:`cowrite.server.auth`'s (tokens carry them).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..accounts import TOKEN_PREFIX, Sharing, TokenGrant, stronger
from ..protocol import Role

if TYPE_CHECKING:  # identity imports this module
    from .identity import Caller

__all__ = [
    "GUEST_ROLES",
    "PALETTE",
    "PAT_PREFIX",
    "Access",
    "DocAccess",
    "colour_for",
    "link_key_from",
    "protocol_role",
    "token_from",
]

GUEST_ROLES = ("none", "viewer", "editor", "owner")
"""What ``--guests`` may give anyone who opens the web editor (``none``: no guests)."""

PAT_PREFIX = TOKEN_PREFIX
"""How a personal access token starts (``cwp_``; an HS256 token never does: it starts ``eyJ``)."""

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

_PROTOCOL = {"owner": Role.OWNER, "editor": Role.EDITOR, "commenter": Role.VIEWER, "viewer": Role.VIEWER}


def protocol_role(role: str) -> Role:
    """The protocol's role for a document role (commenters read, as viewers do)."""
    return _PROTOCOL[role]


def colour_for(user: str) -> str:
    """The colour of ``user`` (the same for a user id everywhere, every time)."""
    return PALETTE[hashlib.sha256(user.encode("utf-8", "surrogatepass")).digest()[0] % len(PALETTE)]


def token_from(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The request's token: ``Authorization: Bearer ...``, else ``?token=``."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return query.get("token")


MAX_LINK_KEY_CHARS = 256
"""A ``?share=`` value longer than this is not looked up."""


def link_key_from(query: Mapping[str, str]) -> str | None:
    """The ``?share=`` link key of a request, if it has a plausible one."""
    value = query.get("share")
    if not value or len(value) > MAX_LINK_KEY_CHARS or not value.isascii() or not value.isprintable():
        return None
    return value


@dataclass(frozen=True, slots=True)
class DocAccess:
    """What one caller may do to one document: ``role`` (a document role), and how the
    caller signed in (``via``: ``"token"``, ``"pat"`` or ``"session"``)."""

    user: str
    name: str
    doc: str
    role: str
    via: str

    @property
    def can_write(self) -> bool:
        return self.role in ("owner", "editor")

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    @property
    def protocol(self) -> Role:
        return protocol_role(self.role)


class Access:
    """The effective role of callers on documents, from the memberships in ``sharing``.

    Its methods read the store: call them in a worker thread."""

    def __init__(self, sharing: Sharing) -> None:
        self.sharing = sharing

    def link_role(self, doc: str, link_key: str | None) -> str | None:
        """The role a valid link key of ``doc`` gives anyone (None: none, or no key)."""
        if link_key is None:
            return None
        return self.sharing.role_with_link(doc, None, link_key)

    def token_role(self, token_doc: str, token_role: str, doc: str, link_key: str | None) -> str | None:
        """An HS256 token's role on ``doc`` (its doc, or ``*``), raised by a valid link key."""
        own = token_role if token_doc in ("*", doc) else None
        return stronger(own, self.link_role(doc, link_key))

    def pat_role(self, grant: TokenGrant, admin: bool, doc: str) -> str | None:
        """A personal access token's role on ``doc``: in its scope, the lower of its role
        and its user's own (an administrator's own role is ``owner``).  A link key does
        not count: a token acts as its user, and a link is for people."""
        if not grant.covers(doc) or not self.pat_live(grant):
            return None
        return grant.role_on(doc, "owner" if admin else self.sharing.role_of(doc, grant.user))

    def pat_live(self, grant: TokenGrant) -> bool:
        """Whether the personal access token of ``grant`` still holds: not revoked, not
        expired, its account enabled.  Checked again at every use, not only when the token
        was verified: an open WebSocket keeps the grant it joined with, and must not outlive
        the token (:class:`~.live.DocSockets` checks its role again with this)."""
        record = self.sharing.store.token_by_id(grant.token_id)
        if record is None or record.revoked or record.user != grant.user:
            return False
        if record.expires_at is not None and self.sharing.clock() >= record.expires_at:
            return False
        account = self.sharing.accounts.account(record.user)
        return account is not None and not account.disabled

    def account_role(self, user: str, admin: bool, doc: str, link_key: str | None) -> str | None:
        """A signed-in account's role on ``doc``: an administrator owns everything."""
        if admin:
            return "owner"
        return self.sharing.role_with_link(doc, user, link_key)

    def role(self, caller: Caller, doc: str, link_key: str | None) -> str | None:
        """``caller``'s effective role on ``doc`` (see the module), or None."""
        if caller.session is not None:
            return self.account_role(caller.grant.user, caller.admin, doc, link_key)
        if caller.pat is not None:
            return self.pat_role(caller.pat, caller.admin, doc)
        if caller.grant.expires <= time.time():  # (an open socket keeps the grant it joined with)
            return None
        return self.token_role(caller.grant.doc, caller.grant.role, doc, link_key)

    def access(self, caller: Caller, doc: str, link_key: str | None) -> DocAccess | None:
        """:meth:`role` as a :class:`DocAccess` (None: no access)."""
        role = self.role(caller, doc, link_key)
        if role is None:
            return None
        return DocAccess(caller.grant.user, caller.grant.name, doc, role, caller.via)
