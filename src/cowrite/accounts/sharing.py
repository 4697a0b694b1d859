"""Per-document access: members and their roles, the share link, document invites.

:class:`Sharing` holds every rule of who may change a document's sharing, so that no
caller (the HTTP API, the command line) can forget one:

* Only the document's **owner** or an **administrator** adds members, changes roles,
  removes others, transfers ownership, changes the link and makes, lists or revokes
  invites; anyone else gets :class:`AccessDenied`, whatever they name.  A disabled
  account is nobody's owner or administrator.
* A document with members has **exactly one owner**.  The owner's role changes only by
  :meth:`Sharing.transfer` (the old owner becomes an editor); the owner cannot be removed
  nor leave; nothing makes a second owner.  Each change is a compare-and-set on the whole
  membership (:meth:`Store.update_members`): the rules are checked against the members
  as they are, and the write happens only if nobody changed them meanwhile (else it is
  checked again), so two racing changes can never break the rule together.
* Members are accounts (``accounts.account(user)`` exists); usernames are normalised.
* The link key and invite codes are random (``secrets.token_urlsafe(32)``).  The link
  key is stored as is (owners see the link again) and compared with
  :func:`hmac.compare_digest`; an invite code is shown once and stored as its SHA-256.
  A viewer must not learn an editor link: :meth:`Sharing.link` shows the key only to
  those who manage the document or already have the link's role.
* A redeemed invite never lowers a role, and is used up (single use) only when it
  gives its user something.
* Listeners (:meth:`Sharing.on_change`) hear of every change at once, after it is
  stored: the server closes or downgrades open connections.

Every method is synchronous and thread-safe, like the store's.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import (
    AccessDenied,
    AccountNotFound,
    ChangedMeanwhile,
    InvalidAccount,
    InviteNotFound,
    InviteRefused,
    NotAMember,
)
from ..store.base import DocInviteRecord, LinkRecord, MemberRecord, Store
from .names import normalize_username
from .roles import DOC_ROLES, INVITE_ROLES, LINK_ROLES, at_least, check_role, stronger
from .service import Accounts, secret_key

__all__ = [
    "CLI_OPERATOR",
    "DOC_ROLES",
    "LINK_ROLES",
    "MAX_DOC_INVITE_TTL",
    "DocInvite",
    "LinkInfo",
    "Member",
    "Sharing",
]

log = logging.getLogger(__name__)

MAX_DOC_INVITE_TTL = 365 * 86400.0
CLI_OPERATOR = "system"
"""The user id ``cowrite share`` acts as (an operator of its :class:`Sharing`; a reserved
username, so no account is it)."""
MAX_TRIES = 20
"""Compare-and-set attempts before :class:`ChangedMeanwhile` (each loses only to a change
that did happen, so this is reached only under a storm of changes to one document)."""
_MAX_SECRET = 256  # longer link keys or invite codes are refused before any work
_KEY_HEX = frozenset("0123456789abcdef")

ChangeListener = Callable[[str, str, "str | None"], None]


@dataclass(frozen=True, slots=True)
class Member:
    """A member of a document, as the share dialog shows them (``name``: the display name,
    ``None`` if unknown)."""

    user: str
    name: str | None
    role: str
    added_by: str
    added_at: float


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A document's link sharing: ``role`` ``None`` is off.  ``key`` is the link's secret
    (``?share=KEY``), ``None`` when off or not shown to this caller."""

    doc: str
    role: str | None
    key: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class DocInvite:
    """A document invite for its owner's list.  ``key`` is the SHA-256 of its code (the code
    was shown once); :meth:`Sharing.revoke_invite` takes either."""

    key: str
    doc: str
    role: str
    created_by: str
    created_at: float
    expires_at: float
    used_by: str | None
    used_at: float | None
    revoked: bool
    status: str
    """``"open"``, ``"used"``, ``"revoked"`` or ``"expired"`` (when listed)."""


@dataclass(slots=True)
class _Plan:
    """What one membership change writes, and what it tells listeners."""

    put: list[MemberRecord]
    remove: list[str]
    events: list[tuple[str, str | None]]
    """``(user, new role or None)``."""
    use_invite: str | None = None


class Sharing:
    """Who may do what on each document, over ``store``; ``accounts`` says who exists and
    who is an administrator.

    ``operators`` are user ids the server itself vouches for as administrators without an
    account (e.g. ``admin``, the user of the owner token ``cowrite serve`` prints; such
    names are reserved, so no account can take one).
    """

    def __init__(
        self,
        store: Store,
        accounts: Accounts,
        *,
        clock: Callable[[], float] = time.time,
        operators: Collection[str] = (),
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.clock = clock
        self.operators = frozenset(operators)
        self._listeners: list[ChangeListener] = []

    # -- who may do what -------------------------------------------------------------------

    def role_of(self, doc: str, user: str) -> str | None:
        """``user``'s role as a member of ``doc``, else ``None`` (also for a user id that
        cannot be an account's, e.g. a token's free-form id)."""
        name = _username_or_none(user)
        if name is None:
            return None
        return self._roles(doc).get(name)

    def role_with_link(self, doc: str, user: str | None, link_key: str | None) -> str | None:
        """The stronger of ``user``'s membership role and the role the share link gives, if
        ``link_key`` is the document's current link key (compared in constant time).
        ``user`` ``None``: a signed-out visitor with the link."""
        own = None if user is None else self.role_of(doc, user)
        return stronger(own, self._link_role(doc, link_key))

    def is_admin(self, user: str) -> bool:
        """Whether ``user`` is an operator or an enabled administrator account."""
        name = _username_or_none(user)
        if name is None:
            return False
        if name in self.operators:
            return True
        account = self.accounts.account(name)
        return account is not None and account.admin and not account.disabled

    def can_manage(self, doc: str, user: str) -> bool:
        """Whether ``user`` may change ``doc``'s sharing (its owner, or an administrator)."""
        name = _username_or_none(user)
        return name is not None and self._may_manage(name, self._roles(doc))

    # -- members ---------------------------------------------------------------------------

    def create_owner(self, doc: str, user: str) -> None:
        """Make ``user`` the owner of ``doc``, which has no members yet: the server calls this
        when an account creates a document.  :class:`AccessDenied` if it has members
        (ownership then moves only by :meth:`transfer`)."""
        name = self._account_name(user)
        now = self.clock()

        def plan(members: Mapping[str, MemberRecord]) -> _Plan:
            if members:
                raise AccessDenied(f"{doc!r} already has an owner: ownership moves only by a transfer")
            return _Plan([MemberRecord(doc, name, "owner", name, now)], [], [(name, "owner")])

        self._change(doc, plan)

    def members(self, doc: str) -> list[Member]:
        """The document's members: the owner first, then by role (strongest first), each role
        in the order they were added."""
        records = self.store.members(doc)
        names = self.store.user_names(m.user for m in records)
        order = {role: i for i, role in enumerate(DOC_ROLES)}
        records.sort(key=lambda m: (order.get(m.role, len(order)), m.added_at, m.user))
        return [Member(m.user, names.get(m.user), m.role, m.added_by, m.added_at) for m in records]

    def add_member(self, doc: str, by: str, user: str, role: str) -> Member:
        """``by`` (owner or admin) gives the account ``user`` ``role`` on ``doc`` (editor,
        commenter or viewer); for an existing member this changes their role.
        :class:`AccountNotFound` if ``user`` has no account."""
        return self._put_role(doc, by, user, role, must_exist=False)

    def set_role(self, doc: str, by: str, user: str, role: str) -> Member:
        """``by`` (owner or admin) changes member ``user``'s role (:class:`NotAMember` if they
        are none; the owner's role changes only by :meth:`transfer`)."""
        return self._put_role(doc, by, user, role, must_exist=True)

    def remove_member(self, doc: str, by: str, user: str) -> None:
        """``by`` (owner or admin) removes ``user``; a member may also remove themself (leave),
        except the owner, who must transfer ownership first."""
        actor = normalize_username(by)
        name = normalize_username(user)

        def plan(members: Mapping[str, MemberRecord]) -> _Plan:
            if actor != name:
                self._require_manager(doc, actor, _roles_of(members), "remove its members")
            role = members[name].role if name in members else None
            if role is None:
                raise NotAMember(doc, name)
            if role == "owner":
                raise AccessDenied(f"the owner of {doc!r} cannot be removed: transfer the ownership first")
            return _Plan([], [name], [(name, None)])

        self._change(doc, plan)

    def transfer(self, doc: str, by: str, to: str) -> None:
        """``by`` (owner or admin) makes ``to`` the owner; the old owner becomes an editor.  On a
        document without members (made before accounts) an administrator gives it its first
        owner this way."""
        actor = normalize_username(by)
        # who may ask first: a refusal must not tell a stranger which accounts exist
        self._require_manager(doc, actor, self._roles(doc), "transfer its ownership")
        name = self._account_name(to, enabled=True)
        now = self.clock()

        def plan(members: Mapping[str, MemberRecord]) -> _Plan:
            current = _roles_of(members)
            self._require_manager(doc, actor, current, "transfer its ownership")
            old = _owner(current)
            if old == name:
                return _Plan([], [], [])
            kept = members.get(name)
            put = [MemberRecord(doc, name, "owner", kept.added_by if kept else actor, kept.added_at if kept else now)]
            events: list[tuple[str, str | None]] = [(name, "owner")]
            if old is not None:
                was = members[old]
                put.append(MemberRecord(doc, old, "editor", was.added_by, was.added_at))
                events.append((old, "editor"))
            return _Plan(put, [], events)

        self._change(doc, plan)

    def documents_of(self, user: str) -> list[tuple[str, str]]:
        """``(doc, role)`` for every document ``user`` is a member of, by id (for "my documents"
        and "shared with me")."""
        name = _username_or_none(user)
        if name is None:
            return []
        return [(m.doc, m.role) for m in self.store.memberships(name)]

    def ownerless(self) -> list[str]:
        """Documents without an owner (made before accounts, or by guests): only
        administrators reach them."""
        owned = self.store.owners()
        return [d.id for d in self.store.documents() if d.id not in owned]

    def owners(self) -> dict[str, str]:
        """``{doc: owner}`` for the admin page."""
        return self.store.owners()

    def forget(self, doc: str) -> None:
        """The document is deleted: its members, link and invites go (call it before or after
        :meth:`Store.delete`, which removes them too; before, each member is told)."""
        gone = self.store.clear_access(doc)
        self._tell(doc, [(m.user, None) for m in gone] + [("*", None)])

    # -- link sharing ----------------------------------------------------------------------

    def link(self, doc: str, by: str | None = None) -> LinkInfo:
        """The document's link sharing.  The key is shown only to ``by`` if they manage the
        document or already have the link's role (else, and for ``by`` ``None``, ``key`` is
        ``None``): a viewer must not learn an editor link."""
        record = self.store.link(doc)
        if record is None:
            return LinkInfo(doc, None, None)
        shown = False
        name = None if by is None else _username_or_none(by)
        if name is not None:
            current = self._roles(doc)
            shown = self._may_manage(name, current) or at_least(current.get(name), record.role)
        return LinkInfo(doc, record.role, record.key if shown else None)

    def set_link(self, doc: str, by: str, role: str | None, *, rotate: bool = False) -> LinkInfo:
        """``by`` (owner or admin) turns link sharing off (``role`` ``None``: the key is
        forgotten) or on with ``role``; the key is kept unless ``rotate`` (a new key: the old
        link stops working).  Listeners hear ``(doc, "*", None)`` when anything changed."""
        if role is not None:
            check_role(role, LINK_ROLES, "a link's role")
        if type(rotate) is not bool:
            raise InvalidAccount("rotate must be True or False")
        actor = normalize_username(by)
        for _ in range(MAX_TRIES):
            current = self._roles(doc)
            self._require_manager(doc, actor, current, "change its link sharing")
            old = self.store.link(doc)
            if role is None:
                new = None
            else:
                key = old.key if old is not None and not rotate else secrets.token_urlsafe(32)
                new = LinkRecord(doc, role, key, actor, self.clock())
            if (old is None and new is None) or (
                old is not None and new is not None and (old.role, old.key) == (new.role, new.key)
            ):
                return _link_info(doc, old)
            if self.store.set_link(doc, new, expected=current):
                self._tell(doc, [("*", None)])
                return _link_info(doc, new)
        raise ChangedMeanwhile(f"the members of {doc!r} kept changing: try again")

    # -- document invites ------------------------------------------------------------------

    def create_invite(self, doc: str, by: str, role: str, *, ttl: float = 7 * 86400) -> str:
        """``by`` (owner or admin) makes an invite: whoever signs in and redeems the code
        becomes a member with ``role`` (editor, commenter or viewer).  The code is shown once
        (stored as its SHA-256) and expires in ``ttl`` seconds."""
        check_role(role, INVITE_ROLES, "an invite's role")
        if type(ttl) not in (int, float) or not 0 < ttl <= MAX_DOC_INVITE_TTL:
            raise InvalidAccount(f"an invite's ttl is 0..{int(MAX_DOC_INVITE_TTL)} seconds, not {ttl!r}")
        actor = normalize_username(by)
        for _ in range(MAX_TRIES):
            current = self._roles(doc)
            self._require_manager(doc, actor, current, "invite people")
            if _owner(current) is None:
                raise AccessDenied(f"{doc!r} has no owner: give it one (a transfer) before inviting people")
            code = secrets.token_urlsafe(32)
            now = self.clock()
            record = DocInviteRecord(secret_key(code), doc, role, actor, now, now + ttl)
            if self.store.add_doc_invite(record, expected=current):
                return code
        raise ChangedMeanwhile(f"the members of {doc!r} kept changing: try again")

    def redeem_invite(self, code: str, user: str) -> Member:
        """The account ``user`` redeems an invite code: it becomes a member with the invite's
        role, or keeps a stronger one it has (a role is never lowered, and then the invite is
        not used up).  Single use: :class:`InviteRefused` if unknown, expired, revoked or used."""
        if not isinstance(code, str) or not 0 < len(code) <= _MAX_SECRET:
            raise InviteRefused("this invite is not valid")
        name = self._account_name(user, enabled=True)
        key = secret_key(code)
        record = self.store.doc_invite(key)
        if record is None:
            raise InviteRefused("this invite is not valid")
        doc = record.doc
        now = self.clock()
        status = _status(record, now)
        if status != "open":
            raise InviteRefused("this invite has expired" if status == "expired" else f"this invite was {status}")

        def plan(members: Mapping[str, MemberRecord]) -> _Plan:
            if _owner(_roles_of(members)) is None:
                raise InviteRefused("this invite's document has no owner any more")
            has = members[name].role if name in members else None
            role = stronger(has, record.role)
            assert role is not None
            if role == has:
                return _Plan([], [], [])
            member = MemberRecord(doc, name, role, record.created_by, now)
            return _Plan([member], [], [(name, role)], use_invite=key)

        self._change(doc, plan, now=now)
        for m in self.members(doc):
            if m.user == name:
                return m
        raise InviteRefused("this invite's membership was removed meanwhile")

    def revoke_invite(self, doc: str, by: str, code_or_key: str) -> None:
        """``by`` (owner or admin) revokes one of ``doc``'s invites, by its code or its key
        (:class:`InviteNotFound` if it has no such invite)."""
        actor = normalize_username(by)
        self._require_manager(doc, actor, self._roles(doc), "revoke its invites")
        if not isinstance(code_or_key, str) or not 0 < len(code_or_key) <= _MAX_SECRET:
            raise InviteNotFound("no such invite")
        if not self.store.revoke_doc_invite(doc, _key_of(code_or_key)):
            raise InviteNotFound("no such invite")

    def invites(self, doc: str, by: str) -> list[DocInvite]:
        """``doc``'s invites, newest first, with their status now (for its owner or an admin)."""
        actor = normalize_username(by)
        self._require_manager(doc, actor, self._roles(doc), "see its invites")
        now = self.clock()
        return [
            DocInvite(
                r.key, r.doc, r.role, r.created_by, r.created_at, r.expires_at, r.used_by, r.used_at, r.revoked,
                _status(r, now),
            )
            for r in self.store.doc_invites(doc)
        ]

    # -- listeners -------------------------------------------------------------------------

    def on_change(self, callback: Callable[[str, str, str | None], None]) -> None:
        """Call ``callback(doc, user, role)`` after a membership changes (``role`` the new one,
        ``None``: no longer a member), and ``callback(doc, "*", None)`` after the link changes
        or the document is forgotten (everyone there by the link must be checked again).  A
        callback that raises is logged and the others still run.  Callbacks run in the
        changing thread after the write; two changes racing may be heard out of order, so a
        listener that acts on a connection reads :meth:`role_of` again rather than trust
        ``role`` alone."""
        self._listeners.append(callback)

    # -- internals -------------------------------------------------------------------------

    def _roles(self, doc: str) -> dict[str, str]:
        return {m.user: m.role for m in self.store.members(doc)}

    def _link_role(self, doc: str, link_key: str | None) -> str | None:
        if not isinstance(link_key, str) or not 0 < len(link_key) <= _MAX_SECRET:
            return None
        record = self.store.link(doc)
        if record is None:
            return None
        given = link_key.encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(record.key.encode("utf-8", "surrogatepass"), given):
            return None
        return record.role

    def _may_manage(self, name: str, current: Mapping[str, str]) -> bool:
        if self.is_admin(name):
            return True
        if current.get(name) != "owner":
            return False
        account = self.accounts.account(name)
        return account is not None and not account.disabled

    def _require_manager(self, doc: str, name: str, current: Mapping[str, str], action: str) -> None:
        if not self._may_manage(name, current):
            raise AccessDenied(f"only the owner of {doc!r} or an administrator may {action}")

    def _account_name(self, user: str, *, enabled: bool = False) -> str:
        name = normalize_username(user)
        account = self.accounts.account(name)
        if account is None:
            raise AccountNotFound(name)
        if enabled and account.disabled:
            raise AccessDenied(f"the account {name!r} is disabled")
        return name

    def _put_role(self, doc: str, by: str, user: str, role: str, *, must_exist: bool) -> Member:
        check_role(role, INVITE_ROLES, "a member's role (ownership moves only by a transfer)")
        actor = normalize_username(by)
        # who may ask first: a refusal must not tell a stranger which accounts exist
        self._require_manager(doc, actor, self._roles(doc), "change its members")
        name = self._account_name(user)
        now = self.clock()

        def plan(members: Mapping[str, MemberRecord]) -> _Plan:
            current = _roles_of(members)
            self._require_manager(doc, actor, current, "change its members")
            has = current.get(name)
            if has is None and must_exist:
                raise NotAMember(doc, name)
            if has == "owner":
                raise AccessDenied(f"the owner's role on {doc!r} changes only by a transfer of the ownership")
            if _owner(current) is None:
                raise AccessDenied(f"{doc!r} has no owner: give it one (a transfer) before adding members")
            if has == role:
                return _Plan([], [], [])
            kept = members.get(name)
            record = MemberRecord(
                doc, name, role, kept.added_by if kept else actor, kept.added_at if kept else now
            )
            return _Plan([record], [], [(name, role)])

        self._change(doc, plan)
        names = self.store.user_names([name])
        for m in self.store.members(doc):
            if m.user == name:
                return Member(m.user, names.get(m.user), m.role, m.added_by, m.added_at)
        raise ChangedMeanwhile(f"{name!r} was removed from {doc!r} meanwhile")

    def _change(
        self, doc: str, plan: Callable[[Mapping[str, MemberRecord]], _Plan], *, now: float | None = None
    ) -> None:
        """Check ``plan``'s rules against the members as they are (one read) and write its
        change only if they are still so (compare-and-set), then tell the listeners."""
        for _ in range(MAX_TRIES):
            members = {m.user: m for m in self.store.members(doc)}
            current = _roles_of(members)
            change = plan(members)
            if not change.put and not change.remove and change.use_invite is None:
                return
            _check_one_owner(doc, current, change)
            if self.store.update_members(
                doc, expected=current, put=change.put, remove=change.remove, use_invite=change.use_invite,
                now=now if change.use_invite is not None else None,
            ):
                self._tell(doc, change.events)
                return
        raise ChangedMeanwhile(f"the members of {doc!r} kept changing: try again")

    def _tell(self, doc: str, events: Sequence[tuple[str, str | None]]) -> None:
        for user, role in events:
            for callback in list(self._listeners):
                try:
                    callback(doc, user, role)
                except Exception:
                    log.exception("an on_change listener failed (the change to %r was made anyway)", doc)


def _check_one_owner(doc: str, current: Mapping[str, str], change: _Plan) -> None:
    """The last line of defence of the invariant: after ``change``, a document with members
    has exactly one owner (every plan keeps it; this refuses a plan that would not)."""
    after = dict(current)
    for user in change.remove:
        after.pop(user, None)
    for m in change.put:
        check_role(m.role)
        after[m.user] = m.role
    owners = sum(1 for r in after.values() if r == "owner")
    if after and owners != 1:
        raise AccessDenied(f"{doc!r} must keep exactly one owner")


def _roles_of(members: Mapping[str, MemberRecord]) -> dict[str, str]:
    return {user: m.role for user, m in members.items()}


def _owner(current: Mapping[str, str]) -> str | None:
    return next((u for u, r in current.items() if r == "owner"), None)


def _username_or_none(user: object) -> str | None:
    try:
        return normalize_username(user)
    except InvalidAccount:
        return None


def _key_of(code_or_key: str) -> str:
    if len(code_or_key) == 64 and set(code_or_key) <= _KEY_HEX:
        return code_or_key
    return secret_key(code_or_key)


def _link_info(doc: str, record: LinkRecord | None) -> LinkInfo:
    return LinkInfo(doc, None, None) if record is None else LinkInfo(doc, record.role, record.key)


def _status(record: DocInviteRecord, now: float) -> str:
    if record.used_by is not None:
        return "used"
    if record.revoked:
        return "revoked"
    if now >= record.expires_at:
        return "expired"
    return "open"
